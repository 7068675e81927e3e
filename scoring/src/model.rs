//! Loading ONNX models that meet Omen's model contract and running batched inference on them.
//!
//! The contract (models/README.md): one input `[N, W]` of robustly normalised history, two outputs
//! `[N, 1]` (`expected`, `scale`), and `omen.*` metadata giving `W`, the threshold and the minimum history.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::Error;

/// The default model, compiled into the binary.
static EMBEDDED_MODEL: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../models/omen-default.onnx"
));

/// Batch sizes of the fixed-shape plans built for every model, largest first. None is smaller than
/// 64: tract computes a row of a plan of fewer rows with other kernels, whose results differ in
/// the last bits, and a sample's score must not depend on how many others share its batch.
const PLAN_BATCHES: [usize; 3] = [1024, 256, 64];

/// What a model says about itself in its `omen.*` metadata.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ModelInfo {
    /// Model name (`omen.name`).
    pub name: String,
    /// Model version (`omen.version`).
    pub version: String,
    /// History length W the model reads (`omen.window`).
    pub window: usize,
    /// Normalised deviation, in units of the predicted scale, that maps to score 1.0 (`omen.threshold`).
    pub threshold: f64,
    /// Fewest real history values needed before a sample is scored (`omen.min_history`).
    pub min_history: usize,
    /// Free-text description of the training data (`omen.trained_on`).
    pub trained_on: String,
}

struct Plan {
    batch: usize,
    runnable: Arc<TypedRunnableModel>,
}

/// A loaded, optimised model. Cheap to share through `Arc`; inference takes `&self`.
pub struct Model {
    info: ModelInfo,
    plans: Vec<Plan>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// The default model compiled into the binary.
    pub fn embedded() -> Result<Self, Error> {
        Self::from_bytes(EMBEDDED_MODEL)
    }

    /// Loads an ONNX model from a file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Loads an ONNX model from its serialised bytes and builds its fixed-size plans.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut &bytes[..])
            .map_err(Error::load)?;
        let info = read_info(&proto)?;
        let inference = onnx.model_for_proto_model(&proto).map_err(Error::load)?;
        if inference.inputs.len() != 1 || inference.outputs.len() != 2 {
            return Err(Error::Contract(format!(
                "expected 1 input and 2 outputs (expected, scale), found {} and {}",
                inference.inputs.len(),
                inference.outputs.len()
            )));
        }
        let plans = PLAN_BATCHES
            .iter()
            .map(|&batch| build_plan(inference.clone(), batch, info.window))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { info, plans })
    }

    /// What the model says about itself.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// History length W the model reads.
    pub fn window(&self) -> usize {
        self.info.window
    }

    /// Runs the model on `windows` (row-major `[n, W]`) and appends `n` forecasts and scales.
    pub fn infer(
        &self,
        windows: &[f32],
        expected: &mut Vec<f32>,
        scale: &mut Vec<f32>,
    ) -> Result<(), Error> {
        let w = self.info.window;
        debug_assert_eq!(windows.len() % w, 0);
        let mut rows = windows.len() / w;
        let mut offset = 0;
        while rows > 0 {
            let plan = self.plan_for(rows);
            let take = plan.batch.min(rows);
            let mut tensor = Tensor::zero::<f32>(&[plan.batch, w]).map_err(Error::inference)?;
            tensor
                .try_as_plain_ram_mut()
                .and_then(|mut view| {
                    view.as_slice_mut::<f32>()?[..take * w]
                        .copy_from_slice(&windows[offset * w..(offset + take) * w]);
                    Ok(())
                })
                .map_err(Error::inference)?;
            let outputs = plan
                .runnable
                .run(tvec!(tensor.into_tvalue()))
                .map_err(Error::inference)?;
            let e = outputs[0]
                .try_as_plain_ram()
                .and_then(|v| v.as_slice::<f32>())
                .map_err(Error::inference)?;
            let s = outputs[1]
                .try_as_plain_ram()
                .and_then(|v| v.as_slice::<f32>())
                .map_err(Error::inference)?;
            expected.extend_from_slice(&e[..take]);
            scale.extend_from_slice(&s[..take]);
            offset += take;
            rows -= take;
        }
        Ok(())
    }

    /// The plan to run next for `rows` pending rows: the largest that fits, or a slightly larger
    /// one (at most twice the rows) when that saves several small runs.
    fn plan_for(&self, rows: usize) -> &Plan {
        let fits = self
            .plans
            .iter()
            .position(|p| p.batch <= rows)
            .unwrap_or(self.plans.len() - 1);
        match fits.checked_sub(1).map(|i| &self.plans[i]) {
            Some(larger)
                if larger.batch <= 2 * rows && !rows.is_multiple_of(self.plans[fits].batch) =>
            {
                larger
            }
            _ => &self.plans[fits],
        }
    }
}

fn build_plan(model: InferenceModel, batch: usize, window: usize) -> Result<Plan, Error> {
    let runnable = model
        .with_input_fact(0, f32::fact([batch, window]).into())
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(Error::load)?;
    Ok(Plan { batch, runnable })
}

fn read_info(proto: &tract_onnx::pb::ModelProto) -> Result<ModelInfo, Error> {
    let get = |key: &str| {
        proto
            .metadata_props
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.as_str())
    };
    let required = |key: &str| {
        get(key).ok_or_else(|| Error::Contract(format!("metadata key `{key}` is missing")))
    };
    let contract = required("omen.contract")?;
    if contract != "1" {
        return Err(Error::Contract(format!(
            "unsupported omen.contract `{contract}` (this build reads 1)"
        )));
    }
    let window: usize = parse(required("omen.window")?, "omen.window")?;
    let threshold: f64 = parse(required("omen.threshold")?, "omen.threshold")?;
    let min_history: usize = parse(get("omen.min_history").unwrap_or("1"), "omen.min_history")?;
    if !(1..=4096).contains(&window) {
        return Err(Error::Contract(format!(
            "omen.window must be within 1..=4096, got {window}"
        )));
    }
    if !(threshold.is_finite() && threshold > 0.0) {
        return Err(Error::Contract(format!(
            "omen.threshold must be a positive number, got {threshold}"
        )));
    }
    Ok(ModelInfo {
        name: get("omen.name").unwrap_or("unnamed").to_owned(),
        version: get("omen.version").unwrap_or("0").to_owned(),
        window,
        threshold,
        min_history: min_history.clamp(1, window),
        trained_on: get("omen.trained_on").unwrap_or("").to_owned(),
    })
}

fn parse<T: std::str::FromStr>(text: &str, key: &str) -> Result<T, Error> {
    text.trim()
        .parse()
        .map_err(|_| Error::Contract(format!("metadata `{key}` is not a valid number: `{text}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_gets_the_same_outputs_whatever_its_batch() {
        let model = Model::embedded().expect("embedded model");
        let w = model.window();
        let rows = 1_100;
        let windows: Vec<f32> = (0..rows * w)
            .map(|i| ((i * 7_919) % 1_000) as f32 / 300.0 - 1.5)
            .collect();
        let (mut expected, mut scale) = (Vec::new(), Vec::new());
        model
            .infer(&windows, &mut expected, &mut scale)
            .expect("whole");
        for batch in [1, 3, 16, 40, 64, 100, 267, 800] {
            let (mut e, mut s) = (Vec::new(), Vec::new());
            for chunk in windows.chunks(batch * w) {
                model.infer(chunk, &mut e, &mut s).expect("in batches");
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&e), bits(&expected), "expected, batches of {batch}");
            assert_eq!(bits(&s), bits(&scale), "scale, batches of {batch}");
        }
    }
}

//! Test support: the plugin binary launched as Grafana launches it, a gRPC client for it, a real
//! Prometheus loaded through remote write, and a decoder for the Arrow frames the plugin answers.
#![allow(dead_code, missing_docs)]

pub use omen_test_support::prometheus;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use grafana_plugin_sdk::arrow2;
use grafana_plugin_sdk::pluginv2;
use omen_prom_adapter::proto::v1::{Label, Sample, TimeSeries, WriteRequest};
use prost::Message;
use tonic::transport::Channel;

pub use prometheus::Prometheus;

pub const BINARY: &str = env!("CARGO_BIN_EXE_gpx_omen_anomaly_datasource");

/// The plugin process, started with the environment Grafana gives backend plugins.
pub struct PluginProcess {
    child: Child,
    pub addr: String,
    _stderr: tempfile::NamedTempFile,
}

impl PluginProcess {
    pub fn start() -> Self {
        let stderr = tempfile::NamedTempFile::new().expect("stderr file");
        let mut child = Command::new(BINARY)
            // What Grafana's plugin manager (hashicorp go-plugin) sets.
            .env("grafana_plugin_type", "datasource")
            .env("PLUGIN_PROTOCOL_VERSIONS", "2")
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000")
            .env("GF_VERSION", "11.0.0")
            .env("GF_EDITION", "oss")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr.reopen().expect("reopen"))
            .spawn()
            .expect("plugin binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the plugin prints its handshake line within 30s");
        let parts: Vec<&str> = line.trim().split('|').collect();
        assert_eq!(parts.len(), 5, "handshake line `{line}`");
        assert_eq!(&parts[..3], ["1", "2", "tcp"], "handshake line `{line}`");
        assert_eq!(parts[4], "grpc", "handshake line `{line}`");
        assert!(
            parts[3].starts_with("127.0.0.1:"),
            "listens on loopback: `{line}`"
        );
        Self {
            child,
            addr: parts[3].to_owned(),
            _stderr: stderr,
        }
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("gRPC connects")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self._stderr.path()).unwrap_or_default()
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The plugin context Grafana sends for a datasource instance at `url`.
pub fn context(url: &str, json_data: serde_json::Value) -> pluginv2::PluginContext {
    pluginv2::PluginContext {
        org_id: 1,
        plugin_id: "omen-anomaly-datasource".into(),
        data_source_instance_settings: Some(pluginv2::DataSourceInstanceSettings {
            id: 1,
            uid: "omen".into(),
            name: "Omen".into(),
            url: url.into(),
            json_data: serde_json::to_vec(&json_data).expect("json"),
            last_updated_ms: 1,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One Grafana query over `[from_ms, to_ms]` at a 15s interval.
pub fn query(
    ref_id: &str,
    json: serde_json::Value,
    from_ms: i64,
    to_ms: i64,
) -> pluginv2::DataQuery {
    pluginv2::DataQuery {
        ref_id: ref_id.into(),
        max_data_points: 1_000,
        interval_ms: 15_000,
        time_range: Some(pluginv2::TimeRange {
            from_epoch_ms: from_ms,
            to_epoch_ms: to_ms,
        }),
        json: serde_json::to_vec(&json).expect("json"),
        query_type: String::new(),
    }
}

pub async fn query_data(
    channel: &Channel,
    context: pluginv2::PluginContext,
    queries: Vec<pluginv2::DataQuery>,
) -> HashMap<String, pluginv2::DataResponse> {
    // Band answers are large (100 series x 1,000 points is about 4 MB of Arrow): lift tonic's
    // 4 MiB default receive limit.
    pluginv2::data_client::DataClient::new(channel.clone())
        .max_decoding_message_size(256 << 20)
        .query_data(pluginv2::QueryDataRequest {
            plugin_context: Some(context),
            headers: HashMap::new(),
            queries,
        })
        .await
        .expect("QueryData answers")
        .into_inner()
        .responses
}

/// A field of a decoded frame: numbers as f64 (timestamps as ms).
#[derive(Debug)]
pub struct DecodedField {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub has_config: bool,
    pub values: Vec<Option<f64>>,
}

#[derive(Debug)]
pub struct DecodedFrame {
    pub name: String,
    pub ref_id: String,
    pub meta: Option<serde_json::Value>,
    pub fields: Vec<DecodedField>,
}

impl DecodedFrame {
    pub fn field(&self, name: &str) -> &DecodedField {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("frame {} has no field {name}: {self:?}", self.name))
    }
}

/// Decodes one Arrow IPC frame as Grafana reads it.
pub fn decode(bytes: &[u8]) -> DecodedFrame {
    use arrow2::array::PrimitiveArray;
    let mut cursor = std::io::Cursor::new(bytes);
    let metadata = arrow2::io::ipc::read::read_file_metadata(&mut cursor).expect("arrow file");
    let schema = metadata.schema.clone();
    let reader = arrow2::io::ipc::read::FileReader::new(cursor, metadata, None, None);
    let mut columns: Vec<Vec<Option<f64>>> = vec![Vec::new(); schema.fields.len()];
    for chunk in reader {
        let chunk = chunk.expect("arrow chunk");
        for (i, array) in chunk.arrays().iter().enumerate() {
            let any = array.as_any();
            if let Some(a) = any.downcast_ref::<PrimitiveArray<f64>>() {
                columns[i].extend(a.iter().map(|v| v.copied()));
            } else if let Some(a) = any.downcast_ref::<PrimitiveArray<i64>>() {
                // Timestamps are nanoseconds.
                columns[i].extend(a.iter().map(|v| v.map(|ns| (*ns / 1_000_000) as f64)));
            } else {
                panic!("unexpected array type {:?}", array.data_type());
            }
        }
    }
    DecodedFrame {
        name: schema.metadata.get("name").cloned().unwrap_or_default(),
        ref_id: schema.metadata.get("refId").cloned().unwrap_or_default(),
        meta: schema
            .metadata
            .get("meta")
            .map(|m| serde_json::from_str(m).expect("meta JSON")),
        fields: schema
            .fields
            .iter()
            .zip(columns)
            .map(|(field, values)| DecodedField {
                name: field.name.clone(),
                labels: field
                    .metadata
                    .get("labels")
                    .map(|l| serde_json::from_str(l).expect("labels JSON"))
                    .unwrap_or_default(),
                has_config: field.metadata.contains_key("config"),
                values,
            })
            .collect(),
    }
}

fn label(name: &str, value: &str) -> Label {
    Label {
        name: Bytes::copy_from_slice(name.as_bytes()),
        value: Bytes::copy_from_slice(value.as_bytes()),
    }
}

/// A series for remote write; labels are sorted here.
pub fn series(
    labels: &[(&str, &str)],
    samples: impl IntoIterator<Item = (i64, f64)>,
) -> TimeSeries {
    let mut labels: Vec<Label> = labels.iter().map(|(n, v)| label(n, v)).collect();
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    TimeSeries {
        labels,
        samples: samples
            .into_iter()
            .map(|(timestamp, value)| Sample { value, timestamp })
            .collect(),
        ..Default::default()
    }
}

/// Starts Prometheus with the remote-write receiver and an out-of-order window wide enough to
/// load hours of history in any order.
pub async fn prometheus() -> Prometheus {
    Prometheus::start(
        |_| {
            "global:\n  scrape_interval: 1h\nstorage:\n  tsdb:\n    out_of_order_time_window: 1d\n"
                .into()
        },
        &["--web.enable-remote-write-receiver"],
    )
    .await
}

/// Writes `series` to Prometheus' remote-write receiver.
pub async fn remote_write(prometheus: &Prometheus, series: Vec<TimeSeries>) {
    let body = snap::raw::Encoder::new()
        .compress_vec(
            &WriteRequest {
                timeseries: series,
                ..Default::default()
            }
            .encode_to_vec(),
        )
        .expect("snappy");
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/write", prometheus.url()))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await
        .expect("remote write sent");
    let status = response.status();
    assert!(
        status.is_success(),
        "remote write answered {status}: {}",
        response.text().await.unwrap_or_default()
    );
}

/// Now, rounded down to a multiple of 15s, ms.
pub fn now_aligned() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    now - now % 15_000
}

//! The scoring crate's error type.

/// Errors from loading a model or running inference.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model file could not be read.
    #[error("cannot read model file {path}: {source}")]
    Read {
        /// The path that was read.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not an ONNX model tract can load.
    #[error("cannot load ONNX model: {0}")]
    Load(String),
    /// The model does not meet Omen's model contract (models/README.md).
    #[error("model does not meet the Omen model contract: {0}")]
    Contract(String),
    /// Inference failed at run time.
    #[error("inference failed: {0}")]
    Inference(String),
}

impl Error {
    pub(crate) fn load(error: impl std::fmt::Display) -> Self {
        Self::Load(format!("{error:#}"))
    }

    pub(crate) fn inference(error: impl std::fmt::Display) -> Self {
        Self::Inference(format!("{error:#}"))
    }
}

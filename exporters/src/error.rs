//! The error type of the exporters.

/// Errors of the exporters.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot be used.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A request named something that does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// A request that cannot be served as asked (400).
    #[error("{0}")]
    BadRequest(String),
    /// A failure inside the exporter.
    #[error("internal error: {0}")]
    Internal(String),
}

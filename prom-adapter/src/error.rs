//! The adapter's error type and how each error maps to an HTTP status for remote-write senders.

use http::StatusCode;

/// Errors of the adapter. Senders retry 5xx and drop 4xx, so only errors that a retry can fix are 5xx.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot be used.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Content type or encoding this receiver does not speak (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Body over a size limit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body cannot be decoded (400).
    #[error("{0}")]
    Malformed(String),
    /// Some series were invalid and were not accepted; the others were (400).
    #[error("{rejected} series rejected: {message}")]
    Invalid {
        /// Number of rejected series.
        rejected: usize,
        /// The first problems found, readable.
        message: String,
    },
    /// The downstream refused the data as invalid (400: a retry would be refused too).
    #[error("downstream rejected the data: {0}")]
    DownstreamRejected(String),
    /// Backpressure or downstream outage (503: the sender keeps the data and retries).
    #[error("{0}")]
    Unavailable(String),
    /// A failure inside the adapter (500, retried by the sender).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The HTTP status answered for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Malformed(_) | Self::Invalid { .. } | Self::DownstreamRejected(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Config(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Fixed label value for `omen_adapter_errors_total{error_type}`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Config(_) => "config",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Malformed(_) => "malformed",
            Self::Invalid { .. } => "invalid_series",
            Self::DownstreamRejected(_) => "downstream_rejected",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

//! Errors: [`Error`] for what can fail talking to Prometheus or scoring, and [`QueryError`], the
//! per-query error Grafana shows on the query's `refId`.

use grafana_plugin_sdk::backend::{DataQueryError, DataQueryStatus};

/// What can fail in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Prometheus could not be reached or did not answer in time.
    #[error("Prometheus at {url} is unreachable: {source}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// Prometheus refused the request (for example a PromQL syntax error).
    #[error("Prometheus refused the query ({error_type}): {message}")]
    Refused {
        /// Prometheus' `errorType` (`bad_data`, `execution`, `timeout`, ...).
        error_type: String,
        /// Prometheus' `error`.
        message: String,
    },
    /// Prometheus answered something that is not a Prometheus API answer.
    #[error("Prometheus at {url} answered HTTP {status} without a valid API body: {body}")]
    BadAnswer {
        /// The URL asked.
        url: String,
        /// HTTP status.
        status: u16,
        /// Start of the body.
        body: String,
    },
    /// The query cannot be run as written.
    #[error("{0}")]
    Query(String),
    /// The datasource has no URL configured.
    #[error("the datasource has no Prometheus URL; set it in the datasource settings")]
    NoUrl,
    /// The model failed to load or to run.
    #[error("scoring failed: {0}")]
    Scoring(String),
}

impl Error {
    fn status(&self) -> DataQueryStatus {
        match self {
            Self::Unreachable { source, .. } if source.is_timeout() => DataQueryStatus::Timeout,
            Self::Unreachable { .. } | Self::BadAnswer { .. } => DataQueryStatus::BadGateway,
            Self::Refused { error_type, .. } if error_type == "bad_data" => {
                DataQueryStatus::BadRequest
            }
            Self::Refused { error_type, .. } if error_type == "timeout" => DataQueryStatus::Timeout,
            Self::Refused { .. } => DataQueryStatus::BadGateway,
            Self::NoUrl | Self::Query(_) => DataQueryStatus::BadRequest,
            Self::Scoring(_) => DataQueryStatus::Internal,
        }
    }

    /// Whether the downstream Prometheus (rather than the plugin or the query) failed.
    fn downstream(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::BadAnswer { .. } | Self::Refused { .. }
        )
    }
}

/// One failed query: shown by Grafana on the query's `refId`, the other queries still answer.
#[derive(Debug, thiserror::Error)]
#[error("query {ref_id}: {origin}: {message}")]
pub struct QueryError {
    ref_id: String,
    origin: &'static str,
    message: String,
    status: Status,
}

#[derive(Debug, Clone, Copy)]
enum Status {
    BadRequest,
    BadGateway,
    Timeout,
    Internal,
}

impl QueryError {
    /// The query itself is wrong (the user can fix it).
    pub fn bad_request(ref_id: &str, message: impl Into<String>) -> Self {
        Self {
            ref_id: ref_id.to_owned(),
            origin: "invalid query",
            message: message.into(),
            status: Status::BadRequest,
        }
    }

    /// The plugin failed.
    pub fn internal(ref_id: &str, message: impl Into<String>) -> Self {
        Self {
            ref_id: ref_id.to_owned(),
            origin: "plugin error",
            message: message.into(),
            status: Status::Internal,
        }
    }

    /// From a crate error, saying whether Prometheus or the plugin failed.
    pub fn from_error(ref_id: &str, error: &Error) -> Self {
        let status = match error.status() {
            DataQueryStatus::BadRequest => Status::BadRequest,
            DataQueryStatus::Timeout => Status::Timeout,
            DataQueryStatus::BadGateway => Status::BadGateway,
            _ => Status::Internal,
        };
        let origin = match (error.downstream(), status) {
            (true, Status::BadRequest) => "Prometheus refused the query",
            (true, _) => "Prometheus failed",
            (false, Status::BadRequest) => "invalid query",
            (false, _) => "plugin error",
        };
        Self {
            ref_id: ref_id.to_owned(),
            origin,
            message: error.to_string(),
            status,
        }
    }

    /// The message without the `refId` prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl DataQueryError for QueryError {
    fn ref_id(self) -> String {
        self.ref_id
    }

    fn status(&self) -> DataQueryStatus {
        match self.status {
            Status::BadRequest => DataQueryStatus::BadRequest,
            Status::BadGateway => DataQueryStatus::BadGateway,
            Status::Timeout => DataQueryStatus::Timeout,
            Status::Internal => DataQueryStatus::Internal,
        }
    }
}

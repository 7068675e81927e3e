//! The datasource: Grafana's data, diagnostics and resource services.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::FuturesOrdered;
use grafana_plugin_sdk::backend::{
    self, BoxDataResponseStream, BoxResourceStream, CallResourceRequest, CheckHealthRequest,
    CheckHealthResponse, CollectMetricsRequest, CollectMetricsResponse, DataQuery, DataResponse,
    DataSourceInstanceSettings, QueryDataRequest,
};
use grafana_plugin_sdk::data::Frame;
use grafana_plugin_sdk::prelude::*;
use omen_scoring::Model;
use serde_json::json;

use crate::engine::{self, Range};
use crate::error::{Error, QueryError};
use crate::frames::{display_name, metadata, series_frame};
use crate::prom::{Auth, PromClient};
use crate::query::{QueryModel, legend};
use crate::settings::{JsonData, SecureJsonData};

/// Instance settings as this plugin reads them.
pub type Settings = DataSourceInstanceSettings<JsonData, SecureJsonData>;

/// The Omen anomaly datasource. Cheap to clone: state is shared.
#[derive(Clone, Debug, GrafanaPlugin)]
#[grafana_plugin(
    plugin_type = "datasource",
    json_data = "JsonData",
    secure_json_data = "SecureJsonData"
)]
pub struct OmenDatasource {
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    /// The model, or why it failed to load (reported by CheckHealth and live queries).
    model: Result<Arc<Model>, String>,
    http: reqwest::Client,
}

impl OmenDatasource {
    /// A datasource scoring live queries with `model` (or reporting why there is none).
    pub fn new(model: Result<Arc<Model>, String>) -> Self {
        Self {
            state: Arc::new(State {
                model,
                http: reqwest::Client::new(),
            }),
        }
    }

    /// A datasource with the model compiled into the binary.
    pub fn with_embedded_model() -> Self {
        Self::new(
            Model::embedded()
                .map(Arc::new)
                .map_err(|error| error.to_string()),
        )
    }

    fn model(&self) -> Option<&Arc<Model>> {
        self.state.model.as_ref().ok()
    }

    /// The Prometheus client for a datasource instance.
    pub fn client(&self, settings: Option<&Settings>) -> Result<PromClient, Error> {
        let settings = settings.ok_or(Error::NoUrl)?;
        let secure = &settings.decrypted_secure_json_data;
        let auth = if settings.json_data.bearer_auth {
            Auth::Bearer(secure.bearer_token.clone().unwrap_or_default())
        } else if settings.basic_auth_enabled {
            Auth::Basic {
                user: settings.basic_auth_user.clone(),
                password: secure.basic_auth_password.clone().unwrap_or_default(),
            }
        } else {
            Auth::None
        };
        PromClient::new(
            self.state.http.clone(),
            &settings.url,
            auth,
            settings.json_data.timeout(),
        )
    }

    async fn answer(
        &self,
        client: Result<PromClient, String>,
        settings: JsonData,
        query: DataQuery<serde_json::Value>,
    ) -> Result<DataResponse, QueryError> {
        let ref_id = query.ref_id.as_str();
        let model = QueryModel::parse(&query.query)
            .map_err(|message| QueryError::bad_request(ref_id, message))?;
        if model.hide {
            return Ok(DataResponse::new(query.ref_id.clone(), Vec::new()));
        }
        let resolved = model
            .resolve(
                &query.query_type,
                settings.default_source,
                settings.max_series(),
            )
            .map_err(|message| QueryError::bad_request(ref_id, message))?;
        let client = client.map_err(|message| QueryError::bad_request(ref_id, message))?;
        let range = Range {
            from_ms: query.time_range.from.timestamp_millis(),
            to_ms: query.time_range.to.timestamp_millis(),
            interval_ms: i64::try_from(query.interval.as_millis())
                .unwrap_or(i64::MAX)
                .max(resolved.min_step_ms),
            max_data_points: query.max_data_points,
            scrape_ms: settings.scrape_interval_ms(),
        };
        let answer = engine::run(&client, self.model(), &resolved, range)
            .await
            .map_err(|error| QueryError::from_error(ref_id, &error))?;
        let meta = metadata(&answer.executed, &answer.notices);
        let mut frames: Vec<Frame> = answer
            .series
            .iter()
            .map(|columns| {
                let name = resolved.legend_format.as_deref().map_or_else(
                    || display_name(&columns.labels),
                    |format| legend(format, &columns.labels),
                );
                series_frame(columns, name, resolved.query_type, resolved.threshold)
            })
            .collect();
        // The query's metadata goes on its first frame (an empty frame when there are no series).
        match frames.first_mut() {
            Some(first) => first.meta = Some(meta),
            None => frames.push(Frame::new("").with_metadata(meta)),
        }
        let checked = frames
            .iter()
            .map(Frame::check)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| QueryError::internal(ref_id, error.to_string()))?;
        Ok(DataResponse::new(query.ref_id.clone(), checked))
    }
}

#[backend::async_trait]
impl backend::DataService for OmenDatasource {
    type Query = serde_json::Value;
    type QueryError = QueryError;
    type Stream = BoxDataResponseStream<QueryError>;

    async fn query_data(&self, request: QueryDataRequest<Self::Query, Self>) -> Self::Stream {
        let settings = request.plugin_context.instance_settings;
        let client = self.client(settings.as_ref()).map_err(|e| e.to_string());
        let json_data = settings.map(|s| s.json_data).unwrap_or_default();
        Box::pin(
            request
                .queries
                .into_iter()
                .map(|query| {
                    let this = self.clone();
                    let (client, json_data) = (client.clone(), json_data.clone());
                    async move { this.answer(client, json_data, query).await }
                })
                .collect::<FuturesOrdered<_>>(),
        )
    }
}

/// CheckHealth never fails as an RPC: problems are reported in the response.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HealthError(String);

#[backend::async_trait]
impl backend::DiagnosticsService for OmenDatasource {
    type CheckHealthError = HealthError;
    type CollectMetricsError = HealthError;

    async fn check_health(
        &self,
        request: CheckHealthRequest<Self>,
    ) -> Result<CheckHealthResponse, HealthError> {
        let settings = request.plugin_context.instance_settings;
        let model = match &self.state.model {
            Ok(model) => model,
            Err(error) => {
                return Ok(CheckHealthResponse::error(format!(
                    "The anomaly model failed to load: {error}"
                )));
            }
        };
        let info = model.info();
        let details = json!({"model": info});
        let client = match self.client(settings.as_ref()) {
            Ok(client) => client,
            Err(error) => {
                return Ok(CheckHealthResponse::error(error.to_string()).with_json_details(details));
            }
        };
        Ok(match client.version().await {
            Ok(version) => CheckHealthResponse::ok(format!(
                "Prometheus {version} at {} is reachable; model {} {} (window {}) is loaded.",
                client.base(),
                info.name,
                info.version,
                info.window
            )),
            Err(error) => CheckHealthResponse::error(format!(
                "Model {} {} is loaded, but {error}",
                info.name, info.version
            )),
        }
        .with_json_details(details))
    }

    async fn collect_metrics(
        &self,
        _request: CollectMetricsRequest<Self>,
    ) -> Result<CollectMetricsResponse, HealthError> {
        Ok(CollectMetricsResponse::new(None))
    }
}

/// Resource calls never fail as an RPC: errors are HTTP answers with a JSON body.
#[derive(Debug, thiserror::Error)]
#[error("resource call failed")]
pub struct ResourceError;

impl backend::ErrIntoHttpResponse for ResourceError {}

#[backend::async_trait]
impl backend::ResourceService for OmenDatasource {
    type Error = ResourceError;
    type InitialResponse = http::Response<Bytes>;
    type Stream = BoxResourceStream<ResourceError>;

    async fn call_resource(
        &self,
        request: CallResourceRequest<Self>,
    ) -> Result<(Self::InitialResponse, Self::Stream), Self::Error> {
        let path = request.request.uri().path().trim_matches('/').to_owned();
        let (status, body) = match path.as_str() {
            "model" => match &self.state.model {
                Ok(model) => (200, json!(model.info())),
                Err(error) => (503, json!({"error": error})),
            },
            "metric-names" => {
                let settings = request.plugin_context.instance_settings;
                match self.client(settings.as_ref()) {
                    Ok(client) => match client.metric_names().await {
                        Ok(names) => (200, json!(names)),
                        Err(error) => (502, json!({"error": error.to_string()})),
                    },
                    Err(error) => (400, json!({"error": error.to_string()})),
                }
            }
            other => (
                404,
                json!({"error": format!("no resource `{other}` (try `model` or `metric-names`)")}),
            ),
        };
        let response = http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Bytes::from(body.to_string()))
            .map_err(|_| ResourceError)?;
        Ok((response, Box::pin(futures_util::stream::empty())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_model_is_kept_as_its_reason() {
        let plugin = OmenDatasource::new(Err("broken".into()));
        assert!(plugin.model().is_none());
        assert!(format!("{:?}", plugin.state.model).contains("broken"));
    }

    #[test]
    fn no_settings_means_no_url() {
        let plugin = OmenDatasource::new(Err("unused".into()));
        assert!(matches!(plugin.client(None), Err(Error::NoUrl)));
    }
}

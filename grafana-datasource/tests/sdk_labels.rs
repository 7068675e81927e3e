//! Guards the workaround in `src/frames.rs`: grafana-plugin-sdk 0.5 writes a field that has both
//! labels and a field config to Arrow without its labels (the config arms of
//! `Field::to_arrow_field` are swapped). If the first test starts failing, the SDK was fixed and
//! the workaround (labelled fields never get a config) can be relaxed.

mod support;

use std::collections::{BTreeMap, HashMap};

use futures_util::stream::FuturesOrdered;
use grafana_plugin_sdk::backend::{self, BoxDataResponseStream, DataResponse, QueryDataRequest};
use grafana_plugin_sdk::data::{Field, FieldConfig, Frame};
use grafana_plugin_sdk::pluginv2::{self, data_server::Data};
use grafana_plugin_sdk::prelude::*;
use omen_grafana_datasource::QueryError;
use support::{DecodedField, decode, query};

/// A datasource answering every query with one frame whose value field has labels, and a config
/// when the query's refId is `CONFIG`.
#[derive(Clone, Debug, GrafanaPlugin)]
#[grafana_plugin(plugin_type = "datasource")]
struct Probe;

#[backend::async_trait]
impl backend::DataService for Probe {
    type Query = serde_json::Value;
    type QueryError = QueryError;
    type Stream = BoxDataResponseStream<QueryError>;

    async fn query_data(&self, request: QueryDataRequest<Self::Query, Self>) -> Self::Stream {
        Box::pin(
            request
                .queries
                .into_iter()
                .map(|query| async move {
                    let labels: BTreeMap<String, String> =
                        [("job".to_owned(), "api".to_owned())].into_iter().collect();
                    let mut field: Field = [1.0_f64, 2.0].into_field("Value").with_labels(labels);
                    if query.ref_id == "CONFIG" {
                        let mut config = FieldConfig::default();
                        config.unit = Some("s".into());
                        field.config = Some(config);
                    }
                    let frame = Frame::new("probe").with_field(field);
                    let checked = frame
                        .check()
                        .map_err(|e| QueryError::internal(&query.ref_id, e.to_string()))?;
                    Ok(DataResponse::new(query.ref_id.clone(), vec![checked]))
                })
                .collect::<FuturesOrdered<_>>(),
        )
    }
}

async fn value_field(ref_id: &str) -> DecodedField {
    let request = pluginv2::QueryDataRequest {
        plugin_context: Some(pluginv2::PluginContext {
            data_source_instance_settings: Some(pluginv2::DataSourceInstanceSettings {
                json_data: b"{}".to_vec(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        headers: HashMap::new(),
        queries: vec![query(ref_id, serde_json::json!({}), 0, 1_000)],
    };
    let mut response = Data::query_data(&Probe, tonic::Request::new(request))
        .await
        .expect("answers")
        .into_inner();
    let response = response.responses.remove(ref_id).expect("response");
    let mut frame = decode(&response.frames[0]);
    frame.fields.remove(0)
}

#[tokio::test]
async fn sdk_drops_labels_of_fields_with_config() {
    let field = value_field("CONFIG").await;
    assert!(field.has_config);
    assert!(
        field.labels.is_empty(),
        "grafana-plugin-sdk now keeps labels next to a config: the workaround in src/frames.rs can go"
    );
}

#[tokio::test]
async fn labels_survive_on_fields_without_config() {
    let field = value_field("PLAIN").await;
    assert!(!field.has_config);
    assert_eq!(field.labels["job"], "api");
}

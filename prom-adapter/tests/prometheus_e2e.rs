//! The adapter between two real Prometheus servers (the `prometheus` 2.42 binary on PATH): one
//! scrapes itself and remote-writes to the adapter; the adapter forwards originals and scores into
//! a second one started with `--web.enable-remote-write-receiver`, which is then queried.

mod support;

use std::time::Duration;

use support::prometheus::Prometheus;
use support::{Adapter, config_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_remote_writes_through_the_adapter_into_prometheus() {
    let downstream = Prometheus::start(
        |_| "global:\n  scrape_interval: 1m\n".to_string(),
        &["--web.enable-remote-write-receiver"],
    )
    .await;
    let mut config = config_for("127.0.0.1:1".parse().expect("addr"));
    config.downstream.url = format!("{}/api/v1/write", downstream.url());
    config.scoring.outputs = vec![
        omen_prom_adapter::OutputKind::Score,
        omen_prom_adapter::OutputKind::Expected,
        omen_prom_adapter::OutputKind::Lower,
        omen_prom_adapter::OutputKind::Upper,
    ];
    let adapter = Adapter::start(config).await;
    let adapter_url = adapter.url();
    let admin = adapter.admin;
    let _upstream = Prometheus::start(
        move |port| {
            format!(
                r#"global:
  scrape_interval: 1s
  external_labels:
    cluster: test
    __replica__: replica-a
scrape_configs:
  - job_name: prometheus
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
  - job_name: omen-adapter
    static_configs: [{{targets: ["{admin}"]}}]
remote_write:
  - url: {adapter_url}
    queue_config: {{batch_send_deadline: 1s, max_samples_per_send: 2000, min_backoff: 100ms}}
    metadata_config: {{send: true, send_interval: 5s}}
"#
            )
        },
        &[],
    )
    .await;

    let timeout = Duration::from_secs(60);
    // Originals arrive with every label, including the external labels used for HA dedup.
    let up = downstream
        .wait_for(
            r#"up{job="prometheus", cluster="test", __replica__="replica-a"}"#,
            timeout,
        )
        .await;
    assert_eq!(up[0]["value"][1], "1");
    // Scores arrive once the model's minimum history has been seen, for gauges and counters alike.
    let gauge = downstream
        .wait_for(
            r#"omen_anomaly_score{omen_metric="prometheus_tsdb_head_series", job="prometheus"}"#,
            timeout,
        )
        .await;
    let score: f64 = gauge[0]["value"][1]
        .as_str()
        .expect("value")
        .parse()
        .expect("number");
    assert!(score >= 0.0 && score.is_finite());
    let counter = downstream
        .wait_for(
            r#"omen_anomaly_expected{omen_metric="prometheus_http_requests_total"}"#,
            timeout,
        )
        .await;
    assert!(!counter.is_empty());
    // The band is ordered around the expected value.
    let ordered = downstream
        .wait_for(
            r#"omen_anomaly_lower{omen_metric="prometheus_tsdb_head_series"} <= on() group_left omen_anomaly_upper{omen_metric="prometheus_tsdb_head_series"}"#,
            timeout,
        )
        .await;
    assert!(!ordered.is_empty());
    // The adapter's own metrics were scraped and forwarded too.
    let received = downstream
        .wait_for("omen_adapter_samples_received_total > 0", timeout)
        .await;
    assert!(!received.is_empty());
    adapter.stop().await;
}

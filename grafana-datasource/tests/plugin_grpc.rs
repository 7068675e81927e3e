//! The plugin binary launched as Grafana launches it (go-plugin handshake), called over gRPC
//! (pluginv2 Data, Diagnostics and Resource services) against a real Prometheus.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use grafana_plugin_sdk::pluginv2;
use serde_json::json;
use support::*;

const HOUR: i64 = 3_600_000;
const SPIKE: f64 = 500.0;

fn wave(i: i64) -> f64 {
    100.0 + 5.0 * ((i as f64) / 4.0).sin()
}

/// Loads 3h of `omen_test_load` for instances `a` (with a spike 30 minutes ago) and `b`, and
/// stored Omen outputs for `a` over the last hour. Returns (now, spike time).
async fn load(prometheus: &Prometheus) -> (i64, i64) {
    let now = now_aligned();
    let start = now - 3 * HOUR;
    let spike_at = now - HOUR / 2;
    let points = |spike: bool| {
        (0..=(3 * HOUR / 15_000)).map(move |i| {
            let t = start + i * 15_000;
            (
                t,
                if spike && t == spike_at {
                    SPIKE
                } else {
                    wave(i)
                },
            )
        })
    };
    let job = ("job", "omen-test");
    let stored_labels = |name| {
        [
            ("__name__", name),
            ("omen_metric", "omen_test_load"),
            ("instance", "a"),
            job,
        ]
    };
    let stored = |name, value: f64, at_spike: f64| {
        series(
            &stored_labels(name),
            (0..=(HOUR / 15_000)).map(move |i| {
                let t = now - HOUR + i * 15_000;
                (t, if t == spike_at { at_spike } else { value })
            }),
        )
    };
    remote_write(
        prometheus,
        vec![
            series(
                &[("__name__", "omen_test_load"), ("instance", "a"), job],
                points(true),
            ),
            series(
                &[("__name__", "omen_test_load"), ("instance", "b"), job],
                points(false),
            ),
            stored("omen_anomaly_score", 0.25, 7.0),
            stored("omen_anomaly_expected", 100.0, 100.0),
            stored("omen_anomaly_lower", 90.0, 90.0),
            stored("omen_anomaly_upper", 110.0, 110.0),
        ],
    )
    .await;
    prometheus
        .wait_for("omen_test_load", Duration::from_secs(10))
        .await;
    (now, spike_at)
}

fn frames(response: &pluginv2::DataResponse) -> Vec<DecodedFrame> {
    assert!(
        response.error.is_empty(),
        "unexpected error: {}",
        response.error
    );
    response.frames.iter().map(|f| decode(f)).collect()
}

fn by_instance<'a>(frames: &'a [DecodedFrame], instance: &str) -> &'a DecodedFrame {
    frames
        .iter()
        .find(|f| {
            f.fields
                .get(1)
                .is_some_and(|v| v.labels.get("instance").map(String::as_str) == Some(instance))
        })
        .unwrap_or_else(|| panic!("no frame for instance {instance}: {frames:?}"))
}

fn index_of(frame: &DecodedFrame, t: i64) -> usize {
    frame
        .field("Time")
        .values
        .iter()
        .position(|v| *v == Some(t as f64))
        .unwrap_or_else(|| panic!("no row at {t} in {}", frame.name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_scoring_returns_band_anomalies_and_scores() {
    let prometheus = prometheus().await;
    let (now, spike_at) = load(&prometheus).await;
    let plugin = PluginProcess::start();
    let channel = plugin.channel().await;
    let expr = r#"omen_test_load{job="omen-test"}"#;
    let responses = query_data(
        &channel,
        context(&prometheus.url(), json!({})),
        vec![
            query(
                "A",
                json!({"expr": expr, "queryType": "band"}),
                now - HOUR,
                now,
            ),
            query(
                "B",
                json!({"expr": expr, "queryType": "anomalies"}),
                now - HOUR,
                now,
            ),
            query(
                "C",
                json!({"expr": expr, "queryType": "score", "maxSeries": 1}),
                now - HOUR,
                now,
            ),
            // As an alert rule sends it: Grafana's variables unexpanded, a legend format.
            query(
                "D",
                json!({
                    "expr": "max_over_time(omen_test_load{job=\"omen-test\"}[$__rate_interval])",
                    "queryType": "score",
                    "legendFormat": "{{instance}} load",
                    "interval": "30s",
                }),
                now - HOUR,
                now,
            ),
        ],
    )
    .await;

    // Band: one frame per series, every row of the hour, value outside the band at the spike.
    let band = frames(&responses["A"]);
    assert_eq!(band.len(), 2, "{band:?}");
    let a = by_instance(&band, "a");
    let names: Vec<&str> = a.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["Time", "Value", "Expected", "Lower", "Upper"]);
    assert_eq!(
        a.field("Time").values.len(),
        241,
        "an hour at 15s, both ends included"
    );
    assert_eq!(
        a.field("Value").labels["job"],
        "omen-test",
        "labels reach Grafana"
    );
    assert_eq!(a.field("Value").labels["__name__"], "omen_test_load");
    assert!(
        a.field("Upper").values.iter().all(Option::is_some),
        "warm-up history scores every row"
    );
    let row = index_of(a, spike_at);
    assert_eq!(a.field("Value").values[row], Some(SPIKE));
    let upper = a.field("Upper").values[row].expect("upper");
    assert!(SPIKE > upper, "the spike is above the band: {upper}");
    let calm = row - 10;
    let (lo, hi, v) = (
        a.field("Lower").values[calm].expect("lower"),
        a.field("Upper").values[calm].expect("upper"),
        a.field("Value").values[calm].expect("value"),
    );
    assert!(
        lo <= v && v <= hi,
        "a calm point is inside the band: {lo} <= {v} <= {hi}"
    );
    let meta = band[0].meta.as_ref().expect("first frame has metadata");
    assert!(
        meta["executedQueryString"]
            .as_str()
            .expect("string")
            .contains("scored live")
    );

    // Anomalies: the spike of `a` is among them with its score; `b` has none.
    let anomalies = frames(&responses["B"]);
    let a = by_instance(&anomalies, "a");
    let row = index_of(a, spike_at);
    assert!(a.field("Score").values[row].expect("score") >= 1.0);
    assert_eq!(a.field("Value").values[row], Some(SPIKE));
    let b = by_instance(&anomalies, "b");
    assert!(
        b.field("Time").values.is_empty(),
        "a calm series has no anomalies: {b:?}"
    );

    // Score with a series limit of 1: one frame and a notice.
    let score = frames(&responses["C"]);
    assert_eq!(score.len(), 1);
    assert_eq!(score[0].field("Score").values.len(), 241);
    let notices = &score[0].meta.as_ref().expect("meta")["notices"];
    assert!(
        notices[0]["text"]
            .as_str()
            .expect("text")
            .contains("returned 2 series"),
        "{notices}"
    );

    // Min step, variables expanded by the plugin ($__rate_interval = 4 x the 15 s scrape), legend.
    let legend = frames(&responses["D"]);
    let mut names: Vec<&str> = legend.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["a load", "b load"]);
    assert_eq!(
        legend[0].field("Score").values.len(),
        121,
        "an hour at the 30s min step"
    );
    let executed = legend[0].meta.as_ref().expect("meta")["executedQueryString"]
        .as_str()
        .expect("string")
        .to_owned();
    assert!(executed.contains("[60s]"), "{executed}");
    drop(plugin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_scores_are_joined_to_their_series() {
    let prometheus = prometheus().await;
    let (now, spike_at) = load(&prometheus).await;
    let plugin = PluginProcess::start();
    let channel = plugin.channel().await;
    let expr = r#"omen_test_load{instance="a"}"#;
    let responses = query_data(
        &channel,
        context(&prometheus.url(), json!({"defaultSource": "stored"})),
        vec![
            query("A", json!({"expr": expr}), now - HOUR, now),
            query(
                "B",
                json!({"expr": expr, "queryType": "anomalies", "threshold": 5}),
                now - HOUR,
                now,
            ),
            query(
                "C",
                json!({"expr": "omen_test_load{instance=\"b\"}"}),
                now - HOUR,
                now,
            ),
        ],
    )
    .await;
    let band = frames(&responses["A"]);
    assert_eq!(band.len(), 1);
    let row = index_of(&band[0], now - HOUR / 4);
    assert_eq!(band[0].field("Expected").values[row], Some(100.0));
    assert_eq!(band[0].field("Lower").values[row], Some(90.0));
    assert_eq!(band[0].field("Upper").values[row], Some(110.0));
    let anomalies = frames(&responses["B"]);
    assert_eq!(
        anomalies[0].field("Time").values,
        vec![Some(spike_at as f64)]
    );
    assert_eq!(anomalies[0].field("Score").values, vec![Some(7.0)]);
    // `b` has no stored scores: values without a band, and a notice saying why.
    let b = frames(&responses["C"]);
    assert!(b[0].field("Upper").values.iter().all(Option::is_none));
    let notices = &b[0].meta.as_ref().expect("meta")["notices"];
    assert!(
        notices[0]["text"]
            .as_str()
            .expect("text")
            .contains("no stored scores"),
        "{notices}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_query_fails_alone_with_its_ref_id() {
    let prometheus = prometheus().await;
    let (now, _) = load(&prometheus).await;
    let plugin = PluginProcess::start();
    let channel = plugin.channel().await;
    let responses = query_data(
        &channel,
        context(&prometheus.url(), json!({})),
        vec![
            query("OK", json!({"expr": "omen_test_load"}), now - HOUR, now),
            query(
                "SYNTAX",
                json!({"expr": "rate(omen_test_load["}),
                now - HOUR,
                now,
            ),
            query("JSON", json!({"expr": 42}), now - HOUR, now),
            query("EMPTY", json!({"expr": ""}), now - HOUR, now),
            query(
                "STORED",
                json!({"expr": "rate(x[5m])", "source": "stored"}),
                now - HOUR,
                now,
            ),
            query(
                "HIDDEN",
                json!({"expr": "omen_test_load", "hide": true}),
                now - HOUR,
                now,
            ),
            query("NONE", json!({"expr": "no_such_metric"}), now - HOUR, now),
        ],
    )
    .await;
    assert_eq!(frames(&responses["OK"]).len(), 2);
    let syntax = &responses["SYNTAX"];
    assert_eq!(syntax.status, 400);
    assert!(
        syntax
            .error
            .starts_with("query SYNTAX: Prometheus refused the query"),
        "{}",
        syntax.error
    );
    assert!(syntax.error.contains("parse error"), "{}", syntax.error);
    for (ref_id, text) in [
        ("JSON", "invalid query"),
        ("EMPTY", "no expression"),
        ("STORED", "plain selector"),
    ] {
        let response = &responses[ref_id];
        assert_eq!(response.status, 400, "{ref_id}: {}", response.error);
        assert!(
            response.error.contains(text),
            "{ref_id}: {}",
            response.error
        );
        assert!(
            response.error.contains(&format!("query {ref_id}")),
            "{}",
            response.error
        );
    }
    assert!(responses["HIDDEN"].frames.is_empty() && responses["HIDDEN"].error.is_empty());
    // No series: one empty frame that still tells the query inspector what ran.
    let none = frames(&responses["NONE"]);
    assert_eq!(none.len(), 1);
    assert!(none[0].fields.is_empty());
    let executed = &none[0].meta.as_ref().expect("meta")["executedQueryString"];
    assert!(
        executed
            .as_str()
            .expect("string")
            .starts_with("no_such_metric"),
        "{executed}"
    );

    // A Prometheus that is down is a downstream failure (502), not a crash.
    let down = format!("http://127.0.0.1:{}", prometheus::free_port());
    let responses = query_data(
        &channel,
        context(&down, json!({})),
        vec![query("A", json!({"expr": "up"}), now - HOUR, now)],
    )
    .await;
    assert_eq!(responses["A"].status, 502, "{}", responses["A"].error);
    assert!(
        responses["A"].error.contains("unreachable"),
        "{}",
        responses["A"].error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_resources_against_real_prometheus() {
    let prometheus = prometheus().await;
    load(&prometheus).await;
    let plugin = PluginProcess::start();
    let channel = plugin.channel().await;

    let mut diagnostics = pluginv2::diagnostics_client::DiagnosticsClient::new(channel.clone());
    let health = diagnostics
        .check_health(pluginv2::CheckHealthRequest {
            plugin_context: Some(context(&prometheus.url(), json!({}))),
            headers: HashMap::new(),
        })
        .await
        .expect("CheckHealth answers")
        .into_inner();
    assert_eq!(
        health.status(),
        pluginv2::check_health_response::HealthStatus::Ok,
        "{}",
        health.message
    );
    assert!(
        health.message.contains("Prometheus 2."),
        "{}",
        health.message
    );
    assert!(health.message.contains("is loaded"), "{}", health.message);
    let details: serde_json::Value = serde_json::from_slice(&health.json_details).expect("details");
    assert!(details["model"]["window"].as_u64().expect("window") > 0);

    let down = format!("http://127.0.0.1:{}", prometheus::free_port());
    let health = diagnostics
        .check_health(pluginv2::CheckHealthRequest {
            plugin_context: Some(context(&down, json!({}))),
            headers: HashMap::new(),
        })
        .await
        .expect("CheckHealth answers")
        .into_inner();
    assert_eq!(
        health.status(),
        pluginv2::check_health_response::HealthStatus::Error
    );
    assert!(health.message.contains("unreachable"), "{}", health.message);

    let resources = pluginv2::resource_client::ResourceClient::new(channel.clone());
    let call = |path: &str| {
        let request = pluginv2::CallResourceRequest {
            plugin_context: Some(context(&prometheus.url(), json!({}))),
            path: path.into(),
            method: "GET".into(),
            url: path.into(),
            ..Default::default()
        };
        let mut resources = resources.clone();
        async move {
            let mut stream = resources
                .call_resource(request)
                .await
                .expect("answers")
                .into_inner();
            let first = stream
                .message()
                .await
                .expect("stream")
                .expect("one response");
            (
                first.code,
                serde_json::from_slice::<serde_json::Value>(&first.body).expect("JSON body"),
            )
        }
    };
    let (code, names) = call("metric-names").await;
    assert_eq!(code, 200);
    assert!(
        names
            .as_array()
            .expect("list")
            .iter()
            .any(|n| n == "omen_test_load"),
        "{names}"
    );
    let (code, model) = call("model").await;
    assert_eq!(code, 200);
    assert!(
        model["threshold"].as_f64().expect("threshold") > 0.0,
        "{model}"
    );
    let (code, error) = call("nope").await;
    assert_eq!(code, 404);
    assert!(error["error"].as_str().expect("message").contains("nope"));
}

#[tokio::test]
async fn go_plugin_health_service_reports_plugin_serving() {
    let plugin = PluginProcess::start();
    let mut health = tonic_health::pb::health_client::HealthClient::new(plugin.channel().await);
    let answer = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .expect("health answers")
        .into_inner();
    assert_eq!(
        answer.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    assert!(
        plugin.stderr().contains("serving"),
        "hclog JSON on stderr: {}",
        plugin.stderr()
    );
}

#[test]
fn without_the_magic_cookie_the_binary_refuses_to_run() {
    let output = std::process::Command::new(BINARY)
        .env_remove("grafana_plugin_type")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(64));
    assert!(output.stdout.is_empty(), "no handshake line");
    assert!(String::from_utf8_lossy(&output.stderr).contains("grafana_plugin_type=datasource"));
}

/// Benchmark, not a check: `cargo test --release -p omen-grafana-datasource --test plugin_grpc
/// -- --ignored --nocapture query_latency_end_to_end` prints the latency of a live band query
/// over 100 series x 1,000 points through gRPC and a real Prometheus (docs/benchmarks.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run on demand with --release --ignored --nocapture"]
async fn query_latency_end_to_end() {
    const SERIES: usize = 100;
    const POINTS: i64 = 1_000;
    let prometheus = prometheus().await;
    let now = now_aligned();
    let from = now - (POINTS - 1) * 15_000;
    let history_start = from - 60 * 15_000;
    let batch: Vec<_> = (0..SERIES)
        .map(|s| {
            let instance = s.to_string();
            series(
                &[("__name__", "bench_load"), ("instance", &instance)],
                (0..(POINTS + 60)).map(move |i| {
                    (
                        history_start + i * 15_000,
                        wave(i + s as i64) + (i * 7 % 5) as f64,
                    )
                }),
            )
        })
        .collect();
    remote_write(&prometheus, batch).await;
    prometheus
        .wait_for("bench_load", Duration::from_secs(10))
        .await;
    let plugin = PluginProcess::start();
    let channel = plugin.channel().await;
    let mut timings = Vec::new();
    for round in 0..25 {
        let started = std::time::Instant::now();
        let responses = query_data(
            &channel,
            context(&prometheus.url(), json!({"maxSeries": 1000})),
            vec![query("A", json!({"expr": "bench_load"}), from, now)],
        )
        .await;
        let elapsed = started.elapsed();
        let frames = frames(&responses["A"]);
        assert_eq!(frames.len(), SERIES);
        assert_eq!(frames[0].field("Time").values.len(), POINTS as usize);
        if round >= 5 {
            timings.push(elapsed);
        }
    }
    timings.sort();
    let pick = |q: f64| timings[((timings.len() - 1) as f64 * q).round() as usize];
    println!(
        "live band query, {SERIES} series x {POINTS} points: p50 {:?}, p95 {:?}, min {:?}, max {:?} ({} runs)",
        pick(0.5),
        pick(0.95),
        timings[0],
        timings[timings.len() - 1],
        timings.len()
    );
}

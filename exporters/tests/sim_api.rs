//! The simulator's HTTP API and exposition, through the router and through a real listener.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use omen_exporters::sim::{SimConfig, SimServer, Simulator, router};
use tower::ServiceExt as _;

fn simulator(scale: f64) -> std::sync::Arc<Simulator> {
    let config = SimConfig {
        time_scale: scale,
        ..SimConfig::default()
    };
    Simulator::new(&config).expect("simulator")
}

async fn call(
    simulator: &std::sync::Arc<Simulator>,
    method: &str,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(uri);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(Body::from(body.unwrap_or_default().to_string()))
        .expect("request");
    let response = router(simulator.clone())
        .oneshot(request)
        .await
        .expect("router answers");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .expect("body");
    (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

/// Parses the text exposition into `series -> value`, checking every line's syntax on the way.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line}");
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let value: f64 = value.parse().unwrap_or_else(|_| {
            assert!(
                value == "+Inf" || value == "-Inf" || value == "NaN",
                "{line}"
            );
            f64::NAN
        });
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "bad metric name in {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "unterminated labels in {line}");
            for pair in series[name_end + 1..series.len() - 1].split("\",") {
                let (label, value) = pair.split_once("=\"").expect("label=\"value\"");
                assert!(
                    label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                );
                assert!(!value.trim_end_matches('"').contains('"'), "{line}");
            }
        }
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "duplicate {line}"
        );
    }
    samples
}

#[tokio::test]
async fn exposition_parses_and_has_every_service_family_and_ground_truth() {
    let sim = simulator(1.0);
    sim.step();
    tokio::time::sleep(Duration::from_millis(50)).await;
    sim.step();
    let (status, text) = call(&sim, "GET", "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    let samples = parse_exposition(&text);
    for service in omen_exporters::sim::default_services() {
        for series in [
            format!("omen_sim_http_requests_total{{code=\"200\",service=\"{service}\"}}"),
            format!("omen_sim_http_requests_total{{code=\"500\",service=\"{service}\"}}"),
            format!("omen_sim_http_request_duration_seconds_count{{service=\"{service}\"}}"),
            format!(
                "omen_sim_http_request_duration_seconds_bucket{{service=\"{service}\",le=\"+Inf\"}}"
            ),
            format!("omen_sim_cpu_usage_ratio{{service=\"{service}\"}}"),
            format!("omen_sim_memory_usage_bytes{{service=\"{service}\"}}"),
            format!("omen_sim_queue_depth{{service=\"{service}\"}}"),
            format!("omen_sim_saturation_ratio{{service=\"{service}\"}}"),
            format!("omen_sim_incident_active{{kind=\"error_burst\",service=\"{service}\"}}"),
        ] {
            assert!(samples.contains_key(&series), "missing {series}");
        }
        let truth =
            format!("omen_sim_incident_active{{kind=\"memory_leak\",service=\"{service}\"}}");
        assert_eq!(samples[&truth], 0.0);
    }
    assert!(text.contains("# TYPE omen_sim_http_request_duration_seconds histogram"));
    assert!(text.contains("# TYPE omen_sim_http_requests_total counter"));
}

#[tokio::test]
async fn incident_lifecycle_over_http() {
    let sim = simulator(1.0);
    let (status, body) = call(
        &sim,
        "POST",
        "/incidents",
        Some(r#"{"kind": "latency_spike", "service": "checkout", "duration": "10m"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(created["kind"], "latency_spike");
    assert_eq!(created["source"], "api");

    // The same incident again extends it: 200, same id.
    let (status, body) = call(
        &sim,
        "POST",
        "/incidents",
        Some(r#"{"kind": "latency_spike", "service": "checkout", "duration": "20m"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let again: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(again["id"], created["id"]);

    let (_, list) = call(&sim, "GET", "/incidents", None).await;
    let list: Vec<serde_json::Value> = serde_json::from_str(&list).expect("json");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["service"], "checkout");

    let (_, text) = call(&sim, "GET", "/metrics", None).await;
    let samples = parse_exposition(&text);
    assert_eq!(
        samples["omen_sim_incident_active{kind=\"latency_spike\",service=\"checkout\"}"], 1.0,
        "ground truth set as soon as the incident starts"
    );
    assert_eq!(
        samples["omen_sim_incidents_started_total{kind=\"latency_spike\",source=\"api\"}"],
        1.0
    );

    for (body, expected) in [
        (
            r#"{"kind": "latency_spike", "service": "nope", "duration": "1m"}"#,
            StatusCode::NOT_FOUND,
        ),
        (
            r#"{"kind": "latency_spike", "service": "checkout", "duration": "0s"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"kind": "meteor", "service": "checkout", "duration": "1m"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (r#"{"kind": "#, StatusCode::BAD_REQUEST),
    ] {
        let (status, text) = call(&sim, "POST", "/incidents", Some(body)).await;
        assert_eq!(status, expected, "{body}: {text}");
        assert!(!text.is_empty(), "readable error for {body}");
    }
}

#[tokio::test]
async fn remediate_ends_incidents_of_the_service_and_is_idempotent() {
    let sim = simulator(1.0);
    for body in [
        r#"{"kind": "memory_leak", "service": "cart", "duration": "1h"}"#,
        r#"{"kind": "error_burst", "service": "cart", "duration": "1h"}"#,
        r#"{"kind": "error_burst", "service": "auth", "duration": "1h"}"#,
    ] {
        assert_eq!(
            call(&sim, "POST", "/incidents", Some(body)).await.0,
            StatusCode::CREATED
        );
    }
    let (status, body) = call(&sim, "POST", "/remediate", Some(r#"{"service": "cart"}"#)).await;
    assert_eq!(status, StatusCode::OK);
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(answer["ended"].as_array().map(Vec::len), Some(2));

    let (status, body) = call(&sim, "POST", "/remediate", Some(r#"{"service": "cart"}"#)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a second remediation is not an error"
    );
    let answer: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(answer["ended"].as_array().map(Vec::len), Some(0));

    let active = sim.active();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].service, "auth");
    let (_, text) = call(&sim, "GET", "/metrics", None).await;
    let samples = parse_exposition(&text);
    assert_eq!(
        samples["omen_sim_incident_active{kind=\"memory_leak\",service=\"cart\"}"],
        0.0
    );
    assert_eq!(
        samples["omen_sim_incident_active{kind=\"error_burst\",service=\"auth\"}"],
        1.0
    );
    assert_eq!(
        samples["omen_sim_remediations_total{outcome=\"ended\"}"],
        1.0
    );
    assert_eq!(
        samples["omen_sim_remediations_total{outcome=\"noop\"}"],
        1.0
    );

    let (status, _) = call(&sim, "POST", "/remediate", Some(r#"{"service": "nope"}"#)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn scheduled_incidents_start_and_expire_in_accelerated_time() {
    // 600 simulated seconds per real second: starts after 60 simulated s (0.1 s), lasts 120 s (0.2 s).
    let config = SimConfig::from_yaml(
        "listen: 127.0.0.1:0\ntime_scale: 600\ntick: 20ms\nincidents:\n  - {kind: traffic_drop, service: search, after: 1m, duration: 2m}\n",
    )
    .expect("config");
    let server = SimServer::bind(config).await.expect("bind");
    let addr = server.addr();
    let sim = server.simulator();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));
    let truth = || {
        sim.metrics()
            .incident_active
            .with_label_values(&["search", "traffic_drop"])
            .get()
    };
    let mut seen_on = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if truth() == 1 {
            seen_on = true;
        } else if seen_on {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen_on, "scheduled incident started");
    assert_eq!(truth(), 0, "and ended after its duration");
    let text = reqwest_get(&format!("http://{addr}/metrics")).await;
    assert!(
        text.contains(
            "omen_sim_incidents_started_total{kind=\"traffic_drop\",source=\"schedule\"} 1"
        )
    );
    let _ = stop.send(());
    task.await.expect("join").expect("serves");
}

/// A minimal HTTP GET over a TCP stream (keeps this crate free of an HTTP client dependency).
async fn reqwest_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').expect("path");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    stream
        .write_all(format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut out = String::new();
    stream.read_to_string(&mut out).await.expect("read");
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .expect("body")
}

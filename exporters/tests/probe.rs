//! The probe exporter against real HTTP servers on 127.0.0.1: a healthy target, a failing one and
//! a closed port.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use omen_exporters::probe::{ProbeConfig, ProbeServer, Prober};

async fn target() -> std::net::SocketAddr {
    let app = axum::Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/broken",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serves") });
    addr
}

fn closed_port() -> u16 {
    // Bound then released: nothing listens there any more.
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[tokio::test]
async fn probes_record_up_status_duration_and_error_types() {
    let addr = target().await;
    let ok = format!("http://{addr}/ok");
    let broken = format!("http://{addr}/broken");
    let slow = format!("http://{addr}/slow");
    let closed = format!("http://127.0.0.1:{}/", closed_port());
    let config = ProbeConfig {
        timeout: Duration::from_millis(300),
        interval: Duration::from_secs(1),
        targets: vec![ok.clone(), broken.clone(), slow.clone(), closed.clone()],
        ..ProbeConfig::default()
    };
    let prober = Arc::new(Prober::new(&config).expect("prober"));
    prober.probe_all().await;
    prober.probe_all().await;
    let m = prober.metrics();
    let up = |t: &str| m.up.with_label_values(&[t]).get();
    let code = |t: &str| m.status_code.with_label_values(&[t]).get();
    let errors = |t: &str, e: &str| m.errors.with_label_values(&[t, e]).get();
    assert_eq!((up(&ok), code(&ok)), (1, 200));
    assert_eq!((up(&broken), code(&broken)), (0, 503));
    assert_eq!(errors(&broken, "status"), 2);
    assert_eq!((up(&slow), code(&slow)), (0, 0));
    assert_eq!(errors(&slow, "timeout"), 2);
    assert_eq!((up(&closed), code(&closed)), (0, 0));
    assert_eq!(errors(&closed, "connect"), 2);
    assert_eq!(
        m.duration
            .with_label_values(&[ok.as_str()])
            .get_sample_count(),
        2
    );
    let text = m.render();
    assert!(
        text.contains(&format!("omen_probe_up{{target=\"{ok}\"}} 1")),
        "{text}"
    );
    assert!(text.contains("# TYPE omen_probe_duration_seconds histogram"));
}

#[tokio::test]
async fn server_probes_on_its_interval_and_serves_metrics() {
    let addr = target().await;
    let ok = format!("http://{addr}/ok");
    let config = ProbeConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(100),
        targets: vec![ok.clone()],
    };
    let server = ProbeServer::bind(config).await.expect("bind");
    let metrics_addr = server.addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let mut text = String::new();
    for _ in 0..50 {
        text = client
            .get(format!("http://{metrics_addr}/metrics"))
            .send()
            .await
            .expect("metrics answer")
            .text()
            .await
            .expect("text");
        if text.contains(&format!("omen_probe_up{{target=\"{ok}\"}} 1")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        text.contains(&format!("omen_probe_status_code{{target=\"{ok}\"}} 200")),
        "{text}"
    );
    let _ = stop.send(());
    task.await.expect("join").expect("serves");
}

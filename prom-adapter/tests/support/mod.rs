//! Test support: an adapter on 127.0.0.1:0, a recording remote-write sink, and request builders.
#![allow(dead_code, missing_docs, unused_imports)]

pub use omen_test_support::prometheus;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing;
use omen_prom_adapter::proto::v1::{Label, Sample, TimeSeries, WriteRequest};
use omen_prom_adapter::{Config, Server};
use parking_lot::Mutex;
use prost::Message;
use tokio::sync::oneshot;

/// A downstream remote-write receiver that records what it gets and answers scripted statuses.
#[derive(Clone, Default)]
pub struct Sink {
    pub received: Arc<Mutex<Vec<WriteRequest>>>,
    /// The compressed bodies of the requests in `received`, as they came.
    pub bodies: Arc<Mutex<Vec<Bytes>>>,
    /// Statuses to answer first, in order; 204 afterwards.
    pub script: Arc<Mutex<Vec<StatusCode>>>,
    pub calls: Arc<AtomicUsize>,
}

impl Sink {
    pub async fn start() -> (Self, SocketAddr) {
        let sink = Sink::default();
        let app = Router::new()
            .route("/write", routing::post(receive))
            .with_state(sink.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind sink");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("sink serves") });
        (sink, addr)
    }

    pub fn series(&self) -> Vec<TimeSeries> {
        self.received
            .lock()
            .iter()
            .flat_map(|r| r.timeseries.clone())
            .collect()
    }

    /// Series whose `__name__` is `name`.
    pub fn named(&self, name: &str) -> Vec<TimeSeries> {
        self.series()
            .into_iter()
            .filter(|s| metric_name(s) == name)
            .collect()
    }
}

async fn receive(State(sink): State<Sink>, body: Bytes) -> StatusCode {
    sink.calls.fetch_add(1, Ordering::SeqCst);
    let scripted = {
        let mut script = sink.script.lock();
        (!script.is_empty()).then(|| script.remove(0))
    };
    if let Some(status) = scripted {
        return status;
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&body)
        .expect("sink gets valid snappy");
    let request = WriteRequest::decode(&raw[..]).expect("sink gets a valid WriteRequest");
    for series in &request.timeseries {
        assert!(
            series.labels.windows(2).all(|w| w[0].name < w[1].name),
            "labels forwarded sorted and unique: {series:?}"
        );
    }
    sink.received.lock().push(request);
    sink.bodies.lock().push(body);
    StatusCode::NO_CONTENT
}

pub fn metric_name(series: &TimeSeries) -> String {
    label(series, "__name__").unwrap_or_default()
}

pub fn label(series: &TimeSeries, name: &str) -> Option<String> {
    series
        .labels
        .iter()
        .find(|l| l.name == name.as_bytes())
        .map(|l| String::from_utf8_lossy(&l.value).into_owned())
}

pub struct Adapter {
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Adapter {
    pub async fn start(mut config: Config) -> Self {
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.admin_listen = "127.0.0.1:0".parse().expect("addr");
        let server = Server::bind(config).await.expect("adapter binds");
        let (addr, admin) = (server.data_addr(), server.admin_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve(async {
                    let _ = stopped.await;
                })
                .await
                .expect("adapter serves");
        });
        Self {
            addr,
            admin,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("adapter task ends cleanly");
        }
    }
}

/// A config whose downstream is `sink` with fast retries.
pub fn config_for(sink: SocketAddr) -> Config {
    let mut config = Config::default();
    config.downstream.url = format!("http://{sink}/write");
    config.downstream.min_backoff = std::time::Duration::from_millis(5);
    config.downstream.max_backoff = std::time::Duration::from_millis(20);
    config.downstream.retry_for = std::time::Duration::from_secs(2);
    config
}

pub fn l(name: &str, value: &str) -> Label {
    Label {
        name: Bytes::copy_from_slice(name.as_bytes()),
        value: Bytes::copy_from_slice(value.as_bytes()),
    }
}

pub fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| l(n, v)).collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| Sample { value, timestamp })
            .collect(),
        ..Default::default()
    }
}

pub fn snappy(message: &impl Message) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(&message.encode_to_vec())
        .expect("compress")
}

pub const V1_CONTENT_TYPE: &str = "application/x-protobuf";
pub const V2_CONTENT_TYPE: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

pub async fn post(url: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("Content-Type", content_type)
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await
        .expect("adapter answers")
}

/// A gauge series `name{job="test",instance=...}` with `n` samples every 15s of a gentle wave.
pub fn wave(name: &str, instance: &str, from: i64, n: usize) -> TimeSeries {
    let samples: Vec<(i64, f64)> = (0..n)
        .map(|i| {
            (
                from + i as i64 * 15_000,
                100.0 + 10.0 * ((i as f64) / 5.0).sin(),
            )
        })
        .collect();
    series(
        &[("__name__", name), ("instance", instance), ("job", "test")],
        &samples,
    )
}

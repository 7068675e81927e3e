//! An HTTP endpoint on 127.0.0.1 that records every request and answers as told: the target
//! of remediation actions, chat webhooks and a fake Kubernetes API server in tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};

/// How the recorder answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200 with `{}`.
    Ok,
    /// 503 to the next `n` requests, then 200.
    FailFirst(usize),
    /// Always 500.
    Fail,
    /// Wait this long before answering 200.
    Slow(Duration),
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, lowercase names.
    pub headers: BTreeMap<String, String>,
    /// Body as text.
    pub body: String,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Request>,
    mode: Option<Mode>,
}

/// A running recorder; stops with the test's runtime.
#[derive(Clone)]
pub struct Recorder {
    /// Its port on 127.0.0.1.
    pub port: u16,
    inner: Arc<Mutex<Inner>>,
}

impl Recorder {
    /// Starts a recorder answering in `mode`.
    pub async fn start(mode: Mode) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            requests: Vec::new(),
            mode: Some(mode),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind recorder");
        let port = listener.local_addr().expect("addr").port();
        let app = Router::new().fallback(record).with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { port, inner }
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Changes how it answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.inner.lock().expect("lock").mode = Some(mode);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().expect("lock").requests.clone()
    }

    /// Polls until at least `n` requests arrived or `timeout` passes; returns them.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if requests.len() >= n || Instant::now() > deadline {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn record(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let mode = {
        let mut inner = inner.lock().expect("lock");
        inner.requests.push(Request {
            method: method.to_string(),
            path: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_owned(), |p| p.to_string()),
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
        let mode = inner.mode.unwrap_or(Mode::Ok);
        if let Mode::FailFirst(n) = mode {
            inner.mode = Some(if n > 1 {
                Mode::FailFirst(n - 1)
            } else {
                Mode::Ok
            });
        }
        mode
    };
    match mode {
        Mode::Ok => (StatusCode::OK, "{}".into()),
        Mode::FailFirst(_) => (StatusCode::SERVICE_UNAVAILABLE, "not yet".into()),
        Mode::Fail => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "broken on purpose".into(),
        ),
        Mode::Slow(wait) => {
            tokio::time::sleep(wait).await;
            (StatusCode::OK, "{}".into())
        }
    }
}

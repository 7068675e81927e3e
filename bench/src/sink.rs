//! A minimal remote-write receiver standing in for a downstream: it checks the snappy framing,
//! optionally decodes the protobuf, counts, and answers 204.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use prost::Message;

/// Counters of what the sink received.
#[derive(Default)]
pub struct SinkStats {
    /// Requests received.
    pub requests: AtomicU64,
    /// Compressed bytes received.
    pub bytes: AtomicU64,
    /// Series received (when decoding).
    pub series: AtomicU64,
}

struct SinkState {
    stats: Arc<SinkStats>,
    decode: bool,
}

/// Serves the sink on `listener` until the process ends.
pub async fn serve_sink(
    listener: tokio::net::TcpListener,
    decode: bool,
    stats: Arc<SinkStats>,
) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let state = Arc::new(SinkState { stats, decode });
    let app = axum::Router::new()
        .route("/api/v1/write", post(receive))
        .route("/stats", get(stats_handler))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        .with_state(state);
    axum::serve(listener, app).await?;
    Ok(addr)
}

async fn receive(State(state): State<Arc<SinkState>>, body: Bytes) -> (StatusCode, String) {
    state.stats.requests.fetch_add(1, Ordering::Relaxed);
    state
        .stats
        .bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    if snap::raw::decompress_len(&body).is_err() {
        return (StatusCode::BAD_REQUEST, "not snappy\n".into());
    }
    if state.decode {
        let raw = match snap::raw::Decoder::new().decompress_vec(&body) {
            Ok(raw) => raw,
            Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")),
        };
        match omen_prom_adapter::proto::v1::WriteRequest::decode(&raw[..]) {
            Ok(request) => {
                state
                    .stats
                    .series
                    .fetch_add(request.timeseries.len() as u64, Ordering::Relaxed);
            }
            Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")),
        }
    }
    (StatusCode::NO_CONTENT, String::new())
}

async fn stats_handler(State(state): State<Arc<SinkState>>) -> String {
    let s = &state.stats;
    format!(
        "{{\"requests\":{},\"bytes\":{},\"series\":{}}}\n",
        s.requests.load(Ordering::Relaxed),
        s.bytes.load(Ordering::Relaxed),
        s.series.load(Ordering::Relaxed)
    )
}

//! One module per subcommand; each exposes `Args` and `run`.

pub mod adapter;
pub mod bench;
pub mod drill;
pub mod eval;
pub mod exporter;
pub mod score;
pub mod up;
pub mod webhook;

/// Why a subcommand failed: bad configuration (exit 64) or a failure at run time (exit 1).
#[derive(Debug)]
pub enum Failure {
    /// The configuration or the arguments cannot be used.
    Usage(anyhow::Error),
    /// Something failed while running.
    Runtime(anyhow::Error),
}

/// Loads the ONNX model at `path`, or the embedded default model when there is none.
pub fn load_model(path: Option<&std::path::Path>) -> Result<omen_scoring::Model, Failure> {
    use anyhow::Context as _;
    match path {
        Some(path) => omen_scoring::Model::load(path),
        None => omen_scoring::Model::embedded(),
    }
    .context("cannot load the model")
    .map_err(Failure::Usage)
}

/// Builds the multi-threaded Tokio runtime the servers run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::Runtime(error.into()))
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!(message = "Shutting down.");
}

//! `gpx_omen_anomaly_datasource`: the executable Grafana launches for the Omen datasource.

use std::process::ExitCode;

use omen_grafana_datasource::OmenDatasource;
use omen_grafana_datasource::serve::{check_handshake, handshake_line, serve};
use tracing_subscriber::prelude::*;

fn main() -> ExitCode {
    if let Err(message) = check_handshake(|key| std::env::var(key).ok()) {
        eprintln!("{message}");
        return ExitCode::from(64);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(message = "The plugin stopped.", %error);
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Grafana reads hclog-style JSON from stderr; stdout carries only the handshake line.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(grafana_plugin_sdk::backend::layer())
        .with(filter)
        .init();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let plugin = OmenDatasource::with_embedded_model();
    println!("{}", handshake_line(listener.local_addr()?));
    tracing::info!(message = "Omen datasource plugin serving.", addr = %listener.local_addr()?);
    serve(plugin, listener, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

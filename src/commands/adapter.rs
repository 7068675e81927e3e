//! `omen adapter`: the remote-write adapter.

use anyhow::Context as _;

use super::{Failure, runtime, shutdown_signal};
use crate::telemetry::{self, TelemetryArgs};

/// Arguments of `omen adapter`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path of the adapter's YAML configuration; embedded defaults when absent.
    #[arg(long, short = 'c')]
    pub config: Option<std::path::PathBuf>,
    /// Check the configuration and the model, then exit.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    telemetry: TelemetryArgs,
}

/// Runs the adapter until interrupted.
pub fn run(args: Args) -> Result<(), Failure> {
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))
                .map_err(Failure::Usage)?;
            omen_prom_adapter::Config::from_yaml(&text)
                .with_context(|| format!("in {}", path.display()))
                .map_err(Failure::Usage)?
        }
        None => omen_prom_adapter::Config::default(),
    };
    let _telemetry = telemetry::init(&args.telemetry, "omen-adapter").map_err(Failure::Usage)?;
    let check = args.check;
    runtime()?.block_on(async move {
        let server = omen_prom_adapter::Server::bind(config)
            .await
            .map_err(|e| match e {
                omen_prom_adapter::Error::Config(_) => Failure::Usage(e.into()),
                other => Failure::Runtime(other.into()),
            })?;
        if check {
            println!("configuration and model OK");
            return Ok(());
        }
        server
            .serve(shutdown_signal())
            .await
            .map_err(|e| Failure::Runtime(e.into()))
    })
}

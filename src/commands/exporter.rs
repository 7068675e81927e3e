//! `omen exporter`: Prometheus exporters (`sim`: the platform simulator; `probe`: HTTP probes).

use anyhow::Context as _;

use super::{Failure, runtime, shutdown_signal};
use crate::telemetry::{self, TelemetryArgs};

/// Arguments of `omen exporter`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Exporter,
}

#[derive(Debug, clap::Subcommand)]
enum Exporter {
    /// Platform simulator: ~8 services with seasonal, noisy metrics and incident injection.
    Sim(SimArgs),
    /// Blackbox-style HTTP probes of a list of URLs: up, duration, status code.
    Probe(ProbeArgs),
}

/// Arguments of `omen exporter probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// Path of the probe exporter's YAML configuration (exporters/examples/probe.yml); embedded
    /// defaults when absent.
    #[arg(long, short = 'c')]
    pub config: Option<std::path::PathBuf>,
    /// Listen address, overriding the configuration (default 127.0.0.1:9102).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// URL to probe, replacing the configured targets; repeat for several.
    #[arg(long = "target")]
    pub targets: Vec<String>,
    #[command(flatten)]
    telemetry: TelemetryArgs,
}

/// Arguments of `omen exporter sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Path of the simulator's YAML configuration (exporters/examples/sim.yml); embedded defaults when absent.
    #[arg(long, short = 'c')]
    pub config: Option<std::path::PathBuf>,
    /// Listen address, overriding the configuration (default 127.0.0.1:9101).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Simulated seconds per real second, overriding the configuration.
    #[arg(long)]
    pub time_scale: Option<f64>,
    #[command(flatten)]
    telemetry: TelemetryArgs,
}

/// Runs the chosen exporter until interrupted.
pub fn run(args: Args) -> Result<(), Failure> {
    match args.command {
        Exporter::Sim(args) => run_sim(args),
        Exporter::Probe(args) => run_probe(args),
    }
}

/// Reads the simulator configuration from `path` (or the defaults) and applies overrides.
pub fn sim_config(
    path: Option<&std::path::Path>,
    listen: Option<std::net::SocketAddr>,
    time_scale: Option<f64>,
) -> Result<omen_exporters::sim::SimConfig, Failure> {
    let mut config = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))
                .map_err(Failure::Usage)?;
            omen_exporters::sim::SimConfig::from_yaml(&text)
                .with_context(|| format!("in {}", path.display()))
                .map_err(Failure::Usage)?
        }
        None => omen_exporters::sim::SimConfig::default(),
    };
    if let Some(listen) = listen {
        config.listen = listen;
    }
    if let Some(scale) = time_scale {
        config.time_scale = scale;
    }
    config.validate().map_err(|e| Failure::Usage(e.into()))?;
    Ok(config)
}

fn run_sim(args: SimArgs) -> Result<(), Failure> {
    let config = sim_config(args.config.as_deref(), args.listen, args.time_scale)?;
    let _telemetry =
        telemetry::init(&args.telemetry, "omen-exporter-sim").map_err(Failure::Usage)?;
    runtime()?.block_on(async move {
        let server = omen_exporters::sim::SimServer::bind(config)
            .await
            .map_err(|e| match e {
                omen_exporters::Error::Config(_) => Failure::Usage(e.into()),
                other => Failure::Runtime(other.into()),
            })?;
        server
            .serve(shutdown_signal())
            .await
            .map_err(|e| Failure::Runtime(e.into()))
    })
}

fn run_probe(args: ProbeArgs) -> Result<(), Failure> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))
                .map_err(Failure::Usage)?;
            omen_exporters::probe::ProbeConfig::from_yaml(&text)
                .with_context(|| format!("in {}", path.display()))
                .map_err(Failure::Usage)?
        }
        None => omen_exporters::probe::ProbeConfig::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if !args.targets.is_empty() {
        config.targets = args.targets;
    }
    config.validate().map_err(|e| Failure::Usage(e.into()))?;
    let _telemetry =
        telemetry::init(&args.telemetry, "omen-exporter-probe").map_err(Failure::Usage)?;
    runtime()?.block_on(async move {
        let server = omen_exporters::probe::ProbeServer::bind(config)
            .await
            .map_err(|e| match e {
                omen_exporters::Error::Config(_) => Failure::Usage(e.into()),
                other => Failure::Runtime(other.into()),
            })?;
        server
            .serve(shutdown_signal())
            .await
            .map_err(|e| Failure::Runtime(e.into()))
    })
}

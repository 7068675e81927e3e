//! `omen webhook`: the Alertmanager webhook receiver and remediation engine.

use anyhow::Context as _;

use super::{Failure, runtime, shutdown_signal};
use crate::telemetry::{self, TelemetryArgs};

/// Arguments of `omen webhook`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path of the webhook's YAML configuration; embedded defaults (no rules) when absent.
    #[arg(long, short = 'c')]
    pub config: Option<std::path::PathBuf>,
    /// Store URL, overriding `store.url` (`sqlite://file.db` or `postgres://...`).
    #[arg(long, env = "OMEN_WEBHOOK_STORE")]
    pub store: Option<String>,
    /// Record what would run without running anything (overrides `engine.dry_run`).
    #[arg(long)]
    pub dry_run: bool,
    /// Check the configuration (rules, templates, matchers), then exit.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    telemetry: TelemetryArgs,
}

/// Runs the webhook until interrupted.
pub fn run(args: Args) -> Result<(), Failure> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))
                .map_err(Failure::Usage)?;
            omen_webhook::Config::from_yaml(&text)
                .with_context(|| format!("in {}", path.display()))
                .map_err(Failure::Usage)?
        }
        None => omen_webhook::Config::default(),
    };
    if let Some(store) = args.store {
        config.store.url = store;
    }
    config.engine.dry_run |= args.dry_run;
    if args.check {
        config
            .validate()
            .and_then(|()| omen_webhook::rules::RuleSet::new(&config).map(drop))
            .context("invalid configuration")
            .map_err(Failure::Usage)?;
        println!(
            "configuration OK: {} rules, {} actions",
            config.rules.len(),
            config.actions.len()
        );
        return Ok(());
    }
    let _telemetry = telemetry::init(&args.telemetry, "omen-webhook").map_err(Failure::Usage)?;
    runtime()?.block_on(async move {
        let server = omen_webhook::Server::bind(config)
            .await
            .map_err(|e| match e {
                omen_webhook::Error::Config(_) | omen_webhook::Error::Template(_) => {
                    Failure::Usage(e.into())
                }
                other => Failure::Runtime(other.into()),
            })?;
        server
            .serve(shutdown_signal())
            .await
            .map_err(|e| Failure::Runtime(e.into()))
    })
}

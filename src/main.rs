//! `omen`: one binary with several modes (adapter, webhook, exporters, scoring tools, the local stack).
//!
//! The binary stays thin: it parses arguments, sets up logging and hands over to the library crates.

mod commands;
mod demo;
mod stack;
mod telemetry;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for unusable configuration or arguments (EX_USAGE from sysexits.h).
const EXIT_USAGE: u8 = 64;

#[derive(Debug, Parser)]
#[command(
    name = "omen",
    version,
    about = "Streaming anomaly detection and auto-remediation for Prometheus and Grafana"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Prometheus remote-write adapter that scores every sample.
    Adapter(commands::adapter::Args),
    /// Run the Alertmanager webhook that turns alerts into remediation, exactly once.
    Webhook(commands::webhook::Args),
    /// Score a CSV file (timestamp,value) with the scoring engine and print the results.
    Score(commands::score::Args),
    /// Evaluate the scoring path on a labelled NAB corpus (Numenta Anomaly Benchmark score).
    Eval(commands::eval::Args),
    /// Run a scheduled sequence of simulated incidents in simulated time; report precision, recall
    /// and time to detect of the anomaly alert.
    Drill(commands::drill::Args),
    /// Benchmark tools: load generators (remote write, Alertmanager notifications) and a sink.
    Bench(commands::bench::Args),
    /// Prometheus exporters: `sim` (platform simulator with incident injection), `probe` (HTTP probes).
    Exporter(commands::exporter::Args),
    /// Start the local stack (simulator, adapter, webhook, Prometheus x2, Alertmanager) on embedded defaults.
    Up(commands::up::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Adapter(args) => commands::adapter::run(args),
        Command::Webhook(args) => commands::webhook::run(args),
        Command::Score(args) => commands::score::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::Drill(args) => commands::drill::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Exporter(args) => commands::exporter::run(args),
        Command::Up(args) => commands::up::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(commands::Failure::Usage(error)) => {
            eprintln!("omen: {error:#}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(commands::Failure::Runtime(error)) => {
            eprintln!("omen: {error:#}");
            ExitCode::FAILURE
        }
    }
}

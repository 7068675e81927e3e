//! `omen bench`: remote-write load generation, a downstream sink, and Alertmanager notification
//! load for the webhook, for benchmarks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use omen_bench::{
    AlertSpec, LoadSpec, Protocol, Report, SinkStats, generate, generate_alerts, run_load,
    serve_sink,
};

use super::{Failure, runtime};

/// Arguments of `omen bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BenchCommand {
    /// Send a pre-generated remote-write workload and print throughput and latency as JSON.
    Load(LoadArgs),
    /// Run a remote-write sink that counts what it receives (a stand-in downstream).
    Sink(SinkArgs),
    /// Send pre-generated Alertmanager notifications to a webhook; print alerts/s and latency.
    Webhook(WebhookArgs),
}

#[derive(Debug, clap::Args)]
struct WebhookArgs {
    /// Webhook URL to send to.
    #[arg(long, default_value = "http://127.0.0.1:9301/webhook")]
    url: String,
    /// Notifications to send.
    #[arg(long, default_value_t = 20_000)]
    notifications: usize,
    /// Alerts per notification.
    #[arg(long, default_value_t = 10)]
    alerts: usize,
    /// Concurrent senders.
    #[arg(long, default_value_t = 32)]
    workers: usize,
    /// Alerts per second to pace at; as fast as possible when absent.
    #[arg(long)]
    rate: Option<f64>,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    max_seconds: f64,
    /// Label `run` of every alert (distinct runs never share fingerprints).
    #[arg(long, default_value = "bench")]
    run: String,
}

#[derive(Debug, clap::Args)]
struct LoadArgs {
    /// Remote-write URL to send to.
    #[arg(long)]
    url: String,
    /// Active series.
    #[arg(long, default_value_t = 100_000)]
    series: usize,
    /// Labels per series besides the metric name.
    #[arg(long, default_value_t = 10)]
    labels: usize,
    /// Distinct metric names.
    #[arg(long, default_value_t = 100)]
    metric_names: usize,
    /// Samples per request.
    #[arg(long, default_value_t = 2000)]
    batch: usize,
    /// Samples per series (rounds, 15 s apart).
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Concurrent ordered senders.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Fraction of series replaced each round.
    #[arg(long, default_value_t = 0.0)]
    churn: f64,
    /// Protocol: 1 or 2.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    protocol: u8,
    /// Total samples per second to pace at; as fast as possible when absent.
    #[arg(long)]
    rate: Option<f64>,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    max_seconds: f64,
    /// Skip this many rounds first without measuring (fills the model's window).
    #[arg(long, default_value_t = 0)]
    warmup_rounds: usize,
}

#[derive(Debug, clap::Args)]
struct SinkArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9091")]
    listen: SocketAddr,
    /// Decode every request's protobuf (costs CPU; off measures only the adapter).
    #[arg(long)]
    decode: bool,
}

/// Runs the chosen bench command.
pub fn run(args: Args) -> Result<(), Failure> {
    match args.command {
        BenchCommand::Load(load) => runtime()?.block_on(load_command(load)),
        BenchCommand::Webhook(webhook) => runtime()?.block_on(webhook_command(webhook)),
        BenchCommand::Sink(sink) => runtime()?.block_on(async move {
            let listener = tokio::net::TcpListener::bind(sink.listen)
                .await
                .with_context(|| format!("cannot listen on {}", sink.listen))
                .map_err(Failure::Usage)?;
            eprintln!(
                "sink listening on http://{}/api/v1/write (stats: /stats)",
                sink.listen
            );
            serve_sink(listener, sink.decode, Arc::new(SinkStats::default()))
                .await
                .map(|_| ())
                .map_err(|e| Failure::Runtime(e.into()))
        }),
    }
}

async fn load_command(args: LoadArgs) -> Result<(), Failure> {
    let spec = LoadSpec {
        series: args.series,
        labels_per_series: args.labels,
        metric_names: args.metric_names,
        batch: args.batch,
        rounds: args.rounds + args.warmup_rounds,
        workers: args.workers,
        churn: args.churn,
        protocol: if args.protocol == 2 {
            Protocol::V2
        } else {
            Protocol::V1
        },
    };
    let generated = std::time::Instant::now();
    let mut workload = generate(&spec);
    eprintln!(
        "generated {} samples in {:.1}s",
        workload.samples,
        generated.elapsed().as_secs_f64()
    );
    if args.warmup_rounds > 0 {
        let per_round = |bodies: &Vec<(bytes::Bytes, usize)>| bodies.len() / spec.rounds;
        let warm: Vec<Vec<_>> = workload
            .bodies
            .iter_mut()
            .map(|bodies| {
                let n = per_round(bodies) * args.warmup_rounds;
                bodies.drain(..n).collect()
            })
            .collect();
        let warm = omen_bench::Workload {
            bodies: warm,
            samples: 0,
            content_type: workload.content_type,
            remote_write: true,
        };
        let report = run_load(&args.url, &warm, None, Duration::from_secs(600)).await;
        eprintln!(
            "warm-up: {} samples at {:.0}/s",
            report.samples, report.samples_per_second
        );
    }
    let report = run_load(
        &args.url,
        &workload,
        args.rate,
        Duration::from_secs_f64(args.max_seconds),
    )
    .await;
    print_report(&spec, args.rate, &report)
}

async fn webhook_command(args: WebhookArgs) -> Result<(), Failure> {
    let spec = AlertSpec {
        notifications: args.notifications,
        alerts_per_notification: args.alerts,
        workers: args.workers,
        run: args.run,
    };
    let workload = generate_alerts(&spec);
    let report = run_load(
        &args.url,
        &workload,
        args.rate,
        Duration::from_secs_f64(args.max_seconds),
    )
    .await;
    print_report(&spec, args.rate, &report)
}

/// Prints a load run as JSON (what was sent, the pacing, the report); fails when nothing succeeded.
fn print_report(
    spec: &impl serde::Serialize,
    rate: Option<f64>,
    report: &Report,
) -> Result<(), Failure> {
    let out = serde_json::json!({ "spec": spec, "rate": rate, "report": report });
    println!(
        "{}",
        serde_json::to_string_pretty(&out).map_err(|e| Failure::Runtime(e.into()))?
    );
    if report.ok_requests == 0 {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "no request succeeded: {:?}",
            report.first_error
        )));
    }
    Ok(())
}

//! `omen up`: the local stack on embedded defaults — the simulator and the adapter in this process,
//! two Prometheus servers, Alertmanager and the webhook (`omen webhook`) as children.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;

use super::{Failure, runtime, shutdown_signal};
use crate::stack::{self, Child, ChildSpec, Ports, port};
use crate::telemetry::{self, TelemetryArgs};

/// How long a component may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a child may take to stop after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Arguments of `omen up`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stop after this long (e.g. `20s`, `1h`); runs until Ctrl-C when absent.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Directory for configuration, data and logs, kept afterwards; a temporary directory removed
    /// at exit when absent.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Add this to every port (e.g. 10000: Prometheus on 19090), to run beside another stack.
    #[arg(long, default_value_t = 0)]
    pub port_offset: u16,
    /// Simulated seconds per real second for the platform simulator.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Do not inject the guided incident (by default, once scores flow, an incident is injected
    /// into `checkout` and followed on the console until healed and resolved).
    #[arg(long)]
    pub no_demo: bool,
    #[command(flatten)]
    telemetry: TelemetryArgs,
}

/// Starts the stack and runs it until Ctrl-C, SIGTERM, `--duration` or a component failing.
pub fn run(args: Args) -> Result<(), Failure> {
    let ports = Ports::new(args.port_offset).map_err(Failure::Usage)?;
    ports.check_free().map_err(Failure::Usage)?;
    let (dir, _temp) = match &args.state_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("omen-up-")
                .tempdir()
                .context("cannot create a temporary directory")
                .map_err(Failure::Runtime)?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)
        .with_context(|| format!("cannot create {}", logs.display()))
        .map_err(Failure::Usage)?;
    let sim =
        super::exporter::sim_config(None, Some(ports.addr(port::SIM)), Some(args.time_scale))?;
    let _telemetry = telemetry::init(&args.telemetry, "omen-up").map_err(Failure::Usage)?;
    stack::write_files(&dir, ports, &[]).map_err(Failure::Usage)?;
    runtime()?.block_on(async move {
        let mut running = Running::default();
        let result =
            start_and_wait(&mut running, &dir, ports, sim, args.duration, !args.no_demo).await;
        running.stop().await;
        println!("omen up: stopped; state was in {}", dir.display());
        result.map_err(Failure::Runtime)
    })
}

/// Everything started so far, stopped in reverse order.
#[derive(Default)]
struct Running {
    children: Vec<Child>,
    stop_in_process: Option<watch::Sender<bool>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    demo: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(demo) = self.demo.take() {
            demo.abort();
        }
        while let Some(child) = self.children.pop() {
            tracing::info!(message = "Stopping.", name = child.spec.name);
            child.stop(STOP_GRACE).await;
        }
        if let Some(stop) = self.stop_in_process.take() {
            let _ = stop.send(true);
        }
        for task in self.tasks {
            let _ = tokio::time::timeout(STOP_GRACE, task).await;
        }
    }
}

/// The child processes, in start order. Programs are looked up on PATH; `None` skips the entry.
fn child_specs(dir: &std::path::Path, ports: Ports) -> anyhow::Result<Vec<ChildSpec>> {
    let prometheus = stack::find_program(&["prometheus"])
        .context("`prometheus` not found on PATH; run scripts/install-deps")?;
    let alertmanager = stack::find_program(&["prometheus-alertmanager", "alertmanager"])
        .context("`prometheus-alertmanager` not found on PATH; run scripts/install-deps")?;
    let url = |p: u16| format!("http://{}", ports.addr(p));
    let data = |name: &str| dir.join("data").join(name).display().to_string();
    let config = |name: &str| dir.join("provisioning").join(name).display().to_string();
    let mut specs = vec![
        ChildSpec {
            name: "prometheus-downstream",
            program: prometheus.clone(),
            args: vec![
                format!("--config.file={}", config("prometheus-downstream.yml")),
                format!("--storage.tsdb.path={}", data("prometheus-downstream")),
                format!(
                    "--web.listen-address={}",
                    ports.addr(port::PROMETHEUS_DOWNSTREAM)
                ),
                "--web.enable-remote-write-receiver".into(),
                "--web.enable-lifecycle".into(),
            ],
            ready_url: format!("{}/-/ready", url(port::PROMETHEUS_DOWNSTREAM)),
            url: url(port::PROMETHEUS_DOWNSTREAM),
        },
        ChildSpec {
            name: "alertmanager",
            program: alertmanager,
            args: vec![
                format!("--config.file={}", config("alertmanager.yml")),
                format!("--storage.path={}", data("alertmanager")),
                format!("--web.listen-address={}", ports.addr(port::ALERTMANAGER)),
                "--cluster.listen-address=".into(),
            ],
            ready_url: format!("{}/-/ready", url(port::ALERTMANAGER)),
            url: url(port::ALERTMANAGER),
        },
    ];
    // The webhook (this binary), with its store in the state directory.
    specs.push(ChildSpec {
        name: "webhook",
        program: std::env::current_exe().context("cannot find the omen binary")?,
        args: vec![
            "webhook".into(),
            format!("--config={}", config("webhook.yml")),
            format!("--store=sqlite://{}", data("webhook.db")),
        ],
        ready_url: format!("{}/ready", url(port::WEBHOOK_ADMIN)),
        url: format!(
            "{}/webhook  admin {}/api/v1/jobs",
            url(port::WEBHOOK),
            url(port::WEBHOOK_ADMIN)
        ),
    });
    specs.push(ChildSpec {
        name: "prometheus",
        program: prometheus,
        args: vec![
            format!("--config.file={}", config("prometheus.yml")),
            format!("--storage.tsdb.path={}", data("prometheus")),
            format!("--web.listen-address={}", ports.addr(port::PROMETHEUS)),
            "--web.enable-lifecycle".into(),
        ],
        ready_url: format!("{}/-/ready", url(port::PROMETHEUS)),
        url: url(port::PROMETHEUS),
    });
    Ok(specs)
}

async fn start_and_wait(
    running: &mut Running,
    dir: &std::path::Path,
    ports: Ports,
    sim: omen_exporters::sim::SimConfig,
    duration: Option<Duration>,
    demo: bool,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let (stop, stopped) = watch::channel(false);
    running.stop_in_process = Some(stop);
    let until_stopped = move || {
        let mut rx = stopped.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };

    let mut specs = child_specs(dir, ports)?.into_iter();
    // Downstream Prometheus and Alertmanager first: the adapter forwards into the former.
    for spec in specs.by_ref().take(2) {
        start_child(running, spec, dir, &client).await?;
    }

    let adapter =
        omen_prom_adapter::Config::from_yaml(&stack::file("provisioning/adapter.yml", ports)?)?;
    let adapter = omen_prom_adapter::Server::bind(adapter).await?;
    let shutdown = until_stopped();
    running.tasks.push(tokio::spawn(async move {
        if let Err(error) = adapter.serve(shutdown).await {
            tracing::error!(message = "Adapter failed.", %error);
        }
    }));

    let sim = omen_exporters::sim::SimServer::bind(sim).await?;
    let shutdown = until_stopped();
    running.tasks.push(tokio::spawn(async move {
        if let Err(error) = sim.serve(shutdown).await {
            tracing::error!(message = "Simulator failed.", %error);
        }
    }));

    for spec in specs {
        start_child(running, spec, dir, &client).await?;
    }

    print_urls(running, ports, dir);
    if demo {
        let url = |p: u16| format!("http://{}", ports.addr(p));
        let endpoints = crate::demo::Endpoints {
            sim: url(port::SIM),
            downstream: url(port::PROMETHEUS_DOWNSTREAM),
            alertmanager: url(port::ALERTMANAGER),
            webhook_admin: url(port::WEBHOOK_ADMIN),
        };
        running.demo = Some(tokio::spawn(async move {
            if let Err(error) = crate::demo::run(endpoints, crate::demo::Plan::default()).await {
                tracing::warn!(message = "The guided incident stopped.", %error);
            }
        }));
    }
    let deadline = async {
        match duration {
            Some(duration) => tokio::time::sleep(duration).await,
            None => std::future::pending().await,
        }
    };
    let child_exit = async {
        let waits = running.children.iter_mut().map(|child| {
            Box::pin(async move {
                let status = child.exited().await;
                (child.spec.name, status)
            })
        });
        futures_select_all(waits.collect()).await
    };
    tokio::select! {
        () = shutdown_signal() => Ok(()),
        () = deadline => {
            tracing::info!(message = "Duration reached; stopping.");
            Ok(())
        }
        (name, status) = child_exit => {
            anyhow::bail!("{name} exited unexpectedly ({status:?}); its log is in {}", dir.join("logs").display())
        }
    }
}

/// Waits for the first of `futures` to complete.
async fn futures_select_all<F: std::future::Future + Unpin>(mut futures: Vec<F>) -> F::Output {
    if futures.is_empty() {
        return std::future::pending().await;
    }
    std::future::poll_fn(|cx| {
        for future in futures.iter_mut() {
            if let std::task::Poll::Ready(value) = std::pin::Pin::new(&mut *future).poll(cx) {
                return std::task::Poll::Ready(value);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

async fn start_child(
    running: &mut Running,
    spec: ChildSpec,
    dir: &std::path::Path,
    client: &reqwest::Client,
) -> anyhow::Result<()> {
    tracing::info!(message = "Starting.", name = spec.name);
    let mut child = Child::spawn(spec, &dir.join("logs"))?;
    let ready = child.wait_ready(client, READY_TIMEOUT).await;
    running.children.push(child);
    ready
}

fn print_urls(running: &Running, ports: Ports, dir: &std::path::Path) {
    let mut lines = vec![
        format!(
            "  simulator              http://{}/metrics  (POST /incidents, /remediate)",
            ports.addr(port::SIM)
        ),
        format!(
            "  adapter                http://{}/api/v1/write  admin http://{}/metrics",
            ports.addr(port::ADAPTER),
            ports.addr(port::ADAPTER_ADMIN)
        ),
    ];
    for child in &running.children {
        lines.push(format!("  {:<22} {}", child.spec.name, child.spec.url));
    }
    println!(
        "omen up: the stack is running (Ctrl-C stops it)\n{}\n  state                  {}\nGrafana: provision provisioning/grafana/ and dashboards/ against {}",
        lines.join("\n"),
        dir.display(),
        format_args!("http://{}", ports.addr(port::PROMETHEUS_DOWNSTREAM)),
    );
}

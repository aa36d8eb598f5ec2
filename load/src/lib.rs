//! kring-load: measures one running kring-server under the load of N
//! group-room devices and their parents, all on 127.0.0.1, for a bounded time.
//!
//! [`run`] seeds an organisation through the store, starts the server as a
//! child process, runs the devices ([`device`]) and parents ([`parent`]) as
//! tokio tasks, stops writing when the time is up, waits (at most 60 s) for the
//! last parent messages to reach the devices, stops everything and returns a
//! [`Report`].

pub mod config;
pub mod device;
pub mod metrics;
pub mod parent;
pub mod report;
pub mod seed;
pub mod server;

pub use config::{Backend, Config};
pub use report::Report;

use crate::device::{DeviceSpec, Photo};
use crate::metrics::{DELIVERY_LIMIT, Recorder};
use crate::parent::ParentSpec;
use crate::report::ServerStats;
use crate::server::{ServerProcess, free_port, proc_sample};
use kring_server::settings::Settings;
use rand::Rng;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Sent as `Kring-App-Version` and as the devices' app version.
pub const APP_VERSION: &str = "kring-load";
/// No request of the run waits longer than this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Size of the photo the devices send.
const PHOTO_BYTES: usize = 60_000;
/// How often the server's memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Every parent message's body starts with this.
const MARKER: &str = "[kring-load]";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("I/O: {0}")]
    Io(#[source] std::io::Error),
    #[error("store: {0}")]
    Store(#[from] kring_server::store::StoreError),
    #[error("opening the store: {0}")]
    Open(#[from] kring_server::ServerError),
    #[error("cannot start {bin}: {source}")]
    Spawn {
        bin: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the server exited while starting ({0}); its last output:\n{1}")]
    ServerExited(String, String),
    #[error("the server did not answer /healthz in time; its last output:\n{0}")]
    ServerNotReady(String),
    #[error("the server process has no id (it ended at once)")]
    ServerDied,
    #[error("HTTP client: {0}")]
    Http(#[source] reqwest::Error),
    #[error("making the photo: {0}")]
    Image(#[from] image::ImageError),
    #[error("a seeding task failed: {0}")]
    Join(String),
}

/// Mean periods of what devices and parents do.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub feed_every: Duration,
    pub push_every: Duration,
    pub photo_every: Duration,
    pub timeline_every: Duration,
    pub message_every: Duration,
}

impl Timing {
    fn of(c: &Config) -> Self {
        Self {
            feed_every: Duration::from_secs(c.feed_every),
            push_every: Duration::from_secs(c.push_every),
            photo_every: Duration::from_secs(c.photo_every),
            timeline_every: Duration::from_secs(c.timeline_every),
            message_every: Duration::from_secs(c.message_every),
        }
    }
}

/// `mean` ±50 %, uniformly.
pub fn jittered(mean: Duration) -> Duration {
    mean.mul_f64(rand::rng().random_range(0.5..1.5))
}

/// What every device and parent task shares.
#[derive(Debug)]
pub struct Shared {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub http: SocketAddr,
    pub mqtt: SocketAddr,
    pub recorder: Arc<Recorder>,
    /// Time is up: parents stop, devices stop pushing.
    pub stop_writes: CancellationToken,
    /// Everything stops.
    pub stop_all: CancellationToken,
    pub timing: Timing,
    pub photo: Arc<Photo>,
    pub marker: String,
    /// Device indices per group.
    pub group_devices: Vec<Vec<usize>>,
}

impl Shared {
    /// True when every device of group `g` is subscribed and has pulled once.
    pub fn group_ready(&self, g: usize) -> bool {
        self.group_devices
            .get(g)
            .is_some_and(|d| self.recorder.all_ready(d))
    }
}

/// Raises the soft limit of open files to the hard limit (inherited by the server).
fn raise_nofile(devices: u32) {
    let need = u64::from(devices) * 3 + 256;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) if n < need => tracing::warn!(
            limit = n,
            need,
            "few open files allowed: raise the hard limit (ulimit -Hn) for this many devices"
        ),
        Ok(n) => tracing::debug!(limit = n, "open files"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-files limit"),
    }
}

/// Runs the whole measurement (see the crate documentation).
pub async fn run(config: Config) -> Result<Report, LoadError> {
    raise_nofile(config.devices);
    let dir = tempfile::Builder::new()
        .prefix("kring-load-")
        .tempdir()
        .map_err(LoadError::Io)?;
    let mut settings = Settings {
        data_dir: dir.path().join("data"),
        ..Settings::default()
    };
    settings.portal.base_domain = "localhost".into();
    if config.backend == Backend::Postgres {
        let pg = tokio::task::spawn_blocking(kring_server::store::testing::TestPostgres::get)
            .await
            .map_err(|e| LoadError::Join(e.to_string()))??;
        settings.database.url = Some(pg.fresh_database().await?);
        settings.database.pool_size = 32;
    }

    let seeding = Instant::now();
    let opened = kring_server::open_store(&settings).await?;
    let seeded = seed::seed(opened.store.clone(), &config).await?;
    // SQLite has one writer: the server must be the only one
    drop(opened);
    let seed_seconds = seeding.elapsed().as_secs_f64();
    tracing::info!(seconds = seed_seconds, "seeded");
    let photo = tokio::task::spawn_blocking(|| Photo::make(PHOTO_BYTES))
        .await
        .map_err(|e| LoadError::Join(e.to_string()))??;

    let http_port = free_port()?;
    let mut mqtt_port = free_port()?;
    while mqtt_port == http_port {
        mqtt_port = free_port()?;
    }
    settings.http.listen = SocketAddr::from(([127, 0, 0, 1], http_port));
    settings.mqtt.listen = SocketAddr::from(([127, 0, 0, 1], mqtt_port));
    let mut server =
        ServerProcess::start(&config.server_bin, &settings, dir.path().join("server.log")).await?;
    tracing::info!(pid = server.pid, http = %server.http, mqtt = %server.mqtt, "server ready");

    let recorder = Arc::new(Recorder::default());
    let shared = Arc::new(Shared {
        base: format!("http://{}", server.http),
        http: server.http,
        mqtt: server.mqtt,
        recorder: recorder.clone(),
        stop_writes: CancellationToken::new(),
        stop_all: CancellationToken::new(),
        timing: Timing::of(&config),
        photo: Arc::new(photo),
        marker: MARKER.to_string(),
        group_devices: seeded.groups.iter().map(|g| g.devices.clone()).collect(),
    });

    let ticks = server::clock_ticks().await;
    let load_started = Instant::now();
    let cpu_before = proc_sample(server.pid).cpu_ticks;
    let sampler = tokio::spawn(sample_memory(server.pid, shared.clone(), load_started));

    let stagger = config.stagger();
    let n = seeded.devices.len().max(1);
    let mut devices = Vec::with_capacity(seeded.devices.len());
    for (idx, d) in seeded.devices.iter().enumerate() {
        let group = &seeded.groups[d.group];
        let spec = DeviceSpec {
            idx,
            seed: d.clone(),
            children: group.children.clone(),
            staff: group.staff,
            start_after: stagger.mul_f64(idx as f64 / n as f64),
        };
        devices.push(tokio::spawn(device::run(spec, shared.clone())));
    }
    let mut parents = Vec::with_capacity(seeded.parents.len());
    for (idx, p) in seeded.parents.iter().enumerate() {
        let spec = ParentSpec {
            idx,
            seed: p.clone(),
            start_after: stagger.mul_f64(rand::rng().random_range(0.0..1.0)),
        };
        parents.push(tokio::spawn(parent::run(spec, shared.clone())));
    }

    tokio::select! {
        _ = tokio::time::sleep(config.run_time()) => {}
        _ = shared.stop_all.cancelled() => tracing::error!("the server died; stopping"),
    }
    let run_seconds = load_started.elapsed().as_secs_f64();
    tracing::info!("time is up: no more writes; waiting for the last messages");
    shared.stop_writes.cancel();
    join_all(parents, REQUEST_TIMEOUT * 3).await;
    let draining = Instant::now();
    while !shared.stop_all.is_cancelled()
        && recorder.waiting_deliveries(&shared.group_devices, Instant::now()) > 0
        && draining.elapsed() < DELIVERY_LIMIT + Duration::from_secs(2)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drain_seconds = draining.elapsed().as_secs_f64();
    let end = proc_sample(server.pid);
    let wall = load_started.elapsed().as_secs_f64();
    shared.stop_all.cancel();
    join_all(devices, REQUEST_TIMEOUT + Duration::from_secs(10)).await;
    let rss_samples = sampler.await.unwrap_or_default();

    let exited = server.exited();
    let log = server.log_tail();
    server.stop().await;
    let steady_after = config.steady_after();
    let measured = recorder.finish(&shared.group_devices, load_started + steady_after);
    let cpu_seconds = end.cpu_ticks.saturating_sub(cpu_before) as f64 / ticks as f64;
    let report = Report {
        backend: config.backend,
        server_bin: config.server_bin.display().to_string(),
        devices: config.devices,
        groups: seeded.groups.len(),
        parents: seeded.parents.len(),
        seed_seconds,
        run_seconds,
        steady_from_s: steady_after.as_secs_f64(),
        drain_seconds,
        photo_bytes: shared.photo.jpeg.len(),
        errors_total: measured.errors.values().sum(),
        measured,
        server: ServerStats {
            died: exited.is_some() || end.dead,
            exit_status: exited,
            peak_rss_mib: mib(end.hwm_kib),
            rss_mib_every_10s: rss_samples,
            cpu_seconds,
            cpu_percent_of_one_core: if wall > 0.0 {
                cpu_seconds / wall * 100.0
            } else {
                0.0
            },
        },
    };
    if !report.ok() {
        tracing::warn!("the server's last output:\n{log}");
    }
    if config.keep {
        let kept = dir.keep();
        tracing::info!(dir = %kept.display(), "kept the data directory and server.log");
    }
    Ok(report)
}

fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

/// Waits for tasks, aborting those still running after `limit`.
async fn join_all(tasks: Vec<tokio::task::JoinHandle<()>>, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    for t in tasks {
        let abort = t.abort_handle();
        if tokio::time::timeout_at(deadline, t).await.is_err() {
            abort.abort();
        }
    }
}

/// The server's resident memory every 10 s as (seconds since the start, MiB);
/// a dead server stops the run.
async fn sample_memory(pid: u32, shared: Arc<Shared>, started: Instant) -> Vec<(f64, f64)> {
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tokio::select! {
            _ = shared.stop_all.cancelled() => break,
            _ = tick.tick() => {}
        }
        let s = proc_sample(pid);
        if s.dead {
            shared.recorder.error("server_died");
            shared.stop_writes.cancel();
            shared.stop_all.cancel();
            break;
        }
        let t = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
        samples.push((t, mib(s.rss_kib)));
    }
    samples
}

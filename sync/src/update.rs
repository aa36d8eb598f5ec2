//! The device's side of an appliance update (issue 13): the release the
//! server offers in the feed is downloaded into `/data` (HTTP Range, resumed
//! where it stopped, its SHA-256 checked), handed to the root-side installer
//! when that cannot hurt, and every step is reported to the server.
//!
//! Who does what:
//! - the kiosk (user `kring`) runs [`spawn_updater`]: download, the moment to
//!   install (screen locked, inside the install window), reports;
//! - `kring-update.service` (root, started by `kring-update.path` when the
//!   request file appears) runs [`install`]: `rauc install`, the result file,
//!   the restart into the other slot;
//! - `kring-confirm.service` (root) marks the booted slot good once the
//!   kiosk says it is healthy ([`HEALTHY_FILE`]), and writes [`GOOD_FILE`];
//!   without it, U-Boot's boot counter brings the previous slot back.
//!
//! Everything the updater knows is in `<dir>/state.json`, written atomically,
//! so a restart (or a power cut) anywhere resumes from the last step.

use crate::client::ApiClient;
use crate::decide::Failure;
use crate::store::{ItemKind, Store};
use crate::{Clock, store::ItemState};
use kring_protocol::{Calendar, ReleaseId, UpdateOffer, UpdateReport, UpdateState};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The updater's own state, in the update directory.
pub const STATE_FILE: &str = "state.json";
/// The request to install, written by the kiosk, taken by the installer.
pub const INSTALL_REQUEST: &str = "install.json";
/// The installer's answer.
pub const INSTALL_RESULT: &str = "result.json";
/// `<slot> <version>` of the last slot marked good (by `kring-confirm`).
pub const GOOD_FILE: &str = "good";
/// Written by the kiosk in its runtime directory once it is healthy: first
/// frame drawn and the server reached once (or [`OFFLINE_GRACE`] passed).
pub const HEALTHY_FILE: &str = "healthy";
/// A kiosk that runs this long without reaching the server counts as healthy
/// (a screen whose network is down at night must not fall back).
pub const OFFLINE_GRACE: Duration = Duration::from_secs(10 * 60);
/// Interrupted installations (power cut) tried again before giving up.
const MAX_INTERRUPTED: u32 = 3;
/// The smallest range request (the first one, and on a very slow link).
const MIN_CHUNK: u64 = 64 * 1024;
/// Detail texts are cut to what the server keeps.
const DETAIL_MAX: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> UpdateError + '_ {
    move |source| UpdateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What an appliance image is: `/etc/kring/release` holds
/// `<compatible> <version>`, e.g. `kring-qemu-virt 2.0.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub compatible: String,
    pub version: String,
}

impl Release {
    /// Where the image keeps it.
    pub const FILE: &'static str = "/etc/kring/release";

    pub fn parse(text: &str) -> Option<Self> {
        let mut words = text.split_whitespace();
        let (compatible, version) = (words.next()?, words.next()?);
        words.next().is_none().then(|| Self {
            compatible: compatible.to_string(),
            version: version.to_string(),
        })
    }

    /// The release of the running image; None on a desktop.
    pub fn read(path: &Path) -> Option<Self> {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| Self::parse(&t))
    }

    /// The value of the `Kring-Release` header.
    pub fn header(&self) -> String {
        format!("{} {}", self.compatible, self.version)
    }
}

/// How far an update got on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Downloading,
    Downloaded,
    /// The request was written; the installer has it.
    Installing,
    /// The installer said it installed; the restart comes.
    Installed,
    /// The new release runs and waits for its slot to be marked good.
    Running,
}

/// The update under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub offer: UpdateOffer,
    pub phase: Phase,
    /// The version that ran when the update began.
    pub from_version: String,
    /// Installations cut off (power, kill) so far.
    #[serde(default)]
    pub interrupted: u32,
}

/// Everything the updater remembers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdaterState {
    pub pending: Option<Pending>,
    /// Reports not yet accepted by the server, oldest first.
    #[serde(default)]
    pub reports: Vec<UpdateReport>,
    /// Releases whose story ended here (good, failed, rolled back): never
    /// started again, even if the server keeps offering one.
    #[serde(default)]
    pub finished: Vec<ReleaseId>,
}

/// The installer's request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRequest {
    pub release_id: ReleaseId,
    pub version: String,
    /// The bundle's file name inside the update directory.
    pub bundle: String,
    pub sha256: String,
}

/// The installer's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallResult {
    pub release_id: ReleaseId,
    pub ok: bool,
    /// What `rauc install` said (its last line), or why it did not run.
    pub message: String,
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename, fsync dir).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), UpdateError> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
    }
    Ok(())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, UpdateError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| UpdateError::Json {
                path: path.to_path_buf(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), UpdateError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| UpdateError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomic(path, &bytes)
}

fn report(release_id: ReleaseId, state: UpdateState, detail: Option<String>) -> UpdateReport {
    UpdateReport {
        release_id,
        state,
        detail: detail.map(|d| d.chars().take(DETAIL_MAX).collect()),
    }
}

/// The file a release's bundle is downloaded to, then kept as.
fn part_name(offer: &UpdateOffer) -> String {
    format!("{}.raucb.part", offer.sha256)
}
fn bundle_name(offer: &UpdateOffer) -> String {
    format!("{}.raucb", offer.sha256)
}

/// What the updater finds when it starts: the story of an update that was
/// installing when the device went down, read against the release that now
/// runs. Pure, for the tests.
pub fn resume(
    mut state: UpdaterState,
    running: &Release,
    result: Option<&InstallResult>,
    good: Option<&str>,
) -> UpdaterState {
    let Some(mut p) = state.pending.take() else {
        return state;
    };
    let id = p.offer.release_id;
    let result = result.filter(|r| r.release_id == id);
    let runs_new = running.version == p.offer.version;
    match p.phase {
        Phase::Downloading | Phase::Downloaded => {}
        Phase::Installing | Phase::Installed | Phase::Running if runs_new => {
            if p.phase != Phase::Running {
                if p.phase == Phase::Installing {
                    state.reports.push(report(id, UpdateState::Installed, None));
                }
                state.reports.push(report(id, UpdateState::Running, None));
                p.phase = Phase::Running;
            }
            if good.is_some_and(|g| g.split_whitespace().nth(1) == Some(running.version.as_str())) {
                state.reports.push(report(id, UpdateState::Good, None));
                state.finished.push(id);
                return state;
            }
        }
        Phase::Running => {
            // The new release ran but was not marked good: the boot counter
            // brought this one back.
            state.reports.push(report(
                id,
                UpdateState::RolledBack,
                Some(format!(
                    "versie {} werd niet gezond bevonden; het scherm is terug op {}",
                    p.offer.version, running.version
                )),
            ));
            state.finished.push(id);
            return state;
        }
        Phase::Installing | Phase::Installed => match result {
            Some(r) if r.ok => {
                state.reports.push(report(
                    id,
                    UpdateState::RolledBack,
                    Some(format!(
                        "versie {} startte niet goed op; het scherm is terug op {}",
                        p.offer.version, running.version
                    )),
                ));
                state.finished.push(id);
                return state;
            }
            Some(r) => {
                state.reports.push(report(
                    id,
                    UpdateState::Failed,
                    Some(format!("installeren mislukt: {}", r.message)),
                ));
                state.finished.push(id);
                return state;
            }
            None => {
                p.interrupted += 1;
                if p.interrupted >= MAX_INTERRUPTED {
                    state.reports.push(report(
                        id,
                        UpdateState::Failed,
                        Some(format!(
                            "installeren {} keer onderbroken (stroom uit?)",
                            p.interrupted
                        )),
                    ));
                    state.finished.push(id);
                    return state;
                }
                state.reports.push(report(
                    id,
                    UpdateState::Downloaded,
                    Some("installeren onderbroken; volgende keer opnieuw".into()),
                ));
                p.phase = Phase::Downloaded;
            }
        },
    }
    state.pending = Some(p);
    state
}

/// Settings of the updater.
#[derive(Debug, Clone)]
pub struct UpdaterConfig {
    /// `/data/kring/update`.
    pub dir: PathBuf,
    pub running: Release,
    /// Bytes per range request at most; each one is sized to take about a
    /// second at the rate the link gave the one before.
    pub chunk: u64,
    /// At most this many bytes per second (None: as fast as the link goes).
    pub max_rate: Option<u64>,
    /// How often the updater looks again when nothing happens.
    pub tick: Duration,
}

impl UpdaterConfig {
    pub fn new(dir: PathBuf, running: Release) -> Self {
        Self {
            dir,
            running,
            chunk: 1024 * 1024,
            max_rate: Some(512 * 1024),
            tick: Duration::from_secs(15),
        }
    }
}

/// What the updater needs from the rest of the kiosk.
pub struct UpdaterInputs {
    pub client: ApiClient,
    pub store: Arc<Store>,
    pub clock: Arc<dyn Clock>,
    pub calendar: Calendar,
    /// The offer of the last pull ([`crate::EngineHandle::offer`]).
    pub offer: watch::Receiver<Option<UpdateOffer>>,
    /// True while an installation cannot hurt: the screen is locked and
    /// nothing is being captured or saved.
    pub quiet: watch::Receiver<bool>,
}

impl std::fmt::Debug for UpdaterInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdaterInputs")
            .field("calendar", &self.calendar)
            .finish_non_exhaustive()
    }
}

/// Starts the updater on the current tokio runtime.
pub fn spawn_updater(config: UpdaterConfig, inputs: UpdaterInputs) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut updater = match Updater::start(config, inputs) {
            Ok(u) => u,
            Err(error) => {
                tracing::error!(%error, "the updater cannot start");
                return;
            }
        };
        updater.run().await;
    })
}

struct Updater {
    config: UpdaterConfig,
    inputs: UpdaterInputs,
    state: UpdaterState,
}

impl Updater {
    fn start(config: UpdaterConfig, inputs: UpdaterInputs) -> Result<Self, UpdateError> {
        std::fs::create_dir_all(&config.dir).map_err(io(&config.dir))?;
        let state: UpdaterState = read_json(&config.dir.join(STATE_FILE))?.unwrap_or_default();
        let result: Option<InstallResult> = read_json(&config.dir.join(INSTALL_RESULT))?;
        let good = std::fs::read_to_string(config.dir.join(GOOD_FILE)).ok();
        let before = state.clone();
        let state = resume(state, &config.running, result.as_ref(), good.as_deref());
        let mut u = Self {
            config,
            inputs,
            state,
        };
        if u.state != before {
            tracing::info!(state = ?u.state.pending.as_ref().map(|p| p.phase), "update resumed after start");
            u.save()?;
        }
        u.clean_up();
        Ok(u)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.config.dir.join(name)
    }

    fn save(&self) -> Result<(), UpdateError> {
        write_json(&self.path(STATE_FILE), &self.state)
    }

    fn say(&mut self, state: UpdateState, detail: Option<String>) {
        if let Some(p) = &self.state.pending {
            let r = report(p.offer.release_id, state, detail);
            // Progress replaces progress: only the latest counts.
            if state == UpdateState::Downloading
                && self
                    .state
                    .reports
                    .last()
                    .is_some_and(|l| l.state == state && l.release_id == r.release_id)
            {
                self.state.reports.pop();
            }
            self.state.reports.push(r);
        }
    }

    /// Removes bundles and results no longer needed: only the pending
    /// update's files stay.
    fn clean_up(&mut self) {
        let keep: Vec<String> = self
            .state
            .pending
            .iter()
            .flat_map(|p| [part_name(&p.offer), bundle_name(&p.offer)])
            .collect();
        let installing = self
            .state
            .pending
            .as_ref()
            .is_some_and(|p| matches!(p.phase, Phase::Installing | Phase::Installed));
        let Ok(entries) = std::fs::read_dir(&self.config.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let stale_bundle = name.ends_with(".raucb") || name.ends_with(".raucb.part");
            let stale_result = name == INSTALL_RESULT && !installing;
            if ((stale_bundle && !keep.contains(&name)) || stale_result)
                && let Err(error) = std::fs::remove_file(e.path())
            {
                tracing::warn!(file = %name, %error, "cannot remove an old update file");
            }
        }
    }

    async fn run(&mut self) {
        let mut offer_rx = self.inputs.offer.clone();
        loop {
            if let Err(error) = self.step().await {
                tracing::warn!(%error, "update step failed; trying again later");
            }
            self.flush_reports().await;
            let pause = if matches!(
                self.state.pending.as_ref().map(|p| p.phase),
                Some(Phase::Downloading)
            ) {
                Duration::from_secs(1)
            } else {
                self.config.tick
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                changed = offer_rx.changed() => if changed.is_err() { return },
            }
        }
    }

    async fn flush_reports(&mut self) {
        let mut sent = 0;
        for r in &self.state.reports {
            match self.inputs.client.report_update(r).await {
                Ok(()) => sent += 1,
                // The server will not take it (another organisation's
                // release, a detail too long): never ask again.
                Err(Failure::Status { status, .. }) if (400..500).contains(&status) => {
                    tracing::warn!(status, state = r.state.as_str(), "update report refused");
                    sent += 1;
                }
                Err(_) => break,
            }
        }
        if sent > 0 {
            self.state.reports.drain(..sent);
            if let Err(error) = self.save() {
                tracing::warn!(%error, "cannot save the update state");
            }
        }
    }

    /// One step forward, as far as it goes now.
    async fn step(&mut self) -> Result<(), UpdateError> {
        let offer = self.inputs.offer.borrow().clone();
        // A new offer replaces one not yet handed to the installer.
        let replace = match (&self.state.pending, &offer) {
            (None, Some(o)) => self.wanted(o),
            (Some(p), Some(o)) => {
                p.offer.release_id != o.release_id
                    && matches!(p.phase, Phase::Downloading | Phase::Downloaded)
                    && self.wanted(o)
            }
            _ => false,
        };
        if replace && let Some(o) = offer {
            tracing::info!(version = %o.version, size = o.size, "update offered");
            self.state.pending = Some(Pending {
                offer: o,
                phase: Phase::Downloading,
                from_version: self.config.running.version.clone(),
                interrupted: 0,
            });
            self.say(UpdateState::Downloading, Some("0".into()));
            self.save()?;
            self.clean_up();
        }
        let Some(phase) = self.state.pending.as_ref().map(|p| p.phase) else {
            return Ok(());
        };
        match phase {
            Phase::Downloading => self.download().await,
            Phase::Downloaded => self.maybe_install(),
            Phase::Installing => self.await_result(),
            Phase::Installed => Ok(()),
            Phase::Running => self.await_good(),
        }
    }

    fn wanted(&self, o: &UpdateOffer) -> bool {
        o.version != self.config.running.version && !self.state.finished.contains(&o.release_id)
    }

    /// Photos waiting to go to the server come first on a slow link.
    fn photos_waiting(&self) -> bool {
        self.inputs.store.pending().is_ok_and(|rows| {
            rows.iter()
                .any(|r| r.kind == ItemKind::Photo && r.state == ItemState::Waiting)
        })
    }

    async fn download(&mut self) -> Result<(), UpdateError> {
        let Some(p) = self.state.pending.clone() else {
            return Ok(());
        };
        let part = self.path(&part_name(&p.offer));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&part)
            .map_err(io(&part))?;
        let mut have = file.metadata().map_err(io(&part))?.len();
        if have > p.offer.size {
            drop(file);
            std::fs::remove_file(&part).map_err(io(&part))?;
            return Ok(());
        }
        let mut last_report = have;
        // Requests of about a second on this link (at most `chunk`): a photo
        // saved meanwhile waits for one of them at most.
        let mut chunk = MIN_CHUNK.min(self.config.chunk);
        while have < p.offer.size {
            if self.photos_waiting() {
                tracing::debug!("photos wait: the download pauses");
                return Ok(());
            }
            let to = (have + chunk).min(p.offer.size) - 1;
            let started = std::time::Instant::now();
            let bytes = match self
                .inputs
                .client
                .bundle_range(&p.offer.release_id, have, to)
                .await
            {
                Ok(b) => b,
                Err(Failure::Status { status: 404, .. }) => {
                    tracing::info!("the offer was withdrawn");
                    self.state.pending = None;
                    self.save()?;
                    self.clean_up();
                    return Ok(());
                }
                Err(f) => {
                    tracing::info!(failure = ?f, have, "download paused");
                    return Ok(());
                }
            };
            let took = started.elapsed().as_secs_f64().max(0.001);
            chunk = ((bytes.len() as f64 / took) as u64)
                .clamp(MIN_CHUNK, self.config.chunk.max(MIN_CHUNK));
            file.write_all(&bytes).map_err(io(&part))?;
            file.sync_data().map_err(io(&part))?;
            have += bytes.len() as u64;
            if have - last_report >= p.offer.size / 10 {
                last_report = have;
                self.say(UpdateState::Downloading, Some(have.to_string()));
                self.save()?;
                self.flush_reports().await;
            }
            if let Some(rate) = self.config.max_rate {
                let due = Duration::from_secs_f64(bytes.len() as f64 / rate.max(1) as f64);
                if let Some(rest) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(rest).await;
                }
            }
        }
        drop(file);
        let digest = sha256_file(&part)?;
        if digest != p.offer.sha256.to_ascii_lowercase() {
            std::fs::remove_file(&part).map_err(io(&part))?;
            tracing::warn!(want = %p.offer.sha256, got = %digest, "downloaded bundle does not match");
            self.say(
                UpdateState::Failed,
                Some("de download klopt niet met het controlegetal".into()),
            );
            self.finish()?;
            return Ok(());
        }
        let bundle = self.path(&bundle_name(&p.offer));
        std::fs::rename(&part, &bundle).map_err(io(&bundle))?;
        if let Some(p) = &mut self.state.pending {
            p.phase = Phase::Downloaded;
        }
        tracing::info!(version = %p.offer.version, "update downloaded and checked");
        self.say(UpdateState::Downloaded, None);
        self.save()
    }

    fn finish(&mut self) -> Result<(), UpdateError> {
        if let Some(p) = self.state.pending.take() {
            self.state.finished.push(p.offer.release_id);
        }
        self.save()?;
        self.clean_up();
        Ok(())
    }

    fn maybe_install(&mut self) -> Result<(), UpdateError> {
        let Some(p) = self.state.pending.clone() else {
            return Ok(());
        };
        if !*self.inputs.quiet.borrow() {
            return Ok(());
        }
        let local = self.inputs.calendar.local(self.inputs.clock.now());
        let minute = chrono::Timelike::hour(&local) * 60 + chrono::Timelike::minute(&local);
        if p.offer.window.as_ref().is_some_and(|w| !w.contains(minute)) {
            return Ok(());
        }
        let _ = std::fs::remove_file(self.path(INSTALL_RESULT));
        let request = InstallRequest {
            release_id: p.offer.release_id,
            version: p.offer.version.clone(),
            bundle: bundle_name(&p.offer),
            sha256: p.offer.sha256.clone(),
        };
        // Phase first: a restart between the two finds "installing" and no
        // result, which reads as an interruption and is tried again.
        if let Some(p) = &mut self.state.pending {
            p.phase = Phase::Installing;
        }
        self.say(UpdateState::Installing, None);
        self.save()?;
        write_json(&self.path(INSTALL_REQUEST), &request)?;
        tracing::info!(version = %request.version, "install requested");
        Ok(())
    }

    fn await_result(&mut self) -> Result<(), UpdateError> {
        let Some(id) = self.state.pending.as_ref().map(|p| p.offer.release_id) else {
            return Ok(());
        };
        let result: Option<InstallResult> = read_json(&self.path(INSTALL_RESULT))?;
        match result.filter(|r| r.release_id == id) {
            None => Ok(()),
            Some(r) if r.ok => {
                if let Some(p) = &mut self.state.pending {
                    p.phase = Phase::Installed;
                }
                self.say(UpdateState::Installed, None);
                self.save()
            }
            Some(r) => {
                self.say(
                    UpdateState::Failed,
                    Some(format!("installeren mislukt: {}", r.message)),
                );
                self.finish()
            }
        }
    }

    fn await_good(&mut self) -> Result<(), UpdateError> {
        let good = std::fs::read_to_string(self.path(GOOD_FILE)).ok();
        let state = resume(
            self.state.clone(),
            &self.config.running,
            None,
            good.as_deref(),
        );
        if state != self.state {
            self.state = state;
            self.save()?;
            self.clean_up();
        }
        Ok(())
    }
}

/// SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, UpdateError> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The line of `rauc install`'s output worth reporting: the last one when it
/// worked; when it failed, RAUC's own reason (`LastError: ...`, or a line
/// naming what failed) rather than its closing "Installing ... failed".
fn rauc_says(output: &str, ok: bool) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let last = lines.last().copied().unwrap_or("");
    if ok {
        return last.to_string();
    }
    lines
        .iter()
        .find_map(|l| l.strip_prefix("LastError:").map(str::trim))
        .or_else(|| {
            lines.iter().rev().copied().find(|l| {
                let l = l.to_ascii_lowercase();
                (l.contains("failed:") || l.contains("error:")) && !l.starts_with("installing")
            })
        })
        .unwrap_or(last)
        .to_string()
}

/// The root side (`kring update-install`, run by `kring-update.service`):
/// takes the request out of `dir`, checks the bundle, runs `rauc` and writes
/// the result. Returns the result; the caller restarts the device when it is
/// ok. `rauc` is the command to run (`rauc`; tests pass a script).
pub fn install(dir: &Path, rauc: &Path) -> Result<Option<InstallResult>, UpdateError> {
    let request_path = dir.join(INSTALL_REQUEST);
    let Some(request) = read_json::<InstallRequest>(&request_path)? else {
        return Ok(None);
    };
    // Taken: a power cut from here on must not start it again by itself
    // (the kiosk decides, at the next quiet moment).
    std::fs::remove_file(&request_path).map_err(io(&request_path))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    let result = |ok: bool, message: String| InstallResult {
        release_id: request.release_id,
        ok,
        message,
    };
    let plain_name = !request.bundle.contains('/') && request.bundle.ends_with(".raucb");
    let outcome = if !plain_name {
        result(false, format!("ongeldige bundelnaam {:?}", request.bundle))
    } else {
        let bundle = dir.join(&request.bundle);
        match sha256_file(&bundle) {
            Err(e) => result(false, format!("bundel niet leesbaar: {e}")),
            Ok(d) if d != request.sha256.to_ascii_lowercase() => {
                result(false, "de bundel klopt niet met het controlegetal".into())
            }
            Ok(_) => {
                tracing::info!(version = %request.version, "rauc install starts");
                match std::process::Command::new(rauc)
                    .arg("install")
                    .arg(&bundle)
                    .output()
                {
                    Err(e) => result(false, format!("{} start niet: {e}", rauc.display())),
                    Ok(out) => {
                        let text = format!(
                            "{}{}",
                            String::from_utf8_lossy(&out.stdout),
                            String::from_utf8_lossy(&out.stderr)
                        );
                        tracing::info!(status = ?out.status, output = %text.trim(), "rauc install ended");
                        result(out.status.success(), rauc_says(&text, out.status.success()))
                    }
                }
            }
        }
    };
    write_json(&dir.join(INSTALL_RESULT), &outcome)?;
    Ok(Some(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(version: &str) -> UpdateOffer {
        UpdateOffer {
            release_id: ReleaseId::new(),
            version: version.into(),
            size: 10,
            sha256: "00".repeat(32),
            window: None,
        }
    }

    fn running(version: &str) -> Release {
        Release {
            compatible: "kring-qemu-virt".into(),
            version: version.into(),
        }
    }

    fn pending(o: &UpdateOffer, phase: Phase) -> UpdaterState {
        UpdaterState {
            pending: Some(Pending {
                offer: o.clone(),
                phase,
                from_version: "1.0.0".into(),
                interrupted: 0,
            }),
            ..Default::default()
        }
    }

    fn states(s: &UpdaterState) -> Vec<UpdateState> {
        s.reports.iter().map(|r| r.state).collect()
    }

    #[test]
    fn release_file() {
        let r = Release::parse("kring-qemu-virt 2.0.0\n").expect("parse");
        assert_eq!(r.header(), "kring-qemu-virt 2.0.0");
        assert_eq!(Release::parse("kring-qemu-virt"), None);
        assert_eq!(Release::parse("a b c"), None);
    }

    #[test]
    fn the_new_release_says_it_runs_then_good() {
        let o = offer("2.0.0");
        let s = resume(
            pending(&o, Phase::Installing),
            &running("2.0.0"),
            None,
            None,
        );
        assert_eq!(
            states(&s),
            [UpdateState::Installed, UpdateState::Running],
            "the old release had no time to say installed"
        );
        assert_eq!(s.pending.as_ref().map(|p| p.phase), Some(Phase::Running));
        let s = resume(s, &running("2.0.0"), None, Some("B 2.0.0\n"));
        assert_eq!(
            states(&s),
            [
                UpdateState::Installed,
                UpdateState::Running,
                UpdateState::Good
            ]
        );
        assert!(s.pending.is_none());
        assert_eq!(s.finished, vec![o.release_id]);
        // The good mark of an older slot does not count.
        let s = resume(
            pending(&o, Phase::Installed),
            &running("2.0.0"),
            None,
            Some("A 1.0.0"),
        );
        assert_eq!(states(&s), [UpdateState::Running]);
    }

    #[test]
    fn back_on_the_old_release_after_a_good_install_is_a_rollback() {
        let o = offer("3.0.0");
        let ok = InstallResult {
            release_id: o.release_id,
            ok: true,
            message: "Installing done.".into(),
        };
        let s = resume(
            pending(&o, Phase::Installed),
            &running("2.0.0"),
            Some(&ok),
            Some("B 2.0.0"),
        );
        assert_eq!(states(&s), [UpdateState::RolledBack]);
        let detail = s.reports[0].detail.clone().unwrap_or_default();
        assert!(
            detail.contains("3.0.0") && detail.contains("2.0.0"),
            "{detail}"
        );
        assert!(s.pending.is_none() && s.finished == vec![o.release_id]);
        // The new release ran, was never marked good, and the counter won.
        let s = resume(pending(&o, Phase::Running), &running("2.0.0"), None, None);
        assert_eq!(states(&s), [UpdateState::RolledBack]);
    }

    #[test]
    fn a_refused_bundle_fails_and_an_interrupted_install_is_tried_again() {
        let o = offer("3.0.0");
        let refused = InstallResult {
            release_id: o.release_id,
            ok: false,
            message: "signature verification failed".into(),
        };
        let s = resume(
            pending(&o, Phase::Installing),
            &running("2.0.0"),
            Some(&refused),
            None,
        );
        assert_eq!(states(&s), [UpdateState::Failed]);
        assert!(
            s.reports[0]
                .detail
                .as_deref()
                .is_some_and(|d| d.contains("signature"))
        );
        // The plug was pulled while installing: no result, try again...
        let mut s = resume(
            pending(&o, Phase::Installing),
            &running("2.0.0"),
            None,
            None,
        );
        assert_eq!(s.pending.as_ref().map(|p| p.phase), Some(Phase::Downloaded));
        assert_eq!(states(&s), [UpdateState::Downloaded]);
        // ...but not forever.
        for _ in 0..MAX_INTERRUPTED {
            if let Some(p) = &mut s.pending {
                p.phase = Phase::Installing;
            }
            s = resume(s, &running("2.0.0"), None, None);
        }
        assert!(s.pending.is_none());
        assert_eq!(s.reports.last().map(|r| r.state), Some(UpdateState::Failed));
        // A result of another release is not this one's.
        let other = InstallResult {
            release_id: ReleaseId::new(),
            ok: true,
            message: String::new(),
        };
        let s = resume(
            pending(&o, Phase::Installing),
            &running("2.0.0"),
            Some(&other),
            None,
        );
        assert_eq!(s.pending.as_ref().map(|p| p.phase), Some(Phase::Downloaded));
    }

    #[test]
    fn rauc_output_gives_its_reason() {
        let refused = "installing\n  0% Installing\n 20% Checking bundle\nLastError: Failed to check bundle: signature verification failed: Verify error: unable to get local issuer certificate\nInstalling `/data/kring/update/x.raucb` failed\n";
        assert!(
            rauc_says(refused, false)
                .starts_with("Failed to check bundle: signature verification failed")
        );
        let other = "rauc-Message: x\nrauc-ERROR **: 12:00: Failed to install: error: no space left\nInstalling `a` failed\n";
        assert!(rauc_says(other, false).contains("no space left"));
        assert_eq!(
            rauc_says("100% Installing done.\nInstalling `a` succeeded\n", true),
            "Installing `a` succeeded"
        );
        assert_eq!(rauc_says("", false), "");
    }

    #[test]
    fn the_installer_checks_the_bundle_and_runs_rauc() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let bundle = b"not really a bundle, but bytes with a digest";
        std::fs::write(d.join("abc.raucb"), bundle).expect("bundle");
        let digest = hex::encode(Sha256::digest(bundle));
        let rauc = d.join("fake-rauc");
        std::fs::write(
            &rauc,
            "#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/rauc-args\"\necho 'Installing `'\"$2\"'` succeeded'\n",
        )
        .expect("script");
        std::fs::set_permissions(&rauc, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        assert_eq!(install(d, &rauc).expect("nothing asked"), None);
        let id = ReleaseId::new();
        let ask = |sha: &str, name: &str| {
            write_json(
                &d.join(INSTALL_REQUEST),
                &InstallRequest {
                    release_id: id,
                    version: "2.0.0".into(),
                    bundle: name.into(),
                    sha256: sha.into(),
                },
            )
            .expect("request")
        };
        ask(&digest, "abc.raucb");
        let r = install(d, &rauc).expect("install").expect("result");
        assert!(r.ok, "{r:?}");
        assert!(r.message.contains("succeeded"), "{}", r.message);
        assert!(!d.join(INSTALL_REQUEST).exists(), "taken");
        let args = std::fs::read_to_string(d.join("rauc-args")).expect("args");
        assert!(args.starts_with("install ") && args.trim_end().ends_with("abc.raucb"));
        let stored: InstallResult = read_json(&d.join(INSTALL_RESULT))
            .expect("read")
            .expect("result file");
        assert_eq!(stored, r);

        ask(&"11".repeat(32), "abc.raucb");
        let r = install(d, &rauc).expect("install").expect("result");
        assert!(!r.ok && r.message.contains("controlegetal"), "{r:?}");
        ask(&digest, "../etc/passwd.raucb");
        let r = install(d, &rauc).expect("install").expect("result");
        assert!(!r.ok && r.message.contains("bundelnaam"), "{r:?}");
    }
}

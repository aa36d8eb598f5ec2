//! kring-server: the central server. Device API (JSON over HTTP), resumable
//! photo uploads (tus 1.0), the embedded MQTT doorbell, the parent portal and
//! location admin (server-rendered HTML, `web`), admin commands and the demo
//! organisation.
//!
//! Start it with [`start`] on a bound listener (tests bind port 0).

pub mod blob;
pub mod demo;
pub mod device_api;
pub(crate) mod error;
pub mod org;
pub mod photo;
pub mod portal;
pub(crate) mod ratelimit;
pub mod releases;
pub mod settings;
pub mod store;

/// The SQLite connection of the [`store::SqlStore`] backend, for the admin
/// CLI and for tests and tools that inspect rows (`kring_server::db::Db`).
pub use store::sql::conn as db;

use crate::blob::{BlobStore, LocalBlobStore};
use crate::db::Db;
use crate::ratelimit::RateLimiter;
use crate::settings::Settings;
use crate::store::{Store, StoreError};
use axum::Router;
use kring_broker::{Broker, BrokerConfig, BrokerError, DeviceAuth, ExternalAuth, ExternalConfig};
use kring_protocol::{DeviceId, GroupId, mqtt::Nudge};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Shared state of the running server. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// All reads and writes of the server's data.
    pub store: Arc<dyn Store>,
    /// The database under `store`, for tests that inspect rows
    /// (`store::testing::TestSql`); server code uses `store`.
    pub backend: store::Backend,
    pub blobs: Arc<dyn BlobStore>,
    pub settings: Arc<Settings>,
    pub data_dir: PathBuf,
    pub broker: Option<Broker>,
    pub broker_addr: Option<SocketAddr>,
    pub enroll_limiter: Arc<RateLimiter>,
    /// Enrollment while wrong codes come from many addresses at once.
    pub enroll_slowdown: Arc<ratelimit::Slowdown>,
    pub upload_locks: Arc<device_api::tus::UploadLocks>,
    /// Bounds how many photos are decoded at once (a 40 MP photo needs ~0.5 GB).
    pub photo_work: Arc<tokio::sync::Semaphore>,
    /// Outgoing e-mail (SMTP, or a folder of `.eml` files).
    pub mailer: portal::mail::Mailer,
    /// The keys devices seal their photos and items to (current first).
    pub seal: Arc<kring_protocol::SealKeys>,
    /// Failed portal logins per client address.
    pub login_limiter: Arc<RateLimiter>,
    /// Failed portal logins and reset requests per account (organisation + e-mail).
    pub account_limiter: Arc<RateLimiter<String>>,
}

impl AppState {
    /// Rings the doorbell of every active device of `group` (QoS 1, in the background).
    pub fn nudge_group(&self, group: GroupId, seq: i64) {
        let Some(broker) = self.broker.clone() else {
            return;
        };
        let store = self.store.clone();
        tokio::spawn(async move {
            let devices = match store.active_devices_of_group(group).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, group = %group, "could not list devices to nudge");
                    return;
                }
            };
            for device in devices {
                if let Err(e) = broker.publish_nudge(&device, Nudge { seq }).await {
                    tracing::warn!(error = %e, device = %device, "nudge failed (the periodic pull covers it)");
                }
            }
        });
    }

    /// Rings the doorbell of each device (QoS 1, in the background): a
    /// rollout covers them, or one of them may try a release again.
    pub fn nudge_devices(&self, devices: Vec<store::DeviceNudge>) {
        let Some(broker) = self.broker.clone() else {
            return;
        };
        if devices.is_empty() {
            return;
        }
        tokio::spawn(async move {
            for n in devices {
                if let Err(e) = broker.publish_nudge(&n.device, Nudge { seq: n.seq }).await {
                    tracing::warn!(error = %e, device = %n.device, "nudge failed (the periodic pull covers it)");
                }
            }
        });
    }

    /// Nudges every group in `changed` (as returned by the `org` writes).
    pub fn nudge_changed(&self, changed: &[org::GroupChange]) {
        for c in changed {
            self.nudge_group(c.group, c.seq);
        }
    }

    /// Revokes a device: 401 from now on, and its MQTT session is closed.
    pub async fn revoke_device(&self, device: DeviceId) -> Result<bool, StoreError> {
        let done = self.store.revoke_device(device, chrono::Utc::now()).await?;
        if let Some(broker) = &self.broker {
            broker.kick(&device).await;
        }
        Ok(done)
    }
}

/// The broker asks the store about device logins and reports presence. The
/// broker calls both methods on the blocking pool, so they wait for the store
/// there.
#[derive(Debug, Clone)]
struct StoreDeviceAuth {
    store: Arc<dyn Store>,
    runtime: tokio::runtime::Handle,
}

impl DeviceAuth for StoreDeviceAuth {
    fn authenticate(&self, device: &DeviceId, secret: &str) -> bool {
        match self
            .runtime
            .block_on(self.store.check_mqtt_password(*device, secret.to_string()))
        {
            Ok(ok) => ok,
            Err(e) => {
                tracing::error!(error = %e, "device check failed; refusing the login");
                false
            }
        }
    }

    fn presence_changed(&self, device: &DeviceId, online: bool) {
        if let Err(e) = self.runtime.block_on(self.store.set_device_online(
            *device,
            online,
            chrono::Utc::now(),
        )) {
            tracing::warn!(error = %e, device = %device, "could not record presence");
        }
    }
}

/// Chooses rustls's crypto provider for the process (ring), once: the
/// dependencies enable two (ring, aws-lc-rs), and then rustls refuses to
/// guess when a TLS listener or client is built (MQTT over TLS).
pub fn install_crypto_provider() {
    // Err: one was installed already (another server in this process)
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The embedded broker's listeners from the settings: plain MQTT unless
/// `mqtt.plain = false`, TLS when `mqtt.tls_listen` is set (with its
/// certificate and key).
fn embedded_broker_config(m: &settings::MqttSettings) -> Result<BrokerConfig, ServerError> {
    let tls = match (&m.tls_listen, &m.tls_cert_file, &m.tls_key_file) {
        (None, _, _) => None,
        (Some(listen), Some(cert), Some(key)) => Some(kring_broker::TlsListener {
            listen: *listen,
            cert_file: cert.clone(),
            key_file: key.clone(),
        }),
        (Some(_), _, _) => {
            return Err(ServerError::Config(
                "mqtt.tls_listen needs mqtt.tls_cert_file and mqtt.tls_key_file".into(),
            ));
        }
    };
    if !m.plain && tls.is_none() {
        return Err(ServerError::Config(
            "mqtt.plain = false needs a TLS listener (mqtt.tls_listen)".into(),
        ));
    }
    Ok(BrokerConfig {
        listen: m.plain.then_some(m.listen),
        tls,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("MQTT broker: {0}")]
    Broker(#[from] BrokerError),
    #[error("cannot use the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP listener: {0}")]
    Listener(#[source] std::io::Error),
    #[error("e-mail: {0}")]
    Mail(#[from] portal::mail::MailError),
    #[error("photo storage: {0}")]
    Blobs(#[from] blob::BlobError),
    #[error("settings: {0}")]
    Config(String),
    #[error("the seal keys in the database: {0}")]
    Seal(#[from] kring_protocol::SealError),
}

/// A running server. Dropping it does not stop it; call [`Server::shutdown`].
#[derive(Debug)]
pub struct Server {
    pub http_addr: SocketAddr,
    pub mqtt_addr: Option<SocketAddr>,
    pub state: AppState,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Stops accepting, finishes requests in flight, stops the broker.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        let _ = self.task.await;
        if let Some(b) = &self.state.broker {
            b.shutdown().await;
        }
    }
}

/// The photo store the settings name: files in the data directory by default.
pub fn open_blobs(settings: &Settings) -> Result<Arc<dyn BlobStore>, ServerError> {
    Ok(match &settings.blobs.s3 {
        Some(s3) => Arc::new(blob::S3BlobStore::new(s3)?),
        None => Arc::new(LocalBlobStore::new(settings.data_dir.clone())),
    })
}

/// Creates the data directory (photos, unfinished uploads, mails) if needed.
fn create_data_dir(settings: &Settings) -> Result<(), ServerError> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|source| ServerError::DataDir {
        path: settings.data_dir.clone(),
        source,
    })
}

/// Opens the data directory and the SQLite database in it (creating them if
/// needed), for tools that drive SQLite directly (the sync tests, the soak
/// run, the benches). The server itself opens what the settings name:
/// [`open_store`].
pub fn open_data(settings: &Settings) -> Result<Db, ServerError> {
    create_data_dir(settings)?;
    Ok(Db::open(&settings.db_path()).map_err(StoreError::from)?)
}

/// Opens the data directory and the store the settings name (SQLite in the
/// data directory by default).
pub async fn open_store(settings: &Settings) -> Result<store::Opened, ServerError> {
    create_data_dir(settings)?;
    Ok(store::open(settings).await?)
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .nest("/api/v1", device_api::router(state.clone()))
        .route(
            "/internal/mqtt/auth",
            axum::routing::post(device_api::mqtt_hooks::auth),
        )
        .route(
            "/internal/mqtt/acl",
            axum::routing::post(device_api::mqtt_hooks::acl),
        )
        .merge(portal::web::router(&state))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Starts the server on `listener`, with the embedded broker on
/// `settings.mqtt.listen` (or the external broker when configured).
pub async fn start(settings: Settings, listener: TcpListener) -> Result<Server, ServerError> {
    install_crypto_provider();
    let store::Opened { store, backend } = open_store(&settings).await?;
    let data_dir = settings.data_dir.clone();
    let device_auth = Arc::new(StoreDeviceAuth {
        store: store.clone(),
        runtime: tokio::runtime::Handle::current(),
    });
    let broker = match &settings.mqtt.external_url {
        Some(url) => Some(
            Broker::connect_external(
                ExternalConfig {
                    url: url.clone(),
                    // one session per process: a shared client id would
                    // make two processes take each other's session over
                    client_id: format!("kring-server-{}", uuid::Uuid::now_v7().simple()),
                    username: settings.mqtt.external_username.clone(),
                    password: settings.mqtt.external_password.clone(),
                    auth: match settings.mqtt.external_auth {
                        settings::ExternalAuthMode::HttpHooks => ExternalAuth::HttpHooks,
                        settings::ExternalAuthMode::MosquittoDynsec => {
                            ExternalAuth::MosquittoDynsec
                        }
                    },
                },
                device_auth,
            )
            .await?,
        ),
        None => Some(
            Broker::start_embedded(embedded_broker_config(&settings.mqtt)?, device_auth).await?,
        ),
    };
    // the address devices are told: TLS when there is a TLS listener
    let broker_addr = broker
        .as_ref()
        .and_then(|b| b.tls_addr().or_else(|| b.local_addr()));
    let mailer = portal::mail::Mailer::from_settings(&settings)?;
    let seal = kring_protocol::SealKeys::parse(
        &store
            .seal_keys(kring_protocol::SealKeys::generate(), chrono::Utc::now())
            .await?,
    )?;
    let state = AppState {
        mailer,
        seal: Arc::new(seal),
        // an address may hold a few households (one NAT): three accounts' worth
        login_limiter: Arc::new(RateLimiter::per_key(
            settings.portal.login_failures_per_window.saturating_mul(3),
            Duration::from_secs(15 * 60),
        )),
        account_limiter: Arc::new(RateLimiter::per_key(
            settings.portal.login_failures_per_window,
            Duration::from_secs(15 * 60),
        )),
        store,
        backend,
        blobs: open_blobs(&settings)?,
        // per client address (IPv6 per /64, behind a trusted proxy the
        // forwarded one); many addresses together slow enrollment down
        enroll_limiter: Arc::new(RateLimiter::per_key(
            settings.limits.enroll_failures_per_window,
            Duration::from_secs(15 * 60),
        )),
        enroll_slowdown: Arc::new(ratelimit::Slowdown::new(
            settings
                .limits
                .enroll_failures_per_window
                .saturating_mul(20),
            Duration::from_secs(15 * 60),
            Duration::from_secs(1),
            Duration::from_secs(30),
        )),
        settings: Arc::new(settings),
        data_dir,
        broker,
        broker_addr,
        upload_locks: Arc::new(device_api::tus::UploadLocks::default()),
        photo_work: Arc::new(tokio::sync::Semaphore::new(2)),
    };
    let http_addr = listener.local_addr().map_err(ServerError::Listener)?;
    let cancel = CancellationToken::new();
    spawn_housekeeping(state.clone(), cancel.clone());
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let stop = cancel.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
        {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    tracing::info!(http = %http_addr, mqtt = ?broker_addr, "kring-server listening");
    Ok(Server {
        http_addr,
        mqtt_addr: broker_addr,
        state,
        cancel,
        task,
    })
}

/// How often housekeeping looks for work.
const HOUSEKEEPING_PERIOD: Duration = Duration::from_secs(20);

/// Retention, once a day across every process: tells the screens about ended
/// placements, mails each parent of a child whose care ended once (until when
/// its photos and diary are kept), deletes the data of children who left more
/// than the organisation's period ago, then their photos' files. Logs counts,
/// never names. `now` is the clock of the run (tests travel in time with it).
pub async fn retention_run(state: &AppState, now: chrono::DateTime<chrono::Utc>) {
    let today = kring_protocol::Calendar::default().today(now);
    // the screens of groups a child left forget it (and its absences)
    match state.store.announce_ended_placements(today, now).await {
        Ok(changed) if changed.is_empty() => {}
        Ok(changed) => {
            tracing::info!(
                placements = changed.len(),
                "ended placements announced to the screens"
            );
            state.nudge_changed(&changed);
        }
        Err(e) => tracing::warn!(error = %e, "announcing ended placements failed"),
    }
    // parents of a child whose care ended: one mail each, until when its
    // photos and diary are kept
    match state.store.leaving_notices(today, now).await {
        Ok(notices) if notices.is_empty() => {}
        Ok(notices) => {
            tracing::info!(
                mails = notices.len(),
                "parents told until when their child's photos and diary are kept"
            );
            for n in &notices {
                // in the parent's own language
                let lang = state
                    .store
                    .account_language(portal::UserKind::Parent, n.parent.0)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                let t = portal::i18n::Tr::new(lang);
                let mail = portal::i18n::scope_sync(t, || {
                    portal::archive::leaving_mail(&state.settings, n)
                });
                state.mailer.send_later(mail);
            }
        }
        Err(e) => tracing::warn!(error = %e, "the leaving notices failed"),
    }
    match state.store.expire_child_data(today, now).await {
        Ok(expired) => {
            let files = expired.blob_keys.len();
            let blobs = state.blobs.clone();
            let keys = expired.blob_keys.clone();
            let failed = tokio::task::spawn_blocking(move || {
                keys.iter().filter(|k| blobs.delete(k).is_err()).count()
            })
            .await
            .unwrap_or(files);
            if expired != store::ChildDataExpired::default() {
                tracing::info!(
                    children = expired.children,
                    photos = expired.photos,
                    diary_entries = expired.diary_entries,
                    messages = expired.messages,
                    absences = expired.absences,
                    files,
                    files_not_deleted = failed,
                    "retention: expired children's data deleted"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "retention run failed"),
    }
    // portal_access_months after the last placement: the child and its
    // parents' accounts, with everything of theirs
    match state.store.expire_accounts(today, now).await {
        Ok(erased) => {
            if !erased.is_empty() {
                let failed = delete_erased_files(state, &erased).await;
                state.nudge_changed(&erased.changed);
                tracing::info!(
                    children = erased.children,
                    parents = erased.parents,
                    photos = erased.photos,
                    diary_entries = erased.diary_entries,
                    messages = erased.messages,
                    attendance = erased.attendance,
                    documents = erased.documents,
                    files_not_deleted = failed,
                    "retention: children and accounts past the portal period deleted"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "retention of accounts failed"),
    }
    // mails written as files (no SMTP server): 30 days
    if state.settings.mail.smtp_url.is_none() {
        let folder = state.settings.mail_folder();
        let cutoff = now - chrono::Duration::days(MAIL_FILE_DAYS);
        match tokio::task::spawn_blocking(move || remove_old_files(&folder, cutoff)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(removed = n, "retention: old mail files deleted"),
            Ok(Err(e)) => tracing::warn!(error = %e, "retention of mail files failed"),
            Err(e) => tracing::warn!(error = %e, "retention of mail files failed"),
        }
    }
}

/// How long mails written as files are kept.
pub const MAIL_FILE_DAYS: i64 = 30;

/// Deletes the files in `folder` last changed before `cutoff`; returns how many.
fn remove_old_files(
    folder: &std::path::Path,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> std::io::Result<usize> {
    let mut n = 0;
    let entries = match std::fs::read_dir(folder) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        if !meta.is_file() {
            continue;
        }
        let changed: chrono::DateTime<chrono::Utc> = meta.modified()?.into();
        if changed < cutoff {
            std::fs::remove_file(entry.path())?;
            n += 1;
        }
    }
    Ok(n)
}

/// Deletes the photo files and archive files of an erasure; returns how
/// many could not be deleted (logged).
pub(crate) async fn delete_erased_files(state: &AppState, erased: &store::Erased) -> usize {
    let blobs = state.blobs.clone();
    let keys = erased.blob_keys.clone();
    let mut failed = tokio::task::spawn_blocking(move || {
        keys.iter().filter(|k| blobs.delete(k).is_err()).count()
    })
    .await
    .unwrap_or(erased.blob_keys.len());
    for f in &erased.archive_files {
        match tokio::fs::remove_file(state.data_dir.join(f)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not delete an archive file");
                failed += 1;
            }
        }
    }
    failed
}

/// True when this process runs the periodic job `name` now (no other process
/// on the same database ran it within the period).
async fn claim(state: &AppState, name: &str) -> bool {
    let every = chrono::Duration::from_std(HOUSEKEEPING_PERIOD).unwrap_or(chrono::Duration::MAX);
    claim_every(state, name, every).await
}

/// [`claim`] for a job that runs once a day.
async fn claim_daily(state: &AppState, name: &str) -> bool {
    claim_every(state, name, chrono::Duration::days(1)).await
}

/// True when this process runs job `name` now (once per `every` across every
/// process on the database).
async fn claim_every(state: &AppState, name: &str, every: chrono::Duration) -> bool {
    match state
        .store
        .claim_job(name.to_string(), chrono::Utc::now(), every)
        .await
    {
        Ok(claimed) => claimed,
        Err(e) => {
            tracing::warn!(error = %e, job = name, "could not claim a periodic job");
            false
        }
    }
}

/// Periodic work: expire unfinished uploads and portal sessions (once across the server
/// processes sharing a database); close MQTT sessions of devices revoked by another process
/// (the admin CLI) within a minute; nudge the devices of rollouts made by the admin CLI
/// (which has no broker; each rollout is claimed by one process).
fn spawn_housekeeping(state: AppState, cancel: CancellationToken) {
    // parents' archives: every process builds what waits (each request is
    // claimed by one), also those a process that died left
    let builder = state.clone();
    let stop = cancel.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HOUSEKEEPING_PERIOD);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            portal::archive::build_waiting(&builder).await;
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HOUSEKEEPING_PERIOD);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            // the sweeps run once per period across every process on the database
            if claim(&state, "sweep-sessions").await {
                let times = portal::web::session_times(&state);
                match state.store.sweep_sessions(chrono::Utc::now(), times).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "expired portal sessions removed"),
                    Err(e) => tracing::warn!(error = %e, "session sweep failed"),
                }
            }
            if claim_daily(&state, "expire-child-data").await {
                retention_run(&state, chrono::Utc::now()).await;
            }
            if claim(&state, "sweep-archives").await {
                match portal::archive::sweep(&state).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "archive files removed"),
                    Err(e) => tracing::warn!(error = %e, "archive sweep failed"),
                }
            }
            if claim(&state, "sweep-uploads").await {
                match device_api::tus::sweep_expired(&state).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "expired uploads removed"),
                    Err(e) => tracing::warn!(error = %e, "upload sweep failed"),
                }
            }
            if state.broker.is_some() {
                match state.store.pending_rollout_nudges(chrono::Utc::now()).await {
                    Ok(devices) if devices.is_empty() => {}
                    Ok(devices) => {
                        tracing::info!(
                            devices = devices.len(),
                            "nudging the devices of a new rollout"
                        );
                        state.nudge_devices(devices);
                    }
                    Err(e) => tracing::warn!(error = %e, "rollout nudge sweep failed"),
                }
            }
            if let Some(broker) = &state.broker {
                match state.store.revoked_devices().await {
                    Ok(ids) => {
                        for id in ids {
                            broker.kick(&id).await;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "revocation sweep failed"),
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_files_older_than_the_cutoff_are_removed() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let old = dir.path().join("old.eml");
        let new = dir.path().join("new.eml");
        std::fs::write(&old, "oud")?;
        std::fs::write(&new, "nieuw")?;
        let month_ago = std::time::SystemTime::now() - Duration::from_secs(31 * 24 * 3600);
        std::fs::File::options()
            .write(true)
            .open(&old)?
            .set_modified(month_ago)?;
        let cutoff = chrono::Utc::now() - chrono::Duration::days(MAIL_FILE_DAYS);
        assert_eq!(remove_old_files(dir.path(), cutoff)?, 1);
        assert!(!old.exists() && new.exists());
        assert_eq!(remove_old_files(dir.path(), cutoff)?, 0, "idempotent");
        assert_eq!(
            remove_old_files(&dir.path().join("missing"), cutoff)?,
            0,
            "no mail folder: nothing to do"
        );
        Ok(())
    }
}

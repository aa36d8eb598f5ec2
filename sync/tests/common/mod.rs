//! Harness for the sync engine's tests: a real kring-server on loopback (in
//! this process, port 0, with its embedded broker), a fault-injecting proxy in
//! front of its HTTP port, and a device store + engine enrolled through it.
#![allow(dead_code, clippy::unwrap_used)]

pub mod proxy;

use chrono::{Duration as CDuration, Utc};
use kring_protocol::{ChildId, GroupId, OrganisationId, StaffId};
use kring_server::Server;
use kring_server::org;
use kring_server::settings::Settings;
use kring_sync::client::ApiClient;
use kring_sync::{Clock, EngineConfig, EngineHandle, Store, SyncStatus};
use proxy::Proxy;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct World {
    pub server: Server,
    pub server_dir: tempfile::TempDir,
    pub proxy: Proxy,
    pub org: OrganisationId,
    pub group: GroupId,
    /// [group, own_parents, none, group] consent
    pub kids: Vec<ChildId>,
    pub other_kid: ChildId,
    pub staff: StaffId,
}

pub struct Device {
    pub dir: tempfile::TempDir,
    /// The proxy's address, which the device talks to.
    pub url: String,
    pub store: Arc<Store>,
    pub handle: EngineHandle,
    pub task: tokio::task::JoinHandle<()>,
}

/// A device's updater (`kring_sync::update`), running.
pub struct Updater {
    /// Its directory (`<store>/update`).
    pub dir: std::path::PathBuf,
    /// The kiosk's "an installation cannot hurt now" (false at the start).
    pub quiet: tokio::sync::watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Device {
    /// Starts the updater of an appliance running `version` of
    /// `kring-qemu-virt`, with `configure` applied to its settings.
    pub fn start_updater(
        &self,
        version: &str,
        configure: impl FnOnce(&mut kring_sync::update::UpdaterConfig),
    ) -> Updater {
        use kring_sync::update::{Release, UpdaterConfig, UpdaterInputs, spawn_updater};
        let secret = self.store.device().unwrap().unwrap().secret;
        let release = Release {
            compatible: "kring-qemu-virt".into(),
            version: version.into(),
        };
        let client = ApiClient::with_options(&self.url, Some(secret), false)
            .unwrap()
            .with_release(release.header());
        let dir = self.dir.path().join("update");
        let mut config = UpdaterConfig::new(dir.clone(), release);
        configure(&mut config);
        let (quiet, rx) = tokio::sync::watch::channel(false);
        let task = spawn_updater(
            config,
            UpdaterInputs {
                client,
                store: self.store.clone(),
                clock: Arc::new(kring_sync::SystemClock),
                calendar: kring_protocol::Calendar::default(),
                offer: self.handle.offer(),
                quiet: rx,
            },
        );
        Updater { dir, quiet, task }
    }
}

impl World {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        let server_dir = tempfile::tempdir().unwrap();
        let mut settings = Settings {
            data_dir: server_dir.path().to_path_buf(),
            ..Settings::default()
        };
        settings.mqtt.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        tweak(&mut settings);
        let opened = kring_server::open_store(&settings).await.unwrap();
        let sample = org::sample(opened.store.as_ref(), Utc::now().date_naive())
            .await
            .unwrap();
        let (org_id, group, kids, other_kid, staff) = (
            sample.org,
            sample.group,
            sample.kids,
            sample.other_kid,
            sample.staff,
        );
        drop(opened);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = kring_server::start(settings, listener).await.unwrap();
        let proxy = Proxy::start(server.http_addr).await;
        Self {
            server,
            server_dir,
            proxy,
            org: org_id,
            group,
            kids,
            other_kid,
            staff,
        }
    }

    /// Enrolls a new device store through the proxy (not yet running an engine).
    pub async fn enroll_store(&self) -> (tempfile::TempDir, Arc<Store>) {
        let code = self
            .server
            .state
            .backend
            .call_sync(|c| {
                kring_server::device_api::devices::create_code(
                    c,
                    &self.group,
                    Utc::now(),
                    CDuration::minutes(15),
                )
            })
            .unwrap()
            .code;
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path()).unwrap();
        let client = ApiClient::new(&self.proxy.url(), None).unwrap();
        let resp = client.enroll(&code, "Testscherm", "0.1.0").await.unwrap();
        store
            .save_enrollment(&self.proxy.url(), &resp, Utc::now())
            .unwrap();
        (dir, Arc::new(store))
    }

    /// Enrolls a device and starts its engine.
    pub async fn device(&self, clock: Arc<dyn Clock>, config: EngineConfig) -> Device {
        let (dir, store) = self.enroll_store().await;
        let (handle, task) = kring_sync::spawn(store.clone(), clock, config);
        Device {
            dir,
            url: self.proxy.url(),
            store,
            handle,
            task,
        }
    }

    /// `bundle` as a release of the test organisation, rolled out to
    /// its group, to install at any time.
    pub async fn release_for_group(
        &self,
        bundle: &std::path::Path,
    ) -> (kring_protocol::ReleaseId, String) {
        let stored =
            kring_server::releases::import_file(&self.server.state.data_dir, bundle).unwrap();
        let store = self.server.state.store.clone();
        let added = store
            .create_release(kring_server::store::NewRelease {
                id: stored.id,
                org: self.org,
                version: stored.manifest.version.clone(),
                compatible: stored.manifest.compatible.clone(),
                sha256: stored.sha256.clone(),
                size: stored.size,
                file_name: stored.file_name.clone(),
                uploaded_at: Utc::now(),
                uploaded_by: None,
            })
            .await
            .unwrap();
        store
            .create_rollout(
                self.org,
                kring_server::store::NewRollout {
                    release: added.id,
                    scope: kring_server::store::RolloutScope::Group(self.group),
                    window: None,
                    created_at: Utc::now(),
                    created_by: None,
                    nudged: true,
                },
            )
            .await
            .unwrap();
        (added.id, stored.sha256)
    }

    pub fn count(&self, sql: &str) -> i64 {
        let sql = sql.to_string();
        self.server
            .state
            .backend
            .call_sync(move |c| c.query_row(&sql, (), |r| r.get(0)))
            .unwrap()
    }

    pub fn strings(&self, sql: &str) -> Vec<String> {
        let sql = sql.to_string();
        self.server
            .state
            .backend
            .call_sync(move |c| {
                let mut st = c.prepare(&sql)?;
                let rows = st
                    .query_map((), |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok::<_, kring_server::db::DbError>(rows)
            })
            .unwrap()
    }
}

/// Engine settings for tests: fresh connections (so faults hit one request),
/// quick back-off, no doorbell unless asked.
pub fn test_config() -> EngineConfig {
    EngineConfig {
        pull_interval: Duration::from_secs(3600),
        backoff: kring_sync::decide::Backoff {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(400),
        },
        chunk_size: 64 * 1024,
        mqtt: false,
        reuse_connections: false,
        ..EngineConfig::default()
    }
}

/// Waits until the engine's status satisfies `f` (bounded).
pub async fn wait_status(
    handle: &EngineHandle,
    secs: u64,
    f: impl Fn(&SyncStatus) -> bool,
) -> SyncStatus {
    let mut rx = handle.status();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        {
            let s = rx.borrow_and_update();
            if f(&s) {
                return s.clone();
            }
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            _ => panic!("status never matched; last: {:?}", *rx.borrow()),
        }
    }
}

/// Waits until `f` holds, polling (bounded).
pub async fn wait_for(secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A camera-like JPEG of `w` x `h` with noise, so it has a realistic size.
pub fn jpeg(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    let img = image::RgbImage::from_fn(w, h, |i, j| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let n = (x & 0x3f) as u8;
        image::Rgb([(i % 200) as u8 + n / 2, (j % 200) as u8 + n / 3, n])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

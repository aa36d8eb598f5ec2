//! The sync engine: one long-lived task that drains the outbox oldest first
//! and keeps the group's data fresh.
//!
//! It pulls on start, on a timer, after pushes and when the MQTT doorbell
//! rings; it never blocks a caller (saving goes straight to the store, then
//! [`EngineHandle::wake`]). Failures are classified by [`crate::decide`]:
//! network/5xx/429 back off, 401 wipes the device, other 4xx mark the item as
//! needing attention while the rest flows.

use crate::client::ApiClient;
use crate::clock::Clock;
use crate::crash::crash_point;
use crate::decide::{self, Backoff, Failure, Next, Verdict};
use crate::store::{DeviceCredentials, ItemKind, ItemState, Store, StoreError};
use chrono::{DateTime, Utc};
use kring_protocol::{ErrorCode, PushItem, PushReceipt, UpdateOffer, mqtt};
use rand::Rng;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Tunables of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Pull the feed at least this often.
    pub pull_interval: Duration,
    pub backoff: Backoff,
    /// Photo upload chunk size: a cut costs at most one chunk.
    pub chunk_size: usize,
    pub feed_page: u32,
    /// Connect to the MQTT doorbell.
    pub mqtt: bool,
    /// A CA certificate (PEM) to trust for MQTT over TLS instead of the
    /// system's roots (a private deployment, tests).
    pub mqtt_ca_pem: Option<Vec<u8>>,
    /// Keep HTTP connections open between requests.
    pub reuse_connections: bool,
    /// Reported to the server on every request (the device list shows it).
    pub app_version: String,
    /// The appliance's release, `<compatible> <version>` (None: not an
    /// appliance, no update is ever offered).
    pub release: Option<String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            pull_interval: Duration::from_secs(60),
            backoff: Backoff::default(),
            chunk_size: 1024 * 1024,
            feed_page: 200,
            mqtt: true,
            mqtt_ca_pem: None,
            reuse_connections: true,
            app_version: env!("CARGO_PKG_VERSION").to_string(),
            release: None,
        }
    }
}

/// What the UI shows about syncing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncStatus {
    /// The last request reached the server.
    pub online: bool,
    /// Items not yet sent (nog niet verstuurd).
    pub waiting: usize,
    /// Items the server refused (actie nodig).
    pub needs_attention: usize,
    /// The item being sent now.
    pub sending: Option<uuid::Uuid>,
    pub last_sync: Option<DateTime<Utc>>,
    /// The latest reason things are not flowing.
    pub last_error: Option<decide::Reason>,
    /// The device was revoked and wiped: back to enrollment.
    pub revoked: bool,
    /// Recent items with their state, newest first.
    pub items: Vec<ItemStatus>,
}

/// One item in the Synchronisatie list.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemStatus {
    pub id: uuid::Uuid,
    pub kind: ItemKind,
    pub created_at: DateTime<Utc>,
    pub state: ItemView,
}

/// An item's state as staff see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemView {
    Waiting,
    Sending,
    Sent,
    NeedsAttention(decide::Reason),
}

/// The UI's handle on the engine.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    wake: Arc<Notify>,
    pull: Arc<Notify>,
    stop: Arc<Notify>,
    status: watch::Receiver<SyncStatus>,
    offer: watch::Receiver<Option<UpdateOffer>>,
}

impl EngineHandle {
    /// The release the server offers this device, as of the last pull.
    pub fn offer(&self) -> watch::Receiver<Option<UpdateOffer>> {
        self.offer.clone()
    }
    /// Call after saving an item: the engine looks at the outbox now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
    /// Ask for a pull now (e.g. the doorbell rang).
    pub fn pull_now(&self) {
        self.pull.notify_one();
    }
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.clone()
    }
    /// Stops the engine at its next await point.
    pub fn stop(&self) {
        self.stop.notify_one();
    }
}

struct Engine {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
    wake: Arc<Notify>,
    pull: Arc<Notify>,
    stop: Arc<Notify>,
    status: watch::Sender<SyncStatus>,
    offer: watch::Sender<Option<UpdateOffer>>,
    sending: Option<uuid::Uuid>,
    online: bool,
    last_error: Option<decide::Reason>,
    /// Outbox size (waiting + needs attention), sent to the server as a header.
    pending: Arc<std::sync::atomic::AtomicU64>,
}

/// Starts the engine on the current tokio runtime.
pub fn spawn(
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
) -> (EngineHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(SyncStatus::default());
    let (offer_tx, offer_rx) = watch::channel(None);
    let handle = EngineHandle {
        wake: Arc::new(Notify::new()),
        pull: Arc::new(Notify::new()),
        stop: Arc::new(Notify::new()),
        status: rx,
        offer: offer_rx,
    };
    let engine = Engine {
        store,
        clock,
        config,
        wake: handle.wake.clone(),
        pull: handle.pull.clone(),
        stop: handle.stop.clone(),
        status: tx,
        offer: offer_tx,
        sending: None,
        online: false,
        last_error: None,
        pending: Arc::default(),
    };
    let task = tokio::spawn(engine.run());
    (handle, task)
}

async fn blocking<T, F>(store: &Arc<Store>, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| StoreError::Invalid(format!("store task failed: {e}")))?
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Woken {
    Timer,
    Saved,
    Doorbell,
    Stop,
}

enum Sent {
    Done(Box<PushReceipt>),
    Failed(Failure),
}

impl Engine {
    async fn run(mut self) {
        let creds = match blocking(&self.store, Store::device).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                tracing::info!("not enrolled; the engine waits for nothing");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the device credentials");
                return;
            }
        };
        let client = match ApiClient::with_options(
            &creds.server_url,
            Some(creds.secret.clone()),
            self.config.reuse_connections,
        ) {
            Ok(c) => {
                let c = c
                    .with_app_version(self.config.app_version.clone())
                    .with_pending(self.pending.clone());
                match &self.config.release {
                    Some(r) => c.with_release(r.clone()),
                    None => c,
                }
            }
            Err(e) => {
                tracing::error!(error = ?e, "cannot build the HTTP client");
                return;
            }
        };
        let mqtt_task = self
            .config
            .mqtt
            .then(|| spawn_doorbell(&creds, self.config.mqtt_ca_pem.clone(), self.pull.clone()));
        let mut pull_due = true;
        let mut next_pull = self.clock.now();
        let mut last_pull = None::<DateTime<Utc>>;
        self.publish().await;
        loop {
            let now = self.clock.now();
            if pull_due || now >= next_pull {
                pull_due = false;
                next_pull =
                    now + chrono::Duration::from_std(self.config.pull_interval).unwrap_or_default();
                last_pull = Some(now);
                if let Err(f) = self.pull_all(&client).await
                    && self.on_failure(None, f).await
                {
                    break;
                }
            }
            let rows = match blocking(&self.store, Store::pending).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    if self
                        .wait(Some(now + chrono::Duration::seconds(5)), next_pull)
                        .await
                        == Woken::Stop
                    {
                        break;
                    }
                    continue;
                }
            };
            match decide::next_to_send(&rows, now) {
                Next::Send(id) => {
                    self.sending = Some(id);
                    self.publish().await;
                    let is_photo = rows
                        .iter()
                        .any(|r| r.id == id && r.kind == crate::store::ItemKind::Photo);
                    let result = self.send(&client, id, is_photo).await;
                    self.sending = None;
                    match result {
                        Sent::Done(receipt) => {
                            crash_point("after_response");
                            let now = self.clock.now();
                            if let Err(e) =
                                blocking(&self.store, move |s| s.mark_sent(&id, &receipt, now))
                                    .await
                            {
                                tracing::error!(error = %e, item = %id, "cannot record a sent item");
                            }
                            self.came_online().await;
                            self.last_error = None;
                            // Pull after pushes, but not after every one of a long queue.
                            let quiet = rows.len() <= 1;
                            if quiet
                                || last_pull.is_none_or(|t| now - t > chrono::Duration::seconds(5))
                            {
                                pull_due = true;
                            }
                        }
                        Sent::Failed(f) => {
                            if self.on_failure(Some(id), f).await {
                                break;
                            }
                        }
                    }
                    self.publish().await;
                }
                Next::WaitUntil(t) => {
                    self.publish().await;
                    match self.wait(Some(t), next_pull).await {
                        Woken::Stop => break,
                        Woken::Doorbell => pull_due = true,
                        Woken::Timer | Woken::Saved => {}
                    }
                }
                Next::Idle => {
                    self.publish().await;
                    match self.wait(None, next_pull).await {
                        Woken::Stop => break,
                        Woken::Doorbell => pull_due = true,
                        Woken::Timer | Woken::Saved => {}
                    }
                }
            }
        }
        if let Some(t) = mqtt_task {
            t.abort();
        }
    }

    /// The server answered. After a network failure, the items that wait for
    /// their back-off go now: a server that is back (the doorbell reconnects
    /// and asks for a pull, or any request succeeds) is not made to wait for
    /// back-offs that grew while it was away.
    async fn came_online(&mut self) {
        if self.online {
            return;
        }
        self.online = true;
        match blocking(&self.store, Store::end_backoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(items = n, "server reachable again: back-off ended"),
            Err(e) => tracing::warn!(error = %e, "cannot end the back-off"),
        }
    }

    /// Waits for the first of: `until`, the next pull, a wake, a doorbell, stop.
    async fn wait(&self, until: Option<DateTime<Utc>>, next_pull: DateTime<Utc>) -> Woken {
        let t = until.map_or(next_pull, |u| u.min(next_pull));
        tokio::select! {
            _ = self.clock.sleep_until(t) => Woken::Timer,
            _ = self.wake.notified() => Woken::Saved,
            _ = self.pull.notified() => Woken::Doorbell,
            _ = self.stop.notified() => Woken::Stop,
        }
    }

    /// Handles a failure of item `id` (or of a pull). Returns true when the
    /// engine must stop (revoked).
    async fn on_failure(&mut self, id: Option<uuid::Uuid>, failure: Failure) -> bool {
        let attempts = match id {
            Some(id) => {
                blocking(&self.store, move |s| {
                    Ok(s.pending()?
                        .into_iter()
                        .find(|r| r.id == id)
                        .map_or(0, |r| r.attempts))
                })
                .await
                .unwrap_or(0)
                    + 1
            }
            None => 1,
        };
        let jitter = rand::rng().random::<f64>();
        let verdict = decide::classify(&failure, attempts, &self.config.backoff, jitter);
        self.online = !matches!(failure, Failure::Network(_));
        match verdict {
            Verdict::Revoked => {
                tracing::warn!("the server says this device was revoked: wiping");
                if let Err(e) = blocking(&self.store, Store::wipe).await {
                    tracing::error!(error = %e, "wipe failed");
                }
                let _ = self.status.send(SyncStatus {
                    revoked: true,
                    ..SyncStatus::default()
                });
                return true;
            }
            Verdict::Retry { after, reason } => {
                tracing::info!(item = ?id, attempts, after_ms = after.as_millis() as u64, %reason, "will retry");
                let stored = reason.to_stored();
                self.last_error = Some(reason);
                if let Some(id) = id {
                    let next =
                        self.clock.now() + chrono::Duration::from_std(after).unwrap_or_default();
                    if let Err(e) =
                        blocking(&self.store, move |s| s.record_failure(&id, next, &stored)).await
                    {
                        tracing::error!(error = %e, "cannot record a failure");
                    }
                }
            }
            Verdict::NeedsAttention(reason) => {
                tracing::warn!(item = ?id, %reason, "item needs attention");
                if let Some(id) = id {
                    if let Err(e) =
                        blocking(&self.store, move |s| s.mark_wedged(&id, &reason)).await
                    {
                        tracing::error!(error = %e, "cannot mark an item");
                    }
                } else {
                    self.last_error = Some(reason);
                }
            }
        }
        false
    }

    async fn pull_all(&mut self, client: &ApiClient) -> Result<(), Failure> {
        loop {
            let cursor = blocking(&self.store, Store::cursor)
                .await
                .map_err(|e| Failure::Network(format!("store: {e}")))?;
            let page = client.feed(cursor, self.config.feed_page).await?;
            let more = page.has_more;
            if !more {
                self.offer.send_if_modified(|o| {
                    let changed = *o != page.update;
                    o.clone_from(&page.update);
                    changed
                });
            }
            let now = self.clock.now();
            blocking(&self.store, move |s| s.apply_feed_page(&page, now))
                .await
                .map_err(|e| Failure::Network(format!("store: {e}")))?;
            self.came_online().await;
            if !more {
                return Ok(());
            }
        }
    }

    async fn send(&mut self, client: &ApiClient, id: uuid::Uuid, is_photo: bool) -> Sent {
        let item = match blocking(&self.store, move |s| s.item(&id)).await {
            Ok(i) => i,
            Err(e) => {
                return Sent::Failed(Failure::Unsendable(decide::Reason::Unreadable {
                    error: e.to_string(),
                }));
            }
        };
        // a photo (sealed or not) uploads its bytes first
        let item = if is_photo {
            match self.upload(client, id).await {
                Ok(item) => item,
                Err(f) => return Sent::Failed(f),
            }
        } else {
            item
        };
        match client.push(&item).await {
            Ok(r) => Sent::Done(Box::new(r)),
            // The server no longer has the upload (it removes complete uploads
            // no photo took after a week): upload the bytes again, once.
            Err(Failure::Status { error: Some(e), .. })
                if is_photo && e.code == ErrorCode::UploadIncomplete =>
            {
                tracing::info!(item = %id, "the server lost the photo's upload; uploading again");
                if let Err(e) = blocking(&self.store, move |s| s.set_upload(&id, None, None)).await
                {
                    return Sent::Failed(Failure::Network(format!("store: {e}")));
                }
                let item = match self.upload(client, id).await {
                    Ok(item) => item,
                    Err(f) => return Sent::Failed(f),
                };
                match client.push(&item).await {
                    Ok(r) => Sent::Done(Box::new(r)),
                    Err(f) => Sent::Failed(f),
                }
            }
            Err(f) => Sent::Failed(f),
        }
    }

    /// Uploads a photo's bytes (resuming where the server is), then returns
    /// the item with its upload id.
    async fn upload(&mut self, client: &ApiClient, id: uuid::Uuid) -> Result<PushItem, Failure> {
        let store_err = |e: StoreError| Failure::Network(format!("store: {e}"));
        let file = blocking(&self.store, move |s| s.photo_upload(&id))
            .await
            .map_err(store_err)?;
        if !file.stored {
            return Err(Failure::Unsendable(decide::Reason::PhotoGone));
        }
        let mut restarted = false;
        let mut url = file.upload_url.clone();
        loop {
            // A fresh upload is at offset 0 by definition: no HEAD needed.
            let mut fresh = false;
            let u = match url.clone() {
                Some(u) => u,
                None => {
                    fresh = true;
                    let (u, upload) = client.upload_create(file.bytes, &file.sha256, &id).await?;
                    let u2 = u.clone();
                    blocking(&self.store, move |s| {
                        s.set_upload(&id, Some(&u2), Some(upload))
                    })
                    .await
                    .map_err(store_err)?;
                    u
                }
            };
            let asked = if fresh {
                Ok(0)
            } else {
                client.upload_offset(&u).await
            };
            let mut offset = match asked {
                Ok(o) => o,
                Err(Failure::Status {
                    status: 404 | 410, ..
                }) if !restarted => {
                    // The upload expired or was lost: start a new one, once.
                    restarted = true;
                    url = None;
                    blocking(&self.store, move |s| s.set_upload(&id, None, None))
                        .await
                        .map_err(store_err)?;
                    continue;
                }
                Err(f) => return Err(f),
            };
            while offset < file.bytes {
                crash_point("upload");
                // One chunk at a time from the database, never the whole photo.
                let len = self.config.chunk_size;
                let chunk = blocking(&self.store, move |s| s.read_photo(&id, offset, len))
                    .await
                    .map_err(store_err)?;
                if chunk.is_empty() {
                    return Err(Failure::Network(format!(
                        "the photo ends at {offset} of {} bytes",
                        file.bytes
                    )));
                }
                match client.upload_chunk(&u, offset, chunk).await {
                    Ok(o) => offset = o,
                    // Someone else moved the offset (a cut request that finished late): ask again.
                    Err(Failure::Status { status: 409, .. }) => {
                        offset = client.upload_offset(&u).await?
                    }
                    Err(f) => return Err(f),
                }
            }
            break;
        }
        blocking(&self.store, move |s| s.item(&id))
            .await
            .map_err(store_err)
    }

    async fn publish(&self) {
        let store = self.store.clone();
        let snapshot = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            let (waiting, wedged) = store.counts()?;
            Ok((waiting, wedged, store.last_sync()?, store.recent_items(50)?))
        })
        .await;
        let Ok(Ok((waiting, needs_attention, last_sync, recent))) = snapshot else {
            return;
        };
        self.pending.store(
            (waiting + needs_attention) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let items = recent
            .into_iter()
            .map(|r| ItemStatus {
                id: r.id,
                kind: r.kind,
                created_at: r.created_at,
                state: match r.state {
                    _ if Some(r.id) == self.sending => ItemView::Sending,
                    ItemState::Waiting => ItemView::Waiting,
                    ItemState::Sent => ItemView::Sent,
                    ItemState::Wedged { reason } => ItemView::NeedsAttention(reason),
                },
            })
            .collect();
        self.status.send_replace(SyncStatus {
            online: self.online,
            waiting,
            needs_attention,
            sending: self.sending,
            last_sync,
            last_error: self.last_error.clone(),
            revoked: false,
            items,
        });
    }
}

fn mqtt_host(creds: &DeviceCredentials) -> String {
    if !creds.mqtt.host.is_empty() {
        return creds.mqtt.host.clone();
    }
    let rest = creds
        .server_url
        .split("://")
        .nth(1)
        .unwrap_or(&creds.server_url);
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6).to_string();
    }
    authority.split(':').next().unwrap_or(authority).to_string()
}

/// MQTT over TLS that trusts the same roots as the HTTPS client (the bundled
/// web roots), or only `ca_pem` (a private deployment's CA) when given; the
/// name checked is the MQTT host's. rustls's provider is ring, as the
/// server's.
fn mqtt_tls(ca_pem: Option<Vec<u8>>) -> Result<rumqttc::Transport, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(pem) => {
            use rustls::pki_types::{CertificateDer, pem::PemObject};
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| rustls::Error::General(format!("CA PEM: {e}")))?;
                roots.add(cert)?;
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Rustls(std::sync::Arc::new(config)),
    ))
}

/// The MQTT doorbell: the device's own credentials, a retained presence with
/// a last will, automatic reconnect; a nudge asks the engine to pull.
fn spawn_doorbell(
    creds: &DeviceCredentials,
    ca_pem: Option<Vec<u8>>,
    pull: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    let id = creds.device_id.to_string();
    let mut opts = MqttOptions::new(id.clone(), mqtt_host(creds), creds.mqtt.port);
    if creds.mqtt.tls {
        match mqtt_tls(ca_pem) {
            Ok(transport) => {
                opts.set_transport(transport);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot set up MQTT over TLS; no doorbell");
                return tokio::spawn(async {});
            }
        }
    }
    // MQTT's own password: what the Wi-Fi may see opens no API call
    opts.set_credentials(id, mqtt::password(&creds.secret));
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_clean_session(false);
    let presence = mqtt::presence_topic(&creds.device_id);
    let nudge = mqtt::nudge_topic(&creds.device_id);
    opts.set_last_will(LastWill::new(
        presence.clone(),
        "\"offline\"",
        QoS::AtLeastOnce,
        true,
    ));
    tokio::spawn(async move {
        let (client, mut events) = AsyncClient::new(opts, 16);
        // Losing the doorbell may mean the server revoked this device (it closes
        // the session and refuses the next one): one pull finds out (401 wipes).
        let mut connected = false;
        let mut asked_after_refusal = false;
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    tracing::info!("doorbell connected");
                    connected = true;
                    asked_after_refusal = false;
                    let _ = client.subscribe(nudge.clone(), QoS::AtLeastOnce).await;
                    let _ = client
                        .publish(presence.clone(), QoS::AtLeastOnce, true, "\"online\"")
                        .await;
                    // Things may have changed while we were away.
                    pull.notify_one();
                }
                Ok(Event::Incoming(Packet::Publish(p))) if p.topic == nudge => {
                    tracing::debug!("doorbell rang");
                    pull.notify_one();
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "doorbell disconnected; reconnecting");
                    let refused = matches!(e, rumqttc::ConnectionError::ConnectionRefused(_));
                    if connected || (refused && !asked_after_refusal) {
                        asked_after_refusal |= refused;
                        pull.notify_one();
                    }
                    connected = false;
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
            }
        }
    })
}

//! kring-broker: the MQTT doorbell. The embedded broker (rmqtt) with per-device
//! auth and topic ACLs, or a client of an external broker. It knows the wire
//! rule of `kring-protocol` and nothing of the server: the server hands it a
//! [`DeviceAuth`] and publishes nudges through it.
//!
//! MQTT is only the doorbell: the server publishes a QoS 1 [`Nudge`] to
//! `kring/v1/devices/{id}/nudge` and the device then pulls over HTTP.
//!
//! Two ways to run it:
//! - [`Broker::start_embedded`]: an rmqtt broker inside this process. Every
//!   decision is made by our hooks: login (username = client id = device id,
//!   password = the device's MQTT password checked by [`DeviceAuth`]), the Last Will topic,
//!   and every subscribe and publish (only where
//!   [`mqtt::device_may_use_topic`] allows). Presence is reported to
//!   [`DeviceAuth::presence_changed`]. Retained messages (the devices'
//!   presence, and their retained Last Will) are kept in a small bounded
//!   in-memory store, [`RetainStore`], lost on restart.
//! - [`Broker::connect_external`]: the server is a client of an external
//!   broker (Mosquitto 2, EMQX): it publishes nudges, follows presence, and
//!   the broker enforces the same rule, either from the devices the server
//!   provisions in Mosquitto's dynamic-security plugin or by asking the
//!   server's HTTP auth hooks ([`external`]).
//!
//! rmqtt 0.24 is pinned (`=0.24.0`): `SessionState::forwards` and
//! `Entry::kick` are internal API.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use kring_protocol::DeviceId;
use kring_protocol::mqtt::{self, Nudge};
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::retain::RetainStorage;
use rmqtt::server::MqttServer;
use rmqtt::session::{Session, SessionState};
use rmqtt::types::{
    AuthResult, ClientId, CodecPublish, ConnectInfo, From as MsgFrom, Id, LastWill, Publish,
    PublishAclResult, QoS, Retain, SubscribeAclResult, TopicFilter, TopicName,
};
use thiserror::Error;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

mod external;
use external::External;
pub use external::{ExternalAuth, ExternalConfig};

/// Upper bound for handing one nudge to the broker.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
/// Upper bound for closing one session (rmqtt itself waits at most 5 s).
const KICK_TIMEOUT: Duration = Duration::from_secs(7);
/// Client id of the in-process publisher (nudges), as seen by rmqtt hooks.
const SERVER_CLIENT_ID: &str = "kring-server";
/// Retained store: at most this many topics in all...
const RETAIN_MAX_TOPICS: usize = 10_000;
/// ...at most this many per publishing client (a device needs one, its
/// presence), so one device cannot fill the store for all others...
const RETAIN_MAX_TOPICS_PER_CLIENT: usize = 16;
/// ...and payloads of at most this many bytes.
const RETAIN_MAX_PAYLOAD: usize = 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of the MQTT broker module. Kept small (boxed sources): it is
/// nested in other error types.
#[derive(Debug, Error)]
pub enum BrokerError {
    /// The embedded broker could not bind its listener.
    #[error("cannot listen for MQTT on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: BoxError,
    },
    /// The external broker URL is not usable (`mqtt://host:port` or
    /// `mqtts://host:port`). The URL itself is not repeated: it could hold
    /// credentials.
    #[error("invalid MQTT broker URL: {0}")]
    InvalidUrl(&'static str),
    /// The external broker refused the connection or could not be reached.
    #[error("cannot connect to the MQTT broker at {broker}")]
    Connect {
        broker: String,
        #[source]
        source: Box<rumqttc::ConnectionError>,
    },
    /// The external broker did not answer the CONNECT in time.
    #[error("no answer from the MQTT broker at {broker} within {timeout:?}")]
    ConnectTimeout { broker: String, timeout: Duration },
    /// The external broker does not let the server do what its mode needs.
    #[error("MQTT broker setup: {0}")]
    Setup(&'static str),
    /// A nudge payload could not be encoded.
    #[error("cannot encode the nudge payload")]
    Encode(#[from] serde_json::Error),
    /// The broker did not take the nudge.
    #[error("nudge for device {device} not published: {reason}")]
    Publish { device: DeviceId, reason: String },
}

/// What the broker asks the server about devices. Implemented by the server's database layer.
///
/// Both methods are called on tokio's blocking thread pool, so they may do
/// blocking I/O (SQLite). `presence_changed` calls arrive in the order the
/// broker saw the events.
pub trait DeviceAuth: Send + Sync + 'static {
    /// True when `device` exists, is not revoked and `secret` is its MQTT
    /// password (kring derives it from the device secret; never the API secret).
    fn authenticate(&self, device: &DeviceId, secret: &str) -> bool;
    /// A device's MQTT connection came up (true) or went down (false).
    fn presence_changed(&self, device: &DeviceId, online: bool);
}

/// Settings of the embedded broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// TCP address of the plain MQTT listener; port 0 picks a free port
    /// (see [`Broker::local_addr`]). None: no plain listener (TLS only, the
    /// production mode).
    pub listen: Option<SocketAddr>,
    /// The MQTT-over-TLS listener (see [`Broker::tls_addr`]).
    pub tls: Option<TlsListener>,
}

/// An MQTT-over-TLS listener: its address and its certificate chain and
/// private key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsListener {
    pub listen: SocketAddr,
    pub cert_file: std::path::PathBuf,
    pub key_file: std::path::PathBuf,
}

/// Handle to the MQTT broker: embedded rmqtt or a client of an external
/// broker. Cheap to clone; all clones share one broker.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

enum Inner {
    Embedded(Embedded),
    External(External),
}

struct Embedded {
    scx: ServerContext,
    local_addr: Option<SocketAddr>,
    tls_addr: Option<SocketAddr>,
    server_task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let task = match self {
            Inner::Embedded(e) => lock(&e.server_task).take(),
            Inner::External(e) => lock(&e.event_task).take(),
        };
        if let Some(task) = task {
            task.abort();
        }
    }
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.as_ref() {
            Inner::Embedded(e) => f
                .debug_struct("Broker")
                .field("kind", &"embedded")
                .field("local_addr", &e.local_addr)
                .field("tls_addr", &e.tls_addr)
                .finish(),
            Inner::External(e) => f
                .debug_struct("Broker")
                .field("kind", &"external")
                .field("broker", &e.broker)
                .field("client_id", &e.client_id)
                .finish(),
        }
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Broker {
    /// Starts the embedded rmqtt broker on `cfg.listen`.
    ///
    /// Each call builds its own rmqtt `ServerContext`, so several brokers can
    /// run in one process (tests do).
    pub async fn start_embedded(
        cfg: BrokerConfig,
        auth: Arc<dyn DeviceAuth>,
    ) -> Result<Broker, BrokerError> {
        // The busy check refuses logins when the host's CPU load is above
        // 90 %, through a process-global cache: not wanted for a handful of
        // devices, and it makes logins depend on unrelated load.
        let scx = ServerContext::new().busy_check_enable(false).build().await;

        let hooks = Hooks::new(auth);
        let register = scx.extends.hook_mgr().register();
        for typ in [
            Type::ClientAuthenticate,
            Type::ClientSubscribeCheckAcl,
            Type::MessagePublishCheckAcl,
            Type::ClientConnected,
            Type::ClientDisconnected,
        ] {
            register.add(typ, Box::new(hooks.clone())).await;
        }
        register.start().await;
        // rmqtt's own default store drops everything (it defers to its
        // retainer plugin) and reports retain as unavailable, which makes
        // MQTT 5 refuse a retained Last Will.
        *scx.extends.retain_mut().await = Box::new(RetainStore::new(
            RETAIN_MAX_TOPICS,
            RETAIN_MAX_TOPICS_PER_CLIENT,
            RETAIN_MAX_PAYLOAD,
        ));

        let builder = |addr: SocketAddr, name: &'static str| {
            rmqtt::net::Builder::new()
                .name(name)
                .laddr(addr)
                .reuseaddr(Some(true))
                .nodelay(true)
                // Anonymous logins must reach our hook, which refuses them.
                .allow_anonymous(false)
                .max_clientid_len(64)
                .max_packet_size(64 * 1024)
                .handshake_timeout(Duration::from_secs(10))
        };
        let mut server = MqttServer::new(scx.clone());
        let mut local_addr = None;
        if let Some(addr) = cfg.listen {
            let listen_err = |source: rmqtt::Error| BrokerError::Listen {
                addr,
                source: source.into(),
            };
            let listener = builder(addr, "kring/tcp")
                .bind()
                .and_then(|l| l.tcp())
                .map_err(listen_err)?;
            let bound = listener.local_addr().map_err(listen_err)?;
            // `listener_by_id`: the default id is the configured port, 0 here.
            server = server.listener_by_id(listener, bound.port());
            local_addr = Some(bound);
        }
        let mut tls_addr = None;
        if let Some(tls) = &cfg.tls {
            let addr = tls.listen;
            let listen_err = |source: rmqtt::Error| BrokerError::Listen {
                addr,
                source: source.into(),
            };
            let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
            let listener = builder(addr, "kring/tls")
                .tls_cert(Some(path(&tls.cert_file)))
                .tls_key(Some(path(&tls.key_file)))
                .bind()
                .and_then(|l| l.tls())
                .map_err(listen_err)?;
            let bound = listener.local_addr().map_err(listen_err)?;
            server = server.listener_by_id(listener, bound.port());
            tls_addr = Some(bound);
        }
        let server = server.build();
        // Not `MqttServer::start`: it calls `process::exit` on failure.
        let server_task = tokio::spawn(async move {
            match server.run().await {
                Ok(()) => warn!(?local_addr, ?tls_addr, "embedded MQTT listeners stopped"),
                Err(e) => {
                    error!(?local_addr, ?tls_addr, error = %e, "embedded MQTT listener failed")
                }
            }
        });
        info!(?local_addr, ?tls_addr, "embedded MQTT broker listening");

        Ok(Broker {
            inner: Arc::new(Inner::Embedded(Embedded {
                scx,
                local_addr,
                tls_addr,
                server_task: Mutex::new(Some(server_task)),
            })),
        })
    }

    /// Connects to an external broker (Mosquitto 2, EMQX) as the server's own
    /// client: it publishes nudges, reports the devices' presence to `auth`
    /// and, with [`ExternalAuth::MosquittoDynsec`], provisions and removes
    /// the devices' logins.
    ///
    /// Returns once the broker accepted the login and the subscriptions;
    /// afterwards the client reconnects by itself (nudges published while it
    /// is away are queued up to a bound, then refused with an error).
    pub async fn connect_external(
        cfg: ExternalConfig,
        auth: Arc<dyn DeviceAuth>,
    ) -> Result<Broker, BrokerError> {
        let external = External::connect(&cfg, auth).await?;
        Ok(Broker {
            inner: Arc::new(Inner::External(external)),
        })
    }

    /// Lets a newly enrolled device log in (external dynamic security; a
    /// no-op otherwise: the embedded broker and the HTTP hooks ask the
    /// database). Logged, not fatal: the device's next API call tries again.
    pub async fn provision(&self, device: &DeviceId, secret: &str) {
        if let Inner::External(e) = self.inner.as_ref()
            && let Err(error) = e.provision(device, secret).await
        {
            warn!(%device, error, "device not provisioned at the external MQTT broker; its next API call tries again");
        }
    }

    /// For a device that just authenticated over HTTP (`secret`: its MQTT password): makes
    /// sure the external broker knows it (checked once per device and
    /// process, in the background). A no-op for the other modes.
    pub fn device_seen(&self, device: &DeviceId, secret: &str) {
        if let Inner::External(e) = self.inner.as_ref()
            && e.needs_provisioning(device)
        {
            let broker = self.clone();
            let (device, secret) = (*device, secret.to_string());
            tokio::spawn(async move {
                if let Inner::External(e) = broker.inner.as_ref() {
                    e.ensure_provisioned(device, secret).await;
                }
            });
        }
    }

    /// Embedded: the bound listener address (the real port when bound to 0).
    /// External: `None`.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self.inner.as_ref() {
            Inner::Embedded(e) => e.local_addr,
            Inner::External(_) => None,
        }
    }

    /// Embedded: the bound MQTT-over-TLS listener address, if there is one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        match self.inner.as_ref() {
            Inner::Embedded(e) => e.tls_addr,
            Inner::External(_) => None,
        }
    }

    /// QoS 1 nudge to kring/v1/devices/{id}/nudge with JSON payload of Nudge. Never blocks long, never panics; logs failures.
    ///
    /// Only subscribers of that topic get it, and only the device itself may
    /// subscribe there. A device that is offline with a persistent session
    /// gets it when it comes back; otherwise it is dropped (the device pulls
    /// on connect anyway).
    pub async fn publish_nudge(&self, device: &DeviceId, nudge: Nudge) -> Result<(), BrokerError> {
        let result = self.try_publish_nudge(device, nudge).await;
        match &result {
            Ok(()) => debug!(%device, seq = nudge.seq, "nudge published"),
            Err(e) => warn!(%device, seq = nudge.seq, error = %e, "nudge not published"),
        }
        result
    }

    async fn try_publish_nudge(&self, device: &DeviceId, nudge: Nudge) -> Result<(), BrokerError> {
        let payload = serde_json::to_vec(&nudge)?;
        let topic = mqtt::nudge_topic(device);
        let failed = |reason: String| BrokerError::Publish {
            device: *device,
            reason,
        };
        match self.inner.as_ref() {
            Inner::Embedded(e) => {
                let publish = Publish::from(CodecPublish {
                    dup: false,
                    retain: false,
                    qos: QoS::AtLeastOnce,
                    topic: topic.into(),
                    packet_id: None,
                    payload: payload.into(),
                    properties: None,
                })
                .create_time(rmqtt::utils::timestamp_millis());
                let from = MsgFrom::from_system(Id::from(
                    e.scx.node.id(),
                    ClientId::from(SERVER_CLIENT_ID),
                ));
                match tokio::time::timeout(
                    PUBLISH_TIMEOUT,
                    SessionState::forwards(&e.scx, from, publish, false, None),
                )
                .await
                {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(err)) => Err(failed(err.to_string())),
                    Err(_) => Err(failed(format!("timed out after {PUBLISH_TIMEOUT:?}"))),
                }
            }
            Inner::External(e) => e
                .client
                .try_publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
                .map_err(|err| failed(err.to_string())),
        }
    }

    /// Close a (revoked) device's session now. No-op if not connected.
    ///
    /// Embedded only: also drops a persistent offline session. Refuse the
    /// device in [`DeviceAuth::authenticate`] first, or it simply reconnects.
    /// External broker: with dynamic security the device's client and role
    /// are deleted (the broker cuts it off and refuses it) and it is recorded
    /// offline; with HTTP hooks the broker refuses its next login.
    pub async fn kick(&self, device: &DeviceId) {
        match self.inner.as_ref() {
            Inner::Embedded(e) => {
                if kick_client(&e.scx, ClientId::from(device.to_string())).await {
                    info!(%device, "MQTT session of device closed");
                }
            }
            Inner::External(e) => e.remove(device).await,
        }
    }

    /// Best effort stop: the embedded broker stops listening and closes every
    /// session; the external client disconnects.
    pub async fn shutdown(&self) {
        match self.inner.as_ref() {
            Inner::Embedded(e) => {
                let task = lock(&e.server_task).take();
                if let Some(task) = task {
                    task.abort();
                    // Wait until the listener socket is really dropped.
                    let _ = task.await;
                }
                let clients: Vec<ClientId> = {
                    let shared = e.scx.extends.shared().await;
                    shared
                        .iter()
                        .map(|entry| entry.id().client_id.clone())
                        .collect()
                };
                for client in clients {
                    kick_client(&e.scx, client).await;
                }
                info!(local_addr = ?e.local_addr, tls_addr = ?e.tls_addr, "embedded MQTT broker stopped");
            }
            Inner::External(e) => {
                if let Err(err) = e.client.try_disconnect() {
                    debug!(broker = %e.broker, error = %err, "MQTT disconnect not sent");
                }
                let task = lock(&e.event_task).take();
                if let Some(mut task) = task {
                    // Give the event loop a moment to send the DISCONNECT.
                    if tokio::time::timeout(Duration::from_secs(2), &mut task)
                        .await
                        .is_err()
                    {
                        task.abort();
                    }
                }
                info!(broker = %e.broker, "disconnected from external MQTT broker");
            }
        }
    }
}

/// Closes the session of `client_id` on the embedded broker, if any.
/// Returns true when the kick was carried out.
async fn kick_client(scx: &ServerContext, client_id: ClientId) -> bool {
    let mut entry = {
        let shared = scx.extends.shared().await;
        if !shared.exist(&client_id) {
            return false;
        }
        shared.entry(Id::from(scx.node.id(), client_id.clone()))
    };
    // clean start + clear subscriptions + admin kick: nothing of the session
    // survives, not even an offline queue.
    match tokio::time::timeout(KICK_TIMEOUT, entry.kick(true, true, true)).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            warn!(client_id = %client_id, error = %e, "MQTT kick failed");
            false
        }
        Err(_) => {
            warn!(client_id = %client_id, "MQTT kick timed out");
            false
        }
    }
}

/// Splits `mqtt://host[:port]` (TCP, default port 1883) or
/// `mqtts://host[:port]` (TLS with the system's roots, default 8883).
/// IPv6 hosts go in brackets: `mqtt://[::1]:1883`.
fn parse_broker_url(url: &str) -> Result<(rumqttc::Transport, String, u16), &'static str> {
    let (scheme, rest) = url.split_once("://").ok_or("expected scheme://host:port")?;
    let (transport, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "mqtt" | "tcp" => (rumqttc::Transport::tcp(), 1883),
        "mqtts" | "ssl" => (rumqttc::Transport::tls_with_default_config(), 8883),
        _ => return Err("scheme must be mqtt:// or mqtts://"),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Err("no path, query or fragment allowed");
    }
    if authority.contains('@') {
        return Err("credentials belong in the username and password settings, not in the URL");
    }
    // `[v6]:port`, `[v6]`, `host:port` or `host`. rumqttc connects to
    // "{host}:{port}", so IPv6 hosts keep their brackets.
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']').ok_or("unclosed [ in IPv6 host")?;
        let (host, after) = authority.split_at(end + 1);
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(after.strip_prefix(':').ok_or("expected :port after ]")?),
            ),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err("missing host");
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or("invalid port")?,
    };
    Ok((transport, host.to_owned(), port))
}

/// The device a session belongs to: its client id, which the login pinned to
/// the canonical device id.
fn session_device(session: &Session) -> Option<DeviceId> {
    session.id.client_id.parse().ok()
}

/// Why a login was refused before asking [`DeviceAuth`].
#[derive(Debug, Clone, Copy)]
enum LoginRefusal {
    NoUsername,
    UsernameNotDeviceId,
    ClientIdMismatch,
    NoPassword,
    WillTopicNotAllowed,
}

impl LoginRefusal {
    fn answer(self) -> AuthResult {
        match self {
            LoginRefusal::NoUsername
            | LoginRefusal::UsernameNotDeviceId
            | LoginRefusal::NoPassword => AuthResult::BadUsernameOrPassword,
            LoginRefusal::ClientIdMismatch | LoginRefusal::WillTopicNotAllowed => {
                AuthResult::NotAuthorized
            }
        }
    }
}

/// Checks the shape of a CONNECT: username is a device id in canonical form,
/// client id equals it, a password is present, the Last Will (which skips the
/// publish ACL) stays inside the device's own topics.
fn parse_login(ci: &ConnectInfo) -> Result<(DeviceId, String), LoginRefusal> {
    let username = ci.username().ok_or(LoginRefusal::NoUsername)?;
    let device: DeviceId = username
        .parse()
        .map_err(|_| LoginRefusal::UsernameNotDeviceId)?;
    // Only the canonical spelling: one device, one client id, one session.
    if device.to_string() != **username {
        return Err(LoginRefusal::UsernameNotDeviceId);
    }
    if ci.client_id() != username {
        return Err(LoginRefusal::ClientIdMismatch);
    }
    let secret = ci
        .password()
        .and_then(|p| std::str::from_utf8(p).ok())
        .filter(|p| !p.is_empty())
        .ok_or(LoginRefusal::NoPassword)?;
    if let Some(will) = ci.last_will() {
        let topic = match will {
            LastWill::V3(w) => &w.topic,
            LastWill::V5(w) => &w.topic,
        };
        if !mqtt::device_may_use_topic(&device, topic) {
            return Err(LoginRefusal::WillTopicNotAllowed);
        }
    }
    Ok((device, secret.to_owned()))
}

/// Our rmqtt hook handler: login, ACLs and presence.
#[derive(Clone)]
struct Hooks {
    inner: Arc<HooksInner>,
}

struct HooksInner {
    auth: Arc<dyn DeviceAuth>,
    /// The session each device is currently connected with: a reconnect
    /// kicks the old session, whose "disconnected" may arrive after the new
    /// "connected" and must then not report the device offline.
    current: Mutex<std::collections::HashMap<DeviceId, Id>>,
    /// Presence events, in order, to the worker calling `presence_changed`.
    presence_tx: mpsc::UnboundedSender<(DeviceId, bool)>,
}

impl Hooks {
    fn new(auth: Arc<dyn DeviceAuth>) -> Hooks {
        let (presence_tx, presence_rx) = mpsc::unbounded_channel();
        tokio::spawn(report_presence(auth.clone(), presence_rx));
        Hooks {
            inner: Arc::new(HooksInner {
                auth,
                current: Mutex::new(std::collections::HashMap::new()),
                presence_tx,
            }),
        }
    }

    async fn dispatch(&self, param: &Parameter<'_>, acc: Option<HookResult>) -> ReturnType {
        match param {
            Parameter::ClientAuthenticate(ci) => {
                let answer = self.authenticate(ci).await;
                (false, Some(HookResult::AuthResult(answer)))
            }
            Parameter::ClientSubscribeCheckAcl(session, sub) => {
                let filter: &str = &sub.topic_filter;
                let device = session_device(session);
                let answer = if device.is_some_and(|d| mqtt::device_may_use_topic(&d, filter)) {
                    SubscribeAclResult::new_success(sub.opts.qos(), None)
                } else {
                    info!(client_id = %session.id.client_id, filter, "MQTT subscribe refused");
                    SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized)
                };
                (false, Some(HookResult::SubscribeAclResult(answer)))
            }
            Parameter::MessagePublishCheckAcl(session, publish) => {
                let topic: &str = &publish.topic;
                let device = session_device(session);
                let answer = if device.is_some_and(|d| mqtt::device_may_use_topic(&d, topic)) {
                    PublishAclResult::allow()
                } else {
                    info!(client_id = %session.id.client_id, topic, "MQTT publish refused");
                    PublishAclResult::rejected(false, None)
                };
                (false, Some(HookResult::PublishAclResult(answer)))
            }
            Parameter::ClientConnected(session) => {
                self.connected(session);
                (true, acc)
            }
            Parameter::ClientDisconnected(session, reason) => {
                self.disconnected(session, &reason.to_string());
                (true, acc)
            }
            _ => (true, acc),
        }
    }

    async fn authenticate(&self, ci: &ConnectInfo) -> AuthResult {
        let (device, secret) = match parse_login(ci) {
            Ok(login) => login,
            Err(refusal) => {
                info!(
                    username = ?ci.username(),
                    client_id = ?ci.client_id(),
                    ?refusal,
                    "MQTT login refused"
                );
                return refusal.answer();
            }
        };
        let auth = self.inner.auth.clone();
        match tokio::task::spawn_blocking(move || auth.authenticate(&device, &secret)).await {
            Ok(true) => {
                debug!(%device, "MQTT login accepted");
                AuthResult::Allow(false, None)
            }
            Ok(false) => {
                info!(%device, "MQTT login refused: unknown device, revoked or wrong secret");
                AuthResult::BadUsernameOrPassword
            }
            Err(e) => {
                error!(%device, error = %e, "device authentication failed");
                AuthResult::NotAuthorized
            }
        }
    }

    fn connected(&self, session: &Session) {
        let Some(device) = session_device(session) else {
            warn!(client_id = %session.id.client_id, "connected session without device id");
            return;
        };
        let mut current = lock(&self.inner.current);
        current.insert(device, session.id.clone());
        // Sent under the lock, so events leave in the order they were decided.
        let _ = self.inner.presence_tx.send((device, true));
        debug!(%device, "device online");
    }

    fn disconnected(&self, session: &Session, reason: &str) {
        let Some(device) = session_device(session) else {
            return;
        };
        let mut current = lock(&self.inner.current);
        if current.get(&device) == Some(&session.id) {
            current.remove(&device);
            let _ = self.inner.presence_tx.send((device, false));
            debug!(%device, reason, "device offline");
        } else {
            debug!(%device, reason, "superseded session closed");
        }
    }
}

impl Handler for Hooks {
    // `rmqtt::hook::Handler` is an `#[async_trait]` trait; this is the
    // signature that macro produces.
    fn hook<'life0, 'life1, 'async_trait>(
        &'life0 self,
        param: &'life1 Parameter<'_>,
        acc: Option<HookResult>,
    ) -> Pin<Box<dyn Future<Output = ReturnType> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(self.dispatch(param, acc))
    }
}

/// Calls `presence_changed` for each event, one at a time, in order.
async fn report_presence(
    auth: Arc<dyn DeviceAuth>,
    mut rx: mpsc::UnboundedReceiver<(DeviceId, bool)>,
) {
    while let Some((device, online)) = rx.recv().await {
        let auth = auth.clone();
        if let Err(e) =
            tokio::task::spawn_blocking(move || auth.presence_changed(&device, online)).await
        {
            error!(%device, online, error = %e, "presence_changed failed");
        }
    }
}

/// Retained messages of the embedded broker, in memory: the last retained
/// message of each topic, replaced by the next one, deleted by an empty one.
///
/// Bounded: at most `max_topics` topics, `max_per_client` of them from one
/// publisher, payloads up to `max_payload` bytes. A retained message beyond
/// a bound is still delivered live, only not kept (and an oversized one
/// clears the topic, so no stale value is handed out in its place).
///
/// A message expires only when its publisher set an MQTT 5 Message Expiry
/// Interval; the listener's default expiry (meant for queued messages) does
/// not apply, or presence would vanish after a few minutes.
struct RetainStore {
    max_topics: usize,
    max_per_client: usize,
    max_payload: usize,
    state: Mutex<RetainState>,
}

#[derive(Default)]
struct RetainState {
    messages: HashMap<TopicName, Retained>,
    /// Most topics ever held at once, for `RetainStorage::max`.
    high_water: usize,
}

struct Retained {
    retain: Retain,
    expires_at: Option<Instant>,
}

impl Retained {
    fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// The message as it goes out now: an MQTT 5 expiry interval counts
    /// down by the time it was kept (MQTT-3.3.2-6).
    fn outgoing(&self, now: Instant) -> Retain {
        let mut retain = self.retain.clone();
        if let Some(at) = self.expires_at {
            let left = at.saturating_duration_since(now).as_secs().max(1);
            if let Some(props) = retain.publish.properties.as_mut() {
                props.message_expiry_interval =
                    NonZeroU32::new(u32::try_from(left).unwrap_or(u32::MAX));
            }
        }
        retain
    }
}

/// MQTT topic filter matching (`+` one level, `#` this level and all below),
/// where a leading wildcard does not match a `$` topic (MQTT-4.7.2-1).
fn filter_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut filter = filter.split('/');
    let mut topic = topic.split('/');
    loop {
        match (filter.next(), topic.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

impl RetainStore {
    fn new(max_topics: usize, max_per_client: usize, max_payload: usize) -> RetainStore {
        RetainStore {
            max_topics,
            max_per_client,
            max_payload,
            state: Mutex::new(RetainState::default()),
        }
    }

    fn store(&self, topic: &TopicName, mut retain: Retain) {
        let now = Instant::now();
        let mut state = lock(&self.state);
        let payload_len = retain.publish.payload.len();
        if payload_len == 0 {
            if state.messages.remove(topic).is_some() {
                debug!(topic = &**topic, "retained message deleted");
            }
            return;
        }
        if payload_len > self.max_payload {
            state.messages.remove(topic);
            warn!(
                topic = &**topic,
                payload_len,
                max = self.max_payload,
                "retained message too large, not kept"
            );
            return;
        }
        if !state.messages.contains_key(topic) {
            state.messages.retain(|_, r| !r.expired(now));
            let publisher = &retain.from.id.client_id;
            let by_publisher = state
                .messages
                .values()
                .filter(|r| r.retain.from.id.client_id == *publisher)
                .count();
            if state.messages.len() >= self.max_topics || by_publisher >= self.max_per_client {
                warn!(
                    topic = &**topic,
                    client_id = %publisher,
                    topics = state.messages.len(),
                    by_publisher,
                    "retained store full, message not kept"
                );
                return;
            }
        }
        // Only meaningful on the connection it came in on.
        if let Some(props) = retain.publish.properties.as_mut() {
            props.topic_alias = None;
            props.subscription_ids.clear();
        }
        let expires_at = retain
            .publish
            .properties
            .as_ref()
            .and_then(|p| p.message_expiry_interval)
            .map(|secs| now + Duration::from_secs(u64::from(secs.get())));
        state
            .messages
            .insert(topic.clone(), Retained { retain, expires_at });
        state.high_water = state.high_water.max(state.messages.len());
        debug!(topic = &**topic, "retained message kept");
    }

    fn load(&self, filter: &str) -> Vec<(TopicName, Retain)> {
        let now = Instant::now();
        let state = lock(&self.state);
        if !filter.contains(['+', '#']) {
            return state
                .messages
                .get_key_value(filter)
                .filter(|(_, r)| !r.expired(now))
                .map(|(t, r)| (t.clone(), r.outgoing(now)))
                .into_iter()
                .collect();
        }
        state
            .messages
            .iter()
            .filter(|(t, r)| !r.expired(now) && filter_matches(filter, t))
            .map(|(t, r)| (t.clone(), r.outgoing(now)))
            .collect()
    }

    fn len(&self) -> usize {
        let now = Instant::now();
        lock(&self.state)
            .messages
            .values()
            .filter(|r| !r.expired(now))
            .count()
    }
}

// `rmqtt::retain::RetainStorage` is an `#[async_trait]` trait; these are the
// signatures that macro produces. Every operation is a short critical
// section, done before the returned future is polled.
impl RetainStorage for RetainStore {
    fn enable(&self) -> bool {
        true
    }

    fn set<'life0, 'life1, 'async_trait>(
        &'life0 self,
        topic: &'life1 TopicName,
        retain: Retain,
        _listener_expiry: Option<Duration>,
    ) -> Pin<Box<dyn Future<Output = rmqtt::Result<()>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.store(topic, retain);
        Box::pin(std::future::ready(Ok(())))
    }

    fn get<'life0, 'life1, 'async_trait>(
        &'life0 self,
        topic_filter: &'life1 TopicFilter,
    ) -> Pin<Box<dyn Future<Output = rmqtt::Result<Vec<(TopicName, Retain)>>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(std::future::ready(Ok(self.load(topic_filter))))
    }

    fn count<'life0, 'async_trait>(
        &'life0 self,
    ) -> Pin<Box<dyn Future<Output = isize> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let n = isize::try_from(self.len()).unwrap_or(isize::MAX);
        Box::pin(std::future::ready(n))
    }

    fn max<'life0, 'async_trait>(
        &'life0 self,
    ) -> Pin<Box<dyn Future<Output = isize> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let n = isize::try_from(lock(&self.state).high_water).unwrap_or(isize::MAX);
        Box::pin(std::future::ready(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retained(client: &str, topic: &str, payload: &[u8], expiry: Option<u32>) -> Retain {
        let properties = expiry.map(|secs| rmqtt::codec::v5::PublishProperties {
            message_expiry_interval: NonZeroU32::new(secs),
            topic_alias: std::num::NonZeroU16::new(3),
            ..Default::default()
        });
        let publish = Publish::from(CodecPublish {
            dup: false,
            retain: true,
            qos: QoS::AtLeastOnce,
            topic: topic.into(),
            packet_id: None,
            payload: bytes::Bytes::copy_from_slice(payload),
            properties,
        });
        Retain {
            msg_id: None,
            from: MsgFrom::from_custom(Id::from(0, ClientId::from(client))),
            publish,
        }
    }

    fn payloads(store: &RetainStore, filter: &str) -> Vec<(String, Vec<u8>)> {
        let mut got: Vec<_> = store
            .load(filter)
            .into_iter()
            .map(|(t, r)| (t.to_string(), r.publish.payload.to_vec()))
            .collect();
        got.sort();
        got
    }

    #[test]
    fn keeps_the_last_per_topic_and_empty_deletes() {
        let store = RetainStore::new(10, 10, 1024);
        let t = TopicName::from("kring/v1/devices/a/presence");
        store.store(&t, retained("a", &t, b"online", None));
        store.store(&t, retained("a", &t, b"offline", None));
        assert_eq!(payloads(&store, &t), [(t.to_string(), b"offline".to_vec())]);
        assert_eq!(store.len(), 1);
        store.store(&t, retained("a", &t, b"", None));
        assert!(payloads(&store, &t).is_empty());
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn bounds_are_kept() {
        let store = RetainStore::new(3, 2, 8);
        let topic = |d: &str, s: &str| TopicName::from(format!("kring/v1/devices/{d}/{s}"));

        // Per publisher.
        for s in ["x", "y", "z"] {
            store.store(&topic("a", s), retained("a", &topic("a", s), b"1", None));
        }
        assert_eq!(payloads(&store, "kring/v1/devices/a/+").len(), 2);
        // Replacing a kept topic is always fine.
        store.store(
            &topic("a", "x"),
            retained("a", &topic("a", "x"), b"2", None),
        );
        assert_eq!(payloads(&store, &topic("a", "x"))[0].1, b"2");

        // In all.
        store.store(
            &topic("b", "p"),
            retained("b", &topic("b", "p"), b"1", None),
        );
        store.store(
            &topic("c", "p"),
            retained("c", &topic("c", "p"), b"1", None),
        );
        assert_eq!(store.len(), 3);
        assert!(payloads(&store, &topic("c", "p")).is_empty());

        // Too large: not kept, and the old value is gone too.
        store.store(
            &topic("b", "p"),
            retained("b", &topic("b", "p"), &[7; 9], None),
        );
        assert!(payloads(&store, &topic("b", "p")).is_empty());
        store.store(
            &topic("c", "p"),
            retained("c", &topic("c", "p"), &[7; 8], None),
        );
        assert_eq!(payloads(&store, &topic("c", "p")).len(), 1);
    }

    #[test]
    fn explicit_expiry_only_and_per_connection_properties_dropped() {
        let store = RetainStore::new(10, 10, 1024);
        let t = TopicName::from("a/b");
        store.store(&t, retained("a", &t, b"v", Some(60)));
        let (_, r) = store.load(&t).pop().expect("kept");
        let props = r.publish.properties.as_ref().expect("properties kept");
        assert!(props.topic_alias.is_none());
        let left = props.message_expiry_interval.expect("expiry").get();
        assert!((59..=60).contains(&left), "{left}");

        // Already expired (simulated): not handed out, not counted.
        lock(&store.state)
            .messages
            .get_mut(&t)
            .expect("kept")
            .expires_at = Some(Instant::now());
        assert!(store.load(&t).is_empty());
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn wildcard_filters() {
        for (filter, topic, want) in [
            ("a/b", "a/b", true),
            ("a/+", "a/b", true),
            ("a/+", "a/b/c", false),
            ("a/#", "a", true),
            ("a/#", "a/b/c", true),
            ("#", "a/b", true),
            ("#", "$SYS/x", false),
            ("+/x", "$SYS/x", false),
            ("$SYS/#", "$SYS/x", true),
            ("a/b", "a/c", false),
            ("a/+/c", "a//c", true),
        ] {
            assert_eq!(filter_matches(filter, topic), want, "{filter} vs {topic}");
        }
    }
}

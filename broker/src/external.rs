//! The server as a client of an external MQTT broker (Mosquitto 2, EMQX).
//!
//! The server's own connection publishes the nudges, follows the devices'
//! presence (their retained `online` and their Last Will `offline`, through a
//! shared subscription so that several server processes split the events)
//! and, with [`ExternalAuth::MosquittoDynsec`], tells Mosquitto's
//! dynamic-security plugin which devices may log in: one client (username =
//! client id = device id, the device secret as password) and one role (its
//! own nudge and presence topics) per device, created at enrollment or at the
//! device's next API call, deleted at revocation. Deleting the client cuts a
//! connected device off at once and refuses its reconnects; Mosquitto sends no
//! Last Will for such a kick, so the server records the device offline
//! itself. `docs/research/mosquitto-dynsec.md` has what was measured.
//!
//! With [`ExternalAuth::HttpHooks`] the broker asks the server per login and
//! topic instead (`/internal/mqtt/{auth,acl}`, EMQX or go-auth).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kring_protocol::DeviceId;
use kring_protocol::mqtt::{self, Presence};
use rumqttc::{AsyncClient, Event, EventLoop, Outgoing, Packet, QoS, SubscribeFilter};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::{BrokerError, DeviceAuth, lock, parse_broker_url};

/// Upper bound for the first CONNACK (and SUBACK) of an external broker.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests the external client may queue while (re)connecting.
const EXTERNAL_QUEUE: usize = 256;
/// Upper bound for one dynamic-security request: Mosquitto 2.0 rewrites its
/// whole JSON file per change (~32 ms at 5,000 devices, ~0.3 s at 50,000).
const DYNSEC_TIMEOUT: Duration = Duration::from_secs(10);
/// Where the dynamic-security plugin takes its commands...
const DYNSEC_TOPIC: &str = "$CONTROL/dynamic-security/v1";
/// ...and where it answers (to every client allowed to read it: requests
/// carry correlation data so each process finds its own answers).
const DYNSEC_RESPONSE_TOPIC: &str = "$CONTROL/dynamic-security/v1/response";
/// Presence of every device, shared among the server processes: each event
/// reaches one of them.
const PRESENCE_FILTER: &str = "$share/kring-server/kring/v1/devices/+/presence";

/// How an external broker learns which devices may log in and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExternalAuth {
    /// The broker asks the server per login and topic over HTTP
    /// (`/internal/mqtt/{auth,acl}`: EMQX's HTTP authenticator, go-auth).
    #[default]
    HttpHooks,
    /// Mosquitto 2's dynamic-security plugin: the server creates a client and
    /// a role per device and deletes them at revocation. The server's own
    /// login needs the plugin's admin role (see `docs/operations.md`).
    MosquittoDynsec,
}

/// The server's login at an external broker.
#[derive(Clone)]
pub struct ExternalConfig {
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub url: String,
    /// Unique per server process (two sessions with one client id take each
    /// other over).
    pub client_id: String,
    pub username: String,
    pub password: String,
    pub auth: ExternalAuth,
}

impl std::fmt::Debug for ExternalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalConfig")
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

pub(crate) struct External {
    /// `host:port`, for logs (the URL itself could carry credentials).
    pub(crate) broker: String,
    pub(crate) client_id: String,
    pub(crate) client: AsyncClient,
    pub(crate) event_task: Mutex<Option<JoinHandle<()>>>,
    shared: Arc<Shared>,
}

/// What the connection's event loop and the handle both use.
struct Shared {
    auth: ExternalAuth,
    /// Dynamic-security requests waiting for their answer, by correlation data.
    pending: Mutex<HashMap<String, oneshot::Sender<Vec<Reply>>>>,
    next_request: AtomicU64,
    /// Devices this process found or created at the broker (since its
    /// last reconnect).
    provisioned: Mutex<HashSet<DeviceId>>,
    /// Devices this process removed from the broker since its last
    /// reconnect (the revocation sweep asks again every period).
    removed: Mutex<HashSet<DeviceId>>,
    /// Presence events, in order, to the worker calling `presence_changed`.
    presence_tx: mpsc::UnboundedSender<(DeviceId, bool)>,
    device_auth: Arc<dyn DeviceAuth>,
}

/// One answer of the dynamic-security plugin.
#[derive(Debug, Clone, serde::Deserialize)]
struct Reply {
    command: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "correlationData")]
    correlation: Option<String>,
}

#[derive(serde::Deserialize)]
struct Replies {
    responses: Vec<Reply>,
}

fn filters(auth: ExternalAuth) -> Vec<SubscribeFilter> {
    let mut f = vec![SubscribeFilter::new(
        PRESENCE_FILTER.into(),
        QoS::AtLeastOnce,
    )];
    if auth == ExternalAuth::MosquittoDynsec {
        f.push(SubscribeFilter::new(
            DYNSEC_RESPONSE_TOPIC.into(),
            QoS::AtLeastOnce,
        ));
    }
    f
}

/// The role of one device at the broker.
fn role_name(device: &DeviceId) -> String {
    format!("kring-device-{device}")
}

impl External {
    /// Logs in, subscribes (presence; dynamic-security answers) and keeps the
    /// connection alive afterwards, reconnecting by itself.
    pub(crate) async fn connect(
        cfg: &ExternalConfig,
        device_auth: Arc<dyn DeviceAuth>,
    ) -> Result<External, BrokerError> {
        let (transport, host, port) =
            parse_broker_url(&cfg.url).map_err(BrokerError::InvalidUrl)?;
        let mut opts = rumqttc::MqttOptions::new(cfg.client_id.clone(), host, port);
        opts.set_transport(transport);
        opts.set_credentials(cfg.username.clone(), cfg.password.clone());
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_clean_session(true);
        let (host, port) = opts.broker_address();
        let broker = format!("{host}:{port}");

        let (presence_tx, presence_rx) = mpsc::unbounded_channel();
        tokio::spawn(crate::report_presence(device_auth.clone(), presence_rx));
        let shared = Arc::new(Shared {
            auth: cfg.auth,
            pending: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(1),
            provisioned: Mutex::new(HashSet::new()),
            removed: Mutex::new(HashSet::new()),
            presence_tx,
            device_auth,
        });

        let (client, mut eventloop) = AsyncClient::new(opts, EXTERNAL_QUEUE);
        let connect_err = |source| BrokerError::Connect {
            broker: broker.clone(),
            source: Box::new(source),
        };
        let first = tokio::time::timeout(
            CONNECT_TIMEOUT,
            first_session(&mut eventloop, &client, &shared),
        )
        .await
        .map_err(|_| BrokerError::ConnectTimeout {
            broker: broker.clone(),
            timeout: CONNECT_TIMEOUT,
        })?;
        first.map_err(|e| match e {
            FirstError::Connection(source) => connect_err(source),
            FirstError::Setup(what) => BrokerError::Setup(what),
        })?;
        info!(%broker, client_id = cfg.client_id, auth = ?cfg.auth, "connected to external MQTT broker");

        let event_task = tokio::spawn(drive(
            eventloop,
            client.clone(),
            shared.clone(),
            broker.clone(),
        ));
        Ok(External {
            broker,
            client_id: cfg.client_id.clone(),
            client,
            event_task: Mutex::new(Some(event_task)),
            shared,
        })
    }

    /// Sends `commands` to the dynamic-security plugin in one message and
    /// waits for their answers (one per command, in order).
    async fn dynsec(&self, mut commands: Vec<Value>) -> Result<Vec<Reply>, String> {
        let n = self.shared.next_request.fetch_add(1, Ordering::Relaxed);
        let correlation = format!("{}-{n}", self.client_id);
        for c in &mut commands {
            c["correlationData"] = json!(correlation);
        }
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.pending).insert(correlation.clone(), tx);
        let body = json!({ "commands": commands }).to_string();
        let sent = self
            .client
            .try_publish(DYNSEC_TOPIC, QoS::AtLeastOnce, false, body);
        let answer = match sent {
            Ok(()) => match tokio::time::timeout(DYNSEC_TIMEOUT, rx).await {
                Ok(Ok(replies)) => Ok(replies),
                Ok(Err(_)) => Err("the connection to the broker was dropped".to_string()),
                Err(_) => Err(format!("no answer within {DYNSEC_TIMEOUT:?}")),
            },
            Err(e) => Err(e.to_string()),
        };
        lock(&self.shared.pending).remove(&correlation);
        answer
    }

    /// Creates the device's client and role at the broker (dynamic security;
    /// a no-op otherwise). Safe to repeat: an existing client gets `secret`
    /// as its password.
    pub(crate) async fn provision(&self, device: &DeviceId, secret: &str) -> Result<(), String> {
        if self.shared.auth != ExternalAuth::MosquittoDynsec {
            return Ok(());
        }
        let user = device.to_string();
        let role = role_name(device);
        let nudge = mqtt::nudge_topic(device);
        // The device's whole right: publish its presence (and Last Will),
        // subscribe to its nudges, no wildcards (the rule of
        // `mqtt::device_may_use_topic`). The role is made before the
        // client and attached by addClientRole: Mosquitto 2.0.11 crashes
        // when a role given inline at createClient is deleted later.
        let replies = self
            .dynsec(vec![
                json!({"command": "createRole", "rolename": role, "acls": [
                    {"acltype": "publishClientSend", "topic": mqtt::presence_topic(device), "allow": true},
                    {"acltype": "subscribeLiteral", "topic": nudge, "allow": true},
                    {"acltype": "publishClientReceive", "topic": nudge, "allow": true},
                ]}),
                json!({"command": "createClient", "username": user, "clientid": user, "password": secret}),
                json!({"command": "addClientRole", "username": user, "rolename": role}),
            ])
            .await?;
        let mut existed = false;
        for r in &replies {
            match (r.command.as_str(), r.error.as_deref()) {
                (_, None) | ("createRole", Some("Role already exists")) => {}
                ("createClient", Some("Client already exists")) => existed = true,
                (command, Some(error)) => return Err(format!("{command}: {error}")),
            }
        }
        if existed {
            let replies = self
                .dynsec(vec![
                    json!({"command": "setClientPassword", "username": user, "password": secret}),
                ])
                .await?;
            if let Some(error) = replies.iter().find_map(|r| r.error.as_deref()) {
                return Err(format!("setClientPassword: {error}"));
            }
        }
        lock(&self.shared.removed).remove(device);
        lock(&self.shared.provisioned).insert(*device);
        info!(%device, "device may log in at the external MQTT broker");
        Ok(())
    }

    /// True when [`External::ensure_provisioned`] has work to do for `device`.
    pub(crate) fn needs_provisioning(&self, device: &DeviceId) -> bool {
        self.shared.auth == ExternalAuth::MosquittoDynsec
            && !lock(&self.shared.provisioned).contains(device)
    }

    /// For a device that just proved `secret` over HTTP: creates its client at
    /// the broker when the broker does not know it (enrolled before this
    /// mode, or while the broker was away, or the broker lost its file).
    pub(crate) async fn ensure_provisioned(&self, device: DeviceId, secret: String) {
        // claim: one check per device per process at a time
        if !self.needs_provisioning(&device) || !lock(&self.shared.provisioned).insert(device) {
            return;
        }
        let result = self.check_and_provision(device, &secret).await;
        if let Err(error) = result {
            lock(&self.shared.provisioned).remove(&device);
            warn!(%device, error, "could not check the device at the external MQTT broker; trying again at its next call");
        }
    }

    async fn check_and_provision(&self, device: DeviceId, secret: &str) -> Result<(), String> {
        let replies = self
            .dynsec(vec![
                json!({"command": "getClient", "username": device.to_string()}),
            ])
            .await?;
        match replies.first().and_then(|r| r.error.as_deref()) {
            None => return Ok(()),
            Some("Client not found") => {}
            Some(error) => return Err(format!("getClient: {error}")),
        }
        // Revoked between its call and now? Then it must not come back.
        if !self.still_valid(device, secret).await {
            lock(&self.shared.provisioned).remove(&device);
            return Ok(());
        }
        self.provision(&device, secret).await?;
        // A revocation that ran while the client was being made deleted
        // nothing, or deleted it already: look again after.
        if !self.still_valid(device, secret).await {
            lock(&self.shared.removed).remove(&device);
            self.remove(&device).await;
        }
        Ok(())
    }

    async fn still_valid(&self, device: DeviceId, secret: &str) -> bool {
        let auth = self.shared.device_auth.clone();
        let secret = secret.to_string();
        tokio::task::spawn_blocking(move || auth.authenticate(&device, &secret))
            .await
            .unwrap_or(false)
    }

    /// Cuts a revoked device off: deletes its client (Mosquitto closes the
    /// connection at once and refuses the next login) and then its role, in
    /// that order. Mosquitto sends no Last Will for this kick: the server
    /// records the device offline and clears its retained presence.
    /// With HTTP hooks the broker refuses the device's next login (the hooks
    /// ask the database); a connected device stays until it reconnects.
    pub(crate) async fn remove(&self, device: &DeviceId) {
        if !lock(&self.shared.removed).insert(*device) {
            return;
        }
        lock(&self.shared.provisioned).remove(device);
        if self.shared.auth != ExternalAuth::MosquittoDynsec {
            info!(%device, broker = %self.broker, "revoked device: the external MQTT broker refuses its next login");
            return;
        }
        let user = device.to_string();
        let replies = self
            .dynsec(vec![
                json!({"command": "deleteClient", "username": user}),
                json!({"command": "deleteRole", "rolename": role_name(device)}),
            ])
            .await;
        let failed = match replies {
            Ok(replies) => replies.iter().find_map(|r| match r.error.as_deref() {
                None | Some("Client not found") | Some("Role not found") => None,
                Some(error) => Some(format!("{}: {error}", r.command)),
            }),
            Err(error) => Some(error),
        };
        if let Some(error) = failed {
            lock(&self.shared.removed).remove(device);
            warn!(%device, error, "could not remove a revoked device from the external MQTT broker; trying again");
            return;
        }
        info!(%device, "revoked device removed from the external MQTT broker");
        // an empty retained message deletes the retained "online"
        if let Err(e) = self.client.try_publish(
            mqtt::presence_topic(device),
            QoS::AtLeastOnce,
            true,
            Vec::new(),
        ) {
            debug!(%device, error = %e, "retained presence not cleared");
        }
        let _ = self.shared.presence_tx.send((*device, false));
    }
}

enum FirstError {
    Connection(rumqttc::ConnectionError),
    Setup(&'static str),
}

/// Polls until the broker accepted the login and answered the subscriptions.
async fn first_session(
    eventloop: &mut EventLoop,
    client: &AsyncClient,
    shared: &Shared,
) -> Result<(), FirstError> {
    loop {
        match eventloop.poll().await.map_err(FirstError::Connection)? {
            Event::Incoming(Packet::ConnAck(_)) => {
                client
                    .try_subscribe_many(filters(shared.auth))
                    .map_err(|_| FirstError::Setup("cannot subscribe"))?;
            }
            Event::Incoming(Packet::SubAck(ack)) => {
                let refused: Vec<bool> = ack
                    .return_codes
                    .iter()
                    .map(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure))
                    .collect();
                if refused.first() == Some(&true) {
                    warn!(
                        "the external MQTT broker refused the presence subscription; device presence is not recorded"
                    );
                }
                if refused.get(1) == Some(&true) {
                    return Err(FirstError::Setup(
                        "the server's MQTT login may not read the dynamic-security answers: give it the plugin's admin role",
                    ));
                }
                return Ok(());
            }
            Event::Incoming(Packet::Publish(p)) => incoming(shared, &p),
            _ => {}
        }
    }
}

/// Keeps the connection alive, reconnecting with backoff and subscribing
/// again (clean sessions); hands incoming messages to [`incoming`].
async fn drive(mut eventloop: EventLoop, client: AsyncClient, shared: Arc<Shared>, broker: String) {
    const MAX_BACKOFF: Duration = Duration::from_secs(30);
    let mut backoff = Duration::from_secs(1);
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                info!(%broker, "reconnected to external MQTT broker");
                backoff = Duration::from_secs(1);
                // The broker may have restarted with other logins (an empty or
                // restored file): check each device again at its next call,
                // remove each revoked device again at the next sweep.
                lock(&shared.provisioned).clear();
                lock(&shared.removed).clear();
                if let Err(e) = client.try_subscribe_many(filters(shared.auth)) {
                    warn!(%broker, error = %e, "could not subscribe again");
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => incoming(&shared, &p),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                debug!(%broker, "MQTT client disconnecting");
                return;
            }
            Ok(_) => {}
            Err(e) => {
                warn!(%broker, error = %e, retry_in = ?backoff, "external MQTT connection lost");
                // answers in flight are lost with the session
                lock(&shared.pending).clear();
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// A dynamic-security answer to its waiting request, or a device's presence
/// to the store.
fn incoming(shared: &Shared, p: &rumqttc::Publish) {
    if p.topic == DYNSEC_RESPONSE_TOPIC {
        let Ok(replies) = serde_json::from_slice::<Replies>(&p.payload) else {
            warn!("unreadable dynamic-security answer");
            return;
        };
        let Some(correlation) = replies
            .responses
            .first()
            .and_then(|r| r.correlation.clone())
        else {
            return; // another admin's request (mosquitto_ctrl)
        };
        if let Some(tx) = lock(&shared.pending).remove(&correlation) {
            let _ = tx.send(replies.responses);
        }
        return;
    }
    let Some(device) = presence_device(&p.topic) else {
        return;
    };
    if p.payload.is_empty() {
        return; // a retained presence cleared
    }
    match serde_json::from_slice::<Presence>(&p.payload) {
        Ok(presence) => {
            let _ = shared
                .presence_tx
                .send((device, presence == Presence::Online));
        }
        Err(_) => debug!(%device, "unreadable presence payload"),
    }
}

/// The device of `kring/v1/devices/{id}/presence` (the broker's ACL lets a
/// device publish only there for itself).
fn presence_device(topic: &str) -> Option<DeviceId> {
    let id = topic
        .strip_prefix(mqtt::TOPIC_ROOT)?
        .strip_prefix('/')?
        .strip_suffix("/presence")?;
    let device: DeviceId = id.parse().ok()?;
    (mqtt::presence_topic(&device) == topic).then_some(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_topics_name_their_device() {
        let d = DeviceId::new();
        assert_eq!(presence_device(&mqtt::presence_topic(&d)), Some(d));
        assert_eq!(presence_device(&mqtt::nudge_topic(&d)), None);
        assert_eq!(presence_device("kring/v1/devices/x/presence"), None);
        let upper = mqtt::presence_topic(&d).to_uppercase();
        assert_eq!(presence_device(&upper), None);
    }

    #[test]
    fn replies_keep_their_correlation() {
        let r: Replies = serde_json::from_str(
            r#"{"responses":[{"command":"createRole","correlationData":"s-1"},
                {"command":"createClient","error":"Client already exists","correlationData":"s-1"}]}"#,
        )
        .expect("parse");
        assert_eq!(r.responses.len(), 2);
        assert_eq!(
            r.responses[1].error.as_deref(),
            Some("Client already exists")
        );
        assert_eq!(r.responses[0].correlation.as_deref(), Some("s-1"));
    }
}

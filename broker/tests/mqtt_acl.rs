//! The embedded MQTT broker against real rumqttc (MQTT 3.1.1, and 5 where
//! noted) clients on loopback: login rules, topic ACLs, nudges, presence,
//! retained messages, kick.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kring_broker::{Broker, BrokerConfig, BrokerError, DeviceAuth, ExternalAuth, ExternalConfig};
use kring_protocol::DeviceId;
use kring_protocol::mqtt::{self, Nudge, Presence};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, LastWill, MqttOptions, Packet, QoS,
    SubscribeReasonCode,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Bound for anything that should happen.
const WAIT: Duration = Duration::from_secs(5);
/// How long to watch for something that must not happen.
const QUIET: Duration = Duration::from_millis(700);

// ---------------------------------------------------------------- test auth

struct Dev {
    secret: String,
    revoked: bool,
}

#[derive(Default)]
struct TestAuth {
    devices: Mutex<HashMap<DeviceId, Dev>>,
    presence: Mutex<Vec<(DeviceId, bool)>>,
}

impl TestAuth {
    fn add_device(&self) -> (DeviceId, String) {
        let id = DeviceId::new();
        let secret = format!("secret-{}", DeviceId::new());
        self.devices.lock().expect("devices lock").insert(
            id,
            Dev {
                secret: secret.clone(),
                revoked: false,
            },
        );
        (id, secret)
    }

    fn revoke(&self, id: &DeviceId) {
        if let Some(dev) = self.devices.lock().expect("devices lock").get_mut(id) {
            dev.revoked = true;
        }
    }

    fn presence_of(&self, id: &DeviceId) -> Vec<bool> {
        self.presence
            .lock()
            .expect("presence lock")
            .iter()
            .filter(|(d, _)| d == id)
            .map(|(_, online)| *online)
            .collect()
    }

    /// Waits until `pred` holds for the presence events of `id`.
    async fn wait_presence(&self, id: &DeviceId, pred: impl Fn(&[bool]) -> bool) -> Vec<bool> {
        let waited = timeout(WAIT, async {
            loop {
                let events = self.presence_of(id);
                if pred(&events) {
                    return events;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        match waited {
            Ok(events) => events,
            Err(_) => panic!("presence never matched, events: {:?}", self.presence_of(id)),
        }
    }
}

impl DeviceAuth for TestAuth {
    fn authenticate(&self, device: &DeviceId, secret: &str) -> bool {
        self.devices
            .lock()
            .expect("devices lock")
            .get(device)
            .is_some_and(|d| !d.revoked && d.secret == secret)
    }

    fn presence_changed(&self, device: &DeviceId, online: bool) {
        self.presence
            .lock()
            .expect("presence lock")
            .push((*device, online));
    }
}

// ---------------------------------------------------------------- helpers

async fn start() -> (Broker, Arc<TestAuth>, SocketAddr) {
    let auth = Arc::new(TestAuth::default());
    let cfg = BrokerConfig {
        listen: Some("127.0.0.1:0".parse().expect("literal address")),
        tls: None,
    };
    let broker = Broker::start_embedded(cfg, auth.clone())
        .await
        .expect("embedded broker starts");
    let addr = broker.local_addr().expect("embedded broker has an address");
    assert_ne!(addr.port(), 0, "real port reported");
    (broker, auth, addr)
}

fn opts(addr: SocketAddr, client_id: &str, creds: Option<(&str, &str)>) -> MqttOptions {
    let mut o = MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
    o.set_keep_alive(Duration::from_secs(30));
    o.set_clean_session(true);
    if let Some((user, pass)) = creds {
        o.set_credentials(user, pass);
    }
    o
}

fn device_opts(addr: SocketAddr, id: &DeviceId, secret: &str) -> MqttOptions {
    let id = id.to_string();
    opts(addr, &id, Some((&id, secret)))
}

/// A connected client whose event loop runs in a task; incoming packets and
/// the final connection error arrive on `events`. The loop stops at the first
/// error, so a closed connection is not silently reopened.
struct Client {
    client: AsyncClient,
    events: mpsc::UnboundedReceiver<Result<Packet, String>>,
    pump: JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

/// Connects; `Err` is how the broker refused (or failed) the connection.
async fn try_connect(o: MqttOptions) -> Result<Client, ConnectionError> {
    let (client, mut el) = AsyncClient::new(o, 16);
    match timeout(WAIT, el.poll()).await.expect("CONNACK in time") {
        Ok(Event::Incoming(Packet::ConnAck(_))) => {}
        Ok(other) => panic!("expected CONNACK, got {other:?}"),
        Err(e) => return Err(e),
    }
    let (tx, events) = mpsc::unbounded_channel();
    let pump = tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(p)) => {
                    let _ = tx.send(Ok(p));
                }
                // rmqtt 0.24 keeps the socket open after a 3.1.1 DISCONNECT
                // and waits for the client to close it, as the spec says the
                // client must; rumqttc leaves that to whoever drops the
                // event loop. Do it here, like a real device would.
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                    let _ = tx.send(Err("disconnected by the client".to_string()));
                    return;
                }
                Ok(Event::Outgoing(_)) => {}
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            }
        }
    });
    Ok(Client {
        client,
        events,
        pump,
    })
}

/// Connects, retrying briefly while the broker answers "service unavailable":
/// rmqtt says that while it still tears down the same client id's previous
/// session, and a real device simply reconnects a moment later too.
async fn connect(o: MqttOptions) -> Client {
    for _ in 0..50 {
        match try_connect(o.clone()).await {
            Ok(c) => return c,
            Err(ConnectionError::ConnectionRefused(ConnectReturnCode::ServiceUnavailable)) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("connection refused: {e}"),
        }
    }
    panic!("the broker stayed unavailable for 5 s")
}

fn refusal(r: Result<Client, ConnectionError>) -> ConnectReturnCode {
    match r {
        Ok(_) => panic!("connection was accepted"),
        Err(ConnectionError::ConnectionRefused(code)) => code,
        Err(e) => panic!("expected a CONNACK refusal, got {e}"),
    }
}

impl Client {
    /// Subscribes to each filter in one SUBSCRIBE and returns the SUBACK codes.
    async fn subscribe(&mut self, filters: &[String]) -> Vec<SubscribeReasonCode> {
        let subs = filters
            .iter()
            .map(|f| rumqttc::SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
        self.client
            .subscribe_many(subs)
            .await
            .expect("subscribe queued");
        let got = timeout(WAIT, async {
            loop {
                match self.events.recv().await {
                    Some(Ok(Packet::SubAck(ack))) => return ack.return_codes,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => panic!("connection lost while subscribing: {e}"),
                    None => panic!("event loop ended while subscribing"),
                }
            }
        })
        .await;
        got.expect("SUBACK in time")
    }

    /// The next PUBLISH on `topic` within `within`, if any.
    async fn publish_on(&mut self, topic: &str, within: Duration) -> Option<rumqttc::Publish> {
        timeout(within, async {
            loop {
                match self.events.recv().await {
                    Some(Ok(Packet::Publish(p))) if p.topic == topic => return Some(p),
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return None,
                }
            }
        })
        .await
        .ok()
        .flatten()
    }

    /// Any PUBLISH at all within `within`.
    async fn any_publish(&mut self, within: Duration) -> Option<rumqttc::Publish> {
        timeout(within, async {
            loop {
                match self.events.recv().await {
                    Some(Ok(Packet::Publish(p))) => return Some(p),
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        std::future::pending::<()>().await;
                    }
                }
            }
        })
        .await
        .ok()
        .flatten()
    }

    /// True when the connection ends within `within`.
    async fn closed_within(&mut self, within: Duration) -> bool {
        timeout(within, async {
            loop {
                match self.events.recv().await {
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return,
                }
            }
        })
        .await
        .is_ok()
    }

    async fn publish(&self, topic: &str, retain: bool, payload: Vec<u8>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .await
            .expect("publish queued");
    }

    /// Publishes at QoS 1 and waits for the PUBACK: the broker has handled
    /// (and, if retained, stored) the message.
    async fn publish_acked(&mut self, topic: &str, retain: bool, payload: Vec<u8>) {
        self.publish(topic, retain, payload).await;
        let acked = timeout(WAIT, async {
            loop {
                match self.events.recv().await {
                    Some(Ok(Packet::PubAck(_))) => return,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => panic!("connection lost while publishing: {e}"),
                    None => panic!("event loop ended while publishing"),
                }
            }
        })
        .await;
        acked.expect("PUBACK in time");
    }

    /// Closes the connection cleanly (DISCONNECT) and waits until it is gone.
    async fn disconnect(mut self) {
        self.client.disconnect().await.expect("disconnect queued");
        assert!(self.closed_within(WAIT).await, "connection closed");
    }
}

fn granted(codes: &[SubscribeReasonCode]) -> Vec<bool> {
    codes
        .iter()
        .map(|c| matches!(c, SubscribeReasonCode::Success(_)))
        .collect()
}

// ---------------------------------------------------------------- login

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_login_is_accepted() {
    let (_broker, auth, addr) = start().await;
    let (id, secret) = auth.add_device();
    let _c = connect(device_opts(addr, &id, &secret)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_logins_are_refused() {
    let (_broker, auth, addr) = start().await;
    let (id, secret) = auth.add_device();
    let (revoked, revoked_secret) = auth.add_device();
    auth.revoke(&revoked);
    let (other, _) = auth.add_device();
    let id_s = id.to_string();

    let wrong_secret = refusal(try_connect(device_opts(addr, &id, "not-the-secret")).await);
    assert_eq!(wrong_secret, ConnectReturnCode::BadUserNamePassword);

    let unknown = DeviceId::new();
    let r = refusal(try_connect(device_opts(addr, &unknown, &secret)).await);
    assert_eq!(r, ConnectReturnCode::BadUserNamePassword, "unknown device");

    let r = refusal(try_connect(device_opts(addr, &revoked, &revoked_secret)).await);
    assert_eq!(r, ConnectReturnCode::BadUserNamePassword, "revoked device");

    // Right credentials, but the client id is another device's: no session takeover.
    let r = refusal(try_connect(opts(addr, &other.to_string(), Some((&id_s, &secret)))).await);
    assert_eq!(r, ConnectReturnCode::NotAuthorized, "client id != username");
    let r = refusal(try_connect(opts(addr, "some-client", Some((&id_s, &secret)))).await);
    assert_eq!(r, ConnectReturnCode::NotAuthorized, "client id != username");

    let r = refusal(try_connect(opts(addr, &id_s, None)).await);
    assert_eq!(r, ConnectReturnCode::BadUserNamePassword, "no credentials");

    let r = refusal(try_connect(opts(addr, &id_s, Some((&id_s, "")))).await);
    assert_eq!(r, ConnectReturnCode::BadUserNamePassword, "empty password");

    let r = refusal(try_connect(opts(addr, "", Some(("", &secret)))).await);
    assert_eq!(r, ConnectReturnCode::BadUserNamePassword, "empty username");

    // Another spelling of the same UUID is not the device's client id.
    let upper = id_s.to_uppercase();
    let r = refusal(try_connect(opts(addr, &upper, Some((&upper, &secret)))).await);
    assert_eq!(
        r,
        ConnectReturnCode::BadUserNamePassword,
        "non-canonical id"
    );

    // And after all that, the right login still works.
    let _c = connect(device_opts(addr, &id, &secret)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn will_on_another_devices_topic_is_refused() {
    let (_broker, auth, addr) = start().await;
    let (id, secret) = auth.add_device();
    let (other, _) = auth.add_device();
    let offline = serde_json::to_vec(&Presence::Offline).expect("encode presence");

    for topic in [
        mqtt::presence_topic(&other),
        mqtt::nudge_topic(&other),
        "kring/v1/devices".to_string(),
        "$SYS/brokers".to_string(),
    ] {
        let mut o = device_opts(addr, &id, &secret);
        o.set_last_will(LastWill::new(
            topic.clone(),
            offline.clone(),
            QoS::AtLeastOnce,
            true,
        ));
        let r = refusal(try_connect(o).await);
        assert_eq!(r, ConnectReturnCode::NotAuthorized, "will on {topic}");
    }

    // The will the device is meant to use: its own presence, retained.
    let mut o = device_opts(addr, &id, &secret);
    o.set_last_will(LastWill::new(
        mqtt::presence_topic(&id),
        offline,
        QoS::AtLeastOnce,
        true,
    ));
    let _c = connect(o).await;
}

// ---------------------------------------------------------------- ACLs

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_only_to_own_topics() {
    let (_broker, auth, addr) = start().await;
    let (id, secret) = auth.add_device();
    let (other, _) = auth.add_device();
    let mut c = connect(device_opts(addr, &id, &secret)).await;

    let filters = [
        mqtt::nudge_topic(&id),
        mqtt::presence_topic(&id),
        mqtt::nudge_topic(&other),
        "#".to_string(),
        "$SYS/#".to_string(),
        format!("{}/+/nudge", mqtt::TOPIC_ROOT),
        format!("{}/#", mqtt::device_prefix(&id)),
        format!("$share/g/{}", mqtt::nudge_topic(&id)),
    ];
    let codes = c.subscribe(&filters).await;
    assert_eq!(
        granted(&codes),
        [true, true, false, false, false, false, false, false],
        "{codes:?}"
    );
    assert_eq!(codes[0], SubscribeReasonCode::Success(QoS::AtLeastOnce));

    // Refused subscriptions did not cost the connection.
    let codes = c.subscribe(&[mqtt::nudge_topic(&id)]).await;
    assert_eq!(granted(&codes), [true]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_to_another_devices_topic_is_not_delivered() {
    let (broker, auth, addr) = start().await;
    let (a, a_secret) = auth.add_device();
    let (b, b_secret) = auth.add_device();
    let ca = connect(device_opts(addr, &a, &a_secret)).await;
    let mut cb = connect(device_opts(addr, &b, &b_secret)).await;
    assert_eq!(
        granted(&cb.subscribe(&[mqtt::nudge_topic(&b)]).await),
        [true]
    );

    // A forges a nudge for B.
    let forged = serde_json::to_vec(&Nudge { seq: 666 }).expect("encode nudge");
    ca.publish(&mqtt::nudge_topic(&b), false, forged).await;
    assert!(
        cb.any_publish(QUIET).await.is_none(),
        "forged nudge reached B"
    );

    // B's subscription does work: the server's nudge gets through.
    broker
        .publish_nudge(&b, Nudge { seq: 7 })
        .await
        .expect("nudge published");
    let p = cb
        .publish_on(&mqtt::nudge_topic(&b), WAIT)
        .await
        .expect("server nudge reaches B");
    let nudge: Nudge = serde_json::from_slice(&p.payload).expect("nudge payload");
    assert_eq!(nudge, Nudge { seq: 7 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_publishes_retained_presence_to_own_topic() {
    let (_broker, auth, addr) = start().await;
    let (id, secret) = auth.add_device();
    let mut o = device_opts(addr, &id, &secret);
    let offline = serde_json::to_vec(&Presence::Offline).expect("encode presence");
    o.set_last_will(LastWill::new(
        mqtt::presence_topic(&id),
        offline,
        QoS::AtLeastOnce,
        true,
    ));
    let mut c = connect(o).await;
    assert_eq!(
        granted(&c.subscribe(&[mqtt::presence_topic(&id)]).await),
        [true]
    );

    let online = serde_json::to_vec(&Presence::Online).expect("encode presence");
    c.publish(&mqtt::presence_topic(&id), true, online.clone())
        .await;
    let p = c
        .publish_on(&mqtt::presence_topic(&id), WAIT)
        .await
        .expect("own retained publish accepted and delivered");
    assert_eq!(p.payload.as_ref(), online.as_slice());
    assert!(!c.closed_within(QUIET).await, "connection stays up");
}

// ---------------------------------------------------------------- nudges

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nudge_reaches_only_the_addressed_device() {
    let (broker, auth, addr) = start().await;
    let (a, a_secret) = auth.add_device();
    let (b, b_secret) = auth.add_device();
    let mut ca = connect(device_opts(addr, &a, &a_secret)).await;
    let mut cb = connect(device_opts(addr, &b, &b_secret)).await;
    assert_eq!(
        granted(&ca.subscribe(&[mqtt::nudge_topic(&a)]).await),
        [true]
    );
    assert_eq!(
        granted(&cb.subscribe(&[mqtt::nudge_topic(&b)]).await),
        [true]
    );

    broker
        .publish_nudge(&a, Nudge { seq: 42 })
        .await
        .expect("nudge published");

    let p = ca
        .publish_on(&mqtt::nudge_topic(&a), WAIT)
        .await
        .expect("A gets its nudge");
    assert_eq!(p.qos, QoS::AtLeastOnce);
    let nudge: Nudge = serde_json::from_slice(&p.payload).expect("nudge payload");
    assert_eq!(nudge, Nudge { seq: 42 });

    assert!(cb.any_publish(QUIET).await.is_none(), "B got A's nudge");

    // Nudging a device that is not connected is fine.
    broker
        .publish_nudge(&DeviceId::new(), Nudge { seq: 1 })
        .await
        .expect("nudge to nobody");
}

// ---------------------------------------------------------------- presence

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_follows_connect_and_disconnect() {
    let (_broker, auth, addr) = start().await;
    let (id, secret) = auth.add_device();

    let mut c = connect(device_opts(addr, &id, &secret)).await;
    auth.wait_presence(&id, |e| e == [true]).await;

    c.client.disconnect().await.expect("disconnect queued");
    assert!(c.closed_within(WAIT).await, "connection closed");
    auth.wait_presence(&id, |e| e == [true, false]).await;

    // A refused login is no presence.
    let r = refusal(try_connect(device_opts(addr, &id, "wrong")).await);
    assert_eq!(r, ConnectReturnCode::BadUserNamePassword);
    tokio::time::sleep(QUIET).await;
    assert_eq!(auth.presence_of(&id), [true, false]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_that_takes_over_keeps_device_online() {
    let (_broker, auth, addr) = start().await;
    let (id, secret) = auth.add_device();

    let mut first = connect(device_opts(addr, &id, &secret)).await;
    auth.wait_presence(&id, |e| e == [true]).await;

    // Same device again (e.g. after a network blip): the old session is
    // closed, and its "disconnected" must not mark the device offline.
    let second = connect(device_opts(addr, &id, &secret)).await;
    assert!(first.closed_within(WAIT).await, "old session closed");
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        auth.presence_of(&id).last(),
        Some(&true),
        "{:?}",
        auth.presence_of(&id)
    );

    drop(second);
    auth.wait_presence(&id, |e| e.last() == Some(&false)).await;
}

// ---------------------------------------------------------------- kick

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kick_closes_a_revoked_device_and_it_cannot_come_back() {
    let (broker, auth, addr) = start().await;
    let (id, secret) = auth.add_device();
    let (bystander, by_secret) = auth.add_device();
    let mut c = connect(device_opts(addr, &id, &secret)).await;
    let mut by = connect(device_opts(addr, &bystander, &by_secret)).await;
    auth.wait_presence(&id, |e| e == [true]).await;

    auth.revoke(&id);
    timeout(WAIT, broker.kick(&id)).await.expect("kick in time");
    assert!(c.closed_within(WAIT).await, "kicked device disconnected");
    auth.wait_presence(&id, |e| e == [true, false]).await;

    let r = refusal(try_connect(device_opts(addr, &id, &secret)).await);
    assert_eq!(r, ConnectReturnCode::BadUserNamePassword);

    // Only that device: the other one is still connected.
    assert!(!by.closed_within(QUIET).await, "bystander kept");

    // Kicking a device that is not connected is a quick no-op.
    timeout(WAIT, broker.kick(&DeviceId::new()))
        .await
        .expect("no-op kick in time");
    timeout(WAIT, broker.kick(&id))
        .await
        .expect("second kick in time");
}

// ---------------------------------------------------------------- lifecycle

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_brokers_in_one_process_are_independent() {
    let (broker1, auth1, addr1) = start().await;
    let (broker2, auth2, addr2) = start().await;
    assert_ne!(addr1, addr2);

    let (d1, s1) = auth1.add_device();
    // Known to broker 1 only.
    let r = refusal(try_connect(device_opts(addr2, &d1, &s1)).await);
    assert_eq!(r, ConnectReturnCode::BadUserNamePassword);

    let mut c1 = connect(device_opts(addr1, &d1, &s1)).await;
    assert_eq!(
        granted(&c1.subscribe(&[mqtt::nudge_topic(&d1)]).await),
        [true]
    );

    // Broker 2 has no subscriber: nothing reaches broker 1's client.
    broker2
        .publish_nudge(&d1, Nudge { seq: 1 })
        .await
        .expect("nudge on broker 2");
    assert!(c1.any_publish(QUIET).await.is_none(), "crossed brokers");
    broker1
        .publish_nudge(&d1, Nudge { seq: 2 })
        .await
        .expect("nudge on broker 1");
    assert!(c1.publish_on(&mqtt::nudge_topic(&d1), WAIT).await.is_some());
    assert!(auth2.presence_of(&d1).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_listening_and_closes_sessions() {
    let (broker, auth, addr) = start().await;
    let (id, secret) = auth.add_device();
    let mut c = connect(device_opts(addr, &id, &secret)).await;

    timeout(WAIT, broker.shutdown())
        .await
        .expect("shutdown in time");
    assert!(c.closed_within(WAIT).await, "session closed");
    match try_connect(device_opts(addr, &id, &secret)).await {
        Ok(_) => panic!("broker still accepts connections"),
        Err(ConnectionError::Io(_)) => {}
        Err(e) => panic!("expected connection refused, got {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_client_logs_in_and_publishes() {
    // The embedded broker stands in for Mosquitto; the server's client has
    // to pass the same login rules, so it logs in as a device here.
    let (_embedded, auth, addr) = start().await;
    let (id, secret) = auth.add_device();
    let id_s = id.to_string();
    let url = format!("mqtt://{addr}");

    let cfg = |url: &str, password: &str| ExternalConfig {
        url: url.to_string(),
        client_id: id_s.clone(),
        username: id_s.clone(),
        password: password.to_string(),
        auth: ExternalAuth::HttpHooks,
    };
    let external = Broker::connect_external(cfg(&url, &secret), auth.clone())
        .await
        .expect("external login");
    assert_eq!(external.local_addr(), None);
    external
        .publish_nudge(&id, Nudge { seq: 3 })
        .await
        .expect("nudge handed to the client");
    auth.wait_presence(&id, |e| e == [true]).await;
    timeout(WAIT, external.shutdown())
        .await
        .expect("shutdown in time");
    auth.wait_presence(&id, |e| e == [true, false]).await;

    match Broker::connect_external(cfg(&url, "wrong"), auth.clone()).await {
        Err(BrokerError::Connect { .. }) => {}
        other => panic!("expected a refused login, got {other:?}"),
    }
    for bad in [
        "http://127.0.0.1:1883",
        "127.0.0.1:1883",
        "mqtt://",
        "mqtt://host:notaport",
        "mqtt://user:pw@127.0.0.1:1883",
        "mqtt://127.0.0.1:1883/path",
    ] {
        match Broker::connect_external(cfg(bad, &secret), auth.clone()).await {
            Err(BrokerError::InvalidUrl(_)) => {}
            other => panic!("{bad}: expected InvalidUrl, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- retained

fn presence_payload(p: Presence) -> Vec<u8> {
    serde_json::to_vec(&p).expect("encode presence")
}

/// Logs `id` in with its retained will "offline" on its presence topic.
fn device_opts_with_will(addr: SocketAddr, id: &DeviceId, secret: &str) -> MqttOptions {
    let mut o = device_opts(addr, id, secret);
    o.set_last_will(LastWill::new(
        mqtt::presence_topic(id),
        presence_payload(Presence::Offline),
        QoS::AtLeastOnce,
        true,
    ));
    o
}

/// A fresh (clean) session of `id` subscribes to its presence topic and
/// returns the retained message it gets, if any.
async fn retained_presence(addr: SocketAddr, id: &DeviceId, secret: &str) -> Option<Vec<u8>> {
    let topic = mqtt::presence_topic(id);
    let mut c = connect(device_opts(addr, id, secret)).await;
    assert_eq!(
        granted(&c.subscribe(std::slice::from_ref(&topic)).await),
        [true]
    );
    let p = c.publish_on(&topic, QUIET).await?;
    assert!(
        p.retain,
        "a stored message is delivered with the retain flag"
    );
    assert!(
        c.publish_on(&topic, QUIET).await.is_none(),
        "only one retained message per topic"
    );
    c.disconnect().await;
    Some(p.payload.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_presence_is_kept_for_later_subscribers() {
    let (_broker, auth, addr) = start().await;
    let (id, secret) = auth.add_device();
    let topic = mqtt::presence_topic(&id);
    let online = presence_payload(Presence::Online);

    let mut c = connect(device_opts(addr, &id, &secret)).await;
    c.publish_acked(&topic, true, online.clone()).await;
    c.disconnect().await;

    // A new clean session, nothing queued: the message comes from the store.
    assert_eq!(
        retained_presence(addr, &id, &secret).await.as_deref(),
        Some(online.as_slice())
    );
    // Delivered again to the next subscriber: still kept.
    assert_eq!(
        retained_presence(addr, &id, &secret).await.as_deref(),
        Some(online.as_slice())
    );

    // An empty retained publish deletes.
    let mut c = connect(device_opts(addr, &id, &secret)).await;
    c.publish_acked(&topic, true, Vec::new()).await;
    c.disconnect().await;
    assert_eq!(retained_presence(addr, &id, &secret).await, None);

    // Not retained: passed on, not kept.
    let mut c = connect(device_opts(addr, &id, &secret)).await;
    c.publish_acked(&topic, false, online).await;
    c.disconnect().await;
    assert_eq!(retained_presence(addr, &id, &secret).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_will_replaces_presence_when_the_connection_drops() {
    let (_broker, auth, addr) = start().await;
    let (id, secret) = auth.add_device();
    let topic = mqtt::presence_topic(&id);

    let mut c = connect(device_opts_with_will(addr, &id, &secret)).await;
    c.publish_acked(&topic, true, presence_payload(Presence::Online))
        .await;
    auth.wait_presence(&id, |e| e == [true]).await;

    // The TCP connection goes away without a DISCONNECT.
    drop(c);
    // rmqtt publishes the will before it reports the disconnect.
    auth.wait_presence(&id, |e| e == [true, false]).await;

    assert_eq!(
        retained_presence(addr, &id, &secret).await.as_deref(),
        Some(presence_payload(Presence::Offline).as_slice())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_device_with_retained_will_is_accepted() {
    use rumqttc::v5::mqttbytes::QoS as QoS5;
    use rumqttc::v5::mqttbytes::v5::{LastWill as LastWill5, Packet as Packet5};
    use rumqttc::v5::{AsyncClient as AsyncClient5, Event as Event5, MqttOptions as MqttOptions5};

    let (_broker, auth, addr) = start().await;
    let (id, secret) = auth.add_device();
    let id_s = id.to_string();
    let topic = mqtt::presence_topic(&id);

    let mut o = MqttOptions5::new(id_s.clone(), addr.ip().to_string(), addr.port());
    o.set_keep_alive(Duration::from_secs(30));
    o.set_clean_start(true);
    o.set_credentials(id_s.clone(), secret.clone());
    o.set_last_will(LastWill5::new(
        topic.clone(),
        presence_payload(Presence::Offline),
        QoS5::AtLeastOnce,
        true,
        None,
    ));
    let (client, mut el) = AsyncClient5::new(o, 16);
    let connack = match timeout(WAIT, el.poll()).await.expect("CONNACK in time") {
        Ok(Event5::Incoming(Packet5::ConnAck(ack))) => ack,
        Ok(other) => panic!("expected CONNACK, got {other:?}"),
        Err(e) => panic!("MQTT 5 device with a retained will refused: {e}"),
    };
    let retain_available = connack.properties.and_then(|p| p.retain_available);
    assert_ne!(
        retain_available,
        Some(0),
        "CONNACK says retain is available"
    );

    // It can publish its retained presence too.
    client
        .publish(
            topic.clone(),
            QoS5::AtLeastOnce,
            true,
            presence_payload(Presence::Online),
        )
        .await
        .expect("publish queued");
    let acked = timeout(WAIT, async {
        loop {
            match el.poll().await {
                Ok(Event5::Incoming(Packet5::PubAck(ack))) => return ack,
                Ok(_) => {}
                Err(e) => panic!("MQTT 5 connection lost: {e}"),
            }
        }
    })
    .await
    .expect("PUBACK in time");
    assert_eq!(
        acked.reason,
        rumqttc::v5::mqttbytes::v5::PubAckReason::Success
    );
    assert_eq!(
        retained_presence_after_drop(addr, &auth, &id, &secret, el).await,
        Some(presence_payload(Presence::Offline))
    );
}

/// Drops an MQTT 5 connection without DISCONNECT, waits for the broker to
/// notice, and reads the retained presence back.
async fn retained_presence_after_drop(
    addr: SocketAddr,
    auth: &TestAuth,
    id: &DeviceId,
    secret: &str,
    el: rumqttc::v5::EventLoop,
) -> Option<Vec<u8>> {
    auth.wait_presence(id, |e| e == [true]).await;
    drop(el);
    auth.wait_presence(id, |e| e == [true, false]).await;
    retained_presence(addr, id, secret).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_presence_of_another_device_is_not_delivered() {
    let (_broker, auth, addr) = start().await;
    let (a, a_secret) = auth.add_device();
    let (b, b_secret) = auth.add_device();

    let mut ca = connect(device_opts_with_will(addr, &a, &a_secret)).await;
    ca.publish_acked(
        &mqtt::presence_topic(&a),
        true,
        presence_payload(Presence::Online),
    )
    .await;

    let mut cb = connect(device_opts(addr, &b, &b_secret)).await;
    let codes = cb
        .subscribe(&[
            mqtt::presence_topic(&a),
            format!("{}/+/presence", mqtt::TOPIC_ROOT),
            "#".to_string(),
            mqtt::presence_topic(&b),
        ])
        .await;
    assert_eq!(granted(&codes), [false, false, false, true], "{codes:?}");
    assert!(
        cb.any_publish(QUIET).await.is_none(),
        "B got a retained message"
    );

    // A's will (retained "offline") is not delivered to B either.
    drop(ca);
    auth.wait_presence(&a, |e| e == [true, false]).await;
    assert!(cb.any_publish(QUIET).await.is_none(), "B got A's will");

    // A's presence is really stored: A itself sees it.
    assert_eq!(
        retained_presence(addr, &a, &a_secret).await.as_deref(),
        Some(presence_payload(Presence::Offline).as_slice())
    );
}

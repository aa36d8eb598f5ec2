//! The whole server with its embedded broker and the database behind the
//! broker's auth: enrolled devices log in with their own credentials, get a
//! QoS 1 nudge when their group changes, show presence, and are thrown out
//! when revoked.
#![allow(clippy::unwrap_used)]

use crate::common;

use chrono::Utc;
use common::{Device, Harness};
use kring_protocol::mqtt::{self, Nudge};
use kring_protocol::*;
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Packet, QoS};
use std::time::Duration;
use tokio::time::timeout;

pub(crate) const WAIT: Duration = Duration::from_secs(5);

fn options(h: &Harness, dev: &Device) -> MqttOptions {
    device_options(dev, h.server().mqtt_addr.unwrap().port())
}

/// The device's own login at a broker on 127.0.0.1:`port`, with its retained
/// Last Will "offline", as the sync engine connects.
pub(crate) fn device_options(dev: &Device, port: u16) -> MqttOptions {
    let id = dev.id.to_string();
    let mut o = MqttOptions::new(id.clone(), "127.0.0.1", port);
    o.set_credentials(id, dev.mqtt_password());
    o.set_keep_alive(Duration::from_secs(5));
    o.set_clean_session(true);
    o.set_last_will(LastWill::new(
        mqtt::presence_topic(&dev.id),
        "\"offline\"",
        QoS::AtLeastOnce,
        true,
    ));
    o
}

/// Connects and subscribes to the device's nudge topic; returns once subscribed.
pub(crate) async fn connect(h: &Harness, dev: &Device) -> (AsyncClient, EventLoop) {
    let (client, mut events) = AsyncClient::new(options(h, dev), 16);
    let granted = subscribe(&client, &mut events, &[mqtt::nudge_topic(&dev.id)]).await;
    assert_eq!(granted, [true], "own nudge topic");
    (client, events)
}

/// Subscribes to `topics` (polling the connection) and returns whether each
/// was granted.
pub(crate) async fn subscribe(
    client: &AsyncClient,
    events: &mut EventLoop,
    topics: &[String],
) -> Vec<bool> {
    for t in topics {
        client.subscribe(t.clone(), QoS::AtLeastOnce).await.unwrap();
    }
    let mut granted = Vec::new();
    timeout(WAIT, async {
        while granted.len() < topics.len() {
            match events.poll().await {
                Ok(Event::Incoming(Packet::SubAck(ack))) => granted.extend(
                    ack.return_codes
                        .iter()
                        .map(|c| matches!(c, rumqttc::SubscribeReasonCode::Success(_))),
                ),
                Ok(_) => {}
                Err(e) => panic!("connection failed: {e}"),
            }
        }
    })
    .await
    .expect("SUBACK in time");
    granted
}

/// Publishes the device's retained presence "online", as the sync engine does.
pub(crate) async fn announce_online(client: &AsyncClient, device: &DeviceId) {
    client
        .publish(
            mqtt::presence_topic(device),
            QoS::AtLeastOnce,
            true,
            "\"online\"",
        )
        .await
        .unwrap();
}

/// True when the broker closes this connection within [`WAIT`].
pub(crate) async fn closed_in_time(events: &mut EventLoop) -> bool {
    timeout(WAIT, async {
        loop {
            if events.poll().await.is_err() {
                return;
            }
        }
    })
    .await
    .is_ok()
}

/// True when the broker refuses this login (or drops the connection).
pub(crate) async fn login_refused(opts: MqttOptions) -> bool {
    let (_c, mut e) = AsyncClient::new(opts, 4);
    timeout(WAIT, async {
        loop {
            match e.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    return ack.code != rumqttc::ConnectReturnCode::Success;
                }
                Ok(_) => {}
                Err(_) => return true,
            }
        }
    })
    .await
    .unwrap()
}

/// A new parent (`email`) writes a message about the group's first child;
/// the server nudges the group, as the portal does.
pub(crate) async fn parent_writes(
    h: &Harness,
    email: &str,
) -> kring_server::store::Created<MessageId> {
    let parent = h
        .store()
        .create_parent(
            h.org,
            email.into(),
            "Anouk".into(),
            "geheim-wachtwoord".into(),
        )
        .await
        .unwrap();
    let created = h
        .store()
        .parent_message(
            kring_server::store::NewParentMessage {
                group: h.group,
                child: h.kids[0],
                parent,
                parent_name: "Anouk".into(),
                body: "Oma haalt op.".into(),
            },
            Utc::now(),
        )
        .await
        .unwrap();
    h.server().state.nudge_changed(&created.changed);
    created
}

/// The next nudge within [`WAIT`].
pub(crate) async fn next_nudge(events: &mut EventLoop) -> Nudge {
    next_nudge_within(events, WAIT).await
}

/// The next nudge within `wait`.
pub(crate) async fn next_nudge_within(events: &mut EventLoop, wait: Duration) -> Nudge {
    timeout(wait, async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    assert_eq!(p.qos, QoS::AtLeastOnce);
                    return serde_json::from_slice(&p.payload).unwrap();
                }
                Ok(_) => {}
                Err(e) => panic!("connection failed: {e}"),
            }
        }
    })
    .await
    .expect("a nudge in time")
}

#[tokio::test]
async fn group_changes_ring_the_devices_of_that_group_only() {
    let h = Harness::start().await;
    let a = h.enroll().await;
    let b = h.enroll().await;
    let other = h.enroll_in(h.other_group).await;
    let (_ca, mut ea) = connect(&h, &a).await;
    let (_cb, mut eb) = connect(&h, &b).await;
    let (_co, mut eo) = connect(&h, &other).await;

    // a parent writes to the group (the portal's path: org write, then nudge)
    let kring_server::store::Created { id: msg, changed } =
        parent_writes(&h, "ouder@example.nl").await;
    let na = next_nudge(&mut ea).await;
    let nb = next_nudge(&mut eb).await;
    assert_eq!(na.seq, changed[0].seq);
    assert_eq!(nb.seq, changed[0].seq);
    // the nudge is only a doorbell: the feed has the message
    let page: FeedPage = h
        .get(&a, &format!("/api/v1/feed?since={}", na.seq - 1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        page.changes
            .iter()
            .any(|c| matches!(&c.kind, ChangeKind::Message(m) if m.id == msg))
    );
    // the other group's device hears nothing
    let quiet = timeout(Duration::from_millis(700), async {
        loop {
            if let Ok(Event::Incoming(Packet::Publish(_))) = eo.poll().await {
                return;
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "a device of another group was nudged");

    // a device's own push (read receipt) also rings the group
    let receipt = PushItem::ReadReceipt(ReadReceiptItem {
        id: ReadReceiptId::new(),
        message_id: msg,
        staff_id: Some(h.staff),
    });
    let resp = h.push(&a, &receipt).await;
    assert_eq!(resp.status(), 200);
    let r: PushReceipt = resp.json().await.unwrap();
    assert_eq!(next_nudge(&mut eb).await.seq, r.seq);
}

#[tokio::test]
async fn presence_and_revocation() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let online = async |h: &Harness| {
        h.count(&format!(
            "SELECT online FROM devices WHERE id = '{}'",
            dev.id
        ))
        .await
    };
    let (client, mut events) = connect(&h, &dev).await;
    announce_online(&client, &dev.id).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while online(&h).await != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "presence never went online"
        );
        let _ = timeout(Duration::from_millis(50), events.poll()).await;
    }
    // a wrong password for a real device is refused, and so is its API
    // secret (MQTT has a credential of its own: a login seen on the Wi-Fi
    // opens no API call)
    for wrong in ["wrong".to_string(), dev.secret.clone()] {
        let mut bad = options(&h, &dev);
        bad.set_credentials(dev.id.to_string(), wrong);
        bad.set_client_id(dev.id.to_string());
        assert!(login_refused(bad).await);
    }
    // ...and the MQTT password opens no API call
    let resp = h
        .http
        .get(h.url("/api/v1/feed"))
        .header(API_VERSION_HEADER, API_VERSION)
        .bearer_auth(dev.mqtt_password())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // revoke: the live session is closed, and a reconnect is refused
    assert!(h.server().state.revoke_device(dev.id).await.unwrap());
    assert!(
        closed_in_time(&mut events).await,
        "the revoked device's session stayed open"
    );
    assert!(
        login_refused(options(&h, &dev)).await,
        "a revoked device could reconnect"
    );
    assert_eq!(online(&h).await, 0);
}

/// The production mode: the embedded broker listens only for MQTT over
/// TLS. Enrollment tells the device so; a device trusting the certificate's
/// CA logs in with its MQTT password and hears the doorbell; plain MQTT gets
/// no session, and there is no plain listener at all.
#[tokio::test]
async fn the_doorbell_rings_over_tls_only() {
    let dir = tempfile::tempdir().unwrap();
    let tls = kring_server::store::testing::TestTls::make(dir.path()).unwrap();
    let h = Harness::start_with(|s| tls.configure(s)).await;
    let broker = h.server().state.broker.clone().unwrap();
    assert_eq!(broker.local_addr(), None, "a plain listener");
    let tls_port = broker.tls_addr().unwrap().port();
    let dev = h.enroll().await;
    assert!(dev.enrolled.mqtt.tls, "the device is told to use TLS");
    assert_eq!(dev.enrolled.mqtt.port, tls_port);
    // plain MQTT on the TLS port: no session
    assert!(login_refused(device_options(&dev, tls_port)).await);
    // TLS with an untrusted certificate (the system's roots): no session
    let mut untrusted = device_options(&dev, tls_port);
    untrusted.set_transport(rumqttc::Transport::tls_with_default_config());
    assert!(login_refused(untrusted).await);
    // TLS trusting the CA: the doorbell rings
    let mut o = device_options(&dev, tls_port);
    o.set_transport(rumqttc::Transport::tls(tls.ca_pem.clone(), None, None));
    let (client, mut events) = AsyncClient::new(o, 16);
    let granted = subscribe(&client, &mut events, &[mqtt::nudge_topic(&dev.id)]).await;
    assert_eq!(granted, [true]);
    let created = parent_writes(&h, "tls@example.nl").await;
    let nudge = next_nudge(&mut events).await;
    assert_eq!(nudge.seq, created.changed[0].seq);
    // and still only with the MQTT password
    let mut with_secret = device_options(&dev, tls_port);
    with_secret.set_transport(rumqttc::Transport::tls(tls.ca_pem.clone(), None, None));
    with_secret.set_credentials(dev.id.to_string(), dev.secret.clone());
    assert!(login_refused(with_secret).await);
}

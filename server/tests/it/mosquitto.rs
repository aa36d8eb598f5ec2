//! The external-broker mode against a real Mosquitto 2 with its
//! dynamic-security plugin: the server creates each enrolled device's login
//! there, nudges reach the device through it, a foreign subscription is
//! refused, presence follows the device's Last Will, and revocation deletes
//! the login, which cuts the device off at once.
#![allow(clippy::unwrap_used)]

use crate::common::mosquitto::Mosquitto;
use crate::common::{Device, Harness};
use crate::doorbell::{
    WAIT, announce_online, closed_in_time, device_options, login_refused, next_nudge, subscribe,
};
use kring_protocol::mqtt;
use rumqttc::{AsyncClient, EventLoop, MqttOptions, QoS};
use std::time::Duration;
use tokio::time::timeout;

fn options(m: &Mosquitto, dev: &Device) -> MqttOptions {
    // what the device was told at enrollment
    assert_eq!(dev.enrolled.mqtt.port, m.addr.port());
    device_options(dev, dev.enrolled.mqtt.port)
}

/// Connects as the device and subscribes to its nudges.
async fn connect(m: &Mosquitto, dev: &Device) -> (AsyncClient, EventLoop) {
    let (client, mut events) = AsyncClient::new(options(m, dev), 16);
    let granted = subscribe(&client, &mut events, &[mqtt::nudge_topic(&dev.id)]).await;
    assert_eq!(granted, [true], "own nudge topic");
    (client, events)
}

async fn online(h: &Harness, dev: &Device) -> i64 {
    h.count(&format!(
        "SELECT online FROM devices WHERE id = '{}'",
        dev.id
    ))
    .await
}

/// Polls `events` (keeping the connection alive) until the device's
/// recorded presence is `want`.
async fn wait_online(h: &Harness, dev: &Device, events: Option<&mut EventLoop>, want: i64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut events = events;
    while online(h, dev).await != want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "presence never became {want}"
        );
        match events.as_deref_mut() {
            Some(e) => {
                let _ = timeout(Duration::from_millis(50), e.poll()).await;
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// A parent writes to the group; the sequence the group's devices are rung with.
async fn parent_writes(h: &Harness, email: &str) -> i64 {
    crate::doorbell::parent_writes(h, email).await.changed[0].seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_dynsec_logins_nudges_presence_and_revocation() {
    let m = Mosquitto::start().await;
    let h = Harness::start_with(|s| m.configure(s)).await;
    assert_eq!(h.server().mqtt_addr, None, "no embedded broker");
    let a = h.enroll().await;
    let b = h.enroll().await;

    // enrolled devices log in with their own credentials at once
    let (ca, mut ea) = connect(&m, &a).await;
    let (_cb, mut eb) = connect(&m, &b).await;
    // another device's topics and wildcards are refused
    let foreign = [
        mqtt::nudge_topic(&b.id),
        format!("{}/+/nudge", mqtt::TOPIC_ROOT),
        "#".to_string(),
    ];
    assert_eq!(
        subscribe(&ca, &mut ea, &foreign).await,
        [false, false, false]
    );
    // a publish on another device's topic is dropped
    ca.publish(
        mqtt::nudge_topic(&b.id),
        QoS::AtLeastOnce,
        false,
        "{\"seq\":999}",
    )
    .await
    .unwrap();
    // a wrong password, the API secret, or another device's client id: refused
    for wrong in ["wrong".to_string(), a.secret.clone()] {
        let mut bad = options(&m, &a);
        bad.set_credentials(a.id.to_string(), wrong);
        assert!(login_refused(bad).await);
    }
    let mut borrowed = options(&m, &a);
    borrowed.set_client_id(b.id.to_string());
    assert!(login_refused(borrowed).await);

    // a parent's message rings both devices (and b never saw the forged one)
    let seq = parent_writes(&h, "ouder-a@example.nl").await;
    assert_eq!(next_nudge(&mut ea).await.seq, seq);
    assert_eq!(next_nudge(&mut eb).await.seq, seq);

    // presence: the retained "online", then the Last Will when the
    // connection dies without a goodbye
    announce_online(&ca, &a.id).await;
    wait_online(&h, &a, Some(&mut ea), 1).await;
    drop((ca, ea));
    wait_online(&h, &a, None, 0).await;
    let (ca, mut ea) = connect(&m, &a).await;
    announce_online(&ca, &a.id).await;
    wait_online(&h, &a, Some(&mut ea), 1).await;

    // revocation: the broker drops the session at once, refuses the next
    // login, and the server records the device offline
    assert!(h.server().state.revoke_device(a.id).await.unwrap());
    assert!(
        closed_in_time(&mut ea).await,
        "the revoked device's session stayed open"
    );
    assert!(
        login_refused(options(&m, &a)).await,
        "a revoked device logged in"
    );
    assert_eq!(online(&h, &a).await, 0);
    let gone = m.ctrl(&["listClients"]);
    assert!(
        !gone.contains(&a.id.to_string()),
        "client left behind: {gone}"
    );
    assert!(gone.contains(&b.id.to_string()));

    // the other device is untouched
    let seq = parent_writes(&h, "ouder-b@example.nl").await;
    assert_eq!(next_nudge(&mut eb).await.seq, seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_the_broker_does_not_know_is_provisioned_at_its_next_call() {
    let mut m = Mosquitto::start().await;
    let h = Harness::start_with(|s| m.configure(s)).await;
    let dev = h.enroll().await;
    let other = h.enroll().await;
    let (_c, _e) = connect(&m, &dev).await;
    // the broker comes back empty (a new machine, a lost file)
    m.restart_empty().await;
    assert!(login_refused(options(&m, &dev)).await);
    // once the server is back on the broker, the device's next API call
    // proves its secret and the server creates its login again
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let resp = h.get(&dev, "/api/v1/device").send().await.unwrap();
        assert_eq!(resp.status(), 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
        if !login_refused(options(&m, &dev)).await {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never provisioned again"
        );
    }
    let (_c, _e) = connect(&m, &dev).await;
    // a wrong secret provisions nothing
    let resp = h
        .http
        .get(h.url("/api/v1/device"))
        .header(
            kring_protocol::API_VERSION_HEADER,
            kring_protocol::API_VERSION,
        )
        .bearer_auth("not-the-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!m.ctrl(&["listClients"]).contains(&other.id.to_string()));
}

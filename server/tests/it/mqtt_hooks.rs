//! The HTTP auth/ACL hooks an external broker (EMQX, Mosquitto go-auth) calls
//! apply the same rules as the embedded broker.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::Harness;
use kring_protocol::mqtt;
use serde_json::{Value, json};

async fn hook(h: &Harness, path: &str, secret: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = h.http.post(h.url(path)).json(&body);
    if let Some(s) = secret {
        req = req.header("X-Kring-Hook-Secret", s);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn allowed(v: &Value) -> bool {
    let ok = v["ok"].as_bool().unwrap();
    assert_eq!(v["result"] == "allow", ok, "result and ok agree");
    ok
}

#[tokio::test]
async fn hooks_apply_the_device_rules() {
    let h = Harness::start_with(|s| {
        s.mqtt.hook_secret = Some("hook-geheim".into());
        s.mqtt.external_password = "server-geheim".into();
    })
    .await;
    let dev = h.enroll().await;
    let other = h.enroll().await;
    let id = dev.id.to_string();
    let s = Some("hook-geheim");
    // without or with a wrong hook secret: refused outright
    assert_eq!(
        hook(&h, "/internal/mqtt/auth", None, json!({"username": id}))
            .await
            .0,
        403
    );
    assert_eq!(
        hook(
            &h,
            "/internal/mqtt/auth",
            Some("nope"),
            json!({"username": id})
        )
        .await
        .0,
        403
    );
    // logins: with the MQTT password, never the API secret
    let (mine, theirs) = (dev.mqtt_password(), other.mqtt_password());
    let cases = [
        (
            json!({"username": id, "password": dev.secret, "clientid": id}),
            false,
        ),
        (
            json!({"username": id, "password": mine, "clientid": id}),
            true,
        ),
        (
            json!({"username": id, "password": "wrong", "clientid": id}),
            false,
        ),
        (
            json!({"username": id, "password": mine, "clientid": other.id.to_string()}),
            false,
        ),
        (
            json!({"username": id, "password": theirs, "clientid": id}),
            false,
        ),
        (
            json!({"username": "not-a-device", "password": "x", "clientid": "not-a-device"}),
            false,
        ),
        (
            json!({"username": id.to_uppercase(), "password": mine, "clientid": id.to_uppercase()}),
            false,
        ),
        (
            json!({"username": "kring-server", "password": "server-geheim"}),
            true,
        ),
        (
            json!({"username": "kring-server", "password": "wrong"}),
            false,
        ),
    ];
    for (i, (body, want)) in cases.into_iter().enumerate() {
        let (status, v) = hook(&h, "/internal/mqtt/auth", s, body).await;
        assert_eq!(status, 200);
        assert_eq!(allowed(&v), want, "login case {i}");
    }
    // topics
    let topics = [
        (mqtt::nudge_topic(&dev.id), true),
        (mqtt::presence_topic(&dev.id), true),
        (mqtt::nudge_topic(&other.id), false),
        ("#".to_string(), false),
        ("$SYS/#".to_string(), false),
        (format!("{}/+/nudge", mqtt::TOPIC_ROOT), false),
    ];
    for (topic, want) in topics {
        let (status, v) = hook(
            &h,
            "/internal/mqtt/acl",
            s,
            json!({"username": id, "clientid": id, "topic": topic, "action": "subscribe"}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(allowed(&v), want, "{topic}");
    }
    // a revoked device cannot log in through the hook either
    h.server().state.revoke_device(dev.id).await.unwrap();
    let (_, v) = hook(
        &h,
        "/internal/mqtt/auth",
        s,
        json!({"username": id, "password": mine, "clientid": id}),
    )
    .await;
    assert!(!allowed(&v));
}

#[tokio::test]
async fn hooks_are_off_without_a_secret() {
    let h = Harness::start().await;
    let (status, _) = hook(
        &h,
        "/internal/mqtt/auth",
        Some(""),
        json!({"username": "x"}),
    )
    .await;
    assert_eq!(status, 404);
}

//! MQTT doorbell topics and payloads. MQTT only rings the bell: the device then
//! pulls over HTTP, which is the truth.

use crate::DeviceId;
use serde::{Deserialize, Serialize};

/// Root of every device topic.
pub const TOPIC_ROOT: &str = "kring/v1/devices";

/// `kring/v1/devices/{device_id}`: the only subtree a device may use.
pub fn device_prefix(device: &DeviceId) -> String {
    format!("{TOPIC_ROOT}/{device}")
}

/// QoS 1 nudge from the server: "changes up to `seq` exist for your group".
pub fn nudge_topic(device: &DeviceId) -> String {
    format!("{}/nudge", device_prefix(device))
}

/// Retained presence of the device (`online` / `offline`, the last will).
pub fn presence_topic(device: &DeviceId) -> String {
    format!("{}/presence", device_prefix(device))
}

/// The device's MQTT password, derived from its device secret (SHA-256 of
/// the secret under a label of its own, hex). MQTT may cross the group
/// room's Wi-Fi in the clear; what it shows there opens nothing else: the
/// secret cannot be computed back from it, and the HTTP API refuses it (the
/// API takes only the secret itself, over TLS). The server keeps only a hash
/// of each.
pub fn password(device_secret: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"kring-mqtt-password-v1\0");
    h.update(device_secret.as_bytes());
    hex::encode(h.finalize())
}

/// Payload of a nudge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nudge {
    /// The group's change sequence at the time of the nudge.
    pub seq: i64,
}

/// Payload of the retained presence message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Offline,
}

/// The MQTT access rule, shared by the embedded broker and the HTTP hooks for
/// an external broker: a device may use only topics below its own prefix, with
/// no wildcards.
pub fn device_may_use_topic(device: &DeviceId, topic: &str) -> bool {
    if topic.contains(['#', '+']) || topic.starts_with('$') {
        return false;
    }
    let prefix = device_prefix(device);
    topic
        .strip_prefix(prefix.as_str())
        .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
}

#[cfg(test)]
mod password_tests {
    #[test]
    fn the_mqtt_password_is_not_the_secret_and_is_stable() {
        let p = super::password("geheim");
        assert_ne!(p, "geheim");
        assert_eq!(p, super::password("geheim"));
        assert_ne!(p, super::password("geheim2"));
        assert_eq!(p.len(), 64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_rule() {
        let me = DeviceId::new();
        let other = DeviceId::new();
        let cases = [
            (nudge_topic(&me), true),
            (presence_topic(&me), true),
            (nudge_topic(&other), false),
            ("#".to_string(), false),
            ("$SYS/#".to_string(), false),
            (format!("{}/#", device_prefix(&me)), false),
            (format!("{TOPIC_ROOT}/+/nudge"), false),
            (device_prefix(&me), false),
            (format!("{}/", device_prefix(&me)), false),
            (format!("{}x/nudge", device_prefix(&me)), false),
            (format!("$share/g/{}", nudge_topic(&me)), false),
        ];
        for (topic, allowed) in cases {
            assert_eq!(device_may_use_topic(&me, &topic), allowed, "{topic}");
        }
    }
}

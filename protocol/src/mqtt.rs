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

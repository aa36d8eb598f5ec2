use crate::{DeviceId, GroupId, LocationId, OrganisationId};
use serde::{Deserialize, Serialize};

/// `POST /api/v1/enroll`: the device trades a one-time enrollment code for its
/// own credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The code as shown to the location manager, e.g. `K7QM-2XPD` (case and dashes are ignored).
    pub code: String,
    /// A name for the device list, e.g. "Scherm Dolfijnen".
    pub device_name: String,
    /// The kiosk's version, shown in the device list.
    pub app_version: String,
}

/// Answer to a successful enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub device_id: DeviceId,
    /// The device's secret. Shown once; the server keeps only its hash. Sent
    /// afterwards as `Authorization: Bearer <secret>` and as the MQTT password.
    pub device_secret: String,
    pub group: GroupInfo,
    pub mqtt: MqttConnectInfo,
    /// The server's public key (`age1…`): the device seals what it saves to
    /// it ([`crate::seal`]). An older server sends none: nothing is sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal_to: Option<String>,
}

/// The group a device serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    pub id: GroupId,
    pub name: String,
    pub location_id: LocationId,
    pub location_name: String,
    pub organisation_id: OrganisationId,
    pub organisation_name: String,
    /// The organisation's IANA time zone: the device's "today" is a day
    /// there (see [`crate::Calendar`]). Servers before it was sent meant
    /// Europe/Amsterdam.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// The kind of care the group gives: it decides the ratio's table.
    /// Servers before it was sent meant dagopvang.
    #[serde(default)]
    pub care: GroupCare,
}

/// The kind of care a group gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupCare {
    /// Kinderdagverblijf (0 to 4 years).
    #[default]
    Dagopvang,
    /// Buitenschoolse opvang (4 to the end of primary school).
    Bso,
}

fn default_time_zone() -> String {
    crate::DEFAULT_TIME_ZONE.to_owned()
}

impl GroupInfo {
    /// The calendar of the group's location.
    pub fn calendar(&self) -> Result<crate::Calendar, crate::UnknownTimeZone> {
        crate::Calendar::from_name(&self.time_zone)
    }
}

/// Where and how the device reaches the MQTT doorbell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MqttConnectInfo {
    /// Host the device connects to (empty: the same host as the HTTP API).
    pub host: String,
    pub port: u16,
    /// The device's topic prefix, `kring/v1/devices/{device_id}`.
    pub topic_prefix: String,
    /// Connect with TLS (MQTT over TLS, the production mode). An older
    /// server sends none: plain MQTT.
    #[serde(default)]
    pub tls: bool,
}

//! Devices: enrollment codes, enrollment, credentials, revocation, presence.

use crate::db::{DbError, parse_id, time_str};
use crate::feed::load_group;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use kring_protocol::{DeviceId, GroupId, GroupInfo};
use rand::Rng;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

/// Alphabet of enrollment codes: 32 symbols without 0/O/1/I, so 5 bits each.
const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// 8 symbols = 40 bits of entropy (the requirement is at least 34).
const CODE_LEN: usize = 8;
/// How long an enrollment code is valid.
pub const CODE_TTL_MINUTES: i64 = 15;

/// A freshly made enrollment code, to show once.
#[derive(Debug, Clone)]
pub struct EnrollmentCode {
    /// As shown: `K7QM-2XPD`.
    pub code: String,
    pub group: GroupId,
    pub expires_at: DateTime<Utc>,
}

/// A device as authenticated by its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthedDevice {
    pub id: DeviceId,
    pub group: GroupId,
}

/// One row of the device list.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub id: DeviceId,
    pub name: String,
    pub group: GroupId,
    pub group_name: String,
    pub app_version: String,
    pub created_at: String,
    pub last_seen_at: Option<String>,
    pub online: bool,
    pub revoked_at: Option<String>,
    /// Items waiting in the device's outbox, as last reported.
    pub outbox_pending: Option<u32>,
}

/// Why an enrollment was refused. All of them look the same to the device
/// (one message), so that a guesser learns nothing.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("the enrollment code is unknown, used or expired")]
    InvalidCode,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for EnrollError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Db(e.into())
    }
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Uppercases and drops separators, so `k7qm 2xpd` and `K7QM-2XPD` match.
pub fn normalize_code(input: &str) -> String {
    input
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn new_code() -> String {
    let mut rng = rand::rng();
    let raw: String = (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect();
    format!("{}-{}", &raw[..4], &raw[4..])
}

/// A new device secret (also a portal session or reset token): 256 random bits, base64url.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Hash of a device secret as stored. The secret has 256 bits of entropy, so a
/// fast hash is right (a slow password hash would only cost every request).
pub fn secret_hash(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// Makes a single-use enrollment code for `group`, valid for `ttl`.
pub fn create_code(
    conn: &Connection,
    group: &GroupId,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<EnrollmentCode, DbError> {
    let code = new_code();
    let expires_at = now + ttl;
    conn.execute(
        "INSERT INTO enrollment_codes (code_hash, group_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![
            sha256_hex(normalize_code(&code).as_bytes()),
            group.to_string(),
            time_str(now),
            time_str(expires_at)
        ],
    )?;
    Ok(EnrollmentCode {
        code,
        group: *group,
        expires_at,
    })
}

/// Trades a code for a new device. The code is marked used in the same
/// transaction that creates the device, so it works once.
pub fn enroll(
    conn: &mut Connection,
    code: &str,
    name: &str,
    app_version: &str,
    now: DateTime<Utc>,
) -> Result<(DeviceId, String, GroupInfo), EnrollError> {
    let hash = sha256_hex(normalize_code(code).as_bytes());
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let group: Option<String> = tx
        .query_row(
            "SELECT group_id FROM enrollment_codes
             WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![hash, time_str(now)],
            |r| r.get(0),
        )
        .optional()?;
    let Some(group) = group else {
        return Err(EnrollError::InvalidCode);
    };
    let group: GroupId = parse_id("enrollment_codes.group_id", &group)?;
    let device = DeviceId::new();
    let secret = new_secret();
    tx.execute(
        "INSERT INTO devices (id, group_id, name, app_version, secret_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            device.to_string(),
            group.to_string(),
            name,
            app_version,
            secret_hash(&secret),
            time_str(now)
        ],
    )?;
    tx.execute(
        "UPDATE enrollment_codes SET used_at = ?2, device_id = ?3 WHERE code_hash = ?1",
        params![hash, time_str(now), device.to_string()],
    )?;
    let info = load_group(&tx, &group)?.ok_or(EnrollError::InvalidCode)?;
    tx.commit()?;
    Ok((device, secret, info))
}

/// The device whose secret this is, if it exists and is not revoked.
pub fn authenticate(conn: &Connection, secret: &str) -> Result<Option<AuthedDevice>, DbError> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT id, group_id FROM devices WHERE secret_hash = ?1 AND revoked_at IS NULL",
            params![secret_hash(secret)],
            |r| r.try_into(),
        )
        .optional()?;
    row.map(|(id, group)| {
        Ok(AuthedDevice {
            id: parse_id("devices.id", &id)?,
            group: parse_id("devices.group_id", &group)?,
        })
    })
    .transpose()
}

/// True when `device` exists, is not revoked and `secret` is its secret.
pub fn check_secret(conn: &Connection, device: &DeviceId, secret: &str) -> Result<bool, DbError> {
    Ok(authenticate(conn, secret)?.is_some_and(|d| d.id == *device))
}

/// Marks the device seen now (at most once a minute, to spare the SD card of nobody but us).
pub fn touch(conn: &Connection, device: &DeviceId, now: DateTime<Utc>) -> Result<(), DbError> {
    conn.execute(
        "UPDATE devices SET last_seen_at = ?2 WHERE id = ?1
         AND (last_seen_at IS NULL OR last_seen_at < ?3)",
        params![
            device.to_string(),
            time_str(now),
            time_str(now - Duration::minutes(1))
        ],
    )?;
    Ok(())
}

/// What a device reports about itself on a request (both optional headers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceReport {
    pub app_version: Option<String>,
    pub outbox_pending: Option<u32>,
}

/// Stores what the device reported (only what changed is written).
pub fn record_report(
    conn: &Connection,
    device: &DeviceId,
    report: &DeviceReport,
) -> Result<(), DbError> {
    if let Some(v) = &report.app_version {
        conn.execute(
            "UPDATE devices SET app_version = ?2 WHERE id = ?1 AND app_version != ?2",
            params![device.to_string(), v],
        )?;
    }
    if let Some(n) = report.outbox_pending {
        conn.execute(
            "UPDATE devices SET outbox_pending = ?2 WHERE id = ?1 AND outbox_pending IS NOT ?2",
            params![device.to_string(), n],
        )?;
    }
    Ok(())
}

pub fn set_online(
    conn: &Connection,
    device: &DeviceId,
    online: bool,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE devices SET online = ?2, last_seen_at = ?3 WHERE id = ?1",
        params![device.to_string(), online, time_str(now)],
    )?;
    Ok(())
}

/// Revokes a device: every later request gets 401. Returns false if unknown
/// or already revoked.
pub fn revoke(conn: &Connection, device: &DeviceId, now: DateTime<Utc>) -> Result<bool, DbError> {
    Ok(conn.execute(
        "UPDATE devices SET revoked_at = ?2, online = 0 WHERE id = ?1 AND revoked_at IS NULL",
        params![device.to_string(), time_str(now)],
    )? == 1)
}

/// Active (not revoked) devices of a group.
pub fn active_devices_of_group(
    conn: &Connection,
    group: &GroupId,
) -> Result<Vec<DeviceId>, DbError> {
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM devices WHERE group_id = ?1 AND revoked_at IS NULL")?
        .query_map(params![group.to_string()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ids.iter().map(|s| parse_id("devices.id", s)).collect()
}

/// Ids of revoked devices (the broker kicks any that are still connected).
pub fn revoked_devices(conn: &Connection) -> Result<Vec<DeviceId>, DbError> {
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM devices WHERE revoked_at IS NOT NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ids.iter().map(|s| parse_id("devices.id", s)).collect()
}

pub fn list(conn: &Connection) -> Result<Vec<DeviceRow>, DbError> {
    list_where(conn, None)
}

/// Devices of one organisation's groups.
pub fn list_for_org(
    conn: &Connection,
    org: &kring_protocol::OrganisationId,
) -> Result<Vec<DeviceRow>, DbError> {
    list_where(conn, Some(org))
}

fn list_where(
    conn: &Connection,
    org: Option<&kring_protocol::OrganisationId>,
) -> Result<Vec<DeviceRow>, DbError> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        bool,
        Option<String>,
        Option<u32>,
    );
    let rows: Vec<Row> = conn
        .prepare(
            "SELECT d.id, d.name, d.group_id, g.name, d.app_version, d.created_at,
                    d.last_seen_at, d.online, d.revoked_at, d.outbox_pending
             FROM devices d JOIN groups g ON g.id = d.group_id
             JOIN locations l ON l.id = g.location_id
             WHERE ?1 IS NULL OR l.organisation_id = ?1
             ORDER BY g.name, d.created_at",
        )?
        .query_map(params![org.map(|o| o.to_string())], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(
            |(
                id,
                name,
                group,
                group_name,
                app_version,
                created_at,
                last_seen_at,
                online,
                revoked_at,
                outbox_pending,
            )| {
                Ok(DeviceRow {
                    id: parse_id("devices.id", &id)?,
                    name,
                    group: parse_id("devices.group_id", &group)?,
                    group_name,
                    app_version,
                    created_at,
                    last_seen_at,
                    online,
                    revoked_at,
                    outbox_pending,
                })
            },
        )
        .collect()
}

/// The organisation a device belongs to (through its group), if the device exists.
pub fn device_org(conn: &Connection, device: &str) -> Result<Option<String>, DbError> {
    Ok(conn
        .query_row(
            "SELECT l.organisation_id FROM devices d JOIN groups g ON g.id = d.group_id
             JOIN locations l ON l.id = g.location_id WHERE d.id = ?1",
            params![device],
            |r| r.get(0),
        )
        .optional()?)
}

/// Finds a group by id or by (case-insensitive) name.
pub fn find_group(conn: &Connection, id_or_name: &str) -> Result<Option<GroupId>, DbError> {
    let row: Option<String> = conn
        .query_row(
            "SELECT id FROM groups WHERE id = ?1 OR lower(name) = lower(?1) LIMIT 1",
            params![id_or_name],
            |r| r.get(0),
        )
        .optional()?;
    row.map(|s| parse_id("groups.id", &s)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_enough_entropy_and_normalise() {
        let bits = (CODE_ALPHABET.len() as f64).log2() * CODE_LEN as f64;
        assert!(bits >= 34.0, "{bits} bits");
        let c = new_code();
        assert_eq!(c.len(), 9);
        assert_eq!(
            normalize_code(&c.to_lowercase().replace('-', " ")),
            normalize_code(&c)
        );
        assert!(
            normalize_code(&c)
                .bytes()
                .all(|b| CODE_ALPHABET.contains(&b))
        );
        let a = new_code();
        let b = new_code();
        assert_ne!(a, b, "two codes in a row should differ");
    }

    #[test]
    fn secrets_are_long_and_hashed() {
        let s = new_secret();
        assert_eq!(s.len(), 43);
        assert_ne!(secret_hash(&s), s);
        assert_eq!(secret_hash(&s).len(), 64);
    }
}

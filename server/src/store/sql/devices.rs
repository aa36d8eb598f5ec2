//! SQLite: devices, enrollment codes, credentials, revocation, presence.

use super::conn::{Connection, OptionalExtension, TransactionBehavior, params};
use super::conn::{DbError, RowExt, parse_id, query_one, time_str};
use super::feed::load_group;
use crate::device_api::devices::{
    AuthedDevice, DeviceReport, DeviceRow, EnrollmentCode, new_code, new_secret, normalize_code,
    secret_hash, sha256_hex,
};
use crate::store::{EnrolledDevice, GroupCandidate, GroupLookup, StoreError};
use chrono::{DateTime, Duration, Utc};
use kring_protocol::{DeviceId, GroupId};

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
/// An unknown, used or expired code is [`StoreError::NotFound`].
pub fn enroll(
    conn: &mut Connection,
    code: &str,
    name: &str,
    app_version: &str,
    now: DateTime<Utc>,
) -> Result<EnrolledDevice, StoreError> {
    let hash = sha256_hex(normalize_code(code).as_bytes());
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // claim the code first: of two enrollments racing for it, one claims it
    // and the other finds it used
    let group: Option<String> = tx
        .query_row(
            "UPDATE enrollment_codes SET used_at = ?2
             WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2
             RETURNING group_id",
            params![hash, time_str(now)],
            |r| r.get(0),
        )
        .optional()?;
    let Some(group) = group else {
        return Err(StoreError::NotFound("enrollment code"));
    };
    let group: GroupId = parse_id("enrollment_codes.group_id", &group)?;
    let device = DeviceId::new();
    let secret = new_secret();
    tx.execute(
        "INSERT INTO devices (id, group_id, name, app_version, secret_hash, mqtt_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            device.to_string(),
            group.to_string(),
            name,
            app_version,
            secret_hash(&secret),
            secret_hash(&kring_protocol::mqtt::password(&secret)),
            time_str(now)
        ],
    )?;
    tx.execute(
        "UPDATE enrollment_codes SET device_id = ?2 WHERE code_hash = ?1",
        params![hash, device.to_string()],
    )?;
    let info = load_group(&tx, &group)?.ok_or(StoreError::NotFound("enrollment code"))?;
    tx.commit()?;
    Ok(EnrolledDevice {
        id: device,
        secret,
        group: info,
    })
}

/// The device whose secret this is, if it exists and is not revoked.
pub fn authenticate(conn: &Connection, secret: &str) -> Result<Option<AuthedDevice>, DbError> {
    query_one(
        conn,
        "SELECT d.id, d.group_id, o.time_zone FROM devices d
         JOIN groups g ON g.id = d.group_id
         JOIN locations l ON l.id = g.location_id
         JOIN organisations o ON o.id = l.organisation_id
         WHERE d.secret_hash = ?1 AND d.revoked_at IS NULL",
        params![secret_hash(secret)],
        |r| {
            Ok(AuthedDevice {
                id: r.id("id")?,
                group: r.id("group_id")?,
                calendar: super::calendar_of(&r.get::<_, String>("time_zone")?),
            })
        },
    )
}

/// True when `device` exists, is not revoked and `password` is its MQTT
/// password (never its API secret).
pub fn check_mqtt_password(
    conn: &Connection,
    device: &DeviceId,
    password: &str,
) -> Result<bool, DbError> {
    Ok(query_one(
        conn,
        "SELECT id FROM devices WHERE id = ?1 AND mqtt_hash = ?2 AND revoked_at IS NULL",
        params![device.to_string(), secret_hash(password)],
        |r| r.get::<_, String>("id"),
    )?
    .is_some())
}

/// Records the MQTT password's hash of a device enrolled before MQTT had a
/// credential of its own (its `secret` just authenticated it).
pub fn remember_mqtt_password(
    conn: &Connection,
    device: &DeviceId,
    secret: &str,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE devices SET mqtt_hash = ?2 WHERE id = ?1 AND mqtt_hash IS NULL",
        params![
            device.to_string(),
            secret_hash(&kring_protocol::mqtt::password(secret))
        ],
    )?;
    Ok(())
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
    if let Some(r) = &report.release {
        conn.execute(
            "UPDATE devices SET release = ?2 WHERE id = ?1 AND release IS DISTINCT FROM ?2",
            params![device.to_string(), r],
        )?;
    }
    if let Some(n) = report.outbox_pending {
        conn.execute(
            "UPDATE devices SET outbox_pending = ?2 WHERE id = ?1 AND outbox_pending IS DISTINCT FROM ?2",
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
        .query_map((), |r| r.get(0))?
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

pub fn list_where(
    conn: &Connection,
    org: Option<&kring_protocol::OrganisationId>,
) -> Result<Vec<DeviceRow>, DbError> {
    let mut st = conn.prepare(
        "SELECT d.id, d.name, d.group_id, g.name AS group_name, d.app_version, d.created_at,
                d.last_seen_at, d.online, d.revoked_at, d.outbox_pending, d.release
         FROM devices d JOIN groups g ON g.id = d.group_id
         JOIN locations l ON l.id = g.location_id
         WHERE CAST(?1 AS TEXT) IS NULL OR l.organisation_id = ?1
         ORDER BY g.name, d.created_at",
    )?;
    let mut rows = st.query(params![org.map(|o| o.to_string())])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(DeviceRow {
            id: parse_id("devices.id", &r.get::<_, String>("id")?)?,
            name: r.get("name")?,
            group: parse_id("devices.group_id", &r.get::<_, String>("group_id")?)?,
            group_name: r.get("group_name")?,
            app_version: r.get("app_version")?,
            created_at: r.get("created_at")?,
            last_seen_at: r.get("last_seen_at")?,
            online: r.get("online")?,
            revoked_at: r.get("revoked_at")?,
            outbox_pending: r.get("outbox_pending")?,
            release: r.get("release")?,
        });
    }
    Ok(out)
}

/// The organisation a device belongs to (through its group), if the device exists.
pub fn device_org(conn: &Connection, device: &str) -> Result<Option<String>, DbError> {
    conn.query_row(
        "SELECT l.organisation_id FROM devices d JOIN groups g ON g.id = d.group_id
             JOIN locations l ON l.id = g.location_id WHERE d.id = ?1",
        params![device],
        |r| r.get(0),
    )
    .optional()
}

/// Finds a group by id, by `organisation-slug/name` or by name alone (names
/// case-insensitive). A name that more than one group carries (in several
/// organisations or locations) is answered with all of them, never with the
/// first one found: an enrollment code for the wrong organisation's group
/// would put its screen in front of strangers' children.
pub fn find_group(conn: &Connection, query: &str) -> Result<GroupLookup, DbError> {
    const SELECT: &str = "SELECT g.id, g.name, l.name AS location, o.slug FROM groups g
         JOIN locations l ON l.id = g.location_id
         JOIN organisations o ON o.id = l.organisation_id";
    let query = query.trim();
    let row = |r: &super::conn::Row| -> Result<GroupCandidate, DbError> {
        Ok(GroupCandidate {
            id: r.id("id")?,
            name: r.get("name")?,
            location: r.get("location")?,
            organisation_slug: r.get("slug")?,
        })
    };
    let found = if query.parse::<uuid::Uuid>().is_ok() {
        super::conn::query_all(
            conn,
            &format!("{SELECT} WHERE g.id = ?1"),
            params![query],
            row,
        )?
    } else if let Some((slug, name)) = query.split_once('/') {
        super::conn::query_all(
            conn,
            &format!("{SELECT} WHERE o.slug = ?1 AND lower(g.name) = lower(?2) ORDER BY l.name"),
            params![slug.trim(), name.trim()],
            row,
        )?
    } else {
        super::conn::query_all(
            conn,
            &format!("{SELECT} WHERE lower(g.name) = lower(?1) ORDER BY o.slug, l.name"),
            params![query],
            row,
        )?
    };
    Ok(match <[GroupCandidate; 1]>::try_from(found) {
        Ok([one]) => GroupLookup::Found(one.id),
        Err(v) if v.is_empty() => GroupLookup::NotFound,
        Err(v) => GroupLookup::Ambiguous(v),
    })
}

//! SQLite: appliance updates. Releases (bundles in the data directory),
//! rollouts (which devices are offered which release), the offer a device
//! gets in its feed, and what devices report about a release.
//!
//! The offer is decided at read time from the rollouts, the device's place
//! (group, location, organisation), its last `Kring-Release` and its
//! reports: nothing is copied per device when a rollout is made.

use super::conn::{Connection, Row, TransactionBehavior, named_params, params};
use super::conn::{DbError, RowExt, query_all, query_one, time_str};
use crate::device_api::devices::split_release;
use crate::store::{
    DeviceNudge, DeviceUpdate, NewRelease, NewRollout, ReleaseAdded, ReleaseRow, ReleaseSummary,
    RolloutCreated, RolloutScope, StoreError, UPDATE_STATES, is_final,
};
use chrono::{DateTime, Utc};
use kring_protocol::update::parse_hhmm;
use kring_protocol::{
    DeviceId, GroupId, InstallWindow, LocationId, OrganisationId, ReleaseId, UpdateOffer,
    UpdateReport, UpdateState,
};
use std::collections::{BTreeMap, HashMap};

fn state(r: &Row, column: &'static str) -> Result<UpdateState, DbError> {
    let s: String = r.get(column)?;
    UpdateState::parse(&s).ok_or(DbError::Corrupt { column, value: s })
}

/// A rollout covers the device at `:device`, `:group`, `:location`, `:org`.
const COVERS: &str = "((r.scope = 'device' AND r.scope_id = :device)
      OR (r.scope = 'group' AND r.scope_id = :group)
      OR (r.scope = 'location' AND r.scope_id = :location)
      OR (r.scope = 'organisation' AND r.scope_id = :org))";

const RELEASE_COLUMNS: &str = "rel.id, rel.organisation_id, rel.version, rel.compatible,
    rel.sha256, rel.size, rel.file_name, rel.uploaded_at";

fn release_row(r: &Row) -> Result<ReleaseRow, DbError> {
    Ok(ReleaseRow {
        id: r.id("id")?,
        org: r.id("organisation_id")?,
        version: r.get("version")?,
        compatible: r.get("compatible")?,
        sha256: r.get("sha256")?,
        size: u64::try_from(r.get::<_, i64>("size")?).unwrap_or(0),
        file_name: r.get("file_name")?,
        uploaded_at: r.time("uploaded_at")?,
    })
}

/// Where an active device is, and the release it last reported.
#[derive(Debug, Clone)]
struct Place {
    device: DeviceId,
    group: GroupId,
    location: LocationId,
    org: OrganisationId,
    release: Option<String>,
}

/// Active devices: one (`device`), or of one organisation, or all.
fn places(
    c: &Connection,
    org: Option<&OrganisationId>,
    device: Option<&DeviceId>,
) -> Result<Vec<Place>, DbError> {
    query_all(
        c,
        "SELECT d.id, d.group_id, g.location_id, l.organisation_id, d.release
         FROM devices d JOIN groups g ON g.id = d.group_id
         JOIN locations l ON l.id = g.location_id
         WHERE d.revoked_at IS NULL
           AND (CAST(?1 AS TEXT) IS NULL OR l.organisation_id = ?1) AND (CAST(?2 AS TEXT) IS NULL OR d.id = ?2)
         ORDER BY g.name, d.created_at",
        params![org.map(|o| o.to_string()), device.map(|d| d.to_string())],
        |r| {
            Ok(Place {
                device: r.id("id")?,
                group: r.id("group_id")?,
                location: r.id("location_id")?,
                org: r.id("organisation_id")?,
                release: r.get("release")?,
            })
        },
    )
}

fn place(c: &Connection, device: &DeviceId) -> Result<Option<Place>, DbError> {
    Ok(places(c, None, Some(device))?.into_iter().next())
}

/// What a device last reported about a release.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reported {
    state: UpdateState,
    detail: Option<String>,
    updated_at: DateTime<Utc>,
}

fn reported(
    c: &Connection,
    device: &DeviceId,
    release: &ReleaseId,
) -> Result<Option<Reported>, DbError> {
    query_one(
        c,
        "SELECT state, detail, updated_at FROM device_updates
         WHERE device_id = ?1 AND release_id = ?2",
        params![device.to_string(), release.to_string()],
        |r| {
            Ok(Reported {
                state: state(r, "state")?,
                detail: r.get("detail")?,
                updated_at: r.time("updated_at")?,
            })
        },
    )
}

/// The release offered to the device at `p`, with its rollout's window.
struct Offered {
    release: ReleaseRow,
    window: Option<InstallWindow>,
}

fn offer(c: &Connection, p: &Place) -> Result<Option<Offered>, DbError> {
    let Some((compatible, version)) = p.release.as_deref().and_then(split_release) else {
        return Ok(None);
    };
    let newest = query_one(
        c,
        &format!(
            "SELECT {RELEASE_COLUMNS}, r.window_from, r.window_until
             FROM rollouts r JOIN releases rel ON rel.id = r.release_id
             WHERE rel.organisation_id = :org AND rel.compatible = :compatible AND {COVERS}
             ORDER BY r.created_at DESC, r.id DESC LIMIT 1"
        ),
        named_params! {
            ":org": p.org.to_string(),
            ":compatible": compatible,
            ":device": p.device.to_string(),
            ":group": p.group.to_string(),
            ":location": p.location.to_string(),
        },
        |r| {
            let window = match (
                r.get::<_, Option<String>>("window_from")?,
                r.get::<_, Option<String>>("window_until")?,
            ) {
                (Some(from), Some(until)) => Some(InstallWindow { from, until }),
                _ => None,
            };
            Ok(Offered {
                release: release_row(r)?,
                window,
            })
        },
    )?;
    let Some(offered) = newest else {
        return Ok(None);
    };
    if offered.release.version == version {
        return Ok(None);
    }
    if reported(c, &p.device, &offered.release.id)?.is_some_and(|r| is_final(r.state)) {
        return Ok(None);
    }
    Ok(Some(offered))
}

pub fn update_offer(c: &Connection, device: &DeviceId) -> Result<Option<UpdateOffer>, DbError> {
    let Some(p) = place(c, device)? else {
        return Ok(None);
    };
    Ok(offer(c, &p)?.map(|o| UpdateOffer {
        release_id: o.release.id,
        version: o.release.version,
        size: o.release.size,
        sha256: o.release.sha256,
        window: o.window,
    }))
}

pub fn offered_bundle(
    c: &Connection,
    device: &DeviceId,
    release: &ReleaseId,
) -> Result<Option<ReleaseRow>, DbError> {
    let Some(p) = place(c, device)? else {
        return Ok(None);
    };
    Ok(offer(c, &p)?
        .map(|o| o.release)
        .filter(|r| r.id == *release))
}

pub fn find_organisation(
    c: &Connection,
    id_or_name: &str,
) -> Result<Option<OrganisationId>, StoreError> {
    let found = query_all(
        c,
        "SELECT id FROM organisations
         WHERE id = ?1 OR slug = lower(?1) OR lower(name) = lower(?1)",
        params![id_or_name.trim()],
        |r| r.id::<OrganisationId>("id"),
    )?;
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        many => Err(StoreError::invalid(format!(
            "{} organisations are called {id_or_name:?}; give the slug or the id",
            many.len()
        ))),
    }
}

pub fn create_release(c: &mut Connection, new: &NewRelease) -> Result<ReleaseAdded, StoreError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing = query_one(
        &tx,
        "SELECT id FROM releases WHERE organisation_id = ?1 AND sha256 = ?2",
        params![new.org.to_string(), new.sha256],
        |r| r.id::<ReleaseId>("id"),
    )?;
    if let Some(id) = existing {
        return Ok(ReleaseAdded { id, new: false });
    }
    let known_org = query_one(
        &tx,
        "SELECT id FROM organisations WHERE id = ?1",
        params![new.org.to_string()],
        |r| r.id::<OrganisationId>("id"),
    )?;
    if known_org.is_none() {
        return Err(StoreError::NotFound("organisation"));
    }
    tx.execute(
        "INSERT INTO releases (id, organisation_id, version, compatible, sha256, size,
                               file_name, uploaded_at, uploaded_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            new.id.to_string(),
            new.org.to_string(),
            new.version,
            new.compatible,
            new.sha256,
            i64::try_from(new.size).unwrap_or(i64::MAX),
            new.file_name,
            time_str(new.uploaded_at),
            new.uploaded_by.map(|s| s.to_string()),
        ],
    )?;
    tx.commit()?;
    Ok(ReleaseAdded {
        id: new.id,
        new: true,
    })
}

pub fn release(c: &Connection, id: &ReleaseId) -> Result<Option<ReleaseRow>, DbError> {
    query_one(
        c,
        &format!("SELECT {RELEASE_COLUMNS} FROM releases rel WHERE rel.id = ?1"),
        params![id.to_string()],
        release_row,
    )
}

pub fn releases(
    c: &Connection,
    org: Option<&OrganisationId>,
) -> Result<Vec<ReleaseSummary>, DbError> {
    let rows = query_all(
        c,
        &format!(
            "SELECT {RELEASE_COLUMNS},
                    (SELECT COUNT(*) FROM rollouts r WHERE r.release_id = rel.id) AS rollouts
             FROM releases rel WHERE CAST(?1 AS TEXT) IS NULL OR rel.organisation_id = ?1
             ORDER BY rel.uploaded_at DESC, rel.id DESC"
        ),
        params![org.map(|o| o.to_string())],
        |r| Ok((release_row(r)?, r.get::<_, u32>("rollouts")?)),
    )?;
    let mut counts: HashMap<(ReleaseId, UpdateState), u32> = HashMap::new();
    for (release, st, n) in query_all(
        c,
        "SELECT du.release_id, du.state, COUNT(*) AS n
         FROM device_updates du JOIN devices d ON d.id = du.device_id
         WHERE d.revoked_at IS NULL
         GROUP BY du.release_id, du.state",
        (),
        |r| {
            Ok((
                r.id::<ReleaseId>("release_id")?,
                state(r, "state")?,
                r.get::<_, u32>("n")?,
            ))
        },
    )? {
        counts.insert((release, st), n);
    }
    let mut offered: HashMap<ReleaseId, u32> = HashMap::new();
    for p in places(c, org, None)? {
        if let Some(o) = offer(c, &p)?
            && reported(c, &p.device, &o.release.id)?.is_none()
        {
            *offered.entry(o.release.id).or_default() += 1;
        }
    }
    Ok(rows
        .into_iter()
        .map(|(release, rollouts)| ReleaseSummary {
            rollouts,
            offered: offered.get(&release.id).copied().unwrap_or(0),
            states: UPDATE_STATES
                .iter()
                .filter_map(|s| counts.get(&(release.id, *s)).map(|n| (*s, *n)))
                .collect(),
            release,
        })
        .collect())
}

/// The active devices of `org` that a rollout with `scope` covers, with
/// their group's sequence for the nudge.
fn covered(
    c: &Connection,
    org: &OrganisationId,
    scope: &str,
    scope_id: &str,
) -> Result<Vec<DeviceNudge>, DbError> {
    query_all(
        c,
        "SELECT d.id, g.change_seq FROM devices d JOIN groups g ON g.id = d.group_id
         JOIN locations l ON l.id = g.location_id
         WHERE d.revoked_at IS NULL AND l.organisation_id = :org
           AND ((:scope = 'device' AND d.id = :sid) OR (:scope = 'group' AND g.id = :sid)
             OR (:scope = 'location' AND l.id = :sid) OR :scope = 'organisation')
         ORDER BY d.id",
        named_params! { ":org": org.to_string(), ":scope": scope, ":sid": scope_id },
        |r| {
            Ok(DeviceNudge {
                device: r.id("id")?,
                seq: r.get("change_seq")?,
            })
        },
    )
}

fn exists(c: &Connection, sql: &str, a: String, b: String) -> Result<bool, DbError> {
    Ok(query_one(c, sql, params![a, b], |_| Ok(()))?.is_some())
}

pub fn create_rollout(
    c: &mut Connection,
    org: &OrganisationId,
    new: &NewRollout,
) -> Result<RolloutCreated, StoreError> {
    if let Some(w) = &new.window
        && (parse_hhmm(&w.from).is_none() || parse_hhmm(&w.until).is_none())
    {
        return Err(StoreError::invalid(
            "an install window is two times of day, HH:MM",
        ));
    }
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let release = release(&tx, &new.release)?.filter(|r| r.org == *org);
    if release.is_none() {
        return Err(StoreError::NotFound("release"));
    }
    let o = org.to_string();
    let (scope, scope_id) = match new.scope {
        RolloutScope::Device(d) => {
            let ok = exists(
                &tx,
                "SELECT 1 FROM devices d JOIN groups g ON g.id = d.group_id
                 JOIN locations l ON l.id = g.location_id
                 WHERE d.id = ?1 AND l.organisation_id = ?2 AND d.revoked_at IS NULL",
                d.to_string(),
                o.clone(),
            )?;
            if !ok {
                return Err(StoreError::NotFound("device"));
            }
            ("device", d.to_string())
        }
        RolloutScope::Group(g) => {
            let ok = exists(
                &tx,
                "SELECT 1 FROM groups g JOIN locations l ON l.id = g.location_id
                 WHERE g.id = ?1 AND l.organisation_id = ?2",
                g.to_string(),
                o.clone(),
            )?;
            if !ok {
                return Err(StoreError::NotFound("group"));
            }
            ("group", g.to_string())
        }
        RolloutScope::Location(l) => {
            let ok = exists(
                &tx,
                "SELECT 1 FROM locations WHERE id = ?1 AND organisation_id = ?2",
                l.to_string(),
                o.clone(),
            )?;
            if !ok {
                return Err(StoreError::NotFound("location"));
            }
            ("location", l.to_string())
        }
        RolloutScope::Organisation => ("organisation", o),
    };
    let id = uuid::Uuid::now_v7();
    let created_at = time_str(new.created_at);
    tx.execute(
        "INSERT INTO rollouts (id, release_id, scope, scope_id, window_from, window_until,
                               created_at, created_by, nudged_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id.to_string(),
            new.release.to_string(),
            scope,
            scope_id,
            new.window.as_ref().map(|w| w.from.trim().to_string()),
            new.window.as_ref().map(|w| w.until.trim().to_string()),
            created_at,
            new.created_by.map(|s| s.to_string()),
            new.nudged.then_some(created_at.clone()),
        ],
    )?;
    let devices = covered(&tx, org, scope, &scope_id)?;
    tx.commit()?;
    Ok(RolloutCreated { id, devices })
}

pub fn pending_rollout_nudges(
    c: &mut Connection,
    now: DateTime<Utc>,
) -> Result<Vec<DeviceNudge>, DbError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // claim the rollouts first: of two server processes sweeping at once,
    // one claims each rollout and nudges its devices
    let pending = query_all(
        &tx,
        "UPDATE rollouts SET nudged_at = ?1 WHERE nudged_at IS NULL
         RETURNING scope, scope_id,
                   (SELECT rel.organisation_id FROM releases rel
                    WHERE rel.id = rollouts.release_id) AS organisation_id",
        params![time_str(now)],
        |r| {
            Ok((
                r.get::<_, String>("scope")?,
                r.get::<_, String>("scope_id")?,
                r.id::<OrganisationId>("organisation_id")?,
            ))
        },
    )?;
    let mut devices: BTreeMap<DeviceId, i64> = BTreeMap::new();
    for (scope, scope_id, org) in &pending {
        for n in covered(&tx, org, scope, scope_id)? {
            devices.insert(n.device, n.seq);
        }
    }
    tx.commit()?;
    Ok(devices
        .into_iter()
        .map(|(device, seq)| DeviceNudge { device, seq })
        .collect())
}

pub fn report_update(
    c: &mut Connection,
    device: &DeviceId,
    report: &UpdateReport,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(p) = place(&tx, device)? else {
        return Err(StoreError::NotFound("release"));
    };
    // Only a release rolled out to this device: another organisation's, or
    // one never meant for it, is the same as one that does not exist.
    let release = query_one(
        &tx,
        &format!(
            "SELECT {RELEASE_COLUMNS} FROM releases rel
             WHERE rel.id = :release AND rel.organisation_id = :org
               AND EXISTS (SELECT 1 FROM rollouts r WHERE r.release_id = rel.id AND {COVERS})"
        ),
        named_params! {
            ":release": report.release_id.to_string(),
            ":org": p.org.to_string(),
            ":device": p.device.to_string(),
            ":group": p.group.to_string(),
            ":location": p.location.to_string(),
        },
        release_row,
    )?
    .ok_or(StoreError::NotFound("release"))?;
    let before = reported(&tx, device, &release.id)?;
    if let Some(b) = &before {
        if b.state == report.state && b.detail == report.detail {
            return Ok(());
        }
        if is_final(b.state) && !is_final(report.state) {
            tracing::info!(
                device = %device,
                release = %release.id,
                stored = b.state.as_str(),
                reported = report.state.as_str(),
                "late update report ignored: the release already ended on this device"
            );
            return Ok(());
        }
    }
    tx.execute(
        "INSERT INTO device_updates (device_id, release_id, state, detail, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (device_id, release_id) DO UPDATE
         SET state = excluded.state, detail = excluded.detail, updated_at = excluded.updated_at",
        params![
            device.to_string(),
            release.id.to_string(),
            report.state.as_str(),
            report.detail,
            time_str(now),
        ],
    )?;
    if matches!(report.state, UpdateState::Running | UpdateState::Good)
        && p.release
            .as_deref()
            .and_then(split_release)
            .is_some_and(|(compatible, _)| compatible == release.compatible)
    {
        tx.execute(
            "UPDATE devices SET release = ?2 WHERE id = ?1 AND release IS DISTINCT FROM ?2",
            params![
                device.to_string(),
                format!("{} {}", release.compatible, release.version)
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub fn device_updates(c: &Connection, org: &OrganisationId) -> Result<Vec<DeviceUpdate>, DbError> {
    let mut out = Vec::new();
    for p in places(c, Some(org), None)? {
        if let Some(o) = offer(c, &p)? {
            let r = reported(c, &p.device, &o.release.id)?;
            out.push(DeviceUpdate {
                device: p.device,
                release: o.release.id,
                version: o.release.version,
                size: o.release.size,
                state: r.as_ref().map(|r| r.state),
                detail: r.as_ref().and_then(|r| r.detail.clone()),
                updated_at: r.map(|r| r.updated_at),
            });
            continue;
        }
        let last = query_one(
            c,
            "SELECT du.state, du.detail, du.updated_at, rel.id, rel.version, rel.size
             FROM device_updates du JOIN releases rel ON rel.id = du.release_id
             WHERE du.device_id = ?1 ORDER BY du.updated_at DESC LIMIT 1",
            params![p.device.to_string()],
            |r| {
                Ok(DeviceUpdate {
                    device: p.device,
                    release: r.id("id")?,
                    version: r.get("version")?,
                    size: u64::try_from(r.get::<_, i64>("size")?).unwrap_or(0),
                    state: Some(state(r, "state")?),
                    detail: r.get("detail")?,
                    updated_at: Some(r.time("updated_at")?),
                })
            },
        )?;
        out.extend(last);
    }
    Ok(out)
}

pub fn retry_update(
    c: &mut Connection,
    org: &OrganisationId,
    device: &DeviceId,
    release: &ReleaseId,
) -> Result<Option<DeviceNudge>, DbError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let seq = query_one(
        &tx,
        "SELECT g.change_seq FROM devices d JOIN groups g ON g.id = d.group_id
         JOIN locations l ON l.id = g.location_id
         WHERE d.id = ?1 AND l.organisation_id = ?2 AND d.revoked_at IS NULL",
        params![device.to_string(), org.to_string()],
        |r| r.get::<_, i64>("change_seq"),
    )?;
    let Some(seq) = seq else {
        return Ok(None);
    };
    let cleared = tx.execute(
        "DELETE FROM device_updates WHERE device_id = ?1 AND release_id = ?2
           AND state IN ('failed', 'rolled_back')",
        params![device.to_string(), release.to_string()],
    )?;
    tx.commit()?;
    Ok((cleared == 1).then_some(DeviceNudge {
        device: *device,
        seq,
    }))
}

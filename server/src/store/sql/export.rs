//! A manager's export of everything about one child or parent
//! (inzageverzoek), and erasure on request: the SQL. Erasure is the
//! retention run's own `retention::erase_child`/`erase_parent`.

use super::conn::{
    Connection, DbError, Params, RowExt, ToValue, TransactionBehavior, Value, params, query_all,
    query_one,
};
use super::retention::{erase_child, erase_parent, record_erasure};
use crate::store::{Erased, ErasureRow, Export, ExportDiary, ExportPhoto};
use chrono::{DateTime, Utc};
use kring_protocol::{ChildId, OrganisationId, ParentId, StaffId};

/// Every row of `sql` as a JSON object by column name.
fn rows(c: &Connection, sql: &str, args: &[&dyn ToValue]) -> Result<serde_json::Value, DbError> {
    let params = Params::Positional(args.iter().map(|a| a.to_value()).collect());
    let out = c
        .query_rows(sql, params)?
        .iter()
        .map(|r| {
            let mut o = serde_json::Map::new();
            for (name, v) in r.columns().iter().zip(r.values()) {
                let v = match v {
                    Value::Null => serde_json::Value::Null,
                    Value::Int(i) => serde_json::Value::from(*i),
                    Value::Real(f) => serde_json::Value::from(*f),
                    Value::Text(t) => serde_json::Value::from(t.clone()),
                    Value::Blob(b) => serde_json::Value::from(hex::encode(b)),
                };
                o.insert(name.clone(), v);
            }
            serde_json::Value::Object(o)
        })
        .collect();
    Ok(serde_json::Value::Array(out))
}

fn in_org(c: &Connection, table: &str, id: &str, org: &OrganisationId) -> Result<bool, DbError> {
    Ok(query_one(
        c,
        &format!("SELECT id FROM {table} WHERE id = ?1 AND organisation_id = ?2"),
        params![id, org.to_string()],
        |r| r.get::<_, String>("id"),
    )?
    .is_some())
}

/// Everything kring holds about `child` of `org` (None: not the organisation's).
pub fn export_child(
    c: &Connection,
    org: &OrganisationId,
    child: &ChildId,
) -> Result<Option<Export>, DbError> {
    let k = child.to_string();
    if !in_org(c, "children", &k, org)? {
        return Ok(None);
    }
    let mut data = serde_json::Map::new();
    let k: &dyn ToValue = &k;
    for (name, sql) in [
        ("kind", "SELECT * FROM children WHERE id = ?1"),
        (
            "toestemmingen",
            "SELECT consent, changed_by, changed_at FROM consent_history WHERE child_id = ?1 ORDER BY changed_at",
        ),
        (
            "plaatsingen",
            "SELECT p.*, g.name AS group_name FROM placements p JOIN groups g ON g.id = p.group_id
             WHERE p.child_id = ?1 ORDER BY p.start_date",
        ),
        (
            "ouders",
            "SELECT pa.id, pa.name, pa.email, cp.role FROM child_parents cp
             JOIN parents pa ON pa.id = cp.parent_id WHERE cp.child_id = ?1 ORDER BY pa.name",
        ),
        (
            "afwezigheden",
            "SELECT * FROM absences WHERE child_id = ?1 ORDER BY from_date",
        ),
        (
            "documenten",
            "SELECT * FROM documents WHERE child_id = ?1 ORDER BY created_at",
        ),
        (
            "berichten",
            "SELECT id, group_id, author_kind, author_name, body, sent_at, read_by_group_at
             FROM messages WHERE child_id = ?1 ORDER BY sent_at",
        ),
        (
            "dagboek",
            "SELECT d.id, d.group_id, d.author_kind, d.author_name, d.text, d.baby_json, d.written_at
             FROM diary_entries d JOIN diary_children dc ON dc.entry_id = d.id
             WHERE dc.child_id = ?1 ORDER BY d.written_at",
        ),
        (
            "fotos",
            "SELECT p.id, p.group_id, p.sha256, p.width, p.height, p.received_at FROM photos p
             JOIN photo_tags t ON t.photo_id = p.id WHERE t.child_id = ?1 ORDER BY p.received_at",
        ),
        (
            "aanwezigheid",
            "SELECT id, group_id, at, event, item, received_at FROM attendance
             WHERE child_id = ?1 ORDER BY at",
        ),
        (
            "inzage",
            "SELECT staff_name, what, at FROM access_log WHERE child_id = ?1 ORDER BY at",
        ),
        (
            "archieven",
            "SELECT id, parent_id, requested_at, built_at, downloaded_at, expires_at
             FROM archive_requests WHERE child_id = ?1 ORDER BY requested_at",
        ),
        (
            "agenda_aanvragen",
            "SELECT id, group_id, day, part_of_day, payment, gives_up, status, requested_by,
                    requested_at, decided_by, decided_at
             FROM day_requests WHERE child_id = ?1 ORDER BY day, id",
        ),
        (
            "agenda_afmeldingen",
            "SELECT id, group_id, day, kind, cancelled_by, created_at
             FROM day_cancellations WHERE child_id = ?1 ORDER BY day, id",
        ),
        (
            "tegoed",
            "SELECT id, kind, earned_id, valid_until, cancellation_id, request_id, at
             FROM credit_ledger WHERE child_id = ?1 ORDER BY at, id",
        ),
        (
            "vakantie_uren",
            "SELECT year, hours FROM vacation_allowances WHERE child_id = ?1 ORDER BY year",
        ),
        (
            "vakantie_aanvragen",
            "SELECT id, group_id, day, part_of_day, hours, guaranteed, status, requested_by,
                    requested_at, decided_by, decided_at
             FROM vacation_requests WHERE child_id = ?1 ORDER BY day, id",
        ),
    ] {
        data.insert(name.into(), rows(c, sql, &[k])?);
    }
    let photos = query_all(
        c,
        "SELECT p.id, p.blob_key, p.received_at FROM photos p
         JOIN photo_tags t ON t.photo_id = p.id WHERE t.child_id = ?1 ORDER BY p.received_at",
        params![child.to_string()],
        |r| {
            Ok(ExportPhoto {
                id: r.id("id")?,
                blob_key: r.get("blob_key")?,
                taken_at: r.time("received_at")?,
            })
        },
    )?;
    let diary = query_all(
        c,
        "SELECT d.id, d.author_name, d.text, d.baby_json, d.written_at
         FROM diary_entries d JOIN diary_children dc ON dc.entry_id = d.id
         WHERE dc.child_id = ?1 ORDER BY d.written_at",
        params![child.to_string()],
        |r| {
            Ok(ExportDiary {
                author: r.get("author_name")?,
                text: r.get("text")?,
                baby_json: r.get("baby_json")?,
                written_at: r.time("written_at")?,
                photos: Vec::new(),
                id: r.get("id")?,
            })
        },
    )?;
    let mut diary = diary;
    for d in &mut diary {
        d.photos = query_all(
            c,
            "SELECT photo_id FROM diary_photos WHERE entry_id = ?1 ORDER BY photo_id",
            params![d.id],
            |r| r.id("photo_id"),
        )?;
    }
    let name = query_one(
        c,
        "SELECT first_name, last_name FROM children WHERE id = ?1",
        params![child.to_string()],
        |r| {
            Ok(format!(
                "{} {}",
                r.get::<_, String>("first_name")?,
                r.get::<_, String>("last_name")?
            ))
        },
    )?
    .unwrap_or_default();
    Ok(Some(Export {
        name,
        data: serde_json::Value::Object(data),
        photos,
        diary,
    }))
}

/// Everything kring holds about `parent` of `org` (None: not the
/// organisation's). No password hash, no token hashes.
pub fn export_parent(
    c: &Connection,
    org: &OrganisationId,
    parent: &ParentId,
) -> Result<Option<Export>, DbError> {
    let p = parent.to_string();
    if !in_org(c, "parents", &p, org)? {
        return Ok(None);
    }
    let mut data = serde_json::Map::new();
    let pv: &dyn ToValue = &p;
    for (name, sql) in [
        (
            "ouder",
            "SELECT id, organisation_id, email, name, must_change_password FROM parents WHERE id = ?1",
        ),
        (
            "kinderen",
            "SELECT k.id, k.first_name, k.last_name, cp.role FROM child_parents cp
             JOIN children k ON k.id = cp.child_id WHERE cp.parent_id = ?1 ORDER BY k.first_name",
        ),
        (
            "notificaties",
            "SELECT kind, email FROM notification_prefs WHERE parent_id = ?1 ORDER BY kind",
        ),
        (
            "sessies",
            "SELECT created_at, last_seen_at, expires_at FROM sessions
             WHERE user_kind = 'parent' AND user_id = ?1 ORDER BY created_at",
        ),
        (
            "berichten",
            "SELECT id, group_id, child_id, body, sent_at FROM messages
             WHERE author_parent_id = ?1 ORDER BY sent_at",
        ),
        (
            "dagboek",
            "SELECT id, group_id, text, written_at FROM diary_entries
             WHERE author_parent_id = ?1 ORDER BY written_at",
        ),
        (
            "toestemmingen",
            "SELECT child_id, consent, changed_at FROM consent_history
             WHERE changed_by_parent_id = ?1 ORDER BY changed_at",
        ),
        (
            "archieven",
            "SELECT id, child_id, requested_at, built_at, downloaded_at, expires_at
             FROM archive_requests WHERE parent_id = ?1 ORDER BY requested_at",
        ),
        (
            "berichten_over_bewaren",
            "SELECT child_id, keep_until, sent_at FROM leaving_notices WHERE parent_id = ?1",
        ),
        (
            "agenda_aanvragen",
            "SELECT r.id, r.child_id, r.day, r.part_of_day, r.payment, r.gives_up, r.status,
                    r.requested_at, r.decided_at
             FROM day_requests r JOIN child_parents cp ON cp.child_id = r.child_id
             JOIN parents pa ON pa.id = cp.parent_id
             WHERE cp.parent_id = ?1 AND r.requested_by = pa.name ORDER BY r.day, r.id",
        ),
        (
            "agenda_afmeldingen",
            "SELECT x.id, x.child_id, x.day, x.kind, x.created_at
             FROM day_cancellations x JOIN child_parents cp ON cp.child_id = x.child_id
             JOIN parents pa ON pa.id = cp.parent_id
             WHERE cp.parent_id = ?1 AND x.cancelled_by = pa.name ORDER BY x.day, x.id",
        ),
        (
            "vakantie_aanvragen",
            "SELECT v.id, v.child_id, v.day, v.part_of_day, v.hours, v.guaranteed, v.status,
                    v.requested_at, v.decided_at
             FROM vacation_requests v JOIN child_parents cp ON cp.child_id = v.child_id
             JOIN parents pa ON pa.id = cp.parent_id
             WHERE cp.parent_id = ?1 AND v.requested_by = pa.name ORDER BY v.day, v.id",
        ),
    ] {
        data.insert(name.into(), rows(c, sql, &[pv])?);
    }
    let name = query_one(
        c,
        "SELECT name FROM parents WHERE id = ?1",
        params![p],
        |r| r.get::<_, String>("name"),
    )?
    .unwrap_or_default();
    Ok(Some(Export {
        name,
        data: serde_json::Value::Object(data),
        photos: Vec::new(),
        diary: Vec::new(),
    }))
}

/// Erases `child` of `org` now, with everything of it (the retention run's
/// code), and records who did it. None: not the organisation's child.
pub fn erase_child_now(
    c: &mut Connection,
    org: &OrganisationId,
    child: &ChildId,
    by: &StaffId,
    by_name: &str,
    now: DateTime<Utc>,
) -> Result<Option<Erased>, DbError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !in_org(&tx, "children", &child.to_string(), org)? {
        return Ok(None);
    }
    let mut erased = Erased::default();
    erase_child(&tx, child, &mut erased)?;
    record_erasure(&tx, org, "kind", Some(by), by_name, &erased, now)?;
    tx.commit()?;
    Ok(Some(erased))
}

/// Erases the parent account of `org` now (see `retention::erase_parent`),
/// and records who did it. None: not the organisation's parent.
pub fn erase_parent_now(
    c: &mut Connection,
    org: &OrganisationId,
    parent: &ParentId,
    by: &StaffId,
    by_name: &str,
    now: DateTime<Utc>,
) -> Result<Option<Erased>, DbError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !in_org(&tx, "parents", &parent.to_string(), org)? {
        return Ok(None);
    }
    let mut erased = Erased::default();
    erase_parent(&tx, parent, &mut erased)?;
    record_erasure(&tx, org, "ouder", Some(by), by_name, &erased, now)?;
    tx.commit()?;
    Ok(Some(erased))
}

/// The organisation's erasures, newest first.
pub fn erasures(
    c: &Connection,
    org: &OrganisationId,
    limit: u32,
) -> Result<Vec<ErasureRow>, DbError> {
    query_all(
        c,
        "SELECT kind, by_name, at, counts FROM erasures WHERE organisation_id = ?1
         ORDER BY at DESC, id DESC LIMIT ?2",
        params![org.to_string(), i64::from(limit)],
        |r| {
            Ok(ErasureRow {
                kind: r.get("kind")?,
                by_name: r.get("by_name")?,
                at: r.time("at")?,
                counts: r.get("counts")?,
            })
        },
    )
}

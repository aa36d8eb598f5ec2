//! Pushed items (`POST /api/v1/items`): validation against the server's own
//! truth, and exactly-once effects through the idempotency table.
//!
//! **Architecture Invariant:** the dedupe record is written in the same
//! transaction as the item it creates; a retry gets the stored answer, the same
//! key with another body gets 422, and concurrent duplicates serialise on the
//! write transaction so only one can create the item.

use crate::db::{DbError, parse_id, time_str};
use crate::devices::AuthedDevice;
use crate::error::Failure;
use crate::feed::{EntityKind, current_seq, parse_consent, record_change};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use kring_protocol::{
    Audience, ChildId, ConsentedChild, ErrorCode, GroupId, MessageThread, PhotoConsent, PhotoItem,
    PushItem, PushReceipt, ReadReceiptItem, StaffDiaryItem, StaffId, StaffMessageItem,
    decide_audience,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Longest diary text and message body accepted (characters).
pub const MAX_TEXT_CHARS: usize = 10_000;
pub const MAX_MESSAGE_CHARS: usize = 4_000;

/// What a push did: the answer to send, and the group sequence to nudge
/// devices about if the group's feed changed.
#[derive(Debug)]
pub struct PushOutcome {
    pub status: StatusCode,
    pub body: String,
    pub changed: Option<(GroupId, i64)>,
    pub replayed: bool,
}

/// The canonical hash of a request: the item as parsed and re-serialised, so
/// that whitespace or key order do not make a retry look different.
pub fn request_hash(item: &PushItem) -> Result<String, Failure> {
    let canonical = serde_json::to_vec(item).map_err(|e| Failure::internal("hash", &e))?;
    Ok(hex::encode(Sha256::digest(canonical)))
}

/// Applies `item` for `device` exactly once.
pub fn push(
    conn: &mut Connection,
    device: &AuthedDevice,
    key: &uuid::Uuid,
    item: &PushItem,
    now: DateTime<Utc>,
) -> Result<PushOutcome, Failure> {
    if item.id() != *key {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "the Idempotency-Key header must equal the item's id",
        ));
    }
    let hash = request_hash(item)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let stored: Option<(String, u16, String)> = tx
        .query_row(
            "SELECT request_hash, status, response FROM idempotency WHERE device_id = ?1 AND key = ?2",
            params![device.id.to_string(), key.to_string()],
            |r| r.try_into(),
        )
        .optional()?;
    if let Some((stored_hash, status, body)) = stored {
        if stored_hash != hash {
            return Err(Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was already used for another item",
            ));
        }
        return Ok(PushOutcome {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            body,
            changed: None,
            replayed: true,
        });
    }
    let today = now.date_naive();
    let (changed_seq, sha256) = match item {
        PushItem::Photo(p) => (None, Some(apply_photo(&tx, device, p, now, today)?)),
        PushItem::Diary(d) => {
            apply_diary(&tx, device, d, now, today)?;
            (None, None)
        }
        PushItem::Message(m) => (Some(apply_message(&tx, device, m, now, today)?), None),
        PushItem::ReadReceipt(r) => (Some(apply_read_receipt(&tx, device, r, now)?), None),
    };
    let seq = match changed_seq {
        Some(seq) => seq,
        None => current_seq(&tx, &device.group)?,
    };
    let receipt = PushReceipt {
        item_id: *key,
        seq,
        received_at: now,
        sha256,
    };
    let body = serde_json::to_string(&receipt).map_err(|e| Failure::internal("receipt", &e))?;
    tx.execute(
        "INSERT INTO idempotency (device_id, key, request_hash, status, response, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            device.id.to_string(),
            key.to_string(),
            hash,
            200,
            body,
            time_str(now)
        ],
    )?;
    tx.commit()?;
    tracing::info!(device = %device.id, item = %key, kind = item.kind_name(), "item stored");
    Ok(PushOutcome {
        status: StatusCode::OK,
        body,
        changed: changed_seq.map(|s| (device.group, s)),
        replayed: false,
    })
}

/// Children with a current placement on the group, with their consent now.
pub fn group_children(
    conn: &Connection,
    group: &GroupId,
    today: NaiveDate,
) -> Result<HashMap<ChildId, PhotoConsent>, DbError> {
    let rows: Vec<(String, String)> = conn
        .prepare(
            "SELECT DISTINCT c.id, c.photo_consent FROM children c
             JOIN placements p ON p.child_id = c.id
             WHERE p.group_id = ?1 AND p.start_date <= ?2 AND (p.end_date IS NULL OR p.end_date >= ?2)",
        )?
        .query_map(params![group.to_string(), today.to_string()], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(id, consent)| Ok((parse_id("children.id", &id)?, parse_consent(&consent)?)))
        .collect()
}

fn check_children(
    children: &HashMap<ChildId, PhotoConsent>,
    ids: &[ChildId],
) -> Result<(), Failure> {
    match ids.iter().find(|c| !children.contains_key(c)) {
        Some(c) => Err(Failure::validation(format!(
            "child {c} is not placed on this device's group"
        ))),
        None => Ok(()),
    }
}

fn staff_name(
    conn: &Connection,
    group: &GroupId,
    staff: Option<&StaffId>,
) -> Result<Option<String>, Failure> {
    let Some(staff) = staff else {
        return Ok(None);
    };
    let name: Option<String> = conn
        .query_row(
            "SELECT s.name FROM staff s JOIN staff_groups sg ON sg.staff_id = s.id
             WHERE s.id = ?1 AND sg.group_id = ?2",
            params![staff.to_string(), group.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    name.map(Some).ok_or_else(|| {
        Failure::validation(format!("staff member {staff} does not work on this group"))
    })
}

fn group_name(conn: &Connection, group: &GroupId) -> Result<String, Failure> {
    Ok(conn.query_row(
        "SELECT name FROM groups WHERE id = ?1",
        params![group.to_string()],
        |r| r.get(0),
    )?)
}

fn author_name(
    conn: &Connection,
    group: &GroupId,
    staff: Option<&StaffId>,
) -> Result<String, Failure> {
    match staff_name(conn, group, staff)? {
        Some(n) => Ok(n),
        None => Ok(format!("Groep {}", group_name(conn, group)?)),
    }
}

fn unique_violation(e: rusqlite::Error, what: &str) -> Failure {
    match e {
        rusqlite::Error::SqliteFailure(err, _)
            if err.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Failure::validation(format!("{what} already exists"))
        }
        other => Failure::from(other),
    }
}

fn apply_photo(
    tx: &Connection,
    device: &AuthedDevice,
    p: &PhotoItem,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> Result<String, Failure> {
    let children = group_children(tx, &device.group, today)?;
    check_children(&children, &p.tags)?;
    let tagged: Vec<ConsentedChild> = p
        .tags
        .iter()
        .filter_map(|id| {
            children.get(id).map(|c| ConsentedChild {
                id: *id,
                consent: *c,
            })
        })
        .collect();
    if let Audience::Refused { no_consent } = decide_audience(&tagged, p.no_children_recognizable) {
        let list: Vec<String> = no_consent.iter().map(ToString::to_string).collect();
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ConsentRefused,
            format!("no photo consent for child(ren) {}", list.join(", ")),
        ));
    }
    type Upload = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<u32>,
        Option<u32>,
    );
    let upload: Option<Upload> = tx
        .query_row(
            "SELECT device_id, completed_at, sha256, blob_key, thumb_key, width, height
             FROM uploads WHERE id = ?1",
            params![p.upload_id.to_string()],
            |r| r.try_into(),
        )
        .optional()?;
    let Some((owner, Some(_), Some(sha), Some(blob), Some(thumb), Some(w), Some(h))) = upload
    else {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::UploadIncomplete,
            "the photo's upload is unknown or not complete",
        ));
    };
    if owner != device.id.to_string() {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::UploadIncomplete,
            "the photo's upload is unknown or not complete",
        ));
    }
    if !sha.eq_ignore_ascii_case(&p.sha256) {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::UploadChecksumMismatch,
            "the uploaded bytes do not match the photo's sha256",
        ));
    }
    let staff = staff_name(tx, &device.group, p.staff_id.as_ref())?.and(p.staff_id);
    tx.execute(
        "INSERT INTO photos (id, group_id, device_id, staff_id, upload_id, sha256, blob_key, thumb_key,
                             width, height, no_children_recognizable, taken_at_device, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            p.id.to_string(),
            device.group.to_string(),
            device.id.to_string(),
            staff.map(|s| s.to_string()),
            p.upload_id.to_string(),
            sha,
            blob,
            thumb,
            w,
            h,
            p.no_children_recognizable,
            time_str(p.taken_at_device),
            time_str(now)
        ],
    )
    .map_err(|e| unique_violation(e, "a photo with this id or upload"))?;
    let mut tags = p.tags.clone();
    tags.sort();
    tags.dedup();
    for c in &tags {
        tx.execute(
            "INSERT INTO photo_tags (photo_id, child_id) VALUES (?1, ?2)",
            params![p.id.to_string(), c.to_string()],
        )?;
    }
    Ok(sha)
}

fn apply_diary(
    tx: &Connection,
    device: &AuthedDevice,
    d: &StaffDiaryItem,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> Result<(), Failure> {
    if d.children.is_empty() {
        return Err(Failure::validation(
            "a diary entry needs at least one child",
        ));
    }
    if d.text.chars().count() > MAX_TEXT_CHARS {
        return Err(Failure::validation(format!(
            "diary text is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    if d.text.trim().is_empty() && d.baby.is_none() && d.photos.is_empty() {
        return Err(Failure::validation(
            "a diary entry needs text, baby fields or a photo",
        ));
    }
    let children = group_children(tx, &device.group, today)?;
    check_children(&children, &d.children)?;
    for photo in &d.photos {
        let found: Option<String> = tx
            .query_row(
                "SELECT id FROM photos WHERE id = ?1 AND group_id = ?2",
                params![photo.to_string(), device.group.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        if found.is_none() {
            return Err(Failure::validation(format!(
                "photo {photo} has not reached the server; send it first"
            )));
        }
    }
    let author = author_name(tx, &device.group, d.staff_id.as_ref())?;
    let staff = staff_name(tx, &device.group, d.staff_id.as_ref())?.and(d.staff_id);
    let baby = d
        .baby
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| Failure::internal("baby fields", &e))?;
    tx.execute(
        "INSERT INTO diary_entries (id, group_id, author_kind, author_staff_id, author_name, text,
                                    baby_json, device_id, written_at)
         VALUES (?1, ?2, 'staff', ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            d.id.to_string(),
            device.group.to_string(),
            staff.map(|s| s.to_string()),
            author,
            d.text,
            baby,
            device.id.to_string(),
            time_str(now)
        ],
    )
    .map_err(|e| unique_violation(e, "a diary entry with this id"))?;
    let mut kids = d.children.clone();
    kids.sort();
    kids.dedup();
    for c in &kids {
        tx.execute(
            "INSERT INTO diary_children (entry_id, child_id) VALUES (?1, ?2)",
            params![d.id.to_string(), c.to_string()],
        )?;
    }
    let mut photos = d.photos.clone();
    photos.sort();
    photos.dedup();
    for p in &photos {
        tx.execute(
            "INSERT INTO diary_photos (entry_id, photo_id) VALUES (?1, ?2)",
            params![d.id.to_string(), p.to_string()],
        )?;
    }
    Ok(())
}

fn apply_message(
    tx: &Connection,
    device: &AuthedDevice,
    m: &StaffMessageItem,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> Result<i64, Failure> {
    let body = m.body.trim();
    if body.is_empty() {
        return Err(Failure::validation("a message cannot be empty"));
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Failure::validation(format!(
            "a message is at most {MAX_MESSAGE_CHARS} characters"
        )));
    }
    let child = match m.thread {
        MessageThread::Child { child_id } => {
            check_children(&group_children(tx, &device.group, today)?, &[child_id])?;
            Some(child_id.to_string())
        }
        MessageThread::Group => None,
    };
    let author = author_name(tx, &device.group, m.staff_id.as_ref())?;
    let staff = staff_name(tx, &device.group, m.staff_id.as_ref())?.and(m.staff_id);
    tx.execute(
        "INSERT INTO messages (id, group_id, child_id, author_kind, author_staff_id, author_name,
                               body, sent_at, device_id, read_by_group_at)
         VALUES (?1, ?2, ?3, 'staff', ?4, ?5, ?6, ?7, ?8, ?7)",
        params![
            m.id.to_string(),
            device.group.to_string(),
            child,
            staff.map(|s| s.to_string()),
            author,
            body,
            time_str(now),
            device.id.to_string()
        ],
    )
    .map_err(|e| unique_violation(e, "a message with this id"))?;
    Ok(record_change(
        tx,
        &device.group,
        EntityKind::Message,
        &m.id.0,
    )?)
}

fn apply_read_receipt(
    tx: &Connection,
    device: &AuthedDevice,
    r: &ReadReceiptItem,
    now: DateTime<Utc>,
) -> Result<i64, Failure> {
    let found: Option<String> = tx
        .query_row(
            "SELECT id FROM messages WHERE id = ?1 AND group_id = ?2",
            params![r.message_id.to_string(), device.group.to_string()],
            |row| row.get(0),
        )
        .optional()?;
    if found.is_none() {
        return Err(Failure::validation(format!(
            "message {} is not a message of this group",
            r.message_id
        )));
    }
    staff_name(tx, &device.group, r.staff_id.as_ref())?;
    tx.execute(
        "INSERT INTO read_receipts (id, message_id, device_id, staff_id, read_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            r.id.to_string(),
            r.message_id.to_string(),
            device.id.to_string(),
            r.staff_id.map(|s| s.to_string()),
            time_str(now)
        ],
    )
    .map_err(|e| unique_violation(e, "a read receipt with this id"))?;
    tx.execute(
        "UPDATE messages SET read_by_group_at = COALESCE(read_by_group_at, ?2) WHERE id = ?1",
        params![r.message_id.to_string(), time_str(now)],
    )?;
    Ok(record_change(
        tx,
        &device.group,
        EntityKind::Message,
        &r.message_id.0,
    )?)
}

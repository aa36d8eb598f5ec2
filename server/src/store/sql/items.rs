//! SQLite: pushed items, applied exactly once (see [`crate::store::Store::push_item`]).

use super::conn::{Connection, DbError, OptionalExtension, TransactionBehavior, params};
use super::conn::{parse_id, time_str};
use super::duplicate;
use super::feed::{EntityKind, current_seq, parse_consent, record_change};
use crate::device_api::devices::AuthedDevice;
use crate::device_api::items::{check_diary, message_body, request_hash};
use crate::org::GroupChange;
use crate::store::{CompletedUpload, PushOutcome, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use kring_protocol::{
    Audience, ChildId, ConsentedChild, ErrorCode, GroupId, MessageThread, PhotoConsent, PhotoItem,
    PushItem, PushReceipt, ReadReceiptItem, StaffDiaryItem, StaffId, StaffMessageItem,
    decide_audience,
};
use std::collections::HashMap;

/// Applies `item` for `device` exactly once.
pub fn push(
    conn: &mut Connection,
    device: &AuthedDevice,
    item: &PushItem,
    now: DateTime<Utc>,
) -> Result<PushOutcome, StoreError> {
    let key = &item.id();
    let hash = request_hash(item)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // pushes of one device, one at a time: a retry racing its first push
    // waits for it and then finds the stored answer
    tx.lock_row("devices", &device.id.to_string())?;
    let stored: Option<StoredAnswer> = tx
        .query_row(
            "SELECT request_hash, status, response FROM idempotency WHERE device_id = ?1 AND key = ?2",
            params![device.id.to_string(), key.to_string()],
            |r| {
                Ok(StoredAnswer {
                    request_hash: r.get(0)?,
                    status: r.get(1)?,
                    body: r.get(2)?,
                })
            },
        )
        .optional()?;
    if let Some(stored) = stored {
        if stored.request_hash != hash {
            return Err(StoreError::Conflict(
                "this Idempotency-Key was already used for another item".into(),
            ));
        }
        return Ok(PushOutcome {
            status: stored.status,
            body: stored.body,
            changed: None,
            replayed: true,
        });
    }
    let today = device.calendar.today(now);
    let (changed_seq, sha256) = match item {
        PushItem::Photo(p) => (None, Some(apply_photo(&tx, device, p, now, today)?)),
        PushItem::Diary(d) => {
            apply_diary(&tx, device, d, now, today)?;
            (None, None)
        }
        PushItem::Message(m) => (Some(apply_message(&tx, device, m, now, today)?), None),
        PushItem::ReadReceipt(r) => (Some(apply_read_receipt(&tx, device, r, now)?), None),
        PushItem::Attendance(a) => (Some(super::attendance::apply(&tx, device, a, now)?), None),
        // the device API opens sealed items before they get here
        PushItem::Sealed(_) => {
            return Err(StoreError::invalid("a sealed item must be opened first"));
        }
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
    let body = serde_json::to_string(&receipt).map_err(StoreError::backend)?;
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
        status: 200,
        body,
        changed: changed_seq.map(|seq| GroupChange {
            group: device.group,
            seq,
        }),
        replayed: false,
    })
}

/// Children with a current placement on the group, with their consent now.
pub fn group_children(
    conn: &Connection,
    group: &GroupId,
    today: NaiveDate,
) -> Result<HashMap<ChildId, PhotoConsent>, StoreError> {
    let mut st = conn.prepare(
        "SELECT DISTINCT c.id, c.photo_consent FROM children c
         JOIN placements p ON p.child_id = c.id
         WHERE p.group_id = ?1 AND p.start_date <= ?2 AND (p.end_date IS NULL OR p.end_date >= ?2)",
    )?;
    let mut rows = st.query(params![group.to_string(), today.to_string()])?;
    let mut out = HashMap::new();
    while let Some(r) = rows.next()? {
        let id: String = r.get("id")?;
        let consent: String = r.get("photo_consent")?;
        out.insert(parse_id("children.id", &id)?, parse_consent(&consent)?);
    }
    Ok(out)
}

/// Refuses any of `ids` that is not in `children` (the group's placed children).
pub(super) fn check_children(
    children: &HashMap<ChildId, PhotoConsent>,
    ids: &[ChildId],
) -> Result<(), StoreError> {
    match ids.iter().find(|c| !children.contains_key(c)) {
        Some(c) => Err(StoreError::invalid(format!(
            "child {c} is not placed on this device's group"
        ))),
        None => Ok(()),
    }
}

fn staff_name(
    conn: &Connection,
    group: &GroupId,
    staff: Option<&StaffId>,
) -> Result<Option<String>, StoreError> {
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
        StoreError::invalid(format!("staff member {staff} does not work on this group"))
    })
}

fn group_name(conn: &Connection, group: &GroupId) -> Result<String, StoreError> {
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
) -> Result<String, StoreError> {
    match staff_name(conn, group, staff)? {
        Some(n) => Ok(n),
        None => Ok(format!("Groep {}", group_name(conn, group)?)),
    }
}

fn apply_photo(
    tx: &Connection,
    device: &AuthedDevice,
    p: &PhotoItem,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> Result<String, StoreError> {
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
        return Err(StoreError::ConsentRefused(format!(
            "no photo consent for child(ren) {}",
            list.join(", ")
        )));
    }
    if !super::uploads::take(tx, &p.upload_id, now)? {
        return Err(upload_incomplete());
    }
    let upload = super::uploads::completed(tx, &p.upload_id)?;
    let Some((owner, photo)) = upload else {
        return Err(upload_incomplete());
    };
    if owner != device.id {
        return Err(upload_incomplete());
    }
    let CompletedUpload {
        sha256: sha,
        blob_key: blob,
        thumb_key: thumb,
        width: w,
        height: h,
    } = photo;
    if !sha.eq_ignore_ascii_case(&p.sha256) {
        return Err(StoreError::Invalid {
            code: ErrorCode::UploadChecksumMismatch,
            message: "the uploaded bytes do not match the photo's sha256".into(),
        });
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
    .map_err(duplicate("a photo with this id or upload"))?;
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
) -> Result<(), StoreError> {
    check_diary(d)?;
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
            return Err(StoreError::invalid(format!(
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
        .map_err(StoreError::backend)?;
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
    .map_err(duplicate("a diary entry with this id"))?;
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
) -> Result<i64, StoreError> {
    let body = message_body(m)?;
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
    .map_err(duplicate("a message with this id"))?;
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
) -> Result<i64, StoreError> {
    let found: Option<String> = tx
        .query_row(
            "SELECT id FROM messages WHERE id = ?1 AND group_id = ?2",
            params![r.message_id.to_string(), device.group.to_string()],
            |row| row.get(0),
        )
        .optional()?;
    if found.is_none() {
        return Err(StoreError::invalid(format!(
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
    .map_err(duplicate("a read receipt with this id"))?;
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

/// The idempotency record of an earlier push.
struct StoredAnswer {
    request_hash: String,
    status: u16,
    body: String,
}

fn upload_incomplete() -> StoreError {
    StoreError::Invalid {
        code: ErrorCode::UploadIncomplete,
        message: "the photo's upload is unknown or not complete".into(),
    }
}

/// A photo stored without a device push (the demo's): already processed,
/// its bytes in the blob store.
#[derive(Debug, Clone)]
pub struct PhotoRecord {
    pub id: kring_protocol::PhotoId,
    pub group: GroupId,
    pub sha256: String,
    pub blob_key: String,
    pub thumb_key: String,
    pub width: u32,
    pub height: u32,
    pub no_children_recognizable: bool,
    pub tags: Vec<ChildId>,
    pub at: DateTime<Utc>,
}

/// Stores a photo and its tags (no upload behind it: a fresh upload id).
pub fn insert_photo(tx: &Connection, p: &PhotoRecord) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO photos (id, group_id, upload_id, sha256, blob_key, thumb_key, width, height,
                             no_children_recognizable, taken_at_device, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        params![
            p.id.to_string(),
            p.group.to_string(),
            uuid::Uuid::now_v7().to_string(),
            p.sha256,
            p.blob_key,
            p.thumb_key,
            p.width,
            p.height,
            p.no_children_recognizable,
            time_str(p.at)
        ],
    )?;
    for c in &p.tags {
        tx.execute(
            "INSERT INTO photo_tags (photo_id, child_id) VALUES (?1, ?2)",
            params![p.id.to_string(), c.to_string()],
        )?;
    }
    Ok(())
}

/// Stores a staff diary entry written outside a device, about `children`,
/// with `photos` attached.
pub fn insert_staff_diary(
    tx: &Connection,
    group: &GroupId,
    author_name: &str,
    text: &str,
    children: &[ChildId],
    photos: &[kring_protocol::PhotoId],
    at: DateTime<Utc>,
) -> Result<kring_protocol::DiaryEntryId, DbError> {
    let entry = kring_protocol::DiaryEntryId::new();
    tx.execute(
        "INSERT INTO diary_entries (id, group_id, author_kind, author_name, text, written_at)
         VALUES (?1, ?2, 'staff', ?3, ?4, ?5)",
        params![
            entry.to_string(),
            group.to_string(),
            author_name,
            text,
            time_str(at)
        ],
    )?;
    for c in children {
        tx.execute(
            "INSERT INTO diary_children (entry_id, child_id) VALUES (?1, ?2)",
            params![entry.to_string(), c.to_string()],
        )?;
    }
    for p in photos {
        tx.execute(
            "INSERT INTO diary_photos (entry_id, photo_id) VALUES (?1, ?2)",
            params![entry.to_string(), p.to_string()],
        )?;
    }
    Ok(entry)
}

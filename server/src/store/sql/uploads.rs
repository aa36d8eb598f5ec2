//! SQLite: resumable uploads (tus). An upload's offset moves only after its
//! bytes are durable; a complete upload carries its stored photo.

use super::conn::{Connection, OptionalExtension, TransactionBehavior, params};
use super::conn::{parse_id, parse_time, time_str};
use crate::store::{CompletedUpload, NewUpload, StoreError, UploadRow};
use chrono::{DateTime, Utc};
use kring_protocol::{DeviceId, UploadId};

pub fn create(c: &Connection, u: &NewUpload) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO uploads (id, device_id, length, \"offset\", metadata, expected_sha256, created_at, expires_at)
         VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7)",
        params![
            u.id.to_string(),
            u.device.to_string(),
            u.length,
            u.metadata_json,
            u.expected_sha256,
            time_str(u.created_at),
            time_str(u.expires_at)
        ],
    )
    .map_err(super::duplicate("an upload with this id"))?;
    Ok(())
}

pub fn load(c: &Connection, id: &UploadId) -> Result<Option<UploadRow>, StoreError> {
    /// The columns as stored, before parsing.
    struct Raw {
        device: String,
        length: u64,
        offset: u64,
        expected_sha256: Option<String>,
        expires_at: String,
        completed_at: Option<String>,
        failed_reason: Option<String>,
    }
    let raw = c
        .query_row(
            "SELECT device_id, length, \"offset\", expected_sha256, expires_at, completed_at, failed_reason
             FROM uploads WHERE id = ?1",
            params![id.to_string()],
            |r| {
                Ok(Raw {
                    device: r.get("device_id")?,
                    length: r.get("length")?,
                    offset: r.get("offset")?,
                    expected_sha256: r.get("expected_sha256")?,
                    expires_at: r.get("expires_at")?,
                    completed_at: r.get("completed_at")?,
                    failed_reason: r.get("failed_reason")?,
                })
            },
        )
        .optional()?;
    let Some(raw) = raw else {
        return Ok(None);
    };
    Ok(Some(UploadRow {
        id: *id,
        device: parse_id("uploads.device_id", &raw.device)?,
        length: raw.length,
        offset: raw.offset,
        expected_sha256: raw.expected_sha256,
        expires_at: parse_time("uploads.expires_at", &raw.expires_at)?,
        completed: raw.completed_at.is_some(),
        failed_reason: raw.failed_reason,
    }))
}

/// The owner and stored photo of a complete upload (None when unknown or not complete).
pub fn completed(
    c: &Connection,
    id: &UploadId,
) -> Result<Option<(DeviceId, CompletedUpload)>, StoreError> {
    let row = c
        .query_row(
            "SELECT device_id, sha256, blob_key, thumb_key, width, height
             FROM uploads WHERE id = ?1 AND completed_at IS NOT NULL",
            params![id.to_string()],
            |r| {
                Ok((
                    r.get::<_, String>("device_id")?,
                    r.get::<_, Option<String>>("sha256")?,
                    r.get::<_, Option<String>>("blob_key")?,
                    r.get::<_, Option<String>>("thumb_key")?,
                    r.get::<_, Option<u32>>("width")?,
                    r.get::<_, Option<u32>>("height")?,
                ))
            },
        )
        .optional()?;
    let Some((owner, Some(sha256), Some(blob_key), Some(thumb_key), Some(width), Some(height))) =
        row
    else {
        return Ok(None);
    };
    Ok(Some((
        parse_id("uploads.device_id", &owner)?,
        CompletedUpload {
            sha256,
            blob_key,
            thumb_key,
            width,
            height,
        },
    )))
}

pub fn set_offset(c: &Connection, id: &UploadId, offset: u64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE uploads SET \"offset\" = ?2 WHERE id = ?1",
        params![id.to_string(), offset],
    )?;
    Ok(())
}

pub fn fail(c: &Connection, id: &UploadId, reason: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE uploads SET failed_reason = ?2 WHERE id = ?1",
        params![id.to_string(), reason],
    )?;
    drop_parts(c, id)
}

fn drop_parts(c: &Connection, id: &UploadId) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM upload_parts WHERE upload_id = ?1",
        params![id.to_string()],
    )?;
    Ok(())
}

/// See [`crate::store::Store::append_upload_part`].
pub fn append_part(
    c: &mut Connection,
    id: &UploadId,
    at: u64,
    bytes: &[u8],
) -> Result<bool, StoreError> {
    let end = at + bytes.len() as u64;
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let moved = tx.execute(
        "UPDATE uploads SET \"offset\" = ?3 WHERE id = ?1 AND \"offset\" = ?2
         AND completed_at IS NULL AND failed_reason IS NULL AND length >= ?3",
        params![id.to_string(), at, end],
    )?;
    if moved != 1 {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO upload_parts (upload_id, start, bytes) VALUES (?1, ?2, ?3)",
        params![id.to_string(), at, bytes],
    )?;
    tx.commit()?;
    Ok(true)
}

/// The stored parts of an upload, in order, as one byte string.
pub fn bytes(c: &Connection, id: &UploadId) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    for r in c.query_rows(
        "SELECT start, bytes FROM upload_parts WHERE upload_id = ?1 ORDER BY start",
        params![id.to_string()],
    )? {
        let start: u64 = r.get("start")?;
        if start != out.len() as u64 {
            return Err(StoreError::invalid(format!(
                "upload {id}: a part starts at {start}, not at {}",
                out.len()
            )));
        }
        out.extend_from_slice(&r.get::<_, Vec<u8>>("bytes")?);
    }
    Ok(out)
}

/// See [`crate::store::Store::rewind_upload`].
pub fn rewind(c: &mut Connection, id: &UploadId, offset: u64) -> Result<(), StoreError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "DELETE FROM upload_parts WHERE upload_id = ?1 AND start >= ?2",
        params![id.to_string(), offset],
    )?;
    tx.execute(
        "UPDATE uploads SET \"offset\" = ?2 WHERE id = ?1 AND completed_at IS NULL",
        params![id.to_string(), offset],
    )?;
    tx.commit()?;
    Ok(())
}

pub fn complete(
    c: &Connection,
    id: &UploadId,
    p: &CompletedUpload,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE uploads SET completed_at = ?2, sha256 = ?3, blob_key = ?4, thumb_key = ?5,
                width = ?6, height = ?7 WHERE id = ?1",
        params![
            id.to_string(),
            time_str(now),
            p.sha256,
            p.blob_key,
            p.thumb_key,
            p.width,
            p.height
        ],
    )?;
    drop_parts(c, id)
}

/// Deletes unfinished uploads that expired before `now`, in one transaction.
pub fn sweep_expired(c: &mut Connection, now: DateTime<Utc>) -> Result<Vec<UploadId>, StoreError> {
    let now = time_str(now);
    let tx = c.transaction()?;
    let ids: Vec<String> = tx
        .prepare("SELECT id FROM uploads WHERE completed_at IS NULL AND expires_at < ?1")?
        .query_map(params![now], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    tx.execute(
        "DELETE FROM uploads WHERE completed_at IS NULL AND expires_at < ?1",
        params![now],
    )?;
    tx.commit()?;
    Ok(ids
        .iter()
        .map(|s| parse_id("uploads.id", s))
        .collect::<Result<_, _>>()?)
}

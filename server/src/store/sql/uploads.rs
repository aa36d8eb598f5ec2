//! SQLite: resumable uploads (tus). An upload's offset moves only after its
//! bytes are durable; a complete upload carries its stored photo.

use super::conn::{Connection, OptionalExtension, TransactionBehavior, params};
use super::conn::{parse_id, parse_time, time_str};
use crate::store::{CompletedUpload, NewUpload, StoreError, SweptUpload, UploadQuota, UploadRow};
use chrono::{DateTime, Utc};
use kring_protocol::{DeviceId, ErrorCode, UploadId};

/// Creates the upload within the device's quota (counted in the same
/// transaction, so parallel creates of one device cannot pass it together on
/// SQLite; on PostgreSQL two racing creates may exceed it by one).
pub fn create(c: &mut Connection, u: &NewUpload, quota: &UploadQuota) -> Result<(), StoreError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (open, open_bytes, unused): (u32, u64, u32) = tx.query_row(
        "SELECT
           CAST(coalesce(sum(CASE WHEN completed_at IS NULL AND failed_reason IS NULL
                     AND expires_at >= ?2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS open,
           CAST(coalesce(sum(CASE WHEN completed_at IS NULL AND failed_reason IS NULL
                     AND expires_at >= ?2 THEN length ELSE 0 END), 0) AS BIGINT) AS open_bytes,
           CAST(coalesce(sum(CASE WHEN completed_at IS NOT NULL AND used_at IS NULL
                     THEN 1 ELSE 0 END), 0) AS BIGINT) AS unused
         FROM uploads WHERE device_id = ?1",
        params![u.device.to_string(), time_str(u.created_at)],
        |r| Ok((r.get("open")?, r.get("open_bytes")?, r.get("unused")?)),
    )?;
    let over = |what: String| StoreError::Invalid {
        code: ErrorCode::RateLimited,
        message: format!("{what}; finish or wait for those first"),
    };
    if open >= quota.open {
        return Err(over(format!("this device has {open} unfinished uploads")));
    }
    if open_bytes + u.length > quota.open_bytes {
        return Err(over(format!(
            "this device's unfinished uploads would come to {} bytes",
            open_bytes + u.length
        )));
    }
    if unused >= quota.unused {
        return Err(over(format!(
            "this device has {unused} uploaded photos that no photo item used"
        )));
    }
    tx.execute(
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
    tx.commit()?;
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

/// Marks a complete upload taken by a photo (inside the photo's
/// transaction). False when there is no such complete upload, also when the
/// sweep removed it first; once this returned true, the sweep leaves it.
pub fn take(c: &Connection, id: &UploadId, now: DateTime<Utc>) -> Result<bool, StoreError> {
    Ok(c.execute(
        "UPDATE uploads SET used_at = coalesce(used_at, ?2)
         WHERE id = ?1 AND completed_at IS NOT NULL",
        params![id.to_string(), time_str(now)],
    )? == 1)
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

/// Deletes, in one transaction, unfinished uploads that expired before
/// `now` and complete uploads no photo took that completed before
/// `unused_before`. Returns them with the stored files to delete.
pub fn sweep_expired(
    c: &mut Connection,
    now: DateTime<Utc>,
    unused_before: DateTime<Utc>,
) -> Result<Vec<SweptUpload>, StoreError> {
    const GONE: &str = "(completed_at IS NULL AND expires_at < ?1)
         OR (completed_at IS NOT NULL AND used_at IS NULL AND completed_at < ?2)";
    let (now, unused_before) = (time_str(now), time_str(unused_before));
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let rows: Vec<(String, Option<String>, Option<String>)> = tx
        .prepare(&format!(
            "SELECT id, blob_key, thumb_key FROM uploads WHERE {GONE}"
        ))?
        .query_map(params![now, unused_before], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    tx.execute(
        &format!("DELETE FROM uploads WHERE {GONE}"),
        params![now, unused_before],
    )?;
    tx.commit()?;
    rows.into_iter()
        .map(|(id, blob, thumb)| {
            Ok(SweptUpload {
                id: parse_id("uploads.id", &id)?,
                blob_keys: blob.into_iter().chain(thumb).collect(),
            })
        })
        .collect()
}

//! A parent's archive of their own child: the request, the builder's claim,
//! what goes in (the timeline's rule, every page of it), the single-use link
//! (only its SHA-256 is stored) and the sweep of old files.

use super::super::conn::{
    Connection, DbError, RowExt, TransactionBehavior, params, query_all, query_one, time_str,
};
use super::*;
use crate::portal::*;
use crate::store::{
    ArchiveContents, ArchiveFetch, ArchiveJob, ArchiveKey, ArchiveRequested, ArchiveState,
    ArchiveStatus,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use kring_protocol::{ChildId, OrganisationId, ParentId};

/// More than any child's photos and entries: the whole timeline at once.
const EVERYTHING: usize = 1_000_000;

/// Asks for an archive (None: not the parent's child); an open request of
/// the same parent and child is answered instead of a second one.
pub fn request_archive(
    c: &mut Connection,
    parent: &ParentId,
    child: &ChildId,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Option<ArchiveRequested>, DbError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if my_child(&tx, parent, child, today)?.is_none() {
        return Ok(None);
    }
    let open = query_one(
        &tx,
        "SELECT id FROM archive_requests
         WHERE parent_id = ?1 AND child_id = ?2 AND failed_at IS NULL AND downloaded_at IS NULL
           AND (built_at IS NULL OR expires_at > ?3)
         ORDER BY requested_at DESC LIMIT 1",
        params![parent.to_string(), child.to_string(), time_str(now)],
        |r| r.id::<uuid::Uuid>("id"),
    )?;
    if let Some(id) = open {
        return Ok(Some(ArchiveRequested { id, new: false }));
    }
    let id = uuid::Uuid::now_v7();
    tx.execute(
        "INSERT INTO archive_requests (id, organisation_id, parent_id, child_id, requested_at)
         SELECT ?1, organisation_id, id, ?3, ?4 FROM parents WHERE id = ?2",
        params![
            id.to_string(),
            parent.to_string(),
            child.to_string(),
            time_str(now)
        ],
    )?;
    tx.commit()?;
    Ok(Some(ArchiveRequested { id, new: true }))
}

/// Takes the oldest request that no live builder has (see `Store::claim_archive`).
pub fn claim_archive(
    c: &mut Connection,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> Result<Option<ArchiveJob>, DbError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    const FREE: &str = "built_at IS NULL AND failed_at IS NULL
                        AND (claimed_at IS NULL OR claimed_at < ?2)";
    // the condition again in the UPDATE: of two processes that chose the
    // same row, the second updates nothing
    let job = query_one(
        &tx,
        &format!(
            "UPDATE archive_requests SET claimed_at = ?1
             WHERE id = (SELECT id FROM archive_requests WHERE {FREE}
                         ORDER BY requested_at, id LIMIT 1)
               AND {FREE}
             RETURNING id, organisation_id, parent_id, child_id"
        ),
        params![time_str(now), time_str(stale_before)],
        |r| {
            Ok(ArchiveJob {
                id: r.id("id")?,
                org: r.id("organisation_id")?,
                parent: r.id("parent_id")?,
                child: r.id("child_id")?,
            })
        },
    )?;
    tx.commit()?;
    Ok(job)
}

/// What the parent of `job` may see of the child now: the timeline of that
/// child (the same SQL and checks as "Mijn kind"), all of it.
pub fn archive_contents(
    c: &Connection,
    job: &ArchiveJob,
    now: DateTime<Utc>,
) -> Result<Option<ArchiveContents>, DbError> {
    let org = query_one(
        c,
        "SELECT o.name AS org_name, o.slug, o.time_zone, p.name, p.email
         FROM parents p JOIN organisations o ON o.id = p.organisation_id
         WHERE p.id = ?1 AND o.id = ?2",
        params![job.parent.to_string(), job.org.to_string()],
        |r| {
            Ok((
                r.get::<_, String>("org_name")?,
                r.get::<_, String>("slug")?,
                r.get::<_, String>("time_zone")?,
                r.get::<_, String>("name")?,
                r.get::<_, String>("email")?,
            ))
        },
    )?;
    let Some((org_name, org_slug, zone, parent_name, parent_email)) = org else {
        return Ok(None);
    };
    let calendar = super::super::calendar_of(&zone);
    let today = calendar.today(now);
    let Some(child) = my_child(c, &job.parent, &job.child, today)? else {
        return Ok(None);
    };
    let mut items = timeline(c, &job.parent, Some(&job.child), today, EVERYTHING, None)?;
    items.reverse();
    let mut ids = Vec::new();
    for item in &items {
        match item {
            TimelineItem::Photo { photo, .. } => ids.push(photo.id.to_string()),
            TimelineItem::Diary(d) => ids.extend(d.photos.iter().map(ToString::to_string)),
        }
    }
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    let photos = load_photos(c, &ids)?;
    let messages = archive_thread(c, &child)?;
    Ok(Some(ArchiveContents {
        child,
        parent_name,
        parent_email,
        org_name,
        org_slug,
        calendar,
        items,
        photos,
        messages,
    }))
}

/// Records the built file and makes the link's token (only its hash kept).
pub fn finish_archive(
    c: &Connection,
    id: &uuid::Uuid,
    file_name: &str,
    size: u64,
    photos: &[kring_protocol::PhotoId],
    now: DateTime<Utc>,
    valid: Duration,
) -> Result<Option<String>, DbError> {
    let token = random_token();
    let ids: Vec<String> = photos.iter().map(ToString::to_string).collect();
    let n = c.execute(
        "UPDATE archive_requests SET built_at = ?2, file_name = ?3, size_bytes = ?4, photos = ?5,
                token_hash = ?6, expires_at = ?7, photo_ids = ?8
         WHERE id = ?1 AND built_at IS NULL AND failed_at IS NULL",
        params![
            id.to_string(),
            time_str(now),
            file_name,
            i64::try_from(size).unwrap_or(i64::MAX),
            i64::try_from(photos.len()).unwrap_or(i64::MAX),
            sha256_hex(&token),
            time_str(now + valid),
            serde_json::Value::from(ids).to_string()
        ],
    )?;
    Ok((n == 1).then_some(token))
}

pub fn fail_archive(c: &Connection, id: &uuid::Uuid, now: DateTime<Utc>) -> Result<(), DbError> {
    c.execute(
        "UPDATE archive_requests SET failed_at = ?2 WHERE id = ?1 AND built_at IS NULL",
        params![id.to_string(), time_str(now)],
    )?;
    Ok(())
}

/// A built request as a download finds it.
struct Found {
    job: ArchiveJob,
    file_name: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    downloaded_at: Option<DateTime<Utc>>,
    photo_ids: Option<String>,
    first_name: String,
}

/// The archive of `key` in `org`; `Ready` marks it downloaded (single use),
/// `Stale` (a photo in it the parent may not see now) asks for it again.
pub fn fetch_archive(
    c: &mut Connection,
    org: &OrganisationId,
    key: &ArchiveKey,
    now: DateTime<Utc>,
) -> Result<ArchiveFetch, DbError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    const COLUMNS: &str = "a.id, a.organisation_id, a.parent_id, a.child_id, a.file_name,
         a.expires_at, a.downloaded_at, a.photo_ids, k.first_name
         FROM archive_requests a JOIN children k ON k.id = a.child_id";
    let decode = |r: &super::super::conn::Row| {
        Ok(Found {
            job: ArchiveJob {
                id: r.id("id")?,
                org: r.id("organisation_id")?,
                parent: r.id("parent_id")?,
                child: r.id("child_id")?,
            },
            file_name: r.get("file_name")?,
            expires_at: r.opt_time("expires_at")?,
            downloaded_at: r.opt_time("downloaded_at")?,
            photo_ids: r.get("photo_ids")?,
            first_name: r.get("first_name")?,
        })
    };
    let found = match key {
        ArchiveKey::Token(token) => query_one(
            &tx,
            &format!(
                "SELECT {COLUMNS} WHERE a.token_hash = ?1 AND a.organisation_id = ?2
                   AND a.built_at IS NOT NULL"
            ),
            params![sha256_hex(token), org.to_string()],
            decode,
        )?,
        ArchiveKey::Parent { parent, id } => query_one(
            &tx,
            &format!(
                "SELECT {COLUMNS} WHERE a.id = ?1 AND a.parent_id = ?2 AND a.organisation_id = ?3
                   AND a.built_at IS NOT NULL"
            ),
            params![id.to_string(), parent.to_string(), org.to_string()],
            decode,
        )?,
    };
    let Some(Found {
        job,
        file_name: Some(file_name),
        expires_at: Some(expires_at),
        downloaded_at,
        photo_ids,
        first_name: child_first_name,
    }) = found
    else {
        return Ok(ArchiveFetch::Unknown);
    };
    if downloaded_at.is_some() {
        return Ok(ArchiveFetch::Used);
    }
    if expires_at <= now {
        return Ok(ArchiveFetch::Expired);
    }
    // every photo in the file must be one the parent may see now (the
    // timeline's rule with the consents and placements of now)
    let visible: std::collections::HashSet<String> = match archive_contents(&tx, &job, now)? {
        Some(c) => c.photos.iter().map(|p| p.id.to_string()).collect(),
        None => return Ok(ArchiveFetch::Unknown),
    };
    let inside: Vec<String> = photo_ids
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    if inside.iter().any(|p| !visible.contains(p)) {
        // this one goes (its file with the sweep); a new one takes its place
        tx.execute(
            "UPDATE archive_requests SET failed_at = ?2, token_hash = NULL WHERE id = ?1",
            params![job.id.to_string(), time_str(now)],
        )?;
        tx.execute(
            "INSERT INTO archive_requests (id, organisation_id, parent_id, child_id, requested_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                uuid::Uuid::now_v7().to_string(),
                job.org.to_string(),
                job.parent.to_string(),
                job.child.to_string(),
                time_str(now)
            ],
        )?;
        tx.commit()?;
        return Ok(ArchiveFetch::Stale);
    }
    let n = tx.execute(
        "UPDATE archive_requests SET downloaded_at = ?2 WHERE id = ?1 AND downloaded_at IS NULL",
        params![job.id.to_string(), time_str(now)],
    )?;
    tx.commit()?;
    Ok(if n == 1 {
        ArchiveFetch::Ready {
            file_name,
            child_first_name,
        }
    } else {
        ArchiveFetch::Used
    })
}

/// The parent's latest request per child of the last 30 days.
pub fn archives_of(
    c: &Connection,
    parent: &ParentId,
    now: DateTime<Utc>,
) -> Result<Vec<ArchiveStatus>, DbError> {
    let rows = query_all(
        c,
        "SELECT id, child_id, requested_at, built_at, failed_at, expires_at, downloaded_at
         FROM archive_requests WHERE parent_id = ?1 AND requested_at > ?2
         ORDER BY requested_at DESC, id DESC",
        params![parent.to_string(), time_str(now - Duration::days(30))],
        |r| {
            let state = if r.opt_time("failed_at")?.is_some() {
                ArchiveState::Failed
            } else if r.opt_time("downloaded_at")?.is_some() {
                ArchiveState::Downloaded
            } else if r.opt_time("built_at")?.is_none() {
                ArchiveState::Waiting
            } else {
                match r.opt_time("expires_at")? {
                    Some(t) if t > now => ArchiveState::Ready { expires_at: t },
                    _ => ArchiveState::Expired,
                }
            };
            Ok(ArchiveStatus {
                id: r.id("id")?,
                child: r.id("child_id")?,
                requested_at: r.time("requested_at")?,
                state,
            })
        },
    )?;
    let mut out: Vec<ArchiveStatus> = Vec::new();
    for s in rows {
        if !out.iter().any(|o| o.child == s.child) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Files of archives that were downloaded, expired or failed, not removed
/// yet: marked removed, returned for the caller to delete.
pub fn sweep_archives(c: &mut Connection, now: DateTime<Utc>) -> Result<Vec<String>, DbError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let rows = query_all(
        &tx,
        "SELECT id, file_name FROM archive_requests
         WHERE file_removed_at IS NULL AND file_name IS NOT NULL
           AND (downloaded_at IS NOT NULL OR expires_at <= ?1 OR failed_at IS NOT NULL)",
        params![time_str(now)],
        |r| Ok((r.get::<_, String>("id")?, r.get::<_, String>("file_name")?)),
    )?;
    for (id, _) in &rows {
        tx.execute(
            "UPDATE archive_requests SET file_removed_at = ?2 WHERE id = ?1",
            params![id, time_str(now)],
        )?;
    }
    tx.commit()?;
    Ok(rows.into_iter().map(|(_, f)| f).collect())
}

//! Retention (AVG): a child's diary, photos, messages and absences are kept
//! for the organisation's `child_data_weeks` (default 8) after its last
//! placement ended, then deleted: rows here, the photos' files by the caller.
//! A photo of several children goes when no tagged child's data may be kept
//! any more; a diary entry about several, when none is left.

use super::conn::{Connection, DbError, RowExt, params, query_all, time_str};
use crate::store::{AccessEntry, ChildDataExpired, Leaving, LeavingNotice};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use kring_protocol::{ChildId, OrganisationId, ParentId};

/// Deletes what has expired on `today` (the organisations' calendar day), in
/// one transaction: idempotent, a second run finds nothing.
pub fn expire_child_data(
    c: &mut Connection,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<ChildDataExpired, DbError> {
    let tx = c.transaction()?;
    let orgs = query_all(
        &tx,
        "SELECT id, child_data_weeks FROM organisations",
        (),
        |r| {
            Ok((
                r.get::<_, String>("id")?,
                r.get::<_, i64>("child_data_weeks")?,
            ))
        },
    )?;
    let mut out = ChildDataExpired::default();
    // 1. children whose every placement ended before the organisation's cutoff
    for (org, weeks) in orgs {
        let cutoff = today - Duration::weeks(weeks.max(0));
        out.children += tx.execute(
            "UPDATE children SET data_expired_at = ?3
             WHERE organisation_id = ?1 AND data_expired_at IS NULL
               AND EXISTS (SELECT 1 FROM placements p WHERE p.child_id = children.id)
               AND NOT EXISTS (SELECT 1 FROM placements p WHERE p.child_id = children.id
                               AND (p.end_date IS NULL OR p.end_date >= ?2))",
            params![org, cutoff.to_string(), time_str(now)],
        )?;
    }
    const EXPIRED: &str = "SELECT id FROM children WHERE data_expired_at IS NOT NULL";
    // 2. their messages (and the group's read receipts of them) and absences
    tx.execute(
        &format!(
            "DELETE FROM read_receipts WHERE message_id IN
             (SELECT id FROM messages WHERE child_id IN ({EXPIRED}))"
        ),
        (),
    )?;
    out.messages = tx.execute(
        &format!("DELETE FROM messages WHERE child_id IN ({EXPIRED})"),
        (),
    )?;
    out.absences = tx.execute(
        &format!("DELETE FROM absences WHERE child_id IN ({EXPIRED})"),
        (),
    )?;
    // 3. diary entries about no child whose data is kept
    const GONE_ENTRIES: &str = "SELECT d.id FROM diary_entries d
         WHERE EXISTS (SELECT 1 FROM diary_children dc WHERE dc.entry_id = d.id)
           AND NOT EXISTS (SELECT 1 FROM diary_children dc JOIN children k ON k.id = dc.child_id
                           WHERE dc.entry_id = d.id AND k.data_expired_at IS NULL)";
    let entries = query_all(&tx, GONE_ENTRIES, (), |r| r.get::<_, String>("id"))?;
    for e in &entries {
        for table in ["diary_photos", "diary_children"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE entry_id = ?1"),
                params![e],
            )?;
        }
        tx.execute("DELETE FROM diary_entries WHERE id = ?1", params![e])?;
    }
    out.diary_entries = entries.len();
    // 4. photos of tagged children none of whose data is kept, with their files
    let photos = query_all(
        &tx,
        "SELECT p.id, p.upload_id, p.blob_key, p.thumb_key FROM photos p
         WHERE EXISTS (SELECT 1 FROM photo_tags t WHERE t.photo_id = p.id)
           AND NOT EXISTS (SELECT 1 FROM photo_tags t JOIN children k ON k.id = t.child_id
                           WHERE t.photo_id = p.id AND k.data_expired_at IS NULL)",
        (),
        |r| {
            Ok((
                r.get::<_, String>("id")?,
                r.get::<_, String>("upload_id")?,
                r.get::<_, String>("blob_key")?,
                r.get::<_, String>("thumb_key")?,
            ))
        },
    )?;
    for (id, upload, blob, thumb) in &photos {
        for table in ["photo_tags", "diary_photos"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE photo_id = ?1"),
                params![id],
            )?;
        }
        tx.execute("DELETE FROM photos WHERE id = ?1", params![id])?;
        tx.execute("DELETE FROM uploads WHERE id = ?1", params![upload])?;
        out.blob_keys.push(blob.clone());
        out.blob_keys.push(thumb.clone());
    }
    out.photos = photos.len();
    tx.commit()?;
    Ok(out)
}

/// Records one look at (or export of) a child's data.
pub fn record_access(c: &Connection, e: &AccessEntry) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO access_log (id, organisation_id, child_id, staff_id, staff_name, what, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            uuid::Uuid::now_v7().to_string(),
            e.org.to_string(),
            e.child.to_string(),
            e.staff.map(|s| s.to_string()),
            e.staff_name,
            e.what,
            time_str(e.at)
        ],
    )?;
    Ok(())
}

/// The child's access log in `org`, newest first.
pub fn access_log(
    c: &Connection,
    org: &OrganisationId,
    child: &ChildId,
    limit: u32,
) -> Result<Vec<AccessEntry>, DbError> {
    query_all(
        c,
        "SELECT staff_id, staff_name, what, at FROM access_log
         WHERE organisation_id = ?1 AND child_id = ?2 ORDER BY at DESC, id DESC LIMIT ?3",
        params![org.to_string(), child.to_string(), i64::from(limit)],
        |r| {
            Ok(AccessEntry {
                org: *org,
                child: *child,
                staff: r.opt_id("staff_id")?,
                staff_name: r.get("staff_name")?,
                what: r.get("what")?,
                at: r.time("at")?,
            })
        },
    )
}

/// Tells the screens of groups whose placements ended before `today` (and
/// were not announced yet): a feed change of the child, which the group's
/// feed then carries as "removed" (see `feed::load_child`), so the screen
/// forgets the child and its absences. Returns the groups touched.
pub fn announce_ended_placements(
    c: &mut Connection,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<crate::org::Changed, DbError> {
    let tx = c.transaction()?;
    let ended = query_all(
        &tx,
        "SELECT id, child_id, group_id FROM placements
         WHERE end_date IS NOT NULL AND end_date < ?1 AND end_announced_at IS NULL",
        params![today.to_string()],
        |r| {
            Ok((
                r.get::<_, String>("id")?,
                r.id::<ChildId>("child_id")?,
                r.id::<kring_protocol::GroupId>("group_id")?,
            ))
        },
    )?;
    let mut changed = Vec::new();
    for (id, child, group) in ended {
        changed.push(super::feed::group_change(
            &tx,
            &group,
            super::feed::EntityKind::Child,
            &child.0,
        )?);
        tx.execute(
            "UPDATE placements SET end_announced_at = ?2 WHERE id = ?1",
            params![id, time_str(now)],
        )?;
    }
    tx.commit()?;
    Ok(changed)
}

/// Children (all, or those of `parent`) whose every placement ended before
/// `today` and whose data is still kept, with the last day it is kept: the
/// last placement's end plus the organisation's `child_data_weeks`.
fn leavers(
    c: &Connection,
    parent: Option<&ParentId>,
    today: NaiveDate,
) -> Result<Vec<(ChildId, NaiveDate)>, DbError> {
    let rows = query_all(
        c,
        "SELECT k.id, max(p.end_date) AS last_day, o.child_data_weeks
         FROM children k
         JOIN organisations o ON o.id = k.organisation_id
         JOIN placements p ON p.child_id = k.id
         WHERE k.data_expired_at IS NULL
           AND (CAST(?2 AS TEXT) IS NULL OR EXISTS
                (SELECT 1 FROM child_parents cp WHERE cp.child_id = k.id AND cp.parent_id = ?2))
           AND NOT EXISTS (SELECT 1 FROM placements q WHERE q.child_id = k.id
                           AND (q.end_date IS NULL OR q.end_date >= ?1))
         GROUP BY k.id, o.child_data_weeks",
        params![today.to_string(), parent.map(ToString::to_string)],
        |r| {
            Ok((
                r.id::<ChildId>("id")?,
                r.date("last_day")?,
                r.get::<_, i64>("child_data_weeks")?,
            ))
        },
    )?;
    Ok(rows
        .into_iter()
        .map(|(child, last, weeks)| (child, last + Duration::weeks(weeks.max(0))))
        .collect())
}

/// The parent's children in their data period (the portal's banner).
pub fn leaving_children(
    c: &Connection,
    parent: &ParentId,
    today: NaiveDate,
) -> Result<Vec<Leaving>, DbError> {
    Ok(leavers(c, Some(parent), today)?
        .into_iter()
        .map(|(child, keep_until)| Leaving { child, keep_until })
        .collect())
}

/// The parents of leavers not told yet; recorded as told (once, ever).
pub fn leaving_notices(
    c: &mut Connection,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<LeavingNotice>, DbError> {
    let tx = c.transaction()?;
    let mut out = Vec::new();
    for (child, keep_until) in leavers(&tx, None, today)? {
        let parents = query_all(
            &tx,
            "SELECT pa.id, pa.name, pa.email, k.first_name, o.name AS org_name, o.slug
             FROM child_parents cp
             JOIN parents pa ON pa.id = cp.parent_id
             JOIN children k ON k.id = cp.child_id
             JOIN organisations o ON o.id = k.organisation_id
             WHERE cp.child_id = ?1
               AND NOT EXISTS (SELECT 1 FROM leaving_notices n
                               WHERE n.child_id = cp.child_id AND n.parent_id = cp.parent_id)
             ORDER BY pa.id",
            params![child.to_string()],
            |r| {
                Ok(LeavingNotice {
                    child,
                    child_first_name: r.get("first_name")?,
                    parent: r.id("id")?,
                    parent_name: r.get("name")?,
                    email: r.get("email")?,
                    org_name: r.get("org_name")?,
                    org_slug: r.get("slug")?,
                    keep_until,
                })
            },
        )?;
        for n in parents {
            tx.execute(
                "INSERT INTO leaving_notices (child_id, parent_id, keep_until, sent_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    child.to_string(),
                    n.parent.to_string(),
                    keep_until.to_string(),
                    time_str(now)
                ],
            )?;
            out.push(n);
        }
    }
    tx.commit()?;
    Ok(out)
}

//! Retention (AVG): a child's diary, photos, messages and absences are kept
//! for the organisation's `child_data_weeks` (default 8) after its last
//! placement ended, then deleted: rows here, the photos' files by the caller.
//! A photo of several children goes when no tagged child's data may be kept
//! any more; a diary entry about several, when none is left.

use super::conn::{
    Connection, DbError, RowExt, TransactionBehavior, params, query_all, query_one, time_str,
};
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
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
    let (n, keys) = delete_photos(
        &tx,
        "WHERE EXISTS (SELECT 1 FROM photo_tags t WHERE t.photo_id = p.id)
           AND NOT EXISTS (SELECT 1 FROM photo_tags t JOIN children k ON k.id = t.child_id
                           WHERE t.photo_id = p.id AND k.data_expired_at IS NULL)",
        &[],
    )?;
    out.photos = n;
    out.blob_keys.extend(keys);
    tx.commit()?;
    Ok(out)
}

/// Deletes the photos `photos p {filter}` finds (with their tags, their
/// places in diary entries and their uploads); returns how many, and their
/// files (originals and thumbnails) for the caller to delete.
fn delete_photos(
    tx: &Connection,
    filter: &str,
    args: &[&dyn super::conn::ToValue],
) -> Result<(usize, Vec<String>), DbError> {
    let params = super::conn::Params::Positional(args.iter().map(|a| a.to_value()).collect());
    let photos = query_all(
        tx,
        &format!("SELECT p.id, p.upload_id, p.blob_key, p.thumb_key FROM photos p {filter}"),
        params,
        |r| {
            Ok((
                r.get::<_, String>("id")?,
                r.get::<_, String>("upload_id")?,
                r.get::<_, String>("blob_key")?,
                r.get::<_, String>("thumb_key")?,
            ))
        },
    )?;
    let mut keys = Vec::with_capacity(photos.len() * 2);
    for (id, upload, blob, thumb) in &photos {
        for table in ["photo_tags", "diary_photos"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE photo_id = ?1"),
                params![id],
            )?;
        }
        tx.execute("DELETE FROM photos WHERE id = ?1", params![id])?;
        tx.execute("DELETE FROM uploads WHERE id = ?1", params![upload])?;
        keys.push(blob.clone());
        keys.push(thumb.clone());
    }
    Ok((photos.len(), keys))
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
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
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

// ---- erasure: everything of a child or a parent ------------------------------
//
// One piece of code for the retention run (`portal_access_months` after a
// child's last placement) and a manager's erasure on request. What goes with
// a child: its row, consents and their history, placements, links to its
// parents, absences, documents, messages about it, diary entries about it
// alone (it leaves the others), every photo it is tagged in (a photo of
// several children goes as a whole: removing one tag could show the photo to
// parents who may not see that child), its attendance events (the
// presentielijst; see docs/operations.md, "Retention"), archive requests
// and leaving notices. The access log stays (it has no names of the child
// and is the record of who looked). What goes with a parent: the account,
// sessions, reset links, notification choices, archive requests, leaving
// notices and links to children; what the parent wrote about a child that
// stays keeps the name it was signed with, its link to the account is cut.

/// Deletes `child` and everything of it (see above) in the caller's
/// transaction; adds to `out`. Returns the child's parents.
pub(crate) fn erase_child(
    tx: &Connection,
    child: &ChildId,
    out: &mut crate::store::Erased,
) -> Result<Vec<ParentId>, DbError> {
    let k = child.to_string();
    let parents = query_all(
        tx,
        "SELECT parent_id FROM child_parents WHERE child_id = ?1 ORDER BY parent_id",
        params![k],
        |r| r.id::<ParentId>("parent_id"),
    )?;
    // the screens of its groups forget it (a removed child in their feed)
    let groups = query_all(
        tx,
        "SELECT DISTINCT group_id FROM placements WHERE child_id = ?1 ORDER BY group_id",
        params![k],
        |r| r.id::<kring_protocol::GroupId>("group_id"),
    )?;
    for g in groups {
        out.changed.push(super::feed::group_change(
            tx,
            &g,
            super::feed::EntityKind::Child,
            &child.0,
        )?);
    }
    // photos it is in, whole
    let (n, keys) = delete_photos(
        tx,
        "WHERE EXISTS (SELECT 1 FROM photo_tags t WHERE t.photo_id = p.id AND t.child_id = ?1)",
        &[&k],
    )?;
    out.photos += n;
    out.blob_keys.extend(keys);
    // diary entries about it alone; it leaves the others
    let alone = query_all(
        tx,
        "SELECT d.entry_id FROM diary_children d WHERE d.child_id = ?1
           AND NOT EXISTS (SELECT 1 FROM diary_children o
                           WHERE o.entry_id = d.entry_id AND o.child_id <> ?1)",
        params![k],
        |r| r.get::<_, String>("entry_id"),
    )?;
    tx.execute("DELETE FROM diary_children WHERE child_id = ?1", params![k])?;
    for e in &alone {
        tx.execute("DELETE FROM diary_photos WHERE entry_id = ?1", params![e])?;
        tx.execute("DELETE FROM diary_entries WHERE id = ?1", params![e])?;
    }
    out.diary_entries += alone.len();
    // messages about it
    tx.execute(
        "DELETE FROM read_receipts WHERE message_id IN
         (SELECT id FROM messages WHERE child_id = ?1)",
        params![k],
    )?;
    out.messages += tx.execute("DELETE FROM messages WHERE child_id = ?1", params![k])?;
    // its attendance events, and the undos and corrections of those
    let mut events = query_all(
        tx,
        "SELECT id FROM attendance WHERE child_id = ?1",
        params![k],
        |r| r.get::<_, String>("id"),
    )?;
    let mut i = 0;
    while i < events.len() {
        for more in query_all(
            tx,
            "SELECT id FROM attendance WHERE target_id = ?1 OR replaces_id = ?1",
            params![events[i]],
            |r| r.get::<_, String>("id"),
        )? {
            if !events.contains(&more) {
                events.push(more);
            }
        }
        i += 1;
    }
    for e in &events {
        tx.execute(
            "UPDATE attendance SET target_id = NULL, replaces_id = NULL WHERE id = ?1",
            params![e],
        )?;
    }
    for e in &events {
        tx.execute("DELETE FROM attendance WHERE id = ?1", params![e])?;
    }
    out.attendance += events.len();
    out.archive_files.extend(query_all(
        tx,
        "SELECT file_name FROM archive_requests
         WHERE child_id = ?1 AND file_name IS NOT NULL AND file_removed_at IS NULL",
        params![k],
        |r| r.get::<_, String>("file_name"),
    )?);
    out.absences += tx.execute("DELETE FROM absences WHERE child_id = ?1", params![k])?;
    for table in [
        "credit_ledger",
        "day_requests",
        "day_cancellations",
        "vacation_requests",
        "vacation_allowances",
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE child_id = ?1"),
            params![k],
        )?;
    }
    out.documents += tx.execute("DELETE FROM documents WHERE child_id = ?1", params![k])?;
    out.placements += tx.execute("DELETE FROM placements WHERE child_id = ?1", params![k])?;
    for table in [
        "consent_history",
        "child_parents",
        "archive_requests",
        "leaving_notices",
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE child_id = ?1"),
            params![k],
        )?;
    }
    out.children += tx.execute("DELETE FROM children WHERE id = ?1", params![k])?;
    Ok(parents)
}

/// Deletes the parent account and everything of it (see above) in the
/// caller's transaction; adds to `out`.
pub(crate) fn erase_parent(
    tx: &Connection,
    parent: &ParentId,
    out: &mut crate::store::Erased,
) -> Result<(), DbError> {
    let p = parent.to_string();
    for table in ["sessions", "password_resets"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE user_kind = 'parent' AND user_id = ?1"),
            params![p],
        )?;
    }
    out.archive_files.extend(query_all(
        tx,
        "SELECT file_name FROM archive_requests
         WHERE parent_id = ?1 AND file_name IS NOT NULL AND file_removed_at IS NULL",
        params![p],
        |r| r.get::<_, String>("file_name"),
    )?);
    for table in [
        "notification_prefs",
        "archive_requests",
        "leaving_notices",
        "child_parents",
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE parent_id = ?1"),
            params![p],
        )?;
    }
    for (table, column) in [
        ("messages", "author_parent_id"),
        ("diary_entries", "author_parent_id"),
        ("consent_history", "changed_by_parent_id"),
    ] {
        tx.execute(
            &format!("UPDATE {table} SET {column} = NULL WHERE {column} = ?1"),
            params![p],
        )?;
    }
    out.parents += tx.execute("DELETE FROM parents WHERE id = ?1", params![p])?;
    Ok(())
}

/// Records an erasure: who (a manager, or the retention run), what kind,
/// the counts; never a name of the person erased.
pub(crate) fn record_erasure(
    tx: &Connection,
    org: &OrganisationId,
    kind: &str,
    by: Option<&kring_protocol::StaffId>,
    by_name: &str,
    erased: &crate::store::Erased,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO erasures (id, organisation_id, kind, by_staff_id, by_name, at, counts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            uuid::Uuid::now_v7().to_string(),
            org.to_string(),
            kind,
            by.map(ToString::to_string),
            by_name,
            time_str(now),
            erased.counts_json()
        ],
    )?;
    Ok(())
}

/// The retention run's second step: children whose last placement ended
/// more than the organisation's `portal_access_months` before `today` go
/// with everything of theirs, then parents left without any child.
pub fn expire_accounts(
    c: &mut Connection,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<crate::store::Erased, DbError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let orgs = query_all(
        &tx,
        "SELECT id, portal_access_months FROM organisations ORDER BY id",
        (),
        |r| {
            Ok((
                r.id::<OrganisationId>("id")?,
                r.get::<_, i64>("portal_access_months")?,
            ))
        },
    )?;
    let mut all = crate::store::Erased::default();
    for (org, months) in orgs {
        let months = u32::try_from(months.max(0)).unwrap_or(u32::MAX);
        let Some(cutoff) = today.checked_sub_months(chrono::Months::new(months)) else {
            continue;
        };
        let children = query_all(
            &tx,
            "SELECT k.id FROM children k
             WHERE k.organisation_id = ?1
               AND EXISTS (SELECT 1 FROM placements p WHERE p.child_id = k.id)
               AND NOT EXISTS (SELECT 1 FROM placements p WHERE p.child_id = k.id
                               AND (p.end_date IS NULL OR p.end_date >= ?2))
             ORDER BY k.id",
            params![org.to_string(), cutoff.to_string()],
            |r| r.id::<ChildId>("id"),
        )?;
        let mut erased = crate::store::Erased::default();
        let mut parents = Vec::new();
        for child in &children {
            parents.extend(erase_child(&tx, child, &mut erased)?);
        }
        parents.sort_by_key(ToString::to_string);
        parents.dedup();
        for parent in &parents {
            let left = query_one(
                &tx,
                "SELECT count(*) AS n FROM child_parents WHERE parent_id = ?1",
                params![parent.to_string()],
                |r| r.get::<_, i64>("n"),
            )?
            .unwrap_or(0);
            if left == 0 {
                erase_parent(&tx, parent, &mut erased)?;
            }
        }
        if !erased.is_empty() {
            record_erasure(
                &tx,
                &org,
                "bewaartermijn",
                None,
                "Bewaartermijn (automatisch)",
                &erased,
                now,
            )?;
        }
        all.children += erased.children;
        all.parents += erased.parents;
        all.photos += erased.photos;
        all.diary_entries += erased.diary_entries;
        all.messages += erased.messages;
        all.absences += erased.absences;
        all.attendance += erased.attendance;
        all.documents += erased.documents;
        all.placements += erased.placements;
        all.blob_keys.extend(erased.blob_keys);
        all.archive_files.extend(erased.archive_files);
        all.changed.extend(erased.changed);
    }
    tx.commit()?;
    Ok(all)
}

//! SQLite, the portal's data: timeline.

use super::super::conn::DbError;
use super::super::conn::{Connection, params};
use super::*;
use crate::portal::*;
use chrono::{DateTime, NaiveDate, Utc};
use kring_protocol::{ChildId, ParentId};

/// The parent's (`?1`) children with their kept placements (`MyChild::kept`:
/// started by today `?2`, not ended before `?6`, the retention period's
/// first day), all or one (`?3`, `''` for all), as the `mine` of a query.
macro_rules! mine {
    () => {
        "WITH mine AS (
            SELECT pl.child_id, pl.group_id, pl.start_date,
                   coalesce(pl.end_date, '9999-12-31') AS end_date
            FROM placements pl
            JOIN child_parents cp ON cp.child_id = pl.child_id
            WHERE cp.parent_id = ?1 AND pl.start_date <= ?2
              AND (pl.end_date IS NULL OR pl.end_date >= ?6)
              AND (?3 = '' OR pl.child_id = ?3)
        )
        "
    };
}

/// The ids of the photos the parent (`?1`) may see today (`?2`), of one child
/// (`?3`, or `''` for all), older than `?4`, newest first, at most `?5`. A
/// photo is visible for a child of the parent with a current placement on the
/// photo's group that began by the photo's day: confirmed "no children
/// recognizable" without tags, or the child is tagged, its consent is not
/// `none` and every other tagged child has `group` consent
/// (`kring_protocol::decide_audience`). A photo that belongs to a diary entry
/// the parent sees is shown there, not on its own.
const VISIBLE_PHOTOS: &str = concat!(
    mine!(),
    "SELECT p.id FROM photos p
    WHERE p.group_id IN (SELECT group_id FROM mine) AND p.received_at < ?4
      AND EXISTS (
        SELECT 1 FROM mine m
        WHERE m.group_id = p.group_id
          AND substr(p.received_at, 1, 10) BETWEEN m.start_date AND m.end_date
          AND ((p.no_children_recognizable = 1
                AND NOT EXISTS (SELECT 1 FROM photo_tags t WHERE t.photo_id = p.id))
            OR (EXISTS (SELECT 1 FROM photo_tags t JOIN children k ON k.id = t.child_id
                        WHERE t.photo_id = p.id AND t.child_id = m.child_id
                          AND k.photo_consent <> 'none')
                AND NOT EXISTS (SELECT 1 FROM photo_tags t JOIN children k ON k.id = t.child_id
                        WHERE t.photo_id = p.id AND t.child_id <> m.child_id
                          AND k.photo_consent <> 'group'))))
      AND NOT EXISTS (
        SELECT 1 FROM diary_photos dp JOIN diary_entries d ON d.id = dp.entry_id
        JOIN diary_children dc ON dc.entry_id = d.id
        JOIN mine m ON m.child_id = dc.child_id AND m.group_id = d.group_id
        WHERE dp.photo_id = p.id
          AND substr(d.written_at, 1, 10) BETWEEN m.start_date AND m.end_date)
    ORDER BY p.received_at DESC
    LIMIT ?5"
);

/// The diary entries the same parent sees (about one of the children of
/// `mine!`, written on the group of that placement), older than `?4`,
/// newest first, at most `?5`.
const VISIBLE_DIARY: &str = concat!(
    mine!(),
    "SELECT d.id FROM diary_entries d
    WHERE d.written_at < ?4 AND EXISTS (
        SELECT 1 FROM diary_children dc
        JOIN mine m ON m.child_id = dc.child_id AND m.group_id = d.group_id
        WHERE dc.entry_id = d.id
          AND substr(d.written_at, 1, 10) BETWEEN m.start_date AND m.end_date)
    ORDER BY d.written_at DESC
    LIMIT ?5"
);

/// Photos and diary entries of the parent's children (all, or `only` one),
/// newest first, at most `limit`, all older than `before` when given (the
/// next page: `before` is the time of the last item shown).
pub fn timeline(
    c: &Connection,
    parent: &ParentId,
    only: Option<&ChildId>,
    today: NaiveDate,
    limit: usize,
    before: Option<DateTime<Utc>>,
) -> Result<Vec<TimelineItem>, DbError> {
    // far in the future: no page boundary
    let before = before.map_or_else(|| "9999".to_string(), crate::db::time_str);
    let keep_from = keep_from(c, parent, today)?;
    let mut children = parent_children(c, parent, today)?;
    if let Some(only) = only {
        children.retain(|k| k.id == *only);
    }
    let mut items = Vec::new();
    // Only photos this parent may see now, decided in SQL with a limit on
    // visible photos (the rule of `photo_visible_for`, checked again below),
    // so a page never runs out before older visible photos.
    let query = |sql: &str| -> Result<Vec<String>, DbError> {
        c.prepare(sql)?
            .query_map(
                params![
                    parent.to_string(),
                    today.to_string(),
                    only.map(ToString::to_string).unwrap_or_default(),
                    before,
                    i64::try_from(limit).unwrap_or(i64::MAX),
                    keep_from.to_string()
                ],
                |r| r.get(0),
            )?
            .collect()
    };
    let photo_ids = query(VISIBLE_PHOTOS)?;
    for photo in load_photos(c, &photo_ids)? {
        let who = photo_visible_for(&photo, &children);
        if who.is_empty() {
            tracing::warn!(photo = %photo.id, "the timeline's SQL and photo_visible_for disagree");
        } else {
            items.push(TimelineItem::Photo {
                photo,
                children: who,
            });
        }
    }
    let ids = query(VISIBLE_DIARY)?;
    items.extend(
        load_diaries(c, &ids, &children)?
            .into_iter()
            .map(TimelineItem::Diary),
    );
    items.sort_by_key(|i| std::cmp::Reverse(i.at()));
    items.truncate(limit);
    Ok(items)
}

//! SQLite, the portal's data: timeline.

use super::super::conn::DbError;
use super::super::conn::{Connection, params};
use super::*;
use crate::portal::*;
use chrono::{DateTime, NaiveDate, Utc};
use kring_protocol::{ChildId, GroupId, ParentId, PhotoId};

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
    let mut children = parent_children(c, parent, today)?;
    if let Some(only) = only {
        children.retain(|k| k.id == *only);
    }
    let mut items = Vec::new();
    let groups: std::collections::BTreeSet<GroupId> = children
        .iter()
        .flat_map(|k| k.placements.iter().map(|p| p.group))
        .collect();
    for g in &groups {
        let photo_ids: Vec<String> = c
            .prepare(
                "SELECT id FROM photos WHERE group_id = ?1 AND received_at < ?2
                 ORDER BY received_at DESC LIMIT 500",
            )?
            .query_map(params![g.to_string(), before], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for id in photo_ids {
            if let Some(photo) = load_photo(c, &id)? {
                let who = photo_visible_for(&photo, &children);
                if !who.is_empty() {
                    items.push(TimelineItem::Photo {
                        photo,
                        children: who,
                    });
                }
            }
        }
    }
    let ids: Vec<String> = {
        let mut out = Vec::new();
        for k in &children {
            let rows: Vec<String> = c
                .prepare(
                    "SELECT d.id FROM diary_entries d JOIN diary_children dc ON dc.entry_id = d.id
                     WHERE dc.child_id = ?1 AND d.written_at < ?2
                     ORDER BY d.written_at DESC LIMIT 500",
                )?
                .query_map(params![k.id.to_string(), before], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            out.extend(rows);
        }
        out.sort();
        out.dedup();
        out
    };
    for id in ids {
        if let Some(d) = load_diary(c, &id, &children)? {
            items.push(TimelineItem::Diary(d));
        }
    }
    // A photo that belongs to a diary entry on the timeline is shown there, once.
    let in_diary: std::collections::HashSet<PhotoId> = items
        .iter()
        .filter_map(|i| match i {
            TimelineItem::Diary(d) => Some(d.photos.iter().copied()),
            TimelineItem::Photo { .. } => None,
        })
        .flatten()
        .collect();
    items.retain(|i| match i {
        TimelineItem::Photo { photo, .. } => !in_diary.contains(&photo.id),
        TimelineItem::Diary(_) => true,
    });
    items.sort_by_key(|i| std::cmp::Reverse(i.at()));
    items.truncate(limit);
    Ok(items)
}

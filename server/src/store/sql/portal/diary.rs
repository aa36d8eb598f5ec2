//! SQLite, the portal's data: diary.

use super::super::conn::{Connection, params};
use super::super::conn::{DbError, RowExt, query_all, query_one};
use super::*;
use crate::portal::*;
use chrono::NaiveDate;
use kring_protocol::{ChildId, ParentId};

pub(super) fn load_diary(
    c: &Connection,
    id: &str,
    children: &[MyChild],
) -> Result<Option<DiaryView>, DbError> {
    let Some(mut entry) = query_one(
        c,
        "SELECT id, group_id, author_kind, author_name, text, baby_json, written_at
         FROM diary_entries WHERE id = ?1",
        params![id],
        |r| {
            Ok(DiaryView {
                id: r.id("id")?,
                group: r.id("group_id")?,
                author_name: r.get("author_name")?,
                by_parent: r.get::<_, String>("author_kind")? == "parent",
                text: r.get("text")?,
                baby_json: r.get("baby_json")?,
                written_at: r.time("written_at")?,
                children: Vec::new(),
                photos: Vec::new(),
            })
        },
    )?
    else {
        return Ok(None);
    };
    let about = query_all(
        c,
        "SELECT child_id FROM diary_children WHERE entry_id = ?1",
        params![id],
        |r| r.id::<ChildId>("child_id"),
    )?;
    entry.children = children
        .iter()
        .filter(|k| about.contains(&k.id))
        .filter(|k| k.placements.iter().any(|p| p.group == entry.group))
        .map(|k| k.id)
        .collect();
    if entry.children.is_empty() {
        return Ok(None);
    }
    let photo_ids = query_all(
        c,
        "SELECT photo_id FROM diary_photos WHERE entry_id = ?1 ORDER BY photo_id",
        params![id],
        |r| r.get::<_, String>("photo_id"),
    )?;
    for p in photo_ids {
        if let Some(row) = load_photo(c, &p)?
            && !photo_visible_for(&row, children).is_empty()
        {
            entry.photos.push(row.id);
        }
    }
    Ok(Some(entry))
}

/// The diary entry, if it is about one of the parent's children with a
/// current placement on the entry's group.
pub fn diary_for_parent(
    c: &Connection,
    parent: &ParentId,
    entry: &str,
    today: NaiveDate,
) -> Result<Option<DiaryView>, DbError> {
    if uuid::Uuid::parse_str(entry).is_err() {
        return Ok(None);
    }
    let children = parent_children(c, parent, today)?;
    load_diary(c, entry, &children)
}

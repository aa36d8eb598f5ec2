//! SQLite, the portal's data: diary.

use super::super::conn::{DbError, parse_id, parse_time};
use super::*;
use crate::portal::*;
use chrono::NaiveDate;
use kring_protocol::{ChildId, GroupId, ParentId};
use rusqlite::{Connection, OptionalExtension, params};

pub(super) fn load_diary(
    c: &Connection,
    id: &str,
    children: &[MyChild],
) -> Result<Option<DiaryView>, DbError> {
    type Row = (String, String, String, String, Option<String>, String);
    let row: Option<Row> = c
        .query_row(
            "SELECT group_id, author_kind, author_name, text, baby_json, written_at
             FROM diary_entries WHERE id = ?1",
            params![id],
            |r| r.try_into(),
        )
        .optional()?;
    let Some((group, kind, author, text, baby, written)) = row else {
        return Ok(None);
    };
    let group: GroupId = parse_id("diary_entries.group_id", &group)?;
    let about: Vec<String> = c
        .prepare("SELECT child_id FROM diary_children WHERE entry_id = ?1")?
        .query_map(params![id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mine: Vec<ChildId> = children
        .iter()
        .filter(|k| about.contains(&k.id.to_string()))
        .filter(|k| k.placements.iter().any(|p| p.group == group))
        .map(|k| k.id)
        .collect();
    if mine.is_empty() {
        return Ok(None);
    }
    let photo_ids: Vec<String> = c
        .prepare("SELECT photo_id FROM diary_photos WHERE entry_id = ?1 ORDER BY photo_id")?
        .query_map(params![id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut photos = Vec::new();
    for p in photo_ids {
        if let Some(row) = load_photo(c, &p)?
            && !photo_visible_for(&row, children).is_empty()
        {
            photos.push(row.id);
        }
    }
    Ok(Some(DiaryView {
        id: parse_id("diary_entries.id", id)?,
        group,
        author_name: author,
        by_parent: kind == "parent",
        text,
        baby_json: baby,
        written_at: parse_time("diary_entries.written_at", &written)?,
        children: mine,
        photos,
    }))
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

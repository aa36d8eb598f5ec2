//! SQLite, the portal's data: diary.

use super::super::conn::Connection;
use super::super::conn::{DbError, RowExt, query_all};
use super::*;
use crate::portal::*;
use chrono::NaiveDate;
use kring_protocol::{ChildId, DiaryEntryId, ParentId, PhotoId};

pub(super) fn load_diary(
    c: &Connection,
    id: &str,
    children: &[MyChild],
) -> Result<Option<DiaryView>, DbError> {
    Ok(load_diaries(c, &[id.to_string()], children)?.pop())
}

/// The diary entries with these ids as the parent of `children` sees them:
/// only entries about one of them with a placement on the entry's group, with
/// the children of theirs it is about and the photos of it they may see. In
/// the order of `ids`; a fixed number of queries for any number of entries.
pub(super) fn load_diaries(
    c: &Connection,
    ids: &[String],
    children: &[MyChild],
) -> Result<Vec<DiaryView>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = placeholders(ids.len());
    let mut entries = query_all(
        c,
        &format!(
            "SELECT id, group_id, author_kind, author_name, text, baby_json, written_at
             FROM diary_entries WHERE id IN ({list})"
        ),
        id_params(ids),
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
    )?;
    let about = query_all(
        c,
        &format!("SELECT entry_id, child_id FROM diary_children WHERE entry_id IN ({list})"),
        id_params(ids),
        |r| {
            Ok((
                r.id::<DiaryEntryId>("entry_id")?,
                r.id::<ChildId>("child_id")?,
            ))
        },
    )?;
    for e in &mut entries {
        e.children = children
            .iter()
            .filter(|k| about.contains(&(e.id, k.id)))
            .filter(|k| {
                k.kept
                    .iter()
                    .any(|p| p.group == e.group && p.covers(e.written_at.date_naive()))
            })
            .map(|k| k.id)
            .collect();
    }
    entries.retain(|e| !e.children.is_empty());
    let with = query_all(
        c,
        &format!(
            "SELECT entry_id, photo_id FROM diary_photos WHERE entry_id IN ({list})
             ORDER BY entry_id, photo_id"
        ),
        id_params(ids),
        |r| {
            Ok((
                r.id::<DiaryEntryId>("entry_id")?,
                r.get::<_, String>("photo_id")?,
            ))
        },
    )?;
    let photo_ids: Vec<String> = with.iter().map(|(_, p)| p.clone()).collect();
    let visible: Vec<PhotoId> = load_photos(c, &photo_ids)?
        .into_iter()
        .filter(|row| !photo_visible_for(row, children).is_empty())
        .map(|row| row.id)
        .collect();
    for (entry, photo) in with {
        if let Some(e) = entries.iter_mut().find(|e| e.id == entry)
            && let Some(p) = visible.iter().find(|v| v.to_string() == photo)
        {
            e.photos.push(*p);
        }
    }
    let order: std::collections::HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    entries.sort_by_key(|e| order.get(e.id.to_string().as_str()).copied());
    Ok(entries)
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

//! SQLite, the portal's data: photos.

use super::super::conn::{Connection, Params, ToValue};
use super::super::conn::{DbError, RowExt, query_all};
use super::super::feed::parse_consent;
use super::*;
use crate::portal::*;
use chrono::NaiveDate;
use kring_protocol::{ConsentedChild, ParentId, PhotoId};
use std::collections::HashMap;

pub(super) fn load_photo(c: &Connection, id: &str) -> Result<Option<PhotoRow>, DbError> {
    Ok(load_photos(c, &[id.to_string()])?.pop())
}

/// `?1, ?2, …, ?n`: the placeholders of an `IN` list.
pub(super) fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ids as the parameters of an `IN` list.
pub(super) fn id_params(ids: &[String]) -> Params {
    Params::Positional(ids.iter().map(ToValue::to_value).collect())
}

/// The photos with these ids and their tags with the consents of now, in
/// the order of `ids` (unknown ids left out): two queries for any number.
pub(super) fn load_photos(c: &Connection, ids: &[String]) -> Result<Vec<PhotoRow>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = placeholders(ids.len());
    let mut photos = query_all(
        c,
        &format!(
            "SELECT id, group_id, blob_key, thumb_key, width, height, no_children_recognizable,
                    received_at
             FROM photos WHERE id IN ({list})"
        ),
        id_params(ids),
        |r| {
            Ok(PhotoRow {
                id: r.id("id")?,
                group: r.id("group_id")?,
                blob_key: r.get("blob_key")?,
                thumb_key: r.get("thumb_key")?,
                width: r.get("width")?,
                height: r.get("height")?,
                no_children_recognizable: r.get("no_children_recognizable")?,
                received_at: r.time("received_at")?,
                tags: Vec::new(),
            })
        },
    )?;
    let tags = query_all(
        c,
        &format!(
            "SELECT t.photo_id, c.id, c.photo_consent FROM photo_tags t
             JOIN children c ON c.id = t.child_id
             WHERE t.photo_id IN ({list}) ORDER BY t.photo_id, c.id"
        ),
        id_params(ids),
        |r| {
            Ok((
                r.id::<PhotoId>("photo_id")?,
                ConsentedChild {
                    id: r.id("id")?,
                    consent: parse_consent(&r.get::<_, String>("photo_consent")?)?,
                },
            ))
        },
    )?;
    for (photo, tag) in tags {
        if let Some(p) = photos.iter_mut().find(|p| p.id == photo) {
            p.tags.push(tag);
        }
    }
    let order: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    photos.sort_by_key(|p| order.get(p.id.to_string().as_str()).copied());
    Ok(photos)
}

/// The photo, if `parent` may see it now.
pub fn photo_for_parent(
    c: &Connection,
    parent: &ParentId,
    photo: &str,
    today: NaiveDate,
) -> Result<Option<PhotoRow>, DbError> {
    if uuid::Uuid::parse_str(photo).is_err() {
        return Ok(None);
    }
    let Some(row) = load_photo(c, photo)? else {
        return Ok(None);
    };
    let children = parent_children(c, parent, today)?;
    Ok((!photo_visible_for(&row, &children).is_empty()).then_some(row))
}

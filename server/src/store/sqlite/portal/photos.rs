//! SQLite, the portal's data: photos.

use super::super::conn::{DbError, parse_id, parse_time};
use super::super::feed::parse_consent;
use super::*;
use crate::portal::*;
use chrono::NaiveDate;
use kring_protocol::{ConsentedChild, ParentId};
use rusqlite::{Connection, OptionalExtension, params};

pub(super) fn load_photo(c: &Connection, id: &str) -> Result<Option<PhotoRow>, DbError> {
    type Row = (String, String, String, String, u32, u32, bool, String);
    let row: Option<Row> = c
        .query_row(
            "SELECT id, group_id, blob_key, thumb_key, width, height, no_children_recognizable, received_at
             FROM photos WHERE id = ?1",
            params![id],
            |r| r.try_into(),
        )
        .optional()?;
    let Some((id, group, blob, thumb, w, h, ncr, received)) = row else {
        return Ok(None);
    };
    let tags: Vec<(String, String)> = c
        .prepare(
            "SELECT c.id, c.photo_consent FROM photo_tags t JOIN children c ON c.id = t.child_id
             WHERE t.photo_id = ?1 ORDER BY c.id",
        )?
        .query_map(params![id], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    let tags = tags
        .into_iter()
        .map(|(cid, consent)| {
            Ok(ConsentedChild {
                id: parse_id("photo_tags.child_id", &cid)?,
                consent: parse_consent(&consent)?,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(Some(PhotoRow {
        id: parse_id("photos.id", &id)?,
        group: parse_id("photos.group_id", &group)?,
        blob_key: blob,
        thumb_key: thumb,
        width: w,
        height: h,
        no_children_recognizable: ncr,
        received_at: parse_time("photos.received_at", &received)?,
        tags,
    }))
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

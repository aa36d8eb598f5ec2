//! SQLite, the portal's data: photos.

use super::super::conn::{Connection, params};
use super::super::conn::{DbError, RowExt, query_all, query_one};
use super::super::feed::parse_consent;
use super::*;
use crate::portal::*;
use chrono::NaiveDate;
use kring_protocol::{ConsentedChild, ParentId};

pub(super) fn load_photo(c: &Connection, id: &str) -> Result<Option<PhotoRow>, DbError> {
    let Some(mut photo) = query_one(
        c,
        "SELECT id, group_id, blob_key, thumb_key, width, height, no_children_recognizable,
                received_at
         FROM photos WHERE id = ?1",
        params![id],
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
    )?
    else {
        return Ok(None);
    };
    photo.tags = query_all(
        c,
        "SELECT c.id, c.photo_consent FROM photo_tags t JOIN children c ON c.id = t.child_id
         WHERE t.photo_id = ?1 ORDER BY c.id",
        params![id],
        |r| {
            Ok(ConsentedChild {
                id: r.id("id")?,
                consent: parse_consent(&r.get::<_, String>("photo_consent")?)?,
            })
        },
    )?;
    Ok(Some(photo))
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

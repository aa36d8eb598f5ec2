//! News posts, newsletters and Mijn locatie (see [`crate::portal::news`]):
//! what a parent may read is decided here, per object, at read time.

use super::conn::{Connection, DbError, Row, RowExt, params, query_all, query_one, time_str};
use crate::portal::news::{
    FileChange, InfoPage, LocationDetails, LocationInfo, NewsDraft, NewsKind, NewsPdf, NewsPhoto,
    NewsPost, SavedNews, TeamMember,
};
use chrono::{DateTime, NaiveDate, Utc};
use kring_protocol::{LocationId, OrganisationId, ParentId, StaffId};

/// The locations where a child of `?1` is placed on a placement that has not
/// ended by `?2` (one that starts later counts: the family is coming).
const PARENT_LOCATIONS: &str = "SELECT g.location_id FROM child_parents cp
     JOIN placements pl ON pl.child_id = cp.child_id
     JOIN groups g ON g.id = pl.group_id
     WHERE cp.parent_id = ?1 AND (pl.end_date IS NULL OR pl.end_date >= ?2)";

const POST_COLUMNS: &str = "n.id, n.organisation_id, n.location_id, l.name AS location_name,
     n.kind, n.title, n.body, n.photo_key, n.thumb_key, n.pdf_key, n.pdf_name, n.pdf_bytes,
     n.author_name, n.published_at, n.updated_at";

fn post(r: &Row) -> Result<NewsPost, DbError> {
    let kind: String = r.get("kind")?;
    let photo = match (
        r.get::<_, Option<String>>("photo_key")?,
        r.get::<_, Option<String>>("thumb_key")?,
    ) {
        (Some(key), Some(thumb_key)) => Some(NewsPhoto { key, thumb_key }),
        _ => None,
    };
    let pdf = match (
        r.get::<_, Option<String>>("pdf_key")?,
        r.get::<_, Option<String>>("pdf_name")?,
    ) {
        (Some(key), Some(name)) => Some(NewsPdf {
            key,
            name,
            bytes: r.get::<_, Option<i64>>("pdf_bytes")?.unwrap_or(0),
        }),
        _ => None,
    };
    Ok(NewsPost {
        id: r.get("id")?,
        organisation: r.id("organisation_id")?,
        location: r.opt_id("location_id")?,
        location_name: r.get("location_name")?,
        kind: NewsKind::parse(&kind).ok_or(DbError::Corrupt {
            column: "kind",
            value: kind.clone(),
        })?,
        title: r.get("title")?,
        body: r.get("body")?,
        photo,
        pdf,
        author_name: r.get("author_name")?,
        published_at: r.time("published_at")?,
        updated_at: r.time("updated_at")?,
    })
}

/// The posts `parent` may read, newest first.
pub fn news_for_parent(
    c: &Connection,
    parent: &ParentId,
    today: NaiveDate,
) -> Result<Vec<NewsPost>, DbError> {
    query_all(
        c,
        &format!(
            "SELECT {POST_COLUMNS} FROM news_posts n
             LEFT JOIN locations l ON l.id = n.location_id
             WHERE n.organisation_id = (SELECT organisation_id FROM parents WHERE id = ?1)
               AND (n.location_id IS NULL OR n.location_id IN ({PARENT_LOCATIONS}))
             ORDER BY n.published_at DESC, n.id DESC"
        ),
        params![parent.to_string(), today],
        post,
    )
}

/// One post, if `parent` may read it.
pub fn news_post_for_parent(
    c: &Connection,
    parent: &ParentId,
    id: &str,
    today: NaiveDate,
) -> Result<Option<NewsPost>, DbError> {
    query_one(
        c,
        &format!(
            "SELECT {POST_COLUMNS} FROM news_posts n
             LEFT JOIN locations l ON l.id = n.location_id
             WHERE n.id = ?3
               AND n.organisation_id = (SELECT organisation_id FROM parents WHERE id = ?1)
               AND (n.location_id IS NULL OR n.location_id IN ({PARENT_LOCATIONS}))"
        ),
        params![parent.to_string(), today, id],
        post,
    )
}

/// The organisation's posts (manager), newest first.
pub fn news_of_org(c: &Connection, org: &OrganisationId) -> Result<Vec<NewsPost>, DbError> {
    query_all(
        c,
        &format!(
            "SELECT {POST_COLUMNS} FROM news_posts n
             LEFT JOIN locations l ON l.id = n.location_id
             WHERE n.organisation_id = ?1
             ORDER BY n.published_at DESC, n.id DESC"
        ),
        params![org.to_string()],
        post,
    )
}

/// One post of the organisation (manager).
pub fn news_post(
    c: &Connection,
    org: &OrganisationId,
    id: &str,
) -> Result<Option<NewsPost>, DbError> {
    query_one(
        c,
        &format!(
            "SELECT {POST_COLUMNS} FROM news_posts n
             LEFT JOIN locations l ON l.id = n.location_id
             WHERE n.organisation_id = ?1 AND n.id = ?2"
        ),
        params![org.to_string(), id],
        post,
    )
}

fn location_of_org(
    c: &Connection,
    org: &OrganisationId,
    location: &LocationId,
) -> Result<bool, DbError> {
    Ok(query_one(
        c,
        "SELECT id FROM locations WHERE id = ?1 AND organisation_id = ?2",
        params![location.to_string(), org.to_string()],
        |r| r.get::<_, String>("id"),
    )?
    .is_some())
}

/// Creates (`id` None) or updates a post of `org`. `None`: the post or the
/// location is not the organisation's.
pub fn save_news(
    c: &Connection,
    org: &OrganisationId,
    id: Option<&str>,
    draft: &NewsDraft,
    now: DateTime<Utc>,
) -> Result<Option<SavedNews>, DbError> {
    if let Some(loc) = &draft.location
        && !location_of_org(c, org, loc)?
    {
        return Ok(None);
    }
    let old = match id {
        Some(id) => match news_post(c, org, id)? {
            Some(p) => Some(p),
            None => return Ok(None),
        },
        None => None,
    };
    let mut unused = Vec::new();
    let old_photo = old.as_ref().and_then(|p| p.photo.clone());
    let photo = match &draft.photo {
        FileChange::Keep => old_photo,
        FileChange::Remove => {
            unused.extend(
                old_photo
                    .map(|p| [p.key, p.thumb_key])
                    .into_iter()
                    .flatten(),
            );
            None
        }
        FileChange::Set(new) => {
            unused.extend(
                old_photo
                    .map(|p| [p.key, p.thumb_key])
                    .into_iter()
                    .flatten(),
            );
            Some(new.clone())
        }
    };
    let old_pdf = old.as_ref().and_then(|p| p.pdf.clone());
    let pdf = match &draft.pdf {
        FileChange::Keep => old_pdf,
        FileChange::Remove => {
            unused.extend(old_pdf.map(|p| p.key));
            None
        }
        FileChange::Set(new) => {
            unused.extend(old_pdf.map(|p| p.key));
            Some(new.clone())
        }
    };
    let id = match id {
        Some(id) => id.to_string(),
        None => uuid::Uuid::now_v7().to_string(),
    };
    let location = draft.location.map(|l| l.to_string());
    let photo_key = photo.as_ref().map(|p| p.key.clone());
    let thumb_key = photo.as_ref().map(|p| p.thumb_key.clone());
    let pdf_key = pdf.as_ref().map(|p| p.key.clone());
    let pdf_name = pdf.as_ref().map(|p| p.name.clone());
    let pdf_bytes = pdf.as_ref().map(|p| p.bytes);
    if old.is_some() {
        c.execute(
            "UPDATE news_posts SET location_id = ?3, kind = ?4, title = ?5, body = ?6,
                 photo_key = ?7, thumb_key = ?8, pdf_key = ?9, pdf_name = ?10, pdf_bytes = ?11,
                 updated_at = ?12
             WHERE id = ?1 AND organisation_id = ?2",
            params![
                id.clone(),
                org.to_string(),
                location,
                draft.kind.as_str(),
                draft.title.clone(),
                draft.body.clone(),
                photo_key,
                thumb_key,
                pdf_key,
                pdf_name,
                pdf_bytes,
                time_str(now)
            ],
        )?;
    } else {
        c.execute(
            "INSERT INTO news_posts (id, organisation_id, location_id, kind, title, body,
                 photo_key, thumb_key, pdf_key, pdf_name, pdf_bytes, author_name,
                 published_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
            params![
                id.clone(),
                org.to_string(),
                location,
                draft.kind.as_str(),
                draft.title.clone(),
                draft.body.clone(),
                photo_key,
                thumb_key,
                pdf_key,
                pdf_name,
                pdf_bytes,
                draft.author_name.clone(),
                time_str(now)
            ],
        )?;
    }
    Ok(Some(SavedNews {
        id,
        created: old.is_none(),
        unused_keys: unused,
    }))
}

/// Deletes a post of `org`; its blob keys (the caller deletes the files).
pub fn delete_news(
    c: &Connection,
    org: &OrganisationId,
    id: &str,
) -> Result<Option<Vec<String>>, DbError> {
    let Some(p) = news_post(c, org, id)? else {
        return Ok(None);
    };
    c.execute(
        "DELETE FROM news_posts WHERE id = ?1 AND organisation_id = ?2",
        params![id, org.to_string()],
    )?;
    let mut keys = Vec::new();
    keys.extend(p.photo.map(|p| [p.key, p.thumb_key]).into_iter().flatten());
    keys.extend(p.pdf.map(|p| p.key));
    Ok(Some(keys))
}

fn location_info(c: &Connection, r: &Row) -> Result<LocationInfo, DbError> {
    let id: LocationId = r.id("id")?;
    let team = query_all(
        c,
        "SELECT DISTINCT s.id, s.name, s.photo_key, s.photo_consent_at FROM staff s
         JOIN staff_groups sg ON sg.staff_id = s.id
         JOIN groups g ON g.id = sg.group_id
         WHERE g.location_id = ?1
         ORDER BY s.name, s.id",
        params![id.to_string()],
        |r| {
            Ok(TeamMember {
                id: r.id("id")?,
                name: r.get("name")?,
                has_photo: r.get::<_, Option<String>>("photo_key")?.is_some()
                    && r.get::<_, Option<String>>("photo_consent_at")?.is_some(),
            })
        },
    )?;
    let pages = query_all(
        c,
        "SELECT id, title, body FROM location_pages WHERE location_id = ?1
         ORDER BY created_at, id",
        params![id.to_string()],
        |r| {
            Ok(InfoPage {
                id: r.get("id")?,
                title: r.get("title")?,
                body: r.get("body")?,
            })
        },
    )?;
    Ok(LocationInfo {
        id,
        name: r.get("name")?,
        details: LocationDetails {
            address: r.get("address")?,
            opening_hours: r.get("opening_hours")?,
            phone: r.get("phone")?,
            email: r.get("email")?,
        },
        team,
        pages,
    })
}

/// Mijn locatie: the locations of `parent`'s children, by name.
pub fn locations_for_parent(
    c: &Connection,
    parent: &ParentId,
    today: NaiveDate,
) -> Result<Vec<LocationInfo>, DbError> {
    let rows = c.query_rows(
        &format!(
            "SELECT id, name, address, opening_hours, phone, email FROM locations
             WHERE organisation_id = (SELECT organisation_id FROM parents WHERE id = ?1)
               AND id IN ({PARENT_LOCATIONS})
             ORDER BY name, id"
        ),
        params![parent.to_string(), today],
    )?;
    rows.iter().map(|r| location_info(c, r)).collect()
}

/// Every location of the organisation (manager), by name.
pub fn location_infos(c: &Connection, org: &OrganisationId) -> Result<Vec<LocationInfo>, DbError> {
    let rows = c.query_rows(
        "SELECT id, name, address, opening_hours, phone, email FROM locations
         WHERE organisation_id = ?1 ORDER BY name, id",
        params![org.to_string()],
    )?;
    rows.iter().map(|r| location_info(c, r)).collect()
}

/// Sets a location's details; false when it is not the organisation's.
pub fn set_location_details(
    c: &Connection,
    org: &OrganisationId,
    location: &LocationId,
    d: &LocationDetails,
) -> Result<bool, DbError> {
    let n = c.execute(
        "UPDATE locations SET address = ?3, opening_hours = ?4, phone = ?5, email = ?6
         WHERE id = ?1 AND organisation_id = ?2",
        params![
            location.to_string(),
            org.to_string(),
            d.address.clone(),
            d.opening_hours.clone(),
            d.phone.clone(),
            d.email.clone()
        ],
    )?;
    Ok(n == 1)
}

/// Adds an information page; `None` when the location is not the organisation's.
pub fn add_location_page(
    c: &Connection,
    org: &OrganisationId,
    location: &LocationId,
    title: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, DbError> {
    if !location_of_org(c, org, location)? {
        return Ok(None);
    }
    let id = uuid::Uuid::now_v7().to_string();
    c.execute(
        "INSERT INTO location_pages (id, location_id, title, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id.clone(), location.to_string(), title, body, time_str(now)],
    )?;
    Ok(Some(id))
}

/// Deletes an information page of the organisation; false when there is none.
pub fn delete_location_page(
    c: &Connection,
    org: &OrganisationId,
    page: &str,
) -> Result<bool, DbError> {
    let n = c.execute(
        "DELETE FROM location_pages WHERE id = ?1 AND location_id IN
             (SELECT id FROM locations WHERE organisation_id = ?2)",
        params![page, org.to_string()],
    )?;
    Ok(n == 1)
}

/// A new title and text for an information page of the organisation.
pub fn update_location_page(
    c: &Connection,
    org: &OrganisationId,
    page: &str,
    title: &str,
    body: &str,
) -> Result<bool, DbError> {
    let n = c.execute(
        "UPDATE location_pages SET title = ?3, body = ?4 WHERE id = ?1 AND location_id IN
             (SELECT id FROM locations WHERE organisation_id = ?2)",
        params![page, org.to_string(), title, body],
    )?;
    Ok(n == 1)
}

/// Sets (with the consent's time) or removes a staff member's photo.
/// `None`: not the organisation's staff; else the key no longer used.
pub fn set_staff_photo(
    c: &Connection,
    org: &OrganisationId,
    staff: &StaffId,
    key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Option<String>>, DbError> {
    let Some(old) = query_one(
        c,
        "SELECT photo_key FROM staff WHERE id = ?1 AND organisation_id = ?2",
        params![staff.to_string(), org.to_string()],
        |r| r.get::<_, Option<String>>("photo_key"),
    )?
    else {
        return Ok(None);
    };
    c.execute(
        "UPDATE staff SET photo_key = ?2, photo_consent_at = ?3 WHERE id = ?1",
        params![staff.to_string(), key, key.map(|_| time_str(now))],
    )?;
    Ok(Some(old.filter(|o| Some(o.as_str()) != key)))
}

/// A staff photo's key, if the staff member shared it and works at a
/// location of one of `parent`'s children.
pub fn staff_photo_for_parent(
    c: &Connection,
    parent: &ParentId,
    staff: &StaffId,
    today: NaiveDate,
) -> Result<Option<String>, DbError> {
    Ok(query_one(
        c,
        &format!(
            "SELECT s.photo_key FROM staff s
             WHERE s.id = ?3 AND s.photo_key IS NOT NULL AND s.photo_consent_at IS NOT NULL
               AND s.organisation_id = (SELECT organisation_id FROM parents WHERE id = ?1)
               AND EXISTS (SELECT 1 FROM staff_groups sg JOIN groups g ON g.id = sg.group_id
                           WHERE sg.staff_id = s.id AND g.location_id IN ({PARENT_LOCATIONS}))"
        ),
        params![parent.to_string(), today, staff.to_string()],
        |r| r.get::<_, Option<String>>("photo_key"),
    )?
    .flatten())
}

/// A staff photo's key for the manager of the organisation (also without consent: none is stored then).
pub fn staff_photo(
    c: &Connection,
    org: &OrganisationId,
    staff: &StaffId,
) -> Result<Option<String>, DbError> {
    Ok(query_one(
        c,
        "SELECT photo_key FROM staff WHERE id = ?1 AND organisation_id = ?2",
        params![staff.to_string(), org.to_string()],
        |r| r.get::<_, Option<String>>("photo_key"),
    )?
    .flatten())
}

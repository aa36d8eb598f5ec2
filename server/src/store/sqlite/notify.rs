//! SQLite: who hears about what the group sent (see [`crate::portal::notify`]), with
//! the same per-object rules as reading.

use super::conn::{DbError, parse_id};
use super::portal;
use crate::portal::notify::{Event, Recipient, Recipients};
use chrono::{DateTime, NaiveDate, Utc};
use kring_protocol::ParentId;
use rusqlite::{Connection, OptionalExtension, params};

/// Parents (id, name, e-mail) of children with a current placement on
/// `group`, or of the given children only.
fn parents_of(
    c: &Connection,
    group: &str,
    children: Option<&[String]>,
    today: NaiveDate,
) -> Result<Vec<(ParentId, String, String)>, DbError> {
    let rows: Vec<(String, String, String, String)> = c
        .prepare(
            "SELECT DISTINCT p.id, p.name, p.email, cp.child_id FROM parents p
             JOIN child_parents cp ON cp.parent_id = p.id
             JOIN placements pl ON pl.child_id = cp.child_id
             WHERE pl.group_id = ?1 AND pl.start_date <= ?2
               AND (pl.end_date IS NULL OR pl.end_date >= ?2)",
        )?
        .query_map(params![group, today.to_string()], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    let mut out: Vec<(ParentId, String, String)> = Vec::new();
    for (id, name, email, child) in rows {
        if children.is_some_and(|only| !only.contains(&child)) {
            continue;
        }
        let id: ParentId = parse_id("parents.id", &id)?;
        if !out.iter().any(|(p, _, _)| *p == id) {
            out.push((id, name, email));
        }
    }
    Ok(out)
}

fn wants_email(c: &Connection, parent: &ParentId, kind: &str) -> Result<bool, DbError> {
    Ok(portal::notification_prefs(c, parent)?
        .into_iter()
        .any(|(k, on)| k == kind && on))
}

/// Who hears about `event`: parents of the group's children (or of the
/// children it is about) who want e-mail for its kind and may see it now.
pub fn recipients(
    c: &Connection,
    event: Event,
    now: DateTime<Utc>,
) -> Result<Option<Recipients>, DbError> {
    let (group, staff_author, children): (Option<String>, bool, Option<Vec<String>>) = match event {
        Event::Message(id) => {
            let row: Option<(String, String, Option<String>)> = c
                .query_row(
                    "SELECT group_id, author_kind, child_id FROM messages WHERE id = ?1",
                    params![id.to_string()],
                    |r| r.try_into(),
                )
                .optional()?;
            match row {
                Some((g, kind, child)) => (Some(g), kind == "staff", child.map(|c| vec![c])),
                None => (None, false, None),
            }
        }
        Event::Diary(id) => {
            let row: Option<(String, String)> = c
                .query_row(
                    "SELECT group_id, author_kind FROM diary_entries WHERE id = ?1",
                    params![id.to_string()],
                    |r| r.try_into(),
                )
                .optional()?;
            let kids: Vec<String> = c
                .prepare("SELECT child_id FROM diary_children WHERE entry_id = ?1")?
                .query_map(params![id.to_string()], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            match row {
                Some((g, kind)) => (Some(g), kind == "staff", Some(kids)),
                None => (None, false, None),
            }
        }
        Event::Photo(id) => {
            let g: Option<String> = c
                .query_row(
                    "SELECT group_id FROM photos WHERE id = ?1",
                    params![id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            (g, true, None)
        }
    };
    let (Some(group), true) = (group, staff_author) else {
        return Ok(None);
    };
    let (slug, group_name, time_zone): (String, String, String) = c.query_row(
        "SELECT o.slug, g.name, o.time_zone FROM groups g JOIN locations l ON l.id = g.location_id
         JOIN organisations o ON o.id = l.organisation_id WHERE g.id = ?1",
        params![group],
        |r| r.try_into(),
    )?;
    // the day at the group's organisation decides placements and consents
    let today = super::calendar_of(&time_zone).today(now);
    let mut parents = Vec::new();
    for (parent, name, email) in parents_of(c, &group, children.as_deref(), today)? {
        if !wants_email(c, &parent, event.kind())? {
            continue;
        }
        let visible = match event {
            Event::Message(id) => {
                portal::message_for_parent(c, &parent, &id.to_string(), today)?.is_some()
            }
            Event::Diary(id) => {
                portal::diary_for_parent(c, &parent, &id.to_string(), today)?.is_some()
            }
            Event::Photo(id) => {
                portal::photo_for_parent(c, &parent, &id.to_string(), today)?.is_some()
            }
        };
        if visible {
            parents.push(Recipient {
                parent,
                name,
                email,
            });
        }
    }
    Ok(Some(Recipients {
        slug,
        group_name,
        parents,
    }))
}

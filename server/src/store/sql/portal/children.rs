//! SQLite, the portal's data: a parent's children.

use super::super::conn::{Connection, params};
use super::super::conn::{DbError, RowExt, query_all};
use super::super::feed::parse_consent;
use crate::org::ParentRole;
use crate::portal::*;
use chrono::NaiveDate;
use kring_protocol::{ChildId, ParentId};

/// Placements of `child` that are current on `today`.
pub fn current_placements(
    c: &Connection,
    child: &ChildId,
    today: NaiveDate,
) -> Result<Vec<Placement>, DbError> {
    placements_since(c, child, today, today)
}

/// Placements of `child` that began by `today` and had not ended before
/// `since`.
fn placements_since(
    c: &Connection,
    child: &ChildId,
    today: NaiveDate,
    since: NaiveDate,
) -> Result<Vec<Placement>, DbError> {
    query_all(
        c,
        "SELECT p.group_id, g.name AS group_name, p.start_date, p.end_date, p.days
         FROM placements p JOIN groups g ON g.id = p.group_id
         WHERE p.child_id = ?1 AND p.start_date <= ?2 AND (p.end_date IS NULL OR p.end_date >= ?3)
         ORDER BY p.start_date",
        params![child.to_string(), today.to_string(), since.to_string()],
        |r| {
            Ok(Placement {
                group: r.id("group_id")?,
                group_name: r.get("group_name")?,
                start: r.date("start_date")?,
                end: r.opt_date("end_date")?,
                days: r.get("days")?,
            })
        },
    )
}

/// The first day a placement may have ended on for its photos and diary to
/// be still the parent's: `today` less their organisation's
/// `child_data_weeks` (the retention run deletes them after that).
pub fn keep_from(
    c: &Connection,
    parent: &ParentId,
    today: NaiveDate,
) -> Result<NaiveDate, DbError> {
    let weeks = super::super::conn::query_one(
        c,
        "SELECT o.child_data_weeks FROM parents p
         JOIN organisations o ON o.id = p.organisation_id WHERE p.id = ?1",
        params![parent.to_string()],
        |r| r.get::<_, i64>("child_data_weeks"),
    )?
    .unwrap_or(0);
    Ok(today - chrono::Duration::weeks(weeks.max(0)))
}

/// All children linked to `parent` (also those whose placement ended).
pub fn parent_children(
    c: &Connection,
    parent: &ParentId,
    today: NaiveDate,
) -> Result<Vec<MyChild>, DbError> {
    let keep_from = keep_from(c, parent, today)?;
    query_all(
        c,
        "SELECT c.id, c.first_name, c.last_name, c.birth_date, c.photo_consent, cp.role
         FROM children c JOIN child_parents cp ON cp.child_id = c.id
         WHERE cp.parent_id = ?1 ORDER BY c.birth_date, c.first_name",
        params![parent.to_string()],
        |r| {
            let id: ChildId = r.id("id")?;
            Ok(MyChild {
                placements: current_placements(c, &id, today)?,
                kept: placements_since(c, &id, today, keep_from)?,
                id,
                first_name: r.get("first_name")?,
                last_name: r.get("last_name")?,
                birth_date: r.date("birth_date")?,
                consent: parse_consent(&r.get::<_, String>("photo_consent")?)?,
                role: if r.get::<_, String>("role")? == "first" {
                    ParentRole::First
                } else {
                    ParentRole::Second
                },
            })
        },
    )
}

/// The parent's child `child`, or None when it is not theirs.
pub fn my_child(
    c: &Connection,
    parent: &ParentId,
    child: &ChildId,
    today: NaiveDate,
) -> Result<Option<MyChild>, DbError> {
    Ok(parent_children(c, parent, today)?
        .into_iter()
        .find(|k| k.id == *child))
}

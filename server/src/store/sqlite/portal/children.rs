//! SQLite, the portal's data: a parent's children.

use super::super::conn::{DbError, parse_date, parse_id};
use super::super::feed::parse_consent;
use crate::org::ParentRole;
use crate::portal::*;
use chrono::NaiveDate;
use kring_protocol::{ChildId, ParentId};
use rusqlite::{Connection, params};

/// Placements of `child` that are current on `today`.
pub fn current_placements(
    c: &Connection,
    child: &ChildId,
    today: NaiveDate,
) -> Result<Vec<Placement>, DbError> {
    let rows: Vec<(String, String, String, Option<String>, String)> = c
        .prepare(
            "SELECT p.group_id, g.name, p.start_date, p.end_date, p.days FROM placements p
             JOIN groups g ON g.id = p.group_id
             WHERE p.child_id = ?1 AND p.start_date <= ?2 AND (p.end_date IS NULL OR p.end_date >= ?2)
             ORDER BY p.start_date",
        )?
        .query_map(params![child.to_string(), today.to_string()], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(g, name, start, end, days)| {
            Ok(Placement {
                group: parse_id("placements.group_id", &g)?,
                group_name: name,
                start: parse_date("placements.start_date", &start)?,
                end: end
                    .map(|e| parse_date("placements.end_date", &e))
                    .transpose()?,
                days,
            })
        })
        .collect()
}

/// All children linked to `parent` (also those whose placement ended).
pub fn parent_children(
    c: &Connection,
    parent: &ParentId,
    today: NaiveDate,
) -> Result<Vec<MyChild>, DbError> {
    let rows: Vec<(String, String, String, String, String, String)> = c
        .prepare(
            "SELECT c.id, c.first_name, c.last_name, c.birth_date, c.photo_consent, cp.role
             FROM children c JOIN child_parents cp ON cp.child_id = c.id
             WHERE cp.parent_id = ?1 ORDER BY c.birth_date, c.first_name",
        )?
        .query_map(params![parent.to_string()], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(id, first, last, birth, consent, role)| {
            let id: ChildId = parse_id("children.id", &id)?;
            Ok(MyChild {
                placements: current_placements(c, &id, today)?,
                id,
                first_name: first,
                last_name: last,
                birth_date: parse_date("children.birth_date", &birth)?,
                consent: parse_consent(&consent)?,
                role: if role == "first" {
                    ParentRole::First
                } else {
                    ParentRole::Second
                },
            })
        })
        .collect()
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

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
    query_all(
        c,
        "SELECT p.group_id, g.name AS group_name, p.start_date, p.end_date, p.days
         FROM placements p JOIN groups g ON g.id = p.group_id
         WHERE p.child_id = ?1 AND p.start_date <= ?2 AND (p.end_date IS NULL OR p.end_date >= ?2)
         ORDER BY p.start_date",
        params![child.to_string(), today.to_string()],
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

/// All children linked to `parent` (also those whose placement ended).
pub fn parent_children(
    c: &Connection,
    parent: &ParentId,
    today: NaiveDate,
) -> Result<Vec<MyChild>, DbError> {
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

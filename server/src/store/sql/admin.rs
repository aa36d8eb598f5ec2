//! SQLite: the location manager's reads of the organisation (groups,
//! children, parents, staff) and the CSV import, all scoped to one
//! organisation.

use super::conn::{Connection, OptionalExtension, params};
use super::conn::{DbError, RowExt, parse_date, parse_id, query_one};
use super::feed::parse_consent;
use super::org;
use crate::org::{GroupKind, ParentRole};
use crate::org::{ImportParent, ImportRow, NewChild, OrgError};
use crate::store::{
    ChildOverview, ChildParent, FirstPasswordLinks, GroupName, GroupSummary, ImportOutcome,
    ImportResult, NewLogin, ParentOverview, PlacementLine, StaffOverview,
};
use chrono::{NaiveDate, Utc};
use kring_protocol::{OrganisationId, PhotoConsent, StaffId, StaffRole};

/// The organisation's groups, by name, with today's counts.
pub fn group_summaries(
    c: &Connection,
    org: &OrganisationId,
    today: NaiveDate,
) -> Result<Vec<GroupSummary>, DbError> {
    let mut st = c.prepare(
        "SELECT g.id, g.name, g.kind, g.age_from, g.age_to FROM groups g
         JOIN locations l ON l.id = g.location_id WHERE l.organisation_id = ?1 ORDER BY g.name",
    )?;
    let mut rows = st.query(params![org.to_string()])?;
    let t = today.to_string();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: String = r.get("id")?;
        let count =
            |sql: &str| -> Result<i64, DbError> { c.query_row(sql, params![id, t], |r| r.get(0)) };
        out.push(GroupSummary {
            id: parse_id("groups.id", &id)?,
            name: r.get("name")?,
            kind: if r.get::<_, String>("kind")? == "bso" {
                GroupKind::Bso
            } else {
                GroupKind::Kdv
            },
            age_from: r.get("age_from")?,
            age_to: r.get("age_to")?,
            children: count(
                "SELECT COUNT(DISTINCT child_id) FROM placements WHERE group_id = ?1
                 AND start_date <= ?2 AND (end_date IS NULL OR end_date >= ?2)",
            )?,
            staff: count("SELECT COUNT(*) FROM staff_groups WHERE group_id = ?1 AND CAST(?2 AS TEXT) IS NOT NULL")?,
            devices: count(
                "SELECT COUNT(*) FROM devices WHERE group_id = ?1 AND revoked_at IS NULL AND CAST(?2 AS TEXT) IS NOT NULL",
            )?,
        });
    }
    Ok(out)
}

/// Children of the organisation (or the one with id `only`), with all their
/// placements and parents.
pub fn child_overviews(
    c: &Connection,
    org: &OrganisationId,
    only: Option<&str>,
) -> Result<Vec<ChildOverview>, DbError> {
    let mut st = c.prepare(
        "SELECT id, first_name, last_name, birth_date, photo_consent, allergies FROM children
         WHERE organisation_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR id = ?2) ORDER BY first_name, last_name",
    )?;
    let mut rows = st.query(params![org.to_string(), only])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: String = r.get("id")?;
        let mut placements = Vec::new();
        let mut ps = c.prepare(
            "SELECT g.name, p.days, p.start_date, p.end_date FROM placements p
             JOIN groups g ON g.id = p.group_id WHERE p.child_id = ?1 ORDER BY p.start_date",
        )?;
        let mut prow = ps.query(params![id])?;
        while let Some(p) = prow.next()? {
            let end: Option<String> = p.get("end_date")?;
            placements.push(PlacementLine {
                group_name: p.get("name")?,
                days: p.get("days")?,
                start: parse_date("placements.start_date", &p.get::<_, String>("start_date")?)?,
                end: end
                    .map(|e| parse_date("placements.end_date", &e))
                    .transpose()?,
            });
        }
        let mut parents = Vec::new();
        let mut pa = c.prepare(
            "SELECT p.name, p.email, cp.role FROM parents p JOIN child_parents cp ON cp.parent_id = p.id
             WHERE cp.child_id = ?1 ORDER BY cp.role",
        )?;
        let mut parow = pa.query(params![id])?;
        while let Some(p) = parow.next()? {
            parents.push(ChildParent {
                name: p.get("name")?,
                email: p.get("email")?,
                role: if p.get::<_, String>("role")? == "first" {
                    ParentRole::First
                } else {
                    ParentRole::Second
                },
            });
        }
        out.push(ChildOverview {
            id: parse_id("children.id", &id)?,
            first_name: r.get("first_name")?,
            last_name: r.get("last_name")?,
            birth_date: parse_date("children.birth_date", &r.get::<_, String>("birth_date")?)?,
            consent: parse_consent(&r.get::<_, String>("photo_consent")?)?,
            allergies: r.get("allergies")?,
            placements,
            parents,
        });
    }
    Ok(out)
}

/// Parents of the organisation, by name, with their children's names.
pub fn parent_overviews(
    c: &Connection,
    org: &OrganisationId,
) -> Result<Vec<ParentOverview>, DbError> {
    let mut st = c.prepare(
        "SELECT id, name, email, must_change_password FROM parents
         WHERE organisation_id = ?1 ORDER BY name",
    )?;
    let mut rows = st.query(params![org.to_string()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: String = r.get("id")?;
        let children: Vec<String> = c
            .prepare(
                "SELECT c.first_name || ' ' || c.last_name FROM children c
                 JOIN child_parents cp ON cp.child_id = c.id WHERE cp.parent_id = ?1",
            )?
            .query_map(params![id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        out.push(ParentOverview {
            id: parse_id("parents.id", &id)?,
            name: r.get("name")?,
            email: r.get("email")?,
            must_change_password: r.get("must_change_password")?,
            children,
        });
    }
    Ok(out)
}

/// Staff of the organisation, by name, with their groups' names.
pub fn staff_overviews(
    c: &Connection,
    org: &OrganisationId,
) -> Result<Vec<StaffOverview>, DbError> {
    let mut st = c.prepare(
        "SELECT s.id, s.name, s.role,
                (SELECT string_agg(g.name, ', ') FROM staff_groups sg
                 JOIN groups g ON g.id = sg.group_id WHERE sg.staff_id = s.id) AS groups
         FROM staff s WHERE s.organisation_id = ?1 ORDER BY s.name",
    )?;
    let mut rows = st.query(params![org.to_string()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(StaffOverview {
            id: parse_id("staff.id", &r.get::<_, String>("id")?)?,
            name: r.get("name")?,
            role: if r.get::<_, String>("role")? == "manager" {
                StaffRole::Manager
            } else {
                StaffRole::Pedagogical
            },
            groups: r.get("groups")?,
        });
    }
    Ok(out)
}

/// True when `staff` works for `org`.
pub fn staff_in_org(
    c: &Connection,
    staff: &StaffId,
    org: &OrganisationId,
) -> Result<bool, DbError> {
    Ok(c.query_row(
        "SELECT 1 FROM staff WHERE id = ?1 AND organisation_id = ?2",
        params![staff.to_string(), org.to_string()],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

/// The organisation's groups (id and name), by name.
pub fn org_groups(c: &Connection, org: &OrganisationId) -> Result<Vec<GroupName>, DbError> {
    let mut st = c.prepare(
        "SELECT g.id, g.name FROM groups g JOIN locations l ON l.id = g.location_id
         WHERE l.organisation_id = ?1 ORDER BY g.name",
    )?;
    let mut rows = st.query(params![org.to_string()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(GroupName {
            id: parse_id("groups.id", &r.get::<_, String>("id")?)?,
            name: r.get("name")?,
        });
    }
    Ok(out)
}

/// Adds the checked import rows in one transaction: all or nothing.
pub fn import_children(
    c: &mut Connection,
    org_id: &OrganisationId,
    rows: &[ImportRow],
    links: FirstPasswordLinks,
    confirmed_links: bool,
) -> Result<ImportResult, OrgError> {
    let tx = c.transaction()?;
    let mut unconfirmed = Vec::new();
    let mut done = Vec::new();
    let mut logins = Vec::new();
    let mut changed = Vec::new();
    for r in rows {
        let child = org::create_child(
            &tx,
            org_id,
            &NewChild {
                first_name: &r.first,
                last_name: &r.last,
                birth_date: r.birth,
                consent: PhotoConsent::None,
                allergies: None,
                notes: None,
            },
        )?;
        if r.consent != PhotoConsent::None {
            org::set_consent(&tx, &child, r.consent, "import", Utc::now())?;
        }
        changed.extend(org::place_child(
            &tx, &child, &r.group, &r.days, r.start, r.end,
        )?);
        let mut linked = Vec::new();
        for ImportParent { role, name, email } in &r.parents {
            let existing = query_one(
                &tx,
                "SELECT id, name FROM parents WHERE organisation_id = ?1 AND email = ?2",
                params![org_id.to_string(), email],
                |row| {
                    Ok((
                        row.id::<kring_protocol::ParentId>("id")?,
                        row.get::<_, String>("name")?,
                    ))
                },
            )?;
            let parent = match existing {
                Some((_, known_as)) if !confirmed_links && !same_name(&known_as, name) => {
                    // a typo in an address would give another family the
                    // child's photos: never without the manager's word
                    unconfirmed.push(format!(
                        "Regel {}: {email} hoort al bij {known_as}, niet bij {name}",
                        r.line
                    ));
                    continue;
                }
                Some((id, known_as)) => {
                    // say so: a typo here would give another family access
                    linked.push(format!(
                        "{email} is gekoppeld aan het bestaande account van {known_as}"
                    ));
                    id
                }
                None => {
                    // no password until they choose one through a
                    // single-use link (never a password in a mail)
                    let id = org::create_parent_hashed(
                        &tx,
                        org_id,
                        email,
                        name,
                        crate::org::NO_PASSWORD_YET,
                    )?;
                    let account = crate::portal::Account {
                        kind: crate::portal::UserKind::Parent,
                        id: id.0,
                        org: *org_id,
                        name: name.clone(),
                        email: email.clone(),
                        must_change_password: true,
                        is_manager: false,
                    };
                    let token = super::portal::create_reset(&tx, &account, links.now, links.valid)?;
                    logins.push(NewLogin {
                        name: name.clone(),
                        email: email.clone(),
                        token,
                    });
                    id
                }
            };
            changed.extend(org::link_parent(&tx, &child, &parent, *role)?);
        }
        done.push(if linked.is_empty() {
            format!("Regel {}: {} {} toegevoegd", r.line, r.first, r.last)
        } else {
            format!(
                "Regel {}: {} {} toegevoegd; let op: {}",
                r.line,
                r.first,
                r.last,
                linked.join("; ")
            )
        });
    }
    if !unconfirmed.is_empty() {
        // nothing is written (the transaction is dropped)
        return Ok(ImportResult::NeedsConfirmation(unconfirmed));
    }
    tx.commit()?;
    Ok(ImportResult::Done(ImportOutcome {
        lines: done,
        logins,
        changed,
    }))
}

/// The same person's name, written alike: case and spacing do not count.
fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    norm(a) == norm(b)
}

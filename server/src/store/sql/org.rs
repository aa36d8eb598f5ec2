//! SQLite: the organisation's own data (locations, groups, children,
//! parents, staff) and the writes that parents and managers make (messages,
//! absences, consents, diary). Every write that a group's device must see
//! records a change in the same transaction; callers nudge the groups returned.

use super::conn::time_str;
use super::conn::{Connection, OptionalExtension, params};
use super::feed::{
    EntityKind, group_change, record_absence_change, record_change, record_child_change,
};
use crate::org::{
    Changed, GroupKind, NewAbsence, NewChild, OrgError, ParentRole, days_str, hash_secret,
};
use chrono::{DateTime, NaiveDate, Utc};
use kring_protocol::{
    AbsenceId, AbsenceReason, ChildId, DiaryEntryId, GroupId, LocationId, MessageId,
    OrganisationId, ParentId, PartOfDay, PhotoConsent, StaffId, StaffRole, Weekday,
};

pub fn create_organisation(
    c: &Connection,
    slug: &str,
    name: &str,
) -> Result<OrganisationId, OrgError> {
    let id = OrganisationId::new();
    c.execute(
        "INSERT INTO organisations (id, slug, name) VALUES (?1, ?2, ?3)",
        params![id.to_string(), slug, name],
    )?;
    Ok(id)
}

pub fn create_location(
    c: &Connection,
    org: &OrganisationId,
    name: &str,
) -> Result<LocationId, OrgError> {
    let id = LocationId::new();
    c.execute(
        "INSERT INTO locations (id, organisation_id, name) VALUES (?1, ?2, ?3)",
        params![id.to_string(), org.to_string(), name],
    )?;
    Ok(id)
}

pub fn create_group(
    c: &Connection,
    location: &LocationId,
    name: &str,
    kind: GroupKind,
    ages: (u8, u8),
) -> Result<GroupId, OrgError> {
    let id = GroupId::new();
    c.execute(
        "INSERT INTO groups (id, location_id, name, kind, age_from, age_to) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            id.to_string(),
            location.to_string(),
            name,
            match kind {
                GroupKind::Kdv => "kdv",
                GroupKind::Bso => "bso",
            },
            ages.0,
            ages.1
        ],
    )?;
    record_change(c, &id, EntityKind::Group, &id.0)?;
    Ok(id)
}

pub fn create_child(
    c: &Connection,
    org: &OrganisationId,
    child: &NewChild<'_>,
) -> Result<ChildId, OrgError> {
    let id = ChildId::new();
    c.execute(
        "INSERT INTO children (id, organisation_id, first_name, last_name, birth_date, photo_consent, allergies, notes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            id.to_string(),
            org.to_string(),
            child.first_name,
            child.last_name,
            child.birth_date.to_string(),
            child.consent.as_str(),
            child.allergies,
            child.notes
        ],
    )?;
    Ok(id)
}

/// Places a child on a group on certain days.
pub fn place_child(
    c: &Connection,
    child: &ChildId,
    group: &GroupId,
    days: &[Weekday],
    start: NaiveDate,
    end: Option<NaiveDate>,
) -> Result<Changed, OrgError> {
    c.execute(
        "INSERT INTO placements (id, child_id, group_id, days, start_date, end_date) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            uuid::Uuid::now_v7().to_string(),
            child.to_string(),
            group.to_string(),
            days_str(days),
            start.to_string(),
            end.map(|e| e.to_string())
        ],
    )?;
    Ok(vec![group_change(c, group, EntityKind::Child, &child.0)?])
}

pub fn create_parent(
    c: &Connection,
    org: &OrganisationId,
    email: &str,
    name: &str,
    password: &str,
) -> Result<ParentId, OrgError> {
    create_parent_hashed(c, org, email, name, &hash_secret(password)?)
}

/// Like [`create_parent`], with the password already hashed (hash outside a
/// database call: Argon2 takes tens of milliseconds).
pub fn create_parent_hashed(
    c: &Connection,
    org: &OrganisationId,
    email: &str,
    name: &str,
    password_hash: &str,
) -> Result<ParentId, OrgError> {
    let id = ParentId::new();
    c.execute(
        "INSERT INTO parents (id, organisation_id, email, name, password_hash, must_change_password)
         VALUES (?1, ?2, ?3, ?4, ?5, 1)",
        params![id.to_string(), org.to_string(), email.to_lowercase(), name, password_hash],
    )?;
    Ok(id)
}

/// Links a parent to a child. The child's groups learn of it: the parents'
/// names are who may bring and pick up (`Child::pickup`).
pub fn link_parent(
    c: &Connection,
    child: &ChildId,
    parent: &ParentId,
    role: ParentRole,
) -> Result<Changed, OrgError> {
    c.execute(
        "INSERT INTO child_parents (child_id, parent_id, role) VALUES (?1, ?2, ?3)",
        params![
            child.to_string(),
            parent.to_string(),
            match role {
                ParentRole::First => "first",
                ParentRole::Second => "second",
            }
        ],
    )?;
    Ok(record_child_change(c, child, EntityKind::Child, &child.0)?)
}

pub fn create_staff(
    c: &Connection,
    org: &OrganisationId,
    name: &str,
    role: StaffRole,
    pin: &str,
    groups: &[GroupId],
) -> Result<(StaffId, Changed), OrgError> {
    create_staff_hashed(c, org, name, role, &hash_secret(pin)?, groups)
}

/// [`create_staff`] with the PIN already hashed (off the database: the store
/// hashes before it takes a connection).
pub fn create_staff_hashed(
    c: &Connection,
    org: &OrganisationId,
    name: &str,
    role: StaffRole,
    pin_hash: &str,
    groups: &[GroupId],
) -> Result<(StaffId, Changed), OrgError> {
    let id = StaffId::new();
    c.execute(
        "INSERT INTO staff (id, organisation_id, name, role, pin_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            id.to_string(),
            org.to_string(),
            name,
            match role {
                StaffRole::Manager => "manager",
                StaffRole::Pedagogical => "pedagogical",
            },
            pin_hash
        ],
    )?;
    let mut changed = Vec::new();
    for g in groups {
        c.execute(
            "INSERT INTO staff_groups (staff_id, group_id) VALUES (?1, ?2)",
            params![id.to_string(), g.to_string()],
        )?;
        changed.push(group_change(c, g, EntityKind::Staff, &id.0)?);
    }
    Ok((id, changed))
}

/// Gives a staff member (a location manager) a portal login. With
/// `must_change`, the first login forces a new password.
pub fn set_staff_login(
    c: &Connection,
    staff: &StaffId,
    email: &str,
    password: &str,
    must_change: bool,
) -> Result<(), OrgError> {
    set_staff_login_hashed(c, staff, email, &hash_secret(password)?, must_change)
}

/// [`set_staff_login`] with the password already hashed.
pub fn set_staff_login_hashed(
    c: &Connection,
    staff: &StaffId,
    email: &str,
    hash: &str,
    must_change: bool,
) -> Result<(), OrgError> {
    c.execute(
        "UPDATE staff SET email = ?2, password_hash = ?3, must_change_password = ?4 WHERE id = ?1",
        params![
            staff.to_string(),
            email.trim().to_lowercase(),
            hash,
            must_change
        ],
    )?;
    Ok(())
}

/// Sets a parent's password (the organisation's initial one, or the demo's)
/// and whether the next login must change it.
pub fn set_parent_password(
    c: &Connection,
    parent: &ParentId,
    password: &str,
    must_change: bool,
) -> Result<(), OrgError> {
    c.execute(
        "UPDATE parents SET password_hash = ?2, must_change_password = ?3 WHERE id = ?1",
        params![parent.to_string(), hash_secret(password)?, must_change],
    )?;
    Ok(())
}

/// A new PIN for a staff member, hashed already (off the database); every
/// group's device gets the new verifier.
pub fn reset_pin_hashed(
    c: &Connection,
    staff: &StaffId,
    pin_hash: &str,
) -> Result<Changed, OrgError> {
    c.execute(
        "UPDATE staff SET pin_hash = ?2 WHERE id = ?1",
        params![staff.to_string(), pin_hash],
    )?;
    let groups: Vec<String> = c
        .prepare("SELECT group_id FROM staff_groups WHERE staff_id = ?1")?
        .query_map(params![staff.to_string()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut changed = Vec::new();
    for g in groups {
        let g: GroupId = super::conn::parse_id("staff_groups.group_id", &g)?;
        changed.push(group_change(c, &g, EntityKind::Staff, &staff.0)?);
    }
    Ok(changed)
}

/// A parent changes a child's photo consent in the portal: like
/// [`set_consent`], and the history also keeps the parent's id.
pub fn set_consent_by_parent(
    c: &Connection,
    child: &ChildId,
    consent: PhotoConsent,
    parent: &ParentId,
    parent_name: &str,
    now: DateTime<Utc>,
) -> Result<Changed, OrgError> {
    write_consent(c, child, consent, parent_name, Some(parent), now)
}

/// A parent sets a child's photo consent; the history keeps who and when.
pub fn set_consent(
    c: &Connection,
    child: &ChildId,
    consent: PhotoConsent,
    changed_by: &str,
    now: DateTime<Utc>,
) -> Result<Changed, OrgError> {
    write_consent(c, child, consent, changed_by, None, now)
}

fn write_consent(
    c: &Connection,
    child: &ChildId,
    consent: PhotoConsent,
    changed_by: &str,
    parent: Option<&ParentId>,
    now: DateTime<Utc>,
) -> Result<Changed, OrgError> {
    c.execute(
        "UPDATE children SET photo_consent = ?2 WHERE id = ?1",
        params![child.to_string(), consent.as_str()],
    )?;
    c.execute(
        "INSERT INTO consent_history (child_id, consent, changed_by, changed_at, changed_by_parent_id)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            child.to_string(),
            consent.as_str(),
            changed_by,
            time_str(now),
            parent.map(|p| p.to_string())
        ],
    )?;
    Ok(record_child_change(c, child, EntityKind::Child, &child.0)?)
}

/// A parent writes to the group about their child.
pub fn parent_message(
    c: &Connection,
    group: &GroupId,
    child: &ChildId,
    parent: &ParentId,
    parent_name: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<(MessageId, Changed), OrgError> {
    let id = MessageId::new();
    c.execute(
        "INSERT INTO messages (id, group_id, child_id, author_kind, author_parent_id, author_name, body, sent_at)
         VALUES (?1, ?2, ?3, 'parent', ?4, ?5, ?6, ?7)",
        params![
            id.to_string(),
            group.to_string(),
            child.to_string(),
            parent.to_string(),
            parent_name,
            body,
            time_str(now)
        ],
    )?;
    Ok((
        id,
        vec![group_change(c, group, EntityKind::Message, &id.0)?],
    ))
}

pub fn report_absence(
    c: &Connection,
    a: &NewAbsence<'_>,
    now: DateTime<Utc>,
) -> Result<(AbsenceId, Changed), OrgError> {
    let id = AbsenceId::new();
    c.execute(
        "INSERT INTO absences (id, child_id, from_date, to_date, part_of_day, reason, note, reported_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id.to_string(),
            a.child.to_string(),
            a.from.to_string(),
            a.to.to_string(),
            match a.part_of_day {
                PartOfDay::WholeDay => "whole_day",
                PartOfDay::Morning => "morning",
                PartOfDay::Afternoon => "afternoon",
            },
            match a.reason {
                AbsenceReason::Ziek => "ziek",
                AbsenceReason::Vakantie => "vakantie",
                AbsenceReason::Anders => "anders",
            },
            a.note,
            a.reported_by,
            time_str(now)
        ],
    )?;
    Ok((id, record_absence_change(c, &id.0)?))
}

pub fn cancel_absence(
    c: &Connection,
    absence: &AbsenceId,
    child: &ChildId,
) -> Result<Changed, OrgError> {
    c.execute(
        "UPDATE absences SET cancelled = 1 WHERE id = ?1 AND child_id = ?2",
        params![absence.to_string(), child.to_string()],
    )?;
    Ok(record_absence_change(c, &absence.0)?)
}

/// A parent writes in their child's diary.
pub fn parent_diary(
    c: &Connection,
    group: &GroupId,
    child: &ChildId,
    parent: &ParentId,
    parent_name: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(DiaryEntryId, Changed), OrgError> {
    let id = DiaryEntryId::new();
    c.execute(
        "INSERT INTO diary_entries (id, group_id, author_kind, author_parent_id, author_name, text, written_at)
         VALUES (?1, ?2, 'parent', ?3, ?4, ?5, ?6)",
        params![id.to_string(), group.to_string(), parent.to_string(), parent_name, text, time_str(now)],
    )?;
    c.execute(
        "INSERT INTO diary_children (entry_id, child_id) VALUES (?1, ?2)",
        params![id.to_string(), child.to_string()],
    )?;
    Ok((
        id,
        vec![group_change(c, group, EntityKind::ParentDiary, &id.0)?],
    ))
}

/// Whether the parent must choose a new password at the next login.
pub fn set_must_change_password(
    c: &Connection,
    parent: &ParentId,
    must_change: bool,
) -> Result<(), OrgError> {
    c.execute(
        "UPDATE parents SET must_change_password = ?2 WHERE id = ?1",
        params![parent.to_string(), must_change],
    )?;
    Ok(())
}

/// The first location manager of the organisation with this slug.
pub fn manager_of(c: &Connection, slug: &str) -> Result<Option<StaffId>, OrgError> {
    let id: Option<String> = c
        .query_row(
            "SELECT s.id FROM staff s JOIN organisations o ON o.id = s.organisation_id
             WHERE o.slug = ?1 AND s.role = 'manager' LIMIT 1",
            params![slug],
            |r| r.get(0),
        )
        .optional()?;
    Ok(id
        .map(|s| super::conn::parse_id("staff.id", &s))
        .transpose()?)
}

/// True when an organisation has this slug.
pub fn slug_exists(c: &Connection, slug: &str) -> Result<bool, OrgError> {
    Ok(c.query_row(
        "SELECT 1 FROM organisations WHERE slug = ?1",
        params![slug],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

/// The group named `name` of the organisation with this slug.
pub fn group_by_name(c: &Connection, slug: &str, name: &str) -> Result<Option<GroupId>, OrgError> {
    let id: Option<String> = c
        .query_row(
            "SELECT g.id FROM groups g JOIN locations l ON l.id = g.location_id
             JOIN organisations o ON o.id = l.organisation_id WHERE o.slug = ?1 AND g.name = ?2",
            params![slug, name],
            |r| r.get(0),
        )
        .optional()?;
    Ok(id
        .map(|s| super::conn::parse_id("groups.id", &s))
        .transpose()?)
}

/// The child with this first name in the organisation with this slug, with its consent now.
pub fn child_by_first_name(
    c: &Connection,
    slug: &str,
    first: &str,
) -> Result<Option<(ChildId, PhotoConsent)>, OrgError> {
    Ok(super::conn::query_one(
        c,
        "SELECT c.id, c.photo_consent FROM children c JOIN organisations o ON o.id = c.organisation_id
         WHERE o.slug = ?1 AND c.first_name = ?2",
        params![slug, first],
        |r| {
            use super::conn::RowExt;
            Ok((
                r.id("id")?,
                super::feed::parse_consent(&r.get::<_, String>("photo_consent")?)?,
            ))
        },
    )?)
}

/// A message from the group written outside a device (read by the group at
/// once): in a child's thread, or to the whole group.
pub fn staff_message(
    c: &Connection,
    group: &GroupId,
    child: Option<&ChildId>,
    author_name: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<(MessageId, Changed), OrgError> {
    let id = MessageId::new();
    c.execute(
        "INSERT INTO messages (id, group_id, child_id, author_kind, author_name, body, sent_at, read_by_group_at)
         VALUES (?1, ?2, ?3, 'staff', ?4, ?5, ?6, ?6)",
        params![
            id.to_string(),
            group.to_string(),
            child.map(|c| c.to_string()),
            author_name,
            body,
            time_str(now)
        ],
    )?;
    Ok((
        id,
        vec![group_change(c, group, EntityKind::Message, &id.0)?],
    ))
}

/// Marks every parent message about `child` read by the group at `now`.
pub fn mark_parent_messages_read(
    c: &Connection,
    child: &ChildId,
    now: DateTime<Utc>,
) -> Result<(), OrgError> {
    c.execute(
        "UPDATE messages SET read_by_group_at = ?2 WHERE child_id = ?1 AND author_kind = 'parent'",
        params![child.to_string(), time_str(now)],
    )?;
    Ok(())
}

//! SQLite: attendance events (the presentielijst). A pushed event is written
//! once, with its change in the group's feed, in the push's transaction
//! ([`apply`]); the reads give a group's or a location's day (location
//! manager), a parent's own children's day, and one event for the feed.
//!
//! Events are never updated: a correction or an undo is a new row pointing at
//! an earlier one, and [`kring_protocol::attendance::Presence::fold`] reads
//! them, in the order of `seq` (the group's change sequence).

use super::conn::{Connection, params};
use super::conn::{DbError, RowExt, query_all, query_one, time_str};
use super::duplicate;
use super::feed::{EntityKind, parse_days, record_change};
use super::items::{check_children, group_children};
use crate::device_api::devices::AuthedDevice;
use crate::device_api::items::check_attendance;
use crate::store::{
    AttendanceRow, ChildAttendance, DayChild, DaySpan, DayStaff, GroupDay, LocationDay,
    LocationName, StoreError,
};
use chrono::{DateTime, Datelike, Utc};
use kring_protocol::{
    AbsenceReason, AttendanceEvent, AttendanceId, AttendanceItem, AttendanceRecord, ChildId,
    GroupCare, GroupId, LocationId, OrganisationId, ParentId, PartOfDay, StaffId, Weekday,
};
use std::collections::{BTreeSet, HashSet};

/// The `event` column's value.
fn event_name(e: &AttendanceEvent) -> &'static str {
    match e {
        AttendanceEvent::ChildIn { .. } => "child_in",
        AttendanceEvent::ChildOut { .. } => "child_out",
        AttendanceEvent::ChildAbsent { .. } => "child_absent",
        AttendanceEvent::StaffIn { .. } => "staff_in",
        AttendanceEvent::StaffOut { .. } => "staff_out",
        AttendanceEvent::BreakStart { .. } => "break_start",
        AttendanceEvent::BreakEnd { .. } => "break_end",
        AttendanceEvent::Undo { .. } => "undo",
    }
}

/// Who an earlier event is about, when it is one of `group`'s.
struct Earlier {
    child: Option<ChildId>,
    staff: Option<StaffId>,
}

fn earlier_of_group(
    tx: &Connection,
    group: &GroupId,
    id: &AttendanceId,
    what: &str,
) -> Result<Earlier, StoreError> {
    query_one(
        tx,
        "SELECT child_id, staff_id FROM attendance WHERE id = ?1 AND group_id = ?2",
        params![id.to_string(), group.to_string()],
        |r| {
            Ok(Earlier {
                child: r.opt_id("child_id")?,
                staff: r.opt_id("staff_id")?,
            })
        },
    )?
    .ok_or_else(|| {
        StoreError::invalid(format!(
            "{what} {id} is not an attendance event of this device's group"
        ))
    })
}

/// Refuses a staff member who is not of the organisation of `group`'s location.
fn check_staff_of_organisation(
    tx: &Connection,
    group: &GroupId,
    staff: &StaffId,
) -> Result<(), StoreError> {
    let found = query_one(
        tx,
        "SELECT s.id FROM staff s
         JOIN locations l ON l.organisation_id = s.organisation_id
         JOIN groups g ON g.location_id = l.id
         WHERE s.id = ?1 AND g.id = ?2",
        params![staff.to_string(), group.to_string()],
        |r| r.id::<StaffId>("id"),
    )?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::invalid(format!(
            "staff member {staff} is not of this device's organisation"
        ))),
    }
}

/// Stores an attendance event of `device`'s group (inside the push's
/// transaction) after checking it against the stored truth, and records it
/// in the group's feed. Returns the group's new sequence number.
pub fn apply(
    tx: &Connection,
    device: &AuthedDevice,
    item: &AttendanceItem,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let a = check_attendance(item, now)?;
    let group = &device.group;
    if let Some(child) = a.event.child() {
        // placed on the group on the day the event happened
        let day = device.calendar.today(a.at);
        check_children(&group_children(tx, group, day)?, &[child])?;
    }
    for staff in a.event.staff().iter().chain(a.recorded_by.iter()) {
        check_staff_of_organisation(tx, group, staff)?;
    }
    if let AttendanceEvent::Undo { target } = &a.event {
        earlier_of_group(tx, group, target, "the undo's target")?;
    }
    if let Some(replaced) = &a.replaces {
        let earlier = earlier_of_group(tx, group, replaced, "the corrected event")?;
        if earlier.child != a.event.child() || earlier.staff != a.event.staff() {
            return Err(StoreError::invalid(format!(
                "a correction must be about the same child or staff member as the event {replaced} it replaces"
            )));
        }
    }
    let seq = record_change(tx, group, EntityKind::Attendance, &a.id.0)?;
    let json = serde_json::to_string(&a).map_err(StoreError::backend)?;
    let target = match &a.event {
        AttendanceEvent::Undo { target } => Some(target.to_string()),
        _ => None,
    };
    tx.execute(
        "INSERT INTO attendance (id, group_id, device_id, recorded_by, at, event, child_id,
                                 staff_id, target_id, replaces_id, seq, item, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            a.id.to_string(),
            group.to_string(),
            device.id.to_string(),
            a.recorded_by.map(|s| s.to_string()),
            time_str(a.at),
            event_name(&a.event),
            a.event.child().map(|c| c.to_string()),
            a.event.staff().map(|s| s.to_string()),
            target,
            a.replaces.map(|r| r.to_string()),
            seq,
            json,
            time_str(now)
        ],
    )
    .map_err(duplicate("an attendance event with this id"))?;
    tracing::debug!(group = %group, event = event_name(&a.event), seq, "attendance stored");
    Ok(seq)
}

fn parse_item(json: &str) -> Result<AttendanceItem, DbError> {
    serde_json::from_str(json).map_err(|_| DbError::Corrupt {
        column: "attendance.item",
        value: json.chars().take(200).collect(),
    })
}

/// The event `id` for the feed, when its `at` lies in `from..until`.
pub fn record_for_feed(
    conn: &Connection,
    id: &str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Option<AttendanceRecord>, DbError> {
    query_one(
        conn,
        "SELECT item, received_at FROM attendance WHERE id = ?1 AND at >= ?2 AND at < ?3",
        params![id, time_str(from), time_str(until)],
        |r| {
            Ok(AttendanceRecord {
                item: parse_item(&r.get::<_, String>("item")?)?,
                received_at: r.time("received_at")?,
            })
        },
    )
}

const ROW_COLUMNS: &str =
    "SELECT a.seq, a.item, a.received_at, d.name AS device_name FROM attendance a
     LEFT JOIN devices d ON d.id = a.device_id";

fn row(r: &super::conn::Row) -> Result<AttendanceRow, DbError> {
    Ok(AttendanceRow {
        seq: r.get("seq")?,
        item: parse_item(&r.get::<_, String>("item")?)?,
        received_at: r.time("received_at")?,
        device_name: r.get("device_name")?,
    })
}

/// The organisation's locations, by name.
pub fn org_locations(c: &Connection, org: &OrganisationId) -> Result<Vec<LocationName>, DbError> {
    query_all(
        c,
        "SELECT id, name FROM locations WHERE organisation_id = ?1 ORDER BY name, id",
        params![org.to_string()],
        |r| {
            Ok(LocationName {
                id: r.id("id")?,
                name: r.get("name")?,
            })
        },
    )
}

/// The location's groups with their day; None when the location is not `org`'s.
pub fn location_day(
    c: &Connection,
    org: &OrganisationId,
    location: &LocationId,
    span: DaySpan,
) -> Result<Option<LocationDay>, DbError> {
    let Some(name) = query_one(
        c,
        "SELECT name FROM locations WHERE id = ?1 AND organisation_id = ?2",
        params![location.to_string(), org.to_string()],
        |r| r.get::<_, String>("name"),
    )?
    else {
        return Ok(None);
    };
    let groups = query_all(
        c,
        "SELECT id FROM groups WHERE location_id = ?1 ORDER BY name, id",
        params![location.to_string()],
        |r| r.id::<GroupId>("id"),
    )?;
    let mut days = Vec::with_capacity(groups.len());
    for g in &groups {
        if let Some(d) = group_day(c, org, g, span)? {
            days.push(d);
        }
    }
    Ok(Some(LocationDay {
        id: *location,
        name,
        groups: days,
    }))
}

fn weekday(d: chrono::Weekday) -> Weekday {
    match d {
        chrono::Weekday::Mon => Weekday::Mon,
        chrono::Weekday::Tue => Weekday::Tue,
        chrono::Weekday::Wed => Weekday::Wed,
        chrono::Weekday::Thu => Weekday::Thu,
        chrono::Weekday::Fri => Weekday::Fri,
        chrono::Weekday::Sat => Weekday::Sat,
        chrono::Weekday::Sun => Weekday::Sun,
    }
}

/// One group's day; None when the group is not `org`'s.
pub fn group_day(
    c: &Connection,
    org: &OrganisationId,
    group: &GroupId,
    span: DaySpan,
) -> Result<Option<GroupDay>, DbError> {
    struct Head {
        name: String,
        care: GroupCare,
        location: LocationId,
        location_name: String,
    }
    let Some(head) = query_one(
        c,
        "SELECT g.name, g.kind, l.id AS location_id, l.name AS location_name
         FROM groups g JOIN locations l ON l.id = g.location_id
         WHERE g.id = ?1 AND l.organisation_id = ?2",
        params![group.to_string(), org.to_string()],
        |r| {
            Ok(Head {
                name: r.get("name")?,
                care: if r.get::<_, String>("kind")? == "bso" {
                    GroupCare::Bso
                } else {
                    GroupCare::Dagopvang
                },
                location: r.id("location_id")?,
                location_name: r.get("location_name")?,
            })
        },
    )?
    else {
        return Ok(None);
    };
    let (g, day, from, until) = (
        group.to_string(),
        span.day.to_string(),
        time_str(span.from),
        time_str(span.until),
    );
    let events = query_all(
        c,
        &format!(
            "{ROW_COLUMNS}
             WHERE a.group_id = ?1 AND (
                 (a.at >= ?2 AND a.at < ?3)
                 OR a.target_id IN (SELECT id FROM attendance
                                    WHERE group_id = ?1 AND at >= ?2 AND at < ?3)
                 OR a.replaces_id IN (SELECT id FROM attendance
                                      WHERE group_id = ?1 AND at >= ?2 AND at < ?3))
             ORDER BY a.seq"
        ),
        params![g, from, until],
        row,
    )?;
    let wd = weekday(span.day.weekday());
    let child = |r: &super::conn::Row| -> Result<DayChild, DbError> {
        let days: Option<String> = r.get("days")?;
        let reason: Option<String> = r.get("absence_reason")?;
        let part: Option<String> = r.get("absence_part")?;
        Ok(DayChild {
            id: r.id("id")?,
            first_name: r.get("first_name")?,
            last_name: r.get("last_name")?,
            birth_date: r.date("birth_date")?,
            placed: days.is_some(),
            planned: days.is_some_and(|d| parse_days(&d).contains(&wd)),
            reported_absent: reason.map(|reason| {
                (
                    match reason.as_str() {
                        "ziek" => AbsenceReason::Ziek,
                        "vakantie" => AbsenceReason::Vakantie,
                        _ => AbsenceReason::Anders,
                    },
                    match part.as_deref() {
                        Some("morning") => PartOfDay::Morning,
                        Some("afternoon") => PartOfDay::Afternoon,
                        _ => PartOfDay::WholeDay,
                    },
                )
            }),
        })
    };
    const CHILD_COLUMNS: &str = "SELECT c.id, c.first_name, c.last_name, c.birth_date,
            (SELECT string_agg(p.days, ',') FROM placements p
             WHERE p.child_id = c.id AND p.group_id = ?1 AND p.start_date <= ?2
               AND (p.end_date IS NULL OR p.end_date >= ?2)) AS days,
            (SELECT a.reason FROM absences a
             WHERE a.child_id = c.id AND a.cancelled = 0 AND a.from_date <= ?2 AND a.to_date >= ?2
             ORDER BY a.created_at DESC LIMIT 1) AS absence_reason,
            (SELECT a.part_of_day FROM absences a
             WHERE a.child_id = c.id AND a.cancelled = 0 AND a.from_date <= ?2 AND a.to_date >= ?2
             ORDER BY a.created_at DESC LIMIT 1) AS absence_part
         FROM children c";
    let mut children = query_all(
        c,
        &format!(
            "{CHILD_COLUMNS}
             WHERE c.id IN (SELECT child_id FROM placements WHERE group_id = ?1
                            AND start_date <= ?2 AND (end_date IS NULL OR end_date >= ?2))
                OR c.id IN (SELECT child_id FROM attendance WHERE group_id = ?1
                            AND at >= ?3 AND at < ?4 AND child_id IS NOT NULL)"
        ),
        params![g, day, from, until],
        child,
    )?;
    // an undo or correction on another day may name someone else
    let named: BTreeSet<ChildId> = events.iter().filter_map(|e| e.item.event.child()).collect();
    let known: BTreeSet<ChildId> = children.iter().map(|k| k.id).collect();
    for id in named.difference(&known) {
        children.extend(query_one(
            c,
            &format!("{CHILD_COLUMNS} WHERE c.id = ?3"),
            params![g, day, id.to_string()],
            child,
        )?);
    }
    children.sort_by(|a, b| {
        (&a.first_name, &a.last_name, a.id).cmp(&(&b.first_name, &b.last_name, b.id))
    });
    let staff_row = |r: &super::conn::Row| -> Result<DayStaff, DbError> {
        Ok(DayStaff {
            id: r.id("id")?,
            name: r.get("name")?,
        })
    };
    let mut staff = query_all(
        c,
        "SELECT s.id, s.name FROM staff s
         WHERE s.id IN (SELECT staff_id FROM staff_groups WHERE group_id = ?1)
            OR s.id IN (SELECT staff_id FROM attendance WHERE group_id = ?1
                        AND at >= ?2 AND at < ?3 AND staff_id IS NOT NULL)
            OR s.id IN (SELECT recorded_by FROM attendance WHERE group_id = ?1
                        AND at >= ?2 AND at < ?3 AND recorded_by IS NOT NULL)",
        params![g, from, until],
        staff_row,
    )?;
    let named: BTreeSet<StaffId> = events
        .iter()
        .flat_map(|e| e.item.event.staff().into_iter().chain(e.item.recorded_by))
        .collect();
    let known: BTreeSet<StaffId> = staff.iter().map(|s| s.id).collect();
    for id in named.difference(&known) {
        staff.extend(query_one(
            c,
            "SELECT s.id, s.name FROM staff s WHERE s.id = ?1",
            params![id.to_string()],
            staff_row,
        )?);
    }
    staff.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
    Ok(Some(GroupDay {
        group: *group,
        name: head.name,
        location: head.location,
        location_name: head.location_name,
        care: head.care,
        span,
        children,
        staff,
        events,
    }))
}

/// The parent's own children, each with the events of `span` about it and
/// the undos of those (and of those undos): nothing about another child.
pub fn for_parent(
    c: &Connection,
    parent: &ParentId,
    span: DaySpan,
) -> Result<Vec<ChildAttendance>, DbError> {
    let children = query_all(
        c,
        "SELECT child_id FROM child_parents WHERE parent_id = ?1 ORDER BY child_id",
        params![parent.to_string()],
        |r| r.id::<ChildId>("child_id"),
    )?;
    let mut out = Vec::with_capacity(children.len());
    for child in children {
        let mut events = query_all(
            c,
            &format!("{ROW_COLUMNS} WHERE a.child_id = ?1 AND a.at >= ?2 AND a.at < ?3"),
            params![child.to_string(), time_str(span.from), time_str(span.until)],
            row,
        )?;
        let mut seen: HashSet<AttendanceId> = events.iter().map(|e| e.item.id).collect();
        let mut frontier: Vec<AttendanceId> = seen.iter().copied().collect();
        while let Some(target) = frontier.pop() {
            for undo in query_all(
                c,
                &format!("{ROW_COLUMNS} WHERE a.target_id = ?1"),
                params![target.to_string()],
                row,
            )? {
                if seen.insert(undo.item.id) {
                    frontier.push(undo.item.id);
                    events.push(undo);
                }
            }
        }
        events.sort_by_key(|e| (e.seq, e.item.id));
        out.push(ChildAttendance { child, events });
    }
    Ok(out)
}

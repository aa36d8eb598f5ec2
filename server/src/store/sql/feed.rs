//! SQLite: the per-group change sequence and the device feed built on it.
//!
//! **Architecture Invariant:** every write that a group's device must learn
//! about calls [`record_change`] inside the same transaction as the write.
//! The feed then carries the entity's state *at read time*, so consent
//! withdrawals and ended placements are never served stale.

use super::conn::{Connection, params};
use super::conn::{DbError, RowExt, parse_id, query_all, query_one};
use crate::org::GroupChange;
use chrono::{DateTime, NaiveDate, Utc};
use kring_protocol::{
    Absence, AbsenceReason, Change, ChangeKind, Child, ChildId, Cursor, FeedPage, GroupCare,
    GroupId, GroupInfo, Message, MessageAuthor, MessageThread, ParentDiaryEntry, PartOfDay,
    PhotoConsent, Staff, StaffId, StaffRole, Weekday,
};

/// Kinds of entity in the change log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    Group,
    Child,
    Staff,
    Absence,
    Message,
    ParentDiary,
    Attendance,
}

impl EntityKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::Child => "child",
            Self::Staff => "staff",
            Self::Absence => "absence",
            Self::Message => "message",
            Self::ParentDiary => "parent_diary",
            Self::Attendance => "attendance",
        }
    }
}

/// Bumps the group's sequence and records that `entity` changed at it. Call
/// inside the transaction of the write. Returns the new sequence number.
/// [`record_change`], answered as the group and its new sequence number.
pub fn group_change(
    tx: &Connection,
    group: &GroupId,
    kind: EntityKind,
    entity: &uuid::Uuid,
) -> Result<GroupChange, DbError> {
    Ok(GroupChange {
        group: *group,
        seq: record_change(tx, group, kind, entity)?,
    })
}

pub fn record_change(
    tx: &Connection,
    group: &GroupId,
    kind: EntityKind,
    entity: &uuid::Uuid,
) -> Result<i64, DbError> {
    let seq: i64 = tx.query_row(
        "UPDATE groups SET change_seq = change_seq + 1 WHERE id = ?1 RETURNING change_seq",
        params![group.to_string()],
        |r| r.get(0),
    )?;
    tx.execute(
        "DELETE FROM changes WHERE group_id = ?1 AND kind = ?2 AND entity_id = ?3",
        params![group.to_string(), kind.as_str(), entity.to_string()],
    )?;
    tx.execute(
        "INSERT INTO changes (group_id, seq, kind, entity_id) VALUES (?1, ?2, ?3, ?4)",
        params![group.to_string(), seq, kind.as_str(), entity.to_string()],
    )?;
    Ok(seq)
}

/// Records a change of `child` in every group where it has a placement.
/// Returns the groups touched, with their new sequence numbers.
pub fn record_child_change(
    tx: &Connection,
    child: &ChildId,
    kind: EntityKind,
    entity: &uuid::Uuid,
) -> Result<Vec<GroupChange>, DbError> {
    let groups = query_all(
        tx,
        "SELECT DISTINCT group_id FROM placements WHERE child_id = ?1",
        params![child.to_string()],
        |r| r.id::<GroupId>("group_id"),
    )?;
    groups
        .iter()
        .map(|g| group_change(tx, g, kind, entity))
        .collect()
}

/// Records a change of an absence (with its health note) in the groups
/// that need it: those where the child has a placement covering some of the
/// absence's days. A group the child left before the absence is not told; a
/// group it moves to is. Returns the groups touched.
pub fn record_absence_change(
    tx: &Connection,
    absence: &uuid::Uuid,
) -> Result<Vec<GroupChange>, DbError> {
    let groups = query_all(
        tx,
        "SELECT DISTINCT p.group_id FROM placements p JOIN absences a ON a.child_id = p.child_id
         WHERE a.id = ?1 AND p.start_date <= a.to_date
           AND (p.end_date IS NULL OR p.end_date >= a.from_date)",
        params![absence.to_string()],
        |r| r.id::<GroupId>("group_id"),
    )?;
    groups
        .iter()
        .map(|g| group_change(tx, g, EntityKind::Absence, absence))
        .collect()
}

/// The group's current sequence number.
pub fn current_seq(conn: &Connection, group: &GroupId) -> Result<i64, DbError> {
    conn.query_row(
        "SELECT change_seq FROM groups WHERE id = ?1",
        params![group.to_string()],
        |r| r.get(0),
    )
}

/// One page of the group's feed after `since`, at most `limit` changes.
pub fn feed_page(
    conn: &Connection,
    group: &GroupId,
    since: Cursor,
    limit: u32,
    today: NaiveDate,
) -> Result<FeedPage, DbError> {
    struct ChangeRow {
        seq: i64,
        kind: String,
        entity: String,
    }
    let rows = query_all(
        conn,
        "SELECT seq, kind, entity_id FROM changes WHERE group_id = ?1 AND seq > ?2
         ORDER BY seq LIMIT ?3",
        params![group.to_string(), since.0, i64::from(limit) + 1],
        |r| {
            Ok(ChangeRow {
                seq: r.get("seq")?,
                kind: r.get("kind")?,
                entity: r.get("entity_id")?,
            })
        },
    )?;
    let has_more = rows.len() > limit as usize;
    let mut changes = Vec::with_capacity(rows.len().min(limit as usize));
    let window = if rows
        .iter()
        .any(|r| r.kind == EntityKind::Attendance.as_str())
    {
        Some(attendance_window(conn, group, today)?)
    } else {
        None
    };
    // Changes whose entity loads to nothing still advance the cursor.
    let mut cursor = since;
    for row in rows.into_iter().take(limit as usize) {
        cursor = Cursor(row.seq);
        if let Some(kind) = load_change(conn, group, &row.kind, &row.entity, today, window)? {
            changes.push(Change { seq: row.seq, kind });
        }
    }
    Ok(FeedPage {
        changes,
        cursor,
        has_more,
        // per device, not per group: the feed handler adds `Store::update_offer`
        update: None,
        // the feed handler adds the current seal key
        seal_to: None,
    })
}

/// The attendance the feed carries: events whose `at` falls yesterday or
/// today in the organisation's calendar (a device starting from cursor 0
/// must not get months of history), and the few minutes into tomorrow a
/// device clock may be ahead (see `device_api::items::check_attendance`).
fn attendance_window(
    conn: &Connection,
    group: &GroupId,
    today: NaiveDate,
) -> Result<(DateTime<Utc>, DateTime<Utc>), DbError> {
    let zone = query_one(
        conn,
        "SELECT o.time_zone FROM groups g JOIN locations l ON l.id = g.location_id
         JOIN organisations o ON o.id = l.organisation_id WHERE g.id = ?1",
        params![group.to_string()],
        |r| r.get::<_, String>("time_zone"),
    )?;
    let calendar = super::calendar_of(zone.as_deref().unwrap_or(kring_protocol::DEFAULT_TIME_ZONE));
    let yesterday = today.pred_opt().unwrap_or(today);
    let tomorrow = today.succ_opt().unwrap_or(today);
    Ok((
        calendar.start_of(yesterday),
        calendar.start_of(tomorrow)
            + chrono::Duration::minutes(crate::device_api::items::ATTENDANCE_MAX_AHEAD_MINUTES),
    ))
}

fn load_change(
    conn: &Connection,
    group: &GroupId,
    kind: &str,
    entity: &str,
    today: NaiveDate,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Result<Option<ChangeKind>, DbError> {
    Ok(match kind {
        "group" => load_group(conn, group)?.map(ChangeKind::Group),
        "child" => {
            let id: ChildId = parse_id("changes.entity_id", entity)?;
            Some(match load_child(conn, group, &id, today)? {
                Some(c) => ChangeKind::Child(c),
                None => ChangeKind::ChildRemoved { id },
            })
        }
        "staff" => {
            let id: StaffId = parse_id("changes.entity_id", entity)?;
            Some(match load_staff(conn, group, &id)? {
                Some(s) => ChangeKind::Staff(s),
                None => ChangeKind::StaffRemoved { id },
            })
        }
        "absence" => load_absence(conn, group, entity, today)?.map(ChangeKind::Absence),
        "message" => load_message(conn, entity)?.map(ChangeKind::Message),
        "parent_diary" => load_parent_diary(conn, entity)?.map(ChangeKind::ParentDiaryEntry),
        "attendance" => match window {
            Some((from, until)) => super::attendance::record_for_feed(conn, entity, from, until)?
                .map(ChangeKind::Attendance),
            None => None,
        },
        other => {
            tracing::warn!(kind = other, "unknown change kind in the change log");
            None
        }
    })
}

pub fn load_group(conn: &Connection, group: &GroupId) -> Result<Option<GroupInfo>, DbError> {
    query_one(
        conn,
        "SELECT g.name, g.kind, l.id AS location_id, l.name AS location_name,
                o.id AS organisation_id, o.name AS organisation_name, o.time_zone
         FROM groups g
         JOIN locations l ON l.id = g.location_id
         JOIN organisations o ON o.id = l.organisation_id WHERE g.id = ?1",
        params![group.to_string()],
        |r| {
            Ok(GroupInfo {
                id: *group,
                name: r.get("name")?,
                location_id: r.id("location_id")?,
                location_name: r.get("location_name")?,
                organisation_id: r.id("organisation_id")?,
                organisation_name: r.get("organisation_name")?,
                time_zone: r.get("time_zone")?,
                care: if r.get::<_, String>("kind")? == "bso" {
                    GroupCare::Bso
                } else {
                    GroupCare::Dagopvang
                },
            })
        },
    )
}

pub fn parse_days(s: &str) -> Vec<Weekday> {
    crate::org::parse_days(s)
}

/// Who may bring and pick up `child`: its parents by name, the first parent
/// first. (The server knows no other authorised people yet.)
pub fn pickup_names(conn: &Connection, child: &ChildId) -> Result<Vec<String>, DbError> {
    query_all(
        conn,
        "SELECT p.name FROM parents p JOIN child_parents cp ON cp.parent_id = p.id
         WHERE cp.child_id = ?1 ORDER BY cp.role, p.name",
        params![child.to_string()],
        |r| r.get::<_, String>("name"),
    )
}

/// The child as the group's device sees it, or None when it has no placement
/// on the group that is current (not ended before `today`).
pub fn load_child(
    conn: &Connection,
    group: &GroupId,
    child: &ChildId,
    today: NaiveDate,
) -> Result<Option<Child>, DbError> {
    let pickup = pickup_names(conn, child)?;
    let (extra_days, cancelled_days) =
        super::agenda::device_days(conn, group, child, today - chrono::Duration::days(1))?;
    query_one(
        conn,
        "SELECT c.first_name, c.last_name, c.birth_date, c.photo_consent, c.allergies, c.notes,
                p.days, p.start_date, p.end_date
         FROM children c JOIN placements p ON p.child_id = c.id
         WHERE c.id = ?1 AND p.group_id = ?2 AND (p.end_date IS NULL OR p.end_date >= ?3)
         ORDER BY p.start_date DESC LIMIT 1",
        params![child.to_string(), group.to_string(), today.to_string()],
        |r| {
            Ok(Child {
                id: *child,
                first_name: r.get("first_name")?,
                last_name: r.get("last_name")?,
                birth_date: r.date("birth_date")?,
                photo_consent: parse_consent(&r.get::<_, String>("photo_consent")?)?,
                planned_days: parse_days(&r.get::<_, String>("days")?),
                placement_start: r.date("start_date")?,
                placement_end: r.opt_date("end_date")?,
                allergies: r.get("allergies")?,
                notes: r.get("notes")?,
                pickup,
                extra_days,
                cancelled_days,
            })
        },
    )
}

pub fn parse_consent(s: &str) -> Result<PhotoConsent, DbError> {
    PhotoConsent::parse(s).ok_or_else(|| DbError::Corrupt {
        column: "children.photo_consent",
        value: s.to_string(),
    })
}

fn load_staff(
    conn: &Connection,
    group: &GroupId,
    staff: &StaffId,
) -> Result<Option<Staff>, DbError> {
    query_one(
        conn,
        "SELECT s.name, s.role, s.pin_hash FROM staff s
         JOIN staff_groups sg ON sg.staff_id = s.id
         WHERE s.id = ?1 AND sg.group_id = ?2",
        params![staff.to_string(), group.to_string()],
        |r| {
            Ok(Staff {
                id: *staff,
                name: r.get("name")?,
                role: if r.get::<_, String>("role")? == "manager" {
                    StaffRole::Manager
                } else {
                    StaffRole::Pedagogical
                },
                pin_verifier: r.get("pin_hash")?,
            })
        },
    )
}

/// The absence as `group`'s device may see it: only while the child has a
/// placement on the group that covers some of the absence's days and has not
/// ended before `today`. A child that moved groups takes its absences (and
/// their health notes) along; the old group's screen learns nothing new.
fn load_absence(
    conn: &Connection,
    group: &GroupId,
    id: &str,
    today: NaiveDate,
) -> Result<Option<Absence>, DbError> {
    query_one(
        conn,
        "SELECT a.id, a.child_id, a.from_date, a.to_date, a.part_of_day, a.reason, a.note,
                a.cancelled
         FROM absences a WHERE a.id = ?1 AND EXISTS (
             SELECT 1 FROM placements p WHERE p.child_id = a.child_id AND p.group_id = ?2
               AND p.start_date <= a.to_date
               AND (p.end_date IS NULL OR (p.end_date >= a.from_date AND p.end_date >= ?3)))",
        params![id, group.to_string(), today.to_string()],
        |r| {
            Ok(Absence {
                id: r.id("id")?,
                child_id: r.id("child_id")?,
                from: r.date("from_date")?,
                to: r.date("to_date")?,
                part_of_day: match r.get::<_, String>("part_of_day")?.as_str() {
                    "morning" => PartOfDay::Morning,
                    "afternoon" => PartOfDay::Afternoon,
                    _ => PartOfDay::WholeDay,
                },
                reason: match r.get::<_, String>("reason")?.as_str() {
                    "ziek" => AbsenceReason::Ziek,
                    "vakantie" => AbsenceReason::Vakantie,
                    _ => AbsenceReason::Anders,
                },
                note: r.get("note")?,
                cancelled: r.get("cancelled")?,
            })
        },
    )
}

fn load_message(conn: &Connection, id: &str) -> Result<Option<Message>, DbError> {
    query_one(
        conn,
        "SELECT id, child_id, author_kind, author_parent_id, author_staff_id, author_name, body,
                sent_at, read_by_group_at FROM messages WHERE id = ?1",
        params![id],
        |r| {
            let name: String = r.get("author_name")?;
            let author = match r.opt_id("author_parent_id")? {
                Some(id) if r.get::<_, String>("author_kind")? == "parent" => {
                    MessageAuthor::Parent { id, name }
                }
                _ => MessageAuthor::Staff {
                    id: r.opt_id("author_staff_id")?,
                    name,
                },
            };
            Ok(Message {
                id: r.id("id")?,
                thread: match r.opt_id("child_id")? {
                    Some(child_id) => MessageThread::Child { child_id },
                    None => MessageThread::Group,
                },
                author,
                body: r.get("body")?,
                sent_at: r.time("sent_at")?,
                read_by_group_at: r.opt_time("read_by_group_at")?,
            })
        },
    )
}

fn load_parent_diary(conn: &Connection, id: &str) -> Result<Option<ParentDiaryEntry>, DbError> {
    query_one(
        conn,
        "SELECT d.id, dc.child_id, d.author_parent_id, d.author_name, d.text, d.written_at
         FROM diary_entries d JOIN diary_children dc ON dc.entry_id = d.id
         WHERE d.id = ?1 AND d.author_kind = 'parent' LIMIT 1",
        params![id],
        |r| {
            Ok(ParentDiaryEntry {
                id: r.id("id")?,
                child_id: r.id("child_id")?,
                parent_id: r.id("author_parent_id")?,
                parent_name: r.get("author_name")?,
                text: r.get("text")?,
                written_at: r.time("written_at")?,
            })
        },
    )
}

/// Server "now", the one clock that orders things.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

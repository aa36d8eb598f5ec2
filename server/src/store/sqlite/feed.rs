//! SQLite: the per-group change sequence and the device feed built on it.
//!
//! **Architecture Invariant:** every write that a group's device must learn
//! about calls [`record_change`] inside the same transaction as the write.
//! The feed then carries the entity's state *at read time*, so consent
//! withdrawals and ended placements are never served stale.

use super::conn::{DbError, parse_date, parse_id, parse_time};
use chrono::{DateTime, NaiveDate, Utc};
use kring_protocol::{
    Absence, AbsenceReason, Change, ChangeKind, Child, ChildId, Cursor, FeedPage, GroupId,
    GroupInfo, Message, MessageAuthor, MessageThread, ParentDiaryEntry, PartOfDay, PhotoConsent,
    Staff, StaffId, StaffRole, Weekday,
};
use rusqlite::{Connection, OptionalExtension, params};

/// Kinds of entity in the change log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    Group,
    Child,
    Staff,
    Absence,
    Message,
    ParentDiary,
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
        }
    }
}

/// Bumps the group's sequence and records that `entity` changed at it. Call
/// inside the transaction of the write. Returns the new sequence number.
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
) -> Result<Vec<(GroupId, i64)>, DbError> {
    let groups: Vec<String> = tx
        .prepare("SELECT DISTINCT group_id FROM placements WHERE child_id = ?1")?
        .query_map(params![child.to_string()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for g in groups {
        let g: GroupId = parse_id("placements.group_id", &g)?;
        out.push((g, record_change(tx, &g, kind, entity)?));
    }
    Ok(out)
}

/// The group's current sequence number.
pub fn current_seq(conn: &Connection, group: &GroupId) -> Result<i64, DbError> {
    Ok(conn.query_row(
        "SELECT change_seq FROM groups WHERE id = ?1",
        params![group.to_string()],
        |r| r.get(0),
    )?)
}

/// One page of the group's feed after `since`, at most `limit` changes.
pub fn feed_page(
    conn: &Connection,
    group: &GroupId,
    since: Cursor,
    limit: u32,
    today: NaiveDate,
) -> Result<FeedPage, DbError> {
    let rows: Vec<(i64, String, String)> = conn
        .prepare(
            "SELECT seq, kind, entity_id FROM changes WHERE group_id = ?1 AND seq > ?2
             ORDER BY seq LIMIT ?3",
        )?
        .query_map(
            params![group.to_string(), since.0, i64::from(limit) + 1],
            |r| r.try_into(),
        )?
        .collect::<Result<_, _>>()?;
    let has_more = rows.len() > limit as usize;
    let mut changes = Vec::with_capacity(rows.len().min(limit as usize));
    // Changes whose entity loads to nothing still advance the cursor.
    let mut cursor = since;
    for (seq, kind, entity) in rows.into_iter().take(limit as usize) {
        cursor = Cursor(seq);
        if let Some(kind) = load_change(conn, group, &kind, &entity, today)? {
            changes.push(Change { seq, kind });
        }
    }
    Ok(FeedPage {
        changes,
        cursor,
        has_more,
    })
}

fn load_change(
    conn: &Connection,
    group: &GroupId,
    kind: &str,
    entity: &str,
    today: NaiveDate,
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
        "absence" => load_absence(conn, entity)?.map(ChangeKind::Absence),
        "message" => load_message(conn, entity)?.map(ChangeKind::Message),
        "parent_diary" => load_parent_diary(conn, entity)?.map(ChangeKind::ParentDiaryEntry),
        other => {
            tracing::warn!(kind = other, "unknown change kind in the change log");
            None
        }
    })
}

pub fn load_group(conn: &Connection, group: &GroupId) -> Result<Option<GroupInfo>, DbError> {
    let row: Option<(String, String, String, String, String, String)> = conn
        .query_row(
            "SELECT g.name, l.id, l.name, o.id, o.name, o.time_zone FROM groups g
             JOIN locations l ON l.id = g.location_id
             JOIN organisations o ON o.id = l.organisation_id WHERE g.id = ?1",
            params![group.to_string()],
            |r| r.try_into(),
        )
        .optional()?;
    row.map(|(name, lid, lname, oid, oname, time_zone)| {
        Ok(GroupInfo {
            id: *group,
            name,
            location_id: parse_id("locations.id", &lid)?,
            location_name: lname,
            organisation_id: parse_id("organisations.id", &oid)?,
            organisation_name: oname,
            time_zone,
        })
    })
    .transpose()
}

pub fn parse_days(s: &str) -> Vec<Weekday> {
    s.split(',')
        .filter_map(|d| match d.trim() {
            "mon" => Some(Weekday::Mon),
            "tue" => Some(Weekday::Tue),
            "wed" => Some(Weekday::Wed),
            "thu" => Some(Weekday::Thu),
            "fri" => Some(Weekday::Fri),
            "sat" => Some(Weekday::Sat),
            "sun" => Some(Weekday::Sun),
            _ => None,
        })
        .collect()
}

/// The child as the group's device sees it, or None when it has no placement
/// on the group that is current (not ended before `today`).
pub fn load_child(
    conn: &Connection,
    group: &GroupId,
    child: &ChildId,
    today: NaiveDate,
) -> Result<Option<Child>, DbError> {
    type Row = (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
        Option<String>,
    );
    let row: Option<Row> = conn
        .query_row(
            "SELECT c.first_name, c.last_name, c.birth_date, c.photo_consent, c.allergies, c.notes,
                    p.days, p.start_date, p.end_date
             FROM children c JOIN placements p ON p.child_id = c.id
             WHERE c.id = ?1 AND p.group_id = ?2 AND (p.end_date IS NULL OR p.end_date >= ?3)
             ORDER BY p.start_date DESC LIMIT 1",
            params![child.to_string(), group.to_string(), today.to_string()],
            |r| r.try_into(),
        )
        .optional()?;
    let Some((first, last, birth, consent, allergies, notes, days, start, end)) = row else {
        return Ok(None);
    };
    Ok(Some(Child {
        id: *child,
        first_name: first,
        last_name: last,
        birth_date: parse_date("children.birth_date", &birth)?,
        photo_consent: parse_consent(&consent)?,
        planned_days: parse_days(&days),
        placement_start: parse_date("placements.start_date", &start)?,
        placement_end: end
            .map(|e| parse_date("placements.end_date", &e))
            .transpose()?,
        allergies,
        notes,
    }))
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
    let row: Option<(String, String, String)> = conn
        .query_row(
            "SELECT s.name, s.role, s.pin_hash FROM staff s
             JOIN staff_groups sg ON sg.staff_id = s.id
             WHERE s.id = ?1 AND sg.group_id = ?2",
            params![staff.to_string(), group.to_string()],
            |r| r.try_into(),
        )
        .optional()?;
    Ok(row.map(|(name, role, pin)| Staff {
        id: *staff,
        name,
        role: if role == "manager" {
            StaffRole::Manager
        } else {
            StaffRole::Pedagogical
        },
        pin_verifier: pin,
    }))
}

fn load_absence(conn: &Connection, id: &str) -> Result<Option<Absence>, DbError> {
    type Row = (String, String, String, String, String, Option<String>, bool);
    let row: Option<Row> = conn
        .query_row(
            "SELECT child_id, from_date, to_date, part_of_day, reason, note, cancelled
             FROM absences WHERE id = ?1",
            params![id],
            |r| r.try_into(),
        )
        .optional()?;
    let Some((child, from, to, part, reason, note, cancelled)) = row else {
        return Ok(None);
    };
    Ok(Some(Absence {
        id: parse_id("absences.id", id)?,
        child_id: parse_id("absences.child_id", &child)?,
        from: parse_date("absences.from_date", &from)?,
        to: parse_date("absences.to_date", &to)?,
        part_of_day: match part.as_str() {
            "morning" => PartOfDay::Morning,
            "afternoon" => PartOfDay::Afternoon,
            _ => PartOfDay::WholeDay,
        },
        reason: match reason.as_str() {
            "ziek" => AbsenceReason::Ziek,
            "vakantie" => AbsenceReason::Vakantie,
            _ => AbsenceReason::Anders,
        },
        note,
        cancelled,
    }))
}

fn load_message(conn: &Connection, id: &str) -> Result<Option<Message>, DbError> {
    type Row = (
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
        String,
        Option<String>,
    );
    let row: Option<Row> = conn
        .query_row(
            "SELECT child_id, author_kind, author_parent_id, author_staff_id, author_name, body,
                    sent_at, read_by_group_at FROM messages WHERE id = ?1",
            params![id],
            |r| r.try_into(),
        )
        .optional()?;
    let Some((child, kind, parent, staff, name, body, sent, read)) = row else {
        return Ok(None);
    };
    let author = match (kind.as_str(), parent) {
        ("parent", Some(p)) => MessageAuthor::Parent {
            id: parse_id("messages.author_parent_id", &p)?,
            name,
        },
        _ => MessageAuthor::Staff {
            id: staff
                .map(|s| parse_id("messages.author_staff_id", &s))
                .transpose()?,
            name,
        },
    };
    Ok(Some(Message {
        id: parse_id("messages.id", id)?,
        thread: match child {
            Some(c) => MessageThread::Child {
                child_id: parse_id("messages.child_id", &c)?,
            },
            None => MessageThread::Group,
        },
        author,
        body,
        sent_at: parse_time("messages.sent_at", &sent)?,
        read_by_group_at: read
            .map(|r| parse_time("messages.read_by_group_at", &r))
            .transpose()?,
    }))
}

fn load_parent_diary(conn: &Connection, id: &str) -> Result<Option<ParentDiaryEntry>, DbError> {
    let row: Option<(String, String, String, String, String)> = conn
        .query_row(
            "SELECT dc.child_id, d.author_parent_id, d.author_name, d.text, d.written_at
             FROM diary_entries d JOIN diary_children dc ON dc.entry_id = d.id
             WHERE d.id = ?1 AND d.author_kind = 'parent' LIMIT 1",
            params![id],
            |r| r.try_into(),
        )
        .optional()?;
    let Some((child, parent, name, text, written)) = row else {
        return Ok(None);
    };
    Ok(Some(ParentDiaryEntry {
        id: parse_id("diary_entries.id", id)?,
        child_id: parse_id("diary_children.child_id", &child)?,
        parent_id: parse_id("diary_entries.author_parent_id", &parent)?,
        parent_name: name,
        text,
        written_at: parse_time("diary_entries.written_at", &written)?,
    }))
}

/// Server "now", the one clock that orders things.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

//! SQLite, the portal's data: absences, consents, notifications, documents.

use super::super::conn::{Connection, OptionalExtension, params};
use super::super::conn::{DbError, RowExt, query_all, query_one, time_str};
use super::super::feed::parse_consent;
use super::*;
use crate::portal::*;
use chrono::{DateTime, NaiveDate, Utc};
use kring_protocol::{ChildId, ParentId};

pub fn absences_of(c: &Connection, child: &ChildId) -> Result<Vec<AbsenceView>, DbError> {
    query_all(
        c,
        "SELECT id, from_date, to_date, part_of_day, reason, note, cancelled FROM absences
         WHERE child_id = ?1 ORDER BY from_date DESC, created_at DESC LIMIT 100",
        params![child.to_string()],
        |r| {
            Ok(AbsenceView {
                id: r.get("id")?,
                child: *child,
                from: r.date("from_date")?,
                to: r.date("to_date")?,
                part_of_day: r.get("part_of_day")?,
                reason: r.get("reason")?,
                note: r.get("note")?,
                cancelled: r.get("cancelled")?,
            })
        },
    )
}

/// Whose an absence is, and whether it can still be cancelled.
#[derive(Debug, Clone, Copy)]
pub struct AbsenceOwner {
    pub child: ChildId,
    /// The absence's last day.
    pub to: NaiveDate,
    pub cancelled: bool,
}

/// The child an absence belongs to, if the absence exists.
pub fn absence_owner(c: &Connection, absence: &str) -> Result<Option<AbsenceOwner>, DbError> {
    query_one(
        c,
        "SELECT child_id, to_date, cancelled FROM absences WHERE id = ?1",
        params![absence],
        |r| {
            Ok(AbsenceOwner {
                child: r.id("child_id")?,
                to: r.date("to_date")?,
                cancelled: r.get("cancelled")?,
            })
        },
    )
}

pub fn consent_history(c: &Connection, child: &ChildId) -> Result<Vec<ConsentChange>, DbError> {
    query_all(
        c,
        "SELECT consent, changed_by, changed_at FROM consent_history WHERE child_id = ?1
         ORDER BY changed_at DESC, id DESC",
        params![child.to_string()],
        |r| {
            Ok(ConsentChange {
                consent: parse_consent(&r.get::<_, String>("consent")?)?,
                changed_by: r.get("changed_by")?,
                changed_at: r.time("changed_at")?,
            })
        },
    )
}

/// Per kind: e-mail on? (No row: on.)
pub fn notification_prefs(
    c: &Connection,
    parent: &ParentId,
) -> Result<Vec<(&'static str, bool)>, DbError> {
    NOTIFY_KINDS
        .iter()
        .map(|kind| {
            let on: Option<bool> = c
                .query_row(
                    "SELECT email FROM notification_prefs WHERE parent_id = ?1 AND kind = ?2",
                    params![parent.to_string(), kind],
                    |r| r.get(0),
                )
                .optional()?;
            Ok((*kind, on.unwrap_or(true)))
        })
        .collect()
}

pub fn set_notification_pref(
    c: &Connection,
    parent: &ParentId,
    kind: &str,
    email: bool,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO notification_prefs (parent_id, kind, email) VALUES (?1, ?2, ?3)
         ON CONFLICT (parent_id, kind) DO UPDATE SET email = excluded.email",
        params![parent.to_string(), kind, email],
    )?;
    Ok(())
}

pub fn create_document(
    c: &Connection,
    child: &ChildId,
    title: &str,
    body: &str,
    audience: DocumentAudience,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let id = uuid::Uuid::now_v7().to_string();
    c.execute(
        "INSERT INTO documents (id, child_id, title, body, audience, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, child.to_string(), title, body, audience.as_str(), time_str(now)],
    )?;
    Ok(id)
}

fn documents_where(
    c: &Connection,
    where_sql: &str,
    arg: &str,
) -> Result<Vec<(DocumentView, DocumentAudience)>, DbError> {
    let sql = format!(
        "SELECT id, child_id, title, body, audience, created_at FROM documents WHERE {where_sql}
         ORDER BY created_at DESC"
    );
    query_all(c, &sql, params![arg], |r| {
        Ok((
            DocumentView {
                id: r.get("id")?,
                child: r.id("child_id")?,
                title: r.get("title")?,
                body: r.get("body")?,
                created_at: r.time("created_at")?,
            },
            if r.get::<_, String>("audience")? == "all_parents" {
                DocumentAudience::AllParents
            } else {
                DocumentAudience::FirstParent
            },
        ))
    })
}

/// Documents of the parent's child that the parent's role allows.
pub fn documents_for_parent(c: &Connection, child: &MyChild) -> Result<Vec<DocumentView>, DbError> {
    Ok(documents_where(c, "child_id = ?1", &child.id.to_string())?
        .into_iter()
        .filter(|(_, a)| a.allows(child.role))
        .map(|(d, _)| d)
        .collect())
}

/// One document, if the parent may read it.
pub fn document_for_parent(
    c: &Connection,
    parent: &ParentId,
    id: &str,
    today: NaiveDate,
) -> Result<Option<DocumentView>, DbError> {
    let Some((doc, audience)) = documents_where(c, "id = ?1", id)?.into_iter().next() else {
        return Ok(None);
    };
    let Some(kid) = my_child(c, parent, &doc.child, today)? else {
        return Ok(None);
    };
    Ok(audience.allows(kid.role).then_some(doc))
}

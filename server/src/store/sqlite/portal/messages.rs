//! SQLite, the portal's data: messages.

use super::super::conn::{DbError, parse_id, parse_time};
use super::*;
use crate::portal::*;
use chrono::NaiveDate;
use kring_protocol::{ChildId, ParentId};
use rusqlite::Connection;

type MessageRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    Option<String>,
);

const MESSAGE_COLUMNS: &str = "m.id, m.group_id, g.name, m.child_id, m.author_kind, m.author_name,
     m.body, m.sent_at, m.read_by_group_at";

fn message_from(row: MessageRow) -> Result<MessageView, DbError> {
    let (id, group, group_name, child, kind, author, body, sent, read) = row;
    Ok(MessageView {
        id: parse_id("messages.id", &id)?,
        group: parse_id("messages.group_id", &group)?,
        group_name,
        child: child
            .map(|c| parse_id("messages.child_id", &c))
            .transpose()?,
        from_parent: kind == "parent",
        author_name: author,
        body,
        sent_at: parse_time("messages.sent_at", &sent)?,
        read_by_group_at: read
            .map(|r| parse_time("messages.read_by_group_at", &r))
            .transpose()?,
    })
}

fn message_rows(
    c: &Connection,
    where_sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<MessageView>, DbError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN groups g ON g.id = m.group_id WHERE {where_sql}
         ORDER BY m.sent_at, m.id"
    );
    let rows: Vec<MessageRow> = c
        .prepare(&sql)?
        .query_map(args, |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    rows.into_iter().map(message_from).collect()
}

/// The thread about `child` (its messages and the group messages of its
/// current groups), oldest first; None when it is not the parent's child.
pub fn thread_for_parent(
    c: &Connection,
    parent: &ParentId,
    child: &ChildId,
    today: NaiveDate,
) -> Result<Option<(MyChild, Vec<MessageView>)>, DbError> {
    let Some(kid) = my_child(c, parent, child, today)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for p in &kid.placements {
        let g = p.group.to_string();
        let k = kid.id.to_string();
        out.extend(message_rows(
            c,
            "m.group_id = ?1 AND (m.child_id = ?2 OR m.child_id IS NULL)",
            &[&g, &k],
        )?);
    }
    let kids = std::slice::from_ref(&kid);
    out.retain(|m| message_visible(m, kids));
    out.sort_by_key(|m| m.sent_at);
    Ok(Some((kid, out)))
}

/// One message, if the parent may see it.
pub fn message_for_parent(
    c: &Connection,
    parent: &ParentId,
    id: &str,
    today: NaiveDate,
) -> Result<Option<MessageView>, DbError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Ok(None);
    }
    let found = message_rows(c, "m.id = ?1", &[&id])?;
    let children = parent_children(c, parent, today)?;
    Ok(found.into_iter().find(|m| message_visible(m, &children)))
}

//! SQLite, the portal's data: messages.

use super::super::conn::{Connection, Row};
use super::super::conn::{DbError, RowExt, query_all};
use super::*;
use crate::portal::*;
use chrono::NaiveDate;
use kring_protocol::{ChildId, ParentId};

const MESSAGE_COLUMNS: &str = "m.id, m.group_id, g.name AS group_name, m.child_id,
     m.author_kind, m.author_name, m.body, m.sent_at, m.read_by_group_at";

fn message_from(r: &Row) -> Result<MessageView, DbError> {
    Ok(MessageView {
        id: r.id("id")?,
        group: r.id("group_id")?,
        group_name: r.get("group_name")?,
        child: r.opt_id("child_id")?,
        from_parent: r.get::<_, String>("author_kind")? == "parent",
        author_name: r.get("author_name")?,
        body: r.get("body")?,
        sent_at: r.time("sent_at")?,
        read_by_group_at: r.opt_time("read_by_group_at")?,
    })
}

fn message_rows(
    c: &Connection,
    where_sql: &str,
    args: &[&dyn super::super::conn::ToValue],
) -> Result<Vec<MessageView>, DbError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN groups g ON g.id = m.group_id WHERE {where_sql}
         ORDER BY m.sent_at, m.id"
    );
    query_all(c, &sql, args, message_from)
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
    // a leaver's thread stays readable as long as its photos and diary
    for p in &kid.kept {
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

/// For the parent's archive of `kid`: the messages about it and the group
/// messages of its groups while it was placed there (its kept placements),
/// oldest first.
pub fn archive_thread(c: &Connection, kid: &MyChild) -> Result<Vec<MessageView>, DbError> {
    let mut out: Vec<MessageView> = Vec::new();
    for p in &kid.kept {
        let g = p.group.to_string();
        let k = kid.id.to_string();
        for m in message_rows(
            c,
            "m.group_id = ?1 AND (m.child_id = ?2 OR m.child_id IS NULL)",
            &[&g, &k],
        )? {
            let about_kid = m.child == Some(kid.id) || p.covers(m.sent_at.date_naive());
            if about_kid && !out.iter().any(|o| o.id == m.id) {
                out.push(m);
            }
        }
    }
    out.sort_by_key(|m| (m.sent_at, m.id.to_string()));
    Ok(out)
}

//! SQLite: who hears about what the group sent (see [`crate::portal::notify`]), with
//! the same per-object rules as reading.

use super::conn::{Connection, params};
use super::conn::{DbError, RowExt, query_all, query_one};
use super::portal;
use crate::portal::notify::{Event, Recipient, Recipients};
use chrono::{DateTime, NaiveDate, Utc};
use kring_protocol::ParentId;

/// Parents of children with a current placement on `group`, or of the given
/// children only, each once.
fn parents_of(
    c: &Connection,
    group: &str,
    children: Option<&[String]>,
    today: NaiveDate,
) -> Result<Vec<Recipient>, DbError> {
    let rows = query_all(
        c,
        "SELECT DISTINCT p.id, p.name, p.email, p.language, cp.child_id FROM parents p
         JOIN child_parents cp ON cp.parent_id = p.id
         JOIN placements pl ON pl.child_id = cp.child_id
         WHERE pl.group_id = ?1 AND pl.start_date <= ?2
           AND (pl.end_date IS NULL OR pl.end_date >= ?2)",
        params![group, today.to_string()],
        |r| {
            let child: String = r.get("child_id")?;
            let wanted = children.is_none_or(|only| only.contains(&child));
            Ok(wanted.then_some(Recipient {
                parent: r.id("id")?,
                name: r.get("name")?,
                email: r.get("email")?,
                lang: language_of(r)?,
            }))
        },
    )?;
    let mut out: Vec<Recipient> = Vec::new();
    for r in rows.into_iter().flatten() {
        if !out.iter().any(|o| o.parent == r.parent) {
            out.push(r);
        }
    }
    Ok(out)
}

/// A parent's saved portal language (Dutch when never chosen).
pub(super) fn language_of(r: &super::conn::Row) -> Result<crate::portal::i18n::Lang, DbError> {
    let code: Option<String> = r.get("language")?;
    Ok(code
        .as_deref()
        .and_then(crate::portal::i18n::Lang::parse)
        .unwrap_or_default())
}

fn wants_email(c: &Connection, parent: &ParentId, kind: &str) -> Result<bool, DbError> {
    Ok(portal::notification_prefs(c, parent)?
        .into_iter()
        .any(|(k, on)| k == kind && on))
}

/// What an event is about: its group, whether staff wrote it, and the
/// children it is about (`None`: everybody on the group).
struct Source {
    group: String,
    by_staff: bool,
    children: Option<Vec<String>>,
}

fn source_of(c: &Connection, event: Event) -> Result<Option<Source>, DbError> {
    Ok(match event {
        Event::Message(id) => query_one(
            c,
            "SELECT group_id, author_kind, child_id FROM messages WHERE id = ?1",
            params![id.to_string()],
            |r| {
                Ok(Source {
                    group: r.get("group_id")?,
                    by_staff: r.get::<_, String>("author_kind")? == "staff",
                    children: r.get::<_, Option<String>>("child_id")?.map(|c| vec![c]),
                })
            },
        )?,
        Event::Diary(id) => {
            let kids = query_all(
                c,
                "SELECT child_id FROM diary_children WHERE entry_id = ?1",
                params![id.to_string()],
                |r| r.get::<_, String>("child_id"),
            )?;
            query_one(
                c,
                "SELECT group_id, author_kind FROM diary_entries WHERE id = ?1",
                params![id.to_string()],
                |r| {
                    Ok(Source {
                        group: r.get("group_id")?,
                        by_staff: r.get::<_, String>("author_kind")? == "staff",
                        children: Some(kids),
                    })
                },
            )?
        }
        Event::Photo(id) => query_one(
            c,
            "SELECT group_id FROM photos WHERE id = ?1",
            params![id.to_string()],
            |r| {
                Ok(Source {
                    group: r.get("group_id")?,
                    by_staff: true,
                    children: None,
                })
            },
        )?,
    })
}

/// Who hears about `event`: parents of the group's children (or of the
/// children it is about) who want e-mail for its kind and may see it now.
pub fn recipients(
    c: &Connection,
    event: Event,
    now: DateTime<Utc>,
) -> Result<Option<Recipients>, DbError> {
    let Some(Source {
        group,
        by_staff: true,
        children,
    }) = source_of(c, event)?
    else {
        return Ok(None);
    };
    struct Org {
        slug: String,
        group_name: String,
        time_zone: String,
    }
    let Some(org) = query_one(
        c,
        "SELECT o.slug, g.name AS group_name, o.time_zone FROM groups g
         JOIN locations l ON l.id = g.location_id
         JOIN organisations o ON o.id = l.organisation_id WHERE g.id = ?1",
        params![group],
        |r| {
            Ok(Org {
                slug: r.get("slug")?,
                group_name: r.get("group_name")?,
                time_zone: r.get("time_zone")?,
            })
        },
    )?
    else {
        return Err(DbError::NoRows);
    };
    // the day at the group's organisation decides placements and consents
    let today = super::calendar_of(&org.time_zone).today(now);
    let mut parents = Vec::new();
    for recipient in parents_of(c, &group, children.as_deref(), today)? {
        let parent = recipient.parent;
        if !wants_email(c, &parent, event.kind())? {
            continue;
        }
        let visible = match event {
            Event::Message(id) => {
                portal::message_for_parent(c, &parent, &id.to_string(), today)?.is_some()
            }
            Event::Diary(id) => {
                portal::diary_for_parent(c, &parent, &id.to_string(), today)?.is_some()
            }
            Event::Photo(id) => {
                portal::photo_for_parent(c, &parent, &id.to_string(), today)?.is_some()
            }
        };
        if visible {
            parents.push(recipient);
        }
    }
    Ok(Some(Recipients {
        slug: org.slug,
        group_name: org.group_name,
        parents,
    }))
}

/// Who hears about news post `id`: every parent of its organisation who may
/// read it now (the same read as the portal's) and wants e-mail for news.
pub fn news_recipients(
    c: &Connection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<crate::portal::notify::NewsRecipients>, DbError> {
    struct Org {
        slug: String,
        time_zone: String,
        org: String,
    }
    let Some(org) = query_one(
        c,
        "SELECT o.slug, o.time_zone, o.id FROM news_posts n
         JOIN organisations o ON o.id = n.organisation_id WHERE n.id = ?1",
        params![id],
        |r| {
            Ok(Org {
                slug: r.get("slug")?,
                time_zone: r.get("time_zone")?,
                org: r.get("id")?,
            })
        },
    )?
    else {
        return Ok(None);
    };
    let today = super::calendar_of(&org.time_zone).today(now);
    let everyone = query_all(
        c,
        "SELECT id, name, email, language FROM parents WHERE organisation_id = ?1 ORDER BY id",
        params![org.org],
        |r| {
            Ok(Recipient {
                parent: r.id("id")?,
                name: r.get("name")?,
                email: r.get("email")?,
                lang: language_of(r)?,
            })
        },
    )?;
    let mut parents = Vec::new();
    let mut post = None;
    for p in everyone {
        if !wants_email(c, &p.parent, "news")? {
            continue;
        }
        if let Some(found) = super::news::news_post_for_parent(c, &p.parent, id, today)? {
            post = Some(found);
            parents.push(p);
        }
    }
    let Some(post) = post else {
        return Ok(None);
    };
    Ok(Some(crate::portal::notify::NewsRecipients {
        slug: org.slug,
        kind: post.kind,
        title: post.title,
        parents,
    }))
}

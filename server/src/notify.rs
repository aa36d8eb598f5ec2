//! E-mail notifications to parents when the group sends something: a message,
//! a diary entry, a photo. Per parent and kind of item the parent chooses e-mail
//! on or off ("Notificaties"). Recipients are decided with the same rules as
//! reading ([`crate::portal`]): a parent who may not see a photo is not told
//! about it. Mails carry no child data beyond a first name, and no photo.

use crate::AppState;
use crate::db::{DbError, parse_id};
use crate::mail::Mail;
use crate::portal;
use chrono::NaiveDate;
use kring_protocol::{DiaryEntryId, MessageId, ParentId, PhotoId};
use rusqlite::{Connection, OptionalExtension, params};

/// Something the group sent that parents may hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Message(MessageId),
    Diary(DiaryEntryId),
    Photo(PhotoId),
}

impl Event {
    fn kind(&self) -> &'static str {
        match self {
            Self::Message(_) => "message",
            Self::Diary(_) => "diary",
            Self::Photo(_) => "photo",
        }
    }
}

/// The origin parents of `slug` reach the portal at, e.g. `https://zonnebloem.ouderportaal.nl`.
pub fn portal_origin(settings: &crate::settings::Settings, slug: &str) -> String {
    let scheme = if settings.portal.secure_cookies {
        "https"
    } else {
        "http"
    };
    // Keep an explicit port of the public URL (local use: `:8080`).
    let port = settings
        .http
        .public_url
        .rsplit_once(':')
        .map(|(_, p)| p.trim_end_matches('/'))
        .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    format!("{scheme}://{slug}.{}{port}", settings.portal.base_domain)
}

/// Parents (id, name, e-mail) of children with a current placement on
/// `group`, or of the given children only.
fn parents_of(
    c: &Connection,
    group: &str,
    children: Option<&[String]>,
    today: NaiveDate,
) -> Result<Vec<(ParentId, String, String)>, DbError> {
    let rows: Vec<(String, String, String, String)> = c
        .prepare(
            "SELECT DISTINCT p.id, p.name, p.email, cp.child_id FROM parents p
             JOIN child_parents cp ON cp.parent_id = p.id
             JOIN placements pl ON pl.child_id = cp.child_id
             WHERE pl.group_id = ?1 AND pl.start_date <= ?2
               AND (pl.end_date IS NULL OR pl.end_date >= ?2)",
        )?
        .query_map(params![group, today.to_string()], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    let mut out: Vec<(ParentId, String, String)> = Vec::new();
    for (id, name, email, child) in rows {
        if children.is_some_and(|only| !only.contains(&child)) {
            continue;
        }
        let id: ParentId = parse_id("parents.id", &id)?;
        if !out.iter().any(|(p, _, _)| *p == id) {
            out.push((id, name, email));
        }
    }
    Ok(out)
}

fn wants_email(c: &Connection, parent: &ParentId, kind: &str) -> Result<bool, DbError> {
    Ok(portal::notification_prefs(c, parent)?
        .into_iter()
        .any(|(k, on)| k == kind && on))
}

/// The mails to send for `event` (pure database work, no sending).
pub fn mails_for(
    c: &Connection,
    event: Event,
    origin_of: &dyn Fn(&str) -> String,
    today: NaiveDate,
) -> Result<Vec<Mail>, DbError> {
    let (group, staff_author, children): (Option<String>, bool, Option<Vec<String>>) = match event {
        Event::Message(id) => {
            let row: Option<(String, String, Option<String>)> = c
                .query_row(
                    "SELECT group_id, author_kind, child_id FROM messages WHERE id = ?1",
                    params![id.to_string()],
                    |r| r.try_into(),
                )
                .optional()?;
            match row {
                Some((g, kind, child)) => (Some(g), kind == "staff", child.map(|c| vec![c])),
                None => (None, false, None),
            }
        }
        Event::Diary(id) => {
            let row: Option<(String, String)> = c
                .query_row(
                    "SELECT group_id, author_kind FROM diary_entries WHERE id = ?1",
                    params![id.to_string()],
                    |r| r.try_into(),
                )
                .optional()?;
            let kids: Vec<String> = c
                .prepare("SELECT child_id FROM diary_children WHERE entry_id = ?1")?
                .query_map(params![id.to_string()], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            match row {
                Some((g, kind)) => (Some(g), kind == "staff", Some(kids)),
                None => (None, false, None),
            }
        }
        Event::Photo(id) => {
            let g: Option<String> = c
                .query_row(
                    "SELECT group_id FROM photos WHERE id = ?1",
                    params![id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            (g, true, None)
        }
    };
    let (Some(group), true) = (group, staff_author) else {
        return Ok(Vec::new());
    };
    let (slug, group_name): (String, String) = c.query_row(
        "SELECT o.slug, g.name FROM groups g JOIN locations l ON l.id = g.location_id
         JOIN organisations o ON o.id = l.organisation_id WHERE g.id = ?1",
        params![group],
        |r| r.try_into(),
    )?;
    let origin = origin_of(&slug);
    let mut mails = Vec::new();
    for (parent, name, email) in parents_of(c, &group, children.as_deref(), today)? {
        if !wants_email(c, &parent, event.kind())? {
            continue;
        }
        let (subject, what, link) = match event {
            Event::Message(id) => {
                if portal::message_for_parent(c, &parent, &id.to_string(), today)?.is_none() {
                    continue;
                }
                (
                    format!("Nieuw bericht van groep {group_name}"),
                    "een nieuw bericht gestuurd",
                    format!("{origin}/berichten/bericht/{id}"),
                )
            }
            Event::Diary(id) => {
                if portal::diary_for_parent(c, &parent, &id.to_string(), today)?.is_none() {
                    continue;
                }
                (
                    format!("Nieuw in het dagboek van groep {group_name}"),
                    "iets in het dagboek geschreven",
                    format!("{origin}/dagboek/{id}"),
                )
            }
            Event::Photo(id) => {
                if portal::photo_for_parent(c, &parent, &id.to_string(), today)?.is_none() {
                    continue;
                }
                (
                    format!("Nieuwe foto van groep {group_name}"),
                    "een nieuwe foto gedeeld",
                    format!("{origin}/fotos/{id}"),
                )
            }
        };
        mails.push(Mail {
            to: email,
            subject,
            body: format!(
                "Beste {name},\n\nGroep {group_name} heeft {what}.\nBekijk het in het ouderportaal (na inloggen):\n{link}\n\nU krijgt deze e-mail omdat e-mail aan staat bij Notificaties in het ouderportaal.\n"
            ),
        });
    }
    Ok(mails)
}

/// Works out and sends the mails for `event` in the background.
pub fn spawn(state: &AppState, event: Event) {
    let state = state.clone();
    tokio::spawn(async move {
        let settings = state.settings.clone();
        let today = portal::today_local();
        let mails = state
            .db
            .call(move |c| mails_for(c, event, &|slug| portal_origin(&settings, slug), today))
            .await;
        match mails {
            Ok(mails) => {
                for mail in mails {
                    if let Err(e) = state.mailer.send(mail).await {
                        tracing::warn!(error = %e, ?event, "notification mail failed");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, ?event, "could not work out notification mails"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_keeps_the_port_and_the_scheme() {
        let mut s = crate::settings::Settings::default();
        s.http.public_url = "http://127.0.0.1:8080".into();
        assert_eq!(
            portal_origin(&s, "zonnebloem"),
            "http://zonnebloem.localhost:8080"
        );
        s.http.public_url = "https://kring.example.nl".into();
        s.portal.base_domain = "ouderportaal.nl".into();
        s.portal.secure_cookies = true;
        assert_eq!(portal_origin(&s, "kober"), "https://kober.ouderportaal.nl");
    }
}

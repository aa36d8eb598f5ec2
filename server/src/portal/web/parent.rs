//! The parents' pages: Mijn kind (timeline), photos, Dagboek, Berichten,
//! Afwezig melden, Toestemmingen, Notificaties, Account and documents.
//!
//! Every object is looked up through `crate::portal`'s `*_for_parent`
//! functions; `None` (missing or not allowed) is 404. Every write goes
//! through `crate::org` (which records the change for the group's device)
//! and is followed by a nudge, so the device has it within seconds.

use super::view::{self, *};
use super::{ParentUser, WebError, render};
use crate::AppState;
use crate::org::ParentRole;
use crate::portal::i18n::tr;
use crate::portal::{self, MyChild, TimelineItem};
use crate::store::{
    AbsenceReport, ArchiveState, Created, DaySpan, NewParentDiary, NewParentMessage,
    NotificationPref, Thread,
};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use kring_protocol::{AbsenceReason, Calendar, ChildId, GroupId, PartOfDay, PhotoConsent};
use serde::Deserialize;

/// Longest diary text and message a parent can send (as for devices).
const MAX_TEXT: usize = crate::device_api::items::MAX_TEXT_CHARS;
const MAX_MESSAGE: usize = crate::device_api::items::MAX_MESSAGE_CHARS;

/// The day it is at the parent's organisation.
pub(super) fn today(u: &ParentUser) -> NaiveDate {
    u.ctx.tenant.calendar.today(Utc::now())
}

pub(super) fn layout(u: &ParentUser, title: &str, active: &'static str) -> Layout {
    Layout {
        title: title.to_string(),
        org: u.ctx.tenant.name.clone(),
        user: u.account.name.clone(),
        role: "parent",
        active,
        csrf: u.csrf.clone(),
        ..Layout::default()
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct Notice {
    /// A short code of what just happened (after a redirect).
    pub ok: String,
    /// Filter on one child (timeline).
    pub kind: String,
    /// Timeline page: only what is older than this time (RFC 3339).
    pub voor: String,
}

fn notice_text(code: &str) -> &'static str {
    match code {
        "dagboek" => tr().s("Uw stukje staat in het dagboek. De groep ziet het op het scherm in de groep."),
        "verstuurd" => tr().s("Uw bericht is verstuurd naar de groep."),
        "gemeld" => tr().s("De afwezigheid is doorgegeven aan de groep."),
        "ingetrokken" => tr().s("De afmelding is ingetrokken."),
        "toestemming" => tr().s("De toestemming is opgeslagen."),
        "notificaties" => tr().s("Uw keuzes zijn opgeslagen."),
        "archief" => {
            tr().s("We maken het archief. U krijgt een e-mail zodra het klaar is; daarna kunt u het ook hier downloaden.")
        }
        _ => "",
    }
}

pub(super) fn kid_name(k: &MyChild) -> String {
    k.first_name.clone()
}

fn kid_groups(k: &MyChild) -> String {
    k.placements
        .iter()
        .map(|p| p.group_name.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

fn kid_options(kids: &[MyChild], selected: Option<&ChildId>) -> Vec<KidOption> {
    kids.iter()
        .map(|k| KidOption {
            id: k.id.to_string(),
            name: kid_name(k),
            groups: kid_groups(k),
            selected: selected == Some(&k.id),
            placed: !k.placements.is_empty(),
        })
        .collect()
}

fn names_of(kids: &[MyChild], ids: &[ChildId]) -> String {
    kids.iter()
        .filter(|k| ids.contains(&k.id))
        .map(kid_name)
        .collect::<Vec<_>>()
        .join(" en ")
}

fn diary_row(
    calendar: &Calendar,
    d: &portal::DiaryView,
    kids: &[MyChild],
    full: bool,
) -> TimelineRow {
    let text = if full || d.text.chars().count() <= 280 {
        d.text.clone()
    } else {
        let cut: String = d.text.chars().take(280).collect();
        format!("{cut}…")
    };
    TimelineRow {
        kind: "diary",
        id: d.id.to_string(),
        when: view::when(calendar, d.written_at),
        children: names_of(kids, &d.children),
        author: d.author_name.clone(),
        text,
        photos: d.photos.iter().map(ToString::to_string).collect(),
    }
}

pub(super) fn parse_child(s: &str) -> Option<ChildId> {
    super::form_id(s)
}

/// The banners of the parent's children whose care ended (their photos and
/// diary are deleted after the date shown).
async fn leaving_banners(
    state: &AppState,
    u: &ParentUser,
    kids: &[MyChild],
) -> Result<Vec<LeavingBanner>, WebError> {
    let leaving = state.store.leaving_children(u.parent, today(u)).await?;
    Ok(leaving
        .into_iter()
        .filter_map(|l| {
            let k = kids.iter().find(|k| k.id == l.child)?;
            Some(LeavingBanner {
                child_id: k.id.to_string(),
                first_name: k.first_name.clone(),
                until: view::day(l.keep_until),
            })
        })
        .collect())
}

pub async fn timeline(
    State(state): State<AppState>,
    u: ParentUser,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let parent = u.parent;
    let only = parse_child(&q.kind);
    let before = chrono::DateTime::parse_from_rfc3339(&q.voor)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc));
    let kids = state.store.parent_children(parent, today(&u)).await?;
    let only = only.filter(|o| kids.iter().any(|k| k.id == *o));
    let items = state
        .store
        .timeline(parent, only, today(&u), TIMELINE_PAGE, before)
        .await?;
    // a full page: there may be more, older ones
    let older = (items.len() == TIMELINE_PAGE)
        .then(|| {
            items
                .last()
                .map(|i| i.at().to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        })
        .flatten()
        .unwrap_or_default();
    let rows = items
        .iter()
        .map(|i| match i {
            TimelineItem::Photo { photo, children } => TimelineRow {
                kind: "photo",
                id: photo.id.to_string(),
                when: view::when(&u.ctx.tenant.calendar, photo.received_at),
                children: names_of(&kids, children),
                author: String::new(),
                text: String::new(),
                photos: vec![photo.id.to_string()],
            },
            TimelineItem::Diary(d) => diary_row(&u.ctx.tenant.calendar, d, &kids, false),
        })
        .collect();
    let mut l = layout(&u, tr().s("Mijn kind"), "mijn-kind");
    l.notice = notice_text(&q.ok).into();
    let selected = only.filter(|o| kids.iter().any(|k| k.id == *o));
    let today_cards = today_cards(&state, &u, &kids, selected).await?;
    let leaving = leaving_banners(&state, &u, &kids).await?;
    render(&TimelinePage {
        l,
        leaving,
        today: today_cards,
        all_selected: selected.is_none(),
        kids: kid_options(&kids, selected.as_ref()),
        items: rows,
        older,
        filter: selected.map(|k| k.to_string()).unwrap_or_default(),
    })
}

/// "Vandaag" on Mijn kind: what the group recorded today about each of the
/// parent's children (or the one chosen), in words; children with nothing
/// recorded get no card. Only the parent's own children: the store reads
/// nothing else, and only children in `kids` (also the parent's) are shown.
async fn today_cards(
    state: &AppState,
    u: &ParentUser,
    kids: &[MyChild],
    only: Option<ChildId>,
) -> Result<Vec<TodayCard>, WebError> {
    let calendar = u.ctx.tenant.calendar;
    let span = DaySpan::of(&calendar, today(u));
    let days = state.store.attendance_for_parent(u.parent, span).await?;
    Ok(kids
        .iter()
        .filter(|k| only.is_none_or(|o| o == k.id))
        .filter_map(|k| {
            let events = &days.iter().find(|d| d.child == k.id)?.events;
            let day = portal::attendance::fold(events).child(&k.id);
            let lines = portal::attendance::parent_lines(&day, &calendar);
            (!lines.is_empty()).then(|| TodayCard {
                child_id: k.id.to_string(),
                child: kid_name(k),
                lines,
            })
        })
        .collect())
}

/// Items on one page of the timeline.
pub const TIMELINE_PAGE: usize = 50;

pub async fn photo_page(
    State(state): State<AppState>,
    u: ParentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let parent = u.parent;
    let photo = state.store.photo_for_parent(parent, id, today(&u)).await?;
    let kids = state.store.parent_children(parent, today(&u)).await?;
    let photo = photo.ok_or(WebError::NotFound)?;
    let who = portal::photo_visible_for(&photo, &kids);
    render(&PhotoPage {
        l: layout(&u, tr().s("Foto"), "mijn-kind"),
        id: photo.id.to_string(),
        when: view::when(&u.ctx.tenant.calendar, photo.received_at),
        children: names_of(&kids, &who),
        width: photo.width,
        height: photo.height,
    })
}

/// Which bytes of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Original,
    Download,
    Thumb,
}

async fn photo_bytes(
    state: &AppState,
    u: &ParentUser,
    id: String,
    variant: Variant,
) -> Result<Response, WebError> {
    let parent = u.parent;
    let photo = state
        .store
        .photo_for_parent(parent, id, today(u))
        .await?
        .ok_or(WebError::NotFound)?;
    let key = match variant {
        Variant::Thumb => photo.thumb_key.clone(),
        _ => photo.blob_key.clone(),
    };
    let blobs = state.blobs.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&key))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if variant == Variant::Download {
        let local = photo
            .received_at
            .with_timezone(&chrono_tz::Europe::Amsterdam)
            .format("%Y%m%d-%H%M");
        let value = format!("attachment; filename=\"foto-{local}.jpg\"");
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(resp)
}

pub async fn photo_original(
    State(state): State<AppState>,
    u: ParentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    photo_bytes(&state, &u, id, Variant::Original).await
}

pub async fn photo_download(
    State(state): State<AppState>,
    u: ParentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    photo_bytes(&state, &u, id, Variant::Download).await
}

pub async fn photo_thumb(
    State(state): State<AppState>,
    u: ParentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    photo_bytes(&state, &u, id, Variant::Thumb).await
}

/// Baby fields in words ("Gedronken: 150 ml om 10:15").
pub(crate) fn baby_lines(json: Option<&str>) -> Vec<String> {
    let Some(json) = json else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            if val.is_null() || val.as_array().is_some_and(Vec::is_empty) {
                continue;
            }
            let label = match k.as_str() {
                "feedings" => tr().s("Eten en drinken"),
                "sleeps" => tr().s("Slapen"),
                "nappies" => tr().s("Luiers"),
                "mood" => tr().s("Humeur"),
                other => other,
            };
            let text = match val {
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| match i.as_object() {
                        Some(o) => o
                            .iter()
                            .filter(|(_, v)| !v.is_null())
                            .map(|(k, v)| {
                                format!(
                                    "{k}: {}",
                                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(", "),
                        None => i.as_str().map_or_else(|| i.to_string(), str::to_string),
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                other => other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_string),
            };
            out.push(format!("{label}: {text}"));
        }
    }
    out
}

pub async fn diary_page(
    State(state): State<AppState>,
    u: ParentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let parent = u.parent;
    let entry = state.store.diary_for_parent(parent, id, today(&u)).await?;
    let kids = state.store.parent_children(parent, today(&u)).await?;
    let entry = entry.ok_or(WebError::NotFound)?;
    render(&DiaryPage {
        l: layout(&u, tr().s("Dagboek"), "mijn-kind"),
        baby: baby_lines(entry.baby_json.as_deref()),
        row: diary_row(&u.ctx.tenant.calendar, &entry, &kids, true),
    })
}

pub async fn diary_new(
    State(state): State<AppState>,
    u: ParentUser,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let parent = u.parent;
    let kids = state.store.parent_children(parent, today(&u)).await?;
    let selected = parse_child(&q.kind);
    render(&DiaryNewPage {
        l: layout(&u, tr().s("Dagboek schrijven"), "mijn-kind"),
        kids: kid_options(&kids, selected.as_ref()),
    })
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct WriteForm {
    pub csrf: String,
    pub child_id: String,
    pub text: String,
    pub body: String,
}

/// The parent's child with a current placement, and the group to write to.
async fn writable_child(
    state: &AppState,
    u: &ParentUser,
    child: &str,
) -> Result<(MyChild, GroupId), WebError> {
    let child = parse_child(child).ok_or(WebError::NotFound)?;
    let parent = u.parent;
    let kid = state
        .store
        .my_child(parent, child, today(u))
        .await?
        .ok_or(WebError::NotFound)?;
    let group = kid
        .placements
        .first()
        .map(|p| p.group)
        .ok_or(WebError::NotFound)?;
    Ok((kid, group))
}

pub(super) fn invalid(u: &ParentUser, title: &str, text: &str) -> Result<Response, WebError> {
    let mut resp = axum::response::Html(view::error_page(title, text)).into_response();
    *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    let _ = u;
    Ok(resp)
}

pub async fn diary_create(
    State(state): State<AppState>,
    u: ParentUser,
    Form(f): Form<WriteForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let (kid, group) = writable_child(&state, &u, &f.child_id).await?;
    let text = f.text.trim().to_string();
    if text.is_empty() || text.chars().count() > MAX_TEXT {
        return invalid(
            &u,
            tr().s("Dagboek schrijven"),
            &tr().f(
                "Schrijf een stukje van 1 tot {0} tekens. Ga terug om het te verbeteren.",
                MAX_TEXT,
            ),
        );
    }
    let (parent, name) = (u.parent, u.account.name.clone());
    let Created { id, changed } = state
        .store
        .parent_diary(
            NewParentDiary {
                group,
                child: kid.id,
                parent,
                parent_name: name,
                text,
            },
            Utc::now(),
        )
        .await?;
    state.nudge_changed(&changed);
    tracing::info!(entry = %id, parent = %u.parent, "parent diary entry");
    Ok(Redirect::to("/mijn-kind?ok=dagboek").into_response())
}

pub async fn messages(State(state): State<AppState>, u: ParentUser) -> Result<Response, WebError> {
    let parent = u.parent;
    let kids = state.store.parent_children(parent, today(&u)).await?;
    let mut threads = Vec::new();
    for k in &kids {
        if let Some(t) = state
            .store
            .thread_for_parent(parent, k.id, today(&u))
            .await?
        {
            threads.push((k.clone(), t.messages));
        }
    }
    let threads = threads
        .into_iter()
        .map(|(k, msgs)| {
            let last = msgs.last();
            ThreadSummary {
                child_id: k.id.to_string(),
                child: kid_name(&k),
                groups: kid_groups(&k),
                last: last
                    .map(|m| {
                        let s: String = m.body.chars().take(100).collect();
                        format!("{}: {s}", m.author_name)
                    })
                    .unwrap_or_else(|| tr().s("Nog geen berichten.").into()),
                last_when: last
                    .map(|m| view::when(&u.ctx.tenant.calendar, m.sent_at))
                    .unwrap_or_default(),
                count: msgs.len(),
            }
        })
        .collect();
    render(&MessagesPage {
        l: layout(&u, tr().s("Berichten"), "berichten"),
        threads,
        kids: kid_options(&kids, None),
    })
}

fn message_row(calendar: &Calendar, m: &portal::MessageView) -> MessageRow {
    MessageRow {
        id: m.id.to_string(),
        from_parent: m.from_parent,
        to_all: m.child.is_none(),
        author: m.author_name.clone(),
        group: m.group_name.clone(),
        when: view::when(calendar, m.sent_at),
        body: m.body.clone(),
        read_when: m
            .read_by_group_at
            .map(|t| view::when(calendar, t))
            .unwrap_or_default(),
    }
}

pub async fn thread(
    State(state): State<AppState>,
    u: ParentUser,
    Path(child): Path<String>,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let child = parse_child(&child).ok_or(WebError::NotFound)?;
    let parent = u.parent;
    let Thread {
        child: kid,
        messages: msgs,
    } = state
        .store
        .thread_for_parent(parent, child, today(&u))
        .await?
        .ok_or(WebError::NotFound)?;
    let mut l = layout(
        &u,
        &tr().f("Berichten over {0}", &kid.first_name),
        "berichten",
    );
    l.notice = notice_text(&q.ok).into();
    render(&ThreadPage {
        l,
        child_id: kid.id.to_string(),
        child: kid_name(&kid),
        groups: kid_groups(&kid),
        placed: !kid.placements.is_empty(),
        messages: msgs
            .iter()
            .map(|m| message_row(&u.ctx.tenant.calendar, m))
            .collect(),
    })
}

pub async fn message_page(
    State(state): State<AppState>,
    u: ParentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let parent = u.parent;
    let m = state
        .store
        .message_for_parent(parent, id, today(&u))
        .await?
        .ok_or(WebError::NotFound)?;
    render(&MessagePage {
        l: layout(&u, tr().s("Bericht"), "berichten"),
        child_id: m.child.map(|c| c.to_string()).unwrap_or_default(),
        m: message_row(&u.ctx.tenant.calendar, &m),
    })
}

pub async fn message_create(
    State(state): State<AppState>,
    u: ParentUser,
    Form(f): Form<WriteForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let (kid, group) = writable_child(&state, &u, &f.child_id).await?;
    let body = f.body.trim().to_string();
    if body.is_empty() || body.chars().count() > MAX_MESSAGE {
        return invalid(
            &u,
            tr().s("Bericht schrijven"),
            &tr().f(
                "Schrijf een bericht van 1 tot {0} tekens. Ga terug om het te verbeteren.",
                MAX_MESSAGE,
            ),
        );
    }
    let (parent, name) = (u.parent, u.account.name.clone());
    let child = kid.id;
    let Created { id, changed } = state
        .store
        .parent_message(
            NewParentMessage {
                group,
                child,
                parent,
                parent_name: name,
                body,
            },
            Utc::now(),
        )
        .await?;
    state.nudge_changed(&changed);
    tracing::info!(message = %id, parent = %u.parent, "parent message");
    Ok(Redirect::to(&format!("/berichten/kind/{child}?ok=verstuurd")).into_response())
}

pub async fn absences(
    State(state): State<AppState>,
    u: ParentUser,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let parent = u.parent;
    let kids = state.store.parent_children(parent, today(&u)).await?;
    let mut list = Vec::new();
    for k in &kids {
        for a in state.store.absences_of(k.id).await? {
            list.push((kid_name(k), a));
        }
    }
    let t = today(&u);
    let mut rows: Vec<AbsenceRow> = list
        .into_iter()
        .map(|(name, a)| AbsenceRow {
            cancellable: !a.cancelled && a.to >= t,
            id: a.id,
            child: name,
            from: view::day(a.from),
            to: if a.to == a.from {
                String::new()
            } else {
                view::day(a.to)
            },
            part: view::part_of_day_words(&a.part_of_day),
            reason: view::reason_words(&a.reason),
            note: a.note.unwrap_or_default(),
            cancelled: a.cancelled,
        })
        .collect();
    rows.truncate(100);
    let mut l = layout(&u, tr().s("Afwezig melden"), "afwezig");
    l.notice = notice_text(&q.ok).into();
    render(&AbsencesPage {
        l,
        kids: kid_options(&kids, None),
        today: t.to_string(),
        absences: rows,
    })
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct AbsenceForm {
    pub csrf: String,
    pub child_id: String,
    pub from: String,
    pub to: String,
    pub part_of_day: String,
    pub reason: String,
    pub note: String,
}

/// Checks an absence form; the problem in words.
pub fn parse_absence(
    f: &AbsenceForm,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate, PartOfDay, AbsenceReason), String> {
    let from = NaiveDate::parse_from_str(f.from.trim(), "%Y-%m-%d")
        .map_err(|_| tr().s("Kies de eerste dag van de afwezigheid.").to_string())?;
    let to = if f.to.trim().is_empty() {
        from
    } else {
        NaiveDate::parse_from_str(f.to.trim(), "%Y-%m-%d")
            .map_err(|_| tr().s("De laatste dag is geen geldige datum.").to_string())?
    };
    if from < today {
        return Err(tr().s("Afwezig melden kan voor vandaag of later.").into());
    }
    if to < from {
        return Err(tr().s("De laatste dag ligt voor de eerste dag.").into());
    }
    if (to - from).num_days() > 366 {
        return Err(tr().s("Meld hoogstens een jaar in één keer.").into());
    }
    let part = match f.part_of_day.as_str() {
        "whole_day" | "" => PartOfDay::WholeDay,
        "morning" => PartOfDay::Morning,
        "afternoon" => PartOfDay::Afternoon,
        _ => return Err(tr().s("Kies hele dag, ochtend of middag.").into()),
    };
    let reason = match f.reason.as_str() {
        "ziek" => AbsenceReason::Ziek,
        "vakantie" => AbsenceReason::Vakantie,
        "anders" => AbsenceReason::Anders,
        _ => return Err(tr().s("Kies een reden: ziek, vakantie of anders.").into()),
    };
    if f.note.chars().count() > 500 {
        return Err(tr()
            .s("De toelichting is te lang (hoogstens 500 tekens).")
            .into());
    }
    Ok((from, to, part, reason))
}

pub async fn absence_create(
    State(state): State<AppState>,
    u: ParentUser,
    Form(f): Form<AbsenceForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let (kid, _) = writable_child(&state, &u, &f.child_id).await?;
    let (from, to, part, reason) = match parse_absence(&f, today(&u)) {
        Ok(v) => v,
        Err(problem) => return invalid(&u, tr().s("Afwezig melden"), &problem),
    };
    let name = u.account.name.clone();
    let note = f.note.trim().to_string();
    let Created { id, changed } = state
        .store
        .report_absence(
            AbsenceReport {
                child: kid.id,
                from,
                to,
                part_of_day: part,
                reason,
                note: (!note.is_empty()).then_some(note),
                reported_by: name,
            },
            Utc::now(),
        )
        .await?;
    state.nudge_changed(&changed);
    tracing::info!(absence = %id, parent = %u.parent, "absence reported");
    Ok(Redirect::to("/afwezig?ok=gemeld").into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct CsrfForm {
    pub csrf: String,
}

pub async fn absence_cancel(
    State(state): State<AppState>,
    u: ParentUser,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let absence: kring_protocol::AbsenceId = uuid::Uuid::parse_str(&id)
        .map(kring_protocol::AbsenceId)
        .map_err(|_| WebError::NotFound)?;
    let parent = u.parent;
    let changed = state
        .store
        .cancel_absence_for_parent(parent, absence, today(&u))
        .await?
        .ok_or(WebError::NotFound)?;
    state.nudge_changed(&changed);
    Ok(Redirect::to("/afwezig?ok=ingetrokken").into_response())
}

pub async fn consents(
    State(state): State<AppState>,
    u: ParentUser,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let parent = u.parent;
    let kids = state.store.parent_children(parent, today(&u)).await?;
    let mut rows = Vec::new();
    for k in kids {
        let history = state.store.consent_history(k.id).await?;
        rows.push((k, history));
    }
    let rows = rows
        .into_iter()
        .map(|(k, history)| ConsentRow {
            child_id: k.id.to_string(),
            child: kid_name(&k),
            current: k.consent.as_str(),
            words: view::consent_words(k.consent),
            history: history
                .into_iter()
                .map(|h| HistoryRow {
                    consent: view::consent_words(h.consent),
                    by: h.changed_by,
                    when: view::when(&u.ctx.tenant.calendar, h.changed_at),
                })
                .collect(),
        })
        .collect();
    let mut l = layout(&u, tr().s("Toestemmingen"), "toestemmingen");
    l.notice = notice_text(&q.ok).into();
    render(&ConsentsPage { l, rows })
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct ConsentForm {
    pub csrf: String,
    pub consent: String,
}

pub async fn consent_set(
    State(state): State<AppState>,
    u: ParentUser,
    Path(child): Path<String>,
    Form(f): Form<ConsentForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let child = parse_child(&child).ok_or(WebError::NotFound)?;
    let consent = PhotoConsent::parse(&f.consent);
    let (parent, name) = (u.parent, u.account.name.clone());
    let Some(consent) = consent else {
        // not one of the three: the child must still be theirs to hear so
        state
            .store
            .my_child(parent, child, today(&u))
            .await?
            .ok_or(WebError::NotFound)?;
        return invalid(
            &u,
            tr().s("Toestemmingen"),
            tr().s("Kies een van de drie mogelijkheden."),
        );
    };
    let changed = state
        .store
        .set_consent_by_parent(parent, name, child, consent, today(&u), Utc::now())
        .await?
        .ok_or(WebError::NotFound)?;
    state.nudge_changed(&changed);
    tracing::info!(child = %child, parent = %u.parent, "photo consent changed");
    Ok(Redirect::to("/toestemmingen?ok=toestemming").into_response())
}

pub async fn notifications(
    State(state): State<AppState>,
    u: ParentUser,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let parent = u.parent;
    let prefs = state.store.notification_prefs(parent).await?;
    let mut l = layout(&u, tr().s("Notificaties"), "account");
    l.notice = notice_text(&q.ok).into();
    render(&NotificationsPage {
        l,
        prefs: prefs
            .into_iter()
            .map(|NotificationPref { kind, email: on }| PrefRow {
                kind,
                label: match kind {
                    "message" => tr().s("Berichten van de groep"),
                    "diary" => tr().s("Dagboek"),
                    "news" => tr().s("Nieuws en nieuwsbrieven van de opvang"),
                    _ => tr().s("Foto's"),
                },
                on,
            })
            .collect(),
    })
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct NotificationsForm {
    pub csrf: String,
    pub email_message: String,
    pub email_diary: String,
    pub email_photo: String,
    pub email_news: String,
}

pub async fn notifications_set(
    State(state): State<AppState>,
    u: ParentUser,
    Form(f): Form<NotificationsForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let parent = u.parent;
    let on = |v: &str| !v.is_empty();
    let values = [
        ("message", on(&f.email_message)),
        ("diary", on(&f.email_diary)),
        ("photo", on(&f.email_photo)),
        ("news", on(&f.email_news)),
    ];
    state
        .store
        .set_notification_prefs(
            parent,
            values
                .into_iter()
                .map(|(kind, email)| NotificationPref { kind, email })
                .collect(),
        )
        .await?;
    Ok(Redirect::to("/notificaties?ok=notificaties").into_response())
}

pub async fn account(
    State(state): State<AppState>,
    u: ParentUser,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let parent = u.parent;
    let kids = state.store.parent_children(parent, today(&u)).await?;
    let mut with_docs = Vec::new();
    for k in kids {
        let docs = state.store.documents_for_parent(k.clone()).await?;
        with_docs.push((k, docs));
    }
    let leaving = leaving_banners(
        &state,
        &u,
        &with_docs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
    )
    .await?;
    let kids = with_docs;
    let t = today(&u);
    let archives = state.store.archives_of(parent, Utc::now()).await?;
    let mut l = layout(&u, tr().s("Account"), "account");
    l.notice = notice_text(&q.ok).into();
    render(&AccountPage {
        l,
        leaving,
        name: u.account.name.clone(),
        email: u.account.email.clone(),
        children: kids
            .into_iter()
            .map(|(k, docs)| {
                let archive = archives.iter().find(|a| a.child == k.id);
                let (state, until) = match archive.map(|a| a.state) {
                    None => ("", String::new()),
                    Some(ArchiveState::Waiting) => ("waiting", String::new()),
                    Some(ArchiveState::Ready { expires_at }) => {
                        ("ready", view::day(u.ctx.tenant.calendar.today(expires_at)))
                    }
                    Some(ArchiveState::Downloaded) => ("downloaded", String::new()),
                    Some(ArchiveState::Expired) => ("expired", String::new()),
                    Some(ArchiveState::Failed) => ("failed", String::new()),
                };
                AccountChild {
                    id: k.id.to_string(),
                    first_name: k.first_name.clone(),
                    archive: state,
                    archive_id: archive.map(|a| a.id.to_string()).unwrap_or_default(),
                    archive_until: until,
                    name: format!("{} {}", k.first_name, k.last_name),
                    age: view::age(k.birth_date, t),
                    role: match k.role {
                        ParentRole::First => tr().s("eerste ouder"),
                        ParentRole::Second => tr().s("tweede ouder"),
                    },
                    placements: k
                        .placements
                        .iter()
                        .map(|p| {
                            let end = p
                                .end
                                .map(|e| tr().f(", tot en met {0}", view::day(e)))
                                .unwrap_or_default();
                            tr().f3(
                                "{0} op {1} (sinds {2}",
                                &p.group_name,
                                view::days_words(&p.days),
                                view::day(p.start),
                            ) + &end
                                + ")"
                        })
                        .collect(),
                    documents: docs.into_iter().map(|d| (d.id, d.title)).collect(),
                }
            })
            .collect(),
    })
}

pub async fn document(
    State(state): State<AppState>,
    u: ParentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let parent = u.parent;
    let doc = state
        .store
        .document_for_parent(parent, id, today(&u))
        .await?
        .ok_or(WebError::NotFound)?;
    render(&DocumentPage {
        l: layout(&u, &doc.title, "account"),
        title: doc.title,
        body: doc.body,
        when: view::when(&u.ctx.tenant.calendar, doc.created_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absences_are_checked() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
        let form = |from: &str, to: &str, reason: &str| AbsenceForm {
            from: from.into(),
            to: to.into(),
            reason: reason.into(),
            part_of_day: "morning".into(),
            ..AbsenceForm::default()
        };
        let ok = parse_absence(&form("2026-11-23", "", "ziek"), today).expect("ok");
        assert_eq!(ok.0, ok.1);
        assert_eq!(ok.2, PartOfDay::Morning);
        assert!(
            parse_absence(&form("2026-11-21", "", "ziek"), today).is_err(),
            "past"
        );
        assert!(parse_absence(&form("2026-11-25", "2026-11-24", "ziek"), today).is_err());
        assert!(parse_absence(&form("2026-11-25", "", "feest"), today).is_err());
        assert!(parse_absence(&form("morgen", "", "ziek"), today).is_err());
    }

    #[test]
    fn baby_fields_in_words() {
        let lines = baby_lines(Some(r#"{"mood":"blij","sleeps":[]}"#));
        assert_eq!(lines, vec!["Humeur: blij".to_string()]);
        assert!(baby_lines(None).is_empty());
    }
}

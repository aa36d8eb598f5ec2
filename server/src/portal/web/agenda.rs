//! The agenda (issue 16): a parent's month of care for a child (contract
//! days, closed days, absences, extra days, cancelled days), requesting an
//! extra day (paid, from tegoed, or a swap) and cancelling a day; the
//! location manager's list of requests with whether the day fits (BKR and
//! group size), approve and refuse.

use super::admin::{self, today as manager_today};
use super::parent::{invalid, kid_name, layout, parse_child, today};
use super::view::{self, Layout};
use super::{ManagerUser, ParentUser, WebError, form_day, render};
use crate::AppState;
use crate::portal::agenda::{
    AgendaRefusal, CancelKind, ChildAgenda, ChildVacation, DayRequestView, NewDayRequest,
    NewVacationRequest, Payment, PlannedDay, RequestStatus, VacationRequestView, fit, hours_words,
    part_words, vacation_guaranteed, weekday_of,
};
use crate::portal::i18n::{mark, tr};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, Duration, Months, NaiveDate, Utc};
use kring_protocol::PartOfDay;
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct AgendaQuery {
    /// The child shown (its id); the first child when empty.
    pub kind: String,
    /// The month shown, `YYYY-MM`; this month when empty.
    pub maand: String,
    pub ok: String,
    /// A day to fill in on the request form (`YYYY-MM-DD`).
    pub dag: String,
}

/// One day of the month view.
#[derive(Debug, Clone)]
pub struct DayRow {
    pub date: String,
    /// `YYYY-MM` of the day.
    pub month: String,
    pub when: String,
    /// "contract", "extra", "requested", "cancelled", "closed", "absent", "refused".
    pub state: &'static str,
    pub words: String,
    /// A contract day from today on: it can be cancelled.
    pub cancellable: bool,
    pub cancel_words: String,
    /// A cancelled day from tomorrow on: it can be asked for again.
    pub askable: bool,
}

#[derive(Debug, Clone)]
pub struct ChildTab {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Debug, Clone)]
pub struct RequestRow {
    pub id: String,
    pub when: String,
    pub part: &'static str,
    pub payment: &'static str,
    pub gives_up: String,
    pub status: &'static str,
    pub status_words: &'static str,
}

#[derive(Debug, Clone)]
pub struct SwapOption {
    pub date: String,
    pub when: String,
}

#[derive(Template)]
#[template(path = "agenda.html")]
pub struct AgendaPage {
    pub l: Layout,
    pub kids: Vec<ChildTab>,
    pub child_id: String,
    pub child: String,
    pub month: String,
    pub prev: String,
    pub next: String,
    pub contract: String,
    pub days: Vec<DayRow>,
    pub balance: u32,
    pub available: u32,
    pub pending: u32,
    pub rules: Vec<String>,
    pub requests: Vec<RequestRow>,
    pub swap_days: Vec<SwapOption>,
    pub tomorrow: String,
    /// The day filled in on the request form.
    pub prefill: String,
    /// A BSO child: the vacation section is shown.
    pub bso: bool,
    pub vacation: VacationSection,
}

/// A year of vacation hours as the parent reads it.
#[derive(Debug, Clone)]
pub struct VacationYearRow {
    pub year: i32,
    pub hours: u32,
    pub taken: u32,
    pub promised: u32,
    pub left: u32,
}

/// A vacation request as the parent reads it.
#[derive(Debug, Clone)]
pub struct VacationRow {
    pub id: String,
    pub when: String,
    pub part: &'static str,
    pub hours: String,
    pub status: &'static str,
    pub words: String,
}

/// The vacation part of `/agenda` (a BSO child only).
#[derive(Debug, Clone, Default)]
pub struct VacationSection {
    pub years: Vec<VacationYearRow>,
    pub rows: Vec<VacationRow>,
    pub rules: Vec<String>,
    /// "ochtend (5 uur)" etc.
    pub morning: String,
    pub afternoon: String,
    pub whole_day: String,
    /// From this date on a request is guaranteed (`YYYY-MM-DD`, and in words).
    pub guaranteed_from: String,
    pub guaranteed_from_words: String,
}

/// The status of a vacation request in the parent's words.
pub fn vacation_status_words(v: &VacationRequestView) -> String {
    match v.status {
        RequestStatus::Approved if v.guaranteed => tr().s("gegarandeerd").into(),
        RequestStatus::Approved => tr().s("goedgekeurd").into(),
        RequestStatus::Requested => tr().s("wacht op de locatie (uren gereserveerd)").into(),
        RequestStatus::Refused => tr().s("afgewezen (geen uren gebruikt)").into(),
    }
}

fn vacation_section(
    v: &ChildVacation,
    rules: &crate::portal::agenda::AgendaRules,
    t: NaiveDate,
) -> VacationSection {
    let h = rules.vacation_hours;
    let from = t
        .checked_add_months(Months::new(1))
        .unwrap_or(t + Duration::days(31));
    VacationSection {
        years: v
            .years
            .iter()
            .map(|y| VacationYearRow {
                year: y.year,
                hours: y.hours,
                taken: y.taken,
                promised: y.promised,
                left: y.left(),
            })
            .collect(),
        rows: v
            .requests
            .iter()
            .take(30)
            .map(|r| VacationRow {
                id: r.id.clone(),
                when: view::day(r.day),
                part: part_words(r.part_of_day),
                hours: hours_words(r.hours.into()),
                status: r.status.as_str(),
                words: vacation_status_words(r),
            })
            .collect(),
        rules: rules.vacation_words(),
        morning: hours_words(h.morning.into()),
        afternoon: hours_words(h.afternoon.into()),
        whole_day: hours_words(h.whole_day.into()),
        guaranteed_from: from.to_string(),
        guaranteed_from_words: view::day(from),
    }
}

const MONTH_NAMES: [&str; 12] = [
    mark("januari"),
    mark("februari"),
    mark("maart"),
    mark("april"),
    mark("mei"),
    mark("juni"),
    mark("juli"),
    mark("augustus"),
    mark("september"),
    mark("oktober"),
    mark("november"),
    mark("december"),
];

fn notice(code: &str) -> &'static str {
    match code {
        "aangevraagd" => {
            tr().s("Uw aanvraag is verstuurd. De locatie keurt hem goed of af; u ziet het hier.")
        }
        "afgemeld-tegoed" => tr().s("De dag is afgemeld. U heeft 1 dag tegoed gekregen."),
        "vakantie-gegarandeerd" => {
            tr().s("Uw vakantieopvang is gegarandeerd: hij is meteen goedgekeurd en de uren zijn afgeschreven.")
        }
        "vakantie-aangevraagd" => {
            tr().s("Uw vakantieopvang is aangevraagd. De uren zijn voor u gereserveerd; de locatie keurt hem goed of af.")
        }
        "afgemeld" => {
            tr().s("De dag is afgemeld. U meldde te laat af voor tegoed (zie de regels hieronder).")
        }
        _ => "",
    }
}

fn month_of(q: &str, today: NaiveDate) -> NaiveDate {
    NaiveDate::parse_from_str(&format!("{}-01", q.trim()), "%Y-%m-%d")
        .unwrap_or_else(|_| today.with_day(1).unwrap_or(today))
}

pub async fn agenda(
    State(state): State<AppState>,
    u: ParentUser,
    Query(q): Query<AgendaQuery>,
) -> Result<Response, WebError> {
    let t = today(&u);
    let kids: Vec<_> = state
        .store
        .parent_children(u.parent, t)
        .await?
        .into_iter()
        .filter(|k| !k.placements.is_empty())
        .collect();
    let chosen = match parse_child(&q.kind) {
        Some(id) => kids.iter().find(|k| k.id == id).ok_or(WebError::NotFound)?,
        None => match kids.first() {
            Some(k) => k,
            None => {
                let mut l = layout(&u, tr().s("Agenda"), "agenda");
                l.error = tr()
                    .s("Uw kind heeft geen plaatsing: er is niets te plannen.")
                    .into();
                return render(&AgendaPage {
                    l,
                    kids: vec![],
                    child_id: String::new(),
                    child: String::new(),
                    month: String::new(),
                    prev: String::new(),
                    next: String::new(),
                    contract: String::new(),
                    days: vec![],
                    balance: 0,
                    available: 0,
                    pending: 0,
                    rules: vec![],
                    requests: vec![],
                    swap_days: vec![],
                    tomorrow: String::new(),
                    prefill: String::new(),
                    bso: false,
                    vacation: VacationSection::default(),
                });
            }
        },
    };
    let first = month_of(&q.maand, t);
    let last = first
        .checked_add_months(Months::new(1))
        .map_or(first, |n| n - Duration::days(1));
    let a: ChildAgenda = state
        .store
        .agenda_for_parent(
            u.parent,
            chosen.id,
            (first.min(t), last.max(t + Duration::days(62))),
            t,
            Utc::now(),
        )
        .await?
        .ok_or(WebError::NotFound)?;
    let absences = state.store.absences_of(chosen.id).await?;
    let vacation = state
        .store
        .vacation_for_parent(u.parent, chosen.id, t)
        .await?
        .ok_or(WebError::NotFound)?;
    let placements = &chosen.placements;
    let contract_on = |d: NaiveDate| {
        placements
            .iter()
            .find(|p| p.covers(d) && crate::org::parse_days(&p.days).contains(&weekday_of(d)))
    };
    let closed_dates: Vec<NaiveDate> = a.closed.iter().map(|(d, _)| *d).collect();
    let mut days = Vec::new();
    for d in first.iter_days().take_while(|d| *d <= last) {
        let when = view::day(d);
        let closed = a.closed.iter().find(|(c, _)| *c == d);
        let cancelled = a.cancelled.iter().find(|c| c.day == d);
        let request = a
            .requests
            .iter()
            .find(|r| r.day == d && r.status != RequestStatus::Refused)
            .or_else(|| a.requests.iter().find(|r| r.day == d));
        let absence = absences
            .iter()
            .find(|x| !x.cancelled && x.from <= d && x.to >= d);
        let contract = contract_on(d);
        let holiday = vacation
            .requests
            .iter()
            .find(|v| v.day == d && v.status != RequestStatus::Refused);
        let row = |state: &'static str, words: String| DayRow {
            date: d.to_string(),
            month: d.format("%Y-%m").to_string(),
            when: when.clone(),
            state,
            words,
            cancellable: false,
            cancel_words: String::new(),
            askable: false,
        };
        let row = if let Some((_, name)) = closed {
            Some(row("closed", tr().f("Locatie dicht: {0}", name)))
        } else if let Some(x) = absence.filter(|_| contract.is_some() || request.is_some()) {
            Some(row(
                "absent",
                tr().f2(
                    "Afwezig gemeld: {0}, {1}",
                    view::reason_words(&x.reason),
                    view::part_of_day_words(&x.part_of_day),
                ),
            ))
        } else if let Some(v) = holiday {
            Some(row(
                if v.status == RequestStatus::Approved {
                    "extra"
                } else {
                    "requested"
                },
                tr().f3(
                    "Vakantieopvang ({0}, {1}): {2}",
                    part_words(v.part_of_day),
                    hours_words(v.hours.into()),
                    vacation_status_words(v),
                ),
            ))
        } else if let Some(r) = request.filter(|r| r.status != RequestStatus::Refused) {
            Some(row(
                if r.status == RequestStatus::Approved {
                    "extra"
                } else {
                    "requested"
                },
                tr().f3(
                    "Extra dag ({0}, {1}): {2}",
                    part_words(r.part_of_day),
                    r.payment.words(),
                    r.status.words(),
                ),
            ))
        } else if let Some(c) = cancelled {
            let mut r = row(
                "cancelled",
                match c.kind {
                    CancelKind::InTime => tr().s("Afgemeld, 1 dag tegoed gekregen").into(),
                    CancelKind::Late => tr().s("Afgemeld (te laat voor tegoed)").into(),
                    CancelKind::Swap => tr().s("Geruild voor een andere dag").into(),
                },
            );
            r.askable = d > t && c.kind != CancelKind::Swap;
            Some(r)
        } else if let Some(p) = contract {
            let mut r = row("contract", tr().f("Opvang in {0}", &p.group_name));
            if d >= t {
                r.cancellable = true;
                r.cancel_words = if a.rules.in_time(t, d, &closed_dates) {
                    tr().s("Afmelden (u krijgt 1 dag tegoed)").into()
                } else {
                    tr().s("Afmelden (te laat voor tegoed)").into()
                };
            }
            Some(r)
        } else {
            request.map(|r| {
                row(
                    "refused",
                    tr().f("Extra dag afgewezen ({0})", r.payment.words()),
                )
            })
        };
        days.extend(row);
    }
    let swap_days = t
        .iter_days()
        .skip(1)
        .take(62)
        .filter(|d| contract_on(*d).is_some())
        .filter(|d| !a.cancelled.iter().any(|c| c.day == *d))
        .filter(|d| !a.closed.iter().any(|(c, _)| c == d))
        .map(|d| SwapOption {
            date: d.to_string(),
            when: view::day(d),
        })
        .collect();
    let requests = a
        .requests
        .iter()
        .take(30)
        .map(|r| RequestRow {
            id: r.id.clone(),
            when: view::day(r.day),
            part: part_words(r.part_of_day),
            payment: r.payment.words(),
            gives_up: r.gives_up.map(view::day).unwrap_or_default(),
            status: r.status.as_str(),
            status_words: r.status.words(),
        })
        .collect();
    let contract = placements
        .iter()
        .map(|p| {
            tr().f2(
                "{0} in {1}",
                crate::portal::agenda::weekdays_words(&crate::org::parse_days(&p.days)),
                &p.group_name,
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut l = layout(&u, tr().s("Agenda"), "agenda");
    l.notice = notice(&q.ok).into();
    let month_param =
        |m: Option<NaiveDate>| m.map(|m| m.format("%Y-%m").to_string()).unwrap_or_default();
    render(&AgendaPage {
        l,
        kids: kids
            .iter()
            .map(|k| ChildTab {
                id: k.id.to_string(),
                name: kid_name(k),
                selected: k.id == chosen.id,
            })
            .collect(),
        child_id: chosen.id.to_string(),
        child: kid_name(chosen),
        month: format!(
            "{} {}",
            tr().s(MONTH_NAMES[first.month0() as usize]),
            first.year()
        ),
        prev: month_param(first.checked_sub_months(Months::new(1))),
        next: month_param(first.checked_add_months(Months::new(1))),
        contract,
        days,
        balance: a.balance,
        available: a.available(),
        pending: a.pending_credit,
        rules: a.rules.words(),
        requests,
        swap_days,
        tomorrow: (t + Duration::days(1)).to_string(),
        prefill: form_day(&q.dag).map(|d| d.to_string()).unwrap_or_default(),
        bso: vacation.bso,
        vacation: vacation_section(&vacation, &a.rules, t),
    })
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct RequestForm {
    pub csrf: String,
    pub child_id: String,
    pub day: String,
    pub part_of_day: String,
    pub payment: String,
    pub gives_up: String,
}

/// Checks a request form; the problem in words.
pub fn parse_request(
    f: &RequestForm,
) -> Result<(NaiveDate, PartOfDay, Payment, Option<NaiveDate>), String> {
    let day =
        form_day(&f.day).ok_or_else(|| tr().s("Kies de dag die u wilt aanvragen.").to_string())?;
    let part = match f.part_of_day.as_str() {
        "whole_day" | "" => PartOfDay::WholeDay,
        "morning" => PartOfDay::Morning,
        "afternoon" => PartOfDay::Afternoon,
        _ => return Err(tr().s("Kies hele dag, ochtend of middag.").into()),
    };
    let payment = Payment::parse(f.payment.as_str()).ok_or_else(|| {
        tr().s("Kies hoe u de dag wilt betalen: betaald, van tegoed of ruilen.")
            .to_string()
    })?;
    let gives_up = match payment {
        Payment::Swap => Some(
            form_day(&f.gives_up)
                .ok_or_else(|| tr().s("Kies welke opvangdag u wilt ruilen.").to_string())?,
        ),
        _ => None,
    };
    Ok((day, part, payment, gives_up))
}

fn back(child: &impl std::fmt::Display, day: NaiveDate, ok: &str) -> Response {
    Redirect::to(&format!(
        "/agenda?kind={child}&maand={}&ok={ok}",
        day.format("%Y-%m")
    ))
    .into_response()
}

fn refused(u: &ParentUser, title: &str, r: AgendaRefusal) -> Result<Response, WebError> {
    invalid(u, title, &tr().f("{0} Ga terug naar de agenda.", r))
}

pub async fn request(
    State(state): State<AppState>,
    u: ParentUser,
    Form(f): Form<RequestForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let child = parse_child(&f.child_id).ok_or(WebError::NotFound)?;
    state
        .store
        .my_child(u.parent, child, today(&u))
        .await?
        .ok_or(WebError::NotFound)?;
    let (day, part, payment, gives_up) = match parse_request(&f) {
        Ok(v) => v,
        Err(problem) => return invalid(&u, tr().s("Extra dag aanvragen"), &problem),
    };
    let outcome = state
        .store
        .request_day(
            u.parent,
            NewDayRequest {
                child,
                day,
                part_of_day: part,
                payment,
                gives_up,
                requested_by: u.account.name.clone(),
            },
            today(&u),
            Utc::now(),
        )
        .await?
        .ok_or(WebError::NotFound)?;
    match outcome {
        Ok(id) => {
            tracing::info!(request = %id, parent = %u.parent, payment = payment.as_str(), "extra day requested");
            Ok(back(&child, day, "aangevraagd"))
        }
        Err(r) => refused(&u, tr().s("Extra dag aanvragen"), r),
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct CancelForm {
    pub csrf: String,
    pub child_id: String,
    pub day: String,
}

pub async fn cancel(
    State(state): State<AppState>,
    u: ParentUser,
    Form(f): Form<CancelForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let child = parse_child(&f.child_id).ok_or(WebError::NotFound)?;
    let Some(day) = form_day(&f.day) else {
        return invalid(
            &u,
            tr().s("Dag afmelden"),
            tr().s("Kies de dag die u wilt afmelden."),
        );
    };
    let outcome = state
        .store
        .cancel_day_for_parent(
            u.parent,
            child,
            day,
            u.account.name.clone(),
            today(&u),
            Utc::now(),
        )
        .await?
        .ok_or(WebError::NotFound)?;
    match outcome {
        Ok((kind, changed)) => {
            state.nudge_changed(&changed);
            tracing::info!(child = %child, parent = %u.parent, kind = kind.as_str(), "day cancelled");
            Ok(back(
                &child,
                day,
                if kind == CancelKind::InTime {
                    "afgemeld-tegoed"
                } else {
                    "afgemeld"
                },
            ))
        }
        Err(r) => refused(&u, tr().s("Dag afmelden"), r),
    }
}

// ---- the location manager

#[derive(Debug, Clone)]
pub struct ManagerRequestRow {
    pub id: String,
    pub child: String,
    pub group: String,
    pub when: String,
    pub part: &'static str,
    pub payment: String,
    pub gives_up: String,
    pub requested_by: String,
    pub status: &'static str,
    pub status_words: &'static str,
    pub decided: String,
    pub fits: bool,
    pub fit: String,
    /// Where the staff count comes from (the roster, or linked staff).
    pub staff_words: String,
}

#[derive(Template)]
#[template(path = "admin_requests.html")]
pub struct RequestsPage {
    pub l: Layout,
    pub waiting: Vec<ManagerRequestRow>,
    pub decided: Vec<ManagerRequestRow>,
}

pub async fn requests(
    State(state): State<AppState>,
    u: ManagerUser,
    Query(q): Query<admin::Notice>,
) -> Result<Response, WebError> {
    let t = manager_today(&u);
    let all = state.store.day_requests(u.ctx.tenant.id, t).await?;
    let calendar = u.ctx.tenant.calendar;
    let mut waiting = Vec::new();
    let mut decided = Vec::new();
    for r in all {
        let row = manager_row(&state, &r, &calendar).await?;
        if r.status == RequestStatus::Requested {
            waiting.push(row);
        } else {
            decided.push(row);
        }
    }
    for r in state.store.vacation_requests(u.ctx.tenant.id, t).await? {
        let row = vacation_manager_row(&state, &r, &calendar).await?;
        if r.status == RequestStatus::Requested {
            waiting.push(row);
        } else {
            decided.push(row);
        }
    }
    let mut l = admin::layout(&u, tr().s("Aanvragen"), "aanvragen");
    l.notice = match q.ok.as_str() {
        "goedgekeurd" => {
            tr().s("De aanvraag is goedgekeurd. Het scherm in de groep verwacht het kind die dag.")
        }
        "afgewezen" => tr().s("De aanvraag is afgewezen."),
        _ => "",
    }
    .into();
    render(&RequestsPage {
        l,
        waiting,
        decided,
    })
}

async fn manager_row(
    state: &AppState,
    r: &DayRequestView,
    calendar: &kring_protocol::Calendar,
) -> Result<ManagerRequestRow, WebError> {
    let (fits, fit_words, staff_words) = if r.status == RequestStatus::Requested {
        let planned: PlannedDay = state.store.planned_day(r.group, r.day).await?;
        let f = fit(&planned, r.child, r.birth_date, r.day);
        (f.fits, f.words, planned.staff_words())
    } else {
        (true, String::new(), "")
    };
    Ok(ManagerRequestRow {
        id: r.id.clone(),
        child: r.child_name.clone(),
        group: r.group_name.clone(),
        when: view::day(r.day),
        part: part_words(r.part_of_day),
        payment: r.payment.words().into(),
        gives_up: r.gives_up.map(view::day).unwrap_or_default(),
        requested_by: r.requested_by.clone(),
        status: r.status.as_str(),
        status_words: r.status.words(),
        decided: match (&r.decided_by, r.decided_at) {
            (Some(by), Some(at)) => tr().f2("door {0}, {1}", by, view::when(calendar, at)),
            _ => String::new(),
        },
        fits,
        fit: fit_words,
        staff_words: staff_words.into(),
    })
}

async fn vacation_manager_row(
    state: &AppState,
    r: &VacationRequestView,
    calendar: &kring_protocol::Calendar,
) -> Result<ManagerRequestRow, WebError> {
    let (fits, fit_words, staff_words) = if r.status == RequestStatus::Requested {
        let planned = state.store.planned_day(r.group, r.day).await?;
        let f = fit(&planned, r.child, r.birth_date, r.day);
        (f.fits, f.words, planned.staff_words())
    } else {
        (true, String::new(), "")
    };
    Ok(ManagerRequestRow {
        id: r.id.clone(),
        child: r.child_name.clone(),
        group: r.group_name.clone(),
        when: view::day(r.day),
        part: part_words(r.part_of_day),
        payment: tr().f("vakantieopvang, {0}", hours_words(r.hours.into())),
        gives_up: String::new(),
        requested_by: r.requested_by.clone(),
        status: r.status.as_str(),
        status_words: if r.guaranteed {
            tr().s("gegarandeerd")
        } else {
            r.status.words()
        },
        decided: match (&r.decided_by, r.decided_at) {
            (Some(by), Some(at)) if !r.guaranteed => {
                tr().f2("door {0}, {1}", by, view::when(calendar, at))
            }
            (_, Some(at)) => tr().f(
                "een maand vooruit aangevraagd, {0}",
                view::when(calendar, at),
            ),
            _ => String::new(),
        },
        fits,
        fit: fit_words,
        staff_words: staff_words.into(),
    })
}

pub async fn approve(
    state: State<AppState>,
    u: ManagerUser,
    id: Path<String>,
    f: Form<super::auth::CsrfOnly>,
) -> Result<Response, WebError> {
    decide(state, u, id, f, true).await
}

pub async fn refuse(
    state: State<AppState>,
    u: ManagerUser,
    id: Path<String>,
    f: Form<super::auth::CsrfOnly>,
) -> Result<Response, WebError> {
    decide(state, u, id, f, false).await
}

async fn decide(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(f): Form<super::auth::CsrfOnly>,
    approve: bool,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(WebError::NotFound);
    }
    let org = u.ctx.tenant.id;
    let (t, now) = (manager_today(&u), Utc::now());
    // An extra-day request, or else a vacation request; both answer 404
    // when not the organisation's.
    let (outcome, decision) = match state.store.day_request(org, id.clone()).await? {
        Some(r) => {
            let out = state
                .store
                .decide_day_request(org, id.clone(), approve, u.account.name.clone(), t, now)
                .await?
                .ok_or(WebError::NotFound)?
                .map_err(manager_words);
            let what = crate::portal::notify::DecisionWhat::ExtraDay {
                part: r.part_of_day,
                payment: r.payment,
            };
            (out, (r.child, r.child_name, r.day, what))
        }
        None => {
            let r = state
                .store
                .vacation_request(org, id.clone())
                .await?
                .ok_or(WebError::NotFound)?;
            let out = state
                .store
                .decide_vacation_request(org, id.clone(), approve, u.account.name.clone(), t, now)
                .await?
                .ok_or(WebError::NotFound)?
                .map_err(|e| e.to_string());
            let what = crate::portal::notify::DecisionWhat::Vacation {
                part: r.part_of_day,
                hours: r.hours,
            };
            (out, (r.child, r.child_name, r.day, what))
        }
    };
    match outcome {
        Ok(changed) => {
            state.nudge_changed(&changed);
            tracing::info!(request = %id, manager = %u.staff, approve, "request decided");
            let (child, first_name, day, what) = decision;
            crate::portal::notify::spawn_decision(
                &state,
                child,
                crate::portal::notify::Decision {
                    child: first_name,
                    day,
                    what,
                    approved: approve,
                },
            );
            Ok(Redirect::to(if approve {
                "/beheer/aanvragen?ok=goedgekeurd"
            } else {
                "/beheer/aanvragen?ok=afgewezen"
            })
            .into_response())
        }
        Err(words) => {
            let mut resp = axum::response::Html(view::error_page(
                tr().s("Aanvraag"),
                &tr().f("{0} Ga terug naar de aanvragen.", words),
            ))
            .into_response();
            *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct VacationForm {
    pub csrf: String,
    pub child_id: String,
    pub day: String,
    pub part_of_day: String,
}

/// A parent asks for vacation care (BSO): guaranteed a month ahead.
pub async fn vacation_request(
    State(state): State<AppState>,
    u: ParentUser,
    Form(f): Form<VacationForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let child = parse_child(&f.child_id).ok_or(WebError::NotFound)?;
    let t = today(&u);
    state
        .store
        .my_child(u.parent, child, t)
        .await?
        .ok_or(WebError::NotFound)?;
    let Some(day) = form_day(&f.day) else {
        return invalid(
            &u,
            tr().s("Vakantieopvang aanvragen"),
            tr().s("Kies de dag die u wilt aanvragen."),
        );
    };
    let part = match f.part_of_day.as_str() {
        "whole_day" => PartOfDay::WholeDay,
        "morning" => PartOfDay::Morning,
        "afternoon" => PartOfDay::Afternoon,
        _ => {
            return invalid(
                &u,
                tr().s("Vakantieopvang aanvragen"),
                tr().s("Kies ochtend, middag of hele dag."),
            );
        }
    };
    let outcome = state
        .store
        .request_vacation(
            u.parent,
            NewVacationRequest {
                child,
                day,
                part_of_day: part,
                requested_by: u.account.name.clone(),
            },
            t,
            Utc::now(),
        )
        .await?
        .ok_or(WebError::NotFound)?;
    match outcome {
        Ok((id, guaranteed, changed)) => {
            state.nudge_changed(&changed);
            tracing::info!(request = %id, parent = %u.parent, guaranteed, "vacation care requested");
            debug_assert_eq!(guaranteed, vacation_guaranteed(t, day));
            Ok(back(
                &child,
                day,
                if guaranteed {
                    "vakantie-gegarandeerd"
                } else {
                    "vakantie-aangevraagd"
                },
            ))
        }
        Err(r) => invalid(
            &u,
            tr().s("Vakantieopvang aanvragen"),
            &tr().f("{0} Ga terug naar de agenda.", r),
        ),
    }
}

/// A refusal as the manager reads it (the parents' words say "uw kind").
fn manager_words(r: AgendaRefusal) -> String {
    match r {
        AgendaRefusal::NoCredit => tr()
            .s("Het kind heeft geen tegoed meer: goedkeuren kan niet. Wijs de aanvraag af.")
            .into(),
        AgendaRefusal::Past => tr().s("De dag is al voorbij.").into(),
        AgendaRefusal::AlreadyDecided => tr().s("Over deze aanvraag is al beslist.").into(),
        other => other.to_string(),
    }
}

//! The location manager's planning pages (issue 16): the staff roster
//! (`/beheer/rooster`: per group a weekday grid and per-date exceptions),
//! the agenda settings (`/beheer/agenda`: the organisation's rules, closed
//! days, each group's maximum, BSO children's vacation hours). Own
//! organisation only; another organisation's ids answer 404.

use super::admin::{self, today as manager_today};
use super::view::{self, Layout};
use super::{ManagerUser, WebError, form_day, form_id, render};
use crate::AppState;
use crate::portal::agenda::{AgendaRules, VacationHours, weekdays_words};
use crate::portal::i18n::{mark, tr};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, Duration};
use kring_protocol::{ChildId, GroupId, LocationId, StaffId, StaffRole, Weekday};
use serde::Deserialize;

/// The weekdays of the roster grid and the rules form, with their short
/// and long Dutch names.
const DAYS: [(Weekday, &str, &str, &str); 7] = [
    (Weekday::Mon, "mon", mark("ma"), mark("maandag")),
    (Weekday::Tue, "tue", mark("di"), mark("dinsdag")),
    (Weekday::Wed, "wed", mark("wo"), mark("woensdag")),
    (Weekday::Thu, "thu", mark("do"), mark("donderdag")),
    (Weekday::Fri, "fri", mark("vr"), mark("vrijdag")),
    (Weekday::Sat, "sat", mark("za"), mark("zaterdag")),
    (Weekday::Sun, "sun", mark("zo"), mark("zondag")),
];

fn weekday_code(s: &str) -> Option<Weekday> {
    DAYS.iter().find(|d| d.1 == s).map(|d| d.0)
}

/// The page again with an error line, as 422.
fn with_error(resp: Result<Response, WebError>) -> Result<Response, WebError> {
    let mut resp = resp?;
    *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(resp)
}

// ---- the roster

#[derive(Debug, Clone)]
pub struct DayBox {
    pub code: &'static str,
    pub long: &'static str,
    pub checked: bool,
}

#[derive(Debug, Clone)]
pub struct RosterRow {
    pub id: String,
    pub name: String,
    pub days: Vec<DayBox>,
}

#[derive(Debug, Clone)]
pub struct ExceptionRow {
    pub id: String,
    pub when: String,
    pub date: String,
    pub staff: String,
    pub off: bool,
}

#[derive(Debug, Clone)]
pub struct RosterGroup {
    pub id: String,
    pub name: String,
    pub has_roster: bool,
    pub rows: Vec<RosterRow>,
    pub exceptions: Vec<ExceptionRow>,
}

#[derive(Debug, Clone)]
pub struct StaffOption {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "admin_roster.html")]
pub struct RosterPage {
    pub l: Layout,
    pub groups: Vec<RosterGroup>,
    pub staff: Vec<StaffOption>,
    pub headers: Vec<(&'static str, &'static str)>,
    pub today: String,
}

async fn roster_page(
    state: &AppState,
    u: &ManagerUser,
    notice: &str,
    error: &str,
) -> Result<Response, WebError> {
    let org = u.ctx.tenant.id;
    let t = manager_today(u);
    let rosters = state.store.org_rosters(org, t - Duration::days(7)).await?;
    let groups = rosters
        .into_iter()
        .map(|g| RosterGroup {
            id: g.group.to_string(),
            name: g.name.clone(),
            has_roster: g.has_roster(),
            rows: g
                .staff
                .iter()
                .map(|s| RosterRow {
                    id: s.id.to_string(),
                    name: s.name.clone(),
                    days: DAYS[..5]
                        .iter()
                        .map(|(d, code, _, long)| DayBox {
                            code,
                            long,
                            checked: s.days.contains(d),
                        })
                        .collect(),
                })
                .collect(),
            exceptions: g
                .exceptions
                .iter()
                .map(|x| ExceptionRow {
                    id: x.id.clone(),
                    when: view::day(x.day),
                    date: x.day.to_string(),
                    staff: x.staff_name.clone(),
                    off: x.off,
                })
                .collect(),
        })
        .collect();
    let staff = state
        .store
        .staff_overviews(org)
        .await?
        .into_iter()
        .filter(|s| s.role == StaffRole::Pedagogical)
        .map(|s| StaffOption {
            id: s.id.to_string(),
            name: s.name,
        })
        .collect();
    let mut l = admin::layout(u, tr().s("Rooster"), "rooster");
    l.notice = notice.into();
    l.error = error.into();
    render(&RosterPage {
        l,
        groups,
        staff,
        headers: DAYS[..5].iter().map(|d| (d.2, d.3)).collect(),
        today: t.to_string(),
    })
}

pub async fn roster(
    State(state): State<AppState>,
    u: ManagerUser,
    Query(q): Query<admin::Notice>,
) -> Result<Response, WebError> {
    let notice = match q.ok.as_str() {
        "rooster" => tr().s(
            "Het rooster is opgeslagen. De aanvragen tellen voortaan de ingeroosterde leidsters.",
        ),
        "uitzondering" => tr().s("De uitzondering is opgeslagen."),
        "verwijderd" => tr().s("De uitzondering is verwijderd."),
        _ => "",
    };
    roster_page(&state, &u, notice, "").await
}

/// The weekday grid: `csrf`, then one `<staff id>=<weekday>` per ticked box.
pub async fn roster_save(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(group): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    u.ctx.check_csrf(csrf)?;
    let group: GroupId = form_id(&group).ok_or(WebError::NotFound)?;
    let mut week: Vec<(StaffId, Vec<Weekday>)> = Vec::new();
    for (k, v) in &fields {
        let (Some(staff), Some(day)) = (form_id::<StaffId>(k), weekday_code(v)) else {
            continue;
        };
        match week.iter_mut().find(|(s, _)| *s == staff) {
            Some((_, days)) => days.push(day),
            None => week.push((staff, vec![day])),
        }
    }
    state
        .store
        .set_roster_week(u.ctx.tenant.id, group, week)
        .await?
        .ok_or(WebError::NotFound)?;
    tracing::info!(group = %group, manager = %u.staff, "roster saved");
    Ok(Redirect::to("/beheer/rooster?ok=rooster").into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct ExceptionForm {
    pub csrf: String,
    pub staff_id: String,
    pub day: String,
    /// "off" or "extra".
    pub kind: String,
}

pub async fn exception_add(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(group): Path<String>,
    Form(f): Form<ExceptionForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let group: GroupId = form_id(&group).ok_or(WebError::NotFound)?;
    let Some(staff) = form_id::<StaffId>(&f.staff_id) else {
        return with_error(roster_page(&state, &u, "", tr().s("Kies een medewerker.")).await);
    };
    let Some(day) = form_day(&f.day) else {
        return with_error(roster_page(&state, &u, "", tr().s("Kies een datum.")).await);
    };
    if day < manager_today(&u) {
        return with_error(
            roster_page(
                &state,
                &u,
                "",
                tr().s("Die dag is al voorbij: kies vandaag of later."),
            )
            .await,
        );
    }
    let off = match f.kind.as_str() {
        "off" => true,
        "extra" => false,
        _ => {
            return with_error(
                roster_page(
                    &state,
                    &u,
                    "",
                    tr().s("Kies of de medewerker vrij is of extra werkt."),
                )
                .await,
            );
        }
    };
    match state
        .store
        .add_roster_exception(u.ctx.tenant.id, group, staff, day, off)
        .await?
        .ok_or(WebError::NotFound)?
    {
        Ok(()) => {
            tracing::info!(group = %group, manager = %u.staff, off, "roster exception added");
            Ok(Redirect::to("/beheer/rooster?ok=uitzondering").into_response())
        }
        Err(r) => with_error(roster_page(&state, &u, "", &r.to_string()).await),
    }
}

pub async fn exception_remove(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(f): Form<super::auth::CsrfOnly>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(WebError::NotFound);
    }
    state
        .store
        .remove_roster_exception(u.ctx.tenant.id, id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Redirect::to("/beheer/rooster?ok=verwijderd").into_response())
}

// ---- rules, closed days, group maximum, vacation hours

#[derive(Debug, Clone)]
pub struct ClosedRow {
    pub location: String,
    pub location_name: String,
    pub date: String,
    pub when: String,
    pub name: String,
    pub past: bool,
}

#[derive(Debug, Clone)]
pub struct MaxRow {
    pub id: String,
    pub name: String,
    pub value: String,
    pub default: u32,
}

#[derive(Debug, Clone)]
pub struct VacationRow {
    pub id: String,
    pub name: String,
    pub groups: String,
    pub this_year: u32,
    pub this_left: u32,
    pub next_year: u32,
}

#[derive(Debug, Clone)]
pub struct LocationOption {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "admin_agenda.html")]
pub struct AgendaSettingsPage {
    pub l: Layout,
    pub rules: AgendaRules,
    pub rule_words: Vec<String>,
    pub vacation_words: Vec<String>,
    pub days: Vec<DayBox>,
    pub locations: Vec<LocationOption>,
    pub closed: Vec<ClosedRow>,
    pub groups: Vec<MaxRow>,
    pub children: Vec<VacationRow>,
    pub year: i32,
    pub next_year: i32,
    pub today: String,
}

async fn settings_page(
    state: &AppState,
    u: &ManagerUser,
    notice: &str,
    error: &str,
) -> Result<Response, WebError> {
    let org = u.ctx.tenant.id;
    let t = manager_today(u);
    let rules = state.store.agenda_rules(org).await?;
    let closed = state
        .store
        .org_closed_days(org)
        .await?
        .into_iter()
        .map(|c| ClosedRow {
            location: c.location.to_string(),
            location_name: c.location_name,
            date: c.day.to_string(),
            when: view::day(c.day),
            name: c.name,
            past: c.day < t,
        })
        .collect();
    let groups = state
        .store
        .org_rosters(org, t)
        .await?
        .into_iter()
        .map(|g| MaxRow {
            id: g.group.to_string(),
            name: g.name,
            value: g.max_children.map(|m| m.to_string()).unwrap_or_default(),
            default: if g.bso { 22 } else { 16 },
        })
        .collect();
    let children = state
        .store
        .bso_children(org, t)
        .await?
        .into_iter()
        .map(|k| {
            let this = k.years.first();
            VacationRow {
                id: k.child.to_string(),
                name: k.name,
                groups: k.groups,
                this_year: this.map_or(0, |y| y.hours),
                this_left: this.map_or(0, |y| y.left()),
                next_year: k.years.get(1).map_or(0, |y| y.hours),
            }
        })
        .collect();
    let locations = state
        .store
        .org_locations(org)
        .await?
        .into_iter()
        .map(|l| LocationOption {
            id: l.id.to_string(),
            name: l.name,
        })
        .collect();
    let mut l = admin::layout(u, tr().s("Agenda-instellingen"), "agenda-instellingen");
    l.notice = notice.into();
    l.error = error.into();
    render(&AgendaSettingsPage {
        l,
        rule_words: rules.words(),
        vacation_words: rules.vacation_words(),
        days: DAYS
            .iter()
            .map(|(d, code, _, long)| DayBox {
                code,
                long,
                checked: rules.working_days.contains(d),
            })
            .collect(),
        rules,
        locations,
        closed,
        groups,
        children,
        year: t.year(),
        next_year: t.year() + 1,
        today: t.to_string(),
    })
}

pub async fn settings(
    State(state): State<AppState>,
    u: ManagerUser,
    Query(q): Query<admin::Notice>,
) -> Result<Response, WebError> {
    let notice = match q.ok.as_str() {
        "regels" => tr().s("De regels zijn opgeslagen. Ouders zien ze zo in hun agenda."),
        "dicht" => tr().s("De sluitingsdagen zijn opgeslagen."),
        "open" => tr().s("De sluitingsdag is verwijderd."),
        "groep" => tr().s("Het maximum van de groep is opgeslagen."),
        "uren" => tr().s("De vakantie-uren zijn opgeslagen."),
        _ => "",
    };
    settings_page(&state, &u, notice, "").await
}

/// Reads a whole number from a form field, between `min` and `max`.
fn number(s: &str, min: u32, max: u32) -> Option<u32> {
    s.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
}

/// The rules form: every field, checked, or the problem in words.
pub fn parse_rules(fields: &[(String, String)]) -> Result<AgendaRules, String> {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let notice_working_days = number(get("notice_working_days"), 0, 20).ok_or(
        tr().s("Vul bij 'afmelden' een aantal werkdagen in van 0 tot en met 20.")
            .to_string(),
    )?;
    let credit_valid_months = number(get("credit_valid_months"), 1, 24).ok_or(
        tr().s("Vul bij 'tegoed geldig' een aantal maanden in van 1 tot en met 24.")
            .to_string(),
    )?;
    let mut working_days: Vec<Weekday> = fields
        .iter()
        .filter(|(k, _)| k == "working_day")
        .filter_map(|(_, v)| weekday_code(v))
        .collect();
    working_days.dedup();
    if working_days.is_empty() {
        return Err(tr().s("Kies ten minste één werkdag.").into());
    }
    let hours = |k: &str, what: &str| {
        number(get(k), 1, 24).ok_or(tr().f(
            "Vul bij '{0}' een aantal uren in van 1 tot en met 24.",
            what,
        ))
    };
    let vacation_hours = VacationHours {
        morning: hours("vacation_morning", tr().s("ochtend"))?,
        afternoon: hours("vacation_afternoon", tr().s("middag"))?,
        whole_day: hours("vacation_day", tr().s("hele dag"))?,
    };
    Ok(AgendaRules {
        notice_working_days,
        credit_valid_months,
        working_days,
        vacation_hours,
    })
}

pub async fn rules_save(
    State(state): State<AppState>,
    u: ManagerUser,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    u.ctx.check_csrf(csrf)?;
    match parse_rules(&fields) {
        Ok(rules) => {
            tracing::info!(
                manager = %u.staff,
                notice = rules.notice_working_days,
                months = rules.credit_valid_months,
                working_days = %weekdays_words(&rules.working_days),
                "agenda rules saved"
            );
            state.store.set_agenda_rules(u.ctx.tenant.id, rules).await?;
            Ok(Redirect::to("/beheer/agenda?ok=regels").into_response())
        }
        Err(problem) => with_error(settings_page(&state, &u, "", &problem).await),
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct ClosedForm {
    pub csrf: String,
    pub location_id: String,
    pub from: String,
    pub to: String,
    pub name: String,
}

pub async fn closed_add(
    State(state): State<AppState>,
    u: ManagerUser,
    Form(f): Form<ClosedForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let location: LocationId = form_id(&f.location_id).ok_or(WebError::NotFound)?;
    let checked = (|| {
        let from =
            form_day(&f.from).ok_or(tr().s("Kies de eerste dag dat de locatie dicht is."))?;
        let to = if f.to.trim().is_empty() {
            from
        } else {
            form_day(&f.to).ok_or(tr().s("De laatste dag is geen geldige datum."))?
        };
        let name = f.name.trim();
        if to < from {
            return Err(tr().s("De laatste dag ligt voor de eerste dag."));
        }
        if (to - from).num_days() > 62 {
            return Err(tr().s("Kies ten hoogste twee maanden tegelijk."));
        }
        if name.is_empty() || name.chars().count() > 80 {
            return Err(
                tr().s("Vul een reden in (bijvoorbeeld 'Tweede kerstdag'), ten hoogste 80 tekens.")
            );
        }
        Ok((from, to, name.to_string()))
    })();
    let (from, to, name) = match checked {
        Ok(v) => v,
        Err(problem) => return with_error(settings_page(&state, &u, "", problem).await),
    };
    let n = state
        .store
        .add_closed_days(u.ctx.tenant.id, location, (from, to), name)
        .await?
        .ok_or(WebError::NotFound)?;
    tracing::info!(location = %location, manager = %u.staff, days = n, "closed days added");
    Ok(Redirect::to("/beheer/agenda?ok=dicht").into_response())
}

pub async fn closed_remove(
    State(state): State<AppState>,
    u: ManagerUser,
    Path((location, day)): Path<(String, String)>,
    Form(f): Form<super::auth::CsrfOnly>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let location: LocationId = form_id(&location).ok_or(WebError::NotFound)?;
    let day = form_day(&day).ok_or(WebError::NotFound)?;
    if day < manager_today(&u) {
        return with_error(
            settings_page(
                &state,
                &u,
                "",
                tr().s("Een sluitingsdag die voorbij is blijft staan."),
            )
            .await,
        );
    }
    state
        .store
        .remove_closed_day(u.ctx.tenant.id, location, day)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Redirect::to("/beheer/agenda?ok=open").into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct MaxForm {
    pub csrf: String,
    pub max_children: String,
}

pub async fn group_max(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(group): Path<String>,
    Form(f): Form<MaxForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let group: GroupId = form_id(&group).ok_or(WebError::NotFound)?;
    let max = if f.max_children.trim().is_empty() {
        None
    } else {
        match number(&f.max_children, 1, 60) {
            Some(n) => Some(n),
            None => {
                return with_error(
                    settings_page(
                        &state,
                        &u,
                        "",
                        tr().s("Vul bij het maximum een aantal kinderen in van 1 tot en met 60, of laat het leeg."),
                    )
                    .await,
                );
            }
        }
    };
    state
        .store
        .set_max_children(u.ctx.tenant.id, group, max)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Redirect::to("/beheer/agenda?ok=groep").into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct HoursForm {
    pub csrf: String,
    pub child_id: String,
    pub year: String,
    pub hours: String,
}

pub async fn vacation_hours(
    State(state): State<AppState>,
    u: ManagerUser,
    Form(f): Form<HoursForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let child: ChildId = form_id(&f.child_id).ok_or(WebError::NotFound)?;
    let this = manager_today(&u).year();
    let year = match f.year.trim().parse::<i32>() {
        Ok(y) if y == this || y == this + 1 => y,
        _ => {
            return with_error(
                settings_page(&state, &u, "", tr().s("Kies dit jaar of volgend jaar.")).await,
            );
        }
    };
    let Some(hours) = number(&f.hours, 0, 2000) else {
        return with_error(
            settings_page(
                &state,
                &u,
                "",
                tr().s("Vul een aantal vakantie-uren in van 0 tot en met 2000."),
            )
            .await,
        );
    };
    state
        .store
        .set_vacation_allowance(u.ctx.tenant.id, child, year, hours)
        .await?
        .ok_or(WebError::NotFound)?;
    tracing::info!(child = %child, year, hours, manager = %u.staff, "vacation hours set");
    Ok(Redirect::to("/beheer/agenda?ok=uren").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_rules_form_is_checked_in_words() {
        let ok = f(&[
            ("notice_working_days", "3"),
            ("credit_valid_months", "6"),
            ("working_day", "mon"),
            ("working_day", "wed"),
            ("vacation_morning", "4"),
            ("vacation_afternoon", "6"),
            ("vacation_day", "11"),
        ]);
        let r = parse_rules(&ok).expect("valid");
        assert_eq!(r.working_days, vec![Weekday::Mon, Weekday::Wed]);
        assert_eq!(r.vacation_hours.whole_day, 11);
        let mut no_days = ok.clone();
        no_days.retain(|(k, _)| k != "working_day");
        assert_eq!(
            parse_rules(&no_days).expect_err("no working day"),
            "Kies ten minste één werkdag."
        );
        let mut bad = ok.clone();
        bad[1].1 = "0".into();
        assert!(parse_rules(&bad).expect_err("0 months").contains("maanden"));
        let mut bad = ok;
        bad[6].1 = "een".into();
        assert!(
            parse_rules(&bad)
                .expect_err("no number")
                .contains("hele dag")
        );
    }
}

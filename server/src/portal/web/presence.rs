//! The location manager's attendance pages: "Aanwezig vandaag" per location
//! (who is here, gone home, marked absent, staff on the floor or on a break,
//! the ratio now) and a group's day log for the GGD, as a page to print and
//! as CSV. Behind the manager's login, for locations and groups of the
//! manager's own organisation only: anything else answers 404.

use super::admin::{layout, today};
use super::view::{self, AdminPresencePage, AttendanceLogPage};
use super::{ManagerUser, WebError, render};
use crate::AppState;
use crate::portal::attendance::{self, GroupLog};
use crate::portal::i18n::Tr;
use crate::portal::i18n::tr;
use crate::store::{DaySpan, GroupDay};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use kring_protocol::{GroupId, LocationId};

/// An id in a path; anything else is 404.
fn parse_uuid(s: &str) -> Result<uuid::Uuid, WebError> {
    super::form_id(s).ok_or(WebError::NotFound)
}

/// A date in a path (`2026-12-04`); anything else is 404.
fn parse_date(s: &str) -> Result<NaiveDate, WebError> {
    super::form_day(s).ok_or(WebError::NotFound)
}

pub async fn presence(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let location = LocationId(parse_uuid(&id)?);
    let calendar = u.ctx.tenant.calendar;
    let day = today(&u);
    let loc = state
        .store
        .location_day(u.ctx.tenant.id, location, DaySpan::of(&calendar, day))
        .await?
        .ok_or(WebError::NotFound)?;
    let groups = loc
        .groups
        .iter()
        .map(|g| attendance::group_now(g, &calendar))
        .collect();
    render(&AdminPresencePage {
        l: layout(&u, &tr().f("Aanwezig vandaag: {0}", &loc.name), "beheer"),
        date: view::day(day),
        time: calendar.hhmm(Utc::now()),
        today: day.to_string(),
        yesterday: day.pred_opt().unwrap_or(day).to_string(),
        groups,
    })
}

/// The group's day and its log, when the group is the manager's organisation's.
async fn group_log(
    state: &AppState,
    u: &ManagerUser,
    id: &str,
    datum: &str,
) -> Result<(GroupDay, GroupLog), WebError> {
    let group = GroupId(parse_uuid(id)?);
    let day = parse_date(datum)?;
    let calendar = u.ctx.tenant.calendar;
    let g = state
        .store
        .group_day(u.ctx.tenant.id, group, DaySpan::of(&calendar, day))
        .await?
        .ok_or(WebError::NotFound)?;
    let log = attendance::group_log(&g, &calendar, Utc::now());
    Ok((g, log))
}

pub async fn day_log(
    State(state): State<AppState>,
    u: ManagerUser,
    Path((id, datum)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let (g, log) = group_log(&state, &u, &id, &datum).await?;
    let day = g.span.day;
    tracing::info!(group = %g.group, %day, manager = %u.staff, "day log viewed");
    render(&AttendanceLogPage {
        t: Tr::current(),
        org: u.ctx.tenant.name.clone(),
        log,
        group_id: g.group.to_string(),
        location_id: g.location.to_string(),
        day: day.to_string(),
        prev: day.pred_opt().unwrap_or(day).to_string(),
        next: day.succ_opt().unwrap_or(day).to_string(),
        printed_by: u.account.name.clone(),
        printed_at: view::when(&u.ctx.tenant.calendar, Utc::now()),
    })
}

/// `Dolfijnen (0-4)` → `dolfijnen-0-4`: safe in a file name.
fn file_part(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

pub async fn day_log_csv(
    State(state): State<AppState>,
    u: ManagerUser,
    Path((id, datum)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let (g, log) = group_log(&state, &u, &id, &datum).await?;
    let bytes = attendance::log_csv(&log).map_err(|e| WebError::Internal(e.to_string()))?;
    tracing::info!(group = %g.group, day = %g.span.day, manager = %u.staff, "day log downloaded");
    let name = format!("logboek-{}-{}.csv", file_part(&g.name), g.span.day);
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .map_err(|e| WebError::Internal(e.to_string()))?;
    h.insert(header::CONTENT_DISPOSITION, disposition);
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_and_dates_from_paths() {
        assert_eq!(file_part("Dolfijnen (0-4)"), "dolfijnen-0-4");
        assert_eq!(file_part("Zwaluwen/BSO \"x\""), "zwaluwen-bso-x");
        assert!(parse_date("2026-12-04").is_ok());
        assert!(matches!(parse_date("04-12-2026"), Err(WebError::NotFound)));
        assert!(matches!(parse_uuid("niet-een-id"), Err(WebError::NotFound)));
    }
}

//! The location manager's pages: groups, children, parents, staff (PIN reset),
//! consents as recorded, CSV import, devices (enrollment code with QR, revoke,
//! the release each runs and where its update stands; `updates` does the rest).
//! Everything is scoped to the manager's organisation; another organisation's
//! objects answer 404.

use super::view::{self, *};
use super::{ManagerUser, WebError, render};
use crate::AppState;
use crate::device_api::devices;
use crate::org::{GroupKind, ImportParent, ParentRole};
use crate::portal::i18n::tr;
use crate::store::{
    AccessEntry, ChildOverview, FirstPasswordLinks, GroupSummary, ImportOutcome, ImportResult,
    NewLogin,
};
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use kring_protocol::{
    Calendar, ChildId, GroupId, OrganisationId, PhotoConsent, StaffId, StaffRole, Weekday,
};
use serde::Deserialize;

/// The day it is at the manager's organisation.
pub(super) fn today(u: &ManagerUser) -> NaiveDate {
    u.ctx.tenant.calendar.today(Utc::now())
}

pub(super) fn layout(u: &ManagerUser, title: &str, active: &'static str) -> Layout {
    Layout {
        title: title.to_string(),
        org: u.ctx.tenant.name.clone(),
        user: u.account.name.clone(),
        role: "manager",
        active,
        csrf: u.csrf.clone(),
        ..Layout::default()
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct Notice {
    pub ok: String,
}

fn group_row(g: GroupSummary) -> GroupRow {
    GroupRow {
        id: g.id.to_string(),
        name: g.name,
        kind: match g.kind {
            GroupKind::Bso => "BSO".into(),
            GroupKind::Kdv => "KDV".into(),
        },
        ages: tr().f2("{0}-{1} jaar", g.age_from, g.age_to),
        children: g.children,
        staff: g.staff,
        devices: g.devices,
    }
}

pub async fn overview(State(state): State<AppState>, u: ManagerUser) -> Result<Response, WebError> {
    let org = u.ctx.tenant.id;
    let groups = state
        .store
        .group_summaries(org, today(&u))
        .await?
        .into_iter()
        .map(group_row)
        .collect();
    let locations = state
        .store
        .org_locations(org)
        .await?
        .into_iter()
        .map(|l| (l.id.to_string(), l.name))
        .collect();
    render(&AdminOverviewPage {
        l: layout(&u, tr().s("Beheer"), "beheer"),
        groups,
        locations,
    })
}

/// A child as the manager's pages show it.
fn child_row(o: ChildOverview, t: NaiveDate) -> AdminChildRow {
    AdminChildRow {
        age: view::age(o.birth_date, t),
        birth: view::day(o.birth_date),
        placements: o
            .placements
            .iter()
            .map(|p| {
                let end = p
                    .end
                    .map(|e| tr().f(" t/m {0}", view::day(e)))
                    .unwrap_or_default();
                tr().f3(
                    "{0}: {1} (vanaf {2}",
                    &p.group_name,
                    view::days_words(&p.days),
                    view::day(p.start),
                ) + &end
                    + ")"
            })
            .collect(),
        consent: o.consent.as_str(),
        consent_words: view::consent_words(o.consent),
        parents: o
            .parents
            .iter()
            .map(|p| {
                let role = if p.role == ParentRole::First {
                    tr().s("eerste ouder")
                } else {
                    tr().s("tweede ouder")
                };
                format!("{} <{}> ({role})", p.name, p.email)
            })
            .collect(),
        allergies: o.allergies.unwrap_or_default(),
        id: o.id.to_string(),
        name: format!("{} {}", o.first_name, o.last_name),
    }
}

async fn child_rows(
    state: &AppState,
    u: &ManagerUser,
    only: Option<String>,
) -> Result<Vec<AdminChildRow>, WebError> {
    let org = u.ctx.tenant.id;
    let t = today(u);
    Ok(state
        .store
        .child_overviews(org, only)
        .await?
        .into_iter()
        .map(|o| child_row(o, t))
        .collect())
}

async fn history_rows(
    state: &AppState,
    calendar: &Calendar,
    child: &str,
) -> Result<Vec<HistoryRow>, WebError> {
    let child: ChildId = uuid::Uuid::parse_str(child)
        .map(ChildId)
        .map_err(|e| WebError::Internal(format!("child id {child}: {e}")))?;
    Ok(state
        .store
        .consent_history(child)
        .await?
        .into_iter()
        .map(|h| HistoryRow {
            consent: view::consent_words(h.consent),
            by: h.changed_by,
            when: view::when(calendar, h.changed_at),
        })
        .collect())
}

pub async fn children(State(state): State<AppState>, u: ManagerUser) -> Result<Response, WebError> {
    let rows = child_rows(&state, &u, None).await?;
    render(&AdminChildrenPage {
        l: layout(&u, tr().s("Kinderen"), "kinderen"),
        rows,
    })
}

/// The newest entries of the access log shown on a child's page.
const ACCESS_LOG_SHOWN: u32 = 50;

pub async fn child(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let row = child_rows(&state, &u, Some(id))
        .await?
        .into_iter()
        .next()
        .ok_or(WebError::NotFound)?;
    let history = history_rows(&state, &u.ctx.tenant.calendar, &row.id).await?;
    let child: ChildId = uuid::Uuid::parse_str(&row.id)
        .map(ChildId)
        .map_err(|e| WebError::Internal(format!("child id {}: {e}", row.id)))?;
    // every look at a child's details is on record, this one too
    let org = u.ctx.tenant.id;
    state
        .store
        .record_access(AccessEntry {
            org,
            child,
            staff: Some(u.staff),
            staff_name: u.account.name.clone(),
            what: "gegevens bekeken".into(),
            at: chrono::Utc::now(),
        })
        .await?;
    let access = state
        .store
        .access_log(org, child, ACCESS_LOG_SHOWN)
        .await?
        .into_iter()
        .map(|a| AccessRow {
            when: view::when(&u.ctx.tenant.calendar, a.at),
            who: a.staff_name,
            what: a.what,
        })
        .collect();
    render(&AdminChildPage {
        l: layout(&u, &row.name, "kinderen"),
        row,
        history,
        access,
    })
}

pub async fn parents(State(state): State<AppState>, u: ManagerUser) -> Result<Response, WebError> {
    let org = u.ctx.tenant.id;
    let rows = state
        .store
        .parent_overviews(org)
        .await?
        .into_iter()
        .map(|p| AdminParentRow {
            id: p.id.to_string(),
            name: p.name,
            email: p.email,
            children: p.children,
            must_change: p.must_change_password,
        })
        .collect();
    render(&AdminParentsPage {
        l: layout(&u, tr().s("Ouders"), "ouders"),
        rows,
    })
}

pub async fn staff(
    State(state): State<AppState>,
    u: ManagerUser,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let org = u.ctx.tenant.id;
    let rows = state
        .store
        .staff_overviews(org)
        .await?
        .into_iter()
        .map(|s| AdminStaffRow {
            id: s.id.to_string(),
            name: s.name,
            role: match s.role {
                StaffRole::Manager => tr().s("locatiemanager"),
                StaffRole::Pedagogical => tr().s("pedagogisch medewerker"),
            },
            groups: s.groups.unwrap_or_default(),
        })
        .collect();
    let mut l = layout(&u, tr().s("Medewerkers"), "medewerkers");
    if q.ok == "pin" {
        l.notice = tr().s("De nieuwe pincode is opgeslagen. De schermen in de groep krijgen hem binnen enkele seconden.").into();
    }
    render(&AdminStaffPage { l, rows })
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct PinForm {
    pub csrf: String,
    pub pin: String,
}

pub async fn staff_pin(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(f): Form<PinForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let staff: StaffId = uuid::Uuid::parse_str(&id)
        .map(StaffId)
        .map_err(|_| WebError::NotFound)?;
    let org = u.ctx.tenant.id;
    let exists = state.store.staff_in_org(staff, org).await?;
    if !exists {
        return Err(WebError::NotFound);
    }
    let pin = f.pin.trim().to_string();
    if !(4..=8).contains(&pin.len()) || !pin.chars().all(|c| c.is_ascii_digit()) {
        let mut resp = axum::response::Html(view::error_page(
            tr().s("Pincode"),
            tr().s("Een pincode is 4 tot 8 cijfers. Ga terug en probeer het opnieuw."),
        ))
        .into_response();
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    }
    let changed = state.store.reset_pin(staff, pin).await?;
    state.nudge_changed(&changed);
    tracing::info!(staff = %id, manager = %u.staff, "PIN reset");
    Ok(Redirect::to("/beheer/medewerkers?ok=pin").into_response())
}

pub async fn consents(State(state): State<AppState>, u: ManagerUser) -> Result<Response, WebError> {
    let mut rows = Vec::new();
    for r in child_rows(&state, &u, None).await? {
        let h = history_rows(&state, &u.ctx.tenant.calendar, &r.id).await?;
        rows.push((r, h));
    }
    render(&AdminConsentsPage {
        l: layout(&u, tr().s("Toestemmingen"), "toestemmingen"),
        rows,
    })
}

// ---------------------------------------------------------------------------
// CSV import

/// Columns of the import file (first line), in this order.
pub const IMPORT_HEADER: &str = "voornaam,achternaam,geboortedatum,groep,dagen,startdatum,einddatum,toestemming,ouder1_naam,ouder1_email,ouder2_naam,ouder2_email";

pub use crate::org::ImportRow;

/// At most this many children in one import (each new parent costs an
/// Argon2 hash and a mail; a bigger list goes in parts).
pub const IMPORT_MAX_ROWS: usize = 500;

fn parse_days(s: &str) -> Option<Vec<Weekday>> {
    let mut out = Vec::new();
    for d in s
        .split([',', ' ', ';', '/'])
        .filter(|d| !d.trim().is_empty())
    {
        out.push(match d.trim().to_lowercase().as_str() {
            "ma" | "maandag" => Weekday::Mon,
            "di" | "dinsdag" => Weekday::Tue,
            "wo" | "woensdag" => Weekday::Wed,
            "do" | "donderdag" => Weekday::Thu,
            "vr" | "vrijdag" => Weekday::Fri,
            "za" | "zaterdag" => Weekday::Sat,
            "zo" | "zondag" => Weekday::Sun,
            _ => return None,
        });
    }
    (!out.is_empty()).then_some(out)
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d-%m-%Y"))
        .ok()
}

fn valid_email(s: &str) -> bool {
    let s = s.trim();
    s.parse::<lettre::Address>().is_ok()
}

/// Reads and checks the whole file; every problem as "Regel N: ...".
pub fn parse_import(
    text: &str,
    groups: &[(GroupId, String)],
) -> Result<Vec<ImportRow>, Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_lowercase()).collect(),
        Err(e) => {
            return Err(vec![
                tr().f("Regel 1: het bestand is niet te lezen ({0}).", e),
            ]);
        }
    };
    let expected: Vec<&str> = IMPORT_HEADER.split(',').collect();
    if header != expected {
        return Err(vec![tr().f(
            "Regel 1: de kolommen moeten precies zijn: {0}",
            IMPORT_HEADER,
        )]);
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
        if i >= IMPORT_MAX_ROWS {
            errors.push(tr().f2(
                "Regel {0}: meer dan {1} kinderen in één bestand; importeer de rest apart.",
                line,
                IMPORT_MAX_ROWS,
            ));
            break;
        }
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(tr().f2("Regel {0}: niet te lezen ({1}).", line, e));
                continue;
            }
        };
        let get = |n: usize| rec.get(n).unwrap_or("").trim().to_string();
        let mut problems = Vec::new();
        if rec.len() != expected.len() {
            errors.push(tr().f3(
                "Regel {0}: {1} kolommen, verwacht {2}.",
                line,
                rec.len(),
                expected.len(),
            ));
            continue;
        }
        let (first, last) = (get(0), get(1));
        if first.is_empty() || last.is_empty() {
            problems.push(tr().s("voornaam en achternaam zijn verplicht").to_string());
        }
        let birth = parse_day(&get(2));
        if birth.is_none() {
            problems.push(tr().f("geboortedatum '{0}' is geen datum (jjjj-mm-dd)", get(2)));
        }
        // a group name used at two locations is ambiguous: never guess
        let matching: Vec<GroupId> = groups
            .iter()
            .filter(|(_, n)| n.eq_ignore_ascii_case(&get(3)))
            .map(|(g, _)| *g)
            .collect();
        let group = match matching.as_slice() {
            [one] => Some(*one),
            [] => {
                problems.push(tr().f("groep '{0}' bestaat niet", get(3)));
                None
            }
            _ => {
                problems.push(tr().f2(
                    "er zijn {0} groepen met de naam '{1}'; geef de groepen eerst een eigen naam",
                    matching.len(),
                    get(3),
                ));
                None
            }
        };
        let days = parse_days(&get(4));
        if days.is_none() {
            problems.push(tr().f("dagen '{0}' onbekend (gebruik ma di wo do vr)", get(4)));
        }
        let start = parse_day(&get(5));
        if start.is_none() {
            problems.push(tr().f("startdatum '{0}' is geen datum", get(5)));
        }
        let end = if get(6).is_empty() {
            Some(None)
        } else {
            parse_day(&get(6)).map(Some)
        };
        if end.is_none() {
            problems.push(tr().f("einddatum '{0}' is geen datum", get(6)));
        }
        if let (Some(s), Some(Some(e))) = (start, end)
            && e < s
        {
            problems.push(tr().s("einddatum ligt voor de startdatum").to_string());
        }
        let consent = match get(7).to_lowercase().as_str() {
            "" | "geen" | "none" => Some(PhotoConsent::None),
            "eigen_ouders" | "eigen ouders" | "own_parents" => Some(PhotoConsent::OwnParents),
            "groep" | "group" => Some(PhotoConsent::Group),
            _ => None,
        };
        if consent.is_none() {
            problems.push(tr().f(
                "toestemming '{0}' onbekend (geen, eigen_ouders of groep)",
                get(7),
            ));
        }
        let mut parents = Vec::new();
        // the role comes from the column, never from the position in the list
        for (role, n, e) in [(ParentRole::First, 8, 9), (ParentRole::Second, 10, 11)] {
            let (name, email) = (get(n), get(e).to_lowercase());
            if name.is_empty() && email.is_empty() {
                continue;
            }
            if name.is_empty() || !valid_email(&email) {
                problems.push(tr().f2(
                    "ouder '{0}' heeft een naam en een geldig e-mailadres nodig (nu '{1}')",
                    &name,
                    &email,
                ));
            } else {
                parents.push(ImportParent { role, name, email });
            }
        }
        if !parents.iter().any(|p| p.role == ParentRole::First) {
            problems.push(
                tr().s("ouder1 (naam en e-mailadres) is verplicht")
                    .to_string(),
            );
        }
        if let [a, b] = parents.as_slice()
            && a.email == b.email
        {
            problems.push(tr().f(
                "ouder1 en ouder2 hebben hetzelfde e-mailadres ({0})",
                &a.email,
            ));
        }
        match (birth, group, days, start, end, consent) {
            (Some(birth), Some(group), Some(days), Some(start), Some(end), Some(consent))
                if problems.is_empty() =>
            {
                rows.push(ImportRow {
                    line,
                    first,
                    last,
                    birth,
                    group,
                    days,
                    start,
                    end,
                    consent,
                    parents,
                });
            }
            _ => errors.push(tr().f2("Regel {0}: {1}.", line, problems.join("; "))),
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(tr().s("Het bestand bevat geen kinderen.").into());
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// The organisation's groups as (id, name), by name.
async fn org_groups(
    state: &AppState,
    org: OrganisationId,
) -> Result<Vec<(GroupId, String)>, WebError> {
    Ok(state
        .store
        .org_groups(org)
        .await?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect())
}

pub async fn import_page(u: ManagerUser) -> Result<Response, WebError> {
    render(&AdminImportPage {
        l: layout(&u, tr().s("Importeren"), "import"),
        errors: Vec::new(),
        imported: Vec::new(),
        text: String::new(),
        confirm: false,
    })
}

pub async fn import(
    State(state): State<AppState>,
    u: ManagerUser,
    mut multipart: Multipart,
) -> Result<Response, WebError> {
    let mut csrf = String::new();
    let mut text = String::new();
    let mut confirmed_links = false;
    // a CSV larger than the limit is refused whole, never imported in part
    let too_large = |e| WebError::from_multipart(&e, super::FORM_BODY_LIMIT);
    while let Some(field) = multipart.next_field().await.map_err(too_large)? {
        let name = field.name().unwrap_or_default().to_string();
        let value = field.text().await.map_err(too_large)?;
        match name.as_str() {
            "csrf" => csrf = value,
            "confirm_links" => confirmed_links = value == "ja",
            "csv_file" if !value.trim().is_empty() => text = value,
            "csv_text" if text.is_empty() => text = value,
            _ => {}
        }
    }
    u.ctx.check_csrf(&csrf)?;
    let org = u.ctx.tenant.id;
    let t = text.clone();
    let parsed = parse_import(&t, &org_groups(&state, org).await?);
    let outcome = match parsed {
        Err(errors) => Err(errors),
        Ok(rows) => {
            let links = FirstPasswordLinks {
                now: chrono::Utc::now(),
                valid: chrono::Duration::days(state.settings.portal.first_password_days.max(1)),
            };
            state
                .store
                .import_children(org, rows, links, confirmed_links)
                .await
                .map(Ok)?
        }
    };
    let mut l = layout(&u, tr().s("Importeren"), "import");
    let page = match outcome {
        Err(errors) => {
            l.error = tr()
                .s("Er is niets geïmporteerd. Verbeter de regels hieronder en probeer het opnieuw.")
                .into();
            AdminImportPage {
                l,
                errors,
                imported: Vec::new(),
                text,
                confirm: false,
            }
        }
        Ok(ImportResult::NeedsConfirmation(errors)) => {
            l.error = tr().s("Er is niets geïmporteerd. Deze e-mailadressen horen al bij een ouder met een andere naam. Een kind koppelen aan zo'n account geeft die ouder de foto's en het dagboek van het kind. Verbeter het adres, of vink hieronder aan dat het dezelfde ouder is en importeer opnieuw.").into();
            AdminImportPage {
                l,
                errors,
                imported: Vec::new(),
                text,
                confirm: true,
            }
        }
        Ok(ImportResult::Done(ImportOutcome {
            lines: done,
            logins,
            changed,
        })) => {
            state.nudge_changed(&changed);
            let origin = crate::portal::notify::portal_origin(&state.settings, &u.ctx.tenant.slug);
            let days = state.settings.portal.first_password_days.max(1);
            // a new parent has chosen no language yet: the portal's default
            let t = crate::portal::i18n::Tr::new(crate::portal::i18n::Lang::default());
            for NewLogin { name, email, token } in logins {
                let body = t.f3(
                    "Beste {0},\n\nU heeft een account op het ouderportaal van {1}. Kies uw wachtwoord via deze link (eenmalig te gebruiken, {2} dagen geldig):\n\n",
                    &name,
                    &u.ctx.tenant.name,
                    days,
                ) + &format!("{origin}/wachtwoord-herstellen/{token}")
                    + &t.f2(
                        "\n\nDaarna logt u in op {0} met uw e-mailadres ({1}) en dat wachtwoord. Is de link verlopen? Kies dan op die pagina \"Wachtwoord vergeten\".\n",
                        format!("{origin}/inloggen"),
                        &email,
                    );
                state.mailer.send_later(crate::portal::mail::Mail {
                    to: email.clone(),
                    subject: t.f("Welkom bij het ouderportaal van {0}", &u.ctx.tenant.name),
                    body,
                });
            }
            l.notice = tr().n(
                "{0} kind geïmporteerd.",
                "{0} kinderen geïmporteerd.",
                i64::try_from(done.len()).unwrap_or(i64::MAX),
            );
            AdminImportPage {
                l,
                errors: Vec::new(),
                imported: done,
                text: String::new(),
                confirm: false,
            }
        }
    };
    let failed = !page.errors.is_empty();
    let mut resp = render(&page)?;
    if failed {
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

// ---------------------------------------------------------------------------
// Devices

async fn devices_page(
    state: &AppState,
    u: &ManagerUser,
    code: Option<(String, String, String, String, String)>,
    notice: &str,
) -> Result<Response, WebError> {
    let org = u.ctx.tenant.id;
    let groups = org_groups(state, org).await?;
    let list = state.store.list_devices(Some(org)).await?;
    let updates: std::collections::HashMap<_, _> = state
        .store
        .device_updates(org)
        .await?
        .into_iter()
        .map(|up| (up.device, up))
        .collect();
    let calendar = &u.ctx.tenant.calendar;
    let time = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .map(|t| view::when(calendar, t))
            .unwrap_or_else(|| tr().s("nog nooit").into())
    };
    let mut l = layout(u, tr().s("Apparaten"), "apparaten");
    l.notice = notice.to_string();
    render(&AdminDevicesPage {
        l,
        groups: groups
            .into_iter()
            .map(|(g, n)| (g.to_string(), n))
            .collect(),
        devices: list
            .iter()
            .map(|d| {
                let up = updates.get(&d.id);
                DeviceRowView {
                    id: d.id.to_string(),
                    name: d.name.clone(),
                    group: d.group_name.clone(),
                    last_seen: time(&d.last_seen_at),
                    online: d.online && d.revoked_at.is_none(),
                    waiting: d
                        .outbox_pending
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| tr().s("onbekend").into()),
                    version: d.app_version.clone(),
                    revoked: d
                        .revoked_at
                        .as_ref()
                        .map(|_| time(&d.revoked_at))
                        .unwrap_or_default(),
                    release: d.release.clone().unwrap_or_default(),
                    update: up
                        .map(|up| {
                            format!(
                                "{}: {}",
                                up.version,
                                view::update_words(up.state, up.detail.as_deref(), up.size)
                            )
                        })
                        .unwrap_or_default(),
                    update_bad: up.is_some_and(|up| view::update_state_bad(up.state)),
                    update_when: up
                        .and_then(|up| up.updated_at)
                        .map(|t| view::when(calendar, t))
                        .unwrap_or_default(),
                    retry_release: up
                        .filter(|up| view::update_state_bad(up.state))
                        .map(|up| up.release.to_string())
                        .unwrap_or_default(),
                }
            })
            .collect(),
        code,
    })
}

pub async fn devices(
    State(state): State<AppState>,
    u: ManagerUser,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let notice = match q.ok.as_str() {
        "ingetrokken" => {
            tr().s("Het apparaat is ingetrokken. Het krijgt geen toegang meer en wist zichzelf.")
        }
        "opnieuw" => tr().s("Het scherm krijgt de update opnieuw aangeboden."),
        _ => "",
    };
    devices_page(&state, &u, None, notice).await
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    pub csrf: String,
    pub group_id: String,
}

pub async fn enroll_code(
    State(state): State<AppState>,
    u: ManagerUser,
    Form(f): Form<CodeForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let org = u.ctx.tenant.id;
    let wanted = f.group_id.clone();
    let (group, group_name) = org_groups(&state, org)
        .await?
        .into_iter()
        .find(|(g, _)| g.to_string() == wanted)
        .ok_or(WebError::NotFound)?;
    let code = state
        .store
        .create_enrollment_code(
            group,
            Utc::now(),
            chrono::Duration::minutes(devices::CODE_TTL_MINUTES),
        )
        .await?;
    let link = format!(
        "kring://enroll?server={}&code={}",
        state.settings.http.public_url, code.code
    );
    let svg = qrcode::QrCode::new(link.as_bytes())
        .map(|q| {
            q.render::<qrcode::render::svg::Color>()
                .min_dimensions(240, 240)
                .build()
        })
        .map_err(|e| WebError::Internal(e.to_string()))?;
    tracing::info!(group = %code.group, manager = %u.staff, "enrollment code made in the portal");
    let until = view::when(&u.ctx.tenant.calendar, code.expires_at);
    devices_page(
        &state,
        &u,
        Some((code.code, group_name, until, svg, link)),
        "",
    )
    .await
}

pub async fn revoke(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(f): Form<super::auth::CsrfOnly>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let device: kring_protocol::DeviceId = uuid::Uuid::parse_str(&id)
        .map(kring_protocol::DeviceId)
        .map_err(|_| WebError::NotFound)?;
    let org = u.ctx.tenant.id.to_string();
    let owner = state.store.device_organisation(id).await?;
    if owner.as_deref() != Some(org.as_str()) {
        return Err(WebError::NotFound);
    }
    state.revoke_device(device).await?;
    tracing::info!(device = %device, manager = %u.staff, "device revoked in the portal");
    Ok(Redirect::to("/beheer/apparaten?ok=ingetrokken").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_reports_every_bad_line() {
        let g = GroupId::new();
        let groups = vec![(g, "Dolfijnen".to_string())];
        let text = format!(
            "{IMPORT_HEADER}\n\
             Sem,Jansen,2025-01-02,Dolfijnen,ma di,2025-05-01,,groep,Anne Jansen,anne@example.nl,,\n\
             Noor,Bakker,02-13-2025,Vlinders,ma,2025-05-01,,groep,Piet,piet@example.nl,,\n\
             Daan,Vos,2025-01-02,dolfijnen,ma,2025-05-01,,misschien,Els,geen-adres,,\n"
        );
        let errors = parse_import(&text, &groups).expect_err("two bad lines");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("Regel 3:"), "{errors:?}");
        assert!(errors[0].contains("geboortedatum"));
        assert!(errors[0].contains("Vlinders"));
        assert!(errors[1].starts_with("Regel 4:"));
        assert!(errors[1].contains("misschien"));
        assert!(errors[1].contains("geen-adres"));
        let good = format!(
            "{IMPORT_HEADER}\nSem,Jansen,2025-01-02,Dolfijnen,ma di,2025-05-01,,groep,Anne Jansen,Anne@Example.nl,Bas Jansen,bas@example.nl\n"
        );
        let rows = parse_import(&good, &groups).expect("fine");
        assert_eq!(rows[0].days, vec![Weekday::Mon, Weekday::Tue]);
        assert_eq!(rows[0].parents[0].email, "anne@example.nl");
        assert_eq!(rows[0].parents.len(), 2);
        assert!(parse_import("naam\nx\n", &groups).is_err());
    }

    #[test]
    fn import_never_guesses_a_group_or_a_parent_role() {
        let groups = vec![
            (GroupId::new(), "Dolfijnen".to_string()),
            (GroupId::new(), "Dolfijnen".to_string()),
            (GroupId::new(), "Zwaluwen".to_string()),
        ];
        let text = format!(
            "{IMPORT_HEADER}\n\
             Sem,Jansen,2025-01-02,Dolfijnen,ma,2025-05-01,,groep,Anne Jansen,anne@example.nl,,\n\
             Noor,Bakker,2025-01-02,Zwaluwen,ma,2025-05-01,,groep,,,Piet Bakker,piet@example.nl\n\
             Daan,Vos,2025-01-02,Zwaluwen,ma,2025-05-01,,groep,Els Vos,els@example.nl,Els Vos,els@example.nl\n"
        );
        let errors = parse_import(&text, &groups).expect_err("three bad lines");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("2 groepen"), "{errors:?}");
        assert!(errors[1].contains("ouder1"), "{errors:?}");
        assert!(errors[2].contains("hetzelfde e-mailadres"), "{errors:?}");
        // the second column is the second parent, whatever else is filled in
        let good = format!(
            "{IMPORT_HEADER}\nNoor,Bakker,2025-01-02,Zwaluwen,ma,2025-05-01,,groep,Anne Bakker,anne@example.nl,Piet Bakker,piet@example.nl\n"
        );
        let rows = parse_import(&good, &groups).expect("fine");
        assert_eq!(rows[0].parents[0].role, ParentRole::First);
        assert_eq!(rows[0].parents[1].role, ParentRole::Second);
        assert_eq!(rows[0].parents[1].email, "piet@example.nl");
    }

    #[test]
    fn import_has_a_row_limit() {
        let groups = vec![(GroupId::new(), "Dolfijnen".to_string())];
        let mut text = format!("{IMPORT_HEADER}\n");
        for i in 0..=IMPORT_MAX_ROWS {
            text.push_str(&format!(
                "Kind{i},Test,2025-01-02,Dolfijnen,ma,2025-05-01,,groep,Ouder {i},ouder{i}@example.nl,,\n"
            ));
        }
        let errors = parse_import(&text, &groups).expect_err("too many");
        assert!(
            errors.iter().any(|e| e.contains("meer dan 500")),
            "{errors:?}"
        );
    }
}

//! The manager's updates of the group-room screens: upload a signed RAUC
//! bundle (streamed to the data directory while it is hashed), see each
//! release with its screens per state, roll one out to a screen, a group, a
//! location or the whole organisation (at night or at once), and "Opnieuw
//! proberen" for a screen whose update failed or was rolled back.
//!
//! Everything is the manager's own organisation's; another organisation's
//! release, screen, group or location answers 404.

use super::admin::layout;
use super::view::{
    self, AdminUpdatesPage, CountView, ReleaseView, update_state_bad, update_state_label,
};
use super::{ManagerUser, WebError, render};
use crate::AppState;
use crate::portal::i18n::tr;
use crate::releases::{self, Incoming, MAX_BUNDLE_BYTES, StoredBundle};
use crate::store::{NewRelease, NewRollout, RolloutScope, StoreError};
use axum::Form;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kring_protocol::{DeviceId, GroupId, InstallWindow, LocationId, ReleaseId};
use serde::Deserialize;

/// The upload's body limit: the largest bundle plus room for the form around it.
pub const UPLOAD_BODY_LIMIT: usize = MAX_BUNDLE_BYTES as usize + 64 * 1024;

/// Bytes gathered before they go to the file in one blocking write.
const WRITE_CHUNK: usize = 1024 * 1024;

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct UpdatesNotice {
    pub ok: String,
    pub schermen: Option<usize>,
}

/// Why a form was not taken: the page again with the error in red, and
/// this status.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    text: String,
}

impl Refusal {
    fn new(text: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            text: text.into(),
        }
    }
}

impl From<releases::BundleError> for Refusal {
    fn from(e: releases::BundleError) -> Self {
        let status = match e {
            releases::BundleError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            releases::BundleError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Self {
            status,
            text: e.dutch(),
        }
    }
}

async fn page(
    state: &AppState,
    u: &ManagerUser,
    notice: String,
    refusal: Option<Refusal>,
) -> Result<Response, WebError> {
    let org = u.ctx.tenant.id;
    let calendar = &u.ctx.tenant.calendar;
    let releases = state
        .store
        .releases(Some(org))
        .await?
        .into_iter()
        .map(|s| {
            let mut counts = Vec::new();
            if s.offered > 0 {
                counts.push(CountView {
                    label: update_state_label(None),
                    count: s.offered,
                    bad: false,
                });
            }
            counts.extend(s.states.iter().map(|(st, n)| CountView {
                label: update_state_label(Some(*st)),
                count: *n,
                bad: update_state_bad(Some(*st)),
            }));
            ReleaseView {
                id: s.release.id.to_string(),
                version: s.release.version,
                compatible: s.release.compatible,
                size: view::size_words(s.release.size),
                uploaded: view::when(calendar, s.release.uploaded_at),
                sha256: s.release.sha256,
                rollouts: s.rollouts,
                counts,
            }
        })
        .collect();
    let locations = state
        .store
        .org_locations(org)
        .await?
        .into_iter()
        .map(|l| (l.id.to_string(), l.name))
        .collect();
    let groups = state
        .store
        .org_groups(org)
        .await?
        .into_iter()
        .map(|g| (g.id.to_string(), g.name))
        .collect();
    let devices = state
        .store
        .list_devices(Some(org))
        .await?
        .into_iter()
        .filter(|d| d.revoked_at.is_none())
        .map(|d| (d.id.to_string(), format!("{} ({})", d.name, d.group_name)))
        .collect();
    let mut l = layout(u, tr().s("Updates"), "updates");
    l.notice = notice;
    if let Some(r) = &refusal {
        l.error = r.text.clone();
    }
    let mut resp = render(&AdminUpdatesPage {
        l,
        releases,
        locations,
        groups,
        devices,
    })?;
    if let Some(r) = refusal {
        *resp.status_mut() = r.status;
    }
    Ok(resp)
}

pub async fn updates(
    State(state): State<AppState>,
    u: ManagerUser,
    Query(q): Query<UpdatesNotice>,
) -> Result<Response, WebError> {
    let notice = match q.ok.as_str() {
        "toegevoegd" => tr()
            .s("De bundel is toegevoegd. Kies hieronder welke schermen hem krijgen.")
            .into(),
        "bestond" => tr()
            .s("Deze bundel stond er al; er is niets dubbel opgeslagen.")
            .into(),
        "uitgerold" => tr().n(
            "Uitgerold naar {0} scherm. Ze horen het binnen enkele seconden.",
            "Uitgerold naar {0} schermen. Ze horen het binnen enkele seconden.",
            i64::try_from(q.schermen.unwrap_or(0)).unwrap_or(i64::MAX),
        ),
        _ => String::new(),
    };
    page(&state, &u, notice, None).await
}

/// Why an upload was not taken (the details go to the log).
fn multipart_problem(e: &MultipartError) -> Refusal {
    tracing::warn!(error = %e, "bundle upload cut off or refused");
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        releases::BundleError::TooLarge.into()
    } else {
        Refusal::new(tr().s(
            "Het bestand is niet helemaal aangekomen. Er is niets opgeslagen; probeer het opnieuw.",
        ))
    }
}

/// A blocking task that did not finish (a panic): an internal error.
fn lost(e: tokio::task::JoinError) -> Refusal {
    tracing::error!(error = %e, "bundle file task failed");
    releases::BundleError::Io(std::io::Error::other(e.to_string())).into()
}

/// Writes `chunk` on the blocking pool (the file is synchronous IO).
async fn write(mut incoming: Incoming, chunk: Vec<u8>) -> Result<Incoming, Refusal> {
    Ok(
        tokio::task::spawn_blocking(move || incoming.write(&chunk).map(|()| incoming))
            .await
            .map_err(lost)??,
    )
}

/// Streams the file field into the data directory, hashing as it goes.
async fn receive(state: &AppState, mut field: Field<'_>) -> Result<StoredBundle, Refusal> {
    let data_dir = state.data_dir.clone();
    let mut incoming = tokio::task::spawn_blocking(move || Incoming::create(&data_dir))
        .await
        .map_err(lost)?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot start a bundle file");
            Refusal::from(e)
        })?;
    let mut buf = Vec::with_capacity(WRITE_CHUNK);
    loop {
        match field.chunk().await {
            Ok(Some(bytes)) => {
                buf.extend_from_slice(&bytes);
                if buf.len() >= WRITE_CHUNK {
                    let chunk = std::mem::replace(&mut buf, Vec::with_capacity(WRITE_CHUNK));
                    incoming = write(incoming, chunk).await?;
                }
            }
            Ok(None) => break,
            Err(e) => return Err(multipart_problem(&e)),
        }
    }
    incoming = write(incoming, buf).await?;
    tokio::task::spawn_blocking(move || incoming.finish())
        .await
        .map_err(lost)?
        .map_err(|e| {
            tracing::warn!(error = %e, "bundle refused");
            Refusal::from(e)
        })
}

/// `POST /beheer/updates` (multipart: `csrf` first, then `bundle`).
pub async fn upload(
    State(state): State<AppState>,
    u: ManagerUser,
    mut multipart: Multipart,
) -> Result<Response, WebError> {
    let mut csrf_checked = false;
    let mut outcome: Option<Result<StoredBundle, Refusal>> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                outcome = Some(Err(multipart_problem(&e)));
                break;
            }
        };
        let name = field.name().map(str::to_string);
        match name.as_deref() {
            Some("csrf") => {
                let token = field.text().await.unwrap_or_default();
                u.ctx.check_csrf(&token)?;
                csrf_checked = true;
            }
            // The token comes first (it is the form's first field): no byte
            // of a file is written for a request that has not shown it.
            Some("bundle") if !csrf_checked => return Err(WebError::Csrf),
            Some("bundle") if outcome.is_none() => outcome = Some(receive(&state, field).await),
            _ => {}
        }
    }
    if !csrf_checked {
        return Err(WebError::Csrf);
    }
    let stored = match outcome {
        Some(Ok(stored)) => stored,
        Some(Err(refusal)) => return page(&state, &u, String::new(), Some(refusal)).await,
        None => {
            let refusal = Refusal::new(tr().s("Kies eerst een bundel (.raucb) om te uploaden."));
            return page(&state, &u, String::new(), Some(refusal)).await;
        }
    };
    let new = NewRelease {
        id: stored.id,
        org: u.ctx.tenant.id,
        version: stored.manifest.version.clone(),
        compatible: stored.manifest.compatible.clone(),
        sha256: stored.sha256.clone(),
        size: stored.size,
        file_name: stored.file_name.clone(),
        uploaded_at: Utc::now(),
        uploaded_by: Some(u.staff),
    };
    let added = match state.store.create_release(new).await {
        Ok(a) => a,
        Err(e) => {
            releases::remove(&state.data_dir, &stored.file_name);
            return Err(e.into());
        }
    };
    if !added.new {
        releases::remove(&state.data_dir, &stored.file_name);
    }
    tracing::info!(
        release = %added.id,
        new = added.new,
        version = %stored.manifest.version,
        compatible = %stored.manifest.compatible,
        size = stored.size,
        manager = %u.staff,
        "release uploaded in the portal"
    );
    let to = if added.new {
        "/beheer/updates?ok=toegevoegd"
    } else {
        "/beheer/updates?ok=bestond"
    };
    Ok(Redirect::to(to).into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct RolloutForm {
    pub csrf: String,
    /// `organisation`, `location:<id>`, `group:<id>` or `device:<id>`.
    pub scope: String,
    /// `nacht` (outside opening hours: `from`–`until`, by default
    /// 19:00–06:30) or `direct`.
    pub window: String,
    pub from: String,
    pub until: String,
}

/// The scope as the form sends it; an id that does not parse is None too.
pub fn parse_scope(s: &str) -> Option<RolloutScope> {
    if s == "organisation" {
        return Some(RolloutScope::Organisation);
    }
    let (kind, id) = s.split_once(':')?;
    match kind {
        "location" => id.parse::<LocationId>().ok().map(RolloutScope::Location),
        "group" => id.parse::<GroupId>().ok().map(RolloutScope::Group),
        "device" => id.parse::<DeviceId>().ok().map(RolloutScope::Device),
        _ => None,
    }
}

/// `POST /beheer/updates/{id}/uitrollen`.
pub async fn rollout(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(f): Form<RolloutForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let release: ReleaseId = id.parse().map_err(|_| WebError::NotFound)?;
    let window = match f.window.as_str() {
        "" | "nacht" if f.from.trim().is_empty() && f.until.trim().is_empty() => {
            Some(InstallWindow::nightly())
        }
        "" | "nacht" => match InstallWindow::between(&f.from, &f.until) {
            Some(w) => Some(w),
            None => {
                let refusal =
                    Refusal::new(tr().s("Vul twee verschillende tijden in, zoals 19:00 en 06:30."));
                return page(&state, &u, String::new(), Some(refusal)).await;
            }
        },
        "direct" => None,
        _ => {
            let refusal = Refusal::new(tr().s("Kies wanneer de schermen de update installeren."));
            return page(&state, &u, String::new(), Some(refusal)).await;
        }
    };
    let Some(scope) = parse_scope(f.scope.trim()) else {
        let refusal = Refusal::new(tr().s("Kies welke schermen de update krijgen."));
        return page(&state, &u, String::new(), Some(refusal)).await;
    };
    let at_night = window.is_some();
    let created = state
        .store
        .create_rollout(
            u.ctx.tenant.id,
            NewRollout {
                release,
                scope,
                window,
                created_at: Utc::now(),
                created_by: Some(u.staff),
                nudged: true,
            },
        )
        .await;
    let created = match created {
        Ok(c) => c,
        Err(StoreError::NotFound(_)) => return Err(WebError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let screens = created.devices.len();
    tracing::info!(
        rollout = %created.id,
        release = %release,
        scope = ?scope,
        at_night,
        devices = screens,
        manager = %u.staff,
        "release rolled out in the portal"
    );
    state.nudge_devices(created.devices);
    Ok(Redirect::to(&format!("/beheer/updates?ok=uitgerold&schermen={screens}")).into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct RetryForm {
    pub csrf: String,
    pub release_id: String,
}

/// `POST /beheer/apparaten/{id}/opnieuw`: offer a failed or rolled-back
/// release to this screen again.
pub async fn retry(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(f): Form<RetryForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let device: DeviceId = id.parse().map_err(|_| WebError::NotFound)?;
    let release: ReleaseId = f
        .release_id
        .trim()
        .parse()
        .map_err(|_| WebError::NotFound)?;
    let nudge = state
        .store
        .retry_update(u.ctx.tenant.id, device, release)
        .await?
        .ok_or(WebError::NotFound)?;
    tracing::info!(device = %device, release = %release, manager = %u.staff, "update retried in the portal");
    state.nudge_devices(vec![nudge]);
    Ok(Redirect::to("/beheer/apparaten?ok=opnieuw").into_response())
}

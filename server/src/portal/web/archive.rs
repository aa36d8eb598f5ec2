//! The parent's archive of their child (see [`crate::portal::archive`]):
//! asking for it, and downloading it once, by the mail's link or by the
//! button on Overig.

use super::{Ctx, ParentUser, WebError, view};
use crate::AppState;
use crate::portal::archive;
use crate::portal::i18n::tr;
use crate::store::{ArchiveFetch, ArchiveKey};
use axum::Form;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use kring_protocol::ChildId;
use tower::ServiceExt;

/// "Alles van Noor downloaden": the request is stored and built in the
/// background; the parent gets a mail with the link.
pub async fn request(
    State(state): State<AppState>,
    u: ParentUser,
    Path(child): Path<String>,
    Form(form): Form<super::parent::CsrfForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&form.csrf)?;
    let child = uuid::Uuid::parse_str(child.trim())
        .map(ChildId)
        .map_err(|_| WebError::NotFound)?;
    let now = Utc::now();
    let today = u.ctx.tenant.calendar.today(now);
    let requested = state
        .store
        .request_archive(u.parent, child, today, now)
        .await?
        .ok_or(WebError::NotFound)?;
    if requested.new {
        tracing::info!(request = %requested.id, "archive requested");
        archive::spawn_build(state.clone());
    }
    Ok(Redirect::to("/account?ok=archief").into_response())
}

/// The mail's link: works once, until it expires, without logging in (like
/// a password-reset link), on the organisation's own host only.
pub async fn by_token(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let found = state
        .store
        .fetch_archive(ctx.tenant.id, ArchiveKey::Token(token), Utc::now())
        .await?;
    serve(&state, found).await
}

/// The button on Overig of the logged-in parent who asked for it.
pub async fn by_parent(
    State(state): State<AppState>,
    u: ParentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = uuid::Uuid::parse_str(id.trim()).map_err(|_| WebError::NotFound)?;
    let found = state
        .store
        .fetch_archive(
            u.ctx.tenant.id,
            ArchiveKey::Parent {
                parent: u.parent,
                id,
            },
            Utc::now(),
        )
        .await?;
    serve(&state, found).await
}

fn gone(title: &str, text: &str) -> Response {
    (StatusCode::GONE, Html(view::error_page(title, text))).into_response()
}

/// The file of a `Ready` archive (deleted once it is open: the download
/// reads on from the open file), or the page that says why not.
async fn serve(state: &AppState, found: ArchiveFetch) -> Result<Response, WebError> {
    let (file_name, first_name) = match found {
        ArchiveFetch::Unknown => return Err(WebError::NotFound),
        ArchiveFetch::Used => {
            return Ok(gone(
                tr().s("Deze link is al gebruikt"),
                tr().s("Deze link is al gebruikt: het archief kan maar één keer worden gedownload. Heeft u het niet meer? Vraag een nieuw archief aan onder Overig."),
            ));
        }
        ArchiveFetch::Stale => {
            crate::portal::archive::spawn_build(state.clone());
            return Ok(gone(
                tr().s("Het archief wordt opnieuw gemaakt"),
                tr().s("Er is iets veranderd sinds het archief klaar was, bijvoorbeeld een toestemming voor foto's. We maken het archief opnieuw; u krijgt een nieuwe e-mail zodra het klaar is."),
            ));
        }
        ArchiveFetch::Expired => {
            return Ok(gone(
                tr().s("Deze link is verlopen"),
                tr().s("Deze link is verlopen. Vraag een nieuw archief aan onder Overig."),
            ));
        }
        ArchiveFetch::Ready {
            file_name,
            child_first_name,
        } => (file_name, child_first_name),
    };
    let name: String = first_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    serve_zip_once(
        &state.data_dir.join(&file_name),
        &format!("archief-{}.zip", name.to_lowercase()),
    )
    .await
}

/// Answers with the ZIP at `path` as a download named `download_name`, and
/// deletes the file once it is open (the body reads on from the open file;
/// nobody can fetch it again).
pub(super) async fn serve_zip_once(
    path: &std::path::Path,
    download_name: &str,
) -> Result<Response, WebError> {
    let served = tower_http::services::ServeFile::new(path)
        .oneshot(Request::new(Body::empty()))
        .await;
    let mut resp = match served {
        Ok(r) => r.map(Body::new),
        Err(never) => match never {},
    };
    if resp.status() != StatusCode::OK {
        return Err(WebError::Internal(format!(
            "the ZIP file is missing ({})",
            resp.status()
        )));
    }
    if let Err(e) = tokio::fs::remove_file(path).await {
        tracing::warn!(error = %e, "could not delete a downloaded ZIP file");
    }
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{download_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

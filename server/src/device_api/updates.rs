//! Appliance updates on the device API: the bundle download (HTTP Range,
//! resumable) and the device's reports. The offer itself rides in the feed
//! (`feed_handler`); what a device may download is decided there too
//! ([`crate::store::Store::offered_bundle`]).

use crate::AppState;
use crate::device_api::devices::AuthedDevice;
use crate::error::Failure;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use kring_protocol::{ReleaseId, UpdateReport, UpdateState};
use tower::ServiceExt;

use super::ApiJson;

/// The longest `detail` of a report, in characters.
pub const MAX_DETAIL_CHARS: usize = 200;

/// `GET /api/v1/releases/{id}/bundle`: the bundle, to a device it is offered
/// to now (404 for anything else, as for a release that does not exist).
/// `Range` gives 206 with `Content-Range` (416 when unsatisfiable); the ETag
/// is the SHA-256, and an `If-Range` with another value gets the whole file.
pub(crate) async fn bundle(
    State(state): State<AppState>,
    device: AuthedDevice,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, Failure> {
    let release: ReleaseId = id.parse().map_err(|_| Failure::not_found("release"))?;
    let Some(row) = state.store.offered_bundle(device.id, release).await? else {
        return Err(Failure::not_found("release"));
    };
    let path = state.data_dir.join(&row.file_name);
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Err(Failure::internal(
            "release bundle",
            &format!(
                "the file of release {release} is missing: {}",
                path.display()
            ),
        ));
    }
    let etag = format!("\"{}\"", row.sha256);
    let (mut parts, body) = req.into_parts();
    if parts
        .headers
        .get(header::IF_RANGE)
        .is_some_and(|v| v.as_bytes() != etag.as_bytes())
    {
        parts.headers.remove(header::RANGE);
    }
    let range = parts
        .headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let served = tower_http::services::ServeFile::new(&path)
        .oneshot(Request::from_parts(parts, body))
        .await;
    let mut resp = match served {
        Ok(r) => r.map(Body::new),
        Err(never) => match never {},
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    tracing::debug!(
        device = %device.id,
        release = %release,
        range = range.as_deref().unwrap_or("all"),
        status = resp.status().as_u16(),
        "bundle download"
    );
    Ok(resp)
}

/// `POST /api/v1/update-status`: a device's [`UpdateReport`]. 204; 422 for a
/// detail over [`MAX_DETAIL_CHARS`]; 404 for a release not rolled out to it.
pub(crate) async fn status(
    State(state): State<AppState>,
    device: AuthedDevice,
    ApiJson(report): ApiJson<UpdateReport>,
) -> Result<Response, Failure> {
    if report
        .detail
        .as_deref()
        .is_some_and(|d| d.chars().count() > MAX_DETAIL_CHARS)
    {
        return Err(Failure::validation(format!(
            "detail is longer than {MAX_DETAIL_CHARS} characters"
        )));
    }
    let (release, st) = (report.release_id, report.state);
    let detail = report.detail.clone();
    state
        .store
        .report_update(device.id, report, Utc::now())
        .await?;
    match st {
        UpdateState::RolledBack | UpdateState::Failed => tracing::warn!(
            device = %device.id,
            release = %release,
            state = st.as_str(),
            detail = detail.as_deref().unwrap_or(""),
            "update did not go through"
        ),
        // progress comes often
        UpdateState::Downloading => tracing::debug!(
            device = %device.id,
            release = %release,
            detail = detail.as_deref().unwrap_or(""),
            "update download progress"
        ),
        _ => tracing::info!(
            device = %device.id,
            release = %release,
            state = st.as_str(),
            "update report"
        ),
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

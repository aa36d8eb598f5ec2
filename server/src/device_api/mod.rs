//! The device API: everything a group-room device talks to over HTTP.
//!
//! - this file: the router under `/api/v1`, version check, device
//!   authentication, JSON errors, enrollment, the feed and pushes;
//! - [`devices`]: device secrets, enrollment codes, the authenticated device;
//! - `items`: checks on pushed items before the store sees them;
//! - `tus`: resumable photo uploads (tus 1.0);
//! - `updates`: appliance bundles (download with Range) and update reports;
//! - `mqtt_hooks`: the HTTP auth/ACL hooks an external MQTT broker calls.
//!
//! Reads and writes go through [`crate::store::Store`]; nothing here holds SQL.

pub mod devices;
pub(crate) mod items;
pub(crate) mod mqtt_hooks;
pub(crate) mod tus;
pub(crate) mod updates;

use crate::AppState;
use crate::error::Failure;
use crate::store::StoreError;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use devices::AuthedDevice;
use kring_protocol::{
    API_VERSION, API_VERSION_HEADER, APP_VERSION_HEADER, Cursor, EnrollRequest, EnrollResponse,
    ErrorCode, IDEMPOTENCY_KEY_HEADER, MqttConnectInfo, OUTBOX_PENDING_HEADER, PushItem,
    RELEASE_HEADER, VersionCheck, check_version, mqtt,
};
use serde::Deserialize;
use std::net::SocketAddr;

/// JSON body extractor whose rejections are [`Failure`]s with clear codes.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Failure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_failure(rejection)),
        }
    }
}

fn json_failure(rejection: JsonRejection) -> Failure {
    let status = rejection.status();
    let text = rejection.body_text();
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            Failure::new(status, ErrorCode::PayloadTooLarge, "the body is too large")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Failure::new(
            status,
            ErrorCode::UnsupportedMediaType,
            "send Content-Type: application/json",
        ),
        _ => Failure::new(StatusCode::BAD_REQUEST, ErrorCode::MalformedJson, text),
    }
}

impl FromRequestParts<AppState> for AuthedDevice {
    type Rejection = Failure;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|s| s.trim().to_string())
            .ok_or_else(Failure::unauthorized)?;
        let report = devices::DeviceReport {
            app_version: parts
                .headers
                .get(APP_VERSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= 64)
                .map(str::to_string),
            outbox_pending: parts
                .headers
                .get(OUTBOX_PENDING_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
            release: parts
                .headers
                .get(RELEASE_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(devices::parse_release),
        };
        let device = state
            .store
            .authenticate_device(secret.clone(), report, Utc::now())
            .await?
            .ok_or_else(Failure::unauthorized)?;
        if let Some(broker) = &state.broker {
            broker.device_seen(&device.id, &kring_protocol::mqtt::password(&secret));
        }
        Ok(device)
    }
}

/// Checks the peer's API version on every device call and stamps ours on every answer.
async fn api_version(req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(API_VERSION_HEADER)
        .and_then(|v| v.to_str().ok());
    let check = check_version(header);
    // tus discovery (OPTIONS) is answered to any client.
    if req.method() != Method::OPTIONS {
        let refusal = match check {
            VersionCheck::Ok => None,
            VersionCheck::Missing => Some(format!(
                "send the {API_VERSION_HEADER} header (this server speaks {API_VERSION})"
            )),
            VersionCheck::Unreadable => Some(format!("{API_VERSION_HEADER} must be a number")),
            VersionCheck::Mismatch { ours, theirs } => Some(format!(
                "this server speaks device API version {ours}, the device {theirs}: update the device or the server"
            )),
        };
        if let Some(message) = refusal {
            return Failure::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::ApiVersionMismatch,
                message,
            )
            .into_response();
        }
    }
    let mut resp = next.run(req).await;
    resp.headers_mut()
        .insert(API_VERSION_HEADER, HeaderValue::from(API_VERSION));
    resp
}

/// The device API, mounted under `/api/v1`.
pub fn router(state: AppState) -> Router<AppState> {
    let json_limit = state.settings.limits.max_json_bytes;
    let json = Router::new()
        .route("/enroll", post(enroll))
        .route("/items", post(push_item))
        .route(
            kring_protocol::update::UPDATE_STATUS_PATH.trim_start_matches("/api/v1"),
            post(updates::status),
        )
        .layer(axum::extract::DefaultBodyLimit::max(json_limit));
    let uploads = Router::new()
        .route("/uploads", post(tus::create).options(tus::options))
        .route(
            "/uploads/{id}",
            axum::routing::head(tus::head).patch(tus::patch),
        )
        .layer(axum::extract::DefaultBodyLimit::disable());
    Router::new()
        .route("/device", get(whoami))
        .route("/feed", get(feed_handler))
        // a GET (no body); the bundle streams from the file, with Range
        .route("/releases/{id}/bundle", get(updates::bundle))
        .merge(json)
        .merge(uploads)
        .fallback(|| async { Failure::not_found("API endpoint") })
        .layer(middleware::from_fn(api_version))
}

async fn enroll(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> Result<axum::Json<EnrollResponse>, Failure> {
    if req.device_name.chars().count() > 100 || req.app_version.chars().count() > 50 {
        return Err(Failure::validation("device name or app version too long"));
    }
    let too_many = |wait: std::time::Duration| {
        Failure::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many wrong codes; wait and try again",
        )
        .with_retry_after(wait.as_secs().max(1))
    };
    // counted before it is checked: parallel guesses get no extra tries
    let client = crate::ratelimit::client_ip(&state, peer, &headers);
    let attempt = state.enroll_limiter.attempt(client).map_err(too_many)?;
    let _turn = state.enroll_slowdown.turn().await.map_err(too_many)?;
    let result = state
        .store
        .enroll_device(req.code, req.device_name, req.app_version, Utc::now())
        .await;
    match result {
        Ok(enrolled) => {
            attempt.succeeded();
            let (device_id, secret, group) = (enrolled.id, enrolled.secret, enrolled.group);
            tracing::info!(device = %device_id, group = %group.id, "device enrolled");
            // an external broker learns the login before the device tries it
            // (with the MQTT password, never the API secret)
            if let Some(broker) = &state.broker {
                broker
                    .provision(&device_id, &kring_protocol::mqtt::password(&secret))
                    .await;
            }
            Ok(axum::Json(EnrollResponse {
                device_id,
                device_secret: secret,
                group,
                mqtt: mqtt_info(&state, &device_id),
                seal_to: seal_to(&state),
            }))
        }
        Err(StoreError::NotFound(_)) => {
            drop(attempt); // a wrong code stays counted
            state.enroll_slowdown.record_failure();
            tracing::warn!(client = %client, "wrong enrollment code");
            Err(Failure::new(
                StatusCode::FORBIDDEN,
                ErrorCode::EnrollmentCodeInvalid,
                "this code is unknown, already used or expired; ask the location manager for a new one",
            ))
        }
        Err(e) => {
            attempt.succeeded(); // not the client's doing
            Err(e.into())
        }
    }
}

/// The public key devices seal to now.
fn seal_to(state: &AppState) -> Option<String> {
    state.seal.recipient().map(|r| r.to_string())
}

fn mqtt_info(state: &AppState, device: &kring_protocol::DeviceId) -> MqttConnectInfo {
    let port = match state.settings.mqtt.public_port {
        0 => state.broker_addr.map(|a| a.port()).unwrap_or(1883),
        p => p,
    };
    MqttConnectInfo {
        host: state.settings.mqtt.public_host.clone(),
        port,
        topic_prefix: mqtt::device_prefix(device),
        tls: state.settings.mqtt.devices_use_tls(),
    }
}

#[derive(Debug, serde::Serialize)]
struct WhoAmI {
    device_id: kring_protocol::DeviceId,
    group: kring_protocol::GroupInfo,
    mqtt: MqttConnectInfo,
}

async fn whoami(State(state): State<AppState>, device: AuthedDevice) -> Result<Response, Failure> {
    let group = state
        .store
        .group_info(device.group)
        .await?
        .ok_or_else(|| Failure::not_found("group"))?;
    Ok(axum::Json(WhoAmI {
        device_id: device.id,
        group,
        mqtt: mqtt_info(&state, &device.id),
    })
    .into_response())
}

#[derive(Debug, Deserialize)]
struct FeedQuery {
    since: Option<i64>,
    limit: Option<u32>,
}

async fn feed_handler(
    State(state): State<AppState>,
    device: AuthedDevice,
    query: Result<Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Failure> {
    let Query(q) = query.map_err(|e| Failure::bad_request(e.body_text()))?;
    let since = Cursor(q.since.unwrap_or(0).max(0));
    let limit = q
        .limit
        .unwrap_or(200)
        .clamp(1, state.settings.limits.feed_page_max);
    let mut page = state
        .store
        .feed_page(
            device.group,
            since,
            limit,
            device.calendar.today(Utc::now()),
        )
        .await?;
    // decided at read time, on every page: the rollouts, the device's release
    // and its reports as they are now
    page.update = state.store.update_offer(device.id).await?;
    page.seal_to = seal_to(&state);
    let mut resp = axum::Json(page).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn push_item(
    State(state): State<AppState>,
    device: AuthedDevice,
    headers: HeaderMap,
    ApiJson(item): ApiJson<PushItem>,
) -> Result<Response, Failure> {
    let key = headers
        .get(IDEMPOTENCY_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::parse_str(v.trim()).ok())
        .ok_or_else(|| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::IdempotencyKeyMissing,
                "send the item's id as the Idempotency-Key header",
            )
        })?;
    if item.id() != key {
        return Err(Failure::bad_request(
            "the Idempotency-Key header must equal the item's id",
        ));
    }
    // a sealed item is opened first; everything after sees the item inside
    let item = match item {
        PushItem::Sealed(sealed) => sealed.open(&state.seal).map_err(|e| {
            tracing::warn!(device = %device.id, item = %key, error = %e, "sealed item refused");
            Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationFailed,
                e.to_string(),
            )
        })?,
        item => item,
    };
    let event = match &item {
        PushItem::Message(m) => Some(crate::portal::notify::Event::Message(m.id)),
        PushItem::Diary(d) => Some(crate::portal::notify::Event::Diary(d.id)),
        PushItem::Photo(p) => Some(crate::portal::notify::Event::Photo(p.id)),
        PushItem::ReadReceipt(_) | PushItem::Attendance(_) | PushItem::Sealed(_) => None,
    };
    let outcome = state.store.push_item(device, item, Utc::now()).await?;
    if let (Some(event), false) = (event, outcome.replayed) {
        crate::portal::notify::spawn(&state, event);
    }
    if let Some(crate::org::GroupChange { group, seq }) = outcome.changed {
        state.nudge_group(group, seq);
    }
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::OK);
    let mut resp = (status, outcome.body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if outcome.replayed {
        h.insert("Idempotent-Replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

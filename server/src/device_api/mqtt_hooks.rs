//! HTTP auth and ACL hooks for an external MQTT broker (EMQX's HTTP
//! authenticator/authorizer, Mosquitto's go-auth HTTP backend in JSON mode),
//! applying the same rules as the embedded broker: client id = username =
//! device id, the device's secret as password, topics only under the device's
//! own prefix. Disabled unless `mqtt.hook_secret` is set; the broker sends it
//! in the `X-Kring-Hook-Secret` header.
//!
//! Every answer is `200` with `{"result": "allow"|"deny", "ok": bool}`: EMQX
//! reads `result`, go-auth (`auth_opt_http_response_mode json`) reads `ok`.

use crate::AppState;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kring_protocol::DeviceId;
use kring_protocol::mqtt::device_may_use_topic;
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub const HOOK_SECRET_HEADER: &str = "X-Kring-Hook-Secret";

#[derive(Debug, Deserialize)]
pub struct AuthRequest {
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default, alias = "client_id")]
    pub clientid: String,
}

#[derive(Debug, Deserialize)]
pub struct AclRequest {
    pub username: String,
    pub topic: String,
    #[serde(default, alias = "client_id")]
    pub clientid: String,
}

fn answer(allow: bool, superuser: bool) -> Response {
    Json(serde_json::json!({
        "result": if allow { "allow" } else { "deny" },
        "ok": allow,
        "is_superuser": superuser,
    }))
    .into_response()
}

/// Constant-time comparison of two secrets through their hashes.
fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

fn hooks_allowed(state: &AppState, headers: &HeaderMap) -> Result<(), StatusCode> {
    let Some(secret) = state
        .settings
        .mqtt
        .hook_secret
        .as_deref()
        .filter(|s| !s.is_empty())
    else {
        return Err(StatusCode::NOT_FOUND);
    };
    let given = headers
        .get(HOOK_SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if same_secret(given, secret) {
        Ok(())
    } else {
        Err(StatusCode::FORBIDDEN)
    }
}

fn is_server(state: &AppState, username: &str, password: Option<&str>) -> bool {
    let s = &state.settings.mqtt;
    !s.external_password.is_empty()
        && username == s.external_username
        && password.is_none_or(|p| same_secret(p, &s.external_password))
}

/// `POST /internal/mqtt/auth`
pub async fn auth(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<AuthRequest>,
) -> Response {
    if let Err(status) = hooks_allowed(&state, &headers) {
        return status.into_response();
    }
    if is_server(&state, &req.username, Some(&req.password)) {
        return answer(true, true);
    }
    let Ok(device) = req.username.parse::<DeviceId>() else {
        return answer(false, false);
    };
    if req.clientid != req.username || device.to_string() != req.username || req.password.is_empty()
    {
        return answer(false, false);
    }
    let ok = state
        .store
        .check_mqtt_password(device, req.password)
        .await
        .unwrap_or(false);
    answer(ok, false)
}

/// `POST /internal/mqtt/acl`
pub async fn acl(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<AclRequest>,
) -> Response {
    if let Err(status) = hooks_allowed(&state, &headers) {
        return status.into_response();
    }
    if is_server(&state, &req.username, None) {
        return answer(true, true);
    }
    let allow = req.username.parse::<DeviceId>().is_ok_and(|d| {
        (req.clientid.is_empty() || req.clientid == req.username)
            && device_may_use_topic(&d, &req.topic)
    });
    answer(allow, false)
}

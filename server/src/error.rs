//! The device API's error answer: an HTTP status plus a JSON [`ApiError`],
//! and the one mapping from the store's [`StoreError`] to HTTP statuses.

use crate::store::StoreError;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kring_protocol::{API_VERSION, API_VERSION_HEADER, ApiError, ErrorCode};

/// An error answer. Build it with the constructors; 5xx details go to the log,
/// not to the client.
#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub body: ApiError,
    pub retry_after_secs: Option<u64>,
}

impl Failure {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ApiError::new(code, message),
            retry_after_secs: None,
        }
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "unknown or revoked device: enroll again",
        )
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("{what} not found"),
        )
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            message,
        )
    }
    pub fn internal(context: &str, err: &dyn std::fmt::Display) -> Self {
        tracing::error!(context, error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal server error; try again later",
        )
    }
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }
}

/// The one place where storage errors become HTTP statuses (the portal's
/// pages map through [`store_status`] too).
impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let status = store_status(&e);
        match e {
            StoreError::NotFound(what) => Failure::not_found(what),
            StoreError::Conflict(message) => {
                Failure::new(status, ErrorCode::IdempotencyKeyReused, message)
            }
            e @ StoreError::Duplicate(_) => Failure::validation(e.to_string()),
            StoreError::ConsentRefused(message) => {
                Failure::new(status, ErrorCode::ConsentRefused, message)
            }
            StoreError::Invalid { code, message } => Failure::new(status, code, message),
            StoreError::Backend(e) => Failure::internal("store", &e),
        }
    }
}

/// The HTTP status of a storage error: 404 not found; 422 for a conflict, a
/// duplicate, a consent refusal or a rule broken (400 for a malformed
/// request); 500 when the backend failed.
pub fn store_status(e: &StoreError) -> StatusCode {
    match e {
        StoreError::NotFound(_) => StatusCode::NOT_FOUND,
        StoreError::Conflict(_) | StoreError::Duplicate(_) | StoreError::ConsentRefused(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        StoreError::Invalid {
            code: ErrorCode::BadRequest,
            ..
        } => StatusCode::BAD_REQUEST,
        StoreError::Invalid {
            code: ErrorCode::RateLimited,
            ..
        } => StatusCode::TOO_MANY_REQUESTS,
        StoreError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        StoreError::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Portal pages: a missing thing is the portal's "not found or not yours";
/// anything else the store refuses is a bug of the page, so an internal error.
impl From<StoreError> for crate::portal::web::WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) | StoreError::ConsentRefused(_) => Self::NotFound,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body)).into_response();
        let headers = resp.headers_mut();
        headers.insert(API_VERSION_HEADER, HeaderValue::from(API_VERSION));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

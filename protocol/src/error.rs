use serde::{Deserialize, Serialize};

/// Machine-readable error codes. The device decides what to do by the HTTP
/// status (retry, revoked, needs attention); the code and message say why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ApiVersionMismatch,
    Unauthorized,
    NotFound,
    BadRequest,
    MalformedJson,
    PayloadTooLarge,
    EnrollmentCodeInvalid,
    RateLimited,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    ValidationFailed,
    ConsentRefused,
    UploadOffsetMismatch,
    UploadChecksumMismatch,
    UploadIncomplete,
    UnsupportedMediaType,
    ImageTooLarge,
    NotAJpeg,
    Internal,
}

/// The body of every error answer of the device API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: ErrorCode,
    /// A sentence for a person (English; the device shows its own Dutch text by code).
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

//! The portal's data: sessions and reset tokens.

use super::Account;
use chrono::Duration;

/// Tokens have 256 bits of entropy: a fast hash is right (as for device secrets).
pub(crate) fn sha256_hex(s: &str) -> String {
    crate::device_api::devices::secret_hash(s)
}

/// 256 random bits, base64url.
pub fn random_token() -> String {
    crate::device_api::devices::new_secret()
}

/// Constant-time comparison of two tokens.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: Account,
    pub csrf: String,
}

/// Lifetimes of sessions.
#[derive(Debug, Clone, Copy)]
pub struct SessionTimes {
    pub idle: Duration,
    pub absolute: Duration,
}

//! Devices: enrollment codes, enrollment, credentials, revocation, presence.

use base64::Engine;
use chrono::{DateTime, Utc};
use kring_protocol::{DeviceId, GroupId};
use rand::Rng;
use sha2::{Digest, Sha256};

/// Alphabet of enrollment codes: 32 symbols without 0/O/1/I, so 5 bits each.
const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// 8 symbols = 40 bits of entropy (the requirement is at least 34).
const CODE_LEN: usize = 8;
/// How long an enrollment code is valid.
pub const CODE_TTL_MINUTES: i64 = 15;

/// A freshly made enrollment code, to show once.
#[derive(Debug, Clone)]
pub struct EnrollmentCode {
    /// As shown: `K7QM-2XPD`.
    pub code: String,
    pub group: GroupId,
    pub expires_at: DateTime<Utc>,
}

/// A device as authenticated by its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthedDevice {
    pub id: DeviceId,
    pub group: GroupId,
    /// Its organisation's calendar: the device's "today".
    pub calendar: kring_protocol::Calendar,
}

/// One row of the device list.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub id: DeviceId,
    pub name: String,
    pub group: GroupId,
    pub group_name: String,
    pub app_version: String,
    pub created_at: String,
    pub last_seen_at: Option<String>,
    pub online: bool,
    pub revoked_at: Option<String>,
    /// Items waiting in the device's outbox, as last reported.
    pub outbox_pending: Option<u32>,
    /// The appliance release it last reported (`<compatible> <version>`).
    pub release: Option<String>,
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Uppercases and drops separators, so `k7qm 2xpd` and `K7QM-2XPD` match.
pub fn normalize_code(input: &str) -> String {
    input
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

pub(crate) fn new_code() -> String {
    let mut rng = rand::rng();
    let raw: String = (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect();
    format!("{}-{}", &raw[..4], &raw[4..])
}

/// A new device secret (also a portal session or reset token): 256 random bits, base64url.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Hash of a device secret as stored. The secret has 256 bits of entropy, so a
/// fast hash is right (a slow password hash would only cost every request).
pub fn secret_hash(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// What a device reports about itself on a request (optional headers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceReport {
    pub app_version: Option<String>,
    pub outbox_pending: Option<u32>,
    /// `Kring-Release`: `<compatible> <version>`, checked by [`parse_release`].
    pub release: Option<String>,
}

/// A `Kring-Release` value as stored: two words (compatible, version) of
/// printable ASCII, at most 64 characters each, one space between; None for
/// anything else (then the stored value stays as it was).
pub fn parse_release(header: &str) -> Option<String> {
    let (compatible, version) = split_release(header)?;
    Some(format!("{compatible} {version}"))
}

/// The compatible and the version of a `Kring-Release` value.
pub fn split_release(release: &str) -> Option<(&str, &str)> {
    let mut words = release.split_ascii_whitespace();
    let (compatible, version) = (words.next()?, words.next()?);
    let word_ok = |w: &str| {
        w.len() <= crate::releases::MAX_FIELD_CHARS && w.chars().all(|c| c.is_ascii_graphic())
    };
    (words.next().is_none() && word_ok(compatible) && word_ok(version))
        .then_some((compatible, version))
}

/// For tools and tests that drive SQLite directly (the sync tests, the
/// system test, the soak run); server code goes through [`crate::store::Store`].
pub use crate::store::sql::devices::{create_code, find_group};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_enough_entropy_and_normalise() {
        let bits = (CODE_ALPHABET.len() as f64).log2() * CODE_LEN as f64;
        assert!(bits >= 34.0, "{bits} bits");
        let c = new_code();
        assert_eq!(c.len(), 9);
        assert_eq!(
            normalize_code(&c.to_lowercase().replace('-', " ")),
            normalize_code(&c)
        );
        assert!(
            normalize_code(&c)
                .bytes()
                .all(|b| CODE_ALPHABET.contains(&b))
        );
        let a = new_code();
        let b = new_code();
        assert_ne!(a, b, "two codes in a row should differ");
    }

    #[test]
    fn release_headers_are_two_words() {
        assert_eq!(
            parse_release(" kring-qemu-virt   2.0.0 ").as_deref(),
            Some("kring-qemu-virt 2.0.0")
        );
        assert_eq!(
            split_release("kring-rpi4 2.1.0-rc1"),
            Some(("kring-rpi4", "2.1.0-rc1"))
        );
        assert_eq!(parse_release("kring-qemu-virt"), None);
        assert_eq!(parse_release("a b c"), None);
        assert_eq!(parse_release(""), None);
        assert_eq!(parse_release(&format!("{} 1", "x".repeat(65))), None);
        assert_eq!(parse_release("kring-qemu-virt 2.0.0\u{e9}"), None);
    }

    #[test]
    fn secrets_are_long_and_hashed() {
        let s = new_secret();
        assert_eq!(s.len(), 43);
        assert_ne!(secret_hash(&s), s);
        assert_eq!(secret_hash(&s).len(), 64);
    }
}

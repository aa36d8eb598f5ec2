//! PIN checks on the device, offline: the server syncs each staff member's
//! argon2id verifier. Wrong PINs back off: after 3 wrong tries the pad is
//! blocked for 30 s, doubling with every further wrong try, at most 15 min.

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use std::time::Duration;

/// Whether `pin` matches the PHC `verifier`.
pub fn verify(pin: &str, verifier: &str) -> bool {
    if pin.is_empty() || pin.len() > 12 || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    match PasswordHash::new(verifier) {
        Ok(hash) => Argon2::default()
            .verify_password(pin.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// Counts wrong tries and says how long the pad stays blocked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Backoff {
    wrong: u32,
}

impl Backoff {
    pub const FREE_TRIES: u32 = 3;

    /// A wrong PIN: returns how long the pad must now stay blocked (zero if not).
    pub fn failed(&mut self) -> Duration {
        self.wrong += 1;
        if self.wrong < Self::FREE_TRIES {
            return Duration::ZERO;
        }
        let steps = (self.wrong - Self::FREE_TRIES).min(5);
        Duration::from_secs(30 << steps).min(Duration::from_secs(15 * 60))
    }

    /// The right PIN: start again.
    pub fn succeeded(&mut self) {
        self.wrong = 0;
    }

    pub fn wrong_tries(&self) -> u32 {
        self.wrong
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_table() {
        let mut b = Backoff::default();
        let got: Vec<u64> = (0..10).map(|_| b.failed().as_secs()).collect();
        assert_eq!(got, vec![0, 0, 30, 60, 120, 240, 480, 900, 900, 900]);
        b.succeeded();
        assert_eq!(b.failed(), Duration::ZERO);
    }

    #[test]
    fn verifies_argon2_pins() {
        use argon2::PasswordHasher;
        use argon2::password_hash::{SaltString, rand_core::OsRng};
        let salt = SaltString::generate(&mut OsRng);
        let verifier = Argon2::default()
            .hash_password(b"1234", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(verify("1234", &verifier));
        assert!(!verify("1235", &verifier));
        assert!(!verify("", &verifier));
        assert!(!verify("12a4", &verifier));
        assert!(!verify("1234", "not a hash"));
    }
}

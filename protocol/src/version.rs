use serde::{Deserialize, Serialize};

/// The version of the device API described by this crate. Both ends send it in
/// [`API_VERSION_HEADER`] and check the other's.
pub const API_VERSION: u32 = 1;

/// The HTTP header that carries [`API_VERSION`].
pub const API_VERSION_HEADER: &str = "Kring-Api-Version";

/// Outcome of comparing a peer's version header with ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum VersionCheck {
    /// Same version: go on.
    Ok,
    /// The header was absent.
    Missing,
    /// The header was there but not a number.
    Unreadable,
    /// The peer speaks another version.
    Mismatch { ours: u32, theirs: u32 },
}

/// Compares the value of a peer's [`API_VERSION_HEADER`] with [`API_VERSION`].
pub fn check_version(header: Option<&str>) -> VersionCheck {
    match header {
        None => VersionCheck::Missing,
        Some(v) => match v.trim().parse::<u32>() {
            Ok(n) if n == API_VERSION => VersionCheck::Ok,
            Ok(n) => VersionCheck::Mismatch {
                ours: API_VERSION,
                theirs: n,
            },
            Err(_) => VersionCheck::Unreadable,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_checks() {
        assert_eq!(check_version(Some("1")), VersionCheck::Ok);
        assert_eq!(check_version(Some(" 1 ")), VersionCheck::Ok);
        assert_eq!(check_version(None), VersionCheck::Missing);
        assert_eq!(check_version(Some("v1")), VersionCheck::Unreadable);
        assert_eq!(
            check_version(Some("2")),
            VersionCheck::Mismatch { ours: 1, theirs: 2 }
        );
    }
}

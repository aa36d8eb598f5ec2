//! Updates of the appliance: the server offers a signed RAUC bundle to a
//! device in its feed ([`crate::FeedPage::update`]), the device downloads it
//! (HTTP Range, resumable), installs it into the other root slot when that
//! cannot hurt, and reports each step ([`UpdateReport`]).
//!
//! The bundle's signature is checked by RAUC on the device against the
//! organisation's key; the SHA-256 here only protects a resumed download.

use serde::{Deserialize, Serialize};

use crate::ReleaseId;

/// `GET /api/v1/releases/{release_id}/bundle`: where a device downloads a
/// release (answers `Range` requests with 206).
pub fn bundle_path(release: &ReleaseId) -> String {
    format!("/api/v1/releases/{release}/bundle")
}

/// `POST /api/v1/update-status`: where a device reports an [`UpdateReport`].
pub const UPDATE_STATUS_PATH: &str = "/api/v1/update-status";

/// A release the server offers this device, carried in the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateOffer {
    pub release_id: ReleaseId,
    /// The release's version as written in the bundle's manifest, e.g. `2.0.0`.
    pub version: String,
    /// The bundle's size in bytes.
    pub size: u64,
    /// The bundle's SHA-256, lowercase hex.
    pub sha256: String,
    /// When the device may install, in the organisation's local time; `None`:
    /// at any time (the other conditions still hold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<InstallWindow>,
}

/// A daily time window, local time, `HH:MM`; `from` after `until` spans midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallWindow {
    pub from: String,
    pub until: String,
}

impl InstallWindow {
    /// The default: outside a day nursery's opening hours.
    pub fn nightly() -> Self {
        Self {
            from: "19:00".into(),
            until: "06:30".into(),
        }
    }

    /// A window between two times of day (`HH:MM`); None when either is not
    /// one, or when both are the same (a window that never opens).
    pub fn between(from: &str, until: &str) -> Option<Self> {
        let (f, u) = (parse_hhmm(from)?, parse_hhmm(until)?);
        (f != u).then(|| Self {
            from: from.trim().to_string(),
            until: until.trim().to_string(),
        })
    }

    /// A window written `HH:MM-HH:MM`, as the server's command line takes it.
    pub fn parse(s: &str) -> Option<Self> {
        let (from, until) = s.split_once('-')?;
        Self::between(from, until)
    }

    /// Whether `minute_of_day` (0..1440, local time) lies inside the window.
    /// A window that cannot be read is never open.
    pub fn contains(&self, minute_of_day: u32) -> bool {
        let (Some(from), Some(until)) = (parse_hhmm(&self.from), parse_hhmm(&self.until)) else {
            return false;
        };
        if from <= until {
            (from..until).contains(&minute_of_day)
        } else {
            minute_of_day >= from || minute_of_day < until
        }
    }
}

/// `HH:MM` as minutes after midnight.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
    (h < 24 && m < 60 && s.trim().len() == 5).then_some(h * 60 + m)
}

/// What a device reports about a release, in the order it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateState {
    /// Downloading; `detail` holds the bytes so far.
    Downloading,
    /// Downloaded and its SHA-256 checked; waiting for a moment to install.
    Downloaded,
    /// `rauc install` runs.
    Installing,
    /// Installed into the other slot; the device restarts into it.
    Installed,
    /// The new release runs (reported by the new release itself).
    Running,
    /// The new release was healthy and its slot is marked good.
    Good,
    /// The new release did not become healthy: the device went back to the
    /// release before it by itself. `detail` says why.
    RolledBack,
    /// The download or the installation failed (a bad signature, a wrong
    /// digest, no space); the device stays on its release. `detail` says why.
    Failed,
}

impl UpdateState {
    /// The wire name (`rolled_back`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Downloading => "downloading",
            Self::Downloaded => "downloaded",
            Self::Installing => "installing",
            Self::Installed => "installed",
            Self::Running => "running",
            Self::Good => "good",
            Self::RolledBack => "rolled_back",
            Self::Failed => "failed",
        }
    }

    /// Reads a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Downloading,
            Self::Downloaded,
            Self::Installing,
            Self::Installed,
            Self::Running,
            Self::Good,
            Self::RolledBack,
            Self::Failed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// Body of `POST /api/v1/update-status`. Reports are idempotent: the same
/// report twice changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateReport {
    pub release_id: ReleaseId,
    pub state: UpdateState,
    /// Progress or the reason of a failure or rollback, in words (at most 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_two_different_times_of_day() {
        assert_eq!(
            InstallWindow::parse("20:00-05:30"),
            Some(InstallWindow {
                from: "20:00".into(),
                until: "05:30".into()
            })
        );
        assert_eq!(
            InstallWindow::parse(" 19:00 - 06:30 "),
            Some(InstallWindow::nightly())
        );
        for bad in [
            "",
            "20:00",
            "25:00-06:00",
            "20:00-06:60",
            "8:00-9:00",
            "20:00-20:00",
        ] {
            assert_eq!(InstallWindow::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn windows() {
        let night = InstallWindow::nightly();
        assert!(night.contains(19 * 60));
        assert!(night.contains(23 * 60 + 59));
        assert!(night.contains(0));
        assert!(night.contains(6 * 60 + 29));
        assert!(!night.contains(6 * 60 + 30));
        assert!(!night.contains(12 * 60));
        let day = InstallWindow {
            from: "12:00".into(),
            until: "13:00".into(),
        };
        assert!(day.contains(12 * 60 + 30));
        assert!(!day.contains(13 * 60));
        let broken = InstallWindow {
            from: "7".into(),
            until: "25:00".into(),
        };
        assert!(!broken.contains(7 * 60));
        assert_eq!(parse_hhmm("07:05"), Some(425));
        assert_eq!(parse_hhmm("7:05"), None);
    }

    #[test]
    fn states_round_trip() {
        for s in [
            UpdateState::Downloading,
            UpdateState::RolledBack,
            UpdateState::Good,
        ] {
            let json = serde_json::to_string(&s).expect("json");
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(UpdateState::parse(s.as_str()), Some(s));
        }
        let page: crate::FeedPage =
            serde_json::from_str(r#"{"changes":[],"cursor":0,"has_more":false}"#).expect("page");
        assert_eq!(page.update, None, "a server without updates sends none");
    }
}

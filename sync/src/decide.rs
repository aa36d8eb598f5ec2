//! The engine's decisions as pure functions, tested as tables: what to send
//! next, how long to back off, and what a failure means.

use crate::store::{ItemState, OutboxRow};
use chrono::{DateTime, Utc};
use kring_protocol::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What the engine should do next with the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send this item now.
    Send(uuid::Uuid),
    /// The next item is backing off until then.
    WaitUntil(DateTime<Utc>),
    /// Nothing to send.
    Idle,
}

/// Why an item waits although it is not refused itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// A photo it uses needs attention first.
    DependencyNeedsAttention(uuid::Uuid),
}

/// Picks the next item. The outbox drains strictly oldest first: an item that
/// backs off holds the ones behind it (so the server sees the device's order),
/// but an item that needs attention does not, and neither does an item that
/// waits on one that needs attention (it is blocked, and shown so).
/// `rows` are the unsent items, oldest first.
pub fn next_to_send(rows: &[OutboxRow], now: DateTime<Utc>) -> Next {
    for row in rows {
        if row.state != ItemState::Waiting || blocked(rows, row).is_some() {
            continue;
        }
        if let Some(dep) = row.depends_on.iter().find(|d| waiting(rows, d)) {
            // Its dependency is older and waiting: the loop reaches it first,
            // unless it is newer (never: dependencies are saved first).
            tracing::debug!(item = %row.id, dependency = %dep, "waits on a dependency");
            continue;
        }
        return match row.next_attempt_at {
            Some(t) if t > now => Next::WaitUntil(t),
            _ => Next::Send(row.id),
        };
    }
    Next::Idle
}

fn waiting(rows: &[OutboxRow], id: &uuid::Uuid) -> bool {
    rows.iter()
        .any(|r| r.id == *id && r.state == ItemState::Waiting)
}

/// Whether `row` is blocked by a dependency that needs attention.
pub fn blocked(rows: &[OutboxRow], row: &OutboxRow) -> Option<Blocked> {
    row.depends_on.iter().find_map(|d| {
        rows.iter()
            .find(|r| r.id == *d && matches!(r.state, ItemState::Wedged { .. }))
            .map(|r| Blocked::DependencyNeedsAttention(r.id))
    })
}

/// Capped, jittered exponential back-off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// Delay after `attempts` failures (1 = the first failure). `jitter` in
    /// [0, 1) picks a point in the upper half of the window, so retries of
    /// many devices spread out but never come sooner than half the delay.
    pub fn delay(&self, attempts: u32, jitter: f64) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        let raw = self.base.saturating_mul(1u32 << exp.min(20));
        let capped = raw.min(self.cap);
        capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// How a request ended badly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer: connection refused or cut, timeout, unreadable answer.
    Network(String),
    /// The server answered with an error status.
    Status {
        status: u16,
        retry_after: Option<Duration>,
        error: Option<ApiError>,
    },
    /// The item cannot be sent from this device (it was never asked of the
    /// server).
    Unsendable(Reason),
}

/// Why an item waits or needs attention. The words for staff are the UI's
/// (in its languages), not ours: this is the reason as data. Stored as JSON
/// in the outbox ([`Reason::to_stored`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// No answer: connection refused or cut, timeout, unreadable answer.
    NoConnection { error: String },
    /// The server asked to wait (429).
    ServerBusy,
    /// The server failed (5xx).
    ServerError { status: u16 },
    /// The server speaks another API version: this device must be updated.
    UpdateNeeded { status: u16, message: String },
    /// The server refused the item; `message` is its own explanation, if any.
    Refused {
        status: u16,
        message: Option<String>,
    },
    /// The item could not be read from the device's store.
    Unreadable { error: String },
    /// The photo's bytes are no longer (whole) on the device.
    PhotoGone,
    /// A reason stored as words before reasons were typed.
    Text { text: String },
}

impl Reason {
    /// Reads a stored reason: JSON, or the words older versions stored.
    pub fn from_stored(stored: &str) -> Self {
        serde_json::from_str(stored).unwrap_or_else(|_| Self::Text {
            text: stored.to_string(),
        })
    }

    /// The reason as it is stored (JSON).
    pub fn to_stored(&self) -> String {
        match serde_json::to_string(self) {
            Ok(json) => json,
            // (never: the enum holds strings and numbers only)
            Err(_) => format!("{self:?}"),
        }
    }
}

/// For logs (English; staff see the UI's words).
impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoConnection { error } => write!(f, "no connection: {error}"),
            Self::ServerBusy => write!(f, "the server is busy"),
            Self::ServerError { status } => write!(f, "server error {status}"),
            Self::UpdateNeeded { status, message } => {
                write!(f, "this device must be updated ({status}: {message})")
            }
            Self::Refused {
                status,
                message: Some(m),
            } => write!(f, "refused ({status}): {m}"),
            Self::Refused {
                status,
                message: None,
            } => write!(f, "refused ({status})"),
            Self::Unreadable { error } => write!(f, "cannot read this item: {error}"),
            Self::PhotoGone => write!(f, "the photo is no longer on the device"),
            Self::Text { text } => f.write_str(text),
        }
    }
}

/// What to do about a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Try again after this delay.
    Retry { after: Duration, reason: Reason },
    /// The device was revoked: stop, wipe, go back to enrollment.
    Revoked,
    /// The item needs attention, for this reason; the rest keeps flowing.
    NeedsAttention(Reason),
}

/// Classifies a failure: network, 5xx and 429 are retried (Retry-After
/// honoured, at most an hour); 401 is revocation; any other 4xx needs attention.
pub fn classify(failure: &Failure, attempts: u32, backoff: &Backoff, jitter: f64) -> Verdict {
    let retry = |reason: Reason, after: Option<Duration>| Verdict::Retry {
        after: after
            .map(|a| a.min(Duration::from_secs(3600)))
            .unwrap_or_else(|| backoff.delay(attempts, jitter)),
        reason,
    };
    match failure {
        Failure::Network(e) => retry(Reason::NoConnection { error: e.clone() }, None),
        Failure::Unsendable(reason) => Verdict::NeedsAttention(reason.clone()),
        Failure::Status { status: 401, .. } => Verdict::Revoked,
        Failure::Status {
            status: 429,
            retry_after,
            ..
        } => retry(Reason::ServerBusy, *retry_after),
        Failure::Status {
            status,
            retry_after,
            ..
        } if *status >= 500 => retry(Reason::ServerError { status: *status }, *retry_after),
        Failure::Status {
            status,
            error: Some(e),
            ..
        } if e.code == ErrorCode::ApiVersionMismatch => {
            Verdict::NeedsAttention(Reason::UpdateNeeded {
                status: *status,
                message: e.message.clone(),
            })
        }
        Failure::Status { status, error, .. } => Verdict::NeedsAttention(Reason::Refused {
            status: *status,
            message: error.as_ref().map(|e| e.message.clone()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ItemKind;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default()
    }

    fn row(n: u128, state: ItemState, next: Option<i64>, deps: &[u128]) -> OutboxRow {
        OutboxRow {
            seq: n as i64,
            id: uuid::Uuid::from_u128(n),
            kind: ItemKind::Message,
            depends_on: deps.iter().map(|d| uuid::Uuid::from_u128(*d)).collect(),
            created_at: t(0),
            state,
            attempts: 0,
            next_attempt_at: next.map(t),
            last_error: None,
        }
    }

    fn id(n: u128) -> uuid::Uuid {
        uuid::Uuid::from_u128(n)
    }

    fn wedged() -> ItemState {
        ItemState::Wedged {
            reason: Reason::Text { text: "nee".into() },
        }
    }

    #[test]
    fn what_to_send_next() {
        use ItemState::Waiting;
        let now = 100;
        let cases: Vec<(&str, Vec<OutboxRow>, Next)> = vec![
            ("empty", vec![], Next::Idle),
            (
                "oldest first",
                vec![row(1, Waiting, None, &[]), row(2, Waiting, None, &[])],
                Next::Send(id(1)),
            ),
            (
                "due retry",
                vec![row(1, Waiting, Some(50), &[])],
                Next::Send(id(1)),
            ),
            (
                "backing off holds the rest",
                vec![row(1, Waiting, Some(150), &[]), row(2, Waiting, None, &[])],
                Next::WaitUntil(t(150)),
            ),
            (
                "needs attention does not hold the rest",
                vec![row(1, wedged(), None, &[]), row(2, Waiting, None, &[])],
                Next::Send(id(2)),
            ),
            (
                "dependent waits for its photo",
                vec![row(1, Waiting, Some(150), &[]), row(2, Waiting, None, &[1])],
                Next::WaitUntil(t(150)),
            ),
            (
                "dependent on a refused photo is blocked, the rest flows",
                vec![
                    row(1, wedged(), None, &[]),
                    row(2, Waiting, None, &[1]),
                    row(3, Waiting, None, &[]),
                ],
                Next::Send(id(3)),
            ),
            (
                "dependency already sent (not in the outbox)",
                vec![row(2, Waiting, None, &[1])],
                Next::Send(id(2)),
            ),
            (
                "only refused items",
                vec![row(1, wedged(), None, &[])],
                Next::Idle,
            ),
        ];
        for (name, rows, want) in cases {
            assert_eq!(next_to_send(&rows, t(now)), want, "{name}");
        }
    }

    #[test]
    fn blocked_by_refused_dependency() {
        let rows = vec![
            row(1, wedged(), None, &[]),
            row(2, ItemState::Waiting, None, &[1]),
        ];
        assert_eq!(
            blocked(&rows, &rows[1]),
            Some(Blocked::DependencyNeedsAttention(id(1)))
        );
        assert_eq!(blocked(&rows, &rows[0]), None);
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let b = Backoff::default();
        let cases = [
            (1, 0.0, 500),
            (1, 1.0, 1_000),
            (2, 1.0, 2_000),
            (5, 1.0, 16_000),
            (9, 1.0, 256_000),
            (10, 1.0, 300_000),
            (10, 0.0, 150_000),
            (1000, 1.0, 300_000),
            (u32::MAX, 0.5, 225_000),
        ];
        for (attempts, jitter, ms) in cases {
            assert_eq!(
                b.delay(attempts, jitter),
                Duration::from_millis(ms),
                "{attempts} {jitter}"
            );
        }
    }

    #[test]
    fn failures_are_classified() {
        let b = Backoff::default();
        let status = |s: u16, retry: Option<u64>, code: Option<ErrorCode>| Failure::Status {
            status: s,
            retry_after: retry.map(Duration::from_secs),
            error: code.map(|c| ApiError::new(c, "reden van de server")),
        };
        let retry_in = |secs: u64| move |v: &Verdict| matches!(v, Verdict::Retry { after, .. } if *after == Duration::from_secs(secs));
        let is_attention = |v: &Verdict| matches!(v, Verdict::NeedsAttention(_));
        type Check = Box<dyn Fn(&Verdict) -> bool>;
        let cases: Vec<(&str, Failure, Check)> = vec![
            (
                "network",
                Failure::Network("refused".into()),
                Box::new(retry_in(1)),
            ),
            (
                "unsendable",
                Failure::Unsendable(Reason::PhotoGone),
                Box::new(|v: &Verdict| *v == Verdict::NeedsAttention(Reason::PhotoGone)),
            ),
            (
                "500",
                status(500, None, Some(ErrorCode::Internal)),
                Box::new(retry_in(1)),
            ),
            (
                "503 with Retry-After",
                status(503, Some(30), None),
                Box::new(retry_in(30)),
            ),
            (
                "429 with Retry-After",
                status(429, Some(7), None),
                Box::new(retry_in(7)),
            ),
            (
                "429 asking for days is capped",
                status(429, Some(999_999), None),
                Box::new(retry_in(3600)),
            ),
            (
                "429 without Retry-After",
                status(429, None, None),
                Box::new(retry_in(1)),
            ),
            (
                "401",
                status(401, None, Some(ErrorCode::Unauthorized)),
                Box::new(|v: &Verdict| *v == Verdict::Revoked),
            ),
            (
                "422",
                status(422, None, Some(ErrorCode::ConsentRefused)),
                Box::new(|v: &Verdict| {
                    *v == Verdict::NeedsAttention(Reason::Refused {
                        status: 422,
                        message: Some("reden van de server".into()),
                    })
                }),
            ),
            ("400 bare", status(400, None, None), Box::new(is_attention)),
            (
                "413",
                status(413, None, Some(ErrorCode::PayloadTooLarge)),
                Box::new(is_attention),
            ),
            (
                "version",
                status(400, None, Some(ErrorCode::ApiVersionMismatch)),
                Box::new(|v: &Verdict| {
                    matches!(
                        v,
                        Verdict::NeedsAttention(Reason::UpdateNeeded { status: 400, .. })
                    )
                }),
            ),
        ];
        for (name, failure, check) in cases {
            let v = classify(&failure, 1, &b, 1.0);
            assert!(check(&v), "{name}: {v:?}");
        }
    }

    #[test]
    fn reasons_are_stored_as_data_and_old_words_still_read() {
        for r in [
            Reason::NoConnection {
                error: "refused".into(),
            },
            Reason::ServerBusy,
            Reason::ServerError { status: 503 },
            Reason::UpdateNeeded {
                status: 400,
                message: "v2".into(),
            },
            Reason::Refused {
                status: 422,
                message: None,
            },
            Reason::Unreadable {
                error: "json".into(),
            },
            Reason::PhotoGone,
        ] {
            assert_eq!(Reason::from_stored(&r.to_stored()), r);
        }
        assert_eq!(Reason::PhotoGone.to_stored(), r#"{"kind":"photo_gone"}"#);
        assert_eq!(
            Reason::from_stored("de server weigerde dit (400)"),
            Reason::Text {
                text: "de server weigerde dit (400)".into()
            }
        );
    }
}

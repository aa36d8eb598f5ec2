//! Pushed items (`POST /api/v1/items`): the rules an item must meet on its
//! own. The checks against the stored truth (children placed on the group,
//! the upload, consent) and the exactly-once write live in the store
//! ([`crate::store::Store::push_item`]), in one transaction.
//!
//! **Architecture Invariant:** the dedupe record is written in the same
//! transaction as the item it creates; a retry gets the stored answer, the same
//! key with another body is a conflict (422), and concurrent duplicates
//! serialise on the write transaction so only one can create the item.

use crate::store::StoreError;
use chrono::{DateTime, Duration, Utc};
use kring_protocol::attendance::MAX_BY_CHARS;
use kring_protocol::{AttendanceEvent, AttendanceItem, PushItem, StaffDiaryItem, StaffMessageItem};
use sha2::{Digest, Sha256};

/// Longest diary text and message body accepted (characters).
pub const MAX_TEXT_CHARS: usize = 10_000;
pub const MAX_MESSAGE_CHARS: usize = 4_000;
/// Longest note with a child marked absent (characters).
pub const MAX_ABSENCE_NOTE_CHARS: usize = 1_000;

/// How far an attendance event's `at` may lie ahead of the server's clock (a
/// device clock running a little fast).
pub const ATTENDANCE_MAX_AHEAD_MINUTES: i64 = 5;
/// How far back an attendance event's `at` may lie: a device that was
/// offline over a long weekend or a holiday week must still hand in every
/// tap (refusing one would lose it from the day log); older than a month is
/// a broken clock, said on the device's Synchronisatie page.
pub const ATTENDANCE_MAX_BEHIND_DAYS: i64 = 31;

/// The canonical hash of a request: the item as parsed and re-serialised, so
/// that whitespace or key order do not make a retry look different.
pub fn request_hash(item: &PushItem) -> Result<String, StoreError> {
    let canonical = serde_json::to_vec(item).map_err(StoreError::backend)?;
    Ok(hex::encode(Sha256::digest(canonical)))
}

/// A diary entry's own rules: a child, text within bounds, something to say.
pub fn check_diary(d: &StaffDiaryItem) -> Result<(), StoreError> {
    if d.children.is_empty() {
        return Err(StoreError::invalid(
            "a diary entry needs at least one child",
        ));
    }
    if d.text.chars().count() > MAX_TEXT_CHARS {
        return Err(StoreError::invalid(format!(
            "diary text is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    if d.text.trim().is_empty() && d.baby.is_none() && d.photos.is_empty() {
        return Err(StoreError::invalid(
            "a diary entry needs text, baby fields or a photo",
        ));
    }
    Ok(())
}

/// A staff message's body, trimmed, when it is not empty and not too long.
pub fn message_body(m: &StaffMessageItem) -> Result<&str, StoreError> {
    let body = m.body.trim();
    if body.is_empty() {
        return Err(StoreError::invalid("a message cannot be empty"));
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        return Err(StoreError::invalid(format!(
            "a message is at most {MAX_MESSAGE_CHARS} characters"
        )));
    }
    Ok(body)
}

/// An attendance event's own rules against the server's clock `now`: `at`
/// not more than [`ATTENDANCE_MAX_AHEAD_MINUTES`] ahead nor more than
/// [`ATTENDANCE_MAX_BEHIND_DAYS`] behind; who brought or picked up trimmed
/// (blank is no one), at most [`MAX_BY_CHARS`] characters; an absence note
/// trimmed and bounded. Returns the event as it is stored.
pub fn check_attendance(
    a: &AttendanceItem,
    now: DateTime<Utc>,
) -> Result<AttendanceItem, StoreError> {
    if a.at > now + Duration::minutes(ATTENDANCE_MAX_AHEAD_MINUTES) {
        return Err(StoreError::invalid(format!(
            "attendance at {} is more than {ATTENDANCE_MAX_AHEAD_MINUTES} minutes ahead of the server's clock; check the device's clock",
            a.at.to_rfc3339()
        )));
    }
    if a.at < now - Duration::days(ATTENDANCE_MAX_BEHIND_DAYS) {
        return Err(StoreError::invalid(format!(
            "attendance at {} is more than {ATTENDANCE_MAX_BEHIND_DAYS} days ago",
            a.at.to_rfc3339()
        )));
    }
    let mut out = a.clone();
    match &mut out.event {
        AttendanceEvent::ChildIn { by, .. } | AttendanceEvent::ChildOut { by, .. } => {
            *by = trimmed(by.as_deref(), MAX_BY_CHARS, "who brought or picked up")?;
        }
        AttendanceEvent::ChildAbsent { note, .. } => {
            *note = trimmed(note.as_deref(), MAX_ABSENCE_NOTE_CHARS, "an absence note")?;
        }
        _ => {}
    }
    Ok(out)
}

/// `text` trimmed, `None` when blank, refused when longer than `max` characters.
fn trimmed(text: Option<&str>, max: usize, what: &str) -> Result<Option<String>, StoreError> {
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if t.chars().count() > max {
        return Err(StoreError::invalid(format!(
            "{what} is at most {max} characters"
        )));
    }
    Ok(Some(t.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kring_protocol::{AbsenceReason, ChildId};

    fn item(at: DateTime<Utc>, event: AttendanceEvent) -> AttendanceItem {
        AttendanceItem::new(at, event)
    }

    fn child_in(by: Option<&str>) -> AttendanceEvent {
        AttendanceEvent::ChildIn {
            child_id: ChildId::new(),
            by: by.map(str::to_string),
        }
    }

    #[test]
    fn who_brought_is_trimmed_blank_is_no_one_and_too_long_is_refused() {
        let now = Utc::now();
        let out = check_attendance(&item(now, child_in(Some("  Oma  "))), now).expect("fine");
        assert_eq!(out.event.by(), Some("Oma"));
        let out = check_attendance(&item(now, child_in(Some(" \t "))), now).expect("fine");
        assert_eq!(out.event.by(), None);
        let exact = "é".repeat(MAX_BY_CHARS);
        let out = check_attendance(&item(now, child_in(Some(&exact))), now).expect("80 chars");
        assert_eq!(out.event.by(), Some(exact.as_str()));
        let long = "a".repeat(MAX_BY_CHARS + 1);
        let err = check_attendance(&item(now, child_in(Some(&long))), now).expect_err("81");
        assert!(err.to_string().contains("at most 80"), "{err}");
        let note = AttendanceEvent::ChildAbsent {
            child_id: ChildId::new(),
            reason: AbsenceReason::Ziek,
            note: Some("  koorts ".into()),
        };
        let out = check_attendance(&item(now, note), now).expect("note");
        assert!(
            matches!(out.event, AttendanceEvent::ChildAbsent { note: Some(n), .. } if n == "koorts")
        );
    }

    #[test]
    fn at_must_be_near_the_servers_clock() {
        let now = Utc::now();
        let ok = [
            now + Duration::minutes(ATTENDANCE_MAX_AHEAD_MINUTES),
            now - Duration::days(ATTENDANCE_MAX_BEHIND_DAYS),
        ];
        for at in ok {
            assert!(
                check_attendance(&item(at, child_in(None)), now).is_ok(),
                "{at}"
            );
        }
        let ahead = now + Duration::minutes(ATTENDANCE_MAX_AHEAD_MINUTES) + Duration::seconds(1);
        let err = check_attendance(&item(ahead, child_in(None)), now).expect_err("ahead");
        assert!(err.to_string().contains("ahead"), "{err}");
        let behind = now - Duration::days(ATTENDANCE_MAX_BEHIND_DAYS) - Duration::seconds(1);
        let err = check_attendance(&item(behind, child_in(None)), now).expect_err("behind");
        assert!(err.to_string().contains("days ago"), "{err}");
    }
}

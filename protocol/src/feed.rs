//! The change feed: `GET /api/v1/feed?since=<cursor>&limit=<n>`. Each group has
//! a monotonic change sequence on the server; a page carries the current state
//! of everything that changed after the cursor, and the cursor to ask next.

use crate::{
    AbsenceId, AttendanceRecord, ChildId, DiaryEntryId, GroupInfo, MessageId, ParentId,
    PhotoConsent, StaffId,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A position in a group's change sequence. `Cursor(0)` is "from the start".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cursor(pub i64);

/// One page of the feed. Apply `changes` and store `cursor` in one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedPage {
    pub changes: Vec<Change>,
    /// The cursor to send next time (the seq of the last change in this page,
    /// or the cursor that was asked for when the page is empty).
    pub cursor: Cursor,
    /// More changes wait after this page.
    pub has_more: bool,
    /// The release the server offers this device, if any (servers before
    /// updates never send it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<crate::UpdateOffer>,
    /// The server's current public key to seal to (as at enrollment; a
    /// device enrolled before the server sealed learns it here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal_to: Option<String>,
}

/// A change, with the server's sequence number for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub seq: i64,
    #[serde(flatten)]
    pub kind: ChangeKind,
}

/// The `type` of every [`ChangeKind`] this release knows (a test checks the
/// list against the enum).
const KNOWN_KINDS: &[&str] = &[
    "group",
    "child",
    "child_removed",
    "staff",
    "staff_removed",
    "absence",
    "message",
    "parent_diary_entry",
    "attendance",
];

/// A kind this release does not know becomes [`ChangeKind::Unknown`]; a known
/// kind that does not parse is still an error.
impl<'de> Deserialize<'de> for Change {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            seq: i64,
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            data: serde_json::Value,
        }
        let raw = Raw::deserialize(d)?;
        if !KNOWN_KINDS.contains(&raw.kind.as_str()) {
            return Ok(Self {
                seq: raw.seq,
                kind: ChangeKind::Unknown,
            });
        }
        let mut tagged = serde_json::Map::new();
        tagged.insert("type".into(), serde_json::Value::String(raw.kind));
        tagged.insert("data".into(), raw.data);
        let kind = serde_json::from_value(serde_json::Value::Object(tagged))
            .map_err(serde::de::Error::custom)?;
        Ok(Self { seq: raw.seq, kind })
    }
}

/// What changed. Upserts carry the whole current state; removals only the id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "data")]
pub enum ChangeKind {
    Group(GroupInfo),
    Child(Child),
    /// The child no longer belongs to this group (placement ended or moved).
    ChildRemoved {
        id: ChildId,
    },
    Staff(Staff),
    StaffRemoved {
        id: StaffId,
    },
    Absence(Absence),
    Message(Message),
    ParentDiaryEntry(ParentDiaryEntry),
    /// An attendance event of today or yesterday (older ones are not sent).
    Attendance(AttendanceRecord),
    /// A kind of change a later server sends that this release does not know:
    /// skipped, so that a new kind never stops an older device's feed.
    #[serde(skip)]
    Unknown,
}

/// Day of the week of a planned day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// A child placed on the device's group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    pub id: ChildId,
    pub first_name: String,
    pub last_name: String,
    /// The device derives age and age group from this.
    pub birth_date: NaiveDate,
    pub photo_consent: PhotoConsent,
    /// Planned days on this group (the placement).
    pub planned_days: Vec<Weekday>,
    pub placement_start: NaiveDate,
    pub placement_end: Option<NaiveDate>,
    pub allergies: Option<String>,
    pub notes: Option<String>,
    /// Who may bring and pick up the child (its parents by name), for the
    /// check-in and check-out choice. Older servers send none.
    #[serde(default)]
    pub pickup: Vec<String>,
    /// Approved extra days on this group (from yesterday on): the child is
    /// expected on them. Older servers send none; older devices ignore it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_days: Vec<NaiveDate>,
    /// Planned days the parents cancelled (or gave up in a swap), from
    /// yesterday on: the child is not expected on them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancelled_days: Vec<NaiveDate>,
}

/// Role of a staff member on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Pedagogisch medewerker.
    Pedagogical,
    /// Locatiemanager: may open Beheer on the device.
    Manager,
}

/// A staff member who may unlock the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staff {
    pub id: StaffId,
    pub name: String,
    pub role: StaffRole,
    /// Argon2id PHC string of the PIN, so the device can unlock offline.
    pub pin_verifier: String,
}

/// Part of the day an absence covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartOfDay {
    WholeDay,
    Morning,
    Afternoon,
}

/// Why a child is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbsenceReason {
    Ziek,
    Vakantie,
    Anders,
}

/// An absence reported by a parent (or the organisation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Absence {
    pub id: AbsenceId,
    pub child_id: ChildId,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub part_of_day: PartOfDay,
    pub reason: AbsenceReason,
    pub note: Option<String>,
    /// A cancelled absence stays in the feed so the device can drop it.
    pub cancelled: bool,
}

/// Which conversation a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "thread")]
pub enum MessageThread {
    /// The thread between the group and the parents of one child.
    Child { child_id: ChildId },
    /// A message from the group to all parents of the group.
    Group,
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum MessageAuthor {
    Parent { id: ParentId, name: String },
    Staff { id: Option<StaffId>, name: String },
}

/// A message in a thread. Messages cannot be edited or deleted once sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub thread: MessageThread,
    pub author: MessageAuthor,
    pub body: String,
    /// Server time of arrival (never the device's clock).
    pub sent_at: DateTime<Utc>,
    /// When the group read it (for parent messages), by server time.
    pub read_by_group_at: Option<DateTime<Utc>>,
}

/// A diary entry written by a parent, for the group to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentDiaryEntry {
    pub id: DiaryEntryId,
    pub child_id: ChildId,
    pub parent_id: ParentId,
    pub parent_name: String,
    pub text: String,
    pub written_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_of_change_this_release_does_not_know_is_read_as_unknown() {
        let page: FeedPage = serde_json::from_str(
            r#"{"changes":[
                {"seq":1,"type":"rollout","data":{"release":"2.0","at":"2027-01-01T00:00:00Z"}},
                {"seq":2,"type":"staff_removed","data":{"id":"01900000-0000-7000-8000-000000000001"}}
            ],"cursor":2,"has_more":false}"#,
        )
        .expect("a page with a kind from a later server");
        assert_eq!(page.changes[0].kind, ChangeKind::Unknown);
        assert!(matches!(
            page.changes[1].kind,
            ChangeKind::StaffRemoved { .. }
        ));
        // a kind it knows that does not parse is an error, never skipped
        let broken = serde_json::from_str::<FeedPage>(
            r#"{"changes":[{"seq":1,"type":"staff_removed","data":{"id":"not-an-id"}}],
                "cursor":1,"has_more":false}"#,
        );
        assert!(broken.is_err());
    }

    #[test]
    fn every_kind_is_in_the_known_list() {
        let id = || uuid::Uuid::now_v7();
        let kinds = [
            ChangeKind::ChildRemoved { id: ChildId(id()) },
            ChangeKind::StaffRemoved { id: StaffId(id()) },
        ];
        for kind in kinds {
            let v = serde_json::to_value(Change { seq: 1, kind }).expect("json");
            let t = v.get("type").and_then(|t| t.as_str()).unwrap_or_default();
            assert!(KNOWN_KINDS.contains(&t), "{t}");
        }
        // the names of the other variants, as serde writes them
        for name in [
            "group",
            "child",
            "staff",
            "absence",
            "message",
            "parent_diary_entry",
            "attendance",
        ] {
            let err =
                serde_json::from_str::<ChangeKind>(&format!(r#"{{"type":"{name}","data":{{}}}}"#))
                    .expect_err("empty data");
            assert!(
                !err.to_string().contains("unknown variant"),
                "{name} is a variant: {err}"
            );
            assert!(KNOWN_KINDS.contains(&name));
        }
        assert_eq!(KNOWN_KINDS.len(), 9, "one per variant but Unknown");
    }
}

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
}

/// A change, with the server's sequence number for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub seq: i64,
    #[serde(flatten)]
    pub kind: ChangeKind,
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

//! Items the device pushes: `POST /api/v1/items` with the item's id in the
//! `Idempotency-Key` header. A retry with the same key gets the stored answer;
//! the same key with another body gets 422.

use crate::{
    AttendanceItem, Audience, ChildId, DiaryEntryId, MessageId, MessageThread, PhotoId,
    ReadReceiptId, StaffId, UploadId,
};
use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One pushed item. Its `id` is its idempotency key, minted once on the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PushItem {
    Photo(PhotoItem),
    Diary(StaffDiaryItem),
    Message(StaffMessageItem),
    ReadReceipt(ReadReceiptItem),
    Attendance(AttendanceItem),
    /// Any of the above, sealed to the server's key on the device
    /// ([`crate::seal`]); the server opens it before anything else.
    Sealed(crate::seal::SealedItem),
}

impl PushItem {
    /// The item's id, which must equal the `Idempotency-Key` header.
    pub fn id(&self) -> Uuid {
        match self {
            Self::Photo(p) => p.id.0,
            Self::Diary(d) => d.id.0,
            Self::Message(m) => m.id.0,
            Self::ReadReceipt(r) => r.id.0,
            Self::Attendance(a) => a.id.0,
            Self::Sealed(s) => s.id,
        }
    }

    /// A short name of the kind, for logs.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Photo(_) => "photo",
            Self::Diary(_) => "diary",
            Self::Message(_) => "message",
            Self::ReadReceipt(_) => "read_receipt",
            Self::Attendance(_) => "attendance",
            Self::Sealed(_) => "sealed",
        }
    }
}

/// A photo whose bytes were uploaded (tus) as `upload_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoItem {
    pub id: PhotoId,
    pub upload_id: UploadId,
    /// SHA-256 (hex) of the JPEG as the device stored it.
    pub sha256: String,
    pub tags: Vec<ChildId>,
    /// Staff confirmed "geen kinderen herkenbaar" (an activity photo).
    pub no_children_recognizable: bool,
    /// The audience the device showed before saving. The server decides again
    /// at every read with the consents of that moment.
    pub audience_shown: Audience,
    /// The device's clock when taken: informative only, never used for order.
    pub taken_at_device: DateTime<Utc>,
    pub staff_id: Option<StaffId>,
}

/// A diary entry by staff, for one child or several at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffDiaryItem {
    pub id: DiaryEntryId,
    pub children: Vec<ChildId>,
    pub text: String,
    /// Photos of today attached to the entry. The entry waits on the device
    /// until these have been pushed.
    pub photos: Vec<PhotoId>,
    pub baby: Option<BabyFields>,
    pub staff_id: Option<StaffId>,
    pub written_at_device: DateTime<Utc>,
}

/// Quick fields for babies, each one tap on the device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BabyFields {
    pub feedings: Vec<Feeding>,
    pub sleeps: Vec<Sleep>,
    pub nappies: Vec<Nappy>,
    pub mood: Option<Mood>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedingKind {
    /// Fles (bottle).
    Fles,
    /// Borstvoeding.
    Borst,
    /// Fruit, brood, warm eten...
    Eten,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feeding {
    pub kind: FeedingKind,
    pub amount_ml: Option<u32>,
    pub what: Option<String>,
    pub at: NaiveTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sleep {
    pub from: NaiveTime,
    pub to: Option<NaiveTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NappyKind {
    Droog,
    Nat,
    Poep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nappy {
    pub kind: NappyKind,
    pub at: NaiveTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mood {
    Blij,
    Rustig,
    Moe,
    Huilerig,
}

/// A message from the group, to one child's parents or to all parents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMessageItem {
    pub id: MessageId,
    pub thread: MessageThread,
    pub body: String,
    pub staff_id: Option<StaffId>,
}

/// The group has read a parent's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReceiptItem {
    pub id: ReadReceiptId,
    pub message_id: MessageId,
    pub staff_id: Option<StaffId>,
}

/// The server's answer to an accepted push (also replayed for retries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReceipt {
    pub item_id: Uuid,
    /// The group's change sequence at which the item was recorded.
    pub seq: i64,
    pub received_at: DateTime<Utc>,
    /// For photos: the SHA-256 the server verified, so the device may delete its copy.
    pub sha256: Option<String>,
}

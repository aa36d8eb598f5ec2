//! kring-protocol: the wire types spoken between the group-room device and the
//! central server.
//!
//! **Architecture Invariant:** this crate holds serde types and pure functions
//! only. It has no IO dependencies (no tokio, reqwest, axum, rusqlite), so both
//! ends can depend on it and nothing else is shared.
//!
//! Every request and response carries the API version in the
//! [`API_VERSION_HEADER`] header; a peer that speaks another version gets a
//! [`ErrorCode::ApiVersionMismatch`] error instead of a parse failure.

pub mod attendance;
mod consent;
pub mod day;
mod enroll;
mod error;
mod feed;
mod ids;
pub mod mqtt;
mod push;
pub mod seal;
pub mod update;
mod version;

pub use attendance::{AttendanceEvent, AttendanceItem, AttendanceRecord};
pub use consent::{Audience, ConsentedChild, HiddenReason, PhotoConsent, decide_audience};
pub use day::{Calendar, DEFAULT_TIME_ZONE, UnknownTimeZone};
pub use enroll::{EnrollRequest, EnrollResponse, GroupCare, GroupInfo, MqttConnectInfo};
pub use error::{ApiError, ErrorCode};
pub use feed::{
    Absence, AbsenceReason, Change, ChangeKind, Child, Cursor, FeedPage, Message, MessageAuthor,
    MessageThread, ParentDiaryEntry, PartOfDay, Staff, StaffRole, Weekday,
};
pub use ids::*;
pub use push::{
    BabyFields, Feeding, FeedingKind, Mood, Nappy, NappyKind, PhotoItem, PushItem, PushReceipt,
    ReadReceiptItem, Sleep, StaffDiaryItem, StaffMessageItem,
};
pub use seal::{SealError, SealKeys, SealTo, SealedItem};
pub use update::{InstallWindow, UpdateOffer, UpdateReport, UpdateState};
pub use version::{API_VERSION, API_VERSION_HEADER, VersionCheck, check_version};

/// Header that carries the idempotency key (the item's UUIDv7) on pushes.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// Optional header on every device request: the kiosk's app version (e.g. `0.3.1`).
/// The server shows it in the location admin's device list.
pub const APP_VERSION_HEADER: &str = "Kring-App-Version";
/// Optional header on every device request: how many items wait in the device's
/// outbox (a non-negative integer). Shown as "items waiting" in the device list.
pub const OUTBOX_PENDING_HEADER: &str = "Kring-Outbox-Pending";

/// Header with the appliance's release, as `<compatible> <version>` (e.g.
/// `kring-qemu-virt 2.0.0`): what the server matches update offers against.
/// Absent on a kiosk that does not run from an appliance image.
pub const RELEASE_HEADER: &str = "Kring-Release";

/// Upload metadata key (tus `Upload-Metadata`) carrying the photo's SHA-256 (hex).
pub const UPLOAD_META_SHA256: &str = "sha256";
/// Upload metadata key carrying the photo item id the upload belongs to.
pub const UPLOAD_META_PHOTO_ID: &str = "photo_id";

//! The storage seam: every read and write of the server's data goes through
//! the [`Store`] trait, one typed method per operation, grouped by data area.
//!
//! **Architecture Invariants:**
//! - Each method is one transaction. Invariants that must hold "in the same
//!   transaction" live inside the backend's method, never in a handler:
//!   a pushed item and its idempotency record are written together (a retry
//!   returns the first answer, another body under the same id is a
//!   [`StoreError::Conflict`]); every write a group's devices must learn about
//!   bumps the group's change sequence in the same transaction (strictly
//!   increasing per group); a code is marked used in the transaction that
//!   creates the device.
//! - Rows come back as named structs, errors as one domain type,
//!   [`StoreError`]. The HTTP layer maps it to statuses in one place
//!   (`crate::error`); storage code knows nothing about HTTP.
//! - SQL lives only in the backend ([`sqlite`]); no other module of the
//!   server uses `rusqlite`.
//! - Handlers never block: the SQLite backend runs every method on the
//!   blocking pool ([`sql::SqlStore`]); a second backend (PostgreSQL) implements
//!   the same trait and runs the `conformance` suite (crate feature).

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod sql;
#[cfg(feature = "conformance")]
pub mod testing;

use crate::device_api::devices::{AuthedDevice, DeviceReport, DeviceRow, EnrollmentCode};
use crate::org::{Changed, GroupChange, GroupKind, ImportRow, ParentRole};
use crate::portal::agenda::{
    AgendaRefusal, AgendaRules, BsoChild, CancelOutcome, ChildAgenda, ChildVacation, ClosedDay,
    DayRequestView, GroupRoster, NewDayRequest, NewVacationRequest, PlannedDay, RosterRefusal,
    VacationOutcome, VacationRefusal, VacationRequestView,
};
use crate::portal::news::{LocationDetails, LocationInfo, NewsDraft, NewsPost, SavedNews};
use crate::portal::notify::NewsRecipients;
use crate::portal::{
    AbsenceView, Account, ConsentChange, DiaryView, DocumentAudience, DocumentView, MessageView,
    MyChild, PhotoRow, Session, SessionTimes, Tenant, TimelineItem,
};
use chrono::{DateTime, NaiveDate, Utc};
use kring_protocol::attendance::Ordered;
use kring_protocol::{
    AbsenceId, AbsenceReason, AttendanceItem, Calendar, ChildId, Cursor, DeviceId, DiaryEntryId,
    ErrorCode, FeedPage, GroupCare, GroupId, GroupInfo, InstallWindow, LocationId, MessageId,
    OrganisationId, ParentId, PartOfDay, PhotoConsent, PushItem, ReleaseId, StaffId, StaffRole,
    UpdateOffer, UpdateReport, UpdateState, UploadId, Weekday,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use sql::SqlStore;

/// The database under the [`Store`] (SQLite or PostgreSQL): for the few
/// things that are not store operations (tests that inspect rows, see
/// `testing::TestSql`). Server code uses the [`Store`].
pub type Backend = sql::Db;

/// A store opened from the settings, with the database under it.
#[derive(Clone, Debug)]
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub backend: Backend,
}

/// Opens the store the settings name (creating and migrating the database
/// when needed): SQLite in `data_dir` by default, PostgreSQL when
/// `database.url` is set.
pub async fn open(settings: &crate::settings::Settings) -> Result<Opened, StoreError> {
    let db = match &settings.database.url {
        Some(url) => sql::Db::connect_postgres(url, settings.database.pool_size).await?,
        None => {
            let path = settings.db_path();
            tokio::task::spawn_blocking(move || sql::Db::open(&path))
                .await
                .map_err(|e| StoreError::backend(sql::DbError::Join(e.to_string())))??
        }
    };
    Ok(Opened {
        store: Arc::new(SqlStore::from_db(db.clone())),
        backend: db,
    })
}

/// What every store method returns: a boxed future that owns its arguments,
/// so a handler can await it without holding a borrow (and `dyn Store` works).
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'static>>;

/// Hashes a password or PIN (Argon2, tens of milliseconds) on the blocking
/// pool, bounded like every Argon2 call, before a backend takes a connection.
pub async fn hash_off_runtime(secret: String) -> Result<String, StoreError> {
    crate::org::hash_secret_bounded(secret)
        .await
        .map_err(StoreError::from)
}

/// A backend's own error, boxed so that [`StoreError`] names no backend type.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store operation did not do what was asked. The HTTP layer maps each
/// to one status (see `crate::error`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist (or is not visible to the asker).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The same id was already used for different content (an idempotency key
    /// reused for another item).
    #[error("{0}")]
    Conflict(String),
    /// Something with this id already exists.
    #[error("{0} already exists")]
    Duplicate(String),
    /// Refused because a child has no (or too narrow a) photo consent.
    #[error("{0}")]
    ConsentRefused(String),
    /// The request contradicts the stored truth (unknown child for the group,
    /// an upload that is not complete, a checksum that does not match, …).
    #[error("{message}")]
    Invalid { code: ErrorCode, message: String },
    /// The backend failed (I/O, corruption, a lost connection).
    #[error("storage backend: {0}")]
    Backend(#[source] BackendError),
}

impl StoreError {
    /// A validation failure (the most common [`StoreError::Invalid`]).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            code: ErrorCode::ValidationFailed,
            message: message.into(),
        }
    }

    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }
}

// ---- items -----------------------------------------------------------------

/// What a push did: the stored answer, and the group sequence to nudge
/// devices about when the group's feed changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    /// The HTTP status stored with the answer (200 for every stored item).
    pub status: u16,
    /// The receipt as JSON, byte for byte what the first push answered.
    pub body: String,
    /// The group and its new sequence when the feed changed (first push only).
    pub changed: Option<GroupChange>,
    /// True when this is a retry answered from the idempotency record.
    pub replayed: bool,
}

/// What a write created, and the groups whose feed changed (nudge them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created<Id> {
    pub id: Id,
    pub changed: Changed,
}

// ---- devices ---------------------------------------------------------------

/// A device made from an enrollment code.
#[derive(Debug, Clone)]
pub struct EnrolledDevice {
    pub id: DeviceId,
    /// The device's secret, shown once.
    pub secret: String,
    pub group: GroupInfo,
}

// ---- uploads ---------------------------------------------------------------

/// A new resumable upload.
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub id: UploadId,
    pub device: DeviceId,
    pub length: u64,
    /// The tus metadata as JSON.
    pub metadata_json: String,
    pub expected_sha256: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// How much one device may keep waiting on the server (`Store::create_upload`):
/// unfinished uploads (count and announced bytes) and complete ones no photo
/// took yet. A device sends one photo at a time; these stop a broken or hostile
/// one from filling the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadQuota {
    pub open: u32,
    pub open_bytes: u64,
    pub unused: u32,
}

/// One look at a child's data in the admin, or an export of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    pub org: OrganisationId,
    pub child: ChildId,
    pub staff: Option<StaffId>,
    pub staff_name: String,
    /// What was opened, in words ("gegevens bekeken").
    pub what: String,
    pub at: DateTime<Utc>,
}

/// What a retention run deleted (counts only: the log never names a child).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildDataExpired {
    /// Children whose data expired in this run.
    pub children: usize,
    pub photos: usize,
    pub diary_entries: usize,
    pub messages: usize,
    pub absences: usize,
    /// The deleted photos' files (originals and thumbnails).
    pub blob_keys: Vec<String>,
}

/// What an erasure deleted: a child's or parent's rows (by the retention
/// run, or by a manager on request). Counts only, and the files to delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erased {
    pub children: usize,
    pub parents: usize,
    pub photos: usize,
    pub diary_entries: usize,
    pub messages: usize,
    pub absences: usize,
    pub attendance: usize,
    pub documents: usize,
    pub placements: usize,
    /// Photo files (originals and thumbnails) in the blob store.
    pub blob_keys: Vec<String>,
    /// Archive files, relative to the data directory.
    pub archive_files: Vec<String>,
    /// The groups whose screens must forget the child (nudge them).
    pub changed: Changed,
}

impl Erased {
    /// The counts as JSON (the `erasures` record; no names).
    pub fn counts_json(&self) -> String {
        serde_json::json!({
            "kinderen": self.children,
            "ouders": self.parents,
            "fotos": self.photos,
            "dagboek": self.diary_entries,
            "berichten": self.messages,
            "afwezigheden": self.absences,
            "aanwezigheid": self.attendance,
            "documenten": self.documents,
            "plaatsingen": self.placements,
        })
        .to_string()
    }

    pub fn is_empty(&self) -> bool {
        self.children == 0 && self.parents == 0
    }
}

/// Everything kring holds about one child or parent (a manager's export,
/// inzageverzoek): the rows as JSON, and for a child its photos and diary.
#[derive(Debug, Clone)]
pub struct Export {
    /// The person's name (for the file name and the diary page only).
    pub name: String,
    /// Rows by table, in words (`kind`, `plaatsingen`, …).
    pub data: serde_json::Value,
    pub photos: Vec<ExportPhoto>,
    pub diary: Vec<ExportDiary>,
}

/// A photo in an export, with its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPhoto {
    pub id: kring_protocol::PhotoId,
    pub blob_key: String,
    pub taken_at: DateTime<Utc>,
}

/// A diary entry in an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportDiary {
    pub id: String,
    pub author: String,
    pub text: String,
    pub baby_json: Option<String>,
    pub written_at: DateTime<Utc>,
    pub photos: Vec<kring_protocol::PhotoId>,
}

/// One erasure as the manager sees it (no name of the person erased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureRow {
    /// `kind`, `ouder` or `bewaartermijn`.
    pub kind: String,
    pub by_name: String,
    pub at: DateTime<Utc>,
    /// The counts as JSON ([`Erased::counts_json`]).
    pub counts: String,
}

/// A child of a parent whose last placement has ended: its photos and diary
/// are kept until (and including) `keep_until`, then deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaving {
    pub child: ChildId,
    pub keep_until: NaiveDate,
}

/// The one mail a parent gets when their child's data period starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeavingNotice {
    pub child: ChildId,
    pub child_first_name: String,
    pub parent: ParentId,
    pub parent_name: String,
    pub email: String,
    pub org_name: String,
    pub org_slug: String,
    pub keep_until: NaiveDate,
}

/// An upload the sweep removed, with the stored files to delete (a complete
/// upload no photo took: its photo and thumbnail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweptUpload {
    pub id: UploadId,
    pub blob_keys: Vec<String>,
}

/// An upload as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    pub id: UploadId,
    pub device: DeviceId,
    pub length: u64,
    pub offset: u64,
    pub expected_sha256: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub completed: bool,
    pub failed_reason: Option<String>,
}

/// A finished upload's stored photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedUpload {
    pub sha256: String,
    pub blob_key: String,
    pub thumb_key: String,
    pub width: u32,
    pub height: u32,
}

// ---- organisation ----------------------------------------------------------

/// A new child, before placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildDetails {
    pub first_name: String,
    pub last_name: String,
    pub birth_date: NaiveDate,
    pub consent: PhotoConsent,
    pub allergies: Option<String>,
    pub notes: Option<String>,
}

/// A placement of a child on a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPlacement {
    pub child: ChildId,
    pub group: GroupId,
    pub days: Vec<Weekday>,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// A new staff member with a PIN, working on `groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStaff {
    pub org: OrganisationId,
    pub name: String,
    pub role: StaffRole,
    pub pin: String,
    pub groups: Vec<GroupId>,
}

/// A message a parent writes in a child's thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewParentMessage {
    pub group: GroupId,
    pub child: ChildId,
    pub parent: ParentId,
    pub parent_name: String,
    pub body: String,
}

// ---- portal ----------------------------------------------------------------

/// An account found by its login e-mail, with its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRow {
    pub account: Account,
    pub password_hash: String,
}

/// A fresh password-reset token, for the account it was made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetLink {
    pub account: Account,
    pub token: String,
}

/// A child's message thread as its parent sees it, oldest first.
#[derive(Debug, Clone)]
pub struct Thread {
    pub child: MyChild,
    pub messages: Vec<MessageView>,
}

/// Whether a parent gets e-mail for one kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationPref {
    /// One of [`crate::portal::NOTIFY_KINDS`].
    pub kind: &'static str,
    pub email: bool,
}

/// A diary entry a parent writes about their child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewParentDiary {
    pub group: GroupId,
    pub child: ChildId,
    pub parent: ParentId,
    pub parent_name: String,
    pub text: String,
}

/// An absence reported for a child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsenceReport {
    pub child: ChildId,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub part_of_day: PartOfDay,
    pub reason: AbsenceReason,
    pub note: Option<String>,
    pub reported_by: String,
}

// ---- location manager ------------------------------------------------------

/// What a group's id or name found (`Store::find_group`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupLookup {
    NotFound,
    Found(GroupId),
    /// Several groups carry the name: the caller must say which.
    Ambiguous(Vec<GroupCandidate>),
}

impl GroupLookup {
    /// The one group found, or an error that names the candidates.
    pub fn one(self, query: &str) -> Result<GroupId, String> {
        match self {
            Self::Found(id) => Ok(id),
            Self::NotFound => Err(format!("no group {query:?}")),
            Self::Ambiguous(all) => Err(format!(
                "{} groups are called {query:?}; name one as organisation/group or by id:\n{}",
                all.len(),
                all.iter()
                    .map(|g| format!(
                        "  {}/{}  ({}, {})",
                        g.organisation_slug, g.name, g.location, g.id
                    ))
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
        }
    }
}

/// One of several groups a name matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCandidate {
    pub id: GroupId,
    pub name: String,
    pub location: String,
    pub organisation_slug: String,
}

/// A group with today's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    pub id: GroupId,
    pub name: String,
    pub kind: GroupKind,
    pub age_from: i64,
    pub age_to: i64,
    /// Children with a placement current today.
    pub children: i64,
    pub staff: i64,
    /// Devices not revoked.
    pub devices: i64,
}

/// A group's id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupName {
    pub id: GroupId,
    pub name: String,
}

/// One placement of a child, as the manager sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementLine {
    pub group_name: String,
    /// Days as stored (`mon,wed`).
    pub days: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// A parent of a child, as the manager sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildParent {
    pub name: String,
    pub email: String,
    pub role: ParentRole,
}

/// A child of the organisation with all its placements and parents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildOverview {
    pub id: ChildId,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: NaiveDate,
    pub consent: PhotoConsent,
    pub allergies: Option<String>,
    pub placements: Vec<PlacementLine>,
    pub parents: Vec<ChildParent>,
}

/// A parent of the organisation with the names of their children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentOverview {
    pub id: ParentId,
    pub name: String,
    pub email: String,
    pub must_change_password: bool,
    pub children: Vec<String>,
}

/// A staff member of the organisation with their groups' names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffOverview {
    pub id: StaffId,
    pub name: String,
    pub role: StaffRole,
    /// Group names joined by `, ` (None without groups).
    pub groups: Option<String>,
}

/// A parent account made by an import, with the first password to mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogin {
    pub name: String,
    pub email: String,
    /// The single-use token of the link to choose a first password.
    pub token: String,
}

/// When the set-password links of an import's new parents are made and how
/// long they work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstPasswordLinks {
    pub now: DateTime<Utc>,
    pub valid: chrono::Duration,
}

/// What an import did, or why it did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportResult {
    Done(ImportOutcome),
    /// Some e-mail addresses belong to existing accounts under another name
    /// (one line each); nothing was written. Linking a child to such an
    /// account gives that account the child's photos and diary: the manager
    /// must confirm that it is the same person.
    NeedsConfirmation(Vec<String>),
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    /// One line per child added.
    pub lines: Vec<String>,
    pub logins: Vec<NewLogin>,
    pub changed: Changed,
}

// ---- attendance ------------------------------------------------------------

/// One childcare day in the organisation's calendar: the date, and its
/// moments in UTC from `from` up to (not including) `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaySpan {
    pub day: NaiveDate,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl DaySpan {
    /// `day` as `calendar` has it (23, 24 or 25 hours).
    pub fn of(calendar: &Calendar, day: NaiveDate) -> Self {
        let r = calendar.day_range(day);
        Self {
            day,
            from: r.start,
            until: r.end,
        }
    }
}

/// An attendance event as the server recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendanceRow {
    /// The group's change sequence given to it: the order of the day.
    pub seq: i64,
    /// The event as stored (`by` trimmed).
    pub item: AttendanceItem,
    pub received_at: DateTime<Utc>,
    /// The device that sent it (None once the device is gone).
    pub device_name: Option<String>,
}

impl AttendanceRow {
    /// The event in the server's order, for [`kring_protocol::attendance::Presence::fold`].
    pub fn ordered(&self) -> Ordered {
        Ordered {
            seq: Some(self.seq),
            local: 0,
            item: self.item.clone(),
        }
    }
}

/// A child as the attendance pages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayChild {
    pub id: ChildId,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: NaiveDate,
    /// Placed on the group on the day.
    pub placed: bool,
    /// Placed and planned on the day's weekday.
    pub planned: bool,
    /// Reported absent for the day by a parent (or the organisation), not
    /// cancelled: why, and for which part of the day.
    pub reported_absent: Option<(kring_protocol::AbsenceReason, kring_protocol::PartOfDay)>,
}

/// A staff member as the attendance pages name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayStaff {
    pub id: StaffId,
    pub name: String,
}

/// One group's attendance on one day, with the names its pages need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDay {
    pub group: GroupId,
    pub name: String,
    pub location: LocationId,
    pub location_name: String,
    pub care: GroupCare,
    pub span: DaySpan,
    /// Children placed on the group on the day, and every child an event names.
    pub children: Vec<DayChild>,
    /// Staff of the group, and every staff member an event names or was recorded by.
    pub staff: Vec<DayStaff>,
    /// The events whose `at` falls on the day, and the undos and corrections
    /// of those, in the server's order.
    pub events: Vec<AttendanceRow>,
}

// ---- updates ---------------------------------------------------------------

/// A bundle stored in the data directory, to record as a release of `org`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRelease {
    pub id: ReleaseId,
    pub org: OrganisationId,
    /// From the bundle's manifest.
    pub version: String,
    /// From the bundle's manifest.
    pub compatible: String,
    /// Lowercase hex.
    pub sha256: String,
    pub size: u64,
    /// Relative to the data directory (`releases/<id>.raucb`).
    pub file_name: String,
    pub uploaded_at: DateTime<Utc>,
    /// The manager who uploaded it; None: the admin CLI.
    pub uploaded_by: Option<StaffId>,
}

/// What [`Store::create_release`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseAdded {
    pub id: ReleaseId,
    /// False when the organisation had this bundle already (the same
    /// SHA-256): `id` is the release stored then, and the new copy of the
    /// file is not needed.
    pub new: bool,
}

/// A release as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRow {
    pub id: ReleaseId,
    pub org: OrganisationId,
    pub version: String,
    pub compatible: String,
    pub sha256: String,
    pub size: u64,
    pub file_name: String,
    pub uploaded_at: DateTime<Utc>,
}

/// A release with how its rollouts are going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSummary {
    pub release: ReleaseRow,
    /// How many rollouts name it.
    pub rollouts: u32,
    /// Devices offered it now that reported nothing about it yet.
    pub offered: u32,
    /// Devices per reported state (states without devices left out), in the
    /// order of [`UpdateState`].
    pub states: Vec<(UpdateState, u32)>,
}

/// Every update state, in the order they happen.
pub const UPDATE_STATES: [UpdateState; 8] = [
    UpdateState::Downloading,
    UpdateState::Downloaded,
    UpdateState::Installing,
    UpdateState::Installed,
    UpdateState::Running,
    UpdateState::Good,
    UpdateState::RolledBack,
    UpdateState::Failed,
];

/// After these a release is not offered to the device again (a rolled-back
/// release offered again would loop), until "Opnieuw proberen".
pub fn is_final(state: UpdateState) -> bool {
    matches!(
        state,
        UpdateState::Good | UpdateState::RolledBack | UpdateState::Failed
    )
}

/// Which devices a rollout covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutScope {
    Device(DeviceId),
    Group(GroupId),
    Location(LocationId),
    /// Every device of the release's organisation.
    Organisation,
}

/// "Offer this release to these devices".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRollout {
    pub release: ReleaseId,
    pub scope: RolloutScope,
    /// None: install at any time.
    pub window: Option<InstallWindow>,
    pub created_at: DateTime<Utc>,
    /// The manager who made it; None: the admin CLI.
    pub created_by: Option<StaffId>,
    /// True when the caller nudges the covered devices itself (the portal);
    /// false leaves that to the running server's housekeeping
    /// ([`Store::pending_rollout_nudges`]; the admin CLI has no broker).
    pub nudged: bool,
}

/// A device to ring, with its group's sequence for the nudge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceNudge {
    pub device: DeviceId,
    pub seq: i64,
}

/// What [`Store::create_rollout`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutCreated {
    pub id: uuid::Uuid,
    /// The active devices the rollout covers (nudge them).
    pub devices: Vec<DeviceNudge>,
}

/// Where a device stands with the update that concerns it now: the release
/// it is offered, or else the one it last reported on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceUpdate {
    pub device: DeviceId,
    pub release: ReleaseId,
    pub version: String,
    pub size: u64,
    /// None: offered, nothing reported yet.
    pub state: Option<UpdateState>,
    pub detail: Option<String>,
    /// The last report.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A location's groups on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationDay {
    pub id: LocationId,
    pub name: String,
    pub groups: Vec<GroupDay>,
}

/// A location's id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationName {
    pub id: LocationId,
    pub name: String,
}

/// The attendance events of a day about one of a parent's children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildAttendance {
    pub child: ChildId,
    /// Events about the child and the undos of them (nothing of other
    /// children), in the server's order.
    pub events: Vec<AttendanceRow>,
}

// ---- archives --------------------------------------------------------------

/// What [`Store::request_archive`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveRequested {
    pub id: uuid::Uuid,
    /// False when an earlier request of the parent for the child is still
    /// being built or ready to download: that one's id, nothing new.
    pub new: bool,
}

/// A parent's request for an archive of their child, as a builder claimed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveJob {
    pub id: uuid::Uuid,
    pub org: OrganisationId,
    pub parent: ParentId,
    pub child: ChildId,
}

/// What goes into a parent's archive: exactly what the parent may see now.
#[derive(Debug, Clone)]
pub struct ArchiveContents {
    pub child: MyChild,
    pub parent_name: String,
    pub parent_email: String,
    pub org_name: String,
    pub org_slug: String,
    /// The organisation's calendar (the times written in the archive).
    pub calendar: Calendar,
    /// Photos and diary entries, oldest first: the timeline's rule
    /// (`Store::timeline`), every page of it.
    pub items: Vec<TimelineItem>,
    /// Every photo of `items` (alone, or of a diary entry the parent sees),
    /// with its file.
    pub photos: Vec<PhotoRow>,
    /// The messages about the child and the group messages of its groups,
    /// while it was placed there, oldest first.
    pub messages: Vec<MessageView>,
}

/// Where a parent's archive request stands (the portal's notice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveState {
    /// Asked for, not built yet.
    Waiting,
    /// Built; the link works until then.
    Ready {
        expires_at: DateTime<Utc>,
    },
    Downloaded,
    Expired,
    Failed,
}

/// A parent's archive request of one child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveStatus {
    pub id: uuid::Uuid,
    pub child: ChildId,
    pub requested_at: DateTime<Utc>,
    pub state: ArchiveState,
}

/// How a download is asked for: the mail's link, or the portal's button of
/// a logged-in parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveKey {
    Token(String),
    Parent { parent: ParentId, id: uuid::Uuid },
}

/// What a download found. `Ready` is the one use of the link: the request is
/// marked downloaded in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveFetch {
    Unknown,
    Used,
    Expired,
    /// Something changed since it was built (a consent withdrawn, a
    /// placement's period over): it holds a photo the parent may not see
    /// now. The request is made again (`Store::claim_archive` takes it).
    Stale,
    Ready {
        /// Relative to the data directory.
        file_name: String,
        child_first_name: String,
    },
}

/// The server's storage. See the module documentation for the invariants;
/// `conformance` (crate feature `conformance`) holds the contract every
/// backend must pass.
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    // -- items
    /// Applies `item` for `device` exactly once (its id is the idempotency key).
    /// A retry with the same body returns the first answer with `replayed`;
    /// another body under the same id is a [`StoreError::Conflict`].
    fn push_item(
        &self,
        device: AuthedDevice,
        item: PushItem,
        now: DateTime<Utc>,
    ) -> StoreFuture<PushOutcome>;

    // -- feed
    /// One page of the group's feed after `since` (at most `limit` changes),
    /// with every entity as it is now (consent and placements read at read time).
    fn feed_page(
        &self,
        group: GroupId,
        since: Cursor,
        limit: u32,
        today: NaiveDate,
    ) -> StoreFuture<FeedPage>;
    /// The group with its location and organisation.
    fn group_info(&self, group: GroupId) -> StoreFuture<Option<GroupInfo>>;
    /// Finds a group by id, `organisation-slug/name` or name; a name several
    /// groups carry is ambiguous, never the first one found.
    fn find_group(&self, query: String) -> StoreFuture<GroupLookup>;

    // -- devices
    /// A single-use enrollment code for `group`, valid for `ttl`.
    fn create_enrollment_code(
        &self,
        group: GroupId,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> StoreFuture<EnrollmentCode>;
    /// Trades a code for a new device; the code works once.
    /// An unknown, used or expired code is [`StoreError::NotFound`].
    fn enroll_device(
        &self,
        code: String,
        name: String,
        app_version: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<EnrolledDevice>;
    /// The (not revoked) device whose secret this is; records that it was seen
    /// and what it reported.
    fn authenticate_device(
        &self,
        secret: String,
        report: DeviceReport,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<AuthedDevice>>;
    /// True when `device` exists, is not revoked and `password` is its MQTT
    /// password (`kring_protocol::mqtt::password`; the API secret is refused).
    fn check_mqtt_password(&self, device: DeviceId, password: String) -> StoreFuture<bool>;
    /// Records the device's MQTT presence.
    fn set_device_online(
        &self,
        device: DeviceId,
        online: bool,
        now: DateTime<Utc>,
    ) -> StoreFuture<()>;
    /// Revokes a device; false when unknown or already revoked.
    fn revoke_device(&self, device: DeviceId, now: DateTime<Utc>) -> StoreFuture<bool>;
    /// Active (not revoked) devices of a group.
    fn active_devices_of_group(&self, group: GroupId) -> StoreFuture<Vec<DeviceId>>;
    /// Every revoked device.
    fn revoked_devices(&self) -> StoreFuture<Vec<DeviceId>>;
    /// Devices, of one organisation or (None) of all.
    fn list_devices(&self, org: Option<OrganisationId>) -> StoreFuture<Vec<DeviceRow>>;
    /// The organisation of a device (by its id as text), if the device exists.
    fn device_organisation(&self, device: String) -> StoreFuture<Option<String>>;

    // -- organisation (every write a device must see bumps its group's sequence)
    /// A new organisation; its slug (the portal's subdomain) is unique.
    fn create_organisation(&self, slug: String, name: String) -> StoreFuture<OrganisationId>;
    fn create_location(&self, org: OrganisationId, name: String) -> StoreFuture<LocationId>;
    /// A new group (its feed starts with the group itself).
    fn create_group(
        &self,
        location: LocationId,
        name: String,
        kind: GroupKind,
        ages: (u8, u8),
    ) -> StoreFuture<GroupId>;
    fn create_child(&self, org: OrganisationId, child: ChildDetails) -> StoreFuture<ChildId>;
    /// Places a child on a group; the group's devices learn of the child.
    fn place_child(&self, placement: NewPlacement) -> StoreFuture<Changed>;
    /// A staff member; every group of theirs learns of them.
    fn create_staff(&self, staff: NewStaff) -> StoreFuture<Created<StaffId>>;
    /// A parent account (the password must be changed at first login).
    fn create_parent(
        &self,
        org: OrganisationId,
        email: String,
        name: String,
        password: String,
    ) -> StoreFuture<ParentId>;
    fn link_parent(&self, child: ChildId, parent: ParentId, role: ParentRole) -> StoreFuture<()>;
    /// Whether the parent must choose a new password at the next login.
    fn set_must_change_password(&self, parent: ParentId, must_change: bool) -> StoreFuture<()>;
    /// The portal language the account chose (None: never chose).
    fn account_language(
        &self,
        kind: crate::portal::UserKind,
        id: uuid::Uuid,
    ) -> StoreFuture<Option<crate::portal::i18n::Lang>>;
    /// Saves the portal language of an account (the switch on every page).
    fn set_account_language(
        &self,
        kind: crate::portal::UserKind,
        id: uuid::Uuid,
        lang: crate::portal::i18n::Lang,
    ) -> StoreFuture<()>;
    /// Gives a staff member a portal login (a location manager's).
    fn set_staff_login(
        &self,
        staff: StaffId,
        email: String,
        password: String,
        must_change: bool,
    ) -> StoreFuture<()>;
    /// Sets a child's photo consent (kept in its history); every group of the
    /// child learns of it.
    fn set_consent(
        &self,
        child: ChildId,
        consent: PhotoConsent,
        changed_by: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<Changed>;
    /// A parent's message in a child's thread.
    fn parent_message(
        &self,
        message: NewParentMessage,
        now: DateTime<Utc>,
    ) -> StoreFuture<Created<MessageId>>;

    // -- portal: organisations by host, accounts, sessions, reset tokens
    fn tenant_by_slug(&self, slug: String) -> StoreFuture<Option<Tenant>>;
    /// The account with this e-mail in `org` (parents first, then managers
    /// with a password), with its password hash.
    fn find_login(&self, org: OrganisationId, email: String) -> StoreFuture<Option<LoginRow>>;
    fn password_hash(&self, account: Account) -> StoreFuture<Option<String>>;
    /// Stores a new password hash, clears the forced change and ends every
    /// session of the account but `keep_session`.
    fn set_password(
        &self,
        account: Account,
        hash: String,
        keep_session: Option<String>,
    ) -> StoreFuture<()>;
    /// Ends `previous` (if any) and starts a new session; returns its token.
    fn start_session(
        &self,
        account: Account,
        previous: Option<String>,
        now: DateTime<Utc>,
        times: SessionTimes,
    ) -> StoreFuture<String>;
    /// The live session of `token` in `org`: None when unknown, of another
    /// organisation, or expired (idle or absolute; an expired one is deleted).
    fn load_session(
        &self,
        org: OrganisationId,
        token: String,
        now: DateTime<Utc>,
        times: SessionTimes,
    ) -> StoreFuture<Option<Session>>;
    fn delete_session(&self, token: String) -> StoreFuture<()>;
    /// Removes expired sessions and old reset tokens; returns how many sessions went.
    fn sweep_sessions(&self, now: DateTime<Utc>, times: SessionTimes) -> StoreFuture<usize>;
    /// A single-use reset token for the account with this e-mail, if any.
    fn create_reset(
        &self,
        org: OrganisationId,
        email: String,
        now: DateTime<Utc>,
        valid: chrono::Duration,
    ) -> StoreFuture<Option<ResetLink>>;
    /// The account of an unused, unexpired reset token of `org` (not used up).
    fn check_reset(
        &self,
        org: OrganisationId,
        token: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Account>>;
    /// Uses the reset token and sets the new password hash, in one transaction.
    fn reset_password(
        &self,
        org: OrganisationId,
        token: String,
        hash: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Account>>;

    // -- portal: what a parent sees (None both when missing and when not theirs)
    fn parent_children(&self, parent: ParentId, today: NaiveDate) -> StoreFuture<Vec<MyChild>>;
    fn my_child(
        &self,
        parent: ParentId,
        child: ChildId,
        today: NaiveDate,
    ) -> StoreFuture<Option<MyChild>>;
    /// The photo when the parent may see it now (consents of now, placements of today).
    fn photo_for_parent(
        &self,
        parent: ParentId,
        photo: String,
        today: NaiveDate,
    ) -> StoreFuture<Option<PhotoRow>>;
    fn diary_for_parent(
        &self,
        parent: ParentId,
        entry: String,
        today: NaiveDate,
    ) -> StoreFuture<Option<DiaryView>>;
    /// Photos and diary entries of the parent's children (or `only` one),
    /// newest first, at most `limit`, older than `before` when given.
    fn timeline(
        &self,
        parent: ParentId,
        only: Option<ChildId>,
        today: NaiveDate,
        limit: usize,
        before: Option<DateTime<Utc>>,
    ) -> StoreFuture<Vec<TimelineItem>>;
    fn thread_for_parent(
        &self,
        parent: ParentId,
        child: ChildId,
        today: NaiveDate,
    ) -> StoreFuture<Option<Thread>>;
    fn message_for_parent(
        &self,
        parent: ParentId,
        message: String,
        today: NaiveDate,
    ) -> StoreFuture<Option<MessageView>>;
    fn absences_of(&self, child: ChildId) -> StoreFuture<Vec<AbsenceView>>;
    fn consent_history(&self, child: ChildId) -> StoreFuture<Vec<ConsentChange>>;
    /// Records that someone opened or exported a child's data.
    fn record_access(&self, entry: AccessEntry) -> StoreFuture<()>;
    /// The child's access log in the organisation, newest first, at most `limit`.
    fn access_log(
        &self,
        org: OrganisationId,
        child: ChildId,
        limit: u32,
    ) -> StoreFuture<Vec<AccessEntry>>;
    fn notification_prefs(&self, parent: ParentId) -> StoreFuture<Vec<NotificationPref>>;
    fn set_notification_prefs(
        &self,
        parent: ParentId,
        prefs: Vec<NotificationPref>,
    ) -> StoreFuture<()>;
    fn documents_for_parent(&self, child: MyChild) -> StoreFuture<Vec<DocumentView>>;
    fn document_for_parent(
        &self,
        parent: ParentId,
        document: String,
        today: NaiveDate,
    ) -> StoreFuture<Option<DocumentView>>;
    fn create_document(
        &self,
        child: ChildId,
        title: String,
        body: String,
        audience: DocumentAudience,
        now: DateTime<Utc>,
    ) -> StoreFuture<String>;

    // -- news, newsletters and Mijn locatie (`portal::news`)
    /// The posts `parent` may read (organisation-wide, and of the locations of
    /// their children's placements that have not ended by `today`), newest first.
    fn news_for_parent(&self, parent: ParentId, today: NaiveDate) -> StoreFuture<Vec<NewsPost>>;
    /// One post, or `None` when it does not exist or the parent may not read it.
    fn news_post_for_parent(
        &self,
        parent: ParentId,
        id: String,
        today: NaiveDate,
    ) -> StoreFuture<Option<NewsPost>>;
    /// The organisation's posts (manager), newest first.
    fn news_of_org(&self, org: OrganisationId) -> StoreFuture<Vec<NewsPost>>;
    fn news_post(&self, org: OrganisationId, id: String) -> StoreFuture<Option<NewsPost>>;
    /// Creates (`id` None) or updates a post; `None` when the post or its
    /// location is not the organisation's.
    fn save_news(
        &self,
        org: OrganisationId,
        id: Option<String>,
        draft: NewsDraft,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<SavedNews>>;
    /// Deletes a post; the blob keys it used (`None`: not the organisation's).
    fn delete_news(&self, org: OrganisationId, id: String) -> StoreFuture<Option<Vec<String>>>;
    /// Mijn locatie: the locations of the parent's children.
    fn locations_for_parent(
        &self,
        parent: ParentId,
        today: NaiveDate,
    ) -> StoreFuture<Vec<LocationInfo>>;
    /// Every location of the organisation with its details, team and pages.
    fn location_infos(&self, org: OrganisationId) -> StoreFuture<Vec<LocationInfo>>;
    /// False when the location is not the organisation's.
    fn set_location_details(
        &self,
        org: OrganisationId,
        location: LocationId,
        details: LocationDetails,
    ) -> StoreFuture<bool>;
    fn add_location_page(
        &self,
        org: OrganisationId,
        location: LocationId,
        title: String,
        body: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<String>>;
    fn delete_location_page(&self, org: OrganisationId, page: String) -> StoreFuture<bool>;
    /// A new title and text for an information page; false when the page
    /// is not the organisation's.
    fn update_location_page(
        &self,
        org: OrganisationId,
        page: String,
        title: String,
        body: String,
    ) -> StoreFuture<bool>;
    /// Sets (`Some`: with the staff member's consent, recorded now) or removes
    /// a staff photo; `None` when the staff member is not the organisation's,
    /// else the blob key no longer used.
    fn set_staff_photo(
        &self,
        org: OrganisationId,
        staff: StaffId,
        key: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Option<String>>>;
    /// A shared staff photo's key, if the staff member works at a location
    /// of one of the parent's children.
    fn staff_photo_for_parent(
        &self,
        parent: ParentId,
        staff: StaffId,
        today: NaiveDate,
    ) -> StoreFuture<Option<String>>;
    /// A staff photo's key, for the manager's own organisation.
    fn staff_photo(&self, org: OrganisationId, staff: StaffId) -> StoreFuture<Option<String>>;
    /// Who hears about a new post: parents who may read it and want e-mail for news.
    fn news_recipients(
        &self,
        id: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<NewsRecipients>>;

    // -- portal: what a parent writes (each bumps the groups' sequences)
    fn parent_diary(
        &self,
        entry: NewParentDiary,
        now: DateTime<Utc>,
    ) -> StoreFuture<Created<DiaryEntryId>>;
    fn report_absence(
        &self,
        absence: AbsenceReport,
        now: DateTime<Utc>,
    ) -> StoreFuture<Created<AbsenceId>>;
    /// Cancels the absence when it is of the parent's child (None otherwise);
    /// an absence already cancelled or past changes nothing.
    fn cancel_absence_for_parent(
        &self,
        parent: ParentId,
        absence: AbsenceId,
        today: NaiveDate,
    ) -> StoreFuture<Option<Changed>>;
    /// Sets the consent when `child` is the parent's (None otherwise); the
    /// same consent again changes nothing.
    fn set_consent_by_parent(
        &self,
        parent: ParentId,
        parent_name: String,
        child: ChildId,
        consent: PhotoConsent,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Changed>>;

    // -- location manager (everything scoped to one organisation)
    fn group_summaries(
        &self,
        org: OrganisationId,
        today: NaiveDate,
    ) -> StoreFuture<Vec<GroupSummary>>;
    /// The organisation's groups, by name.
    fn org_groups(&self, org: OrganisationId) -> StoreFuture<Vec<GroupName>>;
    /// Children of the organisation, or only the one with id `only`.
    fn child_overviews(
        &self,
        org: OrganisationId,
        only: Option<String>,
    ) -> StoreFuture<Vec<ChildOverview>>;
    fn parent_overviews(&self, org: OrganisationId) -> StoreFuture<Vec<ParentOverview>>;
    fn staff_overviews(&self, org: OrganisationId) -> StoreFuture<Vec<StaffOverview>>;
    fn staff_in_org(&self, staff: StaffId, org: OrganisationId) -> StoreFuture<bool>;
    /// A new PIN for a staff member; every group of theirs learns the verifier.
    fn reset_pin(&self, staff: StaffId, pin: String) -> StoreFuture<Changed>;
    /// Adds the checked rows of a CSV import in one transaction (all or nothing).
    fn import_children(
        &self,
        org: OrganisationId,
        rows: Vec<ImportRow>,
        links: FirstPasswordLinks,
        confirmed_links: bool,
    ) -> StoreFuture<ImportResult>;

    // -- attendance (pushed through `push_item`; these are the reads)
    /// The organisation's locations, by name.
    fn org_locations(&self, org: OrganisationId) -> StoreFuture<Vec<LocationName>>;
    /// The location's groups (by name) with their attendance of `span`; None
    /// when the location is not the organisation's.
    fn location_day(
        &self,
        org: OrganisationId,
        location: LocationId,
        span: DaySpan,
    ) -> StoreFuture<Option<LocationDay>>;
    /// One group's attendance of `span`; None when the group is not the
    /// organisation's.
    fn group_day(
        &self,
        org: OrganisationId,
        group: GroupId,
        span: DaySpan,
    ) -> StoreFuture<Option<GroupDay>>;
    /// For each of the parent's own children (none of another family): the
    /// events of `span` about the child, with the undos of those.
    fn attendance_for_parent(
        &self,
        parent: ParentId,
        span: DaySpan,
    ) -> StoreFuture<Vec<ChildAttendance>>;

    // -- updates (releases, rollouts, offers, device reports)
    /// Finds an organisation by id, slug or (case-insensitive) name; a name
    /// that two organisations share is [`StoreError::Invalid`].
    fn find_organisation(&self, id_or_name: String) -> StoreFuture<Option<OrganisationId>>;
    /// Records a stored bundle as a release; the same bundle (SHA-256) twice
    /// in one organisation is one release.
    fn create_release(&self, release: NewRelease) -> StoreFuture<ReleaseAdded>;
    fn release(&self, id: ReleaseId) -> StoreFuture<Option<ReleaseRow>>;
    /// Releases of one organisation (or all), newest first, with their
    /// device counts per state.
    fn releases(&self, org: Option<OrganisationId>) -> StoreFuture<Vec<ReleaseSummary>>;
    /// Rolls `rollout.release` out. The release and the scope's device,
    /// group or location must be of `org` ([`StoreError::NotFound`] otherwise).
    fn create_rollout(
        &self,
        org: OrganisationId,
        rollout: NewRollout,
    ) -> StoreFuture<RolloutCreated>;
    /// The devices of rollouts no one nudged yet (made by the CLI), each
    /// once; marks those rollouts nudged.
    fn pending_rollout_nudges(&self, now: DateTime<Utc>) -> StoreFuture<Vec<DeviceNudge>>;
    /// The release offered to `device` now: of the newest rollout covering it
    /// (the device, its group, location or organisation) for the compatible
    /// of its last `Kring-Release`; none without a reported release, when it
    /// runs that version already, or when it reported `good`, `rolled_back`
    /// or `failed` for it.
    fn update_offer(&self, device: DeviceId) -> StoreFuture<Option<UpdateOffer>>;
    /// The release's file when it is what `device` is offered now.
    fn offered_bundle(
        &self,
        device: DeviceId,
        release: ReleaseId,
    ) -> StoreFuture<Option<ReleaseRow>>;
    /// Stores what `device` reports about a release that was rolled out to it
    /// ([`StoreError::NotFound`] for any other). The same report twice
    /// changes nothing; a late report of an earlier step never overwrites
    /// `good`, `rolled_back` or `failed`. `running` and `good` also make the
    /// release the device's own (when its compatible matches).
    fn report_update(
        &self,
        device: DeviceId,
        report: UpdateReport,
        now: DateTime<Utc>,
    ) -> StoreFuture<()>;
    /// Per device of the organisation (not revoked): the update that
    /// concerns it now, if any.
    fn device_updates(&self, org: OrganisationId) -> StoreFuture<Vec<DeviceUpdate>>;
    /// "Opnieuw proberen": forgets that `device` (of `org`) failed or rolled
    /// back `release`, so it is offered again. None when there was no such
    /// state (or the device is not the organisation's).
    fn retry_update(
        &self,
        org: OrganisationId,
        device: DeviceId,
        release: ReleaseId,
    ) -> StoreFuture<Option<DeviceNudge>>;

    // -- demo
    /// Loads the demo organisation (see [`crate::demo`]) in one transaction;
    /// None when it is there already.
    fn load_demo(&self, today: NaiveDate) -> StoreFuture<Option<crate::demo::DemoSummary>>;
    /// The demo's photos (their bytes into `blobs`); returns how many.
    fn load_demo_photos(
        &self,
        blobs: std::sync::Arc<dyn crate::blob::BlobStore>,
        now: DateTime<Utc>,
    ) -> StoreFuture<usize>;

    // -- notifications
    /// Who hears about `event` by e-mail: parents who want e-mail for its
    /// kind and may see it now (consents of now). None when the event is
    /// unknown or not sent by staff.
    fn notification_recipients(
        &self,
        event: crate::portal::notify::Event,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<crate::portal::notify::Recipients>>;

    // -- the keys devices seal to
    /// The server's seal keys (age identities), current first. When there
    /// is none yet, `candidate` becomes generation 1 (of processes starting
    /// together, one wins and all get its key).
    fn seal_keys(&self, candidate: String, now: DateTime<Utc>) -> StoreFuture<Vec<String>>;

    // -- uploads
    // -- archives (a parent's download of everything of their own child)
    /// Asks for an archive of `child` for `parent`; None when the child is
    /// not the parent's. An earlier request still waiting or ready is
    /// answered instead of a new one.
    fn request_archive(
        &self,
        parent: ParentId,
        child: ChildId,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<ArchiveRequested>>;
    /// Takes the oldest request no one builds (never claimed, or claimed
    /// before `stale_before` by a builder that died): one process gets it.
    fn claim_archive(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreFuture<Option<ArchiveJob>>;
    /// What the parent of `job` may see of the child now (None when the
    /// child or parent is gone, or no longer linked).
    fn archive_contents(
        &self,
        job: ArchiveJob,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<ArchiveContents>>;
    /// Records the built file and makes its single-use link, valid for
    /// `valid`: returns the token (only its hash is stored); None when
    /// another builder finished it first (then this file is not needed).
    fn finish_archive(
        &self,
        id: uuid::Uuid,
        file_name: String,
        size: u64,
        photos: Vec<kring_protocol::PhotoId>,
        now: DateTime<Utc>,
        valid: chrono::Duration,
    ) -> StoreFuture<Option<String>>;
    fn fail_archive(&self, id: uuid::Uuid, now: DateTime<Utc>) -> StoreFuture<()>;
    /// The archive of `key` in `org`, used up by this call when `Ready`:
    /// only when every photo in it is one the parent may see now (else
    /// `Stale`, and a new request in its place).
    fn fetch_archive(
        &self,
        org: OrganisationId,
        key: ArchiveKey,
        now: DateTime<Utc>,
    ) -> StoreFuture<ArchiveFetch>;
    /// The parent's latest request per child (requested in the last 30 days).
    fn archives_of(&self, parent: ParentId, now: DateTime<Utc>) -> StoreFuture<Vec<ArchiveStatus>>;
    /// The files of archives downloaded, expired or failed, each once: the
    /// caller deletes them (marked removed here).
    fn sweep_archives(&self, now: DateTime<Utc>) -> StoreFuture<Vec<String>>;

    // -- periodic jobs, once across server processes
    /// True when this process may run job `name` now: its last run (by any
    /// process sharing the database) is at least `every` ago. Claiming
    /// moves the next run to `now + every`; of two processes claiming at
    /// once, one gets true.
    fn claim_job(
        &self,
        name: String,
        now: DateTime<Utc>,
        every: chrono::Duration,
    ) -> StoreFuture<bool>;

    /// Creates the upload, unless the device already has as many open
    /// (unfinished, not expired) or unused (complete, no photo took it)
    /// uploads as `quota` allows: then `Invalid` with `ErrorCode::RateLimited`.
    fn create_upload(&self, upload: NewUpload, quota: UploadQuota) -> StoreFuture<()>;
    /// Stores `bytes` as the part of the upload that starts at `at` and
    /// moves its offset past them, when the offset is still `at` and the
    /// upload is neither complete nor failed. False when it was not (another
    /// request, perhaps of another process, moved it): nothing is stored.
    fn append_upload_part(&self, id: UploadId, at: u64, bytes: Vec<u8>) -> StoreFuture<bool>;
    /// The upload's stored parts, in order, as one byte string (its first
    /// `offset` bytes).
    fn upload_bytes(&self, id: UploadId) -> StoreFuture<Vec<u8>>;
    /// Moves an unfinished upload back to `offset` (a PATCH that turned out
    /// bad), dropping the parts stored past it.
    fn rewind_upload(&self, id: UploadId, offset: u64) -> StoreFuture<()>;
    fn upload(&self, id: UploadId) -> StoreFuture<Option<UploadRow>>;
    /// Moves the offset (after the bytes are durable).
    fn set_upload_offset(&self, id: UploadId, offset: u64) -> StoreFuture<()>;
    /// Marks the upload refused, with the reason.
    fn fail_upload(&self, id: UploadId, reason: String) -> StoreFuture<()>;
    /// Marks the upload complete with its stored photo.
    fn complete_upload(
        &self,
        id: UploadId,
        photo: CompletedUpload,
        now: DateTime<Utc>,
    ) -> StoreFuture<()>;
    /// Records a feed change of each child whose placement ended before
    /// `today` and was not announced yet, for that group: its screen then
    /// forgets the child and its absences. Returns the groups to nudge.
    fn announce_ended_placements(
        &self,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Changed>;
    /// The parents to tell, once each, that their child's last placement
    /// ended before `today` and until when its photos and diary are kept:
    /// recorded as sent in the same transaction (never twice).
    fn leaving_notices(
        &self,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Vec<LeavingNotice>>;
    /// The parent's children whose last placement ended before `today` and
    /// whose photos and diary are still kept (the portal's banner).
    fn leaving_children(&self, parent: ParentId, today: NaiveDate) -> StoreFuture<Vec<Leaving>>;
    /// Everything about the organisation's child (None: not theirs).
    fn export_child(&self, org: OrganisationId, child: ChildId) -> StoreFuture<Option<Export>>;
    /// Everything about the organisation's parent (None: not theirs).
    fn export_parent(&self, org: OrganisationId, parent: ParentId) -> StoreFuture<Option<Export>>;
    /// Erases the organisation's child now with everything of it (the
    /// retention run's deletion) and records who did it (None: not theirs).
    fn erase_child_now(
        &self,
        org: OrganisationId,
        child: ChildId,
        by: StaffId,
        by_name: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Erased>>;
    /// Erases the organisation's parent account now (the children stay) and
    /// records who did it (None: not theirs).
    fn erase_parent_now(
        &self,
        org: OrganisationId,
        parent: ParentId,
        by: StaffId,
        by_name: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Erased>>;
    /// The organisation's erasures, newest first, at most `limit`.
    fn erasures(&self, org: OrganisationId, limit: u32) -> StoreFuture<Vec<ErasureRow>>;
    /// Retention, the rest: deletes every child whose last placement ended
    /// more than its organisation's `portal_access_months` before `today`
    /// (with everything of it, see `store/sql/retention.rs`), then the parent
    /// accounts that no child is left for. Idempotent; one `erasures` record
    /// per organisation that lost anyone.
    fn expire_accounts(&self, today: NaiveDate, now: DateTime<Utc>) -> StoreFuture<Erased>;
    /// Retention: deletes the messages, absences, diary entries and photos of
    /// children whose last placement ended more than their organisation's
    /// `child_data_weeks` before `today` (a photo or entry about several
    /// children when none of them is kept); returns the counts and the photo
    /// files to delete. Idempotent.
    fn expire_child_data(
        &self,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<ChildDataExpired>;
    /// Deletes unfinished uploads that expired before `now`, and complete
    /// uploads that no photo took and that completed before `unused_before`;
    /// returns them with their stored files to delete. A push that takes an
    /// upload and this sweep never both succeed.
    fn sweep_expired_uploads(
        &self,
        now: DateTime<Utc>,
        unused_before: DateTime<Utc>,
    ) -> StoreFuture<Vec<SweptUpload>>;

    // -- agenda (issue 16): rules, requests, swaps, cancelled days, tegoed
    /// The organisation's rules (the defaults when it set none).
    fn agenda_rules(&self, org: OrganisationId) -> StoreFuture<AgendaRules>;
    fn set_agenda_rules(&self, org: OrganisationId, rules: AgendaRules) -> StoreFuture<()>;
    /// Closes the group's location on `day` (a holiday, a study day).
    fn add_closed_day(&self, group: GroupId, day: NaiveDate, name: String) -> StoreFuture<()>;
    /// The child's agenda from `from` to `to` with its tegoed of `today`
    /// (expired tegoed written off first); None when not the parent's child.
    fn agenda_for_parent(
        &self,
        parent: ParentId,
        child: ChildId,
        span: (NaiveDate, NaiveDate),
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<ChildAgenda>>;
    /// Asks for an extra day (paid, from tegoed, or a swap); refused in
    /// words when it cannot be; None when not the parent's child. Nothing is
    /// taken from the tegoed until approval.
    fn request_day(
        &self,
        parent: ParentId,
        request: NewDayRequest,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Result<String, AgendaRefusal>>>;
    /// Cancels a contract day; in time (the organisation's rules) it earns
    /// a day of tegoed. Records a Child change for the group's feed.
    fn cancel_day_for_parent(
        &self,
        parent: ParentId,
        child: ChildId,
        day: NaiveDate,
        by: String,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<CancelOutcome>>;
    /// The organisation's requests, waiting ones first.
    fn day_requests(
        &self,
        org: OrganisationId,
        today: NaiveDate,
    ) -> StoreFuture<Vec<DayRequestView>>;
    /// The children planned on the group that day and its linked staff.
    fn planned_day(&self, group: GroupId, day: NaiveDate) -> StoreFuture<PlannedDay>;
    /// Approves (spending tegoed, giving up a swapped day, in one
    /// transaction, recording a Child change) or refuses a request of the
    /// organisation; None when it is not the organisation's.
    fn decide_day_request(
        &self,
        org: OrganisationId,
        request: String,
        approve: bool,
        by: String,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Result<Changed, AgendaRefusal>>>;

    // -- roster, agenda settings and vacation hours (issue 16, migration 0014)
    /// The organisation's groups with their weekly roster and the
    /// exceptions from `since` on.
    fn org_rosters(&self, org: OrganisationId, since: NaiveDate) -> StoreFuture<Vec<GroupRoster>>;
    /// Replaces a group's weekly roster (staff linked to the group only);
    /// None when the group is not the organisation's.
    fn set_roster_week(
        &self,
        org: OrganisationId,
        group: GroupId,
        week: Vec<(StaffId, Vec<Weekday>)>,
    ) -> StoreFuture<Option<()>>;
    /// A staff member off (`off`) or extra on a group on one date.
    fn add_roster_exception(
        &self,
        org: OrganisationId,
        group: GroupId,
        staff: StaffId,
        day: NaiveDate,
        off: bool,
    ) -> StoreFuture<Option<Result<(), RosterRefusal>>>;
    fn remove_roster_exception(&self, org: OrganisationId, id: String) -> StoreFuture<Option<()>>;
    /// The closed days of the organisation's locations.
    fn org_closed_days(&self, org: OrganisationId) -> StoreFuture<Vec<ClosedDay>>;
    /// Closes a location of the organisation from `from` to `to`; the
    /// number of days, None when not the organisation's.
    fn add_closed_days(
        &self,
        org: OrganisationId,
        location: LocationId,
        span: (NaiveDate, NaiveDate),
        name: String,
    ) -> StoreFuture<Option<u32>>;
    fn remove_closed_day(
        &self,
        org: OrganisationId,
        location: LocationId,
        day: NaiveDate,
    ) -> StoreFuture<Option<()>>;
    /// Sets or clears a group's maximum number of children.
    fn set_max_children(
        &self,
        org: OrganisationId,
        group: GroupId,
        max: Option<u32>,
    ) -> StoreFuture<Option<()>>;
    /// The organisation's BSO children and their vacation hours.
    fn bso_children(&self, org: OrganisationId, today: NaiveDate) -> StoreFuture<Vec<BsoChild>>;
    fn set_vacation_allowance(
        &self,
        org: OrganisationId,
        child: ChildId,
        year: i32,
        hours: u32,
    ) -> StoreFuture<Option<()>>;
    /// A child's vacation hours and requests; None when not the parent's child.
    fn vacation_for_parent(
        &self,
        parent: ParentId,
        child: ChildId,
        today: NaiveDate,
    ) -> StoreFuture<Option<ChildVacation>>;
    /// Asks for vacation care: guaranteed a month ahead, else waiting.
    fn request_vacation(
        &self,
        parent: ParentId,
        request: NewVacationRequest,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<VacationOutcome>>;
    fn vacation_requests(
        &self,
        org: OrganisationId,
        today: NaiveDate,
    ) -> StoreFuture<Vec<VacationRequestView>>;
    /// Approves or refuses a waiting vacation request of the organisation.
    fn decide_vacation_request(
        &self,
        org: OrganisationId,
        request: String,
        approve: bool,
        by: String,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Result<Changed, VacationRefusal>>>;
    /// The organisation's slug and the child's parents, to tell them about
    /// a decision on a request.
    fn decision_recipients(
        &self,
        child: ChildId,
    ) -> StoreFuture<Option<(String, Vec<crate::portal::notify::Recipient>)>>;
    /// One extra-day request of the organisation, or None.
    fn day_request(&self, org: OrganisationId, id: String) -> StoreFuture<Option<DayRequestView>>;
    /// One vacation request of the organisation, or None.
    fn vacation_request(
        &self,
        org: OrganisationId,
        id: String,
    ) -> StoreFuture<Option<VacationRequestView>>;
}

//! The portal's data: accounts, sessions, reset tokens, and what a parent or
//! a location manager may see, decided per object at read time. The types
//! and the pure rules live here; the reads and writes are
//! [`crate::store::Store`] methods.
//!
//! **Architecture Invariant:** every object read for a parent goes through
//! one of the `*_for_parent` store methods, which answer `None` both when
//! the object does not exist and when the parent may not see it (the web
//! layer turns both into 404). Photo visibility is `decide_audience` with
//! the consents *of now* and the placements *of today* (an ended placement
//! stops sharing on its end date).

use crate::org::ParentRole;
use argon2::{PasswordHash, PasswordVerifier};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use kring_protocol::{
    Audience, ChildId, ConsentedChild, DiaryEntryId, GroupId, MessageId, OrganisationId, ParentId,
    PhotoConsent, PhotoId, StaffId, decide_audience,
};

/// For tests and tools that drive SQLite directly; server code goes through
/// [`crate::store::Store`].
pub use crate::store::sqlite::portal::create_document;

// ---------------------------------------------------------------------------
// Accounts

/// Who is logged in: a parent or a staff member (location manager).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    Parent,
    Staff,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Parent => "parent",
            Self::Staff => "staff",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "parent" => Some(Self::Parent),
            "staff" => Some(Self::Staff),
            _ => None,
        }
    }
}

/// A portal account of one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub kind: UserKind,
    pub id: uuid::Uuid,
    pub org: OrganisationId,
    pub name: String,
    pub email: String,
    pub must_change_password: bool,
    /// A staff member with role `manager` (the only staff who log in here).
    pub is_manager: bool,
}

impl Account {
    pub fn parent_id(&self) -> Option<ParentId> {
        (self.kind == UserKind::Parent).then_some(ParentId(self.id))
    }
    pub fn manager_id(&self) -> Option<StaffId> {
        (self.kind == UserKind::Staff && self.is_manager).then_some(StaffId(self.id))
    }
}

/// An organisation reached by its host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: OrganisationId,
    pub slug: String,
    pub name: String,
    /// The organisation's calendar: "today" for its parents and managers.
    pub calendar: kring_protocol::Calendar,
}

/// True when `password` matches the PHC string `hash`.
pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => crate::org::hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends about the time of a real verification, for unknown addresses.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| crate::org::hash_secret("kring-dummy-password").ok());
    if let Some(h) = hash {
        let _ = verify_password(h, password);
    }
}

// ---------------------------------------------------------------------------
// Sessions and reset tokens

/// Tokens have 256 bits of entropy: a fast hash is right (as for device secrets).
pub(crate) fn sha256_hex(s: &str) -> String {
    crate::devices::secret_hash(s)
}

/// 256 random bits, base64url.
pub fn random_token() -> String {
    crate::devices::new_secret()
}

/// Constant-time comparison of two tokens.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: Account,
    pub csrf: String,
}

/// Lifetimes of sessions.
#[derive(Debug, Clone, Copy)]
pub struct SessionTimes {
    pub idle: Duration,
    pub absolute: Duration,
}

// ---------------------------------------------------------------------------
// A parent's children

/// A current placement of a child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub group: GroupId,
    pub group_name: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub days: String,
}

/// One of the parent's children, as the portal shows it.
#[derive(Debug, Clone)]
pub struct MyChild {
    pub id: ChildId,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: NaiveDate,
    pub consent: PhotoConsent,
    pub role: ParentRole,
    /// Placements that share today (started, not ended before today).
    pub placements: Vec<Placement>,
}

// ---------------------------------------------------------------------------
// Photos

/// A photo as stored.
#[derive(Debug, Clone)]
pub struct PhotoRow {
    pub id: PhotoId,
    pub group: GroupId,
    pub blob_key: String,
    pub thumb_key: String,
    pub width: u32,
    pub height: u32,
    pub no_children_recognizable: bool,
    pub received_at: DateTime<Utc>,
    /// Tagged children with their consent *now*.
    pub tags: Vec<ConsentedChild>,
}

/// Which of `children` make the photo visible to their parent: the consent
/// rule ([`decide_audience`], consents of now) for a child whose placement
/// on the photo's group is current today and began before the photo.
pub fn photo_visible_for(photo: &PhotoRow, children: &[MyChild]) -> Vec<ChildId> {
    let audience = decide_audience(&photo.tags, photo.no_children_recognizable);
    if matches!(audience, Audience::StaffOnly | Audience::Refused { .. }) {
        return Vec::new();
    }
    let taken = photo.received_at.date_naive();
    children
        .iter()
        .filter(|k| {
            k.placements
                .iter()
                .any(|p| p.group == photo.group && p.start <= taken)
        })
        .filter(|k| audience.visible_to_parents_of(&k.id))
        .map(|k| k.id)
        .collect()
}

// ---------------------------------------------------------------------------
// Diary

/// A diary entry as a parent sees it.
#[derive(Debug, Clone)]
pub struct DiaryView {
    pub id: DiaryEntryId,
    pub group: GroupId,
    pub author_name: String,
    pub by_parent: bool,
    pub text: String,
    pub baby_json: Option<String>,
    pub written_at: DateTime<Utc>,
    /// The parent's own children the entry is about.
    pub children: Vec<ChildId>,
    /// Photos of the entry the parent may see.
    pub photos: Vec<PhotoId>,
}

// ---------------------------------------------------------------------------
// Timeline

/// One item of "Mijn kind", newest first.
#[derive(Debug, Clone)]
pub enum TimelineItem {
    Photo {
        photo: PhotoRow,
        children: Vec<ChildId>,
    },
    Diary(DiaryView),
}

impl TimelineItem {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Photo { photo, .. } => photo.received_at,
            Self::Diary(d) => d.written_at,
        }
    }
}

// ---------------------------------------------------------------------------
// Messages

/// A message as a parent sees it.
#[derive(Debug, Clone)]
pub struct MessageView {
    pub id: MessageId,
    pub group: GroupId,
    pub group_name: String,
    pub child: Option<ChildId>,
    pub from_parent: bool,
    pub author_name: String,
    pub body: String,
    pub sent_at: DateTime<Utc>,
    pub read_by_group_at: Option<DateTime<Utc>>,
}

/// May a parent with these children see `m`?
pub(crate) fn message_visible(m: &MessageView, children: &[MyChild]) -> bool {
    children.iter().any(|k| {
        k.placements.iter().any(|p| {
            p.group == m.group
                && match m.child {
                    Some(c) => c == k.id,
                    None => p.start <= m.sent_at.date_naive(),
                }
        })
    })
}

// ---------------------------------------------------------------------------
// Absences, consents, notifications, documents

/// An absence as listed for a parent.
#[derive(Debug, Clone)]
pub struct AbsenceView {
    pub id: String,
    pub child: ChildId,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub part_of_day: String,
    pub reason: String,
    pub note: Option<String>,
    pub cancelled: bool,
}

/// One line of a consent's history.
#[derive(Debug, Clone)]
pub struct ConsentChange {
    pub consent: PhotoConsent,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
}

/// Kinds of item a parent can get an e-mail about.
pub const NOTIFY_KINDS: [&str; 3] = ["message", "diary", "photo"];

/// Who may read a document about a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentAudience {
    /// Contracts, invoices: the first parent only.
    FirstParent,
    AllParents,
}

impl DocumentAudience {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstParent => "first_parent",
            Self::AllParents => "all_parents",
        }
    }
    /// The rule: the second parent does not see what is meant for the first.
    pub fn allows(self, role: ParentRole) -> bool {
        match self {
            Self::AllParents => true,
            Self::FirstParent => role == ParentRole::First,
        }
    }
}

/// A document as a parent sees it.
#[derive(Debug, Clone)]
pub struct DocumentView {
    pub id: String,
    pub child: ChildId,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

//! The portal's data: absences, consents, notifications, documents.

use crate::org::ParentRole;
use chrono::{DateTime, NaiveDate, Utc};
use kring_protocol::{ChildId, PhotoConsent};

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
pub const NOTIFY_KINDS: [&str; 4] = ["message", "diary", "photo", "news"];

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

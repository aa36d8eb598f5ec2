//! The portal's data: a parent's children.

use crate::org::ParentRole;
use chrono::NaiveDate;
use kring_protocol::{ChildId, GroupId, PhotoConsent};

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

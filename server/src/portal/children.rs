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

impl Placement {
    /// Whether `day` falls within the placement (its start and end included).
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.start <= day && self.end.is_none_or(|end| day <= end)
    }
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
    /// Placements whose photos and diary the parent still sees: those
    /// started by today that ended less than the organisation's
    /// `child_data_weeks` ago, or not at all (the current ones among them).
    pub kept: Vec<Placement>,
}

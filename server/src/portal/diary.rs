//! The portal's data: diary.

use chrono::{DateTime, Utc};
use kring_protocol::{ChildId, DiaryEntryId, GroupId, PhotoId};

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

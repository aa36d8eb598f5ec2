//! The portal's data: timeline.

use super::{DiaryView, PhotoRow};
use chrono::{DateTime, Utc};
use kring_protocol::ChildId;

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

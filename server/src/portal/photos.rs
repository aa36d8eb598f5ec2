//! The portal's data: photos.

use super::MyChild;
use chrono::{DateTime, Utc};
use kring_protocol::{Audience, ChildId, ConsentedChild, GroupId, PhotoId, decide_audience};

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
/// rule ([`decide_audience`], consents of now) for a child with a kept
/// placement (`MyChild::kept`: current, or ended less than the retention
/// period ago) on the photo's group during which the photo was taken.
pub fn photo_visible_for(photo: &PhotoRow, children: &[MyChild]) -> Vec<ChildId> {
    let audience = decide_audience(&photo.tags, photo.no_children_recognizable);
    if matches!(audience, Audience::StaffOnly | Audience::Refused { .. }) {
        return Vec::new();
    }
    let taken = photo.received_at.date_naive();
    children
        .iter()
        .filter(|k| {
            k.kept
                .iter()
                .any(|p| p.group == photo.group && p.covers(taken))
        })
        .filter(|k| audience.visible_to_parents_of(&k.id))
        .map(|k| k.id)
        .collect()
}

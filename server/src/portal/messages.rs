//! The portal's data: messages.

use super::MyChild;
use chrono::{DateTime, Utc};
use kring_protocol::{ChildId, GroupId, MessageId};

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
    // over the placements whose data the parent still sees (the current
    // ones and a leaver's for `child_data_weeks`); a message to the whole
    // group only from within the placement
    children.iter().any(|k| {
        k.kept.iter().any(|p| {
            p.group == m.group
                && match m.child {
                    Some(c) => c == k.id,
                    None => p.covers(m.sent_at.date_naive()),
                }
        })
    })
}

//! Pushed items (`POST /api/v1/items`): the rules an item must meet on its
//! own. The checks against the stored truth (children placed on the group,
//! the upload, consent) and the exactly-once write live in the store
//! ([`crate::store::Store::push_item`]), in one transaction.
//!
//! **Architecture Invariant:** the dedupe record is written in the same
//! transaction as the item it creates; a retry gets the stored answer, the same
//! key with another body is a conflict (422), and concurrent duplicates
//! serialise on the write transaction so only one can create the item.

use crate::store::StoreError;
use kring_protocol::{PushItem, StaffDiaryItem, StaffMessageItem};
use sha2::{Digest, Sha256};

/// Longest diary text and message body accepted (characters).
pub const MAX_TEXT_CHARS: usize = 10_000;
pub const MAX_MESSAGE_CHARS: usize = 4_000;

/// The canonical hash of a request: the item as parsed and re-serialised, so
/// that whitespace or key order do not make a retry look different.
pub fn request_hash(item: &PushItem) -> Result<String, StoreError> {
    let canonical = serde_json::to_vec(item).map_err(StoreError::backend)?;
    Ok(hex::encode(Sha256::digest(canonical)))
}

/// A diary entry's own rules: a child, text within bounds, something to say.
pub fn check_diary(d: &StaffDiaryItem) -> Result<(), StoreError> {
    if d.children.is_empty() {
        return Err(StoreError::invalid(
            "a diary entry needs at least one child",
        ));
    }
    if d.text.chars().count() > MAX_TEXT_CHARS {
        return Err(StoreError::invalid(format!(
            "diary text is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    if d.text.trim().is_empty() && d.baby.is_none() && d.photos.is_empty() {
        return Err(StoreError::invalid(
            "a diary entry needs text, baby fields or a photo",
        ));
    }
    Ok(())
}

/// A staff message's body, trimmed, when it is not empty and not too long.
pub fn message_body(m: &StaffMessageItem) -> Result<&str, StoreError> {
    let body = m.body.trim();
    if body.is_empty() {
        return Err(StoreError::invalid("a message cannot be empty"));
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        return Err(StoreError::invalid(format!(
            "a message is at most {MAX_MESSAGE_CHARS} characters"
        )));
    }
    Ok(body)
}

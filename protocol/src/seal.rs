//! Sealing: what a device saves (photos, diary entries, messages, every item
//! it pushes) is encrypted to the server's public key before it is written,
//! so the device cannot read it back once the write is done, and neither can
//! whoever carries the screen or its SD card away.
//!
//! The format is [age](https://age-encryption.org/v1) with an X25519
//! recipient: the device holds only the recipient (`age1…`, public), the
//! server holds the identity (`AGE-SECRET-KEY-1…`). A sealed photo is an age
//! file uploaded as it is; a sealed item travels as [`SealedItem`], the age
//! file of the item's JSON in base64, with the few fields the upload needs in
//! the clear. An operator can open either by hand with the `age` or `rage`
//! tools and the server's key.

use crate::{PushItem, UploadId};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::io::Read as _;
use uuid::Uuid;

/// How every age file begins.
pub const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";

/// True when `bytes` begin like an age file (as far as they go).
pub fn looks_sealed(bytes: &[u8]) -> bool {
    let n = bytes.len().min(AGE_MAGIC.len());
    n > 0 && bytes[..n] == AGE_MAGIC[..n]
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("not a seal recipient (an age1… public key): {0}")]
    BadRecipient(&'static str),
    #[error("not a seal key (an AGE-SECRET-KEY-1… line): {0}")]
    BadIdentity(&'static str),
    #[error("there is no seal key")]
    NoKey,
    #[error("sealing failed: {0}")]
    Seal(String),
    #[error("the sealed bytes cannot be opened with this server's keys: {0}")]
    Open(String),
    #[error("the sealed item is not an item: {0}")]
    NotAnItem(String),
    #[error("the sealed item's id {inner} differs from its envelope's {outer}")]
    IdMismatch { outer: Uuid, inner: Uuid },
}

/// The server's public key as a device keeps it: what it seals to.
#[derive(Clone)]
pub struct SealTo(age::x25519::Recipient);

impl std::fmt::Debug for SealTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealTo({})", self.0)
    }
}

impl std::fmt::Display for SealTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for SealTo {
    type Err = SealError;
    fn from_str(s: &str) -> Result<Self, SealError> {
        s.trim().parse().map(Self).map_err(SealError::BadRecipient)
    }
}

impl SealTo {
    /// `bytes` as an age file only the server can open.
    pub fn seal(&self, bytes: &[u8]) -> Result<Vec<u8>, SealError> {
        age::encrypt(&self.0, bytes).map_err(|e| SealError::Seal(e.to_string()))
    }
}

/// The server's private keys: the first is the current one (its recipient
/// is what devices seal to), the others are older ones kept to open what
/// devices sealed before a change of key.
#[derive(Clone)]
pub struct SealKeys(Vec<age::x25519::Identity>);

impl std::fmt::Debug for SealKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealKeys")
            .field("keys", &self.0.len())
            .field("current", &self.recipient().map(|r| r.to_string()))
            .finish()
    }
}

impl SealKeys {
    /// A new private key, as the line to store (`AGE-SECRET-KEY-1…`).
    pub fn generate() -> String {
        use age::secrecy::ExposeSecret as _;
        age::x25519::Identity::generate()
            .to_string()
            .expose_secret()
            .to_string()
    }

    /// The keys from their lines, current first.
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Result<Self, SealError> {
        let keys = lines
            .iter()
            .map(|l| l.as_ref().trim().parse().map_err(SealError::BadIdentity))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(SealError::NoKey);
        }
        Ok(Self(keys))
    }

    /// What devices seal to now.
    pub fn recipient(&self) -> Option<SealTo> {
        self.0.first().map(|k| SealTo(k.to_public()))
    }

    /// Opens an age file sealed to any of the keys.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let fail = |e: &dyn std::fmt::Display| SealError::Open(e.to_string());
        let decryptor = age::Decryptor::new_buffered(sealed).map_err(|e| fail(&e))?;
        let mut reader = decryptor
            .decrypt(self.0.iter().map(|k| k as &dyn age::Identity))
            .map_err(|e| fail(&e))?;
        let mut out = Vec::with_capacity(sealed.len());
        reader.read_to_end(&mut out).map_err(|e| fail(&e))?;
        Ok(out)
    }
}

/// A pushed item as the device stored it: the item's JSON sealed, with in
/// the clear only its id (the idempotency key) and, for a photo, the upload
/// its bytes went to (known only after the item was sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedItem {
    pub id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<UploadId>,
    /// The age file of the item's JSON, base64 (standard, padded).
    pub sealed: String,
}

impl SealedItem {
    /// Seals `item` (which must not be sealed already).
    pub fn seal(item: &PushItem, to: &SealTo) -> Result<Self, SealError> {
        let json = serde_json::to_vec(item).map_err(|e| SealError::Seal(e.to_string()))?;
        Ok(Self {
            id: item.id(),
            upload_id: None,
            sealed: base64::engine::general_purpose::STANDARD.encode(to.seal(&json)?),
        })
    }

    /// The item inside, with the envelope's upload id put into a photo.
    /// Refuses an inner item with another id, or sealed twice.
    pub fn open(&self, keys: &SealKeys) -> Result<PushItem, SealError> {
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(self.sealed.trim())
            .map_err(|e| SealError::Open(e.to_string()))?;
        let json = keys.open(&sealed)?;
        let mut item: PushItem =
            serde_json::from_slice(&json).map_err(|e| SealError::NotAnItem(e.to_string()))?;
        if matches!(item, PushItem::Sealed(_)) {
            return Err(SealError::NotAnItem("sealed twice".into()));
        }
        if item.id() != self.id {
            return Err(SealError::IdMismatch {
                outer: self.id,
                inner: item.id(),
            });
        }
        if let (PushItem::Photo(p), Some(upload)) = (&mut item, self.upload_id) {
            p.upload_id = upload;
        }
        Ok(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MessageId, MessageThread, StaffMessageItem};

    fn message(body: &str) -> PushItem {
        PushItem::Message(StaffMessageItem {
            id: MessageId::new(),
            thread: MessageThread::Group,
            body: body.into(),
            staff_id: None,
        })
    }

    #[test]
    fn only_the_servers_key_opens_what_a_device_sealed() {
        let keys = SealKeys::parse(&[SealKeys::generate()]).expect("key");
        let to: SealTo = keys
            .recipient()
            .expect("recipient")
            .to_string()
            .parse()
            .expect("age1");
        let item = message("Noor heeft vandaag gelachen");
        let sealed = SealedItem::seal(&item, &to).expect("seal");
        assert!(!sealed.sealed.contains("Noor"));
        let wire = serde_json::to_string(&PushItem::Sealed(sealed.clone())).expect("json");
        assert!(!wire.contains("gelachen"), "{wire}");
        assert_eq!(sealed.open(&keys).expect("open"), item);

        let other = SealKeys::parse(&[SealKeys::generate()]).expect("key");
        assert!(matches!(sealed.open(&other), Err(SealError::Open(_))));
    }

    #[test]
    fn an_old_key_behind_the_current_one_still_opens() {
        let old = SealKeys::generate();
        let old_keys = SealKeys::parse(std::slice::from_ref(&old)).expect("old");
        let to = old_keys.recipient().expect("recipient");
        let photo = b"\xFF\xD8\xFF\xE0 a jpeg".to_vec();
        let sealed = to.seal(&photo).expect("seal");
        assert!(looks_sealed(&sealed) && looks_sealed(&sealed[..3]));
        assert!(!looks_sealed(&photo));
        let both = SealKeys::parse(&[SealKeys::generate(), old]).expect("both");
        assert_ne!(
            both.recipient().map(|r| r.to_string()),
            old_keys.recipient().map(|r| r.to_string())
        );
        assert_eq!(both.open(&sealed).expect("open"), photo);
        assert!(SealKeys::parse::<String>(&[]).is_err());
        assert!(SealKeys::parse(&["age1nope"]).is_err());
    }

    #[test]
    fn an_envelope_cannot_borrow_another_items_contents() {
        let keys = SealKeys::parse(&[SealKeys::generate()]).expect("key");
        let to = keys.recipient().expect("recipient");
        let mut sealed = SealedItem::seal(&message("hallo"), &to).expect("seal");
        sealed.id = Uuid::now_v7();
        assert!(matches!(
            sealed.open(&keys),
            Err(SealError::IdMismatch { .. })
        ));
        let twice = PushItem::Sealed(SealedItem::seal(&message("x"), &to).expect("seal"));
        let outer = SealedItem::seal(&twice, &to).expect("seal");
        assert!(matches!(outer.open(&keys), Err(SealError::NotAnItem(_))));
    }
}

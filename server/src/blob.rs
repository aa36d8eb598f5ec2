//! Photo file storage behind a trait, so an S3-compatible store can take the
//! local filesystem's place by configuration later.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {key}: {source}")]
    Io {
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid blob key {0:?}")]
    InvalidKey(String),
}

/// Where photo bytes live. Keys are relative paths like `photos/ab/<id>.jpg`.
pub trait BlobStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores `bytes` under `key` durably (all or nothing).
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), BlobError>;
    fn get(&self, key: &str) -> Result<Vec<u8>, BlobError>;
    fn delete(&self, key: &str) -> Result<(), BlobError>;
}

/// Files under a directory: write to a temp file, fsync, rename, fsync the directory.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        let ok = !key.is_empty()
            && key
                .split('/')
                .all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\'));
        if !ok {
            return Err(BlobError::InvalidKey(key.to_string()));
        }
        Ok(self.root.join(key))
    }
}

fn io(key: &str) -> impl FnOnce(std::io::Error) -> BlobError + '_ {
    move |source| BlobError::Io {
        key: key.to_string(),
        source,
    }
}

/// Writes a file atomically and durably: temp file, fsync, rename, fsync dir.
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("path has no parent directory"))?;
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

impl BlobStore for LocalBlobStore {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let path = self.path(key)?;
        write_durably(&path, bytes).map_err(io(key))
    }

    fn get(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        std::fs::read(self.path(key)?).map_err(io(key))
    }

    fn delete(&self, key: &str) -> Result<(), BlobError> {
        match std::fs::remove_file(self.path(key)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(key)(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_delete_and_bad_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalBlobStore::new(dir.path());
        store.put("photos/ab/x.jpg", b"hello").expect("put");
        assert_eq!(store.get("photos/ab/x.jpg").expect("get"), b"hello");
        store.delete("photos/ab/x.jpg").expect("delete");
        assert!(store.get("photos/ab/x.jpg").is_err());
        store
            .delete("photos/ab/x.jpg")
            .expect("delete twice is fine");
        for bad in ["", "../x", "a//b", "/etc/passwd", "a/./b"] {
            assert!(
                matches!(store.put(bad, b"x"), Err(BlobError::InvalidKey(_))),
                "{bad}"
            );
        }
    }
}

//! Photo file storage behind a trait: files under the data directory (the
//! default), or an S3-compatible object store (`[blobs] s3`) that several
//! server processes share.
//!
//! The trait is synchronous, like the store's SQL: callers run it on the
//! blocking pool (`spawn_blocking`); the S3 store waits there for the async
//! client on the runtime.

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
    #[error("blob {key}: {source}")]
    ObjectStore {
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("object store settings: {0}")]
    Setup(String),
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
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

/// A key is a relative path of plain names (`photos/ab/<id>.jpg`).
fn check_key(key: &str) -> Result<(), BlobError> {
    let ok = !key.is_empty()
        && key
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\'));
    if ok {
        Ok(())
    } else {
        Err(BlobError::InvalidKey(key.to_string()))
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

/// Objects in an S3-compatible bucket, through `object_store`. Keys are the
/// object names. Call from a blocking thread (see the module documentation).
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    store: std::sync::Arc<dyn object_store::ObjectStore>,
    runtime: tokio::runtime::Handle,
}

impl S3BlobStore {
    /// A client for the bucket. Call from the async runtime that will serve it.
    pub fn new(s: &crate::settings::S3Settings) -> Result<Self, BlobError> {
        use object_store::aws::AmazonS3Builder;
        let store = AmazonS3Builder::new()
            // client options first: they replace what was set before (allow_http too)
            .with_client_options(
                object_store::ClientOptions::new().with_timeout(std::time::Duration::from_secs(60)),
            )
            .with_endpoint(&s.endpoint)
            .with_allow_http(s.endpoint.starts_with("http://"))
            .with_region(&s.region)
            .with_bucket_name(&s.bucket)
            .with_access_key_id(&s.access_key_id)
            .with_secret_access_key(&s.secret_access_key)
            .with_virtual_hosted_style_request(s.virtual_hosted_style)
            .build()
            .map_err(|e| BlobError::Setup(e.to_string()))?;
        Ok(Self {
            store: std::sync::Arc::new(store),
            runtime: tokio::runtime::Handle::current(),
        })
    }

    fn path(key: &str) -> Result<object_store::path::Path, BlobError> {
        check_key(key)?;
        object_store::path::Path::parse(key).map_err(|_| BlobError::InvalidKey(key.to_string()))
    }
}

fn object_error(key: &str) -> impl FnOnce(object_store::Error) -> BlobError + '_ {
    move |source| BlobError::ObjectStore {
        key: key.to_string(),
        source,
    }
}

impl BlobStore for S3BlobStore {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let path = Self::path(key)?;
        let payload = object_store::PutPayload::from(bytes.to_vec());
        self.runtime
            .block_on(self.store.put(&path, payload))
            .map_err(object_error(key))?;
        Ok(())
    }

    fn get(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        let path = Self::path(key)?;
        self.runtime
            .block_on(async { self.store.get(&path).await?.bytes().await })
            .map(|b| b.to_vec())
            .map_err(object_error(key))
    }

    fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = Self::path(key)?;
        match self.runtime.block_on(self.store.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(object_error(key)(e)),
        }
    }
}

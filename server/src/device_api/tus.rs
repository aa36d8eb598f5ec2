//! Resumable photo uploads speaking tus 1.0 (core, creation, checksum and
//! expiration), so that any standard tus client can upload.
//!
//! An unfinished upload's bytes wait in a file under `<data>/uploads/` (one
//! server process, the default) or in the database (PostgreSQL: every server
//! process sees them, so an upload started on one resumes on another); its
//! offset in the database only moves after the bytes are durable (the file
//! fsynced, or the part committed in the same transaction as the offset,
//! and only when the offset was still where the part starts). When the last byte arrives the
//! JPEG is checked (magic, pixel limit from the header before decoding),
//! stripped of metadata, thumbnailed and stored; only then is it complete. The
//! photo item that uses it is pushed separately (see `items`).

use crate::AppState;
use crate::device_api::devices::AuthedDevice;
use crate::error::Failure;
use crate::photo::{PhotoLimits, is_jpeg_magic, process};
use crate::store::{CompletedUpload, NewUpload, StoreError, UploadQuota, UploadRow};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use kring_protocol::{ErrorCode, UPLOAD_META_SHA256, UploadId};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

pub const TUS_VERSION: &str = "1.0.0";
pub const TUS_EXTENSIONS: &str = "creation,checksum,expiration";
pub const TUS_CHECKSUMS: &str = "sha1,sha256";
const OFFSET_CONTENT_TYPE: &str = "application/offset+octet-stream";
/// A device over its upload quota is told to come back after this long.
const QUOTA_RETRY_SECS: u64 = 600;

/// tus's "460 Checksum Mismatch".
fn checksum_mismatch() -> Failure {
    Failure::new(
        StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
        ErrorCode::UploadChecksumMismatch,
        "the chunk's checksum does not match; it was discarded, send it again",
    )
}

/// Per-upload locks, so two PATCHes of one upload cannot interleave. Only
/// uploads being written have an entry: a lock is taken after the upload was
/// found to be the device's own, and the entry goes when nobody holds it, so
/// ids a device makes up never grow the map.
#[derive(Debug, Default)]
pub struct UploadLocks(std::sync::Mutex<HashMap<UploadId, Weak<tokio::sync::Mutex<()>>>>);

impl UploadLocks {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<UploadId, Weak<tokio::sync::Mutex<()>>>> {
        match self.0.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn get(&self, id: &UploadId) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.map();
        if let Some(lock) = map.get(id).and_then(Weak::upgrade) {
            return lock;
        }
        // entries nobody holds any more go with the next new one
        map.retain(|_, w| w.strong_count() > 0);
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(*id, Arc::downgrade(&lock));
        lock
    }

    /// How many uploads have an entry (held or not yet cleaned up).
    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn tus_headers(headers: &mut HeaderMap) {
    headers.insert("Tus-Resumable", HeaderValue::from_static(TUS_VERSION));
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn check_resumable(headers: &HeaderMap) -> Result<(), Failure> {
    match header_str(headers, "Tus-Resumable") {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(Failure::new(
            StatusCode::PRECONDITION_FAILED,
            ErrorCode::BadRequest,
            "this server speaks tus 1.0.0 (Tus-Resumable: 1.0.0)",
        )),
    }
}

/// Parses `Upload-Metadata`: comma-separated `key base64value` pairs.
pub fn parse_metadata(value: &str) -> Result<HashMap<String, String>, Failure> {
    let mut out = HashMap::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut parts = pair.splitn(2, ' ');
        let key = parts.next().unwrap_or_default().to_string();
        let val = match parts.next() {
            Some(v) => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(v.trim())
                    .map_err(|_| {
                        Failure::bad_request(format!("Upload-Metadata {key}: not base64"))
                    })?;
                String::from_utf8(raw).map_err(|_| {
                    Failure::bad_request(format!("Upload-Metadata {key}: not UTF-8"))
                })?
            }
            None => String::new(),
        };
        out.insert(key, val);
    }
    Ok(out)
}

/// `OPTIONS /api/v1/uploads`: what this tus server supports.
pub async fn options(State(state): State<AppState>) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    tus_headers(h);
    h.insert("Tus-Version", HeaderValue::from_static(TUS_VERSION));
    h.insert("Tus-Extension", HeaderValue::from_static(TUS_EXTENSIONS));
    h.insert(
        "Tus-Checksum-Algorithm",
        HeaderValue::from_static(TUS_CHECKSUMS),
    );
    h.insert(
        "Tus-Max-Size",
        HeaderValue::from(state.settings.limits.max_upload_bytes),
    );
    resp
}

fn upload_path(state: &AppState, id: &UploadId) -> PathBuf {
    state.data_dir.join("uploads").join(format!("{id}.part"))
}

/// A PATCH's bytes are stored in parts of at most this size (the database spool).
const PART_BYTES: usize = 1024 * 1024;

/// True when unfinished uploads wait in the database (a shared database:
/// several server processes), not in files of this process.
fn spooled_in_database(state: &AppState) -> bool {
    state.settings.database.url.is_some()
}

fn offset_mismatch(at: u64, claimed: u64) -> Failure {
    Failure::new(
        StatusCode::CONFLICT,
        ErrorCode::UploadOffsetMismatch,
        format!("the upload is at offset {at}, not {claimed}"),
    )
}

/// Where a PATCH's bytes go.
enum Sink {
    File(tokio::fs::File),
    /// Parts not yet stored, and where they start.
    Database {
        at: u64,
        buf: Vec<u8>,
    },
}

impl Sink {
    /// Ready to take bytes at `row.offset` (a file loses what lies past it:
    /// bytes of a write that was never recorded).
    async fn open(state: &AppState, row: &UploadRow) -> Result<Self, Failure> {
        if spooled_in_database(state) {
            return Ok(Self::Database {
                at: row.offset,
                buf: Vec::new(),
            });
        }
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(upload_path(state, &row.id))
            .await
            .map_err(|e| Failure::internal("open upload", &e))?;
        file.set_len(row.offset)
            .await
            .map_err(|e| Failure::internal("truncate upload", &e))?;
        file.seek(std::io::SeekFrom::Start(row.offset))
            .await
            .map_err(|e| Failure::internal("seek upload", &e))?;
        Ok(Self::File(file))
    }

    async fn write(&mut self, state: &AppState, id: UploadId, chunk: &[u8]) -> Result<(), Failure> {
        match self {
            Self::File(file) => file
                .write_all(chunk)
                .await
                .map_err(|e| Failure::internal("write upload", &e)),
            Self::Database { buf, .. } => {
                buf.extend_from_slice(chunk);
                if buf.len() >= PART_BYTES {
                    self.store_part(state, id).await?;
                }
                Ok(())
            }
        }
    }

    /// Database: stores the buffered part and moves the offset past it, or
    /// answers 409 when another request moved the offset first.
    async fn store_part(&mut self, state: &AppState, id: UploadId) -> Result<(), Failure> {
        let Self::Database { at, buf } = self else {
            return Ok(());
        };
        if buf.is_empty() {
            return Ok(());
        }
        let part = std::mem::take(buf);
        let len = part.len() as u64;
        if !state.store.append_upload_part(id, *at, part).await? {
            let now = state.store.upload(id).await?.map_or(*at, |r| r.offset);
            return Err(offset_mismatch(now, *at));
        }
        *at += len;
        Ok(())
    }

    /// Everything written is kept: durable, and the offset moved to `offset`.
    async fn keep(mut self, state: &AppState, id: UploadId, offset: u64) -> Result<(), Failure> {
        match &mut self {
            Self::File(file) => {
                file.sync_data()
                    .await
                    .map_err(|e| Failure::internal("sync upload", &e))?;
                state.store.set_upload_offset(id, offset).await?;
                Ok(())
            }
            Self::Database { .. } => self.store_part(state, id).await,
        }
    }

    /// What this PATCH wrote is dropped: the upload is back at `offset`.
    async fn discard(self, state: &AppState, id: UploadId, offset: u64) -> Result<(), Failure> {
        match self {
            Self::File(file) => {
                file.set_len(offset)
                    .await
                    .map_err(|e| Failure::internal("truncate upload", &e))?;
                file.sync_all()
                    .await
                    .map_err(|e| Failure::internal("sync upload", &e))
            }
            Self::Database { .. } => Ok(state.store.rewind_upload(id, offset).await?),
        }
    }
}

/// The upload's recorded bytes (its first `offset`).
async fn spooled_bytes(state: &AppState, row: &UploadRow) -> Result<Vec<u8>, Failure> {
    let mut bytes = if spooled_in_database(state) {
        state.store.upload_bytes(row.id).await?
    } else {
        tokio::fs::read(upload_path(state, &row.id))
            .await
            .map_err(|e| Failure::internal("read upload", &e))?
    };
    let offset = usize::try_from(row.offset).map_err(|e| Failure::internal("offset", &e))?;
    if bytes.len() < offset {
        return Err(Failure::internal(
            "read upload",
            &std::io::Error::other("fewer bytes stored than the offset says"),
        ));
    }
    bytes.truncate(offset);
    Ok(bytes)
}

/// `POST /api/v1/uploads`: creates an upload (tus creation extension).
pub async fn create(
    State(state): State<AppState>,
    device: AuthedDevice,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    check_resumable(&headers)?;
    if headers.contains_key("Upload-Defer-Length") {
        return Err(Failure::bad_request(
            "Upload-Defer-Length is not supported; send Upload-Length",
        ));
    }
    let length: u64 = header_str(&headers, "Upload-Length")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Failure::bad_request("Upload-Length is missing or not a number"))?;
    let max = state.settings.limits.max_upload_bytes;
    if length > max {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("a photo may be at most {max} bytes"),
        ));
    }
    if length == 0 {
        return Err(Failure::bad_request("an empty upload cannot be a photo"));
    }
    let meta_raw = header_str(&headers, "Upload-Metadata")
        .unwrap_or_default()
        .to_string();
    let meta = parse_metadata(&meta_raw)?;
    let expected = match meta.get(UPLOAD_META_SHA256) {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(h.to_ascii_lowercase())
        }
        Some(_) => {
            return Err(Failure::bad_request(
                "Upload-Metadata sha256 must be 64 hex digits",
            ));
        }
        None => None,
    };
    let id = UploadId::new();
    let now = Utc::now();
    let expires = now + Duration::hours(state.settings.limits.upload_expiry_hours);
    if !spooled_in_database(&state) {
        let path = upload_path(&state, &id);
        tokio::fs::create_dir_all(path.parent().unwrap_or(&state.data_dir))
            .await
            .map_err(|e| Failure::internal("upload dir", &e))?;
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| Failure::internal("upload file", &e))?;
        file.sync_all()
            .await
            .map_err(|e| Failure::internal("upload file", &e))?;
    }
    let meta_json = serde_json::to_string(&meta).map_err(|e| Failure::internal("metadata", &e))?;
    let limits = &state.settings.limits;
    let quota = UploadQuota {
        open: limits.uploads_open_per_device,
        open_bytes: limits.uploads_open_bytes_per_device,
        unused: limits.uploads_unused_per_device,
    };
    let created = state
        .store
        .create_upload(
            NewUpload {
                id,
                device: device.id,
                length,
                metadata_json: meta_json,
                expected_sha256: expected,
                created_at: now,
                expires_at: expires,
            },
            quota,
        )
        .await;
    if let Err(e) = created {
        if !spooled_in_database(&state) {
            let _ = tokio::fs::remove_file(upload_path(&state, &id)).await;
        }
        let refused_for_quota = matches!(
            &e,
            StoreError::Invalid {
                code: ErrorCode::RateLimited,
                ..
            }
        );
        if refused_for_quota {
            tracing::warn!(device = %device.id, error = %e, "upload refused: over the device's quota");
            return Err(Failure::from(e).with_retry_after(QUOTA_RETRY_SECS));
        }
        return Err(e.into());
    }
    tracing::info!(device = %device.id, upload = %id, length, "upload created");
    let mut resp = StatusCode::CREATED.into_response();
    let h = resp.headers_mut();
    tus_headers(h);
    let location = format!("/api/v1/uploads/{id}");
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(&location).map_err(|e| Failure::internal("location", &e))?,
    );
    insert_expires(h, expires);
    Ok(resp)
}

fn insert_expires(h: &mut HeaderMap, t: DateTime<Utc>) {
    if let Ok(v) = HeaderValue::from_str(&http_date(t)) {
        h.insert("Upload-Expires", v);
    }
}

async fn load(state: &AppState, id: UploadId, device: &AuthedDevice) -> Result<UploadRow, Failure> {
    let row = state.store.upload(id).await?;
    // Another device's upload looks exactly like a missing one.
    let Some(row) = row.filter(|r| r.device == device.id) else {
        return Err(Failure::not_found("upload"));
    };
    if let Some(reason) = &row.failed_reason {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::NotAJpeg,
            format!("this upload was refused: {reason}"),
        ));
    }
    if !row.completed && row.expires_at < Utc::now() {
        return Err(Failure::new(
            StatusCode::GONE,
            ErrorCode::NotFound,
            "this upload has expired; start a new one",
        ));
    }
    Ok(row)
}

fn offset_response(status: StatusCode, row: &UploadRow, offset: u64) -> Response {
    let mut resp = status.into_response();
    let h = resp.headers_mut();
    tus_headers(h);
    h.insert("Upload-Offset", HeaderValue::from(offset));
    h.insert("Upload-Length", HeaderValue::from(row.length));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if !row.completed {
        insert_expires(h, row.expires_at);
    }
    resp
}

/// `HEAD /api/v1/uploads/{id}`: the offset to resume from.
pub async fn head(
    State(state): State<AppState>,
    device: AuthedDevice,
    Path(id): Path<UploadId>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    check_resumable(&headers)?;
    // The offset is read without the lock: it moves only after the bytes are
    // durable, so a PATCH in progress (or one whose connection hangs) never
    // makes a HEAD wait; the device resumes from what is recorded.
    let mut row = load(&state, id, &device).await?;
    if row.offset == row.length && !row.completed {
        // The server stopped between the last chunk and finishing: finish now,
        // unless a PATCH holds the upload (it finishes it itself).
        let lock = state.upload_locks.get(&id);
        if let Ok(_guard) = lock.try_lock() {
            row = load(&state, id, &device).await?;
            if row.offset == row.length && !row.completed {
                finish(&state, id, &row).await?;
                row.completed = true;
            }
        }
    }
    Ok(offset_response(StatusCode::OK, &row, row.offset))
}

enum Checksum {
    Sha1(Sha1, Vec<u8>),
    Sha256(Sha256, Vec<u8>),
}

fn parse_checksum(headers: &HeaderMap) -> Result<Option<Checksum>, Failure> {
    let Some(v) = header_str(headers, "Upload-Checksum") else {
        return Ok(None);
    };
    let (algo, b64) = v
        .trim()
        .split_once(' ')
        .ok_or_else(|| Failure::bad_request("Upload-Checksum must be '<algorithm> <base64>'"))?;
    let want = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| Failure::bad_request("Upload-Checksum is not base64"))?;
    match algo {
        "sha1" => Ok(Some(Checksum::Sha1(Sha1::new(), want))),
        "sha256" => Ok(Some(Checksum::Sha256(Sha256::new(), want))),
        _ => Err(Failure::bad_request(format!(
            "checksum algorithm {algo} is not supported (use sha1 or sha256)"
        ))),
    }
}

impl Checksum {
    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(h, _) => h.update(data),
            Self::Sha256(h, _) => h.update(data),
        }
    }
    fn matches(self) -> bool {
        match self {
            Self::Sha1(h, want) => h.finalize().as_slice() == want.as_slice(),
            Self::Sha256(h, want) => h.finalize().as_slice() == want.as_slice(),
        }
    }
}

/// `PATCH /api/v1/uploads/{id}`: appends a chunk at `Upload-Offset`.
pub async fn patch(
    State(state): State<AppState>,
    device: AuthedDevice,
    Path(id): Path<UploadId>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    check_resumable(&headers)?;
    if header_str(&headers, header::CONTENT_TYPE.as_str()) != Some(OFFSET_CONTENT_TYPE) {
        return Err(Failure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Content-Type must be application/offset+octet-stream",
        ));
    }
    let claimed: u64 = header_str(&headers, "Upload-Offset")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Failure::bad_request("Upload-Offset is missing or not a number"))?;
    let mut checksum = parse_checksum(&headers)?;
    // Only the device's own upload gets a lock (and a map entry).
    load(&state, id, &device).await?;
    let lock = state.upload_locks.get(&id);
    let _guard = lock.lock().await;
    let row = load(&state, id, &device).await?;
    if claimed != row.offset {
        return Err(offset_mismatch(row.offset, claimed));
    }
    if row.completed {
        return Ok(offset_response(StatusCode::NO_CONTENT, &row, row.offset));
    }
    let remaining = row.length - row.offset;
    if let Some(len) =
        header_str(&headers, header::CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok())
        && len > remaining
    {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("the chunk is larger than the {remaining} bytes that remain"),
        ));
    }
    let mut sink = Sink::open(&state, &row).await?;
    let mut written: u64 = 0;
    let mut head_checked = row.offset >= 3;
    // The JPEG magic spans the first three bytes; an upload cut after one or
    // two of them resumes with those read back, not with the next three.
    let mut first_bytes: Vec<u8> = Vec::new();
    if !head_checked && row.offset > 0 {
        first_bytes = spooled_bytes(&state, &row).await?;
    }
    let mut stream = body.into_data_stream();
    let mut cut = false;
    let mut too_big = false;
    let read_timeout =
        std::time::Duration::from_secs(state.settings.limits.upload_read_timeout_secs);
    loop {
        let chunk = match tokio::time::timeout(read_timeout, stream.next()).await {
            Ok(None) => break,
            Ok(Some(Ok(c))) => c,
            Ok(Some(Err(e))) => {
                tracing::info!(upload = %id, error = %e, written, "upload chunk cut off");
                cut = true;
                break;
            }
            Err(_) => {
                tracing::info!(upload = %id, written, secs = read_timeout.as_secs(), "upload chunk stalled; cut off");
                cut = true;
                break;
            }
        };
        if written + chunk.len() as u64 > remaining {
            too_big = true;
            break;
        }
        if !head_checked {
            first_bytes.extend_from_slice(&chunk[..chunk.len().min(3)]);
            if first_bytes.len() >= 3 {
                head_checked = true;
                // a JPEG, or one sealed on the device (opened when complete)
                if !is_jpeg_magic(&first_bytes) && !kring_protocol::seal::looks_sealed(&first_bytes)
                {
                    drop(sink);
                    fail_upload(&state, id, "not a JPEG file").await?;
                    return Err(Failure::new(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        ErrorCode::NotAJpeg,
                        "only JPEG photos can be uploaded",
                    ));
                }
            }
        }
        if let Some(c) = checksum.as_mut() {
            c.update(&chunk);
        }
        // on an error, what was stored before is kept (its offset moved with it)
        sink.write(&state, id, &chunk).await?;
        written += chunk.len() as u64;
    }
    let discard = too_big || (checksum.is_some() && cut);
    let checksum_ok = match checksum {
        Some(c) if !discard && !cut => c.matches(),
        _ => true,
    };
    if discard || !checksum_ok {
        sink.discard(&state, id, row.offset).await?;
        if too_big {
            return Err(Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                format!("the chunk is larger than the {remaining} bytes that remain"),
            ));
        }
        if !checksum_ok {
            return Err(checksum_mismatch());
        }
        return Err(Failure::bad_request(
            "the chunk was cut off; ask for the offset and resume",
        ));
    }
    let new_offset = row.offset + written;
    sink.keep(&state, id, new_offset).await?;
    let mut row = row;
    row.offset = new_offset;
    if new_offset == row.length {
        finish(&state, id, &row).await?;
        row.completed = true;
    }
    Ok(offset_response(StatusCode::NO_CONTENT, &row, new_offset))
}

async fn fail_upload(state: &AppState, id: UploadId, reason: &str) -> Result<(), Failure> {
    let reason = reason.to_string();
    let path = upload_path(state, &id);
    let _ = tokio::fs::remove_file(&path).await;
    tracing::warn!(upload = %id, reason, "upload refused");
    state.store.fail_upload(id, reason).await?;
    Ok(())
}

/// All bytes are there: verify, strip, thumbnail, store, mark complete.
async fn finish(state: &AppState, id: UploadId, row: &UploadRow) -> Result<(), Failure> {
    let limits = PhotoLimits {
        max_pixels: state.settings.limits.max_pixels,
        max_bytes: state.settings.limits.max_upload_bytes,
        ..PhotoLimits::default()
    };
    let blobs = state.blobs.clone();
    let seal = state.seal.clone();
    let expected = row.expected_sha256.clone();
    let _permit = state
        .photo_work
        .acquire()
        .await
        .map_err(|e| Failure::internal("photo work queue", &e))?;
    let bytes = spooled_bytes(state, row).await?;
    let result = tokio::task::spawn_blocking(
        move || -> Result<Result<CompletedUpload, String>, Failure> {
            // a photo sealed on the device is opened first: the announced
            // sha256 is always the JPEG's (the one its photo item names)
            let bytes = if kring_protocol::seal::looks_sealed(&bytes) {
                match seal.open(&bytes) {
                    Ok(jpeg) => jpeg,
                    Err(e) => return Ok(Err(e.to_string())),
                }
            } else {
                bytes
            };
            let sha = hex::encode(Sha256::digest(&bytes));
            if let Some(want) = expected
                && want != sha
            {
                return Ok(Err(
                    "the uploaded bytes do not match the announced sha256".into()
                ));
            }
            let processed = match process(&bytes, &limits) {
                Ok(p) => p,
                Err(e) => return Ok(Err(e.to_string())),
            };
            let blob_key = format!("photos/{}/{id}.jpg", &sha[..2]);
            let thumb_key = format!("thumbs/{}/{id}.jpg", &sha[..2]);
            blobs
                .put(&blob_key, &processed.jpeg)
                .map_err(|e| Failure::internal("store photo", &e))?;
            blobs
                .put(&thumb_key, &processed.thumbnail)
                .map_err(|e| Failure::internal("store thumbnail", &e))?;
            Ok(Ok(CompletedUpload {
                sha256: sha,
                blob_key,
                thumb_key,
                width: processed.width,
                height: processed.height,
            }))
        },
    )
    .await
    .map_err(|e| Failure::internal("finish upload", &e))??;
    let stored = match result {
        Ok(v) => v,
        Err(reason) => {
            fail_upload(state, id, &reason).await?;
            return Err(Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::NotAJpeg,
                reason,
            ));
        }
    };
    let (sha_log, w, h) = (stored.sha256.clone(), stored.width, stored.height);
    state.store.complete_upload(id, stored, Utc::now()).await?;
    let _ = tokio::fs::remove_file(upload_path(state, &id)).await;
    tracing::info!(upload = %id, device = %row.device, sha256 = %sha_log, width = w, height = h, "upload complete");
    Ok(())
}

/// Removes expired unfinished uploads and their spool files, and complete
/// uploads no photo took within `unused_upload_hours` with their photo and
/// thumbnail. Returns how many.
pub async fn sweep_expired(state: &AppState) -> Result<usize, crate::store::StoreError> {
    let now = Utc::now();
    let unused_before = now - Duration::hours(state.settings.limits.unused_upload_hours);
    let swept = state
        .store
        .sweep_expired_uploads(now, unused_before)
        .await?;
    for upload in &swept {
        let _ = tokio::fs::remove_file(upload_path(state, &upload.id)).await;
    }
    let keys: Vec<String> = swept.iter().flat_map(|u| u.blob_keys.clone()).collect();
    let files = keys.len();
    if !keys.is_empty() {
        let blobs = state.blobs.clone();
        tokio::task::spawn_blocking(move || {
            for key in keys {
                if let Err(e) = blobs.delete(&key) {
                    tracing::warn!(key, error = %e, "could not delete an unused upload's file");
                }
            }
        })
        .await
        .map_err(crate::store::StoreError::backend)?;
    }
    if !swept.is_empty() {
        tracing::info!(
            uploads = swept.len(),
            files,
            "expired and unused uploads removed"
        );
    }
    Ok(swept.len())
}

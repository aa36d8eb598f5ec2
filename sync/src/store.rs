//! The device's durable local store: SQLite (WAL, foreign keys, numbered
//! migrations) plus photo files on disk.
//!
//! **Saved means durable.** Every `save_*` returns only after the transaction
//! holding the item and its outbox row has committed with `synchronous=FULL`;
//! a photo's bytes are written to a temp file, fsynced, renamed into place and
//! the directory fsynced *before* that transaction. The item's UUIDv7 is
//! minted inside the same transaction and is its idempotency key forever.

use crate::crash::crash_point;
use chrono::{DateTime, Utc};
use kring_protocol::{
    Audience, BabyFields, ChangeKind, Child, ChildId, Cursor, DiaryEntryId, EnrollResponse,
    FeedPage, GroupInfo, Message, MessageId, MessageThread, MqttConnectInfo, ParentDiaryEntry,
    PhotoId, PhotoItem, PushItem, PushReceipt, ReadReceiptId, ReadReceiptItem, Staff,
    StaffDiaryItem, StaffId, StaffMessageItem, UploadId,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

const MIGRATIONS: &[&str] = &[include_str!("../migrations/0001_init.sql")];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("device database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("photo file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("stored data could not be read: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the device store lock was poisoned")]
    Poisoned,
    #[error("unknown item {0}")]
    UnknownItem(uuid::Uuid),
    #[error("{0}")]
    Invalid(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Kind of an outbox item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Photo,
    Diary,
    Message,
    ReadReceipt,
}

impl ItemKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Photo => "photo",
            Self::Diary => "diary",
            Self::Message => "message",
            Self::ReadReceipt => "read_receipt",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "photo" => Self::Photo,
            "diary" => Self::Diary,
            "message" => Self::Message,
            "read_receipt" => Self::ReadReceipt,
            other => return Err(StoreError::Invalid(format!("unknown item kind {other}"))),
        })
    }
}

/// Persisted state of an outbox item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ItemState {
    /// Nog niet verstuurd.
    Waiting,
    /// Verstuurd: the server confirmed it.
    Sent,
    /// Actie nodig: the server refused it, for this reason.
    Wedged { reason: String },
}

/// One row of the outbox, as the engine's decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub seq: i64,
    pub id: uuid::Uuid,
    pub kind: ItemKind,
    pub depends_on: Vec<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
    pub state: ItemState,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// An item in the Synchronisatie list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentItem {
    pub id: uuid::Uuid,
    pub kind: ItemKind,
    pub created_at: DateTime<Utc>,
    pub state: ItemState,
}

/// The device's credentials, stored at enrollment.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceCredentials {
    pub device_id: kring_protocol::DeviceId,
    pub secret: String,
    pub server_url: String,
    pub group: GroupInfo,
    pub mqtt: MqttConnectInfo,
}

impl std::fmt::Debug for DeviceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCredentials")
            .field("device_id", &self.device_id)
            .field("secret", &"<redacted>")
            .field("server_url", &self.server_url)
            .field("group", &self.group.name)
            .finish()
    }
}

/// A photo's local file, for the uploader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoFile {
    pub path: Option<PathBuf>,
    pub sha256: String,
    pub bytes: u64,
    pub upload_url: Option<String>,
}

/// A photo as staff saved it (the UI decided the audience before saving).
#[derive(Debug, Clone)]
pub struct NewPhoto<'a> {
    /// The camera's JPEG, stored as it came.
    pub jpeg: &'a [u8],
    /// A small thumbnail for today's overview (kept after upload), if any.
    pub thumbnail: Option<&'a [u8]>,
    pub tags: Vec<ChildId>,
    pub no_children_recognizable: bool,
    pub audience: Audience,
    pub staff: Option<StaffId>,
}

/// A diary entry as staff saved it.
#[derive(Debug, Clone)]
pub struct NewDiary {
    pub children: Vec<ChildId>,
    pub text: String,
    pub photos: Vec<PhotoId>,
    pub baby: Option<BabyFields>,
    pub staff: Option<StaffId>,
}

/// What start-up found on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartupReport {
    /// Photo files with no row (a crash before the commit): removed.
    pub orphan_files_removed: usize,
    /// Items whose photo file is missing before it was confirmed.
    pub missing_files: Vec<uuid::Uuid>,
}

/// The device store. Share it as `Arc<Store>`; every method is short and
/// blocking (call it from the UI thread for saves, or `spawn_blocking`).
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    dir: PathBuf,
}

fn time_str(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Invalid(format!("bad time {s}")))
}

fn parse_uuid(s: &str) -> Result<uuid::Uuid, StoreError> {
    uuid::Uuid::parse_str(s).map_err(|_| StoreError::Invalid(format!("bad id {s}")))
}

/// Writes `bytes` to `path` durably: temp file, fsync, rename, fsync the directory.
pub fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path
        .parent()
        .ok_or_else(|| StoreError::Invalid("photo path without directory".into()))?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        let half = bytes.len() / 2;
        f.write_all(&bytes[..half]).map_err(io_err(&tmp))?;
        crash_point("photo_write");
        f.write_all(&bytes[half..]).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    Ok(())
}

impl Store {
    /// Opens the store in `dir` (created if needed), applies migrations and
    /// reconciles photo files with rows.
    pub fn open(dir: &Path) -> Result<(Self, StartupReport), StoreError> {
        for sub in ["photos", "thumbs"] {
            let d = dir.join(sub);
            std::fs::create_dir_all(&d).map_err(io_err(&d))?;
        }
        let conn = Connection::open(dir.join("device.sqlite3"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut conn = conn;
        migrate(&mut conn)?;
        let store = Self {
            conn: Mutex::new(conn),
            dir: dir.to_path_buf(),
        };
        let report = store.reconcile()?;
        if report != StartupReport::default() {
            tracing::warn!(?report, "store start-up reconciled files");
        }
        Ok((store, report))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    fn photo_path(&self, id: &PhotoId) -> PathBuf {
        self.dir.join("photos").join(format!("{id}.jpg"))
    }

    fn thumb_path(&self, id: &PhotoId) -> PathBuf {
        self.dir.join("thumbs").join(format!("{id}.jpg"))
    }

    fn reconcile(&self) -> Result<StartupReport, StoreError> {
        let conn = self.conn()?;
        let mut report = StartupReport::default();
        let known: std::collections::HashSet<String> = conn
            .prepare("SELECT file FROM photo_files WHERE file IS NOT NULL UNION SELECT thumb FROM photo_files WHERE thumb IS NOT NULL")?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        for sub in ["photos", "thumbs"] {
            let d = self.dir.join(sub);
            for entry in std::fs::read_dir(&d).map_err(io_err(&d))? {
                let entry = entry.map_err(io_err(&d))?;
                let name = format!("{sub}/{}", entry.file_name().to_string_lossy());
                if !known.contains(&name) {
                    std::fs::remove_file(entry.path()).map_err(io_err(&entry.path()))?;
                    report.orphan_files_removed += 1;
                }
            }
        }
        let rows: Vec<(String, String)> = conn
            .prepare(
                "SELECT p.item_id, p.file FROM photo_files p JOIN outbox o ON o.id = p.item_id
                 WHERE p.file IS NOT NULL AND o.state != 'sent'",
            )?
            .query_map([], |r| r.try_into())?
            .collect::<Result<_, _>>()?;
        for (id, file) in rows {
            if !self.dir.join(&file).exists() {
                let id = parse_uuid(&id)?;
                conn.execute(
                    "UPDATE outbox SET state = 'wedged', wedged_reason = ?2 WHERE id = ?1",
                    params![id.to_string(), "de foto is niet meer op het apparaat"],
                )?;
                report.missing_files.push(id);
            }
        }
        Ok(report)
    }

    // ------------------------------------------------------------ device

    pub fn device(&self) -> Result<Option<DeviceCredentials>, StoreError> {
        let conn = self.conn()?;
        let row: Option<(String, String, String, String, String)> = conn
            .query_row(
                "SELECT device_id, secret, server_url, group_json, mqtt_json FROM device",
                [],
                |r| r.try_into(),
            )
            .optional()?;
        row.map(|(id, secret, url, group, mqtt)| {
            Ok(DeviceCredentials {
                device_id: parse_uuid(&id)?.into(),
                secret,
                server_url: url,
                group: serde_json::from_str(&group)?,
                mqtt: serde_json::from_str(&mqtt)?,
            })
        })
        .transpose()
    }

    pub fn save_enrollment(
        &self,
        server_url: &str,
        resp: &EnrollResponse,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "INSERT OR REPLACE INTO device (singleton, device_id, secret, server_url, group_json, mqtt_json, enrolled_at)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                resp.device_id.to_string(),
                resp.device_secret,
                server_url.trim_end_matches('/'),
                serde_json::to_string(&resp.group)?,
                serde_json::to_string(&resp.mqtt)?,
                time_str(now)
            ],
        )?;
        conn.execute(
            "INSERT OR REPLACE INTO group_info (singleton, json) VALUES (1, ?1)",
            params![serde_json::to_string(&resp.group)?],
        )?;
        Ok(())
    }

    // ------------------------------------------------------------ saving

    fn insert_outbox(
        tx: &Connection,
        id: &uuid::Uuid,
        kind: ItemKind,
        payload: &str,
        depends_on: &[uuid::Uuid],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO outbox (id, kind, payload, depends_on, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id.to_string(),
                kind.as_str(),
                payload,
                serde_json::to_string(depends_on)?,
                time_str(now)
            ],
        )?;
        Ok(())
    }

    /// Saves a photo durably and queues it. Returns its id once it is "opgeslagen".
    pub fn save_photo(
        &self,
        photo: NewPhoto<'_>,
        now: DateTime<Utc>,
    ) -> Result<PhotoId, StoreError> {
        if !photo.jpeg.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Err(StoreError::Invalid("not a JPEG".into()));
        }
        if matches!(photo.audience, Audience::Refused { .. }) {
            return Err(StoreError::Invalid(
                "a tagged child has no photo consent".into(),
            ));
        }
        let id = PhotoId::new();
        let path = self.photo_path(&id);
        write_durably(&path, photo.jpeg)?;
        let thumb = match photo.thumbnail {
            Some(t) => {
                write_durably(&self.thumb_path(&id), t)?;
                Some(format!("thumbs/{id}.jpg"))
            }
            None => None,
        };
        let sha = hex::encode(Sha256::digest(photo.jpeg));
        let item = PhotoItem {
            id,
            // Filled in when the upload is created; see `photo_item`.
            upload_id: UploadId(uuid::Uuid::nil()),
            sha256: sha.clone(),
            tags: photo.tags,
            no_children_recognizable: photo.no_children_recognizable,
            audience_shown: photo.audience,
            taken_at_device: now,
            staff_id: photo.staff,
        };
        let payload = serde_json::to_string(&PushItem::Photo(item))?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        Self::insert_outbox(&tx, &id.0, ItemKind::Photo, &payload, &[], now)?;
        tx.execute(
            "INSERT INTO photo_files (item_id, file, thumb, sha256, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id.to_string(), format!("photos/{id}.jpg"), thumb, sha, photo.jpeg.len() as i64],
        )?;
        crash_point("commit");
        tx.commit()?;
        tracing::info!(item = %id, bytes = photo.jpeg.len(), "photo saved");
        Ok(id)
    }

    /// Saves a diary entry (one child or several). Photos it uses that have
    /// not been sent yet become its dependencies.
    pub fn save_diary(&self, d: NewDiary, now: DateTime<Utc>) -> Result<DiaryEntryId, StoreError> {
        if d.children.is_empty() {
            return Err(StoreError::Invalid("a diary entry needs a child".into()));
        }
        let id = DiaryEntryId::new();
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut deps = Vec::new();
        for p in &d.photos {
            let state: Option<String> = tx
                .query_row(
                    "SELECT state FROM outbox WHERE id = ?1",
                    params![p.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            if state.is_some_and(|s| s != "sent") {
                deps.push(p.0);
            }
        }
        let item = PushItem::Diary(StaffDiaryItem {
            id,
            children: d.children,
            text: d.text,
            photos: d.photos,
            baby: d.baby,
            staff_id: d.staff,
            written_at_device: now,
        });
        Self::insert_outbox(
            &tx,
            &id.0,
            ItemKind::Diary,
            &serde_json::to_string(&item)?,
            &deps,
            now,
        )?;
        crash_point("commit");
        tx.commit()?;
        Ok(id)
    }

    /// Saves a message to one child's parents or to the whole group.
    pub fn save_message(
        &self,
        thread: MessageThread,
        body: &str,
        staff: Option<StaffId>,
        now: DateTime<Utc>,
    ) -> Result<MessageId, StoreError> {
        if body.trim().is_empty() {
            return Err(StoreError::Invalid("an empty message".into()));
        }
        let id = MessageId::new();
        let item = PushItem::Message(StaffMessageItem {
            id,
            thread,
            body: body.trim().to_string(),
            staff_id: staff,
        });
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        Self::insert_outbox(
            &tx,
            &id.0,
            ItemKind::Message,
            &serde_json::to_string(&item)?,
            &[],
            now,
        )?;
        crash_point("commit");
        tx.commit()?;
        Ok(id)
    }

    /// Records that staff read a parent's message (once per message).
    pub fn save_read_receipt(
        &self,
        message: MessageId,
        staff: Option<StaffId>,
        now: DateTime<Utc>,
    ) -> Result<Option<ReadReceiptId>, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let already: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM outbox WHERE kind = 'read_receipt' AND json_extract(payload, '$.message_id') = ?1",
                params![message.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        if already.is_some() {
            return Ok(None);
        }
        let id = ReadReceiptId::new();
        let item = PushItem::ReadReceipt(ReadReceiptItem {
            id,
            message_id: message,
            staff_id: staff,
        });
        Self::insert_outbox(
            &tx,
            &id.0,
            ItemKind::ReadReceipt,
            &serde_json::to_string(&item)?,
            &[],
            now,
        )?;
        tx.commit()?;
        Ok(Some(id))
    }

    // ------------------------------------------------------------ outbox

    /// Every item that is not yet sent, oldest first, plus counts.
    pub fn pending(&self) -> Result<Vec<OutboxRow>, StoreError> {
        let conn = self.conn()?;
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            String,
            u32,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = conn
            .prepare(
                "SELECT seq, id, kind, depends_on, created_at, state, attempts, next_attempt_at,
                        last_error, wedged_reason
                 FROM outbox WHERE state != 'sent' ORDER BY seq",
            )?
            .query_map([], |r| r.try_into())?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(
                |(seq, id, kind, deps, created, state, attempts, next, err, wedged)| {
                    Ok(OutboxRow {
                        seq,
                        id: parse_uuid(&id)?,
                        kind: ItemKind::parse(&kind)?,
                        depends_on: serde_json::from_str(&deps)?,
                        created_at: parse_time(&created)?,
                        state: match state.as_str() {
                            "wedged" => ItemState::Wedged {
                                reason: wedged.unwrap_or_default(),
                            },
                            "sent" => ItemState::Sent,
                            _ => ItemState::Waiting,
                        },
                        attempts,
                        next_attempt_at: next.as_deref().map(parse_time).transpose()?,
                        last_error: err,
                    })
                },
            )
            .collect()
    }

    /// States of the given items (sent ones included), for dependency checks.
    pub fn states(&self, ids: &[uuid::Uuid]) -> Result<Vec<(uuid::Uuid, ItemState)>, StoreError> {
        let conn = self.conn()?;
        let mut out = Vec::new();
        for id in ids {
            let row: Option<(String, Option<String>)> = conn
                .query_row(
                    "SELECT state, wedged_reason FROM outbox WHERE id = ?1",
                    params![id.to_string()],
                    |r| r.try_into(),
                )
                .optional()?;
            let state = match row {
                Some((s, _)) if s == "sent" => ItemState::Sent,
                Some((s, reason)) if s == "wedged" => ItemState::Wedged {
                    reason: reason.unwrap_or_default(),
                },
                Some(_) => ItemState::Waiting,
                // Not a local item: the server has it or will say so.
                None => ItemState::Sent,
            };
            out.push((*id, state));
        }
        Ok(out)
    }

    /// The item as it will be pushed. For a photo, `upload` gives its upload id.
    pub fn item(&self, id: &uuid::Uuid) -> Result<PushItem, StoreError> {
        let conn = self.conn()?;
        let payload: String = conn
            .query_row(
                "SELECT payload FROM outbox WHERE id = ?1",
                params![id.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(StoreError::UnknownItem(*id))?;
        Ok(serde_json::from_str(&payload)?)
    }

    pub fn photo_file(&self, id: &uuid::Uuid) -> Result<PhotoFile, StoreError> {
        let conn = self.conn()?;
        let row: Option<(Option<String>, String, i64, Option<String>)> = conn
            .query_row(
                "SELECT file, sha256, bytes, upload_url FROM photo_files WHERE item_id = ?1",
                params![id.to_string()],
                |r| r.try_into(),
            )
            .optional()?;
        let (file, sha256, bytes, upload_url) = row.ok_or(StoreError::UnknownItem(*id))?;
        Ok(PhotoFile {
            path: file.map(|f| self.dir.join(f)),
            sha256,
            bytes: bytes as u64,
            upload_url,
        })
    }

    /// Remembers (or forgets, with None) the upload URL of a photo, and puts
    /// the upload's id into the item, before any byte is sent.
    pub fn set_upload(
        &self,
        id: &uuid::Uuid,
        url: Option<&str>,
        upload: Option<UploadId>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE photo_files SET upload_url = ?2 WHERE item_id = ?1",
            params![id.to_string(), url],
        )?;
        if let Some(upload) = upload {
            let payload: String = tx.query_row(
                "SELECT payload FROM outbox WHERE id = ?1",
                params![id.to_string()],
                |r| r.get(0),
            )?;
            let mut item: PushItem = serde_json::from_str(&payload)?;
            if let PushItem::Photo(p) = &mut item {
                p.upload_id = upload;
            }
            tx.execute(
                "UPDATE outbox SET payload = ?2 WHERE id = ?1",
                params![id.to_string(), serde_json::to_string(&item)?],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A retryable failure: count it and say when to try again.
    pub fn record_failure(
        &self,
        id: &uuid::Uuid,
        next: DateTime<Utc>,
        error: &str,
    ) -> Result<u32, StoreError> {
        let conn = self.conn()?;
        Ok(conn.query_row(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3
             WHERE id = ?1 RETURNING attempts",
            params![id.to_string(), time_str(next), error],
            |r| r.get(0),
        )?)
    }

    /// The server confirmed the item. For a photo whose confirmed hash matches,
    /// the local file is deleted (the thumbnail stays for today's overview).
    pub fn mark_sent(
        &self,
        id: &uuid::Uuid,
        receipt: &PushReceipt,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?2, receipt = ?3, next_attempt_at = NULL,
                    last_error = NULL WHERE id = ?1",
            params![
                id.to_string(),
                time_str(now),
                serde_json::to_string(receipt)?
            ],
        )?;
        tx.execute(
            "UPDATE sync_state SET last_push_at = ?1",
            params![time_str(now)],
        )?;
        let file: Option<(Option<String>, String)> = tx
            .query_row(
                "SELECT file, sha256 FROM photo_files WHERE item_id = ?1",
                params![id.to_string()],
                |r| r.try_into(),
            )
            .optional()?;
        let mut delete = None;
        if let Some((Some(file), sha)) = file {
            if receipt
                .sha256
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(&sha))
            {
                tx.execute(
                    "UPDATE photo_files SET file = NULL WHERE item_id = ?1",
                    params![id.to_string()],
                )?;
                delete = Some(self.dir.join(file));
            } else {
                tracing::warn!(item = %id, "server confirmed a photo with another hash; keeping the file");
            }
        }
        tx.commit()?;
        if let Some(path) = delete
            && let Err(e) = std::fs::remove_file(&path)
        {
            // Removed at the next start-up as an orphan.
            tracing::warn!(path = %path.display(), error = %e, "could not delete a sent photo");
        }
        Ok(())
    }

    /// The server refused the item: it needs attention and is not retried.
    pub fn mark_wedged(&self, id: &uuid::Uuid, reason: &str) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "UPDATE outbox SET state = 'wedged', wedged_reason = ?2, next_attempt_at = NULL WHERE id = ?1",
            params![id.to_string(), reason],
        )?;
        Ok(())
    }

    /// Staff chose "opnieuw proberen" on an item that needed attention.
    pub fn retry(&self, id: &uuid::Uuid) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "UPDATE outbox SET state = 'waiting', wedged_reason = NULL, attempts = 0, next_attempt_at = NULL
             WHERE id = ?1 AND state = 'wedged'",
            params![id.to_string()],
        )?;
        Ok(())
    }

    /// How many items wait (not sent, not needing attention).
    pub fn counts(&self) -> Result<(usize, usize), StoreError> {
        let conn = self.conn()?;
        let waiting: i64 = conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE state = 'waiting'",
            [],
            |r| r.get(0),
        )?;
        let wedged: i64 = conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE state = 'wedged'",
            [],
            |r| r.get(0),
        )?;
        Ok((waiting as usize, wedged as usize))
    }

    /// Every item with its state, newest first (for the Synchronisatie screen).
    pub fn recent_items(&self, limit: usize) -> Result<Vec<RecentItem>, StoreError> {
        let conn = self.conn()?;
        let rows: Vec<(String, String, String, String, Option<String>)> = conn
            .prepare(
                "SELECT id, kind, created_at, state, wedged_reason FROM outbox ORDER BY seq DESC LIMIT ?1",
            )?
            .query_map(params![limit as i64], |r| r.try_into())?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(id, kind, created, state, reason)| {
                Ok(RecentItem {
                    id: parse_uuid(&id)?,
                    kind: ItemKind::parse(&kind)?,
                    created_at: parse_time(&created)?,
                    state: match state.as_str() {
                        "sent" => ItemState::Sent,
                        "wedged" => ItemState::Wedged {
                            reason: reason.unwrap_or_default(),
                        },
                        _ => ItemState::Waiting,
                    },
                })
            })
            .collect()
    }

    // ------------------------------------------------------------ cache

    pub fn cursor(&self) -> Result<Cursor, StoreError> {
        let conn = self.conn()?;
        Ok(Cursor(conn.query_row(
            "SELECT cursor FROM sync_state",
            [],
            |r| r.get(0),
        )?))
    }

    pub fn last_sync(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let conn = self.conn()?;
        let (pull, push): (Option<String>, Option<String>) = conn.query_row(
            "SELECT last_pull_at, last_push_at FROM sync_state",
            [],
            |r| r.try_into(),
        )?;
        let pull = pull.as_deref().map(parse_time).transpose()?;
        let push = push.as_deref().map(parse_time).transpose()?;
        Ok(pull.max(push))
    }

    /// Applies one feed page and its cursor in one transaction. A page whose
    /// cursor is not ahead of ours (a replay) changes nothing.
    pub fn apply_feed_page(&self, page: &FeedPage, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let cursor: i64 = tx.query_row("SELECT cursor FROM sync_state", [], |r| r.get(0))?;
        if page.cursor.0 < cursor {
            return Ok(());
        }
        for change in &page.changes {
            if change.seq <= cursor {
                continue;
            }
            match &change.kind {
                ChangeKind::Group(g) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO group_info (singleton, json) VALUES (1, ?1)",
                        params![serde_json::to_string(g)?],
                    )?;
                }
                ChangeKind::Child(c) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO children (id, json) VALUES (?1, ?2)",
                        params![c.id.to_string(), serde_json::to_string(c)?],
                    )?;
                }
                ChangeKind::ChildRemoved { id } => {
                    tx.execute(
                        "DELETE FROM children WHERE id = ?1",
                        params![id.to_string()],
                    )?;
                    tx.execute(
                        "DELETE FROM absences WHERE child_id = ?1",
                        params![id.to_string()],
                    )?;
                    tx.execute(
                        "DELETE FROM parent_diary WHERE child_id = ?1",
                        params![id.to_string()],
                    )?;
                }
                ChangeKind::Staff(s) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO staff (id, json) VALUES (?1, ?2)",
                        params![s.id.to_string(), serde_json::to_string(s)?],
                    )?;
                }
                ChangeKind::StaffRemoved { id } => {
                    tx.execute("DELETE FROM staff WHERE id = ?1", params![id.to_string()])?;
                }
                ChangeKind::Absence(a) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO absences (id, child_id, json) VALUES (?1, ?2, ?3)",
                        params![
                            a.id.to_string(),
                            a.child_id.to_string(),
                            serde_json::to_string(a)?
                        ],
                    )?;
                }
                ChangeKind::Message(m) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO messages (id, sent_at, json) VALUES (?1, ?2, ?3)",
                        params![
                            m.id.to_string(),
                            time_str(m.sent_at),
                            serde_json::to_string(m)?
                        ],
                    )?;
                }
                ChangeKind::ParentDiaryEntry(d) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO parent_diary (id, child_id, json) VALUES (?1, ?2, ?3)",
                        params![d.id.to_string(), d.child_id.to_string(), serde_json::to_string(d)?],
                    )?;
                }
            }
        }
        tx.execute(
            "UPDATE sync_state SET cursor = ?1, last_pull_at = ?2",
            params![page.cursor.0, time_str(now)],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn load_json<T: serde::de::DeserializeOwned>(&self, sql: &str) -> Result<Vec<T>, StoreError> {
        let conn = self.conn()?;
        let rows: Vec<String> = conn
            .prepare(sql)?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        rows.iter().map(|j| Ok(serde_json::from_str(j)?)).collect()
    }

    pub fn group(&self) -> Result<Option<GroupInfo>, StoreError> {
        Ok(self
            .load_json("SELECT json FROM group_info")?
            .into_iter()
            .next())
    }
    pub fn children(&self) -> Result<Vec<Child>, StoreError> {
        self.load_json("SELECT json FROM children")
    }
    pub fn staff(&self) -> Result<Vec<Staff>, StoreError> {
        self.load_json("SELECT json FROM staff")
    }
    pub fn absences(&self) -> Result<Vec<kring_protocol::Absence>, StoreError> {
        self.load_json("SELECT json FROM absences")
    }
    /// Messages, oldest first (by server time).
    pub fn messages(&self) -> Result<Vec<Message>, StoreError> {
        self.load_json("SELECT json FROM messages ORDER BY sent_at")
    }
    pub fn parent_diary(&self) -> Result<Vec<ParentDiaryEntry>, StoreError> {
        self.load_json("SELECT json FROM parent_diary")
    }

    /// Wipes everything: credentials, items, cached data, photo files. Used
    /// when the server says the device was revoked.
    pub fn wipe(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for table in [
            "photo_files",
            "outbox",
            "device",
            "group_info",
            "children",
            "staff",
            "absences",
            "messages",
            "parent_diary",
        ] {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
        tx.execute(
            "UPDATE sync_state SET cursor = 0, last_pull_at = NULL, last_push_at = NULL",
            [],
        )?;
        tx.commit()?;
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")?;
        drop(conn);
        for sub in ["photos", "thumbs"] {
            let d = self.dir.join(sub);
            if d.exists() {
                std::fs::remove_dir_all(&d).map_err(io_err(&d))?;
            }
            std::fs::create_dir_all(&d).map_err(io_err(&d))?;
        }
        tracing::warn!("device store wiped");
        Ok(())
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version <= current {
            continue;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kring_protocol::{Change, Cursor, PhotoConsent, Weekday};

    fn jpeg() -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0];
        v.extend(std::iter::repeat_n(7u8, 5000));
        v.extend([0xFF, 0xD9]);
        v
    }

    fn photo(bytes: &[u8]) -> NewPhoto<'_> {
        NewPhoto {
            jpeg: bytes,
            thumbnail: Some(bytes),
            tags: vec![],
            no_children_recognizable: true,
            audience: Audience::WholeGroup,
            staff: None,
        }
    }

    fn child(id: ChildId) -> Child {
        Child {
            id,
            first_name: "Sem".into(),
            last_name: "de Vries".into(),
            birth_date: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default(),
            photo_consent: PhotoConsent::Group,
            planned_days: vec![Weekday::Mon],
            placement_start: chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap_or_default(),
            placement_end: None,
            allergies: None,
            notes: None,
        }
    }

    #[test]
    fn saved_items_survive_a_reopen_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = Utc::now();
        let ids = {
            let (s, _) = Store::open(dir.path()).expect("open");
            let a = s
                .save_message(MessageThread::Group, "een", None, now)
                .expect("save")
                .0;
            let bytes = jpeg();
            let b = s.save_photo(photo(&bytes), now).expect("photo").0;
            let c = s
                .save_message(MessageThread::Group, "drie", None, now)
                .expect("save")
                .0;
            vec![a, b, c]
        };
        let (s, report) = Store::open(dir.path()).expect("reopen");
        assert_eq!(report, StartupReport::default());
        let pending: Vec<uuid::Uuid> = s.pending().expect("pending").iter().map(|r| r.id).collect();
        assert_eq!(pending, ids);
        assert!(ids.iter().all(|id| id.get_version_num() == 7), "UUIDv7 ids");
        assert!(
            matches!(s.item(&ids[1]).expect("item"), PushItem::Photo(p) if p.sha256.len() == 64)
        );
        assert_eq!(s.counts().expect("counts"), (3, 0));
        let file = s.photo_file(&ids[1]).expect("file");
        assert!(file.path.expect("path").exists());
    }

    #[test]
    fn start_up_removes_orphans_and_reports_missing_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bytes = jpeg();
        let id = {
            let (s, _) = Store::open(dir.path()).expect("open");
            s.save_photo(photo(&bytes), Utc::now()).expect("photo").0
        };
        // a crash mid-write leaves a temp file with no row; a lost file leaves a row without file
        std::fs::write(dir.path().join("photos").join("half.tmp"), b"half").expect("write");
        std::fs::remove_file(dir.path().join("photos").join(format!("{id}.jpg"))).expect("rm");
        let (s, report) = Store::open(dir.path()).expect("reopen");
        assert_eq!(report.orphan_files_removed, 1);
        assert_eq!(report.missing_files, vec![id]);
        assert!(!dir.path().join("photos").join("half.tmp").exists());
        assert_eq!(s.counts().expect("counts"), (0, 1));
    }

    #[test]
    fn a_confirmed_photo_leaves_only_its_thumbnail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, _) = Store::open(dir.path()).expect("open");
        let bytes = jpeg();
        let id = s.save_photo(photo(&bytes), Utc::now()).expect("photo").0;
        let sha = s.photo_file(&id).expect("file").sha256;
        let receipt = |sha: Option<String>| PushReceipt {
            item_id: id,
            seq: 1,
            received_at: Utc::now(),
            sha256: sha,
        };
        // another hash: the file stays
        s.mark_sent(&id, &receipt(Some("00".repeat(32))), Utc::now())
            .expect("sent");
        assert!(s.photo_file(&id).expect("file").path.is_some());
        // the right hash: the file goes, the thumbnail stays
        s.mark_sent(&id, &receipt(Some(sha)), Utc::now())
            .expect("sent");
        assert!(s.photo_file(&id).expect("file").path.is_none());
        assert_eq!(
            std::fs::read_dir(dir.path().join("photos"))
                .expect("dir")
                .count(),
            0
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("thumbs"))
                .expect("dir")
                .count(),
            1
        );
        assert!(s.pending().expect("pending").is_empty());
    }

    #[test]
    fn feed_pages_apply_once_with_their_cursor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, _) = Store::open(dir.path()).expect("open");
        let a = ChildId::new();
        let page = FeedPage {
            changes: vec![Change {
                seq: 5,
                kind: ChangeKind::Child(child(a)),
            }],
            cursor: Cursor(5),
            has_more: false,
        };
        s.apply_feed_page(&page, Utc::now()).expect("apply");
        assert_eq!(s.cursor().expect("cursor"), Cursor(5));
        assert_eq!(s.children().expect("children").len(), 1);
        let removed = FeedPage {
            changes: vec![Change {
                seq: 6,
                kind: ChangeKind::ChildRemoved { id: a },
            }],
            cursor: Cursor(6),
            has_more: false,
        };
        s.apply_feed_page(&removed, Utc::now()).expect("apply");
        assert!(s.children().expect("children").is_empty());
        // an old page replayed changes nothing
        s.apply_feed_page(&page, Utc::now()).expect("replay");
        assert!(s.children().expect("children").is_empty());
        assert_eq!(s.cursor().expect("cursor"), Cursor(6));
    }

    #[test]
    fn read_receipts_are_saved_once_and_refusals_are_clear() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, _) = Store::open(dir.path()).expect("open");
        let m = MessageId::new();
        assert!(
            s.save_read_receipt(m, None, Utc::now())
                .expect("first")
                .is_some()
        );
        assert!(
            s.save_read_receipt(m, None, Utc::now())
                .expect("second")
                .is_none()
        );
        assert!(
            s.save_message(MessageThread::Group, "   ", None, Utc::now())
                .is_err()
        );
        let not_jpeg = b"PNG....".to_vec();
        assert!(s.save_photo(photo(&not_jpeg), Utc::now()).is_err());
        let bytes = jpeg();
        let mut refused = photo(&bytes);
        refused.audience = Audience::Refused {
            no_consent: vec![ChildId::new()],
        };
        assert!(s.save_photo(refused, Utc::now()).is_err());
        assert_eq!(s.counts().expect("counts"), (1, 0));
        assert_eq!(
            std::fs::read_dir(dir.path().join("photos"))
                .expect("dir")
                .count(),
            0
        );
    }

    #[test]
    fn a_diary_entry_depends_on_unsent_photos_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, _) = Store::open(dir.path()).expect("open");
        let bytes = jpeg();
        let p = s.save_photo(photo(&bytes), Utc::now()).expect("photo");
        let d = s
            .save_diary(
                NewDiary {
                    children: vec![ChildId::new()],
                    text: "met foto".into(),
                    photos: vec![p, PhotoId::new()],
                    baby: None,
                    staff: None,
                },
                Utc::now(),
            )
            .expect("diary");
        let rows = s.pending().expect("pending");
        let diary = rows.iter().find(|r| r.id == d.0).expect("row");
        assert_eq!(diary.depends_on, vec![p.0]);
    }

    #[test]
    fn wipe_removes_everything() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, _) = Store::open(dir.path()).expect("open");
        let bytes = jpeg();
        s.save_photo(photo(&bytes), Utc::now()).expect("photo");
        s.apply_feed_page(
            &FeedPage {
                changes: vec![Change {
                    seq: 1,
                    kind: ChangeKind::Child(child(ChildId::new())),
                }],
                cursor: Cursor(1),
                has_more: false,
            },
            Utc::now(),
        )
        .expect("apply");
        s.wipe().expect("wipe");
        assert!(s.pending().expect("pending").is_empty());
        assert!(s.children().expect("children").is_empty());
        assert_eq!(s.cursor().expect("cursor"), Cursor(0));
        assert!(s.device().expect("device").is_none());
        for sub in ["photos", "thumbs"] {
            assert_eq!(
                std::fs::read_dir(dir.path().join(sub))
                    .expect("dir")
                    .count(),
                0
            );
        }
    }
}

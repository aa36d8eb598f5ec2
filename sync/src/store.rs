//! The device's durable local store: one SQLite file (WAL, foreign keys,
//! numbered migrations) holding everything, photos included.
//!
//! **Saved means durable.** Every `save_*` returns only after the transaction
//! holding the item and its outbox row has committed with `synchronous=FULL`.
//! A photo's bytes (and its thumbnail) are BLOBs in that same transaction: one
//! commit, one flush of the WAL, atomic by construction, no file to orphan.
//! The item's UUIDv7 is minted inside the same transaction and is its
//! idempotency key forever.
//!
//! Keeping the card from filling and wearing out:
//! - the uploader reads a photo in chunks with incremental BLOB I/O on a
//!   separate reading connection ([`Store::read_photo`]);
//! - the photo's bytes are deleted in the transaction that marks it sent, once
//!   the server confirmed the same SHA-256; free pages go back to the file
//!   system with `incremental_vacuum` when the queue of photos is empty;
//! - the WAL is checkpointed by a background thread with its own connection
//!   (never on the capture path: the writer's auto-checkpoint is off) and kept
//!   to [`JOURNAL_SIZE_LIMIT`].
//!
//! Start-up ([`Store::open`]) runs `PRAGMA quick_check`; a damaged file is
//! moved aside, what can still be read is carried over (see `recovery`).

mod attendance;
mod recovery;

pub use attendance::NewAttendance;
pub use recovery::{Incident, Recovery};

use crate::crash::crash_point;
use crate::decide::Reason;
use chrono::{DateTime, Utc};
use kring_protocol::{
    Audience, BabyFields, ChangeKind, Child, ChildId, Cursor, DiaryEntryId, EnrollResponse,
    FeedPage, GroupInfo, Message, MessageId, MessageThread, MqttConnectInfo, ParentDiaryEntry,
    PhotoId, PhotoItem, PushItem, PushReceipt, ReadReceiptId, ReadReceiptItem, Staff,
    StaffDiaryItem, StaffId, StaffMessageItem, UploadId,
};
use kring_protocol::{SealTo, SealedItem};
use rusqlite::{Connection, MAIN_DB, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// One step of the store's schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub sql: &'static str,
    /// Code that knows only the migrations before this one would misread the
    /// file after it (e.g. a waiting item of a kind it does not know): such
    /// a release moves the file aside instead of using it (see
    /// [`Compat`]). A migration that only adds leaves older releases able
    /// to open the store after an update and after going back.
    pub breaks_older: bool,
}

/// The store's migrations, in order: the index + 1 is the store version.
/// Never edit a shipped one; add a new one, and mark it `breaks_older`
/// unless the release before it can still use the file (docs/appliance.md,
/// "Going back").
const MIGRATIONS: &[Migration] = &[
    Migration {
        sql: include_str!("../migrations/0001_init.sql"),
        breaks_older: true,
    },
    Migration {
        sql: include_str!("../migrations/0002_photos_in_db.sql"),
        breaks_older: true,
    },
    Migration {
        sql: include_str!("../migrations/0003_wal_restart.sql"),
        breaks_older: false,
    },
    // A waiting attendance item means nothing to release 3's outbox.
    Migration {
        sql: include_str!("../migrations/0004_attendance.sql"),
        breaks_older: true,
    },
    Migration {
        sql: include_str!("../migrations/0005_store_meta.sql"),
        breaks_older: false,
    },
    // A sealed item means nothing to release 5's engine.
    Migration {
        sql: include_str!("../migrations/0006_sealed.sql"),
        breaks_older: true,
    },
];

/// How this release stands to a store file it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compat {
    /// The file's version is this release's or older: migrate it.
    Migrate,
    /// A newer release wrote it, and said this release may still use it.
    Newer { version: i64 },
    /// A newer release wrote it in a way this release would misread.
    TooNew { version: i64, oldest_reader: i64 },
}

/// Reads how `conn`'s file stands to a release that knows `known` migrations.
pub(crate) fn compat(conn: &Connection, known: usize) -> Result<Compat, StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = known as i64;
    if version <= known {
        return Ok(Compat::Migrate);
    }
    let oldest_reader: Option<String> = conn
        .query_row(
            "SELECT value FROM store_meta WHERE key = 'oldest_reader'",
            [],
            |r| r.get(0),
        )
        .optional()
        .unwrap_or(None);
    // A newer file without the mark is read as "may not be used".
    let oldest_reader = oldest_reader
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(version);
    Ok(if oldest_reader <= known {
        Compat::Newer { version }
    } else {
        Compat::TooNew {
            version,
            oldest_reader,
        }
    })
}

/// The database file in the store's directory.
pub const DB_FILE: &str = "device.sqlite3";
/// After a checkpoint the WAL file is cut back to this size, so a day of
/// photos does not leave a large WAL behind on the card.
pub const JOURNAL_SIZE_LIMIT: i64 = 4 * 1024 * 1024;
/// Free pages (4 KiB each) worth returning to the file system.
const VACUUM_MIN_FREE_PAGES: i64 = 256;
/// Free pages returned per transaction (well under the page cache's 2 MiB).
const VACUUM_STEP_PAGES: i64 = 128;
/// Past this many free pages they are returned even while photos wait.
const VACUUM_MAX_FREE_PAGES: i64 = 16 * 1024;
/// Thumbnails kept in memory for today's overview (about 20 KB each).
const MEMORY_THUMBNAILS: usize = 80;
/// Items saved since start-up kept readable in memory (sealed on the card).
const MEMORY_ITEMS: usize = 200;
/// The checkpointer waits for this much quiet after a write before it runs...
const CHECKPOINT_QUIET: Duration = Duration::from_millis(300);
/// ...but never longer than this after the first write it was told about.
const CHECKPOINT_MAX_DELAY: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("device database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{path}: {source}")]
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
    #[error("the device database is damaged: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "the device database was written by a newer release (store version {version}, \
         readable from version {oldest_reader} on; this release knows {known})"
    )]
    NewerRelease {
        version: i64,
        oldest_reader: i64,
        known: i64,
    },
}

impl StoreError {
    /// The database file itself is damaged (not a full disk or a busy lock).
    pub fn is_corruption(&self) -> bool {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        match self {
            Self::Corrupt(_) => true,
            Self::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                matches!(f.code, DatabaseCorrupt | NotADatabase)
            }
            _ => false,
        }
    }
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
    Attendance,
}

impl ItemKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Photo => "photo",
            Self::Diary => "diary",
            Self::Message => "message",
            Self::ReadReceipt => "read_receipt",
            Self::Attendance => "attendance",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "photo" => Self::Photo,
            "diary" => Self::Diary,
            "message" => Self::Message,
            "read_receipt" => Self::ReadReceipt,
            "attendance" => Self::Attendance,
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
    Wedged { reason: crate::decide::Reason },
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

/// What the uploader needs to know about a photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoUpload {
    /// The bytes are still on the device (false once the server confirmed them).
    pub stored: bool,
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

/// What start-up found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartupReport {
    /// Photos of the previous release moved from files into the database.
    pub photos_adopted: usize,
    /// Items whose photo was missing or damaged when it was adopted: they
    /// need attention (shown on Synchronisatie), never silently dropped.
    pub missing_photos: Vec<uuid::Uuid>,
    /// The database was damaged and moved aside; what could be carried over.
    pub recovered: Option<Recovery>,
}

/// The device store. Share it as `Arc<Store>`; every method is short and
/// blocking (call it from the UI thread for saves, or `spawn_blocking`).
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    /// Reads photo chunks for the uploader without holding up a save.
    reader: Mutex<Connection>,
    checkpointer: Checkpointer,
    dir: PathBuf,
    /// The server's public key: what is saved from now on is sealed to it.
    seal_to: Mutex<Option<SealTo>>,
    /// What this process saved, readable until it ends: thumbnails and
    /// items (the card holds them sealed, or not at all).
    memory: Mutex<Memory>,
}

/// Thumbnails and items saved since start-up, newest last, bounded.
#[derive(Debug, Default)]
struct Memory {
    thumbnails: VecDeque<(uuid::Uuid, Vec<u8>)>,
    items: VecDeque<PushItem>,
}

impl Memory {
    fn keep<T>(list: &mut VecDeque<T>, value: T, max: usize) {
        while list.len() >= max {
            list.pop_front();
        }
        list.push_back(value);
    }
}

/// A background thread with its own connection that checkpoints the WAL
/// after writes, so a save never pays for copying earlier ones into the file.
#[derive(Debug)]
struct Checkpointer {
    nudge: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = connect(path)?;
        let (nudge, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("kring-checkpoint".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    let first = std::time::Instant::now();
                    let mut closing = false;
                    loop {
                        match rx.recv_timeout(CHECKPOINT_QUIET) {
                            Ok(()) if first.elapsed() < CHECKPOINT_MAX_DELAY => continue,
                            Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => break,
                            Err(mpsc::RecvTimeoutError::Disconnected) => {
                                closing = true;
                                break;
                            }
                        }
                    }
                    if let Err(error) = checkpoint(&conn) {
                        tracing::warn!(%error, "WAL checkpoint failed");
                    }
                    if closing {
                        break;
                    }
                }
            })
            .map_err(io_err(path))?;
        Ok(Self {
            nudge: Some(nudge),
            thread: Some(thread),
        })
    }

    fn nudge(&self) {
        if let Some(n) = &self.nudge {
            let _ = n.send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.nudge.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Copies what the WAL holds into the database file without waiting for
/// (or blocking) writers; returns (frames in the WAL, frames copied).
///
/// When everything was copied, the next commit restarts the WAL from its
/// beginning, and SQLite then writes and flushes a new WAL header before the
/// commit's own frames and flush: two flushes instead of one. A tiny commit
/// here (one row of `wal_restart`) takes that restart, so the next photo's
/// save appends to a restarted WAL with the one flush of its commit.
fn checkpoint(conn: &Connection) -> Result<(i64, i64), StoreError> {
    let (busy, log, done): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.try_into())?;
    tracing::debug!(wal_frames = log, copied = done, "WAL checkpoint");
    if busy == 0 && log > 0 && done == log {
        conn.execute("UPDATE wal_restart SET n = n + 1 WHERE id = 1", [])?;
    }
    Ok((log, done))
}

/// Opens a connection with the store's settings.
fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // Only takes effect on a new, empty file (older files are converted once
    // in `migrate`): freed pages can be returned with incremental_vacuum.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(conn)
}

/// Opens the database at `path`, checks it and brings it to the current schema.
fn open_checked(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = connect(path)?;
    let problems: Vec<String> = conn
        .prepare("PRAGMA quick_check")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    if problems.first().map(String::as_str) != Some("ok") {
        return Err(StoreError::Corrupt(problems.join("; ")));
    }
    match compat(&conn, MIGRATIONS.len())? {
        Compat::Migrate => migrate(&mut conn)?,
        Compat::Newer { version } => tracing::warn!(
            version,
            known = MIGRATIONS.len(),
            "the device database is of a newer release that allows this one to use it"
        ),
        Compat::TooNew {
            version,
            oldest_reader,
        } => {
            return Err(StoreError::NewerRelease {
                version,
                oldest_reader,
                known: MIGRATIONS.len() as i64,
            });
        }
    }
    Ok(conn)
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

impl Store {
    /// Opens the store in `dir` (created if needed): checks the database,
    /// moves a damaged one aside and carries over what can be read, applies
    /// migrations and moves photo files of the previous release inside.
    pub fn open(dir: &Path) -> Result<(Self, StartupReport), StoreError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join(DB_FILE);
        let mut report = StartupReport::default();
        let (conn, damaged) = match open_checked(&path) {
            Ok(conn) => (conn, None),
            // After going back to an older release (an update that did not
            // become healthy), a file it would misread is handled like
            // damage: moved aside, credentials and waiting items carried over.
            Err(e) if e.is_corruption() || matches!(e, StoreError::NewerRelease { .. }) => {
                tracing::error!(error = %e, "the device database cannot be used; moving it aside");
                let moved_to = recovery::move_aside(dir)?;
                (open_checked(&path)?, Some((moved_to, e.to_string())))
            }
            Err(e) => return Err(e),
        };
        let store = Self {
            conn: Mutex::new(conn),
            reader: Mutex::new(connect(&path)?),
            checkpointer: Checkpointer::start(&path)?,
            dir: dir.to_path_buf(),
            seal_to: Mutex::new(None),
            memory: Mutex::new(Memory::default()),
        };
        store.load_seal_to()?;
        if let Some((moved_to, problem)) = damaged {
            report.recovered = Some(recovery::salvage(&store, &moved_to, problem)?);
        }
        recovery::adopt_photo_files(&store, &mut report)?;
        if report != StartupReport::default() {
            tracing::warn!(?report, "store start-up repaired things");
        }
        Ok((store, report))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Tells the checkpointer that a transaction was committed.
    fn wrote(&self) {
        self.checkpointer.nudge();
    }

    /// Checkpoints the WAL now (the background thread does this by itself;
    /// benchmarks and tests call it to measure or to get a quiet file).
    pub fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        checkpoint(&*self.conn()?)
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
        drop(conn);
        // the row was replaced: its key is written again (or none is known)
        *self.seal_to.lock().map_err(|_| StoreError::Poisoned)? = None;
        if let Some(to) = &resp.seal_to {
            self.set_seal_to(to)?;
        }
        Ok(())
    }

    // ------------------------------------------------------------ sealing

    fn load_seal_to(&self) -> Result<(), StoreError> {
        let stored: Option<Option<String>> = self
            .conn()?
            .query_row("SELECT seal_to FROM device", [], |r| r.get(0))
            .optional()?;
        let to = match stored.flatten() {
            Some(s) => Some(s.parse::<SealTo>().map_err(seal_err)?),
            None => None,
        };
        *self.seal_to.lock().map_err(|_| StoreError::Poisoned)? = to;
        Ok(())
    }

    /// The server's public key, once known, if any.
    pub fn seal_to(&self) -> Result<Option<SealTo>, StoreError> {
        Ok(self
            .seal_to
            .lock()
            .map_err(|_| StoreError::Poisoned)?
            .clone())
    }

    /// Remembers the server's public key (from the enrollment or a feed
    /// page). The first time, what waits unsealed from before is sealed too
    /// (photo bytes and items, in one transaction, freed pages zeroed).
    pub fn set_seal_to(&self, recipient: &str) -> Result<(), StoreError> {
        let to: SealTo = recipient.parse().map_err(seal_err)?;
        let before = self.seal_to()?;
        if before.as_ref().map(ToString::to_string) == Some(to.to_string()) {
            return Ok(());
        }
        let mut conn = self.conn()?;
        conn.pragma_update(None, "secure_delete", true)?;
        let result = (|| -> Result<usize, StoreError> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("UPDATE device SET seal_to = ?1", params![to.to_string()])?;
            let sealed = if before.is_none() {
                seal_waiting(&tx, &to)?
            } else {
                0
            };
            tx.commit()?;
            Ok(sealed)
        })();
        conn.pragma_update(None, "secure_delete", false)?;
        let sealed = result?;
        if sealed > 0 {
            // the unsealed versions may linger in the WAL's older frames
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        }
        drop(conn);
        *self.seal_to.lock().map_err(|_| StoreError::Poisoned)? = Some(to);
        self.wrote();
        tracing::info!(sealed_afterwards = sealed, "sealing to the server's key");
        Ok(())
    }

    /// `item` as the outbox stores it: sealed when the server's key is
    /// known and the device never needs to read it back (photos, diary
    /// entries, messages); read receipts (ids only) and attendance (read
    /// offline for Vandaag) stay readable.
    fn stored_form(&self, item: &PushItem) -> Result<String, StoreError> {
        let to = self.seal_to()?;
        Ok(match (to, item) {
            (Some(to), PushItem::Photo(_) | PushItem::Diary(_) | PushItem::Message(_)) => {
                serde_json::to_string(&PushItem::Sealed(
                    SealedItem::seal(item, &to).map_err(seal_err)?,
                ))?
            }
            _ => serde_json::to_string(item)?,
        })
    }

    fn remember(&self, item: PushItem) {
        if let Ok(mut m) = self.memory.lock() {
            Memory::keep(&mut m.items, item, MEMORY_ITEMS);
        }
    }

    fn remember_thumbnail(&self, id: uuid::Uuid, jpeg: &[u8]) {
        if let Ok(mut m) = self.memory.lock() {
            Memory::keep(&mut m.thumbnails, (id, jpeg.to_vec()), MEMORY_THUMBNAILS);
        }
    }

    /// The item as staff saved it, when this device can still read it: saved
    /// since start-up (kept in memory), or stored unsealed. A sealed item
    /// saved before a restart is None: only the server can open it.
    pub fn readable(&self, id: &uuid::Uuid) -> Result<Option<PushItem>, StoreError> {
        if let Some(item) = self
            .memory
            .lock()
            .map_err(|_| StoreError::Poisoned)?
            .items
            .iter()
            .rev()
            .find(|i| i.id() == *id)
        {
            return Ok(Some(item.clone()));
        }
        match self.item(id)? {
            PushItem::Sealed(_) => Ok(None),
            item => Ok(Some(item)),
        }
    }

    // ------------------------------------------------------------ saving

    /// Queues `item` (sealed where [`Self::stored_form`] says so) and keeps
    /// it readable in memory for this run.
    fn insert_outbox(
        &self,
        tx: &Connection,
        item: &PushItem,
        kind: ItemKind,
        depends_on: &[uuid::Uuid],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let payload = self.stored_form(item)?;
        self.remember(item.clone());
        tx.execute(
            "INSERT INTO outbox (id, kind, payload, depends_on, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                item.id().to_string(),
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
        let jpeg = photo.jpeg;
        let started = std::time::Instant::now();
        // Sealed (when the server's key is known) before the write lock is
        // taken, while another core hashes the JPEG.
        let to = self.seal_to()?;
        let (sha, sealed) =
            std::thread::scope(|scope| -> Result<(String, Option<Vec<u8>>), StoreError> {
                let hashing = scope.spawn(|| hex::encode(Sha256::digest(jpeg)));
                let sealed = to
                    .as_ref()
                    .map(|to| to.seal(jpeg))
                    .transpose()
                    .map_err(seal_err);
                let sha = hashing
                    .join()
                    .map_err(|_| StoreError::Invalid("hashing the photo failed".into()))?;
                Ok((sha, sealed?))
            })?;
        let sealed_in = started.elapsed();
        let stored: &[u8] = sealed.as_deref().unwrap_or(jpeg);
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.pragma_update(None, "defer_foreign_keys", true)?;
        insert_photo_bytes(&tx, &id.to_string(), stored)?;
        crash_point("photo_write");
        let item = PhotoItem {
            id,
            // Filled in when the upload is created; see `set_upload`.
            upload_id: UploadId(uuid::Uuid::nil()),
            sha256: sha.clone(),
            tags: photo.tags,
            no_children_recognizable: photo.no_children_recognizable,
            audience_shown: photo.audience,
            taken_at_device: now,
            staff_id: photo.staff,
        };
        self.insert_outbox(&tx, &PushItem::Photo(item), ItemKind::Photo, &[], now)?;
        // sha256 is the JPEG's; bytes is what is stored and uploaded
        tx.execute(
            "INSERT INTO photos (item_id, sha256, bytes) VALUES (?1, ?2, ?3)",
            params![id.to_string(), sha, stored.len() as i64],
        )?;
        crash_point("commit");
        let written = started.elapsed();
        tx.commit()?;
        drop(conn);
        self.wrote();
        if let Some(t) = photo.thumbnail {
            self.remember_thumbnail(id.0, t);
        }
        tracing::info!(
            item = %id,
            bytes = photo.jpeg.len(),
            sealed = sealed.is_some(),
            seal_us = sealed_in.as_micros() as u64,
            write_us = (written - sealed_in).as_micros() as u64,
            commit_us = (started.elapsed() - written).as_micros() as u64,
            "photo saved"
        );
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
        self.insert_outbox(&tx, &item, ItemKind::Diary, &deps, now)?;
        crash_point("commit");
        tx.commit()?;
        self.wrote();
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
        self.insert_outbox(&tx, &item, ItemKind::Message, &[], now)?;
        crash_point("commit");
        tx.commit()?;
        self.wrote();
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
        self.insert_outbox(&tx, &item, ItemKind::ReadReceipt, &[], now)?;
        tx.commit()?;
        self.wrote();
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
                                reason: Reason::from_stored(&wedged.unwrap_or_default()),
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
                    reason: Reason::from_stored(&reason.unwrap_or_default()),
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
        let payload: String = one_by_id(
            &*self.conn()?,
            "SELECT payload FROM outbox WHERE id = ?1",
            id,
        )?;
        Ok(serde_json::from_str(&payload)?)
    }

    /// What the uploader needs to know about a photo.
    pub fn photo_upload(&self, id: &uuid::Uuid) -> Result<PhotoUpload, StoreError> {
        let conn = self.conn()?;
        let row: Option<(String, i64, Option<String>, bool)> = conn
            .query_row(
                "SELECT p.sha256, p.bytes, p.upload_url,
                        EXISTS (SELECT 1 FROM photo_bytes b WHERE b.item_id = p.item_id)
                 FROM photos p WHERE p.item_id = ?1",
                params![id.to_string()],
                |r| r.try_into(),
            )
            .optional()?;
        let (sha256, bytes, upload_url, stored) = row.ok_or(StoreError::UnknownItem(*id))?;
        Ok(PhotoUpload {
            stored,
            sha256,
            bytes: bytes as u64,
            upload_url,
        })
    }

    /// Up to `len` bytes of a photo from `offset`, read with incremental BLOB
    /// I/O on the reading connection: a chunk never needs the whole photo in
    /// memory, and a save meanwhile is not held up.
    pub fn read_photo(
        &self,
        id: &uuid::Uuid,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, StoreError> {
        let conn = self.reader.lock().map_err(|_| StoreError::Poisoned)?;
        let rowid: i64 = one_by_id(
            &conn,
            "SELECT rowid FROM photo_bytes WHERE item_id = ?1",
            id,
        )?;
        let blob = conn.blob_open(MAIN_DB, c"photo_bytes", c"jpeg", rowid, true)?;
        let start = usize::try_from(offset)
            .ok()
            .filter(|o| *o <= blob.len())
            .ok_or_else(|| StoreError::Invalid(format!("offset {offset} past the photo")))?;
        let mut buf = vec![0u8; len.min(blob.len() - start)];
        blob.read_at_exact(&mut buf, start)?;
        Ok(buf)
    }

    /// A photo's thumbnail, if this run of the device still has it (they are
    /// kept in memory only, never on the card).
    pub fn thumbnail(&self, id: &uuid::Uuid) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .memory
            .lock()
            .map_err(|_| StoreError::Poisoned)?
            .thumbnails
            .iter()
            .rev()
            .find(|(i, _)| i == id)
            .map(|(_, t)| t.clone()))
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
            "UPDATE photos SET upload_url = ?2 WHERE item_id = ?1",
            params![id.to_string(), url],
        )?;
        if let Some(upload) = upload {
            let payload: String = tx.query_row(
                "SELECT payload FROM outbox WHERE id = ?1",
                params![id.to_string()],
                |r| r.get(0),
            )?;
            let mut item: PushItem = serde_json::from_str(&payload)?;
            match &mut item {
                PushItem::Photo(p) => p.upload_id = upload,
                PushItem::Sealed(s) => s.upload_id = Some(upload),
                _ => {}
            }
            tx.execute(
                "UPDATE outbox SET payload = ?2 WHERE id = ?1",
                params![id.to_string(), serde_json::to_string(&item)?],
            )?;
        }
        tx.commit()?;
        self.wrote();
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

    /// The server answers again after the network was gone: every waiting
    /// item is due now instead of at the end of its back-off (attempts are
    /// kept, so an item the server keeps refusing still backs off). Returns
    /// how many items were waiting for their back-off.
    pub fn end_backoff(&self) -> Result<usize, StoreError> {
        let conn = self.conn()?;
        Ok(conn.execute(
            "UPDATE outbox SET next_attempt_at = NULL
             WHERE state = 'waiting' AND next_attempt_at IS NOT NULL",
            [],
        )?)
    }

    /// The server confirmed the item. For a photo whose confirmed hash matches,
    /// its bytes are deleted in the same transaction (the thumbnail stays for
    /// today's overview); free pages go back to the file system once no photo
    /// waits any more.
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
        let sha: Option<String> = tx
            .query_row(
                "SELECT sha256 FROM photos WHERE item_id = ?1",
                params![id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        let mut freed = false;
        if let Some(sha) = sha {
            if receipt
                .sha256
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(&sha))
            {
                freed = tx.execute(
                    "DELETE FROM photo_bytes WHERE item_id = ?1",
                    params![id.to_string()],
                )? > 0;
            } else {
                tracing::warn!(item = %id, "server confirmed a photo with another hash; keeping its bytes");
            }
        }
        tx.commit()?;
        if freed {
            Self::return_free_pages(&conn)?;
        }
        drop(conn);
        self.wrote();
        Ok(())
    }

    /// Gives free pages back to the file system when no photo waits (so
    /// nothing large has to move) or when there are very many of them. Free
    /// pages are otherwise reused by the next photos.
    fn return_free_pages(conn: &Connection) -> Result<(), StoreError> {
        let free: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
        if free < VACUUM_MIN_FREE_PAGES {
            return Ok(());
        }
        let waiting: i64 = conn.query_row(
            "SELECT COUNT(*) FROM photo_bytes b JOIN outbox o ON o.id = b.item_id
             WHERE o.state = 'waiting'",
            [],
            |r| r.get(0),
        )?;
        if waiting == 0 || free > VACUUM_MAX_FREE_PAGES {
            // In small transactions: each page taken off the free list is
            // dirtied, and a transaction dirtying more pages than the cache
            // holds spills them into the WAL; a small one's pages past the new
            // end of the file are never written (measured: one big step wrote
            // every freed page, 20 MB for 20 photos).
            for _ in 0..=free / VACUUM_STEP_PAGES + 1 {
                let left: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
                if left == 0 {
                    break;
                }
                // Each sqlite3_step frees a page: step to the end, not just once.
                let mut st =
                    conn.prepare(&format!("PRAGMA incremental_vacuum({VACUUM_STEP_PAGES})"))?;
                let mut rows = st.query([])?;
                while rows.next()?.is_some() {}
            }
            tracing::debug!(pages = free, "free pages returned");
        }
        Ok(())
    }

    /// The server refused the item: it needs attention and is not retried.
    pub fn mark_wedged(&self, id: &uuid::Uuid, reason: &Reason) -> Result<(), StoreError> {
        let conn = self.conn()?;
        conn.execute(
            "UPDATE outbox SET state = 'wedged', wedged_reason = ?2, next_attempt_at = NULL WHERE id = ?1",
            params![id.to_string(), reason.to_stored()],
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
                            reason: Reason::from_stored(&reason.unwrap_or_default()),
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
        if let Some(to) = &page.seal_to {
            self.set_seal_to(to)?;
        }
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
                ChangeKind::Attendance(a) => attendance::apply(&tx, change.seq, a)?,
                ChangeKind::Unknown => {
                    tracing::debug!(
                        seq = change.seq,
                        "a kind of change this release does not know: skipped"
                    );
                }
            }
        }
        attendance::forget_old(&tx, now)?;
        tx.execute(
            "UPDATE sync_state SET cursor = ?1, last_pull_at = ?2",
            params![page.cursor.0, time_str(now)],
        )?;
        tx.commit()?;
        self.wrote();
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
        if let Ok(mut m) = self.memory.lock() {
            *m = Memory::default();
        }
        for table in [
            "photo_bytes",
            "legacy_photo_files",
            "photos",
            "outbox",
            "device",
            "group_info",
            "children",
            "staff",
            "absences",
            "messages",
            "parent_diary",
            "attendance",
            "incidents",
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
        recovery::remove_legacy_dirs(&self.dir)?;
        tracing::warn!("device store wiped");
        Ok(())
    }
}

/// The one value `sql` selects for the item `id` (bound as ?1), or `UnknownItem`.
fn one_by_id<T: rusqlite::types::FromSql>(
    conn: &Connection,
    sql: &str,
    id: &uuid::Uuid,
) -> Result<T, StoreError> {
    conn.query_row(sql, params![id.to_string()], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::UnknownItem(*id))
}

/// A photo's bytes (sealed, or the JPEG) in the caller's transaction (the
/// save, or carrying over from a damaged store).
fn insert_photo_bytes(tx: &Connection, item_id: &str, bytes: &[u8]) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO photo_bytes (item_id, jpeg) VALUES (?1, ?2)",
        params![item_id, bytes],
    )?;
    Ok(())
}

fn seal_err(e: kring_protocol::SealError) -> StoreError {
    StoreError::Invalid(e.to_string())
}

/// Seals what waits unsealed (saved before the server's key was known):
/// photo bytes and the items of the kinds that are sealed. An upload begun
/// with the unsealed bytes starts again. Returns how many items.
fn seal_waiting(tx: &Connection, to: &SealTo) -> Result<usize, StoreError> {
    let rows: Vec<(String, String, String)> = tx
        .prepare(
            "SELECT id, kind, payload FROM outbox
             WHERE state != 'sent' AND kind IN ('photo', 'diary', 'message')",
        )?
        .query_map([], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    let mut sealed = 0;
    for (id, kind, payload) in rows {
        let item: PushItem = serde_json::from_str(&payload)?;
        if matches!(item, PushItem::Sealed(_)) {
            continue;
        }
        let envelope = PushItem::Sealed(SealedItem::seal(&item, to).map_err(seal_err)?);
        tx.execute(
            "UPDATE outbox SET payload = ?2 WHERE id = ?1",
            params![id, serde_json::to_string(&envelope)?],
        )?;
        if kind == "photo" {
            let jpeg: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT jpeg FROM photo_bytes WHERE item_id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(jpeg) = jpeg.filter(|b| !kring_protocol::seal::looks_sealed(b)) {
                let bytes = to.seal(&jpeg).map_err(seal_err)?;
                tx.execute(
                    "UPDATE photo_bytes SET jpeg = ?2 WHERE item_id = ?1",
                    params![id, bytes],
                )?;
                tx.execute(
                    "UPDATE photos SET bytes = ?2, upload_url = NULL WHERE item_id = ?1",
                    params![id, bytes.len() as i64],
                )?;
            }
        }
        sealed += 1;
    }
    Ok(sealed)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_with(conn, MIGRATIONS)
}

/// Applies `migrations` after the file's version; a file of a newer release
/// is left as it is (see [`compat`], checked before).
pub(crate) fn migrate_with(
    conn: &mut Connection,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, migration) in migrations.iter().enumerate() {
        let sql = migration.sql;
        let version = i as i64 + 1;
        if version <= current {
            continue;
        }
        // A migration may rebuild a table others refer to (SQLite's own
        // recipe): foreign keys are off while it runs (the pragma only works
        // outside a transaction) and checked before it commits.
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        let result = (|| -> Result<(), StoreError> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            let broken: Option<String> = tx
                .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                .optional()?;
            if let Some(table) = broken {
                return Err(StoreError::Invalid(format!(
                    "migration {version} left a broken reference in {table}"
                )));
            }
            if migration.breaks_older && has_store_meta(&tx)? {
                tx.execute(
                    "INSERT OR REPLACE INTO store_meta (key, value) VALUES ('oldest_reader', ?1)",
                    params![version.to_string()],
                )?;
            }
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()?;
            tracing::info!(
                version,
                breaks_older = migration.breaks_older,
                "device store migrated"
            );
            Ok(())
        })();
        conn.pragma_update(None, "foreign_keys", "ON")?;
        result?;
    }
    // A file made before photos moved inside has no incremental vacuum yet;
    // switching needs one full VACUUM, done while that file is still small.
    let auto_vacuum: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
    if auto_vacuum != 2 {
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        conn.execute_batch("VACUUM")?;
        tracing::info!("device database switched to incremental vacuum");
    }
    Ok(())
}

fn has_store_meta(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'store_meta'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
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

    fn count(s: &Store, sql: &str) -> i64 {
        s.conn()
            .expect("conn")
            .query_row(sql, [], |r| r.get(0))
            .expect("count")
    }

    pub(super) fn child(id: ChildId) -> Child {
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
            pickup: vec![],
            extra_days: vec![],
            cancelled_days: vec![],
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
        let file = s.photo_upload(&ids[1]).expect("file");
        assert!(file.stored);
        let bytes = jpeg();
        assert_eq!(file.bytes, bytes.len() as u64);
        // read back in chunks, as the uploader does
        let mut back = Vec::new();
        while (back.len() as u64) < file.bytes {
            let chunk = s
                .read_photo(&ids[1], back.len() as u64, 1000)
                .expect("chunk");
            assert!(!chunk.is_empty() && chunk.len() <= 1000);
            back.extend(chunk);
        }
        assert_eq!(back, bytes);
        assert!(s.read_photo(&ids[1], file.bytes + 1, 10).is_err());
        assert!(
            s.read_photo(&ids[0], 0, 10).is_err(),
            "a message has no bytes"
        );
        assert!(
            !dir.path().join("photos").exists(),
            "no photo folder any more"
        );
    }

    #[test]
    fn a_confirmed_photo_leaves_only_its_thumbnail_in_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, _) = Store::open(dir.path()).expect("open");
        let bytes = jpeg();
        let id = s.save_photo(photo(&bytes), Utc::now()).expect("photo").0;
        let sha = s.photo_upload(&id).expect("file").sha256;
        let receipt = |sha: Option<String>| PushReceipt {
            item_id: id,
            seq: 1,
            received_at: Utc::now(),
            sha256: sha,
        };
        // another hash: the bytes stay
        s.mark_sent(&id, &receipt(Some("00".repeat(32))), Utc::now())
            .expect("sent");
        assert!(s.photo_upload(&id).expect("file").stored);
        // the right hash: the bytes go, the thumbnail stays
        s.mark_sent(&id, &receipt(Some(sha)), Utc::now())
            .expect("sent");
        assert!(!s.photo_upload(&id).expect("file").stored);
        assert!(s.read_photo(&id, 0, 10).is_err());
        assert_eq!(s.thumbnail(&id).expect("thumb"), Some(bytes.clone()));
        assert!(s.pending().expect("pending").is_empty());
        // in memory only, and only the newest
        let ids: Vec<_> = (0..MEMORY_THUMBNAILS)
            .map(|_| s.save_photo(photo(&bytes), Utc::now()).expect("photo").0)
            .collect();
        assert_eq!(s.thumbnail(&id).expect("thumb"), None, "the oldest went");
        assert!(s.thumbnail(&ids[0]).expect("thumb").is_some());
        drop(s);
        let (s, _) = Store::open(dir.path()).expect("reopen");
        assert_eq!(
            s.thumbnail(&ids[0]).expect("thumb"),
            None,
            "never on the card"
        );
    }

    /// A store enrolled with a server key; the key to open what it sealed.
    fn sealing_store(dir: &Path) -> (Store, kring_protocol::SealKeys) {
        let keys =
            kring_protocol::SealKeys::parse(&[kring_protocol::SealKeys::generate()]).expect("key");
        let (s, _) = Store::open(dir).expect("open");
        s.set_seal_to(&keys.recipient().expect("recipient").to_string())
            .expect("seal to");
        (s, keys)
    }

    /// Every byte of every file in the store's folder.
    fn files_of(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        std::fs::read_dir(dir)
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .map(|e| (e.path(), std::fs::read(e.path()).expect("read")))
            .collect()
    }

    fn holds(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn what_is_saved_sealed_cannot_be_read_from_the_stores_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, keys) = sealing_store(dir.path());
        // a photo whose bytes carry a text, a diary entry, a message
        let mut jpeg = jpeg();
        let mark = b"FOTO-VAN-NOOR-IN-DE-ZANDBAK";
        jpeg.splice(8..8, mark.iter().copied());
        let photo_id = s.save_photo(photo(&jpeg), Utc::now()).expect("photo").0;
        let diary_text = "Noor heeft vandaag voor het eerst zelf gegeten";
        let diary = s
            .save_diary(
                NewDiary {
                    children: vec![ChildId::new()],
                    text: diary_text.into(),
                    photos: vec![PhotoId(photo_id)],
                    baby: None,
                    staff: None,
                },
                Utc::now(),
            )
            .expect("diary");
        let message_text = "Daan had koorts, graag even bellen";
        let message = s
            .save_message(MessageThread::Group, message_text, None, Utc::now())
            .expect("message");
        s.checkpoint().expect("checkpoint");
        let files = files_of(dir.path());
        assert!(files.iter().any(|(p, _)| p.ends_with(DB_FILE)));
        for (path, bytes) in &files {
            for needle in [
                &mark[..],
                diary_text.as_bytes(),
                message_text.as_bytes(),
                &jpeg[..64],
            ] {
                assert!(
                    !holds(bytes, needle),
                    "{} holds {:?}",
                    path.display(),
                    String::from_utf8_lossy(needle)
                );
            }
        }
        // this run can still show what it saved; the thumbnail is in memory
        let Some(PushItem::Diary(d)) = s.readable(&diary.0).expect("readable") else {
            panic!("the diary entry is readable in this run");
        };
        assert_eq!(d.text, diary_text);
        assert!(s.thumbnail(&photo_id).expect("thumb").is_some());
        // after a restart the device cannot, the server can
        drop(s);
        let (s, _) = Store::open(dir.path()).expect("reopen");
        assert_eq!(s.readable(&diary.0).expect("readable"), None);
        assert_eq!(s.thumbnail(&photo_id).expect("thumb"), None);
        let PushItem::Sealed(sealed) = s.item(&message.0).expect("item") else {
            panic!("the message is stored sealed");
        };
        let Ok(PushItem::Message(m)) = sealed.open(&keys) else {
            panic!("the server opens it");
        };
        assert_eq!(m.body, message_text);
        let up = s.photo_upload(&photo_id).expect("upload");
        let stored = s
            .read_photo(&photo_id, 0, up.bytes as usize)
            .expect("bytes");
        assert_eq!(
            keys.open(&stored).expect("the server opens the photo"),
            jpeg
        );
        assert_eq!(
            up.sha256,
            hex::encode(Sha256::digest(&jpeg)),
            "the JPEG's hash"
        );
        // the upload id goes into the envelope (the item inside is sealed)
        let upload = UploadId::new();
        s.set_upload(&photo_id, Some("http://x/u"), Some(upload))
            .expect("set upload");
        let PushItem::Sealed(env) = s.item(&photo_id).expect("item") else {
            panic!("sealed photo item");
        };
        let Ok(PushItem::Photo(p)) = env.open(&keys) else {
            panic!("photo");
        };
        assert_eq!(p.upload_id, upload);
    }

    #[test]
    fn what_waited_unsealed_is_sealed_when_the_key_arrives() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, _) = Store::open(dir.path()).expect("open");
        let text = "geschreven voordat de server een sleutel had";
        let id = s
            .save_message(MessageThread::Group, text, None, Utc::now())
            .expect("message");
        let mut jpeg = jpeg();
        jpeg.splice(8..8, b"OUDE-FOTO-ZONDER-SLEUTEL".iter().copied());
        let photo_id = s.save_photo(photo(&jpeg), Utc::now()).expect("photo").0;
        s.set_upload(&photo_id, Some("http://x/old"), Some(UploadId::new()))
            .expect("upload begun");
        s.checkpoint().expect("checkpoint");
        assert!(
            files_of(dir.path())
                .iter()
                .any(|(_, b)| holds(b, text.as_bytes()))
        );
        let keys =
            kring_protocol::SealKeys::parse(&[kring_protocol::SealKeys::generate()]).expect("key");
        s.set_seal_to(&keys.recipient().expect("recipient").to_string())
            .expect("seal to");
        s.checkpoint().expect("checkpoint");
        for (path, bytes) in files_of(dir.path()) {
            assert!(!holds(&bytes, text.as_bytes()), "{}", path.display());
            assert!(
                !holds(&bytes, b"OUDE-FOTO-ZONDER-SLEUTEL"),
                "{}",
                path.display()
            );
        }
        assert!(matches!(s.item(&id.0).expect("item"), PushItem::Sealed(_)));
        let up = s.photo_upload(&photo_id).expect("upload");
        assert_eq!(
            up.upload_url, None,
            "the upload starts again with the sealed bytes"
        );
        let stored = s
            .read_photo(&photo_id, 0, up.bytes as usize)
            .expect("bytes");
        assert_eq!(keys.open(&stored).expect("open"), jpeg);
    }

    /// Saves `n` photos of 1 MiB of noise with small thumbnails; their ids and hashes.
    fn save_big_photos(s: &Store, n: usize) -> Vec<(uuid::Uuid, String)> {
        use rand::RngCore;
        (0..n)
            .map(|_| {
                let mut bytes = jpeg();
                let mut noise = vec![0u8; 1 << 20];
                rand::rng().fill_bytes(&mut noise);
                bytes.splice(8..8, noise);
                let mut p = photo(&bytes);
                p.thumbnail = Some(&bytes[..2000]);
                let id = s.save_photo(p, Utc::now()).expect("photo").0;
                (id, hex::encode(Sha256::digest(&bytes)))
            })
            .collect()
    }

    /// The server confirmed the photo with this hash.
    fn confirm(s: &Store, id: &uuid::Uuid, sha: &str) {
        let receipt = PushReceipt {
            item_id: *id,
            seq: 1,
            received_at: Utc::now(),
            sha256: Some(sha.to_string()),
        };
        s.mark_sent(id, &receipt, Utc::now()).expect("sent");
    }

    #[test]
    fn sent_photos_give_their_space_back_and_the_wal_stays_small() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, _) = Store::open(dir.path()).expect("open");
        let db = dir.path().join(DB_FILE);
        let wal = dir.path().join(format!("{DB_FILE}-wal"));
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let photos = save_big_photos(&s, 12);
        s.checkpoint().expect("checkpoint");
        let full = size(&db);
        assert!(full > 12 << 20, "the photos are in the file: {full}");
        for (i, (id, sha)) in photos.iter().enumerate() {
            confirm(&s, id, sha);
            if i == 5 {
                // photos still wait: freed pages stay for the next photos
                s.checkpoint().expect("checkpoint");
                assert!(size(&db) >= full, "no vacuum while photos wait");
            }
        }
        s.checkpoint().expect("checkpoint");
        // The next write restarts the WAL and cuts it back to the limit.
        s.save_message(MessageThread::Group, "klein", None, Utc::now())
            .expect("message");
        s.checkpoint().expect("checkpoint");
        assert!(
            size(&db) < 2 << 20,
            "space given back once nothing waits: {} bytes",
            size(&db)
        );
        assert!(
            size(&wal) <= JOURNAL_SIZE_LIMIT as u64,
            "WAL cut back: {} bytes",
            size(&wal)
        );
    }

    /// The salts in a WAL header (bytes 16..24) change each time the WAL is
    /// restarted from its beginning.
    fn wal_salts(dir: &Path) -> Vec<u8> {
        let wal = std::fs::read(dir.join(format!("{DB_FILE}-wal"))).expect("wal");
        wal.get(16..24).expect("a WAL header").to_vec()
    }

    #[test]
    fn a_save_after_a_checkpoint_does_not_restart_the_wal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, _) = Store::open(dir.path()).expect("open");
        let bytes = jpeg();
        s.save_photo(photo(&bytes), Utc::now()).expect("first");
        let (frames, copied) = s.checkpoint().expect("checkpoint");
        assert!(
            frames > 0 && copied == frames,
            "all copied: {frames}/{copied}"
        );
        // The checkpoint took the restart (a new header, flushed once more)…
        let restarted = wal_salts(dir.path());
        s.save_photo(photo(&bytes), Utc::now()).expect("second");
        // …so the save appended to that WAL: one flush, its commit's.
        assert_eq!(
            wal_salts(dir.path()),
            restarted,
            "the save restarted the WAL"
        );
        let (frames, _) = s.checkpoint().expect("checkpoint");
        assert!(frames > 1, "the save's frames follow the restart: {frames}");
    }

    #[test]
    fn giving_space_back_does_not_write_the_freed_pages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let wal = dir.path().join(format!("{DB_FILE}-wal"));
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        // saved by one process (kring bench-queue, or the kiosk before a restart)
        let photos = save_big_photos(&Store::open(dir.path()).expect("open").0, 20);
        // sent by the next
        let (s, _) = Store::open(dir.path()).expect("reopen");
        for (id, sha) in &photos {
            confirm(&s, id, sha);
        }
        // The vacuum must not push the 20 MB it gives back through the WAL.
        assert!(
            size(&wal) < 4 << 20,
            "WAL after the last photo was sent: {} bytes",
            size(&wal)
        );
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
            update: None,
            seal_to: None,
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
            update: None,
            seal_to: None,
        };
        s.apply_feed_page(&removed, Utc::now()).expect("apply");
        assert!(s.children().expect("children").is_empty());
        // an old page replayed changes nothing
        s.apply_feed_page(&page, Utc::now()).expect("replay");
        assert!(s.children().expect("children").is_empty());
        assert_eq!(s.cursor().expect("cursor"), Cursor(6));
        // a kind of change from a later server is skipped, the rest applied
        let later = FeedPage {
            changes: vec![
                Change {
                    seq: 7,
                    kind: ChangeKind::Unknown,
                },
                Change {
                    seq: 8,
                    kind: ChangeKind::Child(child(a)),
                },
            ],
            cursor: Cursor(8),
            has_more: false,
            update: None,
            seal_to: None,
        };
        s.apply_feed_page(&later, Utc::now()).expect("apply");
        assert_eq!(s.children().expect("children").len(), 1);
        assert_eq!(s.cursor().expect("cursor"), Cursor(8));
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
        assert_eq!(count(&s, "SELECT COUNT(*) FROM photos"), 0);
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
                update: None,
                seal_to: None,
            },
            Utc::now(),
        )
        .expect("apply");
        s.wipe().expect("wipe");
        assert!(s.pending().expect("pending").is_empty());
        assert!(s.children().expect("children").is_empty());
        assert_eq!(s.cursor().expect("cursor"), Cursor(0));
        assert!(s.device().expect("device").is_none());
        for table in ["photos", "photo_bytes", "incidents"] {
            assert_eq!(count(&s, &format!("SELECT COUNT(*) FROM {table}")), 0);
        }
    }
}

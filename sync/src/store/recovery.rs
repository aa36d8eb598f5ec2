//! What start-up repairs: a damaged database moved aside with what can still
//! be read carried over, and photo files of the previous release moved into
//! the database.
//!
//! A damaged file (found by `PRAGMA quick_check`, or SQLite saying "not a
//! database") is never deleted: it moves to `apart-gezet/<time>/` in the
//! store's directory (with its WAL and, from version 1, the photo folders), so
//! support can look at it. A fresh database takes its place; from the old one
//! we carry over the device's credentials and every waiting item that still
//! reads back whole (a photo only if its bytes match its SHA-256), under its
//! own id, so an item the server already had stays one item. The feed cursor
//! starts at zero: the group's data comes again from the server. What could
//! not be read is counted and listed, recorded as an incident and shown on
//! the Synchronisatie screen, never silently dropped.

use super::{DB_FILE, Store, StoreError, io_err, parse_time, time_str};
use chrono::{DateTime, Utc};
use kring_protocol::PushItem;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where damaged stores are kept, inside the store's directory.
pub const QUARANTINE_DIR: &str = "apart-gezet";
/// How many damaged stores are kept (the oldest go first).
const QUARANTINE_KEEP: usize = 3;
/// The photo folders of store version 1.
const LEGACY_DIRS: [&str; 2] = ["photos", "thumbs"];

/// A damaged store that was moved aside, and what came back from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    /// Where the damaged files are kept.
    pub moved_to: PathBuf,
    /// What SQLite said was wrong.
    pub problem: String,
    /// Waiting items carried over (they will be sent as usual).
    pub restored: usize,
    /// Waiting items that could not be read back whole.
    pub lost: Vec<uuid::Uuid>,
    /// The list of waiting items itself could not be read to the end: there
    /// may be more that were lost.
    pub incomplete: bool,
    /// The device's credentials were read back (otherwise: enroll again).
    pub credentials_kept: bool,
}

/// Something start-up had to repair, for the Synchronisatie screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub recovery: Recovery,
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Moves the database (and its WAL, and version 1's photo folders) into a new
/// folder under [`QUARANTINE_DIR`]; returns that folder.
pub(super) fn move_aside(dir: &Path) -> Result<PathBuf, StoreError> {
    let root = dir.join(QUARANTINE_DIR);
    let stamp = Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let to = root.join(stamp);
    std::fs::create_dir_all(&to).map_err(io_err(&to))?;
    let db = DB_FILE.to_string();
    for name in [
        db.clone(),
        format!("{db}-wal"),
        format!("{db}-shm"),
        LEGACY_DIRS[0].into(),
        LEGACY_DIRS[1].into(),
    ] {
        let from = dir.join(&name);
        if from.exists() {
            std::fs::rename(&from, to.join(&name)).map_err(io_err(&from))?;
        }
    }
    sync_dir(&to)?;
    sync_dir(dir)?;
    // Keep the newest few: a card that keeps failing must not fill up with copies.
    let mut kept: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(io_err(&root))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    kept.sort();
    while kept.len() > QUARANTINE_KEEP {
        let old = kept.remove(0);
        if let Err(error) = std::fs::remove_dir_all(&old) {
            tracing::warn!(path = %old.display(), %error, "could not remove an old damaged store");
        }
    }
    tracing::warn!(to = %to.display(), "damaged device database moved aside");
    Ok(to)
}

/// One waiting item as it stood in the damaged store, read as text: it is
/// checked before it is carried over.
struct OldItem {
    id: String,
    kind: String,
    payload: String,
    depends_on: String,
    created_at: String,
    state: String,
    wedged_reason: Option<String>,
}

impl OldItem {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            kind: r.get("kind")?,
            payload: r.get("payload")?,
            depends_on: r.get("depends_on")?,
            created_at: r.get("created_at")?,
            state: r.get("state")?,
            wedged_reason: r.get("wedged_reason")?,
        })
    }
}

/// Carries over credentials and waiting items from the damaged store in
/// `moved_to` into `store` (fresh), and records the incident.
pub(super) fn salvage(
    store: &Store,
    moved_to: &Path,
    problem: String,
) -> Result<Recovery, StoreError> {
    let mut rec = Recovery {
        moved_to: moved_to.to_path_buf(),
        problem,
        restored: 0,
        lost: Vec::new(),
        incomplete: false,
        credentials_kept: false,
    };
    match Connection::open(moved_to.join(DB_FILE)) {
        Ok(old) => {
            let _ = old.busy_timeout(std::time::Duration::from_secs(1));
            salvage_from(&old, store, moved_to, &mut rec)?;
        }
        Err(error) => {
            tracing::error!(%error, "the damaged store cannot be opened at all");
            rec.incomplete = true;
        }
    }
    let conn = store.conn()?;
    conn.execute(
        "INSERT INTO incidents (at, kind, detail) VALUES (?1, 'store_damaged', ?2)",
        params![time_str(Utc::now()), serde_json::to_string(&rec)?],
    )?;
    drop(conn);
    store.wrote();
    tracing::warn!(
        restored = rec.restored,
        lost = rec.lost.len(),
        incomplete = rec.incomplete,
        credentials = rec.credentials_kept,
        "damaged store: waiting items carried over"
    );
    Ok(rec)
}

fn salvage_from(
    old: &Connection,
    store: &Store,
    moved_to: &Path,
    rec: &mut Recovery,
) -> Result<(), StoreError> {
    type Device = (String, String, String, String, String, String);
    let device: Result<Option<Device>, _> = old
        .query_row(
            "SELECT device_id, secret, server_url, group_json, mqtt_json, enrolled_at FROM device",
            [],
            |r| r.try_into(),
        )
        .optional();
    if let Ok(Some((id, secret, url, group, mqtt, at))) = device
        && serde_json::from_str::<kring_protocol::GroupInfo>(&group).is_ok()
        && serde_json::from_str::<kring_protocol::MqttConnectInfo>(&mqtt).is_ok()
    {
        let conn = store.conn()?;
        conn.execute(
            "INSERT INTO device (singleton, device_id, secret, server_url, group_json, mqtt_json, enrolled_at)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, secret, url, group, mqtt, at],
        )?;
        conn.execute(
            "INSERT INTO group_info (singleton, json) VALUES (1, ?1)",
            params![group],
        )?;
        rec.credentials_kept = true;
    }

    let mut items: Vec<OldItem> = Vec::new();
    let listed = old
        .prepare(
            "SELECT id, kind, payload, depends_on, created_at, state, wedged_reason
             FROM outbox WHERE state != 'sent' ORDER BY seq",
        )
        .and_then(|mut st| {
            let rows = st.query_map([], OldItem::from_row)?;
            for row in rows {
                items.push(row?);
            }
            Ok(())
        });
    if let Err(error) = listed {
        tracing::error!(%error, read = items.len(), "the damaged store's outbox could not be read to the end");
        rec.incomplete = true;
    }
    for item in items {
        let id = item.id.clone();
        match carry_over(old, store, moved_to, item) {
            Ok(()) => rec.restored += 1,
            Err(error) => {
                tracing::error!(item = %id, %error, "a waiting item could not be carried over");
                match uuid::Uuid::parse_str(&id) {
                    Ok(u) => rec.lost.push(u),
                    Err(_) => rec.incomplete = true,
                }
            }
        }
    }
    // the server's key, if the old file knew it: what was carried over
    // unsealed is sealed now
    let seal_to: Option<String> = old
        .query_row("SELECT seal_to FROM device", [], |r| r.get(0))
        .unwrap_or(None);
    if rec.credentials_kept
        && let Some(to) = seal_to
    {
        store.set_seal_to(&to)?;
    }
    Ok(())
}

/// A photo read back from a damaged store: SHA-256, bytes, thumbnail.
type OldPhoto = (String, Vec<u8>, Option<Vec<u8>>);

/// A photo's bytes and thumbnail from the damaged store (version 2: BLOBs;
/// version 1: files beside it), checked against its SHA-256.
fn old_photo(old: &Connection, moved_to: &Path, id: &str) -> Result<OldPhoto, StoreError> {
    let v2: Result<String, _> = old.query_row(
        "SELECT sha256 FROM photos WHERE item_id = ?1",
        params![id],
        |r| r.get(0),
    );
    let (sha, jpeg, thumb) = match v2 {
        Ok(sha) => {
            let jpeg: Vec<u8> = old.query_row(
                "SELECT jpeg FROM photo_bytes WHERE item_id = ?1",
                params![id],
                |r| r.get(0),
            )?;
            let thumb: Option<Vec<u8>> = old
                .query_row(
                    "SELECT jpeg FROM photo_thumbs WHERE item_id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()
                .unwrap_or(None);
            (sha, jpeg, thumb)
        }
        Err(_) => {
            let (file, thumb, sha): (Option<String>, Option<String>, String) = old.query_row(
                "SELECT file, thumb, sha256 FROM photo_files WHERE item_id = ?1",
                params![id],
                |r| r.try_into(),
            )?;
            let file = file.ok_or_else(|| StoreError::Invalid("no photo file".into()))?;
            let path = moved_to.join(file);
            let jpeg = std::fs::read(&path).map_err(io_err(&path))?;
            let thumb = thumb.and_then(|t| std::fs::read(moved_to.join(t)).ok());
            (sha, jpeg, thumb)
        }
    };
    // sealed bytes cannot be checked here (only the server can open them;
    // their own authentication tags catch damage there)
    if !kring_protocol::seal::looks_sealed(&jpeg)
        && !hex::encode(Sha256::digest(&jpeg)).eq_ignore_ascii_case(&sha)
    {
        return Err(StoreError::Invalid(
            "the photo's bytes do not match its SHA-256".into(),
        ));
    }
    Ok((sha, jpeg, thumb))
}

fn carry_over(
    old: &Connection,
    store: &Store,
    moved_to: &Path,
    item: OldItem,
) -> Result<(), StoreError> {
    let OldItem {
        id,
        kind,
        payload,
        depends_on,
        created_at,
        state,
        wedged_reason: reason,
    } = item;
    // Only what reads back whole goes on to the server.
    let _: PushItem = serde_json::from_str(&payload)?;
    let _: Vec<uuid::Uuid> = serde_json::from_str(&depends_on)?;
    parse_time(&created_at)?;
    let photo = match kind.as_str() {
        "photo" => Some(old_photo(old, moved_to, &id)?),
        _ => None,
    };
    let state = if state == "wedged" {
        "wedged"
    } else {
        "waiting"
    };
    let mut conn = store.conn()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO outbox (id, kind, payload, depends_on, created_at, state, wedged_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![id, kind, payload, depends_on, created_at, state, reason],
    )?;
    if let Some((sha, jpeg, thumb)) = photo {
        tx.execute(
            "INSERT INTO photos (item_id, sha256, bytes) VALUES (?1, ?2, ?3)",
            params![id, sha, jpeg.len() as i64],
        )?;
        super::insert_photo_bytes(&tx, &id, &jpeg)?;
        if let (Some(t), Ok(uuid)) = (thumb, uuid::Uuid::parse_str(&id)) {
            store.remember_thumbnail(uuid, &t);
        }
    }
    tx.commit()?;
    drop(conn);
    store.wrote();
    Ok(())
}

/// Moves the photo files of store version 1 into the database, one photo per
/// commit (so a card holding a big queue never needs twice its space), each
/// checked against its SHA-256; a file is removed only after its commit. A
/// waiting photo whose file is missing or damaged needs attention.
pub(super) fn adopt_photo_files(
    store: &Store,
    report: &mut super::StartupReport,
) -> Result<(), StoreError> {
    type Row = (String, Option<String>, Option<String>, String, String);
    let rows: Vec<Row> = store
        .conn()?
        .prepare(
            "SELECT l.item_id, l.file, l.thumb, p.sha256, o.state
             FROM legacy_photo_files l JOIN photos p ON p.item_id = l.item_id
             JOIN outbox o ON o.id = l.item_id",
        )?
        .query_map([], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    for (id, file, thumb, sha, state) in rows {
        let read = |rel: &Option<String>| {
            rel.as_ref()
                .and_then(|f| std::fs::read(store.dir.join(f)).ok())
        };
        let jpeg =
            read(&file).filter(|b| hex::encode(Sha256::digest(b)).eq_ignore_ascii_case(&sha));
        let thumb_bytes = read(&thumb);
        let mut conn = store.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(jpeg) = &jpeg {
            tx.execute(
                "INSERT INTO photo_bytes (item_id, jpeg) VALUES (?1, ?2)",
                params![id, jpeg],
            )?;
            report.photos_adopted += 1;
        } else if file.is_some() && state != "sent" {
            tx.execute(
                "UPDATE outbox SET state = 'wedged', wedged_reason = ?2 WHERE id = ?1",
                params![id, crate::decide::Reason::PhotoGone.to_stored()],
            )?;
            report.missing_photos.push(
                uuid::Uuid::parse_str(&id)
                    .map_err(|_| StoreError::Invalid(format!("bad id {id}")))?,
            );
        }
        if let (Some(t), Ok(uuid)) = (&thumb_bytes, uuid::Uuid::parse_str(&id)) {
            store.remember_thumbnail(uuid, t);
        }
        tx.execute(
            "DELETE FROM legacy_photo_files WHERE item_id = ?1",
            params![id],
        )?;
        tx.commit()?;
        drop(conn);
        store.wrote();
        for rel in [&file, &thumb].into_iter().flatten() {
            let path = store.dir.join(rel);
            if let Err(error) = std::fs::remove_file(&path)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), %error, "could not remove an adopted photo file");
            }
        }
    }
    remove_legacy_dirs(&store.dir)
}

/// Removes version 1's photo folders with whatever is left in them (temp
/// files of a save that never committed).
pub(super) fn remove_legacy_dirs(dir: &Path) -> Result<(), StoreError> {
    for sub in LEGACY_DIRS {
        let d = dir.join(sub);
        if d.exists() {
            std::fs::remove_dir_all(&d).map_err(io_err(&d))?;
        }
    }
    Ok(())
}

impl Store {
    /// Repairs start-up made that staff have not yet seen, newest first.
    pub fn incidents(&self) -> Result<Vec<Incident>, StoreError> {
        let conn = self.conn()?;
        let rows: Vec<(i64, String, String)> = conn
            .prepare("SELECT id, at, detail FROM incidents WHERE seen = 0 ORDER BY id DESC")?
            .query_map([], |r| r.try_into())?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(id, at, detail)| {
                Ok(Incident {
                    id,
                    at: parse_time(&at)?,
                    recovery: serde_json::from_str(&detail)?,
                })
            })
            .collect()
    }

    /// Staff have read the incident on the Synchronisatie screen.
    pub fn incident_seen(&self, id: i64) -> Result<(), StoreError> {
        self.conn()?
            .execute("UPDATE incidents SET seen = 1 WHERE id = ?1", params![id])?;
        self.wrote();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{NewPhoto, StartupReport};
    use super::*;
    use kring_protocol::{
        Audience, Change, ChangeKind, Cursor, DeviceId, EnrollResponse, FeedPage, GroupId,
        GroupInfo, LocationId, MessageThread, MqttConnectInfo, OrganisationId, PhotoId, PhotoItem,
        PushReceipt, UploadId,
    };

    fn jpeg(seed: u8, len: usize) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0];
        v.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
        v.extend([0xFF, 0xD9]);
        v
    }

    fn sha(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    /// A store as release 1 wrote it: migration 0001, and each photo as
    /// `photos/<id>.jpg` plus `thumbs/<id>.jpg` with the same INSERTs as its
    /// `save_photo` (and `mark_sent`, which set `file` to NULL).
    fn version_1_photo(conn: &Connection, dir: &Path, bytes: &[u8], sent: bool) -> uuid::Uuid {
        let id = PhotoId::new();
        let item = PushItem::Photo(PhotoItem {
            id,
            upload_id: UploadId(uuid::Uuid::nil()),
            sha256: sha(bytes),
            tags: vec![],
            no_children_recognizable: true,
            audience_shown: Audience::WholeGroup,
            taken_at_device: Utc::now(),
            staff_id: None,
        });
        std::fs::write(dir.join(format!("thumbs/{id}.jpg")), &bytes[..40]).expect("thumb");
        if !sent {
            std::fs::write(dir.join(format!("photos/{id}.jpg")), bytes).expect("photo");
        }
        conn.execute(
            "INSERT INTO outbox (id, kind, payload, depends_on, created_at, state) VALUES (?1, 'photo', ?2, '[]', ?3, ?4)",
            params![
                id.to_string(),
                serde_json::to_string(&item).expect("json"),
                time_str(Utc::now()),
                if sent { "sent" } else { "waiting" }
            ],
        )
        .expect("outbox");
        conn.execute(
            "INSERT INTO photo_files (item_id, file, thumb, sha256, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id.to_string(),
                (!sent).then(|| format!("photos/{id}.jpg")),
                format!("thumbs/{id}.jpg"),
                sha(bytes),
                bytes.len() as i64
            ],
        )
        .expect("photo_files");
        id.0
    }

    #[test]
    fn a_store_of_release_1_keeps_every_waiting_photo() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for sub in LEGACY_DIRS {
            std::fs::create_dir_all(d.join(sub)).expect("dir");
        }
        let photos: Vec<Vec<u8>> = (0..4).map(|i| jpeg(i, 3000 + usize::from(i))).collect();
        let (waiting, sent, missing, damaged) = {
            let conn = Connection::open(d.join(DB_FILE)).expect("open v1");
            conn.pragma_update(None, "journal_mode", "WAL")
                .expect("wal");
            conn.execute_batch(super::super::MIGRATIONS[0].sql)
                .expect("v1 schema");
            conn.pragma_update(None, "user_version", 1)
                .expect("version");
            let waiting: Vec<uuid::Uuid> = photos[..2]
                .iter()
                .map(|p| version_1_photo(&conn, d, p, false))
                .collect();
            let sent = version_1_photo(&conn, d, &photos[2], true);
            let missing = version_1_photo(&conn, d, &photos[3], false);
            std::fs::remove_file(d.join(format!("photos/{missing}.jpg"))).expect("rm");
            let damaged = version_1_photo(&conn, d, &photos[3], false);
            std::fs::write(d.join(format!("photos/{damaged}.jpg")), b"\xFF\xD8 torn")
                .expect("tear");
            std::fs::write(d.join("photos/half.tmp"), b"never committed").expect("tmp");
            (waiting, sent, missing, damaged)
        };
        let (s, report) = Store::open(d).expect("upgrade");
        assert_eq!(report.photos_adopted, 2);
        assert_eq!(report.missing_photos.len(), 2);
        assert!(
            report.missing_photos.contains(&missing) && report.missing_photos.contains(&damaged)
        );
        for (id, bytes) in waiting.iter().zip(&photos) {
            let up = s.photo_upload(id).expect("upload");
            assert!(up.stored);
            assert_eq!(up.sha256, sha(bytes));
            assert_eq!(s.read_photo(id, 0, 1 << 20).expect("bytes"), *bytes);
            assert_eq!(s.thumbnail(id).expect("thumb").expect("some"), bytes[..40]);
        }
        assert!(!s.photo_upload(&sent).expect("sent").stored);
        assert!(s.thumbnail(&sent).expect("thumb").is_some());
        assert_eq!(
            s.counts().expect("counts"),
            (2, 2),
            "2 waiting, 2 need attention"
        );
        for sub in LEGACY_DIRS {
            assert!(!d.join(sub).exists(), "{sub}/ is gone");
        }
        let auto_vacuum: i64 = s
            .conn()
            .expect("conn")
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .expect("pragma");
        assert_eq!(auto_vacuum, 2, "incremental");
        drop(s);
        let (_, again) = Store::open(d).expect("reopen");
        assert_eq!(again, StartupReport::default(), "done once");
    }

    /// A store in `d`, enrolled, with a photo and a message waiting.
    fn enrolled_with_waiting(d: &Path, bytes: &[u8]) -> (Store, uuid::Uuid, uuid::Uuid) {
        let (s, _) = Store::open(d).expect("open");
        enroll(&s);
        let p = s.save_photo(photo(bytes), Utc::now()).expect("photo").0;
        let m = s
            .save_message(MessageThread::Group, "tot morgen", None, Utc::now())
            .expect("message")
            .0;
        (s, p, m)
    }

    fn enroll(s: &Store) {
        enroll_to(s, None);
    }

    /// Enrolls `s`, with the server's key to seal to when given.
    fn enroll_to(s: &Store, seal_to: Option<String>) {
        let resp = EnrollResponse {
            device_id: DeviceId::new(),
            device_secret: "geheim".into(),
            group: GroupInfo {
                id: GroupId::new(),
                name: "Dolfijnen".into(),
                location_id: LocationId::new(),
                location_name: "Zonnebloem".into(),
                organisation_id: OrganisationId::new(),
                organisation_name: "Kinderopvang".into(),
                time_zone: "Europe/Amsterdam".into(),
                care: kring_protocol::GroupCare::Dagopvang,
            },
            mqtt: MqttConnectInfo {
                host: String::new(),
                port: 1883,
                topic_prefix: "kring/v1/devices/x".into(),
                tls: false,
            },
            seal_to,
        };
        s.save_enrollment("http://server", &resp, Utc::now())
            .expect("enroll");
    }

    fn photo(bytes: &[u8]) -> NewPhoto<'_> {
        NewPhoto {
            jpeg: bytes,
            thumbnail: Some(&bytes[..50]),
            tags: vec![],
            no_children_recognizable: true,
            audience: Audience::StaffOnly,
            staff: None,
        }
    }

    /// Overwrites the header of every page holding `marker` (a b-tree page
    /// of the children table) with garbage.
    fn damage_pages_with(db: &Path, marker: &[u8]) -> usize {
        let mut file = std::fs::read(db).expect("read db");
        let mut hit = 0;
        for page in file.chunks_mut(4096).skip(1) {
            if page.windows(marker.len()).any(|w| w == marker) {
                page[..12].fill(0xEE);
                hit += 1;
            }
        }
        std::fs::write(db, file).expect("write db");
        hit
    }

    #[test]
    fn a_damaged_store_is_moved_aside_and_waiting_items_come_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let bytes = jpeg(9, 20_000);
        let (photo_id, message_id) = {
            let (s, p, m) = enrolled_with_waiting(d, &bytes);
            let done = s
                .save_message(MessageThread::Group, "al verstuurd", None, Utc::now())
                .expect("message")
                .0;
            s.mark_sent(
                &done,
                &PushReceipt {
                    item_id: done,
                    seq: 1,
                    received_at: Utc::now(),
                    sha256: None,
                },
                Utc::now(),
            )
            .expect("sent");
            marker_children(&s);
            (p, m)
        };
        assert!(!d.join(format!("{DB_FILE}-wal")).exists(), "closed cleanly");
        assert!(damage_pages_with(&d.join(DB_FILE), b"MARKER-") > 0);

        let (s, report) = Store::open(d).expect("open damaged");
        let rec = report.recovered.expect("recovered");
        assert_eq!(rec.restored, 2);
        assert!(rec.lost.is_empty() && !rec.incomplete);
        assert!(rec.credentials_kept);
        assert!(rec.moved_to.join(DB_FILE).exists(), "kept for support");
        assert!(rec.moved_to.starts_with(d.join(QUARANTINE_DIR)));
        let pending: Vec<uuid::Uuid> = s.pending().expect("pending").iter().map(|r| r.id).collect();
        assert_eq!(pending, vec![photo_id, message_id], "same ids, same order");
        assert_eq!(s.read_photo(&photo_id, 0, 1 << 20).expect("bytes"), bytes);
        assert!(s.device().expect("device").is_some());
        assert_eq!(
            s.cursor().expect("cursor"),
            Cursor(0),
            "the feed comes again"
        );
        assert!(s.children().expect("children").is_empty());
        let incidents = s.incidents().expect("incidents");
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0].recovery, rec);
        s.incident_seen(incidents[0].id).expect("seen");
        assert!(s.incidents().expect("incidents").is_empty());
    }

    /// 200 children named MARKER-n from the feed: pages to damage.
    fn marker_children(s: &Store) {
        let changes = (0..200)
            .map(|i| {
                let mut c = super::super::tests::child(kring_protocol::ChildId::new());
                c.first_name = format!("MARKER-{i}");
                Change {
                    seq: i + 1,
                    kind: ChangeKind::Child(c),
                }
            })
            .collect();
        s.apply_feed_page(
            &FeedPage {
                changes,
                cursor: Cursor(200),
                has_more: false,
                update: None,
                seal_to: None,
            },
            Utc::now(),
        )
        .expect("feed");
    }

    /// A sealed store that is damaged: its waiting items come over still
    /// sealed (the server opens them), and so does the key for what follows.
    #[test]
    fn a_damaged_sealed_store_carries_its_sealed_items_and_its_key_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let keys =
            kring_protocol::SealKeys::parse(&[kring_protocol::SealKeys::generate()]).expect("key");
        let to = keys.recipient().expect("recipient").to_string();
        let bytes = jpeg(9, 20_000);
        let (photo_id, message_id) = {
            let (s, _) = Store::open(d).expect("open");
            enroll_to(&s, Some(to.clone()));
            // enrolling again with the same key still writes it down
            enroll_to(&s, Some(to.clone()));
            let p = s.save_photo(photo(&bytes), Utc::now()).expect("photo").0;
            let m = s
                .save_message(MessageThread::Group, "tot morgen", None, Utc::now())
                .expect("message")
                .0;
            marker_children(&s);
            (p, m)
        };
        assert!(damage_pages_with(&d.join(DB_FILE), b"MARKER-") > 0);
        let (s, report) = Store::open(d).expect("open damaged");
        let rec = report.recovered.expect("recovered");
        assert_eq!((rec.restored, rec.lost.len()), (2, 0));
        assert_eq!(
            s.seal_to().expect("key").map(|k| k.to_string()),
            Some(to),
            "the key came over"
        );
        let up = s.photo_upload(&photo_id).expect("upload");
        let stored = s
            .read_photo(&photo_id, 0, up.bytes as usize)
            .expect("bytes");
        assert_ne!(stored, bytes);
        assert_eq!(keys.open(&stored).expect("the server opens it"), bytes);
        let PushItem::Sealed(m) = s.item(&message_id).expect("item") else {
            panic!("still sealed");
        };
        let Ok(PushItem::Message(m)) = m.open(&keys) else {
            panic!("a message");
        };
        assert_eq!(m.body, "tot morgen");
    }

    /// Runs `future` on the closed store in `d` as a newer release would
    /// (its migrations after ours), and returns the file's version.
    fn newer_release(d: &Path, future: &[super::super::Migration]) -> i64 {
        let mut conn = Connection::open(d.join(DB_FILE)).expect("open file");
        let all: Vec<super::super::Migration> = super::super::MIGRATIONS
            .iter()
            .chain(future)
            .copied()
            .collect();
        super::super::migrate_with(&mut conn, &all).expect("newer migrations");
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version")
    }

    /// Going back after an update (issue 13): an older release opens the
    /// store a newer one migrated. A migration that only adds leaves the file
    /// usable as it is, with everything in it.
    #[test]
    fn an_older_release_uses_a_store_a_newer_one_only_added_to() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let bytes = jpeg(3, 20_000);
        let waiting = {
            let (s, _) = Store::open(d).expect("open");
            enroll(&s);
            s.save_photo(photo(&bytes), Utc::now()).expect("photo").0
        };
        let version = newer_release(
            d,
            &[super::super::Migration {
                sql: "CREATE TABLE future_things (id INTEGER PRIMARY KEY, what TEXT);
                      ALTER TABLE outbox ADD COLUMN future_note TEXT NOT NULL DEFAULT '';",
                breaks_older: false,
            }],
        );
        assert_eq!(version, super::super::MIGRATIONS.len() as i64 + 1);

        let (s, report) = Store::open(d).expect("the older release opens it");
        assert_eq!(report, StartupReport::default(), "nothing repaired");
        assert!(s.device().expect("device").is_some(), "still enrolled");
        let pending: Vec<uuid::Uuid> = s.pending().expect("pending").iter().map(|r| r.id).collect();
        assert_eq!(pending, vec![waiting]);
        assert_eq!(s.read_photo(&waiting, 0, 1 << 20).expect("bytes"), bytes);
        // ...and goes on saving into it.
        s.save_message(MessageThread::Group, "na het terugzetten", None, Utc::now())
            .expect("save after going back");
        assert_eq!(s.pending().expect("pending").len(), 2);
        drop(s);
        let conn = Connection::open(d.join(DB_FILE)).expect("file");
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(v, version, "the older release did not touch the version");
    }

    /// A migration the older release would misread: the file is moved aside
    /// (kept), and the enrollment and every waiting item the older release
    /// can read come over, under their own ids.
    #[test]
    fn an_older_release_moves_aside_a_store_a_newer_one_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let bytes = jpeg(4, 20_000);
        let (photo_id, message_id) = {
            let (_, p, m) = enrolled_with_waiting(d, &bytes);
            (p, m)
        };
        let version = newer_release(
            d,
            &[super::super::Migration {
                sql: "ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
                      UPDATE outbox SET payload = '{\"future\":true}'
                        WHERE kind = 'message' AND id NOT IN (SELECT id FROM outbox ORDER BY seq LIMIT 1);",
                breaks_older: true,
            }],
        );
        let (s, report) = Store::open(d).expect("the older release starts");
        let rec = report.recovered.expect("moved aside");
        assert!(
            rec.problem.contains(&format!("store version {version}")),
            "{}",
            rec.problem
        );
        assert!(
            rec.moved_to.join(DB_FILE).exists(),
            "the newer file is kept"
        );
        assert!(rec.credentials_kept, "still enrolled");
        assert_eq!(rec.restored, 1, "the photo reads back whole");
        assert_eq!(rec.lost, vec![message_id], "what it cannot read is listed");
        let pending: Vec<uuid::Uuid> = s.pending().expect("pending").iter().map(|r| r.id).collect();
        assert_eq!(pending, vec![photo_id]);
        assert_eq!(s.read_photo(&photo_id, 0, 1 << 20).expect("bytes"), bytes);
        assert_eq!(s.incidents().expect("incidents").len(), 1, "staff see it");
        drop(s);
        let (_, again) = Store::open(d).expect("reopen");
        assert_eq!(again, StartupReport::default(), "once");
    }

    #[test]
    fn garbage_instead_of_a_database_starts_afresh_and_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        {
            let (s, _) = Store::open(d).expect("open");
            enroll(&s);
            s.save_message(MessageThread::Group, "weg", None, Utc::now())
                .expect("message");
        }
        std::fs::write(d.join(DB_FILE), vec![0x42; 8192]).expect("garbage");
        let (s, report) = Store::open(d).expect("open garbage");
        let rec = report.recovered.expect("recovered");
        assert!(rec.incomplete, "nothing could be listed");
        assert!(!rec.credentials_kept);
        assert_eq!(rec.restored, 0);
        assert!(s.device().expect("device").is_none(), "enroll again");
        assert_eq!(s.incidents().expect("incidents").len(), 1);
        // the fresh store works
        s.save_message(MessageThread::Group, "weer", None, Utc::now())
            .expect("message");
        drop(s);
        // and a store that keeps breaking keeps only the newest copies
        for _ in 0..4 {
            std::fs::write(d.join(DB_FILE), vec![0x42; 8192]).expect("garbage");
            std::thread::sleep(std::time::Duration::from_millis(5));
            let _ = Store::open(d).expect("open");
        }
        let kept = std::fs::read_dir(d.join(QUARANTINE_DIR))
            .expect("dir")
            .count();
        assert_eq!(kept, QUARANTINE_KEEP);
    }
}

//! A parent's archive of their own child: everything the parent may see of
//! the child in one ZIP file (the photo originals, the diary as one readable
//! HTML page, the messages), built in the background and offered by a
//! single-use link that expires.
//!
//! - A request is a row (`Store::request_archive`); any server process
//!   builds it: right after the request (a spawned task) and in every
//!   housekeeping round, each taking one request at a time with
//!   `Store::claim_archive` (atomic; a claim of a builder that died is taken
//!   over after [`STALE_CLAIM`]).
//! - What goes in is `Store::archive_contents`: the timeline's own rule
//!   (the same SQL as "Mijn kind", every page), never a second one.
//! - The file is written under `<data_dir>/archives/` (a `.part` file,
//!   renamed when complete) and deleted when downloaded, when the link
//!   expired, or when the build failed (`sweep`). Server processes that
//!   share a database must share the data directory for this.
//! - The link's token is stored as its SHA-256 only; the mail holds the
//!   link, the portal a button for the logged-in parent; either works once.

use crate::AppState;
use crate::portal::i18n::{self, Lang, Tr};
use crate::portal::web::view;
use crate::portal::{MessageView, TimelineItem};
use crate::store::{ArchiveContents, ArchiveJob, StoreError};
use askama::Template;
use chrono::{Duration, Utc};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder of the data directory the archives are written to.
pub const ARCHIVE_DIR: &str = "archives";
/// How long the link of a built archive works.
pub const LINK_DAYS: i64 = 7;
/// A claim older than this belongs to a builder that died.
pub const STALE_CLAIM: Duration = Duration::minutes(30);

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("writing the archive: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing the archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("rendering the archive's pages: {0}")]
    Template(#[from] askama::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the archive task failed: {0}")]
    Join(String),
}

/// One item of the diary page: a diary entry, or a photo on its own.
#[derive(Debug, Clone)]
pub struct DiaryLine {
    pub when: String,
    pub author: String,
    pub text: String,
    pub baby: Vec<String>,
    /// The photos' names inside the ZIP (`fotos/…`).
    pub photos: Vec<String>,
}

#[derive(Debug, Template)]
#[template(path = "archive_diary.html")]
pub struct DiaryPage {
    pub t: crate::portal::i18n::Tr,
    pub child: String,
    pub org: String,
    pub made: String,
    pub lines: Vec<DiaryLine>,
}

#[derive(Debug, Clone)]
pub struct MessageLine {
    pub when: String,
    pub author: String,
    pub group: String,
    pub to_group: bool,
    pub body: String,
}

#[derive(Debug, Template)]
#[template(path = "archive_messages.html")]
pub struct MessagesPage {
    pub t: crate::portal::i18n::Tr,
    pub child: String,
    pub org: String,
    pub made: String,
    pub messages: Vec<MessageLine>,
}

/// The photo's name inside the ZIP: its local time, then its id.
pub fn photo_name(c: &ArchiveContents, photo: &crate::portal::PhotoRow) -> String {
    let local = c.calendar.local(photo.received_at);
    format!("fotos/{}-{}.jpg", local.format("%Y-%m-%d-%H%M"), photo.id)
}

/// The diary page and the messages page of an archive.
pub fn pages(c: &ArchiveContents) -> Result<(String, String), askama::Error> {
    let name_of = |id: &kring_protocol::PhotoId| {
        c.photos
            .iter()
            .find(|p| p.id == *id)
            .map(|p| photo_name(c, p))
    };
    let child = format!("{} {}", c.child.first_name, c.child.last_name);
    let made = view::when(&c.calendar, Utc::now());
    let lines = c
        .items
        .iter()
        .map(|i| match i {
            TimelineItem::Photo { photo, .. } => DiaryLine {
                when: view::when(&c.calendar, photo.received_at),
                author: String::new(),
                text: String::new(),
                baby: Vec::new(),
                photos: vec![photo_name(c, photo)],
            },
            TimelineItem::Diary(d) => DiaryLine {
                when: view::when(&c.calendar, d.written_at),
                author: d.author_name.clone(),
                text: d.text.clone(),
                baby: crate::portal::web::baby_lines(d.baby_json.as_deref()),
                photos: d.photos.iter().filter_map(name_of).collect(),
            },
        })
        .collect();
    let diary = DiaryPage {
        t: crate::portal::i18n::Tr::current(),
        child: child.clone(),
        org: c.org_name.clone(),
        made: made.clone(),
        lines,
    }
    .render()?;
    let messages = MessagesPage {
        t: crate::portal::i18n::Tr::current(),
        child,
        org: c.org_name.clone(),
        made,
        messages: c
            .messages
            .iter()
            .map(|m: &MessageView| MessageLine {
                when: view::when(&c.calendar, m.sent_at),
                author: m.author_name.clone(),
                group: m.group_name.clone(),
                to_group: m.child.is_none(),
                body: m.body.clone(),
            })
            .collect(),
    }
    .render()?;
    Ok((diary, messages))
}

/// Writes the ZIP to `path` (through `path.part`, synced, then renamed):
/// `dagboek.html`, `berichten.html` and the photo originals under `fotos/`.
/// A photo whose file is gone (deleted since) is left out. Returns the
/// file's size and how many photos are in it.
pub fn write_zip(
    path: &Path,
    c: &ArchiveContents,
    blobs: &dyn crate::blob::BlobStore,
) -> Result<(u64, u32), ArchiveError> {
    let (diary, messages) = pages(c)?;
    let photos = c
        .photos
        .iter()
        .map(|p| (photo_name(c, p), p.blob_key.clone()))
        .collect();
    write_entries(
        path,
        vec![
            ("dagboek.html".into(), diary.into_bytes()),
            ("berichten.html".into(), messages.into_bytes()),
        ],
        photos,
        blobs,
    )
}

/// Writes a ZIP of `files` (name, bytes) and `photos` (name in the ZIP, blob
/// key; one whose file is gone is left out, logged) to `path`, through
/// `path.part` (synced, renamed when whole). Returns the size and how many
/// photos are in it.
pub fn write_entries(
    path: &Path,
    files: Vec<(String, Vec<u8>)>,
    photos: Vec<(String, String)>,
    blobs: &dyn crate::blob::BlobStore,
) -> Result<(u64, u32), ArchiveError> {
    use zip::write::SimpleFileOptions;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let part = path.with_extension("zip.part");
    let written = (|| {
        let file = std::fs::File::create(&part)?;
        let mut z = zip::ZipWriter::new(std::io::BufWriter::new(file));
        // JPEG does not compress: stored, like the small pages
        let stored = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(false);
        for (name, bytes) in files {
            z.start_file(name, stored)?;
            z.write_all(&bytes)?;
        }
        let mut n = 0u32;
        for (name, key) in photos {
            let bytes = match blobs.get(&key) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "a photo's file is missing; left out of the archive");
                    continue;
                }
            };
            z.start_file(name, stored)?;
            z.write_all(&bytes)?;
            n += 1;
        }
        let file = z
            .finish()?
            .into_inner()
            .map_err(|e| ArchiveError::Io(e.into_error()))?;
        file.sync_all()?;
        let size = file.metadata()?.len();
        Ok::<_, ArchiveError>((size, n))
    })();
    match written {
        Ok(w) => {
            std::fs::rename(&part, path)?;
            Ok(w)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

/// A manager's export (inzageverzoek) as a ZIP at `path`: `gegevens.json`
/// (every row, by table), and for a child `dagboek.html` and the photo
/// originals under `fotos/`.
pub fn write_export(
    path: &Path,
    e: &crate::store::Export,
    calendar: &kring_protocol::Calendar,
    org: &str,
    blobs: &dyn crate::blob::BlobStore,
) -> Result<(u64, u32), ArchiveError> {
    let name = |p: &crate::store::ExportPhoto| {
        format!(
            "fotos/{}-{}.jpg",
            calendar.local(p.taken_at).format("%Y-%m-%d-%H%M"),
            p.id
        )
    };
    let json = serde_json::to_vec_pretty(&e.data)
        .map_err(|err| ArchiveError::Io(std::io::Error::other(err)))?;
    let mut files = vec![("gegevens.json".to_string(), json)];
    if !e.diary.is_empty() || !e.photos.is_empty() {
        let lines = e
            .diary
            .iter()
            .map(|d| DiaryLine {
                when: view::when(calendar, d.written_at),
                author: d.author.clone(),
                text: d.text.clone(),
                baby: crate::portal::web::baby_lines(d.baby_json.as_deref()),
                photos: d
                    .photos
                    .iter()
                    .filter_map(|id| e.photos.iter().find(|p| p.id == *id).map(name))
                    .collect(),
            })
            .collect();
        let diary = DiaryPage {
            t: crate::portal::i18n::Tr::current(),
            child: e.name.clone(),
            org: org.to_string(),
            made: view::when(calendar, Utc::now()),
            lines,
        }
        .render()?;
        files.push(("dagboek.html".into(), diary.into_bytes()));
    }
    let photos = e
        .photos
        .iter()
        .map(|p| (name(p), p.blob_key.clone()))
        .collect();
    write_entries(path, files, photos, blobs)
}

/// Builds the requests that wait, one at a time, until none is left for
/// this process. Failures are logged (never a name) and the request marked
/// failed; the parent can ask again.
pub async fn build_waiting(state: &AppState) {
    loop {
        let now = Utc::now();
        let job = match state.store.claim_archive(now, now - STALE_CLAIM).await {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim an archive request");
                return;
            }
        };
        // the archive's pages and its mail in the parent's own language
        let lang = match state
            .store
            .account_language(crate::portal::UserKind::Parent, job.parent.0)
            .await
        {
            Ok(lang) => lang.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "could not read a parent's language");
                Lang::default()
            }
        };
        if let Err(e) = i18n::scope(Tr::new(lang), build(state, job)).await {
            tracing::warn!(error = %e, request = %job.id, "building an archive failed");
            if let Err(e) = state.store.fail_archive(job.id, Utc::now()).await {
                tracing::warn!(error = %e, request = %job.id, "could not mark the archive failed");
            }
        }
    }
}

/// [`build_waiting`] in the background (after a request).
pub fn spawn_build(state: AppState) {
    tokio::spawn(async move { build_waiting(&state).await });
}

async fn build(state: &AppState, job: ArchiveJob) -> Result<(), ArchiveError> {
    let Some(contents) = state.store.archive_contents(job, Utc::now()).await? else {
        // the child or the parent is gone, or no longer linked
        state.store.fail_archive(job.id, Utc::now()).await?;
        return Ok(());
    };
    let file_name = format!(
        "{ARCHIVE_DIR}/{}-{}.zip",
        job.id,
        uuid::Uuid::now_v7().simple()
    );
    let path: PathBuf = state.data_dir.join(&file_name);
    let blobs = state.blobs.clone();
    let (written, contents) = {
        let path = path.clone();
        let tr = Tr::current();
        tokio::task::spawn_blocking(move || {
            let r = i18n::scope_sync(tr, || write_zip(&path, &contents, blobs.as_ref()));
            (r, contents)
        })
        .await
        .map_err(|e| ArchiveError::Join(e.to_string()))?
    };
    let (size, photos) = written?;
    let ids: Vec<kring_protocol::PhotoId> = contents.photos.iter().map(|p| p.id).collect();
    let valid = Duration::days(LINK_DAYS);
    let now = Utc::now();
    let Some(token) = state
        .store
        .finish_archive(job.id, file_name, size, ids, now, valid)
        .await?
    else {
        // another process finished it first
        let _ = tokio::fs::remove_file(&path).await;
        return Ok(());
    };
    tracing::info!(request = %job.id, photos, size, "archive built");
    let link = format!(
        "{}/archief/ophalen/{token}",
        crate::portal::notify::portal_origin(&state.settings, &contents.org_slug)
    );
    let until = view::day(contents.calendar.today(now + valid));
    let t = Tr::current();
    state.mailer.send_later(crate::portal::mail::Mail {
        to: contents.parent_email.clone(),
        subject: t.f("Het archief van {0} staat klaar", &contents.child.first_name),
        body: t.f3(
            "Beste {0},\n\nHet archief van {1} staat klaar: de foto's, het dagboek en de berichten in één ZIP-bestand.\nDownload het via deze link. De link werkt één keer, tot en met {2}:\n\n",
            &contents.parent_name,
            &contents.child.first_name,
            until,
        ) + &link
            + &t.f(
                "\n\nU kunt het ook downloaden in het ouderportaal van {0}, onder Overig.\n",
                &contents.org_name,
            ),
    });
    Ok(())
}

/// Deletes the files of archives that were downloaded, expired or failed.
pub async fn sweep(state: &AppState) -> Result<usize, StoreError> {
    let files = state.store.sweep_archives(Utc::now()).await?;
    let n = files.len();
    for f in files {
        match tokio::fs::remove_file(state.data_dir.join(&f)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "could not delete an archive file"),
        }
    }
    Ok(n)
}

/// The one mail a parent gets when their child's care ended: until when the
/// photos and diary are kept, and where to download them.
/// In the language of `Tr::current()` (the caller scopes it to the parent's).
pub fn leaving_mail(
    settings: &crate::settings::Settings,
    n: &crate::store::LeavingNotice,
) -> crate::portal::mail::Mail {
    let origin = crate::portal::notify::portal_origin(settings, &n.org_slug);
    let t = Tr::current();
    crate::portal::mail::Mail {
        to: n.email.clone(),
        subject: t.f("Bewaar de foto's en het dagboek van {0}", &n.child_first_name),
        body: t.f3(
            "Beste {0},\n\nDe opvang van {1} bij {2} is gestopt. ",
            &n.parent_name,
            &n.child_first_name,
            &n.org_name,
        ) + &t.f2(
            "De foto's en het dagboek van {0} kunt u nog tot en met {1} zien in het ouderportaal; daarna worden ze verwijderd.\n\n",
            &n.child_first_name,
            view::day(n.keep_until),
        ) + &t.f(
            "Wilt u ze bewaren? Download dan alles in één keer: kies in het ouderportaal \"Alles van {0} downloaden\".\n\n",
            &n.child_first_name,
        ) + &format!("{origin}/account\n"),
    }
}

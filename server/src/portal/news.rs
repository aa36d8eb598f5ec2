//! News posts, newsletters and Mijn locatie: the types and the pure rules.
//! The reads and writes are [`crate::store::Store`] methods.
//!
//! - A post belongs to one location, or to the whole organisation (no
//!   location). A parent sees the organisation's posts and those of the
//!   locations where a child of theirs is placed (a placement that has not
//!   ended), never another organisation's or another location's
//!   (`news_for_parent`, `news_post_for_parent`: `None` is 404).
//! - Text is plain text: the templates escape it, paragraphs are split on
//!   blank lines ([`paragraphs`]).
//! - A photo goes through [`crate::photo::process`] (no metadata, a
//!   thumbnail); a PDF must start with `%PDF-` and stay under the limit
//!   ([`check_pdf`]).
//! - A staff member's photo is stored and shown only with their consent,
//!   recorded by the manager.

use crate::portal::i18n::tr;
use chrono::{DateTime, Utc};
use kring_protocol::{LocationId, OrganisationId, StaffId};

/// Default for `portal.news_pdf_max_bytes`: 10 MiB.
pub const DEFAULT_PDF_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Longest title of a post or information page, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest text of a post or information page, in characters.
pub const MAX_BODY_CHARS: usize = 20_000;

/// A news post or a newsletter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewsKind {
    Nieuws,
    Nieuwsbrief,
}

impl NewsKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nieuws => "nieuws",
            Self::Nieuwsbrief => "nieuwsbrief",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "nieuws" => Some(Self::Nieuws),
            "nieuwsbrief" => Some(Self::Nieuwsbrief),
            _ => None,
        }
    }
    /// The word on the screen.
    pub fn word(self) -> &'static str {
        match self {
            Self::Nieuws => tr().s("Nieuws"),
            Self::Nieuwsbrief => tr().s("Nieuwsbrief"),
        }
    }
}

/// A PDF attached to a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewsPdf {
    pub key: String,
    /// The file name as shown and offered for download (cleaned).
    pub name: String,
    pub bytes: i64,
}

/// A post's photo in the blob store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewsPhoto {
    pub key: String,
    pub thumb_key: String,
}

/// A post as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewsPost {
    pub id: String,
    pub organisation: OrganisationId,
    /// `None`: the whole organisation.
    pub location: Option<LocationId>,
    pub location_name: Option<String>,
    pub kind: NewsKind,
    pub title: String,
    pub body: String,
    pub photo: Option<NewsPhoto>,
    pub pdf: Option<NewsPdf>,
    pub author_name: String,
    pub published_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What happens to a post's file when it is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange<T> {
    Keep,
    Remove,
    Set(T),
}

/// A new post, or the new state of one being edited.
#[derive(Debug, Clone)]
pub struct NewsDraft {
    pub location: Option<LocationId>,
    pub kind: NewsKind,
    pub title: String,
    pub body: String,
    pub photo: FileChange<NewsPhoto>,
    pub pdf: FileChange<NewsPdf>,
    pub author_name: String,
}

/// What saving a post did: its id, whether it is new (then parents hear of
/// it), and the blob keys no longer used (the caller deletes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedNews {
    pub id: String,
    pub created: bool,
    pub unused_keys: Vec<String>,
}

/// A location's details for Mijn locatie.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocationDetails {
    pub address: String,
    pub opening_hours: String,
    pub phone: String,
    pub email: String,
}

/// A member of a location's team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    pub id: StaffId,
    pub name: String,
    /// A photo the staff member agreed to share.
    pub has_photo: bool,
}

/// A page of practical information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoPage {
    pub id: String,
    pub title: String,
    pub body: String,
}

/// Everything Mijn locatie shows of one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationInfo {
    pub id: LocationId,
    pub name: String,
    pub details: LocationDetails,
    /// Staff of the location's groups, by name.
    pub team: Vec<TeamMember>,
    /// Oldest first.
    pub pages: Vec<InfoPage>,
}

/// Why an attachment was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AttachmentError {
    #[error("the file is not a PDF")]
    NotAPdf,
    #[error("the file is {size} bytes, more than the limit of {max} bytes")]
    TooLarge { size: u64, max: u64 },
}

/// A PDF starts with `%PDF-` and is at most `max` bytes.
pub fn check_pdf(bytes: &[u8], max: u64) -> Result<(), AttachmentError> {
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > max {
        return Err(AttachmentError::TooLarge { size, max });
    }
    if !bytes.starts_with(b"%PDF-") {
        return Err(AttachmentError::NotAPdf);
    }
    Ok(())
}

/// A file name safe to show and to put in `Content-Disposition`: letters,
/// digits, `-`, `_`, `.` and spaces (others become `_`), at most 80
/// characters, ending in `.pdf`.
pub fn pdf_file_name(uploaded: &str) -> String {
    let base = uploaded.rsplit(['/', '\\']).next().unwrap_or_default();
    let base = base
        .strip_suffix(".pdf")
        .or_else(|| base.strip_suffix(".PDF"))
        .unwrap_or(base);
    let mut clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ') {
                c
            } else {
                '_'
            }
        })
        .take(76)
        .collect();
    clean = clean.trim_matches([' ', '.']).to_string();
    if clean.is_empty() {
        clean = "bijlage".into();
    }
    format!("{clean}.pdf")
}

/// Plain text in paragraphs: split on blank lines, each trimmed, empty ones dropped.
pub fn paragraphs(text: &str) -> Vec<String> {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// File size in words ("1,2 MB", "340 kB").
pub fn size_words(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        let tenths = bytes * 10 / (1024 * 1024);
        // a decimal comma in Dutch, a point in English
        tr().f2("{0},{1} MB", tenths / 10, tenths % 10)
    } else {
        format!("{} kB", (bytes / 1024).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pdf_needs_its_magic_and_fits_the_limit() {
        assert_eq!(check_pdf(b"%PDF-1.7\n...", 100), Ok(()));
        assert_eq!(check_pdf(b"GIF89a", 100), Err(AttachmentError::NotAPdf));
        assert_eq!(check_pdf(b"", 100), Err(AttachmentError::NotAPdf));
        assert_eq!(
            check_pdf(b"%PDF-1.7 long", 5),
            Err(AttachmentError::TooLarge { size: 13, max: 5 })
        );
    }

    #[test]
    fn file_names_are_cleaned() {
        assert_eq!(pdf_file_name("Nieuwsbrief mei.pdf"), "Nieuwsbrief mei.pdf");
        assert_eq!(pdf_file_name("C:\\docs\\a\"b;c.PDF"), "a_b_c.pdf");
        assert_eq!(pdf_file_name("../../etc/passwd"), "passwd.pdf");
        assert_eq!(pdf_file_name(""), "bijlage.pdf");
        assert_eq!(pdf_file_name("..."), "bijlage.pdf");
    }

    #[test]
    fn text_splits_into_paragraphs() {
        assert_eq!(
            paragraphs("Eerste.\r\n\r\n  Tweede\nregel. \n\n\n"),
            vec!["Eerste.".to_string(), "Tweede\nregel.".to_string()]
        );
        assert_eq!(size_words(1_300_000), "1,2 MB");
        assert_eq!(size_words(10), "1 kB");
    }
}

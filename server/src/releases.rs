//! Appliance releases as the server keeps them: signed RAUC bundles in the
//! data directory (`releases/<id>.raucb`), with `compatible` and `version`
//! read from the bundle itself.
//!
//! A RAUC `verity` bundle is `squashfs || CMS signature (DER) || signature
//! size (8 bytes, big-endian)`. Its manifest (INI text: `[update]
//! compatible=…, version=…`, `[bundle] format=verity`) is the encapsulated
//! content (eContent) of the CMS SignedData, so it is read from the tail of
//! the file without mounting anything. A `plain` bundle signs the squashfs
//! with a detached signature and carries its manifest inside the image: it is
//! refused (the device only installs verity bundles).
//!
//! The server does **not** verify the signature: the device's RAUC does,
//! against the organisation's key. The SHA-256 computed here only lets the
//! device check a resumed download.

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::Decode;
use der::asn1::{ObjectIdentifier, OctetString};
use kring_protocol::ReleaseId;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The folder of the data directory that holds the bundles.
pub const RELEASES_DIR: &str = "releases";
/// The largest bundle the server takes (1 GiB).
pub const MAX_BUNDLE_BYTES: u64 = 1024 * 1024 * 1024;
/// RAUC's own limit on the signature at the end of a bundle.
const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;
/// `compatible` and `version` are sent back in one header, space separated:
/// no spaces, printable ASCII, at most this long.
pub const MAX_FIELD_CHARS: usize = 64;
const SQUASHFS_MAGIC: &[u8; 4] = b"hsqs";
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_ENVELOPED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");

/// What the server reads from a bundle's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `[update] compatible`, e.g. `kring-qemu-virt`: which devices it is for.
    pub compatible: String,
    /// `[update] version`, e.g. `2.0.0`.
    pub version: String,
}

/// Why a file was not taken as a release. Nothing is stored then.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not a RAUC bundle: {0}")]
    NotABundle(&'static str),
    #[error("not a verity bundle: {0}")]
    NotVerity(&'static str),
    #[error("the manifest's [update] {key} is {problem}")]
    Manifest {
        key: &'static str,
        problem: ManifestProblem,
    },
    #[error("the bundle is larger than {MAX_BUNDLE_BYTES} bytes")]
    TooLarge,
    #[error("cannot store the bundle: {0}")]
    Io(#[from] std::io::Error),
}

/// What is wrong with a manifest field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestProblem {
    Missing,
    /// Empty, too long, or with spaces or control characters.
    Invalid,
}

impl std::fmt::Display for ManifestProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Missing => "missing",
            Self::Invalid => "not a single word of printable characters (at most 64)",
        })
    }
}

impl BundleError {
    /// The error as the portal shows it, in Dutch.
    pub fn dutch(&self) -> String {
        match self {
            Self::NotABundle(_) => "Dit bestand is geen RAUC-bundel, of het is niet helemaal aangekomen. Er is niets opgeslagen.".into(),
            Self::NotVerity(_) => "Dit is geen verity-bundel; maak hem met format=verity.".into(),
            Self::Manifest { key, problem: ManifestProblem::Missing } => format!(
                "In het manifest van de bundel ontbreekt {key}= onder [update]. Er is niets opgeslagen."
            ),
            Self::Manifest { key, problem: ManifestProblem::Invalid } => format!(
                "In het manifest van de bundel is {key}= geen geldig woord (zonder spaties, hoogstens {MAX_FIELD_CHARS} tekens). Er is niets opgeslagen."
            ),
            Self::TooLarge => "Het bestand is groter dan 1 GiB. Er is niets opgeslagen.".into(),
            Self::Io(_) => "Het bestand kon niet worden opgeslagen. Probeer het later opnieuw.".into(),
        }
    }
}

/// Reads the manifest of a verity bundle from the end of `bundle`.
pub fn read_manifest(bundle: &mut (impl Read + Seek)) -> Result<Manifest, BundleError> {
    let len = bundle.seek(SeekFrom::End(0))?;
    if len < (SQUASHFS_MAGIC.len() + 8) as u64 {
        return Err(BundleError::NotABundle("too short"));
    }
    let mut magic = [0u8; 4];
    bundle.seek(SeekFrom::Start(0))?;
    bundle.read_exact(&mut magic)?;
    if &magic != SQUASHFS_MAGIC {
        return Err(BundleError::NotABundle("no squashfs image at the start"));
    }
    let mut size = [0u8; 8];
    bundle.seek(SeekFrom::Start(len - 8))?;
    bundle.read_exact(&mut size)?;
    let size = u64::from_be_bytes(size);
    let room = len - 8 - SQUASHFS_MAGIC.len() as u64;
    if size == 0 || size > MAX_SIGNATURE_BYTES || size > room {
        return Err(BundleError::NotABundle("no signature at the end"));
    }
    let mut signature = vec![0u8; usize::try_from(size).unwrap_or(0)];
    bundle.seek(SeekFrom::Start(len - 8 - size))?;
    bundle.read_exact(&mut signature)?;
    manifest_from_signature(&signature)
}

/// The manifest carried in a bundle's CMS signature (DER).
pub fn manifest_from_signature(der: &[u8]) -> Result<Manifest, BundleError> {
    let info = ContentInfo::from_der(der)
        .map_err(|_| BundleError::NotABundle("the signature is not a CMS message"))?;
    if info.content_type == ID_ENVELOPED_DATA {
        return Err(BundleError::NotVerity("an encrypted (crypt) bundle"));
    }
    if info.content_type != ID_SIGNED_DATA {
        return Err(BundleError::NotABundle(
            "the signature is not CMS SignedData",
        ));
    }
    let signed: SignedData = info
        .content
        .decode_as()
        .map_err(|_| BundleError::NotABundle("the CMS SignedData does not decode"))?;
    let Some(content) = signed.encap_content_info.econtent else {
        return Err(BundleError::NotVerity(
            "a detached signature without the manifest (format=plain)",
        ));
    };
    let octets: OctetString = content
        .decode_as()
        .map_err(|_| BundleError::NotABundle("the signed content is not an octet string"))?;
    let text = std::str::from_utf8(octets.as_bytes())
        .map_err(|_| BundleError::NotABundle("the signed manifest is not text"))?;
    parse_manifest(text)
}

/// Reads `[update] compatible`, `[update] version` and `[bundle] format`
/// from a RAUC manifest (a GLib key file: `[section]`, `key=value`, `#`
/// comments); the format must be `verity`.
pub fn parse_manifest(text: &str) -> Result<Manifest, BundleError> {
    let mut section = "";
    let (mut compatible, mut version, mut format) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match (section, key.trim()) {
            ("update", "compatible") => compatible = Some(value),
            ("update", "version") => version = Some(value),
            ("bundle", "format") => format = Some(value),
            _ => {}
        }
    }
    if format != Some("verity") {
        return Err(BundleError::NotVerity(
            "the manifest does not say format=verity",
        ));
    }
    Ok(Manifest {
        compatible: field("compatible", compatible)?,
        version: field("version", version)?,
    })
}

fn field(key: &'static str, value: Option<&str>) -> Result<String, BundleError> {
    let value = value.ok_or(BundleError::Manifest {
        key,
        problem: ManifestProblem::Missing,
    })?;
    if value.is_empty()
        || value.len() > MAX_FIELD_CHARS
        || !value.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(BundleError::Manifest {
            key,
            problem: ManifestProblem::Invalid,
        });
    }
    Ok(value.to_string())
}

/// A bundle kept in the data directory, to record as a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBundle {
    pub id: ReleaseId,
    /// Relative to the data directory: `releases/<id>.raucb`.
    pub file_name: String,
    /// Lowercase hex.
    pub sha256: String,
    pub size: u64,
    pub manifest: Manifest,
}

/// A bundle being written into the data directory while its SHA-256 is
/// computed (a portal upload, streamed; a file the CLI copies). It becomes
/// `releases/<id>.raucb` only in [`Incoming::finish`], after its bytes are
/// durable and its manifest read; dropped before that, its partial file is
/// removed.
#[derive(Debug)]
pub struct Incoming {
    id: ReleaseId,
    dir: PathBuf,
    part: PathBuf,
    file: File,
    hasher: Sha256,
    size: u64,
    kept: bool,
}

impl Incoming {
    /// Starts a new bundle in `<data_dir>/releases/`.
    pub fn create(data_dir: &Path) -> Result<Self, BundleError> {
        let dir = data_dir.join(RELEASES_DIR);
        std::fs::create_dir_all(&dir)?;
        let id = ReleaseId::new();
        let part = dir.join(format!(".{id}.part"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&part)?;
        Ok(Self {
            id,
            dir,
            part,
            file,
            hasher: Sha256::new(),
            size: 0,
            kept: false,
        })
    }

    /// Appends `bytes` (refused past [`MAX_BUNDLE_BYTES`]).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), BundleError> {
        let size = self.size.saturating_add(bytes.len() as u64);
        if size > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge);
        }
        self.file.write_all(bytes)?;
        self.hasher.update(bytes);
        self.size = size;
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Makes the bytes durable, reads the manifest and gives the file its
    /// name. On an error the partial file is removed.
    pub fn finish(mut self) -> Result<StoredBundle, BundleError> {
        self.file.flush()?;
        self.file.sync_all()?;
        let manifest = read_manifest(&mut self.file)?;
        let name = format!("{}.raucb", self.id);
        std::fs::rename(&self.part, self.dir.join(&name))?;
        self.kept = true;
        // the rename itself should survive a power cut too; the bundle is
        // complete either way, so a failure here is only logged
        if let Err(e) = File::open(&self.dir).and_then(|d| d.sync_all()) {
            tracing::warn!(error = %e, dir = %self.dir.display(), "could not sync the releases folder");
        }
        Ok(StoredBundle {
            id: self.id,
            file_name: format!("{RELEASES_DIR}/{name}"),
            sha256: hex::encode(self.hasher.clone().finalize()),
            size: self.size,
            manifest,
        })
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.kept
            && let Err(e) = std::fs::remove_file(&self.part)
        {
            tracing::warn!(error = %e, file = %self.part.display(), "could not remove a partial bundle");
        }
    }
}

/// Copies the bundle at `source` into the data directory (the admin CLI).
pub fn import_file(data_dir: &Path, source: &Path) -> Result<StoredBundle, BundleError> {
    let mut src = File::open(source)?;
    if src.metadata()?.len() > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge);
    }
    let mut incoming = Incoming::create(data_dir)?;
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        incoming.write(&buf[..n])?;
    }
    incoming.finish()
}

/// Removes a stored bundle (its release was not recorded, or the same bundle
/// was there already).
pub fn remove(data_dir: &Path, file_name: &str) {
    if let Err(e) = std::fs::remove_file(data_dir.join(file_name)) {
        tracing::warn!(error = %e, file = file_name, "could not remove a bundle");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERITY: &[u8] = include_bytes!("../tests/fixtures/updates/tiny-verity.raucb");
    const PLAIN: &[u8] = include_bytes!("../tests/fixtures/updates/tiny-plain.raucb");

    #[test]
    fn reads_the_manifest_of_a_verity_bundle() {
        let m = read_manifest(&mut std::io::Cursor::new(VERITY)).expect("manifest");
        assert_eq!(m.compatible, "kring-qemu-virt");
        assert_eq!(m.version, "2.0.0");
    }

    #[test]
    fn refuses_plain_truncated_and_other_files() {
        let plain = read_manifest(&mut std::io::Cursor::new(PLAIN));
        assert!(matches!(plain, Err(BundleError::NotVerity(_))), "{plain:?}");
        assert!(
            plain
                .err()
                .is_some_and(|e| e.dutch().contains("format=verity"))
        );
        // cut anywhere: the size at the end no longer points at a signature
        for cut in [VERITY.len() - 1, VERITY.len() - 9, VERITY.len() / 2, 12, 3] {
            let r = read_manifest(&mut std::io::Cursor::new(&VERITY[..cut]));
            assert!(matches!(r, Err(BundleError::NotABundle(_))), "{cut}: {r:?}");
        }
        let text = b"hsqs and then just some text, no signature at all......";
        assert!(matches!(
            read_manifest(&mut std::io::Cursor::new(&text[..])),
            Err(BundleError::NotABundle(_))
        ));
        // a signature size that points inside the file at garbage
        let mut bad = b"hsqs".to_vec();
        bad.extend_from_slice(&[0x30; 100]);
        bad.extend_from_slice(&50u64.to_be_bytes());
        assert!(matches!(
            read_manifest(&mut std::io::Cursor::new(bad)),
            Err(BundleError::NotABundle(_))
        ));
    }

    #[test]
    fn manifest_fields_are_checked() {
        let ok = "[update]\ncompatible = kring-rpi4\nversion=2.1.0\n# comment\n[bundle]\nformat=verity\n";
        assert_eq!(
            parse_manifest(ok).expect("ok"),
            Manifest {
                compatible: "kring-rpi4".into(),
                version: "2.1.0".into()
            }
        );
        let no_version = "[update]\ncompatible=kring-rpi4\n[bundle]\nformat=verity\n";
        assert!(matches!(
            parse_manifest(no_version),
            Err(BundleError::Manifest {
                key: "version",
                problem: ManifestProblem::Missing
            })
        ));
        let spaced = "[update]\ncompatible=kring rpi4\nversion=2\n[bundle]\nformat=verity\n";
        assert!(matches!(
            parse_manifest(spaced),
            Err(BundleError::Manifest {
                key: "compatible",
                problem: ManifestProblem::Invalid
            })
        ));
        // `version` in another section is not the update's
        let elsewhere =
            "[update]\ncompatible=a\n[image.rootfs]\nversion=2\n[bundle]\nformat=verity\n";
        assert!(parse_manifest(elsewhere).is_err());
        let crypt = "[update]\ncompatible=a\nversion=2\n[bundle]\nformat=crypt\n";
        assert!(matches!(
            parse_manifest(crypt),
            Err(BundleError::NotVerity(_))
        ));
    }

    #[test]
    fn incoming_keeps_only_finished_bundles() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut a = Incoming::create(dir.path()).expect("create");
        for chunk in VERITY.chunks(1000) {
            a.write(chunk).expect("write");
        }
        let stored = a.finish().expect("finish");
        assert_eq!(stored.size, VERITY.len() as u64);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(VERITY)));
        assert_eq!(stored.manifest.version, "2.0.0");
        let on_disk = std::fs::read(dir.path().join(&stored.file_name)).expect("read");
        assert_eq!(on_disk, VERITY);
        // a plain bundle is refused and leaves nothing behind
        let mut b = Incoming::create(dir.path()).expect("create");
        b.write(PLAIN).expect("write");
        assert!(b.finish().is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path().join(RELEASES_DIR))
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }
}

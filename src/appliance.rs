//! The kiosk as an appliance: the provisioning file a location writes on the
//! SD card's boot partition, and the systemd watchdog.
//!
//! Provisioning (`kring provision /boot/firmware/kring.txt`, run once by
//! `kring-provision.service` as root before the kiosk starts):
//!
//! ```toml
//! server = "https://zonnebloem.kring.nl"   # the organisation's kring address
//! koppelcode = "ABCD-EFGH"                 # optional: enroll without typing
//! rotatie = 90                             # optional: 0, 90, 180 or 270 degrees
//! taal = "nl"                              # optional: nl or en
//! naam = "Dolfijnen"                       # optional: name in the device list
//! ```
//!
//! The settings go to `<data_dir>/settings.toml` (read after
//! `/etc/kring/kring.toml`), the koppelcode to `<data_dir>/enroll-code` (the
//! kiosk enrolls with it and removes it), the rotation to `<data_dir>/kiosk.env`
//! (`SLINT_KMS_ROTATION`, read by the service). The file itself is then
//! renamed to `kring-toegepast.txt` with the koppelcode line removed, so the
//! secret does not stay on a card anyone can read in a laptop, and a new
//! `kring.txt` is applied again on the next boot. A file that cannot be used
//! is left in place and `kring-fout.txt` beside it says why.

use serde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Device-local settings written by provisioning, read after the system file.
pub const LOCAL_SETTINGS_FILE: &str = "settings.toml";
/// A koppelcode waiting to be used.
pub const ENROLL_CODE_FILE: &str = "enroll-code";
/// Environment for the kiosk service (`SLINT_KMS_ROTATION`).
pub const KIOSK_ENV_FILE: &str = "kiosk.env";
/// What the provisioning file becomes once applied.
pub const APPLIED_NAME: &str = "kring-toegepast.txt";
/// Written beside a provisioning file that could not be used.
pub const ERROR_NAME: &str = "kring-fout.txt";

/// The provisioning file could not be applied. The messages are for the
/// location manager who wrote the file (they end up in `kring-fout.txt`).
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("kan {path} niet lezen: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is geen geldig instellingenbestand: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error(
        "server {0:?} is geen geldig adres: schrijf het volledig, bijvoorbeeld server = \"https://zonnebloem.kring.nl\""
    )]
    Server(String),
    #[error("rotatie {0} kan niet: kies 0, 90, 180 of 270")]
    Rotation(u16),
    #[error("taal {0:?} kan niet: kies \"nl\" of \"en\"")]
    Language(String),
    #[error("koppelcode {0:?} is geen koppelcode: 8 letters en cijfers, bijvoorbeeld ABCD-EFGH")]
    Code(String),
    #[error("kan {path} niet schrijven: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvisionFile {
    server: Option<String>,
    #[serde(alias = "code", alias = "enroll_code")]
    koppelcode: Option<String>,
    #[serde(alias = "rotation")]
    rotatie: Option<u16>,
    #[serde(alias = "language")]
    taal: Option<String>,
    #[serde(alias = "name")]
    naam: Option<String>,
}

/// What provisioning did (for the log; the code itself is never logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    pub server: Option<String>,
    pub has_code: bool,
    pub rotation: Option<u16>,
    /// The provisioning file's new name (without the code).
    pub applied: PathBuf,
}

/// Applies the provisioning file `file` to `data_dir`. On success the file is
/// renamed to [`APPLIED_NAME`] without its koppelcode; on failure it stays
/// and [`ERROR_NAME`] beside it explains the problem.
pub fn provision(file: &Path, data_dir: &Path) -> Result<Provisioned, ProvisionError> {
    let result = apply(file, data_dir);
    let dir = file.parent().unwrap_or(Path::new("."));
    let error_file = dir.join(ERROR_NAME);
    match &result {
        Ok(_) => {
            let _ = std::fs::remove_file(&error_file);
        }
        Err(e) => {
            let text = format!(
                "kring kon {} niet gebruiken / could not use this file:\r\n{e}\r\n",
                file.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            );
            if let Err(error) = write_atomic(&error_file, text.as_bytes(), 0o644) {
                tracing::warn!(%error, "cannot write the provisioning error file");
            }
        }
    }
    result
}

fn apply(file: &Path, data_dir: &Path) -> Result<Provisioned, ProvisionError> {
    let text = std::fs::read_to_string(file).map_err(|source| ProvisionError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    // Windows editors may write a byte-order mark
    let text = text.trim_start_matches('\u{feff}');
    let p: ProvisionFile = toml::from_str(text).map_err(|e| ProvisionError::Parse {
        path: file.to_path_buf(),
        source: Box::new(e),
    })?;

    let server = match p.server.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(valid_server(s)?),
    };
    if let Some(r) = p.rotatie
        && ![0, 90, 180, 270].contains(&r)
    {
        return Err(ProvisionError::Rotation(r));
    }
    let language = match p.taal.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(l @ ("nl" | "en")) => Some(l.to_string()),
        Some(other) => return Err(ProvisionError::Language(other.to_string())),
    };
    let code = match p.koppelcode.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => Some(valid_code(c)?),
    };

    std::fs::create_dir_all(data_dir).map_err(|source| ProvisionError::Write {
        path: data_dir.to_path_buf(),
        source,
    })?;
    // settings: merged into what an earlier provisioning left
    let settings_file = data_dir.join(LOCAL_SETTINGS_FILE);
    let mut table: toml::Table = std::fs::read_to_string(&settings_file)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    if let Some(s) = &server {
        table.insert("server_url".into(), toml::Value::String(s.clone()));
    }
    if let Some(l) = language {
        table.insert("language".into(), toml::Value::String(l));
    }
    if let Some(n) = p.naam.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        table.insert("device_name".into(), toml::Value::String(n.to_string()));
    }
    let settings_text =
        format!("# Written by `kring provision` from the boot partition's kring.txt.\n{table}");
    write_atomic(&settings_file, settings_text.as_bytes(), 0o600)?;
    if let Some(r) = p.rotatie {
        write_atomic(
            &data_dir.join(KIOSK_ENV_FILE),
            format!("SLINT_KMS_ROTATION={r}\n").as_bytes(),
            0o600,
        )?;
    }
    if let Some(c) = &code {
        write_atomic(&data_dir.join(ENROLL_CODE_FILE), c.as_bytes(), 0o600)?;
    }

    // the file, without its secret, under its new name; then the original goes
    let dir = file.parent().unwrap_or(Path::new("."));
    let applied = dir.join(APPLIED_NAME);
    let kept: String = text
        .lines()
        .map(|l| {
            let key = l.trim_start();
            if ["koppelcode", "code", "enroll_code"]
                .iter()
                .any(|k| key.starts_with(k) && key[k.len()..].trim_start().starts_with('='))
            {
                "# koppelcode: gebruikt en verwijderd / used and removed".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    write_atomic(&applied, format!("{kept}\r\n").as_bytes(), 0o644)?;
    std::fs::remove_file(file).map_err(|source| ProvisionError::Write {
        path: file.to_path_buf(),
        source,
    })?;
    sync_dir(dir);
    Ok(Provisioned {
        server,
        has_code: code.is_some(),
        rotation: p.rotatie,
        applied,
    })
}

fn valid_server(s: &str) -> Result<String, ProvisionError> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| ProvisionError::Server(s.to_string()))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains('@') {
        return Err(ProvisionError::Server(s.to_string()));
    }
    Ok(s.trim_end_matches('/').to_string())
}

fn valid_code(c: &str) -> Result<String, ProvisionError> {
    let symbols = c.chars().filter(|ch| *ch != '-' && *ch != ' ');
    let ok = symbols.clone().count() == 8 && symbols.clone().all(|ch| ch.is_ascii_alphanumeric());
    if ok {
        Ok(c.to_string())
    } else {
        Err(ProvisionError::Code(c.to_string()))
    }
}

/// Writes `bytes` to `path` so that after a power cut the file is either the
/// old one or the new one: temp file, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ProvisionError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| ProvisionError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(err)?;
    sync_dir(dir);
    Ok(())
}

fn sync_dir(dir: &Path) {
    // FAT and some other file systems refuse to fsync a directory: that is fine
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The koppelcode left by provisioning, if any.
pub fn pending_enroll_code(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join(ENROLL_CODE_FILE))
        .ok()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
}

/// The provisioned koppelcode was used (or can never work): remove it.
pub fn forget_enroll_code(data_dir: &Path) {
    let path = data_dir.join(ENROLL_CODE_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => {
            sync_dir(data_dir);
            tracing::info!("provisioned koppelcode removed");
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "cannot remove the koppelcode")
        }
    }
}

/// The systemd watchdog: `READY=1` once the event loop runs (the first frame
/// is on the screen), then `WATCHDOG=1` from the event loop itself, so a hung
/// UI stops the pings and systemd restarts the kiosk. Without systemd
/// (desktop, tests) this does nothing.
pub struct Watchdog {
    timer: slint::Timer,
}

impl std::fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchdog")
            .field("running", &self.timer.running())
            .finish()
    }
}

/// The updater's directory in the data directory (`/data/kring/update`).
pub const UPDATE_DIR: &str = "update";

/// The appliance's release (`/etc/kring/release`, or the file named by
/// `KRING_RELEASE_FILE`); None on a desktop: no update is offered then.
pub fn running_release() -> Option<kring_sync::update::Release> {
    let file = std::env::var_os("KRING_RELEASE_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(kring_sync::update::Release::FILE));
    kring_sync::update::Release::read(&file)
}

/// The kiosk's health, for `kring-confirm` (which marks the booted slot
/// good): healthy once the first frame is on the screen and the server was
/// reached once, or the kiosk ran [`kring_sync::update::OFFLINE_GRACE`]
/// without a network, or this slot and release were already confirmed
/// before. Written as a file in the service's runtime directory.
#[derive(Debug)]
pub struct Health {
    frame: AtomicBool,
    synced: AtomicBool,
    written: AtomicBool,
}

/// The kiosk's one [`Health`].
pub static HEALTH: Health = Health {
    frame: AtomicBool::new(false),
    synced: AtomicBool::new(false),
    written: AtomicBool::new(false),
};

impl Health {
    /// The first frame is on the screen.
    pub fn frame(&self) {
        self.frame.store(true, Ordering::SeqCst);
        self.check();
    }

    /// The server answered (or need not: see [`start_health`]).
    pub fn synced(&self) {
        self.synced.store(true, Ordering::SeqCst);
        self.check();
    }

    fn check(&self) {
        if !(self.frame.load(Ordering::SeqCst) && self.synced.load(Ordering::SeqCst)) {
            return;
        }
        if self.written.swap(true, Ordering::SeqCst) {
            return;
        }
        let Some(dir) = std::env::var_os("RUNTIME_DIRECTORY") else {
            return;
        };
        let file = PathBuf::from(dir).join(kring_sync::update::HEALTHY_FILE);
        match std::fs::write(&file, b"ok\n") {
            Ok(()) => tracing::info!(file = %file.display(), "kiosk healthy"),
            Err(error) => {
                tracing::warn!(file = %file.display(), %error, "cannot say the kiosk is healthy")
            }
        }
    }
}

/// The root slot U-Boot booted (`rauc.slot=` on the kernel command line).
pub fn booted_slot(cmdline: &str) -> Option<&str> {
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("rauc.slot="))
}

/// Whether this slot with this release was marked good before (then the
/// first frame is enough: a screen without network that restarts must not
/// count down to the older slot).
pub fn already_confirmed(good: &str, slot: &str, version: &str) -> bool {
    let mut words = good.split_whitespace();
    words.next() == Some(slot) && words.next() == Some(version)
}

/// Starts what [`HEALTH`] needs besides the first frame and the first sync.
pub fn start_health(data_dir: &Path) {
    let Some(release) = running_release() else {
        return;
    };
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let good = std::fs::read_to_string(
        data_dir
            .join(UPDATE_DIR)
            .join(kring_sync::update::GOOD_FILE),
    )
    .unwrap_or_default();
    if booted_slot(&cmdline).is_some_and(|slot| already_confirmed(&good, slot, &release.version)) {
        HEALTH.synced();
        return;
    }
    std::thread::spawn(|| {
        std::thread::sleep(kring_sync::update::OFFLINE_GRACE);
        tracing::info!("no server yet, but running long enough: healthy");
        HEALTH.synced();
    });
}

/// Test-only trigger, for the appliance test: when this file exists in the
/// service's runtime directory (`/run/kring`, writable only by root and the
/// kiosk), the event loop hangs, as a real deadlock would.
pub const TEST_HANG_FILE: &str = "test-hang";

impl Watchdog {
    pub fn start() -> Self {
        let timer = slint::Timer::default();
        slint::Timer::single_shot(Duration::ZERO, || {
            tracing::info!("kiosk: first frame on the screen");
            HEALTH.frame();
            if let Err(error) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
                tracing::warn!(%error, "cannot tell systemd the kiosk is ready");
            }
        });
        if let Some(period) = sd_notify::watchdog_enabled() {
            let hang_file = std::env::var_os("RUNTIME_DIRECTORY")
                .map(|d| PathBuf::from(d).join(TEST_HANG_FILE));
            let every = (period / 3).max(Duration::from_millis(500));
            tracing::info!(?period, "systemd watchdog on");
            timer.start(slint::TimerMode::Repeated, every, move || {
                if let Some(f) = &hang_file
                    && f.exists()
                {
                    tracing::warn!("test trigger: the event loop hangs now");
                    loop {
                        std::thread::sleep(Duration::from_secs(3600));
                    }
                }
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            });
        }
        Self { timer }
    }
}

/// Flags of the `kring` command line that take a value.
const VALUE_FLAGS: &[&str] = &[
    "--config",
    "--data-dir",
    "--server",
    "--enroll-code",
    "--camera",
    "--language",
];

/// The subcommand (`provision`, `bench-queue`) and its arguments, wherever it
/// stands among the flags: `kring --config F provision FILE` and
/// `kring provision FILE --config F` are the same.
pub fn subcommand(args: &[String]) -> Option<(&str, Vec<&str>)> {
    let mut words = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_str();
        if VALUE_FLAGS.contains(&a) {
            i += 2;
            continue;
        }
        if !a.starts_with("--") {
            words.push(a);
        }
        i += 1;
    }
    let (first, rest) = words.split_first()?;
    Some((first, rest.to_vec()))
}

/// `kring bench-queue N`: fills the outbox with `N` staff-only photos (one
/// camera frame, saved `N` times through the same `save_photo` as the
/// screen), to measure the kiosk with a full queue (docs/performance.md). The
/// photos upload like any other once the device is online.
pub fn bench_queue(
    store: &kring_sync::Store,
    camera: &mut dyn kring_hardware::Camera,
    count: usize,
) -> Result<usize, BenchError> {
    camera.start()?;
    let frame = camera.frame();
    camera.stop();
    let frame = frame?;
    let thumb = kring_hardware::thumbnail_jpeg(&frame.jpeg, 320).ok();
    for _ in 0..count {
        store.save_photo(
            kring_sync::NewPhoto {
                jpeg: &frame.jpeg,
                thumbnail: thumb.as_deref(),
                tags: Vec::new(),
                no_children_recognizable: false,
                audience: kring_protocol::Audience::StaffOnly,
                staff: None,
            },
            chrono::Utc::now(),
        )?;
    }
    Ok(count)
}

/// `kring bench-queue` failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("camera: {0}")]
    Camera(#[from] kring_hardware::HardwareError),
    #[error("store: {0}")]
    Store(#[from] kring_sync::StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot_dir(text: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let t = tempfile::tempdir().expect("tempdir");
        let boot = t.path().join("boot");
        let data = t.path().join("data");
        std::fs::create_dir_all(&boot).expect("mkdir");
        std::fs::write(boot.join("kring.txt"), text).expect("write");
        (t, boot, data)
    }

    #[test]
    fn applies_settings_and_removes_the_code_from_the_card() {
        let (_t, boot, data) = boot_dir(
            "\u{feff}# kring\r\nserver = \"https://zonnebloem.kring.nl/\"\r\nkoppelcode = \"ABCD-EFGH\"\r\nrotatie = 90\r\nnaam = \"Dolfijnen\"\r\n",
        );
        let p = provision(&boot.join("kring.txt"), &data).expect("provision");
        assert_eq!(p.server.as_deref(), Some("https://zonnebloem.kring.nl"));
        assert!(p.has_code);
        assert_eq!(p.rotation, Some(90));
        assert!(!boot.join("kring.txt").exists());
        let applied = std::fs::read_to_string(boot.join(APPLIED_NAME)).expect("applied");
        assert!(!applied.contains("ABCD"), "{applied}");
        assert!(applied.contains("rotatie = 90"));
        assert_eq!(pending_enroll_code(&data).as_deref(), Some("ABCD-EFGH"));
        let env = std::fs::read_to_string(data.join(KIOSK_ENV_FILE)).expect("env");
        assert_eq!(env, "SLINT_KMS_ROTATION=90\n");
        let settings = std::fs::read_to_string(data.join(LOCAL_SETTINGS_FILE)).expect("settings");
        assert!(settings.contains("server_url = \"https://zonnebloem.kring.nl\""));
        assert!(settings.contains("device_name = \"Dolfijnen\""));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join(ENROLL_CODE_FILE))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the code is readable by others: {mode:o}");
        forget_enroll_code(&data);
        assert_eq!(pending_enroll_code(&data), None);
    }

    #[test]
    fn a_later_file_keeps_what_an_earlier_one_set() {
        let (_t, boot, data) = boot_dir("server = \"http://10.0.2.100:8080\"\n");
        provision(&boot.join("kring.txt"), &data).expect("first");
        std::fs::write(boot.join("kring.txt"), "taal = \"en\"\n").expect("write");
        provision(&boot.join("kring.txt"), &data).expect("second");
        let settings = std::fs::read_to_string(data.join(LOCAL_SETTINGS_FILE)).expect("settings");
        assert!(settings.contains("server_url = \"http://10.0.2.100:8080\""));
        assert!(settings.contains("language = \"en\""));
        assert_eq!(pending_enroll_code(&data), None);
    }

    #[test]
    fn a_bad_file_stays_and_says_why() {
        for (text, needle) in [
            ("server = \"zonnebloem.nl\"\n", "geen geldig adres"),
            ("rotatie = 45\n", "kies 0, 90, 180 of 270"),
            ("koppelcode = \"ABC\"\n", "geen koppelcode"),
            (
                "servr = \"https://x.nl\"\n",
                "geen geldig instellingenbestand",
            ),
            ("taal = \"de\"\n", "kies \"nl\" of \"en\""),
        ] {
            let (_t, boot, data) = boot_dir(text);
            let err = provision(&boot.join("kring.txt"), &data).expect_err(text);
            assert!(err.to_string().contains(needle), "{err}");
            assert!(boot.join("kring.txt").exists(), "{text}: file removed");
            let why = std::fs::read_to_string(boot.join(ERROR_NAME)).expect("error file");
            assert!(why.contains(needle), "{why}");
            assert!(
                !data.join(LOCAL_SETTINGS_FILE).exists(),
                "{text}: applied anyway"
            );
        }
    }

    #[test]
    fn a_confirmed_slot_needs_no_server() {
        let cmdline = "console=ttyAMA0 root=/dev/vda3 ro rauc.slot=B quiet";
        assert_eq!(booted_slot(cmdline), Some("B"));
        assert_eq!(booted_slot("root=/dev/vda2"), None);
        assert!(already_confirmed("B 2.0.0\n", "B", "2.0.0"));
        assert!(
            !already_confirmed("A 2.0.0", "B", "2.0.0"),
            "the other slot"
        );
        assert!(
            !already_confirmed("B 1.0.0", "B", "2.0.0"),
            "an older release"
        );
        assert!(!already_confirmed("", "B", "2.0.0"));
    }

    #[test]
    fn the_subcommand_is_found_among_the_flags() {
        let v = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        for line in [
            "kring --config /etc/kring/kring.toml bench-queue 500",
            "kring bench-queue 500 --config /etc/kring/kring.toml",
            "kring --data-dir /d --camera synthetic bench-queue 500",
        ] {
            assert_eq!(
                subcommand(&v(line)),
                Some(("bench-queue", vec!["500"])),
                "{line}"
            );
        }
        assert_eq!(
            subcommand(&v("kring provision /boot/firmware/kring.txt")),
            Some(("provision", vec!["/boot/firmware/kring.txt"]))
        );
        assert_eq!(
            subcommand(&v("kring --server http://x --enroll-code AB --language en")),
            None
        );
    }

    #[test]
    fn bench_queue_fills_the_outbox() {
        let t = tempfile::tempdir().expect("tempdir");
        let (store, _) = kring_sync::Store::open(t.path()).expect("store");
        let mut cam = kring_hardware::SyntheticCamera::default();
        assert_eq!(bench_queue(&store, &mut cam, 3).expect("queue"), 3);
        assert_eq!(store.pending().expect("pending").len(), 3);
    }

    #[test]
    fn a_fixed_file_clears_the_error() {
        let (_t, boot, data) = boot_dir("rotatie = 45\n");
        assert!(provision(&boot.join("kring.txt"), &data).is_err());
        std::fs::write(boot.join("kring.txt"), "rotatie = 180\n").expect("write");
        provision(&boot.join("kring.txt"), &data).expect("fixed");
        assert!(!boot.join(ERROR_NAME).exists());
    }
}

//! The screen's backlight through Linux sysfs
//! (`/sys/class/backlight/<name>/{brightness,max_brightness}`).
//!
//! The crate only sets levels; when to dim (idle, night) is the app's call.
//! Writing `brightness` needs permission: run as root, or give the kiosk
//! user write access with a udev rule on the device image.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::HardwareError;

/// Where Linux lists backlight devices.
pub const SYSFS_BACKLIGHT_ROOT: &str = "/sys/class/backlight";

/// A screen backlight whose brightness can be set.
pub trait Backlight: Send {
    /// Sets the brightness, `0.0` (darkest the panel allows; on many panels
    /// off) to `1.0` (full). Values outside that range or NaN are refused.
    fn set_level(&mut self, level: f32) -> Result<(), HardwareError>;
    /// The current brightness, `0.0..=1.0`.
    fn level(&self) -> f32;
}

/// A backlight under `/sys/class/backlight/<name>`.
pub struct SysfsBacklight {
    dir: PathBuf,
    max: u32,
    /// Last level set or read, for when sysfs cannot be read.
    cached: f32,
}

impl fmt::Debug for SysfsBacklight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SysfsBacklight")
            .field("dir", &self.dir)
            .field("max", &self.max)
            .field("cached", &self.cached)
            .finish()
    }
}

fn read_u32(path: &Path) -> Result<u32, HardwareError> {
    let text = std::fs::read_to_string(path).map_err(|e| HardwareError::io(path, e))?;
    text.trim()
        .parse::<u32>()
        .map_err(|_| HardwareError::Backlight {
            path: path.to_path_buf(),
            message: format!("expected a whole number, found {:?}", text.trim()),
        })
}

impl SysfsBacklight {
    /// Opens the backlight in `dir` (e.g. `/sys/class/backlight/rpi_backlight`,
    /// or any directory with the same two files, for tests). Reads
    /// `max_brightness` (must be > 0) and the current `brightness`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, HardwareError> {
        let dir = dir.into();
        let max_path = dir.join("max_brightness");
        let max = read_u32(&max_path)?;
        if max == 0 {
            return Err(HardwareError::Backlight {
                path: max_path,
                message: "max_brightness is 0".into(),
            });
        }
        let current = read_u32(&dir.join("brightness"))?;
        Ok(SysfsBacklight {
            cached: (current.min(max) as f32) / (max as f32),
            dir,
            max,
        })
    }

    /// The first backlight (by name) under `root`, e.g.
    /// [`SYSFS_BACKLIGHT_ROOT`]; `None` if there is none that opens.
    pub fn detect_in(root: &Path) -> Option<Self> {
        let entries = std::fs::read_dir(root).ok()?;
        let mut dirs: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        dirs.sort();
        dirs.into_iter()
            .find_map(|dir| match SysfsBacklight::open(&dir) {
                Ok(backlight) => Some(backlight),
                Err(error) => {
                    tracing::debug!(dir = %dir.display(), %error, "not a usable backlight");
                    None
                }
            })
    }

    /// The device directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `max_brightness` as read when opened.
    pub fn max_brightness(&self) -> u32 {
        self.max
    }

    /// The raw value written for `level` (rounded, `0..=max`).
    pub fn raw_for(&self, level: f32) -> u32 {
        let raw = (level.clamp(0.0, 1.0) * self.max as f32).round();
        // In 0..=max after the clamp, so the cast cannot truncate.
        (raw as u32).min(self.max)
    }
}

impl Backlight for SysfsBacklight {
    fn set_level(&mut self, level: f32) -> Result<(), HardwareError> {
        if !(0.0..=1.0).contains(&level) {
            return Err(HardwareError::InvalidLevel(level));
        }
        let raw = self.raw_for(level);
        let path = self.dir.join("brightness");
        std::fs::write(&path, format!("{raw}\n")).map_err(|e| HardwareError::io(&path, e))?;
        tracing::debug!(level, raw, max = self.max, "backlight set");
        self.cached = level;
        Ok(())
    }

    fn level(&self) -> f32 {
        match read_u32(&self.dir.join("brightness")) {
            Ok(raw) => (raw.min(self.max) as f32) / (self.max as f32),
            Err(error) => {
                tracing::debug!(%error, "reading the backlight; using the last known level");
                self.cached
            }
        }
    }
}

/// A backlight that does nothing (no screen backlight, or a development
/// machine). Remembers the level so the app's logic behaves the same.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoBacklight {
    level: f32,
}

impl Default for NoBacklight {
    fn default() -> Self {
        NoBacklight { level: 1.0 }
    }
}

impl Backlight for NoBacklight {
    fn set_level(&mut self, level: f32) -> Result<(), HardwareError> {
        if !(0.0..=1.0).contains(&level) {
            return Err(HardwareError::InvalidLevel(level));
        }
        self.level = level;
        Ok(())
    }

    fn level(&self) -> f32 {
        self.level
    }
}

/// The first backlight under `/sys/class/backlight`, else a [`NoBacklight`].
pub fn detect_backlight() -> Box<dyn Backlight> {
    match SysfsBacklight::detect_in(Path::new(SYSFS_BACKLIGHT_ROOT)) {
        Some(backlight) => {
            tracing::info!(dir = %backlight.dir().display(), max = backlight.max, "backlight found");
            Box::new(backlight)
        }
        None => {
            tracing::info!(
                "no backlight under {SYSFS_BACKLIGHT_ROOT}; brightness is not controlled"
            );
            Box::new(NoBacklight::default())
        }
    }
}

//! The camera: one trait, three sources, and the JPEG helpers that go with
//! its frames.
//!
//! Frames are JPEG bytes exactly as the source produced them: the V4L2
//! camera's own MJPEG (never decoded and re-encoded), a synthetic test
//! pattern, or files from a folder. Use [`preview`] for the live view and
//! [`thumbnail_jpeg`] for thumbnails (both decode at a reduced DCT size), and
//! [`strip_metadata`] before storing a photo.
//!
//! [`Camera::frame`] blocks until the next frame (a real camera delivers at
//! its frame rate; the synthetic sources keep a frame clock like a camera:
//! a late reader gets the newest frame at once, the missed ones are
//! dropped), so call it from a capture thread, never from the UI thread.
//! [`LivePreview`] is that capture thread plus a decode thread for the
//! kiosk's live view.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::HardwareError;

mod clock;
mod folder;
mod font;
mod live;
mod synthetic;
#[cfg(feature = "v4l2")]
mod v4l2;

pub use crate::jpeg::{
    THUMBNAIL_QUALITY, jpeg_dimensions, preview, preview_dct_scaled, strip_metadata, thumbnail_jpeg,
};
pub use folder::FolderCamera;
pub use live::{DEFAULT_PREVIEW_CPU_BUDGET, LiveEvent, LivePreview, LiveStats, Shown};
pub use synthetic::SyntheticCamera;
#[cfg(feature = "v4l2")]
pub use v4l2::V4l2Camera;

/// One picture from a camera.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// The JPEG as the source delivered it: the camera's own MJPEG frame
    /// (cut at its end-of-image marker, with the standard Huffman tables
    /// added if the camera left them out), the folder's file bytes, or the
    /// synthetic pattern. Never re-encoded.
    pub jpeg: Vec<u8>,
    /// Width from the JPEG's frame header.
    pub width: u32,
    /// Height from the JPEG's frame header.
    pub height: u32,
    /// When the frame was taken (the device's wall clock, which may be wrong
    /// right after boot on a board without an RTC).
    pub captured_at: SystemTime,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("jpeg_bytes", &self.jpeg.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .field("captured_at", &self.captured_at)
            .finish()
    }
}

/// A source of JPEG frames.
pub trait Camera: Send {
    /// Starts streaming. Calling it on a started camera is harmless.
    fn start(&mut self) -> Result<(), HardwareError>;
    /// The next frame; blocks until one is available. Fails with
    /// [`HardwareError::NotStarted`] before [`Camera::start`].
    fn frame(&mut self) -> Result<Frame, HardwareError>;
    /// Stops streaming (a real camera releases its buffers; its light goes
    /// off). [`Camera::start`] may be called again later.
    fn stop(&mut self);
    /// A human-readable name for logs and the settings screen.
    fn name(&self) -> String;
}

/// Which camera to use, from configuration. Written as a string:
/// `auto`, `synthetic`, `folder:/path/to/jpegs` or `device:0`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum CameraChoice {
    /// The first V4L2 camera that opens, else the synthetic pattern.
    #[default]
    Auto,
    /// The synthetic moving test pattern.
    Synthetic,
    /// The `.jpg`/`.jpeg` files of a folder, in name order, over and over.
    SyntheticFolder(PathBuf),
    /// `/dev/video<n>` through V4L2 (needs the `v4l2` feature).
    Device(u32),
}

impl FromStr for CameraChoice {
    type Err = HardwareError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || HardwareError::InvalidCameraChoice(s.to_string());
        let trimmed = s.trim();
        let (kind, arg) = match trimmed.split_once(':') {
            Some((kind, arg)) => (kind, Some(arg)),
            None => (trimmed, None),
        };
        match (kind.to_ascii_lowercase().as_str(), arg) {
            ("auto", None) => Ok(CameraChoice::Auto),
            ("synthetic", None) => Ok(CameraChoice::Synthetic),
            ("folder", Some(path)) if !path.trim().is_empty() => {
                Ok(CameraChoice::SyntheticFolder(PathBuf::from(path.trim())))
            }
            ("device", Some(n)) => n
                .trim()
                .parse::<u32>()
                .map(CameraChoice::Device)
                .map_err(|_| invalid()),
            _ => Err(invalid()),
        }
    }
}

impl TryFrom<String> for CameraChoice {
    type Error = HardwareError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for CameraChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CameraChoice::Auto => f.write_str("auto"),
            CameraChoice::Synthetic => f.write_str("synthetic"),
            CameraChoice::SyntheticFolder(path) => write!(f, "folder:{}", path.display()),
            CameraChoice::Device(n) => write!(f, "device:{n}"),
        }
    }
}

impl From<CameraChoice> for String {
    fn from(choice: CameraChoice) -> String {
        choice.to_string()
    }
}

/// Opens the chosen camera. Never fails: problems show up as errors from
/// [`Camera::start`]/[`Camera::frame`], so the app can show them and retry.
///
/// - `Auto`: the first `/dev/video*` device that opens and offers MJPEG;
///   when there is none (or the `v4l2` feature is off), the synthetic
///   pattern. The choice is logged.
/// - `Synthetic`, `SyntheticFolder`: as named, with default settings.
/// - `Device(n)`: `/dev/video<n>`; if it cannot be opened now, the returned
///   camera retries on every `start()` (e.g. a USB camera plugged in later).
///   Without the `v4l2` feature its `start()` always fails.
pub fn open_camera(choice: &CameraChoice) -> Box<dyn Camera> {
    match choice {
        CameraChoice::Auto => open_auto(),
        CameraChoice::Synthetic => {
            tracing::info!("camera: synthetic test pattern (configured)");
            Box::new(SyntheticCamera::default())
        }
        CameraChoice::SyntheticFolder(dir) => {
            tracing::info!(dir = %dir.display(), "camera: JPEG folder (configured)");
            Box::new(FolderCamera::new(dir.clone()))
        }
        CameraChoice::Device(index) => open_device(*index),
    }
}

#[cfg(feature = "v4l2")]
fn open_device(index: u32) -> Box<dyn Camera> {
    match V4l2Camera::open(index) {
        Ok(camera) => {
            tracing::info!(camera = %camera.name(), "camera: V4L2 device (configured)");
            Box::new(camera)
        }
        Err(error) => {
            tracing::warn!(
                index,
                %error,
                "camera: /dev/video{index} does not open now; will retry on start"
            );
            Box::new(V4l2Camera::unopened(index))
        }
    }
}

#[cfg(not(feature = "v4l2"))]
fn open_device(index: u32) -> Box<dyn Camera> {
    tracing::warn!(
        index,
        "camera: device:{index} configured but kring-hardware was built without the v4l2 feature"
    );
    Box::new(Unavailable {
        name: format!("/dev/video{index} (no V4L2 support in this build)"),
    })
}

/// A camera that cannot work in this build.
#[cfg(not(feature = "v4l2"))]
#[derive(Debug)]
struct Unavailable {
    name: String,
}

#[cfg(not(feature = "v4l2"))]
impl Camera for Unavailable {
    fn start(&mut self) -> Result<(), HardwareError> {
        Err(HardwareError::Camera(format!(
            "{}: not available",
            self.name
        )))
    }
    fn frame(&mut self) -> Result<Frame, HardwareError> {
        Err(HardwareError::NotStarted)
    }
    fn stop(&mut self) {}
    fn name(&self) -> String {
        self.name.clone()
    }
}

fn open_auto() -> Box<dyn Camera> {
    let devices = video_devices(std::path::Path::new("/dev"));
    if devices.is_empty() {
        tracing::info!("camera: no /dev/video* devices; using the synthetic test pattern");
        return Box::new(SyntheticCamera::default());
    }
    #[cfg(feature = "v4l2")]
    {
        let mut failures = Vec::new();
        for &index in &devices {
            match V4l2Camera::open(index) {
                Ok(camera) => {
                    tracing::info!(camera = %camera.name(), "camera: using V4L2 device");
                    return Box::new(camera);
                }
                Err(error) => {
                    tracing::debug!(index, %error, "camera: /dev/video{index} is not a usable camera");
                    failures.push(format!("video{index}: {error}"));
                }
            }
        }
        tracing::warn!(
            ?failures,
            "camera: no /dev/video* device opened as an MJPEG camera; using the synthetic test pattern"
        );
    }
    #[cfg(not(feature = "v4l2"))]
    tracing::warn!(
        ?devices,
        "camera: /dev/video* present but built without the v4l2 feature; using the synthetic test pattern"
    );
    Box::new(SyntheticCamera::default())
}

/// The indexes `n` of `<dev>/video<n>`, sorted.
pub(crate) fn video_devices(dev: &std::path::Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(dev) else {
        return Vec::new();
    };
    let mut found: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let digits = name.to_str()?.strip_prefix("video")?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse().ok()
        })
        .collect();
    found.sort_unstable();
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn choice_strings_round_trip() {
        for (text, choice) in [
            ("auto", CameraChoice::Auto),
            ("synthetic", CameraChoice::Synthetic),
            (
                "folder:/srv/kring/frames",
                CameraChoice::SyntheticFolder("/srv/kring/frames".into()),
            ),
            ("device:0", CameraChoice::Device(0)),
            ("device:12", CameraChoice::Device(12)),
        ] {
            assert_eq!(text.parse::<CameraChoice>().unwrap(), choice);
            assert_eq!(choice.to_string(), text);
        }
        assert_eq!(
            " Auto ".parse::<CameraChoice>().unwrap(),
            CameraChoice::Auto
        );
    }

    #[test]
    fn video_devices_lists_only_video_nodes() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["video0", "video12", "video", "videox", "vide3", "media0"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(video_devices(dir.path()), vec![0, 12]);
        assert!(video_devices(&dir.path().join("missing")).is_empty());
    }
}

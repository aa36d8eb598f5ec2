//! A camera that plays back the JPEG files of a folder: for demos with real
//! pictures, and for testing what the kiosk does with real camera output
//! (EXIF, odd sizes) without a camera.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::clock::FrameClock;
use super::{Camera, Frame};
use crate::HardwareError;
use crate::jpeg::jpeg_dimensions;

/// Cycles through the `.jpg`/`.jpeg` files (any case) of a folder in file
/// name order, returning each file's bytes unchanged. The folder is listed
/// again on every [`Camera::start`]; files that are not valid JPEGs are
/// skipped with a warning.
///
/// It behaves like a camera streaming MJPEG: file `k` is "taken" at
/// `start + k / fps`, whether anyone reads it or not. [`Camera::frame`]
/// waits for the next frame time, or, when the reader comes late, hands over
/// the newest frame at once and skips the files whose time passed (dropped,
/// as a camera drops frames nobody dequeued). With fps 0 every call returns
/// the next file at once.
pub struct FolderCamera {
    dir: PathBuf,
    fps: u32,
    files: Vec<PathBuf>,
    next: usize,
    started: bool,
    clock: FrameClock,
}

impl fmt::Debug for FolderCamera {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FolderCamera")
            .field("dir", &self.dir)
            .field("fps", &self.fps)
            .field("files", &self.files.len())
            .field("next", &self.next)
            .field("started", &self.started)
            .finish()
    }
}

impl FolderCamera {
    /// Frames per second [`Camera::frame`] is paced to by default.
    pub const DEFAULT_FPS: u32 = 15;

    /// A camera over the JPEG files in `dir` (nothing is read until
    /// [`Camera::start`]).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FolderCamera {
            dir: dir.into(),
            fps: Self::DEFAULT_FPS,
            files: Vec::new(),
            next: 0,
            started: false,
            clock: FrameClock::new(Self::DEFAULT_FPS),
        }
    }

    /// Frames per second that [`Camera::frame`] sleeps to keep; 0 means no
    /// pacing.
    pub fn with_fps(mut self, fps: u32) -> Self {
        self.fps = fps;
        self.clock.set_fps(fps);
        self
    }

    /// The folder's JPEG files in the order they are shown (as of the last
    /// [`Camera::start`]).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

fn list_jpegs(dir: &Path) -> Result<Vec<PathBuf>, HardwareError> {
    let entries = std::fs::read_dir(dir).map_err(|e| HardwareError::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| HardwareError::io(dir, e))?;
        let path = entry.path();
        let is_jpeg_name = path
            .extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| ext.eq_ignore_ascii_case("jpg") || ext.eq_ignore_ascii_case("jpeg"));
        if is_jpeg_name && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

impl Camera for FolderCamera {
    fn start(&mut self) -> Result<(), HardwareError> {
        let files = list_jpegs(&self.dir)?;
        if files.is_empty() {
            return Err(HardwareError::NoFrames(self.dir.clone()));
        }
        tracing::debug!(dir = %self.dir.display(), files = files.len(), "folder camera started");
        self.files = files;
        self.next %= self.files.len();
        self.started = true;
        Ok(())
    }

    fn frame(&mut self) -> Result<Frame, HardwareError> {
        if !self.started || self.files.is_empty() {
            return Err(HardwareError::NotStarted);
        }
        // Files whose frame time passed unread are skipped, as a camera
        // drops the frames nobody took.
        let dropped = self.clock.wait_next();
        let len = self.files.len();
        self.next = (self.next + usize::try_from(dropped % len as u64).unwrap_or(0)) % len;
        // Try each file at most once before giving up.
        let mut last_error = None;
        for _ in 0..self.files.len() {
            let path = &self.files[self.next % self.files.len()];
            self.next = (self.next + 1) % self.files.len();
            let read = std::fs::read(path).map_err(|e| HardwareError::io(path, e));
            let result = read.and_then(|jpeg| {
                let (width, height) = jpeg_dimensions(&jpeg)?;
                Ok(Frame {
                    jpeg,
                    width,
                    height,
                    captured_at: SystemTime::now(),
                })
            });
            match result {
                Ok(frame) => return Ok(frame),
                Err(error) => {
                    tracing::warn!(file = %path.display(), %error, "folder camera: skipping file");
                    last_error = Some(error);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| HardwareError::NoFrames(self.dir.clone())))
    }

    fn stop(&mut self) {
        self.started = false;
        self.clock.reset();
    }

    fn name(&self) -> String {
        format!("JPEG folder {}", self.dir.display())
    }
}

//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong talking to the device's hardware or handling
/// its JPEG frames.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HardwareError {
    /// The bytes do not start with a JPEG start-of-image marker (`FF D8 FF`).
    #[error("not a JPEG (it does not start with FF D8 FF)")]
    NotJpeg,
    /// The JPEG's structure is broken: truncated, a bad segment length, ...
    #[error("malformed JPEG: {0}")]
    InvalidJpeg(String),
    /// The JPEG is well formed but uses something we do not decode
    /// (12-bit samples, 2 components, CMYK, ...) or is too large.
    #[error("unsupported JPEG: {0}")]
    UnsupportedJpeg(String),
    /// Decoding the pixels failed.
    #[error("decoding the JPEG failed: {0}")]
    Decode(String),
    /// Encoding a JPEG failed.
    #[error("encoding a JPEG failed: {0}")]
    Encode(#[from] image::ImageError),
    /// A file or device could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The camera could not be opened, configured or read.
    #[error("camera: {0}")]
    Camera(String),
    /// `frame()` was called before `start()` (or after `stop()`).
    #[error("the camera is not started")]
    NotStarted,
    /// A folder camera found no `.jpg`/`.jpeg` files to show.
    #[error("no .jpg files in {0}")]
    NoFrames(PathBuf),
    /// A camera choice string that is not `auto`, `synthetic`,
    /// `folder:<path>` or `device:<n>`.
    #[error(
        "invalid camera choice {0:?} (expected auto, synthetic, folder:<path> or device:<number>)"
    )]
    InvalidCameraChoice(String),
    /// A backlight level outside `0.0..=1.0` (or NaN).
    #[error("backlight level {0} is outside 0.0..=1.0")]
    InvalidLevel(f32),
    /// The backlight's sysfs files hold something unexpected.
    #[error("backlight {path}: {message}")]
    Backlight { path: PathBuf, message: String },
}

impl HardwareError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HardwareError::Io {
            path: path.into(),
            source,
        }
    }
}

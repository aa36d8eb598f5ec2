//! kring-hardware: the device's camera, backlight and QR scanning, behind
//! traits so the kiosk runs (and is tested) on machines without the hardware.
//!
//! - [`camera`]: the [`Camera`] trait with a V4L2 backend (nokhwa, cargo
//!   feature `v4l2`, on by default), a synthetic moving test pattern and a
//!   folder of JPEG files; [`open_camera`] picks one from a [`CameraChoice`].
//!   The JPEG helpers live there too: [`preview`] and [`thumbnail_jpeg`] use a
//!   SIMD decode (zune-jpeg) and a SIMD shrink (fast_image_resize), QR
//!   scanning a DCT-scaled luma-only decode (jpeg-decoder), [`strip_metadata`] drops EXIF/GPS and comments without
//!   touching the image data. The JPEG file structure (segment walk, frame
//!   header, metadata stripping) is `kring_jpeg`'s; its errors arrive here as
//!   [`HardwareError`]. [`LivePreview`] runs the live view off the UI
//!   thread: newest frame wins, frames are dropped rather than queued,
//!   unchanged frames are not decoded again (cost: `cargo bench -p
//!   kring-hardware --bench preview`).
//! - [`qr`]: [`scan`] a JPEG for a QR code and [`parse_enroll_link`] for the
//!   `kring://enroll?server=...&code=...` links the server shows.
//! - [`backlight`]: the [`Backlight`] trait over sysfs, or a no-op.
//!
//! Nothing here depends on UI code; deciding *when* to dim, scan or capture is
//! the app's business.

pub mod backlight;
pub mod camera;
mod error;
mod jpeg;
pub mod qr;

pub use backlight::{Backlight, NoBacklight, SysfsBacklight, detect_backlight};
#[cfg(feature = "v4l2")]
pub use camera::V4l2Camera;
pub use camera::{
    Camera, CameraChoice, DEFAULT_PREVIEW_CPU_BUDGET, FolderCamera, Frame, LiveEvent, LivePreview,
    LiveStats, Shown, SyntheticCamera, jpeg_dimensions, open_camera, preview, preview_dct_scaled,
    strip_metadata, thumbnail_jpeg,
};
pub use error::HardwareError;
pub use qr::{EnrollLink, parse_enroll_link, scan};

/// The wire API version this device code speaks.
pub const API_VERSION: u32 = kring_protocol::API_VERSION;

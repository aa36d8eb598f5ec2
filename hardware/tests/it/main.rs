//! kring-hardware's integration tests, one binary (a change relinks it once):
//! the backlight on a fake sysfs, cameras (synthetic and folder), the JPEG
//! paths of the preview and thumbnails, QR scanning.
#![allow(clippy::unwrap_used)]

mod backlight;
mod camera;
mod jpeg;
mod qr;

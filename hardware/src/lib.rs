//! kring-hardware: camera, backlight and QR scanning behind traits.
//!
//! Filled in by the issue "Kiosk touchscreen app".

/// The wire API version this device code speaks.
pub const API_VERSION: u32 = kring_protocol::API_VERSION;

//! kring-sync: the device's durable local store and the sync engine.
//!
//! Filled in by the issue "Device store and sync engine"; this crate only
//! re-exports the protocol version it was built against for now.

/// The wire API version this device code speaks.
pub const API_VERSION: u32 = kring_protocol::API_VERSION;

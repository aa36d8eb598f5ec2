//! kring-sync: the device's durable local store and the sync engine.
//!
//! - [`store`]: SQLite + photo files; "opgeslagen" means committed with
//!   `synchronous=FULL`; items get their UUIDv7 (the idempotency key) there.
//! - [`decide`]: the pure decisions (what next, back-off, classification).
//! - [`client`]: the device API over HTTP, including a tus client.
//! - [`engine`]: the long-lived task that drains the outbox and pulls.
//!
//! **Architecture Invariant:** nothing here knows about the UI; the UI saves
//! through [`store::Store`] and watches [`engine::SyncStatus`].

pub mod client;
pub mod clock;
mod crash;
pub mod decide;
pub mod engine;
pub mod store;
pub mod update;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{EngineConfig, EngineHandle, ItemStatus, ItemView, SyncStatus, spawn};
pub use store::{NewAttendance, NewDiary, NewPhoto, Store, StoreError};

/// The wire API version this device code speaks.
pub const API_VERSION: u32 = kring_protocol::API_VERSION;

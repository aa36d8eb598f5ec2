//! kring kiosk: the Slint app on the group-room screen.
//!
//! The UI is `ui/` (one adapter global per page); the Rust side is one
//! controller per page in [`controllers`], sharing [`app::Ctx`]. The sync
//! engine (kring-sync) runs on a tokio runtime on other threads; the camera on
//! its own thread (kring-hardware).

pub mod app;
pub mod appliance;
pub mod autopilot;
pub mod codes;
pub mod controllers;
pub mod pin;
pub mod presence;
pub mod settings;
pub mod view;

#[allow(
    clippy::unwrap_used,
    clippy::todo,
    clippy::all,
    missing_debug_implementations,
    unsafe_code
)]
mod generated {
    slint::include_modules!();
}
pub use generated::*;

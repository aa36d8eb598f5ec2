//! The kiosk's tests, one test binary (a change relinks them once):
//!
//! - [`ui`]: the screens driven through Slint's testing backend with mock time;
//! - [`screenshots`]: every screen rendered to PNG in both sizes and languages;
//! - [`translations`]: English is complete and has nothing stale.
//!
//! ```sh
//! cargo test -p kring --test kiosk                 # all of them
//! cargo test -p kring --test kiosk ui::            # the screens only
//! KRING_UPDATE_SCREENSHOTS=1 cargo test -p kring --test kiosk screenshots::
//! ```
//!
//! The whole-system test (`tests/system/`) is its own binary.
#![allow(clippy::unwrap_used)]

mod common;
mod screenshots;
mod translations;
mod ui;

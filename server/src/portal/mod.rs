//! The portal's data: accounts, sessions, reset tokens, and what a parent or
//! a location manager may see, decided per object at read time. The types
//! and the pure rules live here; the reads and writes are
//! [`crate::store::Store`] methods.
//!
//! **Architecture Invariant:** every object read for a parent goes through
//! one of the `*_for_parent` store methods, which answer `None` both when
//! the object does not exist and when the parent may not see it (the web
//! layer turns both into 404). Photo visibility is `decide_audience` with
//! the consents *of now* and the placements *of today* (an ended placement
//! stops sharing on its end date).
//!
//! One file per area of data (`accounts`, `sessions`, `children`, `photos`,
//! `diary`, `timeline`, `messages`, `family`: absences, consents,
//! notifications, documents), re-exported here; `news` (news posts,
//! newsletters and Mijn locatie: types, the PDF check); `attendance` (the
//! presentielijst in words, the ratio over the day, the GGD day log and its
//! CSV) is used by path; the web pages ([`web`]); what
//! leaves by e-mail (`notify`, `mail`); the portal's languages and the
//! English catalogue (`i18n`).

mod accounts;
pub mod agenda;
pub mod archive;
pub mod attendance;
mod children;
mod diary;
mod family;
pub mod i18n;
#[cfg(test)]
mod i18n_tests;
pub(crate) mod mail;
mod messages;
pub mod news;
pub(crate) mod notify;
mod photos;
mod sessions;
mod timeline;
pub mod web;

pub use accounts::*;
pub use children::*;
pub use diary::*;
pub use family::*;
pub use messages::*;
pub use photos::*;
pub use sessions::*;
pub use timeline::*;

/// For tests and tools that drive SQLite directly; server code goes through
/// [`crate::store::Store`].
pub use crate::store::sql::portal::create_document;

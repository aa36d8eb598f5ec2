//! The storage contract (`kring_server::store::conformance`) against the
//! SQLite backend, through the public macro a second backend uses too.

use kring_server::store::SqliteStore;

kring_server::store_conformance_tests!(|dir: &std::path::Path| {
    SqliteStore::open(&dir.join("store.sqlite3")).expect("open the SQLite store")
});

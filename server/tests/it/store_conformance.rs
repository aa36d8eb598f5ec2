//! The storage contract (`kring_server::store::conformance`) against the
//! SQLite backend, through the public macro a second backend uses too.

use kring_server::store::SqlStore;

kring_server::store_conformance_tests!(|dir: &std::path::Path| {
    SqlStore::open(&dir.join("store.sqlite3")).expect("open the SQLite store")
});

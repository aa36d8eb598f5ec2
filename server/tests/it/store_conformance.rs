//! The storage contract (`kring_server::store::conformance`) against both
//! engines of the SQL store, through the public macro: SQLite in a temporary
//! directory, and PostgreSQL (a fresh database of the test process's own
//! server, see `kring_server::store::testing::TestPostgres`).

use kring_server::store::SqlStore;

kring_server::store_conformance_tests!(async |dir: &std::path::Path| {
    SqlStore::open(&dir.join("store.sqlite3")).expect("open the SQLite store")
});

mod postgres {
    kring_server::store_conformance_tests!(async |dir: &std::path::Path| {
        kring_server::store::testing::postgres_store_in(dir)
            .await
            .expect("a PostgreSQL store")
    });
}

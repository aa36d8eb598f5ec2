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

/// The two engines' migrations end at the same schema: the same tables, with
/// the same columns in the same order, the same NOT NULLs (SQLite's TEXT
/// primary keys may hold NULL; PostgreSQL's never do), the same primary keys
/// and the same indexes. A migration added for one engine only fails here.
#[tokio::test]
#[allow(clippy::unwrap_used)]
async fn both_engines_migrate_to_the_same_schema() {
    use kring_server::store::testing::{SqlValue, TestSql};
    type Table = (Vec<(String, bool, bool)>, Vec<String>);
    let text = |v: &SqlValue| v.text().expect("text").to_string();
    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite = TestSql::new(
        SqlStore::open(&sqlite_dir.path().join("s.sqlite3"))
            .unwrap()
            .db()
            .clone(),
    );
    let pg_dir = tempfile::tempdir().unwrap();
    let pg = TestSql::new(
        kring_server::store::testing::postgres_store_in(pg_dir.path())
            .await
            .unwrap()
            .db()
            .clone(),
    );
    let mut sqlite_schema = std::collections::BTreeMap::<String, Table>::new();
    for t in sqlite
        .strings(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            vec![],
        )
        .await
        .unwrap()
    {
        let columns = sqlite
            .rows(
                "SELECT name, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid",
                kring_server::sql_params![&t],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (text(&r[0]), r[1].int() == Some(1), r[2].int() != Some(0)))
            .collect();
        let indexes = sqlite
            .strings(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1
                 AND name NOT LIKE 'sqlite_autoindex_%' ORDER BY name",
                kring_server::sql_params![&t],
            )
            .await
            .unwrap();
        sqlite_schema.insert(t, (columns, indexes));
    }
    let mut pg_schema = std::collections::BTreeMap::<String, Table>::new();
    for t in pg
        .strings(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' AND table_name <> 'schema_migrations'",
            vec![],
        )
        .await
        .unwrap()
    {
        let columns = pg
            .rows(
                "SELECT c.column_name::text, c.is_nullable::text,
                        (SELECT COUNT(*) FROM information_schema.key_column_usage k
                         JOIN information_schema.table_constraints tc
                           ON tc.constraint_name = k.constraint_name AND tc.table_name = k.table_name
                         WHERE tc.constraint_type = 'PRIMARY KEY' AND k.table_name = c.table_name
                           AND k.column_name = c.column_name) AS pk
                 FROM information_schema.columns c
                 WHERE c.table_schema = 'public' AND c.table_name = ?1 ORDER BY c.ordinal_position",
                kring_server::sql_params![&t],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (text(&r[0]), text(&r[1]) == "NO", r[2].int() != Some(0)))
            .collect();
        let indexes = pg
            .strings(
                "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'
                 AND tablename = ?1 AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'
                 ORDER BY indexname",
                kring_server::sql_params![&t],
            )
            .await
            .unwrap();
        pg_schema.insert(t, (columns, indexes));
    }
    assert!(sqlite_schema.len() > 20, "{sqlite_schema:?}");
    assert_eq!(
        sqlite_schema.keys().collect::<Vec<_>>(),
        pg_schema.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (table, (columns, indexes)) in &sqlite_schema {
        let (pg_columns, pg_indexes) = &pg_schema[table];
        let names = |c: &[(String, bool, bool)]| c.iter().map(|c| c.0.clone()).collect::<Vec<_>>();
        assert_eq!(names(columns), names(pg_columns), "columns of {table}");
        for (s, p) in columns.iter().zip(pg_columns) {
            assert_eq!(s.2, p.2, "{table}.{}: primary key", s.0);
            // a primary key column is NOT NULL in PostgreSQL whatever SQLite says
            assert!(s.1 == p.1 || s.2, "{table}.{}: NOT NULL", s.0);
        }
        assert_eq!(indexes, pg_indexes, "indexes of {table}");
    }
}

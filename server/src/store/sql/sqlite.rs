//! The SQLite driver of [`super::conn`]: opening (WAL, `synchronous=FULL`,
//! foreign keys), migrations (`PRAGMA user_version`), statements through
//! `rusqlite`'s statement cache.

use super::conn::{DbError, Params, Row, Value};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::sync::Arc;

/// Numbered migrations, applied in order, one transaction each. Never edit one
/// that has shipped; add the next number, for both engines
/// (`migrations/postgres/` holds the same schema in PostgreSQL's words; a test
/// compares the two).
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../../migrations/0001_init.sql"),
    ),
    (
        "0002_portal",
        include_str!("../../../migrations/0002_portal.sql"),
    ),
    (
        "0003_time_zone",
        include_str!("../../../migrations/0003_time_zone.sql"),
    ),
    (
        "0004_attendance",
        include_str!("../../../migrations/0004_attendance.sql"),
    ),
    (
        "0005_updates",
        include_str!("../../../migrations/0005_updates.sql"),
    ),
    (
        "0006_jobs",
        include_str!("../../../migrations/0006_jobs.sql"),
    ),
    (
        "0007_upload_parts",
        include_str!("../../../migrations/0007_upload_parts.sql"),
    ),
    (
        "0008_review",
        include_str!("../../../migrations/0008_review.sql"),
    ),
    (
        "0009_archive",
        include_str!("../../../migrations/0009_archive.sql"),
    ),
    (
        "0010_seal",
        include_str!("../../../migrations/0010_seal.sql"),
    ),
    (
        "0011_agenda",
        include_str!("../../../migrations/0011_agenda.sql"),
    ),
    (
        "0012_news",
        include_str!("../../../migrations/0012_news.sql"),
    ),
    (
        "0013_language",
        include_str!("../../../migrations/0013_language.sql"),
    ),
    (
        "0014_roster_vacation",
        include_str!("../../../migrations/0014_roster_vacation.sql"),
    ),
];

/// Opens (creating if needed) the database and applies pending migrations.
pub(super) fn open(path: &Path) -> Result<Connection, DbError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let mut conn = conn;
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version <= current {
            continue;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(migration = name, version, "applied database migration");
    }
    Ok(())
}

fn to_sql(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Int(i) => V::Integer(*i),
        Value::Real(f) => V::Real(*f),
        Value::Text(s) => V::Text(s.clone()),
        Value::Blob(b) => V::Blob(b.clone()),
    }
}

fn from_sql(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn bind(st: &mut rusqlite::CachedStatement<'_>, params: &Params) -> Result<(), DbError> {
    match params {
        Params::None => {}
        Params::Positional(values) => {
            for (i, v) in values.iter().enumerate() {
                st.raw_bind_parameter(i + 1, to_sql(v))?;
            }
        }
        Params::Named(values) => {
            for (name, v) in values {
                let i = st.parameter_index(name)?.ok_or_else(|| {
                    DbError::Sqlite(rusqlite::Error::InvalidParameterName((*name).to_string()))
                })?;
                st.raw_bind_parameter(i, to_sql(v))?;
            }
        }
    }
    Ok(())
}

pub(super) fn execute(c: &Connection, sql: &str, params: &Params) -> Result<usize, DbError> {
    let mut st = c.prepare_cached(sql)?;
    bind(&mut st, params)?;
    Ok(st.raw_execute()?)
}

pub(super) fn query(c: &Connection, sql: &str, params: &Params) -> Result<Vec<Row>, DbError> {
    let mut st = c.prepare_cached(sql)?;
    bind(&mut st, params)?;
    let columns: Arc<[String]> = st.column_names().iter().map(|s| s.to_string()).collect();
    let n = columns.len();
    let mut rows = st.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(from_sql(r.get_ref(i)?));
        }
        out.push(Row::new(columns.clone(), values));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::conn::Db;
    use super::*;

    #[test]
    fn migrates_once_and_reopens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.sqlite3");
        let db = Db::open(&path).expect("open");
        let v: i64 = db
            .call_sync(|c| c.query_row("PRAGMA user_version", (), |r| r.get(0)))
            .expect("version");
        assert_eq!(v, MIGRATIONS.len() as i64);
        drop(db);
        let db = Db::open(&path).expect("reopen");
        let mode: String = db
            .call_sync(|c| c.query_row("PRAGMA journal_mode", (), |r| r.get(0)))
            .expect("mode");
        assert_eq!(mode, "wal");
    }

    #[test]
    fn positional_and_named_parameters_and_typed_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("t.sqlite3")).expect("open");
        db.call_sync(|c| {
            let n: i64 = c.query_row(
                "SELECT ?1 + ?2",
                super::super::conn::params![40_i64, 2_u32],
                |r| r.get(0),
            )?;
            assert_eq!(n, 42);
            let s: Option<String> = c.query_row(
                "SELECT :a || :b, NULL AS empty",
                super::super::conn::named_params! { ":a": "kr", ":b": "ing" },
                |r| {
                    assert_eq!(r.get::<_, Option<String>>("empty")?, None);
                    r.get(0)
                },
            )?;
            assert_eq!(s.as_deref(), Some("kring"));
            let wrong = c.query_row("SELECT 'x'", (), |r| r.get::<_, i64>(0));
            assert!(matches!(wrong, Err(DbError::Type { .. })), "{wrong:?}");
            Ok::<_, DbError>(())
        })
        .expect("queries");
    }
}

//! The SQLite connection of [`super::SqliteStore`]: opening (WAL,
//! `synchronous=FULL`, foreign keys), migrations, and [`Db::call`], which moves
//! blocking database work off the async runtime (the store's one seam).
//!
//! **Architecture Invariant:** SQL lives in this backend (`store/sqlite/`)
//! only; handlers never hold a connection, they await [`crate::store::Store`]
//! methods. [`Db::call_sync`] is for tools and tests that drive SQLite directly.

use rusqlite::{Connection, OpenFlags, Row, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Numbered migrations, applied in order, one transaction each. Never edit one
/// that has shipped; add the next number.
const MIGRATIONS: &[(&str, &str)] = &[
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
];

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database task failed: {0}")]
    Join(String),
    #[error("the database lock was poisoned by a panic")]
    Poisoned,
    #[error("corrupt value in column {column}: {value}")]
    Corrupt { column: &'static str, value: String },
}

/// A handle to the database. Cheap to clone. One writer connection: SQLite
/// has a single writer anyway, and this keeps transactions strictly ordered.
#[derive(Clone, Debug)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl Db {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, DbError> {
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
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the connection on the blocking thread pool.
    pub async fn call<R, E, F>(&self, f: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, E> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| E::from(DbError::Poisoned))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| E::from(DbError::Join(e.to_string())))?
    }

    /// Runs `f` with the connection on this thread (CLI commands, start-up).
    pub fn call_sync<R, E, F>(&self, f: F) -> Result<R, E>
    where
        E: From<DbError>,
        F: FnOnce(&mut Connection) -> Result<R, E>,
    {
        let mut guard = self.conn.lock().map_err(|_| E::from(DbError::Poisoned))?;
        f(&mut guard)
    }
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

/// Reads a TEXT column holding a UUID into an id newtype.
pub fn parse_id<T: From<uuid::Uuid>>(column: &'static str, s: &str) -> Result<T, DbError> {
    uuid::Uuid::parse_str(s)
        .map(T::from)
        .map_err(|_| DbError::Corrupt {
            column,
            value: s.to_string(),
        })
}

/// Reads an RFC 3339 TEXT column.
pub fn parse_time(column: &'static str, s: &str) -> Result<chrono::DateTime<chrono::Utc>, DbError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| DbError::Corrupt {
            column,
            value: s.to_string(),
        })
}

/// Reads a `YYYY-MM-DD` TEXT column.
pub fn parse_date(column: &'static str, s: &str) -> Result<chrono::NaiveDate, DbError> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| DbError::Corrupt {
        column,
        value: s.to_string(),
    })
}

/// Every row of `sql`, each decoded by `decode` by column name (never by
/// position: a column added to a SELECT cannot shift the others).
pub fn query_all<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    mut decode: impl FnMut(&Row<'_>) -> Result<T, DbError>,
) -> Result<Vec<T>, DbError> {
    let mut st = c.prepare_cached(sql)?;
    let mut rows = st.query(params)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(decode(r)?);
    }
    Ok(out)
}

/// The first row of `sql`, if any, decoded by `decode` by column name.
pub fn query_one<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
) -> Result<Option<T>, DbError> {
    let mut st = c.prepare_cached(sql)?;
    let mut rows = st.query(params)?;
    rows.next()?.map(decode).transpose()
}

/// Typed reads of the TEXT columns that hold ids, times and dates, by column
/// name; a value that does not parse is [`DbError::Corrupt`] naming the column.
pub trait RowExt {
    fn id<T: From<uuid::Uuid>>(&self, column: &'static str) -> Result<T, DbError>;
    fn opt_id<T: From<uuid::Uuid>>(&self, column: &'static str) -> Result<Option<T>, DbError>;
    fn time(&self, column: &'static str) -> Result<chrono::DateTime<chrono::Utc>, DbError>;
    fn opt_time(
        &self,
        column: &'static str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, DbError>;
    fn date(&self, column: &'static str) -> Result<chrono::NaiveDate, DbError>;
    fn opt_date(&self, column: &'static str) -> Result<Option<chrono::NaiveDate>, DbError>;
}

impl RowExt for Row<'_> {
    fn id<T: From<uuid::Uuid>>(&self, column: &'static str) -> Result<T, DbError> {
        parse_id(column, &self.get::<_, String>(column)?)
    }
    fn opt_id<T: From<uuid::Uuid>>(&self, column: &'static str) -> Result<Option<T>, DbError> {
        self.get::<_, Option<String>>(column)?
            .map(|s| parse_id(column, &s))
            .transpose()
    }
    fn time(&self, column: &'static str) -> Result<chrono::DateTime<chrono::Utc>, DbError> {
        parse_time(column, &self.get::<_, String>(column)?)
    }
    fn opt_time(
        &self,
        column: &'static str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, DbError> {
        self.get::<_, Option<String>>(column)?
            .map(|s| parse_time(column, &s))
            .transpose()
    }
    fn date(&self, column: &'static str) -> Result<chrono::NaiveDate, DbError> {
        parse_date(column, &self.get::<_, String>(column)?)
    }
    fn opt_date(&self, column: &'static str) -> Result<Option<chrono::NaiveDate>, DbError> {
        self.get::<_, Option<String>>(column)?
            .map(|s| parse_date(column, &s))
            .transpose()
    }
}

/// Server time as stored: RFC 3339 with microseconds, UTC.
pub fn time_str(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_reopens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.sqlite3");
        let db = Db::open(&path).expect("open");
        let v: i64 = db
            .call_sync(|c| {
                c.pragma_query_value(None, "user_version", |r| r.get(0))
                    .map_err(DbError::from)
            })
            .expect("version");
        assert_eq!(v, MIGRATIONS.len() as i64);
        drop(db);
        let db = Db::open(&path).expect("reopen");
        let mode: String = db
            .call_sync(|c| {
                c.pragma_query_value(None, "journal_mode", |r| r.get(0))
                    .map_err(DbError::from)
            })
            .expect("mode");
        assert_eq!(mode, "wal");
    }
}

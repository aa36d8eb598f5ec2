//! The connection of [`super::SqlStore`]: one small, synchronous SQL API over
//! two engines, SQLite (the default: one file, `rusqlite`) and PostgreSQL
//! (`tokio-postgres`, see [`super::postgres`]). The store's SQL is written
//! once, with `?1`-style parameters, in the subset both engines understand;
//! the PostgreSQL driver numbers them `$1` before preparing.
//!
//! Store code runs on the blocking pool ([`Db::call`]), one transaction per
//! store method, and reads rows by column name ([`RowExt`], [`Row::get`]).
//!
//! **Architecture Invariant:** SQL lives in this backend (`store/sql/`)
//! only; handlers never hold a connection, they await [`crate::store::Store`]
//! methods. [`Db::call_sync`] is for tools and tests that drive the database
//! directly.

use std::path::Path;
use std::sync::{Arc, Mutex};

pub use super::sqlite::MIGRATIONS;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("no database connection: {0}")]
    Pool(String),
    #[error("the query returned no rows")]
    NoRows,
    #[error("column {column}: {message}")]
    Type { column: String, message: String },
    #[error("the database task failed: {0}")]
    Join(String),
    #[error("the database lock was poisoned by a panic")]
    Poisoned,
    #[error("corrupt value in column {column}: {value}")]
    Corrupt { column: &'static str, value: String },
    #[error("{0}")]
    Setup(String),
}

impl DbError {
    /// True when this is a UNIQUE / PRIMARY KEY violation.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(err, _)) => {
                err.code == rusqlite::ErrorCode::ConstraintViolation
            }
            Self::Postgres(e) => {
                e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }

    /// True when the transaction lost a race the engine detected (a
    /// serialization failure or a deadlock) and running it again is right.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Postgres(e) => matches!(
                e.code(),
                Some(c) if *c == tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED
            ),
            _ => false,
        }
    }
}

// ---- values ----------------------------------------------------------------

/// One SQL value, in or out: what both engines store.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A Rust value that can be a query parameter.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

/// A Rust value that can be read from a column.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self, String>;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(i64::from(*self))
            }
        }
    )*};
}
int_to_value!(i64, i32, i16, i8, u32, u16, u8);

impl ToValue for u64 {
    fn to_value(&self) -> Value {
        // values past i64::MAX do not occur (sizes, offsets); saturate rather than wrap
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToValue for usize {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl FromValue for Value {
    fn from_value(v: &Value) -> Result<Self, String> {
        Ok(v.clone())
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => Err(format!("expected bytes, found {other:?}")),
        }
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Real(f) => Ok(*f),
            #[allow(clippy::cast_precision_loss)]
            Value::Int(i) => Ok(*i as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Int(i) => Ok(*i != 0),
            other => Err(format!("expected 0 or 1, found {other:?}")),
        }
    }
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Result<Self, String> {
                match v {
                    Value::Int(i) => <$t>::try_from(*i)
                        .map_err(|_| format!("{i} does not fit in {}", stringify!($t))),
                    other => Err(format!("expected an integer, found {other:?}")),
                }
            }
        }
    )*};
}
int_from_value!(i64, i32, i16, u64, u32, u16, u8, usize);

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

// ---- parameters --------------------------------------------------------------

/// A statement's parameters: positional (`?1`) or named (`:org`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Params {
    #[default]
    None,
    Positional(Vec<Value>),
    Named(Vec<(&'static str, Value)>),
}

impl From<()> for Params {
    fn from(_: ()) -> Self {
        Self::None
    }
}

impl From<Vec<Value>> for Params {
    fn from(v: Vec<Value>) -> Self {
        Self::Positional(v)
    }
}

impl<T: ToValue, const N: usize> From<[T; N]> for Params {
    fn from(v: [T; N]) -> Self {
        Self::Positional(v.iter().map(ToValue::to_value).collect())
    }
}

impl From<&[&dyn ToValue]> for Params {
    fn from(v: &[&dyn ToValue]) -> Self {
        Self::Positional(v.iter().map(|p| p.to_value()).collect())
    }
}

/// Positional parameters: `params![id.to_string(), now, true]`.
#[macro_export]
macro_rules! sql_params_positional {
    () => { $crate::store::sql::conn::Params::None };
    ($($v:expr),+ $(,)?) => {
        $crate::store::sql::conn::Params::Positional(vec![
            $($crate::store::sql::conn::ToValue::to_value(&$v)),+
        ])
    };
}
pub use crate::sql_params_positional as params;

/// Named parameters: `named_params! { ":org": org.to_string() }`.
#[macro_export]
macro_rules! sql_params_named {
    ($($k:literal : $v:expr),* $(,)?) => {
        $crate::store::sql::conn::Params::Named(vec![
            $(($k, $crate::store::sql::conn::ToValue::to_value(&$v))),*
        ])
    };
}
pub use crate::sql_params_named as named_params;

// ---- rows --------------------------------------------------------------------

/// One row of a result: its values by position and by column name.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

/// A column by position or by name.
pub trait RowIndex {
    fn index(&self, columns: &[String]) -> Result<usize, DbError>;
}

impl RowIndex for usize {
    fn index(&self, columns: &[String]) -> Result<usize, DbError> {
        if *self < columns.len() {
            Ok(*self)
        } else {
            Err(DbError::Type {
                column: self.to_string(),
                message: format!("no such column (the row has {})", columns.len()),
            })
        }
    }
}

impl RowIndex for &str {
    fn index(&self, columns: &[String]) -> Result<usize, DbError> {
        columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(self))
            .ok_or_else(|| DbError::Type {
                column: self.to_string(),
                message: "no such column".into(),
            })
    }
}

impl Row {
    pub(super) fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        Self { columns, values }
    }

    /// The value of a column, converted: `r.get::<_, String>("name")`.
    pub fn get<I: RowIndex, T: FromValue>(&self, idx: I) -> Result<T, DbError> {
        let i = idx.index(&self.columns)?;
        T::from_value(&self.values[i]).map_err(|message| DbError::Type {
            column: self.columns[i].clone(),
            message,
        })
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The columns' names, in the order of [`Row::values`].
    pub fn columns(&self) -> &[String] {
        &self.columns
    }
}

/// `query_row(..).optional()`: no row is `None`, not an error.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>, DbError>;
}

impl<T> OptionalExtension<T> for Result<T, DbError> {
    fn optional(self) -> Result<Option<T>, DbError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

// ---- connections and transactions --------------------------------------------

/// The engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// One connection: SQLite's, or one taken from the PostgreSQL pool.
pub struct Connection {
    inner: Inner,
}

enum Inner {
    Sqlite(rusqlite::Connection),
    Postgres(super::postgres::PgConn),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("engine", &self.engine())
            .finish()
    }
}

/// How a transaction begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionBehavior {
    /// Reads, and writes that need no lock before their first statement.
    Deferred,
    /// Writes: SQLite takes the write lock at once (`BEGIN IMMEDIATE`);
    /// PostgreSQL locks rows as they are written.
    Immediate,
    /// Several reads that must see one snapshot (a page of the feed, a
    /// parent's timeline): PostgreSQL's `REPEATABLE READ READ ONLY`.
    ReadSnapshot,
}

impl Connection {
    pub(super) fn sqlite(conn: rusqlite::Connection) -> Self {
        Self {
            inner: Inner::Sqlite(conn),
        }
    }

    pub(super) fn postgres(conn: super::postgres::PgConn) -> Self {
        Self {
            inner: Inner::Postgres(conn),
        }
    }

    pub fn engine(&self) -> Engine {
        match self.inner {
            Inner::Sqlite(_) => Engine::Sqlite,
            Inner::Postgres(_) => Engine::Postgres,
        }
    }

    /// Runs a statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl Into<Params>) -> Result<usize, DbError> {
        let params = params.into();
        match &self.inner {
            Inner::Sqlite(c) => super::sqlite::execute(c, sql, &params),
            Inner::Postgres(c) => c.execute(sql, &params),
        }
    }

    /// Runs several statements without parameters (migrations, BEGIN/COMMIT).
    pub fn execute_batch(&self, sql: &str) -> Result<(), DbError> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Postgres(c) => c.batch(sql),
        }
    }

    /// Every row of `sql`.
    pub fn query_rows(&self, sql: &str, params: impl Into<Params>) -> Result<Vec<Row>, DbError> {
        let params = params.into();
        match &self.inner {
            Inner::Sqlite(c) => super::sqlite::query(c, sql, &params),
            Inner::Postgres(c) => c.query(sql, &params),
        }
    }

    /// The first row of `sql` through `f`; no row is [`DbError::NoRows`].
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Into<Params>,
        f: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let rows = self.query_rows(sql, params)?;
        rows.first().map_or(Err(DbError::NoRows), f)
    }

    /// Serialises this transaction with every other one that locks the same
    /// row, until commit: PostgreSQL locks the row (`FOR UPDATE`); SQLite
    /// needs nothing (an `Immediate` transaction already holds the one write
    /// lock). `table` is one of the store's own table names, never input.
    pub fn lock_row(&self, table: &'static str, id: &str) -> Result<(), DbError> {
        match self.engine() {
            Engine::Sqlite => Ok(()),
            Engine::Postgres => {
                self.query_rows(
                    &format!("SELECT 1 FROM {table} WHERE id = ?1 FOR UPDATE"),
                    params![id],
                )?;
                Ok(())
            }
        }
    }

    /// A statement to run with [`Statement::query`] or [`Statement::query_map`].
    pub fn prepare<'c>(&'c self, sql: &str) -> Result<Statement<'c>, DbError> {
        Ok(Statement {
            conn: self,
            sql: sql.to_string(),
        })
    }

    /// Same as [`Connection::prepare`] (both engines cache prepared statements).
    pub fn prepare_cached<'c>(&'c self, sql: &str) -> Result<Statement<'c>, DbError> {
        self.prepare(sql)
    }

    /// Begins a deferred transaction.
    pub fn transaction(&mut self) -> Result<Transaction<'_>, DbError> {
        self.transaction_with_behavior(TransactionBehavior::Deferred)
    }

    pub fn transaction_with_behavior(
        &mut self,
        behavior: TransactionBehavior,
    ) -> Result<Transaction<'_>, DbError> {
        let begin = match (self.engine(), behavior) {
            (Engine::Sqlite, TransactionBehavior::Immediate) => "BEGIN IMMEDIATE",
            (Engine::Sqlite, _) => "BEGIN DEFERRED",
            (Engine::Postgres, TransactionBehavior::ReadSnapshot) => {
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
            }
            (Engine::Postgres, _) => "BEGIN",
        };
        self.execute_batch(begin)?;
        Ok(Transaction {
            conn: self,
            done: false,
        })
    }
}

/// A transaction: rolled back when dropped without [`Transaction::commit`].
/// It is the connection (`&tx` where a `&Connection` is asked for).
#[derive(Debug)]
pub struct Transaction<'c> {
    conn: &'c mut Connection,
    done: bool,
}

impl Transaction<'_> {
    pub fn commit(mut self) -> Result<(), DbError> {
        self.done = true;
        self.conn.execute_batch("COMMIT")
    }

    /// Ends a transaction that only read (nothing to commit).
    pub fn finish(self) -> Result<(), DbError> {
        self.rollback()
    }

    pub fn rollback(mut self) -> Result<(), DbError> {
        self.done = true;
        self.conn.execute_batch("ROLLBACK")
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::warn!(error = %e, "rollback failed");
        }
    }
}

/// A statement and its connection; runs when queried.
#[derive(Debug)]
pub struct Statement<'c> {
    conn: &'c Connection,
    sql: String,
}

impl Statement<'_> {
    /// The rows, to walk with [`Rows::next`].
    pub fn query(&mut self, params: impl Into<Params>) -> Result<Rows, DbError> {
        Ok(Rows {
            rows: self.conn.query_rows(&self.sql, params)?.into_iter(),
            current: None,
        })
    }

    /// Every row through `f`.
    pub fn query_map<T>(
        &mut self,
        params: impl Into<Params>,
        f: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<std::vec::IntoIter<Result<T, DbError>>, DbError> {
        Ok(self
            .conn
            .query_rows(&self.sql, params)?
            .iter()
            .map(f)
            .collect::<Vec<_>>()
            .into_iter())
    }
}

/// Rows of a [`Statement::query`].
#[derive(Debug)]
pub struct Rows {
    rows: std::vec::IntoIter<Row>,
    current: Option<Row>,
}

impl Rows {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<&Row>, DbError> {
        self.current = self.rows.next();
        Ok(self.current.as_ref())
    }
}

// ---- the database ------------------------------------------------------------

/// A handle to the database. Cheap to clone. SQLite: one connection (one
/// writer anyway, and this keeps transactions strictly ordered); PostgreSQL:
/// a pool.
#[derive(Clone, Debug)]
pub struct Db {
    inner: Arc<DbInner>,
}

#[derive(Debug)]
enum DbInner {
    Sqlite {
        conn: Box<Mutex<Connection>>,
        path: std::path::PathBuf,
    },
    Postgres(super::postgres::PgPool),
}

impl Db {
    /// Opens (creating if needed) the SQLite database and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let conn = super::sqlite::open(path)?;
        Ok(Self {
            inner: Arc::new(DbInner::Sqlite {
                conn: Box::new(Mutex::new(Connection::sqlite(conn))),
                path: path.to_path_buf(),
            }),
        })
    }

    /// Connects to PostgreSQL (`postgres://…`), checks and migrates the
    /// database. Call from the async runtime that will serve the store.
    pub async fn connect_postgres(url: &str, pool_size: usize) -> Result<Self, DbError> {
        let pool = super::postgres::PgPool::connect(url, pool_size).await?;
        Ok(Self {
            inner: Arc::new(DbInner::Postgres(pool)),
        })
    }

    pub fn engine(&self) -> Engine {
        match &*self.inner {
            DbInner::Sqlite { .. } => Engine::Sqlite,
            DbInner::Postgres(_) => Engine::Postgres,
        }
    }

    /// The SQLite file (None for PostgreSQL).
    pub fn path(&self) -> Option<&Path> {
        match &*self.inner {
            DbInner::Sqlite { path, .. } => Some(path),
            DbInner::Postgres(_) => None,
        }
    }

    /// Runs `f` with a connection on the blocking thread pool.
    pub async fn call<R, E, F>(&self, f: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, E> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.call_sync(f))
            .await
            .map_err(|e| E::from(DbError::Join(e.to_string())))?
    }

    /// Runs `f` with a connection on this thread (CLI commands, start-up, the
    /// blocking pool). With PostgreSQL this thread must not be one of the
    /// async runtime's workers.
    pub fn call_sync<R, E, F>(&self, f: F) -> Result<R, E>
    where
        E: From<DbError>,
        F: FnOnce(&mut Connection) -> Result<R, E>,
    {
        match &*self.inner {
            DbInner::Sqlite { conn, .. } => {
                let mut guard = conn.lock().map_err(|_| E::from(DbError::Poisoned))?;
                f(&mut guard)
            }
            DbInner::Postgres(pool) => {
                let mut conn = Connection::postgres(pool.get().map_err(E::from)?);
                f(&mut conn)
            }
        }
    }
}

// ---- reading rows ------------------------------------------------------------

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
    params: impl Into<Params>,
    decode: impl FnMut(&Row) -> Result<T, DbError>,
) -> Result<Vec<T>, DbError> {
    c.query_rows(sql, params)?.iter().map(decode).collect()
}

/// The first row of `sql`, if any, decoded by `decode` by column name.
pub fn query_one<T>(
    c: &Connection,
    sql: &str,
    params: impl Into<Params>,
    decode: impl FnOnce(&Row) -> Result<T, DbError>,
) -> Result<Option<T>, DbError> {
    c.query_rows(sql, params)?.first().map(decode).transpose()
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

impl RowExt for Row {
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

impl ToValue for chrono::DateTime<chrono::Utc> {
    fn to_value(&self) -> Value {
        Value::Text(time_str(*self))
    }
}

impl ToValue for chrono::NaiveDate {
    fn to_value(&self) -> Value {
        Value::Text(self.format("%Y-%m-%d").to_string())
    }
}

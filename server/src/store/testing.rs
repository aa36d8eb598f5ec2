//! Plain SQL against whichever database is under the store, for tests that
//! set up rows no store operation writes (a photo that arrived long ago, a
//! changed time zone) or that count rows behind the HTTP API. The same test
//! runs on every backend: SQL is written with `?1`-style parameters and kept to
//! what SQLite and PostgreSQL both understand.
//!
//! Only with the crate feature `conformance` (tests); server code uses the
//! [`Store`](super::Store).

use super::sql::conn::{Params, Value};
use super::{Backend, StoreError};

/// One value in or out of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl SqlValue {
    /// The text, when this is text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, when this is one.
    pub fn int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        Self::Text(s.to_string())
    }
}

impl From<String> for SqlValue {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<&String> for SqlValue {
    fn from(s: &String) -> Self {
        Self::Text(s.clone())
    }
}

impl From<i64> for SqlValue {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}

impl From<u32> for SqlValue {
    fn from(i: u32) -> Self {
        Self::Int(i64::from(i))
    }
}

impl From<bool> for SqlValue {
    fn from(b: bool) -> Self {
        Self::Int(i64::from(b))
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// Builds a parameter list: `params![id.to_string(), 3, true]`.
#[macro_export]
macro_rules! sql_params {
    ($($v:expr),* $(,)?) => {
        vec![$($crate::store::testing::SqlValue::from($v)),*]
    };
}

/// Plain SQL on the backend's database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TestSql {
    backend: Backend,
}

impl TestSql {
    pub fn new(backend: Backend) -> Self {
        Self { backend }
    }

    /// Every row of `sql`, every column as a [`SqlValue`].
    pub async fn rows(
        &self,
        sql: &str,
        params: Vec<SqlValue>,
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        let sql = sql.to_string();
        self.backend
            .call(move |c| {
                let rows = c.query_rows(&sql, to_params(params))?;
                Ok::<_, StoreError>(
                    rows.iter()
                        .map(|r| r.values().iter().map(from_value).collect())
                        .collect(),
                )
            })
            .await
    }

    /// Runs a statement; the number of rows it changed.
    pub async fn execute(&self, sql: &str, params: Vec<SqlValue>) -> Result<u64, StoreError> {
        let sql = sql.to_string();
        self.backend
            .call(move |c| Ok::<_, StoreError>(c.execute(&sql, to_params(params))? as u64))
            .await
    }

    /// The first column of every row, as text (a NULL or number is an error).
    pub async fn strings(
        &self,
        sql: &str,
        params: Vec<SqlValue>,
    ) -> Result<Vec<String>, StoreError> {
        self.rows(sql, params)
            .await?
            .into_iter()
            .map(|r| match r.into_iter().next() {
                Some(SqlValue::Text(s)) => Ok(s),
                other => Err(StoreError::invalid(format!("not a text column: {other:?}"))),
            })
            .collect()
    }

    /// The first column of the first row as an integer (`SELECT COUNT(*) …`).
    pub async fn int(&self, sql: &str, params: Vec<SqlValue>) -> Result<i64, StoreError> {
        match self
            .rows(sql, params)
            .await?
            .first()
            .and_then(|r| r.first())
        {
            Some(SqlValue::Int(i)) => Ok(*i),
            other => Err(StoreError::invalid(format!("not an integer: {other:?}"))),
        }
    }

    /// The first row, which must exist.
    pub async fn row(&self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<SqlValue>, StoreError> {
        self.rows(sql, params)
            .await?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound("row"))
    }
}

fn to_params(params: Vec<SqlValue>) -> Params {
    Params::Positional(
        params
            .into_iter()
            .map(|v| match v {
                SqlValue::Null => Value::Null,
                SqlValue::Int(i) => Value::Int(i),
                SqlValue::Real(f) => Value::Real(f),
                SqlValue::Text(s) => Value::Text(s),
            })
            .collect(),
    )
}

fn from_value(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Int(i) => SqlValue::Int(*i),
        Value::Real(f) => SqlValue::Real(*f),
        Value::Text(s) => SqlValue::Text(s.clone()),
        Value::Blob(b) => SqlValue::Text(hex::encode(b)),
    }
}

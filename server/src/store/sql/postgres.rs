//! The PostgreSQL driver of [`super::conn`]: a pool of `tokio-postgres`
//! connections, used from the blocking pool (each statement waits for its
//! answer on the async runtime), `?N` and `:name` parameters numbered `$N`,
//! prepared statements cached per connection, migrations from
//! `migrations/postgres/` recorded in `schema_migrations`.
//!
//! **Concurrency:** writes run in READ COMMITTED; a write that bumps a group's
//! change sequence holds that group's row lock until it commits, so the
//! sequence is committed in order (what `BEGIN IMMEDIATE` gives SQLite). Reads
//! of several statements run in one snapshot (`REPEATABLE READ READ ONLY`). A
//! transaction that lost a race PostgreSQL detected (deadlock, serialization)
//! or hit a unique key another one just wrote is run again by the store.

use super::conn::{DbError, Params, Row, Value};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::runtime::Handle;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// Numbered migrations for PostgreSQL: the same schema as SQLite's
/// [`super::sqlite::MIGRATIONS`], one file each, in PostgreSQL's words.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../../migrations/postgres/0001_init.sql"),
    ),
    (
        "0002_portal",
        include_str!("../../../migrations/postgres/0002_portal.sql"),
    ),
    (
        "0003_time_zone",
        include_str!("../../../migrations/postgres/0003_time_zone.sql"),
    ),
    (
        "0004_attendance",
        include_str!("../../../migrations/postgres/0004_attendance.sql"),
    ),
    (
        "0005_updates",
        include_str!("../../../migrations/postgres/0005_updates.sql"),
    ),
    (
        "0006_jobs",
        include_str!("../../../migrations/postgres/0006_jobs.sql"),
    ),
    (
        "0007_upload_parts",
        include_str!("../../../migrations/postgres/0007_upload_parts.sql"),
    ),
    (
        "0008_review",
        include_str!("../../../migrations/postgres/0008_review.sql"),
    ),
    (
        "0009_archive",
        include_str!("../../../migrations/postgres/0009_archive.sql"),
    ),
    (
        "0010_seal",
        include_str!("../../../migrations/postgres/0010_seal.sql"),
    ),
    (
        "0011_agenda",
        include_str!("../../../migrations/postgres/0011_agenda.sql"),
    ),
    (
        "0012_news",
        include_str!("../../../migrations/postgres/0012_news.sql"),
    ),
    (
        "0013_language",
        include_str!("../../../migrations/postgres/0013_language.sql"),
    ),
    (
        "0014_roster_vacation",
        include_str!("../../../migrations/postgres/0014_roster_vacation.sql"),
    ),
];

/// Any two processes migrating the same database take this advisory lock.
const MIGRATION_LOCK: i64 = 0x6b72_696e_6700_0001;

/// The pool, and the runtime its connections live on.
#[derive(Clone)]
pub struct PgPool {
    pool: Pool,
    runtime: Handle,
    /// SQL as written (`?1`, `:org`) → as PostgreSQL wants it (`$1`).
    rewritten: Arc<Mutex<HashMap<String, Rewritten>>>,
}

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgPool")
            .field("status", &self.pool.status())
            .finish()
    }
}

impl PgPool {
    /// Connects (`postgres://user:password@host/db`, or a Unix socket with
    /// `?host=/run/postgresql`), checks the collation and migrates. Call
    /// from the async runtime that will serve the store.
    pub async fn connect(url: &str, max_size: usize) -> Result<Self, DbError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| DbError::Setup(format!("database url: {e}")))?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_size)
            .build()
            .map_err(|e| DbError::Setup(format!("database pool: {e}")))?;
        let this = Self {
            pool,
            runtime: Handle::current(),
            rewritten: Arc::default(),
        };
        let client = this.pool.get().await.map_err(pool_error)?;
        check_collation(&client).await?;
        migrate(&client).await?;
        drop(client);
        Ok(this)
    }

    /// A connection for this (blocking) thread.
    pub(super) fn get(&self) -> Result<PgConn, DbError> {
        let client = self.runtime.block_on(self.pool.get()).map_err(pool_error)?;
        Ok(PgConn {
            client,
            runtime: self.runtime.clone(),
            rewritten: self.rewritten.clone(),
        })
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> DbError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => DbError::Postgres(e),
        other => DbError::Pool(other.to_string()),
    }
}

/// ORDER BY a name and `lower()` must mean what they mean in SQLite (bytes,
/// ASCII): the database's collation must be C.
async fn check_collation(client: &tokio_postgres::Client) -> Result<(), DbError> {
    let row = client
        .query_one(
            "SELECT datcollate, datctype FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .await?;
    let collate: String = row.get(0);
    let ctype: String = row.get(1);
    let c_like = |s: &str| matches!(s, "C" | "POSIX" | "C.UTF-8" | "C.utf8");
    if !c_like(&collate) || !c_like(&ctype) {
        return Err(DbError::Setup(format!(
            "the database has collation {collate}/{ctype}; kring needs C \
             (CREATE DATABASE kring TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C')"
        )));
    }
    Ok(())
}

async fn migrate(client: &tokio_postgres::Client) -> Result<(), DbError> {
    client
        .query_one("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = async {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version BIGINT PRIMARY KEY,
                     name TEXT NOT NULL,
                     applied_at TEXT NOT NULL)",
            )
            .await?;
        let current: i64 = client
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
                &[],
            )
            .await?
            .get(0);
        for (i, (name, sql)) in MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            if version <= current {
                continue;
            }
            let now = super::conn::time_str(chrono::Utc::now());
            client
                .batch_execute(&format!("BEGIN;\n{sql}\n;"))
                .await?;
            let done = async {
                client
                    .execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                        &[&version, name, &now],
                    )
                    .await?;
                client.batch_execute("COMMIT").await
            }
            .await;
            if let Err(e) = done {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(DbError::from(e));
            }
            tracing::info!(migration = name, version, "applied database migration");
        }
        Ok::<_, DbError>(())
    }
    .await;
    if result.is_err() {
        // a failed BEGIN; … leaves the transaction open
        let _ = client.batch_execute("ROLLBACK").await;
    }
    client
        .query_one("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    result
}

/// One pooled connection, used from a blocking thread.
#[allow(missing_debug_implementations)]
pub struct PgConn {
    client: deadpool_postgres::Object,
    runtime: Handle,
    rewritten: Arc<Mutex<HashMap<String, Rewritten>>>,
}

impl PgConn {
    fn prepare(
        &self,
        sql: &str,
        params: &Params,
    ) -> Result<(tokio_postgres::Statement, Vec<Value>), DbError> {
        let rewritten = {
            let mut cache = self.rewritten.lock().map_err(|_| DbError::Poisoned)?;
            match cache.get(sql) {
                Some(r) => r.clone(),
                None => {
                    let r = rewrite(sql);
                    if cache.len() < 4096 {
                        cache.insert(sql.to_string(), r.clone());
                    }
                    r
                }
            }
        };
        let values = match params {
            Params::None => Vec::new(),
            Params::Positional(v) => v.clone(),
            Params::Named(named) => rewritten
                .names
                .iter()
                .map(|n| {
                    named
                        .iter()
                        .find(|(k, _)| k.trim_start_matches(':') == n)
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| DbError::Setup(format!("no value for parameter :{n}")))
                })
                .collect::<Result<_, _>>()?,
        };
        let statement = self
            .runtime
            .block_on(self.client.prepare_cached(&rewritten.sql))?;
        Ok((statement, values))
    }

    pub(super) fn execute(&self, sql: &str, params: &Params) -> Result<usize, DbError> {
        let (statement, values) = self.prepare(sql, params)?;
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        let n = self
            .runtime
            .block_on(self.client.execute(&statement, &refs))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(super) fn query(&self, sql: &str, params: &Params) -> Result<Vec<Row>, DbError> {
        let (statement, values) = self.prepare(sql, params)?;
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        let rows = self
            .runtime
            .block_on(self.client.query(&statement, &refs))?;
        let columns: Arc<[String]> = statement
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        rows.iter()
            .map(|r| {
                let values = (0..columns.len())
                    .map(|i| r.try_get::<_, Value>(i))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Row::new(columns.clone(), values))
            })
            .collect()
    }

    pub(super) fn batch(&self, sql: &str) -> Result<(), DbError> {
        Ok(self.runtime.block_on(self.client.batch_execute(sql))?)
    }
}

/// SQL with its parameters numbered for PostgreSQL.
#[derive(Debug, Clone, PartialEq)]
struct Rewritten {
    sql: String,
    /// Named parameters in `$N` order (without the colon).
    names: Vec<String>,
}

/// `?1` → `$1`, `?` → the next number, `:name` → `$N` (first use decides
/// N); quoted text, quoted names and `::casts` stay as they are.
fn rewrite(sql: &str) -> Rewritten {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut names: Vec<String> = Vec::new();
    let mut next = 1;
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                out.push(c);
                i += 1;
                while i < chars.len() {
                    out.push(chars[i]);
                    i += 1;
                    if chars[i - 1] == c {
                        break;
                    }
                }
            }
            '?' => {
                i += 1;
                let start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                if start == i {
                    out.push_str(&format!("${next}"));
                    next += 1;
                } else {
                    out.push('$');
                    out.extend(&chars[start..i]);
                }
            }
            ':' if i + 1 < chars.len() && chars[i + 1] == ':' => {
                out.push_str("::");
                i += 2;
            }
            ':' if i + 1 < chars.len()
                && (chars[i + 1].is_ascii_alphabetic() || chars[i + 1] == '_') =>
            {
                i += 1;
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                let n = match names.iter().position(|x| *x == name) {
                    Some(p) => p + 1,
                    None => {
                        names.push(name);
                        names.len()
                    }
                };
                out.push_str(&format!("${n}"));
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Rewritten { sql: out, names }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                #[allow(clippy::cast_precision_loss)]
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                _ => Err(format!("an integer given for a parameter of type {ty}").into()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                #[allow(clippy::cast_possible_truncation)]
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => Err(format!("a number given for a parameter of type {ty}").into()),
            },
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::BOOL => Value::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::BYTEA => Value::Blob(<Vec<u8>>::from_sql(ty, raw)?),
            _ => Value::Text(String::from_sql(ty, raw)?),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Value::Null)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8
                | Type::INT4
                | Type::INT2
                | Type::BOOL
                | Type::FLOAT8
                | Type::FLOAT4
                | Type::BYTEA
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UNKNOWN
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_for_postgres() {
        let r = rewrite("SELECT * FROM t WHERE a = ?1 AND b = ?2 OR c = ?1");
        assert_eq!(r.sql, "SELECT * FROM t WHERE a = $1 AND b = $2 OR c = $1");
        let r = rewrite(
            "UPDATE t SET x = :org, y = :scope WHERE z = :org AND w = '?:x' AND v = :scope::text",
        );
        assert_eq!(
            r.sql,
            "UPDATE t SET x = $1, y = $2 WHERE z = $1 AND w = '?:x' AND v = $2::text"
        );
        assert_eq!(r.names, vec!["org".to_string(), "scope".to_string()]);
        let r = rewrite("SELECT \"offset\" FROM uploads WHERE id = ?");
        assert_eq!(r.sql, "SELECT \"offset\" FROM uploads WHERE id = $1");
    }
}

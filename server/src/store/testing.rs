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

// ---- a PostgreSQL server for tests -------------------------------------------

/// Which backend the whole-system suites run on: `KRING_TEST_BACKEND=postgres`
/// runs them on PostgreSQL (a fresh database each), anything else on SQLite.
pub fn postgres_requested() -> bool {
    std::env::var("KRING_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// A PostgreSQL server of this test process: started on first use from
/// Debian's binaries (`KRING_PG_BINDIR`, else the newest
/// `/usr/lib/postgresql/*/bin`) in a temporary directory, as the `postgres`
/// user when the tests run as root, listening only on a Unix socket there.
/// It stops and its directory is removed when the test process ends (its
/// keeper shell reads our stdin; the pipe closes with the process, even
/// when the process is killed). `KRING_TEST_PG_URL` uses a running server
/// instead (a database `postgres` to connect to, and the right to create
/// databases).
#[derive(Debug)]
pub struct TestPostgres {
    /// `postgres://…/` without a database name.
    base_url: String,
    /// The server's binaries (pg_dump, pg_restore), when we started it.
    bindir: Option<std::path::PathBuf>,
    _keeper: Option<std::process::Child>,
}

static TEST_POSTGRES: std::sync::OnceLock<Result<TestPostgres, String>> =
    std::sync::OnceLock::new();
/// Databases are created one at a time (from one template).
static CREATE_LOCK: tokio::sync::Mutex<bool> = tokio::sync::Mutex::const_new(false);

impl TestPostgres {
    /// The server of this process (started on first use).
    pub fn get() -> Result<&'static TestPostgres, StoreError> {
        TEST_POSTGRES
            .get_or_init(|| match std::env::var("KRING_TEST_PG_URL") {
                Ok(url) => Ok(TestPostgres {
                    base_url: url.trim_end_matches('/').to_string() + "/",
                    bindir: None,
                    _keeper: None,
                }),
                Err(_) => start_cluster(),
            })
            .as_ref()
            .map_err(|e| StoreError::invalid(format!("test PostgreSQL: {e}")))
    }

    /// A URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        match self.base_url.split_once('?') {
            Some((base, query)) => format!("{base}{name}?{query}"),
            None => format!("{}{name}", self.base_url),
        }
    }

    /// A PostgreSQL client tool (`pg_dump`, `pg_restore`) of the server's
    /// version (or from PATH for a server given by `KRING_TEST_PG_URL`).
    pub fn tool(&self, name: &str) -> std::process::Command {
        match &self.bindir {
            Some(dir) => std::process::Command::new(dir.join(name)),
            None => std::process::Command::new(name),
        }
    }

    /// Runs one statement on the `postgres` database (CREATE/DROP DATABASE).
    pub async fn admin(&self, sql: &str) -> Result<(), StoreError> {
        let pg = |e: tokio_postgres::Error| StoreError::backend(super::sql::DbError::from(e));
        let (admin, connection) =
            tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
                .await
                .map_err(pg)?;
        let task = tokio::spawn(connection);
        let result = admin.batch_execute(sql).await.map_err(pg);
        drop(admin);
        let _ = task.await;
        result
    }

    /// A new, empty, migrated database; its URL.
    pub async fn fresh_database(&self) -> Result<String, StoreError> {
        let mut template_ready = CREATE_LOCK.lock().await;
        let pg = |e: tokio_postgres::Error| StoreError::backend(super::sql::DbError::from(e));
        // a server just started may still be starting up
        let mut waited = 0;
        let (admin, connection) = loop {
            match tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls).await {
                Ok(c) => break c,
                Err(_) if waited < 100 => {
                    waited += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => return Err(pg(e)),
            }
        };
        let task = tokio::spawn(connection);
        if !*template_ready {
            for sql in [
                "DROP DATABASE IF EXISTS kring_template",
                "CREATE DATABASE kring_template TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'",
            ] {
                admin.batch_execute(sql).await.map_err(pg)?;
            }
            // migrate it once; every test's database is a copy
            let db = super::sql::Db::connect_postgres(&self.url("kring_template"), 1).await?;
            drop(db);
            *template_ready = true;
        }
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        // the template's last connection may still be closing
        let mut tries = 0;
        loop {
            match admin
                .batch_execute(&format!(
                    "CREATE DATABASE {name} TEMPLATE kring_template STRATEGY FILE_COPY"
                ))
                .await
            {
                Ok(()) => break,
                Err(e)
                    if tries < 50
                        && e.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) =>
                {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => return Err(pg(e)),
            }
        }
        drop(admin);
        let _ = task.await;
        Ok(self.url(&name))
    }
}

/// A store on the test PostgreSQL server's database for `dir`: a fresh one
/// the first time, the same one again after (two stores on one database are
/// two server processes).
pub async fn postgres_store_in(dir: &std::path::Path) -> Result<super::SqlStore, StoreError> {
    let marker = dir.join("postgres-url");
    let url = match std::fs::read_to_string(&marker) {
        Ok(url) => url,
        Err(_) => {
            let url = TestPostgres::get()?.fresh_database().await?;
            std::fs::write(&marker, &url)
                .map_err(|e| StoreError::invalid(format!("{}: {e}", marker.display())))?;
            url
        }
    };
    Ok(super::SqlStore::from_db(
        super::sql::Db::connect_postgres(&url, 4).await?,
    ))
}

fn start_cluster() -> Result<TestPostgres, String> {
    use std::process::{Command, Stdio};
    let bindir = match std::env::var("KRING_PG_BINDIR") {
        Ok(d) => std::path::PathBuf::from(d),
        Err(_) => {
            let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
                .map_err(|e| format!("no /usr/lib/postgresql (apt-get install postgresql): {e}"))?
                .filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("postgres").exists())
                .collect();
            dirs.sort_by_key(|p| {
                p.parent()
                    .and_then(|v| v.file_name())
                    .and_then(|v| v.to_str())
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(0)
            });
            dirs.pop()
                .ok_or("no PostgreSQL under /usr/lib/postgresql")?
        }
    };
    let dir = tempfile::Builder::new()
        .prefix("kring-pg-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    // initdb and postgres refuse to run as root: run them as `postgres`
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let run_as = |program: &std::path::Path| {
        if as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    };
    if as_root {
        let status = Command::new("chown")
            .args(["postgres:", &dir.to_string_lossy()])
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !status.success() {
            return Err("chown of the test cluster's directory to postgres failed".into());
        }
    }
    let data = dir.join("data");
    let out = run_as(&bindir.join("initdb"))
        .args([
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "-U",
            "postgres",
            "-D",
        ])
        .arg(&data)
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // The keeper: starts the server, waits for our stdin to close, stops it
    // and removes the directory.
    let script = r#"
        "$1/postgres" -D "$2/data" -k "$2" -c listen_addresses= -c max_connections=300 \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
            -c shared_buffers=64MB >"$2/log" 2>&1 &
        p=$!
        cat >/dev/null
        kill -INT $p
        wait $p
        rm -rf "$2"
    "#;
    let mut keeper = if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", script, "keeper"]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", script, "keeper"]);
        c
    };
    let keeper = keeper
        .arg(&bindir)
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting postgres: {e}"))?;
    let socket = dir.join(".s.PGSQL.5432");
    for _ in 0..200 {
        if socket.exists() {
            let encoded: String = dir
                .to_string_lossy()
                .bytes()
                .map(|b| match b {
                    b'/' => "%2F".to_string(),
                    b if b.is_ascii_alphanumeric() || b"-_.".contains(&b) => {
                        (b as char).to_string()
                    }
                    b => format!("%{b:02X}"),
                })
                .collect();
            return Ok(TestPostgres {
                base_url: format!("postgres://postgres@{encoded}/"),
                bindir: Some(bindir),
                _keeper: Some(keeper),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    Err(format!("postgres did not start: {log}"))
}

// ---- an S3-compatible object store for tests ---------------------------------

/// The test store's key pair.
const S3_ACCESS_KEY: &str = "kring-test";
const S3_SECRET_KEY: &str = "kring-test-secret-key";

/// An S3 server in this process on 127.0.0.1 (s3s-fs: objects as files in a
/// temporary directory, SigV4 checked), with one bucket. A test peer only:
/// s3s-fs implements objects, listing and multipart uploads, not
/// versioning, lifecycle rules, policies or encryption. Stops when dropped.
#[derive(Debug)]
pub struct TestS3 {
    pub endpoint: String,
    pub bucket: String,
    /// Where the objects are: `<root>/<bucket>/<key>`.
    pub root: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl TestS3 {
    /// Starts it on the current runtime.
    pub async fn start() -> Result<Self, StoreError> {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        use hyper_util::server::conn::auto::Builder;
        let setup = |e: &dyn std::fmt::Debug| StoreError::invalid(format!("test S3: {e:?}"));
        let root = tempfile::tempdir().map_err(|e| setup(&e))?;
        let bucket = "kring".to_string();
        std::fs::create_dir(root.path().join(&bucket)).map_err(|e| setup(&e))?;
        let fs = s3s_fs::FileSystem::new(root.path()).map_err(|e| setup(&e))?;
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(
            S3_ACCESS_KEY,
            S3_SECRET_KEY,
        ));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| setup(&e))?;
        let addr = listener.local_addr().map_err(|e| setup(&e))?;
        let task = tokio::spawn(async move {
            let http = Builder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                // without it every request waits ~40 ms (Nagle and delayed ACKs)
                let _ = socket.set_nodelay(true);
                let conn = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
        Ok(Self {
            endpoint: format!("http://{addr}"),
            bucket,
            root,
            task,
        })
    }

    /// Settings for the server to use this store.
    pub fn settings(&self) -> crate::settings::S3Settings {
        crate::settings::S3Settings {
            endpoint: self.endpoint.clone(),
            bucket: self.bucket.clone(),
            region: "us-east-1".into(),
            access_key_id: S3_ACCESS_KEY.into(),
            secret_access_key: S3_SECRET_KEY.into(),
            virtual_hosted_style: false,
        }
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A certificate authority and a server certificate it signed for
/// `localhost` and `127.0.0.1`, as PEM files in `dir` (MQTT over TLS in tests).
#[derive(Debug, Clone)]
pub struct TestTls {
    pub cert_file: std::path::PathBuf,
    pub key_file: std::path::PathBuf,
    /// The CA certificate a client must trust.
    pub ca_pem: Vec<u8>,
}

impl TestTls {
    pub fn make(dir: &std::path::Path) -> Result<Self, StoreError> {
        let err = |e: rcgen::Error| StoreError::backend(e);
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kring test CA");
        let ca_key = rcgen::KeyPair::generate().map_err(err)?;
        let ca = ca_params.self_signed(&ca_key).map_err(err)?;
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .map_err(err)?;
        let key = rcgen::KeyPair::generate().map_err(err)?;
        let cert = params.signed_by(&key, &ca, &ca_key).map_err(err)?;
        let (cert_file, key_file) = (dir.join("mqtt-cert.pem"), dir.join("mqtt-key.pem"));
        std::fs::write(&cert_file, cert.pem()).map_err(StoreError::backend)?;
        std::fs::write(&key_file, key.serialize_pem()).map_err(StoreError::backend)?;
        Ok(Self {
            cert_file,
            key_file,
            ca_pem: ca.pem().into_bytes(),
        })
    }

    /// The embedded broker with only a TLS listener (port 0) on this certificate.
    pub fn configure(&self, settings: &mut crate::settings::Settings) {
        settings.mqtt.plain = false;
        settings.mqtt.tls_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        settings.mqtt.tls_cert_file = Some(self.cert_file.clone());
        settings.mqtt.tls_key_file = Some(self.key_file.clone());
    }
}

//! Typed settings: defaults, then a TOML file, then `KRING__...` environment
//! variables (e.g. `KRING__HTTP__LISTEN=0.0.0.0:8080`).

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Where the SQLite database and the photo files live.
    pub data_dir: PathBuf,
    pub http: HttpSettings,
    pub mqtt: MqttSettings,
    pub limits: Limits,
    pub portal: PortalSettings,
    pub mail: MailSettings,
    #[serde(default)]
    pub database: DatabaseSettings,
    #[serde(default)]
    pub blobs: BlobSettings,
}

/// Where photos and thumbnails live: files in `data_dir` (the default), or an
/// S3-compatible bucket shared by several server processes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlobSettings {
    pub s3: Option<S3Settings>,
}

/// An S3-compatible bucket (AWS S3, MinIO, Ceph, Garage, a cloud's object store).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct S3Settings {
    /// `https://s3.eu-central-1.amazonaws.com`, `http://minio.internal:9000`
    pub endpoint: String,
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `https://<bucket>.<endpoint host>` instead of `<endpoint>/<bucket>`.
    #[serde(default)]
    pub virtual_hosted_style: bool,
}

fn default_region() -> String {
    "us-east-1".into()
}

/// The secret key is never printed.
impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .finish()
    }
}

/// Where the server's data lives: SQLite in `data_dir` (the default), or a
/// PostgreSQL server shared by several server processes.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseSettings {
    /// `postgres://kring:password@db.example.nl/kring` (or a Unix socket:
    /// `postgres://kring@%2Frun%2Fpostgresql/kring`). Unset: SQLite.
    pub url: Option<String>,
    /// Connections this process keeps to PostgreSQL.
    pub pool_size: usize,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            pool_size: 16,
        }
    }
}

/// The URL without its password (for logs).
impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self
            .url
            .as_deref()
            .map(|u| match (u.find("://"), u.rfind('@')) {
                (Some(s), Some(at)) if at > s => match u[s + 3..at].find(':') {
                    Some(c) => format!("{}:***{}", &u[..s + 3 + c], &u[at..]),
                    None => u.to_string(),
                },
                _ => u.to_string(),
            });
        f.debug_struct("DatabaseSettings")
            .field("url", &url)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// The parent portal and location admin (server-rendered HTML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalSettings {
    /// Organisations are reached at `<slug>.<base_domain>` (e.g. `ouderportaal.nl`;
    /// `localhost` for local use: `zonnebloem.localhost:8080`).
    pub base_domain: String,
    /// Mark cookies `Secure` (set this when the portal is served over HTTPS).
    pub secure_cookies: bool,
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: i64,
    /// A session ends this many hours after login, however active.
    pub session_absolute_hours: i64,
    /// A "wachtwoord vergeten" link works once, for this many minutes.
    pub reset_valid_minutes: i64,
    /// The link a new parent (CSV import) gets to choose a first password
    /// works once, for this many days (then "wachtwoord vergeten" helps).
    pub first_password_days: i64,
    /// Failed logins allowed per client address per 15 minutes.
    pub login_failures_per_window: u32,
    /// Largest PDF a manager may attach to a news post or newsletter (bytes).
    pub news_pdf_max_bytes: u64,
}

/// Outgoing e-mail: password resets and notifications.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct MailSettings {
    /// Sender address, e.g. `Kinderopvang <noreply@example.nl>`.
    pub from: String,
    /// SMTP server as a URL (`smtps://user:password@mail.example.nl:465` or
    /// `smtp://host:587?tls=required`). Unset: mails are written to `folder`.
    pub smtp_url: Option<String>,
    /// Folder for mails as `.eml` files when no SMTP server is set
    /// (default: `<data_dir>/mail`). Demo and tests read them there.
    pub folder: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    /// The address devices and parents use to reach this server (for links and QR codes).
    pub public_url: String,
    /// Reverse proxies in front of the server (e.g. `["127.0.0.1"]`): only for
    /// requests from these is the client's address taken from
    /// `X-Forwarded-For` (for the login limits). Empty: the connecting address.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct MqttSettings {
    /// Listen address of the embedded broker's plain MQTT (ignored with
    /// `external_url`).
    pub listen: SocketAddr,
    /// Whether the embedded broker listens for plain MQTT at all. In
    /// production set `false` with a TLS listener: the device's MQTT login then
    /// never crosses the group room's Wi-Fi in the clear.
    #[serde(default = "yes")]
    pub plain: bool,
    /// Listen address of the embedded broker's MQTT over TLS (with
    /// `tls_cert_file` and `tls_key_file`); devices are told to use it.
    #[serde(default)]
    pub tls_listen: Option<SocketAddr>,
    /// The TLS certificate chain (PEM) of the MQTT host.
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    /// Its private key (PEM).
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
    /// An external broker that devices reach over TLS (`mqtts`): devices are
    /// told to use TLS. (The embedded broker's `tls_listen` implies it.)
    #[serde(default)]
    pub public_tls: bool,
    /// Host devices connect to (empty: the host of the HTTP API).
    pub public_host: String,
    /// Port devices connect to (0: the embedded broker's port).
    pub public_port: u16,
    /// Use an external broker (Mosquitto, EMQX) instead of the embedded one, e.g. `mqtt://broker:1883`.
    pub external_url: Option<String>,
    /// The server's own login at the external broker.
    pub external_username: String,
    pub external_password: String,
    /// How the external broker learns the devices: `http-hooks` (it asks
    /// `/internal/mqtt/{auth,acl}`: EMQX, go-auth) or `mosquitto-dynsec`
    /// (the server creates and deletes each device's login in Mosquitto 2's
    /// dynamic-security plugin; the server's login needs its admin role).
    #[serde(default)]
    pub external_auth: ExternalAuthMode,
    /// Shared secret an external broker sends to `/internal/mqtt/{auth,acl}`
    /// (header `X-Kring-Hook-Secret`). Unset: those hooks answer 404.
    pub hook_secret: Option<String>,
}

fn yes() -> bool {
    true
}

impl MqttSettings {
    /// Whether devices connect with TLS.
    pub fn devices_use_tls(&self) -> bool {
        self.public_tls || (self.external_url.is_none() && self.tls_listen.is_some())
    }
}

/// See [`MqttSettings::external_auth`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExternalAuthMode {
    #[default]
    HttpHooks,
    MosquittoDynsec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest photo upload accepted (bytes).
    pub max_upload_bytes: u64,
    /// Largest image accepted, in pixels, read from the JPEG header before decoding.
    pub max_pixels: u64,
    /// Largest JSON body (bytes).
    pub max_json_bytes: usize,
    /// Unfinished uploads expire after this many hours.
    pub upload_expiry_hours: i64,
    /// Wrong enrollment codes allowed per client address per 15 minutes.
    pub enroll_failures_per_window: u32,
    /// Largest page of the change feed.
    pub feed_page_max: u32,
    /// A PATCH that sends no byte for this many seconds is cut off (what it
    /// wrote is kept, without a checksum): a connection that died without
    /// closing must not hold the upload.
    pub upload_read_timeout_secs: u64,
    /// Unfinished uploads one device may have at once.
    pub uploads_open_per_device: u32,
    /// Bytes those unfinished uploads may announce together.
    pub uploads_open_bytes_per_device: u64,
    /// Complete uploads no photo item took yet, per device.
    pub uploads_unused_per_device: u32,
    /// A complete upload no photo item took is removed (with its files) after
    /// this many hours; the device uploads it again if it still needs it.
    pub unused_upload_hours: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("kring-data"),
            http: HttpSettings {
                listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
                public_url: "http://127.0.0.1:8080".into(),
                trusted_proxies: Vec::new(),
            },
            mqtt: MqttSettings {
                listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
                plain: true,
                tls_listen: None,
                tls_cert_file: None,
                tls_key_file: None,
                public_tls: false,
                public_host: String::new(),
                public_port: 0,
                external_url: None,
                external_username: "kring-server".into(),
                external_password: String::new(),
                external_auth: ExternalAuthMode::HttpHooks,
                hook_secret: None,
            },
            limits: Limits {
                max_upload_bytes: 25 * 1024 * 1024,
                max_pixels: 40_000_000,
                max_json_bytes: 256 * 1024,
                upload_expiry_hours: 72,
                enroll_failures_per_window: 5,
                feed_page_max: 500,
                upload_read_timeout_secs: 30,
                uploads_open_per_device: 8,
                uploads_open_bytes_per_device: 8 * 25 * 1024 * 1024,
                uploads_unused_per_device: 32,
                unused_upload_hours: 7 * 24,
            },
            portal: PortalSettings {
                base_domain: "localhost".into(),
                secure_cookies: false,
                session_idle_minutes: 60,
                session_absolute_hours: 12,
                reset_valid_minutes: 60,
                first_password_days: 14,
                login_failures_per_window: 10,
                news_pdf_max_bytes: crate::portal::news::DEFAULT_PDF_MAX_BYTES,
            },
            mail: MailSettings {
                from: "kring <noreply@kring.invalid>".into(),
                smtp_url: None,
                folder: None,
            },
            database: DatabaseSettings::default(),
            blobs: BlobSettings::default(),
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("http", &self.http)
            .field("mqtt", &self.mqtt)
            .field("limits", &self.limits)
            .field("portal", &self.portal)
            .field("mail", &self.mail)
            .field("database", &self.database)
            .field("blobs", &self.blobs)
            .finish()
    }
}

impl fmt::Debug for MqttSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttSettings")
            .field("listen", &self.listen)
            .field("plain", &self.plain)
            .field("tls_listen", &self.tls_listen)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("tls_key_file", &self.tls_key_file)
            .field("public_tls", &self.public_tls)
            .field("public_host", &self.public_host)
            .field("public_port", &self.public_port)
            .field("external_url", &self.external_url)
            .field("external_username", &self.external_username)
            .field("external_password", &"<redacted>")
            .field("external_auth", &self.external_auth)
            .field(
                "hook_secret",
                &self.hook_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailSettings")
            .field("from", &self.from)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<redacted>"))
            .field("folder", &self.folder)
            .finish()
    }
}

/// A settings error, with the figment's explanation of which key was wrong.
#[derive(Debug, thiserror::Error)]
#[error("invalid settings: {0}")]
pub struct SettingsError(#[from] Box<figment::Error>);

impl Settings {
    /// Defaults, then `file` (if given and present), then `KRING__` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            fig = fig.merge(Toml::file(file));
        }
        fig = fig.merge(Env::prefixed("KRING__").split("__"));
        fig.extract().map_err(|e| SettingsError(Box::new(e)))
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("kring.sqlite3")
    }

    /// Where mails go when no SMTP server is set.
    pub fn mail_folder(&self) -> PathBuf {
        self.mail
            .folder
            .clone()
            .unwrap_or_else(|| self.data_dir.join("mail"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own large error
    fn file_then_env() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "kring.toml",
                "data_dir = \"/srv/kring\"\n[http]\nlisten = \"0.0.0.0:9000\"\n",
            )?;
            jail.set_env("KRING__LIMITS__MAX_PIXELS", "1000");
            let s = Settings::load(Some(Path::new("kring.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.data_dir, PathBuf::from("/srv/kring"));
            assert_eq!(s.http.listen.port(), 9000);
            assert_eq!(s.limits.max_pixels, 1000);
            assert_eq!(s.limits.max_upload_bytes, 25 * 1024 * 1024);
            jail.set_env("KRING__HTTP__LISTEN", "not an address");
            assert!(Settings::load(None).is_err());
            Ok(())
        });
    }

    #[test]
    fn secrets_are_redacted() {
        let mut s = Settings::default();
        s.mqtt.external_password = "hunter2".into();
        s.mqtt.hook_secret = Some("swordfish".into());
        s.mail.smtp_url = Some("smtps://u:letmein@mail.example.nl".into());
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("swordfish"));
        assert!(!shown.contains("letmein"));
    }
}

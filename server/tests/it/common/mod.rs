//! Test harness: a real kring-server on 127.0.0.1 port 0 (HTTP and the
//! embedded MQTT broker), with a small organisation, in a temp directory.
#![allow(dead_code, clippy::unwrap_used)]

use chrono::{Duration, Utc};
use kring_protocol::{
    API_VERSION, API_VERSION_HEADER, ChildId, EnrollRequest, EnrollResponse, GroupId,
    IDEMPOTENCY_KEY_HEADER, OrganisationId, PushItem, StaffId,
};
use kring_server::Server;
use kring_server::org;
use kring_server::settings::Settings;
use kring_server::store::Store;
use kring_server::store::testing::{TestS3, TestSql};
use std::net::SocketAddr;

pub struct Harness {
    pub server: Option<Server>,
    pub base: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub org: OrganisationId,
    pub group: GroupId,
    pub other_group: GroupId,
    /// Children of `group`: [group consent, own_parents, none, group]
    pub kids: Vec<ChildId>,
    pub other_kid: ChildId,
    pub staff: StaffId,
    /// The S3 bucket of the run on the scaled setup (KRING_TEST_BACKEND=postgres).
    pub s3: Option<TestS3>,
}

pub struct Device {
    pub id: kring_protocol::DeviceId,
    pub secret: String,
    pub enrolled: EnrollResponse,
}

impl Device {
    /// The device's MQTT password (derived from its secret, never the secret).
    pub fn mqtt_password(&self) -> String {
        kring_protocol::mqtt::password(&self.secret)
    }
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        settings.mqtt.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        // KRING_TEST_BACKEND=postgres: the same suite on the scaled setup, a fresh
        // PostgreSQL database and photos in an S3 bucket
        let mut s3 = None;
        if kring_server::store::testing::postgres_requested() {
            let pg = kring_server::store::testing::TestPostgres::get().unwrap();
            settings.database.url = Some(pg.fresh_database().await.unwrap());
            settings.database.pool_size = 4;
            let bucket = TestS3::start().await.unwrap();
            settings.blobs.s3 = Some(bucket.settings());
            s3 = Some(bucket);
        }
        tweak(&mut settings);
        let opened = kring_server::open_store(&settings).await.unwrap();
        let sample = org::sample(opened.store.as_ref(), Utc::now().date_naive())
            .await
            .unwrap();
        let (org_id, group, other_group, kids, other_kid, staff) = (
            sample.org,
            sample.group,
            sample.other_group,
            sample.kids,
            sample.other_kid,
            sample.staff,
        );
        drop(opened);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        // links in mails point at this server, as `http.public_url` says
        settings.http.public_url =
            format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let server = kring_server::start(settings, listener).await.unwrap();
        let base = server.base_url();
        Self {
            server: Some(server),
            base,
            http: reqwest::Client::new(),
            dir,
            org: org_id,
            group,
            other_group,
            kids,
            other_kid,
            staff,
            s3,
        }
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn code_for(&self, group: GroupId, ttl: Duration) -> String {
        self.store()
            .create_enrollment_code(group, Utc::now(), ttl)
            .await
            .unwrap()
            .code
    }

    /// The store of the running server.
    pub fn store(&self) -> &dyn Store {
        self.server().state.store.as_ref()
    }

    /// Plain SQL on the server's database (`?1` parameters; SQL both backends know).
    pub fn sql(&self) -> TestSql {
        TestSql::new(self.server().state.backend.clone())
    }

    pub async fn enroll_raw(&self, code: &str) -> reqwest::Response {
        self.enroll_request(code).send().await.unwrap()
    }

    /// The enrollment request for `code`, to send (or to add headers to).
    pub fn enroll_request(&self, code: &str) -> reqwest::RequestBuilder {
        self.http
            .post(self.url("/api/v1/enroll"))
            .header(API_VERSION_HEADER, API_VERSION)
            .json(&EnrollRequest {
                code: code.to_string(),
                device_name: "Testscherm".into(),
                app_version: "0.1.0".into(),
            })
    }

    pub async fn enroll(&self) -> Device {
        self.enroll_in(self.group).await
    }

    pub async fn enroll_in(&self, group: GroupId) -> Device {
        let code = self.code_for(group, Duration::minutes(15)).await;
        let resp = self.enroll_raw(&code).await;
        assert_eq!(resp.status(), 200);
        let enrolled: EnrollResponse = resp.json().await.unwrap();
        Device {
            id: enrolled.device_id,
            secret: enrolled.device_secret.clone(),
            enrolled,
        }
    }

    pub fn get(&self, dev: &Device, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.url(path))
            .header(API_VERSION_HEADER, API_VERSION)
            .bearer_auth(&dev.secret)
    }

    pub async fn push(&self, dev: &Device, item: &PushItem) -> reqwest::Response {
        self.push_with_key(dev, &item.id().to_string(), item).await
    }

    pub async fn push_with_key(
        &self,
        dev: &Device,
        key: &str,
        item: &PushItem,
    ) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/items"))
            .header(API_VERSION_HEADER, API_VERSION)
            .header(IDEMPOTENCY_KEY_HEADER, key)
            .bearer_auth(&dev.secret)
            .json(item)
            .send()
            .await
            .unwrap()
    }

    /// The integer `sql` answers (`SELECT COUNT(*) …`).
    pub async fn count(&self, sql: &str) -> i64 {
        self.sql().int(sql, vec![]).await.unwrap()
    }
}

/// A real JPEG (gradient), `w` x `h`.
pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
pub mod mosquitto;
pub mod portal;

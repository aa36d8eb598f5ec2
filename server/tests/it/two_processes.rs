//! Two `kring-server` processes (the real binary, twice) on one PostgreSQL
//! database, one S3 bucket and one Mosquitto, behind a small round-robin
//! proxy on loopback: an upload started on one resumes on the other, a portal
//! session works on both, a device enrolled through the proxy is known to
//! both and can log in at the broker, a change written on either process
//! rings its doorbell, and the periodic sweeps are claimed once per period
//! for both.
#![allow(clippy::unwrap_used)]

use crate::common::mosquitto::{Mosquitto, SERVER_PASSWORD, SERVER_USER};
use crate::common::portal::{Browser, Login, PASSWORD};
use crate::common::{jpeg, sha256_hex};
use crate::doorbell::next_nudge;
use base64::Engine;
use chrono::Utc;
use kring_protocol::{
    API_VERSION, API_VERSION_HEADER, Audience, EnrollRequest, EnrollResponse, FeedPage,
    IDEMPOTENCY_KEY_HEADER, PhotoId, PhotoItem, PushItem, UPLOAD_META_SHA256,
};
use kring_server::settings::Settings;
use kring_server::store::testing::{TestPostgres, TestS3, TestSql};
use std::net::SocketAddr;
use std::time::Duration;

/// A free port on loopback (bound, then let go for the child to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One server process; killed when dropped.
struct Process {
    http: SocketAddr,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

async fn start(database: &str, s3: &TestS3, broker: &Mosquitto) -> Process {
    let dir = tempfile::tempdir().unwrap();
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let b = s3.settings();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kring-server"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("serve")
        .env("KRING__HTTP__LISTEN", http.to_string())
        .env("KRING__HTTP__PUBLIC_URL", format!("http://{http}"))
        .env("KRING__MQTT__EXTERNAL_URL", broker.url())
        .env("KRING__MQTT__EXTERNAL_USERNAME", SERVER_USER)
        .env("KRING__MQTT__EXTERNAL_PASSWORD", SERVER_PASSWORD)
        .env("KRING__MQTT__EXTERNAL_AUTH", "mosquitto-dynsec")
        .env("KRING__MQTT__PUBLIC_HOST", "127.0.0.1")
        .env("KRING__MQTT__PUBLIC_PORT", broker.addr.port().to_string())
        .env("KRING__PORTAL__BASE_DOMAIN", "localhost")
        .env("KRING__DATABASE__URL", database)
        .env("KRING__DATABASE__POOL_SIZE", "4")
        .env("KRING__BLOBS__S3__ENDPOINT", &b.endpoint)
        .env("KRING__BLOBS__S3__BUCKET", &b.bucket)
        .env("KRING__BLOBS__S3__ACCESS_KEY_ID", &b.access_key_id)
        .env("KRING__BLOBS__S3__SECRET_ACCESS_KEY", &b.secret_access_key)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("http://{http}/healthz")).send().await
            && r.status() == 200
        {
            return Process {
                http,
                _child: child,
                _dir: dir,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("kring-server on {http} did not come up");
}

/// A TCP proxy that hands each new connection to the next backend in turn.
async fn round_robin(backends: Vec<SocketAddr>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut next = 0;
        while let Ok((mut inbound, _)) = listener.accept().await {
            let backend = backends[next % backends.len()];
            next += 1;
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    addr
}

fn api(client: &reqwest::Client, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
    client
        .request(method, url)
        .header(API_VERSION_HEADER, API_VERSION)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_uploads_sessions_and_housekeeping() {
    let database = TestPostgres::get().unwrap().fresh_database().await.unwrap();
    let s3 = TestS3::start().await.unwrap();
    // the organisation, written through the store on the shared database
    let settings = Settings {
        database: kring_server::settings::DatabaseSettings {
            url: Some(database.clone()),
            pool_size: 2,
        },
        ..Settings::default()
    };
    let opened = kring_server::open_store(&settings).await.unwrap();
    let store = opened.store.clone();
    let sample = kring_server::org::sample(store.as_ref(), Utc::now().date_naive())
        .await
        .unwrap();
    let parent = store
        .create_parent(
            sample.org,
            "sem.ouder@example.nl".into(),
            "Anne".into(),
            PASSWORD.into(),
        )
        .await
        .unwrap();
    store
        .link_parent(sample.kids[0], parent, kring_server::org::ParentRole::First)
        .await
        .unwrap();
    store.set_must_change_password(parent, false).await.unwrap();
    let code = store
        .create_enrollment_code(sample.group, Utc::now(), chrono::Duration::minutes(15))
        .await
        .unwrap()
        .code;

    let broker = Mosquitto::start().await;
    let a = start(&database, &s3, &broker).await;
    let b = start(&database, &s3, &broker).await;
    let proxy = round_robin(vec![a.http, b.http]).await;
    // a new connection per request: the proxy alternates between the two
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    // a device enrolls through the proxy; both processes know it
    let enrolled: EnrollResponse = api(
        &http,
        reqwest::Method::POST,
        format!("http://{proxy}/api/v1/enroll"),
    )
    .json(&EnrollRequest {
        code,
        device_name: "Scherm".into(),
        app_version: "0.1.0".into(),
    })
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let secret = enrolled.device_secret.clone();
    for p in [&a, &b] {
        let r = api(
            &http,
            reqwest::Method::GET,
            format!("http://{}/api/v1/device", p.http),
        )
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200, "the device on {}", p.http);
    }
    // both processes seal to the one key in the database
    assert!(enrolled.seal_to.is_some());
    for p in [&a, &b] {
        let page: FeedPage = api(
            &http,
            reqwest::Method::GET,
            format!("http://{}/api/v1/feed?since=0&limit=1", p.http),
        )
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(page.seal_to, enrolled.seal_to, "the key of {}", p.http);
    }
    // ...and logs in at the one broker both processes use
    let device = enrolled.device_id;
    assert_eq!(enrolled.mqtt.port, broker.addr.port());
    let mut mqtt_opts =
        rumqttc::MqttOptions::new(device.to_string(), "127.0.0.1", enrolled.mqtt.port);
    mqtt_opts.set_credentials(device.to_string(), kring_protocol::mqtt::password(&secret));
    let (doorbell, mut rings) = rumqttc::AsyncClient::new(mqtt_opts, 16);
    let granted = crate::doorbell::subscribe(
        &doorbell,
        &mut rings,
        &[kring_protocol::mqtt::nudge_topic(&device)],
    )
    .await;
    assert_eq!(granted, [true], "the device may use the broker");

    // an upload started on A (first half) resumes on B (second half)
    let photo = jpeg(640, 480);
    let sha = sha256_hex(&photo);
    let meta = format!(
        "{UPLOAD_META_SHA256} {}",
        base64::engine::general_purpose::STANDARD.encode(&sha)
    );
    let created = api(
        &http,
        reqwest::Method::POST,
        format!("http://{}/api/v1/uploads", a.http),
    )
    .header("Tus-Resumable", "1.0.0")
    .header("Upload-Length", photo.len().to_string())
    .header("Upload-Metadata", meta)
    .bearer_auth(&secret)
    .send()
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    let upload_id = location.rsplit('/').next().unwrap().parse().unwrap();
    let half = photo.len() / 2;
    let patch = |p: &Process, at: usize, chunk: &[u8]| {
        api(
            &http,
            reqwest::Method::PATCH,
            format!("http://{}{location}", p.http),
        )
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", at.to_string())
        .bearer_auth(&secret)
        .body(chunk.to_vec())
        .send()
    };
    assert_eq!(patch(&a, 0, &photo[..half]).await.unwrap().status(), 204);
    let at_b = api(
        &http,
        reqwest::Method::HEAD,
        format!("http://{}{location}", b.http),
    )
    .header("Tus-Resumable", "1.0.0")
    .bearer_auth(&secret)
    .send()
    .await
    .unwrap();
    assert_eq!(
        at_b.headers()["upload-offset"],
        half.to_string().as_str(),
        "B sees A's half"
    );
    // A stale PATCH at the old offset, to B, is refused: the offset moved on A
    assert_eq!(patch(&b, 0, &photo[..half]).await.unwrap().status(), 409);
    let done = patch(&b, half, &photo[half..]).await.unwrap();
    assert_eq!(done.status(), 204);
    assert_eq!(
        done.headers()["upload-offset"],
        photo.len().to_string().as_str()
    );
    // the photo item, pushed to A, uses the upload B completed
    let item = PushItem::Photo(PhotoItem {
        id: PhotoId::new(),
        upload_id,
        sha256: sha.clone(),
        tags: vec![sample.kids[0]],
        no_children_recognizable: false,
        audience_shown: Audience::StaffOnly,
        staff_id: None,
        taken_at_device: Utc::now(),
    });
    let pushed = api(
        &http,
        reqwest::Method::POST,
        format!("http://{}/api/v1/items", a.http),
    )
    .header(IDEMPOTENCY_KEY_HEADER, item.id().to_string())
    .bearer_auth(&secret)
    .json(&item)
    .send()
    .await
    .unwrap();
    assert_eq!(pushed.status(), 200, "{}", pushed.text().await.unwrap());
    // the photo is in the bucket, not in either process's data directory
    let sql = TestSql::new(opened.backend.clone());
    let blob_key = sql
        .strings("SELECT blob_key FROM photos", vec![])
        .await
        .unwrap()
        .remove(0);
    assert!(s3.root.path().join(&s3.bucket).join(&blob_key).exists());
    assert_eq!(
        sql.int("SELECT COUNT(*) FROM upload_parts", vec![])
            .await
            .unwrap(),
        0
    );

    // a parent logged in on A is logged in on B; the photo shows on both
    let login = Login {
        email: "sem.ouder@example.nl".into(),
        password: PASSWORD.into(),
    };
    let mut on_a = Browser::new(a.http, "test");
    assert_eq!(on_a.login(&login).await.status, 303);
    let mut on_b = Browser::new(b.http, "test");
    on_b.cookies = on_a.cookies.clone();
    for browser in [&mut on_a, &mut on_b] {
        let page = browser.get("/mijn-kind").await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains("/uitloggen"), "logged in: {}", page.text);
    }
    // a parent's message written on B rings the device through the broker
    let kid = sample.kids[0].to_string();
    let sent = on_b
        .post(
            "/berichten",
            &[("child_id", &kid), ("body", "Oma haalt op")],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.text);
    let rung = next_nudge(&mut rings).await.seq;
    let latest = sql
        .int(
            &format!(
                "SELECT MAX(seq) FROM changes WHERE group_id = '{}'",
                sample.group
            ),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(rung, latest);

    // the sweeps of both processes share one claim per period
    let jobs = sql
        .strings("SELECT name FROM jobs ORDER BY name", vec![])
        .await
        .unwrap();
    assert_eq!(
        jobs,
        vec![
            "expire-child-data",
            "sweep-archives",
            "sweep-sessions",
            "sweep-uploads"
        ]
    );
}

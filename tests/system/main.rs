//! The whole system, for real: kring-server on a loopback port with its
//! embedded MQTT broker, a device enrolled through the API running the sync
//! engine over a real store, and parents and a location manager in headless
//! Chromium (WebDriver). Nothing is mocked but the camera: the photo is a
//! generated JPEG.
#![allow(clippy::unwrap_used)]

mod browser;

use browser::Browser;
use chrono::Utc;
use kring_protocol::{AttendanceEvent, Calendar};
use kring_protocol::{ChildId, ConsentedChild, PhotoConsent, StaffRole};
use kring_server::org::{self, ParentRole};
use kring_server::settings::Settings;
use kring_server::store::NewStaff;
use kring_sync::client::ApiClient;
use kring_sync::{
    EngineConfig, EngineHandle, NewAttendance, NewPhoto, Store, SyncStatus, SystemClock,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "wachtwoord-123";

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

/// Where the portal screenshots go: `docs/screenshots/` when
/// `KRING_UPDATE_SCREENSHOTS=1`, else `target/screenshots/`.
/// The id of the first request waiting on the manager's `/beheer/aanvragen`.
async fn first_waiting_request(b: &Browser) -> anyhow::Result<String> {
    Ok(b.client
        .find(fantoccini::Locator::Css(
            "#waiting li[data-status=requested]",
        ))
        .await?
        .attr("id")
        .await?
        .unwrap_or_default()
        .trim_start_matches("request-")
        .to_string())
}

fn screenshot_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if std::env::var("KRING_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        root.join("docs/screenshots")
    } else {
        root.join("target/screenshots")
    }
}

async fn wait_status(h: &EngineHandle, secs: u64, f: impl Fn(&SyncStatus) -> bool) {
    let mut rx = h.status();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if f(&rx.borrow_and_update()) {
            return;
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            _ => panic!("engine status never matched; last: {:?}", *rx.borrow()),
        }
    }
}

/// Polls until `f` holds, at most `secs` after `start`; returns how long it took.
async fn within(start: Instant, secs: f64, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    while !f() {
        assert!(
            start.elapsed().as_secs_f64() < secs,
            "{what}: not within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

struct Parents {
    sem: String,
    emma: String,
    noor: String,
    bram: String,
}

struct World {
    _dir: tempfile::TempDir,
    server: kring_server::Server,
    base: String,
    group: kring_protocol::GroupId,
    kids: Vec<ChildId>,
    parents: Parents,
    org: kring_protocol::OrganisationId,
    /// The BSO group Zwaluwen.
    other_group: kring_protocol::GroupId,
    /// Fatima, pedagogical staff of Dolfijnen.
    staff: kring_protocol::StaffId,
}

impl World {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        settings.mqtt.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        settings.portal.base_domain = "localhost".into();
        if kring_server::store::testing::postgres_requested() {
            let pg = kring_server::store::testing::TestPostgres::get().unwrap();
            settings.database.url = Some(pg.fresh_database().await.unwrap());
        }
        let opened = kring_server::open_store(&settings).await.unwrap();
        let store = opened.store.as_ref();
        let s = org::sample(store, Utc::now().date_naive()).await.unwrap();
        // kids: Sem (group), Noor (own parents), Daan (none), Emma (group);
        // Bram is in the other group
        let parent = async |email: &str, name: &str, child: ChildId, fresh: bool| {
            let p = store
                .create_parent(s.org, email.into(), name.into(), PASSWORD.into())
                .await
                .unwrap();
            store
                .link_parent(child, p, ParentRole::First)
                .await
                .unwrap();
            if !fresh {
                store.set_must_change_password(p, false).await.unwrap();
            }
            email.to_string()
        };
        let parents = Parents {
            // the organisation sent Sem's parent a first password: it must be changed
            sem: parent("sem.ouder@example.nl", "Anne de Vries", s.kids[0], true).await,
            noor: parent("noor.ouder@example.nl", "Carla Bakker", s.kids[1], false).await,
            emma: parent("emma.ouder@example.nl", "Dirk Jansen", s.kids[3], false).await,
            bram: parent("bram.ouder@example.nl", "Els Visser", s.other_kid, false).await,
        };
        let manager = store
            .create_staff(NewStaff {
                org: s.org,
                name: "Petra".into(),
                role: StaffRole::Manager,
                pin: "9876".into(),
                groups: vec![s.group, s.other_group],
            })
            .await
            .unwrap()
            .id;
        store
            .set_staff_login(manager, "petra@example.nl".into(), PASSWORD.into(), false)
            .await
            .unwrap();
        let sample = s;
        drop(opened);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = kring_server::start(settings, listener).await.unwrap();
        let base = format!("http://test.localhost:{}", server.http_addr.port());
        World {
            _dir: dir,
            server,
            base,
            group: sample.group,
            kids: sample.kids,
            parents,
            org: sample.org,
            other_group: sample.other_group,
            staff: sample.staff,
        }
    }

    /// A device for the group, enrolled through the API, its engine running
    /// with the MQTT doorbell and no periodic pull (an hour): whatever arrives
    /// within seconds came through the nudge.
    async fn device(&self) -> (tempfile::TempDir, Arc<Store>, EngineHandle) {
        self.device_on(self.group).await
    }

    /// The same, for `group`.
    async fn device_on(
        &self,
        group: kring_protocol::GroupId,
    ) -> (tempfile::TempDir, Arc<Store>, EngineHandle) {
        let code = self
            .server
            .state
            .store
            .create_enrollment_code(group, Utc::now(), chrono::Duration::minutes(15))
            .await
            .unwrap()
            .code;
        let url = format!("http://127.0.0.1:{}", self.server.http_addr.port());
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path()).unwrap();
        let resp = ApiClient::new(&url, None)
            .unwrap()
            .enroll(&code, "Groepsscherm Dolfijnen", "9.9.9")
            .await
            .unwrap();
        store.save_enrollment(&url, &resp, Utc::now()).unwrap();
        let store = Arc::new(store);
        let (handle, _task) = kring_sync::spawn(
            store.clone(),
            Arc::new(SystemClock),
            EngineConfig {
                pull_interval: Duration::from_secs(3600),
                app_version: "9.9.9".into(),
                ..EngineConfig::default()
            },
        );
        (dir, store, handle)
    }
}

async fn login(b: &Browser, base: &str, email: &str, password: &str) -> anyhow::Result<()> {
    b.client.delete_all_cookies().await?;
    b.goto(&format!("{base}/inloggen")).await?;
    b.fill("#email", email).await?;
    b.fill("#password", password).await?;
    b.submit("#login-submit").await?;
    Ok(())
}

/// The ids of the photos on the parent's timeline (a fresh page load).
async fn timeline_photos(b: &Browser, base: &str) -> anyhow::Result<Vec<String>> {
    b.goto(&format!("{base}/mijn-kind")).await?;
    let mut ids = Vec::new();
    for e in b
        .client
        .find_all(fantoccini::Locator::Css("#timeline li[data-kind=photo]"))
        .await?
    {
        if let Some(id) = e.attr("data-id").await? {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Logs of the server and the engine in the test's output (`RUST_LOG`, else warnings).
fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_server_and_parents_in_a_real_browser() -> anyhow::Result<()> {
    init_tracing();
    let w = World::start().await;
    let (sem, emma) = (w.kids[0], w.kids[3]);
    let (_device_dir, store, engine) = w.device().await;
    wait_status(&engine, 20, |s| s.online && s.last_sync.is_some()).await;

    // The group room takes a photo of Sem and Emma (both: group photos allowed).
    let consents = [
        ConsentedChild {
            id: sem,
            consent: PhotoConsent::Group,
        },
        ConsentedChild {
            id: emma,
            consent: PhotoConsent::Group,
        },
    ];
    let photo = jpeg(1024, 768);
    let saved = store.save_photo(
        NewPhoto {
            jpeg: &photo,
            thumbnail: None,
            tags: vec![sem, emma],
            no_children_recognizable: false,
            audience: kring_protocol::decide_audience(&consents, false),
            staff: None,
        },
        Utc::now(),
    )?;
    engine.wake();
    wait_status(&engine, 30, |s| s.waiting == 0 && s.needs_attention == 0).await;
    let photo_id = saved.to_string();

    // Sem arrives: the group screen checks her in, brought by her parent (one
    // of the people the server told the device about). The check-in is an
    // outbox item like the photo; the server's echo comes back through the
    // doorbell with its place in the group's order.
    let calendar = Calendar::default();
    let pickup = store
        .children()?
        .into_iter()
        .find(|c| c.id == sem)
        .map(|c| c.pickup)
        .unwrap_or_default();
    assert!(
        pickup.iter().any(|p| p == "Anne de Vries"),
        "Sem's parent can be chosen: {pickup:?}"
    );
    let arrived = Utc::now();
    let checked_in = store.save_attendance(
        NewAttendance {
            at: arrived,
            event: AttendanceEvent::ChildIn {
                child_id: sem,
                by: Some("Anne de Vries".into()),
            },
            replaces: None,
            staff: None,
        },
        arrived,
    )?;
    engine.wake();
    let sent = Instant::now();
    let took = within(sent, 5.0, "the check-in numbered by the server", || {
        store
            .attendance(calendar.day_range(calendar.today(arrived)))
            .unwrap_or_default()
            .iter()
            .any(|e| e.item.id == checked_in && e.seq.is_some())
    })
    .await;
    eprintln!("check-in: saved on the device -> numbered by the server in {took:?}");

    let b = Browser::start(1280, 900).await?;
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots)?;
    // the page as it is now, on a desktop and on a phone
    let shot = async |name: &str| -> anyhow::Result<()> {
        for (size, w, h) in [("desktop", 1280, 900), ("telefoon", 390, 844)] {
            b.client.set_window_size(w, h).await?;
            let png = b.screenshot().await?;
            assert!(png.len() > 1000, "{name} {size} is an empty image");
            std::fs::write(shots.join(format!("portal-{name}-{size}.png")), png)?;
        }
        b.client.set_window_size(1280, 900).await?;
        Ok(())
    };

    // Sem's parent logs in with the password the organisation sent: a new one first.
    b.goto(&format!("{}/inloggen", w.base)).await?;
    shot("inloggen").await?;
    login(&b, &w.base, &w.parents.sem, PASSWORD).await?;
    assert!(b.exists("#forced-change").await?, "{}", b.text().await?);
    b.fill("#current_password", PASSWORD).await?;
    b.fill("#new_password", "zonnebloem-2026").await?;
    b.fill("#new_password_repeat", "zonnebloem-2026").await?;
    b.submit("#change-password-submit").await?;
    // the photo is on Sem's timeline, and her day says who brought her when
    assert_eq!(timeline_photos(&b, &w.base).await?, vec![photo_id.clone()]);
    let brought = format!("Gebracht om {} door Anne de Vries", calendar.hhmm(arrived));
    let day = b.text().await?;
    assert!(day.contains(&brought), "{brought:?} on Mijn kind: {day}");
    shot("mijn-kind").await?;
    // full size, metadata already stripped, never cached
    b.goto(&format!("{}/fotos/{photo_id}", w.base)).await?;
    assert!(b.exists("#photo-full").await? && b.exists("#photo-download").await?);
    shot("foto").await?;

    // Emma's parent (another family, tagged too) sees it; Noor's (not tagged)
    // and Bram's (other group) do not, not even by asking for it.
    login(&b, &w.base, &w.parents.emma, PASSWORD).await?;
    assert_eq!(timeline_photos(&b, &w.base).await?, vec![photo_id.clone()]);
    for who in [&w.parents.noor, &w.parents.bram] {
        login(&b, &w.base, who, PASSWORD).await?;
        assert!(timeline_photos(&b, &w.base).await?.is_empty(), "{who}");
        assert!(
            !b.text().await?.contains("Anne de Vries"),
            "another family never reads who brought Sem ({who})"
        );
        b.goto(&format!("{}/fotos/{photo_id}", w.base)).await?;
        assert!(b.exists("body[data-page=fout]").await?, "{who}");
        assert!(!b.exists("img").await?, "{who}");
        // and the image itself, with this browser's session: 404 like a photo that does not exist
        let cookie = b.client.get_named_cookie("kring_sessie").await?;
        let http = reqwest::Client::builder()
            .resolve(
                "test.localhost",
                SocketAddr::from(([127, 0, 0, 1], w.server.http_addr.port())),
            )
            .build()?;
        for path in ["", "/origineel", "/klein", "/download"] {
            let r = http
                .get(format!("{}/fotos/{photo_id}{path}", w.base))
                .header("Cookie", format!("kring_sessie={}", cookie.value()))
                .send()
                .await?;
            assert_eq!(r.status(), 404, "/fotos/{photo_id}{path} for {who}");
        }
    }

    // Emma's parent writes to the group and reports Emma absent: both reach
    // the device within 2 seconds, through the doorbell (no periodic pull).
    login(&b, &w.base, &w.parents.emma, PASSWORD).await?;
    b.goto(&format!("{}/berichten/kind/{emma}", w.base)).await?;
    b.fill("#body", "Emma heeft vannacht slecht geslapen.")
        .await?;
    let sent = Instant::now();
    b.submit("#message-submit").await?;
    let took = within(sent, 2.0, "the parent's message on the device", || {
        store
            .messages()
            .unwrap_or_default()
            .iter()
            .any(|m| m.body == "Emma heeft vannacht slecht geslapen.")
    })
    .await;
    eprintln!("message: submitted in the browser -> in the device store in {took:?}");
    shot("berichten").await?;
    b.goto(&format!("{}/afwezig", w.base)).await?;
    b.click("#reason-ziek").await?;
    let sent = Instant::now();
    b.submit("#absence-submit").await?;
    let took = within(sent, 2.0, "the absence on the device", || {
        store
            .absences()
            .unwrap_or_default()
            .iter()
            .any(|a| a.child_id == emma && !a.cancelled)
    })
    .await;
    eprintln!("absence: submitted in the browser -> in the device store in {took:?}");
    shot("afwezig").await?;

    // Sem's parent withdraws group consent: Emma's family no longer sees the
    // photo on their next page load; Sem's parent still does.
    login(&b, &w.base, &w.parents.sem, "zonnebloem-2026").await?;
    b.goto(&format!("{}/toestemmingen", w.base)).await?;
    b.click(&format!("#consent-{sem}-own_parents")).await?;
    b.submit(&format!("#consent-submit-{sem}")).await?;
    b.goto(&format!("{}/toestemmingen", w.base)).await?;
    shot("toestemmingen").await?;
    assert_eq!(timeline_photos(&b, &w.base).await?, vec![photo_id.clone()]);
    login(&b, &w.base, &w.parents.emma, PASSWORD).await?;
    assert!(timeline_photos(&b, &w.base).await?.is_empty());

    // The location manager sees who is here today, and downloads the group's
    // day log for a GGD visit.
    login(&b, &w.base, "petra@example.nl", PASSWORD).await?;
    b.goto(&format!("{}/beheer", w.base)).await?;
    b.click("a[id^=presence-]").await?;
    let here = b.text().await?;
    assert!(
        here.contains("gebracht door Anne de Vries"),
        "Sem is on Aanwezig vandaag: {here}"
    );
    shot("aanwezig").await?;
    b.goto(&format!(
        "{}/beheer/groepen/{}/logboek/{}",
        w.base,
        w.group,
        calendar.today(arrived)
    ))
    .await?;
    assert!(b.text().await?.contains("Anne de Vries"));
    shot("logboek").await?;
    let cookie = b.client.get_named_cookie("kring_sessie").await?;
    let http = reqwest::Client::builder()
        .resolve(
            "test.localhost",
            SocketAddr::from(([127, 0, 0, 1], w.server.http_addr.port())),
        )
        .build()?;
    let csv = http
        .get(format!(
            "{}/beheer/groepen/{}/logboek/{}/csv",
            w.base,
            w.group,
            calendar.today(arrived)
        ))
        .header("Cookie", format!("kring_sessie={}", cookie.value()))
        .send()
        .await?;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/csv"))
    );
    let csv = csv.text().await?;
    assert!(csv.contains("Anne de Vries"), "{csv}");

    // The location manager sees the device (version, nothing waiting) and revokes it:
    // it gets 401 on its next call and wipes itself.
    login(&b, &w.base, "petra@example.nl", PASSWORD).await?;
    b.goto(&format!("{}/beheer/apparaten", w.base)).await?;
    let device_id = store.device()?.unwrap().device_id.to_string();
    let row = b.text().await?;
    assert!(
        row.contains("9.9.9"),
        "app version in the device list: {row}"
    );
    b.submit("#enroll-submit").await?;
    assert!(
        b.exists("#enroll-qr svg").await?,
        "the enrollment code as a QR code"
    );
    shot("apparaten").await?;
    b.submit(&format!("#revoke-{device_id}")).await?;
    engine.wake();
    wait_status(&engine, 60, |s| s.revoked).await;
    assert!(
        store.device()?.is_none(),
        "the device wiped its credentials"
    );
    assert!(store.children()?.is_empty(), "and every child's data");
    b.close().await
}

/// The newest mail in the server's mail folder that contains `needle`,
/// waited for up to `secs`.
async fn wait_for_mail(w: &World, needle: &str, secs: u64) -> String {
    let dir = w.server.state.settings.mail_folder();
    let start = Instant::now();
    loop {
        let found = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter_map(|f| std::fs::read_to_string(f.path()).ok())
                    // quoted-printable soft line breaks
                    .map(|m| m.replace("=\r\n", "").replace("=\n", ""))
                    .find(|m| m.contains(needle))
            })
            .ok()
            .flatten();
        if let Some(m) = found {
            return m;
        }
        assert!(
            start.elapsed().as_secs() < secs,
            "no mail with {needle:?} within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A parent asks for everything of their child in the portal; the server
/// builds the archive in the background and mails a single-use link; the
/// parent follows it and the browser saves the ZIP: the photos the parent
/// may see and the diary as a page. The link then says it was used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_downloads_the_archive_of_their_child_in_a_real_browser() -> anyhow::Result<()> {
    init_tracing();
    let w = World::start().await;
    let (sem, noor, emma) = (w.kids[0], w.kids[1], w.kids[3]);
    let (_device_dir, store, engine) = w.device().await;
    wait_status(&engine, 20, |s| s.online && s.last_sync.is_some()).await;
    let consent = |id, consent| ConsentedChild { id, consent };
    let photo = |tags: Vec<ChildId>, consents: &[ConsentedChild]| {
        store.save_photo(
            NewPhoto {
                jpeg: &jpeg(640, 480),
                thumbnail: None,
                tags,
                no_children_recognizable: false,
                audience: kring_protocol::decide_audience(consents, false),
                staff: None,
            },
            Utc::now(),
        )
    };
    // Emma alone twice (one of them in a diary entry), and Sem with Noor
    // (Noor's photos are for her own parents only): Emma's parent gets two.
    let emma_alone = [consent(emma, PhotoConsent::Group)];
    photo(vec![emma], &emma_alone)?;
    let in_diary = photo(vec![emma], &emma_alone)?;
    photo(
        vec![sem, noor],
        &[
            consent(sem, PhotoConsent::Group),
            consent(noor, PhotoConsent::OwnParents),
        ],
    )?;
    store.save_diary(
        kring_sync::NewDiary {
            children: vec![emma],
            text: "Emma heeft een hoge toren gebouwd.".into(),
            photos: vec![in_diary],
            baby: None,
            staff: None,
        },
        Utc::now(),
    )?;
    engine.wake();
    wait_status(&engine, 30, |s| s.waiting == 0 && s.needs_attention == 0).await;

    let downloads = tempfile::tempdir()?;
    let b = Browser::start_downloading(1280, 900, downloads.path()).await?;
    login(&b, &w.base, &w.parents.emma, PASSWORD).await?;
    b.goto(&format!("{}/account", w.base)).await?;
    b.submit(&format!("#archive-request-{emma}")).await?;
    assert!(
        b.text().await?.contains("We maken het archief"),
        "{}",
        b.text().await?
    );
    // built in the background: the mail arrives, Overig shows it ready
    let mail = wait_for_mail(&w, "/archief/ophalen/", 30).await;
    assert!(mail.contains("To: emma.ouder@example.nl"), "{mail}");
    let at = mail.find("/archief/ophalen/").unwrap();
    let path = mail[at..].split_whitespace().next().unwrap();
    b.goto(&format!("{}/account", w.base)).await?;
    assert!(b.exists(&format!("#archive-ready-{emma}")).await?);
    // the whole page, the archive's card below the account's
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots)?;
    b.client.set_window_size(1280, 1400).await?;
    std::fs::write(
        shots.join("portal-archief-desktop.png"),
        b.screenshot().await?,
    )?;
    b.client.set_window_size(1280, 900).await?;

    // the mail's link: the browser saves the file (a download leaves the
    // page as it is; some drivers report the aborted navigation)
    let link = format!("{}{path}", w.base);
    let _ = b.goto(&link).await;
    let start = Instant::now();
    let zip_path = loop {
        let done = std::fs::read_dir(downloads.path())?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "zip"));
        if let Some(p) = done {
            break p;
        }
        assert!(
            start.elapsed().as_secs() < 30,
            "no ZIP downloaded within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        zip_path.file_name().and_then(|n| n.to_str()),
        Some("archief-emma.zip")
    );
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path)?)?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.to_string())
        .collect();
    let photos = names.iter().filter(|n| n.starts_with("fotos/")).count();
    assert_eq!(
        photos, 2,
        "Emma's two photos, not Sem's and Noor's: {names:?}"
    );
    let mut diary = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("dagboek.html")?, &mut diary)?;
    assert!(
        diary.contains("Emma heeft een hoge toren gebouwd."),
        "{diary}"
    );
    assert!(zip.by_name("berichten.html").is_ok());

    // the link works once
    b.goto(&link).await?;
    let text = b.text().await?;
    assert!(text.contains("al gebruikt"), "{text}");
    b.goto(&format!("{}/account", w.base)).await?;
    assert!(b.exists(&format!("#archive-downloaded-{emma}")).await?);
    b.close().await
}

/// The agenda (issue 16) in a real browser at phone width: Emma's parent
/// cancels two contract days three weeks ahead (in time: two days of
/// tegoed), asks for the second one again from tegoed, the location manager
/// sees that the day fits and approves it; the group's device (a real sync
/// engine and store) learns it through the doorbell, and its Vandaag
/// (`kring::view::expected_today`) expects Emma on that day and not on the
/// other; the tegoed went down by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_spends_tegoed_on_an_extra_day_the_manager_approves_it_and_the_device_expects_the_child()
-> anyhow::Result<()> {
    use chrono::{Datelike, Weekday};
    init_tracing();
    let w = World::start().await;
    let emma = w.kids[3];
    let (_device_dir, store, engine) = w.device().await;
    wait_status(&engine, 20, |s| s.online && s.last_sync.is_some()).await;
    let today = Calendar::default().today(Utc::now());
    let weekday_from = |mut d: chrono::NaiveDate| {
        while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            d += chrono::Duration::days(1);
        }
        d
    };
    // Emma is planned Monday to Friday
    let given = weekday_from(today + chrono::Duration::days(21));
    let asked = weekday_from(given + chrono::Duration::days(1));
    let month = |d: chrono::NaiveDate| d.format("%Y-%m").to_string();
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots)?;

    let b = Browser::start(390, 844).await?;
    login(&b, &w.base, &w.parents.emma, PASSWORD).await?;
    let agenda = |d: chrono::NaiveDate| format!("{}/agenda?kind={emma}&maand={}", w.base, month(d));
    let balance = async || -> anyhow::Result<String> {
        b.goto(&format!("{}/agenda?kind={emma}", w.base)).await?;
        Ok(b.client
            .find(fantoccini::Locator::Css("#tegoed"))
            .await?
            .attr("data-balance")
            .await?
            .unwrap_or_default())
    };
    assert_eq!(balance().await?, "0");
    for d in [given, asked] {
        b.goto(&agenda(d)).await?;
        b.submit(&format!("#cancel-{d}")).await?;
        let text = b.text().await?;
        assert!(text.contains("U heeft 1 dag tegoed gekregen"), "{text}");
    }
    assert_eq!(balance().await?, "2");
    b.goto(&agenda(asked)).await?;
    std::fs::write(shots.join("portal-agenda-phone.png"), b.screenshot().await?)?;
    // "Toch laten komen" fills in the day; pay it from tegoed
    assert!(b.exists(&format!("#ask-{asked}")).await?);
    b.goto(&format!("{}&dag={asked}", agenda(asked))).await?;
    b.click("#payment-credit").await?;
    std::fs::write(
        shots.join("portal-agenda-aanvraag-phone.png"),
        b.screenshot().await?,
    )?;
    b.submit("#request-submit").await?;
    let text = b.text().await?;
    assert!(text.contains("Uw aanvraag is verstuurd"), "{text}");
    assert!(
        b.exists(&format!("#day-{asked}[data-state=requested]"))
            .await?
    );
    assert_eq!(balance().await?, "2", "nothing taken before approval");

    // the device does not expect Emma on either day yet
    let emma_on_device = || -> anyhow::Result<kring_protocol::Child> {
        Ok(store
            .children()?
            .into_iter()
            .find(|c| c.id == emma)
            .expect("Emma on the device"))
    };
    let start = Instant::now();
    within(start, 20.0, "the cancelled days reach the device", || {
        emma_on_device()
            .is_ok_and(|c| c.cancelled_days.contains(&given) && c.cancelled_days.contains(&asked))
    })
    .await;
    let child = emma_on_device()?;
    assert!(!kring::view::expected_today(&child, given));
    assert!(!kring::view::expected_today(&child, asked));

    // the manager sees that the day fits, and approves
    login(&b, &w.base, "petra@example.nl", PASSWORD).await?;
    b.goto(&format!("{}/beheer/aanvragen", w.base)).await?;
    let id = first_waiting_request(&b).await?;
    let fit = b
        .client
        .find(fantoccini::Locator::Css(&format!("#fit-{id}")))
        .await?
        .text()
        .await?;
    assert!(
        fit.starts_with("past: 4 kinderen, 1 leidster nodig, 1 ingeroosterd"),
        "{fit}"
    );
    std::fs::write(
        shots.join("portal-beheer-aanvragen-phone.png"),
        b.screenshot().await?,
    )?;
    let start = Instant::now();
    b.submit(&format!("#approve-{id}")).await?;
    let text = b.text().await?;
    assert!(text.contains("De aanvraag is goedgekeurd"), "{text}");
    std::fs::write(
        shots.join("portal-beheer-goedgekeurd-phone.png"),
        b.screenshot().await?,
    )?;

    // the device learns it through the doorbell and expects Emma that day
    let took = within(start, 20.0, "the approved day reaches the device", || {
        emma_on_device().is_ok_and(|c| c.extra_days.contains(&asked))
    })
    .await;
    let child = emma_on_device()?;
    assert!(
        kring::view::expected_today(&child, asked),
        "Verwacht on the extra day"
    );
    assert!(
        !kring::view::expected_today(&child, given),
        "not on the cancelled day"
    );
    tracing::info!(?took, "approved extra day on the device");

    // the parent's tegoed went down by one, the day is an extra day
    login(&b, &w.base, &w.parents.emma, PASSWORD).await?;
    assert_eq!(balance().await?, "1");
    b.goto(&agenda(asked)).await?;
    assert!(b.exists(&format!("#day-{asked}[data-state=extra]")).await?);
    b.close().await
}

/// The roster, the agenda settings and BSO vacation care in a real browser
/// at phone width: the manager ticks Fatima's weekdays, puts her extra on the
/// BSO group one day, closes a day and gives Lotte vacation hours; Lotte's
/// parent asks for vacation care more than a month ahead (guaranteed, hours
/// down at once) and within a month (waits); the manager sees the fit with
/// the roster's count and approves; the BSO group's device, through a real
/// sync engine, expects Lotte on both days.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manager_fills_the_roster_and_a_bso_parent_gets_vacation_care_the_device_expects_it()
-> anyhow::Result<()> {
    use chrono::{Datelike, Weekday};
    use kring_server::store::{ChildDetails, NewPlacement};
    init_tracing();
    let w = World::start().await;
    let today = Calendar::default().today(Utc::now());
    let server_store = w.server.state.store.clone();
    // Lotte (6) goes to BSO Zwaluwen on Mondays; her parent is Fenna
    let lotte = server_store
        .create_child(
            w.org,
            ChildDetails {
                first_name: "Lotte".into(),
                last_name: "Smit".into(),
                birth_date: today.with_year(today.year() - 6).unwrap_or(today),
                consent: PhotoConsent::Group,
                allergies: None,
                notes: None,
            },
        )
        .await?;
    server_store
        .place_child(NewPlacement {
            child: lotte,
            group: w.other_group,
            days: vec![kring_protocol::Weekday::Mon],
            start: today - chrono::Duration::days(30),
            end: None,
        })
        .await?;
    let fenna = server_store
        .create_parent(
            w.org,
            "fenna.ouder@example.nl".into(),
            "Fenna Smit".into(),
            PASSWORD.into(),
        )
        .await?;
    server_store
        .link_parent(lotte, fenna, ParentRole::First)
        .await?;
    server_store.set_must_change_password(fenna, false).await?;
    let (_device_dir, store, engine) = w.device_on(w.other_group).await;
    wait_status(&engine, 20, |s| s.online && s.last_sync.is_some()).await;
    let tuesday_from = |mut d: chrono::NaiveDate| {
        while d.weekday() != Weekday::Tue {
            d += chrono::Duration::days(1);
        }
        d
    };
    let far = tuesday_from(today + chrono::Duration::days(40));
    let near = tuesday_from(today + chrono::Duration::days(8));
    let closed = near + chrono::Duration::days(1);
    let (dolfijnen, zwaluwen, fatima) = (w.group, w.other_group, w.staff);
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots)?;
    let b = Browser::start(390, 844).await?;

    // the roster: Fatima Monday to Friday on Dolfijnen, extra on Zwaluwen
    login(&b, &w.base, "petra@example.nl", PASSWORD).await?;
    b.goto(&format!("{}/beheer/rooster", w.base)).await?;
    assert!(b.exists(&format!("#no-roster-{zwaluwen}")).await?);
    for d in ["mon", "tue", "wed", "thu", "fri"] {
        b.click(&format!("#roster-{dolfijnen}-{fatima}-{d}"))
            .await?;
    }
    b.submit(&format!("#roster-save-{dolfijnen}")).await?;
    assert!(b.text().await?.contains("Het rooster is opgeslagen"));
    assert!(
        b.exists(&format!("#roster-{dolfijnen}-{fatima}-wed:checked"))
            .await?
    );
    b.set_value(&format!("#exception-staff-{zwaluwen}"), &fatima.to_string())
        .await?;
    b.set_value(&format!("#exception-day-{zwaluwen}"), &near.to_string())
        .await?;
    b.click(&format!("#exception-extra-{zwaluwen}")).await?;
    b.submit(&format!("#exception-add-{zwaluwen}")).await?;
    assert!(
        b.exists(&format!(
            "#exceptions-{zwaluwen} li[data-date=\"{near}\"][data-kind=extra]"
        ))
        .await?,
        "{}",
        b.text().await?
    );
    assert!(!b.exists(&format!("#no-roster-{zwaluwen}")).await?);
    b.scroll_to(&format!("#roster-{dolfijnen}")).await?;
    std::fs::write(
        shots.join("portal-beheer-rooster-phone.png"),
        b.screenshot().await?,
    )?;

    // a closed day, and Lotte's vacation hours for this year and the next
    b.goto(&format!("{}/beheer/agenda", w.base)).await?;
    b.set_value("#closed-from", &closed.to_string()).await?;
    b.fill("#closed-name", "Studiedag").await?;
    b.submit("#closed-add").await?;
    assert!(
        b.text()
            .await?
            .contains("De sluitingsdagen zijn opgeslagen")
    );
    assert!(
        b.exists(&format!("#closed-days li[data-date=\"{closed}\"]"))
            .await?
    );
    for y in [today.year(), today.year() + 1] {
        b.fill(&format!("#hours-{lotte}-{y}"), "30").await?;
        b.submit(&format!("#hours-save-{lotte}-{y}")).await?;
        assert!(b.text().await?.contains("De vakantie-uren zijn opgeslagen"));
    }
    b.scroll_to("#vacation").await?;
    std::fs::write(
        shots.join("portal-beheer-agenda-phone.png"),
        b.screenshot().await?,
    )?;

    // the parent: more than a month ahead is guaranteed, hours down at once
    login(&b, &w.base, "fenna.ouder@example.nl", PASSWORD).await?;
    let agenda = format!("{}/agenda?kind={lotte}", w.base);
    let left = async |year: i32| -> anyhow::Result<String> {
        b.goto(&agenda).await?;
        Ok(b.client
            .find(fantoccini::Locator::Css(&format!("#vacation-left-{year}")))
            .await?
            .text()
            .await?)
    };
    assert_eq!(left(far.year()).await?, "nog 30 uur");
    b.set_value("#vacation-day", &far.to_string()).await?;
    b.click("#vacation-part-morning").await?;
    b.submit("#vacation-submit").await?;
    let text = b.text().await?;
    assert!(text.contains("Uw vakantieopvang is gegarandeerd"), "{text}");
    assert_eq!(left(far.year()).await?, "nog 25 uur");
    // the closed day cannot be asked for, in words
    b.set_value("#vacation-day", &closed.to_string()).await?;
    b.submit("#vacation-submit").await?;
    assert!(b.text().await?.contains("De locatie is die dag gesloten"));
    // within a month: waits for the location, the hours promised
    b.goto(&agenda).await?;
    b.set_value("#vacation-day", &near.to_string()).await?;
    b.click("#vacation-part-whole_day").await?;
    b.submit("#vacation-submit").await?;
    let text = b.text().await?;
    assert!(text.contains("Uw vakantieopvang is aangevraagd"), "{text}");
    assert!(text.contains("wacht op de locatie"), "{text}");
    b.scroll_to("#vacation").await?;
    std::fs::write(
        shots.join("portal-agenda-vakantie-phone.png"),
        b.screenshot().await?,
    )?;

    // the device expects Lotte on the guaranteed day, not yet on the other
    let lotte_on_device = || -> anyhow::Result<kring_protocol::Child> {
        Ok(store
            .children()?
            .into_iter()
            .find(|c| c.id == lotte)
            .expect("Lotte on the device"))
    };
    let start = Instant::now();
    within(start, 20.0, "the guaranteed day reaches the device", || {
        lotte_on_device().is_ok_and(|c| c.extra_days.contains(&far))
    })
    .await;
    let child = lotte_on_device()?;
    assert!(kring::view::expected_today(&child, far));
    assert!(!kring::view::expected_today(&child, near));

    // the manager sees the fit with the roster's count, and approves
    login(&b, &w.base, "petra@example.nl", PASSWORD).await?;
    b.goto(&format!("{}/beheer/aanvragen", w.base)).await?;
    let id = first_waiting_request(&b).await?;
    let card = b
        .client
        .find(fantoccini::Locator::Css(&format!("#request-{id}")))
        .await?
        .text()
        .await?;
    assert!(card.contains("Lotte"), "{card}");
    assert!(card.contains("vakantieopvang, 10 uur"), "{card}");
    assert!(card.contains("volgens het rooster"), "{card}");
    let fit = b
        .client
        .find(fantoccini::Locator::Css(&format!("#fit-{id}")))
        .await?
        .text()
        .await?;
    assert!(
        fit.starts_with("past: 2 kinderen, 1 leidster nodig, 1 ingeroosterd"),
        "{fit}"
    );
    b.scroll_to(&format!("#request-{id}")).await?;
    std::fs::write(
        shots.join("portal-beheer-vakantie-aanvraag-phone.png"),
        b.screenshot().await?,
    )?;
    let start = Instant::now();
    b.submit(&format!("#approve-{id}")).await?;
    assert!(b.text().await?.contains("De aanvraag is goedgekeurd"));
    let took = within(start, 20.0, "the approved day reaches the device", || {
        lotte_on_device().is_ok_and(|c| c.extra_days.contains(&near))
    })
    .await;
    assert!(kring::view::expected_today(&lotte_on_device()?, near));
    tracing::info!(?took, "approved vacation day on the device");
    let mail = wait_for_mail(&w, "Goedgekeurd: vakantieopvang", 10).await;
    assert!(mail.contains("Lotte"), "{mail}");

    // the parent's hours: the whole day taken at approval
    login(&b, &w.base, "fenna.ouder@example.nl", PASSWORD).await?;
    let expected = if near.year() == far.year() { 15 } else { 20 };
    assert_eq!(left(near.year()).await?, format!("nog {expected} uur"));
    b.goto(&format!("{agenda}&maand={}", near.format("%Y-%m")))
        .await?;
    assert!(b.exists(&format!("#day-{near}[data-state=extra]")).await?);
    b.close().await
}

/// News and Mijn locatie in a real browser: the manager fills in the
/// location, shares a staff photo with consent, posts news with a photo; a
/// parent reads it on a phone. Screenshots of `/nieuws` and `/mijn-locatie`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_posts_news_with_a_photo_and_a_parent_reads_it() -> anyhow::Result<()> {
    init_tracing();
    let w = World::start().await;
    let photo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("jpeg/testdata/baseline-restart.jpg")
        .canonicalize()?;
    let photo = photo.to_string_lossy().to_string();
    let b = Browser::start(1280, 900).await?;
    let file = async |css: &str| -> anyhow::Result<()> {
        b.client
            .find(fantoccini::Locator::Css(css))
            .await?
            .send_keys(&photo)
            .await?;
        Ok(())
    };

    login(&b, &w.base, "petra@example.nl", PASSWORD).await?;
    b.goto(&format!("{}/beheer/locatie", w.base)).await?;
    b.fill("textarea[name=address]", "Zonnebloemlaan 12, Utrecht")
        .await?;
    b.fill("textarea[name=opening_hours]", "ma-vr 7:30 - 18:30")
        .await?;
    b.fill("input[name=phone]", "030 123 45 67").await?;
    b.submit("button[id^=details-submit-]").await?;
    assert!(b.text().await?.contains("zijn opgeslagen"));
    b.fill("input[id^=page-title-]", "Ziek kind").await?;
    b.fill("textarea[id^=page-body-]", "Meld het voor 9 uur.")
        .await?;
    b.submit("button[id^=page-submit-]").await?;
    // Fatima (first by name) agreed to share her photo
    file("input[type=file][name=foto]").await?;
    b.click("input[name=toestemming]").await?;
    b.submit("button[id^=photo-submit-]").await?;
    assert!(
        b.text().await?.contains("De foto staat bij Ons team"),
        "{}",
        b.text().await?
    );

    b.goto(&format!("{}/beheer/nieuws/nieuw", w.base)).await?;
    b.fill("#title", "Zomerfeest op vrijdag").await?;
    b.fill(
        "#body",
        "Op vrijdag vieren we het zomerfeest in de tuin.\n\nNeem een petje mee.",
    )
    .await?;
    file("#foto").await?;
    b.submit("#news-submit").await?;
    assert!(
        b.text()
            .await?
            .contains("Het bericht staat in het ouderportaal"),
        "{}",
        b.text().await?
    );

    // Noor's parent reads it on a phone
    login(&b, &w.base, &w.parents.noor, PASSWORD).await?;
    b.client.set_window_size(390, 844).await?;
    b.goto(&format!("{}/nieuws", w.base)).await?;
    let text = b.text().await?;
    assert!(text.contains("Zomerfeest op vrijdag"), "{text}");
    assert!(b.exists("#news img").await?, "the photo's thumbnail");
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots)?;
    std::fs::write(
        shots.join("portal-nieuws-telefoon.png"),
        b.screenshot().await?,
    )?;
    b.click("a[id^=read-news-]").await?;
    assert!(b.exists("#news-photo").await?);
    assert!(b.text().await?.contains("Neem een petje mee."));
    b.goto(&format!("{}/mijn-locatie", w.base)).await?;
    let text = b.text().await?;
    assert!(
        text.contains("Zonnebloemlaan 12") && text.contains("Ziek kind"),
        "{text}"
    );
    assert!(b.exists("ul.team img").await?, "Fatima's shared photo");
    std::fs::write(
        shots.join("portal-mijn-locatie-telefoon.png"),
        b.screenshot().await?,
    )?;
    b.close().await?;
    Ok(())
}

/// The portal in English: a parent switches at the foot of the page, sees
/// English on Mijn kind and Toestemmingen, and gets English again after
/// signing in from a fresh browser (the choice is kept on the account, and
/// that browser asks for Dutch); then switches back to Dutch. A screenshot
/// of the English timeline at phone width.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_switches_the_portal_to_english_and_it_is_remembered() -> anyhow::Result<()> {
    init_tracing();
    let w = World::start().await;
    let lang = async |b: &Browser| -> anyhow::Result<String> {
        let html = b.client.find(fantoccini::Locator::Css("html")).await?;
        Ok(html.attr("lang").await?.unwrap_or_default())
    };
    let b = Browser::start(390, 844).await?;
    login(&b, &w.base, &w.parents.noor, PASSWORD).await?;
    b.goto(&format!("{}/mijn-kind", w.base)).await?;
    assert_eq!(lang(&b).await?, "nl", "Dutch by default");
    let text = b.text().await?;
    assert!(
        text.contains("Mijn kind") && text.contains("English"),
        "{text}"
    );

    // the switch: back on the same page, in English
    b.submit("#language-switch").await?;
    assert!(b.client.current_url().await?.path().ends_with("/mijn-kind"));
    assert_eq!(lang(&b).await?, "en");
    let text = b.text().await?;
    for english in [
        "My child",
        "Messages",
        "Report absence",
        "Sign out",
        "Nederlands",
    ] {
        assert!(text.contains(english), "{english:?} in {text}");
    }
    for dutch in ["Mijn kind", "Berichten", "Uitloggen"] {
        assert!(!text.contains(dutch), "no {dutch:?} in {text}");
    }
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots)?;
    std::fs::write(
        shots.join("portal-english-telefoon.png"),
        b.screenshot().await?,
    )?;
    b.goto(&format!("{}/toestemmingen", w.base)).await?;
    let text = b.text().await?;
    assert!(
        text.contains("May photos be taken of your child") && text.contains("Consents"),
        "{text}"
    );
    assert!(!text.contains("Toestemmingen"), "{text}");
    // the agenda too: English words, none of its Dutch ones
    b.goto(&format!("{}/agenda", w.base)).await?;
    let text = b.text().await?;
    assert!(text.contains("Calendar"), "{text}");
    assert!(b.exists("#tegoed").await?, "Noor's credit section");
    assert!(
        text.contains("credit") && text.contains("Ask for an extra day"),
        "{text}"
    );
    for dutch in ["Tegoed", "Aanvragen", "Volgende maand", "Extra dag"] {
        assert!(!text.contains(dutch), "no {dutch:?} in {text}");
    }
    std::fs::write(
        shots.join("portal-agenda-english-phone.png"),
        b.screenshot().await?,
    )?;
    b.close().await?;

    // a fresh browser (no cookies, asking for Dutch): the login page is
    // Dutch, and after signing in the account's choice wins
    let b = Browser::start(390, 844).await?;
    b.goto(&format!("{}/inloggen", w.base)).await?;
    assert_eq!(lang(&b).await?, "nl");
    login(&b, &w.base, &w.parents.noor, PASSWORD).await?;
    b.goto(&format!("{}/mijn-kind", w.base)).await?;
    assert_eq!(lang(&b).await?, "en", "remembered on the account");
    assert!(b.text().await?.contains("My child"));

    // and back to Dutch
    b.submit("#language-switch").await?;
    assert_eq!(lang(&b).await?, "nl");
    let text = b.text().await?;
    assert!(
        text.contains("Mijn kind") && !text.contains("My child"),
        "{text}"
    );
    // kept on the account too: signing in again stays Dutch
    login(&b, &w.base, &w.parents.noor, PASSWORD).await?;
    b.goto(&format!("{}/mijn-kind", w.base)).await?;
    assert_eq!(lang(&b).await?, "nl");
    b.close().await?;
    Ok(())
}

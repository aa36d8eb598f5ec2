//! Appliance updates end to end over real HTTP: bundles read and stored
//! (portal upload and admin CLI), the offer in the feed, the bundle download
//! with Range, the device's reports, the MQTT nudge of a rollout, and the
//! manager's pages (Apparaten, Updates) with "Opnieuw proberen".
#![allow(clippy::unwrap_used)]

use crate::common::portal::{Browser, Page, Portal};
use crate::common::{Device, Harness, sha256_hex};
use crate::doorbell;
use chrono::Utc;
use kring_protocol::update::{UPDATE_STATUS_PATH, bundle_path};
use kring_protocol::*;
use kring_server::releases::{self, BundleError};
use kring_server::store::{NewRelease, NewRollout, RolloutScope};
use std::path::{Path, PathBuf};
use std::time::Duration;

const OLD: &str = "kring-qemu-virt 1.0.0";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/updates")
        .join(name)
}

fn verity() -> Vec<u8> {
    std::fs::read(fixture("tiny-verity.raucb")).unwrap()
}

/// A device request with `Kring-Release` (None: a desktop kiosk, no header).
fn request(
    h: &Harness,
    dev: &Device,
    release: Option<&str>,
    path: &str,
) -> reqwest::RequestBuilder {
    let r = h.get(dev, path);
    match release {
        Some(v) => r.header(RELEASE_HEADER, v),
        None => r,
    }
}

async fn feed_offer(h: &Harness, dev: &Device, release: Option<&str>) -> Option<UpdateOffer> {
    let resp = request(h, dev, release, "/api/v1/feed")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json::<FeedPage>().await.unwrap().update
}

async fn report(
    h: &Harness,
    dev: &Device,
    release: ReleaseId,
    state: UpdateState,
    detail: Option<&str>,
) -> reqwest::Response {
    h.http
        .post(h.url(UPDATE_STATUS_PATH))
        .header(API_VERSION_HEADER, API_VERSION)
        .header(RELEASE_HEADER, OLD)
        .bearer_auth(&dev.secret)
        .json(&UpdateReport {
            release_id: release,
            state,
            detail: detail.map(str::to_string),
        })
        .send()
        .await
        .unwrap()
}

/// Adds the verity fixture as a release of `org` the way the CLI does.
async fn add_fixture(h: &Harness, org: OrganisationId) -> ReleaseId {
    let state = &h.server().state;
    let stored = releases::import_file(&state.data_dir, &fixture("tiny-verity.raucb")).unwrap();
    state
        .store
        .create_release(NewRelease {
            id: stored.id,
            org,
            version: stored.manifest.version,
            compatible: stored.manifest.compatible,
            sha256: stored.sha256,
            size: stored.size,
            file_name: stored.file_name,
            uploaded_at: Utc::now(),
            uploaded_by: None,
        })
        .await
        .unwrap()
        .id
}

async fn roll_out(h: &Harness, org: OrganisationId, release: ReleaseId, scope: RolloutScope) {
    let created = h
        .server()
        .state
        .store
        .create_rollout(
            org,
            NewRollout {
                release,
                scope,
                window: Some(InstallWindow::nightly()),
                created_at: Utc::now(),
                created_by: None,
                nudged: true,
            },
        )
        .await
        .unwrap();
    assert!(!created.devices.is_empty());
}

/// A second organisation with one group and an enrolled device in it.
async fn other_org_device(h: &Harness) -> (OrganisationId, Device) {
    let store = h.store();
    let org = store
        .create_organisation("elders".into(), "Elders".into())
        .await
        .unwrap();
    let loc = store.create_location(org, "Elders".into()).await.unwrap();
    let group = store
        .create_group(
            loc,
            "Egeltjes".into(),
            kring_server::org::GroupKind::Kdv,
            (0, 4),
        )
        .await
        .unwrap();
    (org, h.enroll_in(group).await)
}

#[test]
fn the_fixtures_manifests_and_a_truncated_bundle() {
    let m =
        releases::read_manifest(&mut std::fs::File::open(fixture("tiny-verity.raucb")).unwrap())
            .unwrap();
    assert_eq!(
        (m.compatible.as_str(), m.version.as_str()),
        ("kring-qemu-virt", "2.0.0")
    );
    let plain =
        releases::read_manifest(&mut std::fs::File::open(fixture("tiny-plain.raucb")).unwrap());
    let e = plain.unwrap_err();
    assert!(matches!(e, BundleError::NotVerity(_)), "{e:?}");
    assert_eq!(
        e.dutch(),
        "Dit is geen verity-bundel; maak hem met format=verity."
    );
    // a copy cut short (an interrupted transfer) is no bundle, and nothing is kept
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.raucb");
    let bytes = verity();
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let data = dir.path().join("data");
    let e = releases::import_file(&data, &cut).unwrap_err();
    assert!(matches!(e, BundleError::NotABundle(_)), "{e:?}");
    assert_eq!(
        std::fs::read_dir(data.join(releases::RELEASES_DIR))
            .unwrap()
            .count(),
        0,
        "the partial copy is removed"
    );
    let stored = releases::import_file(&data, &fixture("tiny-verity.raucb")).unwrap();
    assert_eq!(stored.sha256, sha256_hex(&bytes));
    assert_eq!(std::fs::read(data.join(&stored.file_name)).unwrap(), bytes);
}

#[tokio::test]
async fn the_feed_offers_the_release_and_the_bundle_downloads_in_ranges() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let bytes = verity();
    let release = add_fixture(&h, h.org).await;
    roll_out(&h, h.org, release, RolloutScope::Group(h.group)).await;
    assert_eq!(
        feed_offer(&h, &dev, None).await,
        None,
        "no Kring-Release yet"
    );
    let offer = feed_offer(&h, &dev, Some(OLD)).await.expect("an offer");
    assert_eq!(offer.release_id, release);
    assert_eq!(offer.version, "2.0.0");
    assert_eq!(offer.size, bytes.len() as u64);
    assert_eq!(offer.sha256, sha256_hex(&bytes));
    assert_eq!(offer.window, Some(InstallWindow::nightly()));
    assert_eq!(
        h.count(&format!(
            "SELECT COUNT(*) FROM devices WHERE release = '{OLD}'"
        ))
        .await,
        1,
        "the header is stored"
    );
    // every page carries it, also a later one
    let resp = request(&h, &dev, Some(OLD), "/api/v1/feed?since=999999")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.json::<FeedPage>().await.unwrap().update,
        Some(offer.clone())
    );

    let path = bundle_path(&release);
    let whole = request(&h, &dev, Some(OLD), &path).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.headers()["content-type"], "application/octet-stream");
    assert_eq!(whole.headers()["etag"], format!("\"{}\"", offer.sha256));
    assert_eq!(whole.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // the middle bytes
    let part = request(&h, &dev, Some(OLD), &path)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 100-199/{}", bytes.len())
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &bytes[100..200]);

    // a download cut after 10 000 bytes resumes where it stopped
    let first = request(&h, &dev, Some(OLD), &path)
        .header("range", "bytes=0-9999")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let rest = request(&h, &dev, Some(OLD), &path)
        .header("range", format!("bytes={}-", first.len()))
        .header("if-range", format!("\"{}\"", offer.sha256))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 206);
    let rest = rest.bytes().await.unwrap();
    let mut joined = first.to_vec();
    joined.extend_from_slice(&rest);
    assert_eq!(sha256_hex(&joined), offer.sha256);

    // past the end: 416; an If-Range of another file: the whole file
    let beyond = request(&h, &dev, Some(OLD), &path)
        .header("range", format!("bytes={}-", bytes.len() + 10))
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), 416);
    let stale = request(&h, &dev, Some(OLD), &path)
        .header("range", "bytes=0-9")
        .header("if-range", "\"0000\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.bytes().await.unwrap().len(), bytes.len());
    // the API version is still required
    let unversioned = h
        .http
        .get(h.url(&path))
        .bearer_auth(&dev.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(unversioned.status(), 400);
}

#[tokio::test]
async fn the_bundle_is_404_to_every_device_not_offered_it() {
    let h = Harness::start().await;
    let offered = h.enroll().await;
    let other_group = h.enroll_in(h.other_group).await;
    let (other_org, theirs) = other_org_device(&h).await;
    let release = add_fixture(&h, h.org).await;
    roll_out(&h, h.org, release, RolloutScope::Group(h.group)).await;
    let path = bundle_path(&release);
    let status = |dev: &Device, rel: Option<&'static str>, path: String| {
        let req = request(&h, dev, rel, &path);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(&offered, Some(OLD), path.clone()).await, 200);
    assert_eq!(
        status(&other_group, Some(OLD), path.clone()).await,
        404,
        "not covered"
    );
    assert_eq!(
        status(&theirs, Some(OLD), path.clone()).await,
        404,
        "another organisation"
    );
    assert_eq!(
        status(&offered, Some("kring-rpi4 1.0.0"), path.clone()).await,
        404,
        "another compatible"
    );
    assert_eq!(
        status(&offered, Some("kring-qemu-virt 2.0.0"), path.clone()).await,
        404,
        "runs it already"
    );
    assert_eq!(
        status(&offered, Some(OLD), bundle_path(&ReleaseId::new())).await,
        404
    );
    assert_eq!(
        status(
            &offered,
            Some(OLD),
            "/api/v1/releases/geen-id/bundle".into()
        )
        .await,
        404
    );
    // the other organisation's own rollout of its own copy does not open ours
    let theirs_release = add_fixture(&h, other_org).await;
    assert_ne!(theirs_release, release);
    roll_out(&h, other_org, theirs_release, RolloutScope::Organisation).await;
    assert_eq!(status(&theirs, Some(OLD), path.clone()).await, 404);
    assert_eq!(
        status(&theirs, Some(OLD), bundle_path(&theirs_release)).await,
        200
    );
    let no_auth = h
        .http
        .get(h.url(&path))
        .header(API_VERSION_HEADER, API_VERSION)
        .send()
        .await
        .unwrap();
    assert_eq!(no_auth.status(), 401);
}

#[tokio::test]
async fn reports_are_stored_once_and_checked() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let (other_org, theirs) = other_org_device(&h).await;
    let release = add_fixture(&h, h.org).await;
    let theirs_release = add_fixture(&h, other_org).await;
    roll_out(&h, h.org, release, RolloutScope::Device(dev.id)).await;
    roll_out(&h, other_org, theirs_release, RolloutScope::Organisation).await;

    let r = report(&h, &dev, release, UpdateState::Downloading, Some("12000")).await;
    assert_eq!(r.status(), 204);
    let row = async |h: &Harness| {
        let r = h
            .sql()
            .row(
                "SELECT state, detail, updated_at FROM device_updates",
                vec![],
            )
            .await
            .unwrap();
        let text = |i: usize| r[i].text().map(str::to_string);
        (text(0).unwrap(), text(1), text(2).unwrap())
    };
    let first = row(&h).await;
    assert_eq!(
        (first.0.as_str(), first.1.as_deref()),
        ("downloading", Some("12000"))
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let again = report(&h, &dev, release, UpdateState::Downloading, Some("12000")).await;
    assert_eq!(again.status(), 204);
    assert_eq!(row(&h).await, first, "the same report changes nothing");

    let long = "x".repeat(201);
    let r = report(&h, &dev, release, UpdateState::Failed, Some(&long)).await;
    assert_eq!(r.status(), 422);
    let e: ApiError = r.json().await.unwrap();
    assert_eq!(e.code, ErrorCode::ValidationFailed);
    assert_eq!(row(&h).await, first);
    let just = "é".repeat(200);
    assert_eq!(
        report(&h, &dev, release, UpdateState::Failed, Some(&just))
            .await
            .status(),
        204,
        "200 characters (not bytes) is fine"
    );
    // another organisation's release, and ours for their device: 404
    assert_eq!(
        report(&h, &dev, theirs_release, UpdateState::Downloading, None)
            .await
            .status(),
        404
    );
    assert_eq!(
        report(&h, &theirs, release, UpdateState::Downloading, None)
            .await
            .status(),
        404
    );
    assert_eq!(
        h.count("SELECT COUNT(*) FROM device_updates").await,
        1,
        "nothing stored for the refused reports"
    );
    let garbage = h
        .http
        .post(h.url(UPDATE_STATUS_PATH))
        .header(API_VERSION_HEADER, API_VERSION)
        .bearer_auth(&dev.secret)
        .header("content-type", "application/json")
        .body(r#"{"release_id":"x","state":"exploded"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);

    // after a retry the new release runs and says so: it is the device's release now
    let r = h
        .server()
        .state
        .store
        .retry_update(h.org, dev.id, release)
        .await
        .unwrap();
    assert!(r.is_some());
    assert_eq!(
        report(&h, &dev, release, UpdateState::Running, None)
            .await
            .status(),
        204
    );
    assert_eq!(
        h.count("SELECT COUNT(*) FROM devices WHERE release = 'kring-qemu-virt 2.0.0'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_rollout_in_the_portal_nudges_the_screens_it_covers() {
    let p = Portal::start().await;
    let (dev_a, _) = p.devices.as_ref().unwrap();
    let dev_b = p.h.enroll_in(p.h.other_group).await;
    for d in [dev_a, &dev_b] {
        request(&p.h, d, Some(OLD), "/api/v1/device")
            .send()
            .await
            .unwrap();
    }
    let (_ca, mut ea) = doorbell::connect(&p.h, dev_a).await;
    let (_cb, mut eb) = doorbell::connect(&p.h, &dev_b).await;
    let release = add_fixture(&p.h, p.h.org).await;
    let mut b = p.logged_in("test", "manager").await;
    b.get("/beheer/updates").await;
    let done = b
        .post(
            &format!("/beheer/updates/{release}/uitrollen"),
            &[
                ("scope", &format!("group:{}", p.h.group)),
                ("window", "direct"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(
        done.location.as_deref(),
        Some("/beheer/updates?ok=uitgerold&schermen=1")
    );
    let nudge = doorbell::next_nudge(&mut ea).await;
    assert!(nudge.seq >= 1);
    let quiet =
        tokio::time::timeout(Duration::from_millis(700), doorbell::next_nudge(&mut eb)).await;
    assert!(quiet.is_err(), "a screen of another group was nudged");
    // the nudge is a doorbell: the feed has the offer, to install at once
    let offer = feed_offer(&p.h, dev_a, Some(OLD)).await.expect("offer");
    assert_eq!((offer.release_id, offer.window), (release, None));
    assert_eq!(feed_offer(&p.h, &dev_b, Some(OLD)).await, None);
}

/// The real binary's admin commands, on the test server's data (its
/// directory, and its PostgreSQL database when it has one).
#[derive(Clone)]
struct Admin {
    dir: std::path::PathBuf,
    database: Option<String>,
}

impl Admin {
    fn of(h: &Harness) -> Self {
        Self {
            dir: h.dir.path().to_path_buf(),
            database: h.server().state.settings.database.url.clone(),
        }
    }

    fn command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kring-server"));
        c.arg("--data-dir").arg(&self.dir);
        if let Some(url) = &self.database {
            c.env("KRING__DATABASE__URL", url);
        }
        c.arg("admin");
        c
    }

    /// Runs `args`; returns stdout.
    fn run(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

#[tokio::test]
async fn the_cli_adds_lists_and_rolls_out_and_the_server_nudges() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    request(&h, &dev, Some(OLD), "/api/v1/device")
        .send()
        .await
        .unwrap();
    let (_c, mut events) = doorbell::connect(&h, &dev).await;
    let dir = h.dir.path().to_path_buf();
    let admin = Admin::of(&h);
    let file = fixture("tiny-verity.raucb");
    let file = file.to_str().unwrap();
    let (d, f) = (admin.clone(), file.to_string());
    let out = tokio::task::spawn_blocking(move || d.run(&["release", "add", &f, "--org", "test"]))
        .await
        .unwrap();
    let id: ReleaseId = out
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not an id alone: {out:?}"));
    let again = admin.run(&["release", "add", file, "--org", "Testopvang"]);
    assert_eq!(
        again.trim(),
        id.to_string(),
        "the same bundle is the same release"
    );
    assert_eq!(
        std::fs::read_dir(dir.join(releases::RELEASES_DIR))
            .unwrap()
            .count(),
        1,
        "one copy of the file"
    );
    let plain = admin
        .command()
        .args(["release", "add"])
        .arg(fixture("tiny-plain.raucb"))
        .args(["--org", "test"])
        .output()
        .unwrap();
    assert!(!plain.status.success());
    assert!(String::from_utf8_lossy(&plain.stderr).contains("not a verity bundle"));

    let list = admin.run(&["release", "list"]);
    let line = list
        .lines()
        .find(|l| l.starts_with(&id.to_string()))
        .expect(&list);
    assert!(line.contains("kring-qemu-virt 2.0.0"), "{line}");
    assert!(
        line.contains("offered=0") && line.contains("rolled_back=0"),
        "{line}"
    );

    let (d, i) = (admin.clone(), id.to_string());
    let out = tokio::task::spawn_blocking(move || {
        d.run(&["release", "rollout", &i, "--group", "dolfijnen", "--now"])
    })
    .await
    .unwrap();
    assert!(out.contains("naar 1 apparaten"), "{out}");
    // the running server's housekeeping (every 20 s) rings the device
    doorbell::next_nudge_within(&mut events, Duration::from_secs(30)).await;
    let offer = feed_offer(&h, &dev, Some(OLD)).await.expect("offer");
    assert_eq!((offer.release_id, offer.window), (id, None));
    let list = admin.run(&["release", "list"]);
    assert!(list.contains("offered=1"), "{list}");

    // the location's own hours instead of the default night
    let i = id.to_string();
    let out = admin.run(&["release", "rollout", &i, "--all", "--window", "20:00-06:00"]);
    assert!(out.contains("buiten openingstijden (20:00-06:00)"), "{out}");
    for bad in [
        &["--window", "25:00-06:00"][..],
        &["--window", "20:00-06:00", "--now"],
    ] {
        let refused = admin
            .command()
            .args(["release", "rollout", &i, "--all"])
            .args(bad)
            .output()
            .unwrap();
        assert!(!refused.status.success(), "{bad:?} was taken");
    }
}

/// The manager's upload form: `csrf` first, then the file (as a browser sends it).
async fn upload(b: &mut Browser, name: &str, bytes: Vec<u8>, csrf_first: bool) -> Page {
    let csrf = b.csrf.clone().unwrap_or_default();
    let file = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
    let form = if csrf_first {
        reqwest::multipart::Form::new()
            .text("csrf", csrf)
            .part("bundle", file)
    } else {
        reqwest::multipart::Form::new()
            .part("bundle", file)
            .text("csrf", csrf)
    };
    let req = b
        .client
        .post(format!("{}/beheer/updates", b.base))
        .multipart(form);
    b.send(req).await
}

fn stored_bundles(p: &Portal) -> usize {
    std::fs::read_dir(p.h.dir.path().join(releases::RELEASES_DIR))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn the_manager_uploads_rolls_out_and_retries() {
    let p = Portal::start().await;
    let (dev_a, _) = p.devices.as_ref().unwrap();
    let mut b = p.logged_in("test", "manager").await;
    let page = b.get("/beheer/updates").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text
            .contains("De server controleert de handtekening niet")
    );
    assert!(page.text.contains("id=\"releases-empty\""));

    // refused files: nothing is stored
    let plain = upload(
        &mut b,
        "plain.raucb",
        std::fs::read(fixture("tiny-plain.raucb")).unwrap(),
        true,
    )
    .await;
    assert_eq!(plain.status, 422);
    assert!(
        plain
            .text
            .contains("Dit is geen verity-bundel; maak hem met format=verity.")
    );
    let bytes = verity();
    let cut = upload(
        &mut b,
        "kapot.raucb",
        bytes[..bytes.len() / 2].to_vec(),
        true,
    )
    .await;
    assert_eq!(cut.status, 422);
    assert!(cut.text.contains("geen RAUC-bundel"), "{}", cut.text);
    // larger than the portal's 2 MiB forms: this route takes it (and refuses it as no bundle)
    let big = upload(&mut b, "groot.raucb", vec![7u8; 3 * 1024 * 1024], true).await;
    assert_eq!(big.status, 422, "{}", big.text);
    assert!(big.text.contains("geen RAUC-bundel"), "{}", big.text);
    let late_token = upload(&mut b, "v2.raucb", bytes.clone(), false).await;
    assert_eq!(late_token.status, 403);
    assert_eq!(stored_bundles(&p), 0);
    assert_eq!(p.h.count("SELECT COUNT(*) FROM releases").await, 0);

    let ok = upload(&mut b, "v2.raucb", bytes.clone(), true).await;
    assert_eq!(
        ok.location.as_deref(),
        Some("/beheer/updates?ok=toegevoegd"),
        "{}",
        ok.text
    );
    let again = upload(&mut b, "v2.raucb", bytes.clone(), true).await;
    assert_eq!(
        again.location.as_deref(),
        Some("/beheer/updates?ok=bestond")
    );
    assert_eq!(stored_bundles(&p), 1);
    let release: ReleaseId =
        p.h.sql()
            .strings("SELECT id FROM releases", vec![])
            .await
            .unwrap()
            .remove(0)
            .parse()
            .unwrap();
    let page = b.get("/beheer/updates").await;
    assert!(page.text.contains("Versie 2.0.0"));
    assert!(page.text.contains("Nog niet uitgerold."));

    // another organisation's manager sees none of it and cannot roll it out
    let mut other = p.logged_in("ander", "other_manager").await;
    assert!(
        !other
            .get("/beheer/updates")
            .await
            .text
            .contains("Versie 2.0.0")
    );
    let theirs = other
        .post(
            &format!("/beheer/updates/{release}/uitrollen"),
            &[("scope", "organisation"), ("window", "nacht")],
        )
        .await;
    assert_eq!(theirs.status, 404);

    // roll out to one screen, at night
    request(&p.h, dev_a, Some(OLD), "/api/v1/device")
        .send()
        .await
        .unwrap();
    b.get("/beheer/updates").await;
    let no_scope = b
        .post(
            &format!("/beheer/updates/{release}/uitrollen"),
            &[("window", "nacht")],
        )
        .await;
    assert_eq!(no_scope.status, 422);
    let scope = format!("device:{}", dev_a.id);
    let bad_time = b
        .post(
            &format!("/beheer/updates/{release}/uitrollen"),
            &[
                ("scope", &scope),
                ("window", "nacht"),
                ("from", "25:00"),
                ("until", "06:30"),
            ],
        )
        .await;
    assert_eq!(bad_time.status, 422);
    assert!(bad_time.text.contains("twee verschillende tijden"));
    assert!(feed_offer(&p.h, dev_a, Some(OLD)).await.is_none());
    // the location's own hours: they open at 6:00 and close at 20:00
    let done = b
        .post(
            &format!("/beheer/updates/{release}/uitrollen"),
            &[
                ("scope", &scope),
                ("window", "nacht"),
                ("from", "20:00"),
                ("until", "06:00"),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    let offer = feed_offer(&p.h, dev_a, Some(OLD)).await.expect("offer");
    assert_eq!(offer.window, InstallWindow::between("20:00", "06:00"));
    let devices = b.get("/beheer/apparaten").await;
    assert!(devices.text.contains(OLD), "the screen's release is shown");
    assert!(
        devices.text.contains("2.0.0: aangeboden"),
        "{}",
        devices.text
    );
    let updates = b.get("/beheer/updates").await;
    assert!(
        updates
            .text
            .contains("<span class=\"count\">1</span> aangeboden")
    );

    // it downloads, then rolls back: red, with the reason, and a retry button
    report(
        &p.h,
        dev_a,
        release,
        UpdateState::Downloading,
        Some("13000"),
    )
    .await;
    let devices = b.get("/beheer/apparaten").await;
    assert!(
        devices.text.contains("2.0.0: downloaden (13 van 26 kB)"),
        "{}",
        devices.text
    );
    assert!(!devices.text.contains("Opnieuw proberen"));
    let r = report(
        &p.h,
        dev_a,
        release,
        UpdateState::RolledBack,
        Some("kiosk startte niet"),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        feed_offer(&p.h, dev_a, Some(OLD)).await,
        None,
        "never offered again by itself"
    );
    let devices = b.get("/beheer/apparaten").await;
    assert!(
        devices
            .text
            .contains("2.0.0: teruggezet: kiosk startte niet")
    );
    assert!(devices.text.contains("update update-bad"));
    assert!(devices.text.contains(&format!("id=\"retry-{}\"", dev_a.id)));
    let updates = b.get("/beheer/updates").await;
    assert!(
        updates
            .text
            .contains("update-bad\" data-state=\"teruggezet\"><span class=\"count\">1</span>")
    );

    // "Opnieuw proberen": not for another organisation, then offered again
    let theirs = other
        .post(
            &format!("/beheer/apparaten/{}/opnieuw", dev_a.id),
            &[("release_id", &release.to_string())],
        )
        .await;
    assert_eq!(theirs.status, 404);
    b.get("/beheer/apparaten").await;
    let retry = b
        .post(
            &format!("/beheer/apparaten/{}/opnieuw", dev_a.id),
            &[("release_id", &release.to_string())],
        )
        .await;
    assert_eq!(
        retry.location.as_deref(),
        Some("/beheer/apparaten?ok=opnieuw")
    );
    assert_eq!(
        feed_offer(&p.h, dev_a, Some(OLD))
            .await
            .map(|o| o.release_id),
        Some(release)
    );
    let twice = b
        .post(
            &format!("/beheer/apparaten/{}/opnieuw", dev_a.id),
            &[("release_id", &release.to_string())],
        )
        .await;
    assert_eq!(twice.status, 404, "nothing left to retry");
}

/// Not a test: writes `/beheer/apparaten` and `/beheer/updates` with screens
/// in every state to `$KRING_UPDATE_PAGES` (default `target/update-pages/`)
/// as stand-alone HTML (the stylesheet inlined), for screenshots:
///
/// ```text
/// cargo test -p kring-server --test it updates::update_pages_for_screenshots -- --ignored
/// chromium --headless --screenshot=apparaten.png --window-size=1280,900 target/update-pages/apparaten.html
/// chromium --headless --screenshot=apparaten-phone.png --window-size=390,1600 target/update-pages/apparaten.html
/// ```
#[tokio::test]
#[ignore = "writes HTML pages for screenshots"]
async fn update_pages_for_screenshots() {
    let p = Portal::start().await;
    let (dev_a, _) = p.devices.as_ref().unwrap();
    let release = add_fixture(&p.h, p.h.org).await;
    let states: [(UpdateState, Option<&str>); 8] = [
        (UpdateState::Downloading, Some("12000")),
        (UpdateState::Downloaded, None),
        (UpdateState::Installing, None),
        (UpdateState::Installed, None),
        (UpdateState::Running, None),
        (UpdateState::Good, None),
        (
            UpdateState::RolledBack,
            Some("de kiosk startte niet binnen 5 minuten"),
        ),
        (UpdateState::Failed, Some("handtekening ongeldig")),
    ];
    let mut extra = Vec::new();
    for _ in states {
        extra.push(p.h.enroll().await);
    }
    for s in std::iter::once(dev_a).chain(&extra) {
        request(&p.h, s, Some(OLD), "/api/v1/device")
            .send()
            .await
            .unwrap();
    }
    roll_out(&p.h, p.h.org, release, RolloutScope::Group(p.h.group)).await;
    for (s, (state, detail)) in extra.iter().zip(states) {
        assert_eq!(report(&p.h, s, release, state, detail).await.status(), 204);
    }
    let dir = std::env::var_os("KRING_UPDATE_PAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/update-pages"));
    std::fs::create_dir_all(&dir).unwrap();
    let css =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("static/portal.css"))
            .unwrap();
    let mut b = p.logged_in("test", "manager").await;
    for (page, file) in [
        ("/beheer/apparaten", "apparaten.html"),
        ("/beheer/updates", "updates.html"),
    ] {
        let html = b.get(page).await.text.replace(
            "<link rel=\"stylesheet\" href=\"/static/portal.css\">",
            &format!("<style>{css}</style>"),
        );
        std::fs::write(dir.join(file), html).unwrap();
    }
}

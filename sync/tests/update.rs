//! The device's side of an update against a real in-process kring-server
//! (issue 13): the offer in the feed, the bundle downloaded in Range
//! requests through a proxy that loses answers, the installation asked for
//! only when the screen is quiet, the root-side installer (with a stand-in
//! for `rauc`), and the reports the server shows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::proxy::Fault;
use common::{World, test_config, wait_for};
use kring_sync::update::{GOOD_FILE, INSTALL_REQUEST, install, sha256_file};
use kring_sync::{EngineConfig, SystemClock};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const BUNDLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../server/tests/fixtures/updates/tiny-verity.raucb"
);

fn appliance_config() -> EngineConfig {
    EngineConfig {
        release: Some("kring-qemu-virt 1.0.0".into()),
        ..test_config()
    }
}

/// A stand-in for `rauc` that says what RAUC says, and exits with `code`.
fn fake_rauc(dir: &Path, says: &str, code: i32) -> PathBuf {
    let path = dir.join("fake-rauc");
    std::fs::write(
        &path,
        format!("#!/bin/sh\nprintf '%s\\n' \"{says}\"\nexit {code}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

fn state(w: &World) -> Vec<String> {
    w.strings("SELECT state FROM device_updates")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offered_release_downloads_through_cuts_installs_when_quiet_and_ends_good() {
    let w = World::start().await;
    let (release, sha) = w.release_for_group(Path::new(BUNDLE)).await;
    let d = w.device(Arc::new(SystemClock), appliance_config()).await;
    let mut offer = d.handle.offer();
    tokio::time::timeout(Duration::from_secs(20), offer.wait_for(Option::is_some))
        .await
        .expect("the feed offers the release")
        .unwrap();
    assert_eq!(offer.borrow().as_ref().map(|o| o.release_id), Some(release));
    // The bundle is 26 KB: 4 range requests of 8 KiB; two answers are lost.
    w.proxy.push(Some("GET"), Fault::DropResponse);
    w.proxy.push(Some("GET"), Fault::DropResponse);
    let u = d.start_updater("1.0.0", |c| {
        c.chunk = 8 * 1024;
        c.max_rate = None;
        c.tick = Duration::from_millis(100);
    });
    wait_for(30, || state(&w) == ["downloaded"]).await;
    assert_eq!(w.proxy.pending_faults(), 0, "both cuts happened");
    let bundle = u.dir.join(format!("{sha}.raucb"));
    assert_eq!(
        sha256_file(&bundle).unwrap(),
        sha,
        "resumed into one whole file"
    );
    // The screen is in use: no installation.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!u.dir.join(INSTALL_REQUEST).exists(), "not while in use");
    u.quiet.send_replace(true);
    wait_for(10, || u.dir.join(INSTALL_REQUEST).exists()).await;
    wait_for(10, || state(&w) == ["installing"]).await;

    // kring-update (root): the digest again, then rauc.
    let rauc = fake_rauc(d.dir.path(), "Installing `x` succeeded", 0);
    let result = install(&u.dir, &rauc).unwrap().expect("a request");
    assert!(result.ok, "{result:?}");
    assert!(!u.dir.join(INSTALL_REQUEST).exists(), "taken");
    wait_for(10, || state(&w) == ["installed"]).await;

    // The device restarts into 2.0.0, which kring-confirm marks good.
    u.task.abort();
    let again = d.start_updater("2.0.0", |c| c.tick = Duration::from_millis(100));
    wait_for(10, || state(&w) == ["running"]).await;
    std::fs::write(again.dir.join(GOOD_FILE), "B 2.0.0\n").unwrap();
    wait_for(10, || state(&w) == ["good"]).await;
    wait_for(10, || !bundle.exists()).await;
    assert_eq!(
        w.strings("SELECT release FROM devices"),
        ["kring-qemu-virt 2.0.0"],
        "the server knows what runs"
    );
    again.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_rauc_refuses_is_reported_with_its_reason_and_not_offered_again() {
    let w = World::start().await;
    let (release, _) = w.release_for_group(Path::new(BUNDLE)).await;
    let d = w.device(Arc::new(SystemClock), appliance_config()).await;
    let u = d.start_updater("1.0.0", |c| {
        c.chunk = 8 * 1024;
        c.max_rate = None;
        c.tick = Duration::from_millis(100);
    });
    u.quiet.send_replace(true);
    wait_for(30, || u.dir.join(INSTALL_REQUEST).exists()).await;
    let rauc = fake_rauc(
        d.dir.path(),
        "LastError: Failed to check bundle: signature verification failed: Verify error: unable to get local issuer certificate",
        1,
    );
    let result = install(&u.dir, &rauc).unwrap().expect("a request");
    assert!(!result.ok);
    wait_for(10, || state(&w) == ["failed"]).await;
    let detail = w.strings("SELECT detail FROM device_updates");
    assert!(
        detail[0].contains("signature verification failed"),
        "{detail:?}"
    );
    // The server offers it no more; the device would not take it again anyway.
    d.handle.pull_now();
    let mut offer = d.handle.offer();
    tokio::time::timeout(Duration::from_secs(10), offer.wait_for(Option::is_none))
        .await
        .expect("the offer ends")
        .unwrap();
    assert_eq!(
        w.strings("SELECT release_id FROM device_updates"),
        [release.to_string()]
    );
    u.task.abort();
}

//! An update on a slow link (issue 13): how long the kiosk's download of a
//! bundle takes on a 2 Mbit/s link, and what it does to a photo that is
//! saved meanwhile. A real kring-server in this process, the sync engine and
//! the updater, and between them the tests' proxy limiting the link (both
//! directions together, as on Wi-Fi).
//!
//! `cargo run -p kring-sync --example update_link [MBIT] [MIB]` (default 2
//! Mbit/s, an 8 MiB bundle); prints a table. The figure for a whole bundle
//! follows from the measured rate (docs/performance.md).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use chrono::Utc;
use common::{World, jpeg, test_config};
use kring_protocol::Audience;
use kring_sync::{EngineConfig, NewPhoto, SystemClock};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../server/tests/fixtures/updates/tiny-verity.raucb"
);

/// A bundle of about `mib` MiB the server takes: squashfs's magic, random
/// bytes, then the fixture (the server reads the manifest from the file's
/// tail; a device's RAUC would refuse it, which this measurement never asks).
fn big_bundle(dir: &std::path::Path, mib: usize) -> std::path::PathBuf {
    let mut bytes = Vec::with_capacity(mib << 20);
    bytes.extend_from_slice(b"hsqs");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while bytes.len() < mib << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.extend_from_slice(&std::fs::read(FIXTURE).unwrap());
    let path = dir.join("big.raucb");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn state(w: &World) -> Option<(String, Option<String>)> {
    let s = w.strings("SELECT state FROM device_updates");
    let d = w.strings("SELECT coalesce(detail, '') FROM device_updates");
    s.first().map(|s| (s.clone(), d.first().cloned()))
}

/// Saves a camera-sized photo and returns how long it took to reach the server.
async fn photo_time(w: &World, d: &common::Device, seed: u32) -> Duration {
    let photo = jpeg(1600, 1200, seed);
    let before = w.count("SELECT COUNT(*) FROM photos");
    let t = Instant::now();
    d.store
        .save_photo(
            NewPhoto {
                jpeg: &photo,
                thumbnail: None,
                tags: vec![],
                no_children_recognizable: true,
                audience: Audience::StaffOnly,
                staff: None,
            },
            Utc::now(),
        )
        .unwrap();
    d.handle.wake();
    while w.count("SELECT COUNT(*) FROM photos") == before {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mbit: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2.0);
    let mib: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(8);
    let rate = (mbit * 1e6 / 8.0) as u64;
    let w = World::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let bundle = big_bundle(tmp.path(), mib);
    let size = std::fs::metadata(&bundle).unwrap().len();
    let photo_bytes = jpeg(1600, 1200, 1).len();
    let d = w
        .device(
            Arc::new(SystemClock),
            EngineConfig {
                release: Some("kring-qemu-virt 1.0.0".into()),
                chunk_size: 256 * 1024,
                ..test_config()
            },
        )
        .await;
    w.proxy.set_rate(rate);

    // A photo on the link alone.
    let alone = photo_time(&w, &d, 1).await;

    // The download alone.
    w.release_for_group(&bundle).await;
    d.handle.pull_now();
    let mut offer = d.handle.offer();
    offer.wait_for(Option::is_some).await.unwrap();
    let mut max_rate = None;
    let started = Instant::now();
    let u = d.start_updater("1.0.0", |c| {
        c.tick = Duration::from_millis(200);
        max_rate = c.max_rate;
    });
    // Halfway, a photo is saved.
    while state(&w)
        .and_then(|(_, d)| d)
        .and_then(|d| d.parse::<u64>().ok())
        .unwrap_or(0)
        < size / 3
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let during = photo_time(&w, &d, 2).await;
    while state(&w).is_none_or(|(s, _)| s != "downloaded") {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let download = started.elapsed();
    u.task.abort();

    let link_secs = size as f64 / rate as f64;
    println!(
        "update on a slow link (loopback, the tests' proxy; {mbit} Mbit/s both ways together)"
    );
    println!();
    println!("| what | figure |");
    println!("|---|---|");
    println!("| bundle | {:.1} MiB |", size as f64 / 1048576.0);
    println!(
        "| updater's own cap | {} |",
        max_rate.map_or("none".into(), |r| format!("{} KB/s", r / 1000))
    );
    println!(
        "| download, a photo saved a third of the way | {:.1} s ({:.2} Mbit/s; the link alone: {:.1} s) |",
        download.as_secs_f64(),
        size as f64 * 8.0 / download.as_secs_f64() / 1e6,
        link_secs
    );
    println!(
        "| a {:.1} MB photo to the server, link idle | {:.1} s |",
        photo_bytes as f64 / 1e6,
        alone.as_secs_f64()
    );
    println!(
        "| the same photo saved during the download | {:.1} s |",
        during.as_secs_f64()
    );
    let per_mib = download.as_secs_f64() / (size as f64 / 1048576.0);
    for bundle_mib in [164.0, 204.0] {
        println!(
            "| a {bundle_mib:.0} MiB bundle at this rate | {:.0} min |",
            per_mib * bundle_mib / 60.0
        );
    }
}

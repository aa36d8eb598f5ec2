//! The generator against the debug kring-server: 20 devices and their parents
//! for 20 seconds on SQLite, with short periods so every kind of request runs.

use clap::Parser;
use kring_load::Config;
use std::path::PathBuf;
use std::process::Command;

/// The debug `kring-server`: `KRING_SERVER_BIN` when set (`cargo xtask test`
/// points it at the binary its workspace build made), else built here (a
/// no-op when it is up to date) and its path as cargo reports it. Built
/// together with this package, so that features unify as in this test's own
/// build and no dependency is rebuilt.
fn server_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("KRING_SERVER_BIN") {
        return PathBuf::from(bin);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(cargo)
        .args([
            "build",
            "-p",
            "kring-server",
            "-p",
            "kring-load",
            "--bin",
            "kring-server",
            "--message-format=json",
        ])
        .current_dir(&workspace)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building kring-server failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == "kring-server")
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the kring-server executable")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_devices_for_twenty_seconds() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("info")
        .try_init();
    let bin = server_bin();
    let config = Config::try_parse_from([
        "kring-load",
        "--server-bin",
        bin.to_str().expect("a UTF-8 path"),
        "--backend",
        "sqlite",
        "--devices",
        "20",
        "--seconds",
        "20",
        "--feed-every",
        "10",
        "--push-every",
        "5",
        "--photo-every",
        "20",
        "--timeline-every",
        "5",
        "--message-every",
        "4",
    ])
    .expect("valid arguments");
    let report = kring_load::run(config).await.expect("the run completes");
    let table = report.markdown();
    let m = &report.measured;
    let d = &m.delivery;
    assert!(!report.server.died, "{table}");
    assert_eq!(report.errors_total, 0, "{table}");
    assert_eq!(m.devices_ready, 20, "{table}");
    assert!(m.feed_ms.count >= 20, "{table}");
    assert!(d.messages > 0, "{table}");
    assert_eq!(d.messages_reached_a_device, d.messages, "{table}");
    assert_eq!(d.pairs_not_delivered_60s, 0, "{table}");
    assert!(d.per_pair_ms.count > 0, "{table}");
    assert_eq!(m.login_ms.count, report.parents as u64, "{table}");
    assert!(m.push_ms.count > 0 && m.timeline_ms.count > 0, "{table}");
    assert!(m.photo_push_ms.count > 0, "{table}");
    assert!(report.server.peak_rss_mib > 0.0, "{table}");
    eprintln!("{table}");
}

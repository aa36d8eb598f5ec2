//! The architecture invariants of docs/ARCHITECTURE.md that a manifest can show.

use std::path::Path;

fn deps_of(krate: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(krate)
        .join("Cargo.toml");
    let text = std::fs::read_to_string(&path).expect("manifest readable");
    let mut names = Vec::new();
    let mut in_deps = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && let Some((name, _)) = line.split_once(['=', '.']) {
            names.push(name.trim().to_string());
        }
    }
    names
}

#[test]
fn protocol_has_no_io_dependencies() {
    let deps = deps_of("protocol");
    assert!(deps.contains(&"serde".to_string()), "parsed: {deps:?}");
    for io in [
        "tokio", "reqwest", "axum", "rusqlite", "rumqttc", "rmqtt", "hyper", "image",
    ] {
        assert!(!deps.iter().any(|d| d == io), "protocol depends on {io}");
    }
}

#[test]
fn server_never_depends_on_device_crates() {
    let deps = deps_of("server");
    assert!(
        deps.contains(&"kring-protocol".to_string()),
        "parsed: {deps:?}"
    );
    for device in ["kring", "kring-sync", "kring-hardware", "slint"] {
        assert!(
            !deps.iter().any(|d| d == device),
            "server depends on {device}"
        );
    }
}

#[test]
fn device_crates_do_not_depend_on_ui_or_server() {
    for krate in ["sync", "hardware"] {
        let deps = deps_of(krate);
        for bad in ["kring", "kring-server", "slint"] {
            assert!(!deps.iter().any(|d| d == bad), "{krate} depends on {bad}");
        }
    }
}

//! `cargo xtask`: the project's own tasks, so a fresh machine with only the
//! Rust toolchain can run the demo and the tests with one command each.
//!
//! - `cargo xtask deps`  installs the system packages and the Python test peer
//! - `cargo xtask test`  deps, then the whole test suite
//! - `cargo xtask demo`  deps, then the central server with demo data and a kiosk window
//! - `cargo xtask lint`  cargo fmt --check, clippy with warnings denied, and a
//!   `cargo check` of the device build (feature `device`, linuxkms)
//! - `cargo xtask device`, `image`, `appliance-test`: the appliance (`appliance.rs`)
//! - `cargo xtask buildroot-check`: the Buildroot recipe's checks (`buildroot.rs`)
#![allow(clippy::print_stdout)] // a CLI talks to its user

mod appliance;
mod buildroot;
mod update;

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian packages the build and the tests need.
const APT_PACKAGES: &[&str] = &[
    // C toolchain for -sys crates (bundled SQLite, ring)
    "build-essential",
    "pkg-config",
    // the Slint kiosk (winit/X11 and linuxkms backends) and nokhwa (bindgen)
    "libinput-dev",
    "libudev-dev",
    "libxkbcommon-dev",
    "libfontconfig-dev",
    "libclang-dev",
    // Slint draws text with system fonts (fontconfig); without one it cannot start
    "fontconfig",
    "fonts-dejavu-core",
    // the whole-system test drives the portal in a real browser over WebDriver
    "chromium",
    "chromium-driver",
    // the PostgreSQL backend's tests start their own server from Debian's binaries
    "postgresql",
    // the external-broker tests start Mosquitto 2 with its dynamic-security plugin
    "mosquitto",
    // the Python peer tus client used by the upload tests
    "python3",
    "python3-venv",
    "python3-pip",
];

/// PyPI packages for test peers, installed in a venv under target/.
const PY_PACKAGES: &[&str] = &["tuspy==1.1.0"];

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    let rest: Vec<String> = std::env::args().skip(2).collect();
    match task.as_str() {
        "deps" => deps(),
        "test" => {
            deps()?;
            test(&rest)
        }
        "demo" => {
            deps()?;
            demo(&rest)
        }
        "lint" => lint(),
        "buildroot-check" => buildroot::check(&root()),
        "device" => appliance::device_build().map(|_| ()),
        "appliance-test" => appliance::appliance_test(),
        "power-cut" => appliance::power_cut(&rest),
        "bundle" => update::bundle(&update::BundleSpec::parse(&rest)?).map(|_| ()),
        "update-test" => appliance::update_test(&rest),
        "image" => {
            let targets = if rest.is_empty() {
                vec![appliance::Target::Rpi4, appliance::Target::QemuVirt]
            } else {
                rest.iter()
                    .map(|t| appliance::Target::parse(t))
                    .collect::<anyhow::Result<Vec<_>>>()?
            };
            appliance::image(&targets).map(|_| ())
        }
        _ => {
            println!(
                "usage: cargo xtask <deps|test|demo|lint|device|image|bundle|appliance-test|update-test|power-cut|buildroot-check> [args]"
            );
            println!("  deps  install system packages and the Python test peer");
            println!("  test  deps, then run every test of the workspace");
            println!("  demo  deps, then run the central server with demo data and a kiosk window");
            println!("  lint  cargo fmt --check, clippy -D warnings, check of the device build");
            println!("  device  cross-build the kiosk for the Pi (aarch64, profile device)");
            println!("  image [rpi4] [qemu-virt]  the SD-card images (docs/appliance.md)");
            println!(
                "  appliance-test  build the qemu-virt image, boot it under QEMU and drive it"
            );
            println!(
                "  power-cut [CUTS] [SEED]  the qemu-virt image, its power cut CUTS times (default 10)"
            );
            println!(
                "  bundle [--version V] [--kiosk-exits] [--foreign-key]  a signed RAUC bundle of the last root file system"
            );
            println!(
                "  update-test  the qemu-virt image updated from the server: v2 good, v3 rolled back (docs/appliance.md)"
            );
            println!("  buildroot-check  the Buildroot recipe's defconfig and check-package");
            if task.is_empty() || task == "help" || task == "--help" {
                Ok(())
            } else {
                bail!("unknown task {task:?}")
            }
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where the test peers' Python lives (the tests look here too).
fn venv() -> PathBuf {
    root().join("target").join("test-venv")
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    println!("+ {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn apt(args: &[&str]) -> anyhow::Result<()> {
    let mut cmd = if is_root() {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.arg("apt-get");
        c
    };
    cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
    run(&mut cmd)
}

fn missing_packages<'a>(list: &[&'a str]) -> Vec<&'a str> {
    list.iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(false)
        })
        .collect()
}

/// Installs the packages of `list` that are missing (after `apt-get update`).
fn apt_install(list: &[&str]) -> anyhow::Result<()> {
    let missing = missing_packages(list);
    if missing.is_empty() {
        return Ok(());
    }
    apt(&["update"])?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(missing);
    apt(&args)
}

fn deps() -> anyhow::Result<()> {
    apt_install(APT_PACKAGES)?;
    let python = venv().join("bin").join("python");
    let ready = python.exists()
        && Command::new(&python)
            .args(["-c", "import tusclient"])
            .status()
            .is_ok_and(|s| s.success());
    if !ready {
        run(Command::new("python3").args(["-m", "venv"]).arg(venv()))?;
        let mut pip = Command::new(&python);
        pip.args(["-m", "pip", "install", "--quiet"])
            .args(PY_PACKAGES);
        run(&mut pip)?;
    }
    Ok(())
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn test(rest: &[String]) -> anyhow::Result<()> {
    // The sync soak, small: the engine SIGKILLed and crashed at its crash
    // points against a real server; it fails on any lost, duplicated or corrupt item.
    run(cargo().args([
        "run",
        "--quiet",
        "-p",
        "kring-sync",
        "--features",
        "crash-points",
        "--example",
        "soak",
        "--",
        "--items",
        "200",
        "--kills",
        "30",
    ]))?;
    let mut cmd = cargo();
    cmd.args(["test", "--workspace"]).args(rest);
    cmd.env("KRING_TEST_PYTHON", venv().join("bin").join("python"));
    // the load generator's smoke test runs the server binary this build makes
    // (for the server's own tests) instead of building it again
    cmd.env(
        "KRING_SERVER_BIN",
        root().join("target").join("debug").join("kring-server"),
    );
    run(&mut cmd)?;
    // The server's whole-system suites again on PostgreSQL and an S3 bucket
    // (a PostgreSQL server of their own in a temporary directory, s3s-fs in the
    // test process). `--workspace` keeps the feature set of the run above, so
    // these are the same test binaries, not a second build; `it` also
    // selects the hardware crate's small `it` suite. The storage contract
    // already ran on both engines above.
    let mut cmd = cargo();
    cmd.args(["test", "--workspace", "--test", "it", "--test", "system"])
        .args(rest);
    cmd.env("KRING_TEST_PYTHON", venv().join("bin").join("python"));
    cmd.env("KRING_TEST_BACKEND", "postgres");
    run(&mut cmd)
}

fn demo(rest: &[String]) -> anyhow::Result<()> {
    run(cargo().args(["build", "-p", "kring-server", "-p", "kring"]))?;
    let bin = root().join("target").join("debug");
    let server_dir = root().join("kring-data-demo").join("server");
    let kiosk_dir = root().join("kring-data-demo").join("kiosk");
    // the central server with the demo organisation (loaded once), in the background
    let mut server = Command::new(bin.join("kring-server"))
        .arg("--data-dir")
        .arg(&server_dir)
        .arg("demo")
        .spawn()
        .context("starting kring-server")?;
    let result = (|| -> anyhow::Result<()> {
        let base = "http://127.0.0.1:8080";
        let mut up = false;
        for _ in 0..100 {
            if std::net::TcpStream::connect("127.0.0.1:8080").is_ok() {
                up = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        if !up {
            bail!("kring-server did not come up on {base}");
        }
        // a fresh koppelcode for the kiosk's group
        let out = Command::new(bin.join("kring-server"))
            .arg("--data-dir")
            .arg(&server_dir)
            .args(["admin", "enroll-code", "--group", "Dolfijnen"])
            .output()
            .context("making an enrollment code")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let code = text
            .lines()
            .find_map(|l| l.strip_prefix("Koppelcode: "))
            .and_then(|l| l.split_whitespace().next())
            .context("no koppelcode printed")?
            .to_string();
        println!();
        println!(
            "Ouderportaal en beheer: http://zonnebloem.localhost:8080/  (demo-logins hierboven)"
        );
        println!("  ouder:           anne.devries@example.nl / welkom-ouder");
        println!("  locatiemanager:  petra.vandam@example.nl / welkom-beheer");
        println!(
            "  e-mails (wachtwoord vergeten, notificaties): {}",
            server_dir.join("mail").display()
        );
        println!(
            "Kiosk: groep Dolfijnen, synthetische camera; ontgrendel met Anouk de Wit, PIN 1234"
        );
        let mut kiosk = Command::new(bin.join("kring"));
        kiosk
            .arg("--data-dir")
            .arg(&kiosk_dir)
            .args([
                "--server",
                base,
                "--camera",
                "synthetic",
                "--enroll-code",
                &code,
            ])
            .args(rest);
        run(&mut kiosk)
    })();
    let _ = server.kill();
    let _ = server.wait();
    result
}

fn lint() -> anyhow::Result<()> {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // the device build (linuxkms, no X or Wayland) must keep compiling
    run(cargo().args([
        "check",
        "-p",
        "kring",
        "--no-default-features",
        "--features",
        "device",
    ]))
}

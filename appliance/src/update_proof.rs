//! `appliance-test update`: the proof of issue 13 under QEMU. The qemu-virt
//! image (release 1.0.0) boots and is enrolled; then, from the server:
//!
//! 1. v2 is published for that device: it downloads, installs into slot B,
//!    restarts into it and marks it good; the server shows "good"; the
//!    enrollment and `/data` are intact;
//! 2. a bundle signed with another organisation's key is refused, and the
//!    boot order is unchanged;
//! 3. v3 (its kiosk exits at start): its download is cut off (the guest's
//!    link goes down) and resumes; QEMU is killed in the middle of the
//!    installation and the device comes back on v2; the installation runs
//!    again, the device boots v3, v3 never becomes healthy, the boot counter
//!    brings v2 back by itself, and the server shows "rolled back".
//!
//! Figures: bundle size, download and install time, the time the screen is
//! away during the switch.

use super::{
    Console, EXTRA_CARD_BYTES, Guard, MARK_FRAME, MARK_RESET, MARK_USERSPACE, Server,
    boot_qemu_extra, server_and_card,
};
use crate::qemu::{Agent, Qmp};
use anyhow::{Context, bail, ensure};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Added to the kernel command line: kring-confirm waits this long for a
/// healthy kiosk (15 minutes on a real screen).
const CONFIRM_TIMEOUT: &str = "kring.confirm_timeout=150";
/// The demo organisation (server/src/demo.rs).
const ORG: &str = "zonnebloem";

#[derive(Debug)]
pub struct Args {
    pub image: PathBuf,
    pub server_bin: PathBuf,
    pub work: PathBuf,
    pub v2: PathBuf,
    pub v3: PathBuf,
    pub foreign: PathBuf,
}

/// One running guest.
struct Guest {
    qemu: Guard,
    qmp: Qmp,
    agent: Agent,
    console: Console,
    serial: PathBuf,
}

struct Proof<'a> {
    a: &'a Args,
    server: Server,
    disk: PathBuf,
    boots: u32,
    figures: Vec<(String, String)>,
}

impl Proof<'_> {
    fn figure(&mut self, name: &str, value: String) {
        println!("FIGURE {name}: {value}");
        self.figures.push((name.to_string(), value));
    }

    /// Starts QEMU on the card (again), with a console file of its own.
    fn boot(&mut self) -> anyhow::Result<Guest> {
        self.boots += 1;
        let serial = format!("serial-{:02}.log", self.boots);
        let (qemu, started) = boot_qemu_extra(
            &self.a.work,
            &self.disk,
            &self.server,
            CONFIRM_TIMEOUT,
            &serial,
        )?;
        let qmp = Qmp::connect(&self.a.work.join("qmp.sock"), Duration::from_secs(20))?;
        Ok(Guest {
            qemu,
            qmp,
            agent: Agent::new(&self.a.work.join("qga.sock")),
            console: Console::new(&self.a.work.join(&serial), started),
            serial: self.a.work.join(serial),
        })
    }

    fn device_id(&self) -> anyhow::Result<String> {
        let devices = self.server.devices()?;
        ensure!(devices.len() == 1, "not one device: {devices:?}");
        devices[0]
            .split_whitespace()
            .next()
            .map(str::to_string)
            .context("no device id")
    }

    /// The device's update state for a release, read from the server's database.
    fn state(&self, release: &str) -> anyhow::Result<Option<(String, Option<String>)>> {
        let conn = rusqlite::Connection::open_with_flags(
            self.server.data.join("kring.sqlite3"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let mut st =
            conn.prepare("SELECT state, detail FROM device_updates WHERE release_id = ?1")?;
        let mut rows = st.query([release])?;
        Ok(match rows.next()? {
            Some(r) => Some((r.get(0)?, r.get(1)?)),
            None => None,
        })
    }

    /// Waits until the device reports one of `states` for `release`.
    /// (The console is read meanwhile, so its lines carry their times.)
    fn wait_state(
        &self,
        console: &mut Console,
        release: &str,
        states: &[&str],
        within: Duration,
    ) -> anyhow::Result<(String, Option<String>)> {
        let start = Instant::now();
        let mut last = None;
        loop {
            console.poll();
            let now = self.state(release)?;
            if now != last {
                println!(
                    "  release {release}: {now:?} after {:.0} s",
                    start.elapsed().as_secs_f64()
                );
                last = now.clone();
            }
            if let Some((s, d)) = &now
                && states.contains(&s.as_str())
            {
                return Ok((s.clone(), d.clone()));
            }
            ensure!(
                start.elapsed() < within,
                "release {release}: not {states:?} within {within:?} (last: {now:?})"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Adds a bundle to the server and offers it to the device at once.
    fn publish(&self, bundle: &Path, device: &str) -> anyhow::Result<String> {
        let id = self
            .server
            .admin(&["release", "add", &bundle.to_string_lossy(), "--org", ORG])?
            .trim()
            .to_string();
        ensure!(!id.is_empty(), "release add printed no id");
        self.server
            .admin(&["release", "rollout", &id, "--device", device, "--now"])?;
        println!(
            "published {} as release {id} for device {device}",
            bundle.display()
        );
        Ok(id)
    }
}

/// `/data` after a switch: the store, the settings, and no store moved aside
/// (`apart-gezet`, what a release does with a store it cannot use).
fn data_intact(g: &mut Guest) -> anyhow::Result<()> {
    let data = g.agent.ok("ls /data/kring")?;
    ensure!(
        data.contains("device.sqlite3")
            && data.contains("settings.toml")
            && !data.contains("apart-gezet"),
        "/data/kring: {data}"
    );
    Ok(())
}

/// U-Boot's boot state as Linux sees it.
fn boot_env(agent: &mut Agent) -> anyhow::Result<String> {
    agent.ok("fw_printenv BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT")
}

fn booted_slot(agent: &mut Agent) -> anyhow::Result<String> {
    let cmdline = agent.ok("cat /proc/cmdline")?;
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("rauc.slot="))
        .map(str::to_string)
        .context("no rauc.slot= on the kernel command line")
}

/// Waits for the guest's kiosk and agent after a boot; returns the slot.
fn up(g: &mut Guest, frames_before: usize, within: Duration) -> anyhow::Result<String> {
    g.console.wait_for(MARK_FRAME, frames_before, within)?;
    g.agent.wait(Duration::from_secs(120))?;
    booted_slot(&mut g.agent)
}

/// Waits until kring-confirm marked the booted slot good for `version`.
fn confirmed(g: &mut Guest, slot: &str, version: &str) -> anyhow::Result<()> {
    let want = format!("{slot} {version}");
    let start = Instant::now();
    loop {
        let good = g
            .agent
            .sh("cat /data/kring/update/good 2>/dev/null")?
            .stdout;
        if good.trim() == want {
            return Ok(());
        }
        ensure!(
            start.elapsed() < Duration::from_secs(300),
            "slot {slot} was not marked good for {version} (good file: {good:?})"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

pub fn run(a: &Args) -> anyhow::Result<()> {
    let total = Instant::now();
    std::fs::create_dir_all(&a.work)?;
    let (server, _, disk) = server_and_card(&a.server_bin, &a.image, &a.work, EXTRA_CARD_BYTES)?;
    let mut p = Proof {
        a,
        server,
        disk,
        boots: 0,
        figures: Vec::new(),
    };
    for (name, b) in [("v2", &a.v2), ("v3", &a.v3), ("foreign", &a.foreign)] {
        let size = std::fs::metadata(b)
            .with_context(|| format!("{}", b.display()))?
            .len();
        p.figure(
            &format!("bundle {name} size"),
            format!("{:.1} MiB", size as f64 / 1048576.0),
        );
    }

    // 1. v1 boots, is enrolled and confirmed in slot A
    let mut g = p.boot()?;
    g.console
        .wait_for(MARK_USERSPACE, 0, Duration::from_secs(300))?;
    let slot = up(&mut g, 0, Duration::from_secs(600))?;
    ensure!(slot == "A", "v1 booted from slot {slot}");
    confirmed(&mut g, "A", "1.0.0")?;
    let env = boot_env(&mut g.agent)?;
    println!("v1 running, slot A marked good:\n{env}");
    ensure!(
        env.contains("BOOT_A_LEFT=3"),
        "mark-good gave no attempts back: {env}"
    );
    let device = p.device_id()?;
    let rauc = g.agent.ok("rauc status")?;
    println!("{rauc}");

    // 2. v2, published for this device: download, install, restart, good
    let offered = Instant::now();
    let v2 = p.publish(&a.v2, &device)?;
    p.wait_state(
        &mut g.console,
        &v2,
        &["downloaded", "installing", "installed"],
        Duration::from_secs(900),
    )?;
    let downloaded = offered.elapsed();
    p.wait_state(
        &mut g.console,
        &v2,
        &["installed", "running", "good"],
        Duration::from_secs(1800),
    )?;
    let installed = offered.elapsed();
    let reset = g
        .console
        .wait_for(MARK_RESET, 0, Duration::from_secs(300))?;
    // The machine restarts inside the same QEMU: the console goes on.
    let slot = up(&mut g, 1, Duration::from_secs(600))?;
    let when = |g: &Guest, what: &dyn Fn(&str) -> bool, nth: usize| {
        g.console
            .lines
            .iter()
            .filter(|(_, l)| what(l))
            .nth(nth)
            .map(|(t, _)| *t)
    };
    let frame = when(&g, &|l| l.contains(MARK_FRAME), 1).context("no second frame")?;
    // (systemd shows no "Starting" for units started after boot; the kiosk
    // logs its request to the console)
    let update_started = when(&g, &|l| l.contains("install requested"), 0)
        .context("the kiosk never asked for the installation")?;
    let kiosk_stopped = when(
        &g,
        &|l| l.contains("Stopping") && l.contains("kring-kiosk"),
        0,
    )
    .context("the kiosk never stopped")?;
    ensure!(slot == "B", "v2 should run from slot B, runs from {slot}");
    confirmed(&mut g, "B", "2.0.0")?;
    p.wait_state(&mut g.console, &v2, &["good"], Duration::from_secs(300))?;
    p.figure(
        "v2: offered to downloaded and checked (TCG guest, loopback)",
        format!("{:.0} s", downloaded.as_secs_f64()),
    );
    p.figure(
        "v2: offered to installed, restarted and reporting (host view)",
        format!("{:.0} s", installed.as_secs_f64()),
    );
    p.figure(
        "v2: rauc install (the kiosk asking for it to the kiosk stopping for the restart)",
        format!("{:.0} s", (kiosk_stopped - update_started).as_secs_f64()),
    );
    p.figure(
        "v2: screen away (the kiosk stopping to the new release's first frame)",
        format!(
            "{:.0} s, of which the reset to the first frame {:.0} s",
            (frame - kiosk_stopped).as_secs_f64(),
            (frame - reset).as_secs_f64()
        ),
    );
    let env = boot_env(&mut g.agent)?;
    ensure!(
        env.contains("BOOT_ORDER=B A") && env.contains("BOOT_B_LEFT=3"),
        "after v2: {env}"
    );
    ensure!(p.device_id()? == device, "the device enrolled again");
    data_intact(&mut g)?;
    println!("v2 running from slot B, marked good; the server says good");

    // 3. a bundle signed by another organisation is refused
    let foreign = p.publish(&a.foreign, &device)?;
    let (state, detail) = p.wait_state(
        &mut g.console,
        &foreign,
        &["failed", "installed"],
        Duration::from_secs(900),
    )?;
    ensure!(state == "failed", "the foreign bundle was installed");
    let detail = detail.unwrap_or_default();
    ensure!(
        detail.contains("signature") || detail.contains("handtekening"),
        "refused, but why? {detail}"
    );
    let env_after = boot_env(&mut g.agent)?;
    ensure!(
        env_after == env,
        "the boot order changed: {env} -> {env_after}"
    );
    p.figure("foreign bundle refused with", detail.clone());

    // 4. v3: the download is cut off and resumes
    let v3 = p.publish(&a.v3, &device)?;
    let start = Instant::now();
    loop {
        if let Some((s, d)) = p.state(&v3)?
            && s == "downloading"
            && d.and_then(|d| d.parse::<u64>().ok()).unwrap_or(0) > 0
        {
            break;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(600),
            "v3 download never started"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    g.qmp
        .execute("set_link", serde_json::json!({ "name": "n0", "up": false }))?;
    println!("link down in the middle of the download");
    // Longer than a range request may take (the client's RANGE_TIMEOUT, 30 s):
    // a shorter outage is bridged by TCP itself and cuts nothing.
    std::thread::sleep(Duration::from_secs(45));
    g.qmp
        .execute("set_link", serde_json::json!({ "name": "n0", "up": true }))?;
    println!("link up again");
    // 5. ...and QEMU is killed while RAUC writes slot A
    p.wait_state(
        &mut g.console,
        &v3,
        &["installing"],
        Duration::from_secs(900),
    )?;
    // The cut request failed with bytes already on the card (have > 0), and
    // the download went on from there to a whole, checked file.
    let paused = g
        .agent
        .ok("journalctl -u kring-kiosk --no-pager | grep 'download paused' || true")?;
    ensure!(
        paused
            .lines()
            .any(|l| l.contains("have=") && !l.contains("have=0")),
        "the download was never cut off in the middle: {paused}"
    );
    println!(
        "cut off and resumed: {}",
        paused.lines().next().unwrap_or_default()
    );
    let writing = Instant::now();
    loop {
        let busy = g.agent.sh("pgrep -f 'rauc install' >/dev/null")?.code == 0;
        if busy && writing.elapsed() > Duration::from_secs(15) {
            break;
        }
        ensure!(
            writing.elapsed() < Duration::from_secs(300),
            "rauc install never ran long enough to be cut"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(g.qmp);
    drop(g.agent);
    drop(g.qemu); // SIGKILL: the plug is pulled
    println!("QEMU killed during the installation of v3");
    println!("console of the cut boot: {}", g.serial.display());

    // back on v2; the updater tries the installation again by itself
    let mut g = p.boot()?;
    let slot = up(&mut g, 0, Duration::from_secs(600))?;
    ensure!(
        slot == "B",
        "after the cut the device runs slot {slot}, not v2's B"
    );
    let frames_v2 = g.console.count(MARK_FRAME);
    println!("after the pulled plug: v2 from slot B");

    // 6. v3 installs, its kiosk exits, the counter brings v2 back
    // (the installation starts again by itself, then the device restarts into v3)
    g.console
        .wait_for(MARK_RESET, 0, Duration::from_secs(1800))?;
    let fell_back = Instant::now();
    let mut boots = 0;
    let slot = loop {
        // Each restart inside the same QEMU: U-Boot prints its boot state.
        g.console
            .wait_for(MARK_RESET, boots, Duration::from_secs(900))?;
        boots += 1;
        g.console
            .wait_for("kring: booting slot", boots, Duration::from_secs(300))?;
        let line = g
            .console
            .lines
            .iter()
            .filter(|(_, l)| l.contains("kring: booting slot"))
            .nth(boots)
            .map(|(_, l)| l.clone())
            .unwrap_or_default();
        println!("  {line}");
        if line.contains("booting slot B") {
            break "B";
        }
        ensure!(boots <= 5, "no fallback after {boots} boots");
    };
    let _ = up(&mut g, frames_v2, Duration::from_secs(600))?;
    ensure!(slot == "B");
    let (_, why) = p.wait_state(
        &mut g.console,
        &v3,
        &["rolled_back"],
        Duration::from_secs(600),
    )?;
    p.figure(
        "v3: installed to back on v2 by itself",
        format!(
            "{:.0} s, {} boots",
            fell_back.elapsed().as_secs_f64(),
            boots
        ),
    );
    println!("rolled back: {}", why.unwrap_or_default());
    confirmed(&mut g, "B", "2.0.0")?;
    ensure!(p.device_id()? == device, "the device enrolled again");
    data_intact(&mut g)?;
    drop(g);
    p.figure(
        "whole proof",
        format!("{:.0} s", total.elapsed().as_secs_f64()),
    );
    println!();
    println!("appliance-test update: passed");
    for (k, v) in &p.figures {
        println!("  {k}: {v}");
    }
    if p.boots == 0 {
        bail!("no boot");
    }
    Ok(())
}

//! `appliance-test`: the proof that the appliance works. It takes the
//! `qemu-virt` SD-card image (built by `cargo xtask image qemu-virt`), starts
//! kring-server with the demo organisation on loopback, writes a koppelcode
//! into the image's provisioning file, boots the image in
//! `qemu-system-aarch64 -M virt` (TCG) and drives it like a person would:
//! through the screen (QMP pointer events and screenshots) and, for what a
//! person cannot do, as root through the QEMU guest agent.
//!
//! The guest's network is QEMU user networking with `restrict=on`: it reaches
//! nothing but the two forwarded ports (HTTP and MQTT of the server on the
//! host's loopback) at 10.0.2.100.
//!
//! Run it with `cargo xtask appliance-test` (see docs/appliance.md).
#![allow(clippy::print_stdout)] // a test harness reports on stdout

mod nbd;
mod portal;
mod power_cut;
mod qemu;
mod update_proof;

use anyhow::{Context, bail, ensure};
use qemu::{Agent, Qmp};
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The test's "SD card" is this much bigger than the image.
const EXTRA_CARD_BYTES: u64 = 1 << 30;

/// Where the server appears inside the guest.
const GUEST_SERVER_IP: &str = "10.0.2.100";

#[derive(Debug)]
struct Args {
    image: PathBuf,
    server_bin: PathBuf,
    work: PathBuf,
    screenshots: PathBuf,
}

fn args() -> anyhow::Result<Args> {
    let a: Vec<String> = std::env::args().collect();
    let get = |name: &str| -> Option<PathBuf> {
        a.iter()
            .position(|x| x == name)
            .and_then(|i| a.get(i + 1))
            .map(PathBuf::from)
    };
    Ok(Args {
        image: get("--image").context("--image PATH (qemu-virt sdcard.img)")?,
        server_bin: get("--server-bin").context("--server-bin PATH (kring-server)")?,
        work: get("--work").context("--work DIR")?,
        screenshots: get("--screenshots").context("--screenshots DIR")?,
    })
}

/// `appliance-test power-cut --image P --server-bin P --work D [--cuts N] [--seed S] [--keep P]`.
fn power_cut_args() -> anyhow::Result<power_cut::Args> {
    let a: Vec<String> = std::env::args().collect();
    let get = |name: &str| -> Option<String> {
        a.iter()
            .position(|x| x == name)
            .and_then(|i| a.get(i + 1))
            .cloned()
    };
    let seed = match get("--seed") {
        Some(s) => s.parse().context("--seed N")?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    };
    Ok(power_cut::Args {
        image: get("--image").context("--image PATH")?.into(),
        server_bin: get("--server-bin").context("--server-bin PATH")?.into(),
        work: get("--work").context("--work DIR")?.into(),
        cuts: get("--cuts")
            .map_or(Ok(10), |c| c.parse())
            .context("--cuts N")?,
        seed,
        keep: get("--keep")
            .map_or(Ok(0.5), |k| k.parse())
            .context("--keep P")?,
    })
}

/// `appliance-test update --image P --server-bin P --work D --bundle-v2 F --bundle-v3 F --bundle-foreign F`.
fn update_args() -> anyhow::Result<update_proof::Args> {
    let a: Vec<String> = std::env::args().collect();
    let get = |name: &str| -> anyhow::Result<PathBuf> {
        a.iter()
            .position(|x| x == name)
            .and_then(|i| a.get(i + 1))
            .map(PathBuf::from)
            .with_context(|| format!("{name} PATH"))
    };
    Ok(update_proof::Args {
        image: get("--image")?,
        server_bin: get("--server-bin")?,
        work: get("--work")?,
        v2: get("--bundle-v2")?,
        v3: get("--bundle-v3")?,
        foreign: get("--bundle-foreign")?,
    })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Kills the child when dropped (the server, QEMU).
struct Guard(Child, &'static str);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        println!("stopped {}", self.1);
    }
}

/// The central server with the demo organisation, on loopback ports.
struct Server {
    bin: PathBuf,
    data: PathBuf,
    http: u16,
    mqtt: u16,
    _child: Guard,
}

impl Server {
    fn start(bin: &Path, data: &Path) -> anyhow::Result<Self> {
        let http = free_port()?;
        let mqtt = free_port()?;
        let log = std::fs::File::create(data.with_extension("log"))?;
        std::fs::create_dir_all(data)?;
        let child = Command::new(bin)
            .arg("--data-dir")
            .arg(data)
            .arg("demo")
            .env("KRING__HTTP__LISTEN", format!("127.0.0.1:{http}"))
            .env("KRING__MQTT__LISTEN", format!("127.0.0.1:{mqtt}"))
            .env(
                "KRING__HTTP__PUBLIC_URL",
                format!("http://127.0.0.1:{http}"),
            )
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting kring-server")?;
        let guard = Guard(child, "kring-server");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", http)).is_err()
            || std::net::TcpStream::connect(("127.0.0.1", mqtt)).is_err()
        {
            ensure!(
                start.elapsed() < Duration::from_secs(60),
                "kring-server did not come up"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        println!("kring-server: http 127.0.0.1:{http}, mqtt 127.0.0.1:{mqtt}");
        Ok(Self {
            bin: bin.to_path_buf(),
            data: data.to_path_buf(),
            http,
            mqtt,
            _child: guard,
        })
    }

    fn admin(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(&self.bin)
            .arg("--data-dir")
            .arg(&self.data)
            .arg("admin")
            .args(args)
            .output()
            .context("kring-server admin")?;
        ensure!(
            out.status.success(),
            "kring-server admin {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn enroll_code(&self) -> anyhow::Result<String> {
        let text = self.admin(&["enroll-code", "--group", "Dolfijnen"])?;
        text.lines()
            .find_map(|l| l.strip_prefix("Koppelcode: "))
            .and_then(|l| l.split_whitespace().next())
            .map(str::to_string)
            .context("no koppelcode printed")
    }

    /// The device lines of `admin devices`.
    fn devices(&self) -> anyhow::Result<Vec<String>> {
        Ok(self
            .admin(&["devices"])?
            .lines()
            .filter(|l| l.contains("Dolfijnen"))
            .map(str::to_string)
            .collect())
    }
}

/// The serial console, read as it grows; each line is stamped with the time
/// since QEMU started.
struct Console {
    path: PathBuf,
    read: usize,
    lines: Vec<(Duration, String)>,
    started: Instant,
    partial: String,
}

impl Console {
    fn new(path: &Path, started: Instant) -> Self {
        Self {
            path: path.to_path_buf(),
            read: 0,
            lines: Vec::new(),
            started,
            partial: String::new(),
        }
    }

    fn poll(&mut self) {
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return;
        };
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).is_err() || buf.len() <= self.read {
            return;
        }
        let now = self.started.elapsed();
        self.partial
            .push_str(&String::from_utf8_lossy(&buf[self.read..]));
        self.read = buf.len();
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=i).collect();
            self.lines.push((now, line.trim_end().to_string()));
        }
    }

    fn count(&mut self, needle: &str) -> usize {
        self.poll();
        self.lines
            .iter()
            .filter(|(_, l)| l.contains(needle))
            .count()
    }

    /// Waits until `needle` has appeared more than `after` times; returns when
    /// (since QEMU started) it appeared the last time.
    fn wait_for(
        &mut self,
        needle: &str,
        after: usize,
        within: Duration,
    ) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            self.poll();
            let hits: Vec<Duration> = self
                .lines
                .iter()
                .filter(|(_, l)| l.contains(needle))
                .map(|(t, _)| *t)
                .collect();
            if hits.len() > after {
                return Ok(hits[after]);
            }
            if start.elapsed() > within {
                let tail: Vec<&str> = self
                    .lines
                    .iter()
                    .rev()
                    .take(40)
                    .map(|(_, l)| l.as_str())
                    .collect();
                bail!(
                    "{needle:?} did not appear on the console within {within:?}; last lines:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A fresh `kring-server demo` under `work/server` (an earlier run's data
/// removed), a koppelcode for Dolfijnen, and a card that carries it
/// ([`prepare_card`]).
fn server_and_card(
    server_bin: &Path,
    image: &Path,
    work: &Path,
    extra: u64,
) -> anyhow::Result<(Server, String, PathBuf)> {
    let server_data = work.join("server");
    if server_data.exists() {
        std::fs::remove_dir_all(&server_data)?;
    }
    let server = Server::start(server_bin, &server_data)?;
    let code = server.enroll_code()?;
    let disk = prepare_card(image, work, &server, &code, extra)?;
    Ok((server, code, disk))
}

/// Copies the image to a card `extra` bytes bigger (first boot grows the data
/// partition into it) and writes the koppelcode into its `kring.txt`. QEMU
/// boots it as a Pi boots its card: U-Boot (`-bios`) runs the image's boot
/// script, which picks the root slot and loads that slot's kernel.
fn prepare_card(
    image: &Path,
    work: &Path,
    server: &Server,
    code: &str,
    extra: u64,
) -> anyhow::Result<PathBuf> {
    let disk = work.join("disk.img");
    let st = Command::new("cp")
        .args(["--sparse=always"])
        .arg(image)
        .arg(&disk)
        .status()?;
    ensure!(st.success(), "copying the image");
    // a card bigger than the image: first boot grows the data partition into it
    let f = std::fs::OpenOptions::new().write(true).open(&disk)?;
    f.set_len(f.metadata()?.len() + extra)?;
    drop(f);
    let boot_at = format!("{}@@{}", disk.display(), partition_offset(&disk, 1)?);
    let provision = work.join("kring.txt");
    std::fs::write(
        &provision,
        format!(
            "# written by appliance-test\r\nserver = \"http://{GUEST_SERVER_IP}:{}\"\r\nkoppelcode = \"{code}\"\r\nnaam = \"Groepsscherm Dolfijnen\"\r\n",
            server.http
        ),
    )?;
    mtools(
        &["mcopy", "-o", &provision.to_string_lossy(), "::kring.txt"],
        &boot_at,
    )?;
    // a camera-sized photo for the soak's bytes-per-photo figure
    let photo = work.join("bench-photo.jpg");
    std::fs::write(&photo, power_cut::camera_like_jpeg())?;
    mtools(&["mmd", "-D", "o", "::bench"], &boot_at)?;
    mtools(
        &["mcopy", "-o", &photo.to_string_lossy(), "::bench/photo.jpg"],
        &boot_at,
    )?;
    Ok(disk)
}

/// Byte offset of partition `n` (1-based) in a disk image.
fn partition_offset(img: &Path, n: usize) -> anyhow::Result<u64> {
    let out = Command::new("sfdisk")
        .arg("-J")
        .arg(img)
        .output()
        .context("sfdisk")?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).context("sfdisk -J")?;
    let start = v["partitiontable"]["partitions"][n - 1]["start"]
        .as_u64()
        .context("no such partition")?;
    Ok(start * 512)
}

fn mtools(args: &[&str], img_at: &str) -> anyhow::Result<()> {
    let st = Command::new(args[0])
        .arg("-i")
        .arg(img_at)
        .args(&args[1..])
        .env("MTOOLS_SKIP_CHECK", "1")
        .status()
        .with_context(|| args[0].to_string())?;
    ensure!(st.success(), "{args:?} failed");
    Ok(())
}

const MARK_USERSPACE: &str = "Run /init as init process";
const MARK_FRAME: &str = "kiosk: first frame on the screen";
/// The kernel's last words before QEMU resets the machine.
const MARK_RESET: &str = "reboot: Restarting system";

/// Screen positions at 1280×800 (see docs/screenshots/appliance-*.png).
mod at {
    pub const WAKE: (u32, u32) = (640, 400);
    pub const STAFF_ANOUK: (u32, u32) = (173, 140);
    pub const PIN: [(u32, u32); 10] = [
        (1088, 686), // 0
        (972, 113),
        (1088, 113),
        (1204, 113),
        (972, 304),
        (1088, 304),
        (1204, 304),
        (972, 495),
        (1088, 495),
        (1204, 495),
    ];
    pub const PIN_OK: (u32, u32) = (1204, 686);
    /// After the PIN of someone not yet on the group (docs/screenshots/1c-inchecken-1280x800-nl.png).
    pub const CHECK_IN: (u32, u32) = (640, 153);
    pub const NAV_PHOTO: (u32, u32) = (75, 186);
    pub const SHUTTER: (u32, u32) = (1180, 428);
    pub const CHIP_SEM: (u32, u32) = (762, 281);
    pub const SAVE: (u32, u32) = (942, 752);
}

struct Run {
    qmp: Qmp,
    agent: Agent,
    console: Console,
    shots: PathBuf,
    figures: Vec<(String, String)>,
}

impl Run {
    fn shot(&mut self, name: &str) -> anyhow::Result<PathBuf> {
        let p = self.shots.join(format!("appliance-{name}.png"));
        self.qmp.screenshot(&p)?;
        println!("screenshot {}", p.display());
        Ok(p)
    }

    fn tap(&mut self, (x, y): (u32, u32)) -> anyhow::Result<()> {
        self.qmp.tap(x, y)?;
        std::thread::sleep(Duration::from_millis(700));
        Ok(())
    }

    fn figure(&mut self, name: &str, value: String) {
        println!("FIGURE {name}: {value}");
        self.figures.push((name.to_string(), value));
    }
}

/// U-Boot for QEMU's `virt` machine, from Debian's `u-boot-qemu`.
const UBOOT: &str = "/usr/lib/u-boot/qemu_arm64/u-boot.bin";

/// Sets what the boot script adds to the kernel command line: the line
/// `kring_extra=...` of `kring-boot.env` on the card's boot partition. Only
/// while QEMU is not running (the card's file is then the truth).
fn set_boot_extra(disk: &Path, work: &Path, extra: &str) -> anyhow::Result<()> {
    let boot_at = format!("{}@@{}", disk.display(), partition_offset(disk, 1)?);
    let file = work.join("kring-boot.env");
    std::fs::write(&file, format!("kring_extra={extra}\n"))?;
    mtools(
        &["mcopy", "-o", &file.to_string_lossy(), "::kring-boot.env"],
        &boot_at,
    )
}

/// What differs between the appliance test's boot and the power-cut soak's.
struct BootSpec {
    /// QEMU arguments that attach the card as `virtio-blk`.
    disk_args: Vec<String>,
    /// The card's image file (for the boot partition's `kring-boot.env`).
    disk_file: PathBuf,
    /// Added to the kernel command line by the image's boot script.
    extra_cmdline: String,
    /// The serial console's file in the work directory.
    serial: String,
}

fn boot_qemu(work: &Path, disk: &Path, server: &Server) -> anyhow::Result<(Guard, Instant)> {
    boot_qemu_extra(work, disk, server, "", "serial.log")
}

/// Boots the card file `disk` with `extra` on the kernel command line and
/// the console in `serial` (the update proof's boots).
fn boot_qemu_extra(
    work: &Path,
    disk: &Path,
    server: &Server,
    extra: &str,
    serial: &str,
) -> anyhow::Result<(Guard, Instant)> {
    let spec = BootSpec {
        disk_args: vec![
            "-drive".into(),
            format!(
                "file={},format=raw,if=none,id=disk0,cache=writeback",
                disk.display()
            ),
            "-device".into(),
            "virtio-blk-pci,drive=disk0".into(),
        ],
        disk_file: disk.to_path_buf(),
        extra_cmdline: extra.into(),
        serial: serial.into(),
    };
    boot_qemu_with(work, &spec, server)
}

fn boot_qemu_with(
    work: &Path,
    spec: &BootSpec,
    server: &Server,
) -> anyhow::Result<(Guard, Instant)> {
    set_boot_extra(&spec.disk_file, work, &spec.extra_cmdline)?;
    for s in ["qmp.sock", "qga.sock", spec.serial.as_str()] {
        let _ = std::fs::remove_file(work.join(s));
    }
    let fwd = |port: u16| {
        format!("guestfwd=tcp:{GUEST_SERVER_IP}:{port}-cmd:socat - TCP:127.0.0.1:{port}")
    };
    let netdev = format!(
        "user,id=n0,restrict=on,net=10.0.2.0/24,{},{}",
        fwd(server.http),
        fwd(server.mqtt)
    );
    let log = std::fs::File::create(work.join("qemu.log"))?;
    let started = Instant::now();
    let child = Command::new("qemu-system-aarch64")
        .args([
            "-M",
            "virt",
            "-cpu",
            "cortex-a72",
            "-smp",
            "2",
            "-m",
            "1024",
        ])
        .args(["-accel", "tcg,thread=multi"])
        .args(["-bios", UBOOT])
        .args(&spec.disk_args)
        .args(["-device", "virtio-gpu-pci,xres=1280,yres=800"])
        .args([
            "-device",
            "virtio-keyboard-pci",
            "-device",
            "virtio-tablet-pci",
        ])
        .arg("-netdev")
        .arg(netdev)
        .args(["-device", "virtio-net-pci,netdev=n0,romfile="])
        .args(["-device", "virtio-rng-pci"])
        // a hardware watchdog for systemd (RuntimeWatchdogSec), as the Pi has
        .args(["-device", "i6300esb"])
        .arg("-chardev")
        .arg(format!(
            "socket,id=qga0,path={},server=on,wait=off",
            work.join("qga.sock").display()
        ))
        .args(["-device", "virtio-serial-pci"])
        .args([
            "-device",
            "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
        ])
        .arg("-qmp")
        .arg(format!(
            "unix:{},server=on,wait=off",
            work.join("qmp.sock").display()
        ))
        .arg("-serial")
        .arg(format!("file:{}", work.join(&spec.serial).display()))
        .args(["-display", "none", "-monitor", "none", "-parallel", "none"])
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .context("starting qemu-system-aarch64")?;
    Ok((Guard(child, "qemu"), started))
}

/// The kiosk's memory ("Rss: N kB Pss: N kB" from smaps_rollup), in kB.
fn memory(run: &mut Run) -> anyhow::Result<(u64, u64)> {
    let text = run
        .agent
        .ok("grep -E '^(Rss|Pss):' /proc/$(pidof kring)/smaps_rollup")?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Ok((
        field("Rss:").context("no Rss")?,
        field("Pss:").context("no Pss")?,
    ))
}

/// CPU share of one core the kiosk used over `secs` (utime + stime).
fn cpu_share(run: &mut Run, secs: u64) -> anyhow::Result<f64> {
    let script = format!(
        "p=$(pidof kring); a=$(cut -d' ' -f14,15 /proc/$p/stat); sleep {secs}; b=$(cut -d' ' -f14,15 /proc/$p/stat); echo $a $b $(getconf CLK_TCK)"
    );
    let out = run.agent.ok(&script)?;
    let n: Vec<f64> = out
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    ensure!(n.len() == 5, "unexpected /proc/stat answer: {out}");
    Ok(((n[2] + n[3]) - (n[0] + n[1])) / n[4] / secs as f64)
}

/// Part 5's figures inside the guest: memory with 500 photos queued (network
/// cut, so they stay queued), idle CPU on the lock screen and on Vandaag.
fn figures(run: &mut Run) -> anyhow::Result<()> {
    let (rss, pss) = memory(run)?;
    run.figure(
        "kiosk RSS / PSS, lock screen, empty queue",
        format!("{} / {} MB", rss / 1024, pss / 1024),
    );
    run.qmp
        .execute("set_link", serde_json::json!({ "name": "n0", "up": false }))?;
    let frames = run.console.count(MARK_FRAME);
    let queued = Instant::now();
    let filled = run.agent.sh_within(
        "systemctl stop kring-kiosk.service && runuser -u kring -- /usr/bin/kring bench-queue 500 --config /etc/kring/kring.toml && systemctl start --no-block kring-kiosk.service",
        Duration::from_secs(1200),
    )?;
    ensure!(
        filled.code == 0,
        "bench-queue: {}{}",
        filled.stdout,
        filled.stderr
    );
    run.figure(
        "500 photos saved (bench-queue, TCG)",
        format!("{:.0} s", queued.elapsed().as_secs_f64()),
    );
    run.console
        .wait_for(MARK_FRAME, frames, Duration::from_secs(300))?;
    std::thread::sleep(Duration::from_secs(20));
    let idle_lock = cpu_share(run, 30)?;
    let (rss, pss) = memory(run)?;
    run.figure(
        "kiosk RSS / PSS, 500 photos queued (target <= 80 MB)",
        format!("{} / {} MB", rss / 1024, pss / 1024),
    );
    run.figure(
        "kiosk CPU idle on the lock screen (TCG)",
        format!("{:.1} % of a core", idle_lock * 100.0),
    );
    unlock(run)?;
    std::thread::sleep(Duration::from_secs(5));
    let idle_today = cpu_share(run, 30)?;
    run.figure(
        "kiosk CPU idle on Vandaag (TCG)",
        format!("{:.1} % of a core", idle_today * 100.0),
    );
    run.shot("11-vandaag-500-in-wachtrij")?;
    run.qmp
        .execute("set_link", serde_json::json!({ "name": "n0", "up": true }))?;
    ensure!(
        pss / 1024 <= 80,
        "the kiosk takes {pss} kB PSS with 500 photos queued"
    );
    Ok(())
}

/// The lock screen to Vandaag: tap, Anouk de Wit, PIN 1234, OK (she checked
/// in on the group in the first unlock, so no presence stage comes between).
fn unlock(run: &mut Run) -> anyhow::Result<()> {
    run.tap(at::WAKE)?;
    run.tap(at::STAFF_ANOUK)?;
    for d in [1usize, 2, 3, 4] {
        run.tap(at::PIN[d])?;
    }
    run.tap(at::PIN_OK)?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("power-cut") {
        return power_cut::run(&power_cut_args()?);
    }
    if std::env::args().nth(1).as_deref() == Some("update") {
        return update_proof::run(&update_args()?);
    }
    let a = args()?;
    let total = Instant::now();
    std::fs::create_dir_all(&a.work)?;
    std::fs::create_dir_all(&a.screenshots)?;

    // 1. server with the demo organisation, a koppelcode in the image
    let (server, code, disk) = server_and_card(&a.server_bin, &a.image, &a.work, EXTRA_CARD_BYTES)?;
    println!("koppelcode {code} written to the image's kring.txt");

    // 2. boot
    let (qemu, started) = boot_qemu(&a.work, &disk, &server)?;
    let qmp = Qmp::connect(&a.work.join("qmp.sock"), Duration::from_secs(20))?;
    let mut run = Run {
        qmp,
        agent: Agent::new(&a.work.join("qga.sock")),
        console: Console::new(&a.work.join("serial.log"), started),
        shots: a.screenshots.clone(),
        figures: Vec::new(),
    };
    let userspace = run
        .console
        .wait_for(MARK_USERSPACE, 0, Duration::from_secs(300))?;
    let frame = run
        .console
        .wait_for(MARK_FRAME, 0, Duration::from_secs(600))?;
    run.figure(
        "boot to userspace (TCG)",
        format!("{:.1} s", userspace.as_secs_f64()),
    );
    run.figure(
        "boot to first kiosk frame (TCG)",
        format!("{:.1} s", frame.as_secs_f64()),
    );
    run.figure(
        "first frame / userspace",
        format!("{:.2}", frame.as_secs_f64() / userspace.as_secs_f64()),
    );
    run.agent.wait(Duration::from_secs(120))?;

    // 3. enrolled and online
    let deadline = Instant::now() + Duration::from_secs(180);
    let line = loop {
        let devices = server.devices()?;
        if let Some(l) = devices.iter().find(|l| l.trim_end().ends_with("online")) {
            break l.clone();
        }
        ensure!(
            Instant::now() < deadline,
            "the device never came online: {devices:?}"
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    println!("device: {line}");
    ensure!(
        line.contains(&format!("v{}", env!("CARGO_PKG_VERSION"))),
        "app version missing: {line}"
    );
    let applied = run
        .agent
        .ok("ls /boot/firmware/; cat /boot/firmware/kring-toegepast.txt")?;
    ensure!(
        !applied.contains(&code),
        "the koppelcode is still on the card: {applied}"
    );
    ensure!(
        !applied.contains("kring.txt\n"),
        "kring.txt was not applied: {applied}"
    );
    let left = run.agent.sh("test -e /data/kring/enroll-code")?;
    ensure!(left.code != 0, "the used koppelcode is still on /data");
    let data_mb: u64 = run
        .agent
        .ok("df --output=size -m /data | tail -1")?
        .trim()
        .parse()
        .context("df /data")?;
    ensure!(
        data_mb > 900,
        "the data partition was not grown to the end of the card: {data_mb} MB"
    );
    run.figure("data partition after first boot", format!("{data_mb} MB"));
    std::thread::sleep(Duration::from_secs(3));
    run.shot("1-vergrendeld")?;

    if std::env::var_os("KRING_APPLIANCE_PAUSE").is_some() {
        // for finding screen positions by hand: QMP and the agent stay up
        println!(
            "paused: QMP {}, agent {} (30 minutes)",
            a.work.join("qmp.sock").display(),
            a.work.join("qga.sock").display()
        );
        drop(run);
        std::thread::sleep(Duration::from_secs(1800));
        return Ok(());
    }

    // 4./5. unlock, take a photo, tag Sem, save
    let parent = portal::Parent::login(server.http, "anne.devries@example.nl", "welkom-ouder")?;
    let before = parent.photo_ids()?;
    run.tap(at::WAKE)?;
    run.shot("2-wie-ben-je")?;
    run.tap(at::STAFF_ANOUK)?;
    for d in [1usize, 2, 3, 4] {
        run.tap(at::PIN[d])?;
    }
    run.shot("3-pin")?;
    run.tap(at::PIN_OK)?;
    std::thread::sleep(Duration::from_secs(2));
    run.tap(at::CHECK_IN)?;
    std::thread::sleep(Duration::from_secs(3));
    run.shot("4-vandaag")?;
    run.tap(at::NAV_PHOTO)?;
    std::thread::sleep(Duration::from_secs(3));
    run.shot("5-foto-maken")?;
    run.tap(at::SHUTTER)?;
    std::thread::sleep(Duration::from_secs(2));
    run.tap(at::CHIP_SEM)?;
    std::thread::sleep(Duration::from_secs(1));
    run.shot("6-taggen")?;
    run.tap(at::SAVE)?;
    let saved_at = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    run.shot("7-opgeslagen")?;
    let new_photo = loop {
        let now = parent.photo_ids()?;
        if let Some(id) = now.iter().find(|id| !before.contains(*id)) {
            break id.clone();
        }
        ensure!(
            saved_at.elapsed() < Duration::from_secs(120),
            "the photo never reached Anne's timeline"
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    run.figure(
        "photo saved on the screen to visible in the parent's portal",
        format!("{:.1} s", saved_at.elapsed().as_secs_f64()),
    );
    println!("photo {new_photo} is on Anne de Vries's timeline (Sem's parent)");
    parent.photo_original(&new_photo)?;

    // 6a. the kiosk killed: systemd starts it again
    let frames = run.console.count(MARK_FRAME);
    let killed = Instant::now();
    run.agent.ok("systemctl kill -s KILL kring-kiosk.service")?;
    run.console
        .wait_for(MARK_FRAME, frames, Duration::from_secs(120))?;
    let back = killed.elapsed();
    run.figure(
        "kiosk killed -> screen back",
        format!("{:.1} s", back.as_secs_f64()),
    );
    std::thread::sleep(Duration::from_secs(2));
    run.shot("8-na-kill")?;

    // 6b. the event loop hangs: the watchdog (20 s) kills it, systemd restarts it
    let frames = run.console.count(MARK_FRAME);
    let hung = Instant::now();
    run.agent.ok("touch /run/kring/test-hang")?;
    run.console
        .wait_for("the event loop hangs now", 0, Duration::from_secs(30))?;
    run.console
        .wait_for(MARK_FRAME, frames, Duration::from_secs(180))?;
    let back = hung.elapsed();
    run.figure(
        "event loop hung -> screen back",
        format!("{:.1} s", back.as_secs_f64()),
    );
    let watchdog = run
        .agent
        .ok("journalctl -u kring-kiosk.service --no-pager | grep -ci watchdog || true")?;
    ensure!(
        watchdog.trim().parse::<u32>().unwrap_or(0) > 0,
        "systemd's journal does not mention the watchdog"
    );
    std::thread::sleep(Duration::from_secs(2));
    run.shot("9-na-watchdog")?;

    // 7. reboot: enrollment, store and settings survive, root stays read-only
    let store_before = run.agent.ok("ls -l /data/kring")?;
    let frames = run.console.count(MARK_FRAME);
    let userspaces = run.console.count(MARK_USERSPACE);
    let _ = run.agent.sh("systemctl reboot");
    let reset = run
        .console
        .wait_for(MARK_RESET, 0, Duration::from_secs(300))?;
    let userspace = run
        .console
        .wait_for(MARK_USERSPACE, userspaces, Duration::from_secs(300))?;
    let frame = run
        .console
        .wait_for(MARK_FRAME, frames, Duration::from_secs(600))?;
    let (userspace, frame) = (userspace - reset, frame - reset);
    run.figure(
        "second boot: to userspace / to first kiosk frame (TCG)",
        format!(
            "{:.1} s / {:.1} s, ratio {:.2}",
            userspace.as_secs_f64(),
            frame.as_secs_f64(),
            frame.as_secs_f64() / userspace.as_secs_f64()
        ),
    );
    run.agent.wait(Duration::from_secs(120))?;
    let ro = run.agent.ok("findmnt -no OPTIONS /")?;
    ensure!(
        ro.split(',').any(|o| o == "ro"),
        "the root is not read-only: {ro}"
    );
    let write = run.agent.sh("touch /usr/bin/kring-test")?;
    ensure!(write.code != 0, "the root file system took a write");
    let store_after = run.agent.ok("ls -l /data/kring")?;
    ensure!(
        store_after.contains("device.sqlite3") && store_after.contains("settings.toml"),
        "the store or the settings are gone after the reboot:\n{store_before}\n{store_after}"
    );
    let devices = server.devices()?;
    ensure!(devices.len() == 1, "the device enrolled again: {devices:?}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !server
        .devices()?
        .iter()
        .any(|l| l.trim_end().ends_with("online"))
    {
        ensure!(
            Instant::now() < deadline,
            "not online again after the reboot"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    std::thread::sleep(Duration::from_secs(2));
    let shot = run.shot("10-na-herstart")?;
    ensure!(shot.exists());

    // figures of the running kiosk
    figures(&mut run)?;
    drop(qemu);
    run.figure(
        "whole run",
        format!("{:.0} s", total.elapsed().as_secs_f64()),
    );
    println!();
    println!("appliance-test: passed");
    for (k, v) in &run.figures {
        println!("  {k}: {v}");
    }
    Ok(())
}

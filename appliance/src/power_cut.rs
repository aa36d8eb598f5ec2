//! `appliance-test power-cut`: the power-cut soak. The `qemu-virt` image
//! boots with the kiosk's test-only autopilot on (`systemd.setenv=
//! KRING_AUTOPILOT=soak`), which keeps saving photos, diary entries and
//! messages and logs every "opgeslagen" on the serial console (a host file,
//! which survives the cut). At a random moment QEMU is killed with SIGKILL
//! and the card loses what the guest had not flushed (see below); then the
//! machine boots again. Sometimes the network is cut first (QMP `set_link`).
//! After the last cut the device boots once more and must send everything;
//! then the server is compared with every item the device ever said it had
//! saved.
//!
//! **The card's cache.** With a plain `-drive file=...`, whatever QEMU has
//! already written to the host file survives SIGKILL of QEMU (it is in the
//! host's page cache), so a kill loses only the guest's own page cache. A
//! card loses more: what it acknowledged but had not yet made durable. So
//! the card is served by [`crate::nbd::VolatileDisk`], an NBD server on a
//! Unix socket with a write-back cache in its own memory: a block reaches
//! the image file only when the guest flushes (or writes with FUA); QEMU's
//! virtio-blk shows the guest a volatile write cache (`write-cache=on`), so
//! the guest's kernel flushes where its file systems and SQLite ask for it.
//! At a cut each unflushed block is kept or dropped at random (a real cache
//! may have written back any subset, in any order).
//!
//! Final line: `cuts=N saved=N on_server=N lost=0 duplicated=0 corrupt=0 boots_ok=N`.

use super::{BootSpec, Console, MARK_FRAME, MARK_USERSPACE, boot_qemu_with};
use crate::nbd::{SplitMix64, VolatileDisk};
use crate::qemu::{Agent, Qmp};
use anyhow::{Context, bail, ensure};
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The autopilot's first line after each boot (the kiosk came up and opened its store).
const MARK_STARTED: &str = "autopilot: gestart";
const MARK_SAVED: &str = "autopilot: opgeslagen ";
/// The soak's card: smaller than the appliance test's, the data partition
/// still grows into it on the first boot.
const EXTRA_CARD_BYTES: u64 = 512 << 20;

#[derive(Debug)]
pub struct Args {
    pub image: PathBuf,
    pub server_bin: PathBuf,
    pub work: PathBuf,
    pub cuts: u32,
    pub seed: u64,
    pub keep: f64,
}

/// One item the device said it had saved.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Saved {
    kind: String,
    digest: String,
    boot: u32,
}

/// Reads `kind=… id=… digest=…` after the marker; a line cut short by the
/// power cut is skipped (the item then is simply not checked).
fn parse_saved(line: &str) -> Option<(String, String, String)> {
    let rest = &line[line.find(MARK_SAVED)? + MARK_SAVED.len()..];
    let mut kind = None;
    let mut id = None;
    let mut digest = None;
    for word in rest.split_whitespace() {
        if let Some(v) = word.strip_prefix("kind=") {
            kind = Some(v.to_string());
        } else if let Some(v) = word.strip_prefix("id=") {
            id = Some(v.to_string());
        } else if let Some(v) = word.strip_prefix("digest=") {
            digest = Some(v.to_string());
        }
    }
    let (kind, id, digest) = (kind?, id?, digest?);
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    (["photo", "diary", "message"].contains(&kind.as_str()) && id.len() == 36 && hex64(&digest))
        .then_some((kind, id, digest))
}

/// What the server holds of one item: how many rows have its content, and
/// whether the row with its id matches.
#[derive(Debug, Default)]
struct Check {
    on_server: usize,
    lost: Vec<String>,
    duplicated: Vec<String>,
    corrupt: Vec<String>,
}

fn hex_sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn check_server(db: &Path, saved: &BTreeMap<String, Saved>) -> anyhow::Result<Check> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let mut check = Check::default();
    for (id, s) in saved {
        // the row with the device's id, and how many rows carry the same content
        let (found, same): (Option<String>, i64) = match s.kind.as_str() {
            "photo" => (
                conn.query_row("SELECT sha256 FROM photos WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?,
                conn.query_row(
                    "SELECT COUNT(*) FROM photos WHERE sha256 = ?1",
                    [&s.digest],
                    |r| r.get(0),
                )?,
            ),
            kind => {
                let (table, column) = if kind == "diary" {
                    ("diary_entries", "text")
                } else {
                    ("messages", "body")
                };
                let text: Option<String> = conn
                    .query_row(
                        &format!("SELECT {column} FROM {table} WHERE id = ?1"),
                        [id],
                        |r| r.get(0),
                    )
                    .optional()?;
                let all: Vec<String> = conn
                    .prepare(&format!(
                        "SELECT {column} FROM {table} WHERE {column} LIKE 'autopilot %'"
                    ))?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                let same = all
                    .iter()
                    .filter(|t| hex_sha(t.as_bytes()) == s.digest)
                    .count() as i64;
                (text.map(|t| hex_sha(t.as_bytes())), same)
            }
        };
        match found {
            None => check
                .lost
                .push(format!("{} {id} (boot {})", s.kind, s.boot)),
            Some(d) if !d.eq_ignore_ascii_case(&s.digest) => {
                check.on_server += 1;
                check.corrupt.push(format!("{} {id}", s.kind));
            }
            Some(_) => check.on_server += 1,
        }
        if same > 1 {
            check.duplicated.push(format!("{} {id} x{same}", s.kind));
        }
    }
    Ok(check)
}

/// How many waiting items the device last reported to the server.
fn device_waiting(server_data: &Path) -> Option<i64> {
    let conn = rusqlite::Connection::open_with_flags(
        server_data.join("kring.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .ok()?;
    conn.query_row(
        "SELECT outbox_pending FROM devices WHERE revoked_at IS NULL",
        [],
        |r| r.get(0),
    )
    .ok()
}

/// Sectors written to the data partition (`/sys/block/vda/vda3/stat`, field 7).
fn data_sectors_written(agent: &mut Agent) -> anyhow::Result<u64> {
    let out = agent.ok("cat /sys/class/block/$(basename $(findmnt -no SOURCE /data))/stat")?;
    out.split_whitespace()
        .nth(6)
        .and_then(|v| v.parse().ok())
        .context("no sectors-written field in the partition's stat")
}

pub fn run(a: &Args) -> anyhow::Result<()> {
    let total = Instant::now();
    std::fs::create_dir_all(&a.work)?;
    let (server, _, disk_img) =
        super::server_and_card(&a.server_bin, &a.image, &a.work, EXTRA_CARD_BYTES)?;
    let server_data = server.data.clone();
    let disk = VolatileDisk::serve(
        &disk_img,
        &a.work.join("disk.sock"),
        crate::nbd::DEFAULT_CACHE_LIMIT,
    )?;
    println!(
        "power-cut soak: {} cuts, seed {}, unflushed blocks kept with p={}",
        a.cuts, a.seed, a.keep
    );
    let mut rng = SplitMix64(a.seed);
    let mut saved: BTreeMap<String, Saved> = BTreeMap::new();
    let mut boots_ok = 0u32;
    let mut repaired_boots = Vec::new();
    let mut cut_at = Vec::new();
    let mut kept_dropped = (0u64, 0u64);
    let mut boot_secs = Vec::new();
    for boot in 0..=a.cuts {
        let last = boot == a.cuts;
        let spec = BootSpec {
            disk_args: disk.qemu_args("disk0", "vblk0"),
            disk_file: disk_img.clone(),
            // the last boot is a normal one: the device must send everything
            extra_cmdline: if last {
                String::new()
            } else {
                "systemd.setenv=KRING_AUTOPILOT=soak".into()
            },
            serial: format!("serial-{boot:03}.log"),
        };
        let (mut qemu, started) = boot_qemu_with(&a.work, &spec, &server)?;
        let mut console = Console::new(&a.work.join(&spec.serial), started);
        let mut qmp = Qmp::connect(&a.work.join("qmp.sock"), Duration::from_secs(20))?;
        // the first boot grows and formats the data partition: give it longer
        let within = Duration::from_secs(if boot == 0 { 420 } else { 240 });
        let mark = if last { MARK_FRAME } else { MARK_STARTED };
        match console.wait_for(mark, 0, within) {
            Ok(t) => {
                boots_ok += 1;
                boot_secs.push(t.as_secs_f64());
                let line = console
                    .lines
                    .iter()
                    .find(|(_, l)| l.contains(MARK_STARTED))
                    .map(|(_, l)| l.clone())
                    .unwrap_or_default();
                if !last && !line.contains("repaired=0") {
                    repaired_boots.push(format!("boot {boot}: {line}"));
                }
            }
            Err(e) => {
                let up = console.count(MARK_USERSPACE) > 0;
                bail!("boot {boot} did not come up by itself (userspace: {up}): {e}");
            }
        }
        if !last {
            let run_for = Duration::from_millis(rng.range(1_500, 15_000));
            let net_cut = rng.range(0, 3) == 0;
            let cut_net_after = run_for.mul_f64(0.4);
            let t0 = Instant::now();
            let mut net_down = false;
            while t0.elapsed() < run_for {
                if net_cut && !net_down && t0.elapsed() >= cut_net_after {
                    qmp.execute("set_link", serde_json::json!({ "name": "n0", "up": false }))?;
                    net_down = true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            // The guest flushes most writes at once: pull the plug while the
            // card's cache holds something (waiting at most a few seconds).
            let wait_dirty = Instant::now();
            while disk.stats().dirty_blocks == 0 && wait_dirty.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(2));
            }
            let dirty = disk.stats().dirty_blocks;
            // the plug is pulled
            qemu.0.kill().context("SIGKILL qemu")?;
            let _ = qemu.0.wait();
            drop(qmp);
            let cut = disk.cut(a.keep, a.seed ^ u64::from(boot))?;
            kept_dropped.0 += cut.kept;
            kept_dropped.1 += cut.dropped;
            console.poll();
            let n_before = saved.len();
            collect_saved(&console, boot, &mut saved);
            cut_at.push(run_for.as_secs_f64());
            println!(
                "cut {}/{}: after {:.1} s running{}, {} dirty blocks, {} new items saved, unflushed blocks kept {} dropped {}",
                boot + 1,
                a.cuts,
                run_for.as_secs_f64(),
                if net_down { " (network cut)" } else { "" },
                dirty,
                saved.len() - n_before,
                cut.kept,
                cut.dropped
            );
            drop(qemu);
            continue;
        }

        // The last boot, without the autopilot and with the network on: the
        // device must send everything by itself. Then what a photo costs the card.
        let deadline = Instant::now() + Duration::from_secs(1800);
        let check = loop {
            let check = check_server(&server_data.join("kring.sqlite3"), &saved)?;
            if check.lost.is_empty() || Instant::now() > deadline {
                break check;
            }
            std::thread::sleep(Duration::from_secs(5));
        };
        let drained = total.elapsed();
        let mut agent = Agent::new(&a.work.join("qga.sock"));
        agent.wait(Duration::from_secs(120))?;
        let repaired =
            agent.ok("journalctl -u kring-kiosk --no-pager | grep -c 'moving it aside' || true")?;
        if repaired.trim() != "0" {
            repaired_boots.push(format!("last boot: {} repairs", repaired.trim()));
        }
        let written_per_photo = bytes_per_photo(&mut agent, &server_data)?;
        let waiting = device_waiting(&server_data);
        drop(agent);
        drop(qmp);
        drop(qemu);

        let stats = disk.stats();
        println!(
            "card: {:.0} MB written by the guest, {} flushes, {} FUA writes; at the cuts {} unflushed blocks kept, {} dropped",
            stats.bytes_written as f64 / 1e6,
            stats.flushes,
            stats.fua_writes,
            kept_dropped.0,
            kept_dropped.1
        );
        if let Some((written, photo)) = written_per_photo {
            println!(
                "FIGURE bytes written to the data partition per photo (save to freed): {:.2} MB per {:.2} MB photo = {:.2}x",
                written / 1e6,
                photo / 1e6,
                written / photo
            );
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        println!(
            "boot to autopilot: mean {:.1} s; running before a cut: mean {:.1} s; device reports {} waiting; all sent after {} s; {} s in all",
            mean(&boot_secs),
            mean(&cut_at),
            waiting.map_or("?".into(), |w| w.to_string()),
            drained.as_secs(),
            total.elapsed().as_secs()
        );
        for r in &repaired_boots {
            println!("store repaired at start-up: {r}");
        }
        for l in check.lost.iter().take(20) {
            println!("LOST {l}");
        }
        for l in check.duplicated.iter().take(20) {
            println!("DUPLICATED {l}");
        }
        for l in check.corrupt.iter().take(20) {
            println!("CORRUPT {l}");
        }
        let corrupt = check.corrupt.len() + repaired_boots.len();
        println!(
            "cuts={} saved={} on_server={} lost={} duplicated={} corrupt={} boots_ok={}",
            a.cuts,
            saved.len(),
            check.on_server,
            check.lost.len(),
            check.duplicated.len(),
            corrupt,
            boots_ok
        );
        ensure!(
            check.lost.is_empty() && check.duplicated.is_empty() && corrupt == 0,
            "the power-cut soak found lost, duplicated or corrupt items"
        );
        ensure!(boots_ok == a.cuts + 1, "not every boot came up by itself");
        ensure!(!saved.is_empty(), "the autopilot saved nothing");
    }
    Ok(())
}

fn collect_saved(console: &Console, boot: u32, saved: &mut BTreeMap<String, Saved>) {
    for (_, line) in &console.lines {
        if let Some((kind, id, digest)) = parse_saved(line) {
            saved.entry(id).or_insert(Saved { kind, digest, boot });
        }
    }
}

/// Bytes written to the data partition per photo, from save until its bytes
/// are freed after the upload: 20 staff-only photos saved by `kring
/// bench-queue` (the kiosk stopped meanwhile, as in the appliance test),
/// uploaded by the kiosk, then quiet; less what the partition takes in the
/// same time when nothing is saved.
fn bytes_per_photo(agent: &mut Agent, server_data: &Path) -> anyhow::Result<Option<(f64, f64)>> {
    const N: u64 = 20;
    let db = server_data.join("kring.sqlite3");
    let photos_on_server = || -> anyhow::Result<i64> {
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        Ok(conn.query_row("SELECT COUNT(*) FROM photos", [], |r| r.get(0))?)
    };
    // a camera-sized photo (put on the boot partition by `prepare_card`),
    // copied where the kiosk user can read it before anything is counted
    agent.ok("rm -rf /run/kring-bench && mkdir -p /run/kring-bench && cp /boot/firmware/bench/photo.jpg /run/kring-bench/ && chown -R kring /run/kring-bench")?;
    // the quiet rate first
    let quiet_secs = 60u64;
    let q0 = data_sectors_written(agent)?;
    std::thread::sleep(Duration::from_secs(quiet_secs));
    let quiet = data_sectors_written(agent)? - q0;
    let before = photos_on_server()?;
    let start = Instant::now();
    let s0 = data_sectors_written(agent)?;
    agent.ok(&format!(
        "systemctl stop kring-kiosk.service && runuser -u kring -- /usr/bin/kring bench-queue {N} --config /etc/kring/kring.toml --camera folder:/run/kring-bench && systemctl start --no-block kring-kiosk.service"
    ))?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while photos_on_server()? < before + N as i64 {
        if Instant::now() > deadline {
            println!("bytes per photo: the photos did not all arrive; no figure");
            return Ok(None);
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    // bytes freed on the device, WAL checkpointed, ext4 committed
    std::thread::sleep(Duration::from_secs(15));
    let written = data_sectors_written(agent)? - s0;
    let secs = start.elapsed().as_secs();
    let background = quiet * secs / quiet_secs;
    let photo = photo_size(server_data)?;
    let per = (written.saturating_sub(background) * 512) as f64 / N as f64;
    println!(
        "bytes per photo: {} sectors in {secs} s, of which {background} the quiet rate; photo {:.0} KB",
        written,
        photo / 1e3
    );
    Ok(Some((per, photo)))
}

/// The size of the newest photo the server received from the device.
fn photo_size(server_data: &Path) -> anyhow::Result<f64> {
    let conn = rusqlite::Connection::open_with_flags(
        server_data.join("kring.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let len: i64 = conn.query_row(
        "SELECT length FROM uploads WHERE completed_at IS NOT NULL ORDER BY completed_at DESC LIMIT 1",
        [],
        |r| r.get(0),
    )?;
    Ok(len as f64)
}

/// A 1920x1080 JPEG that compresses like a camera's (smooth light plus
/// sensor noise, quality 88): about 1 MB, as a 2 MP photo is.
pub fn camera_like_jpeg() -> Vec<u8> {
    let mut x = 0x2545_F491_u32;
    let img = image::RgbImage::from_fn(1920, 1080, |i, j| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let light = 100.0 + 70.0 * ((i as f32) / 250.0).sin() * ((j as f32) / 170.0).cos();
        let n = |shift: u32| ((x >> shift) & 0x1f) as f32 - 16.0;
        let px = |v: f32| v.clamp(0.0, 255.0) as u8;
        image::Rgb([
            px(light + n(0)),
            px(light * 0.9 + n(8)),
            px(light * 0.8 + n(16)),
        ])
    });
    let mut out = Vec::new();
    // encoding into a Vec cannot fail for an RGB image of this size
    let _ = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88).encode_image(&img);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_lines_are_read_and_torn_ones_skipped() {
        let id = "0190a6b2-7c3e-7d41-9f00-123456789abc";
        let d = "a".repeat(64);
        let line = format!(
            "[  31.2] kring[412]: 2026-12-03T15:00:00Z  INFO kring::autopilot: autopilot: opgeslagen kind=photo id={id} digest={d}"
        );
        assert_eq!(
            parse_saved(&line),
            Some(("photo".into(), id.into(), d.clone()))
        );
        let torn = &line[..line.len() - 5];
        assert_eq!(parse_saved(torn), None);
        assert_eq!(parse_saved("autopilot: gestart waiting=0"), None);
        let odd = line.replace("kind=photo", "kind=video");
        assert_eq!(parse_saved(&odd), None);
    }

    #[test]
    fn the_bench_photo_is_camera_sized() {
        let jpeg = camera_like_jpeg();
        assert!(jpeg.starts_with(&[0xFF, 0xD8]));
        assert!(
            (500_000..2_000_000).contains(&jpeg.len()),
            "{} bytes",
            jpeg.len()
        );
    }
}

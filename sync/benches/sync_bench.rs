//! Benchmark of the device store and the sync engine (`cargo bench -p kring-sync`).
//!
//! Prints one table, one row per measure (see `docs/performance.md`):
//!
//! 1. **Capture-to-durable**: `Store::save_photo` of a 2 MP camera JPEG with
//!    its thumbnail as a ratio to a bare `write + fsync` of the same bytes to
//!    a new file in the same directory (median and p90, interleaved runs, the
//!    WAL checkpointed between runs as the device's checkpointer does),
//!    plus its parts; once on a quiet disk and once with another writer
//!    busying it. Then the **bytes written per photo** from save until its
//!    bytes are freed after upload (`/proc/self/io`), as a ratio to its size.
//! 2. **Drain throughput**: 200 queued ~1 MB photos drained by the engine
//!    into a real kring-server on loopback, as a ratio to a bare reqwest loop
//!    (tus create + one PATCH + push per photo) against the same server; for
//!    information also a trivial loopback sink that only reads the body.
//! 3. **Peak memory**: VmHWM of this process after the drain and the RSS
//!    growth during it.
//!
//! `KRING_BENCH_PHOTOS` (default 200) and `KRING_BENCH_RUNS` (default 30)
//! shrink it for a quick look; `RUST_LOG` turns on logging.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use anyhow::{Context, Result, bail};
use chrono::Utc;
use kring_protocol::{
    API_VERSION, API_VERSION_HEADER, Audience, IDEMPOTENCY_KEY_HEADER, MessageThread, PhotoId,
    PhotoItem, PushItem, UploadId,
};
use kring_server::Server;
use kring_server::org::{self, GroupKind};
use kring_server::settings::Settings;
use kring_sync::client::ApiClient;
use kring_sync::{EngineConfig, NewPhoto, Store, SystemClock};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ------------------------------------------------------------------ table

struct Row {
    name: String,
    value: String,
    baseline: String,
    ratio: String,
    target: String,
    verdict: &'static str,
}

impl Row {
    fn info(name: impl Into<String>, value: String) -> Self {
        Self {
            name: name.into(),
            value,
            baseline: "-".into(),
            ratio: "-".into(),
            target: "-".into(),
            verdict: "info",
        }
    }
}

fn print_table(rows: &[Row]) {
    let head = ["measure", "value", "baseline", "ratio", "target", "result"];
    let cols: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.as_str(),
                r.value.as_str(),
                r.baseline.as_str(),
                r.ratio.as_str(),
                r.target.as_str(),
                r.verdict,
            ]
        })
        .collect();
    let mut width: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for c in &cols {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut out = String::new();
        for (i, (c, w)) in cells.iter().zip(&width).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(c);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(w - c.chars().count()));
            }
        }
        println!("{out}");
    };
    line(&head);
    let total: usize = width.iter().sum::<usize>() + 2 * (width.len() - 1);
    println!("{}", "-".repeat(total));
    for c in &cols {
        line(c);
    }
}

// ------------------------------------------------------------------ stats

#[derive(Debug, Clone, Copy)]
struct Stats {
    median: f64,
    p90: f64,
}

/// Median and p90 (nearest rank) of durations, in milliseconds.
fn stats(samples: &[Duration]) -> Stats {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let median = if n % 2 == 1 {
        ms[n / 2]
    } else {
        (ms[n / 2 - 1] + ms[n / 2]) / 2.0
    };
    let rank = ((0.9 * n as f64).ceil() as usize).clamp(1, n);
    Stats {
        median,
        p90: ms[rank - 1],
    }
}

fn ms(s: Stats) -> String {
    format!("{:.2} ms (p90 {:.2})", s.median, s.p90)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ------------------------------------------------------------------ photos

/// A camera-like 1920x1080 JPEG: smooth gradients and shapes plus per-pixel
/// sensor noise, so it compresses like a real photo (~1 MB at quality 88).
fn camera_jpeg(seed: u32) -> Vec<u8> {
    let (w, h) = (1920u32, 1080u32);
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    let cx = (seed * 397 % w) as f32;
    let cy = (seed * 211 % h) as f32;
    let img = image::RgbImage::from_fn(w, h, |i, j| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let (fi, fj) = (i as f32, j as f32);
        let d = ((fi - cx).powi(2) + (fj - cy).powi(2)).sqrt();
        let blob = if d < 300.0 { 60.0 } else { 0.0 };
        let base_r = 90.0 + 80.0 * (fi / 210.0).sin() + blob;
        let base_g = 110.0 + 60.0 * (fj / 130.0).cos();
        let base_b = 120.0 + 50.0 * ((fi + fj) / 300.0).sin() - blob / 2.0;
        let noise = |shift: u32| ((x >> shift) & 0x1f) as f32 - 16.0;
        let px = |b: f32, n: f32| (b + n).clamp(0.0, 255.0) as u8;
        image::Rgb([
            px(base_r, noise(0)),
            px(base_g, noise(8)),
            px(base_b, noise(16)),
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88)
        .encode_image(&img)
        .unwrap();
    out
}

/// A small JPEG, as the UI's thumbnail for today's overview.
fn small_jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(320, 180, |i, j| {
        image::Rgb([(i % 256) as u8, (j % 256) as u8, ((i + j) % 256) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&img)
        .unwrap();
    out
}

fn whole_group_photo(jpeg: &[u8]) -> NewPhoto<'_> {
    NewPhoto {
        jpeg,
        thumbnail: None,
        tags: vec![],
        no_children_recognizable: true,
        audience: Audience::WholeGroup,
        staff: None,
    }
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

// ------------------------------------------------------------------ measure 1

fn bare_write_fsync(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// A small xorshift, to shuffle the order of the parts in each run.
fn shuffled(n: usize, state: &mut u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        order.swap(i, (*state % (i as u64 + 1)) as usize);
    }
    order
}

/// Another writer on the same disk while it runs: 256 KiB writes to a file of
/// its own, an fdatasync after every MiB (a second app, a log rotation, the
/// WAL checkpoint of a busy moment), wrapping at 64 MiB.
struct BusyDisk {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<u64>>>,
}

impl BusyDisk {
    fn start(dir: &Path) -> Result<Self> {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let path = dir.join("busy-writer");
        let flag = stop.clone();
        let thread = std::thread::spawn(move || -> Result<u64> {
            let mut f = std::fs::File::create(&path)?;
            let block = vec![0xA5u8; 256 * 1024];
            let mut written = 0u64;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                f.write_all(&block)?;
                written += block.len() as u64;
                if written.is_multiple_of(1 << 20) {
                    f.sync_data()?;
                }
                if written.is_multiple_of(64 << 20) {
                    use std::io::Seek;
                    f.seek(std::io::SeekFrom::Start(0))?;
                }
            }
            Ok(written)
        });
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the writer; returns how many bytes it wrote.
    fn stop(mut self) -> Result<u64> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| anyhow::anyhow!("busy writer panicked"))?,
            None => Ok(0),
        }
    }
}

/// One capture-to-durable measurement: the kiosk's `save_photo` (photo and
/// thumbnail in one transaction) against a bare write + fsync of the same
/// bytes to a new file in the same directory, interleaved in shuffled order.
fn capture_to_durable(jpeg: &[u8], runs: usize, busy: bool, rows: &mut Vec<Row>) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, _) = Store::open(dir.path().join("plain").as_path())?;
    // as on the device: sealed to the server's key
    let keys = kring_protocol::SealKeys::parse(&[kring_protocol::SealKeys::generate()])?;
    let to = keys.recipient().context("a recipient")?;
    let (sealed, _) = Store::open(dir.path().join("sealed").as_path())?;
    sealed.set_seal_to(&to.to_string())?;
    let bare = dir.path().join("bare");
    std::fs::create_dir_all(&bare)?;
    let thumb = small_jpeg();
    let load = if busy {
        Some(BusyDisk::start(dir.path())?)
    } else {
        None
    };
    let started = Instant::now();
    const PARTS: usize = 6;
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); PARTS];
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let warmup = 3;
    for run in 0..warmup + runs {
        let mut t = [Duration::ZERO; PARTS];
        for part in shuffled(PARTS, &mut rng) {
            let start = Instant::now();
            match part {
                0 => bare_write_fsync(&bare.join(format!("{run}.jpg")), jpeg)?,
                1 => {
                    let mut p = whole_group_photo(jpeg);
                    p.thumbnail = Some(&thumb);
                    sealed.save_photo(p, Utc::now())?;
                }
                2 => {
                    let mut p = whole_group_photo(jpeg);
                    p.thumbnail = Some(&thumb);
                    store.save_photo(p, Utc::now())?;
                }
                5 => {
                    std::hint::black_box(to.seal(jpeg)?);
                }
                3 => {
                    std::hint::black_box(hex::encode(Sha256::digest(jpeg)));
                }
                _ => {
                    store.save_message(MessageThread::Group, "bench", None, Utc::now())?;
                }
            }
            t[part] = start.elapsed();
        }
        if run >= warmup {
            for (s, d) in samples.iter_mut().zip(t) {
                s.push(d);
            }
        }
        // As on the device, where the checkpointer copies the WAL into the
        // file 300 ms after a save: the next photo finds a restarted WAL.
        store.checkpoint()?;
        sealed.checkpoint()?;
    }
    let other = match load {
        Some(l) => Some(l.stop()?),
        None => None,
    };
    let b = stats(&samples[0]);
    let s = stats(&samples[1]);
    let (ratio, p90) = (s.median / b.median, s.p90 / b.p90);
    let disk = if busy { "busy disk" } else { "quiet disk" };
    rows.push(Row {
        name: format!(
            "1. capture-to-durable, {disk}: save_photo sealed, {:.2} MB 1920x1080 JPEG + thumbnail",
            mb(jpeg.len())
        ),
        value: ms(s),
        baseline: ms(b),
        ratio: format!("{ratio:.2} (p90 {p90:.2})"),
        target: "<= 1.30 (p90 <= 1.50)".into(),
        verdict: if ratio <= 1.3 && p90 <= 1.5 {
            "PASS"
        } else {
            "FAIL"
        },
    });
    let info = [
        (0, "   baseline: File::create + write_all + fsync (1 fsync)"),
        (
            2,
            "   variant: save_photo not sealed (before sealing; the store alone)",
        ),
        (
            5,
            "   part: sealing the JPEG (age, X25519 + ChaCha20-Poly1305)",
        ),
        (3, "   part: sha256 of the JPEG (hex)"),
        (4, "   part: store commit alone (save_message, WAL fsync)"),
    ];
    for (i, label) in info {
        rows.push(Row::info(label, ms(stats(&samples[i]))));
    }
    if let Some(bytes) = other {
        rows.push(Row::info(
            "   the other writer meanwhile",
            format!(
                "{:.0} MB/s",
                bytes as f64 / 1e6 / started.elapsed().as_secs_f64()
            ),
        ));
    }
    Ok(())
}

/// Bytes this process sent to the block layer so far (`/proc/self/io`:
/// `write_bytes` less `cancelled_write_bytes`).
fn process_write_bytes() -> Result<u64> {
    let io = std::fs::read_to_string("/proc/self/io")?;
    let field = |name: &str| -> Result<u64> {
        io.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .with_context(|| format!("{name} in /proc/self/io"))
    };
    Ok(field("write_bytes:")?.saturating_sub(field("cancelled_write_bytes:")?))
}

/// Bytes written to the disk per photo over its whole life on the device:
/// saved with its thumbnail, checkpointed into the file, read back in
/// chunks for the upload, confirmed (bytes deleted), space given back.
fn bytes_per_photo(photos: &[Vec<u8>], count: usize, rows: &mut Vec<Row>) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, _) = Store::open(dir.path())?;
    let thumb = small_jpeg();
    // settle the empty store first
    store.checkpoint()?;
    let before = process_write_bytes()?;
    let mut saved = Vec::new();
    let mut total = 0usize;
    for i in 0..count {
        let jpeg = &photos[i % photos.len()];
        let mut p = whole_group_photo(jpeg);
        p.thumbnail = Some(&thumb);
        saved.push((
            store.save_photo(p, Utc::now())?.0,
            hex::encode(Sha256::digest(jpeg)),
        ));
        total += jpeg.len();
    }
    for (i, (id, sha)) in saved.iter().enumerate() {
        let up = store.photo_upload(id)?;
        let mut offset = 0u64;
        while offset < up.bytes {
            offset += store.read_photo(id, offset, 1 << 20)?.len() as u64;
        }
        store.set_upload(id, Some("http://127.0.0.1/u"), Some(UploadId::new()))?;
        let receipt = kring_protocol::PushReceipt {
            item_id: *id,
            seq: i as i64 + 1,
            received_at: Utc::now(),
            sha256: Some(sha.clone()),
        };
        store.mark_sent(id, &receipt, Utc::now())?;
    }
    drop(store); // the last connection checkpoints and removes the WAL
    // sync so everything dirtied is counted as written
    std::fs::File::open(dir.path().join(kring_sync::store::DB_FILE))?.sync_all()?;
    let written = process_write_bytes()? - before;
    let ratio = written as f64 / total as f64;
    rows.push(Row {
        name: format!("1c. bytes written per photo, save to freed ({count} photos + thumbnails)"),
        value: format!("{:.2} MB", written as f64 / 1e6 / count as f64),
        baseline: format!("{:.2} MB", total as f64 / 1e6 / count as f64),
        ratio: format!("{ratio:.2}"),
        target: "<= 2.50".into(),
        verdict: if ratio <= 2.5 { "PASS" } else { "FAIL" },
    });
    Ok(())
}

/// The disk's flush latency right now: 4 KiB writes, each followed by fdatasync.
fn flush_probe() -> Result<Stats> {
    let dir = tempfile::tempdir()?;
    let mut f = std::fs::File::create(dir.path().join("probe"))?;
    let block = [0x5a_u8; 4096];
    let mut samples = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        f.write_all(&block)?;
        f.sync_data()?;
        samples.push(t.elapsed());
    }
    Ok(stats(&samples))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

// ------------------------------------------------------------------ server

struct Bench {
    server: Server,
    _server_dir: tempfile::TempDir,
    group: kring_protocol::GroupId,
}

async fn start_server() -> Result<Bench> {
    let server_dir = tempfile::tempdir()?;
    let mut settings = Settings {
        data_dir: server_dir.path().to_path_buf(),
        ..Settings::default()
    };
    settings.mqtt.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let db = kring_server::open_data(&settings)?;
    let group = db.call_sync(|c| {
        let tx = c.transaction()?;
        let org_id = org::create_organisation(&tx, "bench", "Benchopvang")?;
        let loc = org::create_location(&tx, &org_id, "Locatie")?;
        let group = org::create_group(&tx, &loc, "Dolfijnen", GroupKind::Kdv, (0, 4))?;
        tx.commit()?;
        Ok::<_, org::OrgError>(group)
    })?;
    drop(db);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = kring_server::start(settings, listener).await?;
    Ok(Bench {
        server,
        _server_dir: server_dir,
        group,
    })
}

impl Bench {
    async fn enroll(&self, name: &str) -> Result<kring_protocol::EnrollResponse> {
        let group = self.group;
        let code = self
            .server
            .state
            .backend
            .call_sync(|c| {
                kring_server::device_api::devices::create_code(
                    c,
                    &group,
                    Utc::now(),
                    chrono::Duration::minutes(15),
                )
            })?
            .code;
        let client = ApiClient::new(&self.server.base_url(), None)
            .map_err(|f| anyhow::anyhow!("client: {f:?}"))?;
        client
            .enroll(&code, name, "bench")
            .await
            .map_err(|f| anyhow::anyhow!("enroll: {f:?}"))
    }

    fn photo_count(&self) -> Result<i64> {
        Ok(self
            .server
            .state
            .backend
            .call_sync(|c| c.query_row("SELECT COUNT(*) FROM photos", (), |r| r.get(0)))?)
    }
}

// ------------------------------------------------------------------ raw HTTP uploads

/// A bare reqwest device: no store, no chunking, no checksum.
struct Raw {
    http: reqwest::Client,
    base: String,
    secret: String,
}

/// How the raw loop sends a photo's bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// tus create, one PATCH with all bytes, push.
    OnePatch,
    /// What the engine sends: create, HEAD, 256 KiB PATCHes with a SHA-256
    /// checksum each, push; still no store.
    EngineLike { chunk: usize },
}

impl Raw {
    fn req(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .header(API_VERSION_HEADER, API_VERSION)
            .header("Tus-Resumable", "1.0.0")
            .bearer_auth(&self.secret)
    }

    async fn upload(&self, jpeg: &[u8], sha: &str, pattern: Pattern) -> Result<()> {
        let resp = self
            .req(
                reqwest::Method::POST,
                &format!("{}/api/v1/uploads", self.base),
            )
            .header("Upload-Length", jpeg.len())
            .send()
            .await?
            .error_for_status()?;
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .context("no Location")?
            .to_str()?
            .to_string();
        let url = format!("{}{location}", self.base);
        let upload: UploadId = location
            .rsplit('/')
            .next()
            .and_then(|s| s.parse().ok())
            .context("bad Location")?;
        match pattern {
            Pattern::OnePatch => {
                let resp = self
                    .req(reqwest::Method::PATCH, &url)
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/offset+octet-stream",
                    )
                    .header("Upload-Offset", 0)
                    .body(jpeg.to_vec())
                    .send()
                    .await?;
                if resp.status() != reqwest::StatusCode::NO_CONTENT {
                    bail!("PATCH answered {}", resp.status());
                }
            }
            Pattern::EngineLike { chunk } => {
                self.req(reqwest::Method::HEAD, &url)
                    .send()
                    .await?
                    .error_for_status()?;
                let mut offset = 0;
                while offset < jpeg.len() {
                    let end = (offset + chunk).min(jpeg.len());
                    let part = jpeg[offset..end].to_vec();
                    let sum = base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        Sha256::digest(&part),
                    );
                    let resp = self
                        .req(reqwest::Method::PATCH, &url)
                        .header(
                            reqwest::header::CONTENT_TYPE,
                            "application/offset+octet-stream",
                        )
                        .header("Upload-Offset", offset)
                        .header("Upload-Checksum", format!("sha256 {sum}"))
                        .body(part)
                        .send()
                        .await?;
                    if resp.status() != reqwest::StatusCode::NO_CONTENT {
                        bail!("PATCH answered {}", resp.status());
                    }
                    offset = end;
                }
            }
        }
        let item = PushItem::Photo(PhotoItem {
            id: PhotoId::new(),
            upload_id: upload,
            sha256: sha.to_string(),
            tags: vec![],
            no_children_recognizable: true,
            audience_shown: Audience::WholeGroup,
            taken_at_device: Utc::now(),
            staff_id: None,
        });
        self.http
            .post(format!("{}/api/v1/items", self.base))
            .header(API_VERSION_HEADER, API_VERSION)
            .header(IDEMPOTENCY_KEY_HEADER, item.id().to_string())
            .bearer_auth(&self.secret)
            .json(&item)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    async fn run(
        &self,
        photos: &[Vec<u8>],
        shas: &[String],
        count: usize,
        pattern: Pattern,
    ) -> Result<Duration> {
        let start = Instant::now();
        for i in 0..count {
            let k = i % photos.len();
            self.upload(&photos[k], &shas[k], pattern).await?;
        }
        Ok(start.elapsed())
    }
}

// ------------------------------------------------------------------ trivial sink

/// A loopback HTTP/1.1 server that reads each request body and answers 200:
/// what moving the bytes over loopback costs with no processing at all.
/// (Plain tokio: axum is not a dependency of this crate.)
async fn start_sink() -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = serve_sink(sock).await;
            });
        }
    });
    Ok(addr)
}

async fn serve_sink(mut sock: tokio::net::TcpStream) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut tmp = vec![0u8; 64 * 1024];
    loop {
        let header_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let n = sock.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        buf.drain(..header_end);
        while buf.len() < len {
            let n = sock.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        buf.drain(..len);
        sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await?;
    }
}

async fn sink_run(photos: &[Vec<u8>], count: usize) -> Result<Duration> {
    let addr = start_sink().await?;
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/sink");
    // warm the connection
    http.post(&url).body(vec![0u8; 16]).send().await?;
    let start = Instant::now();
    for i in 0..count {
        http.post(&url)
            .body(photos[i % photos.len()].clone())
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(start.elapsed())
}

// ------------------------------------------------------------------ memory

/// A field of /proc/self/status in MiB (VmRSS, VmHWM).
fn proc_status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Resets VmHWM to the current RSS (Linux >= 4.0), so the peak is the drain's.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

// ------------------------------------------------------------------ measure 2 + 3

/// Saves `count` photos into `store` (no engine running); each save's time.
async fn queue(store: &Arc<Store>, photos: &[Vec<u8>], count: usize) -> Result<Vec<Duration>> {
    let store = store.clone();
    let photos = photos.to_vec();
    tokio::task::spawn_blocking(move || -> Result<Vec<Duration>> {
        let mut times = Vec::with_capacity(count);
        for i in 0..count {
            let t = Instant::now();
            store.save_photo(whole_group_photo(&photos[i % photos.len()]), Utc::now())?;
            times.push(t.elapsed());
        }
        Ok(times)
    })
    .await?
}

/// The store calls the engine makes per photo, replayed on a store with
/// `count` queued photos and no network: `pending` (the whole outbox, each
/// loop), `item`, `photo_upload`, reading the photo in 1 MiB chunks,
/// `set_upload` (a commit), `item`, `mark_sent` (a commit, deletes the bytes) and two status
/// snapshots (`counts`, `last_sync`, `recent_items(50)`).
fn replay_store_work(store: &Store, count: usize) -> Result<(Duration, Duration)> {
    let snapshot = |s: &Store| -> Result<()> {
        std::hint::black_box((s.counts()?, s.last_sync()?, s.recent_items(50)?));
        Ok(())
    };
    let start = Instant::now();
    let mut commits = Duration::ZERO;
    for _ in 0..count {
        let rows = store.pending()?;
        let kring_sync::decide::Next::Send(id) =
            kring_sync::decide::next_to_send(&rows, Utc::now())
        else {
            bail!("nothing to send in the replay");
        };
        snapshot(store)?;
        store.item(&id)?;
        let file = store.photo_upload(&id)?;
        let mut offset = 0u64;
        while offset < file.bytes {
            offset += std::hint::black_box(store.read_photo(&id, offset, 1 << 20)?).len() as u64;
        }
        let upload = UploadId::new();
        let t = Instant::now();
        store.set_upload(&id, Some("http://127.0.0.1/api/v1/uploads/x"), Some(upload))?;
        commits += t.elapsed();
        store.item(&id)?;
        let receipt = kring_protocol::PushReceipt {
            item_id: id,
            seq: 1,
            received_at: Utc::now(),
            sha256: Some(file.sha256.clone()),
        };
        let t = Instant::now();
        store.mark_sent(&id, &receipt, Utc::now())?;
        commits += t.elapsed();
        snapshot(store)?;
    }
    Ok((start.elapsed(), commits))
}

async fn drain(photos: Vec<Vec<u8>>, count: usize, rows: &mut Vec<Row>) -> Result<()> {
    let shas: Vec<String> = photos
        .iter()
        .map(|p| hex::encode(Sha256::digest(p)))
        .collect();
    let total_bytes: usize = (0..count).map(|i| photos[i % photos.len()].len()).sum();
    let bench = start_server().await?;

    // The raw device, warmed up (connections, server code paths, page cache).
    let raw_device = bench.enroll("Ruwe uploader").await?;
    let raw = Raw {
        http: reqwest::Client::new(),
        base: bench.server.base_url(),
        secret: raw_device.device_secret,
    };
    raw.run(&photos, &shas, 3, Pattern::OnePatch).await?;
    // The baseline runs before and after the engine's drain; their mean
    // cancels slow drift (page cache, server database growth).
    let raw_before = raw.run(&photos, &shas, count, Pattern::OnePatch).await?;

    // The device: enrolled, 200 photos saved while no engine runs.
    let resp = bench.enroll("Benchscherm").await?;
    let dir = tempfile::tempdir()?;
    let (store, _) = Store::open(dir.path())?;
    store.save_enrollment(&bench.server.base_url(), &resp, Utc::now())?;
    let store = Arc::new(store);
    let queue_times = queue(&store, &photos, count).await?;
    let before_photos = bench.photo_count()?;

    // Measure 2 (engine) and 3 (memory).
    let hwm_before = proc_status_mib("VmHWM:").unwrap_or(f64::NAN);
    let peak_reset = reset_peak_rss();
    let rss_before = proc_status_mib("VmRSS:").unwrap_or(f64::NAN);
    let start = Instant::now();
    let config = EngineConfig {
        mqtt: false,
        reuse_connections: true,
        ..EngineConfig::default()
    };
    let chunk = config.chunk_size;
    let (handle, task) = kring_sync::spawn(store.clone(), Arc::new(SystemClock), config);
    let mut status = handle.status();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        {
            let s = status.borrow_and_update();
            if s.needs_attention > 0 || s.revoked {
                bail!("the drain got stuck: {:?}", s.last_error);
            }
            if !s.items.is_empty() && s.waiting == 0 {
                break;
            }
        }
        match tokio::time::timeout_at(deadline, status.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => bail!("the engine stopped before the drain finished"),
            Err(_) => bail!("the drain did not finish in 600 s"),
        }
    }
    let engine_time = start.elapsed();
    let rss_after = proc_status_mib("VmRSS:").unwrap_or(f64::NAN);
    let hwm = proc_status_mib("VmHWM:").unwrap_or(f64::NAN);
    handle.stop();
    let _ = task.await;
    let sent = bench.photo_count()? - before_photos;
    if sent != count as i64 {
        bail!("the server got {sent} photos, not {count}");
    }

    // Baselines on the same server and loopback.
    let raw_after = raw.run(&photos, &shas, count, Pattern::OnePatch).await?;
    let raw_time = (raw_before + raw_after) / 2;
    // The HTTP pattern's cost, without store: alternate per photo so drift hits all alike.
    let sample = count.clamp(1, 50);
    let patterns = [
        Pattern::OnePatch,
        Pattern::EngineLike { chunk: usize::MAX },
        Pattern::EngineLike { chunk },
    ];
    let mut pattern_time = [Duration::ZERO; 3];
    for i in 0..sample {
        let k = i % photos.len();
        for (p, t) in patterns.iter().zip(pattern_time.iter_mut()) {
            let start = Instant::now();
            raw.upload(&photos[k], &shas[k], *p).await?;
            *t += start.elapsed();
        }
    }
    let sink_time = sink_run(&photos, count).await?;

    // The server's CPU work per photo (decode, strip, thumbnail), alone.
    let process = {
        let photos = photos.clone();
        tokio::task::spawn_blocking(move || -> Result<Duration> {
            let limits = kring_server::photo::PhotoLimits::default();
            let n = 10;
            let start = Instant::now();
            for i in 0..n {
                kring_server::photo::process(&photos[i % photos.len()], &limits)?;
            }
            Ok(start.elapsed() / n as u32)
        })
        .await??
    };
    bench.server.shutdown().await;

    // The engine's store work alone, on a fresh store with `count` queued photos.
    let replay_dir = tempfile::tempdir()?;
    let replay_store = Arc::new(Store::open(replay_dir.path())?.0);
    let requeue_times = queue(&replay_store, &photos, count).await?;
    let (replay, replay_commits) = {
        let store = replay_store.clone();
        tokio::task::spawn_blocking(move || replay_store_work(&store, count)).await??
    };

    let rate = |t: Duration| mb(total_bytes) / t.as_secs_f64();
    let per = |t: Duration, n: usize| t.as_secs_f64() * 1e3 / n as f64;
    let ratio = raw_time.as_secs_f64() / engine_time.as_secs_f64();
    rows.push(Row {
        name: format!(
            "2. drain: engine, {count} queued photos ({:.0} MB)",
            mb(total_bytes)
        ),
        value: format!(
            "{:.1} MB/s ({:.1} s)",
            rate(engine_time),
            engine_time.as_secs_f64()
        ),
        baseline: format!(
            "{:.1} MB/s ({:.1} s)",
            rate(raw_time),
            raw_time.as_secs_f64()
        ),
        ratio: format!("{ratio:.2}"),
        target: ">= 0.80".into(),
        verdict: if ratio >= 0.8 { "PASS" } else { "FAIL" },
    });
    rows.push(Row::info(
        "   engine per photo (chunk 256 KiB, checksums, store)",
        format!("{:.1} ms", per(engine_time, count)),
    ));
    rows.push(Row::info(
        "   baseline per photo: raw create + 1 PATCH + push",
        format!(
            "{:.1} ms (before {:.1}, after {:.1})",
            per(raw_time, count),
            per(raw_before, count),
            per(raw_after, count)
        ),
    ));
    rows.push(Row::info(
        format!("   raw, {sample} photos alternated: create + 1 PATCH + push"),
        format!("{:.1} ms/photo", per(pattern_time[0], sample)),
    ));
    rows.push(Row::info(
        "     + HEAD + Upload-Checksum (one PATCH)",
        format!("{:.1} ms/photo", per(pattern_time[1], sample)),
    ));
    rows.push(Row::info(
        format!(
            "     + {} KiB PATCHes (the engine's HTTP pattern)",
            chunk / 1024
        ),
        format!("{:.1} ms/photo", per(pattern_time[2], sample)),
    ));
    rows.push(Row::info(
        "   engine's store work alone, replayed (no network)",
        format!(
            "{:.1} ms/photo ({:.1} in set_upload + mark_sent commits)",
            per(replay, count),
            per(replay_commits, count)
        ),
    ));
    rows.push(Row::info(
        "   server photo::process alone (decode, strip, thumbnail)",
        format!("{:.1} ms/photo", process.as_secs_f64() * 1e3),
    ));
    rows.push(Row::info(
        "   info: loopback sink, POST body read, no processing",
        format!(
            "{:.0} MB/s ({:.1} ms/photo)",
            rate(sink_time),
            per(sink_time, count)
        ),
    ));
    let q1 = stats(&queue_times);
    let q2 = stats(&requeue_times);
    rows.push(Row::info(
        format!("   info: queueing {count} photos, save_photo each"),
        format!(
            "{} / again: {:.2} ms (p90 {:.2})",
            ms(q1),
            q2.median,
            q2.p90
        ),
    ));
    rows.push(Row::info(
        "3. peak RSS (VmHWM) after the drain, whole process",
        if peak_reset {
            format!(
                "{:.1} MiB (during the drain {hwm:.1}, before {hwm_before:.1})",
                hwm.max(hwm_before)
            )
        } else {
            format!("{hwm:.1} MiB (since start: resetting VmHWM failed)")
        },
    ));
    rows.push(Row::info(
        "3. RSS growth during the drain (VmRSS after - before)",
        format!(
            "{:+.1} MiB ({rss_before:.1} -> {rss_after:.1})",
            rss_after - rss_before
        ),
    ));
    Ok(())
}

fn main() -> Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let count = env_usize("KRING_BENCH_PHOTOS", 200).max(1);
    let runs = env_usize("KRING_BENCH_RUNS", 30).max(1);
    let started = Instant::now();
    let photos: Vec<Vec<u8>> = (1..=8).map(camera_jpeg).collect();
    let mut rows = Vec::new();
    let (probe_start, load_start) = (flush_probe()?, loadavg());

    capture_to_durable(&photos[0], runs, false, &mut rows)?;
    capture_to_durable(&photos[0], runs, true, &mut rows)?;
    bytes_per_photo(&photos, 20, &mut rows)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(drain(photos, count, &mut rows))?;
    let (probe_end, load_end) = (flush_probe()?, loadavg());
    rows.push(Row::info(
        "env: disk flush, 4 KiB write + fdatasync (start / end)",
        format!("{} / {}", ms(probe_start), ms(probe_end)),
    ));
    rows.push(Row::info(
        "env: load average, 1 min (start / end)",
        format!("{load_start} / {load_end}"),
    ));

    println!();
    println!(
        "kring-sync bench: {runs} interleaved runs (measure 1), {count} photos (measure 2), {} cores, {:.0} s",
        std::thread::available_parallelism().map_or(0, usize::from),
        started.elapsed().as_secs_f64()
    );
    print_table(&rows);
    Ok(())
}

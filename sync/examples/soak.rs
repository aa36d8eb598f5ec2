//! Soak test: the sync engine in a child process against a real kring-server
//! on loopback, SIGKILLed at random moments and aborted at deliberate crash
//! points, restarted each time; at the end the server is compared with every
//! item the device ever reported as saved.
//!
//! ```sh
//! cargo run --release -p kring-sync --features crash-points --example soak -- --items 500 --kills 200
//! ```
//! Prints one final line: `items=N on_server=N lost=0 duplicated=0 kills=K corrupt=0`
//! and exits non-zero when anything was lost, duplicated or corrupt.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use anyhow::{Context, bail};
use chrono::Utc;
use kring_protocol::{Audience, ConsentedChild, MessageThread, PhotoConsent, decide_audience};
use kring_sync::client::ApiClient;
use kring_sync::{EngineConfig, NewDiary, NewPhoto, Store, SystemClock};
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CRASH_POINTS: &str = "commit,photo_write,upload,after_response";

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        return child(&args);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let items: usize = arg(&args, "--items", "500").parse()?;
    let kills: usize = arg(&args, "--kills", "200").parse()?;
    tokio::runtime::Runtime::new()?.block_on(parent(items, kills))
}

/// Realistic camera JPEGs (noise, ~1280x960), made once.
fn make_pool(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for k in 0..4u32 {
        let mut x = 0x9E37_79B9u32.wrapping_mul(k + 1);
        let img = image::RgbImage::from_fn(1280, 960, |i, j| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let n = (x & 0x3f) as u8;
            image::Rgb([
                ((i + k * 40) % 200) as u8 + n / 2,
                (j % 200) as u8 + n / 3,
                n,
            ])
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&img)?;
        std::fs::write(dir.join(format!("{k}.jpg")), out)?;
    }
    Ok(())
}

async fn parent(items: usize, kills: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let work = tempfile::tempdir()?;
    let server_dir = work.path().join("server");
    let device_dir = work.path().join("device");
    let pool = work.path().join("pool");
    let log = work.path().join("saved.log");
    let crash_log = work.path().join("crashes.log");
    make_pool(&pool)?;
    // the central server, with the demo organisation, in this process
    let mut settings = kring_server::settings::Settings {
        data_dir: server_dir.clone(),
        ..Default::default()
    };
    settings.http.listen = "127.0.0.1:0".parse()?;
    settings.mqtt.listen = "127.0.0.1:0".parse()?;
    let db = kring_server::open_data(&settings)?;
    db.call_sync(|c| kring_server::demo::load_demo(c, Utc::now().date_naive()))?;
    let group = db
        .call_sync(|c| {
            kring_server::device_api::devices::find_group(
                c,
                &format!("{}/Dolfijnen", kring_server::demo::DEMO_SLUG),
            )
        })?
        .one("Dolfijnen")
        .map_err(anyhow::Error::msg)?;
    let code = db
        .call_sync(|c| {
            kring_server::device_api::devices::create_code(
                c,
                &group,
                Utc::now(),
                chrono::Duration::minutes(15),
            )
        })?
        .code;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = kring_server::start(settings, listener).await?;
    // enroll the device
    std::fs::create_dir_all(&device_dir)?;
    {
        let (store, _) = Store::open(&device_dir)?;
        let client =
            ApiClient::new(&server.base_url(), None).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let resp = client
            .enroll(&code, "Soak", "soak")
            .await
            .map_err(|e| anyhow::anyhow!("enroll: {e:?}"))?;
        store.save_enrollment(&server.base_url(), &resp, Utc::now())?;
    }
    // pace the saving so that it spans the kills
    let pace_ms = (kills as u64 * 500 / items.max(1) as u64).clamp(5, 400);
    let exe = std::env::current_exe()?;
    let mut rng = rand::rng();
    let (mut sigkills, mut aborts, mut runs) = (0usize, 0usize, 0usize);
    loop {
        let killing = sigkills + aborts < kills;
        let mut cmd = Command::new(&exe);
        cmd.args(["child", "--dir"])
            .arg(&device_dir)
            .arg("--items")
            .arg(items.to_string())
            .arg("--log")
            .arg(&log)
            .arg("--pool")
            .arg(&pool)
            .arg("--pace-ms")
            .arg(pace_ms.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if killing && runs % 2 == 1 {
            cmd.env("KRING_CRASH_POINTS", CRASH_POINTS)
                .env("KRING_CRASH_PROBABILITY", "0.08")
                .env("KRING_CRASH_LOG", &crash_log);
        }
        runs += 1;
        let mut child = cmd.spawn().context("starting the engine child")?;
        if killing {
            let life = Duration::from_millis(rng.random_range(80..1200));
            let deadline = Instant::now() + life;
            let mut exited = None;
            while Instant::now() < deadline {
                if let Some(st) = child.try_wait()? {
                    exited = Some(st);
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            match exited {
                None => {
                    child.kill()?;
                    child.wait()?;
                    sigkills += 1;
                }
                Some(st) if st.signal() == Some(6) => aborts += 1,
                Some(st) if st.success() => {}
                Some(st) => bail!("the engine child failed: {st}"),
            }
        } else {
            let st = child.wait()?;
            if st.success() {
                break;
            }
            if st.signal() == Some(6) {
                bail!("a crash point fired without crash points enabled");
            }
            bail!("the engine child failed: {st}");
        }
        if runs > kills * 4 + 1000 {
            bail!("too many runs without finishing");
        }
    }
    // compare
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let mut saved: HashMap<String, (String, String, String)> = HashMap::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        if let [kind, id, nonce, sha] = parts[..] {
            saved.insert(
                id.to_string(),
                (kind.to_string(), nonce.to_string(), sha.to_string()),
            );
        }
    }
    let state = server.state.clone();
    let rows: Vec<(String, String, String)> = state
        .backend
        .call(|c| {
            let mut out = Vec::new();
            let mut st = c.prepare("SELECT id, 'photo', sha256 FROM photos UNION ALL SELECT id, 'diary', text FROM diary_entries WHERE author_kind = 'staff' UNION ALL SELECT id, 'message', body FROM messages WHERE author_kind = 'staff'")?;
            for r in st.query_map((), |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))? {
                out.push(r?);
            }
            Ok::<_, kring_server::db::DbError>(out)
        })
        .await?;
    let on_server_ids: HashSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let on_server = saved
        .keys()
        .filter(|id| on_server_ids.contains(id.as_str()))
        .count();
    let lost = saved.len() - on_server;
    // a duplicate is the same saved thing (nonce / photo bytes) stored twice
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (_, kind, content) in &rows {
        let key = if kind == "photo" {
            content.as_str()
        } else {
            content.rsplit(' ').next().unwrap_or(content)
        };
        *seen.entry(key).or_default() += 1;
    }
    let duplicated = seen
        .values()
        .filter(|n| **n > 1)
        .map(|n| n - 1)
        .sum::<usize>();
    // corrupt: a photo whose server hash is not what the device saved, or whose stored file does not decode
    let mut corrupt = 0;
    for (id, (kind, _, sha)) in &saved {
        if kind != "photo" {
            continue;
        }
        if let Some((_, _, server_sha)) = rows.iter().find(|r| &r.0 == id) {
            if server_sha != sha {
                corrupt += 1;
                continue;
            }
            let id = id.clone();
            let key: String = state
                .backend
                .call(move |c| {
                    c.query_row("SELECT blob_key FROM photos WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })
                })
                .await?;
            let ok = state
                .blobs
                .get(&key)
                .ok()
                .is_some_and(|b| image::load_from_memory(&b).is_ok());
            if !ok {
                corrupt += 1;
            }
        }
    }
    server.shutdown().await;
    let mut by_point: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for p in std::fs::read_to_string(&crash_log)
        .unwrap_or_default()
        .lines()
    {
        *by_point.entry(p.to_string()).or_default() += 1;
    }
    println!("soak: crash points fired: {by_point:?}");
    println!(
        "soak: {runs} runs, {sigkills} SIGKILLs, {aborts} crash-point aborts, {} s",
        started.elapsed().as_secs()
    );
    println!(
        "items={} on_server={on_server} lost={lost} duplicated={duplicated} kills={} corrupt={corrupt}",
        saved.len(),
        sigkills + aborts
    );
    if lost > 0 || duplicated > 0 || corrupt > 0 || saved.len() < items {
        std::process::exit(1);
    }
    Ok(())
}

/// The device side: engine plus a staff member saving items, until `items`
/// saved items are logged and the outbox is empty.
fn child(args: &[String]) -> anyhow::Result<()> {
    let dir = PathBuf::from(arg(args, "--dir", "."));
    let items: usize = arg(args, "--items", "10").parse()?;
    let log = PathBuf::from(arg(args, "--log", "saved.log"));
    let pool = PathBuf::from(arg(args, "--pool", "pool"));
    let pace = Duration::from_millis(arg(args, "--pace-ms", "50").parse()?);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let (store, _) = Store::open(&dir)?;
        let store = Arc::new(store);
        let config = EngineConfig {
            pull_interval: Duration::from_secs(5),
            ..EngineConfig::default()
        };
        let (handle, _task) = kring_sync::spawn(store.clone(), Arc::new(SystemClock), config);
        let jpegs: Vec<Vec<u8>> = (0..4)
            .map(|k| std::fs::read(pool.join(format!("{k}.jpg"))))
            .collect::<Result<_, _>>()?;
        let mut logged = std::fs::read_to_string(&log)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        let mut rng = rand::rng();
        while logged < items {
            tokio::time::sleep(pace.mul_f64(rng.random_range(0.5..1.5))).await;
            let children = store.children()?;
            let allowed: Vec<_> = children
                .iter()
                .filter(|c| c.photo_consent != PhotoConsent::None)
                .collect();
            let nonce: u64 = rng.random();
            let now = Utc::now();
            let roll = rng.random_range(0..10);
            let line = if roll < 5 || allowed.is_empty() && roll < 8 {
                // a photo, with unique bytes: a COM segment carrying the nonce after SOI
                let base = &jpegs[rng.random_range(0..jpegs.len())];
                let comment = format!("soak {nonce}");
                let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xFE];
                jpeg.extend_from_slice(&((comment.len() + 2) as u16).to_be_bytes());
                jpeg.extend_from_slice(comment.as_bytes());
                jpeg.extend_from_slice(&base[2..]);
                let tags: Vec<ConsentedChild> = allowed
                    .iter()
                    .take(rng.random_range(0..3usize))
                    .map(|c| ConsentedChild {
                        id: c.id,
                        consent: c.photo_consent,
                    })
                    .collect();
                let audience = decide_audience(&tags, tags.is_empty());
                let id = store.save_photo(
                    NewPhoto {
                        jpeg: &jpeg,
                        thumbnail: None,
                        tags: tags.iter().map(|t| t.id).collect(),
                        no_children_recognizable: tags.is_empty(),
                        audience: if tags.is_empty() {
                            Audience::WholeGroup
                        } else {
                            audience
                        },
                        staff: None,
                    },
                    now,
                )?;
                use sha2::Digest;
                format!(
                    "photo {id} {nonce} {}",
                    hex::encode(sha2::Sha256::digest(&jpeg))
                )
            } else if roll < 8 && !allowed.is_empty() {
                let kids = allowed
                    .iter()
                    .take(rng.random_range(1..4usize))
                    .map(|c| c.id)
                    .collect();
                let id = store.save_diary(
                    NewDiary {
                        children: kids,
                        text: format!("soak dagboek {nonce}"),
                        photos: vec![],
                        baby: None,
                        staff: None,
                    },
                    now,
                )?;
                format!("diary {id} {nonce} -")
            } else {
                let id = store.save_message(
                    MessageThread::Group,
                    &format!("soak bericht {nonce}"),
                    None,
                    now,
                )?;
                format!("message {id} {nonce} -")
            };
            // "opgeslagen": only now does the device report it as saved
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)?;
            writeln!(f, "{line}")?;
            f.sync_all()?;
            logged += 1;
            handle.wake();
        }
        // all saved: wait until the store itself says everything is sent
        let mut rx = handle.status();
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let (waiting, attention) = store.counts()?;
            if attention > 0 {
                let stuck: Vec<_> = store
                    .pending()?
                    .into_iter()
                    .filter(|r| r.state != kring_sync::store::ItemState::Waiting)
                    .collect();
                bail!("{attention} items need attention: {stuck:?}");
            }
            if waiting == 0 {
                break;
            }
            if Instant::now() > deadline {
                bail!("the outbox did not drain");
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
        }
        handle.stop();
        Ok(())
    })
}

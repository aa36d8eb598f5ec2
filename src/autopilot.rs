//! Test-only autopilot for the power-cut soak (docs/appliance.md): while the
//! kiosk runs, a thread saves photos, diary entries and messages at random
//! moments through the same `Store::save_*` calls as the screens, and after
//! each save has returned ("opgeslagen") writes one line to the log, which
//! the appliance's service copies to the serial console:
//!
//! ```text
//! autopilot: opgeslagen kind=photo id=<uuid> digest=<sha256 of the JPEG>
//! autopilot: opgeslagen kind=diary id=<uuid> digest=<sha256 of the text>
//! ```
//!
//! The soak's harness kills the machine at random moments and at the end
//! checks that every item a line names is on the server, once, intact.
//!
//! It runs only when the environment says `KRING_AUTOPILOT=soak` (the soak
//! boots the image with `systemd.setenv=KRING_AUTOPILOT=soak` on the kernel
//! command line). Its photos are for staff only; its diary entries and
//! messages say that they come from the autopilot.

use kring_hardware::Camera;
use kring_protocol::{Audience, MessageThread};
use kring_sync::{NewDiary, NewPhoto, Store};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// The environment variable, and the value that turns the autopilot on.
pub const ENV: &str = "KRING_AUTOPILOT";
const ON: &str = "soak";

/// Starts the autopilot thread if the environment asks for it.
pub fn start_if_asked(store: Arc<Store>) {
    if std::env::var(ENV).as_deref() != Ok(ON) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("kring-autopilot".into())
        .spawn(move || run(&store));
    if let Err(error) = spawned {
        tracing::error!(%error, "autopilot: cannot start");
    }
}

fn hex_sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn run(store: &Store) {
    let (waiting, attention) = store.counts().unwrap_or_default();
    let repaired = store.incidents().map(|i| i.len()).unwrap_or_default();
    tracing::info!(
        "autopilot: gestart waiting={waiting} attention={attention} repaired={repaired}"
    );
    let mut camera = kring_hardware::SyntheticCamera::new(1280, 720).with_fps(0);
    if let Err(error) = camera.start() {
        tracing::error!(%error, "autopilot: no camera");
        return;
    }
    let mut rng = rand::rng();
    let mut n = 0u64;
    loop {
        std::thread::sleep(Duration::from_millis(rng.random_range(200..2500)));
        if !matches!(store.device(), Ok(Some(_))) {
            continue; // not enrolled yet
        }
        n += 1;
        let nonce = uuid::Uuid::now_v7();
        let now = chrono::Utc::now();
        let saved = match rng.random_range(0..4) {
            0 | 1 => camera.frame().map_err(|e| e.to_string()).and_then(|f| {
                let thumb = kring_hardware::thumbnail_jpeg(&f.jpeg, 320).ok();
                store
                    .save_photo(
                        NewPhoto {
                            jpeg: &f.jpeg,
                            thumbnail: thumb.as_deref(),
                            tags: Vec::new(),
                            no_children_recognizable: false,
                            audience: Audience::StaffOnly,
                            staff: None,
                        },
                        now,
                    )
                    .map(|id| ("photo", id.0, hex_sha(&f.jpeg)))
                    .map_err(|e| e.to_string())
            }),
            2 => {
                let children = store.children().unwrap_or_default();
                let text = format!("autopilot {n} {nonce}");
                match children.first() {
                    Some(c) => store
                        .save_diary(
                            NewDiary {
                                children: vec![c.id],
                                text: text.clone(),
                                photos: Vec::new(),
                                baby: None,
                                staff: None,
                            },
                            now,
                        )
                        .map(|id| ("diary", id.0, hex_sha(text.as_bytes())))
                        .map_err(|e| e.to_string()),
                    None => continue,
                }
            }
            _ => {
                let text = format!("autopilot {n} {nonce}");
                store
                    .save_message(MessageThread::Group, &text, None, now)
                    .map(|id| ("message", id.0, hex_sha(text.as_bytes())))
                    .map_err(|e| e.to_string())
            }
        };
        match saved {
            Ok((kind, id, digest)) => {
                tracing::info!("autopilot: opgeslagen kind={kind} id={id} digest={digest}")
            }
            Err(error) => tracing::warn!(%error, "autopilot: not saved"),
        }
    }
}

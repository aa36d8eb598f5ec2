//! A virtual group-room device: the MQTT doorbell (own credentials, retained
//! presence, last will), feed pulls on a timer and after each nudge, pushes of
//! diary entries and staff messages, and now and then a photo through tus.

use crate::metrics::{Metric, Trigger};
use crate::seed::DeviceSeed;
use crate::{Shared, jittered};
use base64::Engine;
use kring_protocol::mqtt;
use kring_protocol::{
    API_VERSION, API_VERSION_HEADER, APP_VERSION_HEADER, ChangeKind, ChildId, ConsentedChild,
    Cursor, DiaryEntryId, FeedPage, IDEMPOTENCY_KEY_HEADER, MessageAuthor, MessageId,
    MessageThread, OUTBOX_PENDING_HEADER, PhotoConsent, PhotoId, PhotoItem, PushItem,
    StaffDiaryItem, StaffId, StaffMessageItem, UPLOAD_META_PHOTO_ID, UPLOAD_META_SHA256, UploadId,
    decide_audience,
};
use rand::Rng;
use rumqttc::{AsyncClient, ConnectReturnCode, Event, LastWill, MqttOptions, Packet, QoS};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::time::sleep_until;
use tokio_util::sync::CancellationToken;

/// How long a device waits for its doorbell subscription before pulling anyway.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(30);
/// Pages per pull at most (a fresh device reads its whole group).
const MAX_PAGES: usize = 1000;

/// A photo made once and sent by every device.
#[derive(Debug)]
pub struct Photo {
    pub jpeg: Vec<u8>,
    pub sha256_hex: String,
    /// `sha256 <base64 of the digest>` for `Upload-Checksum`.
    pub checksum: String,
}

impl Photo {
    /// A JPEG of about `target` bytes (a gradient with noise, so it does not
    /// compress to nothing).
    pub fn make(target: usize) -> Result<Self, image::ImageError> {
        use sha2::Digest;
        let mut seed: u32 = 0x2545_f491;
        let mut noise = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed & 0x3f) as u8
        };
        let (mut w, mut h) = (320u32, 240u32);
        let jpeg = loop {
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([
                    ((x * 255 / w) as u8).saturating_add(noise()),
                    ((y * 255 / h) as u8).saturating_add(noise()),
                    (((x + y) % 256) as u8).saturating_add(noise()),
                ])
            });
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&img)?;
            if out.len() >= target || w >= 4000 {
                break out;
            }
            w += w / 4;
            h += h / 4;
        };
        let digest = sha2::Sha256::digest(&jpeg);
        Ok(Self {
            sha256_hex: hex::encode(digest),
            checksum: format!(
                "sha256 {}",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ),
            jpeg,
        })
    }
}

/// What a device knows of itself and its group.
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    pub idx: usize,
    pub seed: DeviceSeed,
    pub children: Vec<ChildId>,
    pub staff: StaffId,
    pub start_after: Duration,
}

struct Device {
    spec: DeviceSpec,
    shared: Arc<Shared>,
    http: reqwest::Client,
    cursor: Cursor,
    pushed: u64,
}

/// Runs one device until `shared.stop_all`.
pub async fn run(spec: DeviceSpec, shared: Arc<Shared>) {
    let rec = shared.recorder.clone();
    tokio::select! {
        _ = shared.stop_all.cancelled() => return,
        _ = tokio::time::sleep(spec.start_after) => {}
    }
    let http = match reqwest::Client::builder()
        .timeout(crate::REQUEST_TIMEOUT)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "no HTTP client");
            rec.error("device_http_client");
            return;
        }
    };
    let nudge = Arc::new(Notify::new());
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    let bell_stop = CancellationToken::new();
    let bell = tokio::spawn(doorbell(
        spec.seed.clone(),
        shared.clone(),
        nudge.clone(),
        subscribed_tx,
        bell_stop.clone(),
    ));
    tokio::select! {
        _ = shared.stop_all.cancelled() => {}
        r = tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscribed_rx) => {
            if !matches!(r, Ok(Ok(()))) {
                rec.error("mqtt_not_subscribed_30s");
            }
        }
    }
    let mut dev = Device {
        spec,
        shared: shared.clone(),
        http,
        cursor: Cursor(0),
        pushed: 0,
    };
    if !shared.stop_all.is_cancelled() {
        dev.pull_all(Trigger::Start).await;
        rec.device_ready(dev.spec.idx);
    }
    let timing = &shared.timing;
    let now = tokio::time::Instant::now();
    let mut next_pull = now + jittered(timing.feed_every);
    // the first push and photo at a random phase of their period
    let mut next_push = now
        + timing
            .push_every
            .mul_f64(rand::rng().random_range(0.0..1.0));
    let mut next_photo = now
        + timing
            .photo_every
            .mul_f64(rand::rng().random_range(0.0..1.0));
    loop {
        tokio::select! {
            _ = shared.stop_all.cancelled() => break,
            _ = nudge.notified() => dev.pull_all(Trigger::Nudge).await,
            _ = sleep_until(next_pull) => {
                dev.pull_all(Trigger::Timer).await;
                next_pull = tokio::time::Instant::now() + jittered(timing.feed_every);
            }
            _ = sleep_until(next_push) => {
                if !shared.stop_writes.is_cancelled() {
                    dev.push().await;
                }
                next_push = tokio::time::Instant::now() + jittered(timing.push_every);
            }
            _ = sleep_until(next_photo) => {
                if !shared.stop_writes.is_cancelled() {
                    dev.photo().await;
                }
                next_photo = tokio::time::Instant::now() + jittered(timing.photo_every);
            }
        }
    }
    bell_stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), bell).await;
}

/// The MQTT doorbell, as the device's sync engine runs it: client id = user =
/// device id, password = the MQTT password derived from the secret, persistent session, retained presence with a
/// last will; every nudge wakes the puller.
async fn doorbell(
    seed: DeviceSeed,
    shared: Arc<Shared>,
    nudge: Arc<Notify>,
    subscribed: tokio::sync::oneshot::Sender<()>,
    stop: CancellationToken,
) {
    let rec = shared.recorder.clone();
    let id = seed.id.to_string();
    let mut opts = MqttOptions::new(id.clone(), shared.mqtt.ip().to_string(), shared.mqtt.port());
    opts.set_credentials(id, kring_protocol::mqtt::password(&seed.secret));
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_clean_session(false);
    let presence = mqtt::presence_topic(&seed.id);
    let nudge_topic = mqtt::nudge_topic(&seed.id);
    opts.set_last_will(LastWill::new(
        presence.clone(),
        "\"offline\"",
        QoS::AtLeastOnce,
        true,
    ));
    let (client, mut events) = AsyncClient::new(opts, 16);
    let mut subscribed = Some(subscribed);
    let mut connected = false;
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => break,
            e = events.poll() => e,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                if ack.code != ConnectReturnCode::Success {
                    rec.error(format!("mqtt_connack_{:?}", ack.code));
                    continue;
                }
                if connected {
                    continue;
                }
                connected = true;
                let sub = client
                    .subscribe(nudge_topic.clone(), QoS::AtLeastOnce)
                    .await;
                let pubd = client
                    .publish(presence.clone(), QoS::AtLeastOnce, true, "\"online\"")
                    .await;
                if sub.is_err() || pubd.is_err() {
                    rec.error("mqtt_request");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let ok = ack
                    .return_codes
                    .iter()
                    .all(|c| matches!(c, rumqttc::SubscribeReasonCode::Success(_)));
                if !ok {
                    rec.error("mqtt_subscribe_refused");
                } else if let Some(tx) = subscribed.take() {
                    let _ = tx.send(());
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic == nudge_topic => {
                rec.count("nudges_received");
                nudge.notify_one();
            }
            Ok(_) => {}
            Err(e) => {
                if stop.is_cancelled() {
                    break;
                }
                tracing::debug!(device = %seed.id, error = %e, "doorbell lost");
                rec.error(if connected {
                    "mqtt_disconnect"
                } else {
                    "mqtt_connect"
                });
                if connected {
                    // things may have changed while away, as the device does
                    nudge.notify_one();
                }
                connected = false;
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
    // a clean goodbye, so the end of the run is not counted as a failure
    if client.disconnect().await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while events.poll().await.is_ok() {}
        })
        .await;
    }
}

/// `<what>_timeout`, `<what>_connect` or `<what>_transport`.
pub fn transport_error(what: &str, e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    };
    format!("{what}_{kind}")
}

impl Device {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.shared.base))
            .header(API_VERSION_HEADER, API_VERSION)
            .header(APP_VERSION_HEADER, crate::APP_VERSION)
            .header(OUTBOX_PENDING_HEADER, "0")
            .bearer_auth(&self.spec.seed.secret)
    }

    /// Pulls until `has_more` is false, timing each page and noting the
    /// parents' messages it finds.
    async fn pull_all(&mut self, trigger: Trigger) {
        let rec = self.shared.recorder.clone();
        for _ in 0..MAX_PAGES {
            let started = Instant::now();
            let path = format!("/api/v1/feed?since={}", self.cursor.0);
            let resp = match self.req(reqwest::Method::GET, &path).send().await {
                Ok(r) => r,
                Err(e) => return rec.error(transport_error("feed", &e)),
            };
            let status = resp.status();
            if !status.is_success() {
                return rec.error(format!("feed_http_{}", status.as_u16()));
            }
            let bytes = match resp.bytes().await {
                Ok(b) => b,
                Err(e) => return rec.error(transport_error("feed", &e)),
            };
            let page: FeedPage = match serde_json::from_slice(&bytes) {
                Ok(p) => p,
                Err(_) => return rec.error("feed_bad_json"),
            };
            rec.sample(Metric::Feed, started.elapsed());
            rec.count("feed_pulls");
            let at = Instant::now();
            for change in &page.changes {
                if let ChangeKind::Message(m) = &change.kind
                    && matches!(m.author, MessageAuthor::Parent { .. })
                    && m.body.starts_with(&self.shared.marker)
                {
                    rec.message_seen(&m.body, self.spec.idx, at, trigger);
                }
            }
            self.cursor = page.cursor;
            if !page.has_more {
                return;
            }
        }
        rec.error("feed_too_many_pages");
    }

    fn child(&self) -> ChildId {
        let i = rand::rng().random_range(0..self.spec.children.len().max(1));
        self.spec.children.get(i).copied().unwrap_or_default()
    }

    /// A diary entry or a message to a child's parents, half and half.
    async fn push(&mut self) {
        self.pushed += 1;
        let n = self.pushed;
        let child = self.child();
        let staff = Some(self.spec.staff);
        let item = if rand::rng().random_bool(0.5) {
            PushItem::Diary(StaffDiaryItem {
                id: DiaryEntryId::new(),
                children: vec![child],
                text: format!(
                    "Scherm {} #{n}: heeft goed gegeten en lang buiten gespeeld.",
                    self.spec.idx
                ),
                photos: Vec::new(),
                baby: None,
                staff_id: staff,
                written_at_device: chrono::Utc::now(),
            })
        } else {
            PushItem::Message(StaffMessageItem {
                id: MessageId::new(),
                thread: MessageThread::Child { child_id: child },
                body: format!("Scherm {} #{n}: vandaag was een fijne dag.", self.spec.idx),
                staff_id: staff,
            })
        };
        if self.push_item(&item, Metric::Push).await {
            self.shared.recorder.count("pushes");
        }
    }

    /// POSTs an item; true when the server took it (200).
    async fn push_item(&self, item: &PushItem, metric: Metric) -> bool {
        let rec = &self.shared.recorder;
        let started = Instant::now();
        let resp = self
            .req(reqwest::Method::POST, "/api/v1/items")
            .header(IDEMPOTENCY_KEY_HEADER, item.id().to_string())
            .json(item)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                rec.error(transport_error("push", &e));
                return false;
            }
        };
        let status = resp.status();
        // the receipt is read: the round trip includes it
        let body = resp.bytes().await;
        if !status.is_success() {
            rec.error(format!(
                "push_{}_http_{}",
                item.kind_name(),
                status.as_u16()
            ));
            return false;
        }
        if let Err(e) = body {
            rec.error(transport_error("push", &e));
            return false;
        }
        rec.sample(metric, started.elapsed());
        true
    }

    /// A photo of one child (consent `group`): tus create, one PATCH, then the item.
    async fn photo(&mut self) {
        let rec = self.shared.recorder.clone();
        let photo = self.shared.photo.clone();
        let id = PhotoId::new();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let started = Instant::now();
        let created = self
            .req(reqwest::Method::POST, "/api/v1/uploads")
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", photo.jpeg.len())
            .header(
                "Upload-Metadata",
                format!(
                    "{UPLOAD_META_SHA256} {},{UPLOAD_META_PHOTO_ID} {}",
                    b64(&photo.sha256_hex),
                    b64(&id.to_string())
                ),
            )
            .send()
            .await;
        let created = match created {
            Ok(r) if r.status().as_u16() == 201 => r,
            Ok(r) => return rec.error(format!("upload_create_http_{}", r.status().as_u16())),
            Err(e) => return rec.error(transport_error("upload_create", &e)),
        };
        let location = created
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let Some(location) = location else {
            return rec.error("upload_create_no_location");
        };
        let Some(upload) = location
            .rsplit('/')
            .next()
            .and_then(|s| s.parse::<UploadId>().ok())
        else {
            return rec.error("upload_create_bad_location");
        };
        let patched = self
            .req(reqwest::Method::PATCH, &location)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", "0")
            .header("Upload-Checksum", &photo.checksum)
            .body(photo.jpeg.clone())
            .send()
            .await;
        match patched {
            Ok(r) if r.status().as_u16() == 204 => {}
            Ok(r) => return rec.error(format!("upload_patch_http_{}", r.status().as_u16())),
            Err(e) => return rec.error(transport_error("upload_patch", &e)),
        }
        rec.sample(Metric::PhotoUpload, started.elapsed());
        let child = self.child();
        let item = PushItem::Photo(PhotoItem {
            id,
            upload_id: upload,
            sha256: photo.sha256_hex.clone(),
            tags: vec![child],
            no_children_recognizable: false,
            audience_shown: decide_audience(
                &[ConsentedChild {
                    id: child,
                    consent: PhotoConsent::Group,
                }],
                false,
            ),
            taken_at_device: chrono::Utc::now(),
            staff_id: Some(self.spec.staff),
        });
        if self.push_item(&item, Metric::PhotoPush).await {
            rec.count("photos");
        }
    }
}

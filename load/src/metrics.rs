//! What the run measures: latencies, errors by kind, and when each parent
//! message was saved and seen by each device of its group.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A parent message that no device of its group has after this is an error.
pub const DELIVERY_LIMIT: Duration = Duration::from_secs(60);

/// A timed request kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// `GET /api/v1/feed` round trip, body read and parsed.
    Feed,
    /// `POST /api/v1/items` of a diary entry or staff message.
    Push,
    /// tus create + PATCH of the whole photo.
    PhotoUpload,
    /// `POST /api/v1/items` of the photo item after its upload.
    PhotoPush,
    /// `GET /mijn-kind`.
    Timeline,
    /// `POST /inloggen` (the server verifies an Argon2 hash).
    Login,
    /// `POST /berichten` (the parent's message form).
    MessagePost,
}

/// What made a device pull the page in which it found a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The first pull after starting (or a pull right after the doorbell reconnected).
    Start,
    /// A nudge on the MQTT doorbell.
    Nudge,
    /// The periodic pull.
    Timer,
}

#[derive(Debug)]
struct Sent {
    group: usize,
    at: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    /// (when it ended, milliseconds)
    samples: BTreeMap<Metric, Vec<(Instant, f64)>>,
    errors: BTreeMap<String, u64>,
    counters: BTreeMap<&'static str, u64>,
    sent: HashMap<String, Sent>,
    /// body → device → first time seen, and by which pull
    seen: HashMap<String, HashMap<usize, (Instant, Trigger)>>,
    /// device → when it was subscribed and had pulled once
    ready: HashMap<usize, Instant>,
}

/// Shared by every task of the run. Each call holds the lock briefly.
#[derive(Debug, Default)]
pub struct Recorder {
    inner: Mutex<Inner>,
}

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn sample(&self, metric: Metric, took: Duration) {
        self.lock()
            .samples
            .entry(metric)
            .or_default()
            .push((Instant::now(), took.as_secs_f64() * 1000.0));
    }

    /// Counts one error of `kind` (e.g. `feed_http_500`, `mqtt_disconnect`).
    pub fn error(&self, kind: impl Into<String>) {
        let kind = kind.into();
        tracing::debug!(kind, "error");
        *self.lock().errors.entry(kind).or_default() += 1;
    }

    pub fn count(&self, name: &'static str) {
        *self.lock().counters.entry(name).or_default() += 1;
    }

    pub fn device_ready(&self, device: usize) {
        self.lock().ready.entry(device).or_insert_with(Instant::now);
    }

    /// True when every one of `devices` is ready.
    pub fn all_ready(&self, devices: &[usize]) -> bool {
        let inner = self.lock();
        devices.iter().all(|d| inner.ready.contains_key(d))
    }

    /// A parent's message was saved (the POST answered) at `at`.
    pub fn message_sent(&self, body: String, group: usize, at: Instant) {
        self.lock().sent.insert(body, Sent { group, at });
    }

    /// A device found a message in a feed page (only its first sight counts).
    pub fn message_seen(&self, body: &str, device: usize, at: Instant, trigger: Trigger) {
        self.lock()
            .seen
            .entry(body.to_string())
            .or_default()
            .entry(device)
            .or_insert((at, trigger));
    }

    /// Pairs (message, device of its group that was ready when it was sent) not
    /// yet seen and still within [`DELIVERY_LIMIT`]: what the end of the run waits for.
    pub fn waiting_deliveries(&self, group_devices: &[Vec<usize>], now: Instant) -> usize {
        let inner = self.lock();
        let mut waiting = 0;
        for (body, sent) in &inner.sent {
            if now.saturating_duration_since(sent.at) > DELIVERY_LIMIT {
                continue;
            }
            let seen = inner.seen.get(body);
            for d in group_devices.get(sent.group).into_iter().flatten() {
                let ready = inner.ready.get(d).is_some_and(|r| *r <= sent.at);
                if ready && !seen.is_some_and(|s| s.contains_key(d)) {
                    waiting += 1;
                }
            }
        }
        waiting
    }

    /// Everything measured, with the deliveries checked against the groups'
    /// devices; [`Measured::steady`] holds what was measured from
    /// `steady_from` on (after the start-up: devices connecting, parents
    /// logging in).
    pub fn finish(&self, group_devices: &[Vec<usize>], steady_from: Instant) -> Measured {
        let mut inner = self.lock();
        let mut pairs = Vec::new();
        let mut slowest = Vec::new();
        let mut steady_pairs = Vec::new();
        let mut skipped = 0u64;
        let mut undelivered = 0u64;
        let mut by_trigger: BTreeMap<String, u64> = BTreeMap::new();
        let mut messages_reached = 0u64;
        for (body, sent) in &inner.sent {
            let seen = inner.seen.get(body);
            let mut worst: Option<f64> = None;
            let mut reached = false;
            for d in group_devices.get(sent.group).into_iter().flatten() {
                let ready = inner.ready.get(d).is_some_and(|r| *r <= sent.at);
                let sight = seen.and_then(|s| s.get(d));
                if sight.is_some() {
                    reached = true;
                }
                if !ready {
                    skipped += 1;
                    continue;
                }
                match sight {
                    Some((at, trigger)) => {
                        let took = at.saturating_duration_since(sent.at);
                        if took > DELIVERY_LIMIT {
                            undelivered += 1;
                        }
                        let ms = took.as_secs_f64() * 1000.0;
                        pairs.push(ms);
                        if sent.at >= steady_from {
                            steady_pairs.push(ms);
                        }
                        worst = Some(worst.map_or(ms, |w: f64| w.max(ms)));
                        let name = serde_json::to_value(trigger)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default();
                        *by_trigger.entry(name).or_default() += 1;
                    }
                    None => undelivered += 1,
                }
            }
            if reached {
                messages_reached += 1;
            }
            if let Some(w) = worst {
                slowest.push(w);
            }
        }
        if undelivered > 0 {
            *inner
                .errors
                .entry("message_not_delivered_60s".into())
                .or_default() += undelivered;
        }
        let values = |m: Metric, inner: &Inner, from: Option<Instant>| -> Vec<f64> {
            inner
                .samples
                .get(&m)
                .map(|v| {
                    v.iter()
                        .filter(|(at, _)| from.is_none_or(|f| *at >= f))
                        .map(|(_, ms)| *ms)
                        .collect()
                })
                .unwrap_or_default()
        };
        let stats = |m: Metric, inner: &Inner| Stats::of(&values(m, inner, None));
        let steady = |m: Metric, inner: &Inner| Stats::of(&values(m, inner, Some(steady_from)));
        Measured {
            feed_ms: stats(Metric::Feed, &inner),
            push_ms: stats(Metric::Push, &inner),
            photo_upload_ms: stats(Metric::PhotoUpload, &inner),
            photo_push_ms: stats(Metric::PhotoPush, &inner),
            timeline_ms: stats(Metric::Timeline, &inner),
            login_ms: stats(Metric::Login, &inner),
            message_post_ms: stats(Metric::MessagePost, &inner),
            delivery: Delivery {
                messages: inner.sent.len() as u64,
                messages_reached_a_device: messages_reached,
                per_pair_ms: Stats::of(&pairs),
                slowest_device_per_message_ms: Stats::of(&slowest),
                pairs_not_ready_skipped: skipped,
                pairs_seen_after: by_trigger,
                pairs_not_delivered_60s: undelivered,
            },
            counters: inner
                .counters
                .iter()
                .map(|(k, v)| ((*k).to_string(), *v))
                .collect(),
            errors: inner.errors.clone(),
            devices_ready: inner.ready.len() as u64,
            steady: Steady {
                feed_ms: steady(Metric::Feed, &inner),
                delivery_per_pair_ms: Stats::of(&steady_pairs),
                push_ms: steady(Metric::Push, &inner),
                timeline_ms: steady(Metric::Timeline, &inner),
                message_post_ms: steady(Metric::MessagePost, &inner),
            },
        }
    }
}

/// Percentiles of one metric, in milliseconds (nearest rank).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Stats {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Stats {
    pub fn of(values: &[f64]) -> Self {
        let mut v: Vec<f64> = values.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| -> f64 {
            if v.is_empty() {
                return 0.0;
            }
            let i = ((p / 100.0) * v.len() as f64).ceil() as usize;
            v[i.clamp(1, v.len()) - 1]
        };
        Self {
            count: v.len() as u64,
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            max: v.last().copied().unwrap_or(0.0),
        }
    }
}

/// Parent messages reaching the group's devices (MQTT nudge, then a feed pull).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Delivery {
    /// Messages parents posted (each answered 303).
    pub messages: u64,
    /// Messages that at least one device of the group found in its feed.
    pub messages_reached_a_device: u64,
    /// From the POST's answer to the device's feed page, per (message, device of
    /// the group) pair.
    pub per_pair_ms: Stats,
    /// The same, the slowest device of the group per message.
    pub slowest_device_per_message_ms: Stats,
    /// Pairs not measured: the device had not started yet when the message was saved.
    pub pairs_not_ready_skipped: u64,
    /// Measured pairs by what made the device pull (`nudge`, `timer`, `start`).
    pub pairs_seen_after: BTreeMap<String, u64>,
    /// Pairs seen late (over 60 s) or never: counted as errors too.
    pub pairs_not_delivered_60s: u64,
}

/// The same latencies, measured only once the start-up was over.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Steady {
    pub feed_ms: Stats,
    pub delivery_per_pair_ms: Stats,
    pub push_ms: Stats,
    pub timeline_ms: Stats,
    pub message_post_ms: Stats,
}

/// What the recorder holds at the end.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Measured {
    pub feed_ms: Stats,
    pub push_ms: Stats,
    pub photo_upload_ms: Stats,
    pub photo_push_ms: Stats,
    pub timeline_ms: Stats,
    pub login_ms: Stats,
    pub message_post_ms: Stats,
    pub delivery: Delivery,
    pub counters: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    pub devices_ready: u64,
    /// From the end of the start-up on (see `Report::steady_from_s`).
    pub steady: Steady,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Stats::of(&v);
        assert_eq!((s.p50, s.p90, s.p99, s.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(Stats::of(&[]).count, 0);
        assert_eq!(Stats::of(&[7.0]).p99, 7.0);
    }

    #[test]
    fn a_message_missing_on_a_ready_device_is_an_error() {
        let r = Recorder::default();
        r.device_ready(0);
        r.device_ready(1);
        let sent = Instant::now();
        r.message_sent("m".into(), 0, sent);
        r.message_seen("m", 0, sent + Duration::from_millis(40), Trigger::Nudge);
        // device 2 started later: skipped, not an error
        r.device_ready(2);
        let m = r.finish(&[vec![0, 1, 2]], Instant::now());
        assert_eq!(m.delivery.per_pair_ms.count, 1);
        assert_eq!(m.delivery.pairs_not_delivered_60s, 1);
        assert_eq!(m.delivery.pairs_not_ready_skipped, 1);
        assert_eq!(m.delivery.messages_reached_a_device, 1);
        assert_eq!(m.errors.get("message_not_delivered_60s"), Some(&1));
    }
}

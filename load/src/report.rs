//! The run's numbers: JSON (serde) and a markdown table.

use crate::config::Backend;
use crate::metrics::{Measured, Stats};
use serde::Serialize;
use std::fmt::Write;

/// The server process as /proc saw it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerStats {
    /// The process ended before the generator stopped it.
    pub died: bool,
    pub exit_status: Option<String>,
    /// VmHWM at the end of the load.
    pub peak_rss_mib: f64,
    /// VmRSS every 10 s: (seconds since the load started, MiB).
    pub rss_mib_every_10s: Vec<(f64, f64)>,
    /// utime + stime during the load.
    pub cpu_seconds: f64,
    pub cpu_percent_of_one_core: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub backend: Backend,
    pub server_bin: String,
    pub devices: u32,
    pub groups: usize,
    pub parents: usize,
    pub seed_seconds: f64,
    /// The load itself (devices and parents writing).
    pub run_seconds: f64,
    /// The steady-state figures (`steady`) count from this many seconds
    /// after the start of the load.
    pub steady_from_s: f64,
    /// Waiting for the last parent messages to reach the devices.
    pub drain_seconds: f64,
    pub photo_bytes: usize,
    pub errors_total: u64,
    #[serde(flatten)]
    pub measured: Measured,
    pub server: ServerStats,
}

/// The separator line after a latency table's header, and a row per metric.
fn latency_rows(s: &mut String, rows: &[(&str, &Stats)]) {
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for (name, x) in rows {
        let _ = writeln!(
            s,
            "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            x.count, x.p50, x.p90, x.p99, x.max
        );
    }
}

impl Report {
    /// The server lived and nothing failed.
    pub fn ok(&self) -> bool {
        !self.server.died && self.errors_total == 0
    }

    pub fn markdown(&self) -> String {
        let m = &self.measured;
        let d = &m.delivery;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "## kring-load: {} devices in {} groups, {} parents, {:?}, {:.0} s (+{:.1} s waiting for the last messages)\n",
            self.devices,
            self.groups,
            self.parents,
            self.backend,
            self.run_seconds,
            self.drain_seconds
        );
        let _ = writeln!(s, "| latency (ms) | count | p50 | p90 | p99 | max |");
        let rows: [(&str, &Stats); 9] = [
            ("feed pull `GET /api/v1/feed`", &m.feed_ms),
            (
                "parent message → device feed, per (message, device)",
                &d.per_pair_ms,
            ),
            (
                "parent message → device feed, slowest device per message",
                &d.slowest_device_per_message_ms,
            ),
            ("push diary/message `POST /api/v1/items`", &m.push_ms),
            ("photo upload (tus create + PATCH)", &m.photo_upload_ms),
            ("photo item push", &m.photo_push_ms),
            ("timeline page `GET /mijn-kind`", &m.timeline_ms),
            ("parent login `POST /inloggen`", &m.login_ms),
            ("parent message `POST /berichten`", &m.message_post_ms),
        ];
        latency_rows(&mut s, &rows);
        let st = &m.steady;
        let _ = writeln!(
            s,
            "\nSteady state: from {:.0} s on (devices connected, parents logged in)\n",
            self.steady_from_s
        );
        let _ = writeln!(
            s,
            "| latency (ms), steady state | count | p50 | p90 | p99 | max |"
        );
        let steady_rows: [(&str, &Stats); 5] = [
            ("feed pull", &st.feed_ms),
            (
                "parent message → device feed, per (message, device)",
                &st.delivery_per_pair_ms,
            ),
            ("push diary/message", &st.push_ms),
            ("timeline page", &st.timeline_ms),
            ("parent message post", &st.message_post_ms),
        ];
        latency_rows(&mut s, &steady_rows);
        let counter = |k: &str| m.counters.get(k).copied().unwrap_or(0);
        let _ = writeln!(s, "\n| what | value |\n|---|---|");
        let srv = &self.server;
        let rss: Vec<String> = srv
            .rss_mib_every_10s
            .iter()
            .map(|(_, v)| format!("{v:.0}"))
            .collect();
        let lines = [
            (
                "server peak RSS (VmHWM)".to_string(),
                format!("{:.1} MiB", srv.peak_rss_mib),
            ),
            ("server RSS every 10 s (MiB)".into(), rss.join(", ")),
            (
                "server CPU (utime+stime)".into(),
                format!(
                    "{:.1} s = {:.1} % of one core",
                    srv.cpu_seconds, srv.cpu_percent_of_one_core
                ),
            ),
            (
                "server died".into(),
                match &srv.exit_status {
                    Some(st) => format!("yes ({st})"),
                    None if srv.died => "yes".into(),
                    None => "no".into(),
                },
            ),
            (
                "devices ready (subscribed, first pull)".into(),
                format!("{} / {}", m.devices_ready, self.devices),
            ),
            ("feed pulls".into(), counter("feed_pulls").to_string()),
            (
                "nudges received".into(),
                counter("nudges_received").to_string(),
            ),
            (
                "pushes (diary/message)".into(),
                counter("pushes").to_string(),
            ),
            (
                "photos".into(),
                format!("{} ({} bytes each)", counter("photos"), self.photo_bytes),
            ),
            ("parent logins".into(), counter("parent_logins").to_string()),
            (
                "parent messages (reached a device)".into(),
                format!("{} ({})", d.messages, d.messages_reached_a_device),
            ),
            (
                "pairs measured, by what made the device pull".into(),
                d.pairs_seen_after
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            (
                "pairs skipped (device not started yet)".into(),
                d.pairs_not_ready_skipped.to_string(),
            ),
            ("seeding".into(), format!("{:.1} s", self.seed_seconds)),
            ("errors".into(), self.errors_total.to_string()),
        ];
        for (k, v) in lines {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        for (kind, n) in &m.errors {
            let _ = writeln!(s, "| error `{kind}` | {n} |");
        }
        s
    }
}

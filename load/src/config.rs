//! The generator's command line (also built by the smoke test with
//! `Config::try_parse_from`).

use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// At most this many devices: each holds two connections on each side.
pub const MAX_DEVICES: i64 = 5000;

/// Where the server keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// `kring.sqlite3` in the run's temporary data directory.
    Sqlite,
    /// A fresh database on a PostgreSQL server of this process (Debian's binaries,
    /// a temporary directory, a Unix socket), removed at exit.
    Postgres,
}

/// Measures one kring-server under the load of N group-room devices and their
/// parents, all on 127.0.0.1, for a bounded time.
#[derive(Debug, Clone, Parser)]
#[command(name = "kring-load", version)]
pub struct Config {
    /// The `kring-server` binary to start (e.g. target/release/kring-server).
    #[arg(long)]
    pub server_bin: PathBuf,
    #[arg(long, value_enum)]
    pub backend: Backend,
    /// Number of virtual group-room devices.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_DEVICES))]
    pub devices: u32,
    /// How long the load runs, in minutes.
    #[arg(long, required_unless_present = "seconds", conflicts_with = "seconds",
          value_parser = clap::value_parser!(u64).range(1..=240))]
    pub minutes: Option<u64>,
    /// How long the load runs, in seconds (for short runs).
    #[arg(long, value_parser = clap::value_parser!(u64).range(5..=14_400))]
    pub seconds: Option<u64>,
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub devices_per_group: u32,
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub parents_per_group: u32,
    /// Children placed on each group (photo consent `group`).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub children_per_group: u32,
    /// Devices and parents start spread over this many seconds (default:
    /// a quarter of the run, at most 30 s: a storm like a server restart,
    /// with every parent logging in at once).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub ramp: Option<u64>,
    /// Seconds from the start of the load until the steady-state figures
    /// begin (default: the start-up window plus 60 s, at most half the run):
    /// devices connecting and parents logging in (Argon2) are over by then.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=14_400))]
    pub warmup: Option<u64>,
    /// Write the numbers as JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep the run's temporary directory (data, server.log) and log where it is.
    #[arg(long)]
    pub keep: bool,
    /// Mean seconds between a device's timed feed pulls (jittered ±50 %).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub feed_every: u64,
    /// Mean seconds between a device's pushes of a diary entry or message.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub push_every: u64,
    /// Mean seconds between a device's photos (tus upload, then the item).
    #[arg(long, default_value_t = 1200, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub photo_every: u64,
    /// Mean seconds between a parent's reads of the timeline (/mijn-kind).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeline_every: u64,
    /// Mean seconds between a parent's messages in a child's thread.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub message_every: u64,
}

impl Config {
    /// How long the load runs (before the last messages are waited for).
    pub fn run_time(&self) -> Duration {
        match (self.seconds, self.minutes) {
            (Some(s), _) => Duration::from_secs(s),
            (None, Some(m)) => Duration::from_secs(m * 60),
            (None, None) => Duration::from_secs(60),
        }
    }

    /// Devices and parents start spread over this window.
    pub fn stagger(&self) -> Duration {
        match self.ramp {
            Some(s) => Duration::from_secs(s).min(self.run_time()),
            None => (self.run_time() / 4).min(Duration::from_secs(30)),
        }
    }

    /// When the steady-state figures begin, from the start of the load.
    pub fn steady_after(&self) -> Duration {
        let warmup = self
            .warmup
            .map(Duration::from_secs)
            .unwrap_or(self.stagger() + Duration::from_secs(60));
        warmup.min(self.run_time() / 2)
    }

    /// Number of groups: ceil(devices / devices_per_group).
    pub fn groups(&self) -> usize {
        self.devices.div_ceil(self.devices_per_group) as usize
    }
}

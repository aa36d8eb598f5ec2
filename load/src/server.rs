//! The kring-server under test: a child process on 127.0.0.1 with its own
//! ports and data directory, and what /proc says about it.

use crate::LoadError;
use kring_server::settings::Settings;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// How long the server may take to answer /healthz after starting.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A free port on 127.0.0.1 (bound and released; the server binds it next).
pub fn free_port() -> Result<u16, LoadError> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(LoadError::Io)?;
    Ok(l.local_addr().map_err(LoadError::Io)?.port())
}

/// The running server process.
#[derive(Debug)]
pub struct ServerProcess {
    child: tokio::process::Child,
    pub pid: u32,
    pub http: SocketAddr,
    pub mqtt: SocketAddr,
    pub log: PathBuf,
}

impl ServerProcess {
    /// Starts `bin serve` with `settings` given as `KRING__…` variables (and
    /// `--data-dir`), its output in `log`; returns once /healthz answers and the
    /// broker accepts connections.
    pub async fn start(bin: &Path, settings: &Settings, log: PathBuf) -> Result<Self, LoadError> {
        let http = settings.http.listen;
        let mqtt = settings.mqtt.listen;
        let out = std::fs::File::create(&log).map_err(LoadError::Io)?;
        let err = out.try_clone().map_err(LoadError::Io)?;
        let mut cmd = tokio::process::Command::new(bin);
        cmd.arg("--data-dir")
            .arg(&settings.data_dir)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        // only the settings given here, none of the caller's
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("KRING") {
                cmd.env_remove(&key);
            }
        }
        cmd.env_remove("RUST_LOG");
        if let Ok(filter) = std::env::var("KRING_LOAD_SERVER_LOG") {
            cmd.env("RUST_LOG", filter);
        }
        cmd.env("KRING__HTTP__LISTEN", http.to_string())
            .env("KRING__HTTP__PUBLIC_URL", format!("http://{http}"))
            .env("KRING__MQTT__LISTEN", mqtt.to_string())
            .env("KRING__PORTAL__BASE_DOMAIN", &settings.portal.base_domain);
        if let Some(url) = &settings.database.url {
            cmd.env("KRING__DATABASE__URL", url).env(
                "KRING__DATABASE__POOL_SIZE",
                settings.database.pool_size.to_string(),
            );
        }
        let child = cmd.spawn().map_err(|e| LoadError::Spawn {
            bin: bin.to_path_buf(),
            source: e,
        })?;
        let pid = child.id().ok_or(LoadError::ServerDied)?;
        let mut server = Self {
            child,
            pid,
            http,
            mqtt,
            log,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<(), LoadError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(LoadError::Http)?;
        let url = format!("http://{}/healthz", self.http);
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(LoadError::ServerExited(status.to_string(), self.log_tail()));
            }
            let http_ok = client
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if http_ok && tokio::net::TcpStream::connect(self.mqtt).await.is_ok() {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(LoadError::ServerNotReady(self.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The exit status, if the process has ended.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown ({e})")),
        }
    }

    /// Stops the server: SIGINT (its Ctrl+C shutdown), then SIGKILL after 10 s.
    pub async fn stop(mut self) {
        if self.exited().is_some() {
            return;
        }
        let sent = tokio::process::Command::new("kill")
            .args(["-INT", &self.pid.to_string()])
            .status()
            .await
            .is_ok_and(|s| s.success());
        if sent
            && tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_ok()
        {
            return;
        }
        tracing::warn!("the server did not stop on SIGINT; killing it");
        let _ = self.child.kill().await;
    }

    /// The last lines of the server's output.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// One reading of /proc/<pid>.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    /// Resident set now (VmRSS), KiB.
    pub rss_kib: u64,
    /// Peak resident set (VmHWM), KiB.
    pub hwm_kib: u64,
    /// utime + stime, clock ticks.
    pub cpu_ticks: u64,
    /// The process is gone or a zombie.
    pub dead: bool,
}

/// Reads the memory and CPU time of `pid` (a dead process reads as `dead`).
pub fn proc_sample(pid: u32) -> ProcSample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
    let (Ok(status), Ok(stat)) = (status, stat) else {
        return ProcSample {
            dead: true,
            ..ProcSample::default()
        };
    };
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // fields after "(comm)": state is field 3, utime 14, stime 15
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let state = fields.first().copied().unwrap_or("X");
    ProcSample {
        rss_kib: kib("VmRSS:"),
        hwm_kib: kib("VmHWM:"),
        cpu_ticks: field(14) + field(15),
        dead: state == "Z" || state == "X",
    }
}

/// Clock ticks per second (`getconf CLK_TCK`, else Linux's usual 100).
pub async fn clock_ticks() -> u64 {
    tokio::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .await
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_process() {
        let s = proc_sample(std::process::id());
        assert!(!s.dead);
        assert!(s.rss_kib > 0 && s.hwm_kib >= s.rss_kib);
        assert!(proc_sample(u32::MAX).dead);
    }
}

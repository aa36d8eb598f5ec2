//! Talking to the guest from outside: QMP (the QEMU monitor: screenshots,
//! pointer events, the network link) and the QEMU guest agent (commands
//! inside the guest, as root, through a virtio-serial port). Both speak JSON
//! lines over a Unix socket.

use anyhow::{Context, bail, ensure};
use base64::Engine;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// The screen the guest's virtio-gpu shows (and the tablet's coordinates map onto).
pub const SCREEN: (u32, u32) = (1280, 800);

/// A QMP connection.
#[derive(Debug)]
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Connects (QEMU may still be creating the socket) and leaves capability
    /// negotiation.
    pub fn connect(path: &Path, within: Duration) -> anyhow::Result<Self> {
        let start = Instant::now();
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if start.elapsed() < within => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e).context("connecting to QMP"),
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let writer = stream.try_clone()?;
        let mut qmp = Self {
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = qmp.read()?;
        if greeting.get("QMP").is_none() {
            bail!("not a QMP greeting: {greeting}");
        }
        qmp.execute("qmp_capabilities", json!({}))?;
        Ok(qmp)
    }

    fn read(&mut self) -> anyhow::Result<Value> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            bail!("QMP closed");
        }
        Ok(serde_json::from_str(&line)?)
    }

    /// Runs a command; events that arrive meanwhile are skipped.
    pub fn execute(&mut self, command: &str, arguments: Value) -> anyhow::Result<Value> {
        let msg = json!({ "execute": command, "arguments": arguments });
        writeln!(self.writer, "{msg}")?;
        loop {
            let v = self.read()?;
            if let Some(r) = v.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = v.get("error") {
                bail!("QMP {command}: {e}");
            }
        }
    }

    /// The guest's screen as a PNG file.
    pub fn screenshot(&mut self, png: &Path) -> anyhow::Result<()> {
        self.execute(
            "screendump",
            json!({ "filename": png.to_string_lossy(), "format": "png" }),
        )?;
        let bytes = std::fs::read(png).with_context(|| format!("reading {}", png.display()))?;
        ensure!(
            bytes.starts_with(b"\x89PNG"),
            "{} is not a PNG",
            png.display()
        );
        Ok(())
    }

    /// A finger on the screen at (x, y) in screen pixels: move, press, release.
    pub fn tap(&mut self, x: u32, y: u32) -> anyhow::Result<()> {
        let ax = i64::from(x) * 0x7fff / i64::from(SCREEN.0 - 1);
        let ay = i64::from(y) * 0x7fff / i64::from(SCREEN.1 - 1);
        let moved = json!([
            { "type": "abs", "data": { "axis": "x", "value": ax } },
            { "type": "abs", "data": { "axis": "y", "value": ay } }
        ]);
        self.execute("input-send-event", json!({ "events": moved }))?;
        std::thread::sleep(Duration::from_millis(60));
        for down in [true, false] {
            let ev = json!([{ "type": "btn", "data": { "down": down, "button": "left" } }]);
            self.execute("input-send-event", json!({ "events": ev }))?;
            std::thread::sleep(Duration::from_millis(80));
        }
        Ok(())
    }
}

/// Output of a command run in the guest.
#[derive(Debug, Clone)]
pub struct Exec {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// The QEMU guest agent inside the guest.
#[derive(Debug)]
pub struct Agent {
    path: std::path::PathBuf,
    next_id: u64,
}

impl Agent {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            next_id: 1,
        }
    }

    /// One request on a fresh connection, synchronised first with
    /// `guest-sync` so a stale answer from an earlier timeout is never taken.
    fn request(&mut self, msg: Value, timeout: Duration) -> anyhow::Result<Value> {
        let stream = UnixStream::connect(&self.path).context("guest agent socket")?;
        stream.set_read_timeout(Some(timeout))?;
        let mut writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        let id = self.next_id;
        self.next_id += 1;
        writeln!(
            writer,
            "{}",
            json!({ "execute": "guest-sync", "arguments": { "id": id } })
        )?;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                bail!("guest agent closed");
            }
            let v: Value = match serde_json::from_str(line.trim_start_matches('\u{ff}')) {
                Ok(v) => v,
                Err(_) => continue,
            };
            if v.get("return").and_then(Value::as_u64) == Some(id) {
                break;
            }
        }
        writeln!(writer, "{msg}")?;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                bail!("guest agent closed");
            }
            let v: Value = serde_json::from_str(&line)?;
            if let Some(r) = v.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = v.get("error") {
                bail!("guest agent: {e}");
            }
        }
    }

    /// Waits until the agent answers (the guest has booted far enough).
    pub fn wait(&mut self, within: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            match self.request(json!({ "execute": "guest-ping" }), Duration::from_secs(3)) {
                Ok(_) => return Ok(start.elapsed()),
                Err(e) if start.elapsed() < within => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => return Err(e).context("the guest agent never answered"),
            }
        }
    }

    /// Runs `sh -c script` in the guest as root and waits for it (2 minutes at most).
    pub fn sh(&mut self, script: &str) -> anyhow::Result<Exec> {
        self.sh_within(script, Duration::from_secs(120))
    }

    /// Runs `sh -c script` in the guest as root and waits for it.
    pub fn sh_within(&mut self, script: &str, within: Duration) -> anyhow::Result<Exec> {
        let started = self.request(
            json!({ "execute": "guest-exec", "arguments": {
                "path": "/bin/sh", "arg": ["-c", script], "capture-output": true } }),
            Duration::from_secs(20),
        )?;
        let pid = started
            .get("pid")
            .and_then(Value::as_i64)
            .context("guest-exec gave no pid")?;
        let deadline = Instant::now() + within;
        loop {
            let st = self.request(
                json!({ "execute": "guest-exec-status", "arguments": { "pid": pid } }),
                Duration::from_secs(20),
            )?;
            if st.get("exited").and_then(Value::as_bool) == Some(true) {
                let text = |k: &str| -> String {
                    st.get(k)
                        .and_then(Value::as_str)
                        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default()
                };
                return Ok(Exec {
                    code: st.get("exitcode").and_then(Value::as_i64).unwrap_or(-1),
                    stdout: text("out-data"),
                    stderr: text("err-data"),
                });
            }
            if Instant::now() > deadline {
                bail!("{script:?} did not finish in the guest");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Like [`Agent::sh`], but a non-zero exit is an error.
    pub fn ok(&mut self, script: &str) -> anyhow::Result<String> {
        let r = self.sh(script)?;
        if r.code != 0 {
            bail!(
                "in the guest, {script:?} exited {}: {}{}",
                r.code,
                r.stdout,
                r.stderr
            );
        }
        Ok(r.stdout)
    }
}

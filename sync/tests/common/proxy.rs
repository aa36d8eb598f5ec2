//! A fault-injecting TCP proxy between the device and the server on loopback.
//! Each new connection takes the first queued fault whose method matches its
//! request line (or passes through); `down` makes every connection refused.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection at once.
    Refuse,
    /// Forward only the first `n` bytes of the request, then cut.
    CutRequestAfter(usize),
    /// Forward the request, let the server answer, drop the answer.
    DropResponse,
    /// Answer `500` without asking the server.
    Answer500,
    /// Answer this status and JSON body without asking the server.
    Answer(u16, &'static str),
    /// Hold the connection this long, then cut it.
    Stall(Duration),
}

#[derive(Debug, Default)]
struct State {
    faults: VecDeque<(Option<&'static str>, Fault)>,
}

#[derive(Debug, Clone)]
pub struct Proxy {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    down: Arc<AtomicBool>,
    /// Bytes of PATCH requests forwarded to the server (headers included).
    pub patch_bytes: Arc<AtomicU64>,
    pub connections: Arc<AtomicU64>,
    /// The link's speed, shared by every connection in both directions (a
    /// Wi-Fi or mobile link is one medium); see [`Proxy::set_rate`].
    link: Arc<Link>,
}

/// A shared link of a fixed rate: bytes pass one after another.
#[derive(Debug, Default)]
struct Link {
    /// Bytes per second; 0: as fast as loopback.
    rate: AtomicU64,
    /// When the link is free again.
    free_at: Mutex<Option<tokio::time::Instant>>,
}

impl Link {
    /// Waits until `n` bytes have crossed the link.
    async fn pass(&self, n: usize) {
        let rate = self.rate.load(Ordering::SeqCst);
        if rate == 0 {
            return;
        }
        let done = {
            let mut free = self.free_at.lock().expect("link");
            let now = tokio::time::Instant::now();
            let start = free.filter(|t| *t > now).unwrap_or(now);
            let done = start + Duration::from_secs_f64(n as f64 / rate as f64);
            *free = Some(done);
            done
        };
        tokio::time::sleep_until(done).await;
    }
}

/// Answers `status` with the JSON `body`, as the server would.
async fn answer(client: &mut TcpStream, status: u16, body: &str) {
    let resp = format!(
        "HTTP/1.1 {status} Injected\r\ncontent-type: application/json\r\nkring-api-version: 1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(resp.as_bytes()).await;
}

/// Copies `from` to `to` in small pieces, each through the link.
async fn copy_through(
    link: &Link,
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    counter: Option<&AtomicU64>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                link.pass(n).await;
                if let Some(c) = counter {
                    c.fetch_add(n as u64, Ordering::SeqCst);
                }
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

impl Proxy {
    /// Limits the link to `bytes_per_sec` (0: no limit), for every
    /// connection together.
    pub fn set_rate(&self, bytes_per_sec: u64) {
        self.link.rate.store(bytes_per_sec, Ordering::SeqCst);
    }

    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let proxy = Proxy {
            addr: listener.local_addr().expect("proxy addr"),
            state: Arc::default(),
            down: Arc::default(),
            patch_bytes: Arc::default(),
            connections: Arc::default(),
            link: Arc::default(),
        };
        let p = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let p = p.clone();
                tokio::spawn(async move { p.handle(client, upstream).await });
            }
        });
        proxy
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queue a fault for the next connection whose request starts with `method` (any if None).
    pub fn push(&self, method: Option<&'static str>, fault: Fault) {
        self.state
            .lock()
            .expect("proxy state")
            .faults
            .push_back((method, fault));
    }

    pub fn pending_faults(&self) -> usize {
        self.state.lock().expect("proxy state").faults.len()
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    async fn handle(&self, mut client: TcpStream, upstream: SocketAddr) {
        self.connections.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return;
        }
        let mut first = vec![0u8; 64 * 1024];
        let n = match client.read(&mut first).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        first.truncate(n);
        let fault = {
            let mut st = self.state.lock().expect("proxy state");
            let pos = st
                .faults
                .iter()
                .position(|(m, _)| m.is_none_or(|m| first.starts_with(m.as_bytes())));
            pos.and_then(|i| st.faults.remove(i)).map(|(_, f)| f)
        };
        let is_patch = first.starts_with(b"PATCH");
        match fault {
            Some(Fault::Refuse) => {}
            Some(Fault::Stall(d)) => tokio::time::sleep(d).await,
            Some(Fault::Answer500) => {
                answer(
                    &mut client,
                    500,
                    r#"{"code":"internal","message":"injected failure"}"#,
                )
                .await;
            }
            Some(Fault::Answer(status, body)) => answer(&mut client, status, body).await,
            Some(Fault::CutRequestAfter(limit)) => {
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let mut sent = 0usize;
                let mut chunk = first;
                loop {
                    let take = chunk.len().min(limit - sent);
                    if server.write_all(&chunk[..take]).await.is_err() {
                        return;
                    }
                    sent += take;
                    if is_patch {
                        self.patch_bytes.fetch_add(take as u64, Ordering::SeqCst);
                    }
                    if sent >= limit {
                        break;
                    }
                    let mut buf = vec![0u8; 64 * 1024];
                    match client.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            buf.truncate(n);
                            chunk = buf;
                        }
                    }
                }
                let _ = server.flush().await;
                // Give the server a moment to see the cut, then drop both ends.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Some(Fault::DropResponse) => {
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                if server.write_all(&first).await.is_err() {
                    return;
                }
                let (mut cr, _cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let mut buf = vec![0u8; 64 * 1024];
                let mut answer = vec![0u8; 1024];
                // Forward the request until the server starts answering; drop the answer
                // (the server has committed by then) and cut the client off.
                loop {
                    tokio::select! {
                        r = cr.read(&mut buf) => match r {
                            Ok(0) | Err(_) => return,
                            Ok(n) => if sw.write_all(&buf[..n]).await.is_err() { return },
                        },
                        _ = sr.read(&mut answer) => return,
                    }
                }
            }
            None => {
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                if is_patch {
                    self.patch_bytes
                        .fetch_add(first.len() as u64, Ordering::SeqCst);
                }
                self.link.pass(first.len()).await;
                if server.write_all(&first).await.is_err() {
                    return;
                }
                let counter = is_patch.then(|| self.patch_bytes.clone());
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let link = self.link.clone();
                let up = tokio::spawn(async move {
                    copy_through(&link, cr, sw, counter.as_deref()).await;
                });
                copy_through(&self.link, sr, cw, None).await;
                up.abort();
            }
        }
    }
}

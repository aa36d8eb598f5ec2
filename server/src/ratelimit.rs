//! A small sliding-window limiter for failed attempts: per client address
//! (enrollment codes, portal logins) or per account (portal logins and reset
//! requests), and for enrollment also in total, so guessing stays hopeless.

use axum::http::HeaderMap;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts failures per key in a sliding window; optionally across all keys.
#[derive(Debug)]
pub struct RateLimiter<K = IpAddr> {
    per_peer: u32,
    /// None: no limit across keys. A shared cap suits enrollment codes (no
    /// user is locked out by it), not logins (one attacker could lock out
    /// everybody).
    total: Option<u32>,
    window: Duration,
    state: Mutex<State<K>>,
}

#[derive(Debug)]
struct State<K> {
    peers: HashMap<K, VecDeque<Instant>>,
    all: VecDeque<Instant>,
}

fn prune(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
        q.pop_front();
    }
}

/// The client's address for rate limits: the connecting address or, behind a
/// trusted reverse proxy (`http.trusted_proxies`), the last address that proxy
/// put in `X-Forwarded-For`. IPv6 counts per /64 (one home has a whole /64).
pub fn client_ip(state: &crate::AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let mut ip = peer.ip();
    if state.settings.http.trusted_proxies.contains(&ip)
        && let Some(forwarded) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        ip = forwarded;
    }
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// Drops the keys without a failure in the window once there are many.
fn forget_idle<K>(s: &mut State<K>, now: Instant, window: Duration) {
    if s.peers.len() > 10_000 {
        s.peers
            .retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
    }
}

impl RateLimiter<IpAddr> {
    /// `per_peer` failures per address per `window`; 20 times that in total.
    pub fn new(per_peer: u32, window: Duration) -> Self {
        Self::build(per_peer, Some(per_peer.saturating_mul(20)), window)
    }
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `per_key` failures per key per `window`, no limit across keys.
    pub fn per_key(per_key: u32, window: Duration) -> Self {
        Self::build(per_key, None, window)
    }

    fn build(per_peer: u32, total: Option<u32>, window: Duration) -> Self {
        Self {
            per_peer,
            total,
            window,
            state: Mutex::new(State {
                peers: HashMap::new(),
                all: VecDeque::new(),
            }),
        }
    }

    /// If `peer` must wait, how long.
    pub fn blocked(&self, peer: K) -> Option<Duration> {
        self.blocked_at(peer, Instant::now())
    }

    pub fn blocked_at(&self, peer: K, now: Instant) -> Option<Duration> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let window = self.window;
        prune(&mut s.all, now, window);
        let q = s.peers.entry(peer).or_default();
        prune(q, now, window);
        let wait = |q: &VecDeque<Instant>| {
            q.front()
                .map(|t| window.saturating_sub(now.duration_since(*t)))
        };
        if q.len() >= self.per_peer as usize {
            return wait(q);
        }
        if let Some(total) = self.total
            && s.all.len() >= total as usize
        {
            return wait(&s.all);
        }
        None
    }

    /// Counts an attempt *before* it is checked, when `peer` may still make
    /// one: of many parallel attempts, no more pass than the limit allows
    /// (checking first and counting the failure afterwards lets them all
    /// through). Keep the [`Attempt`] until the outcome is known and call
    /// [`Attempt::succeeded`] when it was right; dropped, it stays counted as a
    /// failure. `Err` is how long to wait.
    pub fn attempt(&self, peer: K) -> Result<Attempt<'_, K>, Duration> {
        self.attempt_at(peer, Instant::now())
    }

    pub fn attempt_at(&self, peer: K, now: Instant) -> Result<Attempt<'_, K>, Duration> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let s = &mut *guard;
        let window = self.window;
        prune(&mut s.all, now, window);
        let q = s.peers.entry(peer.clone()).or_default();
        prune(q, now, window);
        let wait = |q: &VecDeque<Instant>| {
            q.front()
                .map_or(window, |t| window.saturating_sub(now.duration_since(*t)))
        };
        if q.len() >= self.per_peer as usize {
            return Err(wait(q));
        }
        if let Some(total) = self.total
            && s.all.len() >= total as usize
        {
            return Err(wait(&s.all));
        }
        // counted under the same lock as the check
        q.push_back(now);
        s.all.push_back(now);
        forget_idle(s, now, window);
        Ok(Attempt {
            limiter: self,
            peer,
            at: now,
        })
    }

    /// Takes back one counted attempt of `peer` made at `at`.
    fn forgive(&self, peer: &K, at: Instant) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(q) = s.peers.get_mut(peer)
            && let Some(i) = q.iter().position(|t| *t == at)
        {
            q.remove(i);
        }
        if let Some(i) = s.all.iter().position(|t| *t == at) {
            s.all.remove(i);
        }
    }

    pub fn record_failure(&self, peer: K) {
        self.record_failure_at(peer, Instant::now());
    }

    pub fn record_failure_at(&self, peer: K, now: Instant) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.peers.entry(peer).or_default().push_back(now);
        s.all.push_back(now);
        let window = self.window;
        prune(&mut s.all, now, window);
        forget_idle(&mut s, now, window);
    }
}

/// An attempt counted by [`RateLimiter::attempt`]; a failure unless it
/// [`succeeded`](Attempt::succeeded).
#[derive(Debug)]
#[must_use = "an attempt counts as a failure unless it is told it succeeded"]
pub struct Attempt<'a, K: Hash + Eq + Clone = IpAddr> {
    limiter: &'a RateLimiter<K>,
    peer: K,
    at: Instant,
}

impl<K: Hash + Eq + Clone> Attempt<'_, K> {
    /// The attempt was right: it no longer counts.
    pub fn succeeded(self) {
        self.limiter.forgive(&self.peer, self.at);
    }
}

/// Slows everybody down, instead of refusing everybody, while wrong attempts
/// arrive from many addresses at once (more than `threshold` in the window):
/// then attempts pass one at a time, each after a pause, so guessing across
/// addresses gets at most one try per pause while a real device still gets
/// through, a little later. (A shared cap that refuses would let twenty
/// addresses lock every location out of enrolling.)
#[derive(Debug)]
pub struct Slowdown {
    failures: RateLimiter<()>,
    gate: tokio::sync::Semaphore,
    pause: Duration,
    max_wait: Duration,
}

impl Slowdown {
    pub fn new(threshold: u32, window: Duration, pause: Duration, max_wait: Duration) -> Self {
        Self {
            failures: RateLimiter::per_key(threshold, window),
            gate: tokio::sync::Semaphore::new(1),
            pause,
            max_wait,
        }
    }

    /// Waits for this attempt's turn. `Ok(None)`: no pressure, go on;
    /// `Ok(Some(turn))`: hold it while the attempt is checked; `Err`: the queue
    /// was too long, come back after this long.
    pub async fn turn(&self) -> Result<Option<tokio::sync::SemaphorePermit<'_>>, Duration> {
        if self.failures.blocked(()).is_none() {
            return Ok(None);
        }
        let permit = tokio::time::timeout(self.max_wait, self.gate.acquire())
            .await
            .map_err(|_| self.max_wait)?
            .map_err(|_| self.max_wait)?;
        tokio::time::sleep(self.pause).await;
        Ok(Some(permit))
    }

    pub fn record_failure(&self) {
        self.failures.record_failure(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_failures_and_releases_after_window() {
        let l = RateLimiter::new(3, Duration::from_secs(60));
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(l.blocked_at(a, t0).is_none(), "attempt {i}");
            l.record_failure_at(a, t0);
        }
        assert!(l.blocked_at(a, t0).is_some());
        assert!(l.blocked_at(b, t0).is_none(), "other peers are not blocked");
        assert!(l.blocked_at(a, t0 + Duration::from_secs(61)).is_none());
    }

    #[test]
    fn total_limit_stops_distributed_guessing() {
        let l = RateLimiter::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..20u8 {
            l.record_failure_at(IpAddr::from([10, 0, 1, i]), t0);
        }
        assert!(l.blocked_at(IpAddr::from([10, 0, 2, 1]), t0).is_some());
    }

    #[test]
    fn attempts_are_counted_before_they_are_checked() {
        let l: RateLimiter<String> = RateLimiter::per_key(3, Duration::from_secs(60));
        let t0 = Instant::now();
        // three in flight at once: the fourth is refused before any finished
        let held: Vec<_> = (0..3)
            .map(|_| l.attempt_at("anne".into(), t0).expect("within the limit"))
            .collect();
        assert!(l.attempt_at("anne".into(), t0).is_err());
        // a right one gives its place back, a wrong one keeps it
        let mut held = held.into_iter();
        held.next().expect("one").succeeded();
        drop(held);
        let again = l.attempt_at("anne".into(), t0).expect("room for one more");
        assert!(l.attempt_at("anne".into(), t0).is_err());
        again.succeeded();
        assert!(
            l.attempt_at("anne".into(), t0 + Duration::from_secs(61))
                .is_ok()
        );
    }

    #[test]
    fn a_per_key_limiter_blocks_one_key_only() {
        let l: RateLimiter<String> = RateLimiter::per_key(2, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..50 {
            l.record_failure_at(format!("other{i}"), t0);
        }
        assert!(l.blocked_at("anne".into(), t0).is_none(), "no shared cap");
        l.record_failure_at("anne".into(), t0);
        l.record_failure_at("anne".into(), t0);
        assert!(l.blocked_at("anne".into(), t0).is_some());
        let later = t0 + Duration::from_secs(61);
        assert!(l.blocked_at("anne".into(), later).is_none());
    }
}

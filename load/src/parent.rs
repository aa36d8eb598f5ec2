//! A virtual parent in the portal at `load.localhost:<port>` (pinned to
//! 127.0.0.1): logs in once with the form and its CSRF token, reads the
//! timeline now and then and writes messages in a child's thread.

use crate::device::transport_error;
use crate::metrics::Metric;
use crate::seed::ParentSeed;
use crate::{Shared, jittered};
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::sleep_until;

/// A parent starts writing once its group's devices are up, or after this.
const WAIT_FOR_DEVICES: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct ParentSpec {
    pub idx: usize,
    pub seed: ParentSeed,
    pub start_after: Duration,
}

/// An answer as far as a parent looks at it.
#[derive(Debug)]
struct Page {
    status: u16,
    location: Option<String>,
}

/// A cookie-keeping client for one host that does not follow redirects.
#[derive(Debug)]
struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
    csrf: Option<String>,
}

impl Browser {
    fn new(shared: &Shared) -> Result<Self, reqwest::Error> {
        let host = format!("{}.localhost", crate::seed::SLUG);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve(&host, shared.http)
            .timeout(crate::REQUEST_TIMEOUT)
            .build()?;
        Ok(Self {
            client,
            base: format!("http://{host}:{}", shared.http.port()),
            cookies: BTreeMap::new(),
            csrf: None,
        })
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Result<Page, reqwest::Error> {
        let mut req = req;
        if !self.cookies.is_empty() {
            let header: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(reqwest::header::COOKIE, header.join("; "));
        }
        let resp = req.send().await?;
        for sc in resp.headers().get_all(reqwest::header::SET_COOKIE) {
            let Ok(sc) = sc.to_str() else { continue };
            let (pair, attrs) = sc.split_once(';').unwrap_or((sc, ""));
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            if attrs.to_ascii_lowercase().contains("max-age=0") {
                self.cookies.remove(k.trim());
            } else {
                self.cookies
                    .insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await?;
        if let Some(token) = csrf_of(&text) {
            self.csrf = Some(token);
        }
        Ok(Page { status, location })
    }

    async fn get(&mut self, path: &str) -> Result<Page, reqwest::Error> {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    /// POSTs a form with the CSRF token of the last page, as a same-origin form.
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Result<Page, reqwest::Error> {
        let csrf = self.csrf.clone().unwrap_or_default();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(form);
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::ORIGIN, self.base.clone())
            .form(&all);
        self.send(req).await
    }
}

/// The value of the first `name="csrf"` field.
fn csrf_of(html: &str) -> Option<String> {
    let key = "name=\"csrf\" value=\"";
    let at = html.find(key)?;
    html[at + key.len()..].split('"').next().map(str::to_string)
}

/// Runs one parent until `shared.stop_writes`.
pub async fn run(spec: ParentSpec, shared: Arc<Shared>) {
    let rec = shared.recorder.clone();
    tokio::select! {
        _ = shared.stop_writes.cancelled() => return,
        _ = tokio::time::sleep(spec.start_after) => {}
    }
    let mut b = match Browser::new(&shared) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "no HTTP client");
            return rec.error("parent_http_client");
        }
    };
    if !login(&mut b, &spec, &shared).await {
        return;
    }
    // write only once the group's devices listen (their start is staggered)
    let waited = Instant::now();
    while !shared.group_ready(spec.seed.group) && waited.elapsed() < WAIT_FOR_DEVICES {
        tokio::select! {
            _ = shared.stop_writes.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    let timing = &shared.timing;
    let now = tokio::time::Instant::now();
    let mut next_read = now
        + timing
            .timeline_every
            .mul_f64(rand::rng().random_range(0.0..1.0));
    let mut next_message = now
        + timing
            .message_every
            .mul_f64(rand::rng().random_range(0.0..1.0));
    let mut written = 0u64;
    // a parent is done when writing stops: the run then waits for its messages
    loop {
        tokio::select! {
            _ = shared.stop_writes.cancelled() => break,
            _ = sleep_until(next_read) => {
                timeline(&mut b, &shared).await;
                next_read = tokio::time::Instant::now() + jittered(timing.timeline_every);
            }
            _ = sleep_until(next_message) => {
                written += 1;
                message(&mut b, &spec, &shared, written).await;
                next_message = tokio::time::Instant::now() + jittered(timing.message_every);
            }
        }
    }
}

/// The login form: GET for the CSRF cookie and token, POST, then the page it
/// sends the parent to (for the session's token).
async fn login(b: &mut Browser, spec: &ParentSpec, shared: &Shared) -> bool {
    let rec = &shared.recorder;
    match b.get("/inloggen").await {
        Ok(p) if p.status == 200 => {}
        Ok(p) => {
            rec.error(format!("login_page_http_{}", p.status));
            return false;
        }
        Err(e) => {
            rec.error(transport_error("login_page", &e));
            return false;
        }
    }
    let started = Instant::now();
    let form = [
        ("email", spec.seed.email.as_str()),
        ("password", spec.seed.password.as_str()),
    ];
    let page = match b.post("/inloggen", &form).await {
        Ok(p) => p,
        Err(e) => {
            rec.error(transport_error("login", &e));
            return false;
        }
    };
    if page.status != 303 || page.location.as_deref() != Some("/mijn-kind") {
        rec.error(format!("login_http_{}", page.status));
        return false;
    }
    rec.sample(Metric::Login, started.elapsed());
    rec.count("parent_logins");
    timeline(b, shared).await
}

/// `GET /mijn-kind`, timed; true when it answered 200.
async fn timeline(b: &mut Browser, shared: &Shared) -> bool {
    let rec = &shared.recorder;
    let started = Instant::now();
    match b.get("/mijn-kind").await {
        Ok(p) if p.status == 200 => {
            rec.sample(Metric::Timeline, started.elapsed());
            true
        }
        // a redirect here means the session was lost
        Ok(p) => {
            rec.error(format!("timeline_http_{}", p.status));
            false
        }
        Err(e) => {
            rec.error(transport_error("timeline", &e));
            false
        }
    }
}

/// A message in one of the parent's children's threads, with a body unique in
/// the run; the time of the POST's answer is when it was saved.
async fn message(b: &mut Browser, spec: &ParentSpec, shared: &Shared, n: u64) {
    let rec = &shared.recorder;
    let kids = &spec.seed.children;
    let Some(child) = kids.get(rand::rng().random_range(0..kids.len().max(1))) else {
        return;
    };
    let body = format!(
        "{} ouder {} bericht {n}: oma haalt vandaag op.",
        shared.marker, spec.idx
    );
    let child = child.to_string();
    let started = Instant::now();
    let page = b
        .post(
            "/berichten",
            &[("child_id", child.as_str()), ("body", body.as_str())],
        )
        .await;
    let saved = Instant::now();
    let page = match page {
        Ok(p) => p,
        Err(e) => return rec.error(transport_error("message", &e)),
    };
    let expected = format!("/berichten/kind/{child}");
    match page.location {
        Some(loc) if page.status == 303 && loc.starts_with(&expected) => {
            rec.sample(Metric::MessagePost, started.elapsed());
            rec.message_sent(body, spec.seed.group, saved);
            // the browser follows the redirect to the thread
            match b.get(&loc).await {
                Ok(p) if p.status == 200 => {}
                Ok(p) => rec.error(format!("thread_http_{}", p.status)),
                Err(e) => rec.error(transport_error("thread", &e)),
            }
        }
        _ => rec.error(format!("message_http_{}", page.status)),
    }
}

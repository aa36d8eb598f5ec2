//! The HTTP side of the device API: enrollment, the feed, pushes, and a tus
//! 1.0 client for photos. Every call says what went wrong as a
//! [`Failure`](crate::decide::Failure) so the engine can classify it.

use crate::decide::Failure;
use base64::Engine;
use kring_protocol::{
    API_VERSION, API_VERSION_HEADER, APP_VERSION_HEADER, ApiError, Cursor, EnrollRequest,
    EnrollResponse, FeedPage, IDEMPOTENCY_KEY_HEADER, OUTBOX_PENDING_HEADER, PushItem, PushReceipt,
    RELEASE_HEADER, ReleaseId, UPLOAD_META_PHOTO_ID, UPLOAD_META_SHA256, UpdateReport, UploadId,
};
use reqwest::{Response, StatusCode};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long one range request of an update download may take. The updater
/// sizes its requests to about a second of the link (at most 1 MiB), so a
/// request still going after this has a stalled connection (a Wi-Fi that
/// dropped, a router that forgot the connection): it is given up and the
/// download resumes from the bytes it has, on a new connection.
pub const RANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// A device API client. Cheap to clone.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    secret: Option<String>,
    /// Sent on every request so the location admin sees which version runs.
    app_version: Option<String>,
    /// Items in the outbox, sent on every request ("items waiting").
    pending: Option<Arc<AtomicU64>>,
    /// The appliance's release (`<compatible> <version>`), on every request.
    release: Option<String>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn net(e: reqwest::Error) -> Failure {
    Failure::Network(e.to_string())
}

async fn check(resp: Response) -> Result<Response, Failure> {
    if let Some(v) = resp.headers().get(API_VERSION_HEADER)
        && v.to_str().ok().and_then(|s| s.parse::<u32>().ok()) != Some(API_VERSION)
    {
        return Err(Failure::Status {
            status: 400,
            retry_after: None,
            error: Some(ApiError::new(
                kring_protocol::ErrorCode::ApiVersionMismatch,
                format!("the server speaks API version {v:?}, this device {API_VERSION}"),
            )),
        });
    }
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let error = resp.json::<ApiError>().await.ok();
    Err(Failure::Status {
        status: status.as_u16(),
        retry_after,
        error,
    })
}

impl ApiClient {
    /// A client for `base` (e.g. `https://zonnebloem.example.nl`), with the
    /// device secret once enrolled.
    pub fn new(base: &str, secret: Option<String>) -> Result<Self, Failure> {
        Self::with_options(base, secret, true)
    }

    /// Like [`ApiClient::new`]; `reuse_connections = false` opens a connection
    /// per request (the fault-injection tests cut connections per request).
    pub fn with_options(
        base: &str,
        secret: Option<String>,
        reuse_connections: bool,
    ) -> Result<Self, Failure> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60));
        if !reuse_connections {
            builder = builder.pool_max_idle_per_host(0);
        }
        let http = builder.build().map_err(net)?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            secret,
            app_version: None,
            pending: None,
            release: None,
        })
    }

    /// Reports this app version on every request.
    pub fn with_app_version(mut self, version: impl Into<String>) -> Self {
        self.app_version = Some(version.into());
        self
    }

    /// Reports the appliance's release on every request (what update offers
    /// are matched against).
    pub fn with_release(mut self, release: impl Into<String>) -> Self {
        self.release = Some(release.into());
        self
    }

    /// Reports the outbox size read from `pending` on every request.
    pub fn with_pending(mut self, pending: Arc<AtomicU64>) -> Self {
        self.pending = Some(pending);
        self
    }

    fn req(&self, method: reqwest::Method, path_or_url: &str) -> reqwest::RequestBuilder {
        let url = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.base)
        };
        let mut r = self
            .http
            .request(method, url)
            .header(API_VERSION_HEADER, API_VERSION);
        if let Some(s) = &self.secret {
            r = r.bearer_auth(s);
        }
        if let Some(v) = &self.app_version {
            r = r.header(APP_VERSION_HEADER, v);
        }
        if let Some(p) = &self.pending {
            r = r.header(OUTBOX_PENDING_HEADER, p.load(Ordering::Relaxed));
        }
        if let Some(v) = &self.release {
            r = r.header(RELEASE_HEADER, v);
        }
        r
    }

    /// Bytes `from..=to` of a release's bundle (HTTP Range). A server that
    /// ignores the range (200 with the whole file) is refused: resuming
    /// would then mix two offsets.
    pub async fn bundle_range(
        &self,
        release: &ReleaseId,
        from: u64,
        to: u64,
    ) -> Result<Vec<u8>, Failure> {
        let resp = self
            .req(
                reqwest::Method::GET,
                &kring_protocol::update::bundle_path(release),
            )
            .header(reqwest::header::RANGE, format!("bytes={from}-{to}"))
            .timeout(RANGE_TIMEOUT)
            .send()
            .await
            .map_err(net)?;
        let resp = check(resp).await?;
        if resp.status() != StatusCode::PARTIAL_CONTENT {
            return Err(Failure::Network(format!(
                "the server answered {} to a range request",
                resp.status()
            )));
        }
        let bytes = resp.bytes().await.map_err(net)?;
        if bytes.len() as u64 != to - from + 1 {
            return Err(Failure::Network(format!(
                "asked for {} bytes, got {}",
                to - from + 1,
                bytes.len()
            )));
        }
        Ok(bytes.to_vec())
    }

    /// Tells the server how an update goes.
    pub async fn report_update(&self, report: &UpdateReport) -> Result<(), Failure> {
        let resp = self
            .req(
                reqwest::Method::POST,
                kring_protocol::update::UPDATE_STATUS_PATH,
            )
            .json(report)
            .send()
            .await
            .map_err(net)?;
        check(resp).await.map(|_| ())
    }

    pub async fn enroll(
        &self,
        code: &str,
        device_name: &str,
        app_version: &str,
    ) -> Result<EnrollResponse, Failure> {
        let resp = self
            .req(reqwest::Method::POST, "/api/v1/enroll")
            .json(&EnrollRequest {
                code: code.to_string(),
                device_name: device_name.to_string(),
                app_version: app_version.to_string(),
            })
            .send()
            .await
            .map_err(net)?;
        check(resp).await?.json().await.map_err(net)
    }

    pub async fn feed(&self, since: Cursor, limit: u32) -> Result<FeedPage, Failure> {
        let resp = self
            .req(
                reqwest::Method::GET,
                &format!("/api/v1/feed?since={}&limit={limit}", since.0),
            )
            .send()
            .await
            .map_err(net)?;
        check(resp).await?.json().await.map_err(net)
    }

    pub async fn push(&self, item: &PushItem) -> Result<PushReceipt, Failure> {
        let resp = self
            .req(reqwest::Method::POST, "/api/v1/items")
            .header(IDEMPOTENCY_KEY_HEADER, item.id().to_string())
            .json(item)
            .send()
            .await
            .map_err(net)?;
        check(resp).await?.json().await.map_err(net)
    }

    fn tus(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.req(method, url).header("Tus-Resumable", "1.0.0")
    }

    /// Creates an upload; returns its absolute URL and id.
    pub async fn upload_create(
        &self,
        length: u64,
        sha256: &str,
        photo: &uuid::Uuid,
    ) -> Result<(String, UploadId), Failure> {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let resp = self
            .tus(reqwest::Method::POST, "/api/v1/uploads")
            .header("Upload-Length", length)
            .header(
                "Upload-Metadata",
                format!(
                    "{UPLOAD_META_SHA256} {},{UPLOAD_META_PHOTO_ID} {}",
                    b64(sha256),
                    b64(&photo.to_string())
                ),
            )
            .send()
            .await
            .map_err(net)?;
        let resp = check(resp).await?;
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Failure::Network("upload created without a Location".into()))?;
        let url = if location.starts_with("http") {
            location.to_string()
        } else {
            format!("{}{location}", self.base)
        };
        let id = url
            .rsplit('/')
            .next()
            .and_then(|s| s.parse::<UploadId>().ok())
            .ok_or_else(|| Failure::Network(format!("unexpected upload location {url}")))?;
        Ok((url, id))
    }

    /// The server's offset of an upload (tus HEAD).
    pub async fn upload_offset(&self, url: &str) -> Result<u64, Failure> {
        let resp = self
            .tus(reqwest::Method::HEAD, url)
            .send()
            .await
            .map_err(net)?;
        if !resp.status().is_success() {
            return Err(Failure::Status {
                status: resp.status().as_u16(),
                retry_after: None,
                error: None,
            });
        }
        offset_header(&resp)
    }

    /// Sends one chunk at `offset` with a SHA-256 checksum; returns the new offset.
    pub async fn upload_chunk(
        &self,
        url: &str,
        offset: u64,
        chunk: Vec<u8>,
    ) -> Result<u64, Failure> {
        let sum = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&chunk));
        let resp = self
            .tus(reqwest::Method::PATCH, url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/offset+octet-stream",
            )
            .header("Upload-Offset", offset)
            .header("Upload-Checksum", format!("sha256 {sum}"))
            .body(chunk)
            .send()
            .await
            .map_err(net)?;
        if resp.status() == StatusCode::NO_CONTENT {
            return offset_header(&resp);
        }
        Err(check(resp)
            .await
            .err()
            .unwrap_or(Failure::Network("unexpected upload answer".into())))
    }
}

fn offset_header(resp: &Response) -> Result<u64, Failure> {
    resp.headers()
        .get("Upload-Offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Failure::Network("answer without Upload-Offset".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The app version and the outbox size go with every request.
    #[tokio::test]
    async fn every_request_reports_app_version_and_outbox_size() -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await?;
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = sock.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            sock.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n")
                .await?;
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&head).to_lowercase())
        });
        let pending = Arc::new(AtomicU64::new(7));
        let client = ApiClient::new(&format!("http://{addr}"), Some("geheim".into()))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .with_app_version("1.2.3")
            .with_pending(pending);
        let result = client.feed(Cursor(0), 10).await;
        assert!(matches!(result, Err(Failure::Status { status: 500, .. })));
        let head = server.await??;
        assert!(head.contains("kring-app-version: 1.2.3\r\n"), "{head}");
        assert!(head.contains("kring-outbox-pending: 7\r\n"), "{head}");
        Ok(())
    }
}

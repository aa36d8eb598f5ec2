//! The HTTP side of the device API: enrollment, the feed, pushes, and a tus
//! 1.0 client for photos. Every call says what went wrong as a
//! [`Failure`](crate::decide::Failure) so the engine can classify it.

use crate::decide::Failure;
use base64::Engine;
use kring_protocol::{
    API_VERSION, API_VERSION_HEADER, ApiError, Cursor, EnrollRequest, EnrollResponse, FeedPage,
    IDEMPOTENCY_KEY_HEADER, PushItem, PushReceipt, UPLOAD_META_PHOTO_ID, UPLOAD_META_SHA256,
    UploadId,
};
use reqwest::{Response, StatusCode};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// A device API client. Cheap to clone.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    secret: Option<String>,
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
        })
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
        r
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

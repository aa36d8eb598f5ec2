//! Headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`, installed by `cargo xtask deps`).

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

pub struct Browser {
    pub client: Client,
    _driver: Child,
}

fn find(env: &str, names: &[&str]) -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Ok(PathBuf::from(p));
    }
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
        for name in names {
            let p = PathBuf::from(dir).join(name);
            if p.exists() {
                return Ok(p);
            }
        }
    }
    bail!(
        "{} not found (set {env} or run `cargo xtask deps`)",
        names.join(" / ")
    )
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium
    /// window of `width` x `height` CSS pixels.
    pub async fn start(width: u32, height: u32) -> anyhow::Result<Self> {
        Self::start_with(width, height, None).await
    }

    /// [`Browser::start`], saving downloads in `downloads` without asking.
    pub async fn start_downloading(
        width: u32,
        height: u32,
        downloads: &std::path::Path,
    ) -> anyhow::Result<Self> {
        Self::start_with(width, height, Some(downloads)).await
    }

    async fn start_with(
        width: u32,
        height: u32,
        downloads: Option<&std::path::Path>,
    ) -> anyhow::Result<Self> {
        let driver_bin = find("KRING_CHROMEDRIVER", &["chromedriver"])?;
        let chromium = find("KRING_CHROMIUM", &["chromium", "chromium-browser"])?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", driver_bin.display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let mut caps = serde_json::Map::new();
        let mut options = serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--no-first-run",
                    "--lang=nl-NL",
                    format!("--window-size={width},{height}"),
                ],
        });
        // a Dutch parent's browser: `--lang` alone does not set the
        // Accept-Language header of headless Chromium
        options["prefs"] = serde_json::json!({ "intl.accept_languages": "nl-NL,nl" });
        if let Some(dir) = downloads {
            options["prefs"] = serde_json::json!({
                "intl.accept_languages": "nl-NL,nl",
                "download.default_directory": dir,
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
            });
        }
        caps.insert("goog:chromeOptions".into(), options);
        let mut last_error = None;
        for _ in 0..100 {
            let builder =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps.clone())
                    .to_owned();
            match builder.connect(&url).await {
                Ok(client) => {
                    return Ok(Self {
                        client,
                        _driver: driver,
                    });
                }
                Err(e) => {
                    last_error = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        bail!("chromedriver did not start a session: {last_error:?}")
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.client
            .goto(url)
            .await
            .with_context(|| format!("opening {url}"))
    }

    /// The visible text of the page.
    pub async fn text(&self) -> anyhow::Result<String> {
        Ok(self.client.find(Locator::Css("body")).await?.text().await?)
    }

    pub async fn fill(&self, css: &str, value: &str) -> anyhow::Result<()> {
        let e = self
            .client
            .find(Locator::Css(css))
            .await
            .with_context(|| format!("no field {css}"))?;
        e.clear().await?;
        e.send_keys(value).await?;
        Ok(())
    }

    /// Scrolls the element at `css` to the top of the window.
    pub async fn scroll_to(&self, css: &str) -> anyhow::Result<()> {
        self.client
            .execute(
                "document.querySelector(arguments[0]).scrollIntoView();",
                vec![css.into()],
            )
            .await?;
        Ok(())
    }

    /// Sets a field's value by script (a date input takes no typed ISO date).
    pub async fn set_value(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.client
            .find(Locator::Css(css))
            .await
            .with_context(|| format!("no field {css}"))?;
        self.client
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![css.into(), value.into()],
            )
            .await?;
        Ok(())
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.client
            .find(Locator::Css(css))
            .await
            .with_context(|| format!("nothing to click at {css}"))?
            .click()
            .await?;
        Ok(())
    }

    /// Clicks a submit button and waits until the next page has loaded
    /// (the old page's root element is gone).
    pub async fn submit(&self, css: &str) -> anyhow::Result<()> {
        let old = self.client.find(Locator::Css("html")).await?;
        self.click(css).await?;
        for _ in 0..400 {
            if old.tag_name().await.is_err() {
                self.client
                    .wait()
                    .at_most(Duration::from_secs(10))
                    .for_element(Locator::Css("body"))
                    .await?;
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        bail!("clicking {css} loaded no new page")
    }

    pub async fn exists(&self, css: &str) -> anyhow::Result<bool> {
        Ok(!self.client.find_all(Locator::Css(css)).await?.is_empty())
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> anyhow::Result<Vec<u8>> {
        Ok(self.client.screenshot().await?)
    }

    pub async fn close(self) -> anyhow::Result<()> {
        self.client.close().await?;
        Ok(())
    }
}

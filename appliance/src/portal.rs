//! A parent in the portal, over plain HTTP on loopback (the organisation is
//! chosen by the Host header, `zonnebloem.localhost`).

use anyhow::{Context, ensure};
use reqwest::blocking::Client;
use std::collections::BTreeSet;

#[derive(Debug)]
pub struct Parent {
    client: Client,
    base: String,
    cookie: String,
}

/// The `value` of the first input named `name`.
fn field(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    let at = html.find(&needle)? + needle.len();
    html[at..].split('"').next().map(str::to_string)
}

/// The ids of the photos a page links to (`/fotos/<uuid>...`).
fn photo_ids_in(html: &str) -> BTreeSet<String> {
    html.split("/fotos/")
        .skip(1)
        .filter_map(|rest| {
            let id: String = rest
                .chars()
                .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
                .collect();
            (id.len() == 36).then_some(id)
        })
        .collect()
}

impl Parent {
    pub fn login(port: u16, email: &str, password: &str) -> anyhow::Result<Self> {
        let host = "zonnebloem.localhost";
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve(host, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .build()?;
        let base = format!("http://{host}:{port}");
        let page = client.get(format!("{base}/inloggen")).send()?;
        let mut cookies: Vec<String> = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|c| c.to_str().ok()?.split(';').next().map(str::to_string))
            .collect();
        let html = page.text()?;
        let csrf = field(&html, "csrf").context("login page without csrf")?;
        let resp = client
            .post(format!("{base}/inloggen"))
            .header("cookie", cookies.join("; "))
            .header("sec-fetch-site", "same-origin")
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", email),
                ("password", password),
            ])
            .send()?;
        ensure!(
            resp.status().as_u16() == 303,
            "login refused: {}",
            resp.status()
        );
        cookies.extend(
            resp.headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|c| c.to_str().ok()?.split(';').next().map(str::to_string)),
        );
        Ok(Self {
            client,
            base,
            cookie: cookies.join("; "),
        })
    }

    fn get(&self, path: &str) -> anyhow::Result<reqwest::blocking::Response> {
        Ok(self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()?)
    }

    /// The photos on the parent's timeline (their ids).
    pub fn photo_ids(&self) -> anyhow::Result<BTreeSet<String>> {
        let resp = self.get("/mijn-kind")?;
        ensure!(resp.status().is_success(), "timeline: {}", resp.status());
        Ok(photo_ids_in(&resp.text()?))
    }

    /// The full photo is served to this parent, as a JPEG.
    pub fn photo_original(&self, id: &str) -> anyhow::Result<usize> {
        let resp = self.get(&format!("/fotos/{id}/origineel"))?;
        ensure!(resp.status().is_success(), "photo {id}: {}", resp.status());
        let bytes = resp.bytes()?;
        ensure!(bytes.starts_with(&[0xff, 0xd8]), "photo {id} is not a JPEG");
        Ok(bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_csrf_field_and_photo_links() {
        let html = r#"<input type="hidden" name="csrf" value="abc123"><a href="/fotos/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"><img src="/fotos/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/klein"></a><a href="/fotos/nope">"#;
        assert_eq!(field(html, "csrf").as_deref(), Some("abc123"));
        assert_eq!(field(html, "email"), None);
        let ids = photo_ids_in(html);
        assert_eq!(ids.len(), 1);
        assert!(ids.contains("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
    }
}

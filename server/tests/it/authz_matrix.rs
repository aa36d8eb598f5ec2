//! The authorization matrix (`authz_matrix.toml`): every role x resource x
//! action row runs over real HTTP against the portal fixture and must give
//! the expected outcome; every portal route must be listed. Plus the IDOR
//! sweep: a parent of group A asks for every photo, thumbnail, diary entry and
//! message of group B and of another organisation, and gets 404 for each.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::portal::{Browser, Page, Portal};
use kring_protocol::{API_VERSION, API_VERSION_HEADER, RELEASE_HEADER};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Deserialize)]
struct Matrix {
    rows: Vec<Row>,
}

#[derive(Debug, Deserialize)]
struct Row {
    role: String,
    host: Option<String>,
    route: String,
    path: Option<String>,
    #[serde(default)]
    form: BTreeMap<String, String>,
    csrf: Option<bool>,
    #[serde(default)]
    multipart: bool,
    json: Option<String>,
    expect: String,
}

fn substitute(s: &str, ids: &HashMap<&'static str, String>) -> String {
    let mut out = s.replace(
        "{today}",
        &kring_protocol::Calendar::default()
            .today(chrono::Utc::now())
            .to_string(),
    );
    for (k, v) in ids {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

fn home_org(role: &str) -> &'static str {
    match role {
        "other_org" | "other_manager" => "ander",
        _ => "test",
    }
}

fn outcome(page: &Page) -> String {
    match (page.status, page.location.as_deref()) {
        (303, Some("/inloggen")) => "login".into(),
        (303, Some("/wachtwoord-wijzigen")) => "change".into(),
        (303, Some(_)) => "redirect".into(),
        (s, _) => s.to_string(),
    }
}

/// Browsers by (role, host), logged in once and reused (cookies kept).
struct Sessions<'a> {
    p: &'a Portal,
    by: HashMap<(String, String), Browser>,
}

impl Sessions<'_> {
    async fn browser(&mut self, role: &str, host: &str) -> &mut Browser {
        let key = (role.to_string(), host.to_string());
        if !self.by.contains_key(&key) {
            let home = home_org(role);
            let mut b = self.p.browser(host);
            match role {
                "anonymous" => {
                    b.get("/inloggen").await;
                }
                "device" => {
                    let (dev, _) = self.p.devices.as_ref().unwrap();
                    b.extra_headers
                        .push(("authorization".into(), format!("Bearer {}", dev.secret)));
                    b.extra_headers
                        .push((API_VERSION_HEADER.into(), API_VERSION.to_string()));
                    b.extra_headers
                        .push((RELEASE_HEADER.into(), "kring-qemu-virt 1.0.0".into()));
                }
                _ => {
                    // Log in on the role's own host, then carry the cookies to `host`.
                    let mut own = self.p.browser(home);
                    let resp = own.login(&self.p.logins[role]).await;
                    assert_eq!(resp.status, 303, "login of {role}: {}", resp.text);
                    b.cookies = own.cookies.clone();
                    b.csrf = own.csrf.clone();
                }
            }
            self.by.insert(key.clone(), b);
        }
        self.by.get_mut(&key).unwrap()
    }
}

#[tokio::test]
async fn every_row_of_the_matrix_holds_and_every_route_is_listed() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/authz_matrix.toml"
    ))
    .unwrap();
    let matrix: Matrix = toml::from_str(&text).unwrap();
    assert!(matrix.rows.len() > 100, "the matrix looks truncated");

    // Coverage: every portal route appears in the matrix.
    let listed: std::collections::HashSet<&str> =
        matrix.rows.iter().map(|r| r.route.as_str()).collect();
    let missing: Vec<String> = kring_server::portal::web::route_table()
        .into_iter()
        .map(|(m, p)| format!("{m} {p}"))
        .filter(|r| !listed.contains(r.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes missing from authz_matrix.toml: {missing:?}"
    );
    // And the matrix names no portal route that does not exist.
    let table: Vec<String> = kring_server::portal::web::route_table()
        .into_iter()
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    for r in &matrix.rows {
        assert!(
            table.contains(&r.route) || r.route.contains(" /api/"),
            "the matrix lists an unknown route {:?}",
            r.route
        );
    }

    let mut p = Portal::start().await;
    p.with_releases().await;
    let mut sessions = Sessions {
        p: &p,
        by: HashMap::new(),
    };
    let mut failures = Vec::new();
    for (n, row) in matrix.rows.iter().enumerate() {
        let (method, route_path) = row.route.split_once(' ').unwrap();
        let path = substitute(row.path.as_deref().unwrap_or(route_path), &p.ids);
        assert!(
            !path.contains('{'),
            "row {n}: unknown placeholder in {path}"
        );
        let host = row
            .host
            .clone()
            .unwrap_or_else(|| home_org(&row.role).to_string());
        let b = sessions.browser(&row.role, &host).await;
        let page = if path.starts_with("/api/") {
            let url = format!("{}{path}", b.base);
            let req = match &row.json {
                Some(body) => b
                    .client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(substitute(body, &p.ids)),
                None => b.client.get(url),
            };
            b.send(req.header(API_VERSION_HEADER, API_VERSION)).await
        } else if method == "GET" {
            b.get(&path).await
        } else {
            let mut fields: Vec<(String, String)> = Vec::new();
            // the token first, as a browser sends a form's first (hidden) field
            if row.csrf.unwrap_or(true) {
                fields.push(("csrf".into(), b.csrf.clone().unwrap_or_default()));
            }
            fields.extend(
                row.form
                    .iter()
                    .map(|(k, v)| (k.clone(), substitute(v, &p.ids))),
            );
            if row.multipart {
                let mut form = reqwest::multipart::Form::new();
                for (k, v) in fields {
                    form = form.text(k, v);
                }
                let req = b.client.post(format!("{}{path}", b.base)).multipart(form);
                b.send(req).await
            } else {
                let pairs: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                b.post_raw(&path, &pairs).await
            }
        };
        let got = outcome(&page);
        if got != row.expect {
            failures.push(format!(
                "row {n}: {} {} {path} on {host}: expected {}, got {got}",
                row.role, method, row.expect
            ));
        }
        // Photos and pages with children's data are never cached.
        if page.status == 200 && path.starts_with("/fotos/") {
            assert_eq!(page.headers["cache-control"], "no-store", "{path}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn idor_sweep_a_parent_of_group_a_gets_nothing_of_group_b_or_another_organisation() {
    let p = Portal::start().await;
    let group_b = p.ids["group_b"].clone();
    let other = p.ids["group_other_org"].clone();
    let sql = p.h.sql();
    let ids = async |query: &str| -> Vec<String> {
        sql.strings(query, kring_server::sql_params![&group_b, &other])
            .await
            .unwrap()
    };
    let photos = ids("SELECT id FROM photos WHERE group_id IN (?1, ?2)").await;
    let diary = ids("SELECT id FROM diary_entries WHERE group_id IN (?1, ?2)").await;
    let messages = ids("SELECT id FROM messages WHERE group_id IN (?1, ?2)").await;
    let children = ids("SELECT DISTINCT child_id FROM placements WHERE group_id IN (?1, ?2)").await;
    let absences = ids(
        "SELECT a.id FROM absences a JOIN placements p ON p.child_id = a.child_id WHERE p.group_id IN (?1, ?2)",
    )
    .await;
    assert!(photos.len() >= 4 && diary.len() >= 2 && messages.len() >= 3 && children.len() >= 2);

    let mut b = p.logged_in("test", "sem").await;
    // Sanity: the same parent does see its own things, so a 404 means refused.
    assert_eq!(
        b.get(&format!("/fotos/{}", p.ids["photo_sem"]))
            .await
            .status,
        200
    );
    let mut asked = 0;
    let mut check = |page: Page, what: String| {
        asked += 1;
        assert_eq!(page.status, 404, "{what} was not refused: {}", page.text);
        assert!(
            !page.text.contains("Bram") && !page.text.contains("Olivia"),
            "{what} leaked a name"
        );
    };
    for id in &photos {
        for suffix in ["", "/origineel", "/download", "/klein"] {
            let path = format!("/fotos/{id}{suffix}");
            check(b.get(&path).await, path);
        }
    }
    for id in &diary {
        let path = format!("/dagboek/{id}");
        check(b.get(&path).await, path);
    }
    for id in &messages {
        let path = format!("/berichten/bericht/{id}");
        check(b.get(&path).await, path);
    }
    for id in &children {
        let path = format!("/berichten/kind/{id}");
        check(b.get(&path).await, path);
        let path = format!("/toestemmingen/{id}");
        check(b.post(&path, &[("consent", "none")]).await, path);
        check(
            b.post("/berichten", &[("child_id", id), ("body", "hallo")])
                .await,
            format!("message about {id}"),
        );
        check(
            b.post("/dagboek", &[("child_id", id), ("text", "hallo")])
                .await,
            format!("diary about {id}"),
        );
        let today = kring_protocol::Calendar::default()
            .today(chrono::Utc::now())
            .to_string();
        check(
            b.post(
                "/afwezig",
                &[("child_id", id), ("from", &today), ("reason", "ziek")],
            )
            .await,
            format!("absence of {id}"),
        );
    }
    for id in &absences {
        let path = format!("/afwezig/{id}/intrekken");
        check(b.post(&path, &[]).await, path);
    }
    assert!(asked >= 33, "only {asked} requests");
    // Nothing was written for another group's or organisation's child.
    assert_eq!(
        p.h.count("SELECT COUNT(*) FROM messages WHERE author_kind = 'parent'")
            .await,
        0
    );
    assert_eq!(
        p.h.count("SELECT COUNT(*) FROM absences WHERE cancelled = 1")
            .await,
        0
    );
}

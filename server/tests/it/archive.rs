//! A parent's archive of their own child: asked for on Overig, built in the
//! background, offered by a single-use link that expires; only what the
//! parent may see on the timeline goes in.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::portal::Portal;
use std::collections::BTreeMap;
use std::io::Read;

/// The files of a ZIP by name.
fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.insert(f.name().unwrap().to_string(), data);
    }
    out
}

/// The path of the archive link in the newest archive mail to `to`.
async fn archive_link(p: &Portal, to: &str, base: &str) -> String {
    let mail = p.wait_for_mail(to, "/archief/ophalen/").await;
    let at = mail.find("http://").unwrap();
    let link = mail[at..].split_whitespace().next().unwrap();
    link.strip_prefix(base)
        .unwrap_or_else(|| panic!("{link} is not on {base}"))
        .to_string()
}

/// The `.zip` files (built, not yet deleted) in the data directory.
fn archive_files(p: &Portal) -> Vec<String> {
    std::fs::read_dir(p.h.dir.path().join("archives"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".zip"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_parent_downloads_everything_of_their_own_child_once() {
    let p = Portal::start().await;
    let sem = p.ids["child_sem"].clone();
    let mut b = p.logged_in("test", "sem").await;
    let account = b.get("/account").await;
    assert!(
        account
            .text
            .contains(&format!("id=\"archive-request-{sem}\"")),
        "{}",
        account.text
    );
    let asked = b.post(&format!("/archief/kind/{sem}"), &[]).await;
    assert_eq!(asked.status, 303);
    assert_eq!(asked.location.as_deref(), Some("/account?ok=archief"));
    let path = archive_link(&p, "sem.ouder@example.nl", &b.base).await;
    // the portal shows it ready, with the parent's own button
    let account = b.get("/account").await;
    assert!(
        account
            .text
            .contains(&format!("id=\"archive-ready-{sem}\"")),
        "{}",
        account.text
    );
    // asking again while one is ready makes no second one
    b.post(&format!("/archief/kind/{sem}"), &[]).await;
    let requests =
        p.h.sql()
            .strings("SELECT id FROM archive_requests", vec![])
            .await
            .unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(archive_files(&p).len(), 1);

    // the link works without logging in (like a reset link), once
    let mut anon = p.browser("test");
    let got = anon.get(&path).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.headers["content-type"], "application/zip");
    assert!(
        got.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("archief-sem.zip")
    );
    let files = unzip(&got.bytes);
    // exactly the photos Sem's parent sees on the timeline
    let photos: Vec<&String> = files.keys().filter(|n| n.starts_with("fotos/")).collect();
    for visible in ["photo_sem", "photo_sem_emma", "photo_group"] {
        assert!(
            photos.iter().any(|n| n.contains(&p.ids[visible])),
            "{visible} in {photos:?}"
        );
    }
    for hidden in [
        "photo_sem_noor",
        "photo_staff_only",
        "photo_b",
        "photo_other_org",
    ] {
        assert!(
            !photos.iter().any(|n| n.contains(&p.ids[hidden])),
            "{hidden} must not be in {photos:?}"
        );
    }
    assert_eq!(photos.len(), 3, "{photos:?}");
    for name in &photos {
        assert!(files[*name].starts_with(&[0xFF, 0xD8]), "{name} is a JPEG");
    }
    let diary = String::from_utf8(files["dagboek.html"].clone()).unwrap();
    assert!(diary.contains("Sem heeft goed gegeten."), "{diary}");
    assert!(!diary.contains("Noor sliep lang."), "{diary}");
    assert!(diary.contains("<img src=\"fotos/"), "{diary}");
    let messages = String::from_utf8(files["berichten.html"].clone()).unwrap();
    assert!(messages.contains("Sem mist zijn knuffel."), "{messages}");
    assert!(messages.contains("Neem regenlaarzen mee."), "{messages}");
    for other in ["Noor heeft een schaafwond.", "Bram is opgehaald.", "Olivia"] {
        assert!(!messages.contains(other), "{other} in {messages}");
    }
    // downloaded: the file is gone, the link says so
    assert!(archive_files(&p).is_empty(), "{:?}", archive_files(&p));
    let again = anon.get(&path).await;
    assert_eq!(again.status, 410);
    assert!(again.text.contains("al gebruikt"), "{}", again.text);
    let id = &requests[0];
    let button = b.get(&format!("/archief/{id}/downloaden")).await;
    assert_eq!(
        button.status, 410,
        "one use for the link and the button together"
    );
    let account = b.get("/account").await;
    assert!(
        account
            .text
            .contains(&format!("id=\"archive-downloaded-{sem}\""))
    );
}

#[tokio::test]
async fn an_archive_is_only_its_parents_and_its_link_expires() {
    let p = Portal::start().await;
    let sem = p.ids["child_sem"].clone();
    let mut b = p.logged_in("test", "sem").await;
    b.get("/account").await;
    b.post(&format!("/archief/kind/{sem}"), &[]).await;
    let path = archive_link(&p, "sem.ouder@example.nl", &b.base).await;
    let id =
        p.h.sql()
            .strings("SELECT id FROM archive_requests", vec![])
            .await
            .unwrap()
            .remove(0);
    // another family, and Sem's second parent (not their request): 404
    for who in ["noor", "sem2"] {
        let mut other = p.logged_in("test", who).await;
        let page = other.get(&format!("/archief/{id}/downloaden")).await;
        assert_eq!(page.status, 404, "{who}");
    }
    // the token on another organisation's host: 404, and not used up
    let mut elsewhere = p.browser("ander");
    assert_eq!(elsewhere.get(&path).await.status, 404);
    // expired: a clear page, and the sweep deletes the file
    p.exec(
        "UPDATE archive_requests SET expires_at = ?1",
        &["2000-01-01T00:00:00.000000Z"],
    )
    .await;
    let page = b.get(&path).await;
    assert_eq!(page.status, 410);
    assert!(page.text.contains("verlopen"), "{}", page.text);
    assert_eq!(archive_files(&p).len(), 1);
    let state = p.h.server().state.clone();
    assert_eq!(
        kring_server::portal::archive::sweep(&state).await.unwrap(),
        1
    );
    assert!(archive_files(&p).is_empty());
    assert_eq!(
        kring_server::portal::archive::sweep(&state).await.unwrap(),
        0
    );
    // an expired archive may be asked for again
    let account = b.get("/account").await;
    assert!(
        account
            .text
            .contains(&format!("id=\"archive-request-{sem}\""))
    );
    b.post(&format!("/archief/kind/{sem}"), &[]).await;
    let n =
        p.h.sql()
            .strings("SELECT id FROM archive_requests", vec![])
            .await
            .unwrap()
            .len();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn when_a_childs_care_ends_its_parent_is_told_once_until_when_photos_are_kept() {
    let p = Portal::start().await;
    let emma = p.h.kids[3].to_string();
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).to_string();
    let mut b = p.logged_in("test", "emma").await;
    let page = b.get("/mijn-kind").await;
    assert!(!page.text.contains(&format!("id=\"leaving-{emma}\"")));
    p.exec(
        "UPDATE placements SET end_date = ?1 WHERE child_id = ?2",
        &[&yesterday, &emma],
    )
    .await;
    let state = p.h.server().state.clone();
    kring_server::retention_run(&state, chrono::Utc::now()).await;
    let mail = p
        .wait_for_mail("emma.ouder@example.nl", "Bewaar de foto's")
        .await;
    assert!(mail.contains("tot en met"), "{mail}");
    assert!(mail.contains("/account"), "{mail}");
    // the next day's run sends nothing again
    kring_server::retention_run(&state, chrono::Utc::now() + chrono::Duration::days(1)).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let told = p
        .mails()
        .iter()
        .filter(|m| m.contains("To: emma.ouder@example.nl") && m.contains("Bewaar de foto's"))
        .count();
    assert_eq!(told, 1);
    assert!(
        !p.mails()
            .iter()
            .any(|m| m.contains("Bewaar de foto's") && !m.contains("To: emma.ouder@example.nl")),
        "only Emma's parent"
    );
    // the banner on Mijn kind and Overig, with the archive button
    for path in ["/mijn-kind", "/account"] {
        let page = b.get(path).await;
        assert!(
            page.text.contains(&format!("id=\"leaving-{emma}\"")),
            "{path}: {}",
            page.text
        );
        assert!(
            page.text
                .contains(&format!("id=\"leaving-archive-{emma}\"")),
            "{path}"
        );
    }
    let asked = b.post(&format!("/archief/kind/{emma}"), &[]).await;
    assert_eq!(asked.location.as_deref(), Some("/account?ok=archief"));
    // another family sees no banner
    let mut sem = p.logged_in("test", "sem").await;
    assert!(!sem.get("/mijn-kind").await.text.contains("id=\"leaving-"));
}

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

#[tokio::test]
async fn a_manager_exports_and_erases_a_child_on_request() {
    let p = Portal::start().await;
    let sem = p.ids["child_sem"].clone();
    let mut m = p.logged_in("test", "manager").await;
    assert_eq!(m.get(&format!("/beheer/kinderen/{sem}")).await.status, 200);
    let got = m.post(&format!("/beheer/kinderen/{sem}/export"), &[]).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.headers["content-type"], "application/zip");
    let files = unzip(&got.bytes);
    let data: serde_json::Value = serde_json::from_slice(&files["gegevens.json"]).unwrap();
    assert_eq!(data["kind"][0]["id"], sem.as_str());
    assert!(!data["plaatsingen"].as_array().unwrap().is_empty());
    let parents = data["ouders"].to_string();
    assert!(parents.contains("sem.ouder@example.nl"), "{parents}");
    assert!(
        data["berichten"]
            .to_string()
            .contains("Sem mist zijn knuffel.")
    );
    // every photo Sem is tagged in, with its original
    let photos: Vec<&String> = files.keys().filter(|n| n.starts_with("fotos/")).collect();
    assert_eq!(photos.len(), 3, "{photos:?}");
    for tagged in ["photo_sem", "photo_sem_noor", "photo_sem_emma"] {
        assert!(
            photos.iter().any(|n| n.contains(&p.ids[tagged])),
            "{tagged}"
        );
    }
    let diary = String::from_utf8(files["dagboek.html"].clone()).unwrap();
    assert!(diary.contains("Sem heeft goed gegeten."), "{diary}");
    // the export is on the child's access log
    let page = m.get(&format!("/beheer/kinderen/{sem}")).await;
    assert!(page.text.contains("gegevens geëxporteerd"), "{}", page.text);

    // erasing asks first, then takes everything of Sem now
    let confirm = m.get(&format!("/beheer/kinderen/{sem}/wissen")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.text.contains("id=\"erase-submit\""));
    let erased = m.post(&format!("/beheer/kinderen/{sem}/wissen"), &[]).await;
    assert_eq!(erased.status, 303);
    assert_eq!(erased.location.as_deref(), Some("/beheer/gewist?ok=gewist"));
    assert_eq!(m.get(&format!("/beheer/kinderen/{sem}")).await.status, 404);
    // the group's screen is told to forget Sem now
    let feed =
        p.h.store()
            .feed_page(
                p.h.group,
                kring_protocol::Cursor(0),
                1000,
                chrono::Utc::now().date_naive(),
            )
            .await
            .unwrap();
    assert!(
        feed.changes.iter().any(|c| matches!(
            &c.kind,
            kring_protocol::ChangeKind::ChildRemoved { id } if id.to_string() == sem
        )),
        "Sem removed from the group's feed"
    );
    let sql = p.h.sql();
    let left = sql
        .strings(
            "SELECT id FROM photos WHERE id IN (?1, ?2, ?3)",
            vec![
                p.ids["photo_sem"].as_str().into(),
                p.ids["photo_sem_noor"].as_str().into(),
                p.ids["photo_sem_emma"].as_str().into(),
            ],
        )
        .await
        .unwrap();
    assert!(left.is_empty(), "a photo with Sem goes whole: {left:?}");
    // Noor's parent saw the photo of Sem and Noor; it is gone for them too
    let mut noor = p.logged_in("test", "noor").await;
    assert_eq!(
        noor.get(&format!("/fotos/{}", p.ids["photo_sem_noor"]))
            .await
            .status,
        404
    );
    // Sem's parent keeps the account, without Sem
    let mut parent = p.logged_in("test", "sem").await;
    let home = parent.get("/mijn-kind").await;
    assert_eq!(home.status, 200);
    assert!(!home.text.contains("Sem heeft goed gegeten."));
    // the record: who and when, counts, no name of the child
    let list = m.get("/beheer/gewist").await;
    assert!(list.text.contains("Een kind, op verzoek"), "{}", list.text);
    let table = &list.text[list.text.find("id=\"erasures\"").unwrap()..];
    assert!(table.contains("Petra"));
    assert!(table.contains("fotos: 3"), "{table}");
    assert!(!table.contains("Sem"), "{table}");
    // the access log outlives the child (who looked stays on record)
    let looked = sql
        .strings(
            "SELECT what FROM access_log WHERE child_id = ?1",
            vec![sem.as_str().into()],
        )
        .await
        .unwrap();
    assert!(looked.iter().any(|w| w.contains("geëxporteerd")));
    // another organisation's manager cannot reach this organisation's children
    let mut other = p.logged_in("ander", "other_manager").await;
    let noor_child = p.ids["child_noor"].clone();
    other.get("/beheer/gewist").await;
    let refused = other
        .post(&format!("/beheer/kinderen/{noor_child}/wissen"), &[])
        .await;
    assert_eq!(refused.status, 404);
}

#[tokio::test]
async fn a_manager_exports_and_erases_a_parent_on_request() {
    let p = Portal::start().await;
    let noor_parent = p.ids["parent_noor"].clone();
    let mut m = p.logged_in("test", "manager").await;
    m.get("/beheer/ouders").await;
    let got = m
        .post(&format!("/beheer/ouders/{noor_parent}/export"), &[])
        .await;
    assert_eq!(got.status, 200, "{}", got.text);
    let files = unzip(&got.bytes);
    let json = String::from_utf8(files["gegevens.json"].clone()).unwrap();
    assert!(json.contains("noor.ouder@example.nl"), "{json}");
    assert!(!json.contains("argon2"), "no password hash in an export");
    assert!(!json.contains("password_hash"));
    let erased = m
        .post(&format!("/beheer/ouders/{noor_parent}/wissen"), &[])
        .await;
    assert_eq!(erased.status, 303);
    // the account is gone; Noor herself stays
    let mut b = p.browser("test");
    let login = b.login(&p.logins["noor"]).await;
    assert_ne!(login.status, 303, "the erased parent cannot log in");
    let noor = p.ids["child_noor"].clone();
    assert_eq!(m.get(&format!("/beheer/kinderen/{noor}")).await.status, 200);
    let list = m.get("/beheer/gewist").await;
    assert!(list.text.contains("Een ouder, op verzoek"), "{}", list.text);
    assert!(!list.text.contains("Carla"), "no name of the parent erased");
}

/// A consent withdrawn between building and downloading: the archive holds
/// a photo the parent may no longer see, so it is not handed out; a new one
/// is built without that photo.
#[tokio::test]
async fn an_archive_built_before_a_consent_was_withdrawn_is_made_again() {
    let p = Portal::start().await;
    let sem = p.ids["child_sem"].clone();
    let mut b = p.logged_in("test", "sem").await;
    b.get("/account").await;
    b.post(&format!("/archief/kind/{sem}"), &[]).await;
    let first = archive_link(&p, "sem.ouder@example.nl", &b.base).await;
    // Emma's parent: photos of Emma only for her own parents from now on
    p.h.store()
        .set_consent(
            p.h.kids[3],
            kring_protocol::PhotoConsent::OwnParents,
            "Dirk Test".into(),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let page = b.get(&first).await;
    assert_eq!(page.status, 410);
    assert!(page.text.contains("opnieuw gemaakt"), "{}", page.text);
    // a second mail with a new link; that archive leaves the photo out
    let mut second = None;
    for _ in 0..100 {
        second = p
            .mails()
            .iter()
            .filter(|m| m.contains("/archief/ophalen/"))
            .map(|m| {
                let at = m.find("http://").unwrap();
                m[at..].split_whitespace().next().unwrap().to_string()
            })
            .map(|l| l.strip_prefix(&b.base).unwrap().to_string())
            .find(|l| *l != first);
        if second.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let second = second.expect("a second archive mail");
    let got = b.get(&second).await;
    assert_eq!(got.status, 200, "{}", got.text);
    let files = unzip(&got.bytes);
    let photos: Vec<&String> = files.keys().filter(|n| n.starts_with("fotos/")).collect();
    assert_eq!(photos.len(), 2, "{photos:?}");
    assert!(
        !photos.iter().any(|n| n.contains(&p.ids["photo_sem_emma"])),
        "{photos:?}"
    );
    // the first file is swept
    let state = p.h.server().state.clone();
    kring_server::portal::archive::sweep(&state).await.unwrap();
    assert!(archive_files(&p).is_empty(), "{:?}", archive_files(&p));
}

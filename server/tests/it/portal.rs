//! The parent portal and location admin end to end over real HTTP: login
//! flows, read-time consent, writes that reach the group's device, e-mail,
//! devices, CSV import, cookies and sessions.
#![allow(clippy::unwrap_used)]

use crate::common;

use common::portal::{Browser, PASSWORD, Portal, field_value};
use kring_protocol::mqtt::{self, Nudge};
use kring_protocol::*;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::time::Duration;
use tokio::time::timeout;

fn link_in(mail: &str, prefix: &str) -> String {
    let at = mail
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {mail}"));
    mail[at..].split_whitespace().next().unwrap().to_string()
}

#[tokio::test]
async fn first_login_forces_a_new_password_then_the_old_one_stops_working() {
    let p = Portal::start().await;
    let mut b = p.browser("test");
    let resp = b.login(&p.logins["fresh"]).await;
    assert_eq!(resp.location.as_deref(), Some("/wachtwoord-wijzigen"));
    // Every other page sends the parent back to the password change.
    assert_eq!(
        b.get("/mijn-kind").await.location.as_deref(),
        Some("/wachtwoord-wijzigen")
    );
    let page = b.get("/wachtwoord-wijzigen").await;
    assert!(page.text.contains("id=\"forced-change\""));
    let bad = b
        .post(
            "/wachtwoord-wijzigen",
            &[
                ("current_password", PASSWORD),
                ("new_password", "kort"),
                ("new_password_repeat", "kort"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.text.contains("minstens 10 tekens"));
    let ok = b
        .post(
            "/wachtwoord-wijzigen",
            &[
                ("current_password", PASSWORD),
                ("new_password", "mijn-eigen-wachtwoord"),
                ("new_password_repeat", "mijn-eigen-wachtwoord"),
            ],
        )
        .await;
    assert_eq!(ok.location.as_deref(), Some("/mijn-kind"));
    assert_eq!(
        b.get("/mijn-kind").await.status,
        200,
        "the same session goes on"
    );
    let mut again = p.browser("test");
    assert_eq!(
        again.login(&p.logins["fresh"]).await.status,
        401,
        "old password"
    );
    let mut again = p.browser("test");
    let resp = again
        .login(&common::portal::Login {
            email: "DAAN.ouder@example.nl".into(),
            password: "mijn-eigen-wachtwoord".into(),
        })
        .await;
    assert_eq!(resp.location.as_deref(), Some("/mijn-kind"));
}

#[tokio::test]
async fn forgotten_password_mails_a_single_use_link() {
    let p = Portal::start().await;
    let mut b = p.browser("test");
    b.get("/wachtwoord-vergeten").await;
    let page = b
        .post("/wachtwoord-vergeten", &[("email", "sem.ouder@example.nl")])
        .await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("id=\"reset-sent\""));
    // An unknown address gets the same page and no mail.
    let page = b
        .post("/wachtwoord-vergeten", &[("email", "niemand@example.nl")])
        .await;
    assert!(page.text.contains("id=\"reset-sent\""));
    let mail = p
        .wait_for_mail("sem.ouder@example.nl", "wachtwoord-herstellen")
        .await;
    assert!(!p.mails().iter().any(|m| m.contains("niemand@example.nl")));
    let link = link_in(&mail, "http://test.localhost:");
    let path = link
        .split_once(&b.base)
        .map(|(_, p)| p.to_string())
        .unwrap();
    let page = b.get(&path).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    // a second request: two links in the mailbox; using one ends the other
    b.get("/wachtwoord-vergeten").await;
    b.post("/wachtwoord-vergeten", &[("email", "sem.ouder@example.nl")])
        .await;
    let mut second = None;
    for _ in 0..100 {
        second = p
            .mails()
            .iter()
            .filter(|m| {
                m.contains("To: sem.ouder@example.nl") && m.contains("wachtwoord-herstellen")
            })
            .map(|m| link_in(m, "http://test.localhost:"))
            .find(|l| *l != link);
        if second.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let second = second.expect("a second reset mail");
    let second_path = second
        .split_once(&b.base)
        .map(|(_, p)| p.to_string())
        .unwrap();
    assert_eq!(b.get(&second_path).await.status, 200);
    b.get(&path).await;
    let done = b
        .post(
            &path,
            &[
                ("new_password", "na-het-vergeten"),
                ("new_password_repeat", "na-het-vergeten"),
            ],
        )
        .await;
    assert_eq!(done.status, 200);
    assert!(done.text.contains("Uw nieuwe wachtwoord is opgeslagen"));
    // Single use, and the other link is void too.
    assert_eq!(b.get(&path).await.status, 404);
    assert_eq!(b.get(&second_path).await.status, 404);
    let again = b
        .post(
            &path,
            &[
                ("new_password", "nog-een-keer-1"),
                ("new_password_repeat", "nog-een-keer-1"),
            ],
        )
        .await;
    assert_eq!(again.status, 404);
    let mut fresh = p.browser("test");
    let resp = fresh
        .login(&common::portal::Login {
            email: "sem.ouder@example.nl".into(),
            password: "na-het-vergeten".into(),
        })
        .await;
    assert_eq!(resp.location.as_deref(), Some("/mijn-kind"));
    // The link does not work on another organisation's host either.
    let mut other = p.browser("ander");
    assert_eq!(other.get(&path).await.status, 404);
}

#[tokio::test]
async fn the_timeline_shows_what_consent_allows_and_a_withdrawal_hides_it_at_once() {
    let p = Portal::start().await;
    let mut sem = p.logged_in("test", "sem").await;
    let page = sem.get("/mijn-kind").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["cache-control"], "no-store");
    for visible in ["photo_sem", "photo_sem_emma", "photo_group", "diary_sem"] {
        assert!(
            page.text
                .contains(&format!("id=\"item-{}\"", p.ids[visible])),
            "{visible} missing"
        );
    }
    for hidden in [
        "photo_sem_noor",
        "photo_staff_only",
        "photo_b",
        "diary_noor",
        "photo_other_org",
    ] {
        assert!(!page.text.contains(&p.ids[hidden]), "{hidden} shown");
    }
    // Newest first: the group photo (30 min old) before Sem's own (50 min).
    let a = page
        .text
        .find(&format!("item-{}", p.ids["photo_group"]))
        .unwrap();
    let b = page
        .text
        .find(&format!("item-{}", p.ids["photo_sem"]))
        .unwrap();
    assert!(a < b);
    let photo = format!("/fotos/{}/origineel", p.ids["photo_sem_emma"]);
    let bytes = sem.get(&photo).await;
    assert_eq!(bytes.status, 200);
    assert_eq!(bytes.headers["content-type"], "image/jpeg");
    assert_eq!(&bytes.bytes[..2], &[0xFF, 0xD8]);
    let download = sem
        .get(&format!("/fotos/{}/download", p.ids["photo_sem_emma"]))
        .await;
    assert!(
        download.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );

    // Emma's parent withdraws "group": Sem's parents no longer see the photo
    // of Sem and Emma; Emma's parents still do.
    let mut emma = p.logged_in("test", "emma").await;
    emma.get("/toestemmingen").await;
    let resp = emma
        .post(
            &format!("/toestemmingen/{}", p.h.kids[3]),
            &[("consent", "own_parents")],
        )
        .await;
    assert_eq!(
        resp.location.as_deref(),
        Some("/toestemmingen?ok=toestemming")
    );
    assert_eq!(sem.get(&photo).await.status, 404);
    assert!(
        !sem.get("/mijn-kind")
            .await
            .text
            .contains(&p.ids["photo_sem_emma"])
    );
    assert_eq!(emma.get(&photo).await.status, 200);
    let page = emma.get("/toestemmingen").await;
    assert!(
        page.text.contains("door Dirk Test"),
        "history keeps who changed it"
    );

    // The placement ends: sharing stops on the end date.
    let yesterday = (kring_protocol::Calendar::default().today(chrono::Utc::now())
        - chrono::Duration::days(1))
    .to_string();
    p.exec(
        "UPDATE placements SET end_date = ?1 WHERE child_id = ?2",
        &[&yesterday, &p.ids["child_sem"]],
    )
    .await;
    assert_eq!(
        sem.get(&format!("/fotos/{}", p.ids["photo_sem"]))
            .await
            .status,
        404
    );
    assert_eq!(
        sem.get(&format!("/dagboek/{}", p.ids["diary_sem"]))
            .await
            .status,
        404
    );
    assert!(
        sem.get("/mijn-kind")
            .await
            .text
            .contains("id=\"timeline-empty\"")
    );
}

fn mqtt_options(p: &Portal, dev: &common::Device) -> MqttOptions {
    let addr = p.h.server().mqtt_addr.unwrap();
    let id = dev.id.to_string();
    let mut o = MqttOptions::new(id.clone(), "127.0.0.1", addr.port());
    o.set_credentials(id, dev.mqtt_password());
    o.set_keep_alive(Duration::from_secs(5));
    o
}

#[tokio::test]
async fn parent_writes_reach_the_device_with_a_nudge() {
    let p = Portal::start().await;
    let (dev, _) = p.devices.as_ref().unwrap();
    let (client, mut events) = AsyncClient::new(mqtt_options(&p, dev), 16);
    client
        .subscribe(mqtt::nudge_topic(&dev.id), QoS::AtLeastOnce)
        .await
        .unwrap();
    timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(Event::Incoming(Packet::SubAck(_))) = events.poll().await {
                return;
            }
        }
    })
    .await
    .unwrap();
    let cursor: FeedPage =
        p.h.get(dev, "/api/v1/feed?since=0&limit=500")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let mut sem = p.logged_in("test", "sem").await;
    let today = kring_protocol::Calendar::default()
        .today(chrono::Utc::now())
        .to_string();
    let child = p.ids["child_sem"].clone();
    assert_eq!(
        sem.post(
            "/afwezig",
            &[
                ("child_id", &child),
                ("from", &today),
                ("part_of_day", "afternoon"),
                ("reason", "ziek"),
                ("note", "koorts")
            ]
        )
        .await
        .status,
        303
    );
    let nudge: Nudge = timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(Event::Incoming(Packet::Publish(m))) = events.poll().await {
                return serde_json::from_slice(&m.payload).unwrap();
            }
        }
    })
    .await
    .expect("a nudge within seconds");
    assert!(nudge.seq > cursor.cursor.0);
    sem.post(
        "/berichten",
        &[("child_id", &child), ("body", "Oma haalt op")],
    )
    .await;
    sem.post(
        "/dagboek",
        &[("child_id", &child), ("text", "Slecht geslapen")],
    )
    .await;
    sem.post(
        &format!("/toestemmingen/{child}"),
        &[("consent", "own_parents")],
    )
    .await;
    let page: FeedPage =
        p.h.get(dev, &format!("/api/v1/feed?since={}", cursor.cursor.0))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let mut kinds = Vec::new();
    for c in &page.changes {
        match &c.kind {
            ChangeKind::Absence(a) if a.note.as_deref() == Some("koorts") => {
                assert_eq!(a.part_of_day, PartOfDay::Afternoon);
                kinds.push("absence");
            }
            ChangeKind::Message(m) if m.body == "Oma haalt op" => {
                assert!(matches!(m.author, MessageAuthor::Parent { .. }));
                kinds.push("message");
            }
            ChangeKind::ParentDiaryEntry(d) if d.text == "Slecht geslapen" => kinds.push("diary"),
            ChangeKind::Child(k) if k.id.to_string() == child => {
                assert_eq!(k.photo_consent, PhotoConsent::OwnParents);
                kinds.push("consent");
            }
            _ => {}
        }
    }
    kinds.sort();
    assert_eq!(kinds, vec!["absence", "consent", "diary", "message"]);

    // The group reads the message: the parent sees it.
    let msg_id = page
        .changes
        .iter()
        .find_map(|c| match &c.kind {
            ChangeKind::Message(m) if m.body == "Oma haalt op" => Some(m.id),
            _ => None,
        })
        .unwrap();
    let thread = format!("/berichten/kind/{child}");
    assert!(
        sem.get(&thread)
            .await
            .text
            .contains("Nog niet gelezen door de groep")
    );
    let receipt = PushItem::ReadReceipt(ReadReceiptItem {
        id: ReadReceiptId::new(),
        message_id: msg_id,
        staff_id: None,
    });
    assert_eq!(p.h.push(dev, &receipt).await.status(), 200);
    let page = sem.get(&thread).await;
    assert!(page.text.contains(&format!("id=\"message-{msg_id}\"")));
    assert!(page.text.contains("Gelezen door de groep"));

    // Cancelling the absence reaches the device too.
    let absences = sem.get("/afwezig").await;
    let id = absences
        .text
        .split("id=\"cancel-form-")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        sem.post(&format!("/afwezig/{id}/intrekken"), &[])
            .await
            .status,
        303
    );
    let page: FeedPage =
        p.h.get(dev, "/api/v1/feed?since=0&limit=500")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert!(page.changes.iter().any(
        |c| matches!(&c.kind, ChangeKind::Absence(a) if a.id.to_string() == id && a.cancelled)
    ));
}

#[tokio::test]
async fn notification_mails_follow_the_parents_choices() {
    let p = Portal::start().await;
    let (dev, _) = p.devices.as_ref().unwrap();
    // Sem's second parent turns message mails off.
    let mut sem2 = p.logged_in("test", "sem2").await;
    sem2.get("/notificaties").await;
    assert_eq!(
        sem2.post("/notificaties", &[("email_diary", "on")])
            .await
            .status,
        303
    );
    let page = sem2.get("/notificaties").await;
    assert!(
        !page
            .text
            .contains("id=\"email_message\" value=\"on\" checked")
    );
    assert!(
        page.text
            .contains("id=\"email_diary\" value=\"on\" checked")
    );

    let item = PushItem::Message(StaffMessageItem {
        id: MessageId::new(),
        thread: MessageThread::Child {
            child_id: p.h.kids[0],
        },
        body: "Sem heeft vandaag flink gespeeld".into(),
        staff_id: None,
    });
    assert_eq!(p.h.push(dev, &item).await.status(), 200);
    let mail = p
        .wait_for_mail("sem.ouder@example.nl", "Nieuw bericht van groep Dolfijnen")
        .await;
    assert!(mail.contains(&format!("/berichten/bericht/{}", item.id())));
    assert!(
        !mail.contains("flink gespeeld"),
        "no message text in the mail"
    );
    // A group message reaches the parents of the group who want mail.
    let group = PushItem::Message(StaffMessageItem {
        id: MessageId::new(),
        thread: MessageThread::Group,
        body: "Regenlaarzen mee".into(),
        staff_id: None,
    });
    assert_eq!(p.h.push(dev, &group).await.status(), 200);
    p.wait_for_mail("noor.ouder@example.nl", &group.id().to_string())
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails = p.mails();
    assert!(
        !mails
            .iter()
            .any(|m| m.contains("To: sem.tweede@example.nl")),
        "message mails were off"
    );
    assert!(
        !mails
            .iter()
            .any(|m| m.contains("To: bram.ouder@example.nl")),
        "other group"
    );
    assert!(
        !mails
            .iter()
            .any(|m| m.contains("To: olivia.ouder@example.nl")),
        "other organisation"
    );
}

#[tokio::test]
async fn sessions_cookies_and_logout() {
    let p = Portal::start_with(|s| s.portal.secure_cookies = true).await;
    let mut b = p.browser("test");
    b.get("/inloggen").await;
    let resp = b
        .post(
            "/inloggen",
            &[("email", "sem.ouder@example.nl"), ("password", PASSWORD)],
        )
        .await;
    let cookie = resp
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("kring_sessie="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing in {cookie}");
    }
    let token = b.cookies["kring_sessie"].clone();
    assert!(token.len() >= 43, "256-bit token");
    assert_eq!(
        p.h.count(
            "SELECT COUNT(*) FROM sessions WHERE token_hash = '' OR length(token_hash) != 64"
        )
        .await,
        0
    );
    let page = b.get("/mijn-kind").await;
    assert_eq!(page.status, 200);
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    // A cross-site POST is refused even with the right token.
    b.extra_headers
        .push(("origin".into(), "http://evil.example".into()));
    assert_eq!(
        b.post("/notificaties", &[("email_message", "on")])
            .await
            .status,
        403
    );
    b.extra_headers.clear();
    // Logout ends the session on the server: the old cookie is worth nothing.
    assert_eq!(
        b.post("/uitloggen", &[]).await.location.as_deref(),
        Some("/inloggen")
    );
    let mut old = p.browser("test");
    old.cookies.insert("kring_sessie".into(), token);
    assert_eq!(
        old.get("/mijn-kind").await.location.as_deref(),
        Some("/inloggen")
    );
}

#[tokio::test]
async fn sessions_expire_when_idle() {
    let p = Portal::start().await;
    let mut b = p.logged_in("test", "sem").await;
    assert_eq!(b.get("/mijn-kind").await.status, 200);
    p.exec(
        "UPDATE sessions SET last_seen_at = '2000-01-01T00:00:00.000000Z'",
        &[],
    )
    .await;
    assert_eq!(
        b.get("/mijn-kind").await.location.as_deref(),
        Some("/inloggen")
    );
    assert_eq!(
        p.h.count("SELECT COUNT(*) FROM sessions").await,
        0,
        "expired sessions are removed"
    );
}

#[tokio::test]
async fn wrong_passwords_are_rate_limited() {
    let p = Portal::start_with(|s| s.portal.login_failures_per_window = 3).await;
    let mut b = p.browser("test");
    b.get("/inloggen").await;
    for _ in 0..3 {
        let r = b
            .post(
                "/inloggen",
                &[("email", "sem.ouder@example.nl"), ("password", "fout")],
            )
            .await;
        assert_eq!(r.status, 401);
        assert!(r.text.contains("horen niet bij elkaar"));
    }
    let r = b
        .post(
            "/inloggen",
            &[("email", "sem.ouder@example.nl"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 429, "blocked even with the right password");
    assert!(r.headers.contains_key("retry-after"));
    // nobody else is locked out by it, not even from the same address
    let mut other = p.browser("test");
    other.login(&p.logins["noor"]).await;
    assert_eq!(other.get("/mijn-kind").await.status, 200);
}

/// 300 wrong passwords for one account at once: each is counted before it
/// is checked, so no more are checked than the limit allows (checking first
/// and counting afterwards let nearly all of them through).
#[tokio::test]
async fn three_hundred_parallel_wrong_logins_get_no_more_tries_than_the_limit() {
    let p = Portal::start_with(|s| s.portal.login_failures_per_window = 5).await;
    let mut b = p.browser("test");
    b.get("/inloggen").await;
    let cookie: String = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let csrf = b.csrf.clone().unwrap();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let (client, url, cookie, csrf) = (
            b.client.clone(),
            format!("{}/inloggen", b.base),
            cookie.clone(),
            csrf.clone(),
        );
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .header("cookie", cookie)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("email", "sem.ouder@example.nl"),
                    ("password", &format!("geraden-{i}")),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let (mut checked, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            401 => checked += 1,
            429 => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        checked <= 5,
        "{checked} of 300 parallel guesses were checked"
    );
    assert_eq!(checked + refused, 300);
}

/// A reset form with a wrong token is refused before anything is hashed,
/// and wrong tokens count against the address.
#[tokio::test]
async fn guessed_reset_tokens_are_refused_and_limited() {
    let p = Portal::start_with(|s| s.portal.login_failures_per_window = 2).await;
    let mut b = p.browser("test");
    b.get("/wachtwoord-vergeten").await;
    let form = [
        ("new_password", "een-nieuw-wachtwoord"),
        ("new_password_repeat", "een-nieuw-wachtwoord"),
    ];
    // an address may try three accounts' worth: 3 × 2
    for i in 0..6 {
        let r = b
            .post(&format!("/wachtwoord-herstellen/geraden-{i}"), &form)
            .await;
        assert_eq!(r.status, 404, "guess {i}");
    }
    let r = b.post("/wachtwoord-herstellen/geraden-7", &form).await;
    assert_eq!(r.status, 429);
    assert!(r.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn unknown_organisations_are_not_found() {
    let p = Portal::start().await;
    let mut b = Browser::new(p.addr, "bestaatniet");
    assert_eq!(b.get("/inloggen").await.status, 404);
    // The plain address (no organisation) serves no portal either.
    let resp = p.h.http.get(p.h.url("/inloggen")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn devices_show_version_queue_and_presence_and_can_be_revoked() {
    let p = Portal::start().await;
    let (dev, _) = p.devices.as_ref().unwrap();
    let resp =
        p.h.get(dev, "/api/v1/device")
            .header(APP_VERSION_HEADER, "0.4.2")
            .header(OUTBOX_PENDING_HEADER, "7")
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), 200);
    let mut m = p.logged_in("test", "manager").await;
    let page = m.get("/beheer/apparaten").await;
    let row_at = page
        .text
        .find(&format!("id=\"device-{}\"", dev.id))
        .unwrap();
    let row = &page.text[row_at..(row_at + 1500).min(page.text.len())];
    assert!(row.contains("0.4.2"), "{row}");
    assert!(
        row.contains("<td class=\"waiting\" data-label=\"Nog niet verstuurd\">7</td>"),
        "{row}"
    );
    assert!(
        !page.text.contains(&p.ids["device_other_org"]),
        "another organisation's device is listed"
    );
    // Presence: the device comes online over MQTT.
    let (_client, mut events) = AsyncClient::new(mqtt_options(&p, dev), 16);
    timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(Event::Incoming(Packet::ConnAck(_))) = events.poll().await {
                return;
            }
        }
    })
    .await
    .unwrap();
    let poll = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let mut online = false;
    for _ in 0..50 {
        let page = m.get("/beheer/apparaten").await;
        if page.text.contains(&format!(
            "id=\"device-{}\" data-id=\"{}\" data-online=\"yes\"",
            dev.id, dev.id
        )) {
            online = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(online, "presence did not show");
    // Enrollment code with QR.
    let page = m
        .post(
            "/beheer/apparaten/koppelcode",
            &[("group_id", &p.ids["group_a"])],
        )
        .await;
    assert_eq!(page.status, 200);
    let code = page
        .text
        .split("id=\"enroll-code-text\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(code.len(), 9);
    assert!(page.text.contains("<svg"));
    let enrolled = p.h.enroll_raw(&code).await;
    assert_eq!(enrolled.status(), 200, "the code from the portal works");
    // Revoke: 401 at once.
    assert_eq!(
        m.post(&format!("/beheer/apparaten/{}/intrekken", dev.id), &[])
            .await
            .status,
        303
    );
    assert_eq!(
        p.h.get(dev, "/api/v1/device")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let page = m.get("/beheer/apparaten").await;
    assert!(
        page.text
            .contains("data-online=\"no\" data-revoked=\"yes\"")
    );
    poll.abort();
}

#[tokio::test]
async fn staff_pin_reset_reaches_the_device() {
    let p = Portal::start().await;
    let (dev, _) = p.devices.as_ref().unwrap();
    let before: FeedPage =
        p.h.get(dev, "/api/v1/feed?since=0&limit=500")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let mut m = p.logged_in("test", "manager").await;
    m.get("/beheer/medewerkers").await;
    let r = m
        .post(
            &format!("/beheer/medewerkers/{}/pin", p.ids["staff_a"]),
            &[("pin", "2468")],
        )
        .await;
    assert_eq!(r.location.as_deref(), Some("/beheer/medewerkers?ok=pin"));
    let page: FeedPage =
        p.h.get(dev, &format!("/api/v1/feed?since={}", before.cursor.0))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let staff = page
        .changes
        .iter()
        .find_map(|c| match &c.kind {
            ChangeKind::Staff(s) if s.id.to_string() == p.ids["staff_a"] => Some(s.clone()),
            _ => None,
        })
        .expect("the new PIN verifier is in the feed");
    assert!(kring_server::portal::verify_password(
        &staff.pin_verifier,
        "2468"
    ));
}

#[tokio::test]
async fn csv_import_reports_bad_lines_and_creates_children_and_parents() {
    let p = Portal::start().await;
    let mut m = p.logged_in("test", "manager").await;
    m.get("/beheer/import").await;
    let header = kring_server::portal::web::IMPORT_HEADER;
    let bad = format!(
        "{header}\nLotte,Visser,2025-02-01,Dolfijnen,ma wo,2025-06-01,,groep,Iris Visser,iris@example.nl,,\nTim,Bos,2025-13-01,Vlinders,ma,2025-06-01,,groep,Jan Bos,jan@example.nl,,\n"
    );
    let form = reqwest::multipart::Form::new()
        .text("csrf", m.csrf.clone().unwrap())
        .text("csv_text", bad);
    let req = m
        .client
        .post(format!("{}/beheer/import", m.base))
        .multipart(form);
    let page = m.send(req).await;
    assert_eq!(page.status, 422);
    assert!(page.text.contains("Regel 3:"), "{}", page.text);
    assert!(page.text.contains("Vlinders"));
    assert_eq!(
        p.h.count("SELECT COUNT(*) FROM children WHERE first_name = 'Lotte'")
            .await,
        0,
        "nothing imported"
    );

    // a CSV over the 2 MiB form limit: refused whole in words (it used to be
    // read as an empty import), nothing imported
    let mut huge = format!(
        "{header}\nLotte,Visser,2025-02-01,Dolfijnen,ma wo,2025-06-01,,groep,Iris Visser,iris@example.nl,,\n"
    );
    while huge.len() <= 2 * 1024 * 1024 {
        huge.push_str("# opvulling\n");
    }
    let form = reqwest::multipart::Form::new()
        .text("csrf", m.csrf.clone().unwrap())
        .part(
            "csv_file",
            reqwest::multipart::Part::text(huge).file_name("kinderen.csv"),
        );
    let req = m
        .client
        .post(format!("{}/beheer/import", m.base))
        .multipart(form);
    let page = m.send(req).await;
    assert_eq!(page.status, 413, "{}", page.text);
    assert!(page.text.contains("groter dan 2"), "{}", page.text);
    assert_eq!(
        p.h.count("SELECT COUNT(*) FROM children WHERE first_name = 'Lotte'")
            .await,
        0,
        "nothing imported"
    );

    let good = format!(
        "{header}\nLotte,Visser,2025-02-01,Dolfijnen,ma wo,2025-06-01,,groep,Iris Visser,iris@example.nl,Kees Visser,kees@example.nl\n"
    );
    let form = reqwest::multipart::Form::new()
        .text("csrf", m.csrf.clone().unwrap())
        .part(
            "csv_file",
            reqwest::multipart::Part::text(good).file_name("kinderen.csv"),
        );
    let req = m
        .client
        .post(format!("{}/beheer/import", m.base))
        .multipart(form);
    let page = m.send(req).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Lotte Visser toegevoegd"));
    assert_eq!(p.h.count("SELECT COUNT(*) FROM child_parents cp JOIN children c ON c.id = cp.child_id WHERE c.first_name = 'Lotte'").await, 2);
    // The new parent gets a single-use link to choose a first password; no
    // password travels by mail, and until it is chosen nothing logs in.
    let mail = p
        .wait_for_mail("iris@example.nl", "wachtwoord-herstellen")
        .await;
    assert!(
        !mail.contains("Wachtwoord:"),
        "a password in the mail: {mail}"
    );
    assert!(mail.contains("14 dagen geldig"), "{mail}");
    let mut iris = p.browser("test");
    iris.get("/inloggen").await;
    let refused = iris
        .post(
            "/inloggen",
            &[("email", "iris@example.nl"), ("password", "")],
        )
        .await;
    assert_eq!(refused.status, 401);
    let link = link_in(&mail, "http://test.localhost:");
    let path = link
        .split_once(&iris.base)
        .map(|(_, p)| p.to_string())
        .unwrap();
    assert_eq!(iris.get(&path).await.status, 200);
    let chosen = [
        ("new_password", "iris-haar-eigen-1"),
        ("new_password_repeat", "iris-haar-eigen-1"),
    ];
    let done = iris.post(&path, &chosen).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(iris.post(&path, &chosen).await.status, 404, "single use");
    let resp = iris
        .login(&common::portal::Login {
            email: "iris@example.nl".into(),
            password: "iris-haar-eigen-1".into(),
        })
        .await;
    assert_eq!(resp.location.as_deref(), Some("/mijn-kind"));
    let children = m.get("/beheer/kinderen").await;
    assert!(children.text.contains("Lotte Visser"));
    assert_eq!(
        field_value(&children.text, "csrf"),
        m.csrf,
        "the logout form carries the session's token"
    );
}

/// An import row whose e-mail address belongs to an existing parent under
/// another name imports nothing until the manager confirms it is the same
/// parent; the same name (case and spaces aside) links without asking.
#[tokio::test]
async fn csv_import_asks_before_linking_an_account_with_another_name() {
    let p = Portal::start().await;
    let mut m = p.logged_in("test", "manager").await;
    m.get("/beheer/import").await;
    let header = kring_server::portal::web::IMPORT_HEADER;
    // sem.ouder@example.nl is Anne Test's account
    let csv = format!(
        "{header}\nLotte,Visser,2025-02-01,Dolfijnen,ma wo,2025-06-01,,groep,Iris Visser,sem.ouder@example.nl,,\nMees,Test,2025-03-01,Dolfijnen,di,2025-06-01,,groep,anne  test,SEM.OUDER@example.nl,,\n"
    );
    let post = |m: &common::portal::Browser, confirm: bool| {
        let mut form = reqwest::multipart::Form::new()
            .text("csrf", m.csrf.clone().unwrap())
            .text("csv_text", csv.clone());
        if confirm {
            form = form.text("confirm_links", "ja");
        }
        m.client
            .post(format!("{}/beheer/import", m.base))
            .multipart(form)
    };
    let req = post(&m, false);
    let page = m.send(req).await;
    assert_eq!(page.status, 422, "{}", page.text);
    assert!(
        page.text
            .contains("Regel 2: sem.ouder@example.nl hoort al bij Anne Test, niet bij Iris Visser"),
        "{}",
        page.text
    );
    assert!(
        !page.text.contains("Regel 3:"),
        "the same name needs no word"
    );
    assert!(page.text.contains("id=\"confirm_links\""));
    assert_eq!(
        p.h.count("SELECT COUNT(*) FROM children WHERE first_name IN ('Lotte', 'Mees')")
            .await,
        0,
        "nothing imported"
    );
    let req = post(&m, true);
    let page = m.send(req).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(
        p.h.count(
            "SELECT COUNT(*) FROM child_parents cp JOIN children c ON c.id = cp.child_id
             JOIN parents p ON p.id = cp.parent_id
             WHERE c.first_name IN ('Lotte', 'Mees') AND p.email = 'sem.ouder@example.nl'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn the_second_parent_sees_the_child_but_not_the_first_parents_documents() {
    let p = Portal::start().await;
    let mut first = p.logged_in("test", "sem").await;
    let mut second = p.logged_in("test", "sem2").await;
    let a = first.get("/mijn-kind").await.text;
    let b = second.get("/mijn-kind").await.text;
    for id in ["photo_sem", "photo_group", "diary_sem"] {
        assert!(a.contains(&p.ids[id]) && b.contains(&p.ids[id]), "{id}");
    }
    let account = second.get("/account").await.text;
    assert!(account.contains(&format!("id=\"document-{}\"", p.ids["doc_all"])));
    assert!(
        !account.contains(&p.ids["doc_first"]),
        "first-parent document listed"
    );
    assert!(account.contains("tweede ouder"));
    let account = first.get("/account").await.text;
    assert!(account.contains(&p.ids["doc_first"]));
    // The diary page of a child is not cached either.
    let diary = first.get(&format!("/dagboek/{}", p.ids["diary_sem"])).await;
    assert_eq!(diary.headers["cache-control"], "no-store");
    assert!(diary.text.contains("Sem heeft goed gegeten."));
}

#[tokio::test]
async fn the_timeline_filters_on_one_child() {
    let p = Portal::start().await;
    // Give Sem's parent a second child on group B.
    p.exec(
        "INSERT INTO child_parents (child_id, parent_id, role)
         SELECT ?1, parent_id, 'first' FROM child_parents WHERE child_id = ?2 AND role = 'first'",
        &[&p.ids["child_bram"], &p.ids["child_sem"]],
    )
    .await;
    let mut b = p.logged_in("test", "sem").await;
    let all = b.get("/mijn-kind").await.text;
    assert!(all.contains(&p.ids["photo_b"]) && all.contains(&p.ids["photo_sem"]));
    assert!(all.contains(&format!("id=\"filter-{}\"", p.ids["child_bram"])));
    let only = b
        .get(&format!("/mijn-kind?kind={}", p.ids["child_bram"]))
        .await
        .text;
    assert!(only.contains(&p.ids["photo_b"]));
    assert!(!only.contains(&p.ids["photo_sem"]));
    // Another family's child as a filter shows nothing of it.
    let other = b
        .get(&format!("/mijn-kind?kind={}", p.ids["child_noor"]))
        .await
        .text;
    assert!(!other.contains(&p.ids["photo_sem_noor"]));
}

#[tokio::test]
async fn a_csrf_token_only_works_in_its_own_session() {
    let p = Portal::start().await;
    let a = p.logged_in("test", "sem").await;
    let mut b = p.logged_in("test", "sem2").await;
    let token_a = a.csrf.clone().unwrap();
    assert_ne!(
        Some(token_a.clone()),
        b.csrf,
        "each session has its own token"
    );
    let child = p.ids["child_sem"].clone();
    let r = b
        .post_raw(
            "/berichten",
            &[("csrf", &token_a), ("child_id", &child), ("body", "hallo")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        p.h.count("SELECT COUNT(*) FROM messages WHERE author_kind = 'parent'")
            .await,
        0
    );
    // The pre-login token is bound to its cookie too.
    let mut anon = p.browser("test");
    anon.get("/inloggen").await;
    let mut other = p.browser("test");
    other.get("/inloggen").await;
    let r = other
        .post_raw(
            "/inloggen",
            &[
                ("csrf", anon.csrf.as_deref().unwrap()),
                ("email", "sem.ouder@example.nl"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn a_diary_photo_shows_once_on_the_timeline() {
    let p = Portal::start().await;
    p.exec(
        "INSERT INTO diary_photos (entry_id, photo_id) VALUES (?1, ?2)",
        &[&p.ids["diary_sem"], &p.ids["photo_sem"]],
    )
    .await;
    let mut b = p.logged_in("test", "sem").await;
    let page = b.get("/mijn-kind").await.text;
    assert!(!page.contains(&format!("id=\"item-{}\"", p.ids["photo_sem"])));
    assert!(
        page.contains(&format!("/fotos/{}/klein", p.ids["photo_sem"])),
        "inside the diary entry"
    );
}

#[tokio::test]
async fn the_timeline_pages_back_to_older_photos() {
    let p = Portal::start().await;
    let sem: ChildId = p.ids["child_sem"].parse().unwrap();
    let group = p.h.group;
    // a busy group: 60 more photos of Sem, one a minute, older than the fixture's
    let mut older: Vec<String> = Vec::new();
    for i in 0..60 {
        older.push(common::portal::insert_photo(&p.h, &group, &[sem], false, 100 + i).await);
    }
    let mut b = p.logged_in("test", "sem").await;
    let ids_on = |text: &str| -> Vec<String> {
        text.split("data-id=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .map(str::to_string)
            .collect()
    };
    let first = b.get("/mijn-kind").await;
    let page1 = ids_on(&first.text);
    assert_eq!(page1.len(), kring_server::portal::web::TIMELINE_PAGE);
    let next = first
        .text
        .split("id=\"timeline-older\"")
        .next()
        .and_then(|s| s.rsplit("href=\"").next())
        .map(|s| s.split('"').next().unwrap_or("").replace("&amp;", "&"))
        .expect("a link to older items");
    let second = b.get(&next).await;
    assert_eq!(second.status, 200);
    let page2 = ids_on(&second.text);
    assert!(!page2.is_empty());
    assert!(
        page2.iter().all(|id| !page1.contains(id)),
        "no item on both pages"
    );
    // together they hold every photo of Sem, the oldest too
    for id in [&older[0], &older[59]] {
        assert!(page1.contains(id) || page2.contains(id), "{id} missing");
    }
}

/// Times on the portal's pages are the organisation's local time: the same
/// message reads 14:00 in Amsterdam and 08:00 on Bonaire (summer).
#[tokio::test]
async fn portal_times_are_the_organisations_local_time() {
    let p = Portal::start().await;
    p.exec(
        "UPDATE messages SET sent_at = '2026-07-01T12:00:00.000000Z', read_by_group_at = NULL
         WHERE id = ?1",
        &[&p.ids["msg_sem"]],
    )
    .await;
    let thread = format!("/berichten/kind/{}", p.ids["child_sem"]);
    let mut sem = p.logged_in("test", "sem").await;
    let page = sem.get(&thread).await.text;
    assert!(page.contains("wo 1 jul 14:00"), "{page}");
    p.exec(
        "UPDATE organisations SET time_zone = 'America/Kralendijk' WHERE slug = 'test'",
        &[],
    )
    .await;
    let page = sem.get(&thread).await.text;
    assert!(page.contains("wo 1 jul 08:00"), "{page}");
    assert!(!page.contains("wo 1 jul 14:00"));
}

/// A busy group where the newest 600 photos are not for this parent (staff
/// only, or of another child): the timeline still reaches the older photo of
/// their own child. (It read the group's newest 500 photos and filtered them
/// afterwards, so it came back empty.)
#[tokio::test]
async fn the_timeline_reaches_a_visible_photo_behind_many_hidden_ones() {
    let p = Portal::start().await;
    let noor: ChildId = p.ids["child_noor"].parse().unwrap();
    let group = p.h.group;
    let at = kring_server::db::time_str(chrono::Utc::now() - chrono::Duration::minutes(1));
    let mut rows = Vec::new();
    let mut tags = Vec::new();
    for i in 0..600 {
        let id = uuid::Uuid::now_v7();
        rows.push(format!(
            "('{id}', '{group}', '{}', '{}', 'photos/x/{id}.jpg', 'thumbs/x/{id}.jpg', 64, 48, 0, '{at}')",
            uuid::Uuid::now_v7(),
            "cd".repeat(32)
        ));
        if i % 2 == 0 {
            tags.push(format!("('{id}', '{noor}')"));
        }
    }
    p.h.sql()
        .execute(
            &format!(
                "INSERT INTO photos (id, group_id, upload_id, sha256, blob_key, thumb_key, width,
                                     height, no_children_recognizable, received_at) VALUES {}",
                rows.join(",")
            ),
            Vec::new(),
        )
        .await
        .unwrap();
    p.h.sql()
        .execute(
            &format!(
                "INSERT INTO photo_tags (photo_id, child_id) VALUES {}",
                tags.join(",")
            ),
            Vec::new(),
        )
        .await
        .unwrap();
    let mut b = p.logged_in("test", "sem").await;
    let page = b.get("/mijn-kind").await.text;
    assert!(
        page.contains(&format!("data-id=\"{}\"", p.ids["photo_sem"])),
        "Sem's own photo is missing behind 600 hidden ones"
    );
}

/// Every look at a child's details in the admin is on record, with who and
/// when; the manager sees the log on the child's page. A manager of another
/// organisation neither sees the child nor leaves a line.
#[tokio::test]
async fn opening_a_childs_details_is_logged_and_shown() {
    let p = Portal::start().await;
    let sem = &p.ids["child_sem"];
    let mut other = p.logged_in("ander", "other_manager").await;
    assert_eq!(
        other.get(&format!("/beheer/kinderen/{sem}")).await.status,
        404
    );
    let mut m = p.logged_in("test", "manager").await;
    m.get(&format!("/beheer/kinderen/{sem}")).await;
    let page = m.get(&format!("/beheer/kinderen/{sem}")).await;
    assert_eq!(page.status, 200);
    let log = page
        .text
        .split("id=\"access-log\"")
        .nth(1)
        .and_then(|s| s.split("</ul>").next())
        .unwrap()
        .to_string();
    assert_eq!(log.matches("Petra, gegevens bekeken").count(), 2, "{log}");
    assert_eq!(
        p.h.count(&format!(
            "SELECT COUNT(*) FROM access_log WHERE child_id = '{sem}'"
        ))
        .await,
        2,
        "the other organisation's manager left no line"
    );
}

//! News, newsletters and Mijn locatie end to end: a manager posts through
//! the portal's forms, parents of the right location and organisation read
//! them (photo without metadata, PDF as an attachment), nobody else does; the
//! "Nieuws" mail follows the parents' settings; staff photos need consent.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::fixtures;

use common::portal::{Browser, Page, Portal};
use kring_protocol::{ParentId, PhotoConsent, Weekday};
use kring_server::org::{GroupKind, ParentRole};
use kring_server::store::{ChildDetails, NewPlacement};
use std::time::Duration;

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// A second location of the test organisation with one child and its parent
/// (`loc2.ouder@example.nl`); returns the location's id.
async fn second_location(p: &Portal) -> String {
    let store = p.h.store();
    let today = chrono::Utc::now().date_naive();
    let loc = store
        .create_location(p.h.org, "Locatie Oost".into())
        .await
        .unwrap();
    let group = store
        .create_group(loc, "Vlinders".into(), GroupKind::Kdv, (0, 4))
        .await
        .unwrap();
    let child = store
        .create_child(
            p.h.org,
            ChildDetails {
                first_name: "Lotte".into(),
                last_name: "Oost".into(),
                birth_date: today - chrono::Duration::days(500),
                consent: PhotoConsent::Group,
                allergies: None,
                notes: None,
            },
        )
        .await
        .unwrap();
    store
        .place_child(NewPlacement {
            child,
            group,
            days: vec![Weekday::Mon, Weekday::Wed],
            start: today - chrono::Duration::days(30),
            end: None,
        })
        .await
        .unwrap();
    let parent: ParentId = store
        .create_parent(
            p.h.org,
            "loc2.ouder@example.nl".into(),
            "Lies Oost".into(),
            common::portal::PASSWORD.into(),
        )
        .await
        .unwrap();
    store.set_must_change_password(parent, false).await.unwrap();
    store
        .link_parent(child, parent, ParentRole::First)
        .await
        .unwrap();
    loc.to_string()
}

async fn loc2_parent(p: &Portal) -> Browser {
    let mut b = p.browser("test");
    let r = b
        .login(&common::portal::Login {
            email: "loc2.ouder@example.nl".into(),
            password: common::portal::PASSWORD.into(),
        })
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    b
}

/// Sends the news form (multipart) as the manager's browser.
async fn post_news(
    b: &mut Browser,
    path: &str,
    fields: &[(&str, &str)],
    photo: Option<Vec<u8>>,
    pdf: Option<(&str, Vec<u8>)>,
) -> Page {
    b.get("/beheer/nieuws/nieuw").await;
    let mut form = reqwest::multipart::Form::new().text("csrf", b.csrf.clone().unwrap_or_default());
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    if let Some(photo) = photo {
        form = form.part(
            "foto",
            reqwest::multipart::Part::bytes(photo)
                .file_name("foto.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
    }
    if let Some((name, bytes)) = pdf {
        form = form.part(
            "pdf",
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str("application/pdf")
                .unwrap(),
        );
    }
    let req = b.client.post(format!("{}{path}", b.base)).multipart(form);
    b.send(req).await
}

/// The id of the post titled `title` in the manager's list.
async fn post_id(b: &mut Browser, title: &str) -> String {
    let page = b.get("/beheer/nieuws").await;
    let at = page
        .text
        .find(&format!(
            "<td class=\"name\" data-label=\"Titel\">{title}</td>"
        ))
        .unwrap_or_else(|| panic!("{title} not listed: {}", page.text));
    let row = page.text[..at].rfind("<tr id=\"news-").unwrap();
    page.text[row + 13..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn news_reaches_only_the_parents_of_its_location_and_organisation() {
    let p = Portal::start().await;
    let loc_a = p.ids["location_a"].clone();
    let loc_2 = second_location(&p).await;
    let mut m = p.logged_in("test", "manager").await;

    // A post for location A with a photo (carrying EXIF) and a PDF.
    let r = post_news(
        &mut m,
        "/beheer/nieuws",
        &[
            ("kind", "nieuws"),
            ("location", &loc_a),
            ("title", "Zomerfeest"),
            (
                "body",
                "Op vrijdag vieren we het zomerfeest.\n\nNeem <b>zonnebrand</b> mee.",
            ),
        ],
        Some(fixtures::jpeg_with_exif(Some(1))),
        Some(("Programma zomerfeest.pdf", PDF.to_vec())),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location.as_deref(), Some("/beheer/nieuws?ok=geplaatst"));
    let a = post_id(&mut m, "Zomerfeest").await;
    // One for the other location, one newsletter for everybody.
    for (kind, location, title) in [
        ("nieuws", loc_2.as_str(), "Nieuwe zandbak in Oost"),
        ("nieuwsbrief", "", "Nieuwsbrief juni"),
    ] {
        let r = post_news(
            &mut m,
            "/beheer/nieuws",
            &[
                ("kind", kind),
                ("location", location),
                ("title", title),
                ("body", "Tekst."),
            ],
            None,
            None,
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.text);
    }
    let oost = post_id(&mut m, "Nieuwe zandbak in Oost").await;
    let letter = post_id(&mut m, "Nieuwsbrief juni").await;

    // Refused: a file that is not a PDF, and a PDF over the limit; nothing is posted.
    let r = post_news(
        &mut m,
        "/beheer/nieuws",
        &[
            ("kind", "nieuws"),
            ("location", ""),
            ("title", "Geen PDF"),
            ("body", "Tekst."),
        ],
        None,
        Some(("nep.pdf", b"GIF89a not a pdf".to_vec())),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("geen PDF-bestand"), "{}", r.text);
    let mut big = PDF.to_vec();
    big.resize(11 * 1024 * 1024, b' ');
    let r = post_news(
        &mut m,
        "/beheer/nieuws",
        &[
            ("kind", "nieuws"),
            ("location", ""),
            ("title", "Te groot"),
            ("body", "Tekst."),
        ],
        None,
        Some(("groot.pdf", big)),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("te groot"), "{}", r.text);
    let list = m.get("/beheer/nieuws").await;
    assert!(!list.text.contains("Geen PDF") && !list.text.contains("Te groot"));

    // a form over the route's 40 MiB limit: "too large" in words, not a
    // "form expired", and nothing stored
    let mut huge = b"%PDF-1.4\n".to_vec();
    huge.resize(40 * 1024 * 1024 + 1024, b' ');
    let r = post_news(
        &mut m,
        "/beheer/nieuws",
        &[
            ("kind", "nieuws"),
            ("location", ""),
            ("title", "Veel te groot"),
            ("body", "Tekst."),
        ],
        None,
        Some(("enorm.pdf", huge)),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert!(r.text.contains("groter dan 42 MB"), "{}", r.text);
    assert!(!r.text.contains("Formulier verlopen"), "{}", r.text);
    let list = m.get("/beheer/nieuws").await;
    assert!(!list.text.contains("Veel te groot"));

    // Sem's parent (location A): A and the newsletter, newest first, escaped.
    let mut sem = p.logged_in("test", "sem").await;
    let page = sem.get("/nieuws").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Zomerfeest") && page.text.contains("Nieuwsbrief juni"));
    assert!(
        !page.text.contains("Nieuwe zandbak"),
        "another location's news"
    );
    let letters = page
        .text
        .split("id=\"news-section-nieuwsbrief\"")
        .nth(1)
        .expect("newsletters");
    assert!(
        letters.contains("Nieuwsbrief juni") && !letters.contains("Zomerfeest"),
        "news and newsletters each in their own section"
    );
    let post = sem.get(&format!("/nieuws/{a}")).await;
    assert_eq!(post.status, 200);
    assert!(
        post.text.contains("&lt;b&gt;zonnebrand") || post.text.contains("&#60;b&#62;zonnebrand"),
        "text is escaped: {}",
        post.text
    );
    assert!(!post.text.contains("<b>zonnebrand"));
    assert_eq!(
        post.text.matches("<p class=\"text\">").count(),
        2,
        "two paragraphs"
    );
    let pdf = sem.get(&format!("/nieuws/{a}/bijlage")).await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.bytes, PDF);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    assert_eq!(
        pdf.headers["content-disposition"],
        "attachment; filename=\"Programma zomerfeest.pdf\""
    );
    let photo = sem.get(&format!("/nieuws/{a}/foto")).await;
    assert_eq!(photo.status, 200);
    assert_eq!(photo.headers["content-type"], "image/jpeg");
    assert!(photo.bytes.starts_with(&[0xFF, 0xD8, 0xFF]));
    assert!(
        !photo.bytes.windows(4).any(|w| w == b"Exif"),
        "the photo's metadata is stripped"
    );
    assert_eq!(sem.get(&format!("/nieuws/{a}/klein")).await.status, 200);
    for path in [
        format!("/nieuws/{oost}"),
        format!("/nieuws/{oost}/bijlage"),
        format!("/nieuws/{letter}/bijlage"),
        format!("/nieuws/{letter}/foto"),
    ] {
        assert_eq!(sem.get(&path).await.status, 404, "{path}");
    }

    // The parent of the other location: its own post and the newsletter only.
    let mut oost_parent = loc2_parent(&p).await;
    let page = oost_parent.get("/nieuws").await;
    assert!(page.text.contains("Nieuwe zandbak") && page.text.contains("Nieuwsbrief juni"));
    assert!(!page.text.contains("Zomerfeest"));
    for path in [
        format!("/nieuws/{a}"),
        format!("/nieuws/{a}/bijlage"),
        format!("/nieuws/{a}/foto"),
    ] {
        assert_eq!(oost_parent.get(&path).await.status, 404, "{path}");
    }

    // Another organisation's parent sees none of it.
    let mut other = p.logged_in("ander", "other_org").await;
    let page = other.get("/nieuws").await;
    assert_eq!(page.status, 200);
    assert!(!page.text.contains("Zomerfeest") && !page.text.contains("Nieuwsbrief juni"));
    for id in [&a, &oost, &letter] {
        assert_eq!(other.get(&format!("/nieuws/{id}")).await.status, 404);
        assert_eq!(
            other.get(&format!("/nieuws/{id}/bijlage")).await.status,
            404
        );
    }
    // ... nor can its manager edit or delete it.
    let mut other_m = p.logged_in("ander", "other_manager").await;
    assert_eq!(
        other_m.get(&format!("/beheer/nieuws/{a}")).await.status,
        404
    );
    assert_eq!(
        other_m
            .post(&format!("/beheer/nieuws/{a}/verwijderen"), &[])
            .await
            .status,
        404
    );

    // Editing: remove the PDF; the file is gone for parents too.
    let r = post_news(
        &mut m,
        &format!("/beheer/nieuws/{a}"),
        &[
            ("kind", "nieuws"),
            ("location", &loc_a),
            ("title", "Zomerfeest (gewijzigd)"),
            ("body", "Nieuwe tekst."),
            ("pdf_weg", "ja"),
        ],
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(sem.get(&format!("/nieuws/{a}/bijlage")).await.status, 404);
    assert_eq!(sem.get(&format!("/nieuws/{a}/foto")).await.status, 200);
    assert!(
        sem.get("/nieuws")
            .await
            .text
            .contains("Zomerfeest (gewijzigd)")
    );
    // Deleting.
    m.get("/beheer/nieuws").await;
    let r = m
        .post(&format!("/beheer/nieuws/{a}/verwijderen"), &[])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(sem.get(&format!("/nieuws/{a}")).await.status, 404);
    assert_eq!(sem.get(&format!("/nieuws/{a}/foto")).await.status, 404);
}

#[tokio::test]
async fn the_news_mail_follows_the_parents_setting() {
    let p = Portal::start().await;
    let loc_2 = second_location(&p).await;
    // Sem's second parent keeps messages but turns news off.
    let mut sem2 = p.logged_in("test", "sem2").await;
    sem2.get("/notificaties").await;
    let r = sem2.post("/notificaties", &[("email_message", "on")]).await;
    assert_eq!(r.status, 303);
    let page = sem2.get("/notificaties").await;
    assert!(page.text.contains("id=\"email_news\""));
    assert!(!page.text.contains("id=\"email_news\" value=\"on\" checked"));
    // Sem's first parent has the default: on.
    let mut sem = p.logged_in("test", "sem").await;
    assert!(
        sem.get("/notificaties")
            .await
            .text
            .contains("id=\"email_news\" value=\"on\" checked")
    );

    let mut m = p.logged_in("test", "manager").await;
    let loc_a = p.ids["location_a"].clone();
    let r = post_news(
        &mut m,
        "/beheer/nieuws",
        &[
            ("kind", "nieuwsbrief"),
            ("location", &loc_a),
            ("title", "Nieuwsbrief juli"),
            ("body", "Geheime inhoud die in het portaal blijft."),
        ],
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let id = post_id(&mut m, "Nieuwsbrief juli").await;
    let mail = p
        .wait_for_mail(
            "sem.ouder@example.nl",
            "Nieuwe nieuwsbrief: Nieuwsbrief juli",
        )
        .await;
    assert!(mail.contains(&format!("/nieuws/{id}")));
    assert!(
        !mail.contains("Geheime inhoud"),
        "the text stays in the portal"
    );
    // Bram's parent is at location A too.
    p.wait_for_mail("bram.ouder@example.nl", "Nieuwsbrief juli")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails = p.mails();
    for (to, why) in [
        ("sem.tweede@example.nl", "news mails were off"),
        ("loc2.ouder@example.nl", "another location"),
        ("olivia.ouder@example.nl", "another organisation"),
    ] {
        assert!(
            !mails
                .iter()
                .any(|m| m.contains(&format!("To: {to}")) && m.contains("Nieuwsbrief juli")),
            "{why}"
        );
    }
    // An edit mails nobody again.
    let before = p.mails().len();
    let r = post_news(
        &mut m,
        &format!("/beheer/nieuws/{id}"),
        &[
            ("kind", "nieuwsbrief"),
            ("location", &loc_2),
            ("title", "Nieuwsbrief juli"),
            ("body", "Andere tekst."),
        ],
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 303);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(p.mails().len(), before);
}

#[tokio::test]
async fn mijn_locatie_shows_the_location_and_staff_photos_only_with_consent() {
    let p = Portal::start().await;
    let _ = second_location(&p).await;
    let loc_a = p.ids["location_a"].clone();
    let staff_a = p.ids["staff_a"].clone();
    let mut m = p.logged_in("test", "manager").await;
    m.get("/beheer/locatie").await;
    // the fixture's shared photo is taken away first
    let r = m
        .post(
            &format!("/beheer/medewerkers/{staff_a}/foto/verwijderen"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303);
    let r = m
        .post(
            &format!("/beheer/locatie/{loc_a}"),
            &[
                ("address", "Bloemstraat 1\n1234 AB Utrecht"),
                ("opening_hours", "ma-vr 7:30-18:30"),
                ("phone", "030 123 45 67"),
                ("email", "locatie@example.nl"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let r = m
        .post(
            &format!("/beheer/locatie/{loc_a}/paginas"),
            &[("title", "Ziek kind"), ("body", "Bel voor 8 uur.")],
        )
        .await;
    assert_eq!(r.status, 303);
    // the page is edited in place: its text changes, it stays one page
    let admin = m.get("/beheer/locatie").await;
    let page_id = admin
        .text
        .split("id=\"page-edit-form-")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("an edit form for the page")
        .to_string();
    assert!(
        admin.text.contains(">Bel voor 8 uur.</textarea>"),
        "{}",
        admin.text
    );
    let r = m
        .post(
            &format!("/beheer/locatie/paginas/{page_id}"),
            &[
                ("title", "Ziek kind"),
                ("body", "Bel voor 8 uur <b>en</b> mail ons."),
            ],
        )
        .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/beheer/locatie?ok=pagina-bewerkt")
    );
    let r = m
        .post(
            &format!("/beheer/locatie/paginas/{page_id}"),
            &[("title", " "), ("body", "leeg")],
        )
        .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/beheer/locatie?ok=leeg"),
        "nothing saved"
    );

    let send_photo = |b: &mut Browser, consent: bool| {
        let mut form = reqwest::multipart::Form::new()
            .text("csrf", b.csrf.clone().unwrap_or_default())
            .part(
                "foto",
                reqwest::multipart::Part::bytes(fixtures::jpeg_with_exif(Some(1)))
                    .file_name("ik.jpg"),
            );
        if consent {
            form = form.text("toestemming", "ja");
        }
        b.client
            .post(format!("{}/beheer/medewerkers/{staff_a}/foto", b.base))
            .multipart(form)
    };
    // Without the staff member's consent nothing is stored.
    let req = send_photo(&mut m, false);
    let r = m.send(req).await;
    assert_eq!(
        r.location.as_deref(),
        Some("/beheer/locatie?ok=geen-toestemming")
    );
    let mut sem = p.logged_in("test", "sem").await;
    let page = sem.get("/mijn-locatie").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Bloemstraat 1") && page.text.contains("Ziek kind"));
    assert!(
        page.text
            .contains("Bel voor 8 uur &#60;b&#62;en&#60;/b&#62; mail ons.")
            && !page.text.contains("<b>en</b>"),
        "the edited text, escaped: {}",
        page.text
    );
    assert!(page.text.contains("href=\"tel:0301234567\""));
    assert!(page.text.contains("Fatima") || page.text.contains(&staff_a));
    assert!(
        !page
            .text
            .contains(&format!("/mijn-locatie/team/{staff_a}/foto"))
    );
    assert_eq!(
        sem.get(&format!("/mijn-locatie/team/{staff_a}/foto"))
            .await
            .status,
        404
    );
    // With consent the photo is shown, without metadata.
    m.get("/beheer/locatie").await;
    let req = send_photo(&mut m, true);
    let r = m.send(req).await;
    assert_eq!(r.location.as_deref(), Some("/beheer/locatie?ok=foto"));
    let page = sem.get("/mijn-locatie").await;
    assert!(
        page.text
            .contains(&format!("/mijn-locatie/team/{staff_a}/foto"))
    );
    let photo = sem.get(&format!("/mijn-locatie/team/{staff_a}/foto")).await;
    assert_eq!(photo.status, 200);
    assert!(!photo.bytes.windows(4).any(|w| w == b"Exif"));

    // Another location's parent: not this location, not this photo.
    let mut oost = loc2_parent(&p).await;
    let page = oost.get("/mijn-locatie").await;
    assert!(page.text.contains("Locatie Oost"));
    assert!(!page.text.contains("Bloemstraat 1") && !page.text.contains("Ziek kind"));
    assert_eq!(
        oost.get(&format!("/mijn-locatie/team/{staff_a}/foto"))
            .await
            .status,
        404
    );
    // Another organisation: nothing.
    let mut other = p.logged_in("ander", "other_org").await;
    assert!(
        !other
            .get("/mijn-locatie")
            .await
            .text
            .contains("Bloemstraat")
    );
    assert_eq!(
        other
            .get(&format!("/mijn-locatie/team/{staff_a}/foto"))
            .await
            .status,
        404
    );
    // Removing the photo hides it at once.
    m.get("/beheer/locatie").await;
    let r = m
        .post(
            &format!("/beheer/medewerkers/{staff_a}/foto/verwijderen"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        sem.get(&format!("/mijn-locatie/team/{staff_a}/foto"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn the_news_page_shows_the_most_recent_of_each_kind_and_all_on_request() {
    let p = Portal::start().await;
    let mut m = p.logged_in("test", "manager").await;
    for i in 1..=7 {
        let title = format!("Bericht nummer {i}");
        let r = post_news(
            &mut m,
            "/beheer/nieuws",
            &[
                ("kind", "nieuws"),
                ("location", ""),
                ("title", &title),
                ("body", "Tekst."),
            ],
            None,
            None,
        )
        .await;
        assert!(r.status == 200 || r.status == 303, "{}", r.status);
    }
    let r = post_news(
        &mut m,
        "/beheer/nieuws",
        &[
            ("kind", "nieuwsbrief"),
            ("location", ""),
            ("title", "Nieuwsbrief december"),
            ("body", "Tekst."),
        ],
        None,
        None,
    )
    .await;
    assert!(r.status == 200 || r.status == 303, "{}", r.status);

    let mut sem = p.logged_in("test", "sem").await;
    let page = sem.get("/nieuws").await;
    assert_eq!(page.status, 200);
    // the five most recent news posts, the newsletter in its own section
    for i in 3..=7 {
        assert!(
            page.text.contains(&format!("Bericht nummer {i}<")),
            "{i}: {}",
            page.text
        );
    }
    assert!(!page.text.contains("Bericht nummer 1<") && !page.text.contains("Bericht nummer 2<"));
    assert!(
        page.text.find("Bericht nummer 7<") < page.text.find("Bericht nummer 3<"),
        "newest first"
    );
    assert!(page.text.contains("id=\"all-nieuws\""), "{}", page.text);
    assert!(page.text.contains("Nieuwsbrief december"));
    assert!(
        !page.text.contains("id=\"all-nieuwsbrief\""),
        "one newsletter: no button"
    );
    let section = page
        .text
        .split("id=\"news-section-nieuwsbrief\"")
        .nth(1)
        .expect("the newsletters");
    assert!(section.contains("Nieuwsbrief december") && !section.contains("Bericht nummer"));

    // "Alle bekijken": every news post, no newsletter
    let all = sem.get("/nieuws?alle=nieuws").await;
    assert_eq!(all.status, 200);
    for i in 1..=7 {
        assert!(all.text.contains(&format!("Bericht nummer {i}<")), "{i}");
    }
    assert!(!all.text.contains("Nieuwsbrief december"));
    assert!(all.text.contains("Alle nieuwsberichten"));
    // an unknown kind is the ordinary page
    let odd = sem.get("/nieuws?alle=iets").await;
    assert_eq!(odd.status, 200);
    assert!(odd.text.contains("id=\"all-nieuws\""));
}

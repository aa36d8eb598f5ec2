//! The manager's planning over HTTP (issue 16): the roster decides the
//! staff count in a request's fit sentence (and its absence is said in
//! words), the rules, closed days and group maximum pages, BSO vacation
//! hours (guaranteed a month ahead, else approved by the manager), a mail
//! to the parents at every decision, and the agenda in the AVG export and
//! erasure.
#![allow(clippy::unwrap_used)]

use crate::common;

use chrono::{Datelike, Duration, NaiveDate, Utc, Weekday};
use common::portal::{Browser, Portal};
use kring_protocol::{ChildId, GroupId, LocationId, PhotoConsent};
use kring_server::org::GroupKind;
use kring_server::store::{ChildDetails, NewPlacement};

fn today() -> NaiveDate {
    kring_protocol::Calendar::default().today(Utc::now())
}

fn weekday_from(mut d: NaiveDate) -> NaiveDate {
    while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
        d += Duration::days(1);
    }
    d
}

/// The id of the first waiting request on `/beheer/aanvragen`, and the page.
async fn waiting(m: &mut Browser) -> (Vec<String>, String) {
    let list = m.get("/beheer/aanvragen").await;
    assert_eq!(list.status, 200, "{}", list.text);
    let ids = list
        .text
        .split("id=\"approve-form-")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect();
    (ids, list.text)
}

/// The text of the element with id `id` (up to its closing tag).
fn element(page: &str, id: &str) -> String {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let rest = &page[at..];
    let start = rest.find('>').unwrap() + 1;
    rest[start..].split('<').next().unwrap().to_string()
}

#[tokio::test]
async fn the_roster_counts_in_the_fit_sentence_and_the_parent_hears_of_the_decision() {
    let p = Portal::start().await;
    let (group_a, staff_a) = (p.ids["group_a"].clone(), p.ids["staff_a"].clone());
    let mut m = p.logged_in("test", "manager").await;
    // the fixture's week (no box ticked) and its one exception taken away:
    // no roster at all
    let r = m.post(&format!("/beheer/rooster/{group_a}"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r = m
        .post(
            &format!(
                "/beheer/rooster/uitzonderingen/{}/verwijderen",
                p.ids["roster_exception_a"]
            ),
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    // no roster: said in words, on the roster page and at the request
    let page = m.get("/beheer/rooster").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(&format!("id=\"no-roster-{group_a}\"")));
    let (ids, list) = waiting(&mut m).await;
    let id = ids.first().cloned().expect("the fixture's request");
    assert!(
        element(&list, &format!("staff-words-{id}")).contains("geen rooster"),
        "{list}"
    );
    assert!(element(&list, &format!("fit-{id}")).contains("1 ingeroosterd"));
    // Fatima works Monday to Friday: counted by the roster now
    let mut form: Vec<(&str, &str)> = Vec::new();
    for d in ["mon", "tue", "wed", "thu", "fri"] {
        form.push((staff_a.as_str(), d));
    }
    let r = m.post(&format!("/beheer/rooster/{group_a}"), &form).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = m.get("/beheer/rooster").await;
    assert!(!page.text.contains(&format!("id=\"no-roster-{group_a}\"")));
    assert!(page.text.contains(&format!(
        "id=\"roster-{group_a}-{staff_a}-wed\" aria-label=\"Fatima werkt op woensdag\" checked"
    )));
    let (_, list) = waiting(&mut m).await;
    assert!(element(&list, &format!("staff-words-{id}")).contains("volgens het rooster"));
    assert!(
        element(&list, &format!("fit-{id}")).starts_with("past: "),
        "{list}"
    );
    // Fatima is off that day: nobody planned, it does not fit
    let day = weekday_from(Utc::now().date_naive() + Duration::days(14));
    let r = m
        .post(
            &format!("/beheer/rooster/{group_a}/uitzonderingen"),
            &[
                ("staff_id", staff_a.as_str()),
                ("day", &day.to_string()),
                ("kind", "off"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let (_, list) = waiting(&mut m).await;
    let fit = element(&list, &format!("fit-{id}"));
    assert!(fit.starts_with("past niet: "), "{fit}");
    assert!(fit.contains("0 ingeroosterd"), "{fit}");
    // a date in the past is refused in words
    let r = m
        .post(
            &format!("/beheer/rooster/{group_a}/uitzonderingen"),
            &[
                ("staff_id", staff_a.as_str()),
                ("day", "2020-01-06"),
                ("kind", "extra"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("Die dag is al voorbij"), "{}", r.text);

    // approving tells Sem's parents by mail, in plain Dutch
    let r = m
        .post(&format!("/beheer/aanvragen/{id}/goedkeuren"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let mail = p
        .wait_for_mail("sem.ouder@example.nl", "Goedgekeurd: een extra dag")
        .await;
    assert!(mail.contains("voor Sem op"), "{mail}");
    assert!(mail.contains("/agenda"), "{mail}");
    assert!(!mail.contains("image/"), "no photo: {mail}");
    p.wait_for_mail("sem.tweede@example.nl", "Goedgekeurd: een extra dag")
        .await;
}

#[tokio::test]
async fn the_rules_closed_days_and_group_maximum_are_set_with_errors_in_words() {
    let p = Portal::start().await;
    let (group_a, location_a) = (p.ids["group_a"].clone(), p.ids["location_a"].clone());
    let mut m = p.logged_in("test", "manager").await;
    let page = m.get("/beheer/agenda").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("value=\"2\""), "the default notice");
    let mut rules = vec![
        ("notice_working_days", "3"),
        ("credit_valid_months", "6"),
        ("vacation_morning", "4"),
        ("vacation_afternoon", "6"),
        ("vacation_day", "11"),
    ];
    let r = m.post("/beheer/agenda/regels", &rules).await;
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("Kies ten minste één werkdag."),
        "{}",
        r.text
    );
    rules.extend([("working_day", "mon"), ("working_day", "thu")]);
    let r = m.post("/beheer/agenda/regels", &rules).await;
    assert_eq!(r.status, 303, "{}", r.text);
    // the parents read the new rules
    let mut parent = p.logged_in("test", "sem").await;
    let page = parent
        .get(&format!("/agenda?kind={}", p.ids["child_sem"]))
        .await;
    assert!(page.text.contains("uiterlijk 3 werkdagen van tevoren"));
    assert!(page.text.contains("Werkdagen zijn maandag en donderdag"));

    // a closed range, listed; the end before the start is refused in words
    let from = today() + Duration::days(40);
    let to = from + Duration::days(2);
    let r = m
        .post(
            "/beheer/agenda/sluitingsdagen",
            &[
                ("location_id", location_a.as_str()),
                ("from", &to.to_string()),
                ("to", &from.to_string()),
                ("name", "Studiedagen"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("De laatste dag ligt voor de eerste dag."));
    let r = m
        .post(
            "/beheer/agenda/sluitingsdagen",
            &[
                ("location_id", location_a.as_str()),
                ("from", &from.to_string()),
                ("to", &to.to_string()),
                ("name", "Studiedagen"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = m.get("/beheer/agenda").await;
    for d in [from, to] {
        assert!(
            page.text
                .contains(&format!("id=\"closed-{location_a}-{d}\"")),
            "{d}"
        );
    }
    // the group maximum: 4 children make a day too full
    let r = m
        .post(
            &format!("/beheer/agenda/groepen/{group_a}"),
            &[("max_children", "2")],
        )
        .await;
    assert_eq!(r.status, 303);
    let (ids, list) = waiting(&mut m).await;
    let fit = element(&list, &format!("fit-{}", ids[0]));
    assert!(
        fit.contains("de groep mag hoogstens 2 kinderen hebben"),
        "{fit}"
    );
    let r = m
        .post(
            &format!("/beheer/agenda/groepen/{group_a}"),
            &[("max_children", "nul")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("van 1 tot en met 60"));
}

/// A BSO group at location A with Lotte (7), child of Noor's parent.
async fn bso_child(p: &Portal) -> (ChildId, GroupId) {
    let store = p.h.store();
    let location: LocationId = p.ids["location_a"].parse().unwrap();
    let group = store
        .create_group(location, "Roefjes".into(), GroupKind::Bso, (4, 12))
        .await
        .unwrap();
    let lotte = store
        .create_child(
            p.h.org,
            ChildDetails {
                first_name: "Lotte".into(),
                last_name: "Test".into(),
                birth_date: today() - Duration::days(7 * 365),
                consent: PhotoConsent::Group,
                allergies: None,
                notes: None,
            },
        )
        .await
        .unwrap();
    store
        .place_child(NewPlacement {
            child: lotte,
            group,
            days: vec![kring_protocol::Weekday::Mon],
            start: today() - Duration::days(30),
            end: None,
        })
        .await
        .unwrap();
    store
        .link_parent(
            lotte,
            p.ids["parent_noor"].parse().unwrap(),
            kring_server::org::ParentRole::First,
        )
        .await
        .unwrap();
    (lotte, group)
}

#[tokio::test]
async fn vacation_care_is_guaranteed_a_month_ahead_and_otherwise_approved_by_the_manager() {
    let p = Portal::start().await;
    let (lotte, group) = bso_child(&p).await;
    let lotte_s = lotte.to_string();
    let mut m = p.logged_in("test", "manager").await;
    let year = today().year();
    for y in [year, year + 1] {
        let r = m
            .post(
                "/beheer/agenda/vakantie-uren",
                &[
                    ("child_id", lotte_s.as_str()),
                    ("year", &y.to_string()),
                    ("hours", "15"),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.text);
    }
    let mut parent = p.logged_in("test", "noor").await;
    // a KDV-only child has no vacation section
    let noor = parent
        .get(&format!("/agenda?kind={}", p.ids["child_noor"]))
        .await;
    assert!(!noor.text.contains("id=\"vacation\""));
    let page = parent.get(&format!("/agenda?kind={lotte}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("Vakantie-uren van Lotte"),
        "{}",
        page.text
    );
    assert!(page.text.contains("Ochtend (5 uur)"));
    assert!(page.text.contains("een maand of langer van tevoren"));

    // more than a month ahead, a Tuesday: guaranteed, hours taken
    let mut far = today() + Duration::days(40);
    while far.weekday() != Weekday::Tue {
        far += Duration::days(1);
    }
    let r = parent
        .post(
            "/agenda/vakantie",
            &[
                ("child_id", lotte_s.as_str()),
                ("day", &far.to_string()),
                ("part_of_day", "morning"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(r.location.unwrap().ends_with("ok=vakantie-gegarandeerd"));
    let page = parent.get(&format!("/agenda?kind={lotte}")).await;
    let left = element(&page.text, &format!("vacation-left-{}", far.year()));
    assert_eq!(left, "nog 10 uur");
    assert!(
        p.h.store()
            .planned_day(group, far)
            .await
            .unwrap()
            .children
            .iter()
            .any(|(c, _)| *c == lotte)
    );
    // within a month: waits for the manager, hours promised
    let near = weekday_from(today() + Duration::days(10));
    let r = parent
        .post(
            "/agenda/vakantie",
            &[
                ("child_id", lotte_s.as_str()),
                ("day", &near.to_string()),
                ("part_of_day", "afternoon"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(r.location.unwrap().ends_with("ok=vakantie-aangevraagd"));
    let page = parent.get(&format!("/agenda?kind={lotte}")).await;
    assert!(
        page.text
            .contains("wacht op de locatie (uren gereserveerd)")
    );
    assert!(
        !p.h.store()
            .planned_day(group, near)
            .await
            .unwrap()
            .children
            .iter()
            .any(|(c, _)| *c == lotte)
    );
    // the manager sees it with the fit sentence and approves
    let (ids, list) = waiting(&mut m).await;
    let id = ids
        .iter()
        .find(|i| {
            list.contains(&format!("id=\"request-{i}\"")) && {
                let at = list.find(&format!("id=\"request-{i}\"")).unwrap();
                list[at..].split("</li>").next().unwrap().contains("Lotte")
            }
        })
        .cloned()
        .expect("Lotte's request");
    let at = list.find(&format!("id=\"request-{id}\"")).unwrap();
    let card = list[at..].split("</li>").next().unwrap();
    assert!(card.contains("vakantieopvang, 5 uur"), "{card}");
    let fit = element(&list, &format!("fit-{id}"));
    assert!(fit.contains("ingeroosterd"), "{fit}");
    let r = m
        .post(&format!("/beheer/aanvragen/{id}/goedkeuren"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(
        p.h.store()
            .planned_day(group, near)
            .await
            .unwrap()
            .children
            .iter()
            .any(|(c, _)| *c == lotte)
    );
    let mail = p
        .wait_for_mail("noor.ouder@example.nl", "Goedgekeurd: vakantieopvang")
        .await;
    assert!(mail.contains("voor Lotte op"), "{mail}");
    let page = parent.get(&format!("/agenda?kind={lotte}")).await;
    assert!(
        page.text
            .contains(&format!("data-date=\"{near}\" data-state=\"extra\""))
    );
    // the parent's AVG export lists the vacation care they asked for
    let got = m
        .post(
            &format!("/beheer/ouders/{}/export", p.ids["parent_noor"]),
            &[],
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.text);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(got.bytes.clone())).unwrap();
    let mut json = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("gegevens.json").unwrap(), &mut json)
        .unwrap();
    let data: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(data["vakantie_aanvragen"].as_array().unwrap().len(), 2);
    // another parent cannot ask for Lotte
    let mut other = p.logged_in("test", "sem").await;
    let r = other
        .post(
            "/agenda/vakantie",
            &[
                ("child_id", lotte_s.as_str()),
                ("day", &far.to_string()),
                ("part_of_day", "morning"),
            ],
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn the_agenda_is_in_the_export_and_erasure_takes_it() {
    let p = Portal::start().await;
    let sem = p.ids["child_sem"].clone();
    let mut m = p.logged_in("test", "manager").await;
    let year = today().year().to_string();
    let r = m
        .post(
            "/beheer/agenda/vakantie-uren",
            &[("child_id", sem.as_str()), ("year", &year), ("hours", "20")],
        )
        .await;
    assert_eq!(r.status, 303);
    let got = m.post(&format!("/beheer/kinderen/{sem}/export"), &[]).await;
    assert_eq!(got.status, 200, "{}", got.text);
    let zip = got.bytes.clone();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut json = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("gegevens.json").unwrap(), &mut json)
        .unwrap();
    let data: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(data["agenda_aanvragen"].as_array().unwrap().len(), 1);
    assert_eq!(data["agenda_afmeldingen"].as_array().unwrap().len(), 2);
    assert_eq!(
        data["tegoed"].as_array().unwrap().len(),
        2,
        "two days earned"
    );
    assert_eq!(data["vakantie_uren"][0]["hours"], 20);
    assert!(data["vakantie_aanvragen"].as_array().unwrap().is_empty());
    let sql = p.h.sql();
    let erased = m.post(&format!("/beheer/kinderen/{sem}/wissen"), &[]).await;
    assert_eq!(erased.status, 303);
    for table in [
        "day_requests",
        "day_cancellations",
        "credit_ledger",
        "vacation_allowances",
        "vacation_requests",
    ] {
        let n = sql
            .int(
                &format!("SELECT COUNT(*) FROM {table} WHERE child_id = ?1"),
                vec![sem.as_str().into()],
            )
            .await
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
}

//! The agenda (issue 16) end to end over HTTP: cancelling in time earns
//! tegoed and late does not, a request from tegoed is refused in words when
//! there is none, the manager sees whether the day fits and approving spends
//! the tegoed and reaches the group's device feed.
#![allow(clippy::unwrap_used)]

use crate::common;

use chrono::{Datelike, Duration, NaiveDate, Utc, Weekday};
use common::portal::{Browser, Portal};
use kring_protocol::{ChangeKind, FeedPage};

fn today() -> NaiveDate {
    kring_protocol::Calendar::default().today(Utc::now())
}

/// The first Monday-to-Friday day from `d` on.
fn weekday_from(mut d: NaiveDate) -> NaiveDate {
    while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
        d += Duration::days(1);
    }
    d
}

async fn balance(b: &mut Browser, child: &str) -> (u32, u32) {
    let page = b.get(&format!("/agenda?kind={child}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let attr = |name: &str| -> u32 {
        let at = page.text.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        page.text[at..].split('"').next().unwrap().parse().unwrap()
    };
    (attr("data-balance"), attr("data-available"))
}

#[tokio::test]
async fn tegoed_is_earned_in_time_and_spent_at_approval() {
    let p = Portal::start().await;
    let sem = p.ids["child_sem"].clone();
    let mut parent = p.logged_in("test", "sem").await;
    // the fixture cancelled two of Sem's days two weeks ahead, in time
    let (before, _) = balance(&mut parent, &sem).await;
    assert_eq!(before, 2);
    let page = parent.get(&format!("/agenda?kind={sem}")).await;
    assert!(
        page.text.contains("uiterlijk 2 werkdagen van tevoren"),
        "the rules in words"
    );

    // the next weekday is too late for tegoed
    let soon = weekday_from(today() + Duration::days(1));
    let r = parent
        .post(
            "/agenda/afmelden",
            &[("child_id", &sem), ("day", &soon.to_string())],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(r.location.unwrap().ends_with("ok=afgemeld"), "no tegoed");
    assert_eq!(balance(&mut parent, &sem).await.0, before);
    // three weeks ahead is in time: one day more
    let later = weekday_from(today() + Duration::days(21));
    let r = parent
        .post(
            "/agenda/afmelden",
            &[("child_id", &sem), ("day", &later.to_string())],
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(r.location.unwrap().contains("ok=afgemeld-tegoed"));
    assert_eq!(balance(&mut parent, &sem).await.0, before + 1);
    // a day already cancelled cannot be cancelled again, in words
    let r = parent
        .post(
            "/agenda/afmelden",
            &[("child_id", &sem), ("day", &later.to_string())],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("al afgemeld"));

    // the cancelled day is free again: ask for it from tegoed
    let r = parent
        .post(
            "/agenda/aanvragen",
            &[
                ("child_id", &sem),
                ("day", &later.to_string()),
                ("part_of_day", "whole_day"),
                ("payment", "credit"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let (balance_asked, available) = balance(&mut parent, &sem).await;
    assert_eq!(balance_asked, before + 1, "nothing taken before approval");
    assert_eq!(available, before, "but promised");

    // the manager sees whether the day fits, and approves
    let (dev, _) = p.devices.as_ref().unwrap();
    let feed = |since: i64| {
        let req =
            p.h.get(dev, &format!("/api/v1/feed?since={since}&limit=500"));
        async move { req.send().await.unwrap().json::<FeedPage>().await.unwrap() }
    };
    let mut cursor = feed(0).await.cursor.0;
    loop {
        let page = feed(cursor).await;
        cursor = page.cursor.0;
        if !page.has_more {
            break;
        }
    }
    let mut manager = p.logged_in("test", "manager").await;
    let list = manager.get("/beheer/aanvragen").await;
    assert_eq!(list.status, 200);
    let id = list
        .text
        .split("id=\"approve-form-")
        .map(|s| s.split('"').next().unwrap().to_string())
        .skip(1)
        .find(|id| {
            list.text
                .split(&format!("id=\"request-{id}\""))
                .nth(1)
                .is_some_and(|rest| rest.split("</li>").next().unwrap().contains("van tegoed"))
        })
        .expect("the request from tegoed is listed");
    let fit = list
        .text
        .split(&format!("id=\"fit-{id}\">"))
        .nth(1)
        .unwrap();
    assert!(
        fit.starts_with("past: 4 kinderen, 1 leidster nodig, 1 ingeroosterd"),
        "{fit}"
    );
    let r = manager
        .post(&format!("/beheer/aanvragen/{id}/goedkeuren"), &[])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        balance(&mut parent, &sem).await,
        (before, before),
        "spent once"
    );
    // approving twice spends nothing more
    let r = manager
        .post(&format!("/beheer/aanvragen/{id}/goedkeuren"), &[])
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(balance(&mut parent, &sem).await.0, before);
    let page = parent
        .get(&format!(
            "/agenda?kind={sem}&maand={}",
            later.format("%Y-%m")
        ))
        .await;
    assert!(page.text.contains(&format!(
        "id=\"day-{later}\" data-date=\"{later}\" data-state=\"extra\""
    )));

    // the group's device learns of the extra day and of the cancelled one
    let page = feed(cursor).await;
    let child = page
        .changes
        .iter()
        .find_map(|c| match &c.kind {
            ChangeKind::Child(k) if k.id.to_string() == sem => Some(k.clone()),
            _ => None,
        })
        .expect("Sem changed");
    assert!(child.extra_days.contains(&later));
    assert!(child.cancelled_days.contains(&later) && child.cancelled_days.contains(&soon));
}

#[tokio::test]
async fn no_tegoed_is_refused_in_words_and_a_refusal_takes_nothing() {
    let p = Portal::start().await;
    let emma = p.ids["child_emma"].clone();
    let mut parent = p.logged_in("test", "emma").await;
    assert_eq!(balance(&mut parent, &emma).await, (0, 0));
    let page = parent.get(&format!("/agenda?kind={emma}")).await;
    assert!(
        page.text
            .contains("id=\"payment-credit\" value=\"credit\" disabled")
    );
    // free a day (late: no tegoed) and ask for it from tegoed anyway
    let soon = weekday_from(today() + Duration::days(1));
    let r = parent
        .post(
            "/agenda/afmelden",
            &[("child_id", &emma), ("day", &soon.to_string())],
        )
        .await;
    assert_eq!(r.status, 303);
    let r = parent
        .post(
            "/agenda/aanvragen",
            &[
                ("child_id", &emma),
                ("day", &soon.to_string()),
                ("payment", "credit"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("geen tegoed"), "{}", r.text);
    // paid is fine; refusing it takes nothing
    let r = parent
        .post(
            "/agenda/aanvragen",
            &[
                ("child_id", &emma),
                ("day", &soon.to_string()),
                ("payment", "paid"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let mut manager = p.logged_in("test", "manager").await;
    let list = manager.get("/beheer/aanvragen").await;
    let id = list
        .text
        .split("id=\"refuse-form-")
        .map(|s| s.split('"').next().unwrap().to_string())
        .skip(1)
        .find(|id| {
            list.text
                .split(&format!("id=\"request-{id}\""))
                .nth(1)
                .is_some_and(|rest| rest.split("</li>").next().unwrap().contains("Emma"))
        })
        .expect("Emma's request is listed");
    let r = manager
        .post(&format!("/beheer/aanvragen/{id}/afwijzen"), &[])
        .await;
    assert_eq!(r.status, 303);
    let list = manager.get("/beheer/aanvragen").await;
    let row = list
        .text
        .split(&format!("id=\"request-{id}\""))
        .nth(1)
        .unwrap();
    assert!(
        row.contains("afgewezen") && row.contains("door Petra"),
        "recorded: {row}"
    );
    assert_eq!(balance(&mut parent, &emma).await, (0, 0));
    // the other organisation's manager cannot decide it
    let mut other = p.logged_in("ander", "other_manager").await;
    other.get("/beheer/aanvragen").await;
    let r = other
        .post(&format!("/beheer/aanvragen/{id}/goedkeuren"), &[])
        .await;
    assert_eq!(r.status, 404);
}

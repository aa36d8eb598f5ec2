//! SQLite: loads the demo organisation (see [`crate::demo`]) in one
//! transaction, through this backend's typed writes.

use super::conn::{Connection, TransactionBehavior, params, query_one};
use super::{items, news, org, portal};
use crate::demo::*;
use crate::org::{NewAbsence, NewChild, OrgError, ParentRole};
use crate::portal::DocumentAudience;
use crate::portal::news::{FileChange, LocationDetails, NewsDraft, NewsKind, NewsPhoto};
use chrono::{DateTime, Days, NaiveDate, Utc};
use kring_protocol::{ChildId, GroupId, LocationId, OrganisationId, ParentId, PhotoConsent};

/// Loads the demo organisation in ONE transaction. Refuses (returns
/// `Ok(None)`) if an organisation with slug "zonnebloem" already exists, so
/// running the demo twice does not duplicate data. The second organisation
/// ("anker") is only added when it does not exist yet.
///
/// Hashes every parent password and staff PIN with Argon2id (as
/// [`org::create_parent`] and [`org::create_staff`] do): 75 hashes, about 2-3 s in a debug build.
pub fn load_demo(conn: &mut Connection, today: NaiveDate) -> Result<Option<DemoSummary>, OrgError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if org::slug_exists(&tx, ZONNEBLOEM.slug)? {
        return Ok(None);
    }
    let clock = Clock::new(today, Utc::now());

    let zb = load_org(&tx, &ZONNEBLOEM, &clock)?;
    for m in MESSAGES {
        let Some(i) = ZONNEBLOEM.child_index(m.child) else {
            continue;
        };
        let (parent, name) = zb.author(&ZONNEBLOEM, i, m.by_second);
        org::parent_message(
            &tx,
            &zb.groups[ZONNEBLOEM.children[i].group],
            &zb.children[i],
            &parent,
            &name,
            m.body,
            clock.at(m.when),
        )?;
    }
    for d in DIARY {
        let Some(i) = ZONNEBLOEM.child_index(d.child) else {
            continue;
        };
        let (parent, name) = zb.author(&ZONNEBLOEM, i, d.by_second);
        org::parent_diary(
            &tx,
            &zb.groups[ZONNEBLOEM.children[i].group],
            &zb.children[i],
            &parent,
            &name,
            d.text,
            clock.at(d.when),
        )?;
    }
    for a in ABSENCES {
        let Some(i) = ZONNEBLOEM.child_index(a.child) else {
            continue;
        };
        let (_, reporter) = zb.author(&ZONNEBLOEM, i, false);
        org::report_absence(
            &tx,
            &NewAbsence {
                child: zb.children[i],
                from: today + Days::new(a.from),
                to: today + Days::new(a.to),
                part_of_day: a.part_of_day,
                reason: a.reason,
                note: Some(a.note),
                reported_by: &reporter,
            },
            clock.at(a.reported),
        )?;
    }

    load_portal_extras(&tx, &zb, &clock)?;
    load_location_and_news(&tx, &clock)?;
    load_agenda_extras(&tx, &zb, &clock)?;

    let mut logins = ZONNEBLOEM.logins(&["Sem", "Daan"]);
    // The first parent goes straight in; the others choose a password first.
    if let Some(first) = logins.first_mut() {
        first.must_change_password = false;
    }
    logins.push(DemoLogin {
        role: "locatiemanager (portaal)",
        name: "Petra van Dam".into(),
        login: DEMO_MANAGER_EMAIL.into(),
        secret: DEMO_MANAGER_PASSWORD.into(),
        group: None,
        note: "beheer in het portaal: groepen, kinderen, apparaten".into(),
        must_change_password: false,
    });
    if !org::slug_exists(&tx, ANKER.slug)? {
        load_org(&tx, &ANKER, &clock)?;
        logins.extend(ANKER.logins(&["Olivia"]));
    }
    tx.commit()?;

    Ok(Some(DemoSummary {
        organisation: ZONNEBLOEM.name.to_string(),
        groups: zb
            .groups
            .iter()
            .zip(ZONNEBLOEM.groups)
            .map(|(id, g)| DemoGroup {
                id: *id,
                name: g.name.to_string(),
            })
            .collect(),
        children: zb.children.len(),
        logins,
    }))
}

/// What the portal shows beyond the device's data: the first parent's
/// password needs no change, the manager's portal login, documents, and the
/// group's side of the conversation (a reply, a message to all, read marks).
fn load_portal_extras(tx: &Connection, zb: &Loaded, clock: &Clock) -> Result<(), OrgError> {
    org::set_must_change_password(tx, &zb.parents[0].first, false)?;
    if let Some(m) = org::manager_of(tx, DEMO_SLUG)? {
        org::set_staff_login(tx, &m, DEMO_MANAGER_EMAIL, DEMO_MANAGER_PASSWORD, false)?;
    }
    let now = clock.at(When::Morning(0));
    if let Some(sem) = ZONNEBLOEM.child_index("Sem") {
        let child = zb.children[sem];
        portal::create_document(
            tx,
            &child,
            "Plaatsingsovereenkomst",
            "Plaatsing op de Dolfijnen op maandag, dinsdag en donderdag. Dit document is alleen zichtbaar voor de eerste ouder.",
            DocumentAudience::FirstParent,
            clock.at(When::DaysAgo(40, 9, 0)),
        )?;
        portal::create_document(
            tx,
            &child,
            "Welkom op de Dolfijnen",
            "Fijn dat Sem bij ons komt. Neem een knuffel en reservekleding mee.",
            DocumentAudience::AllParents,
            clock.at(When::DaysAgo(38, 9, 0)),
        )?;
        // The group has read Anne's message and answers.
        org::mark_parent_messages_read(tx, &child, now)?;
        let group = zb.groups[ZONNEBLOEM.children[sem].group];
        for (child, body) in [
            (
                Some(child),
                "Dank je wel, we geven het door. Tot vanmiddag!",
            ),
            (
                None,
                "Morgen gaan we naar buiten, ook als het regent: geef regenlaarzen en een regenjas mee.",
            ),
        ] {
            org::staff_message(tx, &group, child.as_ref(), "Anouk de Wit", body, now)?;
        }
    }
    Ok(())
}

/// The agenda's side of the demo: the staff roster with one exception, a
/// closed day, and Lina's (BSO) vacation hours with a guaranteed request
/// and one waiting for the manager.
fn load_agenda_extras(tx: &Connection, zb: &Loaded, clock: &Clock) -> Result<(), OrgError> {
    use super::roster;
    use chrono::{Datelike, Duration};
    use kring_protocol::{PartOfDay, StaffId};
    let Some((org_id, loc)) = demo_location(tx)? else {
        return Ok(());
    };
    let today = clock.today;
    let staff_id = |name: &str| {
        query_one(
            tx,
            "SELECT id FROM staff WHERE organisation_id = ?1 AND name = ?2",
            params![org_id.to_string(), name],
            |r| {
                use super::conn::RowExt;
                r.id::<StaffId>("id")
            },
        )
    };
    for (g, group) in zb.groups.iter().enumerate() {
        let mut week = Vec::new();
        for (name, _, days) in DEMO_ROSTER.iter().filter(|(_, on, _)| *on == g) {
            if let Some(id) = staff_id(name)? {
                week.push((id, days.to_vec()));
            }
        }
        roster::set_roster_week(tx, &org_id, group, &week)?;
    }
    let weekday_from = |mut d: NaiveDate, wd: chrono::Weekday| {
        while d.weekday() != wd {
            d += Duration::days(1);
        }
        d
    };
    // Ingrid is off next Wednesday; a study day closes the location
    if let Some(ingrid) = staff_id("Ingrid Smits")? {
        let d = weekday_from(today + Duration::days(1), chrono::Weekday::Wed);
        roster::add_roster_exception(tx, &org_id, &zb.groups[ZEESTERREN], &ingrid, d, true)?;
    }
    let closed = weekday_from(today + Duration::days(21), chrono::Weekday::Fri);
    roster::add_closed_days(tx, &org_id, &loc, closed, closed, "Studiedag van het team")?;
    let Some(i) = ZONNEBLOEM.child_index(DEMO_VACATION_CHILD) else {
        return Ok(());
    };
    let child = zb.children[i];
    for y in [today.year(), today.year() + 1] {
        roster::set_vacation_allowance(tx, &org_id, &child, y, DEMO_VACATION_HOURS)?;
    }
    let (parent, name) = zb.author(&ZONNEBLOEM, i, false);
    let now = clock.at(When::Morning(0));
    for (day, part) in [
        (
            weekday_from(today + Duration::days(45), chrono::Weekday::Wed),
            PartOfDay::WholeDay,
        ),
        (
            weekday_from(today + Duration::days(10), chrono::Weekday::Wed),
            PartOfDay::Morning,
        ),
    ] {
        let asked = roster::request_vacation(
            tx,
            &parent,
            &crate::portal::agenda::NewVacationRequest {
                child,
                day,
                part_of_day: part,
                requested_by: name.clone(),
            },
            today,
            now,
        )?;
        if let Some(Err(refused)) = asked {
            tracing::warn!(%refused, %day, "demo vacation request refused");
        }
    }
    Ok(())
}

/// The demo organisation and its (one) location.
fn demo_location(
    tx: &Connection,
) -> Result<Option<(OrganisationId, LocationId)>, crate::db::DbError> {
    query_one(
        tx,
        "SELECT o.id AS org, l.id AS loc FROM locations l
         JOIN organisations o ON o.id = l.organisation_id
         WHERE o.slug = ?1 ORDER BY l.id",
        params![DEMO_SLUG],
        |r| {
            use super::conn::RowExt;
            Ok((r.id("org")?, r.id("loc")?))
        },
    )
}

/// Mijn locatie and news without pictures: the location's address, opening
/// hours and contact, a page of practical information, a newsletter.
fn load_location_and_news(tx: &Connection, clock: &Clock) -> Result<(), OrgError> {
    let Some((org_id, loc)) = demo_location(tx)? else {
        return Ok(());
    };
    news::set_location_details(
        tx,
        &org_id,
        &loc,
        &LocationDetails {
            address: "Zonnebloemlaan 12\n3521 AB Utrecht".into(),
            opening_hours: "Maandag tot en met vrijdag 7:30 - 18:30\nBSO na schooltijd tot 18:30"
                .into(),
            phone: "030 - 123 45 67".into(),
            email: "zonnebloem@example.nl".into(),
        },
    )?;
    for (title, body) in DEMO_PAGES {
        news::add_location_page(
            tx,
            &org_id,
            &loc,
            title,
            body,
            clock.at(When::DaysAgo(60, 9, 0)),
        )?;
    }
    news::save_news(
        tx,
        &org_id,
        None,
        &NewsDraft {
            location: None,
            kind: NewsKind::Nieuwsbrief,
            title: "Nieuwsbrief van De Zonnebloem".into(),
            body: "Beste ouders,\n\nDeze maand oefenen we op alle groepen met de brandoefening. De kinderen weten precies wat ze moeten doen.\n\nVergeet niet: op vrijdag 13 juni zijn we gesloten vanwege een studiedag van het team.\n\nHartelijke groet,\nPetra van Dam, locatiemanager".into(),
            photo: FileChange::Keep,
            pdf: FileChange::Keep,
            author_name: "Petra van Dam".into(),
        },
        clock.at(When::DaysAgo(3, 9, 0)),
    )?;
    Ok(())
}

/// Practical information pages of the demo location (title, text).
const DEMO_PAGES: &[(&str, &str)] = &[
    (
        "Brengen en halen",
        "Breng uw kind tussen 7:30 en 9:30. Halen kan vanaf 16:00 tot 18:30.\n\nHaalt iemand anders uw kind op? Laat het de groep weten via Berichten.",
    ),
    (
        "Ziek kind",
        "Is uw kind ziek? Meld het dan voor 9:00 via Afwezig melden.\n\nBij koorts boven 38,5 graden halen we u erbij.",
    ),
];

/// The demo's news with a photo, and the team photo Anouk agreed to share.
fn load_news_pictures(
    tx: &Connection,
    blobs: &dyn crate::blob::BlobStore,
    now: DateTime<Utc>,
) -> Result<(), DemoMediaError> {
    let Some((org_id, loc)) = demo_location(tx)? else {
        return Ok(());
    };
    let processed =
        crate::photo::process(&demo_picture(31)?, &crate::photo::PhotoLimits::default())?;
    let photo = NewsPhoto {
        key: "nieuws/demo/zomerfeest.jpg".into(),
        thumb_key: "nieuws-klein/demo/zomerfeest.jpg".into(),
    };
    blobs.put(&photo.key, &processed.jpeg)?;
    blobs.put(&photo.thumb_key, &processed.thumbnail)?;
    news::save_news(
        tx,
        &org_id,
        None,
        &NewsDraft {
            location: Some(loc),
            kind: NewsKind::Nieuws,
            title: "Zomerfeest op vrijdag".into(),
            body: "Op vrijdag vieren we het zomerfeest in de tuin, van 15:00 tot 17:00. Alle ouders, broertjes en zusjes zijn welkom.\n\nNeem een petje en zonnebrand mee. Voor drinken en iets lekkers zorgen wij.".into(),
            photo: FileChange::Set(photo),
            pdf: FileChange::Keep,
            author_name: "Petra van Dam".into(),
        },
        now - chrono::Duration::hours(2),
    )?;
    let anouk: Option<kring_protocol::StaffId> = query_one(
        tx,
        "SELECT id FROM staff WHERE organisation_id = ?1 AND name = 'Anouk de Wit'",
        params![org_id.to_string()],
        |r| {
            use super::conn::RowExt;
            r.id("id")
        },
    )?;
    if let Some(anouk) = anouk {
        let face =
            crate::photo::process(&demo_picture(32)?, &crate::photo::PhotoLimits::default())?;
        let key = "team-klein/demo/anouk.jpg";
        blobs.put(key, &face.thumbnail)?;
        news::set_staff_photo(tx, &org_id, &anouk, Some(key), now)?;
    }
    Ok(())
}

/// Why the demo's photos could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DemoMediaError {
    #[error(transparent)]
    Org(#[from] OrgError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("demo photo: {0}")]
    Photo(#[from] crate::photo::PhotoError),
    #[error("demo photo storage: {0}")]
    Blob(#[from] crate::blob::BlobError),
    #[error("demo photo encoding: {0}")]
    Image(#[from] image::ImageError),
}

/// (group, tagged children, "geen kinderen herkenbaar", minutes ago, diary text)
type DemoPhoto = (
    &'static str,
    &'static [&'static str],
    bool,
    i64,
    Option<&'static str>,
);

/// Photos for the portal's timeline, following the consent rule (tagged
/// children never include one without consent): returns how many were made.
/// Run once after [`load_demo`] created the organisation.
pub fn load_demo_photos(
    conn: &mut Connection,
    blobs: &dyn crate::blob::BlobStore,
    now: DateTime<Utc>,
) -> Result<usize, DemoMediaError> {
    let plan: &[DemoPhoto] = &[
        (
            "Dolfijnen",
            &["Sem"],
            false,
            240,
            Some(
                "Sem heeft vandaag voor het eerst met verf gespeeld. Zijn handen waren helemaal blauw!",
            ),
        ),
        ("Dolfijnen", &["Sem", "Mila"], false, 200, None),
        ("Dolfijnen", &["Sem", "Noor"], false, 180, None),
        ("Dolfijnen", &[], true, 150, None),
        ("Dolfijnen", &[], false, 120, None),
        ("Zeesterren", &["Emma", "Julia"], false, 170, None),
        ("Zeesterren", &["Bram"], false, 90, None),
        (
            "Zwaluwen",
            &["Daan", "Mees"],
            false,
            60,
            Some("Daan en Mees hebben een hut gebouwd in de speeltuin."),
        ),
        ("Zwaluwen", &["Lina"], false, 45, None),
    ];
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut made = 0;
    for (i, (group, tags, ncr, ago, diary)) in plan.iter().enumerate() {
        let Some(group_id) = org::group_by_name(&tx, DEMO_SLUG, group)? else {
            continue;
        };
        let mut ids = Vec::new();
        for name in *tags {
            if let Some((id, consent)) = org::child_by_first_name(&tx, DEMO_SLUG, name)?
                && consent != PhotoConsent::None
            {
                ids.push(id);
            }
        }
        let processed = crate::photo::process(
            &demo_picture(i as u32 + 1)?,
            &crate::photo::PhotoLimits::default(),
        )?;
        let id = kring_protocol::PhotoId::new();
        let blob_key = format!("photos/demo/{id}.jpg");
        let thumb_key = format!("thumbs/demo/{id}.jpg");
        blobs.put(&blob_key, &processed.jpeg)?;
        blobs.put(&thumb_key, &processed.thumbnail)?;
        let at = now - chrono::Duration::minutes(*ago);
        items::insert_photo(
            &tx,
            &items::PhotoRecord {
                id,
                group: group_id,
                sha256: processed.sha256,
                blob_key,
                thumb_key,
                width: processed.width,
                height: processed.height,
                no_children_recognizable: *ncr,
                tags: ids.clone(),
                at,
            },
        )?;
        if let Some(text) = diary {
            items::insert_staff_diary(&tx, &group_id, "Anouk de Wit", text, &ids, &[id], at)?;
        }
        made += 1;
    }
    load_news_pictures(&tx, blobs, now)?;
    tx.commit()?;
    Ok(made)
}

/// The ids created for an organisation, index-aligned with its spec.
struct Loaded {
    groups: Vec<GroupId>,
    children: Vec<ChildId>,
    /// Per family.
    parents: Vec<Family>,
}

/// The parents created for one family of the spec.
#[derive(Debug, Clone, Copy)]
struct Family {
    first: ParentId,
    second: Option<ParentId>,
}

impl Loaded {
    /// The first (or second, when there is one) parent of child `i`.
    fn author(&self, spec: &OrgSpec, i: usize, second: bool) -> (ParentId, String) {
        let family = spec.children[i].family;
        let f = &spec.families[family];
        match (second, self.parents[family].second, &f.second) {
            (true, Some(id), Some(p)) => (id, p.full()),
            _ => (self.parents[family].first, f.first.full()),
        }
    }
}

fn load_org(tx: &Connection, spec: &OrgSpec, clock: &Clock) -> Result<Loaded, OrgError> {
    let today = clock.today;
    let org_id = org::create_organisation(tx, spec.slug, spec.name)?;
    let location = org::create_location(tx, &org_id, spec.location)?;
    let groups = spec
        .groups
        .iter()
        .map(|g| org::create_group(tx, &location, g.name, g.kind, g.ages))
        .collect::<Result<Vec<_>, _>>()?;
    for s in spec.staff {
        let on: Vec<GroupId> = s.groups.iter().map(|g| groups[*g]).collect();
        org::create_staff(tx, &org_id, s.name, s.role, s.pin, &on)?;
    }
    let mut parents = Vec::with_capacity(spec.families.len());
    for f in spec.families {
        let first = org::create_parent(
            tx,
            &org_id,
            &f.first.email(),
            &f.first.full(),
            DEMO_PARENT_PASSWORD,
        )?;
        let second = match &f.second {
            Some(p) => Some(org::create_parent(
                tx,
                &org_id,
                &p.email(),
                &p.full(),
                DEMO_PARENT_PASSWORD,
            )?),
            None => None,
        };
        parents.push(Family { first, second });
    }
    let mut children = Vec::with_capacity(spec.children.len());
    for (i, c) in spec.children.iter().enumerate() {
        let family = &spec.families[c.family];
        let plan = plan_child(c, i, today);
        let id = org::create_child(
            tx,
            &org_id,
            &NewChild {
                first_name: c.first,
                last_name: family.surname,
                birth_date: plan.birth,
                // Until the parents fill in the form: no photos.
                consent: PhotoConsent::None,
                allergies: c.allergies,
                notes: c.notes,
            },
        )?;
        org::place_child(tx, &id, &groups[c.group], c.days, plan.start, plan.end)?;
        let Family { first, second } = parents[c.family];
        org::link_parent(tx, &id, &first, ParentRole::First)?;
        if let Some(second) = second {
            org::link_parent(tx, &id, &second, ParentRole::Second)?;
        }
        for (k, consent) in c.consent.iter().enumerate() {
            let day = if k == 0 {
                // The intake form, a couple of weeks before the first day.
                plan.start - Days::new(14)
            } else {
                // A later change of mind.
                (plan.start + Days::new(45 * k as u64)).min(today - Days::new(4))
            };
            org::set_consent(tx, &id, *consent, &family.first.full(), at(day, 19, 30))?;
        }
        children.push(id);
    }
    Ok(Loaded {
        groups,
        children,
        parents,
    })
}

#[cfg(test)]
mod tests {
    use super::super::conn::params;
    use super::*;
    use crate::db::Db;
    use crate::store::sql::conn::{RowExt, query_all};
    use crate::store::sql::feed::feed_page;
    use chrono::Datelike;
    use kring_protocol::{AbsenceReason, ChangeKind, Cursor, MessageAuthor, MessageThread};
    use std::collections::{BTreeSet, HashSet};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    /// Age in completed months.
    fn months_old(birth: NaiveDate, today: NaiveDate) -> i32 {
        let mut m =
            (today.year() - birth.year()) * 12 + today.month() as i32 - birth.month() as i32;
        if today.day() < birth.day() {
            m -= 1;
        }
        m
    }

    fn fits(birth: NaiveDate, today: NaiveDate, ages: (u8, u8)) -> bool {
        let m = months_old(birth, today);
        m >= i32::from(ages.0) * 12 && m < i32::from(ages.1) * 12
    }

    fn count(db: &Db, sql: &'static str) -> i64 {
        db.call_sync(|c| -> Result<i64, OrgError> { Ok(c.query_row(sql, (), |r| r.get(0))?) })
            .expect("count")
    }

    fn group_id(db: &Db, name: &'static str) -> GroupId {
        db.call_sync(|c| -> Result<GroupId, OrgError> {
            let s: String = c.query_row(
                "SELECT id FROM groups WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )?;
            Ok(crate::db::parse_id("groups.id", &s)?)
        })
        .expect("group id")
    }

    #[test]
    fn plans_fit_their_groups_on_every_day() {
        let mut today = date(2023, 12, 1);
        while today < date(2026, 3, 1) {
            for spec in [&ZONNEBLOEM, &ANKER] {
                for (i, c) in spec.children.iter().enumerate() {
                    let plan = plan_child(c, i, today);
                    let ages = spec.groups[c.group].ages;
                    assert!(
                        fits(plan.birth, today, ages),
                        "{} born {} on {today} does not fit {ages:?}",
                        c.first,
                        plan.birth
                    );
                    assert_eq!(
                        months_old(plan.birth, today),
                        c.months as i32,
                        "{}",
                        c.first
                    );
                    assert!(plan.birth < plan.start, "{} starts before birth", c.first);
                    assert!(plan.start < today, "{} starts in the future", c.first);
                    if let Some(end) = plan.end {
                        assert!(end >= today && end <= today + Days::new(40), "{}", c.first);
                    }
                }
            }
            today = today + Days::new(1);
        }
    }

    #[test]
    fn specs_are_consistent() {
        for spec in [&ZONNEBLOEM, &ANKER] {
            let mut emails = HashSet::new();
            for f in spec.families {
                for p in std::iter::once(&f.first).chain(f.second.as_ref()) {
                    let e = p.email();
                    assert!(e.is_ascii() && !e.contains(' '), "{e}");
                    assert!(emails.insert(e.clone()), "duplicate e-mail {e}");
                }
            }
            let mut names = HashSet::new();
            for c in spec.children {
                assert!(names.insert(c.first), "duplicate first name {}", c.first);
                assert!(c.family < spec.families.len() && c.group < spec.groups.len());
                assert!((2..=5).contains(&c.days.len()), "{}", c.first);
            }
            for (g, _) in spec.groups.iter().enumerate() {
                for day in [MA, DI, WO, DO, VR] {
                    let n = spec
                        .children
                        .iter()
                        .filter(|c| c.group == g && c.days.contains(&day))
                        .count();
                    assert!(n >= 2, "{} on {day:?}: {n}", spec.groups[g].name);
                }
            }
            let pins: HashSet<_> = spec.staff.iter().map(|s| s.pin).collect();
            assert_eq!(pins.len(), spec.staff.len(), "PINs are unique");
        }
        assert_eq!(ascii("Ayşe"), "ayse");
        assert_eq!(ascii("van den Berg"), "vandenberg");
        assert_eq!(ascii("Daniëlle"), "danielle");
        for m in MESSAGES {
            assert!(ZONNEBLOEM.child_index(m.child).is_some(), "{}", m.child);
        }
        for d in DIARY {
            assert!(ZONNEBLOEM.child_index(d.child).is_some(), "{}", d.child);
        }
        for a in ABSENCES {
            assert!(ZONNEBLOEM.child_index(a.child).is_some(), "{}", a.child);
        }
    }

    #[test]
    fn clock_never_writes_in_the_future() {
        let today = date(2025, 3, 12);
        let early = at(today, 4, 0);
        let clock = Clock::new(today, early);
        assert!(clock.at(When::Morning(20)) < early);
        let late = Clock::new(today, at(today, 15, 0));
        assert_eq!(late.at(When::Morning(30)), at(today, 6, 0));
        assert_eq!(
            late.at(When::DaysAgo(1, 20, 5)),
            at(date(2025, 3, 11), 20, 5)
        );
    }

    #[test]
    fn loads_the_demo_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("t.sqlite3")).expect("open");
        // A Wednesday.
        let today = date(2025, 3, 12);

        let started = std::time::Instant::now();
        let summary = db
            .call_sync(|c| load_demo(c, today))
            .expect("load")
            .expect("first load creates the demo");
        eprintln!("load_demo took {:?}", started.elapsed());

        assert_eq!(summary.organisation, "Kinderopvang De Zonnebloem");
        let names: Vec<&str> = summary.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["Dolfijnen", "Zeesterren", "Zwaluwen"]);
        assert_eq!(summary.children, 40);

        // Groups of both organisations.
        let groups = count(
            &db,
            "SELECT count(*) FROM groups g JOIN locations l ON l.id = g.location_id
             JOIN organisations o ON o.id = l.organisation_id
             WHERE o.slug = 'zonnebloem' AND g.name IN ('Dolfijnen', 'Zeesterren', 'Zwaluwen')",
        );
        assert_eq!(groups, 3);
        let egeltjes = count(
            &db,
            "SELECT count(*) FROM groups g JOIN locations l ON l.id = g.location_id
             JOIN organisations o ON o.id = l.organisation_id
             WHERE o.slug = 'anker' AND g.name = 'Egeltjes'",
        );
        assert_eq!(egeltjes, 1);

        let zb_children = count(
            &db,
            "SELECT count(*) FROM children c JOIN organisations o ON o.id = c.organisation_id
             WHERE o.slug = 'zonnebloem'",
        );
        assert!((35..=45).contains(&zb_children), "{zb_children} children");
        assert_eq!(zb_children as usize, summary.children);
        // The agenda: a roster for every group, Lina's vacation care (one
        // guaranteed, one waiting), a closed day.
        assert_eq!(
            count(&db, "SELECT count(DISTINCT group_id) FROM roster_weeks"),
            3
        );
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM vacation_requests WHERE status = 'approved' AND guaranteed = 1"
            ),
            1
        );
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM vacation_requests WHERE status = 'requested'"
            ),
            1
        );
        assert_eq!(count(&db, "SELECT count(*) FROM closed_days"), 1);
        assert_eq!(count(&db, "SELECT count(*) FROM children"), zb_children + 4);

        let without_first_parent = count(
            &db,
            "SELECT count(*) FROM children c WHERE NOT EXISTS
             (SELECT 1 FROM child_parents cp WHERE cp.child_id = c.id AND cp.role = 'first')",
        );
        assert_eq!(without_first_parent, 0);
        let with_second = count(
            &db,
            "SELECT count(DISTINCT child_id) FROM child_parents WHERE role = 'second'",
        );
        assert!(
            with_second >= 15,
            "{with_second} children with a second parent"
        );
        // Siblings share their parents.
        let siblings = count(
            &db,
            "SELECT count(*) FROM (SELECT parent_id FROM child_parents WHERE role = 'first'
             GROUP BY parent_id HAVING count(*) = 2)",
        );
        assert_eq!(siblings, 3);
        // A parent belongs to the organisation of its children.
        let cross = count(
            &db,
            "SELECT count(*) FROM child_parents cp JOIN children c ON c.id = cp.child_id
             JOIN parents p ON p.id = cp.parent_id WHERE p.organisation_id <> c.organisation_id",
        );
        assert_eq!(cross, 0);

        let consents = db
            .call_sync(|c| -> Result<BTreeSet<String>, OrgError> {
                Ok(c.prepare("SELECT DISTINCT photo_consent FROM children")?
                    .query_map((), |r| r.get(0))?
                    .collect::<Result<_, _>>()?)
            })
            .expect("consents");
        assert_eq!(
            consents,
            BTreeSet::from(["group".into(), "none".into(), "own_parents".into()])
        );
        let history = count(&db, "SELECT count(*) FROM consent_history");
        assert!(history > count(&db, "SELECT count(*) FROM children"));
        let history_matches = count(
            &db,
            "SELECT count(*) FROM children c WHERE c.photo_consent =
             (SELECT h.consent FROM consent_history h WHERE h.child_id = c.id
              ORDER BY h.changed_at DESC, h.id DESC LIMIT 1)",
        );
        assert_eq!(history_matches, count(&db, "SELECT count(*) FROM children"));

        let thin_groups = count(
            &db,
            "SELECT count(*) FROM groups g WHERE
             (SELECT count(*) FROM staff_groups sg WHERE sg.group_id = g.id) < 2",
        );
        assert_eq!(thin_groups, 0);
        let absences = count(&db, "SELECT count(*) FROM absences");
        assert!(absences >= 3, "{absences} absences");
        let absent_soon = count(
            &db,
            "SELECT count(DISTINCT child_id) FROM absences
             WHERE from_date <= '2025-03-13' AND to_date >= '2025-03-12'",
        );
        assert!(
            (3..=4).contains(&absent_soon),
            "{absent_soon} absent today/tomorrow"
        );
        let messages = count(&db, "SELECT count(*) FROM messages");
        assert!(messages >= 5, "{messages} messages");
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM diary_entries WHERE author_kind = 'parent'"
            ),
            2
        );

        // Every child's birth date fits its group's age range.
        struct Placed {
            name: String,
            birth: NaiveDate,
            ages: (u8, u8),
        }
        let rows = db
            .call_sync(|c| {
                query_all(
                    c,
                    "SELECT c.first_name, c.birth_date, g.age_from, g.age_to FROM children c
                     JOIN placements p ON p.child_id = c.id JOIN groups g ON g.id = p.group_id",
                    (),
                    |r| {
                        Ok(Placed {
                            name: r.get("first_name")?,
                            birth: r.date("birth_date")?,
                            ages: (r.get("age_from")?, r.get("age_to")?),
                        })
                    },
                )
            })
            .expect("placements");
        assert_eq!(rows.len() as i64, zb_children + 4);
        for p in &rows {
            assert!(fits(p.birth, today, p.ages), "{} born {}", p.name, p.birth);
        }

        // The Dolfijnen feed: its children, its staff, its messages.
        let dolfijnen = group_id(&db, "Dolfijnen");
        assert_eq!(summary.groups[0].id, dolfijnen);
        let page = db
            .call_sync(|c| feed_page(c, &dolfijnen, Cursor(0), 500, today))
            .expect("feed");
        assert!(!page.has_more);
        let mut children = BTreeSet::new();
        let mut staff = BTreeSet::new();
        let mut message_children = Vec::new();
        let mut diaries = 0;
        let mut staff_messages = 0;
        for change in &page.changes {
            match &change.kind {
                ChangeKind::Child(c) => {
                    children.insert(c.first_name.clone());
                    assert!(c.placement_start < today);
                }
                ChangeKind::Staff(s) => {
                    assert!(s.pin_verifier.starts_with("$argon2id$"), "{}", s.name);
                    staff.insert(s.name.clone());
                }
                // The group's own side (a reply, a message to all parents).
                ChangeKind::Message(m) if matches!(m.author, MessageAuthor::Staff { .. }) => {
                    assert!(m.read_by_group_at.is_some());
                    staff_messages += 1;
                }
                ChangeKind::Message(m) => {
                    let MessageThread::Child { child_id } = m.thread else {
                        panic!("a parent message is about one child");
                    };
                    message_children.push(child_id);
                    assert!(m.sent_at < at(today, 6, 31));
                }
                ChangeKind::ParentDiaryEntry(_) => diaries += 1,
                ChangeKind::Group(g) => assert_eq!(g.organisation_name, summary.organisation),
                ChangeKind::Absence(a) => assert_eq!(a.reason, AbsenceReason::Ziek),
                other => panic!("unexpected change {other:?}"),
            }
        }
        let expected: BTreeSet<String> = ZONNEBLOEM
            .children
            .iter()
            .filter(|c| c.group == DOLFIJNEN)
            .map(|c| c.first.to_string())
            .collect();
        assert_eq!(children, expected);
        assert_eq!(
            staff,
            BTreeSet::from([
                "Anouk de Wit".to_string(),
                "Fatima Azzouz".to_string(),
                "Marloes Kuijpers".to_string(),
                "Petra van Dam".to_string(),
            ])
        );
        assert_eq!(message_children.len(), 3);
        assert_eq!(diaries, 1);
        assert_eq!(staff_messages, 2, "a reply to Sem and a message to all");

        // The other organisation's feed holds none of it.
        let egeltjes = group_id(&db, "Egeltjes");
        let page = db
            .call_sync(|c| feed_page(c, &egeltjes, Cursor(0), 500, today))
            .expect("feed");
        let anker_children: BTreeSet<String> = page
            .changes
            .iter()
            .filter_map(|c| match &c.kind {
                ChangeKind::Child(c) => Some(c.first_name.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            anker_children,
            BTreeSet::from(["Olivia", "Noah", "Lynn", "Ayoub"].map(String::from))
        );

        // Logins: every role, and they match the database.
        for role in ["ouder", "tweede ouder", "medewerker", "locatiemanager"] {
            assert!(summary.logins.iter().any(|l| l.role == role), "{role}");
        }
        for g in ["Dolfijnen", "Zeesterren", "Zwaluwen"] {
            assert!(
                summary
                    .logins
                    .iter()
                    .any(|l| l.role == "medewerker" && l.group.as_deref() == Some(g)),
                "{g}"
            );
        }
        let sem_parent = &summary.logins[0];
        assert_eq!(sem_parent.login, "anne.devries@example.nl");
        assert_eq!(
            sem_parent.note,
            "ouder van Sem (Dolfijnen) en Lina (Zwaluwen)"
        );
        assert_eq!(summary.logins[1].login, "mark.devries@example.nl");
        let manager = summary
            .logins
            .iter()
            .find(|l| l.role == "locatiemanager")
            .expect("manager");
        assert_eq!(
            (manager.login.as_str(), manager.secret.as_str()),
            ("PIN", "9999")
        );
        let hash: String = db
            .call_sync(|c| -> Result<String, OrgError> {
                Ok(c.query_row(
                    "SELECT password_hash FROM parents WHERE email = 'anne.devries@example.nl'",
                    (),
                    |r| r.get(0),
                )?)
            })
            .expect("hash");
        let parsed = argon2::PasswordHash::new(&hash).expect("phc");
        assert!(
            argon2::PasswordVerifier::verify_password(
                &crate::org::hasher(),
                DEMO_PARENT_PASSWORD.as_bytes(),
                &parsed
            )
            .is_ok()
        );

        // Portal logins: Anne goes straight in, Mark must change; the manager has a password.
        assert!(!summary.logins[0].must_change_password);
        assert!(summary.logins[1].must_change_password);
        let portal_manager = summary
            .logins
            .iter()
            .find(|l| l.role == "locatiemanager (portaal)")
            .expect("portal manager");
        assert_eq!(portal_manager.login, DEMO_MANAGER_EMAIL);
        db.call_sync(|c| -> Result<(), OrgError> {
            let tenant = super::portal::tenant_by_slug(c, DEMO_SLUG)?.expect("tenant");
            let (anne, _) =
                super::portal::find_login(c, &tenant.id, "anne.devries@example.nl")?.expect("anne");
            assert!(!anne.must_change_password);
            let (mark, _) =
                super::portal::find_login(c, &tenant.id, "mark.devries@example.nl")?.expect("mark");
            assert!(mark.must_change_password);
            let (petra, hash) =
                super::portal::find_login(c, &tenant.id, DEMO_MANAGER_EMAIL)?.expect("manager");
            assert!(petra.is_manager);
            assert!(crate::portal::verify_password(&hash, DEMO_MANAGER_PASSWORD));
            Ok(())
        })
        .expect("portal logins");
        let blobs = crate::blob::LocalBlobStore::new(dir.path().to_path_buf());
        let made = db
            .call_sync(|c| load_demo_photos(c, &blobs, Utc::now()))
            .expect("photos");
        assert_eq!(made, 9);
        // Mijn locatie and news: the address, two pages, a newsletter and a
        // post with a photo, Anouk's shared team photo.
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM locations WHERE address <> '' AND phone <> ''"
            ),
            1
        );
        assert_eq!(count(&db, "SELECT count(*) FROM location_pages"), 2);
        assert_eq!(count(&db, "SELECT count(*) FROM news_posts"), 2);
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM news_posts WHERE photo_key IS NOT NULL"
            ),
            1
        );
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM staff WHERE photo_key IS NOT NULL AND photo_consent_at IS NOT NULL"
            ),
            1
        );
        let anne = db
            .call_sync(|c| -> Result<_, OrgError> {
                let tenant = super::portal::tenant_by_slug(c, DEMO_SLUG)?.expect("tenant");
                Ok(
                    super::portal::find_login(c, &tenant.id, "anne.devries@example.nl")?
                        .expect("anne")
                        .0
                        .parent_id()
                        .expect("a parent"),
                )
            })
            .expect("anne");
        let seen = db
            .call_sync(|c| news::news_for_parent(c, &anne, today))
            .expect("news");
        assert_eq!(seen.len(), 2, "Anne reads both posts");
        // No photo tags a child without consent.
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM photo_tags t JOIN children c ON c.id = t.child_id WHERE c.photo_consent = 'none'"
            ),
            0
        );

        // A second load refuses and changes nothing.
        let before = count(&db, "SELECT count(*) FROM children");
        let again = db.call_sync(|c| load_demo(c, today)).expect("second load");
        assert!(again.is_none());
        assert_eq!(count(&db, "SELECT count(*) FROM children"), before);
        assert_eq!(count(&db, "SELECT count(*) FROM organisations"), 2);
    }
}

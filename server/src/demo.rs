//! The demo organisation: "Kinderopvang De Zonnebloem" with one location,
//! three groups, 40 children with their parents, staff with PINs, absences,
//! parent messages and diary entries; plus a small second organisation
//! ("Kinderopvang Het Anker") to show that tenants are kept apart.
//!
//! Everything is deterministic: names, ages, planned days and consents come
//! from the tables below, dates are relative to `today`. Only the password
//! and PIN hashes (random salts) and the ids differ between runs.
//!
//! Timestamps are UTC. Items "of this morning" are placed before 06:30 UTC of
//! `today`, or before the real clock when the demo is loaded earlier than
//! that, so nothing is sent in the future.

use crate::org::{self, GroupKind, NewAbsence, NewChild, OrgError, ParentRole};
use chrono::{DateTime, Days, Months, NaiveDate, NaiveTime, TimeDelta, Utc};
use kring_protocol::{
    AbsenceReason, ChildId, GroupId, ParentId, PartOfDay, PhotoConsent, StaffId, StaffRole, Weekday,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// The slug of the demo organisation; loading refuses when it exists.
pub const DEMO_SLUG: &str = "zonnebloem";
/// The one password of every demo parent. All but the first printed parent
/// (Anne de Vries) must change it on their first login.
pub const DEMO_PARENT_PASSWORD: &str = "welkom-ouder";
/// The location manager's portal login.
pub const DEMO_MANAGER_EMAIL: &str = "petra.vandam@example.nl";
pub const DEMO_MANAGER_PASSWORD: &str = "welkom-beheer";

/// One printed login of the demo.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    /// "ouder", "tweede ouder", "medewerker" or "locatiemanager".
    pub role: &'static str,
    pub name: String,
    /// E-mail address, or "PIN" for staff.
    pub login: String,
    /// Password or PIN.
    pub secret: String,
    /// The group(s) this login is about; `None` for the location manager.
    pub group: Option<String>,
    pub note: String,
    /// The portal asks for a new password at the first login.
    pub must_change_password: bool,
}

/// What [`load_demo`] created.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// "Kinderopvang De Zonnebloem".
    pub organisation: String,
    /// The Zonnebloem groups (Dolfijnen, Zeesterren, Zwaluwen). The second
    /// organisation's group (Egeltjes) is not listed here; its logins are.
    pub groups: Vec<(GroupId, String)>,
    /// Number of Zonnebloem children.
    pub children: usize,
    pub logins: Vec<DemoLogin>,
}

/// Loads the demo organisation in ONE transaction. Refuses (returns
/// `Ok(None)`) if an organisation with slug "zonnebloem" already exists, so
/// running the demo twice does not duplicate data. The second organisation
/// ("anker") is only added when it does not exist yet.
///
/// Hashes every parent password and staff PIN with Argon2id (as
/// [`org::create_parent`] and [`org::create_staff`] do): 75 hashes, about 2-3 s in a debug build.
pub fn load_demo(conn: &mut Connection, today: NaiveDate) -> Result<Option<DemoSummary>, OrgError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if slug_exists(&tx, ZONNEBLOEM.slug)? {
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
    if !slug_exists(&tx, ANKER.slug)? {
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
            .map(|(id, g)| (*id, g.name.to_string()))
            .collect(),
        children: zb.children.len(),
        logins,
    }))
}

/// What the portal shows beyond the device's data: the first parent's
/// password needs no change, the manager's portal login, documents, and the
/// group's side of the conversation (a reply, a message to all, read marks).
fn load_portal_extras(tx: &Connection, zb: &Loaded, clock: &Clock) -> Result<(), OrgError> {
    tx.execute(
        "UPDATE parents SET must_change_password = 0 WHERE id = ?1",
        params![zb.parents[0].0.to_string()],
    )?;
    let manager: Option<String> = tx
        .query_row(
            "SELECT s.id FROM staff s JOIN organisations o ON o.id = s.organisation_id
             WHERE o.slug = ?1 AND s.role = 'manager' LIMIT 1",
            params![DEMO_SLUG],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(m) = manager {
        let m: StaffId = crate::db::parse_id("staff.id", &m)?;
        org::set_staff_login(tx, &m, DEMO_MANAGER_EMAIL, DEMO_MANAGER_PASSWORD, false)?;
    }
    let now = clock.at(When::Morning(0));
    if let Some(sem) = ZONNEBLOEM.child_index("Sem") {
        let child = zb.children[sem];
        crate::portal::create_document(
            tx,
            &child,
            "Plaatsingsovereenkomst",
            "Plaatsing op de Dolfijnen op maandag, dinsdag en donderdag. Dit document is alleen zichtbaar voor de eerste ouder.",
            crate::portal::DocumentAudience::FirstParent,
            clock.at(When::DaysAgo(40, 9, 0)),
        )?;
        crate::portal::create_document(
            tx,
            &child,
            "Welkom op de Dolfijnen",
            "Fijn dat Sem bij ons komt. Neem een knuffel en reservekleding mee.",
            crate::portal::DocumentAudience::AllParents,
            clock.at(When::DaysAgo(38, 9, 0)),
        )?;
        // The group has read Anne's message and answers.
        tx.execute(
            "UPDATE messages SET read_by_group_at = ?2 WHERE child_id = ?1 AND author_kind = 'parent'",
            params![child.to_string(), crate::db::time_str(now)],
        )?;
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
            let id = kring_protocol::MessageId::new();
            tx.execute(
                "INSERT INTO messages (id, group_id, child_id, author_kind, author_name, body, sent_at, read_by_group_at)
                 VALUES (?1, ?2, ?3, 'staff', 'Anouk de Wit', ?4, ?5, ?5)",
                params![
                    id.to_string(),
                    group.to_string(),
                    child.map(|c| c.to_string()),
                    body,
                    crate::db::time_str(now)
                ],
            )?;
            crate::feed::record_change(tx, &group, crate::feed::EntityKind::Message, &id.0)?;
        }
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

/// A made-up picture (a sky, a lawn and coloured balls), as a camera JPEG.
fn demo_picture(seed: u32) -> Result<Vec<u8>, image::ImageError> {
    let (w, h) = (640u32, 480u32);
    let balls: Vec<(i64, i64, i64, [u8; 3])> = (0..5u32)
        .map(|i| {
            let k = seed.wrapping_mul(2_654_435_761).wrapping_add(i * 97);
            (
                i64::from(80 + (k % 480)),
                i64::from(260 + (k / 7 % 160)),
                i64::from(25 + (k / 13 % 40)),
                [
                    (k % 200 + 55) as u8,
                    (k / 3 % 200 + 40) as u8,
                    (k / 5 % 200 + 40) as u8,
                ],
            )
        })
        .collect();
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (xi, yi) = (i64::from(x), i64::from(y));
        for (bx, by, r, c) in &balls {
            if (xi - bx).pow(2) + (yi - by).pow(2) <= r * r {
                return image::Rgb(*c);
            }
        }
        if y < h / 2 {
            image::Rgb([120, (170 + y / 8) as u8, 235])
        } else {
            image::Rgb([70, (150 + (x + seed) % 40) as u8, 60])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&img)?;
    Ok(out)
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
        let group_id: Option<String> = tx
            .query_row(
                "SELECT g.id FROM groups g JOIN locations l ON l.id = g.location_id
                 JOIN organisations o ON o.id = l.organisation_id WHERE o.slug = ?1 AND g.name = ?2",
                params![DEMO_SLUG, group],
                |r| r.get(0),
            )
            .optional()?;
        let Some(group_id) = group_id else {
            continue;
        };
        let mut ids = Vec::new();
        for name in *tags {
            let row: Option<(String, String)> = tx
                .query_row(
                    "SELECT c.id, c.photo_consent FROM children c JOIN organisations o ON o.id = c.organisation_id
                     WHERE o.slug = ?1 AND c.first_name = ?2",
                    params![DEMO_SLUG, name],
                    |r| r.try_into(),
                )
                .optional()?;
            if let Some((id, consent)) = row
                && consent != "none"
            {
                ids.push(id);
            }
        }
        let processed = crate::photo::process(
            &demo_picture(i as u32 + 1)?,
            &crate::photo::PhotoLimits::default(),
        )?;
        let id = kring_protocol::PhotoId::new().to_string();
        let blob_key = format!("photos/demo/{id}.jpg");
        let thumb_key = format!("thumbs/demo/{id}.jpg");
        blobs.put(&blob_key, &processed.jpeg)?;
        blobs.put(&thumb_key, &processed.thumbnail)?;
        let at = crate::db::time_str(now - chrono::Duration::minutes(*ago));
        tx.execute(
            "INSERT INTO photos (id, group_id, upload_id, sha256, blob_key, thumb_key, width, height,
                                 no_children_recognizable, taken_at_device, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
            params![
                id,
                group_id,
                uuid::Uuid::now_v7().to_string(),
                processed.sha256,
                blob_key,
                thumb_key,
                processed.width,
                processed.height,
                ncr,
                at
            ],
        )?;
        for c in &ids {
            tx.execute(
                "INSERT INTO photo_tags (photo_id, child_id) VALUES (?1, ?2)",
                params![id, c],
            )?;
        }
        if let Some(text) = diary {
            let entry = kring_protocol::DiaryEntryId::new().to_string();
            tx.execute(
                "INSERT INTO diary_entries (id, group_id, author_kind, author_name, text, written_at)
                 VALUES (?1, ?2, 'staff', 'Anouk de Wit', ?3, ?4)",
                params![entry, group_id, text, at],
            )?;
            for c in &ids {
                tx.execute(
                    "INSERT INTO diary_children (entry_id, child_id) VALUES (?1, ?2)",
                    params![entry, c],
                )?;
            }
            tx.execute(
                "INSERT INTO diary_photos (entry_id, photo_id) VALUES (?1, ?2)",
                params![entry, id],
            )?;
        }
        made += 1;
    }
    tx.commit()?;
    Ok(made)
}

fn slug_exists(c: &Connection, slug: &str) -> Result<bool, OrgError> {
    Ok(c.query_row(
        "SELECT 1 FROM organisations WHERE slug = ?1",
        params![slug],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

// ---------------------------------------------------------------------------
// Loading one organisation from its spec.

/// The ids created for an organisation, index-aligned with its spec.
struct Loaded {
    groups: Vec<GroupId>,
    children: Vec<ChildId>,
    /// Per family: first parent, second parent.
    parents: Vec<(ParentId, Option<ParentId>)>,
}

impl Loaded {
    /// The first (or second, when there is one) parent of child `i`.
    fn author(&self, spec: &OrgSpec, i: usize, second: bool) -> (ParentId, String) {
        let family = spec.children[i].family;
        let f = &spec.families[family];
        match (second, self.parents[family].1, &f.second) {
            (true, Some(id), Some(p)) => (id, p.full()),
            _ => (self.parents[family].0, f.first.full()),
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
        parents.push((first, second));
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
        let (first, second) = parents[c.family];
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

/// Dates of one child, derived from its spec, its index and `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChildPlan {
    birth: NaiveDate,
    start: NaiveDate,
    end: Option<NaiveDate>,
}

/// Birth date: `months` whole months old plus 0-23 days (varied by index),
/// so the age in whole months is exactly `months`. Placement start: for
/// babies ten weeks after birth (at least a week ago), for toddlers some
/// months after birth, for BSO the fourth birthday, each at most a few years
/// back and always in the past.
fn plan_child(c: &ChildSpec, index: usize, today: NaiveDate) -> ChildPlan {
    let i = index as u64;
    let birth = today - Months::new(c.months) - Days::new((i * 7 + 3) % 24);
    let start = if c.months < 12 {
        (birth + Days::new(70)).min(today - Days::new(7 + i % 9))
    } else if c.months < 48 {
        (birth + Days::new(90 + (i % 5) * 30))
            .max(today - Days::new(600 + i * 3))
            .min(today - Days::new(10))
    } else {
        (birth + Months::new(48))
            .max(today - Days::new(1100 + i * 11))
            .min(today - Days::new(20))
    };
    let end = match c.end {
        End::Open => None,
        // The last day before the fourth birthday: off to school.
        End::FourthBirthday => Some(birth + Months::new(48) - Days::new(1)),
        End::InDays(n) => Some(today + Days::new(n)),
    };
    ChildPlan { birth, start, end }
}

/// `d` at `h:m` UTC.
fn at(d: NaiveDate, h: i64, m: i64) -> DateTime<Utc> {
    (d.and_time(NaiveTime::MIN) + TimeDelta::minutes(h * 60 + m)).and_utc()
}

/// When a demo item was written.
#[derive(Debug, Clone, Copy)]
enum When {
    /// This morning, so many minutes before the anchor (06:30 UTC, or now if earlier).
    Morning(i64),
    /// So many days before `today`, at h:m UTC.
    DaysAgo(u64, i64, i64),
}

struct Clock {
    today: NaiveDate,
    anchor: DateTime<Utc>,
}

impl Clock {
    fn new(today: NaiveDate, now: DateTime<Utc>) -> Self {
        Self {
            today,
            anchor: at(today, 6, 30).min(now),
        }
    }

    fn at(&self, w: When) -> DateTime<Utc> {
        match w {
            When::Morning(minutes) => self.anchor - TimeDelta::minutes(minutes),
            When::DaysAgo(days, h, m) => at(self.today - Days::new(days), h, m),
        }
    }
}

// ---------------------------------------------------------------------------
// The specs.

struct OrgSpec {
    slug: &'static str,
    name: &'static str,
    location: &'static str,
    groups: &'static [GroupSpec],
    families: &'static [FamilySpec],
    children: &'static [ChildSpec],
    staff: &'static [StaffSpec],
}

impl OrgSpec {
    fn child_index(&self, first: &str) -> Option<usize> {
        self.children.iter().position(|c| c.first == first)
    }

    /// "Sem (Dolfijnen) en Lina (Zwaluwen)".
    fn children_of(&self, family: usize) -> String {
        let names: Vec<String> = self
            .children
            .iter()
            .filter(|c| c.family == family)
            .map(|c| format!("{} ({})", c.first, self.groups[c.group].name))
            .collect();
        names.join(" en ")
    }

    /// Logins of the parents of the named children (first parent, and the
    /// second parent of the first named child), then all staff.
    fn logins(&self, children: &[&str]) -> Vec<DemoLogin> {
        let mut out = Vec::new();
        for (n, first) in children.iter().enumerate() {
            let Some(i) = self.child_index(first) else {
                continue;
            };
            let c = &self.children[i];
            let f = &self.families[c.family];
            let group = Some(self.groups[c.group].name.to_string());
            let of = self.children_of(c.family);
            let elsewhere = if self.slug == DEMO_SLUG {
                String::new()
            } else {
                format!(" bij {} (andere organisatie)", self.name)
            };
            out.push(DemoLogin {
                role: "ouder",
                name: f.first.full(),
                login: f.first.email(),
                secret: DEMO_PARENT_PASSWORD.to_string(),
                group: group.clone(),
                note: format!("ouder van {of}{elsewhere}"),
                must_change_password: true,
            });
            if let (0, Some(p)) = (n, &f.second) {
                out.push(DemoLogin {
                    role: "tweede ouder",
                    name: p.full(),
                    login: p.email(),
                    secret: DEMO_PARENT_PASSWORD.to_string(),
                    group,
                    note: format!("tweede ouder van {of}{elsewhere}"),
                    must_change_password: true,
                });
            }
        }
        for s in self.staff {
            let groups: Vec<&str> = s.groups.iter().map(|g| self.groups[*g].name).collect();
            let (role, group, note) = match s.role {
                StaffRole::Manager => (
                    "locatiemanager",
                    None,
                    format!("locatiemanager {}, alle groepen", self.location),
                ),
                StaffRole::Pedagogical => (
                    "medewerker",
                    Some(groups.join(", ")),
                    format!("pedagogisch medewerker {}", groups.join(" en ")),
                ),
            };
            let note = if self.slug == DEMO_SLUG {
                note
            } else {
                format!("{note} bij {} (andere organisatie)", self.name)
            };
            out.push(DemoLogin {
                role,
                name: s.name.to_string(),
                login: "PIN".to_string(),
                secret: s.pin.to_string(),
                group,
                note,
                must_change_password: false,
            });
        }
        out
    }
}

struct GroupSpec {
    name: &'static str,
    kind: GroupKind,
    ages: (u8, u8),
}

struct Person {
    first: &'static str,
    last: &'static str,
}

impl Person {
    /// "Anne de Vries".
    fn full(&self) -> String {
        format!("{} {}", self.first, self.last)
    }

    /// `voornaam.achternaam@example.nl`, lower case, no spaces or accents.
    fn email(&self) -> String {
        format!("{}.{}@example.nl", ascii(self.first), ascii(self.last))
    }
}

fn ascii(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\'' && *c != '-')
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' | 'ı' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ş' => 's',
            'ç' => 'c',
            'ğ' => 'g',
            other => other,
        })
        .collect()
}

const fn p(first: &'static str, last: &'static str) -> Person {
    Person { first, last }
}

struct FamilySpec {
    /// The children's last name.
    surname: &'static str,
    first: Person,
    second: Option<Person>,
}

const fn fam(surname: &'static str, first: Person, second: Option<Person>) -> FamilySpec {
    FamilySpec {
        surname,
        first,
        second,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Open,
    FourthBirthday,
    InDays(u64),
}

struct ChildSpec {
    first: &'static str,
    family: usize,
    group: usize,
    /// Age in whole months on `today`.
    months: u32,
    days: &'static [Weekday],
    /// The consents the parents set, in order; the last one holds.
    consent: &'static [PhotoConsent],
    allergies: Option<&'static str>,
    notes: Option<&'static str>,
    end: End,
}

const fn kid(
    first: &'static str,
    family: usize,
    group: usize,
    months: u32,
    days: &'static [Weekday],
    consent: &'static [PhotoConsent],
) -> ChildSpec {
    ChildSpec {
        first,
        family,
        group,
        months,
        days,
        consent,
        allergies: None,
        notes: None,
        end: End::Open,
    }
}

impl ChildSpec {
    const fn allergy(mut self, a: &'static str) -> Self {
        self.allergies = Some(a);
        self
    }
    const fn note(mut self, n: &'static str) -> Self {
        self.notes = Some(n);
        self
    }
    const fn ends(mut self, e: End) -> Self {
        self.end = e;
        self
    }
}

/// Years and months as months.
const fn y(years: u32, months: u32) -> u32 {
    years * 12 + months
}

struct StaffSpec {
    name: &'static str,
    role: StaffRole,
    pin: &'static str,
    groups: &'static [usize],
}

const fn pm(name: &'static str, pin: &'static str, groups: &'static [usize]) -> StaffSpec {
    StaffSpec {
        name,
        role: StaffRole::Pedagogical,
        pin,
        groups,
    }
}

const MA: Weekday = Weekday::Mon;
const DI: Weekday = Weekday::Tue;
const WO: Weekday = Weekday::Wed;
const DO: Weekday = Weekday::Thu;
const VR: Weekday = Weekday::Fri;
const HELE_WEEK: &[Weekday] = &[MA, DI, WO, DO, VR];

const G: &[PhotoConsent] = &[PhotoConsent::Group];
const O: &[PhotoConsent] = &[PhotoConsent::OwnParents];
const N: &[PhotoConsent] = &[PhotoConsent::None];
/// Gave consent for group photos, later withdrew it to own parents only.
const G_TO_O: &[PhotoConsent] = &[PhotoConsent::Group, PhotoConsent::OwnParents];

const DOLFIJNEN: usize = 0;
const ZEESTERREN: usize = 1;
const ZWALUWEN: usize = 2;

#[rustfmt::skip]
const ZONNEBLOEM_FAMILIES: &[FamilySpec] = &[
    fam("de Vries", p("Anne", "de Vries"), Some(p("Mark", "de Vries"))), // 0
    fam("Jansen", p("Lisa", "Jansen"), Some(p("Thomas", "Jansen"))), // 1
    fam("Bakker", p("Sanne", "Bakker"), None), // 2
    fam("El Amrani", p("Fatima", "El Amrani"), Some(p("Youssef", "El Amrani"))), // 3
    fam("Visser", p("Eva", "Visser"), Some(p("Rick", "Visser"))), // 4
    fam("Yilmaz", p("Ayşe", "Yilmaz"), Some(p("Mehmet", "Yilmaz"))), // 5
    fam("Smit", p("Iris", "Smit"), None), // 6
    fam("Mulder", p("Kim", "Mulder"), Some(p("Joost", "Mulder"))), // 7
    fam("Pinas", p("Shanice", "Pinas"), None), // 8
    fam("de Boer", p("Femke", "de Boer"), Some(p("Sander", "Kuiper"))), // 9
    fam("Meijer", p("Marieke", "Meijer"), None), // 10
    fam("de Groot", p("Esther", "de Groot"), Some(p("Pieter", "de Groot"))), // 11
    fam("Bos", p("Linda", "Bos"), Some(p("Erik", "Bos"))), // 12
    fam("Haddou", p("Nadia", "Haddou"), None), // 13
    fam("Hendriks", p("Maaike", "Hendriks"), None), // 14
    fam("Dijkstra", p("Wendy", "Dijkstra"), Some(p("Jelle", "Zijlstra"))), // 15
    fam("van Dijk", p("Laura", "van Dijk"), None), // 16
    fam("Kok", p("Nicole", "Kok"), Some(p("Dennis", "Kok"))), // 17
    fam("Vermeulen", p("Joyce", "Vermeulen"), None), // 18
    fam("Bennani", p("Samira", "Bennani"), Some(p("Karim", "Bennani"))), // 19
    fam("Nguyen", p("Linh", "Nguyen"), None), // 20
    fam("van den Berg", p("Judith", "van den Berg"), Some(p("Bas", "van den Berg"))), // 21
    fam("Kaya", p("Zeynep", "Kaya"), Some(p("Emre", "Kaya"))), // 22
    fam("Brouwer", p("Charlotte", "Brouwer"), None), // 23
    fam("Jacobs", p("Kelly", "Jacobs"), Some(p("Niels", "Verhoef"))), // 24
    fam("Ramdin", p("Priya", "Ramdin"), None), // 25
    fam("Tahiri", p("Khadija", "Tahiri"), Some(p("Hamza", "Tahiri"))), // 26
    fam("Peters", p("Rianne", "Peters"), None), // 27
    fam("Willems", p("Daniëlle", "Willems"), Some(p("Martijn", "Willems"))), // 28
    fam("Demir", p("Fatma", "Demir"), Some(p("Burak", "Demir"))), // 29
    fam("Hoekstra", p("Jolanda", "Hoekstra"), None), // 30
    fam("Koster", p("Suzanne", "Koster"), Some(p("Wouter", "Koster"))), // 31
    fam("Schouten", p("Monique", "Schouten"), None), // 32
    fam("Ouali", p("Hanane", "Ouali"), None), // 33
    fam("van Leeuwen", p("Ilse", "Brinkman"), Some(p("Frank", "van Leeuwen"))), // 34
    fam("Prins", p("Chantal", "Prins"), None), // 35
    fam("Postma", p("Marit", "Postma"), Some(p("Hidde", "Postma"))), // 36
];

const ZONNEBLOEM: OrgSpec = OrgSpec {
    slug: DEMO_SLUG,
    name: "Kinderopvang De Zonnebloem",
    location: "Kindcentrum De Linde",
    groups: &[
        GroupSpec {
            name: "Dolfijnen",
            kind: GroupKind::Kdv,
            ages: (0, 1),
        },
        GroupSpec {
            name: "Zeesterren",
            kind: GroupKind::Kdv,
            ages: (0, 4),
        },
        GroupSpec {
            name: "Zwaluwen",
            kind: GroupKind::Bso,
            ages: (4, 12),
        },
    ],
    families: ZONNEBLOEM_FAMILIES,
    children: &[
        // Dolfijnen: babies, 2-11 months.
        kid("Sem", 0, DOLFIJNEN, 9, &[MA, DI, DO], G).note("knuffel: konijn"),
        kid("Noor", 1, DOLFIJNEN, 7, &[DI, WO, VR], O).note("Drinkt alleen uit haar eigen fles."),
        kid("Liam", 2, DOLFIJNEN, 11, HELE_WEEK, G).allergy("koemelk"),
        kid("Mila", 3, DOLFIJNEN, 5, &[MA, WO, DO], G),
        kid("Finn", 4, DOLFIJNEN, 10, &[DO, VR], G_TO_O),
        kid("Zoë", 5, DOLFIJNEN, 3, &[MA, DI], N),
        kid("Luuk", 6, DOLFIJNEN, 8, &[MA, DI, WO, DO], G).note("Slaapt met speen en slaapzak."),
        kid("Saar", 7, DOLFIJNEN, 2, &[WO, DO, VR], O)
            .note("Wenperiode: de eerste weken korte dagen."),
        kid("Jayden", 8, DOLFIJNEN, 6, &[DI, DO], G),
        // Zeesterren: mixed 0-4, 3-47 months.
        kid("Emma", 9, ZEESTERREN, 30, &[MA, DI, DO], G)
            .note("wordt opgehaald door oma op dinsdag"),
        kid("Julia", 10, ZEESTERREN, 40, &[MA, WO, VR], G)
            .allergy("pinda's")
            .note("EpiPen zit in haar tas."),
        kid("Levi", 11, ZEESTERREN, 47, &[DI, WO, DO], G)
            .note("Gaat na zijn verjaardag naar basisschool De Linde.")
            .ends(End::FourthBirthday),
        kid("Tess", 12, ZEESTERREN, 22, &[DI, DO], O),
        kid("Yara", 13, ZEESTERREN, 35, HELE_WEEK, G).allergy("kiwi"),
        kid("Bram", 14, ZEESTERREN, 18, &[WO, VR], G),
        kid("Fenna", 15, ZEESTERREN, 26, &[MA, DI, WO], N),
        kid("Sofie", 16, ZEESTERREN, 14, &[MA, DO, VR], G_TO_O),
        kid("Jesse", 17, ZEESTERREN, 44, &[DI, WO, DO], G),
        kid("Lotte", 18, ZEESTERREN, 12, &[MA, DI], O),
        kid("Mohammed", 19, ZEESTERREN, 33, &[MA, WO, DO], G).note("Eet halal."),
        kid("Nina", 20, ZEESTERREN, 28, &[DI, VR], O),
        kid("Ties", 21, ZEESTERREN, 38, &[MA, DI, DO, VR], G),
        kid("Ela", 22, ZEESTERREN, 9, &[MA, WO], N),
        kid("Hugo", 23, ZEESTERREN, 20, &[DO, VR], G)
            .note("Middagslaapje met speen en knuffel (beer)."),
        // Zwaluwen: BSO, 4-11 years.
        kid("Lina", 0, ZWALUWEN, y(6, 3), &[MA, DI, DO], G),
        kid("Daan", 12, ZWALUWEN, y(7, 8), &[MA, DI, DO], G),
        kid("Mees", 17, ZWALUWEN, y(6, 1), &[DI, DO], G),
        kid("Lieke", 24, ZWALUWEN, y(9, 5), &[MA, DI, DO], O),
        kid("Sara", 25, ZWALUWEN, y(8, 2), &[MA, DO, VR], G),
        kid("Adam", 26, ZWALUWEN, y(10, 4), HELE_WEEK, G),
        kid("Isa", 27, ZWALUWEN, y(5, 7), &[MA, WO], O)
            .note("Woensdag om 15:00 opgehaald voor zwemles."),
        kid("Ruben", 28, ZWALUWEN, y(11, 6), &[DI, DO], G)
            .note("Verhuist naar Utrecht.")
            .ends(End::InDays(24)),
        kid("Elif", 29, ZWALUWEN, y(7, 1), &[MA, DI, DO], G),
        kid("Sven", 30, ZWALUWEN, y(6, 9), &[WO, VR], O),
        kid("Roos", 31, ZWALUWEN, y(4, 3), &[MA, DI, DO, VR], G)
            .note("Wordt uit groep 1 van De Linde gehaald."),
        kid("Thijs", 32, ZWALUWEN, y(9, 11), &[MA, DI], G),
        kid("Amira", 33, ZWALUWEN, y(8, 6), &[DI, WO, DO], N),
        kid("Gijs", 34, ZWALUWEN, y(10, 10), &[MA, DO], O),
        kid("Fleur", 35, ZWALUWEN, y(5, 2), &[DI, VR], G).allergy("pinda's"),
        kid("Stijn", 36, ZWALUWEN, y(7, 4), &[MA, WO, VR], O)
            .note("Mag zelfstandig naar huis fietsen (toestemming ouders)."),
    ],
    staff: &[
        pm("Anouk de Wit", "1234", &[DOLFIJNEN]),
        pm("Fatima Azzouz", "2345", &[DOLFIJNEN]),
        pm("Marloes Kuijpers", "3456", &[DOLFIJNEN, ZEESTERREN]),
        pm("Ingrid Smits", "4567", &[ZEESTERREN]),
        pm("Demi Verhoeven", "5678", &[ZEESTERREN]),
        pm("Jeroen van Rijn", "6789", &[ZWALUWEN]),
        pm("Esra Yildiz", "7890", &[ZWALUWEN]),
        pm("Tim Schipper", "8901", &[ZWALUWEN]),
        StaffSpec {
            name: "Petra van Dam",
            role: StaffRole::Manager,
            pin: "9999",
            groups: &[DOLFIJNEN, ZEESTERREN, ZWALUWEN],
        },
    ],
};

#[rustfmt::skip]
const ANKER_FAMILIES: &[FamilySpec] = &[
    fam("Verbeek", p("Saskia", "Verbeek"), Some(p("Ruud", "Verbeek"))), // 0
    fam("Kramer", p("Mirjam", "Kramer"), None), // 1
    fam("Bosman", p("Ellen", "Bosman"), Some(p("Koen", "Bosman"))), // 2
    fam("Saidi", p("Latifa", "Saidi"), None), // 3
];

/// A second tenant, to show that organisations never see each other's data.
const ANKER: OrgSpec = OrgSpec {
    slug: "anker",
    name: "Kinderopvang Het Anker",
    location: "Het Anker Centrum",
    groups: &[GroupSpec {
        name: "Egeltjes",
        kind: GroupKind::Kdv,
        ages: (0, 4),
    }],
    families: ANKER_FAMILIES,
    children: &[
        kid("Olivia", 0, 0, 15, &[MA, DI, DO], G),
        kid("Noah", 1, 0, 30, &[DI, WO, VR], O),
        kid("Lynn", 2, 0, 8, &[MA, DO], G).allergy("koemelk"),
        kid("Ayoub", 3, 0, 40, &[MA, WO, DO, VR], N),
    ],
    staff: &[
        pm("Joke Timmer", "1357", &[0]),
        pm("Bas Hermans", "2468", &[0]),
    ],
};

struct MessageSpec {
    child: &'static str,
    by_second: bool,
    when: When,
    body: &'static str,
}

const MESSAGES: &[MessageSpec] = &[
    MessageSpec {
        child: "Sem",
        by_second: false,
        when: When::Morning(50),
        body: "Oma haalt Sem vandaag op.",
    },
    MessageSpec {
        child: "Noor",
        by_second: true,
        when: When::Morning(65),
        body: "Noor heeft vannacht slecht geslapen, ze is wat hangerig.",
    },
    MessageSpec {
        child: "Mila",
        by_second: false,
        when: When::Morning(35),
        body: "Mila heeft om 7 uur nog 180 ml gedronken. De nieuwe flesvoeding zit in de tas.",
    },
    MessageSpec {
        child: "Emma",
        by_second: false,
        when: When::DaysAgo(1, 20, 5),
        body: "Emma is zaterdag jarig! Mogen we vrijdag trakteren? We nemen fruitspiesjes mee.",
    },
    MessageSpec {
        child: "Julia",
        by_second: false,
        when: When::DaysAgo(1, 15, 10),
        body: "Er zit een nieuwe EpiPen in Julia's tas; de oude is over de datum.",
    },
    MessageSpec {
        child: "Daan",
        by_second: false,
        when: When::Morning(20),
        body: "Daan mag vandaag na de BSO met Mees mee naar huis. De moeder van Mees haalt ze om 17:00 op.",
    },
];

struct DiarySpec {
    child: &'static str,
    by_second: bool,
    when: When,
    text: &'static str,
}

const DIARY: &[DiarySpec] = &[
    DiarySpec {
        child: "Sem",
        by_second: false,
        when: When::DaysAgo(1, 19, 30),
        text: "Dit weekend zat Sem voor het eerst helemaal zelf! Hij vindt het prachtig en wil niets anders meer.",
    },
    DiarySpec {
        child: "Tess",
        by_second: true,
        when: When::DaysAgo(2, 20, 10),
        text: "Tess praat de hele dag over de brandweerauto die ze bij jullie heeft gezien. Thuis oefenen we met zelf de jas aantrekken.",
    },
];

struct AbsenceSpec {
    child: &'static str,
    /// Days after today.
    from: u64,
    to: u64,
    part_of_day: PartOfDay,
    reason: AbsenceReason,
    note: &'static str,
    reported: When,
}

/// Liam, Yara and Adam (planned every weekday) are absent today, Ties from
/// tomorrow; Elif has a vacation in two weeks.
const ABSENCES: &[AbsenceSpec] = &[
    AbsenceSpec {
        child: "Liam",
        from: 0,
        to: 0,
        part_of_day: PartOfDay::WholeDay,
        reason: AbsenceReason::Ziek,
        note: "Koorts sinds vannacht (38,9). Hij blijft vandaag thuis.",
        reported: When::Morning(75),
    },
    AbsenceSpec {
        child: "Yara",
        from: 0,
        to: 0,
        part_of_day: PartOfDay::Morning,
        reason: AbsenceReason::Anders,
        note: "Naar het consultatiebureau, ze komt rond 11:30.",
        reported: When::DaysAgo(1, 18, 40),
    },
    AbsenceSpec {
        child: "Adam",
        from: 0,
        to: 1,
        part_of_day: PartOfDay::WholeDay,
        reason: AbsenceReason::Ziek,
        note: "Buikgriep. Morgen waarschijnlijk ook nog thuis.",
        reported: When::Morning(45),
    },
    AbsenceSpec {
        child: "Ties",
        from: 1,
        to: 2,
        part_of_day: PartOfDay::WholeDay,
        reason: AbsenceReason::Vakantie,
        note: "Lang weekend naar opa en oma in Friesland.",
        reported: When::DaysAgo(3, 19, 15),
    },
    AbsenceSpec {
        child: "Elif",
        from: 14,
        to: 27,
        part_of_day: PartOfDay::WholeDay,
        reason: AbsenceReason::Vakantie,
        note: "Twee weken naar familie in Turkije.",
        reported: When::DaysAgo(10, 20, 0),
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::feed::feed_page;
    use chrono::Datelike;
    use kring_protocol::{ChangeKind, Cursor, MessageAuthor, MessageThread};
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
        db.call_sync(|c| -> Result<i64, OrgError> { Ok(c.query_row(sql, [], |r| r.get(0))?) })
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
        let names: Vec<&str> = summary.groups.iter().map(|(_, n)| n.as_str()).collect();
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
                    .query_map([], |r| r.get(0))?
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
        let rows = db
            .call_sync(|c| -> Result<Vec<(String, String, u8, u8)>, OrgError> {
                Ok(c.prepare(
                    "SELECT c.first_name, c.birth_date, g.age_from, g.age_to FROM children c
                     JOIN placements p ON p.child_id = c.id JOIN groups g ON g.id = p.group_id",
                )?
                .query_map([], |r| r.try_into())?
                .collect::<Result<_, _>>()?)
            })
            .expect("placements");
        assert_eq!(rows.len() as i64, zb_children + 4);
        for (name, birth, from, to) in &rows {
            let birth = crate::db::parse_date("birth_date", birth).expect("date");
            assert!(fits(birth, today, (*from, *to)), "{name} born {birth}");
        }

        // The Dolfijnen feed: its children, its staff, its messages.
        let dolfijnen = group_id(&db, "Dolfijnen");
        assert_eq!(summary.groups[0].0, dolfijnen);
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
                    [],
                    |r| r.get(0),
                )?)
            })
            .expect("hash");
        let parsed = argon2::PasswordHash::new(&hash).expect("phc");
        assert!(
            argon2::PasswordVerifier::verify_password(
                &org::hasher(),
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
            let tenant = crate::portal::tenant_by_slug(c, DEMO_SLUG)?.expect("tenant");
            let (anne, _) =
                crate::portal::find_login(c, &tenant.id, "anne.devries@example.nl")?.expect("anne");
            assert!(!anne.must_change_password);
            let (mark, _) =
                crate::portal::find_login(c, &tenant.id, "mark.devries@example.nl")?.expect("mark");
            assert!(mark.must_change_password);
            let (petra, hash) =
                crate::portal::find_login(c, &tenant.id, DEMO_MANAGER_EMAIL)?.expect("manager");
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

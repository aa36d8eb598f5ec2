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
//!
//! This module holds the demo's data (the specs, the clock, the pictures);
//! the loading writes through the store's SQLite backend in one transaction
//! ([`crate::store::Store::load_demo`], `store/sqlite/demo.rs`).

use crate::org::GroupKind;
use chrono::{DateTime, Days, Months, NaiveDate, NaiveTime, TimeDelta, Utc};
use kring_protocol::{AbsenceReason, GroupId, PartOfDay, PhotoConsent, StaffRole, Weekday};

/// For tools that drive SQLite directly (the soak run); the server and the
/// CLI go through [`crate::store::Store::load_demo`].
pub use crate::store::sql::demo::{DemoMediaError, load_demo, load_demo_photos};

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
    pub groups: Vec<DemoGroup>,
    /// Number of Zonnebloem children.
    pub children: usize,
    pub logins: Vec<DemoLogin>,
}

/// A group the demo created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoGroup {
    pub id: GroupId,
    pub name: String,
}

/// A made-up picture (a sky, a lawn and coloured balls), as a camera JPEG.
pub(crate) fn demo_picture(seed: u32) -> Result<Vec<u8>, image::ImageError> {
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

// ---------------------------------------------------------------------------
// Loading one organisation from its spec.

/// Dates of one child, derived from its spec, its index and `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChildPlan {
    pub(crate) birth: NaiveDate,
    pub(crate) start: NaiveDate,
    pub(crate) end: Option<NaiveDate>,
}

/// Birth date: `months` whole months old plus 0-23 days (varied by index),
/// so the age in whole months is exactly `months`. Placement start: for
/// babies ten weeks after birth (at least a week ago), for toddlers some
/// months after birth, for BSO the fourth birthday, each at most a few years
/// back and always in the past.
pub(crate) fn plan_child(c: &ChildSpec, index: usize, today: NaiveDate) -> ChildPlan {
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
pub(crate) fn at(d: NaiveDate, h: i64, m: i64) -> DateTime<Utc> {
    (d.and_time(NaiveTime::MIN) + TimeDelta::minutes(h * 60 + m)).and_utc()
}

/// When a demo item was written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum When {
    /// This morning, so many minutes before the anchor (06:30 UTC, or now if earlier).
    Morning(i64),
    /// So many days before `today`, at h:m UTC.
    DaysAgo(u64, i64, i64),
}

pub(crate) struct Clock {
    pub(crate) today: NaiveDate,
    pub(crate) anchor: DateTime<Utc>,
}

impl Clock {
    pub(crate) fn new(today: NaiveDate, now: DateTime<Utc>) -> Self {
        Self {
            today,
            anchor: at(today, 6, 30).min(now),
        }
    }

    pub(crate) fn at(&self, w: When) -> DateTime<Utc> {
        match w {
            When::Morning(minutes) => self.anchor - TimeDelta::minutes(minutes),
            When::DaysAgo(days, h, m) => at(self.today - Days::new(days), h, m),
        }
    }
}

// ---------------------------------------------------------------------------
// The specs.

pub(crate) struct OrgSpec {
    pub(crate) slug: &'static str,
    pub(crate) name: &'static str,
    pub(crate) location: &'static str,
    pub(crate) groups: &'static [GroupSpec],
    pub(crate) families: &'static [FamilySpec],
    pub(crate) children: &'static [ChildSpec],
    pub(crate) staff: &'static [StaffSpec],
}

impl OrgSpec {
    pub(crate) fn child_index(&self, first: &str) -> Option<usize> {
        self.children.iter().position(|c| c.first == first)
    }

    /// "Sem (Dolfijnen) en Lina (Zwaluwen)".
    pub(crate) fn children_of(&self, family: usize) -> String {
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
    pub(crate) fn logins(&self, children: &[&str]) -> Vec<DemoLogin> {
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

pub(crate) struct GroupSpec {
    pub(crate) name: &'static str,
    pub(crate) kind: GroupKind,
    pub(crate) ages: (u8, u8),
}

pub(crate) struct Person {
    pub(crate) first: &'static str,
    pub(crate) last: &'static str,
}

impl Person {
    /// "Anne de Vries".
    pub(crate) fn full(&self) -> String {
        format!("{} {}", self.first, self.last)
    }

    /// `voornaam.achternaam@example.nl`, lower case, no spaces or accents.
    pub(crate) fn email(&self) -> String {
        format!("{}.{}@example.nl", ascii(self.first), ascii(self.last))
    }
}

pub(crate) fn ascii(s: &str) -> String {
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

pub(crate) const fn p(first: &'static str, last: &'static str) -> Person {
    Person { first, last }
}

pub(crate) struct FamilySpec {
    /// The children's last name.
    pub(crate) surname: &'static str,
    pub(crate) first: Person,
    pub(crate) second: Option<Person>,
}

pub(crate) const fn fam(
    surname: &'static str,
    first: Person,
    second: Option<Person>,
) -> FamilySpec {
    FamilySpec {
        surname,
        first,
        second,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Open,
    FourthBirthday,
    InDays(u64),
}

pub(crate) struct ChildSpec {
    pub(crate) first: &'static str,
    pub(crate) family: usize,
    pub(crate) group: usize,
    /// Age in whole months on `today`.
    pub(crate) months: u32,
    pub(crate) days: &'static [Weekday],
    /// The consents the parents set, in order; the last one holds.
    pub(crate) consent: &'static [PhotoConsent],
    pub(crate) allergies: Option<&'static str>,
    pub(crate) notes: Option<&'static str>,
    pub(crate) end: End,
}

pub(crate) const fn kid(
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
    pub(crate) const fn allergy(mut self, a: &'static str) -> Self {
        self.allergies = Some(a);
        self
    }
    pub(crate) const fn note(mut self, n: &'static str) -> Self {
        self.notes = Some(n);
        self
    }
    pub(crate) const fn ends(mut self, e: End) -> Self {
        self.end = e;
        self
    }
}

/// Years and months as months.
pub(crate) const fn y(years: u32, months: u32) -> u32 {
    years * 12 + months
}

pub(crate) struct StaffSpec {
    pub(crate) name: &'static str,
    pub(crate) role: StaffRole,
    pub(crate) pin: &'static str,
    pub(crate) groups: &'static [usize],
}

pub(crate) const fn pm(
    name: &'static str,
    pin: &'static str,
    groups: &'static [usize],
) -> StaffSpec {
    StaffSpec {
        name,
        role: StaffRole::Pedagogical,
        pin,
        groups,
    }
}

pub(crate) const MA: Weekday = Weekday::Mon;
pub(crate) const DI: Weekday = Weekday::Tue;
pub(crate) const WO: Weekday = Weekday::Wed;
pub(crate) const DO: Weekday = Weekday::Thu;
pub(crate) const VR: Weekday = Weekday::Fri;
pub(crate) const HELE_WEEK: &[Weekday] = &[MA, DI, WO, DO, VR];

pub(crate) const G: &[PhotoConsent] = &[PhotoConsent::Group];
pub(crate) const O: &[PhotoConsent] = &[PhotoConsent::OwnParents];
pub(crate) const N: &[PhotoConsent] = &[PhotoConsent::None];
/// Gave consent for group photos, later withdrew it to own parents only.
pub(crate) const G_TO_O: &[PhotoConsent] = &[PhotoConsent::Group, PhotoConsent::OwnParents];

pub(crate) const DOLFIJNEN: usize = 0;
pub(crate) const ZEESTERREN: usize = 1;
pub(crate) const ZWALUWEN: usize = 2;

#[rustfmt::skip]
pub(crate) const ZONNEBLOEM_FAMILIES: &[FamilySpec] = &[
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

pub(crate) const ZONNEBLOEM: OrgSpec = OrgSpec {
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

/// The weekly roster of the demo's pedagogical staff (issue 16): who works
/// on which group on which weekdays; Marloes splits her week.
pub(crate) const DEMO_ROSTER: &[(&str, usize, &[Weekday])] = &[
    ("Anouk de Wit", DOLFIJNEN, &[MA, DI, WO, DO]),
    ("Fatima Azzouz", DOLFIJNEN, &[DI, WO, DO, VR]),
    ("Marloes Kuijpers", DOLFIJNEN, &[MA, VR]),
    ("Marloes Kuijpers", ZEESTERREN, &[DI, WO, DO]),
    ("Ingrid Smits", ZEESTERREN, HELE_WEEK),
    ("Demi Verhoeven", ZEESTERREN, &[MA, DI, DO, VR]),
    ("Jeroen van Rijn", ZWALUWEN, &[MA, DI, DO, VR]),
    ("Esra Yildiz", ZWALUWEN, &[MA, WO, DO]),
    ("Tim Schipper", ZWALUWEN, &[DI, WO, VR]),
];

/// The BSO child with vacation hours in the demo, and its hours per year.
pub(crate) const DEMO_VACATION_CHILD: &str = "Lina";
pub(crate) const DEMO_VACATION_HOURS: u32 = 120;

#[rustfmt::skip]
pub(crate) const ANKER_FAMILIES: &[FamilySpec] = &[
    fam("Verbeek", p("Saskia", "Verbeek"), Some(p("Ruud", "Verbeek"))), // 0
    fam("Kramer", p("Mirjam", "Kramer"), None), // 1
    fam("Bosman", p("Ellen", "Bosman"), Some(p("Koen", "Bosman"))), // 2
    fam("Saidi", p("Latifa", "Saidi"), None), // 3
];

/// A second tenant, to show that organisations never see each other's data.
pub(crate) const ANKER: OrgSpec = OrgSpec {
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

pub(crate) struct MessageSpec {
    pub(crate) child: &'static str,
    pub(crate) by_second: bool,
    pub(crate) when: When,
    pub(crate) body: &'static str,
}

pub(crate) const MESSAGES: &[MessageSpec] = &[
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

pub(crate) struct DiarySpec {
    pub(crate) child: &'static str,
    pub(crate) by_second: bool,
    pub(crate) when: When,
    pub(crate) text: &'static str,
}

pub(crate) const DIARY: &[DiarySpec] = &[
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

pub(crate) struct AbsenceSpec {
    pub(crate) child: &'static str,
    /// Days after today.
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) part_of_day: PartOfDay,
    pub(crate) reason: AbsenceReason,
    pub(crate) note: &'static str,
    pub(crate) reported: When,
}

/// Liam, Yara and Adam (planned every weekday) are absent today, Ties from
/// tomorrow; Elif has a vacation in two weeks.
pub(crate) const ABSENCES: &[AbsenceSpec] = &[
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

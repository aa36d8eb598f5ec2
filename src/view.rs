//! Pure helpers that turn store data into what the screens show (tested
//! without a window): ages, initials, statuses, the audience of a photo.

use chrono::{Datelike, NaiveDate, Weekday as CWeekday};
use kring_protocol::{Absence, Audience, Child, ChildId, HiddenReason, Weekday};

pub fn initials(first: &str, last: &str) -> String {
    let f = first
        .chars()
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default();
    let l = last
        .split_whitespace()
        .last()
        .and_then(|w| w.chars().next())
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default();
    format!("{f}{l}")
}

/// Age in whole months on `today`.
pub fn age_months(birth: NaiveDate, today: NaiveDate) -> i32 {
    let mut months =
        (today.year() - birth.year()) * 12 + today.month() as i32 - birth.month() as i32;
    if today.day() < birth.day() {
        months -= 1;
    }
    months.max(0)
}

/// How old a child is, the way staff say it: months under two years
/// ("8 mnd"), else years ("3 jr"); the words come from `Words`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Age {
    Months(i32),
    Years(i32),
}

pub fn age(birth: NaiveDate, today: NaiveDate) -> Age {
    let m = age_months(birth, today);
    if m < 24 {
        Age::Months(m)
    } else {
        Age::Years(m / 12)
    }
}

fn weekday(d: NaiveDate) -> Weekday {
    match d.weekday() {
        CWeekday::Mon => Weekday::Mon,
        CWeekday::Tue => Weekday::Tue,
        CWeekday::Wed => Weekday::Wed,
        CWeekday::Thu => Weekday::Thu,
        CWeekday::Fri => Weekday::Fri,
        CWeekday::Sat => Weekday::Sat,
        CWeekday::Sun => Weekday::Sun,
    }
}

/// Whether the child is planned on `today`: a child is expected on a planned day of its placement that the parents
/// did not cancel, and on an approved extra day (within its placement).
pub fn expected_today(child: &Child, today: NaiveDate) -> bool {
    child.placement_start <= today
        && child.placement_end.is_none_or(|e| e >= today)
        && ((child.planned_days.contains(&weekday(today))
            && !child.cancelled_days.contains(&today))
            || child.extra_days.contains(&today))
}

/// The absence that covers `today`, if any (cancelled ones do not count).
pub fn absence_today<'a>(
    absences: &'a [Absence],
    child: &ChildId,
    today: NaiveDate,
) -> Option<&'a Absence> {
    absences
        .iter()
        .find(|a| a.child_id == *child && !a.cancelled && a.from <= today && a.to >= today)
}

/// Joins names the Dutch way: "Sem", "Sem en Noor", "Sem, Noor en Daan";
/// `and` puts the last one on (`Words.and-join`, translated).
pub fn join_names(names: &[String], and: impl Fn(&str, &str) -> String) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => and(&init.join(", "), last),
    }
}

/// The audience as the photo screen shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AudienceView {
    pub kind: crate::AudienceKind,
    pub visible_names: String,
    /// (name, names of the children who block it)
    pub hidden: Vec<(String, String)>,
}

pub fn audience_view(
    a: &Audience,
    name_of: impl Fn(&ChildId) -> String,
    join: impl Fn(&[String]) -> String,
) -> AudienceView {
    let kind = crate::AudienceKind::from(a);
    match a {
        Audience::StaffOnly => AudienceView {
            kind,
            visible_names: String::new(),
            hidden: vec![],
        },
        Audience::WholeGroup => AudienceView {
            kind,
            visible_names: String::new(),
            hidden: vec![],
        },
        Audience::Refused { no_consent } => AudienceView {
            kind,
            visible_names: join(&no_consent.iter().map(&name_of).collect::<Vec<_>>()),
            hidden: vec![],
        },
        Audience::TaggedParents {
            visible_to,
            hidden_from,
        } => AudienceView {
            kind,
            visible_names: join(&visible_to.iter().map(&name_of).collect::<Vec<_>>()),
            hidden: hidden_from
                .iter()
                .map(
                    |(c, HiddenReason::OtherChildrenOwnParentsOnly { children })| {
                        (
                            name_of(c),
                            join(&children.iter().map(&name_of).collect::<Vec<_>>()),
                        )
                    },
                )
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kring_protocol::{ConsentedChild, PhotoConsent, decide_audience};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    #[test]
    fn extra_days_are_expected_and_cancelled_days_are_not() {
        let child = Child {
            id: ChildId::new(),
            first_name: "Sem".into(),
            last_name: "Test".into(),
            birth_date: d(2024, 1, 1),
            photo_consent: PhotoConsent::Group,
            planned_days: vec![Weekday::Mon],
            placement_start: d(2026, 1, 1),
            placement_end: Some(d(2026, 12, 31)),
            allergies: None,
            notes: None,
            pickup: vec![],
            // a Tuesday extra, a Monday cancelled, an extra after the placement
            extra_days: vec![d(2026, 12, 8), d(2027, 1, 5)],
            cancelled_days: vec![d(2026, 12, 14)],
        };
        assert!(expected_today(&child, d(2026, 12, 7)), "a planned Monday");
        assert!(expected_today(&child, d(2026, 12, 8)), "an extra Tuesday");
        assert!(
            !expected_today(&child, d(2026, 12, 9)),
            "an ordinary Wednesday"
        );
        assert!(
            !expected_today(&child, d(2026, 12, 14)),
            "a cancelled Monday"
        );
        assert!(
            !expected_today(&child, d(2027, 1, 5)),
            "after the placement"
        );
    }

    #[test]
    fn ages_and_initials() {
        assert_eq!(age_months(d(2025, 3, 15), d(2025, 11, 14)), 7);
        assert_eq!(age_months(d(2025, 3, 15), d(2025, 11, 15)), 8);
        assert_eq!(age(d(2025, 3, 15), d(2025, 11, 15)), Age::Months(8));
        assert_eq!(age(d(2024, 1, 1), d(2025, 12, 31)), Age::Months(23));
        assert_eq!(age(d(2019, 1, 1), d(2026, 11, 22)), Age::Years(7));
        assert_eq!(initials("Sem", "de Vries"), "SV");
        assert_eq!(initials("zoë", "El Amrani"), "ZA");
        assert_eq!(
            join_names(&["Sem".into(), "Noor".into(), "Daan".into()], |a, b| {
                format!("{a} en {b}")
            }),
            "Sem, Noor en Daan"
        );
        assert_eq!(
            join_names(&["Sem".into()], |a, b| format!("{a} en {b}")),
            "Sem"
        );
    }

    #[test]
    fn audience_in_words() {
        let sem = ChildId::new();
        let noor = ChildId::new();
        let a = decide_audience(
            &[
                ConsentedChild {
                    id: sem,
                    consent: PhotoConsent::Group,
                },
                ConsentedChild {
                    id: noor,
                    consent: PhotoConsent::OwnParents,
                },
            ],
            false,
        );
        let v = audience_view(
            &a,
            |c| {
                if *c == sem {
                    "Sem".into()
                } else {
                    "Noor".into()
                }
            },
            |names| names.join("+"),
        );
        assert_eq!(v.kind, crate::AudienceKind::TaggedParents);
        assert_eq!(v.visible_names, "Noor");
        assert_eq!(v.hidden, vec![("Sem".to_string(), "Noor".to_string())]);
    }
}

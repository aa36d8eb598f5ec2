//! Pure helpers that turn store data into what the screens show (tested
//! without a window): ages, initials, statuses, the audience of a photo.

use chrono::{Datelike, NaiveDate, Weekday as CWeekday};
use kring_protocol::{Absence, Audience, Child, ChildId, HiddenReason, PartOfDay, Weekday};

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

/// "8 mnd" under two years, else "3 jr" (Dutch short forms staff use).
pub fn age_text(birth: NaiveDate, today: NaiveDate, english: bool) -> String {
    let m = age_months(birth, today);
    match (m < 24, english) {
        (true, false) => format!("{m} mnd"),
        (true, true) => format!("{m} mo"),
        (false, false) => format!("{} jr", m / 12),
        (false, true) => format!("{} yr", m / 12),
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

/// Whether the child is planned on `today` (placement running and a planned day).
pub fn expected_today(child: &Child, today: NaiveDate) -> bool {
    child.placement_start <= today
        && child.placement_end.is_none_or(|e| e >= today)
        && child.planned_days.contains(&weekday(today))
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

pub fn part_of_day_suffix(p: PartOfDay, english: bool) -> &'static str {
    match (p, english) {
        (PartOfDay::WholeDay, _) => "",
        (PartOfDay::Morning, false) => " (ochtend)",
        (PartOfDay::Afternoon, false) => " (middag)",
        (PartOfDay::Morning, true) => " (morning)",
        (PartOfDay::Afternoon, true) => " (afternoon)",
    }
}

/// Joins names the Dutch way: "Sem", "Sem en Noor", "Sem, Noor en Daan".
pub fn join_names(names: &[String], english: bool) -> String {
    let and = if english { " and " } else { " en " };
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{}{and}{last}", init.join(", ")),
    }
}

/// The audience as the photo screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudienceView {
    /// 0 staff only, 1 whole group, 2 tagged parents, 3 refused.
    pub kind: i32,
    pub visible_names: String,
    /// (name, names of the children who block it)
    pub hidden: Vec<(String, String)>,
}

pub fn audience_view(
    a: &Audience,
    name_of: impl Fn(&ChildId) -> String,
    english: bool,
) -> AudienceView {
    match a {
        Audience::StaffOnly => AudienceView {
            kind: 0,
            visible_names: String::new(),
            hidden: vec![],
        },
        Audience::WholeGroup => AudienceView {
            kind: 1,
            visible_names: String::new(),
            hidden: vec![],
        },
        Audience::Refused { no_consent } => AudienceView {
            kind: 3,
            visible_names: join_names(
                &no_consent.iter().map(&name_of).collect::<Vec<_>>(),
                english,
            ),
            hidden: vec![],
        },
        Audience::TaggedParents {
            visible_to,
            hidden_from,
        } => AudienceView {
            kind: 2,
            visible_names: join_names(
                &visible_to.iter().map(&name_of).collect::<Vec<_>>(),
                english,
            ),
            hidden: hidden_from
                .iter()
                .map(
                    |(c, HiddenReason::OtherChildrenOwnParentsOnly { children })| {
                        (
                            name_of(c),
                            join_names(&children.iter().map(&name_of).collect::<Vec<_>>(), english),
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
    fn ages_and_initials() {
        assert_eq!(age_months(d(2025, 3, 15), d(2025, 11, 14)), 7);
        assert_eq!(age_months(d(2025, 3, 15), d(2025, 11, 15)), 8);
        assert_eq!(age_text(d(2025, 3, 15), d(2025, 11, 15), false), "8 mnd");
        assert_eq!(age_text(d(2019, 1, 1), d(2026, 11, 22), false), "7 jr");
        assert_eq!(age_text(d(2019, 1, 1), d(2026, 11, 22), true), "7 yr");
        assert_eq!(initials("Sem", "de Vries"), "SV");
        assert_eq!(initials("zoë", "El Amrani"), "ZA");
        assert_eq!(
            join_names(&["Sem".into(), "Noor".into(), "Daan".into()], false),
            "Sem, Noor en Daan"
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
            false,
        );
        assert_eq!(v.kind, 2);
        assert_eq!(v.visible_names, "Noor");
        assert_eq!(v.hidden, vec![("Sem".to_string(), "Noor".to_string())]);
    }
}

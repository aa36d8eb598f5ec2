//! How long one assessment takes: a mixed dagopvang group of 16 (the Vandaag
//! screen recomputes on every tap; target well under a frame, < 50 µs) and
//! the margin with the staff present, and the whole recompute of a tap: a
//! day of attendance events folded, its timeline, and the day's budget below
//! the ratio. Prints a table.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use kring_bkr::day::{DayKind, Moment, day_budget};
use kring_bkr::{Care, Counts, assess, band_of, margin};
use kring_protocol::attendance::{Ordered, Presence};
use kring_protocol::{AttendanceEvent, AttendanceId, AttendanceItem, ChildId, StaffId};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
    // 3 babies, 4 one-year-olds, 5 two-year-olds, 4 three-year-olds
    let births: Vec<NaiveDate> = [(3, 0), (4, 1), (5, 2), (4, 3)]
        .iter()
        .flat_map(|&(n, years)| {
            (0..n).map(move |i| NaiveDate::from_ymd_opt(2026 - years, 1 + i, 10).unwrap())
        })
        .collect();
    assert_eq!(births.len(), 16);
    // the first assessment in a process builds the table rule 3 reads
    let t = Instant::now();
    black_box(assess(Care::Dagopvang, black_box(&births), day).unwrap());
    let first = t.elapsed();
    let counts = Counts::of(Care::Dagopvang, &births, day).unwrap();

    println!("| what | runs | mean | p99 |");
    println!("|---|---|---|---|");
    println!("| first assessment in a process (builds rule 3's table) | 1 | {first:?} | |");
    row(
        "assess 16 children (birth dates → staff)",
        100_000,
        || {
            black_box(assess(Care::Dagopvang, black_box(&births), day).unwrap());
        },
    );
    row("margin with 3 staff (room per age)", 100_000, || {
        black_box(margin(Care::Dagopvang, black_box(counts), 3));
    });

    let (events, ages) = a_day(&births, day);
    row(
        &format!("fold a day of {} attendance events", events.len()),
        10_000,
        || {
            black_box(Presence::fold(black_box(events.clone())));
        },
    );
    let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 12, 4, h, m, 0).unwrap();
    row(
        "a tap at 17:00: fold, timeline, budget below the ratio",
        10_000,
        || {
            let p = Presence::fold(black_box(events.clone()));
            let moments: Vec<Moment> = p
                .timeline(at(0, 0), at(17, 0))
                .into_iter()
                .map(|s| Moment {
                    at: s.at,
                    counts: s
                        .children
                        .iter()
                        .filter_map(|c| ages.get(c))
                        .fold(Counts::default(), |c, &band| c.with(band)),
                    staff: s.staff.len() as u32,
                })
                .collect();
            black_box(day_budget(
                Care::Dagopvang,
                DayKind::Long,
                &moments,
                at(17, 0),
            ));
        },
    );
}

/// A busy day: 16 children in between 7:30 and 9:00 and out between 16:00
/// and 18:00 (with who brought them), four leidsters with a break each, four
/// corrected times and two undone taps.
fn a_day(births: &[NaiveDate], day: NaiveDate) -> (Vec<Ordered>, HashMap<ChildId, usize>) {
    let at = |minutes: i64| -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 6, 0, 0).unwrap() + Duration::minutes(minutes)
    };
    let mut events = Vec::new();
    let mut push = |t: DateTime<Utc>, event: AttendanceEvent, replaces: Option<AttendanceId>| {
        let item = AttendanceItem {
            replaces,
            ..AttendanceItem::new(t, event)
        };
        let id = item.id;
        events.push(Ordered {
            seq: Some(events.len() as i64 + 1),
            local: 0,
            item,
        });
        id
    };
    let staff: Vec<StaffId> = (0..4).map(|_| StaffId::new()).collect();
    for (i, s) in staff.iter().enumerate() {
        push(
            at(60 + 30 * i as i64),
            AttendanceEvent::StaffIn { staff_id: *s },
            None,
        );
    }
    let mut ages = HashMap::new();
    let kids: Vec<ChildId> = births
        .iter()
        .map(|b| {
            let id = ChildId::new();
            ages.insert(
                id,
                band_of(Care::Dagopvang, kring_bkr::age_on(*b, day).unwrap()),
            );
            id
        })
        .collect();
    for (i, k) in kids.iter().enumerate() {
        let tap = push(
            at(90 + 6 * i as i64),
            AttendanceEvent::ChildIn {
                child_id: *k,
                by: Some("Mama".into()),
            },
            None,
        );
        if i % 4 == 0 {
            push(
                at(85 + 6 * i as i64),
                AttendanceEvent::ChildIn {
                    child_id: *k,
                    by: Some("Oma".into()),
                },
                Some(tap),
            );
        }
    }
    for (i, s) in staff.iter().enumerate() {
        push(
            at(360 + 30 * i as i64),
            AttendanceEvent::BreakStart { staff_id: *s },
            None,
        );
        push(
            at(390 + 30 * i as i64),
            AttendanceEvent::BreakEnd { staff_id: *s },
            None,
        );
    }
    for (i, k) in kids.iter().enumerate() {
        let tap = push(
            at(600 + 7 * i as i64),
            AttendanceEvent::ChildOut {
                child_id: *k,
                by: Some("Papa".into()),
            },
            None,
        );
        if i < 2 {
            push(
                at(601 + 7 * i as i64),
                AttendanceEvent::Undo { target: tap },
                None,
            );
        }
    }
    (events, ages)
}

fn row(what: &str, runs: usize, mut f: impl FnMut()) {
    for _ in 0..1000 {
        f();
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    let mean = times.iter().sum::<std::time::Duration>() / runs as u32;
    let p99 = times[runs * 99 / 100];
    println!("| {what} | {runs} | {mean:?} | {p99:?} |");
}

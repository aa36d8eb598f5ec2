//! How long one assessment takes: a mixed dagopvang group of 16 (the Vandaag
//! screen recomputes on every tap; target well under a frame, < 50 µs) and
//! the margin with the staff present. Prints a table.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use chrono::NaiveDate;
use kring_bkr::{Care, Counts, assess, margin};
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

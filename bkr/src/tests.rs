//! Every cell of tables 1 and 2, the edge cases of ages and sizes, the
//! monotonicity invariant over every composition, and worked examples with
//! their working.

#![allow(clippy::unwrap_used)]

use crate::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn kdv(n: [u32; 4]) -> Outcome {
    assess_counts(Care::Dagopvang, Counts(n))
}

fn bso(young: u32, old: u32) -> Outcome {
    assess_counts(Care::Bso, Counts([young, old, 0, 0]))
}

fn staff(o: Outcome) -> u32 {
    o.required()
        .unwrap_or_else(|| panic!("expected a number of staff, got {o:?}"))
}

/// What a table step answers: the staff of the first cell that fits.
type Want = Result<u32, Limit>;

fn too_children(max: u32) -> Want {
    Err(Limit::Children { max })
}

fn too_young(max: u32) -> Want {
    Err(Limit::Young { max })
}

// ---------------------------------------------------------------------------
// Table 1, every cell: the table step alone (rule 1), at each cell's largest
// group and one child over it. The compositions span the row's ages.

#[test]
fn table_1_every_cell() {
    let cases: &[([u32; 4], Want)] = &[
        // 0 tot 1: 3 / 6 / 9 / 12
        ([3, 0, 0, 0], Ok(1)),
        ([4, 0, 0, 0], Ok(2)),
        ([6, 0, 0, 0], Ok(2)),
        ([7, 0, 0, 0], Ok(3)),
        ([9, 0, 0, 0], Ok(3)),
        ([10, 0, 0, 0], Ok(4)),
        ([12, 0, 0, 0], Ok(4)),
        ([13, 0, 0, 0], too_children(12)),
        // 1 tot 2: 5 / 10 / 15 / 16
        ([0, 5, 0, 0], Ok(1)),
        ([0, 6, 0, 0], Ok(2)),
        ([0, 10, 0, 0], Ok(2)),
        ([0, 11, 0, 0], Ok(3)),
        ([0, 15, 0, 0], Ok(3)),
        ([0, 16, 0, 0], Ok(4)),
        ([0, 17, 0, 0], too_children(16)),
        // 2 tot 3: 8 / 16
        ([0, 0, 8, 0], Ok(1)),
        ([0, 0, 9, 0], Ok(2)),
        ([0, 0, 16, 0], Ok(2)),
        ([0, 0, 17, 0], too_children(16)),
        // 3 tot 4: 8 / 16
        ([0, 0, 0, 8], Ok(1)),
        ([0, 0, 0, 9], Ok(2)),
        ([0, 0, 0, 16], Ok(2)),
        ([0, 0, 0, 17], too_children(16)),
        // 0 tot 2: 4 / 8 / 14 (max 8 babies) / 16 (max 8 babies)
        ([1, 3, 0, 0], Ok(1)),
        ([1, 4, 0, 0], Ok(2)),
        ([2, 6, 0, 0], Ok(2)),
        ([2, 7, 0, 0], Ok(3)),
        ([8, 6, 0, 0], Ok(3)),
        ([9, 5, 0, 0], too_young(8)),
        ([8, 7, 0, 0], Ok(4)),
        ([8, 8, 0, 0], Ok(4)),
        ([9, 7, 0, 0], too_young(8)),
        ([1, 16, 0, 0], too_children(16)),
        // 0 tot 3: 5 / 10 / 13 (max 8), 14 (max 4), 15 (max 3) / 16 (max 8)
        ([1, 0, 4, 0], Ok(1)),
        ([1, 0, 5, 0], Ok(2)),
        ([1, 0, 9, 0], Ok(2)),
        ([1, 0, 10, 0], Ok(3)),
        ([8, 0, 5, 0], Ok(3)),
        ([4, 0, 10, 0], Ok(3)),
        ([5, 0, 9, 0], Ok(4)),
        ([3, 0, 12, 0], Ok(3)),
        ([4, 0, 11, 0], Ok(4)),
        ([8, 0, 8, 0], Ok(4)),
        ([9, 0, 7, 0], too_young(8)),
        ([1, 0, 16, 0], too_children(16)),
        // 0 tot 4: 5 / 12 / 14 (max 8), 15 (max 5), 16 (max 3) / 16 (max 8)
        ([1, 0, 0, 4], Ok(1)),
        ([1, 0, 0, 5], Ok(2)),
        ([1, 0, 0, 11], Ok(2)),
        ([1, 0, 0, 12], Ok(3)),
        ([8, 0, 0, 6], Ok(3)),
        ([5, 0, 0, 10], Ok(3)),
        ([6, 0, 0, 9], Ok(4)),
        ([3, 0, 0, 13], Ok(3)),
        ([4, 0, 0, 12], Ok(4)),
        ([8, 0, 0, 8], Ok(4)),
        ([9, 0, 0, 7], too_young(8)),
        ([1, 0, 0, 16], too_children(16)),
        // 1 tot 3: 6 / 11 / 16
        ([0, 1, 5, 0], Ok(1)),
        ([0, 1, 6, 0], Ok(2)),
        ([0, 1, 10, 0], Ok(2)),
        ([0, 1, 11, 0], Ok(3)),
        ([0, 1, 15, 0], Ok(3)),
        ([0, 1, 16, 0], too_children(16)),
        // 1 tot 4: 7 / 13 / 16
        ([0, 1, 0, 6], Ok(1)),
        ([0, 1, 0, 7], Ok(2)),
        ([0, 1, 0, 12], Ok(2)),
        ([0, 1, 0, 13], Ok(3)),
        ([0, 1, 0, 15], Ok(3)),
        ([0, 1, 0, 16], too_children(16)),
        // 2 tot 4: 8 / 16
        ([0, 0, 1, 7], Ok(1)),
        ([0, 0, 1, 8], Ok(2)),
        ([0, 0, 1, 15], Ok(2)),
        ([0, 0, 1, 16], too_children(16)),
    ];
    for (n, want) in cases {
        let got = dagopvang::table_1(Counts(*n)).map(|(_, cell)| cell.staff);
        assert_eq!(&got, want, "table 1 for {n:?}");
    }
}

// ---------------------------------------------------------------------------
// Table 2, every cell.

#[test]
fn table_2_every_cell() {
    let cases: &[((u32, u32), Want)] = &[
        // 4 tot 7: 10 / 20
        ((10, 0), Ok(1)),
        ((11, 0), Ok(2)),
        ((20, 0), Ok(2)),
        ((21, 0), too_children(20)),
        // 7 tot einde basisonderwijs: 12 / 24 / 30
        ((0, 12), Ok(1)),
        ((0, 13), Ok(2)),
        ((0, 24), Ok(2)),
        ((0, 25), Ok(3)),
        ((0, 30), Ok(3)),
        ((0, 31), too_children(30)),
        // 4 tot einde basisonderwijs: 11 (max 9 of 4-7) / 22 (max 18 of 4-7)
        ((9, 2), Ok(1)),
        ((10, 1), Ok(2)),
        ((9, 3), Ok(2)),
        ((18, 4), Ok(2)),
        ((19, 3), too_young(18)),
        ((1, 22), too_children(22)),
    ];
    for ((young, old), want) in cases {
        let got = bso::table_2(Counts([*young, *old, 0, 0])).map(|(_, cell)| cell.staff);
        assert_eq!(&got, want, "table 2 for {young} young, {old} old");
        // BSO has no further rules: the assessment is the table
        assert_eq!(bso(*young, *old).required(), want.ok(), "{young}/{old}");
    }
}

// ---------------------------------------------------------------------------
// Ages and edges.

#[test]
fn a_birthday_counts_from_the_day_itself() {
    let today = d(2026, 12, 4);
    assert_eq!(age_on(d(2025, 12, 4), today), Some(1));
    assert_eq!(age_on(d(2025, 12, 5), today), Some(0));
    assert_eq!(age_on(d(2026, 12, 4), today), Some(0));
    assert_eq!(age_on(d(2026, 12, 5), today), None);
    // a leap-day child is a year older on 1 March in a common year
    assert_eq!(age_on(d(2024, 2, 29), d(2025, 2, 28)), Some(0));
    assert_eq!(age_on(d(2024, 2, 29), d(2025, 3, 1)), Some(1));
}

#[test]
fn a_child_turning_one_two_three_or_four_moves_band_on_the_day() {
    let today = d(2026, 12, 4);
    for years in 1..=4 {
        let birthday = d(2026 - years, 12, 4);
        let eve = d(2026 - years, 12, 5);
        let on = Counts::of(Care::Dagopvang, &[birthday], today).unwrap();
        let before = Counts::of(Care::Dagopvang, &[eve], today).unwrap();
        let band = (years as usize).min(3);
        assert_eq!(on.0[band], 1, "{years} today");
        assert_eq!(before.0[years as usize - 1], 1, "{years} tomorrow");
    }
    // four babies need two; one of them turning 1 today leaves a 0-2 group
    // of 4 that one may run (table 1, 0 tot 2: 4): Z = 3/3 + (1/5)/1.2 = 1.17 → 2
    let group = [d(2026, 3, 1), d(2026, 4, 1), d(2026, 5, 1), d(2025, 12, 4)];
    let a = assess(Care::Dagopvang, &group, today).unwrap();
    assert_eq!(a.counts, Counts([3, 1, 0, 0]));
    assert_eq!(a.outcome.required(), Some(2));
    let yesterday = assess(Care::Dagopvang, &group, d(2026, 12, 3)).unwrap();
    assert_eq!(yesterday.counts, Counts([4, 0, 0, 0]));
    assert_eq!(yesterday.outcome.required(), Some(2));
}

#[test]
fn bso_splits_at_seven() {
    let today = d(2026, 12, 4);
    let c = Counts::of(
        Care::Bso,
        &[d(2019, 12, 4), d(2019, 12, 5), d(2022, 1, 1), d(2014, 6, 1)],
        today,
    )
    .unwrap();
    // 7 today: 7+; 7 tomorrow: 4-7; a 4-year-old: 4-7; 12: 7+
    assert_eq!(c, Counts([2, 2, 0, 0]));
}

#[test]
fn a_four_year_old_in_dagopvang_counts_as_three() {
    let c = Counts::of(Care::Dagopvang, &[d(2022, 1, 1)], d(2026, 12, 4)).unwrap();
    assert_eq!(c, Counts([0, 0, 0, 1]));
}

#[test]
fn no_children_need_no_staff() {
    for care in [Care::Dagopvang, Care::Bso] {
        assert_eq!(
            assess_counts(care, Counts::default()),
            Outcome::Staff {
                staff: 0,
                rule: Rule::NoChildren
            }
        );
    }
}

#[test]
fn a_birth_date_after_the_day_is_an_error() {
    let e = assess(Care::Dagopvang, &[d(2027, 1, 1)], d(2026, 12, 4)).unwrap_err();
    assert_eq!(
        e,
        BkrError::BornAfter {
            birth: d(2027, 1, 1),
            day: d(2026, 12, 4)
        }
    );
}

#[test]
fn larger_than_any_table_allows() {
    assert_eq!(
        kdv([4, 4, 4, 5]),
        Outcome::TooLarge(Limit::Children { max: 16 })
    );
    assert_eq!(
        kdv([13, 0, 0, 0]),
        Outcome::TooLarge(Limit::Children { max: 12 })
    );
    assert_eq!(bso(0, 31), Outcome::TooLarge(Limit::Children { max: 30 }));
    // a 4-7 child makes a group of 25 older children a mixed group, whose
    // largest size is 22
    assert_eq!(bso(1, 25), Outcome::TooLarge(Limit::Children { max: 22 }));
}

// ---------------------------------------------------------------------------
// The invariant, for every composition up to one over the largest group.

fn compositions(care: Care) -> Vec<Counts> {
    let mut out = Vec::new();
    match care {
        Care::Dagopvang => {
            for a in 0..=17u32 {
                for b in 0..=17 - a {
                    for c in 0..=17 - a - b {
                        for e in 0..=17 - a - b - c {
                            out.push(Counts([a, b, c, e]));
                        }
                    }
                }
            }
        }
        Care::Bso => {
            for a in 0..=31u32 {
                for b in 0..=31 - a {
                    out.push(Counts([a, b, 0, 0]));
                }
            }
        }
    }
    out
}

#[test]
fn adding_a_child_never_lowers_the_staff_and_a_full_group_stays_full() {
    for care in [Care::Dagopvang, Care::Bso] {
        let all = compositions(care);
        assert!(all.len() > 500);
        for c in all {
            let before = assess_counts(care, c);
            for band in 0..bands(care) {
                let after = assess_counts(care, c.with(band));
                match (before.required(), after.required()) {
                    (Some(b), Some(a)) => assert!(a >= b, "{care:?} {c:?} +{band}: {b} → {a}"),
                    // too large stays too large when a child comes in
                    (None, Some(_)) => panic!("{care:?} {c:?} +{band} became allowed"),
                    _ => {}
                }
                // and the other way round: a child leaving never raises it
                if c.0[band] > 0 {
                    let fewer = assess_counts(care, c.without(band));
                    if let (Some(b), Some(f)) = (before.required(), fewer.required()) {
                        assert!(f <= b, "{care:?} {c:?} -{band}: {b} → {f}");
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Worked examples: the composition (n0, n1, n2, n3) in completed years, the
// working from bijlage 1, the answer. Sources in docs/bkr.md.

#[test]
fn worked_examples_dagopvang() {
    let cases: &[([u32; 4], u32, &str)] = &[
        ([3, 0, 0, 0], 1, "0 tot 1, 3 → 1; Z = 3/3 = 1"),
        ([4, 0, 0, 0], 2, "0 tot 1, 4 > 3 → 2; Z = 4/3 = 1.33 → 2"),
        ([7, 0, 0, 0], 3, "0 tot 1, 7 > 6 → 3; Z = 7/3 = 2.33 → 3"),
        ([0, 6, 0, 0], 2, "1 tot 2, 6 > 5 → 2"),
        ([0, 0, 9, 0], 2, "2 tot 3, 9 > 8 → 2"),
        ([0, 0, 0, 8], 1, "3 tot 4, 8 → 1"),
        ([0, 0, 1, 8], 2, "2 tot 4, 9 > 8 → 2"),
        (
            [1, 0, 0, 4],
            1,
            "0 tot 4, 5 → 1; Z = 1/3 + (4/8)/1.2 = 0.75 → 1",
        ),
        (
            [1, 0, 0, 5],
            2,
            "0 tot 4, 6 > 5 → 2; Z = 0.85 → 1; table wins",
        ),
        (
            [2, 0, 1, 2],
            2,
            "0 tot 4, 5 → 1; Z = 2/3 + (1/6 + 2/8)/1.2 = 1.01 → 2",
        ),
        (
            [2, 2, 0, 1],
            2,
            "0 tot 4, 5 → 1; Z = 2/3 + (2/5 + 1/8)/1.2 = 1.10 → 2",
        ),
        (
            [2, 3, 4, 2],
            2,
            "0 tot 4, 11 ≤ 12 → 2; Z = 2/3 + (3/5 + 4/6 + 2/8)/1.2 = 1.93 → 2",
        ),
        (
            [6, 0, 0, 1],
            3,
            "0 tot 4, 7 → 2; Z = 6/3 + (1/8)/1.2 = 2.10 → 3",
        ),
        (
            [5, 3, 0, 0],
            3,
            "0 tot 2, 8 → 2; Z = 5/3 + (3/5)/1.2 = 2.17 → 3",
        ),
        (
            [5, 0, 3, 0],
            3,
            "0 tot 3, 8 → 2; Z = 5/3 + (3/6)/1.2 = 2.08 → 3",
        ),
        (
            [3, 3, 3, 2],
            3,
            "0 tot 4, 11 → 2; Z = 1 + (3/5 + 3/6 + 2/8)/1.2 = 2.125 → 3",
        ),
        (
            [2, 6, 0, 0],
            2,
            "0 tot 2, 8 → 2; Z = 2/3 + (6/5)/1.2 = 1.67 → 2",
        ),
        (
            [4, 8, 0, 0],
            3,
            "0 tot 2, 12 > 8 → 3 (14, ≤ 8 babies); Z = 4/3 + (8/5)/1.2 = 2.67 → 3",
        ),
        (
            [3, 5, 8, 0],
            4,
            "0 tot 3, 16 > 15 → 4; Z = 1 + (5/5 + 8/6)/1.2 = 2.94 → 3; table wins",
        ),
        (
            [4, 0, 0, 12],
            4,
            "0 tot 4, 16 with 4 babies > 3 → 4; Z = 4/3 + (12/8)/1.2 = 2.58 → 3",
        ),
        ([0, 4, 4, 7], 3, "1 tot 4, 15 > 13 → 3"),
        (
            [0, 1, 11, 1],
            3,
            "1 tot 4, 13 → 2; without the 3-year-old: 1 tot 3, 12 > 11 → 3; +1 → 3",
        ),
        (
            [0, 4, 8, 1],
            3,
            "1 tot 4, 13 → 2; without the 3-year-old: 1 tot 3, 12 > 11 → 3; +1 → 3",
        ),
        (
            [0, 6, 0, 1],
            2,
            "1 tot 4, 7 → 1; without the 3-year-old: 1 tot 2, 6 > 5 → 2; +1 → 2",
        ),
        ([0, 3, 3, 0], 1, "1 tot 3, 6 → 1"),
        (
            [3, 4, 5, 0],
            3,
            "0 tot 3, 12 > 10 → 3 (13, ≤ 8 babies); Z = 1 + (4/5 + 5/6)/1.2 = 2.36 → 3",
        ),
        (
            [5, 4, 5, 0],
            4,
            "0 tot 3, 14 with 5 babies: not 13, not 14 (≤ 4), not 15 (≤ 3) → 4",
        ),
        (
            [1, 4, 0, 0],
            2,
            "0 tot 2, 5 > 4 → 2; Z = 1/3 + (4/5)/1.2 = 1 exactly → 1; table wins",
        ),
        ([0, 0, 8, 8], 2, "2 tot 4, 16 → 2"),
        ([1, 0, 0, 0], 1, "0 tot 1, 1 → 1; Z = 0.33 → 1"),
        ([0, 0, 0, 1], 1, "3 tot 4, 1 → 1"),
    ];
    for (n, want, working) in cases {
        assert_eq!(staff(kdv(*n)), *want, "{n:?}: {working}");
    }
    // groups no table allows
    assert_eq!(
        kdv([9, 5, 0, 0]),
        Outcome::TooLarge(Limit::Young { max: 8 })
    );
    assert_eq!(
        kdv([0, 0, 0, 17]),
        Outcome::TooLarge(Limit::Children { max: 16 })
    );
}

#[test]
fn worked_examples_bso() {
    // 15 of 4-7: 15 > 10 → 2
    assert_eq!(staff(bso(15, 0)), 2);
    // 25 of 7+: 25 > 24 → 3
    assert_eq!(staff(bso(0, 25)), 3);
    // 9 of 4-7 and 3 of 7+: 12 > 11 → 2 (22, ≤ 18 young)
    assert_eq!(staff(bso(9, 3)), 2);
    // 19 of 4-7 and 2 of 7+: more than 18 young in a mixed group
    assert_eq!(bso(19, 2), Outcome::TooLarge(Limit::Young { max: 18 }));
    // 23 mixed: more than 22
    assert_eq!(bso(12, 11), Outcome::TooLarge(Limit::Children { max: 22 }));
}

#[test]
fn the_rule_that_decided_is_named() {
    assert!(matches!(
        kdv([6, 0, 0, 1]),
        Outcome::Staff {
            staff: 3,
            rule: Rule::BabyFormula {
                table: 2,
                value_720ths: 1515
            }
        }
    ));
    assert!(matches!(
        kdv([0, 1, 11, 1]),
        Outcome::Staff {
            staff: 3,
            rule: Rule::OneChildFewer {
                computed: 2,
                band: 3
            }
        }
    ));
    let Outcome::Staff { rule, .. } = kdv([0, 0, 9, 0]) else {
        panic!("staff")
    };
    assert_eq!(
        rule.citation(),
        "Besluit kwaliteit kinderopvang, bijlage 1 onder a, tabel 1"
    );
}

// ---------------------------------------------------------------------------
// The margin with the staff present.

#[test]
fn margin_says_spare_or_short_and_room_per_age() {
    // 6 of 2-3 with 1 staff: table 2 tot 3 allows 8 → 2 more two-year-olds;
    // a one-year-old makes it 1 tot 3 (6 per staff): no room for one
    let m = margin(Care::Dagopvang, Counts([0, 0, 6, 0]), 1);
    assert_eq!(m.staff, Some(0));
    assert_eq!(m.room, [0, 0, 2, 2]);
    // 12 babies with 3 staff: one short
    let m = margin(Care::Dagopvang, Counts([12, 0, 0, 0]), 3);
    assert_eq!(m.staff, Some(-1));
    assert_eq!(m.room, [0; 4]);
    // a BSO group of 20 7+ with 2: 4 more of 7+, none of 4-7 (it would need 22, ≤ 18 young: fits → 2)
    let m = margin(Care::Bso, Counts([0, 20, 0, 0]), 2);
    assert_eq!(m.staff, Some(0));
    assert_eq!(m.room, [2, 4, 0, 0]);
    // too large: no margin
    let m = margin(Care::Dagopvang, Counts([0, 0, 17, 0]), 3);
    assert_eq!(m.staff, None);
}

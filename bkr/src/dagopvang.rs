//! Dagopvang: Besluit kwaliteit kinderopvang, bijlage 1 onder a — table 1
//! and its additional calculation rules, applied in the order the bijlage
//! gives them ("De tabel en de rekenregels worden toegepast in de volgorde
//! waarin zij onderstaand zijn opgenomen").
//!
//! 1. Table 1: the row is the youngest and the oldest age present; the
//!    staff is the first column whose group size (and, where a footnote
//!    says so, number of babies) the group fits. No column: the group is too
//!    large (art. 9 lid 2; the maximum group size is part of the table).
//! 2. With babies (0 tot 1) present, the formula
//!    `Z = n0/3 + (n1/5 + n2/6 + n3/8) / 1.2`, rounded up, when it asks for
//!    more than the table.
//! 3. When one child fewer (of any age present) would need more staff than
//!    steps 1-2 give, one more beroepskracht.
//!
//! Sources: table 1 and its footnotes are the bijlage's own numbers. The
//! wording of rules 2 and 3 could not be read here; they are as the
//! government's rekentool (1ratio.nl) applies them, taken from two
//! independent implementations that agree, and rule 3 stood word for word in
//! the 2013 regulation ("In een situatie waarin het toevoegen van een kind
//! leidt tot een kleiner aantal benodigde beroepskrachten, wordt het aantal
//! benodigde beroepskrachten met 1 verhoogd."). `docs/bkr.md` has the
//! sources and what remains to be checked against wetten.overheid.nl.

use crate::{Care, Cell, Counts, Limit, Outcome, Row, Rule, first_fit};

/// Bijlage 1 onder a, tabel 1: per row (youngest, oldest age band present),
/// the cells by number of beroepskrachten. `Cell::young` carries the
/// footnotes' maximum number of babies (0 tot 1 jaar).
const TABLE_1: [(usize, usize, &[Cell]); 10] = [
    // Groepen alle kinderen één leeftijd
    // 0 tot 1: 3 / 6 / 9 / 12
    (
        0,
        0,
        &[
            Cell::new(1, 3),
            Cell::new(2, 6),
            Cell::new(3, 9),
            Cell::new(4, 12),
        ],
    ),
    // 1 tot 2: 5 / 10 / 15 / 16
    (
        1,
        1,
        &[
            Cell::new(1, 5),
            Cell::new(2, 10),
            Cell::new(3, 15),
            Cell::new(4, 16),
        ],
    ),
    // 2 tot 3: 8 / 16
    (2, 2, &[Cell::new(1, 8), Cell::new(2, 16)]),
    // 3 tot 4: 8 / 16
    (3, 3, &[Cell::new(1, 8), Cell::new(2, 16)]),
    // Gemengde leeftijdsgroepen
    // 0 tot 2: 4 / 8 / 14¹ / 16¹ (¹ waarvan maximaal acht kinderen van 0 tot 1 jaar)
    (
        0,
        1,
        &[
            Cell::new(1, 4),
            Cell::new(2, 8),
            Cell::young(3, 14, 8),
            Cell::young(4, 16, 8),
        ],
    ),
    // 0 tot 3: 5 / 10 / 13¹ of 14⁴ of 15² / 16¹
    // (⁴ waarvan maximaal vier, ² waarvan maximaal drie kinderen van 0 tot 1 jaar)
    (
        0,
        2,
        &[
            Cell::new(1, 5),
            Cell::new(2, 10),
            Cell::young(3, 13, 8),
            Cell::young(3, 14, 4),
            Cell::young(3, 15, 3),
            Cell::young(4, 16, 8),
        ],
    ),
    // 0 tot 4: 5 / 12 / 14¹ of 15³ of 16² / 16¹
    // (³ waarvan maximaal vijf kinderen van 0 tot 1 jaar)
    (
        0,
        3,
        &[
            Cell::new(1, 5),
            Cell::new(2, 12),
            Cell::young(3, 14, 8),
            Cell::young(3, 15, 5),
            Cell::young(3, 16, 3),
            Cell::young(4, 16, 8),
        ],
    ),
    // 1 tot 3: 6 / 11 / 16
    (1, 2, &[Cell::new(1, 6), Cell::new(2, 11), Cell::new(3, 16)]),
    // 1 tot 4: 7 / 13 / 16
    (1, 3, &[Cell::new(1, 7), Cell::new(2, 13), Cell::new(3, 16)]),
    // 2 tot 4: 8 / 16
    (2, 3, &[Cell::new(1, 8), Cell::new(2, 16)]),
];

/// The row of table 1 for `counts` (which must hold a child).
fn row_of(counts: Counts) -> Option<(Row, &'static [Cell])> {
    let present = |b: &usize| counts.0[*b] > 0;
    let youngest = (0..4).find(present)?;
    let oldest = (0..4).rev().find(present)?;
    TABLE_1
        .iter()
        .find(|(y, o, _)| *y == youngest && *o == oldest)
        .map(|(_, _, cells)| {
            (
                Row {
                    care: Care::Dagopvang,
                    youngest,
                    oldest,
                },
                *cells,
            )
        })
}

/// Rule 2's `Z` in 720ths of a beroepskracht (720 is the least common
/// multiple of the denominators: 3, 5·1.2 = 6, 6·1.2 = 7.2, 8·1.2 = 9.6), so
/// that a whole `Z` stays whole: `Z·720 = 240·n0 + 120·n1 + 100·n2 + 75·n3`.
pub fn formula_720ths(counts: Counts) -> u32 {
    let [n0, n1, n2, n3] = counts.0;
    240 * n0 + 120 * n1 + 100 * n2 + 75 * n3
}

/// Rule 1 alone: table 1's row and cell for `counts` (at least one child).
pub fn table_1(counts: Counts) -> Result<(Row, Cell), Limit> {
    let (row, cells) = row_of(counts).ok_or(Limit::Children { max: 0 })?;
    Ok((row, first_fit(cells, counts.total(), counts.0[0])?))
}

/// Rules 1 to 3 for `counts`.
pub fn assess(counts: Counts) -> Outcome {
    decide(counts, required)
}

/// Rules 1 to 3, with `required_of` answering for the groups one child
/// smaller (rules 1 to 3 again; `None` when too large).
///
/// Rule 3 compares with what the smaller group *requires*, rule 3 included:
/// only so does its purpose hold ("het toevoegen van een kind" never leads
/// to fewer staff). Compared with rules 1-2 alone, 11 one-year-olds with two
/// three-year-olds would need 2 while the same group with one three-year-old
/// needs 3. The tests check over every composition that the +1 is always
/// enough.
///
/// Last, the group must fit the table's column for the staff it needs: its
/// footnotes cap the babies in mixed groups of 3 and 4 staff. (Table 1 read
/// cell by cell would let 9 babies, 2 two-year-olds and a three-year-old in
/// with the 2-staff column of 0 tot 4, which has no cap, while the formula
/// asks 4 staff, whose column allows at most 8 babies; without the
/// three-year-old the same babies are too many for 0 tot 3. This reading
/// keeps "too large" from turning into "allowed" when a child comes in.)
fn decide(counts: Counts, required_of: impl Fn(Counts) -> Option<u32>) -> Outcome {
    let Some((row, cells)) = row_of(counts) else {
        return Outcome::Staff {
            staff: 0,
            rule: Rule::NoChildren,
        };
    };
    let (total, babies) = (counts.total(), counts.0[0]);
    // rule 1: table 1
    let cell = match first_fit(cells, total, babies) {
        Ok(cell) => cell,
        Err(limit) => return Outcome::TooLarge(limit),
    };
    let (mut staff, mut rule) = (cell.staff, Rule::Table { row, cell });
    // rule 2: with babies, the formula when it asks for more
    if babies > 0 {
        let value_720ths = formula_720ths(counts);
        let formula = value_720ths.div_ceil(720);
        if formula > staff {
            rule = Rule::BabyFormula {
                table: staff,
                value_720ths,
            };
            staff = formula;
        }
    }
    // rule 3: would one child fewer need more?
    let fewer = (0..4)
        .filter(|b| counts.0[*b] > 0)
        .filter_map(|band| required_of(counts.without(band)).map(|s| (s, band)))
        .max_by_key(|(s, _)| *s);
    if let Some((more, band)) = fewer
        && more > staff
    {
        rule = Rule::OneChildFewer {
            computed: staff,
            band,
        };
        staff += 1;
    }
    // the column of that many staff must hold the group
    let column = cells.iter().position(|c| c.staff == staff).map(|start| {
        let end = cells
            .iter()
            .rposition(|c| c.staff == staff)
            .unwrap_or(start);
        &cells[start..=end]
    });
    if let Some(column) = column
        && let Err(limit) = first_fit(column, total, babies)
    {
        return Outcome::TooLarge(limit);
    }
    Outcome::Staff { staff, rule }
}

/// The largest dagopvang group any row of table 1 allows.
const MAX_GROUP: u32 = 16;
/// Entries of [`REQUIRED`]: every `[n0, n1, n2, n3]` with each below 17.
const SIDE: usize = MAX_GROUP as usize + 1;
/// A composition too large for table 1.
const TOO_LARGE: u8 = u8::MAX;

/// The staff every composition up to [`MAX_GROUP`] children requires (rules
/// 1-3), computed once in order of group size, each from the groups one child
/// smaller: rule 3 then costs four lookups.
static REQUIRED: std::sync::OnceLock<Box<[u8]>> = std::sync::OnceLock::new();

fn index(c: Counts) -> Option<usize> {
    (c.total() <= MAX_GROUP).then(|| c.0.iter().fold(0usize, |i, &n| i * SIDE + n as usize))
}

fn lookup(table: &[u8], counts: Counts) -> Option<u32> {
    let staff = table[index(counts)?];
    (staff != TOO_LARGE).then_some(u32::from(staff))
}

/// The staff `counts` requires, rules 1-3 (`None`: too large).
fn required(counts: Counts) -> Option<u32> {
    lookup(REQUIRED.get_or_init(build_required), counts)
}

fn build_required() -> Box<[u8]> {
    let mut table = vec![TOO_LARGE; SIDE.pow(4)].into_boxed_slice();
    for total in 0..=MAX_GROUP {
        for a in 0..=total {
            for b in 0..=total - a {
                for c in 0..=total - a - b {
                    let counts = Counts([a, b, c, total - a - b - c]);
                    let staff = decide(counts, |fewer| lookup(&table, fewer)).required();
                    if let (Some(staff), Some(i)) = (staff, index(counts)) {
                        // at most 16 children: a handful of staff
                        table[i] = u8::try_from(staff).unwrap_or(TOO_LARGE - 1);
                    }
                }
            }
        }
    }
    table
}

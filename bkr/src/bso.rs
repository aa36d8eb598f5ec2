//! Buitenschoolse opvang: Besluit kwaliteit kinderopvang, bijlage 1 onder b,
//! table 2. The bijlage gives no further calculation rules for BSO ("wordt
//! bepaald op basis van tabel 2"): the first column the group fits decides.
//!
//! Bands: 4 tot 7 jaar (`counts.0[0]`) and 7 tot de leeftijd waarop het
//! basisonderwijs eindigt (`counts.0[1]`).

use crate::{Care, Cell, Counts, Limit, Outcome, Row, Rule, first_fit};

/// 4 tot 7: 10 / 20.
const YOUNG: &[Cell] = &[Cell::new(1, 10), Cell::new(2, 20)];
/// 7 tot de leeftijd waarop het basisonderwijs eindigt: 12 / 24 / 30.
const OLD: &[Cell] = &[Cell::new(1, 12), Cell::new(2, 24), Cell::new(3, 30)];
/// 4 tot de leeftijd waarop het basisonderwijs eindigt: 11¹ / 22²
/// (¹ waarvan maximaal negen, ² waarvan maximaal achttien kinderen van 4 tot 7 jaar).
const MIXED: &[Cell] = &[Cell::young(1, 11, 9), Cell::young(2, 22, 18)];

/// Table 2's row and cell for `counts` (at least one child).
pub fn table_2(counts: Counts) -> Result<(Row, Cell), Limit> {
    let [young, old, ..] = counts.0;
    let (youngest, oldest, cells) = match (young > 0, old > 0) {
        (true, false) => (0, 0, YOUNG),
        (false, true) => (1, 1, OLD),
        _ => (0, 1, MIXED),
    };
    let row = Row {
        care: Care::Bso,
        youngest,
        oldest,
    };
    Ok((row, first_fit(cells, counts.total(), young)?))
}

/// Table 2 for `counts` (at least one child).
pub fn assess(counts: Counts) -> Outcome {
    match table_2(counts) {
        Ok((row, cell)) => Outcome::Staff {
            staff: cell.staff,
            rule: Rule::Table { row, cell },
        },
        Err(limit) => Outcome::TooLarge(limit),
    }
}

//! The beroepskracht-kindratio (BKR): how many pedagogical staff a group
//! needs for the children present, as the GGD inspector computes it.
//!
//! Pure: no IO and no clock of its own. The caller gives the kind of care,
//! the birth dates of the children present and the day; the answer is the
//! number of staff required, the rule that decided it, and (with the staff
//! present) the margin.
//!
//! The law: *Besluit kwaliteit kinderopvang* (BWBR0039936), art. 7 lid 2
//! (staff) and art. 9 lid 2 (group size), worked out in its **bijlage 1**:
//! part a with table 1 and the additional calculation rules for dagopvang
//! ([`dagopvang`]), part b with table 2 for buitenschoolse opvang ([`bso`]).
//! Where this crate's sources are secondary (the rekenregels' wording could
//! not be read here), the module says so beside the rule; see
//! `docs/bkr.md` for the sources and the worked examples.
//!
//! **Invariant:** [`assess`] is monotone in the children present: adding a
//! child never lowers the staff required, removing one never raises it. The
//! tests check this for every composition up to the largest group allowed.

pub mod bso;
pub mod dagopvang;
pub mod day;

use chrono::NaiveDate;

/// The kind of care of a group: it decides the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Care {
    /// Kinderdagverblijf: children of 0 to 4 (stamgroep, table 1).
    Dagopvang,
    /// Buitenschoolse opvang: children from 4 to the end of primary school
    /// (basisgroep, table 2).
    Bso,
}

/// Completed years on `day`: a child is 1 on its first birthday (the
/// tables' "0 tot 1 jaar" is the first year of life). `None` for a birth
/// date after `day`.
pub fn age_on(birth: NaiveDate, day: NaiveDate) -> Option<u32> {
    day.years_since(birth)
}

/// How many children of each age band are present.
///
/// Dagopvang: `[0, 1, 2, 3]` years (a child of 4 or older in a dagopvang
/// group counts as 3: the rule for combined groups). BSO: `[4 tot 7,
/// 7 tot einde basisonderwijs]` in the first two places (a child under 4 in
/// a BSO group counts as 4 to 7), the other two zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Counts(pub [u32; 4]);

impl Counts {
    /// The children present (by birth date) counted into `care`'s bands on `day`.
    pub fn of(care: Care, birth_dates: &[NaiveDate], day: NaiveDate) -> Result<Self, BkrError> {
        let mut n = [0u32; 4];
        for &birth in birth_dates {
            let age = age_on(birth, day).ok_or(BkrError::BornAfter { birth, day })?;
            n[band_of(care, age)] += 1;
        }
        Ok(Self(n))
    }

    pub fn total(&self) -> u32 {
        self.0.iter().sum()
    }

    /// One more child in `band`.
    pub fn with(mut self, band: usize) -> Self {
        self.0[band] += 1;
        self
    }

    /// One child fewer in `band` (none fewer than zero).
    pub fn without(mut self, band: usize) -> Self {
        self.0[band] = self.0[band].saturating_sub(1);
        self
    }
}

/// The band a child of `age` counts in for `care`.
pub fn band_of(care: Care, age: u32) -> usize {
    match care {
        Care::Dagopvang => age.min(3) as usize,
        Care::Bso => usize::from(age >= 7),
    }
}

/// How many bands `care` uses (4 for dagopvang, 2 for BSO).
pub fn bands(care: Care) -> usize {
    match care {
        Care::Dagopvang => 4,
        Care::Bso => 2,
    }
}

/// Input the engine cannot assess.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BkrError {
    /// A birth date after the day assessed (a data error, not a child).
    #[error("birth date {birth} is after the day assessed ({day})")]
    BornAfter { birth: NaiveDate, day: NaiveDate },
}

/// A row of a table: the youngest and the oldest band present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Row {
    pub care: Care,
    pub youngest: usize,
    pub oldest: usize,
}

/// One cell of a table: with `staff` beroepskrachten, at most
/// `max_children` children, of whom at most `max_young` of the youngest band
/// (babies of 0 tot 1 in table 1, children of 4 tot 7 in table 2) where the
/// table's footnote says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cell {
    pub staff: u32,
    pub max_children: u32,
    pub max_young: Option<u32>,
}

impl Cell {
    const fn new(staff: u32, max_children: u32) -> Self {
        Self {
            staff,
            max_children,
            max_young: None,
        }
    }
    const fn young(staff: u32, max_children: u32, max_young: u32) -> Self {
        Self {
            staff,
            max_children,
            max_young: Some(max_young),
        }
    }
    fn fits(&self, total: u32, young: u32) -> bool {
        total <= self.max_children && self.max_young.is_none_or(|m| young <= m)
    }
}

/// The first (fewest staff) cell of `cells` that fits, or why none does.
fn first_fit(cells: &[Cell], total: u32, young: u32) -> Result<Cell, Limit> {
    if let Some(cell) = cells.iter().find(|c| c.fits(total, young)) {
        return Ok(*cell);
    }
    let largest = cells.iter().map(|c| c.max_children).max().unwrap_or(0);
    if total > largest {
        return Err(Limit::Children { max: largest });
    }
    // the group fits by size; the footnote's cap on the youngest does not
    let max = cells
        .iter()
        .filter(|c| total <= c.max_children)
        .filter_map(|c| c.max_young)
        .max()
        .unwrap_or(0);
    Err(Limit::Young { max })
}

/// What decided the number of staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// No children present: the ratio asks for nobody.
    NoChildren,
    /// The table's cell for the ages present (`row`) and the group's size.
    Table { row: Row, cell: Cell },
    /// Dagopvang with babies: the calculation rule's value (in 720ths of a
    /// beroepskracht), rounded up, is more than the table's `table` staff.
    BabyFormula { table: u32, value_720ths: u32 },
    /// Dagopvang: with one child fewer of `band` the group would need more
    /// staff than the `computed` number, so it gets one more.
    OneChildFewer { computed: u32, band: usize },
}

impl Rule {
    /// Where the rule stands in the law.
    pub fn citation(&self) -> &'static str {
        match self {
            Self::NoChildren => "Besluit kwaliteit kinderopvang, art. 7 lid 2",
            Self::Table { row, .. } => match row.care {
                Care::Dagopvang => "Besluit kwaliteit kinderopvang, bijlage 1 onder a, tabel 1",
                Care::Bso => "Besluit kwaliteit kinderopvang, bijlage 1 onder b, tabel 2",
            },
            Self::BabyFormula { .. } | Self::OneChildFewer { .. } => {
                "Besluit kwaliteit kinderopvang, bijlage 1 onder a, aanvullende rekenregels"
            }
        }
    }
}

/// Why a group cannot be run with any number of staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// More children than the largest group the table allows for these ages.
    Children { max: u32 },
    /// More of the youngest (babies in dagopvang, 4 to 7 in a mixed BSO
    /// group) than a group of this size may hold.
    Young { max: u32 },
}

/// The answer for one group at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// At least `staff` beroepskrachten, decided by `rule`.
    Staff { staff: u32, rule: Rule },
    /// The group is too large for the table, whatever the staff.
    TooLarge(Limit),
}

impl Outcome {
    /// The staff required, or `None` for a group too large to run.
    pub fn required(&self) -> Option<u32> {
        match self {
            Self::Staff { staff, .. } => Some(*staff),
            Self::TooLarge(_) => None,
        }
    }
}

/// The staff `care` requires for `counts`.
pub fn assess_counts(care: Care, counts: Counts) -> Outcome {
    if counts.total() == 0 {
        return Outcome::Staff {
            staff: 0,
            rule: Rule::NoChildren,
        };
    }
    match care {
        Care::Dagopvang => dagopvang::assess(counts),
        Care::Bso => bso::assess(counts),
    }
}

/// A group's children (by birth date) on `day`, assessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Assessment {
    pub care: Care,
    pub counts: Counts,
    pub outcome: Outcome,
}

/// The staff `care` requires for the children born on `birth_dates`, on `day`.
pub fn assess(
    care: Care,
    birth_dates: &[NaiveDate],
    day: NaiveDate,
) -> Result<Assessment, BkrError> {
    let counts = Counts::of(care, birth_dates, day)?;
    Ok(Assessment {
        care,
        counts,
        outcome: assess_counts(care, counts),
    })
}

/// How the group stands with the staff present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Margin {
    /// Staff present minus staff required: more than 0 is spare, less than
    /// 0 is short. `None` when the group is too large for the table.
    pub staff: Option<i64>,
    /// Per band (see [`Counts`]): how many more children of that age could
    /// come in before the staff present would no longer be enough.
    pub room: [u32; 4],
}

/// The margin of `counts` in `care` with `staff_present` beroepskrachten.
pub fn margin(care: Care, counts: Counts, staff_present: u32) -> Margin {
    let staff = assess_counts(care, counts)
        .required()
        .map(|r| i64::from(staff_present) - i64::from(r));
    let mut room = [0u32; 4];
    for (band, slot) in room.iter_mut().enumerate().take(bands(care)) {
        let mut more = counts;
        // no group in either table holds more than 30 children
        while *slot < 31 {
            more = more.with(band);
            match assess_counts(care, more).required() {
                Some(r) if r <= staff_present => *slot += 1,
                _ => break,
            }
        }
    }
    Margin { staff, room }
}

#[cfg(test)]
mod tests;

//! A report table and the statistical disclosure control every report applies to it.
//!
//! Cells hold counts (or, in a few marked columns, statistics of counts such as a median).
//! A count from 1 to 4 is never shown (primary suppression). Where a column's total is shown
//! and only one of its cells is hidden, the hidden value would be the total minus the visible
//! cells, so a second cell of that column is hidden as well (secondary suppression: the
//! smallest other cell, a non-zero one first); where no other cell is left, the total goes.
//! Zeros are shown: "nobody" discloses nothing about a person.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Counts from 1 to this minus one are suppressed.
pub const THRESHOLD: u64 = 5;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A count whose cells add up to the column total.
    Additive,
    /// A count whose cells overlap (a household in several rows): no total.
    Count,
    /// A statistic (days, a share): never summed; the report hides it itself when it rests
    /// on fewer than [`THRESHOLD`] cases.
    Statistic,
}

/// One cell before it is published.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// A count.
    Count(u64),
    /// A statistic, or `None` where it is not shown.
    Stat(Option<f64>),
}

/// A table as the API publishes it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Table {
    /// Stable table id (`coverage_by_district`, `funnel_by_scheme`, …).
    pub id: &'static str,
    /// What is counted: `households`, `people`, `decisions` or `referrals`.
    pub unit: &'static str,
    /// What the table is about when it is one of several (`{"guarantee": "old_age"}`,
    /// `{"scheme": "…"}`), else `{}`.
    #[schema(value_type = Object)]
    pub about: Value,
    /// What the rows are: `guarantee`, `scheme`, `district`, `sex_age`, `sdg_group` or `field`.
    pub rows_are: &'static str,
    /// Row keys.
    pub rows: Vec<String>,
    /// Column keys.
    pub columns: Vec<&'static str>,
    /// Cells by row, then column: a number, or `null` where suppressed.
    #[schema(value_type = Vec<Vec<Option<f64>>>)]
    pub cells: Vec<Vec<Value>>,
    /// Column totals where the rows add up (each `null` where suppressed), else `null`.
    #[schema(value_type = Option<Vec<Option<f64>>>)]
    pub column_totals: Option<Vec<Value>>,
    /// Which columns have a total (the others' entries in `column_totals` are `null`).
    #[serde(skip)]
    #[schema(ignore)]
    pub totalled: Vec<bool>,
}

/// A table being built: raw cells and what each column holds.
#[derive(Debug, Clone)]
pub struct Draft {
    pub id: &'static str,
    pub unit: &'static str,
    pub about: Value,
    pub rows_are: &'static str,
    pub rows: Vec<String>,
    pub columns: Vec<(&'static str, Kind)>,
    pub cells: Vec<Vec<Cell>>,
    /// Totals of the statistic columns, computed over all rows by the report (a median of
    /// the whole is not a sum of medians); `None` elsewhere.
    pub stat_totals: Vec<Option<f64>>,
}

impl Draft {
    pub fn new(
        id: &'static str,
        unit: &'static str,
        rows_are: &'static str,
        columns: &[(&'static str, Kind)],
    ) -> Draft {
        Draft {
            id,
            unit,
            about: Value::Object(Default::default()),
            rows_are,
            rows: Vec::new(),
            columns: columns.to_vec(),
            cells: Vec::new(),
            stat_totals: vec![None; columns.len()],
        }
    }

    pub fn about(mut self, key: &str, value: &str) -> Draft {
        self.about = serde_json::json!({ key: value });
        self
    }

    pub fn row(&mut self, key: impl Into<String>, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push(key.into());
        self.cells.push(cells);
    }

    /// A row of plain counts.
    pub fn counts(&mut self, key: impl Into<String>, counts: &[u64]) {
        self.row(key, counts.iter().map(|&n| Cell::Count(n)).collect());
    }

    /// Publishes the table with small cells suppressed (see the module documentation).
    pub fn publish(self) -> Table {
        let (r, c) = (self.rows.len(), self.columns.len());
        let has_totals = self.columns.iter().any(|(_, k)| *k == Kind::Additive);
        let mut hidden = vec![vec![false; c]; r];
        let mut totals = vec![0u64; c];
        let mut total_hidden = vec![false; c];
        for (i, row) in self.cells.iter().enumerate() {
            for (j, cell) in row.iter().enumerate() {
                match cell {
                    Cell::Count(n) => {
                        totals[j] += n;
                        hidden[i][j] = (1..THRESHOLD).contains(n);
                    }
                    Cell::Stat(v) => hidden[i][j] = v.is_none(),
                }
            }
        }
        for j in 0..c {
            if self.columns[j].1 == Kind::Additive {
                total_hidden[j] = (1..THRESHOLD).contains(&totals[j]);
            }
        }
        // Secondary suppression, column by column, until no shown total gives a hidden cell away.
        for j in (0..c).filter(|&j| self.columns[j].1 == Kind::Additive) {
            loop {
                if total_hidden[j] {
                    break;
                }
                let hidden_here = (0..r).filter(|&i| hidden[i][j]).count();
                if hidden_here != 1 {
                    break;
                }
                let count = |i: usize| match self.cells[i][j] {
                    Cell::Count(n) => n,
                    Cell::Stat(_) => 0,
                };
                let pick = (0..r).filter(|&i| !hidden[i][j]).min_by_key(|&i| (count(i) == 0, count(i)));
                match pick {
                    Some(i) => hidden[i][j] = true,
                    None => total_hidden[j] = true,
                }
            }
        }
        let value = |cell: &Cell, hide: bool| -> Value {
            if hide {
                return Value::Null;
            }
            match cell {
                Cell::Count(n) => Value::from(*n),
                Cell::Stat(Some(v)) => Value::from((v * 1000.0).round() / 1000.0),
                Cell::Stat(None) => Value::Null,
            }
        };
        let cells = self
            .cells
            .iter()
            .zip(&hidden)
            .map(|(row, hide)| row.iter().zip(hide).map(|(cell, h)| value(cell, *h)).collect())
            .collect();
        let column_totals = has_totals.then(|| {
            (0..c)
                .map(|j| match self.columns[j].1 {
                    Kind::Additive if !total_hidden[j] => Value::from(totals[j]),
                    Kind::Statistic => value(&Cell::Stat(self.stat_totals[j]), false),
                    _ => Value::Null,
                })
                .collect()
        });
        Table {
            id: self.id,
            unit: self.unit,
            about: self.about,
            rows_are: self.rows_are,
            rows: self.rows,
            columns: self.columns.iter().map(|(k, _)| *k).collect(),
            totalled: self.columns.iter().map(|(_, k)| has_totals && *k != Kind::Count).collect(),
            cells,
            column_totals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cells: &[&[u64]]) -> Table {
        let mut d = Draft::new("t", "households", "district", &[("a", Kind::Additive), ("b", Kind::Additive)]);
        for (i, row) in cells.iter().enumerate() {
            d.counts(format!("r{i}"), row);
        }
        d.publish()
    }

    /// Whether any hidden cell equals its shown column total minus the shown cells.
    fn gives_away(t: &Table) -> bool {
        let totals = t.column_totals.as_ref().unwrap();
        (0..t.columns.len()).any(|j| {
            let hidden = t.cells.iter().filter(|row| row[j].is_null()).count();
            hidden == 1 && !totals[j].is_null()
        })
    }

    #[test]
    fn small_counts_are_hidden_and_zeros_shown() {
        let t = table(&[&[3, 0], &[10, 7], &[12, 9]]);
        assert!(t.cells[0][0].is_null());
        assert_eq!(t.cells[0][1], Value::from(0));
        assert!(!gives_away(&t));
        // The second cell hidden is the smallest other one of the column.
        assert!(t.cells[1][0].is_null());
        assert_eq!(t.cells[2][0], Value::from(12));
        assert_eq!(t.column_totals.unwrap()[0], Value::from(25));
    }

    #[test]
    fn a_lone_small_cell_takes_its_total_with_it() {
        let t = table(&[&[2, 8]]);
        assert!(t.cells[0][0].is_null());
        assert!(t.column_totals.as_ref().unwrap()[0].is_null());
        assert_eq!(t.column_totals.unwrap()[1], Value::from(8));
    }

    #[test]
    fn nothing_is_given_away_in_random_tables() {
        // A small deterministic generator: every table of up to 6 rows with counts 0..=9.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..5_000 {
            let rows = 1 + (next() % 6) as usize;
            let data: Vec<Vec<u64>> = (0..rows).map(|_| vec![next() % 10, next() % 10]).collect();
            let refs: Vec<&[u64]> = data.iter().map(Vec::as_slice).collect();
            let t = table(&refs);
            assert!(!gives_away(&t), "{data:?} → {:?} / {:?}", t.cells, t.column_totals);
            for (row, raw) in t.cells.iter().zip(&data) {
                for (cell, n) in row.iter().zip(raw) {
                    assert!(cell.is_null() || (*n == 0 || *n >= THRESHOLD), "{n} shown");
                    assert!(cell.is_null() || cell == &Value::from(*n));
                }
            }
        }
    }
}

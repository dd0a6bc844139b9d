//! Monitoring the social protection floor: coverage, gaps and the referral funnel.
//!
//! Every report is a list of [`Table`]s of counts with small cells suppressed
//! ([`table`]): never a name, an ID number or a household number. The same report serves
//! the API (JSON and CSV) and the command line (`sahulat report …`).
//!
//! - **Coverage** (`coverage`): for each guarantee and scheme, the registered households and
//!   people who are eligible, undetermined, referred and enrolled; by district and by sex and
//!   age band; and the SDG 1.3.1 groups the registry can identify.
//! - **Gaps** (`gaps`): households eligible for nothing; households with a member a guarantee
//!   is for and nobody covered under it; eligible households not referred after N days; the
//!   fields whose collection would settle the most undetermined decisions.
//! - **Funnel** (`funnel`): referrals made in a date range, how far they got, and the time to
//!   acknowledgement (median, 90th percentile).

pub mod funnel;
pub mod profile;
pub mod registry;
pub mod table;

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::districts;
use crate::domain::spreadsheet_safe;
use crate::rules::{Guarantee, RuleSet};
use table::{Cell, Draft, Kind};
pub use table::{THRESHOLD, Table};

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// Coverage.
    Coverage,
    /// Gaps.
    Gaps,
    /// Referral funnel.
    Funnel,
}

impl ReportKind {
    /// The report's name in paths and files.
    pub fn name(self) -> &'static str {
        match self {
            ReportKind::Coverage => "coverage",
            ReportKind::Gaps => "gaps",
            ReportKind::Funnel => "funnel",
        }
    }

    /// By name.
    pub fn parse(name: &str) -> Option<ReportKind> {
        [ReportKind::Coverage, ReportKind::Gaps, ReportKind::Funnel].into_iter().find(|k| k.name() == name)
    }
}

/// What a report is asked for, already checked against the caller's rights.
#[derive(Debug, Clone)]
pub struct Params {
    /// Date the report describes (coverage, gaps) or the end of its range (funnel).
    pub as_of: NaiveDate,
    /// Funnel: first day of the range.
    pub from: NaiveDate,
    /// Districts in scope (`None`: all).
    pub districts: Option<Vec<String>>,
    /// Schemes in scope (`None`: all).
    pub schemes: Option<Vec<String>>,
    /// Coverage and funnel: the one scheme to break down (`None`: by guarantee / all schemes).
    pub scheme: Option<String>,
    /// Gaps: days after which an eligible household not referred counts.
    pub days: i64,
}

/// Who the registered population is.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Registered {
    /// Households registered by the end of `as_of` in scope.
    pub households: u64,
    /// Their current members.
    pub people: u64,
}

/// What the report covers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportScope {
    /// District codes (`null`: every district).
    pub districts: Option<Vec<String>>,
    /// Scheme ids (`null`: every scheme).
    pub schemes: Option<Vec<String>>,
}

/// A report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    /// `coverage`, `gaps` or `funnel`.
    pub report: &'static str,
    /// The date described: ages, registrations and referral statuses at the end of this day
    /// (Pakistan time); for the funnel, the last day of the range.
    pub as_of: NaiveDate,
    /// Funnel: first day of the range (referral date).
    pub from: Option<NaiveDate>,
    /// Funnel: last day of the range.
    pub to: Option<NaiveDate>,
    /// When it was computed.
    #[serde(serialize_with = "crate::domain::timestamp::utc")]
    #[schema(value_type = String, format = DateTime)]
    pub generated_at: NaiveDateTime,
    /// What it covers.
    pub scope: ReportScope,
    /// The registered population in scope (the denominator of every rate); `null` for the
    /// funnel, which counts referrals.
    pub registered: Option<Registered>,
    /// Counts from 1 to this minus one are suppressed.
    pub suppression_threshold: u64,
    /// How the numbers were made.
    pub notes: Vec<String>,
    /// The tables.
    pub tables: Vec<Table>,
}

/// The schemes in scope, as indexes into the rule set, in file order.
fn scheme_indexes(rules: &RuleSet, schemes: Option<&[String]>) -> Vec<usize> {
    (0..rules.schemes.len()).filter(|&i| schemes.is_none_or(|list| list.contains(&rules.schemes[i].id))).collect()
}

/// The district rows: the districts in scope, or every district known, by code.
fn district_rows(conn: &mut DbConnection, scoped: Option<&[String]>) -> QueryResult<Vec<String>> {
    let mut all: Vec<String> = districts::table.select(districts::code).order(districts::code).load(conn)?;
    if let Some(list) = scoped {
        all.retain(|d| list.contains(d));
    }
    Ok(all)
}

/// The PMT score at or under which a household counts as poor: BISP Kafaalat's cut-off in
/// force on `as_of` when that scheme is loaded, else 32 (its published value).
fn poor_pmt(rules: &RuleSet, as_of: NaiveDate) -> f64 {
    rules
        .scheme("bisp-kafaalat")
        .and_then(|s| s.parameters.iter().find(|p| p.name == "pmt_cutoff"))
        .and_then(|p| p.value_on(as_of))
        .map_or(32.0, |v| v as f64 / 1_000_000.0)
}

fn sex_age_keys() -> Vec<String> {
    registry::SEXES.iter().flat_map(|s| registry::AGE_BANDS.iter().map(move |b| format!("{s}:{b}"))).collect()
}

const COVERAGE_COLUMNS: [(&str, Kind); 5] = [
    ("registered", Kind::Additive),
    ("eligible", Kind::Additive),
    ("undetermined", Kind::Additive),
    ("referred", Kind::Additive),
    ("enrolled", Kind::Additive),
];

/// Builds a report.
pub fn build(conn: &mut DbConnection, rules: &RuleSet, kind: ReportKind, p: &Params) -> QueryResult<Report> {
    let schemes = scheme_indexes(rules, p.schemes.as_deref());
    let rows = district_rows(conn, p.districts.as_deref())?;
    let mut notes = vec![
        format!(
            "Counts only: no names, ID numbers or household numbers. A count from 1 to {} is shown as null (suppressed), \
             and where a column total would give a suppressed cell away a second cell (or the total) is suppressed too.",
            THRESHOLD - 1
        ),
        "Eligibility is decided per household (the decisions stored at the household's last screening or change); \
         people are the current members of the households counted."
            .to_string(),
    ];
    let (registered, tables) = match kind {
        ReportKind::Coverage | ReportKind::Gaps => {
            let req = registry::Request {
                rules,
                as_of: p.as_of,
                districts: p.districts.as_deref(),
                schemes: &schemes,
                district_rows: &rows,
                gaps: kind == ReportKind::Gaps,
                days: p.days,
                poor_pmt: poor_pmt(rules, p.as_of),
                focus: p.scheme.as_ref().and_then(|id| schemes.iter().position(|&i| rules.schemes[i].id == *id)),
            };
            let t = registry::tally(conn, &req)?;
            let registered = Some(Registered { households: t.households.iter().sum(), people: t.people.iter().sum() });
            let tables = if kind == ReportKind::Coverage {
                notes.push(
                    "Coverage rates use the registered population as the denominator: households registered by the \
                     end of as_of in scope, and their current members (the registered column of each row)."
                        .to_string(),
                );
                notes.push(format!(
                    "A household is eligible when it is eligible for at least one scheme of the row, undetermined when \
                     it is eligible for none of them but undetermined on one, referred when it has a referral to one \
                     that is waiting, acknowledged or enrolled on as_of, and enrolled when one ended enrolled. Age bands \
                     are ages on as_of. The poor are the members of households with a PMT score of {} or less.",
                    req.poor_pmt
                ));
                coverage_tables(rules, &schemes, &rows, &t, p)
            } else {
                notes.push(format!("Households never screened are left out of the gaps ({} in scope).", t.undecided));
                notes.push(format!(
                    "Not covered under a guarantee: a household with a member the guarantee is for (children under 18, \
                     working age 18-59, older persons 60 and over, health: everyone) that is not eligible for, referred \
                     to or enrolled in any of its schemes. Not referred: eligible for {} days or more (since the \
                     decision that made it eligible, or since registration) with no referral waiting, acknowledged or \
                     enrolled.",
                    p.days
                ));
                if t.missing_unknown > 0 {
                    notes.push(format!(
                        "{} undetermined households have no missing-field record yet (decided before it was kept); a \
                         re-screening fills it.",
                        t.missing_unknown
                    ));
                }
                gap_tables(rules, &schemes, &rows, &t)
            };
            (registered, tables)
        }
        ReportKind::Funnel => {
            let scheme_pos: HashMap<&str, usize> =
                schemes.iter().enumerate().map(|(k, &i)| (rules.schemes[i].id.as_str(), k)).collect();
            let district_pos: HashMap<&str, usize> = rows.iter().enumerate().map(|(i, d)| (d.as_str(), i)).collect();
            let cells = funnel::tally(
                conn,
                p.from,
                p.as_of,
                &scheme_pos,
                &district_pos,
                p.districts.as_deref(),
                p.schemes.as_deref(),
            )?;
            notes.push(
                "Referrals made from `from` to `to` (inclusive, Pakistan time), with their status at the end of `to`; \
                 a referral still waiting past its acknowledgement deadline counts as expired. Acknowledged counts \
                 every referral that reached acknowledgement. Times to acknowledgement are shown where at least 5 \
                 referrals were acknowledged."
                    .to_string(),
            );
            (None, funnel_tables(rules, &schemes, &rows, &cells, p))
        }
    };
    Ok(Report {
        report: kind.name(),
        as_of: p.as_of,
        from: (kind == ReportKind::Funnel).then_some(p.from),
        to: (kind == ReportKind::Funnel).then_some(p.as_of),
        generated_at: crate::audit::now_micros(),
        scope: ReportScope { districts: p.districts.clone(), schemes: p.schemes.clone() },
        registered,
        suppression_threshold: THRESHOLD,
        notes,
        tables,
    })
}

fn guarantee_keys() -> impl Iterator<Item = (usize, &'static str, Guarantee)> {
    Guarantee::ALL.iter().enumerate().map(|(i, (k, g))| (i, *k, *g))
}

fn coverage_tables(rules: &RuleSet, schemes: &[usize], rows: &[String], t: &registry::Tally, p: &Params) -> Vec<Table> {
    let registered_h: u64 = t.households.iter().sum();
    let registered_p: u64 = t.people.iter().sum();
    let mut out = Vec::new();
    for (unit, total) in [("households", registered_h), ("people", registered_p)] {
        let pick = |target: &registry::Target| -> [u64; 4] {
            let by = if unit == "households" { &target.households } else { &target.people };
            by.iter().fold([0; 4], |mut acc, c| {
                for m in 0..4 {
                    acc[m] += c[m];
                }
                acc
            })
        };
        let mut g = Draft::new("coverage_by_guarantee", unit, "guarantee", &non_additive(&COVERAGE_COLUMNS));
        for (i, key, _) in guarantee_keys() {
            let m = pick(&t.targets[i]);
            g.counts(key, &[total, m[0], m[1], m[2], m[3]]);
        }
        out.push(g.publish());
        let mut s = Draft::new("coverage_by_scheme", unit, "scheme", &non_additive(&COVERAGE_COLUMNS));
        for (k, &i) in schemes.iter().enumerate() {
            let m = pick(&t.targets[4 + k]);
            s.counts(rules.schemes[i].id.clone(), &[total, m[0], m[1], m[2], m[3]]);
        }
        out.push(s.publish());
    }
    // Breakdowns: of one scheme when asked, else of each guarantee.
    let focus: Vec<(usize, &str, String)> = match &p.scheme {
        Some(id) => schemes
            .iter()
            .position(|&i| rules.schemes[i].id == *id)
            .map(|k| vec![(4 + k, "scheme", id.clone())])
            .unwrap_or_default(),
        None => guarantee_keys().map(|(i, key, _)| (i, "guarantee", key.to_string())).collect(),
    };
    for (target, about_key, about) in &focus {
        let tg = &t.targets[*target];
        for unit in ["households", "people"] {
            let mut d = Draft::new("coverage_by_district", unit, "district", &COVERAGE_COLUMNS).about(about_key, about);
            for (r, code) in rows.iter().enumerate() {
                let (reg, m) = if unit == "households" {
                    (t.households[r], tg.households[r])
                } else {
                    (t.people[r], tg.people[r])
                };
                d.counts(code.clone(), &[reg, m[0], m[1], m[2], m[3]]);
            }
            out.push(d.publish());
        }
        let mut sa = Draft::new("coverage_by_sex_age", "people", "sex_age", &COVERAGE_COLUMNS).about(about_key, about);
        for (k, key) in sex_age_keys().into_iter().enumerate() {
            let m = tg.people_sex_age[k];
            sa.counts(key, &[t.people_sex_age[k], m[0], m[1], m[2], m[3]]);
        }
        out.push(sa.publish());
    }
    let mut sdg = Draft::new("sdg_groups", "people", "sdg_group", &non_additive(&COVERAGE_COLUMNS));
    for (k, (key, _)) in registry::SDG_GROUPS.iter().enumerate() {
        let (reg, m) = t.sdg[k];
        sdg.counts(*key, &[reg, m[0], m[1], m[2], m[3]]);
    }
    out.push(sdg.publish());
    out
}

/// The same columns, as overlapping counts (rows that share households: no totals).
fn non_additive(columns: &[(&'static str, Kind)]) -> Vec<(&'static str, Kind)> {
    columns.iter().map(|(k, _)| (*k, Kind::Count)).collect()
}

fn gap_tables(rules: &RuleSet, schemes: &[usize], rows: &[String], t: &registry::Tally) -> Vec<Table> {
    let mut out = Vec::new();
    let mut nothing = Draft::new(
        "nothing_by_district",
        "households",
        "district",
        &[
            ("registered", Kind::Additive),
            ("eligible_for_nothing", Kind::Additive),
            ("left_with_nothing", Kind::Additive),
        ],
    );
    for (r, code) in rows.iter().enumerate() {
        nothing.counts(code.clone(), &[t.households[r], t.nothing[r][0], t.nothing[r][1]]);
    }
    out.push(nothing.publish());
    let cols = [("with_member", Kind::Additive), ("not_covered", Kind::Additive), ("undetermined", Kind::Additive)];
    let mut by_g = Draft::new("uncovered_by_guarantee", "households", "guarantee", &non_additive(&cols));
    for (i, key, _) in guarantee_keys() {
        let sum = t.uncovered[i].iter().fold([0; 3], |mut a, c| {
            for k in 0..3 {
                a[k] += c[k];
            }
            a
        });
        by_g.counts(key, &sum);
    }
    out.push(by_g.publish());
    for (i, key, _) in guarantee_keys() {
        let mut d = Draft::new("uncovered_by_district", "households", "district", &cols).about("guarantee", key);
        for (r, code) in rows.iter().enumerate() {
            d.counts(code.clone(), &t.uncovered[i][r]);
        }
        out.push(d.publish());
    }
    let nr_cols = [("eligible", Kind::Count), ("not_referred", Kind::Count)];
    let mut nr = Draft::new("not_referred_by_scheme", "households", "scheme", &nr_cols);
    for (k, &i) in schemes.iter().enumerate() {
        nr.counts(rules.schemes[i].id.clone(), &t.not_referred_scheme[k]);
    }
    out.push(nr.publish());
    let mut nrd = Draft::new(
        "not_referred_by_district",
        "households",
        "district",
        &[("eligible", Kind::Additive), ("not_referred", Kind::Additive)],
    );
    for (r, code) in rows.iter().enumerate() {
        nrd.counts(code.clone(), &t.not_referred_district[r]);
    }
    out.push(nrd.publish());
    let mut fields: Vec<(&String, &[u64; 3])> = t.missing_fields.iter().collect();
    fields.sort_by(|a, b| (b.1[1], b.1[0], a.0).cmp(&(a.1[1], a.1[0], b.0)));
    let mut mf = Draft::new(
        "missing_fields",
        "decisions",
        "field",
        &[("settles_alone", Kind::Count), ("undetermined_decisions", Kind::Count), ("households", Kind::Count)],
    );
    for (field, c) in fields {
        mf.counts(field.clone(), &[c[1], c[0], c[2]]);
    }
    out.push(mf.publish());
    let mut few = Draft::new(
        "few_missing_by_district",
        "households",
        "district",
        &[("undetermined_households", Kind::Additive), ("at_most_3_fields", Kind::Additive)],
    );
    for (r, code) in rows.iter().enumerate() {
        few.counts(code.clone(), &t.few_missing[r]);
    }
    out.push(few.publish());
    out
}

fn funnel_columns() -> Vec<(&'static str, Kind)> {
    let mut cols: Vec<(&'static str, Kind)> = funnel::COUNTS.iter().map(|c| (*c, Kind::Additive)).collect();
    cols.extend([
        ("ack_median_days", Kind::Statistic),
        ("ack_p90_days", Kind::Statistic),
        ("expired_share", Kind::Statistic),
    ]);
    cols
}

/// A funnel row: the counts, then the statistics where they rest on enough cases.
fn funnel_row(c: &funnel::Cell) -> Vec<Cell> {
    let mut row: Vec<Cell> = c.counts.iter().map(|&n| Cell::Count(n)).collect();
    let enough = c.timed() >= THRESHOLD;
    row.push(Cell::Stat(c.quantile_days(0.5).filter(|_| enough)));
    row.push(Cell::Stat(c.quantile_days(0.9).filter(|_| enough)));
    let n = c.counts[0];
    row.push(Cell::Stat((n >= THRESHOLD).then(|| c.counts[5] as f64 / n as f64)));
    row
}

fn funnel_stats(d: &mut Draft, all: &funnel::Cell) {
    let row = funnel_row(all);
    for (j, cell) in row.iter().enumerate() {
        if let Cell::Stat(v) = cell {
            d.stat_totals[j] = *v;
        }
    }
}

fn funnel_tables(rules: &RuleSet, schemes: &[usize], rows: &[String], cells: &funnel::Cells, p: &Params) -> Vec<Table> {
    let cols = funnel_columns();
    let mut by_scheme = Draft::new("funnel_by_scheme", "referrals", "scheme", &cols);
    let mut all = funnel::Cell::default();
    for (k, &i) in schemes.iter().enumerate() {
        let mut c = funnel::Cell::default();
        for d in 0..rows.len() {
            if let Some(x) = cells.get(&(k, d)) {
                c.absorb(x);
            }
        }
        all.absorb(&c);
        by_scheme.row(rules.schemes[i].id.clone(), funnel_row(&c));
    }
    funnel_stats(&mut by_scheme, &all);
    let mut out = vec![by_scheme.publish()];
    let focus = p.scheme.as_ref().and_then(|id| schemes.iter().position(|&i| rules.schemes[i].id == *id));
    let mut by_district = Draft::new("funnel_by_district", "referrals", "district", &cols);
    if let (Some(_), Some(id)) = (focus, &p.scheme) {
        by_district = by_district.about("scheme", id);
    }
    let mut total = funnel::Cell::default();
    for (d, code) in rows.iter().enumerate() {
        let mut c = funnel::Cell::default();
        for k in 0..schemes.len() {
            if focus.is_some_and(|f| f != k) {
                continue;
            }
            if let Some(x) = cells.get(&(k, d)) {
                c.absorb(x);
            }
        }
        total.absorb(&c);
        by_district.row(code.clone(), funnel_row(&c));
    }
    funnel_stats(&mut by_district, &total);
    out.push(by_district.publish());
    out
}

/// The report as CSV for a spreadsheet: UTF-8 with a byte-order mark, one line per cell
/// (`report,as_of,from,to,table,unit,about,row,column,value`), suppressed cells written
/// `suppressed`, totals as the row `total`. Every text cell is made formula-safe.
pub fn to_csv(report: &Report) -> Vec<u8> {
    let mut out = csv::WriterBuilder::new().from_writer(b"\xEF\xBB\xBF".to_vec());
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    let _ = out.write_record(["report", "as_of", "from", "to", "table", "unit", "about", "row", "column", "value"]);
    for t in &report.tables {
        let about = t
            .about
            .as_object()
            .and_then(|o| o.iter().next())
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .unwrap_or_default();
        let mut line = |row: &str, column: &str, v: &Value| {
            let value = match v {
                Value::Null => "suppressed".to_string(),
                other => other.to_string(),
            };
            let _ = out.write_record([
                report.report,
                &report.as_of.to_string(),
                &date(report.from),
                &date(report.to),
                t.id,
                t.unit,
                &spreadsheet_safe(&about),
                &spreadsheet_safe(row),
                column,
                &value,
            ]);
        };
        for (row, cells) in t.rows.iter().zip(&t.cells) {
            for (column, v) in t.columns.iter().zip(cells) {
                line(row, column, v);
            }
        }
        if let Some(totals) = &t.column_totals {
            for ((column, v), totalled) in t.columns.iter().zip(totals).zip(&t.totalled) {
                if *totalled {
                    line("total", column, v);
                }
            }
        }
    }
    out.into_inner().unwrap_or_default()
}

//! Bulk import: households from CSV (one row per member, rows of a household together,
//! sharing a `household_key`) or JSON Lines (one household per line). Each household is
//! validated and stored atomically (a savepoint inside a batch transaction); a report line
//! says what happened to it. Re-running a file finds its households again (by content hash
//! and by ID number) and stores nothing twice. Memory does not grow with the file.

use std::io::{BufRead, Read};

use aws_lc_rs::digest;
use diesel::Connection;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::districts;
use super::parse::parse_new_household;
use super::repo::Scope;
use super::service;
use super::warnings::today_in_pakistan;
use crate::audit::{self, AuditContext, AuditKey, Event};
use crate::db::{DbConnection, write_tx};
use crate::error::{ApiError, FieldError};

/// Households per transaction through the API: short enough not to hold up clerks' writes.
pub const API_BATCH: usize = 200;

/// Households per transaction from the command line (bulk loads): larger batches touch
/// each index page once for many rows.
pub const CLI_BATCH: usize = 1_000;

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row, one row per member.
    Csv,
    /// One JSON household object per line.
    JsonLines,
}

impl Format {
    /// Guesses the format from a file name (`.csv`, `.jsonl`/`.ndjson`).
    pub fn from_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(Self::Csv)
        } else if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            Some(Self::JsonLines)
        } else {
            None
        }
    }
}

/// What happened to one household of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Stored.
    Accepted,
    /// Not stored: see `errors`.
    Rejected,
    /// Already in the registry (same file record, or a member's ID number is registered).
    Duplicate,
}

/// One line of the import report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportLine {
    /// First line of the household in the file (1-based; the CSV header is line 1).
    pub line: u64,
    /// The CSV `household_key`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub household_key: Option<String>,
    /// Accepted, rejected or duplicate.
    pub outcome: Outcome,
    /// The stored (or existing) household's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub household_id: Option<String>,
    /// The stored (or existing) household's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub household_number: Option<String>,
    /// Field errors (rejected) — `members[i]` is the household's i-th member row.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Totals of an import run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Summary {
    /// Households stored.
    pub accepted: u64,
    /// Households refused with field errors.
    pub rejected: u64,
    /// Households already in the registry.
    pub duplicate: u64,
}

/// One household read from the file, parsed or not.
struct Record {
    line: u64,
    key: Option<String>,
    body: Result<Value, Vec<FieldError>>,
}

/// Reads records one at a time from the input.
trait RecordSource {
    fn next_record(&mut self) -> Option<Record>;
}

struct JsonLines<R> {
    reader: R,
    line: u64,
}

impl<R: BufRead> RecordSource for JsonLines<R> {
    fn next_record(&mut self) -> Option<Record> {
        let mut buf = String::new();
        loop {
            buf.clear();
            self.line += 1;
            match self.reader.read_line(&mut buf) {
                Ok(0) => return None,
                Ok(_) if buf.trim().is_empty() => continue,
                Ok(_) => {
                    let body = serde_json::from_str::<Value>(&buf).map_err(|e| {
                        vec![FieldError::new(
                            "line",
                            "malformed_json",
                            format!("not a JSON object (column {})", e.column()),
                        )]
                    });
                    return Some(Record { line: self.line, key: None, body });
                }
                Err(_) => {
                    let errors = vec![FieldError::new("line", "unreadable", "the line is not valid UTF-8")];
                    return Some(Record { line: self.line, key: None, body: Err(errors) });
                }
            }
        }
    }
}

/// What a CSV cell becomes in the household JSON.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Number,
    Bool,
}

/// Household columns and their kinds; every other known column is a member's.
const HOUSEHOLD_COLUMNS: &[(&str, Kind)] = &[
    ("district", Kind::Text),
    ("tehsil", Kind::Text),
    ("union_council", Kind::Text),
    ("village", Kind::Text),
    ("address", Kind::Text),
    ("area_type", Kind::Text),
    ("phone", Kind::Text),
    ("monthly_income_pkr", Kind::Int),
    ("pmt_score", Kind::Number),
    ("land_acres", Kind::Number),
    ("livestock_heads", Kind::Int),
    ("house_ownership", Kind::Text),
    ("rooms", Kind::Int),
    ("owns_vehicle", Kind::Bool),
    ("owns_residential_plot", Kind::Bool),
];

/// Member columns. The member's own income is `member_monthly_income_pkr` in CSV, since
/// the household's income column has the plain name.
const MEMBER_COLUMNS: &[(&str, &str, Kind)] = &[
    ("full_name", "full_name", Kind::Text),
    ("full_name_ur", "full_name_ur", Kind::Text),
    ("father_or_husband_name", "father_or_husband_name", Kind::Text),
    ("relation_to_head", "relation_to_head", Kind::Text),
    ("sex", "sex", Kind::Text),
    ("date_of_birth", "date_of_birth", Kind::Text),
    ("id_type", "id_type", Kind::Text),
    ("id_number", "id_number", Kind::Text),
    ("marital_status", "marital_status", Kind::Text),
    ("religion", "religion", Kind::Text),
    ("disability", "disability", Kind::Text),
    ("disability_certificate", "disability_certificate", Kind::Bool),
    ("chronic_illness", "chronic_illness", Kind::Bool),
    ("is_pregnant", "is_pregnant", Kind::Bool),
    ("is_lactating", "is_lactating", Kind::Bool),
    ("is_orphan", "is_orphan", Kind::Bool),
    ("school_enrolled", "school_enrolled", Kind::Bool),
    ("school_level", "school_level", Kind::Text),
    ("attendance_pct", "attendance_pct", Kind::Int),
    ("employment", "employment", Kind::Text),
    ("member_monthly_income_pkr", "monthly_income_pkr", Kind::Int),
    ("govt_employee", "govt_employee", Kind::Bool),
    ("taxpayer", "taxpayer", Kind::Bool),
    ("eobi_registered", "eobi_registered", Kind::Bool),
    ("eobi_contribution_years", "eobi_contribution_years", Kind::Int),
    ("essi_registered", "essi_registered", Kind::Bool),
    ("institution_type", "institution_type", Kind::Text),
    ("pension_drawn", "pension_drawn", Kind::Text),
    ("years_of_service", "years_of_service", Kind::Int),
    ("employment_injury", "employment_injury", Kind::Bool),
    ("certified_unfit", "certified_unfit", Kind::Bool),
    ("protection_need", "protection_need", Kind::Bool),
    ("substance_use", "substance_use", Kind::Bool),
    ("marriage_arranged", "marriage_arranged", Kind::Bool),
];

/// Every accepted CSV column name, for documentation and error messages.
pub fn csv_columns() -> Vec<&'static str> {
    std::iter::once("household_key")
        .chain(HOUSEHOLD_COLUMNS.iter().map(|(n, _)| *n))
        .chain(MEMBER_COLUMNS.iter().map(|(n, _, _)| *n))
        .collect()
}

fn cell(kind: Kind, raw: &str) -> Value {
    let raw = raw.trim();
    let parsed = match kind {
        Kind::Text => None,
        Kind::Int => raw.parse::<i64>().ok().map(Value::from),
        Kind::Number => raw.parse::<f64>().ok().and_then(|n| serde_json::Number::from_f64(n).map(Value::Number)),
        Kind::Bool => match raw.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(Value::Bool(true)),
            "false" | "no" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
    };
    // A cell that does not convert is passed on as text, so the parser names the field.
    parsed.unwrap_or_else(|| Value::String(raw.to_string()))
}

struct CsvRows<R: Read> {
    rows: csv::StringRecordsIntoIter<R>,
    /// (column index, JSON name, kind, is household column)
    columns: Vec<(usize, &'static str, Kind, bool)>,
    key_column: usize,
    pending: Option<(u64, csv::StringRecord)>,
    line: u64,
}

impl<R: Read> CsvRows<R> {
    fn new(input: R) -> Result<Self, String> {
        let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
        let headers = reader.headers().map_err(|e| format!("cannot read the CSV header: {e}"))?.clone();
        let mut columns = Vec::new();
        let mut key_column = None;
        let mut unknown = Vec::new();
        for (i, name) in headers.iter().enumerate() {
            let name = name.trim();
            if name == "household_key" {
                key_column = Some(i);
            } else if let Some((n, k)) = HOUSEHOLD_COLUMNS.iter().find(|(n, _)| *n == name) {
                columns.push((i, *n, *k, true));
            } else if let Some((_, json, k)) = MEMBER_COLUMNS.iter().find(|(n, _, _)| *n == name) {
                columns.push((i, *json, *k, false));
            } else {
                unknown.push(name.to_string());
            }
        }
        if !unknown.is_empty() {
            return Err(format!(
                "unknown CSV column(s): {} (accepted: {})",
                unknown.join(", "),
                csv_columns().join(", ")
            ));
        }
        let key_column =
            key_column.ok_or("the CSV needs a household_key column grouping member rows into households")?;
        Ok(Self { rows: reader.into_records(), columns, key_column, pending: None, line: 1 })
    }

    fn read_row(&mut self) -> Option<Result<(u64, csv::StringRecord), (u64, String)>> {
        if let Some(p) = self.pending.take() {
            return Some(Ok(p));
        }
        let row = self.rows.next()?;
        self.line += 1;
        Some(row.map(|r| (self.line, r)).map_err(|e| (self.line, e.to_string())))
    }
}

impl<R: Read> RecordSource for CsvRows<R> {
    fn next_record(&mut self) -> Option<Record> {
        let (line, first) = match self.read_row()? {
            Ok(row) => row,
            Err((line, _)) => {
                let errors =
                    vec![FieldError::new("line", "malformed_csv", "the row cannot be read (quoting or column count)")];
                return Some(Record { line, key: None, body: Err(errors) });
            }
        };
        let key = first.get(self.key_column).unwrap_or_default().trim().to_string();
        let mut household = Map::new();
        let mut members = Vec::new();
        let mut errors = Vec::new();
        let mut row = Some(first);
        while let Some(current) = row.take() {
            let index = members.len();
            let mut member = Map::new();
            for (col, name, kind, is_household) in &self.columns {
                let raw = current.get(*col).unwrap_or_default();
                if raw.trim().is_empty() {
                    continue;
                }
                let value = cell(*kind, raw);
                if *is_household {
                    match household.get(*name) {
                        Some(existing) if existing != &value => errors.push(FieldError::new(
                            format!("members[{index}].{name}"),
                            "household_field_differs",
                            "a household column differs between the rows of one household",
                        )),
                        Some(_) => {}
                        None => {
                            household.insert(name.to_string(), value);
                        }
                    }
                } else {
                    member.insert(name.to_string(), value);
                }
            }
            members.push(Value::Object(member));
            match self.read_row() {
                Some(Ok((_, next))) if next.get(self.key_column).unwrap_or_default().trim() == key => {
                    row = Some(next);
                }
                Some(other) => {
                    self.pending = other.ok();
                }
                None => {}
            }
        }
        household.insert("members".into(), Value::Array(members));
        let body = if errors.is_empty() { Ok(Value::Object(household)) } else { Err(errors) };
        Some(Record { line, key: Some(key).filter(|k| !k.is_empty()), body })
    }
}

/// The content hash that makes re-imports idempotent.
fn content_hash(body: &Value) -> String {
    digest::digest(&digest::SHA256, body.to_string().as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Who imports and where the events go.
pub struct ImportContext<'a> {
    /// Audit key.
    pub key: &'a AuditKey,
    /// The importing user (or the CLI).
    pub ctx: &'a AuditContext,
    /// District scope of the importer.
    pub scope: &'a Scope,
    /// Households per transaction ([`API_BATCH`] or [`CLI_BATCH`]).
    pub batch: usize,
}

fn store_one(conn: &mut DbConnection, ic: &ImportContext<'_>, record: &Record) -> ReportLine {
    let mut line = ReportLine {
        line: record.line,
        household_key: record.key.clone(),
        outcome: Outcome::Rejected,
        household_id: None,
        household_number: None,
        errors: Vec::new(),
    };
    let body = match &record.body {
        Ok(body) => body,
        Err(errors) => {
            line.errors = errors.clone();
            return line;
        }
    };
    let input = match parse_new_household(body, today_in_pakistan()) {
        Ok(input) => input,
        Err(mut errors) => {
            // The district is named with the other bad fields (a lookup that fails only
            // leaves it out: the line is rejected either way).
            let _ = districts::add_household_errors(conn, ic.scope, &mut [(body, &mut errors)]);
            line.errors = errors;
            return line;
        }
    };
    let hash = content_hash(body);
    // A savepoint: this household's failure undoes only this household.
    let result = conn
        .transaction(|c| service::register(c, ic.key, ic.ctx, ic.scope, &input, Some(&hash), today_in_pakistan()))
        .map_err(|e| service::name_duplicate(conn, &input, e));
    match result {
        Ok(stored) => {
            line.outcome = Outcome::Accepted;
            line.household_id = Some(stored.answer.household.id);
            line.household_number = Some(stored.answer.household.household_number);
        }
        Err(ApiError::Conflict { extra, detail, code, .. }) => {
            let existing = extra.as_ref().and_then(|e| e.get("existing_household"));
            line.household_id = existing.and_then(|e| e["id"].as_str()).map(str::to_string);
            line.household_number = existing.and_then(|e| e["household_number"].as_str()).map(str::to_string);
            if line.household_number.is_some() {
                line.outcome = Outcome::Duplicate;
            } else {
                line.errors = vec![FieldError::new("household", code, detail)];
            }
        }
        Err(ApiError::Validation(errors)) => line.errors = errors,
        Err(other) => line.errors = vec![FieldError::new("household", other.code(), other.problem().detail)],
    }
    line
}

/// Stores a batch with a constant number of statements ([`service::register_batch`]). If
/// that fails on a unique index (a clerk registered one of these people a moment ago), the
/// batch's savepoint is rolled back and the households are stored one at a time, each
/// deciding for itself. Call inside the batch's transaction.
fn store_batch(
    conn: &mut DbConnection,
    ic: &ImportContext<'_>,
    records: &[Record],
) -> Result<Vec<ReportLine>, ApiError> {
    let today = today_in_pakistan();
    let mut lines = Vec::with_capacity(records.len());
    let mut batch = Vec::with_capacity(records.len());
    let mut parsed = Vec::with_capacity(records.len());
    for record in records {
        let mut line = ReportLine {
            line: record.line,
            household_key: record.key.clone(),
            outcome: Outcome::Rejected,
            household_id: None,
            household_number: None,
            errors: Vec::new(),
        };
        match &record.body {
            Err(errors) => line.errors = errors.clone(),
            Ok(body) => match parse_new_household(body, today) {
                Err(errors) => line.errors = errors,
                Ok(input) => {
                    batch.push((input, content_hash(body)));
                    parsed.push(lines.len());
                }
            },
        }
        lines.push(line);
    }
    // The district is named with the other bad fields of a household that did not parse.
    let mut refused: Vec<(&Value, &mut Vec<FieldError>)> = records
        .iter()
        .zip(lines.iter_mut())
        .filter_map(|(record, line)| match &record.body {
            Ok(body) if !line.errors.is_empty() => Some((body, &mut line.errors)),
            _ => None,
        })
        .collect();
    districts::add_household_errors(conn, ic.scope, &mut refused)?;
    let outcomes = match conn.transaction(|c| service::register_batch(c, ic.key, ic.ctx, ic.scope, &batch)) {
        Ok(outcomes) => outcomes,
        Err(ApiError::Conflict { .. }) => return Ok(records.iter().map(|r| store_one(conn, ic, r)).collect()),
        Err(other) => return Err(other),
    };
    for (at, outcome) in parsed.into_iter().zip(outcomes) {
        let line = &mut lines[at];
        match outcome {
            service::BatchOutcome::Stored(id, number) => {
                line.outcome = Outcome::Accepted;
                line.household_id = Some(id);
                line.household_number = Some(number);
            }
            service::BatchOutcome::Duplicate(id, number) => {
                line.outcome = Outcome::Duplicate;
                line.household_id = Some(id);
                line.household_number = Some(number);
            }
            service::BatchOutcome::Invalid(errors) => line.errors = errors,
        }
    }
    Ok(lines)
}

/// Imports every household of `input`, calling `report` for each (after its batch has
/// committed, so an accepted line is never lost). Returns the totals.
pub fn import(
    conn: &mut DbConnection,
    ic: &ImportContext<'_>,
    format: Format,
    input: impl BufRead,
    report: impl FnMut(&ReportLine),
) -> Result<Summary, ApiError> {
    let (mut source, label): (Box<dyn RecordSource>, &str) = match format {
        Format::JsonLines => (Box::new(JsonLines { reader: input, line: 0 }), "jsonl"),
        Format::Csv => {
            (Box::new(CsvRows::new(input).map_err(|m| ApiError::bad_request("malformed_import", m))?), "csv")
        }
    };
    run(conn, ic, source.as_mut(), label, report)
}

/// Stores households given as values (the demo-data generator), exactly as an import.
pub fn import_values(
    conn: &mut DbConnection,
    ic: &ImportContext<'_>,
    values: impl Iterator<Item = Value>,
    report: impl FnMut(&ReportLine),
) -> Result<Summary, ApiError> {
    let mut source = Values { values, line: 0 };
    run(conn, ic, &mut source, "generated", report)
}

struct Values<I> {
    values: I,
    line: u64,
}

impl<I: Iterator<Item = Value>> RecordSource for Values<I> {
    fn next_record(&mut self) -> Option<Record> {
        self.line += 1;
        self.values.next().map(|body| Record { line: self.line, key: None, body: Ok(body) })
    }
}

fn run(
    conn: &mut DbConnection,
    ic: &ImportContext<'_>,
    source: &mut dyn RecordSource,
    label: &str,
    mut report: impl FnMut(&ReportLine),
) -> Result<Summary, ApiError> {
    let mut summary = Summary::default();
    loop {
        let batch = ic.batch.max(1);
        let mut records = Vec::with_capacity(batch);
        while records.len() < batch {
            match source.next_record() {
                Some(r) => records.push(r),
                None => break,
            }
        }
        if records.is_empty() {
            break;
        }
        let lines = write_tx(conn, |c| store_batch(c, ic, &records))?;
        for line in &lines {
            match line.outcome {
                Outcome::Accepted => summary.accepted += 1,
                Outcome::Rejected => summary.rejected += 1,
                Outcome::Duplicate => summary.duplicate += 1,
            }
            report(line);
        }
    }
    let event = Event::new("household_import").details(json!({
        "source": label, "accepted": summary.accepted, "rejected": summary.rejected, "duplicate": summary.duplicate,
    }));
    write_tx(conn, |c| audit::record(c, ic.key, ic.ctx, &event))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_group_into_households() {
        let csv = "household_key,district,rooms,full_name,relation_to_head,sex,date_of_birth,id_type,member_monthly_income_pkr,is_orphan\n\
                   h1,swat,2,Gul,head,male,1970-01-01,none,5000,\n\
                   h1,,,Bibi,spouse,female,1975-01-01,none,,no\n\
                   h2,swat,x,Ali,head,male,1980-01-01,none,,\n";
        let mut rows = CsvRows::new(csv.as_bytes()).expect("header");
        let first = rows.next_record().expect("h1");
        assert_eq!(first.line, 2);
        assert_eq!(first.key.as_deref(), Some("h1"));
        let body = first.body.expect("parsed");
        assert_eq!(body["rooms"], 2);
        assert_eq!(body["members"][0]["monthly_income_pkr"], 5000);
        assert_eq!(body["members"][1]["is_orphan"], false);
        assert_eq!(body["members"].as_array().map(Vec::len), Some(2));
        let second = rows.next_record().expect("h2");
        assert_eq!(second.line, 4);
        assert_eq!(second.body.expect("parsed")["rooms"], "x", "left for the parser to name");
        assert!(rows.next_record().is_none());
    }

    #[test]
    fn unknown_columns_stop_the_import_up_front() {
        let err = CsvRows::new("household_key,colour\n".as_bytes()).err().expect("refused");
        assert!(err.contains("colour"), "{err}");
        assert!(CsvRows::new("district\n".as_bytes()).is_err(), "household_key is required");
    }
}

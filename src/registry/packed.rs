//! The members' rule columns of a range of households, packed by the database into one text
//! per household (PostgreSQL only).
//!
//! A whole-registry re-screening reads about seven member rows per household, 34 columns
//! each. On Citus every one of those rows crosses twice: from the worker that holds it to the
//! coordinator, which takes it apart and builds it again, and from the coordinator to the
//! service. Grouping by household is done where the rows are (the members are distributed
//! by their household, so each worker groups its own), and the coordinator passes on one
//! row of two texts per household instead of seven rows of 35 values. Measured with `COPY`
//! of every current member of 1,000,000 demo households (7 million rows): the three Citus
//! servers used 38.5 s of CPU for the plain rows and 19.8 s packed; one PostgreSQL 15.0 s
//! and 19.8 s (building the text is work of its own, which the service's decoding of the
//! packed text mostly gives back).
//!
//! Each member is `|`-separated fields in [`COLUMNS`] order, members are `;`-separated, a
//! SQL `NULL` is `~`, booleans are `1`/`0`, dates are days since 2000-01-01 and the removal
//! time microseconds since 1970 (no text form that `DateStyle` could change). Stored codes
//! are checked on the way in, so no field holds a separator; if one ever did, the range's
//! text would not split into whole members, and the range is read again column by column
//! (never a wrong fact). One difference from the column read is left: an optional code
//! stored as the text `~` reads as `NULL`, and the rules read both as an unknown value.
//!
//! [`COLUMNS`] must follow [`MemberFactsRow`]'s fields: a field added to the row without
//! its column here makes every text one field short, every range falls back to the column
//! read (correct, slower), and `tests/api/impact_scan.rs` fails on PostgreSQL, since it
//! checks the packed read itself.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::model::{MemberFactsRow, REASON_DECEASED, STATUS_CURRENT};

/// How a column is written into the text.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Bool,
    Int,
    Date,
    Timestamp,
}

/// The columns of [`MemberFactsRow`] after the household id, in its order.
const COLUMNS: [(&str, Kind); 34] = [
    ("relation_to_head", Kind::Text),
    ("sex", Kind::Text),
    ("date_of_birth", Kind::Date),
    ("id_type", Kind::Text),
    ("marital_status", Kind::Text),
    ("religion", Kind::Text),
    ("disability", Kind::Text),
    ("disability_certificate", Kind::Bool),
    ("chronic_illness", Kind::Bool),
    ("is_pregnant", Kind::Bool),
    ("is_lactating", Kind::Bool),
    ("is_orphan", Kind::Bool),
    ("school_enrolled", Kind::Bool),
    ("school_level", Kind::Text),
    ("attendance_pct", Kind::Int),
    ("employment", Kind::Text),
    ("monthly_income_pkr", Kind::Int),
    ("govt_employee", Kind::Bool),
    ("taxpayer", Kind::Bool),
    ("eobi_registered", Kind::Bool),
    ("eobi_contribution_years", Kind::Int),
    ("essi_registered", Kind::Bool),
    ("institution_type", Kind::Text),
    ("pension_drawn", Kind::Text),
    ("years_of_service", Kind::Int),
    ("employment_injury", Kind::Bool),
    ("certified_unfit", Kind::Bool),
    ("protection_need", Kind::Bool),
    ("substance_use", Kind::Bool),
    ("marriage_arranged", Kind::Bool),
    ("status", Kind::Text),
    ("removal_reason", Kind::Text),
    ("removed_at", Kind::Timestamp),
    ("date_of_death", Kind::Date),
];

/// The day dates count from.
const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");

/// The query: `$1` < household id ≤ `$2`, current members and those removed as deceased.
static SQL: LazyLock<String> = LazyLock::new(|| {
    let fields: Vec<String> = COLUMNS
        .iter()
        .map(|(c, kind)| match kind {
            Kind::Text => format!("coalesce({c}, '~')"),
            Kind::Bool => format!("coalesce({c}::int::text, '~')"),
            Kind::Int => format!("coalesce({c}::text, '~')"),
            Kind::Date => format!("coalesce(({c} - DATE '2000-01-01')::text, '~')"),
            Kind::Timestamp => format!("coalesce((extract(epoch FROM {c}) * 1000000)::bigint::text, '~')"),
        })
        .collect();
    format!(
        "SELECT household_id, string_agg(concat_ws('|', {}), ';') AS packed FROM members \
         WHERE household_id > $1 AND household_id <= $2 \
         AND (status = '{STATUS_CURRENT}' OR removal_reason = '{REASON_DECEASED}') \
         GROUP BY household_id",
        fields.join(", ")
    )
});

#[derive(QueryableByName)]
struct Packed {
    #[diesel(sql_type = Text)]
    household_id: String,
    #[diesel(sql_type = Text)]
    packed: String,
}

/// The rows of the households in `(after, upto]` (all from the first when `after` is `None`),
/// or `None` when some text does not split into whole members (the caller reads the range
/// column by column instead).
pub fn read(
    conn: &mut diesel::PgConnection,
    after: Option<&str>,
    upto: &str,
) -> QueryResult<Option<Vec<MemberFactsRow>>> {
    let groups: Vec<Packed> =
        diesel::sql_query(SQL.as_str()).bind::<Text, _>(after.unwrap_or("")).bind::<Text, _>(upto).load(conn)?;
    let mut rows = Vec::with_capacity(groups.len() * 8);
    for group in groups {
        for member in group.packed.split(';') {
            match parse(&group.household_id, member) {
                Some(row) => rows.push(row),
                None => return Ok(None),
            }
        }
    }
    Ok(Some(rows))
}

/// One member's fields, `None` when there are not exactly [`COLUMNS`]' many or one does not
/// read as its kind.
fn parse(household_id: &str, text: &str) -> Option<MemberFactsRow> {
    let mut fields = text.split('|');
    let mut next = move || fields.next();
    let row = MemberFactsRow {
        household_id: household_id.to_string(),
        relation_to_head: next()?.to_string(),
        sex: next()?.to_string(),
        date_of_birth: date(next()?)??,
        id_type: next()?.to_string(),
        marital_status: text_of(next()?),
        religion: text_of(next()?),
        disability: text_of(next()?),
        disability_certificate: boolean(next()?)?,
        chronic_illness: boolean(next()?)?,
        is_pregnant: boolean(next()?)?,
        is_lactating: boolean(next()?)?,
        is_orphan: boolean(next()?)?,
        school_enrolled: boolean(next()?)?,
        school_level: text_of(next()?),
        attendance_pct: number(next()?)?,
        employment: text_of(next()?),
        monthly_income_pkr: number(next()?)?,
        govt_employee: boolean(next()?)?,
        taxpayer: boolean(next()?)?,
        eobi_registered: boolean(next()?)?,
        eobi_contribution_years: number(next()?)?,
        essi_registered: boolean(next()?)?,
        institution_type: text_of(next()?),
        pension_drawn: text_of(next()?),
        years_of_service: number(next()?)?,
        employment_injury: boolean(next()?)?,
        certified_unfit: boolean(next()?)?,
        protection_need: boolean(next()?)?,
        substance_use: boolean(next()?)?,
        marriage_arranged: boolean(next()?)?,
        status: next()?.to_string(),
        removal_reason: text_of(next()?),
        removed_at: timestamp(next()?)?,
        date_of_death: date(next()?)?,
    };
    // Exactly as many fields as columns: a separator inside a value shows here.
    next().is_none().then_some(row)
}

/// `~` is `NULL`.
fn text_of(field: &str) -> Option<String> {
    (field != "~").then(|| field.to_string())
}

/// `Some(value)` when the field reads (`Some(None)` for `NULL`), `None` when it does not.
fn boolean(field: &str) -> Option<Option<bool>> {
    match field {
        "~" => Some(None),
        "1" => Some(Some(true)),
        "0" => Some(Some(false)),
        _ => None,
    }
}

fn number<T: std::str::FromStr>(field: &str) -> Option<Option<T>> {
    if field == "~" { Some(None) } else { field.parse().ok().map(Some) }
}

fn date(field: &str) -> Option<Option<NaiveDate>> {
    match number::<i64>(field)? {
        None => Some(None),
        Some(days) => EPOCH.checked_add_signed(TimeDelta::try_days(days)?).map(Some),
    }
}

fn timestamp(field: &str) -> Option<Option<NaiveDateTime>> {
    match number::<i64>(field)? {
        None => Some(None),
        Some(micros) => DateTime::from_timestamp_micros(micros).map(|t| Some(t.naive_utc())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_reads_back_field_by_field_and_a_stray_separator_is_refused() {
        let mut fields: Vec<String> = COLUMNS.iter().map(|_| "~".to_string()).collect();
        fields[0] = "head".into();
        fields[1] = "female".into();
        fields[2] = "-365".into(); // 1999-01-01
        fields[3] = "cnic".into();
        fields[7] = "1".into();
        fields[8] = "0".into();
        fields[16] = "45000".into();
        fields[30] = "removed".into();
        fields[31] = "deceased".into();
        fields[32] = "1764547200000001".into(); // 2025-12-01 00:00:00.000001
        fields[33] = "9466".into(); // 2025-12-01
        let row = parse("h1", &fields.join("|")).unwrap_or_else(|| panic!("unparsed"));
        assert_eq!(row.household_id, "h1");
        assert_eq!(row.relation_to_head, "head");
        assert_eq!(row.date_of_birth, NaiveDate::from_ymd_opt(1999, 1, 1).unwrap_or_default());
        assert_eq!((row.disability_certificate, row.chronic_illness, row.is_pregnant), (Some(true), Some(false), None));
        assert_eq!((row.monthly_income_pkr, row.attendance_pct), (Some(45_000), None));
        assert_eq!((row.marital_status, row.removal_reason.as_deref()), (None, Some("deceased")));
        assert_eq!(row.removed_at.map(|t| t.to_string()).as_deref(), Some("2025-12-01 00:00:00.000001"));
        assert_eq!(row.date_of_death, NaiveDate::from_ymd_opt(2025, 12, 1));
        // A value holding the field separator adds a field; a bad boolean or number fails.
        let mut stray = fields.clone();
        stray[5] = "a|b".into();
        assert!(parse("h1", &stray.join("|")).is_none());
        assert!(parse("h1", &fields[..33].join("|")).is_none());
        let mut bad = fields.clone();
        bad[7] = "t".into();
        assert!(parse("h1", &bad.join("|")).is_none());
        bad = fields;
        bad[14] = "x".into();
        assert!(parse("h1", &bad.join("|")).is_none());
    }
}

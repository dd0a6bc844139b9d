//! A household's people as the reports count them, kept beside its decisions
//! (`household_decisions.profile`), so a report reads one short text per household instead of
//! every member row.
//!
//! One entry per current member, comma-separated: the sex (`f`, `m` or `t`), the date of birth
//! as `YYYYMMDD`, and a flag: `d` a disability, `p` pregnant or breastfeeding, `b` both, `-`
//! neither — e.g. `m19850101-,f19500101d,m20180101-`. Ages are worked out at report time from
//! the birth dates, so the text stays true as people grow older.

use chrono::{Datelike, NaiveDate};

/// One member, as the profile needs it.
pub struct Person<'a> {
    /// `female`, `male` or `transgender`.
    pub sex: &'a str,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// Disability code (`none` or absent: no disability).
    pub disability: Option<&'a str>,
    /// Pregnant.
    pub is_pregnant: Option<bool>,
    /// Breastfeeding.
    pub is_lactating: Option<bool>,
}

/// The profile text of a household's current members.
pub fn encode<'a>(members: impl IntoIterator<Item = Person<'a>>) -> String {
    let mut out = String::new();
    for m in members {
        if !out.is_empty() {
            out.push(',');
        }
        out.push(match m.sex {
            "female" => 'f',
            "male" => 'm',
            _ => 't',
        });
        let d = m.date_of_birth;
        out.push_str(&format!("{:04}{:02}{:02}", d.year().clamp(0, 9999), d.month(), d.day()));
        let disabled = m.disability.is_some_and(|x| x != "none");
        let expecting = m.is_pregnant == Some(true) || m.is_lactating == Some(true);
        out.push(match (disabled, expecting) {
            (true, true) => 'b',
            (true, false) => 'd',
            (false, true) => 'p',
            (false, false) => '-',
        });
    }
    out
}

/// A member read back: sex index (0 female, 1 male, 2 transgender), birth date as
/// `YYYYMMDD`, disability, pregnant or breastfeeding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub sex: usize,
    pub born: u32,
    pub disabled: bool,
    pub expecting: bool,
}

/// The members of a profile text (entries that do not parse are skipped).
pub fn decode(text: &str) -> impl Iterator<Item = Entry> + '_ {
    text.split(',').filter_map(|e| {
        let b = e.as_bytes();
        if b.len() != 10 {
            return None;
        }
        let sex = match b[0] {
            b'f' => 0,
            b'm' => 1,
            _ => 2,
        };
        let born = e.get(1..9)?.parse().ok()?;
        let (disabled, expecting) = match b[9] {
            b'b' => (true, true),
            b'd' => (true, false),
            b'p' => (false, true),
            _ => (false, false),
        };
        Some(Entry { sex, born, disabled, expecting })
    })
}

/// A date as the number `YYYYMMDD` (compares like the date).
pub fn day_number(d: NaiveDate) -> u32 {
    d.year().clamp(0, 9999) as u32 * 10_000 + d.month() * 100 + d.day()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_reads_back_as_written() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let text = encode([
            Person {
                sex: "male",
                date_of_birth: d("1985-01-01"),
                disability: Some("none"),
                is_pregnant: None,
                is_lactating: None,
            },
            Person {
                sex: "female",
                date_of_birth: d("1950-02-03"),
                disability: Some("visual"),
                is_pregnant: None,
                is_lactating: Some(true),
            },
            Person {
                sex: "transgender",
                date_of_birth: d("2018-12-31"),
                disability: None,
                is_pregnant: Some(false),
                is_lactating: None,
            },
        ]);
        assert_eq!(text, "m19850101-,f19500203b,t20181231-");
        let back: Vec<Entry> = decode(&text).collect();
        assert_eq!(back[1], Entry { sex: 0, born: 19500203, disabled: true, expecting: true });
        assert_eq!(back[2].sex, 2);
        assert_eq!(encode([]), "");
        assert_eq!(decode("").count(), 0);
        assert!(day_number(d("2018-12-31")) > day_number(d("2018-02-01")));
    }
}

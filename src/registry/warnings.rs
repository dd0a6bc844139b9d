//! Plausibility warnings: data that is probably wrong but must not be refused (transgender
//! CNICs exist; a clerk may correct a date later). They come back with the 201/200.

use chrono::{Datelike, NaiveDate, TimeDelta, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::model::MemberFields;
use crate::domain::NationalId;
use crate::domain::codes::{IdType, Relation, Sex};

/// One warning about one member (or the household).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Warning {
    /// Stable code, e.g. `cnic_parity_mismatch`.
    pub code: &'static str,
    /// The field concerned, e.g. `members[1].sex`.
    pub field: String,
    /// A sentence for the clerk.
    pub message: String,
    /// The member concerned, once stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// The other household concerned (possible duplicates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub household_number: Option<String>,
}

/// Today in Pakistan (UTC+5, no daylight saving), the default evaluation date.
pub fn today_in_pakistan() -> NaiveDate {
    (Utc::now().naive_utc() + TimeDelta::hours(5)).date()
}

/// Completed years between `dob` and `on`.
pub fn age_on(dob: NaiveDate, on: NaiveDate) -> i32 {
    let mut years = on.year() - dob.year();
    if (on.month(), on.day()) < (dob.month(), dob.day()) {
        years -= 1;
    }
    years
}

/// The warnings about one member at `path` (e.g. `members[2]`).
pub fn member_warnings(m: &MemberFields, path: &str, today: NaiveDate) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut warn = |code: &'static str, field: &str, message: &str| {
        out.push(Warning {
            code,
            field: format!("{path}.{field}"),
            message: message.to_string(),
            member_id: None,
            household_number: None,
        });
    };
    let age = age_on(m.date_of_birth, today);
    if let Some(id) = m.id_number.as_deref().and_then(|n| NationalId::parse(n).ok())
        && m.sex != Sex::Transgender
        && id.suggests_male() != (m.sex == Sex::Male)
    {
        warn("cnic_parity_mismatch", "sex", "the ID number's last digit usually shows the other sex; check both");
    }
    if m.id_type == IdType::Cnic && age < 18 {
        warn("cnic_for_minor", "id_type", "a CNIC is issued at 18; a child usually has a B-Form");
    }
    if m.id_type == IdType::BForm && age >= 18 {
        warn("b_form_for_adult", "id_type", "an adult usually holds a CNIC, not a B-Form");
    }
    if m.is_pregnant == Some(true) && (m.sex != Sex::Female || !(12..=55).contains(&age)) {
        warn("implausible_pregnancy", "is_pregnant", "pregnancy is recorded for someone not a woman aged 12–55");
    }
    if m.is_lactating == Some(true) && m.sex != Sex::Female {
        warn("implausible_lactation", "is_lactating", "lactation is recorded for someone not female");
    }
    if m.relation_to_head == Relation::Spouse && age < 16 {
        warn("young_spouse", "relation_to_head", "a spouse younger than 16: check the date of birth");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::codes::*;

    fn member(sex: Sex, dob: &str, id_type: IdType, id: Option<&str>) -> MemberFields {
        MemberFields {
            full_name: "X".into(),
            full_name_ur: None,
            father_or_husband_name: None,
            relation_to_head: Relation::Head,
            sex,
            date_of_birth: NaiveDate::parse_from_str(dob, "%Y-%m-%d").unwrap_or_default(),
            id_type,
            id_number: id.map(str::to_string),
            marital_status: None,
            religion: None,
            disability: None,
            disability_certificate: None,
            chronic_illness: None,
            is_pregnant: None,
            is_lactating: None,
            is_orphan: None,
            school_enrolled: None,
            school_level: None,
            attendance_pct: None,
            employment: None,
            monthly_income_pkr: None,
            govt_employee: None,
            taxpayer: None,
            eobi_registered: None,
            eobi_contribution_years: None,
            essi_registered: None,
            institution_type: None,
            pension_drawn: None,
            years_of_service: None,
            employment_injury: None,
            certified_unfit: None,
            protection_need: None,
            substance_use: None,
            marriage_arranged: None,
        }
    }

    fn codes(w: Vec<Warning>) -> Vec<&'static str> {
        w.into_iter().map(|w| w.code).collect()
    }

    #[test]
    fn warnings_for_implausible_but_possible_data() {
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or_default();
        let woman_with_odd_cnic = member(Sex::Female, "1980-01-01", IdType::Cnic, Some("1560212345671"));
        assert_eq!(codes(member_warnings(&woman_with_odd_cnic, "m", today)), vec!["cnic_parity_mismatch"]);
        let child_with_cnic = member(Sex::Male, "2015-01-01", IdType::Cnic, Some("1560212345671"));
        assert_eq!(codes(member_warnings(&child_with_cnic, "m", today)), vec!["cnic_for_minor"]);
        let adult_b_form = member(Sex::Male, "1990-01-01", IdType::BForm, Some("1560212345671"));
        assert_eq!(codes(member_warnings(&adult_b_form, "m", today)), vec!["b_form_for_adult"]);
        let mut pregnant_man = member(Sex::Male, "1990-01-01", IdType::None, None);
        pregnant_man.is_pregnant = Some(true);
        assert_eq!(codes(member_warnings(&pregnant_man, "m", today)), vec!["implausible_pregnancy"]);
        let fine = member(Sex::Male, "1990-01-01", IdType::Cnic, Some("1560212345671"));
        assert!(member_warnings(&fine, "m", today).is_empty());
    }

    #[test]
    fn ages_are_completed_years() {
        let dob = NaiveDate::from_ymd_opt(2008, 6, 2).unwrap_or_default();
        assert_eq!(age_on(dob, NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or_default()), 17);
        assert_eq!(age_on(dob, NaiveDate::from_ymd_opt(2026, 6, 2).unwrap_or_default()), 18);
    }
}

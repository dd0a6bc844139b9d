//! The request bodies that handlers read as raw JSON — households and members, parsed field
//! by field by `registry::parse` so that one 422 names every bad field — described for the
//! OpenAPI document with the limits the parser enforces (`registry/parse.rs`,
//! `domain/reader.rs`, `domain/*.rs`). A client written from the document alone must know
//! what the server accepts, so every rule the parser checks is here: as a keyword where JSON
//! Schema has one, and the cross-field rules ([`CrossFieldRules`]) as 2020-12 keywords
//! (`if`/`then`, `contains`). The types are never deserialised: the parser stays the one
//! place input is read.

use serde::Deserialize;
use utoipa::ToSchema;

mod rules;

pub use rules::{CrossFieldRules, past_date_pattern};

use crate::domain::codes::{
    AreaType, Disability, Employment, HouseOwnership, IdType, InstitutionType, MaritalStatus, PensionDrawn, Relation,
    Religion, SchoolLevel, Sex,
};

// The patterns are literals (utoipa takes nothing else). Names (`PersonName`): at least one
// visible character and no control characters. Free text (`Reader::text`): something other
// than spaces, and no NUL (PostgreSQL cannot store it). Lengths are counted by the server after
// trimming, here before: the document is the stricter of the two.

/// The household attributes of a registration (all optional: absent or `null` is unknown).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseholdRegistration {
    /// An active district code (`GET /api/v1/districts`) that the clerk is assigned to.
    #[schema(pattern = r"^[a-z][a-z0-9-]{1,39}$", example = "peshawar")]
    pub district: String,
    /// The members: 1–30, exactly one with `relation_to_head` = `head`, no ID number twice.
    #[schema(min_items = 1, max_items = 30)]
    pub members: Vec<MemberInput>,
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub tehsil: Option<String>,
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub union_council: Option<String>,
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub village: Option<String>,
    #[schema(min_length = 1, max_length = 500, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub address: Option<String>,
    pub area_type: Option<AreaType>,
    /// A mobile number, `03XXXXXXXXX`, `+923XXXXXXXXX` or `923XXXXXXXXX`, spaces and dashes
    /// allowed (stored as `03XXXXXXXXX`).
    #[schema(pattern = r"^[ -]*(\+[ -]*9[ -]*2|9[ -]*2|0)[ -]*3([ -]*[0-9]){9}[ -]*$", example = "0300-1234567")]
    pub phone: Option<String>,
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub monthly_income_pkr: Option<i64>,
    /// Proxy means test score, at most two decimals.
    #[schema(minimum = 0, maximum = 100, multiple_of = 0.01)]
    pub pmt_score: Option<f64>,
    #[schema(minimum = 0, maximum = 100_000, multiple_of = 0.01)]
    pub land_acres: Option<f64>,
    #[schema(minimum = 0, maximum = 100_000)]
    pub livestock_heads: Option<i32>,
    pub house_ownership: Option<HouseOwnership>,
    #[schema(minimum = 1, maximum = 50)]
    pub rooms: Option<i32>,
    pub owns_vehicle: Option<bool>,
    /// Owns a residential plot (a house site), apart from agricultural land.
    pub owns_residential_plot: Option<bool>,
}

/// A household merge patch (RFC 7396): the listed attributes only; `null` makes a value
/// unknown, an absent one stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseholdPatch {
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub tehsil: Option<String>,
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub union_council: Option<String>,
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub village: Option<String>,
    #[schema(min_length = 1, max_length = 500, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub address: Option<String>,
    pub area_type: Option<AreaType>,
    /// As for registration.
    #[schema(pattern = r"^[ -]*(\+[ -]*9[ -]*2|9[ -]*2|0)[ -]*3([ -]*[0-9]){9}[ -]*$", example = "0300-1234567")]
    pub phone: Option<String>,
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub monthly_income_pkr: Option<i64>,
    #[schema(minimum = 0, maximum = 100, multiple_of = 0.01)]
    pub pmt_score: Option<f64>,
    #[schema(minimum = 0, maximum = 100_000, multiple_of = 0.01)]
    pub land_acres: Option<f64>,
    #[schema(minimum = 0, maximum = 100_000)]
    pub livestock_heads: Option<i32>,
    pub house_ownership: Option<HouseOwnership>,
    #[schema(minimum = 1, maximum = 50)]
    pub rooms: Option<i32>,
    pub owns_vehicle: Option<bool>,
    /// Owns a residential plot (a house site), apart from agricultural land.
    pub owns_residential_plot: Option<bool>,
}

/// A member as registered. `id_number` is required when `id_type` is `cnic` or `b_form`
/// and must be left out (or `null`) when it is `none`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    /// The name of record, in any script.
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub full_name: String,
    /// The name in Urdu script: Arabic-script characters and spaces, at least one letter.
    #[schema(
        max_length = 200,
        pattern = r"^[\u0600-\u06ff\u0750-\u077f ]*[\u0620-\u064a][\u0600-\u06ff\u0750-\u077f ]*$"
    )]
    pub full_name_ur: Option<String>,
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub father_or_husband_name: Option<String>,
    pub relation_to_head: Relation,
    pub sex: Sex,
    /// `YYYY-MM-DD`, from 1900-01-01 and not in the future (Pakistan time). The pattern
    /// admits the dates up to the end of last year; the server also takes this year's up to today.
    #[schema(format = Date, example = "1984-03-15")]
    pub date_of_birth: String,
    pub id_type: IdType,
    /// CNIC or B-Form number: 13 digits, the first 1–7, written `XXXXX-XXXXXXX-X` or plain.
    #[schema(pattern = r"^([1-7][0-9]{4}-[0-9]{7}-[0-9]|[1-7][0-9]{12})$", example = "17301-1234567-1")]
    pub id_number: Option<String>,
    pub marital_status: Option<MaritalStatus>,
    pub religion: Option<Religion>,
    pub disability: Option<Disability>,
    pub disability_certificate: Option<bool>,
    pub chronic_illness: Option<bool>,
    pub is_pregnant: Option<bool>,
    pub is_lactating: Option<bool>,
    pub is_orphan: Option<bool>,
    pub school_enrolled: Option<bool>,
    pub school_level: Option<SchoolLevel>,
    #[schema(minimum = 0, maximum = 100)]
    pub attendance_pct: Option<i32>,
    pub employment: Option<Employment>,
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub monthly_income_pkr: Option<i64>,
    pub govt_employee: Option<bool>,
    pub taxpayer: Option<bool>,
    pub eobi_registered: Option<bool>,
    #[schema(minimum = 0, maximum = 60)]
    pub eobi_contribution_years: Option<i32>,
    pub essi_registered: Option<bool>,
    /// The kind of school, college or madrasa the member attends.
    pub institution_type: Option<InstitutionType>,
    /// The pension the member draws (for a deceased member: drew).
    pub pension_drawn: Option<PensionDrawn>,
    /// Years of service with the current (or last) employer.
    #[schema(minimum = 0, maximum = 60)]
    pub years_of_service: Option<i32>,
    /// The member's disability or illness results from an employment injury.
    pub employment_injury: Option<bool>,
    /// Certified unfit for work by a doctor for the current spell of sickness.
    pub certified_unfit: Option<bool>,
    /// Needs protection and shelter (violence or a threat); recorded only with consent.
    pub protection_need: Option<bool>,
    /// Dependent on drugs; recorded only with consent.
    pub substance_use: Option<bool>,
    /// A marriage has been arranged and its date fixed.
    pub marriage_arranged: Option<bool>,
}

/// A member added to a registered household: as [`MemberInput`], but not the head (the head
/// changes only through `POST /households/{id}/head`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMember(pub MemberInput);

/// A member merge patch (RFC 7396). The required fields may be changed but not cleared;
/// `id_type` and `id_number` change together (a number with `cnic` or `b_form`, `null` with
/// `none`); no member becomes or stops being the head here.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    #[schema(
        required = false,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub full_name: String,
    #[schema(
        max_length = 200,
        pattern = r"^[\u0600-\u06ff\u0750-\u077f ]*[\u0620-\u064a][\u0600-\u06ff\u0750-\u077f ]*$"
    )]
    pub full_name_ur: Option<String>,
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$")]
    pub father_or_husband_name: Option<String>,
    #[schema(required = false)]
    pub relation_to_head: Relation,
    #[schema(required = false)]
    pub sex: Sex,
    /// As for registration.
    #[schema(required = false, format = Date, example = "1984-03-15")]
    pub date_of_birth: String,
    #[schema(required = false)]
    pub id_type: IdType,
    #[schema(pattern = r"^([1-7][0-9]{4}-[0-9]{7}-[0-9]|[1-7][0-9]{12})$", example = "17301-1234567-1")]
    pub id_number: Option<String>,
    pub marital_status: Option<MaritalStatus>,
    pub religion: Option<Religion>,
    pub disability: Option<Disability>,
    pub disability_certificate: Option<bool>,
    pub chronic_illness: Option<bool>,
    pub is_pregnant: Option<bool>,
    pub is_lactating: Option<bool>,
    pub is_orphan: Option<bool>,
    pub school_enrolled: Option<bool>,
    pub school_level: Option<SchoolLevel>,
    #[schema(minimum = 0, maximum = 100)]
    pub attendance_pct: Option<i32>,
    pub employment: Option<Employment>,
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub monthly_income_pkr: Option<i64>,
    pub govt_employee: Option<bool>,
    pub taxpayer: Option<bool>,
    pub eobi_registered: Option<bool>,
    #[schema(minimum = 0, maximum = 60)]
    pub eobi_contribution_years: Option<i32>,
    pub essi_registered: Option<bool>,
    /// The kind of school, college or madrasa the member attends.
    pub institution_type: Option<InstitutionType>,
    /// The pension the member draws (for a deceased member: drew).
    pub pension_drawn: Option<PensionDrawn>,
    /// Years of service with the current (or last) employer.
    #[schema(minimum = 0, maximum = 60)]
    pub years_of_service: Option<i32>,
    /// The member's disability or illness results from an employment injury.
    pub employment_injury: Option<bool>,
    /// Certified unfit for work by a doctor for the current spell of sickness.
    pub certified_unfit: Option<bool>,
    /// Needs protection and shelter (violence or a threat); recorded only with consent.
    pub protection_need: Option<bool>,
    /// Dependent on drugs; recorded only with consent.
    pub substance_use: Option<bool>,
    /// A marriage has been arranged and its date fixed.
    pub marriage_arranged: Option<bool>,
}

/// A district code: 2–40 of `a-z 0-9 -`, starting with a letter.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(pattern = "^[a-z][a-z0-9-]{1,39}$", example = "peshawar")]
pub struct DistrictCode(pub String);

/// A scheme id: 2–64 of `a-z 0-9 -`, starting with a letter or digit.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(pattern = "^[a-z0-9][a-z0-9-]{1,63}$", example = "bisp-kafaalat")]
pub struct SchemeId(pub String);

/// A step of a referral's lifecycle.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStep {
    /// The scheme office has seen it (scheme administrator).
    Acknowledged,
    /// Enrolled in the scheme (scheme administrator).
    Enrolled,
    /// Refused by the scheme office, with a reason (scheme administrator).
    Rejected,
    /// Taken back by the clerk, with a reason.
    Withdrawn,
}

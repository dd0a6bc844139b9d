//! Households and members: the validated field sets the API speaks, and the database rows.
//!
//! Adding an attribute a new scheme needs: one paired migration (`ALTER TABLE … ADD COLUMN`,
//! nullable, so existing rows read as unknown), the column in `db/schema.rs`, and the field
//! in the `*Fields` struct, its row struct and `parse.rs` — the compiler points at each
//! place the field must be carried (the row ↔ fields conversions below are exhaustive).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{household_changes, households, members};
use crate::domain::codes::*;

/// The household attributes a clerk records (all optional: `null` means unknown).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct HouseholdFields {
    pub tehsil: Option<String>,
    pub union_council: Option<String>,
    pub village: Option<String>,
    pub address: Option<String>,
    pub area_type: Option<AreaType>,
    /// Normalised `03XXXXXXXXX`.
    pub phone: Option<String>,
    pub monthly_income_pkr: Option<i64>,
    pub pmt_score: Option<f64>,
    pub land_acres: Option<f64>,
    pub livestock_heads: Option<i32>,
    pub house_ownership: Option<HouseOwnership>,
    pub rooms: Option<i32>,
    pub owns_vehicle: Option<bool>,
    pub owns_residential_plot: Option<bool>,
}

/// A member's attributes.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MemberFields {
    /// The name of record, in any script.
    pub full_name: String,
    /// The name in Urdu script, beside the name of record (Arabic-script letters only);
    /// a name search matches either.
    #[schema(min_length = 1, max_length = 200, example = "زرینہ بی بی")]
    pub full_name_ur: Option<String>,
    pub father_or_husband_name: Option<String>,
    pub relation_to_head: Relation,
    pub sex: Sex,
    pub date_of_birth: NaiveDate,
    pub id_type: IdType,
    /// 13 digits.
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
    pub attendance_pct: Option<i32>,
    pub employment: Option<Employment>,
    pub monthly_income_pkr: Option<i64>,
    pub govt_employee: Option<bool>,
    pub taxpayer: Option<bool>,
    pub eobi_registered: Option<bool>,
    pub eobi_contribution_years: Option<i32>,
    pub essi_registered: Option<bool>,
    pub institution_type: Option<InstitutionType>,
    pub pension_drawn: Option<PensionDrawn>,
    pub years_of_service: Option<i32>,
    pub employment_injury: Option<bool>,
    pub certified_unfit: Option<bool>,
    pub protection_need: Option<bool>,
    pub substance_use: Option<bool>,
    pub marriage_arranged: Option<bool>,
}

/// A stored household.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = households)]
pub struct HouseholdRow {
    pub id: String,
    pub household_number: String,
    pub district_code: String,
    pub tehsil: Option<String>,
    pub union_council: Option<String>,
    pub village: Option<String>,
    pub address: Option<String>,
    pub area_type: Option<String>,
    pub phone: Option<String>,
    pub monthly_income_pkr: Option<i64>,
    pub pmt_score: Option<f64>,
    pub land_acres: Option<f64>,
    pub livestock_heads: Option<i32>,
    pub house_ownership: Option<String>,
    pub rooms: Option<i32>,
    pub owns_vehicle: Option<bool>,
    pub import_hash: Option<String>,
    pub version: i64,
    pub registered_by: String,
    pub registered_office: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub owns_residential_plot: Option<bool>,
}

/// The editable columns of a household (None writes NULL: unknown).
#[derive(Debug, AsChangeset)]
#[diesel(table_name = households, treat_none_as_null = true)]
pub struct HouseholdChangeset {
    pub tehsil: Option<String>,
    pub union_council: Option<String>,
    pub village: Option<String>,
    pub address: Option<String>,
    pub area_type: Option<String>,
    pub phone: Option<String>,
    pub monthly_income_pkr: Option<i64>,
    pub pmt_score: Option<f64>,
    pub land_acres: Option<f64>,
    pub livestock_heads: Option<i32>,
    pub house_ownership: Option<String>,
    pub rooms: Option<i32>,
    pub owns_vehicle: Option<bool>,
    pub owns_residential_plot: Option<bool>,
}

impl HouseholdFields {
    /// Reads the fields of a stored row.
    pub fn from_row(row: &HouseholdRow) -> Self {
        Self {
            tehsil: row.tehsil.clone(),
            union_council: row.union_council.clone(),
            village: row.village.clone(),
            address: row.address.clone(),
            area_type: row.area_type.as_deref().and_then(AreaType::parse),
            phone: row.phone.clone(),
            monthly_income_pkr: row.monthly_income_pkr,
            pmt_score: row.pmt_score,
            land_acres: row.land_acres,
            livestock_heads: row.livestock_heads,
            house_ownership: row.house_ownership.as_deref().and_then(HouseOwnership::parse),
            rooms: row.rooms,
            owns_vehicle: row.owns_vehicle,
            owns_residential_plot: row.owns_residential_plot,
        }
    }

    /// The columns to write.
    pub fn changeset(&self) -> HouseholdChangeset {
        HouseholdChangeset {
            tehsil: self.tehsil.clone(),
            union_council: self.union_council.clone(),
            village: self.village.clone(),
            address: self.address.clone(),
            area_type: self.area_type.map(|v| v.as_str().to_string()),
            phone: self.phone.clone(),
            monthly_income_pkr: self.monthly_income_pkr,
            pmt_score: self.pmt_score,
            land_acres: self.land_acres,
            livestock_heads: self.livestock_heads,
            house_ownership: self.house_ownership.map(|v| v.as_str().to_string()),
            rooms: self.rooms,
            owns_vehicle: self.owns_vehicle,
            owns_residential_plot: self.owns_residential_plot,
        }
    }
}

/// Member status: current, or removed with a reason (kept for history).
pub const STATUS_CURRENT: &str = "current";
/// A removed member.
pub const STATUS_REMOVED: &str = "removed";

/// A stored member.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = members)]
pub struct MemberRow {
    pub id: String,
    pub household_id: String,
    pub status: String,
    pub removal_reason: Option<String>,
    pub removed_at: Option<NaiveDateTime>,
    pub full_name: String,
    pub name_key: String,
    pub father_or_husband_name: Option<String>,
    pub relation_to_head: String,
    pub sex: String,
    pub date_of_birth: NaiveDate,
    pub id_type: String,
    pub id_number: Option<String>,
    pub marital_status: Option<String>,
    pub religion: Option<String>,
    pub disability: Option<String>,
    pub disability_certificate: Option<bool>,
    pub chronic_illness: Option<bool>,
    pub is_pregnant: Option<bool>,
    pub is_lactating: Option<bool>,
    pub is_orphan: Option<bool>,
    pub school_enrolled: Option<bool>,
    pub school_level: Option<String>,
    pub attendance_pct: Option<i32>,
    pub employment: Option<String>,
    pub monthly_income_pkr: Option<i64>,
    pub govt_employee: Option<bool>,
    pub taxpayer: Option<bool>,
    pub eobi_registered: Option<bool>,
    pub eobi_contribution_years: Option<i32>,
    pub essi_registered: Option<bool>,
    pub dedup_key: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub full_name_ur: Option<String>,
    pub name_key_ur: Option<String>,
    pub institution_type: Option<String>,
    pub pension_drawn: Option<String>,
    pub years_of_service: Option<i32>,
    pub employment_injury: Option<bool>,
    pub certified_unfit: Option<bool>,
    pub protection_need: Option<bool>,
    pub substance_use: Option<bool>,
    pub marriage_arranged: Option<bool>,
    pub date_of_death: Option<NaiveDate>,
}

/// The editable columns of a member.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = members, treat_none_as_null = true)]
pub struct MemberChangeset {
    pub full_name: String,
    pub name_key: String,
    pub full_name_ur: Option<String>,
    pub name_key_ur: Option<String>,
    pub father_or_husband_name: Option<String>,
    pub relation_to_head: String,
    pub sex: String,
    pub date_of_birth: NaiveDate,
    pub id_type: String,
    pub id_number: Option<String>,
    pub marital_status: Option<String>,
    pub religion: Option<String>,
    pub disability: Option<String>,
    pub disability_certificate: Option<bool>,
    pub chronic_illness: Option<bool>,
    pub is_pregnant: Option<bool>,
    pub is_lactating: Option<bool>,
    pub is_orphan: Option<bool>,
    pub school_enrolled: Option<bool>,
    pub school_level: Option<String>,
    pub attendance_pct: Option<i32>,
    pub employment: Option<String>,
    pub monthly_income_pkr: Option<i64>,
    pub govt_employee: Option<bool>,
    pub taxpayer: Option<bool>,
    pub eobi_registered: Option<bool>,
    pub eobi_contribution_years: Option<i32>,
    pub essi_registered: Option<bool>,
    pub institution_type: Option<String>,
    pub pension_drawn: Option<String>,
    pub years_of_service: Option<i32>,
    pub employment_injury: Option<bool>,
    pub certified_unfit: Option<bool>,
    pub protection_need: Option<bool>,
    pub substance_use: Option<bool>,
    pub marriage_arranged: Option<bool>,
    pub dedup_key: String,
    pub updated_at: NaiveDateTime,
}

/// Builds [`MemberFields`] from a row type with the member columns (one mapping for every
/// row type, so they cannot drift apart).
macro_rules! member_fields {
    ($row:expr, $full_name:expr, $full_name_ur:expr, $father:expr, $id_number:expr) => {
        MemberFields {
            full_name: $full_name,
            full_name_ur: $full_name_ur,
            father_or_husband_name: $father,
            relation_to_head: Relation::parse(&$row.relation_to_head).unwrap_or(Relation::OtherRelative),
            sex: Sex::parse(&$row.sex).unwrap_or(Sex::Transgender),
            date_of_birth: $row.date_of_birth,
            id_type: IdType::parse(&$row.id_type).unwrap_or(IdType::None),
            id_number: $id_number,
            marital_status: code(&$row.marital_status, MaritalStatus::parse),
            religion: code(&$row.religion, Religion::parse),
            disability: code(&$row.disability, Disability::parse),
            disability_certificate: $row.disability_certificate,
            chronic_illness: $row.chronic_illness,
            is_pregnant: $row.is_pregnant,
            is_lactating: $row.is_lactating,
            is_orphan: $row.is_orphan,
            school_enrolled: $row.school_enrolled,
            school_level: code(&$row.school_level, SchoolLevel::parse),
            attendance_pct: $row.attendance_pct,
            employment: code(&$row.employment, Employment::parse),
            monthly_income_pkr: $row.monthly_income_pkr,
            govt_employee: $row.govt_employee,
            taxpayer: $row.taxpayer,
            eobi_registered: $row.eobi_registered,
            eobi_contribution_years: $row.eobi_contribution_years,
            essi_registered: $row.essi_registered,
            institution_type: code(&$row.institution_type, InstitutionType::parse),
            pension_drawn: code(&$row.pension_drawn, PensionDrawn::parse),
            years_of_service: $row.years_of_service,
            employment_injury: $row.employment_injury,
            certified_unfit: $row.certified_unfit,
            protection_need: $row.protection_need,
            substance_use: $row.substance_use,
            marriage_arranged: $row.marriage_arranged,
        }
    };
}

/// The columns of a member that the rules read: batch re-screening loads only these (no
/// names, ID numbers or timestamps to decode).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = members)]
pub struct MemberFactsRow {
    pub household_id: String,
    pub relation_to_head: String,
    pub sex: String,
    pub date_of_birth: NaiveDate,
    pub id_type: String,
    pub marital_status: Option<String>,
    pub religion: Option<String>,
    pub disability: Option<String>,
    pub disability_certificate: Option<bool>,
    pub chronic_illness: Option<bool>,
    pub is_pregnant: Option<bool>,
    pub is_lactating: Option<bool>,
    pub is_orphan: Option<bool>,
    pub school_enrolled: Option<bool>,
    pub school_level: Option<String>,
    pub attendance_pct: Option<i32>,
    pub employment: Option<String>,
    pub monthly_income_pkr: Option<i64>,
    pub govt_employee: Option<bool>,
    pub taxpayer: Option<bool>,
    pub eobi_registered: Option<bool>,
    pub eobi_contribution_years: Option<i32>,
    pub essi_registered: Option<bool>,
    pub institution_type: Option<String>,
    pub pension_drawn: Option<String>,
    pub years_of_service: Option<i32>,
    pub employment_injury: Option<bool>,
    pub certified_unfit: Option<bool>,
    pub protection_need: Option<bool>,
    pub substance_use: Option<bool>,
    pub marriage_arranged: Option<bool>,
    pub status: String,
    pub removal_reason: Option<String>,
    pub removed_at: Option<NaiveDateTime>,
    pub date_of_death: Option<NaiveDate>,
}

/// The member the rules read the deceased's facts from: of the members removed with the
/// reason `deceased`, the one removed last. Their own record (EOBI and ESSI insurance,
/// employment, pension) is the deceased's, with the date of death.
#[derive(Debug, Clone)]
pub struct Deceased {
    /// The deceased's record.
    pub fields: MemberFields,
    /// Date of death, if recorded.
    pub date_of_death: Option<NaiveDate>,
    /// When the member was removed (orders several deceased members).
    pub removed_at: Option<NaiveDateTime>,
}

/// A household's members as the rules read them: the current members, and the deceased.
#[derive(Debug, Clone, Default)]
pub struct RuleMembers {
    /// Current members, in the order read.
    pub current: Vec<MemberFields>,
    /// The member removed last as deceased, if any.
    pub deceased: Option<Deceased>,
}

/// The reason a deceased member is removed with.
pub const REASON_DECEASED: &str = "deceased";

impl RuleMembers {
    /// Adds a member read from the database: current, or removed as deceased (others are
    /// ignored); of several deceased members the one removed last is kept.
    pub fn add(
        &mut self,
        status: &str,
        reason: Option<&str>,
        fields: MemberFields,
        death: (Option<NaiveDate>, Option<NaiveDateTime>),
    ) {
        if status == STATUS_CURRENT {
            self.current.push(fields);
        } else if reason == Some(REASON_DECEASED)
            && self.deceased.as_ref().is_none_or(|d| (d.removed_at, d.date_of_death) <= (death.1, death.0))
        {
            self.deceased = Some(Deceased { fields, date_of_death: death.0, removed_at: death.1 });
        }
    }

    /// From a household's stored member rows.
    pub fn from_rows(rows: &[MemberRow]) -> Self {
        let mut out = Self::default();
        for m in rows {
            out.add(&m.status, m.removal_reason.as_deref(), MemberFields::from_row(m), (m.date_of_death, m.removed_at));
        }
        out
    }

    /// Groups rows of [`MemberFactsRow`] by household.
    pub fn by_household(rows: Vec<MemberFactsRow>) -> std::collections::HashMap<String, RuleMembers> {
        let mut out: std::collections::HashMap<String, RuleMembers> = std::collections::HashMap::new();
        for m in rows {
            let fields = MemberFields::from_facts_row(&m);
            let death = (m.date_of_death, m.removed_at);
            out.entry(m.household_id).or_default().add(&m.status, m.removal_reason.as_deref(), fields, death);
        }
        out
    }
}

fn code<T: Copy>(value: &Option<String>, parse: fn(&str) -> Option<T>) -> Option<T> {
    value.as_deref().and_then(parse)
}

fn text<T: Copy>(value: Option<T>, as_str: fn(T) -> &'static str) -> Option<String> {
    value.map(|v| as_str(v).to_string())
}

impl MemberFields {
    /// Reads the fields of a stored row. Stored codes are guaranteed by the write path;
    /// an unreadable one falls back to the most neutral value rather than failing a read.
    pub fn from_row(row: &MemberRow) -> Self {
        member_fields!(
            row,
            row.full_name.clone(),
            row.full_name_ur.clone(),
            row.father_or_husband_name.clone(),
            row.id_number.clone()
        )
    }

    /// The fields the rules read, from a [`MemberFactsRow`]; names and ID number are left
    /// empty (the rules never read them).
    pub fn from_facts_row(row: &MemberFactsRow) -> Self {
        member_fields!(row, String::new(), None, None, None)
    }

    /// The key likely duplicates are found by: name, date of birth, father/husband name.
    pub fn dedup_key(&self) -> String {
        let father = self.father_or_husband_name.as_deref().map(crate::domain::search_key).unwrap_or_default();
        format!("{}|{}|{}", crate::domain::search_key(&self.full_name), self.date_of_birth, father)
    }

    /// The columns to write.
    pub fn changeset(&self, now: NaiveDateTime) -> MemberChangeset {
        MemberChangeset {
            full_name: self.full_name.clone(),
            name_key: crate::domain::search_key(&self.full_name),
            full_name_ur: self.full_name_ur.clone(),
            name_key_ur: self.full_name_ur.as_deref().map(crate::domain::search_key),
            father_or_husband_name: self.father_or_husband_name.clone(),
            relation_to_head: self.relation_to_head.as_str().to_string(),
            sex: self.sex.as_str().to_string(),
            date_of_birth: self.date_of_birth,
            id_type: self.id_type.as_str().to_string(),
            id_number: self.id_number.clone(),
            marital_status: text(self.marital_status, MaritalStatus::as_str),
            religion: text(self.religion, Religion::as_str),
            disability: text(self.disability, Disability::as_str),
            disability_certificate: self.disability_certificate,
            chronic_illness: self.chronic_illness,
            is_pregnant: self.is_pregnant,
            is_lactating: self.is_lactating,
            is_orphan: self.is_orphan,
            school_enrolled: self.school_enrolled,
            school_level: text(self.school_level, SchoolLevel::as_str),
            attendance_pct: self.attendance_pct,
            employment: text(self.employment, Employment::as_str),
            monthly_income_pkr: self.monthly_income_pkr,
            govt_employee: self.govt_employee,
            taxpayer: self.taxpayer,
            eobi_registered: self.eobi_registered,
            eobi_contribution_years: self.eobi_contribution_years,
            essi_registered: self.essi_registered,
            institution_type: text(self.institution_type, InstitutionType::as_str),
            pension_drawn: text(self.pension_drawn, PensionDrawn::as_str),
            years_of_service: self.years_of_service,
            employment_injury: self.employment_injury,
            certified_unfit: self.certified_unfit,
            protection_need: self.protection_need,
            substance_use: self.substance_use,
            marriage_arranged: self.marriage_arranged,
            dedup_key: self.dedup_key(),
            updated_at: now,
        }
    }

    /// A new current member row.
    pub fn new_row(&self, id: String, household_id: &str, now: NaiveDateTime) -> MemberRow {
        let c = self.changeset(now);
        MemberRow {
            id,
            household_id: household_id.to_string(),
            status: STATUS_CURRENT.to_string(),
            removal_reason: None,
            removed_at: None,
            full_name: c.full_name,
            name_key: c.name_key,
            father_or_husband_name: c.father_or_husband_name,
            relation_to_head: c.relation_to_head,
            sex: c.sex,
            date_of_birth: c.date_of_birth,
            id_type: c.id_type,
            id_number: c.id_number,
            marital_status: c.marital_status,
            religion: c.religion,
            disability: c.disability,
            disability_certificate: c.disability_certificate,
            chronic_illness: c.chronic_illness,
            is_pregnant: c.is_pregnant,
            is_lactating: c.is_lactating,
            is_orphan: c.is_orphan,
            school_enrolled: c.school_enrolled,
            school_level: c.school_level,
            attendance_pct: c.attendance_pct,
            employment: c.employment,
            monthly_income_pkr: c.monthly_income_pkr,
            govt_employee: c.govt_employee,
            taxpayer: c.taxpayer,
            eobi_registered: c.eobi_registered,
            eobi_contribution_years: c.eobi_contribution_years,
            essi_registered: c.essi_registered,
            dedup_key: c.dedup_key,
            created_at: now,
            updated_at: now,
            full_name_ur: c.full_name_ur,
            name_key_ur: c.name_key_ur,
            institution_type: c.institution_type,
            pension_drawn: c.pension_drawn,
            years_of_service: c.years_of_service,
            employment_injury: c.employment_injury,
            certified_unfit: c.certified_unfit,
            protection_need: c.protection_need,
            substance_use: c.substance_use,
            marriage_arranged: c.marriage_arranged,
            date_of_death: None,
        }
    }
}

/// One entry of a household's history.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = household_changes)]
pub struct ChangeRow {
    pub id: String,
    pub household_id: String,
    pub member_id: Option<String>,
    pub version: i64,
    pub change_type: String,
    pub changes: String,
    pub reason: Option<String>,
    pub changed_by: String,
    pub changed_at: NaiveDateTime,
}

//! The data dictionary as the rules see it, and the facts the engine evaluates.
//!
//! Every field a rule may name is one row of [`FIELDS`]: its name, whether it belongs to the
//! household or to a member, its slot, its type and (for derived values) the field it is
//! computed from. Facts are flat arrays of `i64` slots ([`super::num`] encoding; booleans 0/1,
//! coded values by their position in the dictionary's list, dates as days), so a compiled
//! rule reads a field with one indexed load and never converts values while it runs.
//!
//! Adding a registry field to the rules: a row here, and one line in [`Facts::from_registry`].

use chrono::{Datelike, NaiveDate};

use super::num::{self, UNKNOWN};
use crate::domain::codes::*;
use crate::registry::model::{Deceased, HouseholdFields, MemberFields};

/// Household slots.
pub const HH_SLOTS: usize = 19;
// Household slots of the deceased member's date of death and the months since it.
const DEATH: usize = 17;
const MONTHS_SINCE_DEATH: usize = 18;
// Member slots the engine fills itself. The member layout puts the fields rules test most
// (age, disability, sex, schooling, employment, …) first, so most tests read one cache line
// of each member.
const AGE: usize = 0;
const AGE_MONTHS: usize = 21;
const DOB: usize = 23;
/// Member slots.
pub const MEMBER_SLOTS: usize = 32;

/// Where a field lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One value per household.
    Household,
    /// One value per member (usable inside `any`/`all`/`count`).
    Member,
}

/// The type of a field as rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// Yes/no.
    Bool,
    /// An exact decimal number (money, scores, counts, ages).
    Num,
    /// One of a fixed list of coded values.
    Coded(&'static [&'static str]),
    /// A date: registry input only, read by rules through `age` and `age_months`.
    Date,
}

impl Ty {
    /// How the type is named in error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Ty::Bool => "yes/no",
            Ty::Num => "a number",
            Ty::Coded(_) => "a coded value",
            Ty::Date => "a date",
        }
    }
}

/// One field of the dictionary.
#[derive(Debug)]
pub struct Field {
    /// The name rules and the API use.
    pub name: &'static str,
    /// Household or member.
    pub scope: Scope,
    /// Slot index in the facts array of its scope.
    pub slot: usize,
    /// Type.
    pub ty: Ty,
    /// For a derived value, the registry field that decides it (reported as missing);
    /// `None` for a value that is always known (`size`); the field itself otherwise.
    pub source: Option<&'static str>,
    /// Computed by the engine, not given in facts.
    pub derived: bool,
}

const fn field(name: &'static str, scope: Scope, slot: usize, ty: Ty) -> Field {
    Field { name, scope, slot, ty, source: Some(name), derived: false }
}

const fn derived(name: &'static str, scope: Scope, slot: usize, source: Option<&'static str>) -> Field {
    Field { name, scope, slot, ty: Ty::Num, source, derived: true }
}

/// The district codes the rules know (the reference data shipped with the service).
pub fn districts() -> &'static [&'static str] {
    static CODES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    CODES.get_or_init(|| {
        include_str!("kp-districts.csv")
            .lines()
            .skip(1)
            .filter_map(|line| line.split(',').next())
            .filter(|code| !code.is_empty())
            .collect()
    })
}

use Scope::{Household as H, Member as M};

/// Every field a rule may name.
pub static FIELDS: &[Field] = &[
    Field { name: "district", scope: H, slot: 0, ty: Ty::Coded(&[]), source: Some("district"), derived: false },
    field("area_type", H, 1, Ty::Coded(AreaType::TEXTS)),
    field("monthly_income_pkr", H, 2, Ty::Num),
    field("pmt_score", H, 3, Ty::Num),
    field("land_acres", H, 4, Ty::Num),
    field("livestock_heads", H, 5, Ty::Num),
    field("house_ownership", H, 6, Ty::Coded(HouseOwnership::TEXTS)),
    field("rooms", H, 7, Ty::Num),
    field("owns_vehicle", H, 8, Ty::Bool),
    derived("size", H, 9, None),
    derived("income_per_capita", H, 10, Some("monthly_income_pkr")),
    field("owns_residential_plot", H, 11, Ty::Bool),
    // The member most recently removed as `deceased` (unknown when none is recorded).
    field("deceased_eobi_registered", H, 12, Ty::Bool),
    field("deceased_eobi_contribution_years", H, 13, Ty::Num),
    field("deceased_essi_registered", H, 14, Ty::Bool),
    field("deceased_employment", H, 15, Ty::Coded(Employment::TEXTS)),
    field("deceased_pension_drawn", H, 16, Ty::Coded(PensionDrawn::TEXTS)),
    field("deceased_date_of_death", H, DEATH, Ty::Date),
    derived("months_since_death", H, MONTHS_SINCE_DEATH, Some("deceased_date_of_death")),
    field("relation_to_head", M, 22, Ty::Coded(Relation::TEXTS)),
    field("sex", M, 2, Ty::Coded(Sex::TEXTS)),
    field("date_of_birth", M, 23, Ty::Date),
    field("id_type", M, 11, Ty::Coded(IdType::TEXTS)),
    field("marital_status", M, 6, Ty::Coded(MaritalStatus::TEXTS)),
    field("religion", M, 8, Ty::Coded(Religion::TEXTS)),
    field("disability", M, 1, Ty::Coded(Disability::TEXTS)),
    field("disability_certificate", M, 15, Ty::Bool),
    field("chronic_illness", M, 16, Ty::Bool),
    field("is_pregnant", M, 17, Ty::Bool),
    field("is_lactating", M, 20, Ty::Bool),
    field("is_orphan", M, 12, Ty::Bool),
    field("school_enrolled", M, 3, Ty::Bool),
    field("school_level", M, 5, Ty::Coded(SchoolLevel::TEXTS)),
    field("attendance_pct", M, 18, Ty::Num),
    field("employment", M, 4, Ty::Coded(Employment::TEXTS)),
    field("monthly_income_pkr", M, 10, Ty::Num),
    field("govt_employee", M, 7, Ty::Bool),
    field("taxpayer", M, 19, Ty::Bool),
    field("eobi_registered", M, 13, Ty::Bool),
    field("eobi_contribution_years", M, 14, Ty::Num),
    field("essi_registered", M, 9, Ty::Bool),
    field("institution_type", M, 24, Ty::Coded(InstitutionType::TEXTS)),
    field("pension_drawn", M, 25, Ty::Coded(PensionDrawn::TEXTS)),
    field("years_of_service", M, 26, Ty::Num),
    field("employment_injury", M, 27, Ty::Bool),
    field("certified_unfit", M, 28, Ty::Bool),
    field("protection_need", M, 29, Ty::Bool),
    field("substance_use", M, 30, Ty::Bool),
    field("marriage_arranged", M, 31, Ty::Bool),
    derived("age", M, 0, Some("date_of_birth")),
    derived("age_months", M, 21, Some("date_of_birth")),
];

impl Field {
    /// The coded values of a coded field (the district list for `district`).
    pub fn codes(&self) -> &'static [&'static str] {
        match self.ty {
            Ty::Coded(_) if self.name == "district" => districts(),
            Ty::Coded(codes) => codes,
            _ => &[],
        }
    }
}

/// The field called `name` in `scope`.
pub fn lookup(scope: Scope, name: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.scope == scope && f.name == name)
}

/// The field at `slot` of `scope`.
pub fn at(scope: Scope, slot: usize) -> &'static Field {
    FIELDS.iter().find(|f| f.scope == scope && f.slot == slot).unwrap_or(&FIELDS[0])
}

/// Every name of a scope, for "did you mean" hints.
pub fn names(scope: Scope) -> impl Iterator<Item = &'static str> {
    FIELDS.iter().filter(move |f| f.scope == scope).map(|f| f.name)
}

/// One household's facts: household slots and one slot array per current member.
#[derive(Debug, Clone)]
pub struct Facts {
    /// Household slots.
    pub household: [i64; HH_SLOTS],
    /// Member slots, in the household's member order.
    pub members: Vec<[i64; MEMBER_SLOTS]>,
    /// The schemes the household is enrolled in (indices in the rule set), for
    /// `enrolled("…")`. Empty when none is known.
    pub enrolled: Vec<usize>,
}

impl Default for Facts {
    fn default() -> Self {
        Facts { household: [UNKNOWN; HH_SLOTS], members: Vec::new(), enrolled: Vec::new() }
    }
}

fn opt_bool(v: Option<bool>) -> i64 {
    v.map_or(UNKNOWN, i64::from)
}

fn opt_int(v: Option<i64>) -> i64 {
    v.map_or(UNKNOWN, num::int)
}

fn opt_code(v: Option<usize>) -> i64 {
    v.map_or(UNKNOWN, |i| i as i64)
}

/// A date's slot value: `yyyymmdd` as an integer (ordered like dates, and the age arithmetic
/// needs only its digits).
pub fn date_slot(date: NaiveDate) -> i64 {
    i64::from(date.year()) * 10_000 + i64::from(date.month()) * 100 + i64::from(date.day())
}

impl Facts {
    /// Clears the facts for reuse (keeps the member buffer's capacity).
    pub fn clear(&mut self) {
        self.household = [UNKNOWN; HH_SLOTS];
        self.members.clear();
        self.enrolled.clear();
    }

    /// A new member with every field unknown; returns its slots.
    pub fn push_member(&mut self) -> &mut [i64; MEMBER_SLOTS] {
        self.members.push([UNKNOWN; MEMBER_SLOTS]);
        let last = self.members.len() - 1;
        &mut self.members[last]
    }

    /// Fills the facts from a registry household (current members only).
    pub fn fill_from_registry<'a>(
        &mut self,
        district: &str,
        h: &HouseholdFields,
        members: impl IntoIterator<Item = &'a MemberFields>,
    ) {
        self.clear();
        let s = &mut self.household;
        s[0] = opt_code(districts().iter().position(|d| *d == district));
        s[1] = opt_code(h.area_type.map(AreaType::index));
        s[2] = opt_int(h.monthly_income_pkr);
        s[3] = h.pmt_score.map_or(UNKNOWN, num::from_f64);
        s[4] = h.land_acres.map_or(UNKNOWN, num::from_f64);
        s[5] = opt_int(h.livestock_heads.map(i64::from));
        s[6] = opt_code(h.house_ownership.map(HouseOwnership::index));
        s[7] = opt_int(h.rooms.map(i64::from));
        s[8] = opt_bool(h.owns_vehicle);
        s[11] = opt_bool(h.owns_residential_plot);
        for m in members {
            let s = self.push_member();
            s[22] = m.relation_to_head.index() as i64;
            s[2] = m.sex.index() as i64;
            s[23] = date_slot(m.date_of_birth);
            s[11] = m.id_type.index() as i64;
            s[6] = opt_code(m.marital_status.map(MaritalStatus::index));
            s[8] = opt_code(m.religion.map(Religion::index));
            s[1] = opt_code(m.disability.map(Disability::index));
            s[15] = opt_bool(m.disability_certificate);
            s[16] = opt_bool(m.chronic_illness);
            s[17] = opt_bool(m.is_pregnant);
            s[20] = opt_bool(m.is_lactating);
            s[12] = opt_bool(m.is_orphan);
            s[3] = opt_bool(m.school_enrolled);
            s[5] = opt_code(m.school_level.map(SchoolLevel::index));
            s[18] = opt_int(m.attendance_pct.map(i64::from));
            s[4] = opt_code(m.employment.map(Employment::index));
            s[10] = opt_int(m.monthly_income_pkr);
            s[7] = opt_bool(m.govt_employee);
            s[19] = opt_bool(m.taxpayer);
            s[13] = opt_bool(m.eobi_registered);
            s[14] = opt_int(m.eobi_contribution_years.map(i64::from));
            s[9] = opt_bool(m.essi_registered);
            s[24] = opt_code(m.institution_type.map(InstitutionType::index));
            s[25] = opt_code(m.pension_drawn.map(PensionDrawn::index));
            s[26] = opt_int(m.years_of_service.map(i64::from));
            s[27] = opt_bool(m.employment_injury);
            s[28] = opt_bool(m.certified_unfit);
            s[29] = opt_bool(m.protection_need);
            s[30] = opt_bool(m.substance_use);
            s[31] = opt_bool(m.marriage_arranged);
        }
    }

    /// Fills the household values of the deceased member (see [`Deceased`]); with none
    /// recorded they stay unknown. Call after [`Facts::fill_from_registry`].
    pub fn fill_deceased(&mut self, deceased: Option<&Deceased>) {
        let Some(d) = deceased else { return };
        let (s, m) = (&mut self.household, &d.fields);
        s[12] = opt_bool(m.eobi_registered);
        s[13] = opt_int(m.eobi_contribution_years.map(i64::from));
        s[14] = opt_bool(m.essi_registered);
        s[15] = opt_code(m.employment.map(Employment::index));
        s[16] = opt_code(m.pension_drawn.map(PensionDrawn::index));
        s[DEATH] = d.date_of_death.map_or(UNKNOWN, date_slot);
    }

    /// Computes the derived slots for the evaluation date: `size`, `income_per_capita`,
    /// and each member's `age` and `age_months` (the arithmetic of docs/DATA.md, "Derived values").
    pub fn derive(&mut self, as_of: NaiveDate) {
        let size = num::int(self.members.len() as i64);
        self.household[9] = size;
        self.household[10] = num::div(self.household[2], size);
        let on = date_slot(as_of);
        let death = self.household[DEATH];
        self.household[MONTHS_SINCE_DEATH] = if death == UNKNOWN { UNKNOWN } else { ages_of(death, on).1 };
        for m in &mut self.members {
            let (age, months) = if m[DOB] == UNKNOWN { (UNKNOWN, UNKNOWN) } else { ages_of(m[DOB], on) };
            m[AGE] = age;
            m[AGE_MONTHS] = months;
        }
    }
}

/// Completed years and months between two `yyyymmdd` slot values.
#[inline]
fn ages_of(dob: i64, on: i64) -> (i64, i64) {
    let (by, bm, bd) = (dob / 10_000, dob / 100 % 100, dob % 100);
    let (y, m, d) = (on / 10_000, on / 100 % 100, on % 100);
    let years = y - by - i64::from((m, d) < (bm, bd));
    let months = 12 * (y - by) + (m - bm) - i64::from(d < bd);
    (num::int(years), num::int(months))
}

/// Completed years and months at `as_of` (may be negative for a date of birth after it).
pub fn ages(dob: NaiveDate, as_of: NaiveDate) -> (i64, i64) {
    ages_of(date_slot(dob), date_slot(as_of))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn age_arithmetic_follows_the_rules() {
        let years = |dob, as_of| ages(d(dob), d(as_of)).0 / num::SCALE;
        let months = |dob, as_of| ages(d(dob), d(as_of)).1 / num::SCALE;
        assert_eq!(years("2007-01-15", "2025-01-14"), 17);
        assert_eq!(years("2007-01-15", "2025-01-15"), 18);
        // Born on 29 February: the birthday counts on 1 March in common years.
        assert_eq!(years("2008-02-29", "2026-02-28"), 17);
        assert_eq!(years("2008-02-29", "2026-03-01"), 18);
        assert_eq!(years("2008-02-29", "2028-02-29"), 20);
        assert_eq!(months("2024-01-31", "2024-02-29"), 0);
        assert_eq!(months("2024-01-31", "2024-03-31"), 2);
        assert_eq!(months("2023-03-15", "2025-03-14"), 23);
        assert_eq!(months("2023-03-15", "2025-03-15"), 24);
    }

    #[test]
    fn slots_are_unique_per_scope() {
        for scope in [Scope::Household, Scope::Member] {
            let mut slots: Vec<usize> = FIELDS.iter().filter(|f| f.scope == scope).map(|f| f.slot).collect();
            let n = slots.len();
            slots.sort_unstable();
            slots.dedup();
            assert_eq!(slots.len(), n);
            let max = if scope == Scope::Household { HH_SLOTS } else { MEMBER_SLOTS };
            assert_eq!(slots, (0..max).collect::<Vec<_>>());
        }
        assert!(districts().contains(&"peshawar"));
    }
}

//! Turning request JSON into validated households and members, one error per bad field.
//! Updates are JSON merge patches (RFC 7396) applied to the stored record and parsed again
//! by the same code, so a record is validated the same way however it is written.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::model::{HouseholdFields, MemberFields};
use crate::domain::codes::{IdType, Relation};
use crate::domain::reader::{Reader, flat};
use crate::domain::{NationalId, PersonName, Phone};
use crate::error::FieldError;

/// Most members a household may have.
pub const MAX_MEMBERS: usize = 30;

/// A household as submitted for registration.
#[derive(Debug, Clone)]
pub struct NewHousehold {
    /// District code (checked against reference data by the service).
    pub district: String,
    /// Household attributes.
    pub fields: HouseholdFields,
    /// Members, in the order given.
    pub members: Vec<MemberFields>,
}

/// The household fields a clerk may change with PATCH.
pub const HOUSEHOLD_EDITABLE: &[&str] = &[
    "tehsil",
    "union_council",
    "village",
    "address",
    "area_type",
    "phone",
    "monthly_income_pkr",
    "pmt_score",
    "land_acres",
    "livestock_heads",
    "house_ownership",
    "rooms",
    "owns_vehicle",
    "owns_residential_plot",
];

/// The member fields a clerk may change with PATCH.
pub const MEMBER_EDITABLE: &[&str] = &[
    "full_name",
    "full_name_ur",
    "father_or_husband_name",
    "relation_to_head",
    "sex",
    "date_of_birth",
    "id_type",
    "id_number",
    "marital_status",
    "religion",
    "disability",
    "disability_certificate",
    "chronic_illness",
    "is_pregnant",
    "is_lactating",
    "is_orphan",
    "school_enrolled",
    "school_level",
    "attendance_pct",
    "employment",
    "monthly_income_pkr",
    "govt_employee",
    "taxpayer",
    "eobi_registered",
    "eobi_contribution_years",
    "essi_registered",
    "institution_type",
    "pension_drawn",
    "years_of_service",
    "employment_injury",
    "certified_unfit",
    "protection_need",
    "substance_use",
    "marriage_arranged",
];

fn read_household_fields(r: &mut Reader<'_, '_>) -> HouseholdFields {
    HouseholdFields {
        tehsil: flat(r.text("tehsil", 100)),
        union_council: flat(r.text("union_council", 100)),
        village: flat(r.text("village", 100)),
        address: flat(r.text("address", 500)),
        area_type: flat(r.code("area_type")),
        phone: flat(r.parsed("phone", |s| Phone::parse(s).map(|p| p.as_str().to_string()))),
        monthly_income_pkr: flat(r.int("monthly_income_pkr", 0, 100_000_000)),
        pmt_score: flat(r.number("pmt_score", 0.0, 100.0, 2)),
        land_acres: flat(r.number("land_acres", 0.0, 100_000.0, 2)),
        livestock_heads: flat(r.int("livestock_heads", 0, 100_000)).map(|n| n as i32),
        house_ownership: flat(r.code("house_ownership")),
        rooms: flat(r.int("rooms", 1, 50)).map(|n| n as i32),
        owns_vehicle: flat(r.boolean("owns_vehicle")),
        owns_residential_plot: flat(r.boolean("owns_residential_plot")),
    }
}

/// Parses the household attributes alone (used by updates).
pub fn parse_household_fields(body: &Value) -> Result<HouseholdFields, Vec<FieldError>> {
    let mut errors = Vec::new();
    let fields = Reader::new(body, "", &mut errors).map(|mut r| {
        let fields = read_household_fields(&mut r);
        r.finish();
        fields
    });
    match fields {
        Some(f) if errors.is_empty() => Ok(f),
        _ => Err(errors),
    }
}

/// The district of a registration body if it is well-formed text (as [`parse_new_household`]
/// reads it), so a body refused for other fields can still have its district checked.
pub fn district_of(body: &Value) -> Option<String> {
    let mut ignored = Vec::new();
    Reader::new(body, "", &mut ignored).and_then(|mut r| flat(r.text("district", 40)))
}

/// Parses a registration body: district, attributes and members.
pub fn parse_new_household(body: &Value, today: NaiveDate) -> Result<NewHousehold, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut members = Vec::new();
    let mut parsed = None;
    if let Some(mut r) = Reader::new(body, "", &mut errors) {
        let district = r.text("district", 40);
        let district = r.required("district", district);
        let fields = read_household_fields(&mut r);
        let raw_members = r.raw("members");
        r.finish();
        parsed = district.map(|d| (d, fields));
        match raw_members.flatten().map(Value::as_array) {
            Some(Some(list)) if !list.is_empty() && list.len() <= MAX_MEMBERS => {
                for (i, value) in list.iter().enumerate() {
                    if let Some(m) = read_member(value, &format!("members[{i}]"), today, &mut errors) {
                        members.push((i, m));
                    }
                }
            }
            Some(Some(list)) if list.len() > MAX_MEMBERS => {
                errors.push(FieldError::new("members", "too_many", "a household has at most 30 members"));
            }
            Some(Some(_)) | None => {
                errors.push(FieldError::new("members", "required", "a household needs at least one member"));
            }
            Some(None) => errors.push(FieldError::new("members", "invalid_type", "must be a list of members")),
        }
    }
    check_members(&members, &mut errors);
    match parsed {
        Some((district, fields)) if errors.is_empty() => {
            Ok(NewHousehold { district, fields, members: members.into_iter().map(|(_, m)| m).collect() })
        }
        _ => {
            errors.sort_by(|a, b| a.field.cmp(&b.field));
            Err(errors)
        }
    }
}

/// Household-level rules over the members: exactly one head, no ID number twice.
fn check_members(members: &[(usize, MemberFields)], errors: &mut Vec<FieldError>) {
    let heads = members.iter().filter(|(_, m)| m.relation_to_head == Relation::Head).count();
    if !members.is_empty() && heads != 1 && !errors.iter().any(|e| e.field.ends_with("relation_to_head")) {
        errors.push(FieldError::new("members", "one_head", "exactly one member must have relation_to_head = head"));
    }
    for (pos, (i, m)) in members.iter().enumerate() {
        let Some(id) = &m.id_number else { continue };
        if members[..pos].iter().any(|(_, other)| other.id_number.as_ref() == Some(id)) {
            errors.push(FieldError::new(
                format!("members[{i}].id_number"),
                "duplicate_in_request",
                "this ID number is given to another member of this household",
            ));
        }
    }
}

/// Parses one member object at `path`.
pub fn parse_member(value: &Value, path: &str, today: NaiveDate) -> Result<MemberFields, Vec<FieldError>> {
    let mut errors = Vec::new();
    match read_member(value, path, today, &mut errors) {
        Some(m) if errors.is_empty() => Ok(m),
        _ => Err(errors),
    }
}

fn read_member(value: &Value, path: &str, today: NaiveDate, errors: &mut Vec<FieldError>) -> Option<MemberFields> {
    let mut r = Reader::new(value, path, errors)?;
    let full_name = r.parsed("full_name", |s| PersonName::parse(s, 200).map(PersonName::into_string));
    let full_name_ur = r.parsed("full_name_ur", |s| PersonName::parse_urdu(s, 200).map(PersonName::into_string));
    let father = r.parsed("father_or_husband_name", |s| PersonName::parse(s, 200).map(PersonName::into_string));
    let relation = r.code::<Relation>("relation_to_head");
    let sex = r.code("sex");
    let dob = r.date("date_of_birth");
    let id_type = r.code::<IdType>("id_type");
    let id_number = r.parsed("id_number", |s| NationalId::parse(s).map(|n| n.as_str().to_string()));
    let member = MemberFields {
        full_name: r.required("full_name", full_name).unwrap_or_default(),
        full_name_ur: flat(full_name_ur),
        father_or_husband_name: flat(father),
        relation_to_head: r.required("relation_to_head", relation).unwrap_or(Relation::Unrelated),
        sex: r.required("sex", sex).unwrap_or(crate::domain::codes::Sex::Transgender),
        date_of_birth: r.required("date_of_birth", dob).unwrap_or_default(),
        id_type: r.required("id_type", id_type).unwrap_or(IdType::None),
        id_number: flat(id_number.clone()),
        marital_status: flat(r.code("marital_status")),
        religion: flat(r.code("religion")),
        disability: flat(r.code("disability")),
        disability_certificate: flat(r.boolean("disability_certificate")),
        chronic_illness: flat(r.boolean("chronic_illness")),
        is_pregnant: flat(r.boolean("is_pregnant")),
        is_lactating: flat(r.boolean("is_lactating")),
        is_orphan: flat(r.boolean("is_orphan")),
        school_enrolled: flat(r.boolean("school_enrolled")),
        school_level: flat(r.code("school_level")),
        attendance_pct: flat(r.int("attendance_pct", 0, 100)).map(|n| n as i32),
        employment: flat(r.code("employment")),
        monthly_income_pkr: flat(r.int("monthly_income_pkr", 0, 100_000_000)),
        govt_employee: flat(r.boolean("govt_employee")),
        taxpayer: flat(r.boolean("taxpayer")),
        eobi_registered: flat(r.boolean("eobi_registered")),
        eobi_contribution_years: flat(r.int("eobi_contribution_years", 0, 60)).map(|n| n as i32),
        essi_registered: flat(r.boolean("essi_registered")),
        institution_type: flat(r.code("institution_type")),
        pension_drawn: flat(r.code("pension_drawn")),
        years_of_service: flat(r.int("years_of_service", 0, 60)).map(|n| n as i32),
        employment_injury: flat(r.boolean("employment_injury")),
        certified_unfit: flat(r.boolean("certified_unfit")),
        protection_need: flat(r.boolean("protection_need")),
        substance_use: flat(r.boolean("substance_use")),
        marriage_arranged: flat(r.boolean("marriage_arranged")),
    };
    if let Some(Some(dob)) = dob {
        if dob > today {
            r.error("date_of_birth", "in_future", "must not be in the future");
        } else if dob < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default() {
            r.error("date_of_birth", "too_early", "must not be before 1900-01-01");
        }
    }
    match (id_type, &id_number) {
        (Some(Some(IdType::None)), Some(Some(_))) => {
            r.error("id_number", "not_allowed", "leave the ID number out when id_type is none")
        }
        (Some(Some(IdType::Cnic | IdType::BForm)), None | Some(None)) if !r.has_error("id_number") => {
            r.error("id_number", "required", "is required when id_type is cnic or b_form")
        }
        _ => {}
    }
    r.finish();
    Some(member)
}

/// Applies a JSON merge patch to `current` (an object), allowing only `editable` keys.
/// `null` removes the key (the value becomes unknown).
pub fn merge_patch(current: &Value, patch: &Value, editable: &[&str]) -> Result<Value, Vec<FieldError>> {
    let (merged, errors) = merge(current, patch, editable)?;
    if errors.is_empty() { Ok(merged) } else { Err(errors) }
}

/// [`merge_patch`], then `parse` of the result. A key that may not be changed here is
/// reported together with the field errors of the rest of the patch, in one list.
pub fn patched<T>(
    current: &Value,
    patch: &Value,
    editable: &[&str],
    parse: impl FnOnce(&Value) -> Result<T, Vec<FieldError>>,
) -> Result<T, Vec<FieldError>> {
    let (merged, mut errors) = merge(current, patch, editable)?;
    match parse(&merged) {
        Ok(parsed) if errors.is_empty() => Ok(parsed),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more);
            errors.sort_by(|a, b| a.field.cmp(&b.field));
            Err(errors)
        }
    }
}

/// The merged object (editable keys only) and an error for each key that is not editable.
fn merge(current: &Value, patch: &Value, editable: &[&str]) -> Result<(Value, Vec<FieldError>), Vec<FieldError>> {
    let Some(patch) = patch.as_object() else {
        return Err(vec![FieldError::new("body", "invalid_type", "expected a JSON object")]);
    };
    let mut errors = Vec::new();
    let mut merged: Map<String, Value> = current.as_object().cloned().unwrap_or_default();
    let mut keys: Vec<&String> = patch.keys().collect();
    keys.sort();
    for key in keys {
        if !editable.contains(&key.as_str()) {
            errors.push(FieldError::new(key.clone(), "not_editable", "this field cannot be changed here"));
        } else if patch[key].is_null() {
            merged.remove(key);
        } else {
            merged.insert(key.clone(), patch[key].clone());
        }
    }
    Ok((Value::Object(merged), errors))
}

/// The JSON object of some fields with `null`s dropped (absent = unknown, for re-parsing).
pub fn to_object<T: serde::Serialize>(fields: &T) -> Value {
    let mut value = serde_json::to_value(fields).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    value
}

/// `{field: {"from": old, "to": new}}` for every field that differs.
pub fn diff<T: serde::Serialize>(old: &T, new: &T) -> Map<String, Value> {
    let (old, new) = (serde_json::to_value(old).unwrap_or_default(), serde_json::to_value(new).unwrap_or_default());
    let mut changes = Map::new();
    if let (Some(o), Some(n)) = (old.as_object(), new.as_object()) {
        for (key, new_value) in n {
            let old_value = o.get(key).cloned().unwrap_or(Value::Null);
            if &old_value != new_value {
                changes.insert(key.clone(), serde_json::json!({"from": old_value, "to": new_value}));
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
    }

    fn member(relation: &str, id: Option<&str>) -> Value {
        let mut m = json!({"full_name": "Gul Bibi", "relation_to_head": relation, "sex": "female",
            "date_of_birth": "1980-05-01", "id_type": if id.is_some() { "cnic" } else { "none" }});
        if let Some(id) = id {
            m["id_number"] = json!(id);
        }
        m
    }

    #[test]
    fn a_valid_household_parses() {
        let body = json!({"district": "swat", "phone": "+92 300 1234567", "pmt_score": 12.5,
            "members": [member("head", Some("15602-1234567-2")), member("daughter", None)]});
        let h = parse_new_household(&body, today()).expect("valid");
        assert_eq!(h.fields.phone.as_deref(), Some("03001234567"));
        assert_eq!(h.members[0].id_number.as_deref(), Some("1560212345672"));
        assert_eq!(h.members.len(), 2);
    }

    #[test]
    fn every_bad_field_is_reported_by_path() {
        let mut bad = member("son", Some("15602-1234567-2"));
        bad["date_of_birth"] = json!("2030-01-01");
        bad["sex"] = json!("unknown");
        let body = json!({"district": "swat", "rooms": 0, "colour": "blue",
            "members": [member("spouse", Some("15602-1234567-2")), bad]});
        let errors = parse_new_household(&body, today()).expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
        assert_eq!(
            fields,
            vec![
                "colour:unknown_field",
                "members:one_head",
                "members[1].date_of_birth:in_future",
                "members[1].id_number:duplicate_in_request",
                "members[1].sex:invalid_choice",
                "rooms:out_of_range",
            ]
        );
    }

    #[test]
    fn member_count_limits() {
        let none = json!({"district": "swat", "members": []});
        assert!(parse_new_household(&none, today()).is_err());
        let many: Vec<Value> = (0..31).map(|_| member("son", None)).collect();
        let body = json!({"district": "swat", "members": many});
        let errors = parse_new_household(&body, today()).expect_err("too many");
        assert_eq!(errors[0].code, "too_many");
    }

    #[test]
    fn merge_patch_sets_clears_and_refuses() {
        let current = json!({"rooms": 2, "village": "Kalam"});
        let merged = merge_patch(&current, &json!({"rooms": 3, "village": null}), HOUSEHOLD_EDITABLE).expect("ok");
        assert_eq!(merged, json!({"rooms": 3}));
        let refused = merge_patch(&current, &json!({"district": "peshawar"}), HOUSEHOLD_EDITABLE).expect_err("no");
        assert_eq!(refused[0].code, "not_editable");
    }

    #[test]
    fn a_patch_names_a_field_it_may_not_change_with_the_other_bad_fields() {
        let current = json!({"rooms": 2});
        let patch = json!({"rooms": 0, "district": "peshawar", "phone": "12"});
        let errors = patched(&current, &patch, HOUSEHOLD_EDITABLE, parse_household_fields).expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
        assert_eq!(fields, vec!["district:not_editable", "phone:invalid_format", "rooms:out_of_range"]);
        let ok = patched(&current, &json!({"rooms": 3}), HOUSEHOLD_EDITABLE, parse_household_fields);
        assert_eq!(ok.map(|f| f.rooms), Ok(Some(3)));
    }
}

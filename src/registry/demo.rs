//! Synthetic but realistic households of Khyber Pakhtunkhwa for demos and benchmarks:
//! households of about seven, many children, a share of unknown values, names in Urdu or
//! Latin script (one script per household), and valid, unique ID numbers. Deterministic
//! for a given seed.

use chrono::{Datelike, NaiveDate};
use serde_json::{Map, Value, json};

mod names;

/// A small, fast, seedable generator (SplitMix64); not for anything secret.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: i64, high: i64) -> i64 {
        low + (self.next_u64() % (high - low + 1) as u64) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// One element of a non-empty list.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// The share of households whose names are written in Urdu script.
const URDU_SHARE: f64 = 0.25;
const TEHSILS: &[&str] = &["Tehsil I", "Tehsil II", "Tehsil III", "Tehsil IV"];

/// Districts weighted by rough population share (code, weight).
pub const DISTRICTS: &[(&str, u32)] = &[
    ("peshawar", 45),
    ("mardan", 24),
    ("swat", 23),
    ("charsadda", 16),
    ("nowshera", 15),
    ("mansehra", 16),
    ("dera-ismail-khan", 16),
    ("swabi", 16),
    ("bannu", 12),
    ("kohat", 10),
    ("abbottabad", 13),
    ("lakki-marwat", 9),
    ("haripur", 10),
    ("karak", 7),
    ("lower-dir", 14),
    ("upper-dir", 10),
    ("buner", 9),
    ("shangla", 8),
    ("malakand", 7),
    ("hangu", 5),
    ("tank", 4),
    ("battagram", 5),
    ("bajaur", 11),
    ("khyber", 10),
    ("mohmand", 5),
    ("north-waziristan", 5),
    ("lower-south-waziristan", 4),
    ("kurram", 6),
    ("orakzai", 3),
    ("lower-chitral", 3),
    ("upper-chitral", 2),
    ("kolai-palas", 2),
    ("lower-kohistan", 2),
    ("upper-kohistan", 2),
    ("torghar", 2),
    ("upper-south-waziristan", 3),
];

/// Generates households one by one.
pub struct Generator {
    rng: Rng,
    today: NaiveDate,
    districts: Vec<String>,
    weights: Vec<u32>,
    next_person: u64,
    seed_offset: u64,
    /// The script of the current household's names: Urdu, or Latin.
    urdu: bool,
}

/// 11-digit codes: a bijection of the person counter (an odd multiplier not divisible by
/// 5 is invertible modulo 10^11), so ID numbers never repeat within a run.
const CODE_SPACE: u64 = 100_000_000_000;
const MULTIPLIER: u64 = 482_710_113;

impl Generator {
    /// A generator for `districts` (codes known to the registry), seeded.
    pub fn new(seed: u64, today: NaiveDate, known: &[String]) -> Self {
        let (districts, weights): (Vec<String>, Vec<u32>) = DISTRICTS
            .iter()
            .filter(|(code, _)| known.iter().any(|k| k == code))
            .map(|(c, w)| (c.to_string(), *w))
            .chain(known.iter().filter(|k| !DISTRICTS.iter().any(|(c, _)| c == k)).map(|k| (k.clone(), 3)))
            .unzip();
        let mut rng = Rng::new(seed);
        let seed_offset = rng.next_u64() % CODE_SPACE;
        Self { rng, today, districts, weights, next_person: 0, seed_offset, urdu: false }
    }

    fn district(&mut self) -> String {
        let total: u32 = self.weights.iter().sum();
        let mut roll = (self.rng.next_u64() % u64::from(total.max(1))) as u32;
        for (d, w) in self.districts.iter().zip(&self.weights) {
            if roll < *w {
                return d.clone();
            }
            roll -= w;
        }
        self.districts.first().cloned().unwrap_or_else(|| "peshawar".into())
    }

    fn id_number(&mut self, male: bool) -> String {
        let n = self.next_person;
        self.next_person += 1;
        let code = (n.wrapping_mul(MULTIPLIER) + self.seed_offset) % CODE_SPACE;
        // KP's province digit is 1; the last digit is odd for men, even for women.
        let last = self.rng.range(0, 4) as u64 * 2 + u64::from(male);
        format!("1{code:011}{last}")
    }

    fn birth(&mut self, min_age: i64, max_age: i64) -> NaiveDate {
        let days = self.rng.range(min_age * 365, max_age * 365 + 364);
        self.today - chrono::TimeDelta::days(days)
    }

    fn person(
        &mut self,
        relation: &str,
        male: bool,
        min_age: i64,
        max_age: i64,
        father: Option<&str>,
    ) -> Map<String, Value> {
        let (given, family) =
            (*self.rng.pick(if male { names::MALE } else { names::FEMALE }), *self.rng.pick(names::FAMILY));
        let dob = self.birth(min_age, max_age);
        let age = self.today.year() - dob.year();
        let mut m = Map::new();
        let full_name = format!("{} {}", names::pick(&given, self.urdu), names::pick(&family, self.urdu));
        m.insert("full_name".into(), json!(full_name));
        // The Urdu spelling beside the name of record, as the bilingual console shows it.
        m.insert("full_name_ur".into(), json!(format!("{} {}", given.1, family.1)));
        if let Some(father) = father.filter(|_| self.rng.chance(0.9)) {
            m.insert("father_or_husband_name".into(), json!(father));
        }
        m.insert("relation_to_head".into(), json!(relation));
        m.insert("sex".into(), json!(if male { "male" } else { "female" }));
        m.insert("date_of_birth".into(), json!(dob.to_string()));
        let id_type = if age >= 18 {
            "cnic"
        } else if self.rng.chance(0.6) {
            "b_form"
        } else {
            "none"
        };
        m.insert("id_type".into(), json!(id_type));
        if id_type != "none" {
            let id = self.id_number(male);
            m.insert("id_number".into(), json!(id));
        }
        let known = |rng: &mut Rng| rng.chance(0.88);
        if age >= 16 && known(&mut self.rng) {
            let status = *self.rng.pick(&["married", "married", "married", "never_married", "widowed", "divorced"]);
            m.insert("marital_status".into(), json!(status));
        }
        if known(&mut self.rng) {
            m.insert("religion".into(), json!(if self.rng.chance(0.97) { "muslim" } else { "christian" }));
        }
        if known(&mut self.rng) {
            let disability = if self.rng.chance(0.93) {
                "none"
            } else {
                *self.rng.pick(&["physical", "visual", "hearing", "intellectual"])
            };
            m.insert("disability".into(), json!(disability));
            if disability != "none" {
                m.insert("disability_certificate".into(), json!(self.rng.chance(0.4)));
            }
        }
        if known(&mut self.rng) {
            m.insert("chronic_illness".into(), json!(self.rng.chance(0.08)));
        }
        if !male && (18..=45).contains(&age) && known(&mut self.rng) {
            m.insert("is_pregnant".into(), json!(self.rng.chance(0.08)));
            m.insert("is_lactating".into(), json!(self.rng.chance(0.15)));
        }
        if age < 18 && known(&mut self.rng) {
            m.insert("is_orphan".into(), json!(self.rng.chance(0.04)));
        }
        if (5..=16).contains(&age) && known(&mut self.rng) {
            let enrolled = self.rng.chance(0.7);
            m.insert("school_enrolled".into(), json!(enrolled));
            if enrolled {
                m.insert("school_level".into(), json!(if age <= 10 { "primary" } else { "secondary" }));
                m.insert("attendance_pct".into(), json!(self.rng.range(50, 100)));
            }
        }
        if age >= 18 && known(&mut self.rng) {
            let employment = if male {
                *self.rng.pick(&[
                    "employed_informal",
                    "employed_informal",
                    "self_employed",
                    "unemployed",
                    "employed_formal",
                    "retired",
                ])
            } else {
                *self.rng.pick(&["homemaker", "homemaker", "homemaker", "employed_informal", "unemployed"])
            };
            m.insert("employment".into(), json!(employment));
            m.insert("govt_employee".into(), json!(employment == "employed_formal" && self.rng.chance(0.3)));
            m.insert("taxpayer".into(), json!(employment == "employed_formal" && self.rng.chance(0.4)));
            if employment.starts_with("employed") || employment == "self_employed" {
                m.insert("monthly_income_pkr".into(), json!(self.rng.range(8, 60) * 1000));
                let eobi = employment == "employed_formal" && self.rng.chance(0.6);
                m.insert("eobi_registered".into(), json!(eobi));
                if eobi {
                    m.insert(
                        "eobi_contribution_years".into(),
                        json!(self.rng.range(1, (age - 17).clamp(1, 40) as i64)),
                    );
                }
            }
        }
        if age < 14 {
            m.insert("employment".into(), json!("child"));
        }
        self.deciding_facts(&mut m, male, age);
        m
    }

    /// The facts the last catalogue schemes decide on, each recorded for part of the members
    /// (the sensitive ones rarely: they need the person's consent).
    fn deciding_facts(&mut self, m: &mut Map<String, Value>, male: bool, age: i32) {
        let is = |m: &Map<String, Value>, key: &str, value: &str| m.get(key).and_then(Value::as_str) == Some(value);
        if m.get("school_enrolled") == Some(&json!(true)) && self.rng.chance(0.8) {
            let kind = *self.rng.pick(&["government", "government", "government", "private", "madrasa", "community"]);
            m.insert("institution_type".into(), json!(kind));
        }
        if is(m, "employment", "employed_formal") && self.rng.chance(0.7) {
            m.insert("years_of_service".into(), json!(self.rng.range(0, i64::from(age - 17).clamp(1, 30))));
            m.insert("certified_unfit".into(), json!(self.rng.chance(0.05)));
        }
        if age >= 55 && self.rng.chance(0.7) {
            let pension = if is(m, "employment", "retired") {
                *self.rng.pick(&["eobi", "government", "none", "essi"])
            } else {
                "none"
            };
            m.insert("pension_drawn".into(), json!(pension));
        }
        if m.get("disability").is_some_and(|d| d != "none") && age >= 18 && self.rng.chance(0.6) {
            m.insert("employment_injury".into(), json!(self.rng.chance(0.15)));
        }
        if !male && age >= 18 && self.rng.chance(0.3) {
            m.insert("protection_need".into(), json!(self.rng.chance(0.04)));
        }
        if age >= 12 && self.rng.chance(0.2) {
            m.insert("substance_use".into(), json!(self.rng.chance(if male { 0.05 } else { 0.01 })));
        }
        if is(m, "marital_status", "never_married") && age >= 18 && self.rng.chance(0.6) {
            m.insert("marriage_arranged".into(), json!(self.rng.chance(0.2)));
        }
    }

    /// The next household, in the registration body shape (`district` + `members`).
    pub fn household(&mut self) -> Value {
        let district = self.district();
        self.urdu = self.rng.chance(URDU_SHARE);
        let head_male = self.rng.chance(0.88);
        let head_age = self.rng.range(25, 70);
        let head = self.person("head", head_male, head_age, head_age, None);
        let head_name = head["full_name"].as_str().unwrap_or_default().to_string();
        let mut members = vec![Value::Object(head)];
        let size = 1 + self.rng.range(0, 6) + self.rng.range(0, 6); // 1–13, mean 7
        if size > 1 && head_male && self.rng.chance(0.9) {
            let age = (head_age - self.rng.range(0, 8)).max(18);
            members.push(Value::Object(self.person("spouse", false, age, age, Some(&head_name))));
        }
        if members.len() < size as usize && head_age > 45 && self.rng.chance(0.25) {
            let age = head_age + self.rng.range(20, 30);
            let male = self.rng.chance(0.4);
            members.push(Value::Object(self.person("parent", male, age.min(95), age.min(95), None)));
        }
        let max_child_age = (head_age - 18).clamp(0, 30);
        while members.len() < size as usize {
            let male = self.rng.chance(0.51);
            let age = self.rng.range(0, max_child_age);
            let relation = if age > 22 && self.rng.chance(0.3) {
                "grandchild"
            } else if male {
                "son"
            } else {
                "daughter"
            };
            let (relation, age) =
                if relation == "grandchild" { (relation, self.rng.range(0, 8)) } else { (relation, age) };
            members.push(Value::Object(self.person(relation, male, age, age, Some(&head_name))));
        }
        let mut h = Map::new();
        h.insert("district".into(), json!(district));
        if self.rng.chance(0.9) {
            h.insert("tehsil".into(), json!(*self.rng.pick(TEHSILS)));
        }
        if self.rng.chance(0.85) {
            h.insert("area_type".into(), json!(if self.rng.chance(0.8) { "rural" } else { "urban" }));
        }
        if self.rng.chance(0.7) {
            h.insert("phone".into(), json!(format!("03{:09}", self.rng.range(0, 999_999_999))));
        }
        if self.rng.chance(0.85) {
            h.insert("monthly_income_pkr".into(), json!(self.rng.range(5, 90) * 1000));
        }
        if self.rng.chance(0.8) {
            // NSER scores skew low among households that come to a one-stop office.
            let score = (self.rng.range(0, 3000) + self.rng.range(0, 3000)) as f64 / 100.0;
            h.insert("pmt_score".into(), json!(score));
        }
        if self.rng.chance(0.8) {
            let acres = if self.rng.chance(0.7) { 0.0 } else { self.rng.range(1, 1200) as f64 / 100.0 };
            h.insert("land_acres".into(), json!(acres));
        }
        if self.rng.chance(0.8) {
            h.insert("livestock_heads".into(), json!(self.rng.range(0, 4)));
        }
        if self.rng.chance(0.85) {
            h.insert("house_ownership".into(), json!(*self.rng.pick(&["owned", "owned", "rented", "rent_free"])));
        }
        if self.rng.chance(0.85) {
            h.insert("rooms".into(), json!(self.rng.range(1, 5)));
        }
        if self.rng.chance(0.85) {
            h.insert("owns_vehicle".into(), json!(self.rng.chance(0.05)));
        }
        if self.rng.chance(0.7) {
            let owns = h.get("house_ownership").and_then(Value::as_str) == Some("owned");
            h.insert("owns_residential_plot".into(), json!(self.rng.chance(if owns { 0.5 } else { 0.2 })));
        }
        h.insert("members".into(), Value::Array(members));
        Value::Object(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::parse::parse_new_household;
    use std::collections::HashSet;

    fn known() -> Vec<String> {
        DISTRICTS.iter().map(|(c, _)| c.to_string()).collect()
    }

    #[test]
    fn generated_households_are_valid_unique_and_about_seven_strong() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap_or_default();
        let mut generator = Generator::new(7, today, &known());
        let mut ids = HashSet::new();
        let mut people = 0;
        for _ in 0..2000 {
            let h = generator.household();
            let parsed = parse_new_household(&h, today).unwrap_or_else(|e| panic!("{e:?} in {h}"));
            people += parsed.members.len();
            for m in &parsed.members {
                if let Some(id) = &m.id_number {
                    assert!(ids.insert(id.clone()), "duplicate ID number");
                }
            }
        }
        let mean = people as f64 / 2000.0;
        assert!((6.0..=8.0).contains(&mean), "mean household size {mean}");
    }

    /// The scripts of a name's letters: (Latin, Arabic).
    fn scripts(name: &str) -> (bool, bool) {
        let letters = || name.chars().filter(|c| c.is_alphabetic());
        (letters().any(|c| c.is_ascii_alphabetic()), letters().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)))
    }

    #[test]
    fn every_name_is_written_in_one_script_and_both_scripts_occur() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap_or_default();
        let mut generator = Generator::new(3, today, &known());
        let (mut latin, mut urdu) = (0, 0);
        for _ in 0..2000 {
            let h = generator.household();
            let members = h["members"].as_array().cloned().unwrap_or_default();
            let names: Vec<&str> = members
                .iter()
                .flat_map(|m| [&m["full_name"], &m["father_or_husband_name"]])
                .filter_map(Value::as_str)
                .collect();
            let household: Vec<(bool, bool)> = names.iter().map(|n| scripts(n)).collect();
            for (name, (is_latin, is_urdu)) in names.iter().zip(&household) {
                assert!(is_latin != is_urdu, "{name:?} is not written in exactly one script");
            }
            assert!(household.windows(2).all(|w| w[0] == w[1]), "one household, two scripts: {names:?}");
            if household.first().is_some_and(|(_, u)| *u) { urdu += 1 } else { latin += 1 }
        }
        assert!(urdu > 300 && latin > 1200, "{urdu} Urdu and {latin} Latin households");
    }

    #[test]
    fn the_same_seed_gives_the_same_households() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap_or_default();
        let a = Generator::new(42, today, &known()).household();
        let b = Generator::new(42, today, &known()).household();
        let c = Generator::new(43, today, &known()).household();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}

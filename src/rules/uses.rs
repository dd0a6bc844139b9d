//! What a change of rules can change, and what deciding some schemes reads.
//!
//! An impact report compares two rule sets over the whole registry. Most proposals touch one
//! or two schemes: every other scheme decides each household exactly as before, so the report
//! evaluates only the schemes that [`may_change`] (and the schemes their `eligible(…)` calls
//! name), and reads only the registry fields those schemes use ([`Needs`]).

use std::collections::BTreeSet;

use super::check::{BoolIr, NumIr};
use super::dict::{HH_SLOTS, MEMBER_SLOTS, Scope};
use super::{RuleSet, Scheme};

/// Household slots derived by the engine, and member slots derived from the date of birth.
const HH_SIZE: usize = 9;
const HH_INCOME_PER_CAPITA: usize = 10;
const HH_INCOME: usize = 2;
const HH_DECEASED: std::ops::RangeInclusive<usize> = 12..=18;
const HH_DATE_OF_DEATH: usize = 17;
const HH_MONTHS_SINCE_DEATH: usize = 18;
const M_AGE: usize = 0;
const M_AGE_MONTHS: usize = 21;
const M_DOB: usize = 23;

/// Whether two schemes decide every household alike on every date, leaving aside the schemes
/// their `eligible(…)` calls name: the same validity, the same criteria in the same order and
/// the same parameter values on the same dates. (Parameter names are the scheme's own, so equal
/// rule texts with equal parameters compile to the same test.)
fn same_decisions(a: &Scheme, b: &Scheme) -> bool {
    a.valid_from == b.valid_from
        && a.valid_until == b.valid_until
        && a.criteria.len() == b.criteria.len()
        && a.criteria.iter().zip(&b.criteria).all(|(x, y)| x.rule == y.rule)
        && a.parameters.len() == b.parameters.len()
        && a.parameters.iter().all(|p| b.parameters.iter().any(|q| q.name == p.name && q.values == p.values))
}

/// The schemes a scheme's criteria name in `eligible(…)`, by index.
fn eligible_calls(scheme: &Scheme) -> BTreeSet<usize> {
    fn walk(ir: &BoolIr, out: &mut BTreeSet<usize>) {
        match ir {
            BoolIr::Eligible(s) => {
                out.insert(*s);
            }
            BoolIr::Same(a, b) => {
                walk(a, out);
                walk(b, out);
            }
            BoolIr::Not(x) | BoolIr::Any(x) | BoolIr::All(x) | BoolIr::Count(x, _, _) => walk(x, out),
            BoolIr::And(xs) | BoolIr::Or(xs) => xs.iter().for_each(|x| walk(x, out)),
            BoolIr::Const(_) | BoolIr::Field(..) | BoolIr::Coded(..) | BoolIr::Cmp(..) | BoolIr::Enrolled(_) => {}
        }
    }
    let mut out = BTreeSet::new();
    for c in &scheme.criteria {
        walk(&c.ir, &mut out);
    }
    out
}

/// The ids of the schemes whose decision may differ between `before` and `after` for some
/// household: added or removed schemes, schemes whose own text decides differently, and every
/// scheme whose `eligible(…)` calls (directly or through others) name one of those.
pub fn may_change(before: &RuleSet, after: &RuleSet) -> BTreeSet<String> {
    let mut changed: BTreeSet<String> = BTreeSet::new();
    for s in before.schemes.iter().chain(&after.schemes) {
        match (before.scheme(&s.id), after.scheme(&s.id)) {
            (Some(a), Some(b)) if same_decisions(a, b) => {}
            _ => {
                changed.insert(s.id.clone());
            }
        }
    }
    // Until nothing more is added: a scheme that asks whether a changed scheme is eligible may
    // change too (on either side).
    loop {
        let mut more = Vec::new();
        for set in [before, after] {
            for s in &set.schemes {
                if !changed.contains(&s.id) && eligible_calls(s).iter().any(|&i| changed.contains(&set.schemes[i].id)) {
                    more.push(s.id.clone());
                }
            }
        }
        if more.is_empty() {
            return changed;
        }
        changed.extend(more);
    }
}

/// `wanted` (indexed like `set.schemes`) with every scheme a wanted scheme's `eligible(…)`
/// calls need, transitively, turned on too.
pub fn with_dependencies(set: &RuleSet, wanted: &mut [bool]) {
    let mut stack: Vec<usize> = (0..wanted.len()).filter(|&i| wanted[i]).collect();
    while let Some(i) = stack.pop() {
        for d in eligible_calls(&set.schemes[i]) {
            if !wanted[d] {
                wanted[d] = true;
                stack.push(d);
            }
        }
    }
}

/// What deciding a set of schemes reads from the registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// Household slots read (bit per slot); derived slots bring in what they are derived from.
    pub household: u32,
    /// Member slots read (bit per slot), for current members.
    pub member: u32,
    /// Whether the current members are needed at all (a quantifier, the household's size).
    pub members: bool,
    /// Whether the member removed last as deceased is needed (the `deceased_*` fields).
    pub deceased: bool,
    /// Whether the household's enrolments are needed (`enrolled(…)`).
    pub enrolments: bool,
}

impl Needs {
    /// Everything: what a full re-screening reads.
    pub fn all() -> Needs {
        Needs { household: (1u32 << HH_SLOTS) - 1, member: u32::MAX, members: true, deceased: true, enrolments: true }
    }

    /// Whether household slot `s` is read.
    pub fn household_slot(&self, s: usize) -> bool {
        self.household & (1 << s) != 0
    }

    /// Whether member slot `s` is read.
    pub fn member_slot(&self, s: usize) -> bool {
        self.member & (1 << s) != 0
    }

    /// Also reads member slot `s` (and members).
    pub fn add_member_slot(&mut self, s: usize) {
        self.members = true;
        self.member |= 1 << s;
        if s == M_AGE || s == M_AGE_MONTHS {
            self.member |= 1 << M_DOB;
        }
    }

    fn add_household_slot(&mut self, s: usize) {
        self.household |= 1 << s;
        match s {
            HH_SIZE => self.members = true,
            HH_INCOME_PER_CAPITA => {
                self.members = true;
                self.household |= 1 << HH_INCOME;
            }
            HH_MONTHS_SINCE_DEATH => self.household |= 1 << HH_DATE_OF_DEATH,
            _ => {}
        }
        if HH_DECEASED.contains(&s) {
            self.deceased = true;
        }
    }

    fn num(&mut self, ir: &NumIr) {
        match ir {
            NumIr::Const(_) | NumIr::Param(_) => {}
            NumIr::Field(Scope::Household, s) => self.add_household_slot(*s),
            NumIr::Field(Scope::Member, s) => self.add_member_slot(*s),
            NumIr::Arith(_, a, b) => {
                self.num(a);
                self.num(b);
            }
            NumIr::Neg(x) => self.num(x),
        }
    }

    fn boolean(&mut self, ir: &BoolIr) {
        match ir {
            BoolIr::Const(_) | BoolIr::Eligible(_) => {}
            BoolIr::Field(Scope::Household, s) | BoolIr::Coded(Scope::Household, s, _) => self.add_household_slot(*s),
            BoolIr::Field(Scope::Member, s) | BoolIr::Coded(Scope::Member, s, _) => self.add_member_slot(*s),
            BoolIr::Cmp(_, a, b) => {
                self.num(a);
                self.num(b);
            }
            BoolIr::Same(a, b) => {
                self.boolean(a);
                self.boolean(b);
            }
            BoolIr::Not(x) => self.boolean(x),
            BoolIr::And(xs) | BoolIr::Or(xs) => xs.iter().for_each(|x| self.boolean(x)),
            BoolIr::Any(x) | BoolIr::All(x) => {
                self.members = true;
                self.boolean(x);
            }
            BoolIr::Count(x, _, k) => {
                self.members = true;
                self.boolean(x);
                self.num(k);
            }
            BoolIr::Enrolled(_) => self.enrolments = true,
        }
    }

    /// Adds what the `wanted` schemes of `set` read (`wanted` should include their
    /// dependencies, see [`with_dependencies`]).
    pub fn add_schemes(&mut self, set: &RuleSet, wanted: &[bool]) {
        for (scheme, _) in set.schemes.iter().zip(wanted).filter(|(_, w)| **w) {
            for c in &scheme.criteria {
                self.boolean(&c.ir);
            }
        }
    }

    /// The union of two needs.
    pub fn union(self, other: Needs) -> Needs {
        Needs {
            household: self.household | other.household,
            member: self.member | other.member,
            members: self.members || other.members,
            deceased: self.deceased || other.deceased,
            enrolments: self.enrolments || other.enrolments,
        }
    }
}

const _: () = assert!(HH_SLOTS <= 32 && MEMBER_SLOTS <= 32);

#[cfg(test)]
mod tests {
    use super::*;

    fn load(dir: &std::path::Path) -> RuleSet {
        super::super::load_dir(dir).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn catalogue() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
    }

    /// The catalogue copied to a temporary directory with one file's text replaced.
    fn changed(file: &str, from: &str, to: &str) -> (tempfile::TempDir, RuleSet) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for entry in std::fs::read_dir(catalogue()).unwrap_or_else(|e| panic!("{e}")).flatten() {
            let name = entry.file_name();
            let mut text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            if name.to_string_lossy() == file {
                assert!(text.contains(from), "{file} has no {from:?}");
                text = text.replacen(from, to, 1);
            }
            std::fs::write(dir.path().join(name), text).unwrap_or_else(|e| panic!("{e}"));
        }
        let set = load(dir.path());
        (dir, set)
    }

    #[test]
    fn identical_rules_change_nothing_and_a_cut_off_changes_its_scheme_and_its_dependants() {
        let before = load(&catalogue());
        assert!(may_change(&before, &before).is_empty());
        let (_dir, after) =
            changed("bisp-kafaalat.yaml", "      2020-01-01: 32\n", "      2020-01-01: 32\n      2026-12-01: 35\n");
        let changed = may_change(&before, &after);
        assert!(changed.contains("bisp-kafaalat"));
        // Every other scheme in the answer names a changed scheme in `eligible(…)`.
        for id in changed.iter().filter(|id| *id != "bisp-kafaalat") {
            let s = after.scheme(id).unwrap_or_else(|| panic!("{id}"));
            assert!(eligible_calls(s).iter().any(|&i| changed.contains(&after.schemes[i].id)), "{id}");
        }
        // And every scheme outside it decides alike.
        for s in &after.schemes {
            if !changed.contains(&s.id) {
                assert!(before.scheme(&s.id).is_some_and(|b| same_decisions(b, s)), "{}", s.id);
            }
        }
    }

    #[test]
    fn needs_follow_the_fields_a_scheme_reads() {
        let set = load(&catalogue());
        let i = set.schemes.iter().position(|s| s.id == "bisp-kafaalat").unwrap_or_else(|| panic!("no bisp"));
        let mut wanted = vec![false; set.schemes.len()];
        wanted[i] = true;
        with_dependencies(&set, &mut wanted);
        let mut needs = Needs::default();
        needs.add_schemes(&set, &wanted);
        let hh = |name: &str| super::super::dict::lookup(Scope::Household, name).map_or(99, |f| f.slot);
        let m = |name: &str| super::super::dict::lookup(Scope::Member, name).map_or(99, |f| f.slot);
        assert!(needs.household_slot(hh("pmt_score")) && needs.household_slot(hh("owns_vehicle")));
        assert!(!needs.household_slot(hh("land_acres")));
        for f in ["sex", "disability", "govt_employee", "taxpayer", "age", "date_of_birth"] {
            assert!(needs.member_slot(m(f)), "{f}");
        }
        assert!(!needs.member_slot(m("school_level")));
        assert!(needs.members && !needs.deceased);
        assert_eq!(Needs::all().union(needs), Needs::all());
    }
}

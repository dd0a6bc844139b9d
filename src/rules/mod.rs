//! The rules engine: declarative scheme files, type-checked at load against the data
//! dictionary, compiled once and evaluated for every scheme at once, with explanations.
//!
//! The engine is pure: it reads files and [`dict::Facts`], and knows nothing of the database
//! or HTTP. The flow is `load::load_dir` → [`RuleSet`] → [`RuleSet::bind`] (parameters and
//! validity windows resolved for one date) → [`Bound::statuses`] (batch: one status per
//! scheme) or [`Bound::explain`] (each criterion's outcome and the missing fields).

pub mod check;
pub mod columnar;
pub mod compile;
pub mod dict;
pub mod eval;
pub mod examples;
pub mod expr;
pub mod load;
pub mod num;
pub mod uses;
pub mod yaml;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

pub use eval::{Bound, Explanation, Missing, SchemeResult};
pub use load::{Diagnostic, load_dir};

/// Three-valued (Kleene) truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    /// Known to be false.
    False,
    /// Known to be true.
    True,
    /// Depends on a value the registry does not hold.
    Unknown,
}

impl From<bool> for Tri {
    #[inline]
    fn from(b: bool) -> Self {
        if b { Tri::True } else { Tri::False }
    }
}

impl std::ops::Not for Tri {
    type Output = Tri;

    /// Kleene negation: unknown stays unknown.
    #[inline]
    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

impl Tri {
    /// `Some(bool)` when known (the API's `true` / `false` / `null`).
    pub fn known(self) -> Option<bool> {
        match self {
            Tri::True => Some(true),
            Tri::False => Some(false),
            Tri::Unknown => None,
        }
    }
}

/// A scheme's decision for one household.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every criterion is true.
    Eligible,
    /// At least one criterion is false (also: the scheme is outside its validity window).
    NotEligible,
    /// No criterion is false and at least one is unknown.
    Undetermined,
}

impl Status {
    /// The value `eligible(…)` sees.
    #[inline]
    pub fn as_tri(self) -> Tri {
        match self {
            Status::Eligible => Tri::True,
            Status::NotEligible => Tri::False,
            Status::Undetermined => Tri::Unknown,
        }
    }

    /// The text used in files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Eligible => "eligible",
            Status::NotEligible => "not_eligible",
            Status::Undetermined => "undetermined",
        }
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Option<Status> {
        [Status::Eligible, Status::NotEligible, Status::Undetermined].into_iter().find(|s| s.as_str() == text)
    }
}

/// English and Urdu text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Text {
    /// English.
    pub en: String,
    /// Urdu.
    pub ur: String,
}

/// The social protection floor guarantee a scheme serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Guarantee {
    /// Essential health care.
    Health,
    /// Income security for children.
    Children,
    /// Income security in working age (maternity, unemployment, disability, injury).
    WorkingAge,
    /// Income security for older persons.
    OldAge,
}

impl Guarantee {
    /// Every guarantee with its text.
    pub const ALL: [(&'static str, Guarantee); 4] = [
        ("health", Guarantee::Health),
        ("children", Guarantee::Children),
        ("working_age", Guarantee::WorkingAge),
        ("old_age", Guarantee::OldAge),
    ];
}

/// A dated parameter.
#[derive(Debug, Clone)]
pub struct Parameter {
    /// Name used in rules.
    pub name: String,
    /// Optional label.
    pub label: Option<String>,
    /// Optional unit.
    pub unit: Option<String>,
    /// `(effective from, value)`, sorted by date.
    pub values: Vec<(NaiveDate, i64)>,
    /// Index in the rule set's parameter table.
    pub index: usize,
}

impl Parameter {
    /// The value in force on `as_of`: the latest effective date on or before it.
    pub fn value_on(&self, as_of: NaiveDate) -> Option<i64> {
        self.values.iter().rev().find(|(from, _)| *from <= as_of).map(|(_, v)| *v)
    }
}

/// A named criterion.
pub struct Criterion {
    /// Id, unique within the scheme.
    pub id: String,
    /// What the clerk reads.
    pub label: Text,
    /// The expression as written.
    pub rule: String,
    /// Typed IR (explanations walk it).
    pub ir: check::BoolIr,
    /// The compiled closure (the fast path).
    pub compiled: compile::BoolFn,
}

impl std::fmt::Debug for Criterion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Criterion").field("id", &self.id).field("rule", &self.rule).finish()
    }
}

/// One scheme, loaded and compiled.
#[derive(Debug)]
pub struct Scheme {
    /// Stable id (the file name).
    pub id: String,
    /// Name.
    pub name: Text,
    /// Department or agency.
    pub department: String,
    /// Guarantee served.
    pub guarantee: Guarantee,
    /// Benefit description.
    pub benefit: Text,
    /// Documents the applicant brings.
    pub documents: Vec<Text>,
    /// Where the applicant goes.
    pub office: Option<Text>,
    /// Where the criteria are published.
    pub source: String,
    /// Values not confirmed against the source.
    pub illustrative: bool,
    /// First day of validity.
    pub valid_from: NaiveDate,
    /// Last day of validity (inclusive).
    pub valid_until: Option<NaiveDate>,
    /// Days a scheme office has to acknowledge a referral.
    pub acknowledge_within_days: u32,
    /// Dated parameters.
    pub parameters: Vec<Parameter>,
    /// Criteria, all of which must hold.
    pub criteria: Vec<Criterion>,
    /// The order batch mode tries the criteria in: cheapest first, since the first false
    /// one decides (the status does not depend on the order).
    pub batch_order: Vec<usize>,
    /// Conditions the office cannot check.
    pub subject_to: Vec<Text>,
    /// Example households.
    pub examples: Vec<examples::Example>,
    /// The file it came from.
    pub file: String,
}

impl Scheme {
    /// Whether the scheme runs on `as_of`.
    pub fn active_on(&self, as_of: NaiveDate) -> bool {
        self.valid_from <= as_of && self.valid_until.is_none_or(|until| as_of <= until)
    }
}

/// Every scheme, compiled, with the order they are evaluated in.
#[derive(Debug)]
pub struct RuleSet {
    /// Content hash of the files (hex SHA-256): every decision records it.
    pub version: String,
    /// Schemes, sorted by id.
    pub schemes: Vec<Scheme>,
    /// Evaluation order: every scheme after the schemes its `eligible(…)` calls name.
    pub order: Vec<usize>,
    /// Number of parameters over all schemes.
    pub parameter_count: usize,
    /// Number of distinct member tests (the size of each household's leaf cache).
    pub leaf_count: usize,
    /// Batch mode's program.
    pub batch: BatchPlan,
}

/// Batch mode's program: every scheme in evaluation order with the range of its criteria
/// (cheapest first) in one contiguous list of closures, for the hot loop.
pub struct BatchPlan {
    /// `(scheme index, range in fns)`, in evaluation order.
    pub steps: Vec<(usize, std::ops::Range<usize>)>,
    /// The criteria closures.
    pub fns: Vec<compile::BoolFn>,
}

impl std::fmt::Debug for BatchPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BatchPlan({} schemes, {} criteria)", self.steps.len(), self.fns.len())
    }
}

impl RuleSet {
    /// The scheme with this id.
    pub fn scheme(&self, id: &str) -> Option<&Scheme> {
        self.schemes.binary_search_by(|s| s.id.as_str().cmp(id)).ok().map(|i| &self.schemes[i])
    }

    /// Number of criteria over all schemes.
    pub fn criterion_count(&self) -> usize {
        self.schemes.iter().map(|s| s.criteria.len()).sum()
    }
}

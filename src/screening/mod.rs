//! Screening in the running service: the live rule set (reloadable without a restart), and
//! the screening result as the API returns it.
//!
//! A reload reads the whole directory; if any file has a mistake the reload is refused and
//! the service keeps the rule set it has. Requests take a snapshot (`Arc`) of the rule set,
//! so a reload never changes the rules under a screening in progress.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::rules::dict::Facts;
pub mod rescreen;
pub mod store;

use crate::rules::{Diagnostic, Explanation, Guarantee, RuleSet, Status, Text, Tri};

/// A loaded rule set and when it was loaded.
#[derive(Debug)]
pub struct LoadedRules {
    /// The rules.
    pub set: RuleSet,
    /// When they were loaded.
    pub loaded_at: DateTime<Utc>,
}

/// The live rule set.
#[derive(Debug)]
pub struct RulesHandle {
    dir: PathBuf,
    current: RwLock<Arc<LoadedRules>>,
    /// The generation of the database's rules in force this set was read from (0: read from
    /// files only).
    generation: std::sync::atomic::AtomicI64,
}

impl RulesHandle {
    /// Loads `dir`; fails with every mistake found.
    pub fn load(dir: &Path) -> Result<Self, Vec<Diagnostic>> {
        let set = crate::rules::load_dir(dir)?;
        Ok(Self::with_set(dir, set, 0))
    }

    /// A handle holding `set`, read at `generation` of the rules in force.
    pub fn with_set(dir: &Path, set: RuleSet, generation: i64) -> Self {
        Self {
            dir: dir.to_path_buf(),
            current: RwLock::new(Arc::new(LoadedRules { set, loaded_at: Utc::now() })),
            generation: std::sync::atomic::AtomicI64::new(generation),
        }
    }

    /// The rule set in force.
    pub fn current(&self) -> Arc<LoadedRules> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The generation the rule set in force was read at.
    pub fn generation(&self) -> i64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Puts `set` in force (read at `generation`); a set from an older generation than the one
    /// held is ignored. Returns the set now in force.
    pub fn install(&self, set: RuleSet, generation: i64) -> Arc<LoadedRules> {
        let mut current = self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if generation >= self.generation() {
            *current = Arc::new(LoadedRules { set, loaded_at: Utc::now() });
            self.generation.store(generation, std::sync::atomic::Ordering::SeqCst);
        }
        current.clone()
    }

    /// Reads and checks the rules directory (it changes nothing: the caller stores the files
    /// and installs the set). Blocking (file I/O): call off the event loop.
    pub fn read_dir(&self) -> Result<RuleSet, Vec<Diagnostic>> {
        crate::rules::load_dir(&self.dir)
    }

    /// The rules directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// One criterion's outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct CriterionOutcome {
    /// Criterion id.
    pub id: String,
    /// Label (English).
    pub label: String,
    /// Label (Urdu).
    pub label_ur: String,
    /// `true`, `false`, or `null` when unknown.
    pub outcome: Option<bool>,
}

/// A field whose value would decide an undetermined scheme.
#[derive(Debug, Serialize, ToSchema)]
pub struct MissingField {
    /// The member it belongs to (stored households).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// The member's position in the submitted `members` list (pre-screening).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_index: Option<usize>,
    /// The field name (docs/DATA.md).
    pub field: &'static str,
}

/// One scheme's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemeScreening {
    /// Scheme id.
    pub scheme: String,
    /// Name (English).
    pub name: String,
    /// Name (Urdu).
    pub name_ur: String,
    /// Department.
    pub department: String,
    /// Guarantee served.
    pub guarantee: Guarantee,
    /// Decision.
    pub status: Status,
    /// Every criterion with its outcome.
    pub criteria: Vec<CriterionOutcome>,
    /// For `not_eligible`: the criteria that failed.
    pub failed_criteria: Vec<String>,
    /// For `undetermined`: the fields to collect.
    pub missing_fields: Vec<MissingField>,
    /// Conditions the office cannot check, which the decision is subject to.
    pub subject_to: Vec<Text>,
}

/// Counts per status.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ScreeningSummary {
    /// Eligible schemes.
    pub eligible: usize,
    /// Not-eligible schemes.
    pub not_eligible: usize,
    /// Undetermined schemes.
    pub undetermined: usize,
}

/// A household screened against every active scheme.
#[derive(Debug, Serialize, ToSchema)]
pub struct Screening {
    /// The stored household (absent for a pre-screening).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub household_id: Option<String>,
    /// Evaluation date.
    pub as_of: NaiveDate,
    /// Content hash of the rule set used.
    pub rules_version: String,
    /// Counts per status.
    pub summary: ScreeningSummary,
    /// One entry per active scheme, in id order.
    pub results: Vec<SchemeScreening>,
}

/// How members are named in missing fields: stored ids, or positions.
pub enum MemberNames<'a> {
    /// Stored households: member ids in facts order.
    Ids(&'a [String]),
    /// Pre-screening: positions in the submitted list.
    Positions,
}

/// Screens `facts` at `as_of` and builds the API result.
pub fn screen(
    set: &RuleSet,
    as_of: NaiveDate,
    facts: &mut Facts,
    household_id: Option<String>,
    members: MemberNames,
) -> Screening {
    let bound = set.bind(as_of);
    let mut explanation = Explanation::default();
    bound.explain(facts, &mut explanation);
    let mut summary = ScreeningSummary::default();
    let mut results = Vec::new();
    for (scheme, result) in set.schemes.iter().zip(&explanation.results) {
        let Some(status) = result.status else { continue };
        match status {
            Status::Eligible => summary.eligible += 1,
            Status::NotEligible => summary.not_eligible += 1,
            Status::Undetermined => summary.undetermined += 1,
        }
        let criteria = scheme
            .criteria
            .iter()
            .zip(&result.outcomes)
            .map(|(c, t)| CriterionOutcome {
                id: c.id.clone(),
                label: c.label.en.clone(),
                label_ur: c.label.ur.clone(),
                outcome: t.known(),
            })
            .collect();
        let failed_criteria = scheme
            .criteria
            .iter()
            .zip(&result.outcomes)
            .filter(|(_, t)| **t == Tri::False)
            .map(|(c, _)| c.id.clone())
            .collect();
        let missing_fields = result
            .missing
            .iter()
            .map(|m| {
                let (member_id, member_index) = match (&members, m.member) {
                    (_, None) => (None, None),
                    (MemberNames::Ids(ids), Some(i)) => (ids.get(i).cloned(), None),
                    (MemberNames::Positions, Some(i)) => (None, Some(i)),
                };
                MissingField { member_id, member_index, field: m.field }
            })
            .collect();
        results.push(SchemeScreening {
            scheme: scheme.id.clone(),
            name: scheme.name.en.clone(),
            name_ur: scheme.name.ur.clone(),
            department: scheme.department.clone(),
            guarantee: scheme.guarantee,
            status,
            criteria,
            failed_criteria,
            missing_fields,
            subject_to: if status == Status::NotEligible { Vec::new() } else { scheme.subject_to.clone() },
        });
    }
    Screening { household_id, as_of, rules_version: set.version.clone(), summary, results }
}

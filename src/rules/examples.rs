//! Example households written in the rule files, and the runner behind `sahulat rules test`.

use chrono::NaiveDate;

use super::dict::Facts;
use super::eval::Explanation;
use super::{RuleSet, Status, Tri};

/// One example household with its expected outcome.
#[derive(Debug, Clone)]
pub struct Example {
    /// What it shows.
    pub name: String,
    /// Evaluation date.
    pub as_of: NaiveDate,
    /// The household.
    pub facts: Facts,
    /// Expected status.
    pub expect: Status,
    /// Exactly the criteria expected to be false, when given.
    pub failed: Option<Vec<String>>,
    /// Exactly the missing field names expected, when given.
    pub missing: Option<Vec<String>>,
    /// Line of the example in its file.
    pub line: usize,
}

/// The outcome of one example.
#[derive(Debug, Clone)]
pub struct Report {
    /// Scheme id.
    pub scheme: String,
    /// The file and line of the example.
    pub location: String,
    /// Example name.
    pub name: String,
    /// What did not match (empty when the example passed).
    pub problems: Vec<String>,
}

impl Report {
    /// Whether the example passed.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Runs every example of every scheme.
pub fn run(rules: &RuleSet) -> Vec<Report> {
    let mut reports = Vec::new();
    let mut explanation = Explanation::default();
    for (i, scheme) in rules.schemes.iter().enumerate() {
        for example in &scheme.examples {
            let bound = rules.bind(example.as_of);
            let mut facts = example.facts.clone();
            bound.explain(&mut facts, &mut explanation);
            let result = &explanation.results[i];
            let mut problems = Vec::new();
            let failed: Vec<String> = scheme
                .criteria
                .iter()
                .zip(&result.outcomes)
                .filter(|(_, t)| **t == Tri::False)
                .map(|(c, _)| c.id.clone())
                .collect();
            let missing = sorted(result.missing.iter().map(|m| m.field.to_string()).collect());
            match result.status {
                Some(status) if status == example.expect => {}
                Some(status) => problems.push(format!(
                    "expected {}, got {} (false: [{}]; missing: [{}])",
                    example.expect.as_str(),
                    status.as_str(),
                    failed.join(", "),
                    missing.join(", ")
                )),
                None => problems.push(format!("the scheme is not active on {}", example.as_of)),
            }
            if let Some(expected) = &example.failed
                && sorted(expected.clone()) != sorted(failed.clone())
            {
                problems.push(format!("expected failed [{}], got [{}]", expected.join(", "), failed.join(", ")));
            }
            if let Some(expected) = &example.missing
                && sorted(expected.clone()) != missing
            {
                problems.push(format!("expected missing [{}], got [{}]", expected.join(", "), missing.join(", ")));
            }
            reports.push(Report {
                scheme: scheme.id.clone(),
                location: format!("{}:{}", scheme.file, example.line),
                name: example.name.clone(),
                problems,
            });
        }
    }
    reports
}

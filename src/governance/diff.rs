//! What a change does to a scheme, in plain terms (criteria added, removed or changed,
//! parameter values and their dates, the other fields), and the line diff of its file.

use serde::Serialize;
use utoipa::ToSchema;

use crate::rules::{Scheme, Text};

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Item {
    /// `criterion_added`, `criterion_removed`, `criterion_changed`, `parameter_added`,
    /// `parameter_removed`, `parameter_changed` or `field_changed`.
    pub what: &'static str,
    /// The criterion, parameter or field.
    pub name: String,
    /// Before (absent for an addition).
    pub before: Option<String>,
    /// After (absent for a removal).
    pub after: Option<String>,
}

/// The differences of one scheme.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SchemeChange {
    /// Scheme id.
    pub scheme: String,
    /// `added`, `changed` or `retired`.
    pub kind: &'static str,
    /// What changed (for `changed`; a summary for the others).
    pub items: Vec<Item>,
}

fn text(t: &Text) -> String {
    if t.ur.is_empty() { t.en.clone() } else { format!("{} / {}", t.en, t.ur) }
}

fn values(p: &crate::rules::Parameter) -> String {
    p.values
        .iter()
        .map(|(from, v)| format!("{} from {from}", crate::rules::num::display(*v)))
        .collect::<Vec<_>>()
        .join("; ")
}

fn field(items: &mut Vec<Item>, name: &str, before: String, after: String) {
    if before != after {
        items.push(Item { what: "field_changed", name: name.into(), before: Some(before), after: Some(after) });
    }
}

/// The plain-language differences between two versions of a scheme.
pub fn scheme(before: &Scheme, after: &Scheme) -> Vec<Item> {
    let mut items = Vec::new();
    field(&mut items, "name", text(&before.name), text(&after.name));
    field(&mut items, "department", before.department.clone(), after.department.clone());
    field(&mut items, "guarantee", format!("{:?}", before.guarantee), format!("{:?}", after.guarantee));
    field(&mut items, "benefit", text(&before.benefit), text(&after.benefit));
    let docs = |s: &Scheme| s.documents.iter().map(text).collect::<Vec<_>>().join("; ");
    field(&mut items, "documents", docs(before), docs(after));
    let office = |s: &Scheme| s.office.as_ref().map(text).unwrap_or_default();
    field(&mut items, "office", office(before), office(after));
    field(&mut items, "source", before.source.clone(), after.source.clone());
    field(&mut items, "illustrative", before.illustrative.to_string(), after.illustrative.to_string());
    field(&mut items, "valid_from", before.valid_from.to_string(), after.valid_from.to_string());
    let until = |s: &Scheme| s.valid_until.map(|d| d.to_string()).unwrap_or_else(|| "open".into());
    field(&mut items, "valid_until", until(before), until(after));
    field(
        &mut items,
        "acknowledge_within_days",
        before.acknowledge_within_days.to_string(),
        after.acknowledge_within_days.to_string(),
    );
    for p in &before.parameters {
        match after.parameters.iter().find(|q| q.name == p.name) {
            None => items.push(Item {
                what: "parameter_removed",
                name: p.name.clone(),
                before: Some(values(p)),
                after: None,
            }),
            Some(q) if q.values != p.values => items.push(Item {
                what: "parameter_changed",
                name: p.name.clone(),
                before: Some(values(p)),
                after: Some(values(q)),
            }),
            Some(_) => {}
        }
    }
    for q in &after.parameters {
        if !before.parameters.iter().any(|p| p.name == q.name) {
            items.push(Item { what: "parameter_added", name: q.name.clone(), before: None, after: Some(values(q)) });
        }
    }
    for c in &before.criteria {
        match after.criteria.iter().find(|d| d.id == c.id) {
            None => items.push(Item {
                what: "criterion_removed",
                name: c.id.clone(),
                before: Some(c.rule.clone()),
                after: None,
            }),
            Some(d) if d.rule != c.rule || d.label != c.label => items.push(Item {
                what: "criterion_changed",
                name: c.id.clone(),
                before: Some(format!("{} ({})", c.rule, c.label.en)),
                after: Some(format!("{} ({})", d.rule, d.label.en)),
            }),
            Some(_) => {}
        }
    }
    for d in &after.criteria {
        if !before.criteria.iter().any(|c| c.id == d.id) {
            items.push(Item {
                what: "criterion_added",
                name: d.id.clone(),
                before: None,
                after: Some(format!("{} ({})", d.rule, d.label.en)),
            });
        }
    }
    let subject = |s: &Scheme| s.subject_to.iter().map(text).collect::<Vec<_>>().join("; ");
    field(&mut items, "subject_to", subject(before), subject(after));
    field(&mut items, "examples", before.examples.len().to_string(), after.examples.len().to_string());
    items
}

/// The ids of the criteria a change adds or whose rule it changes (the ones that need
/// examples where they are true, false and unknown).
pub fn changed_criteria(before: Option<&Scheme>, after: &Scheme) -> Vec<String> {
    after
        .criteria
        .iter()
        .filter(|d| before.is_none_or(|b| !b.criteria.iter().any(|c| c.id == d.id && c.rule == d.rule)))
        .map(|d| d.id.clone())
        .collect()
}

/// Largest product of line counts diffed exactly; beyond it the differing middle is shown
/// as removed and added whole.
const MAX_CELLS: usize = 4_000_000;

/// A unified diff of two texts (three lines of context), empty when they are equal.
pub fn unified(name: &str, before: &str, after: &str) -> String {
    if before == after {
        return String::new();
    }
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    let ops = line_ops(&a, &b);
    let mut out = format!("--- a/{name}\n+++ b/{name}\n");
    // Group the operations into hunks with three lines of context.
    let changed: Vec<usize> =
        ops.iter().enumerate().filter(|(_, o)| !matches!(o, Op::Same(..))).map(|(i, _)| i).collect();
    let mut i = 0;
    while i < changed.len() {
        let start = changed[i].saturating_sub(3);
        let mut end = changed[i] + 1;
        while i < changed.len() && changed[i] <= end + 6 {
            end = changed[i] + 1;
            i += 1;
        }
        let end = (end + 3).min(ops.len());
        let (mut a_start, mut b_start) = (0, 0);
        for op in &ops[..start] {
            match op {
                Op::Same(..) => {
                    a_start += 1;
                    b_start += 1;
                }
                Op::Del(_) => a_start += 1,
                Op::Add(_) => b_start += 1,
            }
        }
        let hunk = &ops[start..end];
        let a_len = hunk.iter().filter(|o| !matches!(o, Op::Add(_))).count();
        let b_len = hunk.iter().filter(|o| !matches!(o, Op::Del(_))).count();
        out.push_str(&format!("@@ -{},{a_len} +{},{b_len} @@\n", a_start + 1, b_start + 1));
        for op in hunk {
            match op {
                Op::Same(x) => out.push_str(&format!(" {}\n", a[*x])),
                Op::Del(x) => out.push_str(&format!("-{}\n", a[*x])),
                Op::Add(y) => out.push_str(&format!("+{}\n", b[*y])),
            }
        }
    }
    out
}

enum Op {
    Same(usize),
    Del(usize),
    Add(usize),
}

/// Line operations turning `a` into `b`: the common prefix and suffix, and a longest common
/// subsequence of the middle (when it is small enough).
fn line_ops(a: &[&str], b: &[&str]) -> Vec<Op> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (am, bm) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut ops: Vec<Op> = (0..prefix).map(Op::Same).collect();
    if am.len() * bm.len() <= MAX_CELLS {
        // lcs[i][j]: length of the LCS of am[i..] and bm[j..].
        let w = bm.len() + 1;
        let mut lcs = vec![0u32; (am.len() + 1) * w];
        for i in (0..am.len()).rev() {
            for j in (0..bm.len()).rev() {
                lcs[i * w + j] = if am[i] == bm[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < am.len() || j < bm.len() {
            if i < am.len() && j < bm.len() && am[i] == bm[j] {
                ops.push(Op::Same(prefix + i));
                i += 1;
                j += 1;
            } else if i < am.len() && (j == bm.len() || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
                // Removed lines before added ones, as diff(1) shows them.
                ops.push(Op::Del(prefix + i));
                i += 1;
            } else {
                ops.push(Op::Add(prefix + j));
                j += 1;
            }
        }
    } else {
        ops.extend((0..am.len()).map(|i| Op::Del(prefix + i)));
        ops.extend((0..bm.len()).map(|j| Op::Add(prefix + j)));
    }
    ops.extend((0..suffix).map(|k| Op::Same(a.len() - suffix + k)));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_is_one_hunk_with_context() {
        let before = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let after = "a\nb\nc\nd\nE\nf\ng\nh\n";
        let diff = unified("x.yaml", before, after);
        assert_eq!(diff, "--- a/x.yaml\n+++ b/x.yaml\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n");
        assert_eq!(unified("x.yaml", before, before), "");
    }

    #[test]
    fn additions_and_removals_apply_back() {
        let before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n";
        let after = "0\n1\n2\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n13b\n14\n15\n16\n";
        let diff = unified("x.yaml", before, after);
        // Two hunks (the changes are far apart), and replaying the diff gives `after`.
        assert_eq!(diff.matches("@@ -").count(), 2, "{diff}");
        let mut rebuilt = Vec::new();
        for line in diff.lines().skip(2).filter(|l| !l.starts_with("@@")) {
            if let Some(rest) = line.strip_prefix('+').or_else(|| line.strip_prefix(' ')) {
                rebuilt.push(rest);
            }
        }
        // The context covers the lines around the changes only.
        assert!(rebuilt.contains(&"0") && rebuilt.contains(&"13b") && !rebuilt.contains(&"3"));
    }
}

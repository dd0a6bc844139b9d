//! Loading a rules directory: YAML → checked schemes → a compiled [`RuleSet`], or every
//! mistake found, each with file, line, column and a hint.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use chrono::NaiveDate;

use super::check::{self, Names, suggest};
use super::dict::{self, Facts, Scope, Ty};
use super::examples::Example;
use super::yaml::{self, Node, Pos, Value};
use super::{Criterion, Guarantee, Parameter, RuleSet, Scheme, Status, Text, compile, expr, num};

/// Largest rule file accepted.
pub const MAX_FILE_BYTES: usize = 256 * 1024;
/// Most rule files in a directory.
pub const MAX_FILES: usize = 1000;
const MAX_ITEMS: usize = 200;
const MAX_MEMBERS: usize = 64;

/// One mistake in a rule file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Diagnostic {
    /// File name.
    pub file: String,
    /// Line (1-based).
    pub line: usize,
    /// Column (1-based, in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// A suggestion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: error: {}", self.file, self.line, self.column, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Loads every `*.yaml` / `*.yml` file of `dir`.
pub fn load_dir(dir: &Path) -> Result<RuleSet, Vec<Diagnostic>> {
    let fail =
        |message: String| vec![Diagnostic { file: dir.display().to_string(), line: 1, column: 1, message, hint: None }];
    let entries = std::fs::read_dir(dir).map_err(|e| fail(format!("cannot read the rules directory: {e}")))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| fail(format!("cannot read the rules directory: {e}")))?.path();
        if path.extension().is_some_and(|x| x == "yaml" || x == "yml") && path.is_file() {
            paths.push(path);
        }
    }
    if paths.len() > MAX_FILES {
        return Err(fail(format!("more than {MAX_FILES} rule files")));
    }
    paths.sort();
    let mut files = Vec::new();
    let mut diags = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        match std::fs::metadata(&path) {
            Ok(m) if m.len() > MAX_FILE_BYTES as u64 => {
                diags.push(Diagnostic {
                    file: name,
                    line: 1,
                    column: 1,
                    message: format!("the file is larger than {} KiB", MAX_FILE_BYTES / 1024),
                    hint: Some("split it, or move long texts out".into()),
                });
                continue;
            }
            _ => {}
        }
        match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => files.push((name, text)),
                Err(_) => diags.push(Diagnostic {
                    file: name,
                    line: 1,
                    column: 1,
                    message: "the file is not UTF-8 text".into(),
                    hint: Some("save it as UTF-8 (Urdu text needs it)".into()),
                }),
            },
            Err(e) => diags.push(Diagnostic {
                file: name,
                line: 1,
                column: 1,
                message: format!("cannot read: {e}"),
                hint: None,
            }),
        }
    }
    match load_sources(&files) {
        Ok(set) if diags.is_empty() => Ok(set),
        Ok(_) => Err(diags),
        Err(more) => {
            diags.extend(more);
            Err(diags)
        }
    }
}

/// A scheme read from its file, before its rules are checked against the other schemes.
struct Draft<'s> {
    file: &'s str,
    source: &'s str,
    id: String,
    id_pos: Pos,
    scheme: Scheme,
    params: HashMap<String, usize>,
    rules: Vec<(String, String, Text, Node)>,
    examples: Vec<Node>,
    examples_pos: Pos,
}

/// Loads rule files given as `(name, contents)` (names are used in messages; the id must
/// match the name's file stem).
pub fn load_sources(files: &[(String, String)]) -> Result<RuleSet, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut roots = Vec::new();
    for (name, text) in files {
        if text.len() > MAX_FILE_BYTES {
            diags.push(at(
                name,
                Pos { line: 1, col: 1 },
                format!("the file is larger than {} KiB", MAX_FILE_BYTES / 1024),
            ));
            continue;
        }
        match yaml::parse(text) {
            Ok(root) => roots.push((name.as_str(), text.as_str(), root)),
            Err(e) => diags.push(at(name, e.pos, format!("YAML: {}", e.message))),
        }
    }
    let mut parameter_count = 0;
    let mut drafts: Vec<Draft> = Vec::new();
    for (file, source, root) in roots {
        let mut r = Reader { file, source, diags: &mut diags };
        if let Some(d) = r.scheme(&root, &mut parameter_count) {
            drafts.push(d);
        }
    }
    let mut ids: HashMap<String, usize> = HashMap::new();
    drafts.sort_by(|a, b| a.id.cmp(&b.id));
    for (i, d) in drafts.iter().enumerate() {
        if let Some(&first) = ids.get(&d.id) {
            let other = drafts[first].file;
            diags.push(at(d.file, d.id_pos, format!("scheme id `{}` is already used by {other}", d.id)));
        } else {
            ids.insert(d.id.clone(), i);
        }
    }
    let mut deps: Vec<Vec<(usize, Pos)>> = vec![Vec::new(); drafts.len()];
    let mut compiler = compile::Compiler::default();
    let mut schemes = Vec::new();
    for (i, mut d) in drafts.into_iter().enumerate() {
        let names = Names { params: &d.params, schemes: &ids, this_scheme: i };
        let mut ok = true;
        let declared: Vec<String> = d.rules.iter().map(|r| r.0.clone()).collect();
        for (id, rule, label, node) in std::mem::take(&mut d.rules) {
            let parsed = match expr::parse(&rule) {
                Ok(e) => e,
                Err(e) => {
                    diags.push(at(d.file, node.pos_at(d.source, e.span.0), e.message));
                    ok = false;
                    continue;
                }
            };
            match check::check_criterion(&parsed, &names) {
                Ok(ir) => {
                    let mut refs = Vec::new();
                    ir.dependencies(&mut refs);
                    deps[i].extend(refs.into_iter().map(|s| (s, node.pos)));
                    let compiled = compile::boolean(&ir, &mut compiler);
                    d.scheme.criteria.push(Criterion { id, label, rule, ir, compiled });
                }
                Err(e) => {
                    let pos = node.pos_at(d.source, e.span.0);
                    diags.push(Diagnostic { hint: e.hint, ..at(d.file, pos, e.message) });
                    ok = false;
                }
            }
        }
        let mut order: Vec<usize> = (0..d.scheme.criteria.len()).collect();
        order.sort_by_key(|&c| d.scheme.criteria[c].ir.cost());
        d.scheme.batch_order = order;
        let mut r = Reader { file: d.file, source: d.source, diags: &mut diags };
        let valid = (d.scheme.valid_from, d.scheme.valid_until);
        for node in &d.examples {
            if let Some(ex) = r.example(node, &declared, &ids, valid) {
                d.scheme.examples.push(ex);
            }
        }
        let has = |s: Status| d.scheme.examples.iter().any(|e| e.expect == s);
        if ok && !(has(Status::Eligible) && has(Status::NotEligible)) {
            r.error(
                d.examples_pos,
                "the examples must include at least one `eligible` and one `not_eligible` household",
            );
        }
        schemes.push(d.scheme);
    }
    let order = match order(&deps) {
        Ok(order) => order,
        Err(cycle) => {
            let names: Vec<&str> = cycle.iter().map(|&i| schemes[i].id.as_str()).collect();
            let first = cycle[0];
            let pos = deps[first].iter().find(|(s, _)| *s == cycle[1 % cycle.len()]).map_or(Pos::default(), |p| p.1);
            diags.push(at(
                &schemes[first].file,
                pos,
                format!("`eligible(…)` references form a cycle: {} → {}", names.join(" → "), names[0]),
            ));
            Vec::new()
        }
    };
    if !diags.is_empty() {
        diags.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        return Err(diags);
    }
    let mut batch_plan = Vec::with_capacity(order.len());
    let mut batch_fns = Vec::new();
    for &i in &order {
        let start = batch_fns.len();
        for &c in &schemes[i].batch_order {
            batch_fns.push(compile::boolean(&schemes[i].criteria[c].ir, &mut compiler));
        }
        batch_plan.push((i, start..batch_fns.len()));
    }
    Ok(RuleSet {
        version: version(files),
        schemes,
        order,
        parameter_count,
        leaf_count: compiler.leaves(),
        batch: super::BatchPlan { steps: batch_plan, fns: batch_fns },
    })
}

/// Content hash of the rule files: names and bytes, in name order.
fn version(files: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for (name, text) in sorted {
        let base = Path::new(name).file_name().map_or(name.clone(), |b| b.to_string_lossy().into_owned());
        ctx.update(&(base.len() as u64).to_le_bytes());
        ctx.update(base.as_bytes());
        ctx.update(&(text.len() as u64).to_le_bytes());
        ctx.update(text.as_bytes());
    }
    ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Topological order of the schemes (dependencies first), or a cycle.
fn order(deps: &[Vec<(usize, Pos)>]) -> Result<Vec<usize>, Vec<usize>> {
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state = vec![0u8; deps.len()];
    let mut out = Vec::with_capacity(deps.len());
    for start in 0..deps.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&(dep, _)) = deps[node].get(*next) {
                *next += 1;
                match state[dep] {
                    0 => {
                        state[dep] = 1;
                        stack.push((dep, 0));
                    }
                    1 => {
                        let from = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        return Err(stack[from..].iter().map(|(n, _)| *n).collect());
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                out.push(node);
                stack.pop();
            }
        }
    }
    Ok(out)
}

fn at(file: &str, pos: Pos, message: impl Into<String>) -> Diagnostic {
    Diagnostic { file: file.to_string(), line: pos.line, column: pos.col, message: message.into(), hint: None }
}

struct Reader<'a, 'd> {
    file: &'a str,
    source: &'a str,
    diags: &'d mut Vec<Diagnostic>,
}

const SCHEME_KEYS: &[&str] = &[
    "id",
    "name",
    "department",
    "guarantee",
    "benefit",
    "documents",
    "office",
    "source",
    "illustrative",
    "valid_from",
    "valid_until",
    "acknowledge_within_days",
    "parameters",
    "criteria",
    "subject_to",
    "examples",
];

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

fn is_snake(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl<'a> Reader<'a, '_> {
    fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags.push(at(self.file, pos, message));
    }

    fn hint(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.diags.push(Diagnostic { hint, ..at(self.file, pos, message) });
    }

    /// The entries of a mapping, with unknown keys reported.
    fn map<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> Option<&'n [(Node, Node)]> {
        let Value::Map(entries) = &node.value else {
            self.error(node.pos, format!("{what} must be a mapping of `key: value` lines"));
            return None;
        };
        for (k, _) in entries {
            let key = k.text().unwrap_or_default();
            if !allowed.contains(&key) {
                let hint = suggest(key, allowed.iter().copied())
                    .or_else(|| Some(format!("allowed keys: {}", allowed.join(", "))));
                self.hint(k.pos, format!("unknown key `{key}` in {what}"), hint);
            }
        }
        Some(entries)
    }

    fn get<'n>(&mut self, entries: &'n [(Node, Node)], key: &str) -> Option<&'n Node> {
        entries.iter().find(|(k, _)| k.text() == Some(key)).map(|(_, v)| v).filter(|v| !is_null(v))
    }

    fn required<'n>(&mut self, entries: &'n [(Node, Node)], key: &str, parent: Pos) -> Option<&'n Node> {
        let found = self.get(entries, key);
        if found.is_none() {
            self.error(parent, format!("missing required key `{key}`"));
        }
        found
    }

    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.text().map(str::trim) {
            Some(t) if !t.is_empty() => Some(t.to_string()),
            _ => {
                self.error(node.pos, format!("{what} must be non-empty text"));
                None
            }
        }
    }

    fn localized(&mut self, node: &Node, what: &str) -> Option<Text> {
        let entries = self.map(node, what, &["en", "ur"])?;
        let en = self.required(entries, "en", node.pos).and_then(|n| self.text(n, "`en`"));
        let ur = self.required(entries, "ur", node.pos).and_then(|n| self.text(n, "`ur`"));
        Some(Text { en: en?, ur: ur? })
    }

    fn localized_list(&mut self, node: &Node, what: &str) -> Option<Vec<Text>> {
        let Value::Seq(items) = &node.value else {
            self.error(node.pos, format!("{what} must be a list (lines starting with `-`)"));
            return None;
        };
        if items.len() > MAX_ITEMS {
            self.error(node.pos, format!("{what} has more than {MAX_ITEMS} entries"));
            return None;
        }
        let texts: Vec<Option<Text>> = items.iter().map(|i| self.localized(i, what)).collect();
        texts.into_iter().collect()
    }

    fn date(&mut self, node: &Node, what: &str) -> Option<NaiveDate> {
        let text = node.text().unwrap_or_default();
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) if text.len() == 10 => Some(d),
            _ => {
                self.hint(
                    node.pos,
                    format!("{what} must be a date"),
                    Some("write it as YYYY-MM-DD, e.g. 2025-07-01".into()),
                );
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.text() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => {
                self.hint(node.pos, format!("{what} must be `true` or `false`"), None);
                None
            }
        }
    }

    fn scheme(&mut self, root: &Node, parameter_count: &mut usize) -> Option<Draft<'a>> {
        let entries = self.map(root, "a rule file", SCHEME_KEYS)?;
        let top = Pos { line: 1, col: 1 };
        let id_node = self.required(entries, "id", top)?;
        let id = self.text(id_node, "`id`")?;
        let id_pos = id_node.pos;
        if !is_id(&id) {
            self.hint(
                id_pos,
                format!("`{id}` is not a valid scheme id"),
                Some("use lower-case letters, digits and `-`, e.g. `bisp-kafaalat`".into()),
            );
        }
        let stem = Path::new(self.file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if stem != id {
            self.hint(
                id_pos,
                format!("the id `{id}` does not match the file name `{stem}`"),
                Some(format!("rename the file to `{id}.yaml`")),
            );
        }
        let name = self.required(entries, "name", top).and_then(|n| self.localized(n, "`name`"));
        let department = self.required(entries, "department", top).and_then(|n| self.text(n, "`department`"));
        let guarantee = self.required(entries, "guarantee", top).and_then(|n| {
            let text = n.text().unwrap_or_default();
            let found = Guarantee::ALL.iter().find(|(t, _)| *t == text).map(|(_, g)| *g);
            if found.is_none() {
                let hint = suggest(text, Guarantee::ALL.iter().map(|(t, _)| *t))
                    .or_else(|| Some("one of: health, children, working_age, old_age".into()));
                self.hint(n.pos, format!("unknown guarantee `{text}`"), hint);
            }
            found
        });
        let benefit = self.required(entries, "benefit", top).and_then(|n| self.localized(n, "`benefit`"));
        let documents = self.required(entries, "documents", top).and_then(|n| self.localized_list(n, "`documents`"));
        let office = match self.get(entries, "office") {
            Some(n) => Some(self.localized(n, "`office`")?),
            None => None,
        };
        let source = self.required(entries, "source", top).and_then(|n| self.text(n, "`source`"));
        let illustrative = self.required(entries, "illustrative", top).and_then(|n| self.boolean(n, "`illustrative`"));
        let valid_from = self.required(entries, "valid_from", top).and_then(|n| self.date(n, "`valid_from`"));
        let valid_until = match self.get(entries, "valid_until") {
            Some(n) => Some(self.date(n, "`valid_until`")?),
            None => None,
        };
        if let (Some(from), Some(until)) = (valid_from, valid_until)
            && until < from
        {
            let pos = self.get(entries, "valid_until").map_or(top, |n| n.pos);
            self.error(pos, "`valid_until` is before `valid_from`");
        }
        let acknowledge_within_days = match self.get(entries, "acknowledge_within_days") {
            Some(n) => match n.text().and_then(|t| t.parse::<u32>().ok()).filter(|d| (1..=365).contains(d)) {
                Some(d) => d,
                None => {
                    self.error(n.pos, "`acknowledge_within_days` must be a whole number of days from 1 to 365");
                    30
                }
            },
            None => 30,
        };
        let subject_to = match self.get(entries, "subject_to") {
            Some(n) => self.localized_list(n, "`subject_to`").unwrap_or_default(),
            None => Vec::new(),
        };
        let mut params = HashMap::new();
        let mut parameters = Vec::new();
        if let Some(node) = self.get(entries, "parameters") {
            match &node.value {
                Value::Map(items) if items.len() <= MAX_ITEMS => {
                    for (k, v) in items {
                        if let Some(p) = self.parameter(k, v, valid_from, parameter_count) {
                            params.insert(p.name.clone(), p.index);
                            parameters.push(p);
                        }
                    }
                }
                _ => self
                    .error(node.pos, format!("`parameters` must be a mapping of at most {MAX_ITEMS} named parameters")),
            }
        }
        let mut rules: Vec<(String, String, Text, Node)> = Vec::new();
        if let Some(node) = self.required(entries, "criteria", top) {
            match &node.value {
                Value::Seq(items) if !items.is_empty() && items.len() <= MAX_ITEMS => {
                    for item in items {
                        if let Some(c) = self.criterion(item, &rules) {
                            rules.push(c);
                        }
                    }
                }
                _ => self.error(node.pos, format!("`criteria` must be a list of 1 to {MAX_ITEMS} criteria")),
            }
        }
        let mut examples = Vec::new();
        let examples_pos = entries.iter().find(|(k, _)| k.text() == Some("examples")).map_or(top, |(k, _)| k.pos);
        if let Some(node) = self.required(entries, "examples", top) {
            match &node.value {
                Value::Seq(items) if items.len() <= MAX_ITEMS => examples.extend(items.iter().cloned()),
                _ => self.error(node.pos, format!("`examples` must be a list of at most {MAX_ITEMS} households")),
            }
        }
        let scheme = Scheme {
            id: id.clone(),
            name: name?,
            department: department?,
            guarantee: guarantee?,
            benefit: benefit?,
            documents: documents?,
            office,
            source: source?,
            illustrative: illustrative?,
            valid_from: valid_from?,
            valid_until,
            acknowledge_within_days,
            parameters,
            criteria: Vec::new(),
            batch_order: Vec::new(),
            subject_to,
            examples: Vec::new(),
            file: self.file.to_string(),
        };
        Some(Draft { file: self.file, source: self.source, id, id_pos, scheme, params, rules, examples, examples_pos })
    }
}

fn is_null(node: &Node) -> bool {
    matches!(node.style, Some(saphyr_parser::ScalarStyle::Plain))
        && matches!(node.text(), Some("null" | "~" | "" | "Null" | "NULL"))
}

const PARAMETER_KEYS: &[&str] = &["label", "unit", "values"];
const CRITERION_KEYS: &[&str] = &["id", "label", "rule"];
const EXAMPLE_KEYS: &[&str] = &["name", "as_of", "household", "expect", "failed", "missing"];

impl Reader<'_, '_> {
    fn parameter(
        &mut self,
        key: &Node,
        node: &Node,
        valid_from: Option<NaiveDate>,
        count: &mut usize,
    ) -> Option<Parameter> {
        let name = key.text().unwrap_or_default().to_string();
        if !is_snake(&name) {
            self.hint(
                key.pos,
                format!("`{name}` is not a valid parameter name"),
                Some("use lower-case words joined by `_`".into()),
            );
            return None;
        }
        if dict::FIELDS.iter().any(|f| f.name == name) {
            self.hint(
                key.pos,
                format!("parameter `{name}` has the name of a registry field"),
                Some(format!("call it e.g. `{name}_limit`")),
            );
            return None;
        }
        let entries = self.map(node, &format!("parameter `{name}`"), PARAMETER_KEYS)?;
        let label = self.get(entries, "label").and_then(|n| self.text(n, "`label`"));
        let unit = self.get(entries, "unit").and_then(|n| self.text(n, "`unit`"));
        let values_node = self.required(entries, "values", node.pos)?;
        let Value::Map(items) = &values_node.value else {
            self.hint(values_node.pos, "`values` must map dates to values", Some("e.g. `2024-07-01: 36000`".into()));
            return None;
        };
        let mut values = Vec::new();
        for (k, v) in items {
            let date = self.date(k, "a parameter's effective date");
            let value = match v.text().and_then(num::parse) {
                Some(x) => Some(x),
                None => {
                    self.hint(
                        v.pos,
                        format!("the value of `{name}` must be a number"),
                        Some("e.g. 32 or 1.6 (at most six decimals)".into()),
                    );
                    None
                }
            };
            if let (Some(d), Some(x)) = (date, value) {
                values.push((d, x));
            }
        }
        if values.len() != items.len() {
            return None;
        }
        values.sort_by_key(|(d, _)| *d);
        if values.is_empty() {
            self.error(values_node.pos, format!("parameter `{name}` has no values"));
            return None;
        }
        if let Some(from) = valid_from
            && values[0].0 > from
        {
            self.hint(
                values_node.pos,
                format!("parameter `{name}` has no value on `valid_from` ({from})"),
                Some(format!("add a value dated {from} or earlier, or move `valid_from`")),
            );
            return None;
        }
        let index = *count;
        *count += 1;
        Some(Parameter { name, label, unit, values, index })
    }

    fn criterion(
        &mut self,
        node: &Node,
        earlier: &[(String, String, Text, Node)],
    ) -> Option<(String, String, Text, Node)> {
        let entries = self.map(node, "a criterion", CRITERION_KEYS)?;
        let id_node = self.required(entries, "id", node.pos)?;
        let id = self.text(id_node, "a criterion `id`")?;
        if !is_snake(&id) {
            self.hint(
                id_node.pos,
                format!("`{id}` is not a valid criterion id"),
                Some("use lower-case words joined by `_`".into()),
            );
            return None;
        }
        if earlier.iter().any(|(other, ..)| *other == id) {
            self.error(id_node.pos, format!("criterion id `{id}` is used twice"));
            return None;
        }
        let label = self.required(entries, "label", node.pos).and_then(|n| self.localized(n, "a criterion `label`"));
        let rule_node = self.required(entries, "rule", node.pos)?;
        // Refuses an empty rule; the rule itself is kept untrimmed, because offsets in errors
        // count from the scalar's own text.
        self.text(rule_node, "a criterion `rule`")?;
        let raw = rule_node.text().unwrap_or_default().to_string();
        Some((id, raw, label?, rule_node.clone()))
    }

    fn example(
        &mut self,
        node: &Node,
        declared: &[String],
        schemes: &HashMap<String, usize>,
        (from, until): (NaiveDate, Option<NaiveDate>),
    ) -> Option<Example> {
        let entries = self.map(node, "an example", EXAMPLE_KEYS)?;
        let name = self.required(entries, "name", node.pos).and_then(|n| self.text(n, "an example `name`"));
        let as_of_node = self.required(entries, "as_of", node.pos);
        let as_of = as_of_node.and_then(|n| self.date(n, "`as_of`"));
        if let (Some(d), Some(n)) = (as_of, as_of_node)
            && (d < from || until.is_some_and(|u| d > u))
        {
            self.error(n.pos, format!("`as_of` {d} is outside the scheme's validity window"));
        }
        let expect = self.required(entries, "expect", node.pos).and_then(|n| {
            let text = n.text().unwrap_or_default();
            let status = Status::parse(text);
            if status.is_none() {
                let hint = suggest(text, ["eligible", "not_eligible", "undetermined"])
                    .or_else(|| Some("one of: eligible, not_eligible, undetermined".into()));
                self.hint(n.pos, format!("unknown outcome `{text}`"), hint);
            }
            status
        });
        let criteria: Vec<&str> = declared.iter().map(String::as_str).collect();
        let failed = match self.get(entries, "failed") {
            Some(n) => Some(self.names(n, "`failed`", &criteria)?),
            None => None,
        };
        let fields: Vec<&str> = dict::FIELDS.iter().filter(|f| !f.derived).map(|f| f.name).collect();
        let missing = match self.get(entries, "missing") {
            Some(n) => Some(self.names(n, "`missing`", &fields)?),
            None => None,
        };
        let household = self.required(entries, "household", node.pos)?;
        let facts = self.household(household, schemes)?;
        Some(Example { name: name?, as_of: as_of?, facts, expect: expect?, failed, missing, line: node.pos.line })
    }

    fn names(&mut self, node: &Node, what: &str, allowed: &[&str]) -> Option<Vec<String>> {
        let Value::Seq(items) = &node.value else {
            self.hint(node.pos, format!("{what} must be a list"), Some("e.g. `[no_vehicle]`".into()));
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for item in items {
            let text = item.text().unwrap_or_default();
            if allowed.contains(&text) {
                out.push(text.to_string());
            } else {
                let hint = suggest(text, allowed.iter().copied());
                self.hint(item.pos, format!("`{text}` in {what} is not a known name"), hint);
                ok = false;
            }
        }
        ok.then_some(out)
    }

    fn household(&mut self, node: &Node, schemes: &HashMap<String, usize>) -> Option<Facts> {
        let mut keys: Vec<&str> =
            dict::FIELDS.iter().filter(|f| f.scope == Scope::Household && !f.derived).map(|f| f.name).collect();
        keys.push("members");
        keys.push("enrolled");
        let entries = self.map(node, "an example household", &keys)?;
        let mut facts = Facts::default();
        let mut ok = true;
        if let Some(list) = self.get(entries, "enrolled") {
            let known: Vec<&str> = schemes.keys().map(String::as_str).collect();
            let names = self.names(list, "`enrolled`", &known)?;
            facts.enrolled = names.iter().filter_map(|n| schemes.get(n).copied()).collect();
        }
        for (k, v) in entries {
            let key = k.text().unwrap_or_default();
            if key == "members" || key == "enrolled" {
                continue;
            }
            if let Some(f) = dict::lookup(Scope::Household, key) {
                match self.value(f, v) {
                    Some(x) => facts.household[f.slot] = x,
                    None => ok = false,
                }
            }
        }
        let members = self.required(entries, "members", node.pos)?;
        let Value::Seq(items) = &members.value else {
            self.error(members.pos, "`members` must be a list of members");
            return None;
        };
        if items.is_empty() || items.len() > MAX_MEMBERS {
            self.error(members.pos, format!("an example household has 1 to {MAX_MEMBERS} members"));
            return None;
        }
        let mut member_keys: Vec<&str> =
            dict::FIELDS.iter().filter(|f| f.scope == Scope::Member && !f.derived).map(|f| f.name).collect();
        member_keys.push("full_name");
        for item in items {
            let Some(entries) = self.map(item, "an example member", &member_keys) else {
                ok = false;
                continue;
            };
            let mut slots = [num::UNKNOWN; dict::MEMBER_SLOTS];
            for (k, v) in entries {
                if let Some(f) = dict::lookup(Scope::Member, k.text().unwrap_or_default()) {
                    match self.value(f, v) {
                        Some(x) => slots[f.slot] = x,
                        None => ok = false,
                    }
                }
            }
            *facts.push_member() = slots;
        }
        ok.then_some(facts)
    }

    /// A field value written in an example, in slot encoding (`null` is unknown).
    fn value(&mut self, field: &dict::Field, node: &Node) -> Option<i64> {
        if is_null(node) {
            return Some(num::UNKNOWN);
        }
        let text = node.text().unwrap_or_default();
        match field.ty {
            Ty::Bool => self.boolean(node, &format!("`{}`", field.name)).map(i64::from),
            Ty::Num => match num::parse(text) {
                Some(v) => Some(v),
                None => {
                    self.error(node.pos, format!("`{}` must be a number", field.name));
                    None
                }
            },
            Ty::Date => self.date(node, &format!("`{}`", field.name)).map(dict::date_slot),
            Ty::Coded(_) => match field.codes().iter().position(|c| *c == text) {
                Some(i) => Some(i as i64),
                None => {
                    let hint = suggest(text, field.codes().iter().copied())
                        .or_else(|| Some(format!("allowed values: {}", field.codes().join(", "))));
                    self.hint(node.pos, format!("unknown {} value `{text}`", field.name), hint);
                    None
                }
            },
        }
    }
}

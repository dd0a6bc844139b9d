//! Fuzzing the rules engine with proptest: arbitrary text, token soup and mutated rule files
//! must never panic the expression parser or the loader; every refusal carries a position
//! inside the file; whatever loads evaluates the same through the compiled closures and the
//! reference interpreter.
//!
//! The number of cases per property is [`DEFAULT_CASES`] or `PROPTEST_CASES`:
//! `PROPTEST_CASES=20000 cargo test --release --test rules_fuzz`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use chrono::NaiveDate;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use sahulat::rules::compile::{Env, LeafCache, MASK_MEMBERS, NO_MEMBER};
use sahulat::rules::dict::{self, Facts, Scope};
use sahulat::rules::eval::eval_bool;
use sahulat::rules::load::load_sources;
use sahulat::rules::num::{self, UNKNOWN};
use sahulat::rules::{Diagnostic, Explanation, RuleSet, Status, Tri, examples, expr};

/// Cases per property when `PROPTEST_CASES` is not set: the whole file takes a few seconds in
/// a debug build.
const DEFAULT_CASES: u32 = 1024;

fn config() -> ProptestConfig {
    // `ProptestConfig::default()` reads `PROPTEST_CASES` (and proptest's other variables).
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = DEFAULT_CASES;
    }
    // Failures are reported with their minimal input; no regression files are written.
    config.failure_persistence = None;
    config
}

/// The rule files of `rules/`, by file name.
fn rule_files() -> &'static BTreeMap<String, String> {
    static FILES: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "yaml") {
                let name = format!("rules/{}", path.file_name().unwrap_or_default().to_string_lossy());
                files.insert(name, std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
        assert!(files.len() >= 40, "rules/ has only {} files", files.len());
        files
    })
}

/// The files `text` depends on through `eligible(…)`, transitively.
fn dependencies(text: &str, out: &mut BTreeMap<String, String>) {
    for quote in ['"', '\''] {
        for part in text.split(&format!("eligible({quote}")).skip(1) {
            let Some(id) = part.split(quote).next() else { continue };
            let name = format!("rules/{id}.yaml");
            if let Some(dep) = rule_files().get(&name)
                && !out.contains_key(&name)
            {
                out.insert(name, dep.clone());
                dependencies(dep, out);
            }
        }
    }
}

/// Every diagnostic names one of the files and a position inside it.
fn check_positions(files: &[(String, String)], diags: &[Diagnostic]) -> Result<(), TestCaseError> {
    prop_assert!(!diags.is_empty(), "refused without a diagnostic");
    for d in diags {
        let text = files.iter().find(|(name, _)| *name == d.file).map(|(_, t)| t.as_str());
        prop_assert!(text.is_some(), "{d}: not one of the files");
        let text = text.unwrap_or_default();
        prop_assert!(d.line >= 1 && d.column >= 1, "{d}: no position");
        // Lines as YAML counts them: `\r\n`, `\n` and a lone `\r` each end one.
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let lines: Vec<&str> = text.split('\n').collect();
        if d.line == lines.len() + 1 && !text.ends_with('\n') {
            // The YAML parser reports an error at the end of a file without a final line break
            // at the start of the line after the last.
            prop_assert_eq!(d.column, 1, "{}: past the end of the file", d);
            continue;
        }
        prop_assert!(d.line <= lines.len(), "{d}: past the last line ({})", lines.len());
        let line = lines[d.line - 1];
        // saphyr-parser counts the column of an unprintable character in bytes, not characters.
        let width = if d.message.contains("unprintable") { line.len() } else { line.chars().count() };
        prop_assert!(d.column <= width + 1, "{d}: past the end of line {} ({width} characters)", d.line);
    }
    Ok(())
}

fn load_checked(files: &[(String, String)]) -> Result<Option<RuleSet>, TestCaseError> {
    match load_sources(files) {
        Ok(set) => Ok(Some(set)),
        Err(diags) => {
            check_positions(files, &diags)?;
            Ok(None)
        }
    }
}

fn facts(household: &[(&str, i64)], members: &[&[(&str, i64)]]) -> Facts {
    let mut f = Facts::default();
    for (name, v) in household {
        if let Some(field) = dict::lookup(Scope::Household, name) {
            f.household[field.slot] = *v;
        }
    }
    for member in members {
        let slots = f.push_member();
        for (name, v) in *member {
            if let Some(field) = dict::lookup(Scope::Member, name) {
                slots[field.slot] = *v;
            }
        }
    }
    f
}

fn day(y: i32, m: u32, d: u32) -> i64 {
    NaiveDate::from_ymd_opt(y, m, d).map_or(UNKNOWN, dict::date_slot)
}

/// A few households: fully known, partly known, with no members, all unknown.
fn households() -> &'static [Facts] {
    static HOUSEHOLDS: OnceLock<Vec<Facts>> = OnceLock::new();
    HOUSEHOLDS.get_or_init(|| {
        let n = num::int;
        let mut all = vec![
            facts(
                &[
                    ("district", 35),
                    ("area_type", 1),
                    ("monthly_income_pkr", n(24_000)),
                    ("pmt_score", 31_500_000),
                    ("land_acres", 500_000),
                    ("livestock_heads", n(2)),
                    ("house_ownership", 0),
                    ("rooms", n(2)),
                    ("owns_vehicle", 0),
                ],
                &[
                    &[
                        ("relation_to_head", 0),
                        ("sex", 0),
                        ("date_of_birth", day(1980, 2, 29)),
                        ("id_type", 0),
                        ("marital_status", 1),
                        ("religion", 0),
                        ("disability", 0),
                        ("employment", 0),
                        ("monthly_income_pkr", n(24_000)),
                        ("govt_employee", 0),
                        ("taxpayer", 0),
                        ("eobi_registered", 1),
                        ("eobi_contribution_years", n(16)),
                        ("essi_registered", 1),
                    ],
                    &[
                        ("relation_to_head", 1),
                        ("sex", 1),
                        ("date_of_birth", day(1985, 7, 1)),
                        ("id_type", 0),
                        ("marital_status", 1),
                        ("is_pregnant", 1),
                        ("disability", 1),
                        ("disability_certificate", 1),
                    ],
                    &[
                        ("relation_to_head", 3),
                        ("sex", 1),
                        ("date_of_birth", day(2014, 1, 31)),
                        ("id_type", 1),
                        ("school_enrolled", 1),
                        ("school_level", 1),
                        ("attendance_pct", n(80)),
                        ("is_orphan", 0),
                    ],
                ],
            ),
            facts(
                &[("rooms", n(1)), ("owns_vehicle", 1)],
                &[&[("sex", 1), ("is_orphan", 1)], &[("date_of_birth", day(2024, 3, 1))], &[]],
            ),
            facts(&[("monthly_income_pkr", n(10_000))], &[]),
            facts(&[], &[&[], &[]]),
        ];
        // Households around the size where member tests stop being evaluated as bit masks.
        for size in [MASK_MEMBERS, MASK_MEMBERS + 1] {
            let mut big = Facts::default();
            for k in 0..size {
                let source = &all[k % 2].members;
                let mut member = source[k % source.len()];
                if k % 3 == 0 {
                    member[k % dict::MEMBER_SLOTS] = UNKNOWN;
                }
                *big.push_member() = member;
            }
            big.household = all[0].household;
            all.push(big);
        }
        all
    })
}

/// Screens the households on a few dates: statuses, explanations and the reference
/// interpreter agree, and every missing field listed is a blank registry field.
fn evaluate(set: &RuleSet) -> Result<(), TestCaseError> {
    let mut explanation = Explanation::default();
    let mut batch = Vec::new();
    for (y, m, d) in [(2020, 1, 1), (2025, 1, 15), (2026, 3, 1)] {
        let as_of = NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        let bound = set.bind(as_of);
        for household in households() {
            bound.statuses(&mut household.clone(), &mut batch);
            bound.explain(&mut household.clone(), &mut explanation);
            let mut derived = household.clone();
            derived.derive(as_of);
            let mut reference = vec![Status::NotEligible; set.schemes.len()];
            for &i in &set.order {
                if !bound.is_active(i) {
                    continue;
                }
                let env = Env {
                    hh: &derived.household,
                    members: &derived.members,
                    params: bound.params(),
                    status: &reference,
                    cache: &LeafCache::default(),
                    enrolled: &derived.enrolled,
                };
                let outcomes: Vec<Tri> =
                    set.schemes[i].criteria.iter().map(|c| eval_bool(&c.ir, &env, &NO_MEMBER)).collect();
                prop_assert_eq!(&explanation.results[i].outcomes, &outcomes);
                reference[i] = if outcomes.contains(&Tri::False) {
                    Status::NotEligible
                } else if outcomes.contains(&Tri::Unknown) {
                    Status::Undetermined
                } else {
                    Status::Eligible
                };
            }
            let explained: Vec<Status> =
                explanation.results.iter().map(|r| r.status.unwrap_or(Status::NotEligible)).collect();
            prop_assert_eq!(&batch, &explained);
            prop_assert_eq!(&batch, &reference);
            if household.members.is_empty() {
                continue;
            }
            for result in &explanation.results {
                for m in &result.missing {
                    let scope = if m.member.is_some() { Scope::Member } else { Scope::Household };
                    let field = dict::lookup(scope, m.field);
                    prop_assert!(field.is_some_and(|f| !f.derived), "{m:?} is not a registry field");
                    let slot = field.map_or(0, |f| f.slot);
                    let value = match m.member {
                        Some(k) => household.members[k][slot],
                        None => household.household[slot],
                    };
                    prop_assert_eq!(value, UNKNOWN, "{:?} is listed as missing but is known", m);
                }
            }
        }
    }
    Ok(())
}

/// A rule file for scheme `t` whose one rule is `rule`, written as a `rule: |` block on line 15;
/// and scheme `a`, so that `eligible("a")` resolves.
fn with_rule(rule: &str) -> Vec<(String, String)> {
    let file = |id: &str, rule: &str| {
        format!(
            "id: {id}\nname: {{ en: T, ur: ٹ }}\ndepartment: Test\nguarantee: health\nbenefit: {{ en: B, ur: ب }}\n\
             documents: []\nsource: test\nillustrative: true\nvalid_from: 2020-01-01\n\
             parameters: {{ pmt_cutoff: {{ values: {{ 2020-01-01: 32, 2025-07-01: 30 }} }} }}\ncriteria:\n\
             \x20 - id: c1\n    label: {{ en: C, ur: ج }}\n    rule: |\n      {rule}\nexamples:\n\
             \x20 - {{ name: y, as_of: 2025-01-15, household: {{ members: [{{ sex: female }}] }}, expect: eligible }}\n\
             \x20 - {{ name: n, as_of: 2025-01-15, household: {{ members: [{{ sex: male }}] }}, expect: not_eligible }}\n"
        )
    };
    vec![("a.yaml".into(), file("a", "rooms > 1")), ("t.yaml".into(), file("t", rule))]
}

const TOKENS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "not in",
    "between",
    "any member",
    "all members",
    "count members",
    "any",
    "member",
    "household",
    ".",
    "household.size",
    "eligible(\"a\")",
    "eligible('t')",
    "eligible(\"x\")",
    "eligible",
    "(",
    ")",
    "(",
    ")",
    "[",
    "]",
    ",",
    "true",
    "false",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "≤",
    "≥",
    "≠",
    "+",
    "-",
    "*",
    "/",
    "×",
    "pmt_score",
    "pmt_cutoff",
    "rooms",
    "owns_vehicle",
    "age",
    "age_months",
    "sex",
    "female",
    "male",
    "transgender",
    "none",
    "disability",
    "is_orphan",
    "is_pregnant",
    "monthly_income_pkr",
    "income_per_capita",
    "size",
    "district",
    "peshawar",
    "'peshawar'",
    "area_type",
    "rural",
    "land_acres",
    "date_of_birth",
    "marital_status",
    "widowed",
    "school_level",
    "primary",
    "attendance_pct",
    "0",
    "1",
    "2",
    "18",
    "32.5",
    "0.000001",
    "1.1234567",
    "99999999999999",
    "9223372036854",
    "1_000",
    "1.",
    "\"female\"",
    "'x'",
    "\"",
    "'",
    "&&",
    "|",
    "#",
    ":",
    "é",
    "ے",
    "femal",
    "pmt_scor",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec((select(TOKENS), prop::bool::weighted(0.8)), 1..24).prop_map(|tokens| {
        let mut out = String::new();
        for (token, space) in tokens {
            out.push_str(token);
            if space {
                out.push(' ');
            }
        }
        out.trim().to_string()
    })
}

const NUMBERS: &[&str] = &[
    "rooms",
    "pmt_score",
    "land_acres",
    "livestock_heads",
    "monthly_income_pkr",
    "income_per_capita",
    "size",
    "household.size",
    "pmt_cutoff",
    "0",
    "1",
    "2",
    "18",
    "32",
    "1.5",
    "0.000001",
    "9000000000000",
    "-3",
];
const MEMBER_NUMBERS: &[&str] = &[
    "age",
    "age_months",
    "attendance_pct",
    "monthly_income_pkr",
    "household.monthly_income_pkr",
    "eobi_contribution_years",
    "rooms",
    "pmt_cutoff",
    "4",
    "12",
    "18",
    "24",
    "60",
    "70",
];
const TESTS: &[&str] = &[
    "owns_vehicle",
    "true",
    "false",
    "area_type = rural",
    "area_type != urban",
    "house_ownership in [owned, 'rented']",
    "district = peshawar",
    "district not in [swat, \"lakki-marwat\"]",
    "eligible(\"a\")",
    "owns_vehicle = false",
    "(rooms > 1) = owns_vehicle",
    "owns_vehicle != (pmt_score < 30)",
];
const MEMBER_TESTS: &[&str] = &[
    "is_orphan",
    "is_pregnant",
    "school_enrolled",
    "govt_employee",
    "disability_certificate",
    "sex = female",
    "sex in [female, transgender]",
    "disability != none",
    "marital_status in [widowed, divorced, separated]",
    "employment not in [employed_formal]",
    "id_type = cnic",
    "religion = muslim",
    "relation_to_head = head",
    "school_level = primary",
    "owns_vehicle",
    "area_type = rural",
    "is_lactating = true",
];
const COMPARISONS: &[&str] = &["=", "!=", "<", "<=", ">", ">=", "≤", "≥", "==", "≠"];

/// A well-formed number expression (`member`: inside a member quantifier).
fn number(member: bool) -> impl Strategy<Value = String> {
    let leaves = if member { MEMBER_NUMBERS } else { NUMBERS };
    select(leaves).prop_map(String::from).prop_recursive(2, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), select(&["+", "-", "*", "/", "×"][..]), inner.clone())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.prop_map(|a| format!("-{a}")),
        ]
    })
}

/// A well-formed yes/no test.
fn test(member: bool) -> impl Strategy<Value = String> {
    let tests = if member { MEMBER_TESTS } else { TESTS };
    let leaf = prop_oneof![
        select(tests).prop_map(String::from),
        (number(member), select(COMPARISONS), number(member)).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        (number(member), number(member), number(member)).prop_map(|(x, a, b)| format!("({x} between {a} and {b})")),
        (number(member), number(member), number(member)).prop_map(|(x, a, b)| format!("{x} in [{a}, {b}]")),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|a| format!("not {a}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} or {b}")),
        ]
    })
}

/// A well-formed, well-typed rule.
fn well_formed_rule() -> impl Strategy<Value = String> {
    let quantified = prop_oneof![
        test(true).prop_map(|p| format!("any member ({p})")),
        test(true).prop_map(|p| format!("all members ({p})")),
        (test(true), select(COMPARISONS), number(false)).prop_map(|(p, op, k)| format!("count members ({p}) {op} {k}")),
        (number(false), select(COMPARISONS), test(true)).prop_map(|(k, op, p)| format!("{k} {op} count members ({p})")),
    ];
    prop_oneof![
        test(false),
        quantified.clone(),
        (test(false), select(&["and", "or"][..]), quantified).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
    ]
}

/// A well-formed rule with one edit: a token inserted, a character deleted, or cut short.
fn near_miss_rule() -> impl Strategy<Value = String> {
    (well_formed_rule(), any::<Index>(), select(TOKENS), 0..3u8).prop_map(|(rule, at, token, how)| {
        let chars: Vec<char> = rule.chars().collect();
        let i = at.index(chars.len() + 1);
        let head: String = chars[..i].iter().collect();
        let tail: String = chars[i..].iter().collect();
        match how {
            0 => format!("{head} {token} {tail}").trim().to_string(),
            1 => head + &tail.chars().skip(1).collect::<String>(),
            _ if head.trim().is_empty() => tail,
            _ => head.trim_end().to_string(),
        }
    })
}

/// One edit of a rule file.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    SetChar(Index, char),
    InsertChar(Index, char),
    DeleteChar(Index),
    ReplaceWord(Index, &'static str),
    Truncate(Index),
}

const CHARS: &[char] = &[
    ' ', ' ', '\t', '\n', ':', '-', '#', '"', '\'', '[', ']', '{', '}', '|', '>', '&', '*', '!', '%', '@', '`', ',',
    '?', '(', ')', '=', '<', '.', '0', '1', '9', 'a', 'z', 'A', '_', 'é', 'ے', '\u{0}', '\u{feff}', '\r',
];

const WORDS: &[&str] = &[
    "",
    "null",
    "~",
    "true",
    "false",
    "yes",
    "[]",
    "{}",
    "'x'",
    "\"",
    "- x",
    "x: y",
    "2020-01-01",
    "2020-13-45",
    "2099-01-01",
    "0",
    "-1",
    "1.5",
    "1e3",
    "eligible",
    "undetermined",
    "not_eligible",
    "pmt_score",
    "age",
    "members",
    "household",
    "criteria",
    "examples",
    "parameters",
    "values",
    "rule",
    "id",
    "label",
    "en",
    "ur",
    "female",
    "none",
    "any member (age >= 18)",
    "eligible(\"bisp-kafaalat\")",
    "eligible(\"zakat-guzara\")",
    "not",
    "and",
    "or",
    "(",
    ")",
    "#",
    "|",
    ">",
    "&a",
    "*a",
    "!!str",
    "---",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::DeleteLine),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<Index>(), select(CHARS)).prop_map(|(i, c)| Mutation::SetChar(i, c)),
        (any::<Index>(), select(CHARS)).prop_map(|(i, c)| Mutation::InsertChar(i, c)),
        any::<Index>().prop_map(Mutation::DeleteChar),
        (any::<Index>(), select(WORDS)).prop_map(|(i, w)| Mutation::ReplaceWord(i, w)),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<&str> = text.split('\n').collect();
    let mut chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    match mutation {
        Mutation::DeleteLine(i) => {
            lines.remove(i.index(lines.len()));
            lines.join("\n")
        }
        Mutation::DuplicateLine(i) => {
            let at = i.index(lines.len());
            lines.insert(at, lines[at]);
            lines.join("\n")
        }
        Mutation::SwapLines(a, b) => {
            let (a, b) = (a.index(lines.len()), b.index(lines.len()));
            lines.swap(a, b);
            lines.join("\n")
        }
        Mutation::SetChar(i, c) if !chars.is_empty() => {
            chars[i.index(n)] = *c;
            chars.into_iter().collect()
        }
        Mutation::InsertChar(i, c) => {
            chars.insert(i.index(n + 1), *c);
            chars.into_iter().collect()
        }
        Mutation::DeleteChar(i) if !chars.is_empty() => {
            chars.remove(i.index(n));
            chars.into_iter().collect()
        }
        Mutation::ReplaceWord(i, word) if !chars.is_empty() => {
            // The word (letters, digits, `_`, `-`) at the position, or an insertion there.
            let at = i.index(n);
            let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
            let start = (0..=at).rev().take_while(|&k| is_word(chars[k])).last().unwrap_or(at);
            let end = (at..chars.len()).find(|&k| !is_word(chars[k])).unwrap_or(chars.len());
            let mut out: String = chars[..start].iter().collect();
            out.push_str(word);
            out.extend(&chars[end.max(start)..]);
            out
        }
        Mutation::Truncate(i) => chars[..i.index(n + 1)].iter().collect(),
        _ => text.to_string(),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_expression_parser_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = expr::parse(&text);
    }

    #[test]
    fn the_expression_parser_never_panics_on_long_or_odd_text(
        text in prop_oneof![
            "\\PC{0,300}",
            "[ -~]{0,300}",
            "[()a-z<>=!. \"']{3000,4200}",
        ],
    ) {
        let _ = expr::parse(&text);
    }

    #[test]
    fn the_loader_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let files = vec![("t.yaml".to_string(), text)];
        load_checked(&files)?;
    }

    #[test]
    fn well_formed_rules_load_and_evaluate_consistently(rule in well_formed_rule()) {
        let files = with_rule(&rule);
        match load_sources(&files) {
            Ok(set) => evaluate(&set)?,
            // The one refusal a well-formed rule may meet: too many operators for the parser.
            Err(diags) => {
                prop_assert!(diags.iter().all(|d| d.message.contains("nests more than")), "{rule}: {diags:?}");
            }
        }
    }

    #[test]
    fn broken_rules_are_refused_with_a_position_or_evaluate_consistently(
        rule in prop_oneof![token_soup(), near_miss_rule()],
    ) {
        // The parser alone first, then the rule in a file.
        let _ = expr::parse(&rule);
        let files = with_rule(&rule);
        match load_sources(&files) {
            Ok(set) => evaluate(&set)?,
            Err(diags) => {
                check_positions(&files, &diags)?;
                // A mistake in the rule points into the rule's line (line 15).
                for d in diags.iter().filter(|d| d.file == "t.yaml") {
                    prop_assert_eq!(d.line, 15, "{}", d);
                }
            }
        }
    }

    #[test]
    fn mutated_rule_files_load_or_are_refused_with_positions(
        file in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let all = rule_files();
        let (name, original) = all.iter().nth(file.index(all.len())).unwrap_or_else(|| unreachable!());
        let mut text = original.clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        let mut deps = BTreeMap::new();
        dependencies(original, &mut deps);
        deps.remove(name);
        let mut files: Vec<(String, String)> = deps.into_iter().collect();
        files.push((name.clone(), text));
        if let Some(set) = load_checked(&files)? {
            // Whatever still loads runs its examples (they may now fail) and evaluates.
            let _ = examples::run(&set);
            evaluate(&set)?;
        }
    }
}

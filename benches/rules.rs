//! Rules-engine benchmark (a bench binary, not a timed test): figures for the issue notes.
//!
//! ```sh
//! cargo bench --bench rules [-- --households 100000 --as-of 2025-01-15]
//! ```
//!
//! One thread. Synthetic households come from `sahulat demo-data`'s generator and are
//! converted to facts before timing. Measured:
//! - loading and checking `rules/` (median of 5);
//! - batch mode (statuses only) over the full catalogue, per household;
//! - explained mode (every criterion, missing fields) for one household at a time: median
//!   and p99 of individually timed calls;
//! - the engine on the 13 reference schemes of SCHEMES.md §2 against the same schemes
//!   written by hand as plain Rust functions over the same facts — with every status
//!   cross-checked, so the comparison is also a correctness test.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sahulat::domain::codes::*;
use sahulat::registry::demo::{DISTRICTS, Generator};
use sahulat::registry::parse::parse_new_household;
use sahulat::rules::dict::{Facts, MEMBER_SLOTS, Scope, lookup};
use sahulat::rules::load::{load_dir, load_sources};
use sahulat::rules::num::{self, UNKNOWN};
use sahulat::rules::{Explanation, RuleSet, Status, Tri};

const REFERENCE: [&str; 13] = [
    "bisp-kafaalat",
    "bisp-taleemi-wazaif",
    "bisp-nashonuma",
    "zakat-guzara",
    "pbm-financial-assistance",
    "pbm-sweet-homes",
    "pbm-special-family",
    "eobi-old-age-pension",
    "sehat-card-plus",
    "kp-disability-assistance",
    "essi-medical-care",
    "wwb-marriage-grant",
    "senior-citizen-card",
];

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let households: usize = arg("--households").and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let as_of = arg("--as-of")
        .and_then(|v| NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok())
        .unwrap_or(NaiveDate::from_ymd_opt(2025, 1, 15).unwrap_or_default());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");

    // Loading and checking the whole directory.
    let mut loads = Vec::new();
    let mut full = None;
    for _ in 0..5 {
        let started = Instant::now();
        let set = load_dir(&dir).unwrap_or_else(|d| panic!("rules/ does not load: {d:?}"));
        loads.push(started.elapsed());
        full = Some(set);
    }
    let Some(full) = full else { return };
    println!(
        "load+check rules/: {} schemes, {} criteria: median {:.1} ms",
        full.schemes.len(),
        full.criterion_count(),
        median(loads).as_secs_f64() * 1e3
    );
    let reference = reference_set(&dir);

    // Synthetic households → facts.
    let started = Instant::now();
    let known: Vec<String> = DISTRICTS.iter().map(|(c, _)| c.to_string()).collect();
    let mut generator = Generator::new(7, as_of, &known);
    let mut all: Vec<Facts> = Vec::with_capacity(households);
    let mut registry = Vec::with_capacity(households);
    let mut members = 0;
    while all.len() < households {
        let Ok(h) = parse_new_household(&generator.household(), as_of) else { continue };
        let mut facts = Facts::default();
        facts.fill_from_registry(&h.district, &h.fields, &h.members);
        members += facts.members.len();
        all.push(facts);
        registry.push(h);
    }
    println!(
        "{households} households, {members} members ({:.2} per household), generated in {:.1} s",
        members as f64 / households as f64,
        started.elapsed().as_secs_f64()
    );

    if arg("--only").as_deref() == Some("columnar") {
        columnar(&full, &mut all, as_of);
        return;
    }
    batch(&full, &mut all, as_of, "full catalogue");
    streamed(&full, &registry, as_of);
    columnar(&full, &mut all, as_of);
    if arg("--only").as_deref() == Some("batch") {
        let bound = full.bind(as_of);
        let mut out = Vec::new();
        let mut small: Vec<Facts> = all[..64].to_vec();
        let started = Instant::now();
        for _ in 0..3000 {
            for f in small.iter_mut() {
                bound.statuses(f, &mut out);
            }
            black_box(&out);
        }
        println!("64 households cycled (in cache): {:.3} µs", started.elapsed().as_secs_f64() / 192_000.0 * 1e6);
        return;
    }
    explained(&full, &mut all, as_of);
    let engine = batch(&reference, &mut all, as_of, "13 reference schemes (engine)");
    let hand = hand_written(&reference, &mut all, as_of);
    println!("engine / hand-written on the 13 reference schemes: {:.2}x", engine.as_secs_f64() / hand.as_secs_f64());
}

fn reference_set(dir: &Path) -> RuleSet {
    let files: Vec<(String, String)> = REFERENCE
        .iter()
        .map(|id| {
            let name = format!("{id}.yaml");
            let text = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
            (name, text)
        })
        .collect();
    load_sources(&files).unwrap_or_else(|d| panic!("reference schemes do not load: {d:?}"))
}

/// Batch mode: median of 3 passes; prints and returns the per-household time.
fn batch(set: &RuleSet, all: &mut [Facts], as_of: NaiveDate, what: &str) -> Duration {
    let bound = set.bind(as_of);
    let mut out = Vec::new();
    let mut runs = Vec::new();
    let mut eligible = 0usize;
    let repeat: usize = arg("--repeat").and_then(|v| v.parse().ok()).unwrap_or(3);
    for _ in 0..repeat {
        let started = Instant::now();
        for facts in all.iter_mut() {
            bound.statuses(facts, &mut out);
            black_box(&out);
        }
        runs.push(started.elapsed());
    }
    // Counted outside the timed passes.
    for facts in all.iter_mut() {
        bound.statuses(facts, &mut out);
        eligible += out.iter().filter(|s| **s == Status::Eligible).count();
    }
    let per = median(runs) / all.len() as u32;
    let schemes = (0..set.schemes.len()).filter(|i| bound.is_active(*i)).count();
    println!(
        "batch, {what} ({schemes} active schemes): {:.3} µs per household = {:.1} M household×scheme/s \
         ({:.2} eligible schemes per household)",
        per.as_secs_f64() * 1e6,
        schemes as f64 / per.as_secs_f64() / 1e6,
        eligible as f64 / all.len() as f64
    );
    per
}

/// The re-screening job's shape: each household's facts are filled from registry records
/// into one reused buffer, then evaluated while they are in cache. Fill and evaluation are
/// timed separately (median of 3 passes each).
fn streamed(set: &RuleSet, registry: &[sahulat::registry::parse::NewHousehold], as_of: NaiveDate) {
    let bound = set.bind(as_of);
    let mut facts = Facts::default();
    let mut out = Vec::new();
    let (mut fills, mut totals) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let started = Instant::now();
        for h in registry {
            facts.fill_from_registry(&h.district, &h.fields, &h.members);
            black_box(&facts);
        }
        fills.push(started.elapsed());
        let started = Instant::now();
        for h in registry {
            facts.fill_from_registry(&h.district, &h.fields, &h.members);
            bound.statuses(&mut facts, &mut out);
            black_box(&out);
        }
        totals.push(started.elapsed());
    }
    let n = registry.len() as f64;
    let fill = median(fills).as_secs_f64() / n * 1e6;
    let total = median(totals).as_secs_f64() / n * 1e6;
    println!(
        "streamed (facts filled from registry records into one buffer, then evaluated): fill {fill:.3} µs + \
         evaluation {:.3} µs per household",
        total - fill
    );
}

/// Columnar batch mode over chunks of 1,024 households: building the columns (prep) and
/// evaluating them are timed separately; every status is cross-checked against row-wise
/// batch mode.
fn columnar(set: &RuleSet, all: &mut [Facts], as_of: NaiveDate) {
    use sahulat::rules::columnar::Chunk;
    const CHUNK: usize = 1024;
    let bound = set.bind(as_of);
    let started = Instant::now();
    let chunks: Vec<Chunk> = all.chunks_mut(CHUNK).map(|c| Chunk::from_facts(c, as_of)).collect();
    let prep = started.elapsed();
    let mut out = Vec::new();
    let mut row = Vec::new();
    let mut mismatches = 0;
    for (chunk, facts) in chunks.iter().zip(all.chunks_mut(CHUNK)) {
        bound.statuses_columnar(chunk, &mut out);
        for (h, f) in facts.iter_mut().enumerate() {
            bound.statuses(f, &mut row);
            let n = row.len();
            mismatches += row.iter().zip(&out[h * n..(h + 1) * n]).filter(|(a, b)| a != b).count();
        }
    }
    assert_eq!(mismatches, 0, "columnar and row-wise batch modes disagree");
    let mut runs = Vec::new();
    let repeat: usize = arg("--repeat").and_then(|v| v.parse().ok()).unwrap_or(3);
    for _ in 0..repeat {
        let started = Instant::now();
        for chunk in &chunks {
            bound.statuses_columnar(chunk, &mut out);
            black_box(&out);
        }
        runs.push(started.elapsed());
    }
    let n = all.len() as f64;
    let per = median(runs).as_secs_f64() / n * 1e6;
    let schemes = (0..set.schemes.len()).filter(|i| bound.is_active(*i)).count();
    println!(
        "columnar batch, chunks of {CHUNK} (cross-checked: 0 mismatches): prep {:.3} µs + evaluation {per:.3} µs \
         per household = {:.1} M household×scheme/s",
        prep.as_secs_f64() / n * 1e6,
        schemes as f64 / per
    );
}

/// Explained mode, one household at a time.
fn explained(set: &RuleSet, all: &mut [Facts], as_of: NaiveDate) {
    let bound = set.bind(as_of);
    let mut explanation = Explanation::default();
    let mut times = Vec::with_capacity(all.len());
    let mut missing = 0usize;
    for facts in all.iter_mut() {
        let started = Instant::now();
        bound.explain(facts, &mut explanation);
        times.push(started.elapsed());
        missing += explanation.results.iter().map(|r| r.missing.len()).sum::<usize>();
        black_box(&explanation);
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1e6;
    println!(
        "explained, full catalogue, one household at a time: median {:.2} µs, p99 {:.2} µs, max {:.1} µs \
         ({:.1} missing fields per household)",
        at(0.5),
        at(0.99),
        at(1.0),
        missing as f64 / all.len() as f64
    );
}

// ---- The 13 reference schemes by hand: Kleene logic over the same facts. ----

#[derive(Clone, Copy)]
struct Slots {
    age: usize,
    age_months: usize,
    sex: usize,
    disability: usize,
    govt: usize,
    taxpayer: usize,
    enrolled: usize,
    attendance: usize,
    level: usize,
    pregnant: usize,
    lactating: usize,
    religion: usize,
    employment: usize,
    marital: usize,
    orphan: usize,
    eobi: usize,
    eobi_years: usize,
    id_type: usize,
    certificate: usize,
    essi: usize,
    income: usize,
    hh_pmt: usize,
    hh_vehicle: usize,
    hh_income_pc: usize,
    hh_income: usize,
}

fn slot(scope: Scope, name: &str) -> usize {
    lookup(scope, name).map_or(0, |f| f.slot)
}

fn slots() -> Slots {
    let m = |n| slot(Scope::Member, n);
    let h = |n| slot(Scope::Household, n);
    Slots {
        age: m("age"),
        age_months: m("age_months"),
        sex: m("sex"),
        disability: m("disability"),
        govt: m("govt_employee"),
        taxpayer: m("taxpayer"),
        enrolled: m("school_enrolled"),
        attendance: m("attendance_pct"),
        level: m("school_level"),
        pregnant: m("is_pregnant"),
        lactating: m("is_lactating"),
        religion: m("religion"),
        employment: m("employment"),
        marital: m("marital_status"),
        orphan: m("is_orphan"),
        eobi: m("eobi_registered"),
        eobi_years: m("eobi_contribution_years"),
        id_type: m("id_type"),
        certificate: m("disability_certificate"),
        essi: m("essi_registered"),
        income: m("monthly_income_pkr"),
        hh_pmt: h("pmt_score"),
        hh_vehicle: h("owns_vehicle"),
        hh_income_pc: h("income_per_capita"),
        hh_income: h("monthly_income_pkr"),
    }
}

#[inline]
fn yes(v: i64) -> Tri {
    if v == UNKNOWN { Tri::Unknown } else { Tri::from(v != 0) }
}
#[inline]
fn is(v: i64, code: usize) -> Tri {
    if v == UNKNOWN { Tri::Unknown } else { Tri::from(v == code as i64) }
}
#[inline]
fn le(v: i64, k: i64) -> Tri {
    if v == UNKNOWN { Tri::Unknown } else { Tri::from(v <= k) }
}
#[inline]
fn ge(v: i64, k: i64) -> Tri {
    if v == UNKNOWN { Tri::Unknown } else { Tri::from(v >= k) }
}
#[inline]
fn lt(v: i64, k: i64) -> Tri {
    if v == UNKNOWN { Tri::Unknown } else { Tri::from(v < k) }
}
#[inline]
fn and(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Tri::False, _) | (_, Tri::False) => Tri::False,
        (Tri::True, Tri::True) => Tri::True,
        _ => Tri::Unknown,
    }
}
#[inline]
fn or(a: Tri, b: Tri) -> Tri {
    !and(!a, !b)
}
#[inline]
fn any(members: &[[i64; MEMBER_SLOTS]], p: impl Fn(&[i64; MEMBER_SLOTS]) -> Tri) -> Tri {
    let mut out = Tri::False;
    for m in members {
        match p(m) {
            Tri::True => return Tri::True,
            Tri::Unknown => out = Tri::Unknown,
            Tri::False => {}
        }
    }
    out
}
#[inline]
fn between(v: i64, lo: i64, hi: i64) -> Tri {
    and(ge(v, lo), le(v, hi))
}
fn decide(criteria: &[&dyn Fn() -> Tri]) -> Status {
    let mut status = Status::Eligible;
    for c in criteria {
        match c() {
            Tri::False => return Status::NotEligible,
            Tri::Unknown => status = Status::Undetermined,
            Tri::True => {}
        }
    }
    status
}

/// The 13 reference schemes in `REFERENCE` order, parameters as in force in 2024–2025.
fn by_hand(s: Slots, f: &Facts, out: &mut [Status; 13]) {
    let n = num::int;
    let ms = &f.members[..];
    let h = &f.household;
    let female = Sex::Female.index();
    let trans = Sex::Transgender.index();
    let no_disability = Disability::None.index();
    let disabled = |m: &[i64; MEMBER_SLOTS]| !is(m[s.disability], no_disability);
    let kafaalat = decide(&[
        &|| or(le(h[s.hh_pmt], n(32)), and(le(h[s.hh_pmt], n(37)), any(ms, disabled))),
        &|| any(ms, |m| and(ge(m[s.age], n(18)), or(is(m[s.sex], female), is(m[s.sex], trans)))),
        &|| !any(ms, |m| yes(m[s.govt])),
        &|| !any(ms, |m| yes(m[s.taxpayer])),
        &|| !yes(h[s.hh_vehicle]),
    ]);
    out[0] = kafaalat;
    let kafaalat_t = kafaalat.as_tri();
    out[1] = decide(&[&|| kafaalat_t, &|| {
        any(ms, |m| {
            let school = or(
                or(
                    and(is(m[s.level], SchoolLevel::Primary.index()), between(m[s.age], n(4), n(12))),
                    and(is(m[s.level], SchoolLevel::Secondary.index()), between(m[s.age], n(8), n(18))),
                ),
                and(is(m[s.level], SchoolLevel::HigherSecondary.index()), between(m[s.age], n(13), n(22))),
            );
            and(and(yes(m[s.enrolled]), ge(m[s.attendance], n(70))), school)
        })
    }]);
    out[2] = decide(&[&|| kafaalat_t, &|| {
        any(ms, |m| {
            or(and(is(m[s.sex], female), or(yes(m[s.pregnant]), yes(m[s.lactating]))), lt(m[s.age_months], n(24)))
        })
    }]);
    out[3] = decide(&[
        &|| {
            any(ms, |m| {
                let e = m[s.employment];
                let needy = or(
                    or(is(e, Employment::Unemployed.index()), is(e, Employment::UnableToWork.index())),
                    or(is(e, Employment::Homemaker.index()), is(e, Employment::Retired.index())),
                );
                and(and(ge(m[s.age], n(18)), is(m[s.religion], Religion::Muslim.index())), needy)
            })
        },
        &|| le(h[s.hh_income_pc], n(4000)),
        &|| !kafaalat_t,
    ]);
    out[4] = decide(&[&|| le(h[s.hh_income], n(74000)), &|| !any(ms, |m| yes(m[s.govt])), &|| {
        let unable = any(ms, |m| and(disabled(m), is(m[s.employment], Employment::UnableToWork.index())));
        let single_mother = and(
            any(ms, |m| {
                let ms_ = m[s.marital];
                and(
                    is(m[s.sex], female),
                    or(
                        or(is(ms_, MaritalStatus::Widowed.index()), is(ms_, MaritalStatus::Divorced.index())),
                        is(ms_, MaritalStatus::Separated.index()),
                    ),
                )
            }),
            any(ms, |m| lt(m[s.age], n(18))),
        );
        or(or(unable, single_mother), any(ms, |m| ge(m[s.age], n(60))))
    }]);
    out[5] = decide(&[&|| any(ms, |m| and(yes(m[s.orphan]), between(m[s.age], n(4), n(6))))]);
    out[6] = decide(&[&|| {
        let (mut t, mut u) = (0, 0);
        for m in ms {
            match and(lt(m[s.age], n(18)), disabled(m)) {
                Tri::True => t += 1,
                Tri::Unknown => u += 1,
                Tri::False => {}
            }
        }
        if t >= 2 {
            Tri::True
        } else if t + u < 2 {
            Tri::False
        } else {
            Tri::Unknown
        }
    }]);
    out[7] = decide(&[&|| {
        any(ms, |m| {
            let age = or(ge(m[s.age], n(60)), and(is(m[s.sex], female), ge(m[s.age], n(55))));
            and(and(yes(m[s.eobi]), ge(m[s.eobi_years], n(15))), age)
        })
    }]);
    out[8] = decide(&[&|| any(ms, |m| is(m[s.id_type], IdType::Cnic.index()))]);
    out[9] = decide(&[&|| any(ms, |m| and(disabled(m), yes(m[s.certificate])))]);
    out[10] = decide(&[&|| {
        any(ms, |m| {
            and(
                and(yes(m[s.essi]), is(m[s.employment], Employment::EmployedFormal.index())),
                le(m[s.income], n(57_600)),
            )
        })
    }]);
    out[11] = decide(&[
        &|| {
            any(ms, |m| {
                and(or(yes(m[s.eobi]), yes(m[s.essi])), is(m[s.employment], Employment::EmployedFormal.index()))
            })
        },
        &|| {
            any(ms, |m| {
                and(
                    and(is(m[s.sex], female), is(m[s.marital], MaritalStatus::NeverMarried.index())),
                    ge(m[s.age], n(18)),
                )
            })
        },
    ]);
    out[12] = decide(&[&|| any(ms, |m| and(ge(m[s.age], n(60)), is(m[s.id_type], IdType::Cnic.index())))]);
}

/// The hand-written schemes: cross-checked against the engine, then timed (median of 3).
fn hand_written(reference: &RuleSet, all: &mut [Facts], as_of: NaiveDate) -> Duration {
    let s = slots();
    let bound = reference.bind(as_of);
    let index: Vec<usize> =
        REFERENCE.iter().map(|id| reference.schemes.iter().position(|x| x.id == *id).unwrap_or(0)).collect();
    let mut engine = Vec::new();
    let mut hand = [Status::NotEligible; 13];
    let mut mismatches = 0;
    for facts in all.iter_mut() {
        bound.statuses(facts, &mut engine);
        by_hand(s, facts, &mut hand);
        for (k, i) in index.iter().enumerate() {
            if engine[*i] != hand[k] {
                mismatches += 1;
                if mismatches <= 5 {
                    eprintln!("MISMATCH {}: engine {:?}, by hand {:?}", REFERENCE[k], engine[*i], hand[k]);
                }
            }
        }
    }
    assert_eq!(mismatches, 0, "the engine and the hand-written schemes disagree");
    let mut runs = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        for facts in all.iter_mut() {
            facts.derive(as_of);
            by_hand(s, facts, &mut hand);
            black_box(&hand);
        }
        runs.push(started.elapsed());
    }
    let per = median(runs) / all.len() as u32;
    println!(
        "batch, 13 reference schemes (hand-written Rust, cross-checked: 0 mismatches): {:.3} µs per household",
        per.as_secs_f64() * 1e6
    );
    per
}

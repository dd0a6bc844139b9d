//! Evaluation: a rule set bound to a date, run over one household's facts.
//!
//! Two modes share the compiled closures. [`Bound::statuses`] is the batch path: each scheme
//! stops at its first false criterion and only statuses come out. [`Bound::explain`] evaluates
//! every criterion and, for undetermined schemes, walks the typed IR of the unknown criteria to
//! find the fields whose values would decide them. Output buffers are reused between calls, so
//! a steady stream of households allocates nothing per criterion.

use chrono::NaiveDate;

use super::check::{BoolIr, NumIr};
use std::cell::RefCell;

use super::compile::{Env, LeafCache, Member, NO_MEMBER, count_outcome};
use super::dict::{self, Facts, Scope};
use super::expr::{ArOp, CmpOp};
use super::num::{self, UNKNOWN};
use super::{RuleSet, Status, Tri};

/// A rule set with parameters and validity windows resolved for one evaluation date.
pub struct Bound<'r> {
    /// The rules.
    pub rules: &'r RuleSet,
    /// The evaluation date.
    pub as_of: NaiveDate,
    params: Vec<i64>,
    active: Vec<bool>,
}

/// A field whose value would decide an undetermined scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing {
    /// The member it belongs to (position in the household's member list), or `None` for a
    /// household field.
    pub member: Option<usize>,
    /// The registry field name.
    pub field: &'static str,
}

/// One scheme's explained result.
#[derive(Debug, Clone, Default)]
pub struct SchemeResult {
    /// Whether the scheme runs on the evaluation date (inactive schemes have no result).
    pub active: bool,
    /// Decision.
    pub status: Option<Status>,
    /// Each criterion's outcome, in file order.
    pub outcomes: Vec<Tri>,
    /// For an undetermined scheme: the fields that would decide it.
    pub missing: Vec<Missing>,
}

/// Every scheme's explained result, indexed like `RuleSet::schemes`. Reuse it between calls.
#[derive(Debug, Clone, Default)]
pub struct Explanation {
    /// Per scheme.
    pub results: Vec<SchemeResult>,
    statuses: Vec<Status>,
    member_unknown: Vec<u32>,
}

/// What the missing-field walk reads besides the household.
struct Walk<'a> {
    /// Results of the schemes already explained (all that `eligible(…)` can name).
    done: &'a [SchemeResult],
    /// Per member, a bit per unknown slot.
    member_unknown: &'a [u32],
}

/// The member slots a quantifier's body reads, or `None` when it also reads something the
/// same for every member (a household field, another scheme's status).
fn member_reads(ir: &BoolIr) -> Option<u32> {
    fn num(ir: &NumIr) -> Option<u32> {
        match ir {
            NumIr::Const(_) | NumIr::Param(_) => Some(0),
            NumIr::Field(Scope::Member, s) => Some(1 << s),
            NumIr::Field(Scope::Household, _) => None,
            NumIr::Arith(_, a, b) => Some(num(a)? | num(b)?),
            NumIr::Neg(x) => num(x),
        }
    }
    match ir {
        BoolIr::Const(_) => Some(0),
        BoolIr::Field(Scope::Member, s) | BoolIr::Coded(Scope::Member, s, _) => Some(1 << s),
        BoolIr::Field(Scope::Household, _)
        | BoolIr::Coded(Scope::Household, _, _)
        | BoolIr::Eligible(_)
        | BoolIr::Enrolled(_) => None,
        BoolIr::Cmp(_, l, r) => Some(num(l)? | num(r)?),
        BoolIr::Same(a, b) => Some(member_reads(a)? | member_reads(b)?),
        BoolIr::Not(x) => member_reads(x),
        BoolIr::And(xs) | BoolIr::Or(xs) => xs.iter().try_fold(0, |acc, x| Some(acc | member_reads(x)?)),
        BoolIr::Any(p) | BoolIr::All(p) => member_reads(p),
        BoolIr::Count(p, _, k) => Some(member_reads(p)? | num(k)?),
    }
}

impl RuleSet {
    /// Resolves parameters and validity windows for `as_of`.
    pub fn bind(&self, as_of: NaiveDate) -> Bound<'_> {
        let mut params = vec![UNKNOWN; self.parameter_count];
        for scheme in &self.schemes {
            for p in &scheme.parameters {
                params[p.index] = p.value_on(as_of).unwrap_or(UNKNOWN);
            }
        }
        let active = self.schemes.iter().map(|s| s.active_on(as_of)).collect();
        Bound { rules: self, as_of, params, active }
    }
}

impl Bound<'_> {
    /// Whether scheme `i` runs on the evaluation date.
    pub fn is_active(&self, i: usize) -> bool {
        self.active[i]
    }

    /// Counts `households` × the schemes in force as evaluated (`sahulat_rule_evaluations_total`).
    pub(crate) fn count_evaluations(&self, households: usize, only: Option<&[bool]>) {
        let schemes = (0..self.active.len()).filter(|&i| self.active[i] && only.is_none_or(|o| o[i])).count();
        crate::metrics::rule_evaluations((households * schemes) as u64);
    }

    /// The parameter values in force (indexed by `Parameter::index`).
    pub fn params(&self) -> &[i64] {
        &self.params
    }

    fn env<'a>(&'a self, facts: &'a Facts, status: &'a [Status], cache: &'a LeafCache) -> Env<'a> {
        Env {
            hh: &facts.household,
            members: &facts.members,
            params: &self.params,
            status,
            cache,
            enrolled: &facts.enrolled,
        }
    }

    /// Batch mode: the status of every scheme (inactive ones `NotEligible`), no explanations.
    pub fn statuses(&self, facts: &mut Facts, out: &mut Vec<Status>) {
        self.count_evaluations(1, None);
        with_cache(self.rules.leaf_count, |cache| self.statuses_with(facts, out, cache));
    }

    fn statuses_with(&self, facts: &mut Facts, out: &mut Vec<Status>, cache: &LeafCache) {
        facts.derive(self.as_of);
        out.clear();
        out.resize(self.rules.schemes.len(), Status::NotEligible);
        for (i, criteria) in &self.rules.batch.steps {
            if !self.active[*i] {
                continue;
            }
            let env = self.env(facts, out, cache);
            let mut status = Status::Eligible;
            for f in &self.rules.batch.fns[criteria.clone()] {
                match f(&env, &NO_MEMBER) {
                    Tri::False => {
                        status = Status::NotEligible;
                        break;
                    }
                    Tri::Unknown => status = Status::Undetermined,
                    Tri::True => {}
                }
            }
            let i = *i;
            out[i] = status;
        }
    }

    /// Explained mode: every criterion's outcome and, for undetermined schemes, the missing
    /// fields.
    pub fn explain(&self, facts: &mut Facts, out: &mut Explanation) {
        self.count_evaluations(1, None);
        with_cache(self.rules.leaf_count, |cache| self.explain_with(facts, out, cache));
    }

    fn explain_with(&self, facts: &mut Facts, out: &mut Explanation, cache: &LeafCache) {
        facts.derive(self.as_of);
        let n = self.rules.schemes.len();
        out.results.resize_with(n, SchemeResult::default);
        out.statuses.clear();
        out.statuses.resize(n, Status::NotEligible);
        // Each member's unknown slots, to skip members a test cannot be unknown for.
        out.member_unknown.clear();
        out.member_unknown.extend(
            facts
                .members
                .iter()
                .map(|m| m.iter().enumerate().fold(0u32, |acc, (s, v)| acc | (u32::from(*v == UNKNOWN) << s))),
        );
        for &i in &self.rules.order {
            // Taken out while it is filled, so the finished results stay readable.
            let mut result = std::mem::take(&mut out.results[i]);
            result.outcomes.clear();
            result.missing.clear();
            result.active = self.active[i];
            result.status = None;
            if !self.active[i] {
                out.results[i] = result;
                continue;
            }
            let env = self.env(facts, &out.statuses, cache);
            let mut status = Status::Eligible;
            for c in &self.rules.schemes[i].criteria {
                let t = (c.compiled)(&env, &NO_MEMBER);
                match t {
                    Tri::False => status = Status::NotEligible,
                    Tri::Unknown if status == Status::Eligible => status = Status::Undetermined,
                    _ => {}
                }
                result.outcomes.push(t);
            }
            if status == Status::Undetermined {
                let walk = Walk { done: &out.results, member_unknown: &out.member_unknown };
                for (c, t) in self.rules.schemes[i].criteria.iter().zip(&result.outcomes) {
                    if *t == Tri::Unknown {
                        self.missing(&walk, &c.ir, &env, &NO_MEMBER, None, &mut result.missing);
                    }
                }
            }
            result.status = Some(status);
            out.results[i] = result;
            out.statuses[i] = status;
        }
    }

    /// Collects the missing fields of an expression known to be unknown: only the parts that
    /// are themselves unknown can change the outcome.
    fn missing(&self, walk: &Walk, ir: &BoolIr, env: &Env, m: &Member, member: Option<usize>, out: &mut Vec<Missing>) {
        let mut push = |scope: Scope, slot: usize| {
            let field = dict::at(scope, slot);
            if let Some(source) = field.source {
                let member = if scope == Scope::Member { member } else { None };
                // Field names are static: comparing addresses is enough to deduplicate.
                if !out.iter().any(|x| x.member == member && std::ptr::eq(x.field, source)) {
                    out.push(Missing { member, field: source });
                }
            }
        };
        match ir {
            // Enrolments are always known.
            BoolIr::Const(_) | BoolIr::Enrolled(_) => {}
            BoolIr::Field(scope, slot) | BoolIr::Coded(scope, slot, _) => push(*scope, *slot),
            BoolIr::Cmp(_, l, r) => {
                self.missing_num(walk, l, env, m, member, out);
                self.missing_num(walk, r, env, m, member, out);
            }
            BoolIr::Same(a, b) => {
                for x in [a, b] {
                    if eval_bool(x, env, m) == Tri::Unknown {
                        self.missing(walk, x, env, m, member, out);
                    }
                }
            }
            BoolIr::Not(x) => self.missing(walk, x, env, m, member, out),
            BoolIr::And(xs) | BoolIr::Or(xs) => {
                for x in xs {
                    if eval_bool(x, env, m) == Tri::Unknown {
                        self.missing(walk, x, env, m, member, out);
                    }
                }
            }
            BoolIr::Any(p) | BoolIr::All(p) | BoolIr::Count(p, _, _) => {
                if let BoolIr::Count(_, _, k) = ir {
                    self.missing_num(walk, k, env, m, member, out);
                }
                let reads = member_reads(p);
                for (i, each) in env.members.iter().enumerate() {
                    // A member with every slot the test reads known cannot leave it unknown.
                    let may_be_unknown = reads.is_none_or(|r| walk.member_unknown.get(i).is_none_or(|u| u & r != 0));
                    if may_be_unknown && eval_bool(p, env, each) == Tri::Unknown {
                        self.missing(walk, p, env, each, Some(i), out);
                    }
                }
            }
            BoolIr::Eligible(s) => {
                // The other scheme came first (evaluation order): its missing fields are known.
                for m in &walk.done[*s].missing {
                    if !out.contains(m) {
                        out.push(*m);
                    }
                }
            }
        }
    }

    fn missing_num(
        &self,
        walk: &Walk,
        ir: &NumIr,
        env: &Env,
        m: &Member,
        member: Option<usize>,
        out: &mut Vec<Missing>,
    ) {
        if eval_num(ir, env, m) != UNKNOWN {
            return;
        }
        match ir {
            NumIr::Field(scope, slot) => self.missing(walk, &BoolIr::Field(*scope, *slot), env, m, member, out),
            NumIr::Arith(_, a, b) => {
                self.missing_num(walk, a, env, m, member, out);
                self.missing_num(walk, b, env, m, member, out);
            }
            NumIr::Neg(x) => self.missing_num(walk, x, env, m, member, out),
            NumIr::Const(_) | NumIr::Param(_) => {}
        }
    }
}

thread_local! {
    /// Each thread's leaf cache: working memory reused from household to household.
    static CACHE: RefCell<LeafCache> = RefCell::new(LeafCache::default());
}

/// Runs `f` with this thread's leaf cache, started afresh for a new household.
fn with_cache<T>(leaves: usize, f: impl FnOnce(&LeafCache) -> T) -> T {
    CACHE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut cache) => {
            cache.next_household(leaves);
            f(&cache)
        }
        // Re-entered on the same thread (not done by the engine itself): use a fresh cache.
        Err(_) => {
            let mut cache = LeafCache::default();
            cache.next_household(leaves);
            f(&cache)
        }
    })
}

/// The reference interpreter over typed IR: the same semantics as the compiled closures,
/// written as plainly as possible (quantifiers through the count rule of docs/RULES.md).
/// Explanations use it; tests check that it and the closures agree.
pub fn eval_bool(ir: &BoolIr, env: &Env, m: &Member) -> Tri {
    match ir {
        BoolIr::Const(t) => *t,
        BoolIr::Field(scope, slot) => {
            let v = slot_value(env, m, *scope, *slot);
            if v == UNKNOWN { Tri::Unknown } else { Tri::from(v != 0) }
        }
        BoolIr::Coded(scope, slot, mask) => {
            let v = slot_value(env, m, *scope, *slot);
            if v == UNKNOWN { Tri::Unknown } else { Tri::from((0..64).contains(&v) && mask & (1 << v) != 0) }
        }
        BoolIr::Cmp(op, l, r) => {
            let (a, b) = (eval_num(l, env, m), eval_num(r, env, m));
            if a == UNKNOWN || b == UNKNOWN { Tri::Unknown } else { Tri::from(op.holds(a, b)) }
        }
        BoolIr::Same(a, b) => match (eval_bool(a, env, m), eval_bool(b, env, m)) {
            (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
            (x, y) => Tri::from(x == y),
        },
        BoolIr::Not(x) => !eval_bool(x, env, m),
        BoolIr::And(xs) => {
            let outcomes = xs.iter().map(|x| eval_bool(x, env, m));
            outcomes.fold(Tri::True, |acc, t| match (acc, t) {
                (Tri::False, _) | (_, Tri::False) => Tri::False,
                (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
                _ => Tri::True,
            })
        }
        BoolIr::Or(xs) => {
            let outcomes = xs.iter().map(|x| eval_bool(x, env, m));
            outcomes.fold(Tri::False, |acc, t| match (acc, t) {
                (Tri::True, _) | (_, Tri::True) => Tri::True,
                (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
                _ => Tri::False,
            })
        }
        BoolIr::Any(p) => count(p, CmpOp::Ge, num::int(1), env),
        BoolIr::All(p) => {
            // All members pass ⇔ the number of members that pass equals the number of members.
            count(p, CmpOp::Eq, num::int(env.members.len() as i64), env)
        }
        BoolIr::Count(p, op, k) => count(p, *op, eval_num(k, env, m), env),
        BoolIr::Eligible(s) => env.status[*s].as_tri(),
        BoolIr::Enrolled(s) => Tri::from(env.enrolled.contains(s)),
    }
}

fn count(p: &BoolIr, op: CmpOp, k: i64, env: &Env) -> Tri {
    let (mut t, mut u) = (0, 0);
    for each in env.members {
        match eval_bool(p, env, each) {
            Tri::True => t += 1,
            Tri::Unknown => u += 1,
            Tri::False => {}
        }
    }
    count_outcome(op, t, u, k)
}

/// The reference interpreter for numbers.
pub fn eval_num(ir: &NumIr, env: &Env, m: &Member) -> i64 {
    match ir {
        NumIr::Const(c) => *c,
        NumIr::Field(scope, slot) => slot_value(env, m, *scope, *slot),
        NumIr::Param(p) => env.params[*p],
        NumIr::Neg(x) => num::neg(eval_num(x, env, m)),
        NumIr::Arith(op, a, b) => {
            let (a, b) = (eval_num(a, env, m), eval_num(b, env, m));
            match op {
                ArOp::Add => num::add(a, b),
                ArOp::Sub => num::sub(a, b),
                ArOp::Mul => num::mul(a, b),
                ArOp::Div => num::div(a, b),
            }
        }
    }
}

fn slot_value(env: &Env, m: &Member, scope: Scope, slot: usize) -> i64 {
    match scope {
        Scope::Household => env.hh[slot],
        Scope::Member => m[slot],
    }
}

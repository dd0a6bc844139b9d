//! Evaluation: a rule set bound to a date, run over one household's facts.
//!
//! Two modes share the compiled closures. [`Bound::statuses`] is the batch path: each scheme
//! stops at its first false criterion and only statuses come out. [`Bound::explain`] evaluates
//! every criterion and, for undetermined schemes, walks the typed IR of the unknown criteria to
//! find the fields whose values would decide them. Output buffers are reused between calls, so
//! a steady stream of households allocates nothing per criterion.

use chrono::NaiveDate;

use super::check::{BoolIr, NumIr};
use super::compile::{Env, NO_MEMBER, count_outcome};
use super::dict::{self, Facts, Scope};
use super::expr::ArOp;
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

    /// The parameter values in force (indexed by `Parameter::index`).
    pub fn params(&self) -> &[i64] {
        &self.params
    }

    fn env<'a>(&'a self, facts: &'a Facts, status: &'a [Status]) -> Env<'a> {
        Env { hh: &facts.household, m: &NO_MEMBER, members: &facts.members, params: &self.params, status }
    }

    /// Batch mode: the status of every scheme (inactive ones `NotEligible`), no explanations.
    pub fn statuses(&self, facts: &mut Facts, out: &mut Vec<Status>) {
        facts.derive(self.as_of);
        out.clear();
        out.resize(self.rules.schemes.len(), Status::NotEligible);
        for &i in &self.rules.order {
            if !self.active[i] {
                continue;
            }
            let env = self.env(facts, out);
            let mut status = Status::Eligible;
            for c in &self.rules.schemes[i].criteria {
                match (c.compiled)(&env) {
                    Tri::False => {
                        status = Status::NotEligible;
                        break;
                    }
                    Tri::Unknown => status = Status::Undetermined,
                    Tri::True => {}
                }
            }
            out[i] = status;
        }
    }

    /// Explained mode: every criterion's outcome and, for undetermined schemes, the missing
    /// fields.
    pub fn explain(&self, facts: &mut Facts, out: &mut Explanation) {
        facts.derive(self.as_of);
        let n = self.rules.schemes.len();
        out.results.resize_with(n, SchemeResult::default);
        out.statuses.clear();
        out.statuses.resize(n, Status::NotEligible);
        for &i in &self.rules.order {
            let result = &mut out.results[i];
            result.outcomes.clear();
            result.missing.clear();
            result.active = self.active[i];
            result.status = None;
            if !self.active[i] {
                continue;
            }
            let env = self.env(facts, &out.statuses);
            let mut status = Status::Eligible;
            for c in &self.rules.schemes[i].criteria {
                let t = (c.compiled)(&env);
                match t {
                    Tri::False => status = Status::NotEligible,
                    Tri::Unknown if status == Status::Eligible => status = Status::Undetermined,
                    _ => {}
                }
                result.outcomes.push(t);
            }
            if status == Status::Undetermined {
                for (c, t) in self.rules.schemes[i].criteria.iter().zip(&result.outcomes) {
                    if *t == Tri::Unknown {
                        self.missing(&c.ir, &env, None, &mut result.missing);
                    }
                }
            }
            result.status = Some(status);
            out.statuses[i] = status;
        }
    }

    /// Collects the missing fields of an expression known to be unknown: only the parts that
    /// are themselves unknown can change the outcome.
    fn missing(&self, ir: &BoolIr, env: &Env, member: Option<usize>, out: &mut Vec<Missing>) {
        let mut push = |scope: Scope, slot: usize| {
            let field = dict::at(scope, slot);
            if let Some(source) = field.source {
                let m = Missing { member: if scope == Scope::Member { member } else { None }, field: source };
                if !out.contains(&m) {
                    out.push(m);
                }
            }
        };
        match ir {
            BoolIr::Const(_) => {}
            BoolIr::Field(scope, slot) | BoolIr::Coded(scope, slot, _) => push(*scope, *slot),
            BoolIr::Cmp(_, l, r) => {
                self.missing_num(l, env, member, out);
                self.missing_num(r, env, member, out);
            }
            BoolIr::Same(a, b) => {
                for x in [a, b] {
                    if eval_bool(x, env) == Tri::Unknown {
                        self.missing(x, env, member, out);
                    }
                }
            }
            BoolIr::Not(x) => self.missing(x, env, member, out),
            BoolIr::And(xs) | BoolIr::Or(xs) => {
                for x in xs {
                    if eval_bool(x, env) == Tri::Unknown {
                        self.missing(x, env, member, out);
                    }
                }
            }
            BoolIr::Any(p) | BoolIr::All(p) | BoolIr::Count(p, _, _) => {
                if let BoolIr::Count(_, _, k) = ir {
                    self.missing_num(k, env, member, out);
                }
                for (i, m) in env.members.iter().enumerate() {
                    let member_env = Env { m, ..*env };
                    if eval_bool(p, &member_env) == Tri::Unknown {
                        self.missing(p, &member_env, Some(i), out);
                    }
                }
            }
            BoolIr::Eligible(s) => {
                let household_env = Env { m: &NO_MEMBER, ..*env };
                for c in &self.rules.schemes[*s].criteria {
                    if eval_bool(&c.ir, &household_env) == Tri::Unknown {
                        self.missing(&c.ir, &household_env, None, out);
                    }
                }
            }
        }
    }

    fn missing_num(&self, ir: &NumIr, env: &Env, member: Option<usize>, out: &mut Vec<Missing>) {
        if eval_num(ir, env) != UNKNOWN {
            return;
        }
        match ir {
            NumIr::Field(scope, slot) => self.missing(&BoolIr::Field(*scope, *slot), env, member, out),
            NumIr::Arith(_, a, b) => {
                self.missing_num(a, env, member, out);
                self.missing_num(b, env, member, out);
            }
            NumIr::Neg(x) => self.missing_num(x, env, member, out),
            NumIr::Const(_) | NumIr::Param(_) => {}
        }
    }
}

/// The reference interpreter over typed IR: the same semantics as the compiled closures,
/// written as plainly as possible. Explanations use it; tests check the two agree.
pub fn eval_bool(ir: &BoolIr, env: &Env) -> Tri {
    match ir {
        BoolIr::Const(t) => *t,
        BoolIr::Field(scope, slot) => {
            let v = slot_value(env, *scope, *slot);
            if v == UNKNOWN { Tri::Unknown } else { Tri::from(v != 0) }
        }
        BoolIr::Coded(scope, slot, mask) => {
            let v = slot_value(env, *scope, *slot);
            if v == UNKNOWN { Tri::Unknown } else { Tri::from((0..64).contains(&v) && mask & (1 << v) != 0) }
        }
        BoolIr::Cmp(op, l, r) => {
            let (a, b) = (eval_num(l, env), eval_num(r, env));
            if a == UNKNOWN || b == UNKNOWN { Tri::Unknown } else { Tri::from(op.holds(a, b)) }
        }
        BoolIr::Same(a, b) => match (eval_bool(a, env), eval_bool(b, env)) {
            (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
            (x, y) => Tri::from(x == y),
        },
        BoolIr::Not(x) => !eval_bool(x, env),
        BoolIr::And(xs) => {
            let outcomes: Vec<Tri> = xs.iter().map(|x| eval_bool(x, env)).collect();
            if outcomes.contains(&Tri::False) {
                Tri::False
            } else if outcomes.contains(&Tri::Unknown) {
                Tri::Unknown
            } else {
                Tri::True
            }
        }
        BoolIr::Or(xs) => {
            let outcomes: Vec<Tri> = xs.iter().map(|x| eval_bool(x, env)).collect();
            if outcomes.contains(&Tri::True) {
                Tri::True
            } else if outcomes.contains(&Tri::Unknown) {
                Tri::Unknown
            } else {
                Tri::False
            }
        }
        BoolIr::Any(p) => eval_bool(&BoolIr::Count(p.clone(), super::expr::CmpOp::Ge, NumIr::Const(num::int(1))), env),
        BoolIr::All(p) => {
            let negated = BoolIr::Not(p.clone());
            eval_bool(&BoolIr::Count(Box::new(negated), super::expr::CmpOp::Eq, NumIr::Const(0)), env)
        }
        BoolIr::Count(p, op, k) => {
            let (mut t, mut u) = (0, 0);
            for m in env.members {
                match eval_bool(p, &Env { m, ..*env }) {
                    Tri::True => t += 1,
                    Tri::Unknown => u += 1,
                    Tri::False => {}
                }
            }
            count_outcome(*op, t, u, eval_num(k, env))
        }
        BoolIr::Eligible(s) => env.status[*s].as_tri(),
    }
}

/// The reference interpreter for numbers.
pub fn eval_num(ir: &NumIr, env: &Env) -> i64 {
    match ir {
        NumIr::Const(c) => *c,
        NumIr::Field(scope, slot) => slot_value(env, *scope, *slot),
        NumIr::Param(p) => env.params[*p],
        NumIr::Neg(x) => num::neg(eval_num(x, env)),
        NumIr::Arith(op, a, b) => {
            let (a, b) = (eval_num(a, env), eval_num(b, env));
            match op {
                ArOp::Add => num::add(a, b),
                ArOp::Sub => num::sub(a, b),
                ArOp::Mul => num::mul(a, b),
                ArOp::Div => num::div(a, b),
            }
        }
    }
}

fn slot_value(env: &Env, scope: Scope, slot: usize) -> i64 {
    match scope {
        Scope::Household => env.hh[slot],
        Scope::Member => env.m[slot],
    }
}

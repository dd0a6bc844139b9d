//! Typed IR → a tree of closures, built once per rule set and run for every household.
//!
//! A field read is one indexed load from the facts array; the common shapes (a field against
//! a constant or a parameter, a coded field against a set of values) get their own closures
//! so they cost one call. Nothing here allocates while a household is evaluated.

use super::check::{BoolIr, NumIr};
use super::dict::{HH_SLOTS, MEMBER_SLOTS, Scope, Summary};
use super::expr::{ArOp, CmpOp};
use super::num::{self, UNKNOWN};
use super::{Status, Tri};

/// What a compiled expression reads, besides the member in scope.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// Household slots (derived values filled in).
    pub hh: &'a [i64; HH_SLOTS],
    /// Every current member.
    pub members: &'a [Member],
    /// Parameter values in force at the evaluation date.
    pub params: &'a [i64],
    /// Statuses of the schemes evaluated so far (for `eligible(…)`).
    pub status: &'a [Status],
    /// Member slots summarised over the household.
    pub summary: &'a Summary,
}

/// One member's slots.
pub type Member = [i64; MEMBER_SLOTS];

/// The member slots used outside any quantifier (never read: the checker forbids it).
pub static NO_MEMBER: Member = [UNKNOWN; MEMBER_SLOTS];

/// A compiled yes/no expression: `(household, member in scope)`.
pub type BoolFn = Box<dyn Fn(&Env, &Member) -> Tri + Send + Sync>;
/// A compiled number expression.
pub type NumFn = Box<dyn Fn(&Env, &Member) -> i64 + Send + Sync>;


#[inline]
fn cmp(op: CmpOp, a: i64, b: i64) -> Tri {
    if a == UNKNOWN || b == UNKNOWN { Tri::Unknown } else { Tri::from(op.holds(a, b)) }
}

#[inline]
fn coded(v: i64, mask: u64) -> Tri {
    if v == UNKNOWN { Tri::Unknown } else { Tri::from((0..64).contains(&v) && (mask >> v) & 1 == 1) }
}

/// The Kleene value of `count op k` when the count lies in `[t, t + u]`.
#[inline]
pub fn count_outcome(op: CmpOp, t: i64, u: i64, k: i64) -> Tri {
    if k == UNKNOWN {
        return Tri::Unknown;
    }
    let (lo, hi) = (num::int(t), num::int(t + u));
    match op {
        CmpOp::Eq | CmpOp::Ne => {
            let certain_equal = u == 0 && lo == k;
            let impossible = k < lo || k > hi || k % num::SCALE != 0;
            let eq = if certain_equal {
                Tri::True
            } else if impossible {
                Tri::False
            } else {
                Tri::Unknown
            };
            if op == CmpOp::Eq { eq } else { !eq }
        }
        // The other comparisons are monotone in the count: its two ends decide.
        _ => match (op.holds(lo, k), op.holds(hi, k)) {
            (true, true) => Tri::True,
            (false, false) => Tri::False,
            _ => Tri::Unknown,
        },
    }
}

/// Compiles a number expression.
pub fn num(ir: &NumIr) -> NumFn {
    match ir {
        NumIr::Const(c) => {
            let c = *c;
            Box::new(move |_, _| c)
        }
        NumIr::Field(Scope::Household, s) => {
            let s = *s;
            Box::new(move |e, _| e.hh[s])
        }
        NumIr::Field(Scope::Member, s) => {
            let s = *s;
            Box::new(move |_, m| m[s])
        }
        NumIr::Param(p) => {
            let p = *p;
            Box::new(move |e, _| e.params[p])
        }
        NumIr::Neg(x) => {
            let x = num(x);
            Box::new(move |e, m| num::neg(x(e, m)))
        }
        NumIr::Arith(op, a, b) => {
            let (a, b) = (num(a), num(b));
            match op {
                ArOp::Add => Box::new(move |e, m| num::add(a(e, m), b(e, m))),
                ArOp::Sub => Box::new(move |e, m| num::sub(a(e, m), b(e, m))),
                ArOp::Mul => Box::new(move |e, m| num::mul(a(e, m), b(e, m))),
                ArOp::Div => Box::new(move |e, m| num::div(a(e, m), b(e, m))),
            }
        }
    }
}

/// A test that reads one slot: the shape most criteria are built from. Conjunctions and
/// disjunctions of leaves, and quantifiers over them, run as a loop over a flat list with
/// no indirect call per test.
#[derive(Debug, Clone, Copy)]
struct Leaf {
    test: Test,
    negate: bool,
}

#[derive(Debug, Clone, Copy)]
enum Test {
    /// A member slot lies in `[lo, hi]` (comparisons with a constant, and yes/no fields).
    MemberRange(usize, i64, i64),
    /// A household slot lies in `[lo, hi]`.
    HouseholdRange(usize, i64, i64),
    /// A coded member slot is in the mask.
    MemberCoded(usize, u64),
    /// A coded household slot is in the mask.
    HouseholdCoded(usize, u64),
    /// A comparison with a parameter.
    CmpParam(CmpOp, Scope, usize, usize),
}

/// `v op c` as `v ∈ [lo, hi]` (with `negate` for `!=`).
fn range(op: CmpOp, c: i64) -> (i64, i64, bool) {
    match op {
        CmpOp::Eq => (c, c, false),
        CmpOp::Ne => (c, c, true),
        CmpOp::Lt => (i64::MIN + 1, c.saturating_sub(1), false),
        CmpOp::Le => (i64::MIN + 1, c, false),
        CmpOp::Gt => (c.saturating_add(1), i64::MAX, false),
        CmpOp::Ge => (c, i64::MAX, false),
    }
}

impl Leaf {
    fn of(ir: &BoolIr) -> Option<Leaf> {
        let ranged = |scope: Scope, s: usize, (lo, hi, negate): (i64, i64, bool)| {
            let test = match scope {
                Scope::Member => Test::MemberRange(s, lo, hi),
                Scope::Household => Test::HouseholdRange(s, lo, hi),
            };
            Some(Leaf { test, negate })
        };
        match ir {
            BoolIr::Not(inner) => {
                let leaf = Leaf::of(inner)?;
                Some(Leaf { negate: !leaf.negate, ..leaf })
            }
            BoolIr::Field(scope, s) => ranged(*scope, *s, (1, i64::MAX, false)),
            BoolIr::Coded(Scope::Member, s, mask) => Some(Leaf { test: Test::MemberCoded(*s, *mask), negate: false }),
            BoolIr::Coded(Scope::Household, s, mask) => {
                Some(Leaf { test: Test::HouseholdCoded(*s, *mask), negate: false })
            }
            BoolIr::Cmp(op, NumIr::Field(scope, s), NumIr::Const(c)) => ranged(*scope, *s, range(*op, *c)),
            BoolIr::Cmp(op, NumIr::Const(c), NumIr::Field(scope, s)) => ranged(*scope, *s, range(op.flipped(), *c)),
            BoolIr::Cmp(op, NumIr::Field(scope, s), NumIr::Param(p)) => {
                Some(Leaf { test: Test::CmpParam(*op, *scope, *s, *p), negate: false })
            }
            BoolIr::Cmp(op, NumIr::Param(p), NumIr::Field(scope, s)) => {
                Some(Leaf { test: Test::CmpParam(op.flipped(), *scope, *s, *p), negate: false })
            }
            _ => None,
        }
    }

    #[inline(always)]
    fn eval(&self, e: &Env, m: &Member) -> Tri {
        #[inline(always)]
        fn within(v: i64, lo: i64, hi: i64) -> Tri {
            if v == UNKNOWN { Tri::Unknown } else { Tri::from(lo <= v && v <= hi) }
        }
        let t = match self.test {
            Test::MemberRange(s, lo, hi) => within(m[s], lo, hi),
            Test::HouseholdRange(s, lo, hi) => within(e.hh[s], lo, hi),
            Test::MemberCoded(s, mask) => coded(m[s], mask),
            Test::HouseholdCoded(s, mask) => coded(e.hh[s], mask),
            Test::CmpParam(op, Scope::Member, s, p) => cmp(op, m[s], e.params[p]),
            Test::CmpParam(op, Scope::Household, s, p) => cmp(op, e.hh[s], e.params[p]),
        };
        if self.negate { !t } else { t }
    }
}

/// What the household summary says of a member leaf over all members.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Across {
    /// Every member's value is known and none passes the leaf.
    NoneCan,
    /// Every member's value is known and every one passes.
    AllDo,
    /// Visit the members.
    Visit,
}

impl Leaf {
    #[inline(always)]
    fn across(&self, sum: &Summary) -> Across {
        let (s, inside_possible, all_inside) = match self.test {
            Test::MemberRange(s, lo, hi) => (s, sum.max[s] >= lo && sum.min[s] <= hi, lo <= sum.min[s] && sum.max[s] <= hi),
            Test::MemberCoded(s, mask) => (s, sum.present[s] & mask != 0, sum.present[s] & !mask == 0),
            _ => return Across::Visit,
        };
        if sum.unknown & (1 << s) != 0 {
            return Across::Visit;
        }
        // `negate` swaps "passes" and "fails".
        let (some_pass, all_pass) = if self.negate { (!all_inside, !inside_possible) } else { (inside_possible, all_inside) };
        if !some_pass {
            Across::NoneCan
        } else if all_pass {
            Across::AllDo
        } else {
            Across::Visit
        }
    }
}

/// A quantifier's body: leaves evaluated inline where possible.
enum Pred {
    Leaf(Leaf),
    All(Box<[Leaf]>),
    Any(Box<[Leaf]>),
    Mixed { leaves: Box<[Leaf]>, rest: Box<[BoolFn]>, conjunction: bool },
    Dyn(BoolFn),
}

#[inline(always)]
fn conjunction(leaves: &[Leaf], e: &Env, m: &Member) -> Tri {
    let mut out = Tri::True;
    for l in leaves {
        match l.eval(e, m) {
            Tri::False => return Tri::False,
            Tri::Unknown => out = Tri::Unknown,
            Tri::True => {}
        }
    }
    out
}

#[inline(always)]
fn disjunction(leaves: &[Leaf], e: &Env, m: &Member) -> Tri {
    let mut out = Tri::False;
    for l in leaves {
        match l.eval(e, m) {
            Tri::True => return Tri::True,
            Tri::Unknown => out = Tri::Unknown,
            Tri::False => {}
        }
    }
    out
}

impl Pred {
    /// The summary's verdict over all members, for a household with at least one member.
    #[inline(always)]
    fn across(&self, sum: &Summary) -> Across {
        let any_is = |ls: &[Leaf], want: Across| ls.iter().any(|l| l.across(sum) == want);
        let all_are = |ls: &[Leaf], want: Across| ls.iter().all(|l| l.across(sum) == want);
        match self {
            Pred::Leaf(l) => l.across(sum),
            Pred::All(ls) if any_is(ls, Across::NoneCan) => Across::NoneCan,
            Pred::All(ls) if all_are(ls, Across::AllDo) => Across::AllDo,
            Pred::Any(ls) if any_is(ls, Across::AllDo) => Across::AllDo,
            Pred::Any(ls) if all_are(ls, Across::NoneCan) => Across::NoneCan,
            Pred::Mixed { leaves, conjunction: true, .. } if any_is(leaves, Across::NoneCan) => Across::NoneCan,
            Pred::Mixed { leaves, conjunction: false, .. } if any_is(leaves, Across::AllDo) => Across::AllDo,
            _ => Across::Visit,
        }
    }

    fn of(ir: &BoolIr) -> Pred {
        if let Some(leaf) = Leaf::of(ir) {
            return Pred::Leaf(leaf);
        }
        let (parts, is_and) = match ir {
            BoolIr::And(_) => (flatten(ir, true), true),
            BoolIr::Or(_) => (flatten(ir, false), false),
            _ => return Pred::Dyn(boolean(ir)),
        };
        let mut leaves = Vec::new();
        let mut rest = Vec::new();
        for p in parts {
            match Leaf::of(p) {
                Some(l) => leaves.push(l),
                None => rest.push(boolean(p)),
            }
        }
        match (rest.is_empty(), is_and) {
            (true, true) => Pred::All(leaves.into()),
            (true, false) => Pred::Any(leaves.into()),
            (false, conjunction) => Pred::Mixed { leaves: leaves.into(), rest: rest.into(), conjunction },
        }
    }

    #[inline(always)]
    fn eval(&self, e: &Env, m: &Member) -> Tri {
        match self {
            Pred::Leaf(l) => l.eval(e, m),
            Pred::All(ls) => conjunction(ls, e, m),
            Pred::Any(ls) => disjunction(ls, e, m),
            Pred::Mixed { leaves, rest, conjunction: true } => {
                let first = conjunction(leaves, e, m);
                if first == Tri::False {
                    return Tri::False;
                }
                let mut out = first;
                for x in rest.iter() {
                    match x(e, m) {
                        Tri::False => return Tri::False,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::True => {}
                    }
                }
                out
            }
            Pred::Mixed { leaves, rest, conjunction: false } => {
                let first = disjunction(leaves, e, m);
                if first == Tri::True {
                    return Tri::True;
                }
                let mut out = first;
                for x in rest.iter() {
                    match x(e, m) {
                        Tri::True => return Tri::True,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::False => {}
                    }
                }
                out
            }
            Pred::Dyn(f) => f(e, m),
        }
    }
}

/// The operands of nested `and`s (or `or`s), as one list: both are associative.
fn flatten(ir: &BoolIr, is_and: bool) -> Vec<&BoolIr> {
    let mut out = Vec::new();
    let mut stack = vec![ir];
    while let Some(node) = stack.pop() {
        match (node, is_and) {
            (BoolIr::And(xs), true) | (BoolIr::Or(xs), false) => stack.extend(xs.iter().rev()),
            _ => out.push(node),
        }
    }
    out
}

/// Compiles a yes/no expression.
pub fn boolean(ir: &BoolIr) -> BoolFn {
    if let Some(leaf) = Leaf::of(ir) {
        return Box::new(move |e, m| leaf.eval(e, m));
    }
    match ir {
        BoolIr::Const(t) => {
            let t = *t;
            Box::new(move |_, _| t)
        }
        // Leaves were handled above; connectives become a flat predicate.
        BoolIr::Field(..) | BoolIr::Coded(..) | BoolIr::And(_) | BoolIr::Or(_) => {
            let pred = Pred::of(ir);
            Box::new(move |e, m| pred.eval(e, m))
        }
        BoolIr::Cmp(op, l, r) => {
            let (op, l, r) = (*op, num(l), num(r));
            Box::new(move |e, m| cmp(op, l(e, m), r(e, m)))
        }
        BoolIr::Same(a, b) => {
            let (a, b) = (boolean(a), boolean(b));
            Box::new(move |e, m| match (a(e, m), b(e, m)) {
                (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
                (x, y) => Tri::from(x == y),
            })
        }
        BoolIr::Not(x) => {
            let x = boolean(x);
            Box::new(move |e, m| !x(e, m))
        }
        BoolIr::Any(p) => {
            let p = Pred::of(p);
            Box::new(move |e, _| {
                if !e.members.is_empty() {
                    match p.across(e.summary) {
                        Across::NoneCan => return Tri::False,
                        Across::AllDo => return Tri::True,
                        Across::Visit => {}
                    }
                }
                let mut out = Tri::False;
                for m in e.members {
                    match p.eval(e, m) {
                        Tri::True => return Tri::True,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::False => {}
                    }
                }
                out
            })
        }
        BoolIr::All(p) => {
            let p = Pred::of(p);
            Box::new(move |e, _| {
                if !e.members.is_empty() {
                    match p.across(e.summary) {
                        Across::NoneCan => return Tri::False,
                        Across::AllDo => return Tri::True,
                        Across::Visit => {}
                    }
                }
                let mut out = Tri::True;
                for m in e.members {
                    match p.eval(e, m) {
                        Tri::False => return Tri::False,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::True => {}
                    }
                }
                out
            })
        }
        BoolIr::Count(p, op, k) => {
            let (p, op, k) = (Pred::of(p), *op, num(k));
            Box::new(move |e, m0| {
                if !e.members.is_empty() {
                    match p.across(e.summary) {
                        Across::NoneCan => return count_outcome(op, 0, 0, k(e, m0)),
                        Across::AllDo => return count_outcome(op, e.members.len() as i64, 0, k(e, m0)),
                        Across::Visit => {}
                    }
                }
                let (mut t, mut u) = (0, 0);
                for m in e.members {
                    match p.eval(e, m) {
                        Tri::True => t += 1,
                        Tri::Unknown => u += 1,
                        Tri::False => {}
                    }
                }
                count_outcome(op, t, u, k(e, m0))
            })
        }
        BoolIr::Eligible(i) => {
            let i = *i;
            Box::new(move |e, _| e.status[i].as_tri())
        }
    }
}

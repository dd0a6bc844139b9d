//! Typed IR → a tree of closures, built once per rule set and run for every household.
//!
//! Most criteria are built from *leaves*: one slot tested against a constant, a parameter or a
//! set of coded values. Inside `any`/`all`/`count`, a leaf is evaluated for all members at
//! once into two bit masks (members that pass, members whose value is unknown), cached per
//! household and shared by every scheme that tests the same thing; a conjunction of leaves
//! over the members is then a few bit operations, Kleene logic included. Everything else is
//! a closure tree. Nothing here allocates while a household is evaluated.

use super::check::{BoolIr, NumIr};
use std::cell::Cell;
use std::collections::HashMap;

use super::dict::{HH_SLOTS, MEMBER_SLOTS, Scope};
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
    /// Leaf masks computed so far for this household.
    pub cache: &'a LeafCache,
    /// The schemes the household is enrolled in.
    pub enrolled: &'a [usize],
}

/// Households with more members than this are evaluated member by member.
pub const MASK_MEMBERS: usize = 64;

/// Per-household cache of member-leaf masks: `(pass, unknown)` by leaf id, valid when its
/// stamp equals the current household's.
#[derive(Debug, Clone, Default)]
pub struct LeafCache {
    stamps: Vec<Cell<u32>>,
    masks: Vec<Cell<(u64, u64)>>,
    current: u32,
}

impl LeafCache {
    /// Starts a new household: every cached mask becomes stale.
    pub fn next_household(&mut self, leaves: usize) {
        if self.stamps.len() < leaves {
            self.stamps.resize_with(leaves, Default::default);
            self.masks.resize_with(leaves, Default::default);
        }
        self.current = self.current.wrapping_add(1);
        if self.current == 0 {
            self.stamps.iter().for_each(|s| s.set(0));
            self.current = 1;
        }
    }
}

/// One member's slots.
pub type Member = [i64; MEMBER_SLOTS];

/// The member slots used outside any quantifier (never read: the checker forbids it).
pub static NO_MEMBER: Member = [UNKNOWN; MEMBER_SLOTS];

/// A compiled yes/no expression: `(household, member in scope)`.
pub type BoolFn = Box<dyn Fn(&Env, &Member) -> Tri + Send + Sync>;
/// A compiled number expression.
pub type NumFn = Box<dyn Fn(&Env, &Member) -> i64 + Send + Sync>;

/// True when `pass`, else unknown when `unknown`, else false (callers clear `pass` when the
/// value itself is unknown). A table lookup: no branch on the data.
#[inline(always)]
fn tri(pass: bool, unknown: bool) -> Tri {
    const TABLE: [Tri; 4] = [Tri::False, Tri::True, Tri::Unknown, Tri::True];
    TABLE[usize::from(pass) | (usize::from(unknown) << 1)]
}

#[inline]
fn cmp(op: CmpOp, a: i64, b: i64) -> Tri {
    if a == UNKNOWN || b == UNKNOWN { Tri::Unknown } else { Tri::from(op.holds(a, b)) }
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

/// A test that reads one slot.
#[derive(Debug, Clone, Copy)]
struct Leaf {
    test: Test,
    negate: bool,
    /// Cache index of a member test.
    id: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Test {
    /// A slot lies in `[lo, hi]` (comparisons with a constant, and yes/no fields).
    Range(Scope, usize, i64, i64),
    /// A coded slot is in the mask.
    Coded(Scope, usize, u64),
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

impl Test {
    fn scope(self) -> Scope {
        match self {
            Test::Range(s, ..) | Test::Coded(s, ..) | Test::CmpParam(_, s, ..) => s,
        }
    }

    /// Whether `v` passes (false for an unknown value, which is reported separately).
    #[inline(always)]
    fn passes(self, v: i64, params: &[i64]) -> bool {
        match self {
            // `lo` is above `UNKNOWN` (i64::MIN), so an unknown value is never in range.
            Test::Range(_, _, lo, hi) => (lo <= v) & (v <= hi),
            Test::Coded(_, _, mask) => (0..64).contains(&v) & ((mask >> (v & 63)) & 1 == 1),
            Test::CmpParam(op, _, _, p) => (v != UNKNOWN) & (params[p] != UNKNOWN) & op.holds(v, params[p]),
        }
    }

    #[inline(always)]
    fn on(self, v: i64, params: &[i64]) -> Tri {
        let unknown = v == UNKNOWN || matches!(self, Test::CmpParam(_, _, _, p) if params[p] == UNKNOWN);
        tri(self.passes(v, params) & !unknown, unknown)
    }

    #[inline(always)]
    fn slot(self) -> usize {
        match self {
            Test::Range(_, s, ..) | Test::Coded(_, s, _) | Test::CmpParam(_, _, s, _) => s,
        }
    }
}

/// Shared state of one rule set's compilation: the member tests and their cache ids.
#[derive(Debug, Default)]
pub struct Compiler {
    ids: HashMap<Test, usize>,
}

impl Compiler {
    /// Number of distinct member tests (the size of a [`LeafCache`]).
    pub fn leaves(&self) -> usize {
        self.ids.len()
    }

    fn leaf(&mut self, ir: &BoolIr) -> Option<Leaf> {
        let test = match ir {
            BoolIr::Not(inner) => {
                let leaf = self.leaf(inner)?;
                return Some(Leaf { negate: !leaf.negate, ..leaf });
            }
            BoolIr::Field(scope, s) => Test::Range(*scope, *s, 1, i64::MAX),
            BoolIr::Coded(scope, s, mask) => Test::Coded(*scope, *s, *mask),
            BoolIr::Cmp(op, NumIr::Field(scope, s), NumIr::Const(c))
            | BoolIr::Cmp(op @ (CmpOp::Eq | CmpOp::Ne), NumIr::Const(c), NumIr::Field(scope, s)) => {
                let (lo, hi, negate) = range(*op, *c);
                return Some(self.with_id(Test::Range(*scope, *s, lo, hi), negate));
            }
            BoolIr::Cmp(op, NumIr::Const(c), NumIr::Field(scope, s)) => {
                let (lo, hi, negate) = range(op.flipped(), *c);
                return Some(self.with_id(Test::Range(*scope, *s, lo, hi), negate));
            }
            BoolIr::Cmp(op, NumIr::Field(scope, s), NumIr::Param(p)) => Test::CmpParam(*op, *scope, *s, *p),
            BoolIr::Cmp(op, NumIr::Param(p), NumIr::Field(scope, s)) => Test::CmpParam(op.flipped(), *scope, *s, *p),
            _ => return None,
        };
        Some(self.with_id(test, false))
    }

    fn with_id(&mut self, test: Test, negate: bool) -> Leaf {
        let id = if test.scope() == Scope::Member {
            let next = self.ids.len();
            *self.ids.entry(test).or_insert(next)
        } else {
            usize::MAX
        };
        Leaf { test, negate, id }
    }
}

impl Leaf {
    /// The leaf for the member in scope (or the household).
    #[inline(always)]
    fn eval(&self, e: &Env, m: &Member) -> Tri {
        let v = match self.test.scope() {
            Scope::Member => m[self.test.slot()],
            Scope::Household => e.hh[self.test.slot()],
        };
        let unknown = v == UNKNOWN || matches!(self.test, Test::CmpParam(_, _, _, p) if e.params[p] == UNKNOWN);
        // Negation flips a known outcome only; without a branch on the data.
        tri((self.test.passes(v, e.params) ^ self.negate) & !unknown, unknown)
    }

    /// `(pass, unknown)` over all members, as bit masks (`all` has a bit per member).
    #[inline(always)]
    fn masks(&self, e: &Env, all: u64) -> (u64, u64) {
        let cache = e.cache;
        // The common case first: a member test already computed for this household.
        let (pass, unknown) = match cache.stamps.get(self.id) {
            Some(stamp) if stamp.get() == cache.current => cache.masks[self.id].get(),
            Some(stamp) => {
                let masks = member_masks(self.test, e);
                stamp.set(cache.current);
                cache.masks[self.id].set(masks);
                masks
            }
            // A member test with no cache slot (a cache sized for other rules): uncached.
            None if self.test.scope() == Scope::Member => member_masks(self.test, e),
            // A household test: the same outcome for every member.
            None => match self.test.on(e.hh[self.test.slot()], e.params) {
                Tri::True => (all, 0),
                Tri::False => (0, 0),
                Tri::Unknown => (0, all),
            },
        };
        // Negation flips the known outcomes, without a branch.
        let flip = u64::from(self.negate).wrapping_neg();
        ((pass ^ flip) & all & !unknown, unknown)
    }
}

/// `(pass, unknown)` masks of a member test, without a data-dependent branch per member
/// (households differ, so such branches would be mispredicted).
#[inline(always)]
fn member_masks(test: Test, e: &Env) -> (u64, u64) {
    let (mut pass, mut unknown) = (0u64, 0u64);
    let members = e.members.iter().take(MASK_MEMBERS).enumerate();
    match test {
        Test::Range(_, slot, lo, hi) => {
            // `lo` is above `UNKNOWN` (i64::MIN), so an unknown value is never in range.
            for (i, m) in members {
                let v = m[slot];
                pass |= u64::from((lo <= v) & (v <= hi)) << i;
                unknown |= u64::from(v == UNKNOWN) << i;
            }
        }
        Test::Coded(_, slot, mask) => {
            for (i, m) in members {
                let v = m[slot];
                let known_code = (0..64).contains(&v);
                pass |= (u64::from(known_code) & (mask >> (v & 63)) & 1) << i;
                unknown |= u64::from(v == UNKNOWN) << i;
            }
        }
        Test::CmpParam(op, _, slot, p) => {
            for (i, m) in members {
                match cmp(op, m[slot], e.params[p]) {
                    Tri::True => pass |= 1 << i,
                    Tri::Unknown => unknown |= 1 << i,
                    Tri::False => {}
                }
            }
        }
    }
    (pass, unknown)
}

/// A quantifier's body, evaluated for all members at once as `(true, unknown)` bit masks.
enum Pred {
    /// One slot test (cached per household).
    Leaf(Leaf),
    /// Slot tests joined by `and` (`conjunction`) or `or`: the most common body.
    Leaves(Box<[Leaf]>, bool),
    /// `and` of its parts.
    And(Box<[Pred]>),
    /// `or` of its parts.
    Or(Box<[Pred]>),
    /// `not`.
    Not(Box<Pred>),
    /// Anything else (arithmetic, `eligible`): member by member.
    Each(BoolFn),
}

impl Pred {
    fn of(ir: &BoolIr, c: &mut Compiler) -> Pred {
        if let Some(leaf) = c.leaf(ir) {
            return Pred::Leaf(leaf);
        }
        let conjunction = matches!(ir, BoolIr::And(_));
        if matches!(ir, BoolIr::And(_) | BoolIr::Or(_)) {
            let leaves: Option<Vec<Leaf>> = flatten(ir, conjunction).into_iter().map(|p| c.leaf(p)).collect();
            if let Some(leaves) = leaves {
                return Pred::Leaves(leaves.into(), conjunction);
            }
        }
        match ir {
            BoolIr::And(_) => Pred::And(flatten(ir, true).into_iter().map(|p| Pred::of(p, c)).collect()),
            BoolIr::Or(_) => Pred::Or(flatten(ir, false).into_iter().map(|p| Pred::of(p, c)).collect()),
            BoolIr::Not(x) => Pred::Not(Box::new(Pred::of(x, c))),
            _ => Pred::Each(boolean(ir, c)),
        }
    }

    /// `(true, unknown)` member masks; `all` has a bit per member (at most 64 members).
    fn masks(&self, e: &Env, all: u64) -> (u64, u64) {
        match self {
            Pred::Leaf(l) => l.masks(e, all),
            Pred::Leaves(leaves, true) => {
                let (mut yes, mut no) = (all, 0);
                for l in leaves.iter() {
                    let (t, u) = l.masks(e, all);
                    yes &= t;
                    no |= all & !t & !u;
                }
                (yes, all & !yes & !no)
            }
            Pred::Leaves(leaves, false) => {
                let (mut yes, mut no) = (0, all);
                for l in leaves.iter() {
                    let (t, u) = l.masks(e, all);
                    yes |= t;
                    no &= all & !t & !u;
                }
                (yes, all & !yes & !no)
            }
            Pred::And(parts) => {
                let (mut yes, mut no) = (all, 0);
                for p in parts.iter() {
                    let (t, u) = p.masks(e, all);
                    yes &= t;
                    no |= all & !t & !u;
                }
                (yes, all & !yes & !no)
            }
            Pred::Or(parts) => {
                let (mut yes, mut no) = (0, all);
                for p in parts.iter() {
                    let (t, u) = p.masks(e, all);
                    yes |= t;
                    no &= all & !t & !u;
                }
                (yes, all & !yes & !no)
            }
            Pred::Not(x) => {
                let (t, u) = x.masks(e, all);
                (all & !t & !u, u)
            }
            Pred::Each(f) => {
                let (mut yes, mut unknown) = (0u64, 0u64);
                for (i, m) in e.members.iter().enumerate().take(MASK_MEMBERS) {
                    match f(e, m) {
                        Tri::True => yes |= 1 << i,
                        Tri::Unknown => unknown |= 1 << i,
                        Tri::False => {}
                    }
                }
                (yes, unknown)
            }
        }
    }

    /// The body for one member (households above 64 members).
    fn eval(&self, e: &Env, m: &Member) -> Tri {
        match self {
            Pred::Leaf(l) => l.eval(e, m),
            Pred::Leaves(leaves, conjunction) => {
                let mut out = if *conjunction { Tri::True } else { Tri::False };
                for l in leaves.iter() {
                    match (l.eval(e, m), conjunction) {
                        (Tri::False, true) => return Tri::False,
                        (Tri::True, false) => return Tri::True,
                        (Tri::Unknown, _) => out = Tri::Unknown,
                        _ => {}
                    }
                }
                out
            }
            Pred::And(parts) => {
                let mut out = Tri::True;
                for p in parts.iter() {
                    match p.eval(e, m) {
                        Tri::False => return Tri::False,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::True => {}
                    }
                }
                out
            }
            Pred::Or(parts) => {
                let mut out = Tri::False;
                for p in parts.iter() {
                    match p.eval(e, m) {
                        Tri::True => return Tri::True,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::False => {}
                    }
                }
                out
            }
            Pred::Not(x) => !x.eval(e, m),
            Pred::Each(f) => f(e, m),
        }
    }

    /// How many members pass `(certainly, possibly more)`.
    #[inline(always)]
    fn count(&self, e: &Env) -> (i64, i64) {
        let n = e.members.len();
        if n <= MASK_MEMBERS {
            let all = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            let (yes, unknown) = self.masks(e, all);
            return (i64::from(yes.count_ones()), i64::from(unknown.count_ones()));
        }
        let (mut t, mut u) = (0, 0);
        for m in e.members {
            match self.eval(e, m) {
                Tri::True => t += 1,
                Tri::Unknown => u += 1,
                Tri::False => {}
            }
        }
        (t, u)
    }
}

/// A quantifier over `p` whose outcome `finish` computes from how many members certainly
/// pass and how many are unknown. The body's shape is resolved here, when the rules are
/// compiled, so the closure that runs for each household does not dispatch on it.
fn counted<F>(p: Pred, finish: F) -> BoolFn
where
    F: Fn(&Env, &Member, i64, i64) -> Tri + Send + Sync + 'static,
{
    #[inline(always)]
    fn all_bits(n: usize) -> u64 {
        if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
    }
    #[inline(always)]
    fn popcounts((yes, unknown): (u64, u64)) -> (i64, i64) {
        (i64::from(yes.count_ones()), i64::from(unknown.count_ones()))
    }
    match p {
        Pred::Leaf(l) => Box::new(move |e, m| {
            let n = e.members.len();
            let (t, u) = if n <= MASK_MEMBERS {
                let all = all_bits(n);
                let (pass, unknown) = l.masks(e, all);
                popcounts((pass, unknown))
            } else {
                Pred::Leaf(l).count(e)
            };
            finish(e, m, t, u)
        }),
        Pred::Leaves(leaves, conjunction) => {
            let p = Pred::Leaves(leaves, conjunction);
            if conjunction {
                Box::new(move |e, m| {
                    let (t, u) = match (&p, e.members.len()) {
                        (Pred::Leaves(ls, _), n) if n <= MASK_MEMBERS => {
                            let all = all_bits(n);
                            let (mut yes, mut no) = (all, 0);
                            for l in ls.iter() {
                                let (t, u) = l.masks(e, all);
                                yes &= t;
                                no |= all & !t & !u;
                            }
                            popcounts((yes, all & !yes & !no))
                        }
                        _ => p.count(e),
                    };
                    finish(e, m, t, u)
                })
            } else {
                Box::new(move |e, m| {
                    let (t, u) = match (&p, e.members.len()) {
                        (Pred::Leaves(ls, _), n) if n <= MASK_MEMBERS => {
                            let all = all_bits(n);
                            let (mut yes, mut no) = (0, all);
                            for l in ls.iter() {
                                let (t, u) = l.masks(e, all);
                                yes |= t;
                                no &= all & !t & !u;
                            }
                            popcounts((yes, all & !yes & !no))
                        }
                        _ => p.count(e),
                    };
                    finish(e, m, t, u)
                })
            }
        }
        other => Box::new(move |e, m| {
            let (t, u) = other.count(e);
            finish(e, m, t, u)
        }),
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
pub fn boolean(ir: &BoolIr, c: &mut Compiler) -> BoolFn {
    if let Some(leaf) = c.leaf(ir) {
        return Box::new(move |e, m| leaf.eval(e, m));
    }
    match ir {
        BoolIr::Const(t) => {
            let t = *t;
            Box::new(move |_, _| t)
        }
        BoolIr::Field(..) | BoolIr::Coded(..) => {
            // Always leaves; kept for an exhaustive match.
            Box::new(|_, _| Tri::Unknown)
        }
        BoolIr::And(_) | BoolIr::Or(_) => {
            let conjunction = matches!(ir, BoolIr::And(_));
            let parts: Vec<BoolFn> = flatten(ir, conjunction).into_iter().map(|p| boolean(p, c)).collect();
            if conjunction {
                Box::new(move |e, m| {
                    let mut out = Tri::True;
                    for x in &parts {
                        match x(e, m) {
                            Tri::False => return Tri::False,
                            Tri::Unknown => out = Tri::Unknown,
                            Tri::True => {}
                        }
                    }
                    out
                })
            } else {
                Box::new(move |e, m| {
                    let mut out = Tri::False;
                    for x in &parts {
                        match x(e, m) {
                            Tri::True => return Tri::True,
                            Tri::Unknown => out = Tri::Unknown,
                            Tri::False => {}
                        }
                    }
                    out
                })
            }
        }
        BoolIr::Cmp(op, l, r) => {
            let (op, l, r) = (*op, num(l), num(r));
            Box::new(move |e, m| cmp(op, l(e, m), r(e, m)))
        }
        BoolIr::Same(a, b) => {
            let (a, b) = (boolean(a, c), boolean(b, c));
            Box::new(move |e, m| match (a(e, m), b(e, m)) {
                (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
                (x, y) => Tri::from(x == y),
            })
        }
        BoolIr::Not(x) => match x.as_ref() {
            // `not any member (…)` ("no member is …") is common: one closure, not two.
            BoolIr::Any(p) => counted(Pred::of(p, c), |_, _, t, u| !tri(t > 0, u > 0)),
            _ => {
                let x = boolean(x, c);
                Box::new(move |e, m| !x(e, m))
            }
        },
        BoolIr::Any(p) => counted(Pred::of(p, c), |_, _, t, u| tri(t > 0, u > 0)),
        BoolIr::All(p) => {
            counted(Pred::of(p, c), |e, _, t, u| count_outcome(CmpOp::Eq, t, u, num::int(e.members.len() as i64)))
        }
        BoolIr::Count(p, op, k) => {
            let (op, k) = (*op, num(k));
            counted(Pred::of(p, c), move |e, m, t, u| count_outcome(op, t, u, k(e, m)))
        }
        BoolIr::Eligible(i) => {
            let i = *i;
            Box::new(move |e, _| e.status[i].as_tri())
        }
        BoolIr::Enrolled(i) => {
            let i = *i;
            Box::new(move |e, _| Tri::from(e.enrolled.contains(&i)))
        }
    }
}

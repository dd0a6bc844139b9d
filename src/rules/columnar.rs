//! Columnar batch evaluation: a chunk of households at once, for re-screening the registry.
//!
//! The row-wise closures answer one household in microseconds; a registry-wide run does not
//! need per-household answers until the end. Here each member field of a chunk is one column
//! and each three-valued outcome is a pair of bit sets (`true`, `unknown`) over the chunk's
//! households or members, so a criterion costs a few passes over machine words with no
//! per-household dispatch. The meaning is the same as `Bound::statuses` (tests compare the
//! two on random households); only statuses come out.

use super::check::{BoolIr, NumIr};
use super::compile::count_outcome;
use super::dict::{Facts, HH_SLOTS, MEMBER_SLOTS, Scope};
use super::eval::Bound;
use super::expr::{ArOp, CmpOp};
use super::num::{self, UNKNOWN};
use super::{Status, Tri};

/// A chunk of households in columns.
#[derive(Debug, Default, Clone)]
pub struct Chunk {
    households: usize,
    /// Household slot columns: `hh[slot][household]`.
    hh: Vec<Vec<i64>>,
    /// Member slot columns: `members[slot][member]`, members of a household contiguous.
    members: Vec<Vec<i64>>,
    /// `start[h]..start[h + 1]` are household `h`'s members.
    start: Vec<usize>,
    /// The household of each member.
    owner: Vec<usize>,
    /// Each household's enrolments (scheme indices).
    enrolled: Vec<Vec<usize>>,
}

impl Chunk {
    /// Builds a chunk from facts, deriving ages and sizes for `as_of`.
    pub fn from_facts(all: &mut [Facts], as_of: chrono::NaiveDate) -> Chunk {
        let total: usize = all.iter().map(|f| f.members.len()).sum();
        let mut c = Chunk {
            households: all.len(),
            hh: vec![vec![UNKNOWN; all.len()]; HH_SLOTS],
            members: vec![vec![UNKNOWN; total]; MEMBER_SLOTS],
            start: Vec::with_capacity(all.len() + 1),
            owner: Vec::with_capacity(total),
            enrolled: Vec::with_capacity(all.len()),
        };
        c.start.push(0);
        let mut i = 0;
        for (h, facts) in all.iter_mut().enumerate() {
            facts.derive(as_of);
            for (s, v) in facts.household.iter().enumerate() {
                c.hh[s][h] = *v;
            }
            for m in &facts.members {
                for (s, v) in m.iter().enumerate() {
                    c.members[s][i] = *v;
                }
                c.owner.push(h);
                i += 1;
            }
            c.start.push(i);
            c.enrolled.push(facts.enrolled.clone());
        }
        c
    }

    /// Households in the chunk.
    pub fn len(&self) -> usize {
        self.households
    }

    /// Whether the chunk holds no household.
    pub fn is_empty(&self) -> bool {
        self.households == 0
    }
}

/// Three-valued outcomes over `n` items as bit sets; `t` and `u` never share a bit.
#[derive(Debug, Clone)]
struct Bits {
    t: Vec<u64>,
    u: Vec<u64>,
}

fn words(n: usize) -> usize {
    n.div_ceil(64)
}

impl Bits {
    fn constant(n: usize, value: Tri) -> Bits {
        let full = |on: bool| {
            let mut v = vec![if on { u64::MAX } else { 0 }; words(n)];
            if on
                && !n.is_multiple_of(64)
                && let Some(last) = v.last_mut()
            {
                *last = (1u64 << (n % 64)) - 1;
            }
            v
        };
        Bits { t: full(value == Tri::True), u: full(value == Tri::Unknown) }
    }

    /// From a per-item function of (passes, unknown).
    fn from_fn(n: usize, mut f: impl FnMut(usize) -> (bool, bool)) -> Bits {
        let (mut t, mut u) = (vec![0u64; words(n)], vec![0u64; words(n)]);
        for i in 0..n {
            let (pass, unknown) = f(i);
            t[i / 64] |= u64::from(pass & !unknown) << (i % 64);
            u[i / 64] |= u64::from(unknown) << (i % 64);
        }
        Bits { t, u }
    }

    fn get(&self, i: usize) -> Tri {
        let bit = 1u64 << (i % 64);
        if self.t[i / 64] & bit != 0 {
            Tri::True
        } else if self.u[i / 64] & bit != 0 {
            Tri::Unknown
        } else {
            Tri::False
        }
    }

    fn not(mut self, n: usize) -> Bits {
        let all = Bits::constant(n, Tri::True).t;
        for ((t, u), a) in self.t.iter_mut().zip(&self.u).zip(&all) {
            *t = a & !*t & !u;
        }
        self
    }

    /// Kleene `and` (or `or`) into `self`.
    fn combine(&mut self, other: &Bits, conjunction: bool, all: &[u64]) {
        for (i, a) in all.iter().enumerate().take(self.t.len()) {
            let (t1, u1, t2, u2) = (self.t[i], self.u[i], other.t[i], other.u[i]);
            let (f1, f2) = (a & !t1 & !u1, a & !t2 & !u2);
            let (t, f) = if conjunction { (t1 & t2, f1 | f2) } else { (t1 | t2, f1 & f2) };
            self.t[i] = t;
            self.u[i] = a & !t & !f;
        }
    }
}

/// Outcome bits of a one-slot test over a column, a word at a time and without a branch per
/// item (`test` is never asked about an unknown value's outcome: it is masked out).
#[inline(always)]
fn column_bits(col: &[i64], test: impl Fn(i64) -> bool) -> Bits {
    let mut t = Vec::with_capacity(words(col.len()));
    let mut u = Vec::with_capacity(words(col.len()));
    for block in col.chunks(64) {
        let (mut tw, mut uw) = (0u64, 0u64);
        for (j, &v) in block.iter().enumerate() {
            let unknown = v == UNKNOWN;
            tw |= u64::from(test(v) & !unknown) << j;
            uw |= u64::from(unknown) << j;
        }
        t.push(tw);
        u.push(uw);
    }
    Bits { t, u }
}

/// `v op k` as `lo <= v <= hi`, negated for `!=`.
fn bounds(op: CmpOp, k: i64) -> (i64, i64, bool) {
    match op {
        CmpOp::Eq => (k, k, false),
        CmpOp::Ne => (k, k, true),
        CmpOp::Lt => (i64::MIN, k.saturating_sub(1), false),
        CmpOp::Le => (i64::MIN, k, false),
        CmpOp::Gt => (k.saturating_add(1), i64::MAX, false),
        CmpOp::Ge => (k, i64::MAX, false),
    }
}

/// A one-slot test of a column, if `ir` is one: `(scope, slot, test)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SlotTest {
    Yes,
    Coded(u64),
    Range(i64, i64, bool),
}

fn slot_test(ir: &BoolIr, params: &[i64]) -> Option<(Scope, usize, SlotTest)> {
    let constant = |n: &NumIr| match n {
        NumIr::Const(k) => Some(*k),
        NumIr::Param(p) => Some(params[*p]),
        _ => None,
    };
    match ir {
        BoolIr::Field(scope, s) => Some((*scope, *s, SlotTest::Yes)),
        BoolIr::Coded(scope, s, mask) => Some((*scope, *s, SlotTest::Coded(*mask))),
        BoolIr::Cmp(op, NumIr::Field(scope, s), k) => {
            let k = constant(k)?;
            // An unknown parameter makes every outcome unknown: leave that to the general path.
            (k != UNKNOWN).then(|| {
                let (lo, hi, neg) = bounds(*op, k);
                (*scope, *s, SlotTest::Range(lo, hi, neg))
            })
        }
        BoolIr::Cmp(op, k, NumIr::Field(scope, s)) => {
            let k = constant(k)?;
            (k != UNKNOWN).then(|| {
                let (lo, hi, neg) = bounds(op.flipped(), k);
                (*scope, *s, SlotTest::Range(lo, hi, neg))
            })
        }
        _ => None,
    }
}

fn test_column(col: &[i64], test: &SlotTest) -> Bits {
    match *test {
        SlotTest::Yes => column_bits(col, |v| v != 0),
        SlotTest::Coded(mask) => column_bits(col, |v| (0..64).contains(&v) & ((mask >> (v & 63)) & 1 == 1)),
        SlotTest::Range(lo, hi, neg) => column_bits(col, |v| ((lo <= v) & (v <= hi)) ^ neg),
    }
}

/// How many set bits `words` has in `[from, to)`.
#[inline]
fn count_range(words: &[u64], from: usize, to: usize) -> i64 {
    let mut total = 0;
    let mut i = from;
    while i < to {
        let w = i / 64;
        let lo = i % 64;
        let hi = (to - w * 64).min(64);
        let mask = if hi - lo == 64 { u64::MAX } else { ((1u64 << (hi - lo)) - 1) << lo };
        total += i64::from((words[w] & mask).count_ones());
        i = w * 64 + hi;
    }
    total
}

fn passes(op: CmpOp, a: i64, b: i64) -> (bool, bool) {
    let unknown = a == UNKNOWN || b == UNKNOWN;
    (!unknown && op.holds(a, b), unknown)
}

/// One-slot tests already evaluated for the chunk (schemes share many: `age >= 18`, …).
type Memo = std::collections::HashMap<(Scope, usize, SlotTest), Bits>;

impl Bound<'_> {
    /// Batch mode over a chunk: `out[h * schemes + i]` is household `h`'s status for scheme `i`
    /// (inactive schemes `NotEligible`), exactly as `statuses` would give one by one.
    pub fn statuses_columnar(&self, chunk: &Chunk, out: &mut Vec<Status>) {
        self.statuses_columnar_of(chunk, None, out);
    }

    /// [`Bound::statuses_columnar`] for the schemes `only` marks (all when `None`); the others
    /// are left `NotEligible`. `only` must include the schemes its schemes' `eligible(…)` calls
    /// name (see [`super::uses::with_dependencies`]).
    pub fn statuses_columnar_of(&self, chunk: &Chunk, only: Option<&[bool]>, out: &mut Vec<Status>) {
        let n = chunk.households;
        let wanted = |i: usize| only.is_none_or(|only| only[i]);
        self.count_evaluations(n, only);
        let schemes = self.rules.schemes.len();
        out.clear();
        out.resize(n * schemes, Status::NotEligible);
        let all = Bits::constant(n, Tri::True).t;
        let mut status: Vec<Option<Bits>> = vec![None; schemes];
        let mut memo = Memo::new();
        for &i in &self.rules.order {
            if !self.is_active(i) || !wanted(i) {
                continue;
            }
            // Eligible = every criterion true; not eligible = some criterion false.
            let mut eligible = all.clone();
            let mut refused = vec![0u64; words(n)];
            for c in &self.rules.schemes[i].criteria {
                let b = self.household_bits(&c.ir, chunk, &status, &mut memo);
                for w in 0..eligible.len() {
                    eligible[w] &= b.t[w];
                    refused[w] |= all[w] & !b.t[w] & !b.u[w];
                }
            }
            for h in 0..n {
                let bit = 1u64 << (h % 64);
                out[h * schemes + i] = if refused[h / 64] & bit != 0 {
                    Status::NotEligible
                } else if eligible[h / 64] & bit != 0 {
                    Status::Eligible
                } else {
                    Status::Undetermined
                };
            }
            // As bits for `eligible(…)`: true = eligible, unknown = undetermined.
            let undetermined: Vec<u64> = (0..eligible.len()).map(|w| all[w] & !eligible[w] & !refused[w]).collect();
            status[i] = Some(Bits { t: eligible, u: undetermined });
        }
    }

    fn household_bits(&self, ir: &BoolIr, c: &Chunk, status: &[Option<Bits>], memo: &mut Memo) -> Bits {
        let n = c.households;
        if let Some((Scope::Household, s, test)) = slot_test(ir, self.params()) {
            return memo.entry((Scope::Household, s, test)).or_insert_with(|| test_column(&c.hh[s], &test)).clone();
        }
        match ir {
            BoolIr::Const(t) => Bits::constant(n, *t),
            BoolIr::Field(Scope::Household, s) => {
                let col = &c.hh[*s];
                Bits::from_fn(n, |h| (col[h] != 0, col[h] == UNKNOWN))
            }
            BoolIr::Coded(Scope::Household, s, mask) => {
                let col = &c.hh[*s];
                Bits::from_fn(n, |h| {
                    let v = col[h];
                    ((0..64).contains(&v) && (mask >> (v & 63)) & 1 == 1, v == UNKNOWN)
                })
            }
            BoolIr::Cmp(op, l, r) => {
                let (a, b) = (self.household_nums(l, c), self.household_nums(r, c));
                Bits::from_fn(n, |h| passes(*op, a[h], b[h]))
            }
            BoolIr::Same(a, b) => {
                let (a, b) = (self.household_bits(a, c, status, memo), self.household_bits(b, c, status, memo));
                Bits::from_fn(n, |h| match (a.get(h), b.get(h)) {
                    (Tri::Unknown, _) | (_, Tri::Unknown) => (false, true),
                    (x, y) => (x == y, false),
                })
            }
            BoolIr::Not(x) => self.household_bits(x, c, status, memo).not(n),
            BoolIr::And(xs) | BoolIr::Or(xs) => {
                let conjunction = matches!(ir, BoolIr::And(_));
                let all = Bits::constant(n, Tri::True).t;
                let mut acc = Bits::constant(n, if conjunction { Tri::True } else { Tri::False });
                for x in xs {
                    acc.combine(&self.household_bits(x, c, status, memo), conjunction, &all);
                }
                acc
            }
            BoolIr::Any(p) | BoolIr::All(p) | BoolIr::Count(p, _, _) => {
                let m = self.member_bits(p, c, memo, status);
                let k = match ir {
                    BoolIr::Count(_, _, k) => Some(self.household_nums(k, c)),
                    _ => None,
                };
                Bits::from_fn(n, |h| {
                    let (from, to) = (c.start[h], c.start[h + 1]);
                    let (t, u) = (count_range(&m.t, from, to), count_range(&m.u, from, to));
                    let size = (c.start[h + 1] - c.start[h]) as i64;
                    let outcome = match (ir, &k) {
                        (BoolIr::Any(_), _) => count_outcome(CmpOp::Ge, t, u, num::int(1)),
                        (BoolIr::All(_), _) => count_outcome(CmpOp::Eq, t, u, num::int(size)),
                        (BoolIr::Count(_, op, _), Some(k)) => count_outcome(*op, t, u, k[h]),
                        _ => Tri::Unknown,
                    };
                    (outcome == Tri::True, outcome == Tri::Unknown)
                })
            }
            BoolIr::Enrolled(s) => Bits::from_fn(n, |h| (c.enrolled[h].contains(s), false)),
            BoolIr::Eligible(s) => match &status[*s] {
                Some(eligible) => eligible.clone(),
                // An inactive scheme counts as not eligible.
                None => Bits::constant(n, Tri::False),
            },
            // Member fields outside a quantifier are refused by the checker.
            BoolIr::Field(Scope::Member, _) | BoolIr::Coded(Scope::Member, _, _) => Bits::constant(n, Tri::Unknown),
        }
    }

    fn member_bits(&self, ir: &BoolIr, c: &Chunk, memo: &mut Memo, status: &[Option<Bits>]) -> Bits {
        let n = c.owner.len();
        if let Some((Scope::Member, s, test)) = slot_test(ir, self.params()) {
            return memo.entry((Scope::Member, s, test)).or_insert_with(|| test_column(&c.members[s], &test)).clone();
        }
        match ir {
            BoolIr::Const(t) => Bits::constant(n, *t),
            BoolIr::Field(scope, s) => {
                let col = self.member_view(*scope, *s, c);
                Bits::from_fn(n, |i| (col(i) != 0, col(i) == UNKNOWN))
            }
            BoolIr::Coded(scope, s, mask) => {
                let col = self.member_view(*scope, *s, c);
                Bits::from_fn(n, |i| {
                    let v = col(i);
                    ((0..64).contains(&v) && (mask >> (v & 63)) & 1 == 1, v == UNKNOWN)
                })
            }
            BoolIr::Cmp(op, l, r) => {
                let (a, b) = (self.member_nums(l, c), self.member_nums(r, c));
                Bits::from_fn(n, |i| passes(*op, a[i], b[i]))
            }
            BoolIr::Same(a, b) => {
                let (a, b) = (self.member_bits(a, c, memo, status), self.member_bits(b, c, memo, status));
                Bits::from_fn(n, |i| match (a.get(i), b.get(i)) {
                    (Tri::Unknown, _) | (_, Tri::Unknown) => (false, true),
                    (x, y) => (x == y, false),
                })
            }
            BoolIr::Not(x) => self.member_bits(x, c, memo, status).not(n),
            BoolIr::And(xs) | BoolIr::Or(xs) => {
                let conjunction = matches!(ir, BoolIr::And(_));
                let all = Bits::constant(n, Tri::True).t;
                let mut acc = Bits::constant(n, if conjunction { Tri::True } else { Tri::False });
                for x in xs {
                    acc.combine(&self.member_bits(x, c, memo, status), conjunction, &all);
                }
                acc
            }
            // Quantifiers do not nest (the checker refuses it).
            BoolIr::Any(_) | BoolIr::All(_) | BoolIr::Count(..) => Bits::constant(n, Tri::Unknown),
            // The same for every member of a household: the household's outcome, repeated.
            BoolIr::Eligible(_) | BoolIr::Enrolled(_) => {
                let h = self.household_bits(ir, c, status, memo);
                Bits::from_fn(n, |i| {
                    let t = h.get(c.owner[i]);
                    (t == Tri::True, t == Tri::Unknown)
                })
            }
        }
    }

    /// A slot read for each member (household slots repeated for each of its members).
    fn member_view<'c>(&self, scope: Scope, s: usize, c: &'c Chunk) -> impl Fn(usize) -> i64 + 'c {
        move |i| match scope {
            Scope::Member => c.members[s][i],
            Scope::Household => c.hh[s][c.owner[i]],
        }
    }

    fn household_nums(&self, ir: &NumIr, c: &Chunk) -> Vec<i64> {
        let n = c.households;
        match ir {
            NumIr::Const(v) => vec![*v; n],
            NumIr::Param(p) => vec![self.params()[*p]; n],
            NumIr::Field(Scope::Household, s) => c.hh[*s].clone(),
            NumIr::Field(Scope::Member, _) => vec![UNKNOWN; n],
            NumIr::Neg(x) => self.household_nums(x, c).into_iter().map(num::neg).collect(),
            NumIr::Arith(op, a, b) => arith(*op, self.household_nums(a, c), &self.household_nums(b, c)),
        }
    }

    fn member_nums(&self, ir: &NumIr, c: &Chunk) -> Vec<i64> {
        let n = c.owner.len();
        match ir {
            NumIr::Const(v) => vec![*v; n],
            NumIr::Param(p) => vec![self.params()[*p]; n],
            NumIr::Field(scope, s) => {
                let col = self.member_view(*scope, *s, c);
                (0..n).map(col).collect()
            }
            NumIr::Neg(x) => self.member_nums(x, c).into_iter().map(num::neg).collect(),
            NumIr::Arith(op, a, b) => arith(*op, self.member_nums(a, c), &self.member_nums(b, c)),
        }
    }
}

fn arith(op: ArOp, mut a: Vec<i64>, b: &[i64]) -> Vec<i64> {
    let f = match op {
        ArOp::Add => num::add,
        ArOp::Sub => num::sub,
        ArOp::Mul => num::mul,
        ArOp::Div => num::div,
    };
    for (x, y) in a.iter_mut().zip(b) {
        *x = f(*x, *y);
    }
    a
}

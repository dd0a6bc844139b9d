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
}

impl Chunk {
    /// Builds a chunk from facts, deriving ages and sizes for `as_of`.
    pub fn from_facts(all: &mut [Facts], as_of: chrono::NaiveDate) -> Chunk {
        let mut c = Chunk {
            households: all.len(),
            hh: vec![Vec::with_capacity(all.len()); HH_SLOTS],
            members: vec![Vec::new(); MEMBER_SLOTS],
            start: Vec::with_capacity(all.len() + 1),
            owner: Vec::new(),
        };
        c.start.push(0);
        for (h, facts) in all.iter_mut().enumerate() {
            facts.derive(as_of);
            for (s, v) in facts.household.iter().enumerate() {
                c.hh[s].push(*v);
            }
            for m in &facts.members {
                for (s, v) in m.iter().enumerate() {
                    c.members[s].push(*v);
                }
                c.owner.push(h);
            }
            c.start.push(c.owner.len());
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
            if on && n % 64 != 0 {
                if let Some(last) = v.last_mut() {
                    *last = (1u64 << (n % 64)) - 1;
                }
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
        for i in 0..self.t.len() {
            let (t1, u1, t2, u2) = (self.t[i], self.u[i], other.t[i], other.u[i]);
            let (f1, f2) = (all[i] & !t1 & !u1, all[i] & !t2 & !u2);
            let (t, f) = if conjunction { (t1 & t2, f1 | f2) } else { (t1 | t2, f1 & f2) };
            self.t[i] = t;
            self.u[i] = all[i] & !t & !f;
        }
    }
}

fn passes(op: CmpOp, a: i64, b: i64) -> (bool, bool) {
    let unknown = a == UNKNOWN || b == UNKNOWN;
    (!unknown && op.holds(a, b), unknown)
}

impl Bound<'_> {
    /// Batch mode over a chunk: `out[h * schemes + i]` is household `h`'s status for scheme `i`
    /// (inactive schemes `NotEligible`), exactly as `statuses` would give one by one.
    pub fn statuses_columnar(&self, chunk: &Chunk, out: &mut Vec<Status>) {
        let n = chunk.households;
        let schemes = self.rules.schemes.len();
        out.clear();
        out.resize(n * schemes, Status::NotEligible);
        let all = Bits::constant(n, Tri::True).t;
        let mut status: Vec<Option<Bits>> = vec![None; schemes];
        for &i in &self.rules.order {
            if !self.is_active(i) {
                continue;
            }
            // Eligible = every criterion true; not eligible = some criterion false.
            let mut eligible = all.clone();
            let mut refused = vec![0u64; words(n)];
            for c in &self.rules.schemes[i].criteria {
                let b = self.household_bits(&c.ir, chunk, &status);
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

    fn household_bits(&self, ir: &BoolIr, c: &Chunk, status: &[Option<Bits>]) -> Bits {
        let n = c.households;
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
                let (a, b) = (self.household_bits(a, c, status), self.household_bits(b, c, status));
                Bits::from_fn(n, |h| match (a.get(h), b.get(h)) {
                    (Tri::Unknown, _) | (_, Tri::Unknown) => (false, true),
                    (x, y) => (x == y, false),
                })
            }
            BoolIr::Not(x) => self.household_bits(x, c, status).not(n),
            BoolIr::And(xs) | BoolIr::Or(xs) => {
                let conjunction = matches!(ir, BoolIr::And(_));
                let all = Bits::constant(n, Tri::True).t;
                let mut acc = Bits::constant(n, if conjunction { Tri::True } else { Tri::False });
                for x in xs {
                    acc.combine(&self.household_bits(x, c, status), conjunction, &all);
                }
                acc
            }
            BoolIr::Any(p) | BoolIr::All(p) | BoolIr::Count(p, _, _) => {
                let m = self.member_bits(p, c);
                let k = match ir {
                    BoolIr::Count(_, _, k) => Some(self.household_nums(k, c)),
                    _ => None,
                };
                Bits::from_fn(n, |h| {
                    let (mut t, mut u) = (0i64, 0i64);
                    for i in c.start[h]..c.start[h + 1] {
                        let bit = 1u64 << (i % 64);
                        t += i64::from(m.t[i / 64] & bit != 0);
                        u += i64::from(m.u[i / 64] & bit != 0);
                    }
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
            BoolIr::Eligible(s) => match &status[*s] {
                Some(eligible) => eligible.clone(),
                // An inactive scheme counts as not eligible.
                None => Bits::constant(n, Tri::False),
            },
            // Member fields outside a quantifier are refused by the checker.
            BoolIr::Field(Scope::Member, _) | BoolIr::Coded(Scope::Member, _, _) => Bits::constant(n, Tri::Unknown),
        }
    }

    fn member_bits(&self, ir: &BoolIr, c: &Chunk) -> Bits {
        let n = c.owner.len();
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
                let (a, b) = (self.member_bits(a, c), self.member_bits(b, c));
                Bits::from_fn(n, |i| match (a.get(i), b.get(i)) {
                    (Tri::Unknown, _) | (_, Tri::Unknown) => (false, true),
                    (x, y) => (x == y, false),
                })
            }
            BoolIr::Not(x) => self.member_bits(x, c).not(n),
            BoolIr::And(xs) | BoolIr::Or(xs) => {
                let conjunction = matches!(ir, BoolIr::And(_));
                let all = Bits::constant(n, Tri::True).t;
                let mut acc = Bits::constant(n, if conjunction { Tri::True } else { Tri::False });
                for x in xs {
                    acc.combine(&self.member_bits(x, c), conjunction, &all);
                }
                acc
            }
            // Quantifiers do not nest, and `eligible` is the same for a household's members.
            BoolIr::Any(_) | BoolIr::All(_) | BoolIr::Count(..) => Bits::constant(n, Tri::Unknown),
            BoolIr::Eligible(_) => Bits::constant(n, Tri::Unknown),
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

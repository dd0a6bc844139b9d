//! Typed IR → a tree of closures, built once per rule set and run for every household.
//!
//! A field read is one indexed load from the facts array; the common shapes (a field against
//! a constant or a parameter, a coded field against a set of values) get their own closures
//! so they cost one call. Nothing here allocates while a household is evaluated.

use super::check::{BoolIr, NumIr};
use super::dict::{HH_SLOTS, MEMBER_SLOTS, Scope};
use super::expr::{ArOp, CmpOp};
use super::num::{self, UNKNOWN};
use super::{Status, Tri};

/// What a compiled expression reads.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// Household slots (derived values filled in).
    pub hh: &'a [i64; HH_SLOTS],
    /// The member in scope inside `any`/`all`/`count`.
    pub m: &'a [i64; MEMBER_SLOTS],
    /// Every current member.
    pub members: &'a [[i64; MEMBER_SLOTS]],
    /// Parameter values in force at the evaluation date.
    pub params: &'a [i64],
    /// Statuses of the schemes evaluated so far (for `eligible(…)`).
    pub status: &'a [Status],
}

/// The member slots used outside any quantifier (never read: the checker forbids it).
pub static NO_MEMBER: [i64; MEMBER_SLOTS] = [UNKNOWN; MEMBER_SLOTS];

/// A compiled yes/no expression.
pub type BoolFn = Box<dyn Fn(&Env) -> Tri + Send + Sync>;
/// A compiled number expression.
pub type NumFn = Box<dyn Fn(&Env) -> i64 + Send + Sync>;

#[inline]
fn truth(v: i64) -> Tri {
    if v == UNKNOWN {
        Tri::Unknown
    } else if v != 0 {
        Tri::True
    } else {
        Tri::False
    }
}

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
            Box::new(move |_| c)
        }
        NumIr::Field(Scope::Household, s) => {
            let s = *s;
            Box::new(move |e| e.hh[s])
        }
        NumIr::Field(Scope::Member, s) => {
            let s = *s;
            Box::new(move |e| e.m[s])
        }
        NumIr::Param(p) => {
            let p = *p;
            Box::new(move |e| e.params[p])
        }
        NumIr::Neg(x) => {
            let x = num(x);
            Box::new(move |e| num::neg(x(e)))
        }
        NumIr::Arith(op, a, b) => {
            let (a, b) = (num(a), num(b));
            match op {
                ArOp::Add => Box::new(move |e| num::add(a(e), b(e))),
                ArOp::Sub => Box::new(move |e| num::sub(a(e), b(e))),
                ArOp::Mul => Box::new(move |e| num::mul(a(e), b(e))),
                ArOp::Div => Box::new(move |e| num::div(a(e), b(e))),
            }
        }
    }
}

/// Compiles a yes/no expression.
pub fn boolean(ir: &BoolIr) -> BoolFn {
    match ir {
        BoolIr::Const(t) => {
            let t = *t;
            Box::new(move |_| t)
        }
        BoolIr::Field(Scope::Household, s) => {
            let s = *s;
            Box::new(move |e| truth(e.hh[s]))
        }
        BoolIr::Field(Scope::Member, s) => {
            let s = *s;
            Box::new(move |e| truth(e.m[s]))
        }
        BoolIr::Coded(Scope::Household, s, mask) => {
            let (s, mask) = (*s, *mask);
            Box::new(move |e| coded(e.hh[s], mask))
        }
        BoolIr::Coded(Scope::Member, s, mask) => {
            let (s, mask) = (*s, *mask);
            Box::new(move |e| coded(e.m[s], mask))
        }
        BoolIr::Cmp(op, l, r) => comparison(*op, l, r),
        BoolIr::Same(a, b) => {
            let (a, b) = (boolean(a), boolean(b));
            Box::new(move |e| match (a(e), b(e)) {
                (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
                (x, y) => Tri::from(x == y),
            })
        }
        BoolIr::Not(x) => {
            let x = boolean(x);
            Box::new(move |e| !x(e))
        }
        BoolIr::And(xs) => {
            let xs: Vec<BoolFn> = xs.iter().map(boolean).collect();
            Box::new(move |e| {
                let mut out = Tri::True;
                for x in &xs {
                    match x(e) {
                        Tri::False => return Tri::False,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::True => {}
                    }
                }
                out
            })
        }
        BoolIr::Or(xs) => {
            let xs: Vec<BoolFn> = xs.iter().map(boolean).collect();
            Box::new(move |e| {
                let mut out = Tri::False;
                for x in &xs {
                    match x(e) {
                        Tri::True => return Tri::True,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::False => {}
                    }
                }
                out
            })
        }
        BoolIr::Any(p) => {
            let p = boolean(p);
            Box::new(move |e| {
                let mut out = Tri::False;
                for m in e.members {
                    match p(&Env { m, ..*e }) {
                        Tri::True => return Tri::True,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::False => {}
                    }
                }
                out
            })
        }
        BoolIr::All(p) => {
            let p = boolean(p);
            Box::new(move |e| {
                let mut out = Tri::True;
                for m in e.members {
                    match p(&Env { m, ..*e }) {
                        Tri::False => return Tri::False,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::True => {}
                    }
                }
                out
            })
        }
        BoolIr::Count(p, op, k) => {
            let (p, op, k) = (boolean(p), *op, num(k));
            Box::new(move |e| {
                let (mut t, mut u) = (0, 0);
                for m in e.members {
                    match p(&Env { m, ..*e }) {
                        Tri::True => t += 1,
                        Tri::Unknown => u += 1,
                        Tri::False => {}
                    }
                }
                count_outcome(op, t, u, k(e))
            })
        }
        BoolIr::Eligible(i) => {
            let i = *i;
            Box::new(move |e| e.status[i].as_tri())
        }
    }
}

/// Comparisons, with the shapes rules use most compiled to a single closure.
fn comparison(op: CmpOp, l: &NumIr, r: &NumIr) -> BoolFn {
    match (l, r) {
        (NumIr::Field(Scope::Member, s), NumIr::Const(c)) => {
            let (s, c) = (*s, *c);
            Box::new(move |e| cmp(op, e.m[s], c))
        }
        (NumIr::Field(Scope::Household, s), NumIr::Const(c)) => {
            let (s, c) = (*s, *c);
            Box::new(move |e| cmp(op, e.hh[s], c))
        }
        (NumIr::Field(Scope::Member, s), NumIr::Param(p)) => {
            let (s, p) = (*s, *p);
            Box::new(move |e| cmp(op, e.m[s], e.params[p]))
        }
        (NumIr::Field(Scope::Household, s), NumIr::Param(p)) => {
            let (s, p) = (*s, *p);
            Box::new(move |e| cmp(op, e.hh[s], e.params[p]))
        }
        _ => {
            let (l, r) = (num(l), num(r));
            Box::new(move |e| cmp(op, l(e), r(e)))
        }
    }
}

//! The type checker: resolves every name against the data dictionary, the scheme's
//! parameters and the scheme ids, and turns an expression into typed IR — or into errors
//! with a span and a "did you mean" hint. Every mistake an author can make in a rule is
//! caught here, at load, never while a household is being screened.

use std::collections::HashMap;

use super::Tri;
use super::dict::{self, Scope, Ty};
use super::expr::{ArOp, CmpOp, Expr, Kind, Span};
use super::num;

/// A yes/no expression, typed and resolved.
#[derive(Debug, Clone)]
pub enum BoolIr {
    /// A literal.
    Const(Tri),
    /// A yes/no field.
    Field(Scope, usize),
    /// A coded field is one of the values in the mask.
    Coded(Scope, usize, u64),
    /// A numeric comparison.
    Cmp(CmpOp, NumIr, NumIr),
    /// Two yes/no values are equal.
    Same(Box<BoolIr>, Box<BoolIr>),
    /// `not`.
    Not(Box<BoolIr>),
    /// `and` (flattened).
    And(Vec<BoolIr>),
    /// `or` (flattened).
    Or(Vec<BoolIr>),
    /// `any member (…)`.
    Any(Box<BoolIr>),
    /// `all members (…)`.
    All(Box<BoolIr>),
    /// `count members (…) op k`.
    Count(Box<BoolIr>, CmpOp, NumIr),
    /// `eligible("…")`, by scheme index.
    Eligible(usize),
    /// `enrolled("…")`: the household is enrolled in the scheme (always known).
    Enrolled(usize),
}

impl NumIr {
    fn cost(&self) -> usize {
        match self {
            NumIr::Const(_) | NumIr::Param(_) | NumIr::Field(..) => 1,
            NumIr::Arith(_, a, b) => 1 + a.cost() + b.cost(),
            NumIr::Neg(x) => 1 + x.cost(),
        }
    }
}

/// A number expression, typed and resolved.
#[derive(Debug, Clone)]
pub enum NumIr {
    /// A literal.
    Const(i64),
    /// A numeric field.
    Field(Scope, usize),
    /// A parameter, by its index in the rule set.
    Param(usize),
    /// Arithmetic.
    Arith(ArOp, Box<NumIr>, Box<NumIr>),
    /// Negation.
    Neg(Box<NumIr>),
}

/// A type error.
#[derive(Debug, Clone)]
pub struct TypeError {
    /// Where in the expression.
    pub span: Span,
    /// What is wrong.
    pub message: String,
    /// A suggestion.
    pub hint: Option<String>,
}

/// What the checker needs to know about the surroundings of one expression.
pub struct Names<'a> {
    /// The scheme's parameters: name → index in the rule set.
    pub params: &'a HashMap<String, usize>,
    /// Every scheme id → index.
    pub schemes: &'a HashMap<String, usize>,
    /// The scheme being checked.
    pub this_scheme: usize,
}

enum Typed {
    Bool(BoolIr),
    Num(NumIr),
    Coded(Scope, usize, &'static dict::Field),
    Word(String),
    Text(String),
    Count(BoolIr),
}

fn err<T>(span: Span, message: impl Into<String>) -> Result<T, TypeError> {
    Err(TypeError { span, message: message.into(), hint: None })
}

/// Edit distance, for hints.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != b[j])).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// "did you mean `x`?" for the closest candidate, if one is close.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Checks a criterion: it must be a yes/no test.
pub fn check_criterion(expr: &Expr, names: &Names) -> Result<BoolIr, TypeError> {
    let typed = Checker { names }.expr(expr, Scope::Household)?;
    Checker { names }.as_bool(typed, expr.span, Scope::Household)
}

struct Checker<'a> {
    names: &'a Names<'a>,
}

impl Checker<'_> {
    fn unknown_name(&self, name: &str, span: Span, scope: Scope) -> TypeError {
        let mut candidates: Vec<&str> = self.names.params.keys().map(String::as_str).collect();
        for field in dict::FIELDS.iter().filter(|f| scope == Scope::Member || f.scope == Scope::Household) {
            candidates.push(field.name);
        }
        if scope == Scope::Household && dict::lookup(Scope::Member, name).is_some() {
            return TypeError {
                span,
                message: format!(
                    "`{name}` is a member field: use it inside `any member (…)`, `all members (…)` or `count members (…)`"
                ),
                hint: Some(format!("for example `any member ({name} …)`")),
            };
        }
        let hint = suggest(name, candidates).or_else(|| {
            Some(format!(
                "a parameter must be declared under `parameters:`; a coded value such as `{name}` is compared \
                 with a field, e.g. `sex = female`"
            ))
        });
        TypeError { span, message: format!("unknown field or parameter `{name}`"), hint }
    }

    fn name(&self, name: &str, household: bool, span: Span, scope: Scope) -> Result<Typed, TypeError> {
        let field = if household {
            let Some(f) = dict::lookup(Scope::Household, name) else {
                let hint = suggest(name, dict::names(Scope::Household));
                return Err(TypeError { span, message: format!("unknown household field `{name}`"), hint });
            };
            Some(f)
        } else if scope == Scope::Member {
            dict::lookup(Scope::Member, name).or_else(|| dict::lookup(Scope::Household, name))
        } else {
            dict::lookup(Scope::Household, name)
        };
        if let Some(f) = field {
            return match f.ty {
                Ty::Bool => Ok(Typed::Bool(BoolIr::Field(f.scope, f.slot))),
                Ty::Num => Ok(Typed::Num(NumIr::Field(f.scope, f.slot))),
                Ty::Coded(_) => Ok(Typed::Coded(f.scope, f.slot, f)),
                Ty::Date if name == "deceased_date_of_death" => {
                    err(span, format!("`{name}` is a date; rules use `months_since_death` instead"))
                }
                Ty::Date => err(span, format!("`{name}` is a date; rules use `age` or `age_months` instead")),
            };
        }
        if let Some(&index) = self.names.params.get(name) {
            return Ok(Typed::Num(NumIr::Param(index)));
        }
        Ok(Typed::Word(name.to_string()))
    }

    fn expr(&self, e: &Expr, scope: Scope) -> Result<Typed, TypeError> {
        Ok(match &e.kind {
            Kind::Number(text) => match num::parse(text) {
                Some(v) => Typed::Num(NumIr::Const(v)),
                None => return err(e.span, format!("`{text}` is not a number (at most six decimals)")),
            },
            Kind::Text(t) => Typed::Text(t.clone()),
            Kind::Bool(b) => Typed::Bool(BoolIr::Const(if *b { Tri::True } else { Tri::False })),
            Kind::Name { name, household } => self.name(name, *household, e.span, scope)?,
            Kind::Not(inner) => {
                let t = self.expr(inner, scope)?;
                Typed::Bool(BoolIr::Not(Box::new(self.as_bool(t, inner.span, scope)?)))
            }
            Kind::And(..) | Kind::Or(..) => {
                let is_and = matches!(e.kind, Kind::And(..));
                let mut parts = Vec::new();
                // Walk the left spine without recursion: `a and b and c` is one n-ary node.
                let mut pending = vec![e];
                while let Some(node) = pending.pop() {
                    match (&node.kind, is_and) {
                        (Kind::And(l, r), true) | (Kind::Or(l, r), false) => {
                            pending.push(r);
                            pending.push(l);
                        }
                        _ => {
                            let t = self.expr(node, scope)?;
                            parts.push(self.as_bool(t, node.span, scope)?);
                        }
                    }
                }
                Typed::Bool(if is_and { BoolIr::And(parts) } else { BoolIr::Or(parts) })
            }
            Kind::Cmp(op, l, r) => {
                let lt = self.expr(l, scope)?;
                let rt = self.expr(r, scope)?;
                Typed::Bool(self.compare(*op, (lt, l.span), (rt, r.span), e.span, scope)?)
            }
            Kind::In { value, list, negated } => {
                let vt = self.expr(value, scope)?;
                let test = match vt {
                    Typed::Coded(s, slot, field) => {
                        let mut mask = 0u64;
                        for item in list {
                            mask |= self.code_bit(field, item)?;
                        }
                        BoolIr::Coded(s, slot, mask)
                    }
                    Typed::Num(n) => {
                        let mut parts = Vec::new();
                        for item in list {
                            let t = self.expr(item, scope)?;
                            parts.push(BoolIr::Cmp(CmpOp::Eq, n.clone(), self.as_num(t, item.span, scope)?));
                        }
                        BoolIr::Or(parts)
                    }
                    Typed::Word(w) => return Err(self.unknown_name(&w, value.span, scope)),
                    _ => {
                        return err(
                            value.span,
                            "`in` needs a coded field or a number on its left, e.g. `sex in [female, transgender]`",
                        );
                    }
                };
                Typed::Bool(if *negated { BoolIr::Not(Box::new(test)) } else { test })
            }
            Kind::Between(x, lo, hi) => {
                let xt = self.expr(x, scope)?;
                let xn = self.as_num(xt, x.span, scope)?;
                let lt = self.expr(lo, scope)?;
                let ht = self.expr(hi, scope)?;
                let lo_n = self.as_num(lt, lo.span, scope)?;
                let hi_n = self.as_num(ht, hi.span, scope)?;
                Typed::Bool(BoolIr::And(vec![
                    BoolIr::Cmp(CmpOp::Ge, xn.clone(), lo_n),
                    BoolIr::Cmp(CmpOp::Le, xn, hi_n),
                ]))
            }
            Kind::Arith(op, l, r) => {
                let lt = self.expr(l, scope)?;
                let rt = self.expr(r, scope)?;
                let ln = self.as_num(lt, l.span, scope)?;
                let rn = self.as_num(rt, r.span, scope)?;
                Typed::Num(NumIr::Arith(*op, Box::new(ln), Box::new(rn)))
            }
            Kind::Neg(inner) => {
                let t = self.expr(inner, scope)?;
                Typed::Num(NumIr::Neg(Box::new(self.as_num(t, inner.span, scope)?)))
            }
            Kind::Any(p) | Kind::All(p) | Kind::Count(p) => {
                if scope == Scope::Member {
                    return err(e.span, "`any`, `all` and `count` cannot be nested inside each other");
                }
                let t = self.expr(p, Scope::Member)?;
                let body = self.as_bool(t, p.span, Scope::Member)?;
                match e.kind {
                    Kind::Any(_) => Typed::Bool(BoolIr::Any(Box::new(body))),
                    Kind::All(_) => Typed::Bool(BoolIr::All(Box::new(body))),
                    _ => Typed::Count(body),
                }
            }
            Kind::Enrolled(id) => match self.names.schemes.get(id) {
                Some(&i) => Typed::Bool(BoolIr::Enrolled(i)),
                None => {
                    let hint = suggest(id, self.names.schemes.keys().map(String::as_str));
                    return Err(TypeError { span: e.span, message: format!("unknown scheme `{id}`"), hint });
                }
            },
            Kind::Eligible(id) => match self.names.schemes.get(id) {
                Some(&i) if i == self.names.this_scheme => {
                    return err(e.span, format!("scheme `{id}` cannot depend on its own eligibility"));
                }
                Some(&i) => Typed::Bool(BoolIr::Eligible(i)),
                None => {
                    let hint = suggest(id, self.names.schemes.keys().map(String::as_str));
                    return Err(TypeError { span: e.span, message: format!("unknown scheme `{id}`"), hint });
                }
            },
        })
    }

    fn code_bit(&self, field: &dict::Field, item: &Expr) -> Result<u64, TypeError> {
        let value = match &item.kind {
            Kind::Text(t) => t.clone(),
            Kind::Name { name, household: false } => name.clone(),
            _ => {
                return err(
                    item.span,
                    format!("`{}` takes values such as `{}`", field.name, field.codes().join("`, `")),
                );
            }
        };
        match field.codes().iter().position(|c| *c == value) {
            Some(i) if i < 64 => Ok(1u64 << i),
            Some(_) => err(item.span, format!("`{}` has too many values to test in one rule", field.name)),
            None => {
                let hint = suggest(&value, field.codes().iter().copied())
                    .or_else(|| Some(format!("allowed values: {}", field.codes().join(", "))));
                Err(TypeError { span: item.span, message: format!("unknown {} value `{value}`", field.name), hint })
            }
        }
    }

    fn compare(
        &self,
        op: CmpOp,
        (lt, ls): (Typed, Span),
        (rt, rs): (Typed, Span),
        span: Span,
        scope: Scope,
    ) -> Result<BoolIr, TypeError> {
        let coded_left = matches!(lt, Typed::Coded(..));
        match (lt, rt) {
            (Typed::Num(l), Typed::Num(r)) => Ok(BoolIr::Cmp(op, l, r)),
            (Typed::Count(p), Typed::Num(k)) => Ok(BoolIr::Count(Box::new(p), op, k)),
            (Typed::Num(k), Typed::Count(p)) => Ok(BoolIr::Count(Box::new(p), op.flipped(), k)),
            (Typed::Count(_), _) | (_, Typed::Count(_)) => {
                err(span, "`count members (…)` must be compared with a number")
            }
            (Typed::Coded(s, slot, field), other) | (other, Typed::Coded(s, slot, field)) => {
                let other_span = if coded_left { rs } else { ls };
                let value_expr = match other {
                    Typed::Word(w) => Expr { kind: Kind::Name { name: w, household: false }, span: other_span },
                    Typed::Text(t) => Expr { kind: Kind::Text(t), span: other_span },
                    Typed::Coded(..) => return err(span, "compare a coded field with a value, not with another field"),
                    Typed::Num(_) => {
                        return err(
                            span,
                            format!("`{}` is a coded value and cannot be compared with a number", field.name),
                        );
                    }
                    _ => {
                        return err(
                            span,
                            format!("`{}` is a coded value; compare it with one of its values", field.name),
                        );
                    }
                };
                let bit = self.code_bit(field, &value_expr)?;
                match op {
                    CmpOp::Eq => Ok(BoolIr::Coded(s, slot, bit)),
                    CmpOp::Ne => Ok(BoolIr::Not(Box::new(BoolIr::Coded(s, slot, bit)))),
                    _ => err(span, format!("`{}` is a coded value; only `=`, `!=` and `in` apply to it", field.name)),
                }
            }
            (Typed::Bool(l), Typed::Bool(r)) => match op {
                CmpOp::Eq => Ok(simplify_same(l, r)),
                CmpOp::Ne => Ok(BoolIr::Not(Box::new(simplify_same(l, r)))),
                _ => err(span, "yes/no values can only be compared with `=` or `!=`"),
            },
            (Typed::Word(w), _) => Err(self.unknown_name(&w, ls, scope)),
            (_, Typed::Word(w)) => Err(self.unknown_name(&w, rs, scope)),
            (Typed::Text(t), _) | (_, Typed::Text(t)) => {
                err(span, format!("\"{t}\" is text; text can only be compared with a coded field"))
            }
            (Typed::Num(_), Typed::Bool(_)) | (Typed::Bool(_), Typed::Num(_)) => {
                err(span, "a number cannot be compared with a yes/no value")
            }
        }
    }

    fn as_bool(&self, t: Typed, span: Span, scope: Scope) -> Result<BoolIr, TypeError> {
        match t {
            Typed::Bool(b) => Ok(b),
            Typed::Num(_) => err(span, "this is a number, but a yes/no test is needed here (missing a comparison?)"),
            Typed::Count(_) => err(span, "`count members (…)` must be compared with a number, e.g. `>= 2`"),
            Typed::Coded(_, _, f) => err(
                span,
                format!(
                    "`{}` is a coded value; compare it, e.g. `{} = {}`",
                    f.name,
                    f.name,
                    f.codes().first().unwrap_or(&"…")
                ),
            ),
            Typed::Text(t) => err(span, format!("\"{t}\" is text, but a yes/no test is needed here")),
            Typed::Word(w) => Err(self.unknown_name(&w, span, scope)),
        }
    }

    fn as_num(&self, t: Typed, span: Span, scope: Scope) -> Result<NumIr, TypeError> {
        match t {
            Typed::Num(n) => Ok(n),
            Typed::Word(w) => Err(self.unknown_name(&w, span, scope)),
            Typed::Bool(_) => err(span, "this is a yes/no value, but a number is needed here"),
            Typed::Coded(_, _, f) => err(span, format!("`{}` is a coded value, but a number is needed here", f.name)),
            Typed::Text(t) => err(span, format!("\"{t}\" is text, but a number is needed here")),
            Typed::Count(_) => err(span, "`count members (…)` can only be compared, not used in arithmetic"),
        }
    }
}

fn simplify_same(l: BoolIr, r: BoolIr) -> BoolIr {
    match (l, r) {
        (BoolIr::Const(Tri::True), x) | (x, BoolIr::Const(Tri::True)) => x,
        (BoolIr::Const(Tri::False), x) | (x, BoolIr::Const(Tri::False)) => BoolIr::Not(Box::new(x)),
        (l, r) => BoolIr::Same(Box::new(l), Box::new(r)),
    }
}

impl BoolIr {
    /// A rough cost of evaluating the expression (a member quantifier counts as a loop).
    pub fn cost(&self) -> usize {
        match self {
            BoolIr::Const(_) | BoolIr::Eligible(_) | BoolIr::Enrolled(_) => 1,
            BoolIr::Field(..) | BoolIr::Coded(..) => 2,
            BoolIr::Cmp(_, l, r) => 1 + l.cost() + r.cost(),
            BoolIr::Same(a, b) => a.cost() + b.cost(),
            BoolIr::Not(x) => x.cost(),
            BoolIr::And(xs) | BoolIr::Or(xs) => xs.iter().map(BoolIr::cost).sum(),
            BoolIr::Any(p) | BoolIr::All(p) => 8 + 7 * p.cost(),
            BoolIr::Count(p, _, k) => 8 + 7 * p.cost() + k.cost(),
        }
    }

    /// The schemes this expression's `eligible(…)` calls name.
    pub fn dependencies(&self, out: &mut Vec<usize>) {
        match self {
            BoolIr::Eligible(i) => out.push(*i),
            BoolIr::Not(x) | BoolIr::Any(x) | BoolIr::All(x) | BoolIr::Count(x, _, _) => x.dependencies(out),
            BoolIr::Same(a, b) => {
                a.dependencies(out);
                b.dependencies(out);
            }
            BoolIr::And(xs) | BoolIr::Or(xs) => xs.iter().for_each(|x| x.dependencies(out)),
            BoolIr::Const(_) | BoolIr::Field(..) | BoolIr::Coded(..) | BoolIr::Cmp(..) | BoolIr::Enrolled(_) => {}
        }
    }
}

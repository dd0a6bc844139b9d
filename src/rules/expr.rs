//! The rule expression language: tokens and a recursive-descent parser to an untyped tree.
//!
//! ```text
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | compare
//! compare := sum [ op sum | ["not"] "in" list | "between" sum "and" sum ]
//! sum     := product (("+" | "-") product)*
//! product := unary (("*" | "/") unary)*
//! unary   := "-" unary | atom
//! atom    := number | "text" | true | false | name | "household" "." name | "(" or ")"
//!          | "any" "member" "(" or ")" | "all" "members" "(" or ")" | "count" "members" "(" or ")"
//!          | "eligible" "(" "scheme-id" ")" | "enrolled" "(" "scheme-id" ")"
//! ```
//! Spans are byte offsets into the expression, so errors can point at the file position.

/// Longest expression accepted (bytes).
pub const MAX_LEN: usize = 4000;
/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 40;
/// Most operands in one flat `and` / `or` / `+` … chain.
pub const MAX_CHAIN: usize = 200;

/// A byte range in the expression.
pub type Span = (usize, usize);

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// Whether `a op b` holds.
    #[inline]
    pub fn holds(self, a: i64, b: i64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }

    /// The operator with its operands swapped (`a < b` ⇔ `b > a`).
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// The untyped tree.
#[derive(Debug, Clone)]
pub struct Expr {
    /// What it is.
    pub kind: Kind,
    /// Where it was written.
    pub span: Span,
}

/// Expression kinds.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A number literal (its text).
    Number(String),
    /// A quoted text.
    Text(String),
    /// `true` / `false`.
    Bool(bool),
    /// A name; `household` is set for `household.name`.
    Name {
        /// The name.
        name: String,
        /// Written as `household.name`.
        household: bool,
    },
    /// `not x`
    Not(Box<Expr>),
    /// `a and b`
    And(Box<Expr>, Box<Expr>),
    /// `a or b`
    Or(Box<Expr>, Box<Expr>),
    /// `a op b`
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    /// `x [not] in [..]`
    In {
        /// The value tested.
        value: Box<Expr>,
        /// The list.
        list: Vec<Expr>,
        /// `not in`.
        negated: bool,
    },
    /// `x between a and b`
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `a op b` (arithmetic)
    Arith(ArOp, Box<Expr>, Box<Expr>),
    /// `-x`
    Neg(Box<Expr>),
    /// `any member (p)`
    Any(Box<Expr>),
    /// `all members (p)`
    All(Box<Expr>),
    /// `count members (p)`
    Count(Box<Expr>),
    /// `eligible("id")`
    Eligible(String),
    /// `enrolled("id")`
    Enrolled(String),
}

/// A parse error.
#[derive(Debug, Clone)]
pub struct ParseError {
    /// Where.
    pub span: Span,
    /// What.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Number(String),
    Text(String),
    Cmp(CmpOp),
    Ar(ArOp),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    End,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => format!("`{w}`"),
        Tok::Number(n) => format!("the number {n}"),
        Tok::Text(t) => format!("\"{t}\""),
        Tok::Cmp(_) | Tok::Ar(_) => "an operator".into(),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::LBracket => "`[`".into(),
        Tok::RBracket => "`]`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Dot => "`.`".into(),
        Tok::End => "the end of the rule".into(),
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, Span)>, ParseError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        let err = |message: String| ParseError { span: (start, start + c.len_utf8()), message };
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let mut end = start;
            while let Some(&(i, c)) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    end = i + c.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push((Tok::Word(src[start..end].to_string()), (start, end)));
            continue;
        }
        if c.is_ascii_digit() {
            let mut end = start;
            while let Some(&(i, c)) = chars.peek() {
                if c.is_ascii_digit() || c == '.' || c == '_' {
                    end = i + c.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push((Tok::Number(src[start..end].replace('_', "")), (start, end)));
            continue;
        }
        if c == '"' || c == '\'' {
            chars.next();
            let mut end = None;
            for (i, d) in chars.by_ref() {
                if d == c {
                    end = Some(i);
                    break;
                }
            }
            let Some(end) = end else {
                return Err(err("this quoted text has no closing quote".into()));
            };
            out.push((Tok::Text(src[start + 1..end].to_string()), (start, end + 1)));
            continue;
        }
        chars.next();
        let next_is = |chars: &mut std::iter::Peekable<std::str::CharIndices>, want: char| {
            if chars.peek().is_some_and(|&(_, d)| d == want) {
                chars.next();
                true
            } else {
                false
            }
        };
        let tok = match c {
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            ',' => Tok::Comma,
            '.' => Tok::Dot,
            '+' => Tok::Ar(ArOp::Add),
            '-' => Tok::Ar(ArOp::Sub),
            '*' | '×' => Tok::Ar(ArOp::Mul),
            '/' => Tok::Ar(ArOp::Div),
            '≤' => Tok::Cmp(CmpOp::Le),
            '≥' => Tok::Cmp(CmpOp::Ge),
            '≠' => Tok::Cmp(CmpOp::Ne),
            '=' => {
                next_is(&mut chars, '=');
                Tok::Cmp(CmpOp::Eq)
            }
            '!' if next_is(&mut chars, '=') => Tok::Cmp(CmpOp::Ne),
            '<' if next_is(&mut chars, '=') => Tok::Cmp(CmpOp::Le),
            '<' if next_is(&mut chars, '>') => Tok::Cmp(CmpOp::Ne),
            '<' => Tok::Cmp(CmpOp::Lt),
            '>' if next_is(&mut chars, '=') => Tok::Cmp(CmpOp::Ge),
            '>' => Tok::Cmp(CmpOp::Gt),
            '&' | '|' => return Err(err(format!("`{c}` is not part of the language: write `and` / `or`"))),
            _ => return Err(err(format!("unexpected character `{c}`"))),
        };
        let end = chars.peek().map_or(src.len(), |&(i, _)| i);
        out.push((tok, (start, end)));
    }
    out.push((Tok::End, (src.len(), src.len())));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, Span)>,
    at: usize,
    depth: usize,
}

/// Parses an expression.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.len() > MAX_LEN {
        return Err(ParseError { span: (0, 0), message: format!("the rule is longer than {MAX_LEN} characters") });
    }
    if src.trim().is_empty() {
        return Err(ParseError { span: (0, 0), message: "the rule is empty".into() });
    }
    let mut p = Parser { toks: lex(src)?, at: 0, depth: 0 };
    let expr = p.or()?;
    match p.peek() {
        Tok::End => Ok(expr),
        tok => {
            let message = format!("unexpected {} after a complete rule (missing `and` / `or`?)", describe(tok));
            Err(ParseError { span: p.span(), message })
        }
    }
}

fn bx(e: Expr) -> Box<Expr> {
    Box::new(e)
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at.min(self.toks.len() - 1)].0
    }

    fn span(&self) -> Span {
        self.toks[self.at.min(self.toks.len() - 1)].1
    }

    fn bump(&mut self) -> (Tok, Span) {
        let t = self.toks[self.at.min(self.toks.len() - 1)].clone();
        self.at += 1;
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Word(x) if x == w)
    }

    fn fail<T>(&self, message: String) -> Result<T, ParseError> {
        Err(ParseError { span: self.span(), message })
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<Span, ParseError> {
        if *self.peek() == want {
            Ok(self.bump().1)
        } else {
            self.fail(format!("expected {what}, found {}", describe(self.peek())))
        }
    }

    /// One more operand in a flat chain (`a and b and …`): chains may be long, but not
    /// unbounded (each operand is a level of the tree the checker walks).
    fn chain(&mut self, start: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth - start > MAX_CHAIN {
            return self.fail(format!("more than {MAX_CHAIN} terms in one chain; split the rule into criteria"));
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.fail(format!("the rule nests more than {MAX_DEPTH} levels deep; split it into criteria"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut left = self.and()?;
        let saved = self.depth;
        while self.is_word("or") {
            self.bump();
            self.chain(saved)?;
            let right = self.and()?;
            let span = (left.span.0, right.span.1);
            left = Expr { kind: Kind::Or(bx(left), bx(right)), span };
        }
        self.depth = saved - 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.not()?;
        let saved = self.depth;
        while self.is_word("and") {
            self.bump();
            self.chain(saved)?;
            let right = self.not()?;
            let span = (left.span.0, right.span.1);
            left = Expr { kind: Kind::And(bx(left), bx(right)), span };
        }
        self.depth = saved;
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.is_word("not") {
            let (_, s) = self.bump();
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            let span = (s.0, inner.span.1);
            return Ok(Expr { kind: Kind::Not(bx(inner)), span });
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Expr, ParseError> {
        let left = self.sum()?;
        if let Tok::Cmp(op) = *self.peek() {
            self.bump();
            let right = self.sum()?;
            if let Tok::Cmp(_) = self.peek() {
                return self
                    .fail("comparisons cannot be chained: write `a <= b and b <= c`, or `b between a and c`".into());
            }
            let span = (left.span.0, right.span.1);
            return Ok(Expr { kind: Kind::Cmp(op, bx(left), bx(right)), span });
        }
        let negated =
            self.is_word("not") && matches!(&self.toks.get(self.at + 1), Some((Tok::Word(w), _)) if w == "in");
        if negated {
            self.bump();
        }
        if self.is_word("in") {
            self.bump();
            self.expect(Tok::LBracket, "`[` to start the list")?;
            let mut list = Vec::new();
            loop {
                if *self.peek() == Tok::RBracket && !list.is_empty() {
                    break;
                }
                list.push(self.sum()?);
                if *self.peek() == Tok::Comma {
                    self.bump();
                } else {
                    break;
                }
            }
            let end = self.expect(Tok::RBracket, "`,` or `]` in the list")?;
            let span = (left.span.0, end.1);
            return Ok(Expr { kind: Kind::In { value: bx(left), list, negated }, span });
        }
        if self.is_word("between") {
            self.bump();
            let low = self.sum()?;
            if !self.is_word("and") {
                return self.fail("expected `and` in `between … and …`".into());
            }
            self.bump();
            let high = self.sum()?;
            let span = (left.span.0, high.span.1);
            return Ok(Expr { kind: Kind::Between(bx(left), bx(low), bx(high)), span });
        }
        Ok(left)
    }

    fn sum(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.product()?;
        let saved = self.depth;
        while let Tok::Ar(op @ (ArOp::Add | ArOp::Sub)) = *self.peek() {
            self.bump();
            self.chain(saved)?;
            let right = self.product()?;
            let span = (left.span.0, right.span.1);
            left = Expr { kind: Kind::Arith(op, bx(left), bx(right)), span };
        }
        self.depth = saved;
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        let saved = self.depth;
        while let Tok::Ar(op @ (ArOp::Mul | ArOp::Div)) = *self.peek() {
            self.bump();
            self.chain(saved)?;
            let right = self.unary()?;
            let span = (left.span.0, right.span.1);
            left = Expr { kind: Kind::Arith(op, bx(left), bx(right)), span };
        }
        self.depth = saved;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if *self.peek() == Tok::Ar(ArOp::Sub) {
            let (_, s) = self.bump();
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            let span = (s.0, inner.span.1);
            return Ok(Expr { kind: Kind::Neg(bx(inner)), span });
        }
        self.atom()
    }

    fn group(&mut self, what: &str) -> Result<(Expr, usize), ParseError> {
        self.expect(Tok::LParen, what)?;
        let inner = self.or()?;
        let end = self.expect(Tok::RParen, "`)`")?;
        Ok((inner, end.1))
    }

    fn quantifier(&mut self, start: usize, noun: &str) -> Result<(Expr, Span), ParseError> {
        if !(self.is_word("member") || self.is_word("members")) {
            return self.fail(format!("expected `{noun}` after the quantifier, e.g. `any member (age >= 60)`"));
        }
        self.bump();
        let (inner, end) = self.group("`(` and the test for each member")?;
        Ok((inner, (start, end)))
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        let (tok, span) = self.bump();
        let kind = match tok {
            Tok::Number(n) => Kind::Number(n),
            Tok::Text(t) => Kind::Text(t),
            Tok::LParen => {
                let inner = self.or()?;
                let end = self.expect(Tok::RParen, "`)`")?;
                return Ok(Expr { kind: inner.kind, span: (span.0, end.1) });
            }
            Tok::Word(w) => match w.as_str() {
                "true" => Kind::Bool(true),
                "false" => Kind::Bool(false),
                "any" => {
                    let (inner, span) = self.quantifier(span.0, "member")?;
                    return Ok(Expr { kind: Kind::Any(bx(inner)), span });
                }
                "all" => {
                    let (inner, span) = self.quantifier(span.0, "members")?;
                    return Ok(Expr { kind: Kind::All(bx(inner)), span });
                }
                "count" => {
                    let (inner, span) = self.quantifier(span.0, "members")?;
                    return Ok(Expr { kind: Kind::Count(bx(inner)), span });
                }
                "eligible" | "enrolled" => {
                    let enrolled = w == "enrolled";
                    self.expect(Tok::LParen, "`(` after the function name")?;
                    let (tok, _) = self.bump();
                    let Tok::Text(id) = tok else {
                        self.at -= 1;
                        return self.fail("expected a quoted scheme id, e.g. eligible(\"bisp-kafaalat\")".into());
                    };
                    let end = self.expect(Tok::RParen, "`)`")?;
                    let kind = if enrolled { Kind::Enrolled(id) } else { Kind::Eligible(id) };
                    return Ok(Expr { kind, span: (span.0, end.1) });
                }
                "household" if *self.peek() == Tok::Dot => {
                    self.bump();
                    let (tok, name_span) = self.bump();
                    let Tok::Word(name) = tok else {
                        self.at -= 1;
                        return self.fail("expected a field name after `household.`".into());
                    };
                    return Ok(Expr { kind: Kind::Name { name, household: true }, span: (span.0, name_span.1) });
                }
                "and" | "or" | "not" | "in" | "between" | "member" | "members" => {
                    self.at -= 1;
                    return self.fail(format!("expected a value, found the keyword `{w}`"));
                }
                _ => Kind::Name { name: w, household: false },
            },
            other => {
                self.at -= 1;
                return self.fail(format!("expected a value, found {}", describe(&other)));
            }
        };
        Ok(Expr { kind, span })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Expr {
        parse(src).unwrap_or_else(|e| panic!("{src}: {e:?}"))
    }

    #[test]
    fn parses_the_reference_shapes() {
        ok("pmt_score <= pmt_cutoff or (pmt_score <= pmt_cutoff_disability and any member (disability != none))");
        ok("any member (age >= 18 and sex in [female, transgender])");
        ok("not any member (govt_employee)");
        ok("count members (age < 18 and disability != none) >= 2");
        ok("any member (school_level = primary and age between 4 and 12 and attendance_pct >= 70)");
        ok("eligible(\"bisp-kafaalat\") and not eligible('zakat-guzara')");
        ok("household.monthly_income_pkr <= kp_minimum_wage * wage_ceiling_ratio");
        ok("x not in [a, \"b\"] and -y + 2 ≥ 3 × 4");
        let e = ok("a or b and c");
        assert!(matches!(e.kind, Kind::Or(..)));
    }

    #[test]
    fn errors_point_at_the_problem() {
        for (src, at, needle) in [
            ("age >= ", 7, "expected a value"),
            ("a && b", 2, "write `and`"),
            ("a b", 2, "missing `and`"),
            ("any (age > 3)", 4, "expected `member`"),
            ("1 < a < 3", 6, "chained"),
            ("x in [1, 2", 10, "`]`"),
            ("eligible(kafaalat)", 9, "quoted scheme id"),
            ("'open", 0, "closing quote"),
        ] {
            let err = parse(src).err().unwrap_or_else(|| panic!("{src} parsed"));
            assert_eq!(err.span.0, at, "{src}: {err:?}");
            assert!(err.message.contains(needle), "{src}: {}", err.message);
        }
        let deep = "(".repeat(100) + "a" + &")".repeat(100);
        assert!(parse(&deep).err().is_some_and(|e| e.message.contains("nests")));
        let deep_not = "not ".repeat(100) + "a";
        assert!(parse(&deep_not).is_err());
        assert!(parse(&"a and ".repeat(1000)).is_err());
    }
}

//! Exact decimal numbers for rules: `i64` millionths, with one value set aside for "unknown".
//!
//! Money is whole rupees and scores have two decimals, so six decimal places hold every value
//! a rule sees exactly: `36000 * 1.6` is exactly `57600`, which binary floating point does not
//! promise. Every value a rule reads (a field, a parameter, an intermediate result) is one
//! `i64`; [`UNKNOWN`] is the registry's "not known", and anything computed from it stays unknown.
//! A result that does not fit (beyond ±9.2 × 10¹² rupees) or a division by zero is unknown too.

/// The slot value of an unknown field, and of any arithmetic on one.
pub const UNKNOWN: i64 = i64::MIN;

/// Units in one: numbers are stored as millionths.
pub const SCALE: i64 = 1_000_000;

/// A whole number.
pub fn int(v: i64) -> i64 {
    v.checked_mul(SCALE).filter(|&v| v != UNKNOWN).unwrap_or(UNKNOWN)
}

/// A floating-point registry value (PMT score, acres), rounded to six decimals.
pub fn from_f64(v: f64) -> i64 {
    let scaled = (v * SCALE as f64).round();
    if scaled.is_finite() && scaled.abs() < 9.0e18 { scaled as i64 } else { UNKNOWN }
}

/// Parses a decimal literal such as `32`, `1.6` or `-0.25` (at most six decimals).
pub fn parse(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || frac.len() > 6 || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.ends_with('.') {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let mut frac_value: i64 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
    for _ in frac.len()..6 {
        frac_value *= 10;
    }
    let value = whole.checked_mul(SCALE)?.checked_add(frac_value)?;
    Some(if negative { -value } else { value })
}

/// Renders a value for people: `57600`, `1.6`, `unknown`.
pub fn display(v: i64) -> String {
    if v == UNKNOWN {
        return "unknown".into();
    }
    let sign = if v < 0 { "-" } else { "" };
    let abs = v.unsigned_abs();
    let whole = abs / SCALE as u64;
    let frac = abs % SCALE as u64;
    if frac == 0 {
        format!("{sign}{whole}")
    } else {
        let frac = format!("{frac:06}");
        format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
    }
}

fn narrow(v: i128) -> i64 {
    match i64::try_from(v) {
        Ok(v) if v != UNKNOWN => v,
        _ => UNKNOWN,
    }
}

/// `a + b`.
#[inline]
pub fn add(a: i64, b: i64) -> i64 {
    if a == UNKNOWN || b == UNKNOWN { UNKNOWN } else { narrow(a as i128 + b as i128) }
}

/// `a - b`.
#[inline]
pub fn sub(a: i64, b: i64) -> i64 {
    if a == UNKNOWN || b == UNKNOWN { UNKNOWN } else { narrow(a as i128 - b as i128) }
}

/// `a * b` (truncated to six decimals).
#[inline]
pub fn mul(a: i64, b: i64) -> i64 {
    if a == UNKNOWN || b == UNKNOWN { UNKNOWN } else { narrow(a as i128 * b as i128 / SCALE as i128) }
}

/// `a / b` (truncated to six decimals); unknown when `b` is zero.
#[inline]
pub fn div(a: i64, b: i64) -> i64 {
    if a == UNKNOWN || b == UNKNOWN || b == 0 {
        UNKNOWN
    } else if b % SCALE == 0 {
        // A whole divisor (a household's size): the scale cancels, no 128-bit division.
        a / (b / SCALE)
    } else {
        narrow(a as i128 * SCALE as i128 / b as i128)
    }
}

/// `-a`.
#[inline]
pub fn neg(a: i64) -> i64 {
    if a == UNKNOWN { UNKNOWN } else { -a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse("1.6"), Some(1_600_000));
        assert_eq!(parse("-0.25"), Some(-250_000));
        assert_eq!(parse("32"), Some(32 * SCALE));
        assert_eq!(parse("1.1234567"), None);
        assert_eq!(parse("1."), None);
        assert_eq!(parse(".5"), None);
        assert_eq!(parse("1e3"), None);
        assert_eq!(parse("99999999999999999999"), None);
        assert_eq!(mul(int(36000), parse("1.6").unwrap_or(0)), int(57600));
        assert_eq!(div(int(28000), int(7)), int(4000));
        assert!(div(int(28001), int(7)) > int(4000));
        assert_eq!(div(int(1), 0), UNKNOWN);
        assert_eq!(add(UNKNOWN, int(1)), UNKNOWN);
        assert_eq!(mul(int(9_000_000_000_000), int(10)), UNKNOWN);
        assert_eq!(display(parse("1.60").unwrap_or(0)), "1.6");
        assert_eq!(display(int(-3)), "-3");
        assert_eq!(from_f64(32.15), 32_150_000);
    }
}

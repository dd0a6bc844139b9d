//! Reading a JSON object field by field, collecting one error per bad field (with its full
//! path, e.g. `members[2].date_of_birth`) instead of stopping at the first, and never
//! echoing a value back. Unknown fields are errors too.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::error::FieldError;

/// Implemented by coded values (see `coded_value!`).
pub trait Coded: Sized + Copy {
    /// Parses the stored text.
    fn parse_code(text: &str) -> Option<Self>;
    /// The allowed values, for messages.
    fn allowed_codes() -> String;
}

/// A field of a JSON object: absent, explicitly `null`, or a parsed value. Invalid values
/// are reported to the error list and read as absent.
pub type Patch<T> = Option<Option<T>>;

/// Reads one JSON object.
pub struct Reader<'v, 'e> {
    object: &'v Map<String, Value>,
    path: String,
    seen: Vec<&'static str>,
    errors: &'e mut Vec<FieldError>,
}

impl<'v, 'e> Reader<'v, 'e> {
    /// A reader of `value`, which must be an object; `path` prefixes field names.
    pub fn new(value: &'v Value, path: &str, errors: &'e mut Vec<FieldError>) -> Option<Self> {
        match value.as_object() {
            Some(object) => Some(Self { object, path: path.to_string(), seen: Vec::new(), errors }),
            None => {
                let field = if path.is_empty() { "body" } else { path };
                errors.push(FieldError::new(field, "invalid_type", "expected a JSON object"));
                None
            }
        }
    }

    /// The full path of `name`.
    pub fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() { name.to_string() } else { format!("{}.{name}", self.path) }
    }

    /// Records an error on `name`.
    pub fn error(&mut self, name: &str, code: &str, message: &str) {
        let field = self.path_of(name);
        self.errors.push(FieldError::new(field, code, message));
    }

    /// The raw value of `name`: absent → `None`, `null` → `Some(None)`.
    pub fn raw(&mut self, name: &'static str) -> Patch<&'v Value> {
        self.seen.push(name);
        match self.object.get(name) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => Some(Some(v)),
        }
    }

    fn typed<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&Value) -> Result<T, (&'static str, String)>,
    ) -> Patch<T> {
        match self.raw(name)? {
            None => Some(None),
            Some(v) => match parse(v) {
                Ok(t) => Some(Some(t)),
                Err((code, message)) => {
                    self.error(name, code, &message);
                    None
                }
            },
        }
    }

    /// A string, trimmed; empty strings are rejected, longer than `max` characters too.
    pub fn text(&mut self, name: &'static str, max: usize) -> Patch<String> {
        self.typed(name, |v| {
            let s = v.as_str().ok_or(("invalid_type", "must be text".to_string()))?.trim();
            if s.is_empty() {
                return Err(("empty", "must not be empty; leave it out (or null) when unknown".into()));
            }
            if s.chars().count() > max {
                return Err(("too_long", format!("must be at most {max} characters")));
            }
            // PostgreSQL text cannot hold U+0000: refused here, the same on either database.
            if s.contains('\0') {
                return Err(("invalid_character", "must not contain the NUL character (U+0000)".into()));
            }
            Ok(s.to_string())
        })
    }

    /// A string that `parse` turns into a value, with `parse`'s message on failure.
    pub fn parsed<T>(&mut self, name: &'static str, parse: impl FnOnce(&str) -> Result<T, &'static str>) -> Patch<T> {
        self.typed(name, |v| {
            let s = v.as_str().ok_or(("invalid_type", "must be text".to_string()))?;
            parse(s).map_err(|m| ("invalid_format", m.to_string()))
        })
    }

    /// One of a coded value's allowed strings.
    pub fn code<T: Coded>(&mut self, name: &'static str) -> Patch<T> {
        self.typed(name, |v| {
            v.as_str()
                .and_then(T::parse_code)
                .ok_or(("invalid_choice", format!("must be one of: {}", T::allowed_codes())))
        })
    }

    /// A whole number in `min..=max`. `2.0` is the number `2` (JSON has one number type, and
    /// JSON Schema's `integer` admits it), so it is read as 2; `2.5` is not a whole number.
    pub fn int(&mut self, name: &'static str, min: i64, max: i64) -> Patch<i64> {
        let whole = |v: &Value| {
            v.as_i64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
        };
        self.typed(name, |v| match whole(v) {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            Some(_) => Err(("out_of_range", format!("must be from {min} to {max}"))),
            None => Err(("invalid_type", "must be a whole number".into())),
        })
    }

    /// A number in `min..=max` with at most `decimals` decimal places.
    pub fn number(&mut self, name: &'static str, min: f64, max: f64, decimals: i32) -> Patch<f64> {
        self.typed(name, |v| {
            let n = v.as_f64().ok_or(("invalid_type", "must be a number".to_string()))?;
            if !(min..=max).contains(&n) {
                return Err(("out_of_range", format!("must be from {min} to {max}")));
            }
            let scale = 10f64.powi(decimals);
            if ((n * scale).round() - n * scale).abs() > 1e-6 {
                return Err(("too_precise", format!("must have at most {decimals} decimal places")));
            }
            Ok(n)
        })
    }

    /// `true` or `false`.
    pub fn boolean(&mut self, name: &'static str) -> Patch<bool> {
        self.typed(name, |v| v.as_bool().ok_or(("invalid_type", "must be true or false".into())))
    }

    /// A date `YYYY-MM-DD`.
    pub fn date(&mut self, name: &'static str) -> Patch<NaiveDate> {
        self.typed(name, |v| {
            v.as_str()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .ok_or(("invalid_date", "must be a date written YYYY-MM-DD".into()))
        })
    }

    /// Whether `name` already has an error.
    pub fn has_error(&self, name: &str) -> bool {
        let path = self.path_of(name);
        self.errors.iter().any(|e| e.field == path)
    }

    /// Reports a missing required field; returns the value when present.
    pub fn required<T>(&mut self, name: &str, value: Patch<T>) -> Option<T> {
        match value {
            Some(Some(v)) => Some(v),
            Some(None) | None => {
                if !self.errors.iter().any(|e| e.field == self.path_of(name)) {
                    self.error(name, "required", "is required");
                }
                None
            }
        }
    }

    /// Reports every field that was never asked for.
    pub fn finish(self) {
        let mut unknown: Vec<&String> = self.object.keys().filter(|k| !self.seen.contains(&k.as_str())).collect();
        unknown.sort();
        for key in unknown {
            let field = if self.path.is_empty() { key.clone() } else { format!("{}.{key}", self.path) };
            self.errors.push(FieldError::new(field, "unknown_field", "is not a field of this record"));
        }
    }
}

/// `Some(None)` and `None` both mean "unknown" when creating a record.
pub fn flat<T>(value: Patch<T>) -> Option<T> {
    value.flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_error_with_its_path_and_no_values() {
        let body = json!({"name": "  ", "age": "35202-1234567-1", "when": "yesterday", "extra": 1});
        let mut errors = Vec::new();
        let mut r = Reader::new(&body, "members[3]", &mut errors).expect("object");
        assert_eq!(r.text("name", 10), None);
        assert_eq!(r.int("age", 0, 120), None);
        assert_eq!(r.date("when"), None);
        let missing = r.boolean("flag");
        assert_eq!(r.required("flag", missing), None);
        r.finish();
        let fields: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(
            fields,
            vec![
                ("members[3].name", "empty"),
                ("members[3].age", "invalid_type"),
                ("members[3].when", "invalid_date"),
                ("members[3].flag", "required"),
                ("members[3].extra", "unknown_field"),
            ]
        );
        assert!(!format!("{errors:?}").contains("35202"));
    }

    #[test]
    fn null_and_absent_differ() {
        let body = json!({"a": null, "b": 2.25});
        let mut errors = Vec::new();
        let mut r = Reader::new(&body, "", &mut errors).expect("object");
        assert_eq!(r.number("a", 0.0, 100.0, 2), Some(None));
        assert_eq!(r.number("b", 0.0, 100.0, 2), Some(Some(2.25)));
        assert_eq!(r.number("c", 0.0, 100.0, 2), None);
        r.finish();
        assert!(errors.is_empty());
    }

    #[test]
    fn a_whole_number_may_be_written_with_a_fraction_of_zero() {
        let body = json!({"a": 2.0, "b": 2.5});
        let mut errors = Vec::new();
        let mut r = Reader::new(&body, "", &mut errors).expect("object");
        assert_eq!(r.int("a", 0, 10), Some(Some(2)));
        assert_eq!(r.int("b", 0, 10), None);
        r.finish();
        assert_eq!(errors.len(), 1);
    }
}

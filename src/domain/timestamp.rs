//! Timestamps in answers: RFC 3339 in UTC with the offset written out
//! (`2026-12-01T21:34:47.123456Z`). They are stored as UTC without a zone (a naive
//! timestamp both databases keep exactly, see `audit::now_micros`); written without the
//! offset, a browser would read them as local time and show a Peshawar clerk a time five
//! hours off.

use chrono::NaiveDateTime;
use serde::{Serialize, Serializer};

/// `#[serde(serialize_with = "crate::domain::timestamp::utc")]` for a stored UTC timestamp.
/// The OpenAPI schema stays the field type's (`string`, `format: date-time`).
pub fn utc<S: Serializer>(ts: &NaiveDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    ts.and_utc().serialize(serializer)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate};

    #[derive(serde::Serialize)]
    struct Stamped {
        #[serde(serialize_with = "super::utc")]
        at: chrono::NaiveDateTime,
    }

    #[test]
    fn a_stored_timestamp_is_written_with_its_offset() {
        let at =
            NaiveDate::from_ymd_opt(2026, 12, 1).and_then(|d| d.and_hms_micro_opt(21, 34, 47, 120)).unwrap_or_default();
        let json = serde_json::to_value(Stamped { at }).unwrap_or_default();
        assert_eq!(json["at"], "2026-12-01T21:34:47.000120Z");
        let parsed = DateTime::parse_from_rfc3339(json["at"].as_str().unwrap_or_default());
        assert_eq!(parsed.map(|p| p.naive_utc()).ok(), Some(at));
    }
}

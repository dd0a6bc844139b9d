//! CNIC and B-Form numbers: 13 digits, the first (province) 1–7; dashes accepted.

use std::fmt;

/// A normalised 13-digit national identity number (CNIC or B-Form).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NationalId(String);

impl NationalId {
    /// Parses `XXXXX-XXXXXXX-X` or 13 plain digits.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        let dashed = trimmed.len() == 15
            && trimmed.as_bytes().get(5) == Some(&b'-')
            && trimmed.as_bytes().get(13) == Some(&b'-');
        let digits: String = trimmed.chars().filter(|c| *c != '-').collect();
        if (trimmed.contains('-') && !dashed) || digits.len() != 13 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("an ID number is 13 digits, written XXXXX-XXXXXXX-X or without dashes");
        }
        if !(b'1'..=b'7').contains(&digits.as_bytes()[0]) {
            return Err("an ID number starts with a province digit from 1 to 7");
        }
        Ok(Self(digits))
    }

    /// The 13 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last digit is odd for men and even for women, by convention.
    pub fn suggests_male(&self) -> bool {
        self.0.bytes().last().is_some_and(|b| (b - b'0') % 2 == 1)
    }
}

/// Masks all but the last four digits, so a stray debug print cannot leak the number.
impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NationalId(*********{})", &self.0[9..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dashed_and_plain_forms() {
        assert_eq!(NationalId::parse("17301-1234567-1").map(|n| n.0), Ok("1730112345671".into()));
        assert_eq!(NationalId::parse(" 1730112345671 ").map(|n| n.0), Ok("1730112345671".into()));
    }

    #[test]
    fn rejects_bad_numbers() {
        for bad in [
            "1730-11234567-1",
            "173011234567",
            "17301123456712",
            "8730112345671",
            "0730112345671",
            "17301-1234567-X",
            "17301--234567-1",
        ] {
            assert!(NationalId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parity_and_masking() {
        let id = NationalId::parse("1730112345671").expect("valid");
        assert!(id.suggests_male());
        assert!(!NationalId::parse("1730112345672").expect("valid").suggests_male());
        assert_eq!(format!("{id:?}"), "NationalId(*********5671)");
    }
}

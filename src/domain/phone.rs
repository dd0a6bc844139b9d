//! Pakistani mobile numbers, stored as `03XXXXXXXXX`.

/// A normalised mobile number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Accepts `03XXXXXXXXX`, `+923XXXXXXXXX`, `923XXXXXXXXX`, with spaces or dashes.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let national = if let Some(rest) = compact.strip_prefix("+92").or_else(|| compact.strip_prefix("92")) {
            format!("0{rest}")
        } else {
            compact
        };
        if national.len() == 11 && national.starts_with("03") && national.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(national))
        } else {
            Err("a mobile number looks like 0300-1234567 or +92 300 1234567")
        }
    }

    /// The normalised number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_the_common_forms() {
        for raw in ["03001234567", "0300-1234567", "+92 300 1234567", "923001234567", "+92-300-1234567"] {
            assert_eq!(Phone::parse(raw).map(|p| p.0), Ok("03001234567".into()), "{raw}");
        }
    }

    #[test]
    fn rejects_landlines_and_garbage() {
        for raw in ["0912345678", "0300123456", "+44 300 1234567", "03001234567x", ""] {
            assert!(Phone::parse(raw).is_err(), "{raw}");
        }
    }
}

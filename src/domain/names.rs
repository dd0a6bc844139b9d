//! Personal names: trimmed, Unicode preserved byte-for-byte (Urdu and Pashto script), and a
//! search key that ignores case and diacritics on either database.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// A trimmed, non-empty name of at most `max` characters, otherwise unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Parses a name of 1..=`max` characters after trimming.
    pub fn parse(raw: &str, max: usize) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("the name must not be empty");
        }
        if trimmed.chars().count() > max {
            return Err("the name is too long");
        }
        if trimmed.chars().any(char::is_control) {
            return Err("the name must not contain control characters");
        }
        Ok(Self(trimmed.to_string()))
    }

    /// Parses a name written in Urdu script: a [`PersonName`] whose letters are all of the
    /// Arabic script (Urdu, Pashto) — at least one, and no Latin letters.
    pub fn parse_urdu(raw: &str, max: usize) -> Result<Self, &'static str> {
        let name = Self::parse(raw, max)?;
        let mut letters = name.0.chars().filter(|c| c.is_alphabetic()).peekable();
        if letters.peek().is_none() || !letters.all(is_arabic_script) {
            return Err("write the name in Urdu script (Arabic-script letters, no Latin letters)");
        }
        Ok(name)
    }

    /// The name as entered (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the name.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Whether `c` is in one of Unicode's Arabic-script blocks (Arabic, its Supplement and
/// Extended-A/B, and the presentation forms).
fn is_arabic_script(c: char) -> bool {
    matches!(c, '\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{0870}'..='\u{08FF}'
        | '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

/// The key names are searched and compared by: compatibility-decomposed, combining marks
/// (Latin accents, Arabic-script harakat) removed, lower-cased, inner spaces collapsed.
pub fn search_key(text: &str) -> String {
    let folded: String =
        text.nfkd().filter(|c| !is_combining_mark(*c) && *c != '\u{0640}').collect::<String>().to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `[prefix, upper)`: the key range of every key starting with `prefix`.
pub fn prefix_range(prefix: &str) -> Option<(String, String)> {
    prefix_upper_bound(prefix).map(|upper| (prefix.to_string(), upper))
}

/// The exclusive upper bound of all keys that start with `prefix` (for index range scans).
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_script() {
        let name = PersonName::parse("  بی بی فاطمہ  ", 200).expect("valid");
        assert_eq!(name.as_str(), "بی بی فاطمہ");
        assert!(PersonName::parse("   ", 200).is_err());
        assert!(PersonName::parse(&"x".repeat(201), 200).is_err());
    }

    #[test]
    fn urdu_names_are_in_arabic_script() {
        let name = PersonName::parse_urdu("  گل خان  ", 200).expect("valid");
        assert_eq!(name.as_str(), "گل خان");
        assert!(PersonName::parse_urdu("مُحَمَّد عَلی", 200).is_ok());
        assert!(PersonName::parse_urdu("زرینہ\u{200C}بی بی", 200).is_ok());
        for bad in ["Gul Khan", "گل Khan", "Zoë", "  ", "۔۔", "123"] {
            assert!(PersonName::parse_urdu(bad, 200).is_err(), "{bad:?} accepted");
        }
        assert!(PersonName::parse_urdu(&"گ".repeat(201), 200).is_err());
    }

    #[test]
    fn search_keys_ignore_case_and_diacritics() {
        assert_eq!(search_key("  Zoë   KHAN "), "zoe khan");
        assert_eq!(search_key("Muḥammad"), "muhammad");
        // Arabic-script harakat and tatweel do not matter.
        assert_eq!(search_key("مُحَمَّد"), search_key("محمد"));
        assert_eq!(search_key("مـحـمد"), search_key("محمد"));
    }

    #[test]
    fn prefix_bounds() {
        assert_eq!(prefix_upper_bound("ab").as_deref(), Some("ac"));
        assert!(prefix_upper_bound("ab").is_some_and(|u| "abzzz" < u.as_str()));
    }
}

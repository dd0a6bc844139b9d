//! Value types that validate when parsed, so invalid data cannot exist past the edge:
//! ID numbers, phone numbers, names, and the coded values of the data dictionary
//! (`docs/DATA.md`). Parsing returns a short message for the clerk; the caller
//! attaches the field name.

pub mod codes;
pub mod names;
pub mod national_id;
pub mod phone;
pub mod reader;
pub mod timestamp;

pub use names::{PersonName, search_key};
pub use national_id::NationalId;
pub use phone::Phone;

/// Declares a coded value: an enum whose variants are stored and sent as fixed strings.
#[macro_export]
macro_rules! coded_value {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every allowed value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Every allowed value's text, in the order of `ALL`.
            pub const TEXTS: &'static [&'static str] = &[$($text),+];

            /// The position of this value in `ALL` (and `TEXTS`).
            pub fn index(self) -> usize {
                self as usize
            }

            /// The stored and serialised text.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the stored text.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// The allowed values, for error messages.
            pub fn allowed() -> String {
                [$($text),+].join(", ")
            }
        }

        impl $crate::domain::reader::Coded for $name {
            fn parse_code(text: &str) -> Option<Self> {
                Self::parse(text)
            }
            fn allowed_codes() -> String {
                Self::allowed()
            }
        }
    };
}

/// A CSV cell a spreadsheet will not run as a formula: text that starts with `=`, `+`, `-`,
/// `@`, a tab or a carriage return gets a leading apostrophe (the referral log, the reports).
pub fn spreadsheet_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_string() }
}

#[cfg(test)]
mod spreadsheet_tests {
    #[test]
    fn typed_text_never_becomes_a_formula() {
        assert_eq!(super::spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(super::spreadsheet_safe("-2+3"), "'-2+3");
        assert_eq!(super::spreadsheet_safe("family declined"), "family declined");
    }
}

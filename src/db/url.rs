//! Parsing `DATABASE_URL`: exactly two accepted forms, everything else is an error that
//! names the setting. A typo must never become an SQLite file named after the typo.

use std::fmt;
use std::path::PathBuf;

/// A validated database location.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH` — a file path (relative or absolute).
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, passed to libpq unchanged.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses a `DATABASE_URL` value.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() || path == ":memory:" || path.starts_with("file:") {
                return Err("DATABASE_URL must name an SQLite file, e.g. sqlite://./data/sahulat.db".into());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let rest = raw.split_once("://").map(|(_, r)| r).unwrap_or_default();
            if rest.is_empty() {
                return Err("DATABASE_URL is a PostgreSQL URL with nothing after the scheme".into());
            }
            return Ok(Self::Postgres(raw.to_string()));
        }
        Err(format!(
            "DATABASE_URL must start with sqlite:// or postgres:// (got a value starting with {:?})",
            raw.chars().take(12).collect::<String>()
        ))
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// Never prints a PostgreSQL password.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => write!(f, "{}", redact_password(url)),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_two_forms() {
        assert_eq!(DatabaseUrl::parse("sqlite://./data/x.db"), Ok(DatabaseUrl::Sqlite(PathBuf::from("./data/x.db"))));
        assert_eq!(DatabaseUrl::parse("postgres://u@h/db").map(|u| u.backend()), Ok("postgres"));
        assert_eq!(DatabaseUrl::parse("postgresql://u@h/db").map(|u| u.backend()), Ok("postgres"));
    }

    #[test]
    fn rejects_typos_instead_of_creating_a_file() {
        for bad in ["postgresql:typo", "postgress://h/db", "./data/x.db", "mysql://h/db", "", "sqlite://"] {
            let err = DatabaseUrl::parse(bad).expect_err(bad);
            assert!(err.contains("DATABASE_URL"), "{err}");
        }
    }

    #[test]
    fn never_displays_a_password() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/sahulat").expect("valid");
        assert_eq!(url.to_string(), "postgres://app:***@db:5432/sahulat");
        assert!(!format!("{url:?}").contains("s3cret"));
    }
}

//! URL- and model-name-safe identifiers chosen by users (`acme`, `openai-prod`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A lowercase identifier: 1 to 64 characters of `a-z`, `0-9` and `-`, starting with a letter or
/// digit and not ending with `-`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

/// Why a string is not a valid [`Slug`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    /// Empty or longer than 64 characters.
    #[error("a slug must be 1 to 64 characters long")]
    Length,
    /// A character outside `a-z`, `0-9` and `-`, or a leading/trailing `-`.
    #[error("a slug may only use a-z, 0-9 and '-', and cannot start or end with '-'")]
    Characters,
}

impl Slug {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 64;

    /// Validates `value` as a slug.
    pub fn parse(value: &str) -> Result<Self, SlugError> {
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return Err(SlugError::Length);
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if !value.chars().all(allowed) || value.starts_with('-') || value.ends_with('-') {
            return Err(SlugError::Characters);
        }
        Ok(Self(value.to_owned()))
    }

    /// The slug as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = SlugError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(slug: Slug) -> String {
        slug.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_typical_slugs() {
        for ok in ["acme", "openai-prod", "a", "team-42"] {
            assert_eq!(Slug::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_bad_slugs_with_a_reason() {
        assert_eq!(Slug::parse(""), Err(SlugError::Length));
        assert_eq!(Slug::parse(&"a".repeat(65)), Err(SlugError::Length));
        for bad in ["Acme", "-acme", "acme-", "ac me", "acmé", "a/b"] {
            assert_eq!(Slug::parse(bad), Err(SlugError::Characters), "{bad}");
        }
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<Slug>("\"ok-slug\"").is_ok());
        assert!(serde_json::from_str::<Slug>("\"Not Ok\"").is_err());
    }
}

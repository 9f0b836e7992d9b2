//! E-mail addresses as accounts and invites use them: trimmed, lower-cased, shape-checked.

use serde::{Serialize, Serializer};
use std::fmt;

/// Longest address SMTP allows (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// A plausible e-mail address, normalised to lower case. Deliverability is proven by the
/// verification mail, not here.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Empty or longer than [`MAX_EMAIL_LEN`].
    #[error("e-mail address must be 3 to 254 characters")]
    Length,
    /// Not `local@domain.tld`, or contains spaces or control characters.
    #[error("not an e-mail address: expected name@example.com")]
    Shape,
}

impl Email {
    /// Parses and normalises an address.
    pub fn parse(value: &str) -> Result<Self, EmailError> {
        let value = value.trim().to_lowercase();
        if value.len() < 3 || value.len() > MAX_EMAIL_LEN {
            return Err(EmailError::Length);
        }
        let (local, domain) = value.rsplit_once('@').ok_or(EmailError::Shape)?;
        let clean = |s: &str| {
            !s.is_empty()
                && !s.chars().any(|c| {
                    c.is_whitespace()
                        || c.is_control()
                        || matches!(c, '<' | '>' | '@' | ',' | ';' | '"')
                })
        };
        let domain_ok = clean(domain)
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if !clean(local) || !domain_ok || local.len() > 64 {
            return Err(EmailError::Shape);
        }
        Ok(Self(value))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{Email, EmailError};

    #[test]
    fn normalises_and_rejects() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").map(|e| e.0),
            Ok("ada@example.com".into())
        );
        assert_eq!(Email::parse("ada"), Err(EmailError::Shape));
        assert_eq!(Email::parse("ada@localhost"), Err(EmailError::Shape));
        assert_eq!(Email::parse("a b@example.com"), Err(EmailError::Shape));
        assert_eq!(Email::parse("a@b@example.com"), Err(EmailError::Shape));
        assert_eq!(Email::parse(""), Err(EmailError::Length));
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }
}

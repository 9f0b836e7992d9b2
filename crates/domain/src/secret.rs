//! A value that must never be printed: provider keys, virtual keys, passwords, master keys.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Wraps a secret. `Debug`, `Display` and `Serialize` print `*****`, so a secret inside a struct
/// that gets logged or serialized does not leak; reading it takes an explicit [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; call sites that read it are easy to audit.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*****")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*****")
    }
}

impl<T> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("*****")
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_or_serializes_the_value() {
        let s = Secret::new("sk-live-1234567890".to_string());
        assert_eq!(format!("{s:?} {s}"), "***** *****");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"*****\"");
        assert_eq!(s.expose(), "sk-live-1234567890");
    }
}

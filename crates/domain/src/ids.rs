//! Typed identifiers, so an organization id can never be passed where a key id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Identifier of an organization (the tenant boundary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrgId(Uuid);

impl OrgId {
    /// A fresh, time-ordered id (UUID v7), so ids sort by creation.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Wraps an id read back from storage.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The underlying UUID, for storage.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for OrgId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

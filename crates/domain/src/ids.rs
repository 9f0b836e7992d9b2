//! Typed identifiers, so an organization id can never be passed where a key id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Defines a UUID-backed identifier type.
macro_rules! typed_id {
    ($(#[$doc:meta] $name:ident),+ $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUID v7), so ids sort by creation.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an id read from storage or a URL.
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The underlying UUID, for storage.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

typed_id!(
    /// Identifier of an organization (the tenant boundary).
    OrgId,
    /// Identifier of a stored provider credential.
    CredentialId,
    /// Identifier of a virtual key.
    VirtualKeyId,
    /// Identifier of a user account.
    UserId,
    /// Identifier of a team inside an organization.
    TeamId,
    /// Identifier of an invitation.
    InviteId,
);

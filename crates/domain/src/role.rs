//! Organization roles, ordered by what they may do.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A member's role in an organization. Ordered: `Viewer < Member < Admin < Owner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the organization's configuration and analytics.
    Viewer,
    /// Also issues and manages virtual keys.
    Member,
    /// Also manages providers, teams, members below owner, invites and settings.
    Admin,
    /// Everything, including deleting the organization and granting ownership.
    Owner,
}

/// A string that names no role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected owner, admin, member or viewer")]
pub struct RoleError(pub String);

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Member, Role::Admin, Role::Owner];

    /// Parses `owner`, `admin`, `member` or `viewer`.
    pub fn parse(value: &str) -> Result<Self, RoleError> {
        match value {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            "viewer" => Ok(Role::Viewer),
            other => Err(RoleError(other.to_owned())),
        }
    }

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    /// Whether this role includes everything `needed` may do.
    pub fn at_least(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn roles_round_trip_and_order() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert!(Role::Owner.at_least(Role::Admin));
        assert!(Role::Member.at_least(Role::Viewer));
        assert!(!Role::Viewer.at_least(Role::Member));
        assert!(Role::parse("root").is_err());
    }
}

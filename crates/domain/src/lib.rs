//! Keyway's domain vocabulary: identifiers, validated newtypes and money. No I/O lives here.
//!
//! Types follow "parse, don't validate": each has a private field and a `parse` constructor, so a
//! value you hold is a valid one.

mod email;
pub mod guardrails;
mod ids;
mod money;
pub mod prompt;
mod role;
pub mod routing;
mod secret;
mod slug;

pub use email::{Email, EmailError, MAX_EMAIL_LEN};
pub use ids::{CredentialId, InviteId, OrgId, TeamId, UserId, VirtualKeyId};
pub use money::{Usd, UsdParseError};
pub use role::{Role, RoleError};
pub use secret::Secret;
pub use slug::{Slug, SlugError};

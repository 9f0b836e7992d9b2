//! Keyway's domain vocabulary: identifiers, validated newtypes and money. No I/O lives here.
//!
//! Types follow "parse, don't validate": each has a private field and a `parse` constructor, so a
//! value you hold is a valid one.

mod ids;
mod money;
pub mod routing;
mod secret;
mod slug;

pub use ids::{CredentialId, OrgId, VirtualKeyId};
pub use money::Usd;
pub use secret::Secret;
pub use slug::{Slug, SlugError};

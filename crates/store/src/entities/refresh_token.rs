//! The `refresh_tokens` table: hashed refresh tokens, each usable once.

use sea_orm::entity::prelude::*;

/// One refresh token of a session.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The session (family) it belongs to.
    pub session_id: Uuid,
    /// SHA-256 hex of the token.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Issue time.
    pub created_at: DateTimeUtc,
    /// When it was exchanged; presenting it again is reuse.
    pub used_at: Option<DateTimeUtc>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

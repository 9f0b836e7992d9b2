//! The `email_tokens` table: one-time tokens sent by e-mail (verification, password reset).

use sea_orm::entity::prelude::*;

/// One mailed token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_tokens")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Whose token.
    pub user_id: Uuid,
    /// `verify_email` or `reset_password`.
    pub purpose: String,
    /// SHA-256 hex of the token.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Issue time.
    pub created_at: DateTimeUtc,
    /// Expiry.
    pub expires_at: DateTimeUtc,
    /// When it was used.
    pub used_at: Option<DateTimeUtc>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

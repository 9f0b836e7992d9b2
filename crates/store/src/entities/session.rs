//! The `sessions` table: one login, i.e. one family of rotating refresh tokens.

use sea_orm::entity::prelude::*;

/// One login session.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// Primary key (the refresh-token family id, carried by access tokens as `sid`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Who logged in.
    pub user_id: Uuid,
    /// Client address at login.
    pub ip: Option<String>,
    /// Client user agent at login (truncated).
    pub user_agent: Option<String>,
    /// Login time.
    pub created_at: DateTimeUtc,
    /// When the session ends regardless of refreshes.
    pub expires_at: DateTimeUtc,
    /// When the session was ended.
    pub revoked_at: Option<DateTimeUtc>,
    /// Why it was ended (logout, refresh_reuse, password_change, password_reset).
    pub revoked_reason: Option<String>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

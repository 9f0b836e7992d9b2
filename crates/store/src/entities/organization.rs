//! The `organizations` table.

use sea_orm::entity::prelude::*;

/// One organization (tenant).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Unique, URL-safe handle.
    #[sea_orm(unique)]
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Days of request analytics kept; `None` keeps the deployment default.
    pub retention_days: Option<i32>,
    /// Whether request and response bodies are stored with analytics (redacted).
    pub log_bodies: bool,
}

/// Relations are added as the tables that reference organizations arrive.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

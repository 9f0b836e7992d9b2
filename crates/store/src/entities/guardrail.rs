//! The `guardrails` table: a guardrail of an organization (by slug) and its latest version.

use sea_orm::entity::prelude::*;

/// One guardrail.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "guardrails")]
pub struct Model {
    /// Primary key (UUID v7); what a key's `guardrails` name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Organization.
    pub org_id: Uuid,
    /// Slug, unique in the organization.
    pub slug: String,
    /// Number of the newest version (versions count from 1).
    pub latest_version: i32,
    /// User who created the guardrail.
    pub created_by: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Time of the newest version or new slug.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

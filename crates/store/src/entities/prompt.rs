//! The `prompts` table: a prompt template of an organization, by slug, and its latest version.

use sea_orm::entity::prelude::*;

/// One prompt.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "prompts")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Organization.
    pub org_id: Uuid,
    /// Slug, unique in the organization; what `/v1/prompts/{slug}/...` names.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Number of the newest version (versions count from 1).
    pub latest_version: i32,
    /// User who created the prompt.
    pub created_by: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Time of the newest version, label move or rename.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

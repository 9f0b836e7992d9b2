//! The `prompt_partials` table: a reusable template snippet of an organization, by slug.

use sea_orm::entity::prelude::*;

/// One partial.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "prompt_partials")]
pub struct Model {
    /// Primary key (UUID v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Organization.
    pub org_id: Uuid,
    /// Slug, unique in the organization; what `{{> slug}}` names.
    pub slug: String,
    /// Number of the newest version.
    pub latest_version: i32,
    /// User who created the partial.
    pub created_by: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Time of the newest version.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

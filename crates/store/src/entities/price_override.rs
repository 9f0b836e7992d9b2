//! The `price_overrides` table: an organization's own prices for a provider kind and model
//! pattern, in nano-USD per million tokens.

use sea_orm::entity::prelude::*;

/// One override.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "price_overrides")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning organization.
    pub org_id: Uuid,
    /// Provider kind, e.g. `openai`.
    pub provider: String,
    /// Model id, prefix, or `*` for every otherwise unknown model of the provider.
    pub model_pattern: String,
    /// Uncached input tokens.
    pub input_nanos_per_mtok: i64,
    /// Output tokens other than reasoning.
    pub output_nanos_per_mtok: i64,
    /// Cached-read input tokens.
    pub cached_read_nanos_per_mtok: i64,
    /// Cache-write input tokens.
    pub cache_write_nanos_per_mtok: i64,
    /// Reasoning tokens.
    pub reasoning_nanos_per_mtok: i64,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// Each override belongs to one organization.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owning organization.
    #[sea_orm(
        belongs_to = "super::organization::Entity",
        from = "Column::OrgId",
        to = "super::organization::Column::Id",
        on_delete = "Cascade"
    )]
    Organization,
}

impl ActiveModelBehavior for ActiveModel {}

//! The `model_aliases` table: organization-defined model names pointing at `<slug>/<model>`.

use sea_orm::entity::prelude::*;

/// One alias.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "model_aliases")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning organization.
    pub org_id: Uuid,
    /// The name callers use, unique within the organization.
    pub alias: String,
    /// The model it stands for, as `<credential-slug>/<model>`.
    pub target: String,
    /// Creation time.
    pub created_at: DateTimeUtc,
}

/// Each alias belongs to one organization.
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

//! The `virtual_keys` table: keys callers present to the gateway, stored as hashes.

use sea_orm::entity::prelude::*;

/// One virtual key with its scope and limits.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "virtual_keys")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning organization.
    pub org_id: Uuid,
    /// Display name.
    pub name: String,
    /// The secret's first characters, shown to tell keys apart.
    pub prefix: String,
    /// SHA-256 hex of the whole secret.
    #[sea_orm(unique)]
    pub hash: String,
    /// Hash of the secret replaced by the last rotation.
    pub previous_hash: Option<String>,
    /// When the replaced secret stops working.
    pub previous_hash_expires_at: Option<DateTimeUtc>,
    /// Team the key belongs to.
    pub team_id: Option<Uuid>,
    /// JSON array of model names; empty allows all.
    #[sea_orm(column_type = "JsonBinary")]
    pub allowed_models: Json,
    /// JSON array of provider credential slugs; empty allows all.
    #[sea_orm(column_type = "JsonBinary")]
    pub allowed_providers: Json,
    /// JSON rate limits.
    #[sea_orm(column_type = "JsonBinary")]
    pub limits: Json,
    /// JSON budget, if any.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub budget: Option<Json>,
    /// JSON object of string metadata.
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
    /// Routing config used when a request names none.
    pub default_config_id: Option<Uuid>,
    /// JSON array of attached guardrail ids; NULL (keys older than guardrails) is none.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub guardrails: Option<Json>,
    /// When the key stops working.
    pub expires_at: Option<DateTimeUtc>,
    /// When the key was revoked.
    pub revoked_at: Option<DateTimeUtc>,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
    /// Last time the gateway reported a use.
    pub last_used_at: Option<DateTimeUtc>,
}

/// Each key belongs to one organization.
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

impl Related<super::organization::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Organization.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

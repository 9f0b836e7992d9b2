//! The `provider_credentials` table: an organization's upstream provider keys, sealed.

use sea_orm::entity::prelude::*;

/// One provider credential; the secret columns hold an envelope-encrypted key, never plaintext.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_credentials")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning organization.
    pub org_id: Uuid,
    /// Display name.
    pub name: String,
    /// Handle used in model names (`<slug>/<model>`), unique within the organization.
    pub slug: String,
    /// Provider kind (`openai`, `anthropic`, ...).
    pub provider: String,
    /// Upstream base URL override.
    pub base_url: Option<String>,
    /// Provider-specific settings (a JSON object).
    #[sea_orm(column_type = "JsonBinary")]
    pub config: Json,
    /// The key encrypted under the data key.
    #[sea_orm(column_type = "Blob")]
    pub secret_ciphertext: Vec<u8>,
    /// Nonce of `secret_ciphertext`.
    #[sea_orm(column_type = "Blob")]
    pub secret_nonce: Vec<u8>,
    /// The data key encrypted under the master key.
    #[sea_orm(column_type = "Blob")]
    pub wrapped_key: Vec<u8>,
    /// Nonce of `wrapped_key`.
    #[sea_orm(column_type = "Blob")]
    pub key_nonce: Vec<u8>,
    /// Id of the master key that wrapped the data key.
    pub master_key_id: String,
    /// Last four characters of the key, for masked display (empty for short keys).
    pub key_last4: String,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// Each credential belongs to one organization.
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

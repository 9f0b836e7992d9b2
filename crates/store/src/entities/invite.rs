//! The `invites` table: e-mailed invitations to join an organization.

use sea_orm::entity::prelude::*;

/// One invitation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invites")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Organization to join.
    pub org_id: Uuid,
    /// Lower-cased invited address.
    pub email: String,
    /// Role granted on acceptance.
    pub role: String,
    /// SHA-256 hex of the token in the link.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Who invited.
    pub invited_by: Option<Uuid>,
    /// Sent at.
    pub created_at: DateTimeUtc,
    /// The link stops working then.
    pub expires_at: DateTimeUtc,
    /// Accepted at.
    pub accepted_at: Option<DateTimeUtc>,
    /// Withdrawn at.
    pub revoked_at: Option<DateTimeUtc>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

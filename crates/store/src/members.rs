//! Organization membership: who belongs to an organization with which role, and the e-mailed
//! invitations that create memberships.

use crate::entities::{invite, membership, organization, user};
use crate::{Database, StoreError, tokens};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use keyway_domain::{Email, InviteId, OrgId, Role, Secret, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, SqlErr,
    TransactionTrait,
};
use serde::Serialize;
use uuid::Uuid;

/// A member of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The member's account.
    pub user_id: UserId,
    /// Address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role in the organization.
    pub role: Role,
    /// Member since.
    pub joined_at: DateTime<Utc>,
}

/// An invitation as admins see it (never its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invite {
    /// Identifier.
    pub id: InviteId,
    /// Organization.
    pub org_id: OrgId,
    /// Invited address.
    pub email: String,
    /// Role granted on acceptance.
    pub role: Role,
    /// Who invited.
    pub invited_by: Option<UserId>,
    /// Sent at.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Accepted at.
    pub accepted_at: Option<DateTime<Utc>>,
    /// Withdrawn at.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Invite {
    /// `pending`, `accepted`, `revoked` or `expired` at `now`.
    pub fn status_at(&self, now: DateTime<Utc>) -> &'static str {
        if self.accepted_at.is_some() {
            "accepted"
        } else if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at <= now {
            "expired"
        } else {
            "pending"
        }
    }
}

fn parse_role(stored: &str) -> Result<Role, StoreError> {
    Role::parse(stored).map_err(|e| StoreError::Invalid(format!("stored role: {e}")))
}

impl TryFrom<invite::Model> for Invite {
    type Error = StoreError;
    fn try_from(m: invite::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: InviteId::from_uuid(m.id),
            org_id: OrgId::from_uuid(m.org_id),
            email: m.email,
            role: parse_role(&m.role)?,
            invited_by: m.invited_by.map(UserId::from_uuid),
            created_at: m.created_at,
            expires_at: m.expires_at,
            accepted_at: m.accepted_at,
            revoked_at: m.revoked_at,
        })
    }
}

/// An invite looked up by its token: what the accept page shows.
#[derive(Debug, Clone, Serialize)]
pub struct InvitePreview {
    /// The invite.
    pub invite: Invite,
    /// Name of the organization.
    pub org_name: String,
}

/// Why an invite token could not be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptError {
    /// Unknown token, or the invite was revoked, used or expired.
    Invalid,
    /// The accepting account's address is not the invited one.
    WrongAccount,
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl Database {
    /// Adds (or re-roles) a member.
    pub async fn add_member(&self, org: OrgId, user: UserId, role: Role) -> Result<(), StoreError> {
        add_member_in(self.conn(), org, user, role).await
    }

    /// The caller's role in `org`, or `None` when not a member.
    pub async fn role_of(&self, org: OrgId, user: UserId) -> Result<Option<Role>, StoreError> {
        membership::Entity::find_by_id((org.as_uuid(), user.as_uuid()))
            .one(self.conn())
            .await?
            .map(|m| parse_role(&m.role))
            .transpose()
    }

    /// Members of `org`, oldest first.
    pub async fn list_members(&self, org: OrgId) -> Result<Vec<Member>, StoreError> {
        let rows = membership::Entity::find()
            .filter(membership::Column::OrgId.eq(org.as_uuid()))
            .order_by_asc(membership::Column::CreatedAt)
            .order_by_asc(membership::Column::UserId)
            .all(self.conn())
            .await?;
        let ids: Vec<Uuid> = rows.iter().map(|m| m.user_id).collect();
        let users = user::Entity::find()
            .filter(user::Column::Id.is_in(ids))
            .all(self.conn())
            .await?;
        rows.into_iter()
            .filter_map(|m| {
                let u = users.iter().find(|u| u.id == m.user_id)?;
                Some(parse_role(&m.role).map(|role| Member {
                    user_id: UserId::from_uuid(m.user_id),
                    email: u.email.clone(),
                    name: u.name.clone(),
                    role,
                    joined_at: m.created_at,
                }))
            })
            .collect()
    }

    /// One member of `org`.
    pub async fn member(&self, org: OrgId, user: UserId) -> Result<Option<Member>, StoreError> {
        Ok(self
            .list_members(org)
            .await?
            .into_iter()
            .find(|m| m.user_id == user))
    }

    /// How many owners `org` has.
    pub async fn owner_count(&self, org: OrgId) -> Result<u64, StoreError> {
        Ok(membership::Entity::find()
            .filter(membership::Column::OrgId.eq(org.as_uuid()))
            .filter(membership::Column::Role.eq(Role::Owner.as_str()))
            .count(self.conn())
            .await?)
    }

    /// Changes a member's role.
    pub async fn set_member_role(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
    ) -> Result<(), StoreError> {
        let done = membership::Entity::update_many()
            .col_expr(membership::Column::Role, Expr::value(role.as_str()))
            .filter(membership::Column::OrgId.eq(org.as_uuid()))
            .filter(membership::Column::UserId.eq(user.as_uuid()))
            .exec(self.conn())
            .await?;
        if done.rows_affected == 0 {
            return Err(StoreError::NotFound("member"));
        }
        Ok(())
    }

    /// Removes a member (and their team memberships in `org`).
    pub async fn remove_member(&self, org: OrgId, user: UserId) -> Result<(), StoreError> {
        let txn = self.conn().begin().await?;
        let done = membership::Entity::delete_many()
            .filter(membership::Column::OrgId.eq(org.as_uuid()))
            .filter(membership::Column::UserId.eq(user.as_uuid()))
            .exec(&txn)
            .await?;
        if done.rows_affected == 0 {
            return Err(StoreError::NotFound("member"));
        }
        crate::teams::remove_user_from_org_teams(&txn, org, user).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Creates an invitation valid for `ttl`; returns it with the token for the link (shown
    /// once). A pending invite to the same address is replaced.
    pub async fn create_invite(
        &self,
        org: OrgId,
        email: &Email,
        role: Role,
        invited_by: UserId,
        ttl: Duration,
    ) -> Result<(Invite, Secret<String>), StoreError> {
        let (token, hash) = tokens::generate();
        let at = now();
        let txn = self.conn().begin().await?;
        invite::Entity::update_many()
            .col_expr(invite::Column::RevokedAt, Expr::value(at))
            .filter(invite::Column::OrgId.eq(org.as_uuid()))
            .filter(invite::Column::Email.eq(email.as_str()))
            .filter(invite::Column::AcceptedAt.is_null())
            .filter(invite::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        let model = invite::Entity::insert(invite::ActiveModel {
            id: Set(InviteId::new().as_uuid()),
            org_id: Set(org.as_uuid()),
            email: Set(email.as_str().to_owned()),
            role: Set(role.as_str().to_owned()),
            token_hash: Set(hash),
            invited_by: Set(Some(invited_by.as_uuid())),
            created_at: Set(at),
            expires_at: Set(at + ttl),
            accepted_at: Set(None),
            revoked_at: Set(None),
        })
        .exec_with_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok((model.try_into()?, token))
    }

    /// Invitations of `org`, newest first.
    pub async fn list_invites(&self, org: OrgId) -> Result<Vec<Invite>, StoreError> {
        invite::Entity::find()
            .filter(invite::Column::OrgId.eq(org.as_uuid()))
            .order_by_desc(invite::Column::CreatedAt)
            .order_by_desc(invite::Column::Id)
            .all(self.conn())
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    /// One invitation of `org`.
    pub async fn get_invite(&self, org: OrgId, id: InviteId) -> Result<Option<Invite>, StoreError> {
        invite::Entity::find_by_id(id.as_uuid())
            .filter(invite::Column::OrgId.eq(org.as_uuid()))
            .one(self.conn())
            .await?
            .map(TryInto::try_into)
            .transpose()
    }

    /// Withdraws a pending invitation.
    pub async fn revoke_invite(&self, org: OrgId, id: InviteId) -> Result<Invite, StoreError> {
        invite::Entity::update_many()
            .col_expr(invite::Column::RevokedAt, Expr::value(now()))
            .filter(invite::Column::Id.eq(id.as_uuid()))
            .filter(invite::Column::OrgId.eq(org.as_uuid()))
            .filter(invite::Column::AcceptedAt.is_null())
            .filter(invite::Column::RevokedAt.is_null())
            .exec(self.conn())
            .await?;
        self.get_invite(org, id)
            .await?
            .ok_or(StoreError::NotFound("invite"))
    }

    /// Looks a pending invitation up by the token in its link.
    pub async fn invite_by_token(&self, token: &str) -> Result<Option<InvitePreview>, StoreError> {
        let found = invite::Entity::find()
            .filter(invite::Column::TokenHash.eq(tokens::hash(token)))
            .one(self.conn())
            .await?;
        let Some(model) = found else { return Ok(None) };
        let org_name = organization::Entity::find_by_id(model.org_id)
            .one(self.conn())
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        let invite: Invite = model.try_into()?;
        Ok((invite.status_at(now()) == "pending").then_some(InvitePreview { invite, org_name }))
    }

    /// Accepts an invitation as `user` (whose address must be the invited one): creates the
    /// membership and marks the invite used, atomically.
    pub async fn accept_invite(
        &self,
        token: &str,
        user: UserId,
        user_email: &str,
    ) -> Result<Result<Invite, AcceptError>, StoreError> {
        let Some(preview) = self.invite_by_token(token).await? else {
            return Ok(Err(AcceptError::Invalid));
        };
        let invite = preview.invite;
        if invite.email != user_email {
            return Ok(Err(AcceptError::WrongAccount));
        }
        let at = now();
        let txn = self.conn().begin().await?;
        let used = invite::Entity::update_many()
            .col_expr(invite::Column::AcceptedAt, Expr::value(at))
            .filter(invite::Column::Id.eq(invite.id.as_uuid()))
            .filter(invite::Column::AcceptedAt.is_null())
            .filter(invite::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        if used.rows_affected == 0 {
            return Ok(Err(AcceptError::Invalid));
        }
        // An existing membership keeps the stronger of the two roles.
        let existing = membership::Entity::find_by_id((invite.org_id.as_uuid(), user.as_uuid()))
            .one(&txn)
            .await?;
        let keep = match existing.map(|m| parse_role(&m.role)).transpose()? {
            Some(current) if current >= invite.role => current,
            _ => invite.role,
        };
        add_member_in(&txn, invite.org_id, user, keep).await?;
        txn.commit().await?;
        Ok(Ok(Invite {
            accepted_at: Some(at),
            ..invite
        }))
    }
}

pub(crate) async fn add_member_in(
    conn: &impl sea_orm::ConnectionTrait,
    org: OrgId,
    user: UserId,
    role: Role,
) -> Result<(), StoreError> {
    let existing = membership::Entity::find_by_id((org.as_uuid(), user.as_uuid()))
        .one(conn)
        .await?;
    if existing.is_some() {
        membership::Entity::update_many()
            .col_expr(membership::Column::Role, Expr::value(role.as_str()))
            .filter(membership::Column::OrgId.eq(org.as_uuid()))
            .filter(membership::Column::UserId.eq(user.as_uuid()))
            .exec(conn)
            .await?;
        return Ok(());
    }
    membership::Entity::insert(membership::ActiveModel {
        org_id: Set(org.as_uuid()),
        user_id: Set(user.as_uuid()),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now()),
    })
    .exec(conn)
    .await
    .map_err(|e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict("membership"),
        _ => StoreError::Db(e),
    })?;
    Ok(())
}

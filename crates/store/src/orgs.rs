//! Organization repository.

use crate::entities::organization;
use crate::{Database, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use keyway_domain::{OrgId, Role, Slug, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, SqlErr};
use sea_orm::{QueryOrder, TransactionTrait};

/// An organization as the rest of Keyway sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Identifier.
    pub id: OrgId,
    /// Unique handle.
    pub slug: Slug,
    /// Display name.
    pub name: String,
    /// Creation time (microsecond precision, as both engines store it).
    pub created_at: DateTime<Utc>,
    /// Days of request analytics kept; `None` keeps the deployment default.
    pub retention_days: Option<u32>,
    /// Whether request and response bodies are stored with analytics (redacted).
    pub log_bodies: bool,
}

/// A partial change to an organization; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct OrgUpdate {
    /// New display name.
    pub name: Option<String>,
    /// New retention (`Some(None)` returns to the default).
    pub retention_days: Option<Option<u32>>,
    /// Store bodies or not.
    pub log_bodies: Option<bool>,
}

/// An organization with the caller's role in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgWithRole {
    /// The organization.
    pub org: Organization,
    /// The caller's role.
    pub role: Role,
}

impl TryFrom<organization::Model> for Organization {
    type Error = StoreError;
    fn try_from(m: organization::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: OrgId::from_uuid(m.id),
            slug: Slug::parse(&m.slug)
                .map_err(|e| StoreError::Invalid(format!("stored slug {:?}: {e}", m.slug)))?,
            name: m.name,
            created_at: m.created_at,
            retention_days: m.retention_days.and_then(|d| u32::try_from(d).ok()),
            log_bodies: m.log_bodies,
        })
    }
}

impl Database {
    /// Creates an organization; a taken slug is a [`StoreError::Conflict`].
    pub async fn create_org(&self, slug: &Slug, name: &str) -> Result<Organization, StoreError> {
        let model = organization::ActiveModel {
            id: Set(OrgId::new().as_uuid()),
            slug: Set(slug.as_str().to_owned()),
            name: Set(name.to_owned()),
            created_at: Set(Utc::now().trunc_subsecs(6)),
            retention_days: Set(None),
            log_bodies: Set(false),
        };
        let inserted = organization::Entity::insert(model)
            .exec_with_returning(self.conn())
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => {
                    StoreError::Conflict("organization slug")
                }
                _ => StoreError::Db(e),
            })?;
        inserted.try_into()
    }

    /// Looks an organization up by id.
    pub async fn org(&self, id: OrgId) -> Result<Option<Organization>, StoreError> {
        organization::Entity::find_by_id(id.as_uuid())
            .one(self.conn())
            .await?
            .map(TryInto::try_into)
            .transpose()
    }

    /// Looks an organization up by slug.
    pub async fn org_by_slug(&self, slug: &Slug) -> Result<Option<Organization>, StoreError> {
        organization::Entity::find()
            .filter(organization::Column::Slug.eq(slug.as_str()))
            .one(self.conn())
            .await?
            .map(TryInto::try_into)
            .transpose()
    }

    /// Creates an organization with `owner` as its first owner, atomically.
    pub async fn create_org_with_owner(
        &self,
        slug: &Slug,
        name: &str,
        owner: UserId,
    ) -> Result<Organization, StoreError> {
        let txn = self.conn().begin().await?;
        let model = organization::ActiveModel {
            id: Set(OrgId::new().as_uuid()),
            slug: Set(slug.as_str().to_owned()),
            name: Set(name.to_owned()),
            created_at: Set(Utc::now().trunc_subsecs(6)),
            retention_days: Set(None),
            log_bodies: Set(false),
        };
        let inserted = organization::Entity::insert(model)
            .exec_with_returning(&txn)
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => {
                    StoreError::Conflict("organization slug")
                }
                _ => StoreError::Db(e),
            })?;
        let org: Organization = inserted.try_into()?;
        crate::members::add_member_in(&txn, org.id, owner, Role::Owner).await?;
        txn.commit().await?;
        Ok(org)
    }

    /// Organizations `user` belongs to, with the role in each, oldest membership first.
    pub async fn orgs_of_user(&self, user: UserId) -> Result<Vec<OrgWithRole>, StoreError> {
        use crate::entities::membership;
        let memberships = membership::Entity::find()
            .filter(membership::Column::UserId.eq(user.as_uuid()))
            .order_by_asc(membership::Column::CreatedAt)
            .all(self.conn())
            .await?;
        let ids: Vec<_> = memberships.iter().map(|m| m.org_id).collect();
        let orgs = organization::Entity::find()
            .filter(organization::Column::Id.is_in(ids))
            .all(self.conn())
            .await?;
        let mut out = Vec::with_capacity(memberships.len());
        for m in memberships {
            if let Some(o) = orgs.iter().find(|o| o.id == m.org_id) {
                out.push(OrgWithRole {
                    org: o.clone().try_into()?,
                    role: Role::parse(&m.role)
                        .map_err(|e| StoreError::Invalid(format!("stored role: {e}")))?,
                });
            }
        }
        Ok(out)
    }

    /// Changes an organization's name or settings.
    pub async fn update_org(
        &self,
        id: OrgId,
        update: OrgUpdate,
    ) -> Result<Organization, StoreError> {
        let mut stmt =
            organization::Entity::update_many().filter(organization::Column::Id.eq(id.as_uuid()));
        let mut any = false;
        if let Some(name) = update.name {
            stmt = stmt.col_expr(organization::Column::Name, Expr::value(name));
            any = true;
        }
        if let Some(days) = update.retention_days {
            stmt = stmt.col_expr(
                organization::Column::RetentionDays,
                Expr::value(days.map(|d| i32::try_from(d).unwrap_or(i32::MAX))),
            );
            any = true;
        }
        if let Some(log) = update.log_bodies {
            stmt = stmt.col_expr(organization::Column::LogBodies, Expr::value(log));
            any = true;
        }
        if any {
            stmt.exec(self.conn()).await?;
        }
        self.org(id)
            .await?
            .ok_or(StoreError::NotFound("organization"))
    }

    /// Deletes an organization and everything it owns (cascading foreign keys).
    pub async fn delete_org(&self, id: OrgId) -> Result<(), StoreError> {
        let done = organization::Entity::delete_by_id(id.as_uuid())
            .exec(self.conn())
            .await?;
        if done.rows_affected == 0 {
            return Err(StoreError::NotFound("organization"));
        }
        Ok(())
    }

    /// `(org, days)` for every organization with a retention setting.
    pub async fn org_retentions(&self) -> Result<Vec<(OrgId, u32)>, StoreError> {
        Ok(organization::Entity::find()
            .filter(organization::Column::RetentionDays.is_not_null())
            .all(self.conn())
            .await?
            .into_iter()
            .filter_map(|m| {
                let days = u32::try_from(m.retention_days?).ok()?;
                Some((OrgId::from_uuid(m.id), days))
            })
            .collect())
    }
}

//! Organization repository.

use crate::entities::organization;
use crate::{Database, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use keyway_domain::{OrgId, Slug};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, SqlErr};

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
}

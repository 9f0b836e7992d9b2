//! Guardrails of an organization, versioned: a guardrail has a slug and immutable versions
//! numbered from 1; a new version never changes an older one, and the newest is the one the
//! gateway runs.
//!
//! The store keeps the definition as given after validation; parsing and validating it
//! (`keyway_domain::guardrails::Guardrail::parse`) is the caller's job, so the store never holds
//! a definition the gateway could not load.

use crate::entities::{guardrail, guardrail_version, virtual_key};
use crate::{Database, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use keyway_domain::VirtualKeyId;
use keyway_domain::{OrgId, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, SqlErr,
    TransactionTrait,
};
use serde::Serialize;
use uuid::Uuid;

/// A guardrail with its newest version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardrailRecord {
    /// Identifier (what a key's `guardrails` list names).
    pub id: Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// Slug, unique in the organization.
    pub slug: String,
    /// Number of the newest version.
    pub version: u32,
    /// The newest version's definition.
    pub definition: serde_json::Value,
    /// Who created the guardrail.
    pub created_by: Option<UserId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the newest version or rename.
    pub updated_at: DateTime<Utc>,
}

/// One immutable version of a guardrail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardrailVersion {
    /// The guardrail.
    pub guardrail_id: Uuid,
    /// Version number, from 1.
    pub version: u32,
    /// The definition of this version.
    pub definition: serde_json::Value,
    /// Who wrote it.
    pub created_by: Option<UserId>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn name_conflict(e: sea_orm::DbErr) -> StoreError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict("guardrail slug"),
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::NotFound("organization"),
        _ => StoreError::Db(e),
    }
}

fn version_number(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn version_from(m: guardrail_version::Model) -> GuardrailVersion {
    GuardrailVersion {
        guardrail_id: m.guardrail_id,
        version: version_number(m.version),
        definition: m.definition,
        created_by: m.created_by.map(UserId::from_uuid),
        created_at: m.created_at,
    }
}

impl Database {
    /// Creates a guardrail with its version 1.
    pub async fn create_guardrail(
        &self,
        org: OrgId,
        slug: &str,
        definition: serde_json::Value,
        by: Option<UserId>,
    ) -> Result<GuardrailRecord, StoreError> {
        let at = now();
        let id = Uuid::now_v7();
        let by = by.map(|u| u.as_uuid());
        let txn = self.conn().begin().await?;
        guardrail::Entity::insert(guardrail::ActiveModel {
            id: Set(id),
            org_id: Set(org.as_uuid()),
            slug: Set(slug.to_owned()),
            latest_version: Set(1),
            created_by: Set(by),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(name_conflict)?;
        guardrail_version::Entity::insert(guardrail_version::ActiveModel {
            guardrail_id: Set(id),
            version: Set(1),
            definition: Set(definition),
            created_by: Set(by),
            created_at: Set(at),
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        self.get_guardrail(org, id)
            .await?
            .ok_or(StoreError::NotFound("guardrail"))
    }

    async fn guardrail_model(
        &self,
        conn: &impl ConnectionTrait,
        org: OrgId,
        id: Uuid,
    ) -> Result<Option<guardrail::Model>, StoreError> {
        Ok(guardrail::Entity::find_by_id(id)
            .filter(guardrail::Column::OrgId.eq(org.as_uuid()))
            .one(conn)
            .await?)
    }

    async fn guardrail_from(&self, m: guardrail::Model) -> Result<GuardrailRecord, StoreError> {
        let latest = guardrail_version::Entity::find_by_id((m.id, m.latest_version))
            .one(self.conn())
            .await?
            .ok_or_else(|| {
                StoreError::Invalid(format!("guardrail {} lost its newest version", m.id))
            })?;
        Ok(GuardrailRecord {
            id: m.id,
            org_id: OrgId::from_uuid(m.org_id),
            slug: m.slug,
            version: version_number(m.latest_version),
            definition: latest.definition,
            created_by: m.created_by.map(UserId::from_uuid),
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }

    /// One guardrail of `org` with its newest version; another organization's is `None`.
    pub async fn get_guardrail(
        &self,
        org: OrgId,
        id: Uuid,
    ) -> Result<Option<GuardrailRecord>, StoreError> {
        match self.guardrail_model(self.conn(), org, id).await? {
            Some(m) => Ok(Some(self.guardrail_from(m).await?)),
            None => Ok(None),
        }
    }

    /// Guardrails of `org`, oldest first, each with its newest version.
    pub async fn list_guardrails(&self, org: OrgId) -> Result<Vec<GuardrailRecord>, StoreError> {
        let models = guardrail::Entity::find()
            .filter(guardrail::Column::OrgId.eq(org.as_uuid()))
            .order_by_asc(guardrail::Column::CreatedAt)
            .order_by_asc(guardrail::Column::Id)
            .all(self.conn())
            .await?;
        let mut out = Vec::with_capacity(models.len());
        for m in models {
            out.push(self.guardrail_from(m).await?);
        }
        Ok(out)
    }

    /// Every version of one guardrail, newest first.
    pub async fn list_guardrail_versions(
        &self,
        org: OrgId,
        id: Uuid,
    ) -> Result<Vec<GuardrailVersion>, StoreError> {
        if self.guardrail_model(self.conn(), org, id).await?.is_none() {
            return Err(StoreError::NotFound("guardrail"));
        }
        Ok(guardrail_version::Entity::find()
            .filter(guardrail_version::Column::GuardrailId.eq(id))
            .order_by_desc(guardrail_version::Column::Version)
            .all(self.conn())
            .await?
            .into_iter()
            .map(version_from)
            .collect())
    }

    /// Changes a guardrail: a new slug, and/or a new version with `definition` (older versions stay as
    /// they were). Two concurrent new versions never share a number: the loser gets
    /// [`StoreError::Conflict`].
    pub async fn update_guardrail(
        &self,
        org: OrgId,
        id: Uuid,
        slug: Option<&str>,
        definition: Option<serde_json::Value>,
        by: Option<UserId>,
    ) -> Result<GuardrailRecord, StoreError> {
        let at = now();
        let txn = self.conn().begin().await?;
        let current = self
            .guardrail_model(&txn, org, id)
            .await?
            .ok_or(StoreError::NotFound("guardrail"))?;
        let mut stmt = guardrail::Entity::update_many()
            .col_expr(guardrail::Column::UpdatedAt, Expr::value(at))
            .filter(guardrail::Column::Id.eq(id))
            .filter(guardrail::Column::OrgId.eq(org.as_uuid()))
            .filter(guardrail::Column::LatestVersion.eq(current.latest_version));
        if let Some(slug) = slug {
            stmt = stmt.col_expr(guardrail::Column::Slug, Expr::value(slug));
        }
        if let Some(definition) = definition {
            let next = current.latest_version + 1;
            guardrail_version::Entity::insert(guardrail_version::ActiveModel {
                guardrail_id: Set(id),
                version: Set(next),
                definition: Set(definition),
                created_by: Set(by.map(|u| u.as_uuid())),
                created_at: Set(at),
            })
            .exec_without_returning(&txn)
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => {
                    StoreError::Conflict("guardrail version")
                }
                _ => StoreError::Db(e),
            })?;
            stmt = stmt.col_expr(guardrail::Column::LatestVersion, Expr::value(next));
        }
        let done = stmt.exec(&txn).await.map_err(name_conflict)?;
        if done.rows_affected == 0 {
            return Err(StoreError::Conflict("guardrail version"));
        }
        txn.commit().await?;
        self.get_guardrail(org, id)
            .await?
            .ok_or(StoreError::NotFound("guardrail"))
    }

    /// Keys of `org` that attach guardrail `id`.
    pub async fn keys_using_guardrail(
        &self,
        org: OrgId,
        id: Uuid,
    ) -> Result<Vec<VirtualKeyId>, StoreError> {
        // The attachment is a JSON array on the key; filtered here so SQLite and Postgres agree.
        let keys = virtual_key::Entity::find()
            .filter(virtual_key::Column::OrgId.eq(org.as_uuid()))
            .filter(virtual_key::Column::Guardrails.is_not_null())
            .all(self.conn())
            .await?;
        Ok(keys
            .into_iter()
            .filter(|k| {
                k.guardrails
                    .as_ref()
                    .and_then(|g| serde_json::from_value::<Vec<Uuid>>(g.clone()).ok())
                    .is_some_and(|ids| ids.contains(&id))
            })
            .map(|k| VirtualKeyId::from_uuid(k.id))
            .collect())
    }

    /// Fails with [`StoreError::Invalid`] unless every id names a guardrail of `org`.
    pub async fn check_guardrails_exist(&self, org: OrgId, ids: &[Uuid]) -> Result<(), StoreError> {
        for id in ids {
            if self.guardrail_model(self.conn(), org, *id).await?.is_none() {
                return Err(StoreError::Invalid(format!(
                    "guardrail {id} does not exist in this organization"
                )));
            }
        }
        Ok(())
    }

    /// Deletes a guardrail with all its versions.
    pub async fn delete_guardrail(&self, org: OrgId, id: Uuid) -> Result<(), StoreError> {
        let txn = self.conn().begin().await?;
        if self.guardrail_model(&txn, org, id).await?.is_none() {
            return Err(StoreError::NotFound("guardrail"));
        }
        // SQLite enforces the cascade only with foreign keys on; delete versions explicitly.
        guardrail_version::Entity::delete_many()
            .filter(guardrail_version::Column::GuardrailId.eq(id))
            .exec(&txn)
            .await?;
        guardrail::Entity::delete_many()
            .filter(guardrail::Column::Id.eq(id))
            .filter(guardrail::Column::OrgId.eq(org.as_uuid()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }
}

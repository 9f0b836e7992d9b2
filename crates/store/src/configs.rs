//! Routing configs of an organization, versioned: a config has a name and immutable versions
//! numbered from 1; a new version never changes an older one, and the newest is the one used.
//!
//! The store keeps the JSON as given after validation; parsing and validating it
//! (`keyway_domain::routing::RoutingConfig::parse`) is the caller's job, so the store never
//! holds a config the gateway could not load.

use crate::entities::{routing_config, routing_config_version, virtual_key};
use crate::{Database, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use keyway_domain::{OrgId, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, SqlErr, TransactionTrait,
};
use serde::Serialize;
use uuid::Uuid;

/// A routing config with its newest version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutingConfigRecord {
    /// Identifier (what `x-keyway-config` names).
    pub id: Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// Name, unique in the organization.
    pub name: String,
    /// Number of the newest version.
    pub version: u32,
    /// The newest version's JSON.
    pub config: serde_json::Value,
    /// Who created the config.
    pub created_by: Option<UserId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the newest version or rename.
    pub updated_at: DateTime<Utc>,
}

/// One immutable version of a routing config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutingConfigVersion {
    /// The config.
    pub config_id: Uuid,
    /// Version number, from 1.
    pub version: u32,
    /// The JSON of this version.
    pub config: serde_json::Value,
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
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict("routing config name"),
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::NotFound("organization"),
        _ => StoreError::Db(e),
    }
}

fn version_number(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn version_from(m: routing_config_version::Model) -> RoutingConfigVersion {
    RoutingConfigVersion {
        config_id: m.config_id,
        version: version_number(m.version),
        config: m.config,
        created_by: m.created_by.map(UserId::from_uuid),
        created_at: m.created_at,
    }
}

impl Database {
    /// Creates a config with its version 1.
    pub async fn create_routing_config(
        &self,
        org: OrgId,
        name: &str,
        config: serde_json::Value,
        by: Option<UserId>,
    ) -> Result<RoutingConfigRecord, StoreError> {
        let at = now();
        let id = Uuid::now_v7();
        let by = by.map(|u| u.as_uuid());
        let txn = self.conn().begin().await?;
        routing_config::Entity::insert(routing_config::ActiveModel {
            id: Set(id),
            org_id: Set(org.as_uuid()),
            name: Set(name.to_owned()),
            latest_version: Set(1),
            created_by: Set(by),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(name_conflict)?;
        routing_config_version::Entity::insert(routing_config_version::ActiveModel {
            config_id: Set(id),
            version: Set(1),
            config: Set(config),
            created_by: Set(by),
            created_at: Set(at),
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        self.get_routing_config(org, id)
            .await?
            .ok_or(StoreError::NotFound("routing config"))
    }

    async fn config_model(
        &self,
        conn: &impl ConnectionTrait,
        org: OrgId,
        id: Uuid,
    ) -> Result<Option<routing_config::Model>, StoreError> {
        Ok(routing_config::Entity::find_by_id(id)
            .filter(routing_config::Column::OrgId.eq(org.as_uuid()))
            .one(conn)
            .await?)
    }

    async fn record_from(
        &self,
        m: routing_config::Model,
    ) -> Result<RoutingConfigRecord, StoreError> {
        let latest = routing_config_version::Entity::find_by_id((m.id, m.latest_version))
            .one(self.conn())
            .await?
            .ok_or_else(|| {
                StoreError::Invalid(format!("routing config {} lost its newest version", m.id))
            })?;
        Ok(RoutingConfigRecord {
            id: m.id,
            org_id: OrgId::from_uuid(m.org_id),
            name: m.name,
            version: version_number(m.latest_version),
            config: latest.config,
            created_by: m.created_by.map(UserId::from_uuid),
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }

    /// One config of `org` with its newest version; another organization's is `None`.
    pub async fn get_routing_config(
        &self,
        org: OrgId,
        id: Uuid,
    ) -> Result<Option<RoutingConfigRecord>, StoreError> {
        match self.config_model(self.conn(), org, id).await? {
            Some(m) => Ok(Some(self.record_from(m).await?)),
            None => Ok(None),
        }
    }

    /// Configs of `org`, oldest first, each with its newest version.
    pub async fn list_routing_configs(
        &self,
        org: OrgId,
    ) -> Result<Vec<RoutingConfigRecord>, StoreError> {
        let models = routing_config::Entity::find()
            .filter(routing_config::Column::OrgId.eq(org.as_uuid()))
            .order_by_asc(routing_config::Column::CreatedAt)
            .order_by_asc(routing_config::Column::Id)
            .all(self.conn())
            .await?;
        let mut out = Vec::with_capacity(models.len());
        for m in models {
            out.push(self.record_from(m).await?);
        }
        Ok(out)
    }

    /// Every version of one config, newest first.
    pub async fn list_routing_config_versions(
        &self,
        org: OrgId,
        id: Uuid,
    ) -> Result<Vec<RoutingConfigVersion>, StoreError> {
        if self.config_model(self.conn(), org, id).await?.is_none() {
            return Err(StoreError::NotFound("routing config"));
        }
        Ok(routing_config_version::Entity::find()
            .filter(routing_config_version::Column::ConfigId.eq(id))
            .order_by_desc(routing_config_version::Column::Version)
            .all(self.conn())
            .await?
            .into_iter()
            .map(version_from)
            .collect())
    }

    /// Changes a config: a new name, and/or a new version with `config` (older versions stay as
    /// they were). Two concurrent new versions never share a number: the loser gets
    /// [`StoreError::Conflict`].
    pub async fn update_routing_config(
        &self,
        org: OrgId,
        id: Uuid,
        name: Option<&str>,
        config: Option<serde_json::Value>,
        by: Option<UserId>,
    ) -> Result<RoutingConfigRecord, StoreError> {
        let at = now();
        let txn = self.conn().begin().await?;
        let current = self
            .config_model(&txn, org, id)
            .await?
            .ok_or(StoreError::NotFound("routing config"))?;
        let mut stmt = routing_config::Entity::update_many()
            .col_expr(routing_config::Column::UpdatedAt, Expr::value(at))
            .filter(routing_config::Column::Id.eq(id))
            .filter(routing_config::Column::OrgId.eq(org.as_uuid()))
            .filter(routing_config::Column::LatestVersion.eq(current.latest_version));
        if let Some(name) = name {
            stmt = stmt.col_expr(routing_config::Column::Name, Expr::value(name));
        }
        if let Some(config) = config {
            let next = current.latest_version + 1;
            routing_config_version::Entity::insert(routing_config_version::ActiveModel {
                config_id: Set(id),
                version: Set(next),
                config: Set(config),
                created_by: Set(by.map(|u| u.as_uuid())),
                created_at: Set(at),
            })
            .exec_without_returning(&txn)
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => {
                    StoreError::Conflict("routing config version")
                }
                _ => StoreError::Db(e),
            })?;
            stmt = stmt.col_expr(routing_config::Column::LatestVersion, Expr::value(next));
        }
        let done = stmt.exec(&txn).await.map_err(name_conflict)?;
        if done.rows_affected == 0 {
            return Err(StoreError::Conflict("routing config version"));
        }
        txn.commit().await?;
        self.get_routing_config(org, id)
            .await?
            .ok_or(StoreError::NotFound("routing config"))
    }

    /// Keys of `org` whose default config is `id`.
    pub async fn count_keys_using_config(&self, org: OrgId, id: Uuid) -> Result<u64, StoreError> {
        Ok(virtual_key::Entity::find()
            .filter(virtual_key::Column::OrgId.eq(org.as_uuid()))
            .filter(virtual_key::Column::DefaultConfigId.eq(id))
            .count(self.conn())
            .await?)
    }

    /// Deletes a config with all its versions.
    pub async fn delete_routing_config(&self, org: OrgId, id: Uuid) -> Result<(), StoreError> {
        let txn = self.conn().begin().await?;
        if self.config_model(&txn, org, id).await?.is_none() {
            return Err(StoreError::NotFound("routing config"));
        }
        // SQLite enforces the cascade only with foreign keys on; delete versions explicitly.
        routing_config_version::Entity::delete_many()
            .filter(routing_config_version::Column::ConfigId.eq(id))
            .exec(&txn)
            .await?;
        routing_config::Entity::delete_many()
            .filter(routing_config::Column::Id.eq(id))
            .filter(routing_config::Column::OrgId.eq(org.as_uuid()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }
}

//! An organization's own rate limits and budget, and the limits and budget each of its end
//! users (`x-keyway-user`) gets; enforced by the gateway's governance next to key and team
//! limits. An organization without a row has none.

use crate::entities::org_limits;
use crate::virtual_keys::{KeyBudget, KeyLimits};
use crate::{Database, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use keyway_domain::OrgId;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, SqlErr, TransactionTrait};
use serde::Serialize;

/// Limits at the organization's level and at each end user's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrgLimits {
    /// Rate limits of the whole organization.
    pub limits: KeyLimits,
    /// Budget of the whole organization.
    pub budget: Option<KeyBudget>,
    /// Rate limits of each end user.
    pub end_user_limits: KeyLimits,
    /// Budget of each end user.
    pub end_user_budget: Option<KeyBudget>,
    /// Last change (`None` when never set).
    pub updated_at: Option<DateTime<Utc>>,
}

impl OrgLimits {
    /// Whether nothing is limited.
    pub fn is_empty(&self) -> bool {
        self.limits == KeyLimits::default()
            && self.budget.is_none()
            && self.end_user_limits == KeyLimits::default()
            && self.end_user_budget.is_none()
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    value: serde_json::Value,
) -> Result<T, StoreError> {
    serde_json::from_value(value)
        .map_err(|e| StoreError::Invalid(format!("stored org {what} is malformed: {e}")))
}

impl Database {
    /// The organization's limits (empty when never set).
    pub async fn org_limits(&self, org: OrgId) -> Result<OrgLimits, StoreError> {
        let Some(m) = org_limits::Entity::find_by_id(org.as_uuid())
            .one(self.conn())
            .await?
        else {
            return Ok(OrgLimits::default());
        };
        Ok(OrgLimits {
            limits: from_json("limits", m.limits)?,
            budget: m.budget.map(|b| from_json("budget", b)).transpose()?,
            end_user_limits: from_json("end-user limits", m.end_user_limits)?,
            end_user_budget: m
                .end_user_budget
                .map(|b| from_json("end-user budget", b))
                .transpose()?,
            updated_at: Some(m.updated_at),
        })
    }

    /// Replaces the organization's limits.
    pub async fn set_org_limits(
        &self,
        org: OrgId,
        limits: &OrgLimits,
    ) -> Result<OrgLimits, StoreError> {
        let txn = self.conn().begin().await?;
        org_limits::Entity::delete_many()
            .filter(org_limits::Column::OrgId.eq(org.as_uuid()))
            .exec(&txn)
            .await?;
        org_limits::Entity::insert(org_limits::ActiveModel {
            org_id: Set(org.as_uuid()),
            limits: Set(to_json(&limits.limits)?),
            budget: Set(limits.budget.as_ref().map(to_json).transpose()?),
            end_user_limits: Set(to_json(&limits.end_user_limits)?),
            end_user_budget: Set(limits.end_user_budget.as_ref().map(to_json).transpose()?),
            updated_at: Set(Utc::now().trunc_subsecs(6)),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(|e| match e.sql_err() {
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::NotFound("organization"),
            _ => StoreError::Db(e),
        })?;
        txn.commit().await?;
        self.org_limits(org).await
    }
}

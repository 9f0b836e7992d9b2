//! Virtual keys: the secrets callers present to the gateway instead of provider keys.
//!
//! # Key format
//! `kw-` followed by 40 random base62 characters (`A-Z`, `a-z`, `0-9`, about 238 bits of
//! entropy), 43 characters in all. Only the SHA-256 hex of the whole string is stored
//! ([`hash_key`]), plus its first [`DISPLAY_PREFIX_LEN`] characters so users can tell keys apart.
//! The secret itself is returned once, by [`Database::issue_key`] and [`Database::rotate_key`].
//!
//! # Rotation
//! Rotating gives a key a new secret and keeps the old one working until a grace period ends
//! (`previous_hash` / `previous_hash_expires_at`). Rotating again during a grace period ends
//! the older secret's grace at once: at most two secrets work at any time.
//!
//! # The gateway's lookup
//! [`Database::key_by_hash`] is one indexed query that returns a [`KeyPolicy`]: everything the
//! gateway checks per request, including the organization's disabled flag, so the gateway can
//! cache it whole. Every other query filters by organization.

use crate::entities::{organization, virtual_key};
use crate::{Database, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use keyway_domain::{OrgId, Secret, Slug, Usd};
use rand::Rng as _;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, FromQueryResult, IntoActiveModel, JoinType, QueryFilter, QueryOrder, QueryResult,
    QuerySelect, RelationTrait, SqlErr,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// What every virtual key starts with.
pub const KEY_PREFIX: &str = "kw-";
/// Random base62 characters after [`KEY_PREFIX`].
pub const KEY_RANDOM_LEN: usize = 40;
/// Characters of the secret kept in clear for display (`kw-` and nine more).
pub const DISPLAY_PREFIX_LEN: usize = 12;

/// The column this module adds to `organizations`; the organization entity does not map it.
const ORG_DISABLED_AT: &str = "disabled_at";
const ORG_DISABLED_AT_ALIAS: &str = "org_disabled_at";
const ORG_LOG_BODIES: &str = "log_bodies";
const ORG_LOG_BODIES_ALIAS: &str = "org_log_bodies";

/// SHA-256 hex of a presented key: how keys are stored and looked up. A fast hash suffices
/// because keys are long random strings, not passwords.
pub fn hash_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `candidate` has the shape of a Keyway key, so the gateway can refuse garbage
/// without a lookup.
pub fn is_well_formed_key(candidate: &str) -> bool {
    candidate.strip_prefix(KEY_PREFIX).is_some_and(|rest| {
        rest.len() == KEY_RANDOM_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

fn generate_secret() -> Secret<String> {
    let random: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(KEY_RANDOM_LEN)
        .map(char::from)
        .collect();
    Secret::new(format!("{KEY_PREFIX}{random}"))
}

fn display_prefix(secret: &Secret<String>) -> String {
    secret.expose().chars().take(DISPLAY_PREFIX_LEN).collect()
}

pub use keyway_domain::VirtualKeyId;

/// Rate limits of one key; `None` means unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLimits {
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Tokens (input + output) per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
}

/// How often a budget starts over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetPeriod {
    /// Every UTC day.
    Daily,
    /// Every ISO week (UTC).
    Weekly,
    /// Every UTC calendar month.
    Monthly,
    /// Never: a lifetime cap.
    Total,
}

/// A spending cap on one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBudget {
    /// Maximum spend per period.
    pub limit: Usd,
    /// When spending starts over.
    pub period: BudgetPeriod,
}

/// A virtual key as the control plane shows it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualKey {
    /// Identifier.
    pub id: VirtualKeyId,
    /// Owning organization.
    pub org_id: OrgId,
    /// Display name.
    pub name: String,
    /// The secret's first [`DISPLAY_PREFIX_LEN`] characters.
    pub prefix: String,
    /// Team the key belongs to.
    pub team_id: Option<Uuid>,
    /// Model names the key may call; empty allows all.
    pub allowed_models: Vec<String>,
    /// Provider credential slugs the key may use; empty allows all.
    pub allowed_providers: Vec<Slug>,
    /// Rate limits.
    pub limits: KeyLimits,
    /// Spending cap.
    pub budget: Option<KeyBudget>,
    /// Free-form labels, recorded with each request.
    pub metadata: BTreeMap<String, String>,
    /// Routing config used when a request names none.
    pub default_config_id: Option<Uuid>,
    /// Guardrails run on every request with the key, in order.
    pub guardrails: Vec<Uuid>,
    /// When the key stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the key was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// While set and in the future, the secret replaced by the last rotation still works.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last use the gateway reported.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What [`Database::issue_key`] needs; `Default` is an unrestricted key named "".
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    /// Display name (1 to 200 characters).
    pub name: String,
    /// Team the key belongs to.
    pub team_id: Option<Uuid>,
    /// Model names the key may call; empty allows all.
    pub allowed_models: Vec<String>,
    /// Provider credential slugs the key may use; empty allows all.
    pub allowed_providers: Vec<Slug>,
    /// Rate limits.
    pub limits: KeyLimits,
    /// Spending cap.
    pub budget: Option<KeyBudget>,
    /// Free-form labels.
    pub metadata: BTreeMap<String, String>,
    /// Routing config used when a request names none.
    pub default_config_id: Option<Uuid>,
    /// Guardrails run on every request with the key, in order.
    pub guardrails: Vec<Uuid>,
    /// When the key stops working; must be in the future.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A partial change to a key; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    /// New display name.
    pub name: Option<String>,
    /// New team.
    pub team_id: Option<Option<Uuid>>,
    /// New allowed models.
    pub allowed_models: Option<Vec<String>>,
    /// New allowed provider slugs.
    pub allowed_providers: Option<Vec<Slug>>,
    /// New rate limits.
    pub limits: Option<KeyLimits>,
    /// New spending cap.
    pub budget: Option<Option<KeyBudget>>,
    /// New labels (replacing the old ones).
    pub metadata: Option<BTreeMap<String, String>>,
    /// New default routing config.
    pub default_config_id: Option<Option<Uuid>>,
    /// New attached guardrails.
    pub guardrails: Option<Vec<Uuid>>,
    /// New expiry.
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// Everything the gateway needs to authorize a request with a key, as one cacheable value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPolicy {
    /// The key.
    pub key_id: VirtualKeyId,
    /// Its organization.
    pub org_id: OrgId,
    /// Its team.
    pub team_id: Option<Uuid>,
    /// Model names it may call; empty allows all.
    pub allowed_models: Vec<String>,
    /// Provider credential slugs it may use; empty allows all.
    pub allowed_providers: Vec<Slug>,
    /// Rate limits.
    pub limits: KeyLimits,
    /// Spending cap.
    pub budget: Option<KeyBudget>,
    /// Labels recorded with each request.
    pub metadata: BTreeMap<String, String>,
    /// Routing config used when a request names none.
    pub default_config_id: Option<Uuid>,
    /// Guardrails run on every request with the key, in order.
    pub guardrails: Vec<Uuid>,
    /// When the key stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether the key is revoked.
    pub revoked: bool,
    /// Whether its organization is disabled.
    pub org_disabled: bool,
    /// Whether its organization keeps request and response bodies in the logs.
    pub log_bodies: bool,
    /// Set when the presented secret is the one replaced by a rotation: it works until then.
    pub grace_ends_at: Option<DateTime<Utc>>,
}

/// Whether a [`KeyPolicy`] admits requests at a given time, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// The key works.
    Active,
    /// The key was revoked.
    Revoked,
    /// The key's expiry, or its old secret's rotation grace, has passed.
    Expired,
    /// The key's organization is disabled.
    OrgDisabled,
}

impl KeyPolicy {
    /// The key's standing at `now`. A cached policy stays correct as time passes: expiry and
    /// rotation grace are checked here, not only at lookup.
    pub fn status_at(&self, now: DateTime<Utc>) -> KeyStatus {
        if self.revoked {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|t| t <= now)
            || self.grace_ends_at.is_some_and(|t| t <= now)
        {
            KeyStatus::Expired
        } else if self.org_disabled {
            KeyStatus::OrgDisabled
        } else {
            KeyStatus::Active
        }
    }

    /// Whether the key may call `model` (as the request named it). Entries match exactly, or
    /// end in `/*` to allow every model of one provider slug.
    pub fn allows_model(&self, model: &str) -> bool {
        self.allowed_models.is_empty()
            || self.allowed_models.iter().any(|allowed| {
                allowed == model
                    || allowed.strip_suffix("/*").is_some_and(|slug| {
                        model
                            .strip_prefix(slug)
                            .is_some_and(|rest| rest.starts_with('/'))
                    })
            })
    }

    /// Whether the key may use the provider credential `slug`.
    pub fn allows_provider(&self, slug: &str) -> bool {
        self.allowed_providers.is_empty()
            || self.allowed_providers.iter().any(|s| s.as_str() == slug)
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value)
        .map_err(|e| StoreError::Invalid(format!("cannot encode key settings: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    value: serde_json::Value,
) -> Result<T, StoreError> {
    serde_json::from_value(value)
        .map_err(|e| StoreError::Invalid(format!("stored key {what} is malformed: {e}")))
}

fn check_name(name: &str) -> Result<(), StoreError> {
    let len = name.trim().chars().count();
    if len == 0 || len > 200 {
        return Err(StoreError::Invalid(
            "a key name must be 1 to 200 characters".into(),
        ));
    }
    Ok(())
}

fn check_expiry(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<(), StoreError> {
    if expires_at.is_some_and(|t| t <= now) {
        return Err(StoreError::Invalid(
            "a key's expiry must be in the future".into(),
        ));
    }
    Ok(())
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl TryFrom<virtual_key::Model> for VirtualKey {
    type Error = StoreError;
    fn try_from(m: virtual_key::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: VirtualKeyId::from_uuid(m.id),
            org_id: OrgId::from_uuid(m.org_id),
            name: m.name,
            prefix: m.prefix,
            team_id: m.team_id,
            allowed_models: from_json("allowed_models", m.allowed_models)?,
            allowed_providers: from_json("allowed_providers", m.allowed_providers)?,
            limits: from_json("limits", m.limits)?,
            budget: m.budget.map(|b| from_json("budget", b)).transpose()?,
            metadata: from_json("metadata", m.metadata)?,
            default_config_id: m.default_config_id,
            guardrails: m
                .guardrails
                .map(|g| from_json("guardrails", g))
                .transpose()?
                .unwrap_or_default(),
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
            previous_secret_expires_at: m.previous_hash.and(m.previous_hash_expires_at),
            created_at: m.created_at,
            updated_at: m.updated_at,
            last_used_at: m.last_used_at,
        })
    }
}

/// A key row joined with its organization's disabled and body-logging flags.
struct KeyRow {
    key: virtual_key::Model,
    org_disabled_at: Option<DateTime<Utc>>,
    org_log_bodies: bool,
}

impl FromQueryResult for KeyRow {
    fn from_query_result(row: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            key: virtual_key::Model::from_query_result(row, pre)?,
            org_disabled_at: row.try_get(pre, ORG_DISABLED_AT_ALIAS)?,
            org_log_bodies: row.try_get(pre, ORG_LOG_BODIES_ALIAS)?,
        })
    }
}

impl Database {
    /// Issues a key; the secret is in the returned [`Secret`] and nowhere else.
    pub async fn issue_key(
        &self,
        org: OrgId,
        new: NewKey,
    ) -> Result<(VirtualKey, Secret<String>), StoreError> {
        check_name(&new.name)?;
        let now = now();
        check_expiry(new.expires_at, now)?;
        self.check_guardrails_exist(org, &new.guardrails).await?;
        let secret = generate_secret();
        let model = virtual_key::ActiveModel {
            id: Set(VirtualKeyId::new().as_uuid()),
            org_id: Set(org.as_uuid()),
            name: Set(new.name.trim().to_owned()),
            prefix: Set(display_prefix(&secret)),
            hash: Set(hash_key(secret.expose())),
            previous_hash: Set(None),
            previous_hash_expires_at: Set(None),
            team_id: Set(new.team_id),
            allowed_models: Set(to_json(&new.allowed_models)?),
            allowed_providers: Set(to_json(&new.allowed_providers)?),
            limits: Set(to_json(&new.limits)?),
            budget: Set(new.budget.as_ref().map(to_json).transpose()?),
            metadata: Set(to_json(&new.metadata)?),
            default_config_id: Set(new.default_config_id),
            guardrails: Set(Some(to_json(&new.guardrails)?)),
            expires_at: Set(new.expires_at),
            revoked_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            last_used_at: Set(None),
        };
        let inserted = virtual_key::Entity::insert(model)
            .exec_with_returning(self.conn())
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                    StoreError::NotFound("organization")
                }
                _ => StoreError::Db(e),
            })?;
        Ok((inserted.try_into()?, secret))
    }

    /// The organization's keys, newest first, revoked ones included.
    pub async fn list_keys(&self, org: OrgId) -> Result<Vec<VirtualKey>, StoreError> {
        virtual_key::Entity::find()
            .filter(virtual_key::Column::OrgId.eq(org.as_uuid()))
            .order_by_desc(virtual_key::Column::CreatedAt)
            .order_by_desc(virtual_key::Column::Id)
            .all(self.conn())
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    /// One of the organization's keys.
    pub async fn get_key(
        &self,
        org: OrgId,
        id: VirtualKeyId,
    ) -> Result<Option<VirtualKey>, StoreError> {
        self.key_model(org, id)
            .await?
            .map(TryInto::try_into)
            .transpose()
    }

    /// Changes a key's settings; another organization's key is [`StoreError::NotFound`].
    pub async fn update_key(
        &self,
        org: OrgId,
        id: VirtualKeyId,
        update: KeyUpdate,
    ) -> Result<VirtualKey, StoreError> {
        let model = self
            .key_model(org, id)
            .await?
            .ok_or(StoreError::NotFound("virtual key"))?;
        let now = now();
        let mut active = model.into_active_model();
        if let Some(name) = update.name {
            check_name(&name)?;
            active.name = Set(name.trim().to_owned());
        }
        if let Some(team_id) = update.team_id {
            active.team_id = Set(team_id);
        }
        if let Some(models) = update.allowed_models {
            active.allowed_models = Set(to_json(&models)?);
        }
        if let Some(providers) = update.allowed_providers {
            active.allowed_providers = Set(to_json(&providers)?);
        }
        if let Some(limits) = update.limits {
            active.limits = Set(to_json(&limits)?);
        }
        if let Some(budget) = update.budget {
            active.budget = Set(budget.as_ref().map(to_json).transpose()?);
        }
        if let Some(metadata) = update.metadata {
            active.metadata = Set(to_json(&metadata)?);
        }
        if let Some(config) = update.default_config_id {
            active.default_config_id = Set(config);
        }
        if let Some(guardrails) = update.guardrails {
            self.check_guardrails_exist(org, &guardrails).await?;
            active.guardrails = Set(Some(to_json(&guardrails)?));
        }
        if let Some(expires_at) = update.expires_at {
            check_expiry(expires_at, now)?;
            active.expires_at = Set(expires_at);
        }
        active.updated_at = Set(now);
        active.update(self.conn()).await?.try_into()
    }

    /// Deletes a key; another organization's is [`StoreError::NotFound`].
    pub async fn delete_key(&self, org: OrgId, id: VirtualKeyId) -> Result<(), StoreError> {
        let deleted = virtual_key::Entity::delete_many()
            .filter(virtual_key::Column::OrgId.eq(org.as_uuid()))
            .filter(virtual_key::Column::Id.eq(id.as_uuid()))
            .exec(self.conn())
            .await?;
        if deleted.rows_affected == 0 {
            return Err(StoreError::NotFound("virtual key"));
        }
        Ok(())
    }

    /// Revokes a key for good; revoking again keeps the first revocation time. Another
    /// organization's key is [`StoreError::NotFound`].
    pub async fn revoke_key(&self, org: OrgId, id: VirtualKeyId) -> Result<VirtualKey, StoreError> {
        let model = self
            .key_model(org, id)
            .await?
            .ok_or(StoreError::NotFound("virtual key"))?;
        if model.revoked_at.is_some() {
            return model.try_into();
        }
        let now = now();
        let mut active = model.into_active_model();
        active.revoked_at = Set(Some(now));
        active.updated_at = Set(now);
        active.update(self.conn()).await?.try_into()
    }

    /// Gives a key a new secret; the old one keeps working for `grace` (not at all when zero).
    /// A revoked key cannot be rotated; another organization's key is
    /// [`StoreError::NotFound`].
    pub async fn rotate_key(
        &self,
        org: OrgId,
        id: VirtualKeyId,
        grace: Duration,
    ) -> Result<(VirtualKey, Secret<String>), StoreError> {
        let model = self
            .key_model(org, id)
            .await?
            .ok_or(StoreError::NotFound("virtual key"))?;
        if model.revoked_at.is_some() {
            return Err(StoreError::Invalid(
                "a revoked key cannot be rotated".into(),
            ));
        }
        let grace = chrono::Duration::from_std(grace)
            .map_err(|_| StoreError::Invalid("rotation grace period is too long".into()))?;
        let now = now();
        let (previous_hash, previous_expires) = if grace.is_zero() {
            (None, None)
        } else {
            (Some(model.hash.clone()), Some(now + grace))
        };
        let secret = generate_secret();
        // Conditional on the hash we read, so two concurrent rotations cannot both succeed and
        // leave a secret that was handed out but no longer works.
        let updated = virtual_key::Entity::update_many()
            .col_expr(
                virtual_key::Column::Hash,
                Expr::value(hash_key(secret.expose())),
            )
            .col_expr(
                virtual_key::Column::Prefix,
                Expr::value(display_prefix(&secret)),
            )
            .col_expr(
                virtual_key::Column::PreviousHash,
                Expr::value(previous_hash),
            )
            .col_expr(
                virtual_key::Column::PreviousHashExpiresAt,
                Expr::value(previous_expires),
            )
            .col_expr(virtual_key::Column::UpdatedAt, Expr::value(now))
            .filter(virtual_key::Column::OrgId.eq(org.as_uuid()))
            .filter(virtual_key::Column::Id.eq(id.as_uuid()))
            .filter(virtual_key::Column::Hash.eq(model.hash))
            .exec(self.conn())
            .await?;
        if updated.rows_affected == 0 {
            return Err(StoreError::Invalid(
                "the key was rotated or removed concurrently; try again".into(),
            ));
        }
        let key = self
            .get_key(org, id)
            .await?
            .ok_or(StoreError::NotFound("virtual key"))?;
        Ok((key, secret))
    }

    /// The gateway's lookup of a presented key by [`hash_key`]: one indexed query matching the
    /// current secret, or the previous one while its rotation grace lasts. Revoked and expired
    /// keys are returned (with their status) so the gateway can cache the refusal; unknown
    /// hashes and ended graces are `None`.
    pub async fn key_by_hash(&self, hash: &str) -> Result<Option<KeyPolicy>, StoreError> {
        let rows = virtual_key::Entity::find()
            .join(
                JoinType::InnerJoin,
                virtual_key::Relation::Organization.def(),
            )
            .column_as(
                Expr::col((organization::Entity, ORG_DISABLED_AT)),
                ORG_DISABLED_AT_ALIAS,
            )
            .column_as(
                Expr::col((organization::Entity, ORG_LOG_BODIES)),
                ORG_LOG_BODIES_ALIAS,
            )
            .filter(
                Condition::any()
                    .add(virtual_key::Column::Hash.eq(hash))
                    .add(virtual_key::Column::PreviousHash.eq(hash)),
            )
            .limit(2)
            .into_model::<KeyRow>()
            .all(self.conn())
            .await?;
        let now = Utc::now();
        // A hash matches at most one row in practice; should it ever match a current and a
        // previous secret, the current one wins.
        let Some(row) = rows
            .iter()
            .find(|r| r.key.hash == hash)
            .or_else(|| rows.first())
        else {
            return Ok(None);
        };
        let grace_ends_at = if row.key.hash == hash {
            None
        } else {
            match row.key.previous_hash_expires_at {
                Some(end) if end > now => Some(end),
                _ => return Ok(None),
            }
        };
        let key: VirtualKey = row.key.clone().try_into()?;
        Ok(Some(KeyPolicy {
            key_id: key.id,
            org_id: key.org_id,
            team_id: key.team_id,
            allowed_models: key.allowed_models,
            allowed_providers: key.allowed_providers,
            limits: key.limits,
            budget: key.budget,
            metadata: key.metadata,
            default_config_id: key.default_config_id,
            guardrails: key.guardrails,
            expires_at: key.expires_at,
            revoked: key.revoked_at.is_some(),
            org_disabled: row.org_disabled_at.is_some(),
            log_bodies: row.org_log_bodies,
            grace_ends_at,
        }))
    }

    /// Records that the gateway used `keys` by `at` (the gateway batches these off the request
    /// path). A key's time only moves forward.
    pub async fn record_keys_used(
        &self,
        keys: &[VirtualKeyId],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = at.trunc_subsecs(6);
        for chunk in keys.chunks(500) {
            virtual_key::Entity::update_many()
                .col_expr(virtual_key::Column::LastUsedAt, Expr::value(Some(at)))
                .filter(virtual_key::Column::Id.is_in(chunk.iter().map(|k| k.as_uuid())))
                .filter(
                    Condition::any()
                        .add(virtual_key::Column::LastUsedAt.is_null())
                        .add(virtual_key::Column::LastUsedAt.lt(at)),
                )
                .exec(self.conn())
                .await?;
        }
        Ok(())
    }

    /// Disables (or re-enables) an organization: its keys' policies then say
    /// [`KeyStatus::OrgDisabled`]. An unknown organization is [`StoreError::NotFound`].
    pub async fn set_org_disabled(&self, org: OrgId, disabled: bool) -> Result<(), StoreError> {
        let at = disabled.then(now);
        let statement = Query::update()
            .table(organization::Entity)
            .value(ORG_DISABLED_AT, at)
            .and_where(organization::Column::Id.eq(org.as_uuid()))
            .to_owned();
        let result = self.conn().execute(&statement).await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("organization"));
        }
        Ok(())
    }

    async fn key_model(
        &self,
        org: OrgId,
        id: VirtualKeyId,
    ) -> Result<Option<virtual_key::Model>, StoreError> {
        Ok(virtual_key::Entity::find()
            .filter(virtual_key::Column::OrgId.eq(org.as_uuid()))
            .filter(virtual_key::Column::Id.eq(id.as_uuid()))
            .one(self.conn())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(models: &[&str]) -> KeyPolicy {
        KeyPolicy {
            key_id: VirtualKeyId::new(),
            org_id: OrgId::new(),
            team_id: None,
            allowed_models: models.iter().map(|m| (*m).to_owned()).collect(),
            allowed_providers: vec![],
            limits: KeyLimits::default(),
            budget: None,
            metadata: BTreeMap::new(),
            default_config_id: None,
            guardrails: vec![],
            expires_at: None,
            revoked: false,
            org_disabled: false,
            log_bodies: false,
            grace_ends_at: None,
        }
    }

    #[test]
    fn secrets_have_the_documented_shape_and_differ() {
        let a = generate_secret();
        let b = generate_secret();
        assert!(is_well_formed_key(a.expose()), "{}", a.expose());
        assert_eq!(a.expose().len(), KEY_PREFIX.len() + KEY_RANDOM_LEN);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(display_prefix(&a).len(), DISPLAY_PREFIX_LEN);
        assert!(a.expose().starts_with(&display_prefix(&a)));
        assert!(!is_well_formed_key("kw-short"));
        assert!(!is_well_formed_key(&format!("sk-{}", &a.expose()[3..])));
        assert!(!is_well_formed_key(&format!("{}!", &a.expose()[..42])));
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn model_allow_lists_match_exactly_or_by_provider_wildcard() {
        let open = policy(&[]);
        assert!(open.allows_model("anything/at-all"));
        let p = policy(&["openai/gpt-4o-mini", "anthropic/*"]);
        assert!(p.allows_model("openai/gpt-4o-mini"));
        assert!(!p.allows_model("openai/gpt-4o"));
        assert!(p.allows_model("anthropic/claude-sonnet-4"));
        assert!(!p.allows_model("anthropic-eu/claude-sonnet-4"));
        assert!(!p.allows_model("anthropic"));
    }

    #[test]
    fn status_checks_revocation_expiry_grace_and_org() {
        let now = Utc::now();
        let mut p = policy(&[]);
        assert_eq!(p.status_at(now), KeyStatus::Active);
        p.grace_ends_at = Some(now + chrono::Duration::seconds(5));
        assert_eq!(p.status_at(now), KeyStatus::Active);
        assert_eq!(
            p.status_at(now + chrono::Duration::seconds(6)),
            KeyStatus::Expired
        );
        p.grace_ends_at = None;
        p.org_disabled = true;
        assert_eq!(p.status_at(now), KeyStatus::OrgDisabled);
        p.expires_at = Some(now);
        assert_eq!(p.status_at(now), KeyStatus::Expired);
        p.revoked = true;
        assert_eq!(p.status_at(now), KeyStatus::Revoked);
    }
}

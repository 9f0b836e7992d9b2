//! Per-organization price overrides: the price an organization pays (negotiated discounts,
//! self-hosted models, providers the catalog lacks) for a provider kind and model pattern.
//! Patterns match like the shipped catalog's ids: an exact model id, a prefix of dated
//! snapshots, or `*` for every otherwise unknown model of that provider.
//!
//! Prices are integer nano-USD per million tokens. The gateway reads them through a cache;
//! after a change, publish it ([`crate::invalidation::publish_org_change`]).

use crate::entities::price_override;
use crate::{Database, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use keyway_domain::{OrgId, Usd};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, SqlErr,
};
use serde::Serialize;
use uuid::Uuid;

/// Longest provider kind accepted.
pub const MAX_PROVIDER_LEN: usize = 64;
/// Longest model pattern accepted.
pub const MAX_PATTERN_LEN: usize = 200;

/// Prices per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Prices {
    /// Uncached input tokens.
    pub input_per_mtok: Usd,
    /// Output tokens other than reasoning.
    pub output_per_mtok: Usd,
    /// Input tokens read from the provider's cache.
    pub cached_read_per_mtok: Usd,
    /// Input tokens written to the provider's cache.
    pub cache_write_per_mtok: Usd,
    /// Reasoning tokens.
    pub reasoning_per_mtok: Usd,
}

impl Prices {
    /// Input and output only: cached reads and cache writes cost the input price, reasoning
    /// the output price (the catalog's defaults).
    pub fn new(input_per_mtok: Usd, output_per_mtok: Usd) -> Self {
        Self {
            input_per_mtok,
            output_per_mtok,
            cached_read_per_mtok: input_per_mtok,
            cache_write_per_mtok: input_per_mtok,
            reasoning_per_mtok: output_per_mtok,
        }
    }
}

/// One stored override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceOverride {
    /// Identifier.
    pub id: Uuid,
    /// Owning organization.
    pub org_id: OrgId,
    /// Provider kind, e.g. `openai`, `anthropic`.
    pub provider: String,
    /// Model id, prefix or `*`.
    pub model_pattern: String,
    /// The prices.
    pub prices: Prices,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<price_override::Model> for PriceOverride {
    fn from(m: price_override::Model) -> Self {
        Self {
            id: m.id,
            org_id: OrgId::from_uuid(m.org_id),
            provider: m.provider,
            model_pattern: m.model_pattern,
            prices: Prices {
                input_per_mtok: Usd::from_nanos(m.input_nanos_per_mtok),
                output_per_mtok: Usd::from_nanos(m.output_nanos_per_mtok),
                cached_read_per_mtok: Usd::from_nanos(m.cached_read_nanos_per_mtok),
                cache_write_per_mtok: Usd::from_nanos(m.cache_write_nanos_per_mtok),
                reasoning_per_mtok: Usd::from_nanos(m.reasoning_nanos_per_mtok),
            },
            updated_at: m.updated_at,
        }
    }
}

fn check(provider: &str, pattern: &str, prices: &Prices) -> Result<(), StoreError> {
    let bad = |s: &str| s.chars().any(|c| c.is_whitespace() || c.is_control());
    if provider.is_empty() || provider.len() > MAX_PROVIDER_LEN || bad(provider) {
        return Err(StoreError::Invalid(format!(
            "provider must be 1 to {MAX_PROVIDER_LEN} bytes without whitespace"
        )));
    }
    if pattern.is_empty() || pattern.len() > MAX_PATTERN_LEN || bad(pattern) {
        return Err(StoreError::Invalid(format!(
            "model pattern must be 1 to {MAX_PATTERN_LEN} bytes without whitespace"
        )));
    }
    let all = [
        prices.input_per_mtok,
        prices.output_per_mtok,
        prices.cached_read_per_mtok,
        prices.cache_write_per_mtok,
        prices.reasoning_per_mtok,
    ];
    if all.iter().any(|p| p.nanos() < 0) {
        return Err(StoreError::Invalid("prices may not be negative".to_owned()));
    }
    Ok(())
}

impl Database {
    /// Sets the organization's price for `provider` and `model_pattern`, replacing an existing
    /// one for the same pair.
    pub async fn set_price_override(
        &self,
        org: OrgId,
        provider: &str,
        model_pattern: &str,
        prices: Prices,
    ) -> Result<PriceOverride, StoreError> {
        let provider = provider.trim().to_ascii_lowercase();
        let pattern = model_pattern.trim().to_ascii_lowercase();
        check(&provider, &pattern, &prices)?;
        let now = Utc::now().trunc_subsecs(6);
        use price_override::Column as C;
        let existing = price_override::Entity::find()
            .filter(C::OrgId.eq(org.as_uuid()))
            .filter(C::Provider.eq(&provider))
            .filter(C::ModelPattern.eq(&pattern))
            .one(self.conn())
            .await?;
        let saved = match existing {
            Some(row) => {
                let mut row: price_override::ActiveModel = row.into();
                row.input_nanos_per_mtok = Set(prices.input_per_mtok.nanos());
                row.output_nanos_per_mtok = Set(prices.output_per_mtok.nanos());
                row.cached_read_nanos_per_mtok = Set(prices.cached_read_per_mtok.nanos());
                row.cache_write_nanos_per_mtok = Set(prices.cache_write_per_mtok.nanos());
                row.reasoning_nanos_per_mtok = Set(prices.reasoning_per_mtok.nanos());
                row.updated_at = Set(now);
                row.update(self.conn()).await?
            }
            None => {
                let row = price_override::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    org_id: Set(org.as_uuid()),
                    provider: Set(provider),
                    model_pattern: Set(pattern),
                    input_nanos_per_mtok: Set(prices.input_per_mtok.nanos()),
                    output_nanos_per_mtok: Set(prices.output_per_mtok.nanos()),
                    cached_read_nanos_per_mtok: Set(prices.cached_read_per_mtok.nanos()),
                    cache_write_nanos_per_mtok: Set(prices.cache_write_per_mtok.nanos()),
                    reasoning_nanos_per_mtok: Set(prices.reasoning_per_mtok.nanos()),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                price_override::Entity::insert(row)
                    .exec_with_returning(self.conn())
                    .await
                    .map_err(|e| match e.sql_err() {
                        // A concurrent set of the same pair won the race.
                        Some(SqlErr::UniqueConstraintViolation(_)) => {
                            StoreError::Conflict("price override")
                        }
                        Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                            StoreError::NotFound("organization")
                        }
                        _ => StoreError::Db(e),
                    })?
            }
        };
        Ok(saved.into())
    }

    /// The organization's overrides, by provider and pattern.
    pub async fn list_price_overrides(&self, org: OrgId) -> Result<Vec<PriceOverride>, StoreError> {
        use price_override::Column as C;
        Ok(price_override::Entity::find()
            .filter(C::OrgId.eq(org.as_uuid()))
            .order_by_asc(C::Provider)
            .order_by_asc(C::ModelPattern)
            .all(self.conn())
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Deletes the organization's override for `provider` and `model_pattern`; returns whether
    /// there was one.
    pub async fn delete_price_override(
        &self,
        org: OrgId,
        provider: &str,
        model_pattern: &str,
    ) -> Result<bool, StoreError> {
        use price_override::Column as C;
        let done = price_override::Entity::delete_many()
            .filter(C::OrgId.eq(org.as_uuid()))
            .filter(C::Provider.eq(provider.trim().to_ascii_lowercase()))
            .filter(C::ModelPattern.eq(model_pattern.trim().to_ascii_lowercase()))
            .exec(self.conn())
            .await?;
        Ok(done.rows_affected > 0)
    }
}

//! Cost of a request: the shipped price catalog with the organization's own overrides applied
//! (`keyway_store::price_overrides`). Each org's effective catalog is built once and cached
//! in-process, so pricing needs no database round trip on the hot path; a change published on
//! the invalidation channel evicts it, and entries are read again after [`PRICES_TTL`] regardless
//! (by one request, while the others keep using them: [`crate::fresh`]).

use crate::fresh::{Failed, Fresh, STALE_LIMIT, read_through};
use crate::targets::Target;
use keyway_domain::{OrgId, Usd};
use keyway_providers::canonical::Usage;
use keyway_providers::{ModelPrice, PriceCatalog, PriceOverride};
use keyway_store::Database;
use keyway_store::invalidation::Change;
use moka::sync::Cache;
use std::sync::Arc;
use std::time::Duration;

/// How long an org's prices are trusted without an invalidation message.
pub const PRICES_TTL: Duration = Duration::from_secs(60);

/// An organization's prices: the shipped catalog, or a copy with its overrides.
#[derive(Clone)]
pub struct OrgPrices(Option<Arc<PriceCatalog>>);

impl OrgPrices {
    /// The shipped catalog alone.
    pub fn builtin() -> Self {
        Self(None)
    }

    /// Price of `usage` on `target`; unknown models cost zero (and are visible as such).
    pub fn cost(&self, target: &Target, usage: &Usage) -> Usd {
        let catalog = self.0.as_deref().unwrap_or_else(|| PriceCatalog::builtin());
        catalog
            .cost(target.kind().as_str(), &target.model, usage)
            .unwrap_or(Usd::ZERO)
    }
}

/// Per-org prices through an in-process cache.
#[derive(Clone)]
pub struct Prices {
    db: Database,
    cache: Cache<OrgId, Fresh<OrgPrices>>,
}

impl Prices {
    /// A cache over `db`.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            cache: Cache::builder()
                .max_capacity(10_000)
                // Past their freshness, entries still answer while the database cannot.
                .time_to_live(STALE_LIMIT)
                .build(),
        }
    }

    /// The prices `org` pays. Should the database fail, the last prices read (or else the shipped
    /// catalog) price the request (logged), rather than failing it.
    pub async fn for_org(&self, org: OrgId) -> OrgPrices {
        let fetch = || async {
            let rows = self.db.list_price_overrides(org).await?;
            let prices = if rows.is_empty() {
                OrgPrices::builtin()
            } else {
                let overrides: Vec<PriceOverride> = rows
                    .into_iter()
                    .map(|row| PriceOverride {
                        provider: row.provider,
                        model: row.model_pattern,
                        prices: ModelPrice {
                            input_per_mtok: row.prices.input_per_mtok,
                            output_per_mtok: row.prices.output_per_mtok,
                            cached_read_per_mtok: row.prices.cached_read_per_mtok,
                            cache_write_per_mtok: row.prices.cache_write_per_mtok,
                            reasoning_per_mtok: row.prices.reasoning_per_mtok,
                        },
                    })
                    .collect();
                OrgPrices(Some(Arc::new(
                    PriceCatalog::builtin().with_overrides(&overrides),
                )))
            };
            Ok::<_, keyway_store::StoreError>(prices)
        };
        match read_through(&self.cache, &org, PRICES_TTL, fetch).await {
            Ok(prices) => prices,
            Err(Failed { error, stale }) => {
                tracing::warn!(error = %crate::auth::StoreErrorChain(&error), "price overrides unavailable; using the cached or shipped prices");
                stale.unwrap_or_else(OrgPrices::builtin)
            }
        }
    }

    /// Drops cached prices `change` affects.
    pub fn evict(&self, change: &Change) {
        match change {
            Change::Key(_) => {}
            Change::Org(org) => self.cache.invalidate(org),
            Change::All => self.cache.invalidate_all(),
        }
    }
}

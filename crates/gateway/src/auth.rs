//! Step 2 of the pipeline: who is calling. The virtual key comes as `Authorization: Bearer …`
//! (OpenAI SDKs) or `x-api-key` (Anthropic SDKs); it is hashed and looked up through an
//! in-process cache, so the database is off the hot path.
//!
//! A revocation or change reaches every gateway process through the invalidation channel
//! ([`keyway_store::invalidation`]) within milliseconds; cached policies also expire after
//! [`POLICY_TTL`], the backstop should a message be lost (one request re-reads an aged policy
//! while the others keep using it: [`crate::fresh`]). When the database cannot answer, a
//! policy fetched within [`STALE_LIMIT`] keeps serving, so keys keep working through a short
//! outage; a key seen revoked never does, since its cached policy says so.
//!
//! Each key's last use is noted in memory and written to the store in one batch every
//! [`LAST_USED_FLUSH`] ([`KeyAuth::spawn_last_used_writer`]), never on the request path.

use crate::error::GatewayError;
use crate::fresh::{Failed, Fresh, STALE_LIMIT, read_through};
use actix_web::HttpRequest;
use keyway_domain::VirtualKeyId;
use keyway_store::invalidation::Change;
use keyway_store::virtual_keys::{KeyPolicy, KeyStatus, hash_key};
use keyway_store::{Database, StoreError};
use moka::sync::Cache;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a looked-up policy (or a miss) is trusted before asking the database again.
pub const POLICY_TTL: Duration = Duration::from_secs(5);
const CACHE_CAPACITY: u64 = 100_000;
/// How often the keys used since the last write get their `last_used_at` updated.
pub const LAST_USED_FLUSH: Duration = Duration::from_secs(5);

/// Key lookups with an in-process cache in front of the store.
#[derive(Clone)]
pub struct KeyAuth {
    db: Database,
    cache: Cache<String, Fresh<Option<Arc<KeyPolicy>>>>,
    /// Keys used since the last `last_used_at` write.
    used: Arc<Mutex<HashSet<VirtualKeyId>>>,
}

impl KeyAuth {
    /// A cache over `db`.
    pub fn new(db: Database) -> Self {
        // Entries outlive the TTL (up to the stale limit) so an outage can fall back to them;
        // freshness is checked on read.
        let cache = Cache::builder()
            .max_capacity(CACHE_CAPACITY)
            .time_to_live(STALE_LIMIT)
            .support_invalidation_closures()
            .build();
        Self {
            db,
            cache,
            used: Arc::default(),
        }
    }

    /// Drops cached policies `change` affects, so the next request reads the store.
    pub fn evict(&self, change: &Change) {
        match change {
            Change::Key(hash) => self.cache.invalidate(hash),
            Change::Org(org) => {
                let org = *org;
                let dropped = self.cache.invalidate_entries_if(move |_, cached| {
                    cached.value.as_ref().is_some_and(|p| p.org_id == org)
                });
                if dropped.is_err() {
                    self.cache.invalidate_all();
                }
            }
            Change::All => self.cache.invalidate_all(),
        }
    }

    /// Writes the keys used since the previous write every [`LAST_USED_FLUSH`], for as long
    /// as the runtime runs. A failed write is retried with the next batch.
    pub fn spawn_last_used_writer(&self) {
        let (db, used) = (self.db.clone(), self.used.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(LAST_USED_FLUSH);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let keys: Vec<VirtualKeyId> =
                    std::mem::take(&mut *used.lock().unwrap_or_else(PoisonError::into_inner))
                        .into_iter()
                        .collect();
                if keys.is_empty() {
                    continue;
                }
                if let Err(e) = db.record_keys_used(&keys, chrono::Utc::now()).await {
                    tracing::warn!(error = %StoreErrorChain(&e), "recording key use failed; retrying with the next batch");
                    used.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .extend(keys);
                }
            }
        });
    }

    /// The caller's policy, or the 401/403 to answer.
    pub async fn authenticate(&self, req: &HttpRequest) -> Result<Arc<KeyPolicy>, GatewayError> {
        let secret = presented_key(req).ok_or_else(|| {
            GatewayError::invalid_key(
                "Missing API key: send your Keyway key as `Authorization: Bearer <key>` or `x-api-key`.",
            )
        })?;
        let hash = hash_key(secret);
        let policy = self.lookup(&hash).await?.ok_or_else(|| {
            GatewayError::invalid_key("Invalid API key: Keyway does not know this key.")
        })?;
        match policy.status_at(chrono::Utc::now()) {
            KeyStatus::Active => {
                self.used
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(policy.key_id);
                Ok(policy)
            }
            KeyStatus::Revoked => Err(GatewayError::invalid_key(
                "This Keyway key has been revoked.",
            )),
            KeyStatus::Expired => Err(GatewayError::invalid_key("This Keyway key has expired.")),
            KeyStatus::OrgDisabled => Err(GatewayError::forbidden(
                "organization_disabled",
                "The organization that owns this key is disabled.",
            )),
        }
    }

    async fn lookup(&self, hash: &str) -> Result<Option<Arc<KeyPolicy>>, GatewayError> {
        let fetch = || async {
            let policy = self.db.key_by_hash(hash).await?;
            Ok::<_, StoreError>(policy.map(Arc::new))
        };
        match read_through(&self.cache, hash, POLICY_TTL, fetch).await {
            Ok(policy) => Ok(policy),
            Err(Failed {
                error,
                stale: Some(policy),
            }) => {
                tracing::warn!(error = %StoreErrorChain(&error), "key lookup failed; serving the cached policy");
                Ok(policy)
            }
            Err(Failed { error, stale: None }) => {
                tracing::error!(error = %StoreErrorChain(&error), "key lookup failed");
                Err(GatewayError::unavailable(
                    "Keyway cannot verify keys right now; retry shortly.",
                ))
            }
        }
    }
}

/// The key the caller presented, from `Authorization: Bearer` or `x-api-key`.
fn presented_key(req: &HttpRequest) -> Option<&str> {
    let headers = req.headers();
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))?;
        return Some(token.trim()).filter(|t| !t.is_empty());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Formats a store error with its causes, for logs.
pub(crate) struct StoreErrorChain<'a>(pub &'a StoreError);

impl std::fmt::Display for StoreErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = std::error::Error::source(self.0);
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

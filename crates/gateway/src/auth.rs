//! Step 2 of the pipeline: who is calling. The virtual key comes as `Authorization: Bearer …`
//! (OpenAI SDKs) or `x-api-key` (Anthropic SDKs); it is hashed and looked up through an
//! in-process cache, so the database is off the hot path.
//!
//! A revocation or change reaches every gateway process through the invalidation channel
//! ([`keyway_store::invalidation`]) within milliseconds; cached policies also expire after
//! [`POLICY_TTL`], the backstop should a message be lost. When the database cannot answer, a policy fetched within [`STALE_LIMIT`]
//! keeps serving, so keys keep working through a short outage; a key seen revoked never does,
//! since its cached policy says so.

use crate::error::GatewayError;
use actix_web::HttpRequest;
use keyway_store::invalidation::Change;
use keyway_store::virtual_keys::{KeyPolicy, KeyStatus, hash_key};
use keyway_store::{Database, StoreError};
use moka::sync::Cache;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a looked-up policy (or a miss) is trusted before asking the database again.
pub const POLICY_TTL: Duration = Duration::from_secs(5);
/// How long an old policy may keep serving while the database is unreachable.
pub const STALE_LIMIT: Duration = Duration::from_secs(300);
const CACHE_CAPACITY: u64 = 100_000;

#[derive(Clone)]
struct Cached {
    policy: Option<Arc<KeyPolicy>>,
    fetched: Instant,
}

/// Key lookups with an in-process cache in front of the store.
#[derive(Clone)]
pub struct KeyAuth {
    db: Database,
    cache: Cache<String, Cached>,
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
        Self { db, cache }
    }

    /// Drops cached policies `change` affects, so the next request reads the store.
    pub fn evict(&self, change: &Change) {
        match change {
            Change::Key(hash) => self.cache.invalidate(hash),
            Change::Org(org) => {
                let org = *org;
                let dropped = self.cache.invalidate_entries_if(move |_, cached| {
                    cached.policy.as_ref().is_some_and(|p| p.org_id == org)
                });
                if dropped.is_err() {
                    self.cache.invalidate_all();
                }
            }
            Change::All => self.cache.invalidate_all(),
        }
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
            KeyStatus::Active => Ok(policy),
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
        let cached = self.cache.get(hash);
        if let Some(c) = &cached
            && c.fetched.elapsed() < POLICY_TTL
        {
            return Ok(c.policy.clone());
        }
        match self.db.key_by_hash(hash).await {
            Ok(policy) => {
                let policy = policy.map(Arc::new);
                self.cache.insert(
                    hash.to_owned(),
                    Cached {
                        policy: policy.clone(),
                        fetched: Instant::now(),
                    },
                );
                Ok(policy)
            }
            Err(e) => match cached {
                Some(c) => {
                    tracing::warn!(error = %StoreErrorChain(&e), "key lookup failed; serving the cached policy");
                    Ok(c.policy)
                }
                None => {
                    tracing::error!(error = %StoreErrorChain(&e), "key lookup failed");
                    Err(GatewayError::unavailable(
                        "Keyway cannot verify keys right now; retry shortly.",
                    ))
                }
            },
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

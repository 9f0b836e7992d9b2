//! Step 8 of the pipeline: routing. Which config routes a request ([`Routing::select`]), the
//! plan it yields for this request ([`Routing::plan`]), and the executor that runs the plan
//! against the upstreams ([`exec`]).
//!
//! A request is routed by, in order: the `x-keyway-config` header (a config id of the caller's
//! organization, or the config itself as inline JSON; Portkey's `x-portkey-config` too), else the key's default config, else no
//! config at all: the model is addressed as `<provider-slug>/<model>` (or an org alias) and
//! sent once, as before routing existed ([`Plan::direct`]).
//!
//! Stored configs are cached in-process for [`CONFIG_TTL`] and evicted when the control plane
//! announces a change of their organization ([`Routing::evict`]). Target health (latency,
//! errors, circuit breaker) and the process-wide retry budget live here too, shared by every
//! request of the process; with Redis, replicas exchange their health views every
//! [`HEALTH_SYNC_INTERVAL`] ([`Routing::share_health`]), so a circuit one replica opened is
//! respected by the others.

pub mod exec;

use crate::auth::StoreErrorChain;
use crate::error::GatewayError;
use crate::fresh::{Failed, Fresh, STALE_LIMIT, read_through};
use actix_web::HttpRequest;
use keyway_domain::OrgId;
use keyway_domain::routing::{Chooser, Plan, RequestContext, RoutingConfig, Upstream};
use keyway_store::health::{HealthConfig, HealthTable, RetryBudget, SystemClock, TargetKey};
use keyway_store::invalidation::Change;
use keyway_store::virtual_keys::KeyPolicy;
use keyway_store::{Database, Kv};
use moka::sync::Cache;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use uuid::Uuid;

/// Header naming the config (an id, or inline JSON).
pub const CONFIG_HEADER: &str = "x-keyway-config";
/// Header carrying metadata that conditional routing can look at (a JSON object).
pub const METADATA_HEADER: &str = "x-keyway-metadata";
/// Portkey's names for the same two headers, accepted so migrating callers work unchanged.
pub const PORTKEY_CONFIG_HEADER: &str = "x-portkey-config";
/// See [`PORTKEY_CONFIG_HEADER`].
pub const PORTKEY_METADATA_HEADER: &str = "x-portkey-metadata";
/// How long a stored config is reused before one request reads it again.
pub const CONFIG_TTL: Duration = Duration::from_secs(30);
/// Share of requests that retries may add under total upstream failure.
pub const RETRY_BUDGET_RATIO: f64 = 0.2;
/// Retries per second allowed on top of the ratio, so low traffic can still retry.
pub const RETRY_BUDGET_FLOOR_PER_SEC: f64 = 5.0;
/// How often a replica shares its view of target health through Redis and reads the others'.
pub const HEALTH_SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Longest inline config accepted in the header.
const MAX_INLINE_CONFIG: usize = 16 * 1024;

/// The config that routes a request, and where it came from.
#[derive(Clone)]
pub struct Selected {
    /// The parsed config.
    pub config: Arc<RoutingConfig>,
    /// The stored config's id; `None` for an inline config.
    pub id: Option<Uuid>,
}

/// Config selection, the config cache, target health and the retry budget.
#[derive(Clone)]
pub struct Routing {
    db: Database,
    configs: Cache<(OrgId, Uuid), Fresh<Option<Arc<RoutingConfig>>>>,
    /// Per-target health and circuit breakers.
    pub health: HealthTable,
    /// Caps retry load process-wide.
    pub retry_budget: RetryBudget,
    /// What routing did in this process.
    pub stats: Arc<RoutingStats>,
}

/// Counters of what routing did in this process, served at `/metrics`.
#[derive(Debug, Default)]
pub struct RoutingStats {
    retries: AtomicU64,
    fallbacks: AtomicU64,
    cancelled_legs: AtomicU64,
    circuit_rejections: AtomicU64,
}

impl RoutingStats {
    /// A retry was sent.
    pub fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A plan moved on to its next step.
    pub fn fell_back(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// Race or hedge legs still running when another leg won, cancelled upstream.
    pub fn cancelled(&self, legs: usize) {
        self.cancelled_legs
            .fetch_add(u64::try_from(legs).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// A target was skipped because its circuit is open.
    pub fn rejected(&self) {
        self.circuit_rejections.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters in the Prometheus text format.
    pub fn render_prometheus(&self) -> String {
        let metrics = [
            (
                "keyway_routing_retries_total",
                "Upstream retries sent.",
                &self.retries,
            ),
            (
                "keyway_routing_fallbacks_total",
                "Times a routing plan moved on to its next target.",
                &self.fallbacks,
            ),
            (
                "keyway_routing_cancelled_legs_total",
                "Race and hedge legs cancelled because another leg won.",
                &self.cancelled_legs,
            ),
            (
                "keyway_routing_circuit_rejections_total",
                "Attempts skipped because the target's circuit was open.",
                &self.circuit_rejections,
            ),
        ];
        let mut out = String::new();
        for (name, help, value) in metrics {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        out
    }
}

impl Routing {
    /// Routing over `db` with default health settings.
    pub fn new(db: Database) -> Self {
        Self::with_health(db, HealthConfig::default())
    }

    /// Routing over `db` with these circuit-breaker settings.
    pub fn with_health(db: Database, health: HealthConfig) -> Self {
        // Entries outlive their freshness so that an outage can fall back to them.
        let configs = Cache::builder()
            .max_capacity(10_000)
            .time_to_live(STALE_LIMIT)
            .support_invalidation_closures()
            .build();
        Self {
            db,
            configs,
            health: HealthTable::new(health),
            retry_budget: RetryBudget::new(
                RETRY_BUDGET_RATIO,
                RETRY_BUDGET_FLOOR_PER_SEC,
                Arc::new(SystemClock),
            ),
            stats: Arc::default(),
        }
    }

    /// Drops cached configs of the organization `change` names (all for [`Change::All`]).
    pub fn evict(&self, change: &Change) {
        match change {
            Change::Key(_) => {}
            Change::Org(org) => {
                let org = *org;
                if self
                    .configs
                    .invalidate_entries_if(move |(o, _), _| *o == org)
                    .is_err()
                {
                    self.configs.invalidate_all();
                }
            }
            Change::All => self.configs.invalidate_all(),
        }
    }

    /// Publishes this replica's target health to Redis and merges the other replicas' views,
    /// every [`HEALTH_SYNC_INTERVAL`] until the returned handle is dropped. `None` on in-process
    /// state, where there is no other replica.
    pub fn share_health(&self, kv: &Kv) -> Option<HealthSync> {
        if matches!(kv, Kv::Memory(_)) {
            return None;
        }
        let replica = Uuid::now_v7().to_string();
        let (health, kv) = (self.health.clone(), kv.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEALTH_SYNC_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // A Redis blip only delays sharing; local decisions go on meanwhile.
                if let Err(e) = health.publish(&kv, &replica).await {
                    tracing::debug!(error = %e, "publishing target health failed");
                }
                if let Err(e) = health.merge(&kv, &replica).await {
                    tracing::debug!(error = %e, "reading other replicas' target health failed");
                }
            }
        });
        Some(HealthSync(task))
    }

    /// The config routing this request: the header's, else the key's default, else none.
    pub async fn select(
        &self,
        req: &HttpRequest,
        policy: &KeyPolicy,
    ) -> Result<Option<Selected>, GatewayError> {
        let headers = req.headers();
        let header = match headers
            .get(CONFIG_HEADER)
            .or_else(|| headers.get(PORTKEY_CONFIG_HEADER))
        {
            Some(v) => Some(v.to_str().map_err(|_| {
                GatewayError::bad_request(
                    "`x-keyway-config` must be a config id or JSON text.",
                    Some(CONFIG_HEADER),
                )
            })?),
            None => None,
        };
        match header.map(str::trim).filter(|h| !h.is_empty()) {
            Some(inline) if inline.starts_with('{') => inline_config(inline).map(Some),
            Some(id) => {
                let id = Uuid::parse_str(id).map_err(|_| config_not_found(id))?;
                self.stored(policy.org_id, id).await.map(Some)
            }
            None => match policy.default_config_id {
                Some(id) => self.stored(policy.org_id, id).await.map(Some),
                None => Ok(None),
            },
        }
    }

    /// A stored config of `org`, through the cache; another organization's answers 404.
    async fn stored(&self, org: OrgId, id: Uuid) -> Result<Selected, GatewayError> {
        let fetch = || self.fetch(org, id);
        let config = read_through(&self.configs, &(org, id), CONFIG_TTL, fetch)
            .await
            .or_else(Failed::or_stale)?;
        let config = config.ok_or_else(|| config_not_found(&id.to_string()))?;
        Ok(Selected {
            config,
            id: Some(id),
        })
    }

    async fn fetch(
        &self,
        org: OrgId,
        id: Uuid,
    ) -> Result<Option<Arc<RoutingConfig>>, GatewayError> {
        let record = self.db.get_routing_config(org, id).await.map_err(|e| {
            tracing::error!(error = %StoreErrorChain(&e), "loading a routing config failed");
            GatewayError::unavailable(
                "Keyway cannot load routing configs right now; retry shortly.",
            )
        })?;
        let Some(record) = record else {
            return Ok(None);
        };
        // Stored configs were validated when saved; one that no longer parses (a schema change)
        // is reported, not silently skipped.
        RoutingConfig::from_value(record.config)
            .map(|c| Some(Arc::new(c)))
            .map_err(|e| {
                GatewayError::bad_request(
                    format!("Routing config `{id}` is not valid: {e}"),
                    Some(CONFIG_HEADER),
                )
            })
    }

    /// The attempt plan of `config` for this request, with load balancing weighted by health.
    pub fn plan(
        &self,
        config: &RoutingConfig,
        ctx: &RequestContext,
        org: OrgId,
        requested_model: &str,
    ) -> Plan {
        let mut chooser = HealthChooser {
            health: &self.health,
            org: org.to_string(),
            requested_model,
        };
        config.plan(ctx, &mut chooser)
    }
}

/// The background health exchange of [`Routing::share_health`]; dropping it stops it.
pub struct HealthSync(tokio::task::JoinHandle<()>);

impl Drop for HealthSync {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What conditions may look at: the metadata header, the body, the headers and the path.
pub fn request_context(req: &HttpRequest, body: &[u8]) -> Result<RequestContext, GatewayError> {
    let header = req
        .headers()
        .get(METADATA_HEADER)
        .or_else(|| req.headers().get(PORTKEY_METADATA_HEADER));
    let metadata = match header {
        Some(v) => {
            let text = v.to_str().map_err(|_| {
                GatewayError::bad_request(
                    "`x-keyway-metadata` must be JSON text.",
                    Some(METADATA_HEADER),
                )
            })?;
            RequestContext::parse_metadata(text)
                .map_err(|e| GatewayError::bad_request(e, Some(METADATA_HEADER)))?
        }
        None => serde_json::Map::new(),
    };
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .filter(|(name, _)| !is_secret_header(name.as_str()))
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    Ok(RequestContext {
        metadata,
        params: serde_json::from_slice(body).unwrap_or(serde_json::Value::Null),
        headers,
        url_path: req.path().to_owned(),
    })
}

/// Headers conditions never see: the caller's credentials.
fn is_secret_header(name: &str) -> bool {
    matches!(name, "authorization" | "x-api-key" | "cookie")
}

fn inline_config(text: &str) -> Result<Selected, GatewayError> {
    if text.len() > MAX_INLINE_CONFIG {
        return Err(GatewayError::bad_request(
            "The inline config in `x-keyway-config` is too large; store it and send its id.",
            Some(CONFIG_HEADER),
        ));
    }
    let config = RoutingConfig::parse(text).map_err(|e| {
        GatewayError::bad_request(
            format!("Invalid config in `x-keyway-config`: {e}"),
            Some(CONFIG_HEADER),
        )
    })?;
    Ok(Selected {
        config: Arc::new(config),
        id: None,
    })
}

fn config_not_found(id: &str) -> GatewayError {
    GatewayError::not_found(
        "config_not_found",
        format!("No routing config `{id}` in this organization."),
    )
}

/// The health-table key of an upstream as the planner names it: its credential and model, or
/// the request's own `<provider-slug>/<model>` parts.
pub fn target_key(org: &str, upstream: &Upstream, requested_model: &str) -> TargetKey {
    let (slug, model) = requested_model
        .split_once('/')
        .unwrap_or(("", requested_model));
    TargetKey::new(
        org,
        upstream.credential.as_deref().unwrap_or(slug),
        upstream.model.as_deref().unwrap_or(model),
    )
}

/// Randomness from the thread RNG, health from the process's table.
struct HealthChooser<'a> {
    health: &'a HealthTable,
    org: String,
    requested_model: &'a str,
}

impl Chooser for HealthChooser<'_> {
    fn random(&mut self) -> f64 {
        rand::random::<f64>()
    }

    fn health(&self, upstream: &Upstream) -> f64 {
        self.health
            .multiplier(&target_key(&self.org, upstream, self.requested_model))
    }
}

//! Data plane: the OpenAI- and Anthropic-compatible endpoints under `/v1`.
//!
//! The request pipeline, in order (numbers follow `shared/ARCHITECTURE.md`; steps not listed
//! here are not built yet and pass through):
//!
//! 1. Request id (`x-keyway-request-id`), body-size limit (the server's `PayloadConfig`),
//!    TCP_NODELAY and header/idle timeouts (the server's listener settings).
//! 2. Authentication of the virtual key through an in-process cache ([`auth`]), kept fresh by
//!    the control plane's invalidation messages ([`GatewayState::listen_for_changes`]).
//! 3. Input limits (body size: [`body`]; nesting depth, message count, max tokens: [`limits`]), then parsing the
//!    body for its surface into the canonical request; unknown fields (including any attempt
//!    to name upstream URLs, keys or headers) are refused ([`chat`], [`completions`],
//!    [`responses`]).
//! 4. Prompt rendering for `/v1/prompts/{slug}/render` and `/completions` ([`prompts`]): the
//!    org's stored version (label, number, or `production` else newest), cached in-process and
//!    evicted on change messages; completions then continue as a chat request from step 3.
//!    These two routes alone answer the dashboard's origin cross-origin, for its playground
//!    ([`cors`]).
//! 5. Input guardrails ([`guardrails`]): the key's guardrails check the message text; `deny`
//!    ends the request with 446, `redact` rewrites the text before it goes upstream, `flag` and
//!    `redact` are listed in `x-keyway-guardrails` and the request's log. Output checks run in
//!    step 9 on the answer (streams with output checks are buffered until complete).
//! 6. Rate limits (RPM/TPM) and budget reservation at the end user's (`x-keyway-user`), key's,
//!    team's and organization's level, settled to the real cost when the request ends
//!    ([`governance`]).
//! 8. Routing ([`routing`]): the config from `x-keyway-config` (id or inline JSON) or the key's
//!    default becomes an attempt plan (fallback, load balance weighted by target health,
//!    conditions on `x-keyway-metadata`, race, hedge, canary); without a config the model is
//!    addressed as `<provider-slug>/<model>` or an org alias ([`targets`]). The executor
//!    ([`routing::exec`]) runs the plan with per-attempt timeouts, retries (jittered backoff,
//!    `retry-after`, a process-wide retry budget) and circuit breaking, all before the first
//!    byte reaches the client.
//! 9. Provider call through the SSRF-safe pooled client ([`upstream`]); streams relayed event by
//!    event with translation; a cut stream ends with an explicit error event.
//! 10. Cost from the org's prices (catalog plus overrides, cached: [`prices`]); one request
//!     event per request to the analytics sink, never blocking ([`record`]).
//! 11. Response headers `x-keyway-request-id`, `-provider`, `-model`, `-cache`, `-retries`,
//!     `-fallback-index`, `-cost-usd`.

pub mod alerts;
pub mod auth;
pub mod body;
pub mod chat;
pub mod completions;
pub mod cors;
pub mod embeddings;
pub mod error;
pub mod fresh;
pub mod governance;
pub mod guardrails;
pub mod limits;
pub mod models;
pub mod prices;
pub mod prompts;
pub mod record;
pub mod responses;
pub mod routing;
pub mod targets;
pub mod upstream;

use actix_web::{HttpResponse, http::Method, web};
use keyway_analytics::EventSink;
use keyway_store::{Database, Kv, MasterKey};
use serde_json::json;
use std::sync::Arc;

/// Everything the gateway's handlers share; built once per process.
pub struct GatewayState {
    /// Virtual-key authentication.
    pub auth: auth::KeyAuth,
    /// Model -> provider credential resolution.
    pub targets: targets::Targets,
    /// Pooled, SSRF-safe upstream HTTP client.
    pub upstream: upstream::UpstreamClient,
    /// Where request events go.
    pub events: EventSink,
    /// Per-org prices (catalog plus overrides).
    pub prices: prices::Prices,
    /// Input limits (messages, nesting, max tokens).
    pub limits: limits::InputLimits,
    /// The cache-invalidation subscription, once [`GatewayState::listen_for_changes`] ran.
    invalidations: Option<keyway_store::invalidation::Listener>,
    /// Rate limits and budgets.
    pub governance: governance::Governance,
    /// Routing configs, target health and the retry budget.
    pub routing: routing::Routing,
    /// Stored prompts and partials.
    pub prompts: prompts::Prompts,
    /// Stored guardrails.
    pub guardrails: guardrails::Guardrails,
    /// The health exchange with other replicas, once [`GatewayState::share_health`] ran.
    health_sync: Option<routing::HealthSync>,
    /// The dashboard's origin, allowed to call the prompt endpoints from its playground.
    pub dashboard_origin: cors::DashboardOrigin,
}

impl GatewayState {
    /// Builds the gateway's state over the control-plane database.
    pub fn new(
        db: Database,
        master_key: Arc<MasterKey>,
        events: EventSink,
        upstream: &upstream::UpstreamConfig,
    ) -> Result<Self, upstream::UpstreamError> {
        let upstream = upstream::UpstreamClient::new(upstream)?;
        Ok(Self {
            auth: auth::KeyAuth::new(db.clone()),
            prices: prices::Prices::new(db.clone()),
            governance: governance::Governance::in_process(db.clone()),
            routing: routing::Routing::new(db.clone()),
            prompts: prompts::Prompts::new(db.clone()),
            guardrails: guardrails::Guardrails::new(db.clone(), upstream.clone()),
            targets: targets::Targets::new(db, master_key),
            upstream,
            events,
            limits: limits::InputLimits::default(),
            invalidations: None,
            health_sync: None,
            dashboard_origin: cors::DashboardOrigin::default(),
        })
    }

    /// Subscribes to the control plane's change messages on `kv` (Redis pub/sub, or the
    /// in-process bus), evicting cached key policies, credentials, prices, limits, routing
    /// configs, prompts and guardrails as they change. Call it after [`GatewayState::with_governance`].
    pub async fn listen_for_changes(&mut self, kv: &Kv) {
        let auth = self.auth.clone();
        let targets = self.targets.clone();
        let prices = self.prices.clone();
        let governance = self.governance.clone();
        let routing = self.routing.clone();
        let prompts = self.prompts.clone();
        let guardrails = self.guardrails.clone();
        let listener = keyway_store::invalidation::listen(kv, move |change| {
            auth.evict(&change);
            targets.evict(&change);
            prices.evict(&change);
            governance.evict(&change);
            routing.evict(&change);
            prompts.evict(&change);
            guardrails.evict(&change);
        })
        .await;
        self.invalidations = Some(listener);
    }

    /// Shares target health (circuit breakers, error rates, latency) with the other gateway
    /// processes through Redis; nothing to share on in-process state.
    pub fn share_health(&mut self, kv: &Kv) {
        self.health_sync = self.routing.share_health(kv);
    }

    /// Replaces the default input limits.
    #[must_use]
    pub fn with_limits(mut self, limits: limits::InputLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Lets the dashboard at `url` call the prompt endpoints from the browser ([`cors`]).
    #[must_use]
    pub fn with_dashboard_origin(mut self, url: Option<&str>) -> Self {
        self.dashboard_origin = cors::DashboardOrigin::from_url(url);
        self
    }

    /// Replaces the limiter (the server passes the process's shared one, over Redis when
    /// configured).
    #[must_use]
    pub fn with_governance(mut self, governance: governance::Governance) -> Self {
        self.governance = governance;
        self
    }
}

/// Mounts the gateway's routes; `state` must be registered as `web::Data<GatewayState>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1")
            .route("/chat/completions", web::post().to(chat::chat_completions))
            .route("/messages", web::post().to(chat::messages))
            .route("/completions", web::post().to(chat::completions))
            .route("/responses", web::post().to(chat::responses))
            .route("/embeddings", web::post().to(embeddings::embeddings))
            .service(
                web::resource("/prompts/{slug}/render")
                    .wrap_fn(cors::allow_dashboard)
                    .route(web::post().to(prompts::render))
                    .route(web::method(Method::OPTIONS).to(cors::preflight)),
            )
            .service(
                web::resource("/prompts/{slug}/completions")
                    .wrap_fn(cors::allow_dashboard)
                    .route(web::post().to(prompts::completions))
                    .route(web::method(Method::OPTIONS).to(cors::preflight)),
            )
            .route("/models", web::get().to(models::list))
            .default_service(web::to(unknown_route)),
    );
}

async fn unknown_route(req: actix_web::HttpRequest) -> HttpResponse {
    HttpResponse::NotFound().json(json!({
        "error": {
            "message": format!("Unknown request URL: {} {}", req.method(), req.path()),
            "type": "invalid_request_error",
            "param": null,
            "code": "unknown_url",
        }
    }))
}

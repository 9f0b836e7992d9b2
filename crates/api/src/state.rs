//! What the control plane's handlers share: the stores, the mailer and the token keys.

use crate::auth::jwt::JwtKeys;
use keyway_analytics::AnalyticsStore;
use keyway_mailer::Mailer;
use keyway_store::limits::{LimitOptions, Limits};
use keyway_store::{Database, Kv, MasterKey};
use std::sync::Arc;

/// Shared handles, cheap to clone; registered as `web::Data<ApiState>` on the API port.
#[derive(Clone)]
pub struct ApiState {
    /// Control-plane database.
    pub db: Database,
    /// Request analytics (queries).
    pub analytics: AnalyticsStore,
    /// Throttling counters (and key-change notifications to gateways).
    pub kv: Kv,
    /// Budgets' spend (the process's shared limiter: see [`ApiState::with_limits`]).
    pub limits: Limits,
    /// Outgoing e-mail.
    pub mailer: Arc<Mailer>,
    /// Seals provider secrets.
    pub master_key: Arc<MasterKey>,
    /// Signs and checks access tokens.
    pub jwt: Arc<JwtKeys>,
    /// Public base URL of the dashboard and API, for links in e-mails (no trailing slash).
    pub public_url: String,
    /// Whether credentials may point at private addresses (self-hosted upstreams, the mock).
    pub allow_private_upstreams: bool,
}

impl ApiState {
    /// Builds the state; the token signing key derives from the master key.
    pub fn new(
        db: Database,
        analytics: AnalyticsStore,
        kv: Kv,
        mailer: Arc<Mailer>,
        master_key: Arc<MasterKey>,
        public_url: String,
        allow_private_upstreams: bool,
    ) -> Self {
        let jwt = Arc::new(JwtKeys::from_master_key(&master_key));
        Self {
            db,
            analytics,
            limits: Limits::new(&kv, LimitOptions::default()),
            kv,
            mailer,
            master_key,
            jwt,
            public_url: public_url.trim_end_matches('/').to_owned(),
            allow_private_upstreams,
        }
    }

    /// Uses the process's shared limiter, so spend shown here is the spend the gateway enforces
    /// (on the embedded default the limiter's state is in-process).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether cookies should carry the `Secure` attribute.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

//! One struct per settings section, each with its defaults and its own `validate`.

use crate::ConfigError;
use base64::Engine as _;
use keyway_domain::Secret;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

fn check_scheme(key: &'static str, url: Option<&str>, schemes: &[&str]) -> Result<(), ConfigError> {
    match url {
        Some(url) if !schemes.iter().any(|s| url.starts_with(&format!("{s}://"))) => Err(invalid(
            key,
            format!(
                "expected a URL starting with {}",
                schemes.join("://, ") + "://"
            ),
        )),
        _ => Ok(()),
    }
}

/// `[server]`: where Keyway listens and keeps its files.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Dashboard + control-plane API listener.
    pub api_addr: SocketAddr,
    /// Gateway (data plane) listener.
    pub gateway_addr: SocketAddr,
    /// State of the embedded default: SQLite files, outbox, generated master key.
    pub data_dir: PathBuf,
    /// Public URL of the API/dashboard as users reach it (links in e-mails); defaults to `api_addr`.
    pub public_api_url: Option<String>,
    /// Public URL of the gateway as SDKs reach it (snippets); defaults to `gateway_addr`.
    pub public_gateway_url: Option<String>,
    /// Directory holding the built dashboard assets (`pkg/`, stylesheet).
    pub site_root: PathBuf,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            api_addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            gateway_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./keyway-data"),
            public_api_url: None,
            public_gateway_url: None,
            site_root: PathBuf::from("target/site"),
            shutdown_grace_secs: 30,
        }
    }
}

impl ServerSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.api_addr == self.gateway_addr && self.api_addr.port() != 0 {
            return Err(invalid(
                "server.gateway_addr",
                "must differ from server.api_addr",
            ));
        }
        if self.shutdown_grace_secs > 3600 {
            return Err(invalid(
                "server.shutdown_grace_secs",
                "at most 3600 seconds",
            ));
        }
        check_scheme(
            "server.public_api_url",
            self.public_api_url.as_deref(),
            &["http", "https"],
        )?;
        check_scheme(
            "server.public_gateway_url",
            self.public_gateway_url.as_deref(),
            &["http", "https"],
        )
    }
}

/// `[database]`: the control-plane database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `postgres://…` or `sqlite://…`; unset means a SQLite file in the data directory.
    pub url: Option<Secret<String>>,
    /// Connection pool size.
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
        }
    }
}

impl DatabaseSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let url = self.url.as_ref().map(|u| u.expose().as_str());
        check_scheme("database.url", url, &["postgres", "postgresql", "sqlite"])?;
        if self.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        Ok(())
    }
}

/// `[redis]`: shared state for limits, budgets, cache and invalidation across replicas.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// `redis://…` or `rediss://…`; unset means in-process state (single node).
    pub url: Option<Secret<String>>,
    /// Prefix of every key Keyway writes, so deployments (and tests) can share one Redis.
    pub key_prefix: String,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: None,
            key_prefix: "keyway:".into(),
        }
    }
}

impl RedisSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let url = self.url.as_ref().map(|u| u.expose().as_str());
        check_scheme("redis.url", url, &["redis", "rediss"])
    }
}

/// `[clickhouse]`: the analytics store at scale.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseSettings {
    /// HTTP(S) URL of ClickHouse; unset means the SQL analytics store.
    pub url: Option<String>,
    /// Database holding Keyway's tables.
    pub database: String,
    /// User name, when the server requires one.
    pub user: Option<String>,
    /// Password, when the server requires one.
    pub password: Option<Secret<String>>,
    /// Cluster name: migrations then use `ON CLUSTER` and Replicated/Distributed tables.
    pub cluster: Option<String>,
}

impl Default for ClickHouseSettings {
    fn default() -> Self {
        Self {
            url: None,
            database: "keyway".into(),
            user: None,
            password: None,
            cluster: None,
        }
    }
}

impl ClickHouseSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        check_scheme("clickhouse.url", self.url.as_deref(), &["http", "https"])?;
        let ident_ok =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident_ok(&self.database) {
            return Err(invalid(
                "clickhouse.database",
                "use letters, digits and '_' only",
            ));
        }
        if let Some(cluster) = &self.cluster
            && !ident_ok(cluster)
        {
            return Err(invalid(
                "clickhouse.cluster",
                "use letters, digits and '_' only",
            ));
        }
        Ok(())
    }
}

/// `[analytics]`: how request events are batched, and the SQL store of the embedded default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsSettings {
    /// SQL analytics database when ClickHouse is not configured; see `Settings::analytics_sql_url`.
    pub sql_url: Option<Secret<String>>,
    /// Events buffered in memory before new ones are counted as dropped.
    pub channel_capacity: usize,
    /// Rows per insert.
    pub batch_size: usize,
    /// Longest time an event waits before its batch is written.
    pub flush_interval_ms: u64,
    /// Bound of the on-disk spool (`<data_dir>/analytics-spool`) that keeps batches while the
    /// analytics backend is unreachable; 0 disables the spool (failed batches are dropped).
    pub spool_max_bytes: u64,
    /// Longest a single analytics write may take before the batch is spooled.
    pub write_timeout_ms: u64,
    /// How often the spool is retried while the backend is failing.
    pub retry_interval_ms: u64,
    /// How often each organization's data retention is enforced (by API processes).
    pub retention_interval_secs: u64,
}

impl Default for AnalyticsSettings {
    fn default() -> Self {
        Self {
            sql_url: None,
            channel_capacity: 100_000,
            batch_size: 1_000,
            flush_interval_ms: 1_000,
            spool_max_bytes: 256 * 1024 * 1024,
            write_timeout_ms: 30_000,
            retry_interval_ms: 5_000,
            retention_interval_secs: 3_600,
        }
    }
}

impl AnalyticsSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let url = self.sql_url.as_ref().map(|u| u.expose().as_str());
        check_scheme(
            "analytics.sql_url",
            url,
            &["postgres", "postgresql", "sqlite"],
        )?;
        if self.batch_size == 0 || self.channel_capacity < self.batch_size {
            return Err(invalid(
                "analytics.batch_size",
                "must be at least 1 and at most analytics.channel_capacity",
            ));
        }
        if self.flush_interval_ms == 0 {
            return Err(invalid("analytics.flush_interval_ms", "must be at least 1"));
        }
        if self.write_timeout_ms == 0 {
            return Err(invalid("analytics.write_timeout_ms", "must be at least 1"));
        }
        if self.retry_interval_ms == 0 {
            return Err(invalid("analytics.retry_interval_ms", "must be at least 1"));
        }
        Ok(())
    }
}

/// `[smtp]`: outgoing e-mail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// `smtp://user:pass@host:port` or `smtps://…`; unset means `.eml` files in the outbox.
    pub url: Option<Secret<String>>,
    /// Sender of every message.
    pub from: String,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            url: None,
            from: "Keyway <noreply@keyway.localhost>".into(),
        }
    }
}

impl SmtpSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let url = self.url.as_ref().map(|u| u.expose().as_str());
        check_scheme("smtp.url", url, &["smtp", "smtps"])?;
        if !self.from.contains('@') {
            return Err(invalid("smtp.from", "must be an e-mail address"));
        }
        Ok(())
    }
}

/// `[security]`: the master key that wraps every stored secret's data key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    /// 32 random bytes, base64. Unset in the embedded default: one is generated into the data
    /// directory on first start (production must set `KEYWAY_MASTER_KEY`).
    pub master_key: Option<Secret<String>>,
}

impl SecuritySettings {
    /// Length of the master key in bytes (AES-256).
    pub const MASTER_KEY_LEN: usize = 32;

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(key) = &self.master_key {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(key.expose().trim())
                .map_err(|_| invalid("security.master_key", "must be base64"))?;
            if bytes.len() != Self::MASTER_KEY_LEN {
                return Err(invalid(
                    "security.master_key",
                    format!("must decode to {} bytes", Self::MASTER_KEY_LEN),
                ));
            }
        }
        Ok(())
    }
}

/// `[gateway]`: data-plane limits and upstream policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySettings {
    /// Allow upstreams on loopback/private networks (the mock provider, self-hosted vLLM/Ollama).
    pub allow_private_upstreams: bool,
    /// PEM file of certificate authorities to trust for upstream HTTPS besides the system's
    /// (an internal CA in front of self-hosted models; the mock provider's `--tls-ca-out`).
    pub upstream_ca_file: Option<PathBuf>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Most messages (Responses input items) in one request.
    pub max_messages: usize,
    /// Deepest JSON nesting (objects and arrays) of a request body.
    pub max_json_depth: usize,
    /// Largest accepted `max_tokens` / `max_output_tokens`.
    pub max_tokens: u32,
    /// Rate limits and budgets.
    pub limits: LimitsSettings,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            allow_private_upstreams: false,
            upstream_ca_file: None,
            max_body_bytes: 8 * 1024 * 1024,
            max_messages: 4096,
            max_json_depth: 64,
            max_tokens: 262_144,
            limits: LimitsSettings::default(),
        }
    }
}

/// What the gateway does with limits and budgets while Redis is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitsFallback {
    /// Refuse requests (503) until Redis answers again.
    FailClosed,
    /// Enforce in-process: each rate limit scaled by `local_rate_share`, and at most
    /// `local_budget_usd` of spend per level and period in this process.
    LocalAllowance,
}

/// `[gateway.limits]`: rate limits and budgets (stored per key and team; these are the
/// process's mechanics).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSettings {
    /// Window of the per-minute limits, in milliseconds (60000; tests shorten it).
    pub rate_window_ms: u64,
    /// Longest wait for Redis on the request path, in milliseconds.
    pub redis_timeout_ms: u64,
    /// Behaviour while Redis is unreachable; Keyway probes it again every second and recovers
    /// by itself.
    pub on_redis_down: LimitsFallback,
    /// Share of each rate limit one process may use alone in `local_allowance` mode (0-1].
    pub local_rate_share: f64,
    /// Spend one process may allow per level and period in `local_allowance` mode (decimal USD).
    #[serde(deserialize_with = "decimal_text")]
    pub local_budget_usd: String,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        Self {
            rate_window_ms: 60_000,
            redis_timeout_ms: 250,
            on_redis_down: LimitsFallback::FailClosed,
            local_rate_share: 1.0,
            local_budget_usd: "1".into(),
        }
    }
}

impl GatewaySettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_body_bytes < 1024 {
            return Err(invalid("gateway.max_body_bytes", "at least 1024 bytes"));
        }
        if self.max_messages == 0 {
            return Err(invalid("gateway.max_messages", "at least 1"));
        }
        // serde_json refuses nesting past 128 on its own; a larger limit would never apply.
        if !(2..=128).contains(&self.max_json_depth) {
            return Err(invalid("gateway.max_json_depth", "between 2 and 128"));
        }
        if self.max_tokens == 0 {
            return Err(invalid("gateway.max_tokens", "at least 1"));
        }
        if self.limits.rate_window_ms < 100 {
            return Err(invalid("gateway.limits.rate_window_ms", "at least 100 ms"));
        }
        if self.limits.redis_timeout_ms == 0 {
            return Err(invalid("gateway.limits.redis_timeout_ms", "more than 0 ms"));
        }
        if !(self.limits.local_rate_share > 0.0 && self.limits.local_rate_share <= 1.0) {
            return Err(invalid(
                "gateway.limits.local_rate_share",
                "a share in (0, 1]",
            ));
        }
        if keyway_domain::Usd::parse_decimal(&self.limits.local_budget_usd)
            .map_or(true, |u| u.nanos() < 0)
        {
            return Err(invalid(
                "gateway.limits.local_budget_usd",
                "a decimal amount of USD >= 0",
            ));
        }
        Ok(())
    }
}

/// A decimal amount written as a string or as a number: environment variables (`"2.50"`) reach
/// serde as numbers, TOML may hold either. Kept as text so it parses exactly as USD.
fn decimal_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Decimal {
        Text(String),
        Int(i64),
        Float(f64),
    }
    Ok(match Decimal::deserialize(d)? {
        Decimal::Text(s) => s,
        Decimal::Int(n) => n.to_string(),
        Decimal::Float(f) => f.to_string(),
    })
}

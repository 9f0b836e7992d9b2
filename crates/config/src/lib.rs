//! Keyway's one typed [`Settings`].
//!
//! Layers, later ones winning: built-in defaults, an optional TOML file, `KEYWAY_*` environment
//! variables, then command-line flags (merged by the binary through [`Settings::figment`]).
//! Unknown keys are rejected at every layer, and [`Settings::validate`] checks what types cannot.
//!
//! Environment variables are `KEYWAY_<SECTION>__<KEY>` (e.g. `KEYWAY_SERVER__API_ADDR`), plus the
//! shorthands `KEYWAY_DATABASE_URL`, `KEYWAY_REDIS_URL`, `KEYWAY_CLICKHOUSE_URL`, `KEYWAY_SMTP_URL`
//! and `KEYWAY_MASTER_KEY`. `KEYWAY_CONFIG` names the file and `KEYWAY_LOG` the log filter; both are
//! read by the binary. `KEYWAY_TEST_*` is reserved for test suites.
//!
//! Settings are passed in, never read from a global, so tests run many apps side by side.

mod sections;

pub use sections::{
    AnalyticsSettings, ClickHouseSettings, DatabaseSettings, GatewaySettings, LimitsFallback,
    LimitsSettings, RedisSettings, SecuritySettings, ServerSettings, SmtpSettings,
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Every setting Keyway reads. See the module docs for how layers combine.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Listening addresses, data directory, shutdown.
    pub server: ServerSettings,
    /// Control-plane database (SQLite by default, Postgres when a URL is set).
    pub database: DatabaseSettings,
    /// Shared limits/cache state (in-process by default, Redis when a URL is set).
    pub redis: RedisSettings,
    /// Analytics in ClickHouse (when a URL is set).
    pub clickhouse: ClickHouseSettings,
    /// Analytics batching and the SQL analytics store of the embedded default.
    pub analytics: AnalyticsSettings,
    /// Outgoing e-mail (outbox files by default, SMTP when a URL is set).
    pub smtp: SmtpSettings,
    /// Encryption of stored secrets.
    pub security: SecuritySettings,
    /// Data-plane limits and upstream policy.
    pub gateway: GatewaySettings,
}

/// Why settings could not be loaded or are invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A layer could not be read or did not match the schema (unknown key, wrong type).
    #[error("invalid configuration: {0}")]
    Load(Box<figment::Error>),
    /// The values parsed but do not make sense together.
    #[error("invalid setting `{key}`: {reason}")]
    Invalid {
        /// Dotted path of the offending setting, e.g. `database.url`.
        key: &'static str,
        /// What is wrong with it, in words.
        reason: String,
    },
}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> Self {
        ConfigError::Load(Box::new(error))
    }
}

/// Shorthand environment variables (lowercased, without the `KEYWAY_` prefix) and the settings
/// they set.
const ENV_SHORTHANDS: &[(&str, &str)] = &[
    ("database_url", "database.url"),
    ("redis_url", "redis.url"),
    ("clickhouse_url", "clickhouse.url"),
    ("smtp_url", "smtp.url"),
    ("master_key", "security.master_key"),
];

impl Settings {
    /// Defaults, then `file` (when given), then `KEYWAY_*` environment variables. The binary
    /// merges its flags on top and calls [`Settings::from_figment`].
    pub fn figment(file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment.merge(environment())
    }

    /// Extracts and validates settings from a prepared figment.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Loads defaults + `file` + environment, and validates.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(file))
    }

    /// Checks what the types alone cannot: URL schemes, key sizes, distinct ports.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.database.validate()?;
        self.redis.validate()?;
        self.clickhouse.validate()?;
        self.analytics.validate()?;
        self.smtp.validate()?;
        self.security.validate()?;
        self.gateway.validate()
    }

    /// The control-plane database URL: the configured one, or a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose().clone(),
            None => sqlite_url(&self.server.data_dir.join("keyway.db")),
        }
    }

    /// The SQL analytics store URL when ClickHouse is not configured: the configured one; the
    /// control-plane database when that is Postgres; otherwise a SQLite file of its own.
    pub fn analytics_sql_url(&self) -> String {
        if let Some(url) = &self.analytics.sql_url {
            return url.expose().clone();
        }
        match &self.database.url {
            Some(url) if url.expose().starts_with("postgres") => url.expose().clone(),
            _ => sqlite_url(&self.server.data_dir.join("analytics.db")),
        }
    }

    /// Where analytics batches wait while the analytics backend is unreachable.
    pub fn analytics_spool_dir(&self) -> PathBuf {
        self.server.data_dir.join("analytics-spool")
    }

    /// Where the mailer writes `.eml` files when no SMTP URL is set.
    pub fn outbox_dir(&self) -> PathBuf {
        self.server.data_dir.join("outbox")
    }
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

fn environment() -> Env {
    Env::prefixed("KEYWAY_")
        .ignore(&["config", "log"])
        .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
        .map(|key| {
            let lower = key.as_str().to_ascii_lowercase();
            match ENV_SHORTHANDS.iter().find(|(short, _)| *short == lower) {
                Some((_, full)) => (*full).into(),
                None => lower.replace("__", ".").into(),
            }
        })
}

#[cfg(test)]
#[allow(
    clippy::result_large_err,
    reason = "figment::Jail closures return figment::Result"
)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_are_the_embedded_mode() {
        Jail::expect_with(|_| {
            let s = Settings::load(None).unwrap();
            assert_eq!(s.server.api_addr.to_string(), "127.0.0.1:3000");
            assert_eq!(s.server.gateway_addr.to_string(), "127.0.0.1:8080");
            assert_eq!(
                s.database_url(),
                "sqlite://./keyway-data/keyway.db?mode=rwc"
            );
            assert_eq!(
                s.analytics_sql_url(),
                "sqlite://./keyway-data/analytics.db?mode=rwc"
            );
            assert!(s.redis.url.is_none() && s.clickhouse.url.is_none() && s.smtp.url.is_none());
            Ok(())
        });
    }

    #[test]
    fn file_then_env_then_shorthands_override() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "keyway.toml",
                "[server]\napi_addr = \"127.0.0.1:4000\"\n[redis]\nkey_prefix = \"file:\"\n",
            )?;
            jail.set_env("KEYWAY_REDIS__KEY_PREFIX", "env:");
            jail.set_env("KEYWAY_DATABASE_URL", "postgres://u:p@db/keyway");
            jail.set_env(
                "KEYWAY_MASTER_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            );
            jail.set_env("KEYWAY_TEST_CLICKHOUSE_URL", "http://ignored");
            let s = Settings::load(Some(Path::new("keyway.toml"))).unwrap();
            assert_eq!(s.server.api_addr.to_string(), "127.0.0.1:4000");
            assert_eq!(s.redis.key_prefix, "env:");
            assert_eq!(s.database_url(), "postgres://u:p@db/keyway");
            // A Postgres-only deployment keeps analytics in the same database.
            assert_eq!(s.analytics_sql_url(), "postgres://u:p@db/keyway");
            assert!(s.security.master_key.is_some());
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_rejected_in_files_and_env() {
        Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[server]\napi_adr = \"127.0.0.1:1\"\n")?;
            let err = Settings::load(Some(Path::new("bad.toml"))).unwrap_err();
            assert!(err.to_string().contains("api_adr"), "{err}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("KEYWAY_DATABSE__URL", "postgres://x");
            let err = Settings::load(None).unwrap_err();
            assert!(err.to_string().contains("databse"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn validate_explains_bad_values() {
        Jail::expect_with(|jail| {
            jail.set_env("KEYWAY_REDIS_URL", "http://not-redis");
            let err = Settings::load(None).unwrap_err();
            assert!(err.to_string().contains("redis.url"), "{err}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("KEYWAY_MASTER_KEY", "too-short");
            let err = Settings::load(None).unwrap_err();
            assert!(err.to_string().contains("security.master_key"), "{err}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("KEYWAY_SERVER__GATEWAY_ADDR", "127.0.0.1:3000");
            let err = Settings::load(None).unwrap_err();
            assert!(err.to_string().contains("server.gateway_addr"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn gateway_input_limits_have_defaults_and_are_checked() {
        Jail::expect_with(|jail| {
            let s = Settings::load(None).unwrap();
            assert_eq!(
                (
                    s.gateway.max_messages,
                    s.gateway.max_json_depth,
                    s.gateway.max_tokens
                ),
                (4096, 64, 262_144)
            );
            jail.set_env("KEYWAY_GATEWAY__MAX_TOKENS", "1000");
            assert_eq!(Settings::load(None).unwrap().gateway.max_tokens, 1000);
            jail.set_env("KEYWAY_GATEWAY__MAX_JSON_DEPTH", "500");
            let err = Settings::load(None).unwrap_err();
            assert!(err.to_string().contains("gateway.max_json_depth"), "{err}");
            jail.set_env("KEYWAY_GATEWAY__MAX_JSON_DEPTH", "32");
            jail.set_env("KEYWAY_GATEWAY__MAX_MESSAGES", "0");
            let err = Settings::load(None).unwrap_err();
            assert!(err.to_string().contains("gateway.max_messages"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn limits_settings_from_env_and_their_checks() {
        Jail::expect_with(|jail| {
            jail.set_env("KEYWAY_GATEWAY__LIMITS__ON_REDIS_DOWN", "local_allowance");
            jail.set_env("KEYWAY_GATEWAY__LIMITS__LOCAL_BUDGET_USD", "2.50");
            jail.set_env("KEYWAY_GATEWAY__LIMITS__RATE_WINDOW_MS", "5000");
            let s = Settings::load(None).unwrap();
            assert_eq!(
                s.gateway.limits.on_redis_down,
                LimitsFallback::LocalAllowance
            );
            assert_eq!(s.gateway.limits.local_budget_usd, "2.5");
            assert_eq!(s.gateway.limits.rate_window_ms, 5000);
            Ok(())
        });
        for (key, value) in [
            ("KEYWAY_GATEWAY__LIMITS__LOCAL_RATE_SHARE", "1.5"),
            ("KEYWAY_GATEWAY__LIMITS__LOCAL_BUDGET_USD", "lots"),
            ("KEYWAY_GATEWAY__LIMITS__RATE_WINDOW_MS", "10"),
        ] {
            Jail::expect_with(|jail| {
                jail.set_env(key, value);
                let err = Settings::load(None).unwrap_err();
                assert!(err.to_string().contains("gateway.limits."), "{key}: {err}");
                Ok(())
            });
        }
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        Jail::expect_with(|jail| {
            jail.set_env("KEYWAY_DATABASE_URL", "postgres://u:hunter2@db/keyway");
            jail.set_env("KEYWAY_SMTP_URL", "smtp://u:hunter3@mail:25");
            let s = Settings::load(None).unwrap();
            let printed = format!("{s:?}");
            assert!(
                !printed.contains("hunter2") && !printed.contains("hunter3"),
                "{printed}"
            );
            Ok(())
        });
    }
}

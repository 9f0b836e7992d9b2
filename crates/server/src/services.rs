//! The services one Keyway process uses, connected as the settings say: each part has an
//! embedded default and switches to the real service when its URL is set.

use keyway_analytics::{
    AnalyticsStore, ClickHouseStore, EventSink, SinkConfig, SpoolConfig, SqlStore,
};
use keyway_config::Settings;
use keyway_mailer::Mailer;
use keyway_store::limits::{LimitOptions, Limits, Unavailable};
use keyway_store::{Database, Kv, MasterKey};
use std::sync::Arc;
use std::time::Duration;

/// Shared handles, cheap to clone (everything inside is reference-counted or a pool).
#[derive(Clone)]
pub struct Services {
    /// The settings this process started with.
    pub settings: Arc<Settings>,
    /// Control-plane database.
    pub db: Database,
    /// Limits/cache state.
    pub kv: Kv,
    /// Rate limits and budgets over `kv`: one per process, shared by the gateway (enforcing)
    /// and the API (showing spend), so the embedded default's in-process state is one.
    pub limits: Limits,
    /// Analytics store (queries, readiness).
    pub analytics: AnalyticsStore,
    /// Where the gateway records request events.
    pub events: EventSink,
    /// Outgoing e-mail.
    pub mailer: Arc<Mailer>,
    /// Wraps the data keys of stored secrets.
    pub master_key: Arc<MasterKey>,
}

impl Services {
    /// Connects every service. Nothing here blocks on a slow optional dependency: ClickHouse is
    /// contacted lazily, and an unreachable one shows in `/readyz` as `degraded`.
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let (master_key, _source) = MasterKey::resolve(settings)?;
        let db = Database::connect(&settings.database_url(), settings.database.max_connections)
            .await
            .map_err(|e| anyhow::anyhow!("control-plane database: {e}"))?;
        let kv = match &settings.redis.url {
            Some(url) => Kv::redis(url.expose(), &settings.redis.key_prefix)
                .await
                .map_err(|e| anyhow::anyhow!("redis: {e}"))?,
            None => Kv::memory(&settings.redis.key_prefix),
        };
        let limits = Limits::new(&kv, limit_options(settings));
        let analytics = analytics_store(settings).await?;
        let events = EventSink::spawn(
            analytics.clone(),
            SinkConfig {
                capacity: settings.analytics.channel_capacity,
                batch_rows: settings.analytics.batch_size,
                flush_interval: Duration::from_millis(settings.analytics.flush_interval_ms),
                write_timeout: Duration::from_millis(settings.analytics.write_timeout_ms),
                retry_interval: Duration::from_millis(settings.analytics.retry_interval_ms),
                spool: (settings.analytics.spool_max_bytes > 0).then(|| SpoolConfig {
                    dir: settings.analytics_spool_dir(),
                    max_bytes: settings.analytics.spool_max_bytes,
                }),
            },
        );
        let smtp_url = settings.smtp.url.as_ref().map(|u| u.expose().as_str());
        let mailer = Mailer::new(smtp_url, &settings.smtp.from, &settings.outbox_dir())?;
        tracing::info!(
            database = ?db.kind(),
            kv = kv.backend(),
            analytics = analytics.backend(),
            mail = %mailer.describe(),
            "services connected"
        );
        Ok(Self {
            settings: Arc::new(settings.clone()),
            db,
            kv,
            limits,
            analytics,
            events,
            mailer: Arc::new(mailer),
            master_key: Arc::new(master_key),
        })
    }

    /// Applies control-plane and analytics migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.db
            .migrate()
            .await
            .map_err(|e| anyhow::anyhow!("control-plane migrations: {e}"))?;
        self.analytics
            .migrate()
            .await
            .map_err(|e| anyhow::anyhow!("analytics migrations: {e}"))?;
        Ok(())
    }

    /// Flushes buffered analytics events; called once on shutdown.
    pub async fn close(&self) {
        match self.events.flush_and_close().await {
            Ok(stats) => tracing::info!(?stats, "analytics events flushed"),
            Err(e) => tracing::error!(error = %e, "flushing analytics events failed"),
        }
    }

    /// What the dashboard needs to render links and snippets.
    #[cfg(feature = "control-plane")]
    pub(crate) fn dashboard_options(
        &self,
        api_addr: std::net::SocketAddr,
        gateway_addr: std::net::SocketAddr,
    ) -> keyway_dashboard::ssr::DashboardOptions {
        let server = &self.settings.server;
        keyway_dashboard::ssr::DashboardOptions {
            site_root: server.site_root.clone(),
            gateway_url: server
                .public_gateway_url
                .clone()
                .unwrap_or_else(|| format!("http://{gateway_addr}")),
            api_url: server
                .public_api_url
                .clone()
                .unwrap_or_else(|| format!("http://{api_addr}")),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// The limiter's options from `[gateway.limits]` (validated with the settings).
fn limit_options(settings: &Settings) -> LimitOptions {
    let l = &settings.gateway.limits;
    LimitOptions {
        redis_timeout: Duration::from_millis(l.redis_timeout_ms),
        on_unavailable: match l.on_redis_down {
            keyway_config::LimitsFallback::FailClosed => Unavailable::FailClosed,
            keyway_config::LimitsFallback::LocalAllowance => Unavailable::LocalAllowance {
                rate_share: l.local_rate_share,
                budget: keyway_domain::Usd::parse_decimal(&l.local_budget_usd)
                    .unwrap_or(keyway_domain::Usd::ZERO),
            },
        },
        // A level overspends by at most one request's reservation, and a request that cannot
        // fit whole is still admitted while headroom is left.
        allow_final_overrun: true,
        ..LimitOptions::default()
    }
}

async fn analytics_store(settings: &Settings) -> anyhow::Result<AnalyticsStore> {
    let ch = &settings.clickhouse;
    if let Some(url) = &ch.url {
        let password = ch.password.as_ref().map(|p| p.expose().as_str());
        let mut store = ClickHouseStore::connect(url, &ch.database, ch.user.as_deref(), password)?;
        if let Some(cluster) = &ch.cluster {
            store = store.with_cluster(cluster)?;
        }
        return Ok(AnalyticsStore::ClickHouse(store));
    }
    let store = SqlStore::connect(&settings.analytics_sql_url())
        .await
        .map_err(|e| anyhow::anyhow!("analytics database: {e}"))?;
    Ok(AnalyticsStore::Sql(store))
}

//! Keyway's test harness: [`spawn_app`] runs the real application on port 0 against real services,
//! each test with its own resources, so suites run in parallel without serialisation:
//!
//! * a fresh Postgres database (created, migrated, dropped afterwards),
//! * a unique Redis key prefix (its keys deleted afterwards),
//! * a fresh ClickHouse database (dropped afterwards),
//! * a mock provider on a random port,
//! * a temporary data directory.
//!
//! [`spawn_embedded_app`] runs the embedded default instead (SQLite, in-process state, SQLite
//! analytics). Service locations default to this machine's and can be moved with
//! `KEYWAY_TEST_POSTGRES_URL`, `KEYWAY_TEST_REDIS_URL` and `KEYWAY_TEST_CLICKHOUSE_URL`.

pub mod api;
pub mod services;
pub mod smtp;

use base64::Engine as _;
use keyway::{Application, Parts, Services, Stopper};
use keyway_config::Settings;
use keyway_domain::{Secret, Slug};
use keyway_mock_provider::{MockHandle, MockProvider};
use keyway_store::credentials::NewCredential;
pub use keyway_store::credentials::ProviderKind;
use keyway_store::virtual_keys::NewKey;
use rand::RngCore as _;
use services::{TestClickHouse, TestPostgres, TestRedis};
use std::net::SocketAddr;
use tokio::task::JoinHandle;

/// A running Keyway with the helpers tests need. Dropping it stops the app and removes the
/// databases and keys it made.
pub struct TestApp {
    /// `http://127.0.0.1:PORT` of the dashboard + API.
    pub api_url: String,
    /// `http://127.0.0.1:PORT` of the gateway.
    pub gateway_url: String,
    /// The mock upstream provider.
    pub mock: MockHandle,
    /// A plain HTTP client (no redirects followed, so tests see them).
    pub client: reqwest::Client,
    /// The settings the app runs with.
    pub settings: Settings,
    /// The app's services (database, kv, analytics, mailer).
    pub services: Services,
    stopper: Stopper,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    // Held for their drop guards, in this order: app first, then its resources.
    _postgres: Option<TestPostgres>,
    _redis: Option<TestRedis>,
    _clickhouse: Option<TestClickHouse>,
    _data_dir: tempfile::TempDir,
}

/// Which deployment shape a test app runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backends {
    /// Postgres + Redis + ClickHouse, as in compose and cluster deployments.
    Production,
    /// SQLite + in-process state + SQLite analytics (the embedded default).
    Embedded,
}

/// Spawns Keyway on Postgres, Redis and ClickHouse.
pub async fn spawn_app() -> anyhow::Result<TestApp> {
    spawn_with(Backends::Production, |_| {}).await
}

/// Spawns Keyway on the embedded default.
pub async fn spawn_embedded_app() -> anyhow::Result<TestApp> {
    spawn_with(Backends::Embedded, |_| {}).await
}

/// Spawns Keyway on `backends`, letting the test adjust settings before start.
pub async fn spawn_with(
    backends: Backends,
    customize: impl FnOnce(&mut Settings),
) -> anyhow::Result<TestApp> {
    let data_dir = tempfile::tempdir()?;
    let mut settings = Settings::default();
    settings.server.api_addr = SocketAddr::from(([127, 0, 0, 1], 0));
    settings.server.gateway_addr = SocketAddr::from(([127, 0, 0, 1], 0));
    settings.server.data_dir = data_dir.path().to_path_buf();
    settings.server.site_root = data_dir.path().join("site");
    settings.server.shutdown_grace_secs = 5;
    settings.security.master_key = Some(Secret::new(random_master_key()));
    settings.gateway.allow_private_upstreams = true;
    settings.analytics.flush_interval_ms = 100;

    let (postgres, redis, clickhouse) = match backends {
        Backends::Production => {
            let (pg, redis, ch) = tokio::try_join!(
                TestPostgres::create(),
                TestRedis::create(),
                TestClickHouse::create()
            )?;
            settings.database.url = Some(Secret::new(pg.url().to_owned()));
            settings.redis.url = Some(Secret::new(redis.url().to_owned()));
            settings.redis.key_prefix = redis.prefix().to_owned();
            settings.clickhouse.url = Some(ch.url().to_owned());
            settings.clickhouse.database = ch.database().to_owned();
            (Some(pg), Some(redis), Some(ch))
        }
        Backends::Embedded => (None, None, None),
    };
    customize(&mut settings);
    settings.validate()?;

    let mock = MockProvider::start(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    keyway::migrate(&settings).await?;
    let app = Application::build(settings.clone(), Parts::Both).await?;
    let api_url = app
        .api_url()
        .ok_or_else(|| anyhow::anyhow!("api listener missing"))?;
    let gateway_url = app
        .gateway_url()
        .ok_or_else(|| anyhow::anyhow!("gateway listener missing"))?;
    let services = app.services().clone();
    let stopper = app.stopper();
    let task = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    Ok(TestApp {
        api_url,
        gateway_url,
        mock,
        client,
        settings,
        services,
        stopper,
        task: Some(task),
        _postgres: postgres,
        _redis: redis,
        _clickhouse: clickhouse,
        _data_dir: data_dir,
    })
}

/// An organization with provider credentials pointing at the mock, and a virtual key.
pub struct Tenant {
    /// The organization.
    pub org: keyway_store::orgs::Organization,
    /// The virtual key's secret, as an SDK would send it.
    pub key: String,
    /// The virtual key's id.
    pub key_id: keyway_store::virtual_keys::VirtualKeyId,
}

/// Credential slugs [`TestApp::seed_tenant`] creates, each reaching the mock in one format.
pub const MOCK_SLUGS: [(&str, ProviderKind); 3] = [
    ("mock", ProviderKind::Mock),
    ("mock-anthropic", ProviderKind::Anthropic),
    ("mock-gemini", ProviderKind::Gemini),
];

/// Credentials [`TestApp::seed_cloud_providers`] adds: (slug, kind, config, upstream key), each
/// reaching the mock in that provider's own wire format.
pub const CLOUD_SLUGS: [(&str, ProviderKind, &str, &str); 3] = [
    (
        "azure",
        ProviderKind::AzureOpenai,
        r#"{"api_version": "2024-10-21"}"#,
        "azure-upstream-key-0123456789",
    ),
    (
        "bedrock",
        ProviderKind::Bedrock,
        r#"{"region": "us-east-1"}"#,
        "AKIAMOCKKEY0123:mock/secret+access+key:mock-session-token",
    ),
    (
        "cohere",
        ProviderKind::Cohere,
        "{}",
        "co-upstream-key-0123456789",
    ),
];

impl TestApp {
    /// Adds one provider credential to `tenant`'s organization.
    pub async fn add_credential(
        &self,
        tenant: &Tenant,
        slug: &str,
        kind: ProviderKind,
        base_url: Option<String>,
        config: serde_json::Value,
        api_key: &str,
    ) -> anyhow::Result<()> {
        let credential = NewCredential {
            name: slug.to_owned(),
            slug: Slug::parse(slug)?,
            provider: kind,
            base_url,
            config,
            api_key: Secret::new(api_key.to_owned()),
        };
        self.services
            .db
            .create_credential(tenant.org.id, credential, &self.services.master_key)
            .await?;
        Ok(())
    }

    /// Adds the [`CLOUD_SLUGS`] credentials (Azure OpenAI, Bedrock, Cohere), all pointing at
    /// the mock.
    pub async fn seed_cloud_providers(&self, tenant: &Tenant) -> anyhow::Result<()> {
        for (slug, kind, config, key) in CLOUD_SLUGS {
            let config = serde_json::from_str(config)?;
            self.add_credential(tenant, slug, kind, Some(self.mock.base_url()), config, key)
                .await?;
        }
        Ok(())
    }

    /// Creates an organization named `slug` with one credential per [`MOCK_SLUGS`] entry (the
    /// store fixtures the control plane will replace) and issues it an unrestricted key.
    pub async fn seed_tenant(&self, slug: &str) -> anyhow::Result<Tenant> {
        let db = &self.services.db;
        let org = db.create_org(&Slug::parse(slug)?, slug).await?;
        for (cred_slug, kind) in MOCK_SLUGS {
            let base_url = match kind {
                ProviderKind::Mock => format!("{}/v1", self.mock.base_url()),
                _ => self.mock.base_url(),
            };
            let credential = NewCredential {
                name: cred_slug.to_owned(),
                slug: Slug::parse(cred_slug)?,
                provider: kind,
                base_url: Some(base_url),
                config: serde_json::json!({}),
                api_key: Secret::new(format!("sk-upstream-{cred_slug}-0123456789")),
            };
            db.create_credential(org.id, credential, &self.services.master_key)
                .await?;
        }
        let (key, secret) = db
            .issue_key(
                org.id,
                NewKey {
                    name: "test".into(),
                    ..NewKey::default()
                },
            )
            .await?;
        Ok(Tenant {
            org,
            key: secret.expose().clone(),
            key_id: key.id,
        })
    }

    /// `GET` a path on the API port.
    pub async fn get_api(&self, path: &str) -> reqwest::Result<reqwest::Response> {
        self.client
            .get(format!("{}{path}", self.api_url))
            .send()
            .await
    }

    /// `GET` a path on the gateway port.
    pub async fn get_gateway(&self, path: &str) -> reqwest::Result<reqwest::Response> {
        self.client
            .get(format!("{}{path}", self.gateway_url))
            .send()
            .await
    }

    /// Stops the app gracefully (as SIGTERM would) and waits until it has drained. Its databases
    /// stay until the `TestApp` is dropped, so a test can inspect what was written.
    pub async fn shutdown(&mut self) -> anyhow::Result<()> {
        self.stopper.stop();
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            self.stopper.stop();
            task.abort();
        }
    }
}

fn random_master_key() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// Declares a module named after an `async fn scenario(app: TestApp)` holding two tests that
/// run it on [`Backends::Production`] (Postgres, Redis, ClickHouse) and on
/// [`Backends::Embedded`] (SQLite, in-process state).
#[macro_export]
macro_rules! on_both_backends {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test]
            async fn postgres() {
                let app = $crate::spawn_with($crate::Backends::Production, |_| {})
                    .await
                    .expect("spawn the app on Postgres");
                super::$scenario(app).await;
            }
            #[tokio::test]
            async fn sqlite() {
                let app = $crate::spawn_with($crate::Backends::Embedded, |_| {})
                    .await
                    .expect("spawn the app on SQLite");
                super::$scenario(app).await;
            }
        }
    };
}

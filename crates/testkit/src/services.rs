//! Per-test resources on the real services, each removed again when dropped.

use keyway_analytics::ClickHouseStore;
use sea_orm::{ConnectionTrait, Database as SeaDatabase};

const POSTGRES_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_DEFAULT: &str = "redis://127.0.0.1:6379";
const CLICKHOUSE_DEFAULT: &str = "http://127.0.0.1:8123";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Postgres server (its maintenance database) the tests create databases on.
pub fn postgres_admin_url() -> String {
    env_or("KEYWAY_TEST_POSTGRES_URL", POSTGRES_DEFAULT)
}

/// Redis server the tests use.
pub fn redis_url() -> String {
    env_or("KEYWAY_TEST_REDIS_URL", REDIS_DEFAULT)
}

/// ClickHouse HTTP interface the tests use.
pub fn clickhouse_url() -> String {
    env_or("KEYWAY_TEST_CLICKHOUSE_URL", CLICKHOUSE_DEFAULT)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// Runs async clean-up from `Drop`, on a thread of its own so it works inside or outside a
/// runtime, and waits for it so nothing is left behind when the test ends.
fn cleanup<F>(what: &'static str, fut: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let joined = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(fut())
    })
    .join();
    match joined {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("testkit: cleaning up {what} failed: {e:#}"),
        Err(_) => eprintln!("testkit: cleaning up {what} panicked"),
    }
}

/// A fresh Postgres database, dropped (with its connections) afterwards.
pub struct TestPostgres {
    admin_url: String,
    name: String,
    url: String,
}

impl TestPostgres {
    /// Creates `keyway_test_<uuid>` on the server of `KEYWAY_TEST_POSTGRES_URL`.
    pub async fn create() -> anyhow::Result<Self> {
        let admin_url = postgres_admin_url();
        let name = unique("keyway_test_");
        let admin = SeaDatabase::connect(&admin_url).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        admin.close().await?;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        Ok(Self {
            admin_url,
            name,
            url,
        })
    }

    /// URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        cleanup("postgres database", move || async move {
            let admin = SeaDatabase::connect(&admin_url).await?;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await?;
            Ok(())
        });
    }
}

/// A unique Redis key prefix; its keys are deleted afterwards.
pub struct TestRedis {
    url: String,
    prefix: String,
}

impl TestRedis {
    /// Checks Redis answers and picks `keyway-test:<uuid>:`.
    pub async fn create() -> anyhow::Result<Self> {
        let url = redis_url();
        let client = redis::Client::open(url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await?;
        Ok(Self {
            url,
            prefix: format!("{}:", unique("keyway-test:")),
        })
    }

    /// Redis URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Key prefix owned by this test.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        cleanup("redis keys", move || async move {
            let client = redis::Client::open(url.as_str())?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}*"))
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                redis::cmd("DEL")
                    .arg(keys)
                    .query_async::<i64>(&mut conn)
                    .await?;
            }
            Ok(())
        });
    }
}

/// A fresh ClickHouse database, dropped afterwards.
pub struct TestClickHouse {
    url: String,
    database: String,
}

impl TestClickHouse {
    /// Creates `keyway_test_<uuid>` on the server of `KEYWAY_TEST_CLICKHOUSE_URL`.
    pub async fn create() -> anyhow::Result<Self> {
        let url = clickhouse_url();
        let database = unique("keyway_test_");
        ClickHouseStore::connect(&url, &database, None, None)?
            .create_database()
            .await?;
        Ok(Self { url, database })
    }

    /// ClickHouse HTTP URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Name of the new database.
    pub fn database(&self) -> &str {
        &self.database
    }
}

impl Drop for TestClickHouse {
    fn drop(&mut self) {
        let (url, database) = (self.url.clone(), self.database.clone());
        cleanup("clickhouse database", move || async move {
            ClickHouseStore::connect(&url, &database, None, None)?
                .drop_database()
                .await?;
            Ok(())
        });
    }
}

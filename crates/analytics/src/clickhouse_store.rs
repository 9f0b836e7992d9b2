//! ClickHouse backend: versioned migrations and batched `RowBinary` inserts into `requests`.
//!
//! Written for the oldest server we support (Debian's 18.16): the client runs without schema
//! validation (18.16 rejects the setting it needs), so rows are exchanged positionally and every
//! query selects typed columns or casts aggregates explicitly.

use std::sync::Arc;

use clickhouse::Client;
use clickhouse::sql::Identifier;

use crate::queries::{self, MIGRATIONS, Migration, ON_CLUSTER_PLACEHOLDER};
use crate::{AnalyticsError, RequestEvent, event};

/// Analytics store on one ClickHouse database. Cloning is cheap (shared clients).
#[derive(Clone)]
pub struct ClickHouseStore {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    /// Client bound to `database`, for everything that lives inside it.
    client: Client,
    /// Client without a default database: `CREATE/DROP DATABASE` must not name the database
    /// they create or drop as the session default.
    server: Client,
    database: String,
    cluster: Option<String>,
}

impl std::fmt::Debug for ClickHouseStore {
    // The clients hold the password; show only what identifies the store.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseStore")
            .field("database", &self.inner.database)
            .field("cluster", &self.inner.cluster)
            .finish_non_exhaustive()
    }
}

impl ClickHouseStore {
    /// Prepares a store for `database` on the server at `url` (HTTP interface, e.g.
    /// `http://127.0.0.1:8123`). No request is sent until the first call.
    pub fn connect(
        url: &str,
        database: &str,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<Self, AnalyticsError> {
        check_name("database", database)?;
        let mut server = Client::default().with_url(url).with_validation(false);
        if let Some(user) = user {
            server = server.with_user(user);
        }
        if let Some(password) = password {
            server = server.with_password(password);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                client: server.clone().with_database(database),
                server,
                database: database.to_owned(),
                cluster: None,
            }),
        })
    }

    /// Runs database DDL and migrations `ON CLUSTER <cluster>` (the cluster name from the
    /// servers' `remote_servers` configuration).
    pub fn with_cluster(mut self, cluster: &str) -> Result<Self, AnalyticsError> {
        check_name("cluster", cluster)?;
        Arc::make_mut(&mut self.inner).cluster = Some(cluster.to_owned());
        Ok(self)
    }

    /// The database this store reads and writes.
    pub fn database(&self) -> &str {
        &self.inner.database
    }

    /// Creates the database if it does not exist.
    pub async fn create_database(&self) -> Result<(), AnalyticsError> {
        let sql = self.with_cluster_clause("CREATE DATABASE IF NOT EXISTS ? {on_cluster}");
        self.inner
            .server
            .query(&sql)
            .bind(Identifier(&self.inner.database))
            .execute()
            .await?;
        Ok(())
    }

    /// Drops the database and everything in it, if it exists.
    pub async fn drop_database(&self) -> Result<(), AnalyticsError> {
        let sql = self.with_cluster_clause("DROP DATABASE IF EXISTS ? {on_cluster}");
        self.inner
            .server
            .query(&sql)
            .bind(Identifier(&self.inner.database))
            .execute()
            .await?;
        Ok(())
    }

    /// Applies, in version order, every migration not yet recorded in `schema_migrations`, and
    /// returns those it applied (empty when the schema is current). The database must exist.
    pub async fn migrate(&self) -> Result<Vec<Migration>, AnalyticsError> {
        self.inner
            .client
            .query_raw(&self.with_cluster_clause(queries::CREATE_SCHEMA_MIGRATIONS))
            .execute()
            .await?;
        let done: Vec<u32> = self
            .inner
            .client
            .query_raw(queries::APPLIED_MIGRATIONS)
            .fetch_all()
            .await?;
        let mut applied = Vec::new();
        for migration in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
            let sql = self.with_cluster_clause(migration.sql);
            for statement in queries::statements(&sql) {
                self.inner
                    .client
                    .query_raw(statement)
                    .execute()
                    .await
                    .map_err(|source| AnalyticsError::Migration {
                        version: migration.version,
                        name: migration.name,
                        source,
                    })?;
            }
            self.inner
                .client
                .query(queries::RECORD_MIGRATION)
                .bind(migration.version)
                .bind(migration.name)
                .execute()
                .await?;
            tracing::info!(
                database = %self.inner.database,
                version = migration.version,
                name = migration.name,
                "applied clickhouse migration"
            );
            applied.push(*migration);
        }
        Ok(applied)
    }

    /// Writes `events` in one `INSERT`; an invalid event refuses the whole batch.
    pub async fn insert(&self, events: &[RequestEvent]) -> Result<(), AnalyticsError> {
        if events.is_empty() {
            return Ok(());
        }
        event::check_batch(events)?;
        let mut insert = self.inner.client.insert::<RequestEvent>("requests").await?;
        for event in events {
            insert.write(event).await?;
        }
        insert.end().await?;
        Ok(())
    }

    /// Checks that the server answers queries.
    pub async fn ping(&self) -> Result<(), AnalyticsError> {
        self.inner
            .server
            .query("SELECT toUInt8(1)")
            .fetch_one::<u8>()
            .await?;
        Ok(())
    }

    /// Number of requests stored for `org_id`.
    pub async fn count(&self, org_id: &str) -> Result<u64, AnalyticsError> {
        Ok(self
            .inner
            .client
            .query(queries::COUNT_BY_ORG)
            .bind(org_id)
            .fetch_one::<u64>()
            .await?)
    }

    /// The `limit` most recent requests of `org_id`, newest first.
    pub async fn recent(
        &self,
        org_id: &str,
        limit: u32,
    ) -> Result<Vec<RequestEvent>, AnalyticsError> {
        Ok(self
            .inner
            .client
            .query(queries::RECENT_BY_ORG)
            .bind(org_id)
            .bind(limit)
            .fetch_all::<RequestEvent>()
            .await?)
    }

    fn with_cluster_clause(&self, sql: &str) -> String {
        sql.replace(
            ON_CLUSTER_PLACEHOLDER,
            &queries::on_cluster_clause(self.inner.cluster.as_deref()),
        )
    }
}

/// Database and cluster names end up in DDL; allowing only this alphabet keeps them valid
/// unquoted in configuration and safe inside backquotes.
fn check_name(kind: &'static str, name: &str) -> Result<(), AnalyticsError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(AnalyticsError::InvalidName {
            kind,
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_the_safe_alphabet_are_refused() {
        assert!(
            ClickHouseStore::connect("http://127.0.0.1:8123", "analytics_1", None, None).is_ok()
        );
        for bad in ["", "a`b", "a b", "db;DROP"] {
            assert!(matches!(
                ClickHouseStore::connect("http://127.0.0.1:8123", bad, None, None),
                Err(AnalyticsError::InvalidName {
                    kind: "database",
                    ..
                })
            ));
        }
        let store = ClickHouseStore::connect("http://127.0.0.1:8123", "db", None, None).unwrap();
        assert!(store.with_cluster("x'y").is_err());
    }
}

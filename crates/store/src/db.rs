//! Connecting to the control-plane database and bringing its schema up to date.

use crate::StoreError;
use keyway_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend};
use std::time::Duration;

/// Which SQL engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// The embedded default.
    Sqlite,
    /// Compose and cluster deployments.
    Postgres,
}

/// A pooled connection to the control-plane database.
#[derive(Debug, Clone)]
pub struct Database {
    conn: DatabaseConnection,
}

impl Database {
    /// Connects to `url` (`sqlite://…?mode=rwc` or `postgres://…`), creating the SQLite file's
    /// directory when needed.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        if let Some(path) = sqlite_path(url)
            && let Some(dir) = std::path::Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                context: format!("creating database directory {}", dir.display()),
                source,
            })?;
        }
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(max_connections)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(5))
            .sqlx_logging(false);
        let conn = sea_orm::Database::connect(options).await?;
        if conn.get_database_backend() == DbBackend::Sqlite {
            // WAL lets the dashboard read while the gateway writes; the busy timeout turns
            // lock contention into a short wait instead of an error.
            conn.execute_unprepared(
                "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;",
            )
            .await?;
        }
        Ok(Self { conn })
    }

    /// Applies every pending control-plane migration; running it again applies nothing.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.conn, None).await?;
        Ok(())
    }

    /// Names of the migrations not yet applied.
    pub async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        let pending = Migrator::get_pending_migrations(&self.conn).await?;
        Ok(pending.iter().map(|m| m.name().to_owned()).collect())
    }

    /// A cheap round trip, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.conn.ping().await?;
        Ok(())
    }

    /// The engine behind this connection.
    pub fn kind(&self) -> DatabaseKind {
        match self.conn.get_database_backend() {
            DbBackend::Sqlite => DatabaseKind::Sqlite,
            _ => DatabaseKind::Postgres,
        }
    }

    /// The sea-orm connection, for repositories.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://")?;
    let path = rest.split('?').next().unwrap_or(rest);
    (path != ":memory:" && !path.is_empty()).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;

    #[test]
    fn finds_the_sqlite_file_path() {
        assert_eq!(
            sqlite_path("sqlite://./data/k.db?mode=rwc"),
            Some("./data/k.db")
        );
        assert_eq!(sqlite_path("sqlite:///abs/k.db"), Some("/abs/k.db"));
        assert_eq!(sqlite_path("sqlite://:memory:"), None);
        assert_eq!(sqlite_path("postgres://x/y"), None);
    }
}

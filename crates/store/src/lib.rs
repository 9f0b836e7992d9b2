//! Keyway's state: the control-plane database (sea-orm on SQLite or Postgres), the shared
//! key-value state behind limits and caches (in-process or Redis), and the master key.
//!
//! Every backend sits behind one small type with exactly the implementations Keyway ships;
//! tests run against the real ones.

pub mod accounts;
pub mod aliases;
pub mod audit;
pub mod configs;
pub mod credentials;
pub mod crypto;
pub mod db;
pub mod entities;
pub mod governance;
pub mod guardrails;
pub mod health;
pub mod invalidation;
pub mod kv;
pub mod limits;
pub mod master_key;
pub mod members;
pub mod org_limits;
pub mod orgs;
pub mod price_overrides;
pub mod prompts;
pub mod teams;
pub mod tokens;
pub mod virtual_keys;

pub use db::{Database, DatabaseKind};
pub use kv::Kv;
pub use master_key::MasterKey;

/// Errors of the store crate.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a statement.
    #[error("database error")]
    Db(#[from] sea_orm::DbErr),
    /// Redis failed or is unreachable.
    #[error("redis error")]
    Redis(#[from] redis::RedisError),
    /// A unique value (e.g. a slug) is already taken.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A file in the data directory could not be read or written.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Stored or configured data is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The record does not exist, or belongs to another organization.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A sealed secret could not be opened (tampered, moved, or sealed under another master key).
    #[error("{0}")]
    Crypto(String),
}

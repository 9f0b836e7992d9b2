//! Control-plane schema migrations (sea-orm-migration), written once for SQLite and Postgres.
//!
//! Each migration is one file named `mYYYYMMDD_NNNNNN_what.rs`; applied migrations are tracked in
//! sea-orm's `seaql_migrations` table, so running [`Migrator::up`] again applies nothing.
//! ClickHouse migrations live with the analytics crate.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_organizations;
mod m20261122_000002_tenant_data;
mod m20261205_000001_accounts;
mod m20261205_200000_price_overrides;
mod m20261205_400000_routing_configs;
mod m20261205_400001_org_limits;
mod m20261206_100000_prompts;
mod m20261206_200000_guardrails;
mod m20261206_300000_prompt_guardrails;

/// Every control-plane migration, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_organizations::Migration),
            Box::new(m20261122_000002_tenant_data::Migration),
            Box::new(m20261205_000001_accounts::Migration),
            Box::new(m20261205_200000_price_overrides::Migration),
            Box::new(m20261205_400000_routing_configs::Migration),
            Box::new(m20261205_400001_org_limits::Migration),
            Box::new(m20261206_100000_prompts::Migration),
            Box::new(m20261206_200000_guardrails::Migration),
            Box::new(m20261206_300000_prompt_guardrails::Migration),
        ]
    }
}

//! The store's suites against real Postgres, SQLite and Redis, in one test binary (one link
//! instead of one per file; nextest still runs every test in its own process).

mod guardrails;
mod health;
mod limits;
mod price_overrides;
mod prompts;
mod store;
mod tenant_data;

//! The server's integration and end-to-end suites in one test binary (one link instead of one
//! per file; nextest still runs every test in its own process). Each module is one suite.

mod app;
mod binary;
mod control_plane_access;
mod control_plane_auth;
mod control_plane_resources;
mod gateway;
mod governance;
mod governance_multi_process;
mod governance_redis_down;
mod guardrails;
mod invalidation;
mod prices;
mod prompts;
mod providers;
mod routing_configs;
mod routing_exec;
mod surfaces;

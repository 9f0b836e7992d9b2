//! REST routes under `/api/v1`, one folder per resource; each handler is thin over a service
//! function in [`crate::services`].

pub mod analytics;
pub mod audit;
pub mod auth;
pub mod configs;
pub mod guardrails;
pub mod invites;
pub mod keys;
pub mod limits;
pub mod me;
pub mod members;
pub mod orgs;
pub mod partials;
pub mod prompts;
pub mod providers;
pub mod teams;

use actix_web::web;

/// Mounts every resource.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(auth::configure)
        .configure(me::configure)
        .configure(orgs::configure)
        .configure(members::configure)
        .configure(invites::configure)
        .configure(teams::configure)
        .configure(configs::configure)
        .configure(guardrails::configure)
        .configure(prompts::configure)
        .configure(partials::configure)
        .configure(providers::configure)
        .configure(keys::configure)
        .configure(limits::configure)
        .configure(audit::configure)
        .configure(analytics::configure);
}

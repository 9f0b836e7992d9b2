//! sea-orm entities, one module per table.

pub mod audit_entry;
pub mod email_token;
pub mod guardrail;
pub mod guardrail_version;
pub mod invite;
pub mod membership;
pub mod model_alias;
pub mod org_limits;
pub mod organization;
pub mod price_override;
pub mod prompt;
pub mod prompt_label;
pub mod prompt_partial;
pub mod prompt_partial_version;
pub mod prompt_version;
pub mod provider_credential;
pub mod refresh_token;
pub mod routing_config;
pub mod routing_config_version;
pub mod session;
pub mod team;
pub mod team_member;
pub mod user;
pub mod virtual_key;

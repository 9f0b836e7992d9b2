//! One module per routed page (or group of closely related pages).

pub mod admin;
pub mod auth;
pub mod dashboard;
pub mod guardrails;
pub mod keys;
pub mod logs;
pub mod not_found;
pub mod prompts;
pub mod providers;
pub mod team;

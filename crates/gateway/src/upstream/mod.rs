//! The SSRF-safe HTTP client every provider call goes through.
//!
//! A caller-controlled base URL (a custom provider credential) must not let a tenant reach the
//! gateway's own network: loopback, private ranges, link-local, carrier-grade NAT, cloud metadata
//! services, in any address encoding. The `address` module holds the pure classification;
//! [`UpstreamClient`] enforces it where it cannot be raced: host names are resolved by our own
//! resolver, which drops forbidden addresses and hands only the checked ones to the connector, so
//! the connection goes to the address that was checked (no DNS rebinding window). IP-literal URLs
//! never reach a resolver and are checked before sending. Redirects are never followed.
//!
//! The operator setting `gateway.allow_private_upstreams` lifts the private-network refusal (the
//! mock provider, self-hosted vLLM/Ollama) but never the cloud metadata one.
//! `gateway.upstream_ca_file` adds certificate authorities to the system's for upstream HTTPS
//! (an internal CA in front of self-hosted models); providers that offer HTTP/2 by ALPN carry
//! every concurrent request on one connection.

mod address;
mod client;

pub use address::{ForbiddenReason, host_forbidden, is_forbidden, parse_ip_literal};
pub use client::{
    CaFileError, IdleTimeoutBody, UpstreamClient, UpstreamConfig, UpstreamError, check_url,
};

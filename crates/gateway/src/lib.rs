//! Data plane: the OpenAI- and Anthropic-compatible endpoints under `/v1`.
//!
//! The request pipeline (authentication, parsing, guardrails, limits, routing, provider call,
//! events) is built here, in the order `shared/ARCHITECTURE.md` lists, documented where the app is
//! assembled. Until the surfaces land, every `/v1` path answers an OpenAI-shaped 404 so SDKs get
//! an error they can parse.

pub mod upstream;

use actix_web::{HttpResponse, web};
use serde_json::json;

/// Mounts the gateway's routes on the gateway port's app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/v1").default_service(web::to(unknown_route)));
}

async fn unknown_route(req: actix_web::HttpRequest) -> HttpResponse {
    HttpResponse::NotFound().json(json!({
        "error": {
            "message": format!("Unknown request URL: {} {}", req.method(), req.path()),
            "type": "invalid_request_error",
            "param": null,
            "code": "unknown_url",
        }
    }))
}

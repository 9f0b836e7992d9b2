//! Control plane: the REST API under `/api/v1` and the service layer behind it.
//!
//! * [`services`] holds every rule (validation, role checks, audit entries); REST handlers in
//!   [`routes`] (one folder per resource) and the dashboard's server functions call it.
//! * [`auth`] turns a Bearer token or the dashboard's cookie session into a [`auth::Caller`].
//! * Every error leaves as one body shape, `{"error": {"code", "message"}}`, with a stable
//!   `code`; cross-organization access answers 404 like a missing resource.
//! * [`openapi`] generates the OpenAPI 3 document from the handlers and renders a docs page.

pub mod auth;
pub mod dto;
mod error;
pub mod openapi;
pub mod routes;
pub mod services;
mod state;

pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use state::ApiState;

use actix_web::{HttpResponse, web};

/// Mounts `/api/v1`, the OpenAPI document and the docs page on the API port's app. The app
/// must hold a `web::Data<ApiState>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(openapi::configure).service(
        web::scope("/api/v1")
            .app_data(json_config())
            .app_data(path_config())
            .app_data(query_config())
            .configure(routes::configure)
            .default_service(web::to(unknown_route)),
    );
}

/// JSON bodies: size-capped, and a parse failure answers in the API's error shape.
fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(1024 * 1024)
        .error_handler(|err, _req| ApiError::BadRequest(format!("invalid JSON body: {err}")).into())
}

/// A path segment that is not an id names no resource.
fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into())
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _req| ApiError::BadRequest(format!("invalid query: {err}")).into())
}

async fn unknown_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

//! Control plane: the REST API under `/api/v1`.
//!
//! Every error leaves as one body shape, `{"error": {"code", "message"}}`, with a stable `code`.
//! Resources (auth, orgs, keys, …) are added one folder per resource under `routes/`, each handler
//! thin over a service function.

mod error;

pub use error::ApiError;

use actix_web::{HttpResponse, web};

/// Mounts `/api/v1` on the API port's app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .app_data(json_config())
            .default_service(web::to(unknown_route)),
    );
}

/// JSON bodies: size-capped, and a parse failure answers in the API's error shape.
fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(1024 * 1024)
        .error_handler(|err, _req| ApiError::BadRequest(format!("invalid JSON body: {err}")).into())
}

async fn unknown_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

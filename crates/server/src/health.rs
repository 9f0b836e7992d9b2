//! `GET /healthz` (liveness: the process answers) and `GET /readyz` (dependencies answer), on
//! both ports.
//!
//! Readiness fails only on what the process cannot serve without (the control-plane database and
//! the shared limits state); an analytics outage is reported as `degraded` but stays ready,
//! because events are buffered and a blip must not pull every replica out of the load balancer.

use crate::Services;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /metrics` (gateway port): the analytics sink's and routing's counters in the Prometheus
/// text format.
pub async fn metrics(
    services: web::Data<Services>,
    gateway: web::Data<keyway_gateway::GatewayState>,
) -> HttpResponse {
    let mut body = services.events.render_prometheus();
    body.push_str(&gateway.routing.stats.render_prometheus());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}

/// Adds `/healthz` and `/readyz`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    checks: BTreeMap<&'static str, String>,
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(services: web::Data<Services>) -> HttpResponse {
    let (db, kv, analytics) = tokio::join!(
        check(services.db.ping()),
        check(services.kv.ping()),
        check(services.analytics.ping()),
    );
    let required_ok = db.is_ok() && kv.is_ok();
    let status = match (required_ok, analytics.is_ok()) {
        (false, _) => "unavailable",
        (true, false) => "degraded",
        (true, true) => "ready",
    };
    let mut checks = BTreeMap::new();
    checks.insert("database", db.unwrap_or_else(|e| e));
    checks.insert(
        "kv",
        kv.map(|_| services.kv.backend().to_owned())
            .unwrap_or_else(|e| e),
    );
    checks.insert(
        "analytics",
        analytics
            .map(|_| services.analytics.backend().to_owned())
            .unwrap_or_else(|e| e),
    );
    let body = Readiness { status, checks };
    if required_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Runs one check with a timeout; the error text names the failure without any secret (URLs
/// are never included).
async fn check<E: std::fmt::Display>(
    fut: impl std::future::Future<Output = Result<(), E>>,
) -> Result<String, String> {
    match tokio::time::timeout(CHECK_TIMEOUT, fut).await {
        Ok(Ok(())) => Ok("ok".to_owned()),
        Ok(Err(e)) => Err(format!("error: {e}")),
        Err(_) => Err("error: timed out".to_owned()),
    }
}

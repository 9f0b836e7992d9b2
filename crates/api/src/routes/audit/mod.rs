//! `/api/v1/orgs/{org_id}/audit`: the audit log, newest first, with filters (admin).

use crate::auth::Caller;
use crate::dto::{AuditOut, ListPage};
use crate::error::ErrorBody;
use crate::services::{self, OrgCtx, audit};
use crate::{ApiError, ApiState};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use keyway_domain::UserId;
use keyway_store::audit::AuditFilter;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org_id}/audit", web::get().to(list));
}

/// Audit log filters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Exact action (`key.revoke`) or a prefix ending in `.` (`key.`).
    pub action: Option<String>,
    /// Acting user id.
    pub actor_id: Option<Uuid>,
    /// Kind of target (`key`, `provider`, `member`, `team`, `invite`, `org`).
    pub target_type: Option<String>,
    /// Target id.
    pub target_id: Option<String>,
    /// From this time (RFC 3339, inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Before this time (RFC 3339, exclusive).
    pub until: Option<DateTime<Utc>>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Audit entries (admin).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/audit", tag = "audit",
    params(("org_id" = Uuid, Path, description = "Organization id"), AuditQuery),
    responses((status = 200, body = ListPage<AuditOut>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let q = q.into_inner();
    let limit = services::page_limit(q.limit)?;
    let before_id = q
        .cursor
        .as_deref()
        .map(|c| {
            services::decode_cursor(c).and_then(|s| {
                Uuid::parse_str(&s).map_err(|_| ApiError::BadRequest("invalid cursor".into()))
            })
        })
        .transpose()?;
    let filter = AuditFilter {
        action: q.action,
        actor_id: q.actor_id.map(UserId::from_uuid),
        target_type: q.target_type,
        target_id: q.target_id,
        since: q.since,
        until: q.until,
        before_id,
    };
    let (entries, more) = audit::list(&state, &ctx, &filter, limit).await?;
    let next_cursor = if more {
        entries
            .last()
            .map(|e| services::encode_cursor(&e.id.to_string()))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(ListPage {
        data: entries.into_iter().map(AuditOut::from).collect(),
        next_cursor,
    }))
}

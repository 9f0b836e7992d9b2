//! `/api/v1/orgs/{org_id}/partials`: reusable template snippets that prompts include with
//! `{{> slug}}`, versioned immutably; `PATCH` writes a new version, which rendering uses from
//! then on.

use crate::auth::Caller;
use crate::dto::{ListPage, PageQuery};
use crate::error::ErrorBody;
use crate::services::{self, OrgCtx, prompts};
use crate::{ApiError, ApiState};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use keyway_store::prompts::{PartialRecord, PartialVersion};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let p = "/orgs/{org_id}/partials/{partial_id}";
    cfg.route("/orgs/{org_id}/partials", web::post().to(create))
        .route("/orgs/{org_id}/partials", web::get().to(list))
        .route(p, web::get().to(get))
        .route(p, web::patch().to(update))
        .route(p, web::delete().to(delete))
        .route(&format!("{p}/versions"), web::get().to(versions));
}

/// A partial with its newest version.
#[derive(Serialize, ToSchema)]
pub struct PartialOut {
    /// Id.
    pub id: Uuid,
    /// Slug: what `{{> slug}}` names.
    pub slug: String,
    /// Number of the newest version.
    pub version: u32,
    /// The newest version's template text.
    pub content: String,
    /// Who created the partial.
    pub created_by: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the newest version.
    pub updated_at: DateTime<Utc>,
}

impl From<PartialRecord> for PartialOut {
    fn from(r: PartialRecord) -> Self {
        Self {
            id: r.id,
            slug: r.slug,
            version: r.latest_version,
            content: r.content,
            created_by: r.created_by.map(|u| u.as_uuid()),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One immutable version of a partial.
#[derive(Serialize, ToSchema)]
pub struct PartialVersionOut {
    /// Version number.
    pub version: u32,
    /// Template text.
    pub content: String,
    /// What changed.
    pub commit_message: String,
    /// Who wrote it.
    pub created_by: Option<Uuid>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

impl From<PartialVersion> for PartialVersionOut {
    fn from(v: PartialVersion) -> Self {
        Self {
            version: v.version,
            content: v.content,
            commit_message: v.commit_message,
            created_by: v.created_by.map(|u| u.as_uuid()),
            created_at: v.created_at,
        }
    }
}

/// Every version of a partial, newest first.
#[derive(Serialize, ToSchema)]
pub struct PartialVersionsOut {
    /// Versions, newest first.
    pub data: Vec<PartialVersionOut>,
}

/// A new partial.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartialCreateIn {
    /// Slug (`a-z`, `0-9`, `-`), unique in the organization.
    pub slug: String,
    /// Template text (the same Mustache subset as prompts).
    pub content: String,
    /// What this version is.
    #[serde(default)]
    pub commit_message: String,
}

/// The next version of a partial.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartialUpdateIn {
    /// Template text.
    pub content: String,
    /// What changed.
    #[serde(default)]
    pub commit_message: String,
}

/// Creates a partial as version 1 (admin).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/partials", tag = "prompts", request_body = PartialCreateIn,
    params(("org_id" = Uuid, Path, description = "Organization id")),
    responses((status = 201, body = PartialOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: web::Json<PartialCreateIn>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let b = body.into_inner();
    let p = prompts::create_partial(&state, &ctx, &b.slug, &b.content, &b.commit_message).await?;
    Ok(HttpResponse::Created().json(PartialOut::from(p)))
}

/// Partials of the organization.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/partials", tag = "prompts",
    params(("org_id" = Uuid, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = ListPage<PartialOut>), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let all = prompts::list_partials(&state, &ctx).await?;
    let page = services::paginate(all, |p| p.id.to_string(), q.limit, q.cursor.as_deref())?;
    Ok(HttpResponse::Ok().json(ListPage {
        data: page.data.into_iter().map(PartialOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One partial with its newest version.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/partials/{partial_id}", tag = "prompts",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("partial_id" = Uuid, Path, description = "Partial id")),
    responses((status = 200, body = PartialOut), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let p = prompts::get_partial(&state, &ctx, id).await?;
    Ok(HttpResponse::Ok().json(PartialOut::from(p)))
}

/// Writes the next version of a partial (admin).
#[utoipa::path(patch, path = "/api/v1/orgs/{org_id}/partials/{partial_id}", tag = "prompts", request_body = PartialUpdateIn,
    params(("org_id" = Uuid, Path, description = "Organization id"), ("partial_id" = Uuid, Path, description = "Partial id")),
    responses((status = 200, body = PartialOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<PartialUpdateIn>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let b = body.into_inner();
    let p = prompts::update_partial(&state, &ctx, id, &b.content, &b.commit_message).await?;
    Ok(HttpResponse::Ok().json(PartialOut::from(p)))
}

/// Deletes a partial with its versions (admin); refused (409) while a prompt's newest or
/// labelled version, or another partial, includes it.
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/partials/{partial_id}", tag = "prompts",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("partial_id" = Uuid, Path, description = "Partial id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    prompts::delete_partial(&state, &ctx, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every version of a partial, newest first.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/partials/{partial_id}/versions", tag = "prompts",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("partial_id" = Uuid, Path, description = "Partial id")),
    responses((status = 200, body = PartialVersionsOut), (status = 404, body = ErrorBody)))]
pub async fn versions(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let versions = prompts::partial_versions(&state, &ctx, id).await?;
    Ok(HttpResponse::Ok().json(PartialVersionsOut {
        data: versions.into_iter().map(PartialVersionOut::from).collect(),
    }))
}

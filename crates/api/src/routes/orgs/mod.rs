//! `/api/v1/orgs` and `/api/v1/orgs/{org_id}`: create, list mine, read, rename / settings, delete.

use crate::auth::Caller;
use crate::dto::{ListPage, OrgOut, PageQuery};
use crate::error::ErrorBody;
use crate::services::{OrgCtx, orgs};
use crate::{ApiError, ApiState};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs", web::post().to(create))
        .route("/orgs", web::get().to(list))
        .route("/orgs/{org_id}", web::get().to(get))
        .route("/orgs/{org_id}", web::patch().to(update))
        .route("/orgs/{org_id}", web::delete().to(delete));
}

/// New organization.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgCreateIn {
    /// Display name.
    pub name: String,
    /// Unique handle (lower-case letters, digits, `-`); derived from the name when omitted.
    pub slug: Option<String>,
}

/// Creates an organization; the caller becomes its owner.
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = OrgCreateIn,
    responses((status = 201, body = OrgOut), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<OrgCreateIn>,
) -> Result<HttpResponse, ApiError> {
    let org = orgs::create(&state, &caller, &body.name, body.slug.as_deref()).await?;
    Ok(HttpResponse::Created().json(OrgOut::from(org)))
}

/// Organizations the caller belongs to.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", params(PageQuery),
    responses((status = 200, body = ListPage<OrgOut>), (status = 401, body = ErrorBody)))]
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let all = orgs::list_mine(&state, &caller).await?;
    ListPage::<OrgOut>::respond(all, |o| o.org.id.to_string(), &q)
}

/// One organization.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}", tag = "orgs",
    params(("org_id" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = OrgOut), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let org = orgs::get(&state, &ctx).await?;
    Ok(HttpResponse::Ok().json(OrgOut::new(org, ctx.role)))
}

/// Organization changes; omitted fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgUpdateIn {
    /// New display name.
    pub name: Option<String>,
    /// Days of request analytics kept (1 to 3650); `null` returns to the default.
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<u32>)]
    pub retention_days: Option<Option<u32>>,
    /// Store request and response bodies with analytics (redacted).
    pub log_bodies: Option<bool>,
}

/// Renames the organization or changes its settings (admin).
#[utoipa::path(patch, path = "/api/v1/orgs/{org_id}", tag = "orgs", request_body = OrgUpdateIn,
    params(("org_id" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = OrgOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: web::Json<OrgUpdateIn>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let body = body.into_inner();
    let org = orgs::update(
        &state,
        &ctx,
        body.name.as_deref(),
        body.retention_days,
        body.log_bodies,
    )
    .await?;
    Ok(HttpResponse::Ok().json(OrgOut::new(org, ctx.role)))
}

/// Deletes the organization and everything in it (owner).
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}", tag = "orgs",
    params(("org_id" = Uuid, Path, description = "Organization id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    orgs::delete(&state, &ctx).await?;
    Ok(HttpResponse::NoContent().finish())
}

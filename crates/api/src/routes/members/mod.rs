//! `/api/v1/orgs/{org_id}/members`: list, read, change role, remove (or leave).

use crate::auth::Caller;
use crate::dto::{ListPage, MemberOut, PageQuery};
use crate::error::ErrorBody;
use crate::services::{OrgCtx, members};
use crate::{ApiError, ApiState};
use actix_web::{HttpResponse, web};
use keyway_domain::{Role, UserId};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org_id}/members", web::get().to(list))
        .route("/orgs/{org_id}/members/{user_id}", web::get().to(get))
        .route("/orgs/{org_id}/members/{user_id}", web::patch().to(update))
        .route("/orgs/{org_id}/members/{user_id}", web::delete().to(remove));
}

/// Members of the organization.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/members", tag = "members",
    params(("org_id" = Uuid, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = ListPage<MemberOut>), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let all = members::list(&state, &ctx).await?;
    ListPage::<MemberOut>::respond(all, |m| m.user_id.to_string(), &q)
}

/// One member.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/members/{user_id}", tag = "members",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("user_id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = MemberOut), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, user) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let m = members::get(&state, &ctx, UserId::from_uuid(user)).await?;
    Ok(HttpResponse::Ok().json(MemberOut::from(m)))
}

/// Role change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdateIn {
    /// `owner`, `admin`, `member` or `viewer`.
    #[schema(value_type = String, example = "admin")]
    pub role: Role,
}

/// Changes a member's role (admin; only owners grant or take ownership).
#[utoipa::path(patch, path = "/api/v1/orgs/{org_id}/members/{user_id}", tag = "members", request_body = MemberUpdateIn,
    params(("org_id" = Uuid, Path, description = "Organization id"), ("user_id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = MemberOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<MemberUpdateIn>,
) -> Result<HttpResponse, ApiError> {
    let (org, user) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let m = members::set_role(&state, &ctx, UserId::from_uuid(user), body.role).await?;
    Ok(HttpResponse::Ok().json(MemberOut::from(m)))
}

/// Removes a member (admin), or leaves (yourself).
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/members/{user_id}", tag = "members",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("user_id" = Uuid, Path, description = "User id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, user) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    members::remove(&state, &ctx, UserId::from_uuid(user)).await?;
    Ok(HttpResponse::NoContent().finish())
}

//! `/api/v1/orgs/{org_id}/invites` (admin) and the invite link's `/api/v1/invites/lookup` and
//! `/api/v1/invites/accept`.

use crate::auth::Caller;
use crate::dto::{InviteOut, InvitePreviewOut, ListPage, PageQuery};
use crate::error::ErrorBody;
use crate::routes::auth::TokenIn;
use crate::services::{OrgCtx, invites};
use crate::{ApiError, ApiState};
use actix_web::{HttpResponse, web};
use keyway_domain::{InviteId, Role};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org_id}/invites", web::post().to(create))
        .route("/orgs/{org_id}/invites", web::get().to(list))
        .route("/orgs/{org_id}/invites/{invite_id}", web::get().to(get))
        .route(
            "/orgs/{org_id}/invites/{invite_id}",
            web::delete().to(revoke),
        )
        .route("/invites/lookup", web::post().to(lookup))
        .route("/invites/accept", web::post().to(accept));
}

/// New invitation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteCreateIn {
    /// Address to invite.
    pub email: String,
    /// Role on acceptance (default `member`).
    #[schema(value_type = Option<String>, example = "member")]
    pub role: Option<Role>,
}

/// Invites an address and mails the link (admin).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/invites", tag = "invites", request_body = InviteCreateIn,
    params(("org_id" = Uuid, Path, description = "Organization id")),
    responses((status = 201, body = InviteOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: web::Json<InviteCreateIn>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let invite =
        invites::create(&state, &ctx, &body.email, body.role.unwrap_or(Role::Member)).await?;
    Ok(HttpResponse::Created().json(InviteOut::from(invite)))
}

/// Invitations, newest first (admin).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/invites", tag = "invites",
    params(("org_id" = Uuid, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = ListPage<InviteOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let all = invites::list(&state, &ctx).await?;
    ListPage::<InviteOut>::respond(all, |i| i.id.to_string(), &q)
}

/// One invitation (admin).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/invites/{invite_id}", tag = "invites",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("invite_id" = Uuid, Path, description = "Invite id")),
    responses((status = 200, body = InviteOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let invite = invites::get(&state, &ctx, InviteId::from_uuid(id)).await?;
    Ok(HttpResponse::Ok().json(InviteOut::from(invite)))
}

/// Withdraws an invitation (admin).
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/invites/{invite_id}", tag = "invites",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("invite_id" = Uuid, Path, description = "Invite id")),
    responses((status = 200, body = InviteOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let invite = invites::revoke(&state, &ctx, InviteId::from_uuid(id)).await?;
    Ok(HttpResponse::Ok().json(InviteOut::from(invite)))
}

/// What an invite link offers (no login needed).
#[utoipa::path(post, path = "/api/v1/invites/lookup", tag = "invites", request_body = TokenIn,
    responses((status = 200, body = InvitePreviewOut), (status = 404, body = ErrorBody)))]
pub async fn lookup(
    state: web::Data<ApiState>,
    body: web::Json<TokenIn>,
) -> Result<HttpResponse, ApiError> {
    let p = invites::preview(&state, &body.token).await?;
    Ok(HttpResponse::Ok().json(InvitePreviewOut {
        org_name: p.org_name,
        email: p.invite.email,
        role: p.invite.role,
        expires_at: p.invite.expires_at,
    }))
}

/// Accepts an invitation as the logged-in account (its address must be the invited one).
#[utoipa::path(post, path = "/api/v1/invites/accept", tag = "invites", request_body = TokenIn,
    responses((status = 200, body = InviteOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn accept(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<TokenIn>,
) -> Result<HttpResponse, ApiError> {
    let invite = invites::accept(&state, &caller, &body.token).await?;
    Ok(HttpResponse::Ok().json(InviteOut::from(invite)))
}

//! `/api/v1/me`: the caller's account and organizations, name and password changes.

use crate::auth::Caller;
use crate::dto::{MeOut, OrgOut, StatusOut, UserOut};
use crate::error::ErrorBody;
use crate::services::{accounts, orgs};
use crate::{ApiError, ApiState};
use actix_web::{HttpResponse, web};
use keyway_domain::Secret;
use serde::Deserialize;
use utoipa::ToSchema;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/me", web::get().to(me))
        .route("/me", web::patch().to(update_me))
        .route("/me/password", web::post().to(change_password));
}

/// The caller and their organizations.
#[utoipa::path(get, path = "/api/v1/me", tag = "me",
    responses((status = 200, body = MeOut), (status = 401, body = ErrorBody)))]
pub async fn me(state: web::Data<ApiState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let orgs = orgs::list_mine(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(MeOut {
        user: caller.user.into(),
        orgs: orgs.into_iter().map(OrgOut::from).collect(),
    }))
}

/// Profile change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeUpdateIn {
    /// New display name.
    pub name: String,
}

/// Changes the caller's display name.
#[utoipa::path(patch, path = "/api/v1/me", tag = "me", request_body = MeUpdateIn,
    responses((status = 200, body = UserOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn update_me(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<MeUpdateIn>,
) -> Result<HttpResponse, ApiError> {
    let name = crate::services::clean_name(&body.name, "name")?;
    let user = state.db.rename_user(caller.user.id, &name).await?;
    Ok(HttpResponse::Ok().json(UserOut::from(user)))
}

/// Password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordIn {
    /// The current password.
    pub current_password: String,
    /// The new password.
    pub new_password: String,
}

/// Changes the caller's password; every other session ends.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "me", request_body = PasswordIn,
    responses((status = 200, body = StatusOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn change_password(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<PasswordIn>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    accounts::change_password(
        &state,
        &caller,
        Secret::new(body.current_password),
        Secret::new(body.new_password),
    )
    .await?;
    Ok(HttpResponse::Ok().json(StatusOut::new("password changed; other sessions ended")))
}

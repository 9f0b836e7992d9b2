//! `/api/v1/auth/*`: signup, verification, login, refresh, logout, password reset.

use crate::auth::{self, Caller, REFRESH_COOKIE};
use crate::dto::{StatusOut, TokensOut, UserOut};
use crate::error::ErrorBody;
use crate::services::accounts::{self, TokenPair};
use crate::{ApiError, ApiState};
use actix_web::{HttpRequest, HttpResponse, web};
use keyway_domain::Secret;
use serde::Deserialize;
use utoipa::ToSchema;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/signup", web::post().to(signup))
        .route("/auth/verify-email", web::post().to(verify_email))
        .route(
            "/auth/resend-verification",
            web::post().to(resend_verification),
        )
        .route("/auth/login", web::post().to(login))
        .route("/auth/refresh", web::post().to(refresh))
        .route("/auth/logout", web::post().to(logout))
        .route("/auth/forgot-password", web::post().to(forgot_password))
        .route("/auth/reset-password", web::post().to(reset_password));
}

/// Signup body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupIn {
    /// Address; a verification link is mailed to it.
    pub email: String,
    /// At least 10 characters, at most 256 bytes.
    pub password: String,
    /// Display name.
    pub name: String,
    /// Token of an invite to the same address: joins its organization, no verification mail.
    pub invite_token: Option<String>,
}

/// Creates an account and mails a verification link.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = SignupIn,
    responses((status = 201, body = UserOut), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn signup(
    state: web::Data<ApiState>,
    body: web::Json<SignupIn>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let user = accounts::signup(
        &state,
        &body.email,
        Secret::new(body.password),
        &body.name,
        body.invite_token.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Created().json(UserOut::from(user)))
}

/// A token from an e-mailed link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    /// The token.
    pub token: String,
}

/// Proves the address with the token from the verification mail.
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "auth", request_body = TokenIn,
    responses((status = 200, body = UserOut), (status = 400, body = ErrorBody)))]
pub async fn verify_email(
    state: web::Data<ApiState>,
    body: web::Json<TokenIn>,
) -> Result<HttpResponse, ApiError> {
    let user = accounts::verify_email(&state, &body.token).await?;
    Ok(HttpResponse::Ok().json(UserOut::from(user)))
}

/// An address.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailIn {
    /// The address.
    pub email: String,
}

/// Mails a new verification link if the account exists and is unverified (always 202).
#[utoipa::path(post, path = "/api/v1/auth/resend-verification", tag = "auth", request_body = EmailIn,
    responses((status = 202, body = StatusOut)))]
pub async fn resend_verification(
    state: web::Data<ApiState>,
    body: web::Json<EmailIn>,
) -> Result<HttpResponse, ApiError> {
    accounts::resend_verification(&state, &body.email).await?;
    Ok(HttpResponse::Accepted().json(StatusOut::new("sent if the account exists")))
}

/// Login body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    /// Address.
    pub email: String,
    /// Password.
    pub password: String,
}

fn tokens_response(
    state: &ApiState,
    mut resp: actix_web::HttpResponseBuilder,
    pair: TokenPair,
) -> HttpResponse {
    auth::set_session_cookies(
        &mut resp,
        state,
        &pair.access_token,
        pair.refresh_token.expose(),
        pair.refresh_expires_in,
    );
    resp.insert_header(("cache-control", "no-store"));
    resp.json(TokensOut {
        access_token: pair.access_token,
        refresh_token: pair.refresh_token.expose().clone(),
        token_type: "Bearer".into(),
        expires_in: pair.expires_in,
        refresh_expires_in: pair.refresh_expires_in,
    })
}

/// Logs in: an access token (also set as HttpOnly cookies for the dashboard) and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginIn,
    responses((status = 200, body = TokensOut), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<ApiState>,
    body: web::Json<LoginIn>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let ip = auth::client_ip(&req);
    let ua = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok());
    let (_, pair) = accounts::login(
        &state,
        &body.email,
        Secret::new(body.password),
        ip.as_deref(),
        ua,
    )
    .await?;
    Ok(tokens_response(&state, HttpResponse::Ok(), pair))
}

/// Refresh body; the dashboard sends the `kw_refresh` cookie instead.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RefreshIn {
    /// The refresh token from login or the last refresh.
    pub refresh_token: Option<String>,
}

/// Exchanges a refresh token for a new pair; the old one is used up, and presenting it again
/// ends the session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshIn,
    responses((status = 200, body = TokensOut), (status = 401, body = ErrorBody)))]
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<ApiState>,
    body: Option<web::Json<RefreshIn>>,
) -> Result<HttpResponse, ApiError> {
    let from_body = body.and_then(|b| b.into_inner().refresh_token);
    let token = match from_body {
        Some(t) => t,
        None => {
            let cookie = req
                .cookie(REFRESH_COOKIE)
                .ok_or_else(|| ApiError::Unauthorized("send refresh_token in the body".into()))?;
            auth::check_csrf(&req)?;
            cookie.value().to_owned()
        }
    };
    let pair = accounts::refresh(&state, &token).await?;
    Ok(tokens_response(&state, HttpResponse::Ok(), pair))
}

/// Ends the current session (its access and refresh tokens stop working).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 200, body = StatusOut), (status = 401, body = ErrorBody)))]
pub async fn logout(state: web::Data<ApiState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    accounts::logout(&state, &caller).await?;
    let mut resp = HttpResponse::Ok();
    auth::clear_session_cookies(&mut resp, &state);
    Ok(resp.json(StatusOut::new("logged out")))
}

/// Mails a reset link if the account exists (always 202).
#[utoipa::path(post, path = "/api/v1/auth/forgot-password", tag = "auth", request_body = EmailIn,
    responses((status = 202, body = StatusOut)))]
pub async fn forgot_password(
    state: web::Data<ApiState>,
    body: web::Json<EmailIn>,
) -> Result<HttpResponse, ApiError> {
    accounts::forgot_password(&state, &body.email).await?;
    Ok(HttpResponse::Accepted().json(StatusOut::new("sent if the account exists")))
}

/// Reset body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetIn {
    /// Token from the reset mail.
    pub token: String,
    /// The new password.
    pub password: String,
}

/// Sets a new password with the mailed token; every session ends.
#[utoipa::path(post, path = "/api/v1/auth/reset-password", tag = "auth", request_body = ResetIn,
    responses((status = 200, body = StatusOut), (status = 400, body = ErrorBody)))]
pub async fn reset_password(
    state: web::Data<ApiState>,
    body: web::Json<ResetIn>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    accounts::reset_password(&state, &body.token, Secret::new(body.password)).await?;
    Ok(HttpResponse::Ok().json(StatusOut::new("password changed; log in again")))
}

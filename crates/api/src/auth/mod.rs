//! Who is calling the API: an access token from `Authorization: Bearer …` (API clients) or from
//! the HttpOnly `kw_access` cookie (the dashboard). Cookie-authenticated requests that change
//! state must echo the `kw_csrf` cookie in an `x-csrf-token` header (double-submit), so another
//! site cannot make a logged-in browser act.

pub mod jwt;
pub mod password;

use crate::{ApiError, ApiState};
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, HttpResponseBuilder, web};
use keyway_domain::UserId;
use keyway_store::accounts::User;
use std::future::Future;
use std::pin::Pin;
use uuid::Uuid;

/// Cookie holding the access token.
pub const ACCESS_COOKIE: &str = "kw_access";
/// Cookie holding the refresh token (sent only to `/api/v1/auth`).
pub const REFRESH_COOKIE: &str = "kw_refresh";
/// Cookie holding the CSRF token, readable by the page so it can echo it.
pub const CSRF_COOKIE: &str = "kw_csrf";
/// Header that must echo [`CSRF_COOKIE`] on cookie-authenticated state changes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated user of the API.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account.
    pub user: User,
    /// The login session the token belongs to.
    pub session_id: Uuid,
    /// Client address (the TCP peer; proxies are not trusted blindly).
    pub ip: Option<String>,
}

/// The client's address as recorded in audit entries and throttling keys.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Checks the double-submit CSRF token of a cookie-authenticated state change.
pub fn check_csrf(req: &HttpRequest) -> Result<(), ApiError> {
    if safe_method(req.method()) {
        return Ok(());
    }
    let cookie = req.cookie(CSRF_COOKIE);
    let header = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match (cookie, header) {
        (Some(c), Some(h)) if !c.value().is_empty() && c.value() == h => Ok(()),
        _ => Err(ApiError::Forbidden {
            code: "csrf",
            message: format!("missing or wrong {CSRF_HEADER} header for a cookie session"),
        }),
    }
}

async fn authenticate(req: HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<ApiState>>()
        .ok_or_else(|| ApiError::internal(MissingState))?
        .clone();
    let token = match bearer(&req) {
        Some(token) => token.to_owned(),
        None => {
            let cookie = req.cookie(ACCESS_COOKIE).ok_or_else(|| {
                ApiError::Unauthorized(
                    "missing credentials: send `Authorization: Bearer <access token>`".into(),
                )
            })?;
            check_csrf(&req)?;
            cookie.value().to_owned()
        }
    };
    let claims = state.jwt.verify(&token).map_err(|e| {
        tracing::debug!(error = %e, "access token refused");
        ApiError::Unauthorized("invalid or expired access token".into())
    })?;
    let user_id = UserId::from_uuid(claims.sub);
    if !state.db.session_active(claims.sid, user_id).await? {
        return Err(ApiError::Unauthorized("session ended: log in again".into()));
    }
    let user = state
        .db
        .user(user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("account no longer exists".into()))?;
    Ok(Caller {
        user,
        session_id: claims.sid,
        ip: client_ip(&req),
    })
}

#[derive(Debug, thiserror::Error)]
#[error("ApiState is not registered on this app")]
struct MissingState;

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}

fn cookie(
    name: &str,
    value: String,
    path: &str,
    max_age_secs: i64,
    http_only: bool,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build(name.to_owned(), value)
        .path(path.to_owned())
        .http_only(http_only)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(max_age_secs))
        .finish()
}

/// Sets the dashboard's session cookies on a login or refresh response.
pub fn set_session_cookies(
    resp: &mut HttpResponseBuilder,
    state: &ApiState,
    access: &str,
    refresh: &str,
    refresh_ttl_secs: i64,
) {
    let secure = state.secure_cookies();
    let (csrf, _) = keyway_store::tokens::generate();
    resp.cookie(cookie(
        ACCESS_COOKIE,
        access.to_owned(),
        "/",
        jwt::ACCESS_TTL_SECS,
        true,
        secure,
    ));
    resp.cookie(cookie(
        REFRESH_COOKIE,
        refresh.to_owned(),
        "/api/v1/auth",
        refresh_ttl_secs,
        true,
        secure,
    ));
    resp.cookie(cookie(
        CSRF_COOKIE,
        csrf.expose().clone(),
        "/",
        refresh_ttl_secs,
        false,
        secure,
    ));
}

/// Clears the session cookies (logout).
pub fn clear_session_cookies(resp: &mut HttpResponseBuilder, state: &ApiState) {
    let secure = state.secure_cookies();
    for (name, path, http_only) in [
        (ACCESS_COOKIE, "/", true),
        (REFRESH_COOKIE, "/api/v1/auth", true),
        (CSRF_COOKIE, "/", false),
    ] {
        resp.cookie(cookie(name, String::new(), path, 0, http_only, secure));
    }
}

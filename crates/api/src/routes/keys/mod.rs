//! `/api/v1/orgs/{org_id}/keys`: virtual keys; the secret is in `key` of the create and rotate
//! responses only.

use crate::auth::Caller;
use crate::dto::{BudgetIo, KeyOut, LimitsIo, ListPage, PageQuery};
use crate::error::ErrorBody;
use crate::services::{OrgCtx, keys};
use crate::{ApiError, ApiState};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use keyway_domain::{Secret, Slug, VirtualKeyId};
use keyway_store::virtual_keys::{KeyUpdate, NewKey, VirtualKey};
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org_id}/keys", web::post().to(create))
        .route("/orgs/{org_id}/keys", web::get().to(list))
        .route("/orgs/{org_id}/keys/{key_id}", web::get().to(get))
        .route("/orgs/{org_id}/keys/{key_id}", web::patch().to(update))
        .route("/orgs/{org_id}/keys/{key_id}", web::delete().to(delete))
        .route(
            "/orgs/{org_id}/keys/{key_id}/rotate",
            web::post().to(rotate),
        )
        .route(
            "/orgs/{org_id}/keys/{key_id}/revoke",
            web::post().to(revoke),
        );
}

/// Most entries in `allowed_models`, `allowed_providers` or `metadata`.
const MAX_LIST: usize = 200;

fn check_list(name: &str, len: usize) -> Result<(), ApiError> {
    if len > MAX_LIST {
        return Err(ApiError::BadRequest(format!(
            "{name} may hold at most {MAX_LIST} entries"
        )));
    }
    Ok(())
}

fn slugs(values: Vec<String>) -> Result<Vec<Slug>, ApiError> {
    check_list("allowed_providers", values.len())?;
    values
        .iter()
        .map(|s| {
            Slug::parse(s)
                .map_err(|e| ApiError::BadRequest(format!("allowed_providers: {s:?}: {e}")))
        })
        .collect()
}

fn models(values: Vec<String>) -> Result<Vec<String>, ApiError> {
    check_list("allowed_models", values.len())?;
    if values.iter().any(|m| m.trim().is_empty() || m.len() > 300) {
        return Err(ApiError::BadRequest(
            "allowed_models entries must be 1 to 300 characters".into(),
        ));
    }
    Ok(values)
}

fn metadata(values: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ApiError> {
    check_list("metadata", values.len())?;
    if values
        .iter()
        .any(|(k, v)| k.is_empty() || k.len() > 64 || v.len() > 512)
    {
        return Err(ApiError::BadRequest(
            "metadata keys must be 1 to 64 bytes and values at most 512".into(),
        ));
    }
    Ok(values)
}

fn guardrails(values: Vec<Uuid>) -> Result<Vec<Uuid>, ApiError> {
    check_list("guardrails", values.len())?;
    if values
        .iter()
        .enumerate()
        .any(|(i, id)| values[..i].contains(id))
    {
        return Err(ApiError::BadRequest(
            "guardrails: an id is listed twice".into(),
        ));
    }
    Ok(values)
}

fn with_secret(key: VirtualKey, secret: Secret<String>) -> KeyOut {
    let mut out = KeyOut::from(key);
    out.key = Some(secret.expose().clone());
    out
}

/// New virtual key.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyCreateIn {
    /// Display name.
    pub name: String,
    /// Team the key belongs to.
    pub team_id: Option<Uuid>,
    /// Models the key may call (`slug/model` or aliases); empty allows all.
    #[serde(default)]
    pub allowed_models: Vec<String>,
    /// Provider credential slugs the key may use; empty allows all.
    #[serde(default)]
    pub allowed_providers: Vec<String>,
    /// Rate limits.
    pub limits: Option<LimitsIo>,
    /// Spending cap.
    pub budget: Option<BudgetIo>,
    /// Labels recorded with each request.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Routing config used when a request names none.
    pub default_config_id: Option<Uuid>,
    /// Guardrails run on every request with the key, in order (ids in this organization).
    #[serde(default)]
    pub guardrails: Vec<Uuid>,
    /// When the key stops working (must be in the future).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Issues a key (member and up); the secret is in `key`, shown this once.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/keys", tag = "keys", request_body = KeyCreateIn,
    params(("org_id" = Uuid, Path, description = "Organization id")),
    responses((status = 201, body = KeyOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: web::Json<KeyCreateIn>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let b = body.into_inner();
    let new = NewKey {
        name: b.name,
        team_id: b.team_id,
        allowed_models: models(b.allowed_models)?,
        allowed_providers: slugs(b.allowed_providers)?,
        limits: b.limits.unwrap_or_default().into_limits()?,
        budget: b.budget.map(BudgetIo::into_budget).transpose()?,
        metadata: metadata(b.metadata)?,
        default_config_id: b.default_config_id,
        guardrails: guardrails(b.guardrails)?,
        expires_at: b.expires_at,
    };
    let (key, secret) = keys::issue(&state, &ctx, new).await?;
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(with_secret(key, secret)))
}

/// Keys of the organization.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/keys", tag = "keys",
    params(("org_id" = Uuid, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = ListPage<KeyOut>), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let all = keys::list(&state, &ctx).await?;
    let page = crate::services::paginate(all, |k| k.id.to_string(), q.limit, q.cursor.as_deref())?;
    let mut data = Vec::with_capacity(page.data.len());
    for key in page.data {
        let spend = crate::services::spend::of_key(&state, &key).await?;
        data.push(KeyOut {
            spend,
            ..KeyOut::from(key)
        });
    }
    Ok(HttpResponse::Ok().json(ListPage {
        data,
        next_cursor: page.next_cursor,
    }))
}

/// One key.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/keys/{key_id}", tag = "keys",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("key_id" = Uuid, Path, description = "Key id")),
    responses((status = 200, body = KeyOut), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let key = keys::get(&state, &ctx, VirtualKeyId::from_uuid(id)).await?;
    let spend = crate::services::spend::of_key(&state, &key).await?;
    Ok(HttpResponse::Ok().json(KeyOut {
        spend,
        ..KeyOut::from(key)
    }))
}

/// Key changes; omitted fields stay as they are, `null` clears.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyUpdateIn {
    /// New display name.
    pub name: Option<String>,
    /// New team; `null` removes it.
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub team_id: Option<Option<Uuid>>,
    /// New allowed models.
    pub allowed_models: Option<Vec<String>>,
    /// New allowed provider slugs.
    pub allowed_providers: Option<Vec<String>>,
    /// New rate limits.
    pub limits: Option<LimitsIo>,
    /// New budget; `null` removes it.
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<BudgetIo>)]
    pub budget: Option<Option<BudgetIo>>,
    /// New labels (replacing the old ones).
    pub metadata: Option<BTreeMap<String, String>>,
    /// New default routing config; `null` removes it.
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub default_config_id: Option<Option<Uuid>>,
    /// New attached guardrails (replacing the old ones; `[]` detaches all).
    pub guardrails: Option<Vec<Uuid>>,
    /// New expiry; `null` removes it.
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// Changes a key (member and up); gateways see the change within seconds.
#[utoipa::path(patch, path = "/api/v1/orgs/{org_id}/keys/{key_id}", tag = "keys", request_body = KeyUpdateIn,
    params(("org_id" = Uuid, Path, description = "Organization id"), ("key_id" = Uuid, Path, description = "Key id")),
    responses((status = 200, body = KeyOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<KeyUpdateIn>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let b = body.into_inner();
    let update = KeyUpdate {
        name: b.name,
        team_id: b.team_id,
        allowed_models: b.allowed_models.map(models).transpose()?,
        allowed_providers: b.allowed_providers.map(slugs).transpose()?,
        limits: b.limits.map(LimitsIo::into_limits).transpose()?,
        budget: b
            .budget
            .map(|x| x.map(BudgetIo::into_budget).transpose())
            .transpose()?,
        metadata: b.metadata.map(metadata).transpose()?,
        default_config_id: b.default_config_id,
        guardrails: b.guardrails.map(guardrails).transpose()?,
        expires_at: b.expires_at,
    };
    let key = keys::update(&state, &ctx, VirtualKeyId::from_uuid(id), update).await?;
    Ok(HttpResponse::Ok().json(KeyOut::from(key)))
}

/// Deletes a key (member and up).
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/keys/{key_id}", tag = "keys",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("key_id" = Uuid, Path, description = "Key id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    keys::delete(&state, &ctx, VirtualKeyId::from_uuid(id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotation options.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateIn {
    /// Seconds the old secret keeps working (default 86400, at most 604800; 0 ends it now).
    pub grace_period_secs: Option<u64>,
}

/// Gives the key a new secret, returned in `key` this once (member and up).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/keys/{key_id}/rotate", tag = "keys", request_body = RotateIn,
    params(("org_id" = Uuid, Path, description = "Organization id"), ("key_id" = Uuid, Path, description = "Key id")),
    responses((status = 200, body = KeyOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: Option<web::Json<RotateIn>>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let grace = body.and_then(|b| b.grace_period_secs);
    let (key, secret) = keys::rotate(&state, &ctx, VirtualKeyId::from_uuid(id), grace).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(with_secret(key, secret)))
}

/// Revokes the key at once (member and up).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/keys/{key_id}/revoke", tag = "keys",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("key_id" = Uuid, Path, description = "Key id")),
    responses((status = 200, body = KeyOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let key = keys::revoke(&state, &ctx, VirtualKeyId::from_uuid(id)).await?;
    Ok(HttpResponse::Ok().json(KeyOut::from(key)))
}

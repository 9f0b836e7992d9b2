//! `/api/v1/orgs/{org_id}/providers`: provider credentials, keys write-only and shown masked.

use crate::auth::Caller;
use crate::dto::{ListPage, PageQuery, ProviderOut};
use crate::error::ErrorBody;
use crate::services::OrgCtx;
use crate::services::providers::{self, CreateProvider};
use crate::{ApiError, ApiState};
use actix_web::{HttpResponse, web};
use keyway_domain::{CredentialId, Secret};
use keyway_store::credentials::CredentialUpdate;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org_id}/providers", web::post().to(create))
        .route("/orgs/{org_id}/providers", web::get().to(list))
        .route("/orgs/{org_id}/providers/{provider_id}", web::get().to(get))
        .route(
            "/orgs/{org_id}/providers/{provider_id}",
            web::patch().to(update),
        )
        .route(
            "/orgs/{org_id}/providers/{provider_id}",
            web::delete().to(delete),
        );
}

/// New provider credential.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderCreateIn {
    /// Display name.
    pub name: String,
    /// Handle used in model names: `<slug>/<model>`.
    pub slug: String,
    /// Provider kind: `openai`, `azure-openai`, `anthropic`, `gemini`, `bedrock`, `cohere`,
    /// `mistral`, `groq`, `together`, `fireworks`, `deepseek`, `xai`, `openrouter`,
    /// `perplexity`, `cerebras`, `deepinfra`, `ollama`, `vllm`, `openai-compatible`, `mock`.
    pub provider: String,
    /// The provider's API key (write-only; sealed at rest; shown as `****` + last 4).
    pub api_key: String,
    /// Base URL override (checked against the gateway's SSRF policy).
    pub base_url: Option<String>,
    /// Provider-specific settings (JSON object), e.g. Azure `api_version`, Bedrock `region`.
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
}

/// Stores a provider credential (admin).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/providers", tag = "providers", request_body = ProviderCreateIn,
    params(("org_id" = Uuid, Path, description = "Organization id")),
    responses((status = 201, body = ProviderOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: web::Json<ProviderCreateIn>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let b = body.into_inner();
    let created = providers::create(
        &state,
        &ctx,
        CreateProvider {
            name: b.name,
            slug: b.slug,
            provider: b.provider,
            api_key: Secret::new(b.api_key),
            base_url: b.base_url,
            config: b.config,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(ProviderOut::from(created)))
}

/// Provider credentials of the organization.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/providers", tag = "providers",
    params(("org_id" = Uuid, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = ListPage<ProviderOut>), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let all = providers::list(&state, &ctx).await?;
    ListPage::<ProviderOut>::respond(all, |c| c.id.to_string(), &q)
}

/// One provider credential.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/providers/{provider_id}", tag = "providers",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("provider_id" = Uuid, Path, description = "Credential id")),
    responses((status = 200, body = ProviderOut), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let c = providers::get(&state, &ctx, CredentialId::from_uuid(id)).await?;
    Ok(HttpResponse::Ok().json(ProviderOut::from(c)))
}

/// Credential changes; omitted fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderUpdateIn {
    /// New display name.
    pub name: Option<String>,
    /// A new key (sealed afresh).
    pub api_key: Option<String>,
    /// New base URL; `null` removes the override.
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<String>)]
    pub base_url: Option<Option<String>>,
    /// New provider-specific settings.
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
}

/// Changes a provider credential (admin).
#[utoipa::path(patch, path = "/api/v1/orgs/{org_id}/providers/{provider_id}", tag = "providers", request_body = ProviderUpdateIn,
    params(("org_id" = Uuid, Path, description = "Organization id"), ("provider_id" = Uuid, Path, description = "Credential id")),
    responses((status = 200, body = ProviderOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<ProviderUpdateIn>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let b = body.into_inner();
    let update = CredentialUpdate {
        name: b.name,
        base_url: b.base_url,
        config: b.config,
        api_key: b.api_key.map(Secret::new),
    };
    let c = providers::update(&state, &ctx, CredentialId::from_uuid(id), update).await?;
    Ok(HttpResponse::Ok().json(ProviderOut::from(c)))
}

/// Deletes a provider credential (admin).
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/providers/{provider_id}", tag = "providers",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("provider_id" = Uuid, Path, description = "Credential id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    providers::delete(&state, &ctx, CredentialId::from_uuid(id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

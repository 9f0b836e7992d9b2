//! `/api/v1/orgs/{org_id}/guardrails`: guardrails with immutable versions. `PATCH` with a
//! `definition` writes a new version; `GET .../versions` lists them all; `POST .../{id}/test`
//! runs the newest version on a text and `POST .../test` an inline definition.

use crate::auth::Caller;
use crate::dto::{ListPage, PageQuery};
use crate::error::ErrorBody;
use crate::services::{self, OrgCtx, guardrails};
use crate::{ApiError, ApiState};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use keyway_domain::guardrails::Stage;
use keyway_store::guardrails::{GuardrailRecord, GuardrailVersion};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org_id}/guardrails", web::post().to(create))
        .route("/orgs/{org_id}/guardrails", web::get().to(list))
        .route(
            "/orgs/{org_id}/guardrails/test",
            web::post().to(test_inline),
        )
        .route(
            "/orgs/{org_id}/guardrails/{guardrail_id}",
            web::get().to(get),
        )
        .route(
            "/orgs/{org_id}/guardrails/{guardrail_id}",
            web::patch().to(update),
        )
        .route(
            "/orgs/{org_id}/guardrails/{guardrail_id}",
            web::delete().to(delete),
        )
        .route(
            "/orgs/{org_id}/guardrails/{guardrail_id}/versions",
            web::get().to(versions),
        )
        .route(
            "/orgs/{org_id}/guardrails/{guardrail_id}/test",
            web::post().to(test_stored),
        );
}

/// A guardrail with its newest version.
#[derive(Serialize, ToSchema)]
pub struct GuardrailOut {
    /// Id: what a key's `guardrails` list names.
    pub id: Uuid,
    /// Slug, unique in the organization.
    pub slug: String,
    /// Number of the newest version (from 1).
    pub version: u32,
    /// The newest version's definition (`{"version": 1, "checks": [...]}`).
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    /// Who created the guardrail.
    pub created_by: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the newest version or slug change.
    pub updated_at: DateTime<Utc>,
}

impl From<GuardrailRecord> for GuardrailOut {
    fn from(r: GuardrailRecord) -> Self {
        Self {
            id: r.id,
            slug: r.slug,
            version: r.version,
            definition: r.definition,
            created_by: r.created_by.map(|u| u.as_uuid()),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One immutable version of a guardrail.
#[derive(Serialize, ToSchema)]
pub struct GuardrailVersionOut {
    /// Version number.
    pub version: u32,
    /// The definition as it was in this version.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    /// Who wrote it.
    pub created_by: Option<Uuid>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

impl From<GuardrailVersion> for GuardrailVersionOut {
    fn from(v: GuardrailVersion) -> Self {
        Self {
            version: v.version,
            definition: v.definition,
            created_by: v.created_by.map(|u| u.as_uuid()),
            created_at: v.created_at,
        }
    }
}

/// Every version of a guardrail, newest first.
#[derive(Serialize, ToSchema)]
pub struct GuardrailVersionsOut {
    /// Versions, newest first.
    pub data: Vec<GuardrailVersionOut>,
}

/// New guardrail.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailCreateIn {
    /// Slug, unique in the organization.
    pub slug: String,
    /// The definition: `{"version": 1, "checks": [{"id", "on", "action", "check"}]}`.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
}

/// Creates a guardrail as version 1 (admin). An invalid definition is a 400 naming the JSON path.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/guardrails", tag = "guardrails", request_body = GuardrailCreateIn,
    params(("org_id" = Uuid, Path, description = "Organization id")),
    responses((status = 201, body = GuardrailOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: web::Json<GuardrailCreateIn>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let body = body.into_inner();
    let guardrail = guardrails::create(&state, &ctx, &body.slug, body.definition).await?;
    Ok(HttpResponse::Created().json(GuardrailOut::from(guardrail)))
}

/// Guardrails of the organization, each with its newest version.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/guardrails", tag = "guardrails",
    params(("org_id" = Uuid, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = ListPage<GuardrailOut>), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let all = guardrails::list(&state, &ctx).await?;
    let page = services::paginate(all, |g| g.id.to_string(), q.limit, q.cursor.as_deref())?;
    Ok(HttpResponse::Ok().json(ListPage {
        data: page.data.into_iter().map(GuardrailOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One guardrail with its newest version.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/guardrails/{guardrail_id}", tag = "guardrails",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("guardrail_id" = Uuid, Path, description = "Guardrail id")),
    responses((status = 200, body = GuardrailOut), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let guardrail = guardrails::get(&state, &ctx, id).await?;
    Ok(HttpResponse::Ok().json(GuardrailOut::from(guardrail)))
}

/// Guardrail changes: a new slug, a new version, or both.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailUpdateIn {
    /// New slug.
    pub slug: Option<String>,
    /// The next version's definition; older versions stay as they were.
    #[schema(value_type = Option<Object>)]
    pub definition: Option<serde_json::Value>,
}

/// Writes a new version and/or changes the slug of a guardrail (admin).
#[utoipa::path(patch, path = "/api/v1/orgs/{org_id}/guardrails/{guardrail_id}", tag = "guardrails", request_body = GuardrailUpdateIn,
    params(("org_id" = Uuid, Path, description = "Organization id"), ("guardrail_id" = Uuid, Path, description = "Guardrail id")),
    responses((status = 200, body = GuardrailOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<GuardrailUpdateIn>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let body = body.into_inner();
    let guardrail = guardrails::update(&state, &ctx, id, body.slug, body.definition).await?;
    Ok(HttpResponse::Ok().json(GuardrailOut::from(guardrail)))
}

/// Deletes a guardrail with its versions (admin); refused (409) while a key attaches it.
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/guardrails/{guardrail_id}", tag = "guardrails",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("guardrail_id" = Uuid, Path, description = "Guardrail id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    guardrails::delete(&state, &ctx, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every version of a guardrail, newest first.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/guardrails/{guardrail_id}/versions", tag = "guardrails",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("guardrail_id" = Uuid, Path, description = "Guardrail id")),
    responses((status = 200, body = GuardrailVersionsOut), (status = 404, body = ErrorBody)))]
pub async fn versions(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let versions = guardrails::versions(&state, &ctx, id).await?;
    Ok(HttpResponse::Ok().json(GuardrailVersionsOut {
        data: versions
            .into_iter()
            .map(GuardrailVersionOut::from)
            .collect(),
    }))
}

/// A text to run a stored guardrail's checks on.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailTestIn {
    /// The text (a prompt for `input`, an answer for `output`).
    pub text: String,
    /// Which checks run: `input` (default) or `output`.
    #[schema(value_type = Option<String>)]
    pub on: Option<Stage>,
    /// The model the request would name (for `models` checks).
    #[serde(default)]
    pub model: String,
}

/// A text to run an inline definition's checks on.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailInlineTestIn {
    /// The definition to try.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
    /// The text (a prompt for `input`, an answer for `output`).
    pub text: String,
    /// Which checks run: `input` (default) or `output`.
    #[schema(value_type = Option<String>)]
    pub on: Option<Stage>,
    /// The model the request would name (for `models` checks).
    #[serde(default)]
    pub model: String,
}

/// What the checks found.
#[derive(Serialize, ToSchema)]
pub struct GuardrailTestOut {
    /// Whether a failed `deny` check would refuse the request (HTTP 446 at the gateway).
    pub denied: bool,
    /// The text after `redact` checks, as the gateway would pass it on.
    pub text: String,
    /// One verdict per check of the stage: `check`, `type`, `on`, `passed`, `action`, `details`.
    #[schema(value_type = Vec<Object>)]
    pub verdicts: Vec<keyway_domain::guardrails::Verdict>,
}

fn test_out(run: guardrails::TestRun) -> HttpResponse {
    HttpResponse::Ok().json(GuardrailTestOut {
        denied: run.denied,
        text: run.text,
        verdicts: run.verdicts,
    })
}

/// Runs the newest version of a guardrail on a text (any member); nothing is stored.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/guardrails/{guardrail_id}/test", tag = "guardrails", request_body = GuardrailTestIn,
    params(("org_id" = Uuid, Path, description = "Organization id"), ("guardrail_id" = Uuid, Path, description = "Guardrail id")),
    responses((status = 200, body = GuardrailTestOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn test_stored(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<GuardrailTestIn>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let record = guardrails::get(&state, &ctx, id).await?;
    let guardrail = guardrails::parse_definition(&record.definition)?;
    let b = body.into_inner();
    let mut run = guardrails::test(
        &ctx,
        &guardrail,
        b.on.unwrap_or(Stage::Input),
        b.text,
        &b.model,
    )?;
    for v in &mut run.verdicts {
        v.guardrail = Some(record.slug.clone());
    }
    Ok(test_out(run))
}

/// Runs an inline definition on a text (any member); nothing is stored. An invalid definition
/// is a 400 naming the JSON path.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/guardrails/test", tag = "guardrails", request_body = GuardrailInlineTestIn,
    params(("org_id" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = GuardrailTestOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn test_inline(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: web::Json<GuardrailInlineTestIn>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let b = body.into_inner();
    let guardrail = guardrails::parse_definition(&b.definition)?;
    let run = guardrails::test(
        &ctx,
        &guardrail,
        b.on.unwrap_or(Stage::Input),
        b.text,
        &b.model,
    )?;
    Ok(test_out(run))
}

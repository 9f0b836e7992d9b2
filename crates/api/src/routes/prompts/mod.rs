//! `/api/v1/orgs/{org_id}/prompts`: prompt templates with immutable versions, labels that point
//! at a version (moving one ships or rolls back), a line diff between versions and a render
//! preview. The gateway serves them at `/v1/prompts/{slug}/render` and `/completions`.

use crate::auth::Caller;
use crate::dto::{ListPage, PageQuery};
use crate::error::ErrorBody;
use crate::services::prompts::{self, NewPrompt, PromptDiff};
use crate::services::{self, OrgCtx};
use crate::{ApiError, ApiState};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use keyway_domain::prompt::{PromptMessage, PromptTemplate, VariableSpec};
use keyway_store::prompts::{PromptLabel, PromptRecord, PromptVersion, VersionSelector};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let p = "/orgs/{org_id}/prompts/{prompt_id}";
    cfg.route("/orgs/{org_id}/prompts", web::post().to(create))
        .route("/orgs/{org_id}/prompts", web::get().to(list))
        .route(p, web::get().to(get))
        .route(p, web::patch().to(update))
        .route(p, web::delete().to(delete))
        .route(&format!("{p}/versions"), web::get().to(versions))
        .route(&format!("{p}/versions"), web::post().to(create_version))
        .route(&format!("{p}/versions/{{version}}"), web::get().to(version))
        .route(&format!("{p}/diff"), web::get().to(diff))
        .route(&format!("{p}/labels"), web::get().to(labels))
        .route(&format!("{p}/labels/{{label}}"), web::put().to(set_label))
        .route(
            &format!("{p}/labels/{{label}}"),
            web::delete().to(delete_label),
        )
        .route(&format!("{p}/render"), web::post().to(render));
}

/// A prompt with its newest version number and labels.
#[derive(Serialize, ToSchema)]
pub struct PromptOut {
    /// Id.
    pub id: Uuid,
    /// Slug, unique in the organization: what `/v1/prompts/{slug}/...` names.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Number of the newest version.
    pub latest_version: u32,
    /// Label name -> version.
    pub labels: BTreeMap<String, u32>,
    /// Who created the prompt.
    pub created_by: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the newest version, label move or rename.
    pub updated_at: DateTime<Utc>,
}

impl From<PromptRecord> for PromptOut {
    fn from(r: PromptRecord) -> Self {
        Self {
            id: r.id,
            slug: r.slug,
            name: r.name,
            description: r.description,
            latest_version: r.latest_version,
            labels: r.labels,
            created_by: r.created_by.map(|u| u.as_uuid()),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One immutable version of a prompt.
#[derive(Serialize, ToSchema)]
pub struct PromptVersionOut {
    /// Version number, from 1.
    pub version: u32,
    /// `[{role, content}]`; contents are Mustache templates.
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<PromptMessage>,
    /// Model (`provider/model` or an alias).
    pub model: String,
    /// Request parameters (temperature, max_tokens, ...).
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    /// Variables by name: `{required, default, description}`.
    #[schema(value_type = Object)]
    pub variables: BTreeMap<String, VariableSpec>,
    /// Ids of the organization's guardrails this version applies.
    pub guardrails: Vec<Uuid>,
    /// What changed.
    pub commit_message: String,
    /// Who wrote it.
    pub created_by: Option<Uuid>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

impl From<PromptVersion> for PromptVersionOut {
    fn from(v: PromptVersion) -> Self {
        Self {
            version: v.version,
            messages: v.template.messages,
            model: v.template.model,
            parameters: v.template.parameters,
            variables: v.template.variables,
            guardrails: v.template.guardrails,
            commit_message: v.commit_message,
            created_by: v.created_by.map(|u| u.as_uuid()),
            created_at: v.created_at,
        }
    }
}

/// Every version of a prompt, newest first.
#[derive(Serialize, ToSchema)]
pub struct PromptVersionsOut {
    /// Versions, newest first.
    pub data: Vec<PromptVersionOut>,
}

/// A new prompt with its version 1.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptCreateIn {
    /// Slug (`a-z`, `0-9`, `-`), unique in the organization.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// `[{role, content}]`; contents are Mustache templates (variables, sections, partials).
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<PromptMessage>,
    /// Model (`provider/model` or an alias).
    pub model: String,
    /// Request parameters merged into the rendered request.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    /// Variables by name: `{required, default, description}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: BTreeMap<String, VariableSpec>,
    /// Ids of the organization's guardrails this version applies (besides the key's and the
    /// routing config's).
    #[serde(default)]
    pub guardrails: Vec<Uuid>,
    /// What this version is.
    #[serde(default)]
    pub commit_message: String,
}

/// The next version of a prompt.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptVersionIn {
    /// `[{role, content}]`; contents are Mustache templates.
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<PromptMessage>,
    /// Model (`provider/model` or an alias).
    pub model: String,
    /// Request parameters merged into the rendered request.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    /// Variables by name: `{required, default, description}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: BTreeMap<String, VariableSpec>,
    /// Ids of the organization's guardrails this version applies (besides the key's and the
    /// routing config's).
    #[serde(default)]
    pub guardrails: Vec<Uuid>,
    /// What changed.
    #[serde(default)]
    pub commit_message: String,
}

/// Prompt changes (versions are written through `POST .../versions`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptUpdateIn {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
}

/// A label of a prompt.
#[derive(Serialize, ToSchema)]
pub struct LabelOut {
    /// Label name.
    pub name: String,
    /// The version it points at.
    pub version: u32,
    /// Who last moved it.
    pub updated_by: Option<Uuid>,
    /// When it was last moved.
    pub updated_at: DateTime<Utc>,
}

impl From<PromptLabel> for LabelOut {
    fn from(l: PromptLabel) -> Self {
        Self {
            name: l.name,
            version: l.version,
            updated_by: l.updated_by.map(|u| u.as_uuid()),
            updated_at: l.updated_at,
        }
    }
}

/// Labels of a prompt.
#[derive(Serialize, ToSchema)]
pub struct LabelsOut {
    /// Labels by name.
    pub data: Vec<LabelOut>,
}

/// Where a label points.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelIn {
    /// Version number.
    pub version: u32,
}

/// Which versions to compare.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// Older side (default: the version before `to`).
    pub from: Option<u32>,
    /// Newer side (default: the newest version).
    pub to: Option<u32>,
}

/// One line of a diff.
#[derive(Serialize, ToSchema)]
pub struct DiffLineOut {
    /// `equal`, `delete` (only in `from`) or `insert` (only in `to`).
    pub op: String,
    /// The line.
    pub text: String,
}

/// The diff of one part of a version.
#[derive(Serialize, ToSchema)]
pub struct FieldDiffOut {
    /// `messages`, `model`, `parameters` or `variables`.
    pub field: String,
    /// Whether the part differs.
    pub changed: bool,
    /// Every line of both sides in order, for a side-by-side view.
    pub lines: Vec<DiffLineOut>,
}

/// How two versions differ.
#[derive(Serialize, ToSchema)]
pub struct DiffOut {
    /// Older side.
    pub from: u32,
    /// Newer side.
    pub to: u32,
    /// Whether anything differs.
    pub changed: bool,
    /// Per part.
    pub fields: Vec<FieldDiffOut>,
    /// The changed parts as one unified diff.
    pub unified: String,
}

impl From<PromptDiff> for DiffOut {
    fn from(d: PromptDiff) -> Self {
        Self {
            from: d.from,
            to: d.to,
            changed: d.changed,
            fields: d
                .fields
                .into_iter()
                .map(|f| FieldDiffOut {
                    field: f.field.to_owned(),
                    changed: f.changed,
                    lines: f
                        .lines
                        .into_iter()
                        .map(|l| DiffLineOut {
                            op: l.op.to_owned(),
                            text: l.text,
                        })
                        .collect(),
                })
                .collect(),
            unified: d.unified,
        }
    }
}

/// What to render.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderIn {
    /// Variable values; names outside the version's schema are refused.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
    /// Render the version this label points at.
    pub label: Option<String>,
    /// Render this version (default: `production`'s, else the newest).
    pub version: Option<u32>,
}

/// A rendered prompt.
#[derive(Serialize, ToSchema)]
pub struct RenderOut {
    /// The prompt.
    pub prompt_id: Uuid,
    /// The version rendered.
    pub version: u32,
    /// The OpenAI chat request body (`model`, `messages`, parameters).
    #[schema(value_type = Object)]
    pub request: Map<String, Value>,
}

fn template(
    messages: Vec<PromptMessage>,
    model: String,
    parameters: Map<String, Value>,
    variables: BTreeMap<String, VariableSpec>,
    guardrails: Vec<Uuid>,
) -> PromptTemplate {
    PromptTemplate {
        messages,
        model,
        parameters,
        variables,
        guardrails,
    }
}

/// Creates a prompt with its version 1 (admin).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/prompts", tag = "prompts", request_body = PromptCreateIn,
    params(("org_id" = Uuid, Path, description = "Organization id")),
    responses((status = 201, body = PromptOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: web::Json<PromptCreateIn>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let b = body.into_inner();
    let new = NewPrompt {
        slug: &b.slug,
        name: &b.name,
        description: &b.description,
    };
    let t = template(b.messages, b.model, b.parameters, b.variables, b.guardrails);
    let prompt = prompts::create(&state, &ctx, new, t, &b.commit_message).await?;
    Ok(HttpResponse::Created().json(PromptOut::from(prompt)))
}

/// Prompts of the organization.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/prompts", tag = "prompts",
    params(("org_id" = Uuid, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = ListPage<PromptOut>), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let all = prompts::list(&state, &ctx).await?;
    let page = services::paginate(all, |p| p.id.to_string(), q.limit, q.cursor.as_deref())?;
    Ok(HttpResponse::Ok().json(ListPage {
        data: page.data.into_iter().map(PromptOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One prompt.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/prompts/{prompt_id}", tag = "prompts",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("prompt_id" = Uuid, Path, description = "Prompt id")),
    responses((status = 200, body = PromptOut), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    Ok(HttpResponse::Ok().json(PromptOut::from(prompts::get(&state, &ctx, id).await?)))
}

/// Renames a prompt or changes its description (admin).
#[utoipa::path(patch, path = "/api/v1/orgs/{org_id}/prompts/{prompt_id}", tag = "prompts", request_body = PromptUpdateIn,
    params(("org_id" = Uuid, Path, description = "Organization id"), ("prompt_id" = Uuid, Path, description = "Prompt id")),
    responses((status = 200, body = PromptOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<PromptUpdateIn>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let b = body.into_inner();
    let prompt = prompts::update(&state, &ctx, id, b.name, b.description).await?;
    Ok(HttpResponse::Ok().json(PromptOut::from(prompt)))
}

/// Deletes a prompt with its versions and labels (admin).
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/prompts/{prompt_id}", tag = "prompts",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("prompt_id" = Uuid, Path, description = "Prompt id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    prompts::delete(&state, &ctx, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every version of a prompt, newest first.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/prompts/{prompt_id}/versions", tag = "prompts",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("prompt_id" = Uuid, Path, description = "Prompt id")),
    responses((status = 200, body = PromptVersionsOut), (status = 404, body = ErrorBody)))]
pub async fn versions(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let versions = prompts::versions(&state, &ctx, id).await?;
    Ok(HttpResponse::Ok().json(PromptVersionsOut {
        data: versions.into_iter().map(PromptVersionOut::from).collect(),
    }))
}

/// Writes the next version of a prompt (admin); older versions never change.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/prompts/{prompt_id}/versions", tag = "prompts", request_body = PromptVersionIn,
    params(("org_id" = Uuid, Path, description = "Organization id"), ("prompt_id" = Uuid, Path, description = "Prompt id")),
    responses((status = 201, body = PromptVersionOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_version(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<PromptVersionIn>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let b = body.into_inner();
    let t = template(b.messages, b.model, b.parameters, b.variables, b.guardrails);
    let version = prompts::create_version(&state, &ctx, id, t, &b.commit_message).await?;
    Ok(HttpResponse::Created().json(PromptVersionOut::from(version)))
}

/// One version of a prompt.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/prompts/{prompt_id}/versions/{version}", tag = "prompts",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("prompt_id" = Uuid, Path, description = "Prompt id"), ("version" = u32, Path, description = "Version number")),
    responses((status = 200, body = PromptVersionOut), (status = 404, body = ErrorBody)))]
pub async fn version(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid, u32)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id, n) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let version = prompts::version(&state, &ctx, id, n).await?;
    Ok(HttpResponse::Ok().json(PromptVersionOut::from(version)))
}

/// Line diff of two versions' messages, model, parameters and variables.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/prompts/{prompt_id}/diff", tag = "prompts",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("prompt_id" = Uuid, Path, description = "Prompt id"), DiffQuery),
    responses((status = 200, body = DiffOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn diff(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    q: web::Query<DiffQuery>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let d = prompts::diff(&state, &ctx, id, q.from, q.to).await?;
    Ok(HttpResponse::Ok().json(DiffOut::from(d)))
}

/// Labels of a prompt.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/prompts/{prompt_id}/labels", tag = "prompts",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("prompt_id" = Uuid, Path, description = "Prompt id")),
    responses((status = 200, body = LabelsOut), (status = 404, body = ErrorBody)))]
pub async fn labels(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let labels = prompts::labels(&state, &ctx, id).await?;
    Ok(HttpResponse::Ok().json(LabelsOut {
        data: labels.into_iter().map(LabelOut::from).collect(),
    }))
}

/// Points a label at a version (admin): shipping a version, or rolling back to an older one.
#[utoipa::path(put, path = "/api/v1/orgs/{org_id}/prompts/{prompt_id}/labels/{label}", tag = "prompts", request_body = LabelIn,
    params(("org_id" = Uuid, Path, description = "Organization id"), ("prompt_id" = Uuid, Path, description = "Prompt id"), ("label" = String, Path, description = "Label name (`production`, `staging`, any slug)")),
    responses((status = 200, body = LabelOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_label(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid, String)>,
    body: web::Json<LabelIn>,
) -> Result<HttpResponse, ApiError> {
    let (org, id, label) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let moved = prompts::set_label(&state, &ctx, id, &label, body.version).await?;
    Ok(HttpResponse::Ok().json(LabelOut::from(moved)))
}

/// Removes a label from a prompt (admin).
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/prompts/{prompt_id}/labels/{label}", tag = "prompts",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("prompt_id" = Uuid, Path, description = "Prompt id"), ("label" = String, Path, description = "Label name")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_label(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id, label) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    prompts::delete_label(&state, &ctx, id, &label).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Renders a version without calling a model (the preview; the gateway's
/// `/v1/prompts/{slug}/render` answers the same for a virtual key).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/prompts/{prompt_id}/render", tag = "prompts", request_body = RenderIn,
    params(("org_id" = Uuid, Path, description = "Organization id"), ("prompt_id" = Uuid, Path, description = "Prompt id")),
    responses((status = 200, body = RenderOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn render(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<RenderIn>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let b = body.into_inner();
    let selector =
        VersionSelector::pick(b.label, b.version).map_err(|e| ApiError::BadRequest(e.into()))?;
    let (version, request) = prompts::render(&state, &ctx, id, selector, &b.variables).await?;
    Ok(HttpResponse::Ok().json(RenderOut {
        prompt_id: id,
        version,
        request,
    }))
}

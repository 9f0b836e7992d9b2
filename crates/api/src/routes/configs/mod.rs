//! `/api/v1/orgs/{org_id}/configs`: routing configs with immutable versions. `PATCH` with a
//! `config` writes a new version; `GET .../versions` lists them all.

use crate::auth::Caller;
use crate::dto::{ListPage, PageQuery};
use crate::error::ErrorBody;
use crate::services::{self, OrgCtx, configs};
use crate::{ApiError, ApiState};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use keyway_store::configs::{RoutingConfigRecord, RoutingConfigVersion};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org_id}/configs", web::post().to(create))
        .route("/orgs/{org_id}/configs", web::get().to(list))
        .route("/orgs/{org_id}/configs/{config_id}", web::get().to(get))
        .route(
            "/orgs/{org_id}/configs/{config_id}",
            web::patch().to(update),
        )
        .route(
            "/orgs/{org_id}/configs/{config_id}",
            web::delete().to(delete),
        )
        .route(
            "/orgs/{org_id}/configs/{config_id}/versions",
            web::get().to(versions),
        );
}

/// A routing config with its newest version.
#[derive(Serialize, ToSchema)]
pub struct ConfigOut {
    /// Id: what `x-keyway-config` and a key's `default_config_id` name.
    pub id: Uuid,
    /// Name, unique in the organization.
    pub name: String,
    /// Number of the newest version (from 1).
    pub version: u32,
    /// The newest version (Portkey-compatible routing config).
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Who created the config.
    pub created_by: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the newest version or rename.
    pub updated_at: DateTime<Utc>,
}

impl From<RoutingConfigRecord> for ConfigOut {
    fn from(r: RoutingConfigRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            version: r.version,
            config: r.config,
            created_by: r.created_by.map(|u| u.as_uuid()),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One immutable version of a routing config.
#[derive(Serialize, ToSchema)]
pub struct ConfigVersionOut {
    /// Version number.
    pub version: u32,
    /// The config as it was in this version.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Who wrote it.
    pub created_by: Option<Uuid>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

impl From<RoutingConfigVersion> for ConfigVersionOut {
    fn from(v: RoutingConfigVersion) -> Self {
        Self {
            version: v.version,
            config: v.config,
            created_by: v.created_by.map(|u| u.as_uuid()),
            created_at: v.created_at,
        }
    }
}

/// Every version of a config, newest first.
#[derive(Serialize, ToSchema)]
pub struct ConfigVersionsOut {
    /// Versions, newest first.
    pub data: Vec<ConfigVersionOut>,
}

/// New routing config.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigCreateIn {
    /// Name, unique in the organization.
    pub name: String,
    /// The routing config (Portkey's format, with Keyway's extensions).
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
}

/// Creates a routing config as version 1 (admin). An invalid config is a 400 naming the JSON path.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/configs", tag = "configs", request_body = ConfigCreateIn,
    params(("org_id" = Uuid, Path, description = "Organization id")),
    responses((status = 201, body = ConfigOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: web::Json<ConfigCreateIn>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let body = body.into_inner();
    let config = configs::create(&state, &ctx, &body.name, body.config).await?;
    Ok(HttpResponse::Created().json(ConfigOut::from(config)))
}

/// Routing configs of the organization, each with its newest version.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/configs", tag = "configs",
    params(("org_id" = Uuid, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = ListPage<ConfigOut>), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let all = configs::list(&state, &ctx).await?;
    let page = services::paginate(all, |c| c.id.to_string(), q.limit, q.cursor.as_deref())?;
    Ok(HttpResponse::Ok().json(ListPage {
        data: page.data.into_iter().map(ConfigOut::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One routing config with its newest version.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/configs/{config_id}", tag = "configs",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("config_id" = Uuid, Path, description = "Config id")),
    responses((status = 200, body = ConfigOut), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let config = configs::get(&state, &ctx, id).await?;
    Ok(HttpResponse::Ok().json(ConfigOut::from(config)))
}

/// Config changes: a new name, a new version, or both.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigUpdateIn {
    /// New name.
    pub name: Option<String>,
    /// The next version's config; older versions stay as they were.
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
}

/// Writes a new version and/or renames a routing config (admin).
#[utoipa::path(patch, path = "/api/v1/orgs/{org_id}/configs/{config_id}", tag = "configs", request_body = ConfigUpdateIn,
    params(("org_id" = Uuid, Path, description = "Organization id"), ("config_id" = Uuid, Path, description = "Config id")),
    responses((status = 200, body = ConfigOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<ConfigUpdateIn>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let body = body.into_inner();
    let config = configs::update(&state, &ctx, id, body.name, body.config).await?;
    Ok(HttpResponse::Ok().json(ConfigOut::from(config)))
}

/// Deletes a routing config with its versions (admin); refused (409) while a key uses it as
/// its default.
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/configs/{config_id}", tag = "configs",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("config_id" = Uuid, Path, description = "Config id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    configs::delete(&state, &ctx, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every version of a routing config, newest first.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/configs/{config_id}/versions", tag = "configs",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("config_id" = Uuid, Path, description = "Config id")),
    responses((status = 200, body = ConfigVersionsOut), (status = 404, body = ErrorBody)))]
pub async fn versions(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let versions = configs::versions(&state, &ctx, id).await?;
    Ok(HttpResponse::Ok().json(ConfigVersionsOut {
        data: versions.into_iter().map(ConfigVersionOut::from).collect(),
    }))
}

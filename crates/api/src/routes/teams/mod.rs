//! `/api/v1/orgs/{org_id}/teams`: teams with their members, limits and budgets.

use crate::auth::Caller;
use crate::dto::{BudgetIo, LimitsIo, ListPage, PageQuery, TeamOut};
use crate::error::ErrorBody;
use crate::services::{OrgCtx, teams};
use crate::{ApiError, ApiState};
use actix_web::{HttpResponse, web};
use keyway_domain::{TeamId, UserId};
use keyway_store::teams::TeamUpdate;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org_id}/teams", web::post().to(create))
        .route("/orgs/{org_id}/teams", web::get().to(list))
        .route("/orgs/{org_id}/teams/{team_id}", web::get().to(get))
        .route("/orgs/{org_id}/teams/{team_id}", web::patch().to(update))
        .route("/orgs/{org_id}/teams/{team_id}", web::delete().to(delete))
        .route(
            "/orgs/{org_id}/teams/{team_id}/members",
            web::post().to(add_member),
        )
        .route(
            "/orgs/{org_id}/teams/{team_id}/members/{user_id}",
            web::delete().to(remove_member),
        );
}

/// New team.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamCreateIn {
    /// Name, unique in the organization.
    pub name: String,
    /// Rate limits shared by the team's keys.
    pub limits: Option<LimitsIo>,
    /// Budget shared by the team's keys.
    pub budget: Option<BudgetIo>,
}

/// Creates a team (admin).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/teams", tag = "teams", request_body = TeamCreateIn,
    params(("org_id" = Uuid, Path, description = "Organization id")),
    responses((status = 201, body = TeamOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: web::Json<TeamCreateIn>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let body = body.into_inner();
    let limits = body.limits.unwrap_or_default().into_limits()?;
    let budget = body.budget.map(BudgetIo::into_budget).transpose()?;
    let team = teams::create(&state, &ctx, &body.name, limits, budget).await?;
    Ok(HttpResponse::Created().json(TeamOut::from(team)))
}

/// Teams of the organization.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/teams", tag = "teams",
    params(("org_id" = Uuid, Path, description = "Organization id"), PageQuery),
    responses((status = 200, body = ListPage<TeamOut>), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let all = teams::list(&state, &ctx).await?;
    let page = crate::services::paginate(all, |t| t.id.to_string(), q.limit, q.cursor.as_deref())?;
    let mut data = Vec::with_capacity(page.data.len());
    for team in page.data {
        let spend = crate::services::spend::of_team(&state, &team).await?;
        data.push(TeamOut {
            spend,
            ..TeamOut::from(team)
        });
    }
    Ok(HttpResponse::Ok().json(ListPage {
        data,
        next_cursor: page.next_cursor,
    }))
}

/// One team.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/teams/{team_id}", tag = "teams",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("team_id" = Uuid, Path, description = "Team id")),
    responses((status = 200, body = TeamOut), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let team = teams::get(&state, &ctx, TeamId::from_uuid(id)).await?;
    let spend = crate::services::spend::of_team(&state, &team).await?;
    Ok(HttpResponse::Ok().json(TeamOut {
        spend,
        ..TeamOut::from(team)
    }))
}

/// Team changes; omitted fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamUpdateIn {
    /// New name.
    pub name: Option<String>,
    /// New limits.
    pub limits: Option<LimitsIo>,
    /// New budget; `null` removes it.
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<BudgetIo>)]
    pub budget: Option<Option<BudgetIo>>,
}

/// Changes a team (admin).
#[utoipa::path(patch, path = "/api/v1/orgs/{org_id}/teams/{team_id}", tag = "teams", request_body = TeamUpdateIn,
    params(("org_id" = Uuid, Path, description = "Organization id"), ("team_id" = Uuid, Path, description = "Team id")),
    responses((status = 200, body = TeamOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<TeamUpdateIn>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let body = body.into_inner();
    let update = TeamUpdate {
        name: body.name,
        limits: body.limits.map(LimitsIo::into_limits).transpose()?,
        budget: body
            .budget
            .map(|b| b.map(BudgetIo::into_budget).transpose())
            .transpose()?,
    };
    let team = teams::update(&state, &ctx, TeamId::from_uuid(id), update).await?;
    Ok(HttpResponse::Ok().json(TeamOut::from(team)))
}

/// Deletes a team (admin); its keys keep working without it.
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/teams/{team_id}", tag = "teams",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("team_id" = Uuid, Path, description = "Team id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    teams::delete(&state, &ctx, TeamId::from_uuid(id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A member to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamMemberIn {
    /// User id of an organization member.
    pub user_id: Uuid,
}

/// Adds an organization member to the team (admin).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/teams/{team_id}/members", tag = "teams", request_body = TeamMemberIn,
    params(("org_id" = Uuid, Path, description = "Organization id"), ("team_id" = Uuid, Path, description = "Team id")),
    responses((status = 200, body = TeamOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_member(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<TeamMemberIn>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let team = teams::add_member(
        &state,
        &ctx,
        TeamId::from_uuid(id),
        UserId::from_uuid(body.user_id),
    )
    .await?;
    Ok(HttpResponse::Ok().json(TeamOut::from(team)))
}

/// Removes a member from the team (admin).
#[utoipa::path(delete, path = "/api/v1/orgs/{org_id}/teams/{team_id}/members/{user_id}", tag = "teams",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("team_id" = Uuid, Path, description = "Team id"), ("user_id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = TeamOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id, user) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let team =
        teams::remove_member(&state, &ctx, TeamId::from_uuid(id), UserId::from_uuid(user)).await?;
    Ok(HttpResponse::Ok().json(TeamOut::from(team)))
}

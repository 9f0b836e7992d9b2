//! `/api/v1/orgs/{org_id}/limits`: the organization's own rate limits and budget, and the
//! limits and budget each end user (`x-keyway-user`) gets.

use crate::auth::Caller;
use crate::dto::{BudgetIo, LimitsIo, SpendOut};
use crate::error::ErrorBody;
use crate::services::{OrgCtx, limits, spend};
use crate::{ApiError, ApiState};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use keyway_store::org_limits::OrgLimits;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org_id}/limits", web::get().to(get))
        .route("/orgs/{org_id}/limits", web::put().to(put));
}

/// Organization-wide limits, with the organization budget's current spend.
#[derive(Serialize, ToSchema)]
pub struct OrgLimitsOut {
    /// Rate limits of the whole organization.
    pub limits: LimitsIo,
    /// Budget of the whole organization.
    pub budget: Option<BudgetIo>,
    /// Rate limits of each end user.
    pub end_user_limits: LimitsIo,
    /// Budget of each end user.
    pub end_user_budget: Option<BudgetIo>,
    /// Last change (`null` when never set).
    pub updated_at: Option<DateTime<Utc>>,
    /// Spend of the organization's budget in its current period (`null` without a budget).
    pub spend: Option<SpendOut>,
}

impl OrgLimitsOut {
    fn new(l: OrgLimits, spend: Option<SpendOut>) -> Self {
        Self {
            limits: l.limits.into(),
            budget: l.budget.map(Into::into),
            end_user_limits: l.end_user_limits.into(),
            end_user_budget: l.end_user_budget.map(Into::into),
            updated_at: l.updated_at,
            spend,
        }
    }
}

/// New organization-wide limits; omitted fields mean unlimited.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgLimitsIn {
    /// Rate limits of the whole organization.
    pub limits: Option<LimitsIo>,
    /// Budget of the whole organization.
    pub budget: Option<BudgetIo>,
    /// Rate limits of each end user.
    pub end_user_limits: Option<LimitsIo>,
    /// Budget of each end user.
    pub end_user_budget: Option<BudgetIo>,
}

/// The organization's limits and its budget's spend.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/limits", tag = "limits",
    params(("org_id" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = OrgLimitsOut), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let current = limits::get(&state, &ctx).await?;
    let spend = spend::of_org(&state, ctx.org_id, &current).await?;
    Ok(HttpResponse::Ok().json(OrgLimitsOut::new(current, spend)))
}

/// Replaces the organization's limits (admin).
#[utoipa::path(put, path = "/api/v1/orgs/{org_id}/limits", tag = "limits", request_body = OrgLimitsIn,
    params(("org_id" = Uuid, Path, description = "Organization id")),
    responses((status = 200, body = OrgLimitsOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: web::Json<OrgLimitsIn>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let body = body.into_inner();
    let new = OrgLimits {
        limits: body.limits.unwrap_or_default().into_limits()?,
        budget: body.budget.map(BudgetIo::into_budget).transpose()?,
        end_user_limits: body.end_user_limits.unwrap_or_default().into_limits()?,
        end_user_budget: body
            .end_user_budget
            .map(BudgetIo::into_budget)
            .transpose()?,
        updated_at: None,
    };
    let saved = limits::set(&state, &ctx, new).await?;
    let spend = spend::of_org(&state, ctx.org_id, &saved).await?;
    Ok(HttpResponse::Ok().json(OrgLimitsOut::new(saved, spend)))
}

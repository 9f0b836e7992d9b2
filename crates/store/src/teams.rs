//! Teams inside an organization, with their members, rate limits and budget (enforced by the
//! gateway's governance; stored here).

use crate::entities::{team, team_member};
use crate::virtual_keys::{KeyBudget, KeyLimits};
use crate::{Database, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use keyway_domain::{OrgId, TeamId, UserId};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, SqlErr};
use serde::Serialize;

/// A team as the control plane shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    /// Identifier.
    pub id: TeamId,
    /// Organization.
    pub org_id: OrgId,
    /// Name, unique in the organization.
    pub name: String,
    /// Rate limits shared by the team's keys.
    pub limits: KeyLimits,
    /// Spending cap shared by the team's keys.
    pub budget: Option<KeyBudget>,
    /// Member user ids.
    pub member_ids: Vec<UserId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A partial change to a team; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TeamUpdate {
    /// New name.
    pub name: Option<String>,
    /// New limits.
    pub limits: Option<KeyLimits>,
    /// New budget (`Some(None)` clears it).
    pub budget: Option<Option<KeyBudget>>,
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn conflict(e: sea_orm::DbErr) -> StoreError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict("team name"),
        _ => StoreError::Db(e),
    }
}

impl Database {
    /// Creates a team.
    pub async fn create_team(
        &self,
        org: OrgId,
        name: &str,
        limits: KeyLimits,
        budget: Option<KeyBudget>,
    ) -> Result<Team, StoreError> {
        let at = now();
        let model = team::Entity::insert(team::ActiveModel {
            id: Set(TeamId::new().as_uuid()),
            org_id: Set(org.as_uuid()),
            name: Set(name.to_owned()),
            limits: Set(to_json(&limits)?),
            budget: Set(budget.as_ref().map(to_json).transpose()?),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .exec_with_returning(self.conn())
        .await
        .map_err(conflict)?;
        self.team_from(model).await
    }

    async fn team_from(&self, m: team::Model) -> Result<Team, StoreError> {
        let members = team_member::Entity::find()
            .filter(team_member::Column::TeamId.eq(m.id))
            .order_by_asc(team_member::Column::CreatedAt)
            .all(self.conn())
            .await?;
        Ok(Team {
            id: TeamId::from_uuid(m.id),
            org_id: OrgId::from_uuid(m.org_id),
            name: m.name,
            limits: serde_json::from_value(m.limits)
                .map_err(|e| StoreError::Invalid(format!("stored team limits: {e}")))?,
            budget: m
                .budget
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| StoreError::Invalid(format!("stored team budget: {e}")))?,
            member_ids: members
                .into_iter()
                .map(|t| UserId::from_uuid(t.user_id))
                .collect(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }

    /// Teams of `org`, oldest first.
    pub async fn list_teams(&self, org: OrgId) -> Result<Vec<Team>, StoreError> {
        let models = team::Entity::find()
            .filter(team::Column::OrgId.eq(org.as_uuid()))
            .order_by_asc(team::Column::CreatedAt)
            .order_by_asc(team::Column::Id)
            .all(self.conn())
            .await?;
        let mut teams = Vec::with_capacity(models.len());
        for m in models {
            teams.push(self.team_from(m).await?);
        }
        Ok(teams)
    }

    /// One team of `org`.
    pub async fn get_team(&self, org: OrgId, id: TeamId) -> Result<Option<Team>, StoreError> {
        match team::Entity::find_by_id(id.as_uuid())
            .filter(team::Column::OrgId.eq(org.as_uuid()))
            .one(self.conn())
            .await?
        {
            Some(m) => Ok(Some(self.team_from(m).await?)),
            None => Ok(None),
        }
    }

    /// Changes a team.
    pub async fn update_team(
        &self,
        org: OrgId,
        id: TeamId,
        update: TeamUpdate,
    ) -> Result<Team, StoreError> {
        let mut stmt = team::Entity::update_many()
            .col_expr(team::Column::UpdatedAt, Expr::value(now()))
            .filter(team::Column::Id.eq(id.as_uuid()))
            .filter(team::Column::OrgId.eq(org.as_uuid()));
        if let Some(name) = update.name {
            stmt = stmt.col_expr(team::Column::Name, Expr::value(name));
        }
        if let Some(limits) = update.limits {
            stmt = stmt.col_expr(team::Column::Limits, Expr::value(to_json(&limits)?));
        }
        if let Some(budget) = update.budget {
            stmt = stmt.col_expr(
                team::Column::Budget,
                Expr::value(budget.as_ref().map(to_json).transpose()?),
            );
        }
        let done = stmt.exec(self.conn()).await.map_err(conflict)?;
        if done.rows_affected == 0 {
            return Err(StoreError::NotFound("team"));
        }
        self.get_team(org, id)
            .await?
            .ok_or(StoreError::NotFound("team"))
    }

    /// Deletes a team (its keys keep working, without the team).
    pub async fn delete_team(&self, org: OrgId, id: TeamId) -> Result<(), StoreError> {
        let done = team::Entity::delete_many()
            .filter(team::Column::Id.eq(id.as_uuid()))
            .filter(team::Column::OrgId.eq(org.as_uuid()))
            .exec(self.conn())
            .await?;
        if done.rows_affected == 0 {
            return Err(StoreError::NotFound("team"));
        }
        Ok(())
    }

    /// Adds an organization member to a team (idempotent).
    pub async fn add_team_member(
        &self,
        org: OrgId,
        team_id: TeamId,
        user: UserId,
    ) -> Result<Team, StoreError> {
        if self.get_team(org, team_id).await?.is_none() {
            return Err(StoreError::NotFound("team"));
        }
        let exists = team_member::Entity::find_by_id((team_id.as_uuid(), user.as_uuid()))
            .one(self.conn())
            .await?
            .is_some();
        if !exists {
            team_member::Entity::insert(team_member::ActiveModel {
                team_id: Set(team_id.as_uuid()),
                user_id: Set(user.as_uuid()),
                created_at: Set(now()),
            })
            .exec(self.conn())
            .await?;
        }
        self.get_team(org, team_id)
            .await?
            .ok_or(StoreError::NotFound("team"))
    }

    /// Removes a member from a team.
    pub async fn remove_team_member(
        &self,
        org: OrgId,
        team_id: TeamId,
        user: UserId,
    ) -> Result<Team, StoreError> {
        if self.get_team(org, team_id).await?.is_none() {
            return Err(StoreError::NotFound("team"));
        }
        let done = team_member::Entity::delete_many()
            .filter(team_member::Column::TeamId.eq(team_id.as_uuid()))
            .filter(team_member::Column::UserId.eq(user.as_uuid()))
            .exec(self.conn())
            .await?;
        if done.rows_affected == 0 {
            return Err(StoreError::NotFound("team member"));
        }
        self.get_team(org, team_id)
            .await?
            .ok_or(StoreError::NotFound("team"))
    }
}

/// Removes `user` from every team of `org` (when they leave the organization).
pub(crate) async fn remove_user_from_org_teams(
    conn: &impl sea_orm::ConnectionTrait,
    org: OrgId,
    user: UserId,
) -> Result<(), StoreError> {
    team_member::Entity::delete_many()
        .filter(team_member::Column::UserId.eq(user.as_uuid()))
        .filter(
            team_member::Column::TeamId.in_subquery(
                Query::select()
                    .column(team::Column::Id)
                    .from(team::Entity)
                    .and_where(team::Column::OrgId.eq(org.as_uuid()))
                    .to_owned(),
            ),
        )
        .exec(conn)
        .await?;
    Ok(())
}

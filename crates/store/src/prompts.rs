//! Prompt templates of an organization, versioned: a prompt has a slug, a name, a description
//! and immutable versions numbered from 1 ([`PromptTemplate`]: messages, model, parameters,
//! variable schema), plus labels (`production`, `staging`, any name) pointing at a version;
//! moving a label is how a version ships or rolls back. Partials (snippets a template includes
//! with `{{> slug}}`) are versioned the same way; rendering uses each partial's newest version.
//!
//! Validating templates (`PromptTemplate::validate`) is the caller's job, as for routing configs.

use crate::entities::{
    prompt, prompt_label, prompt_partial, prompt_partial_version, prompt_version,
};
use crate::{Database, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use keyway_domain::prompt::PromptTemplate;
use keyway_domain::{OrgId, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, SqlErr, TransactionTrait,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// A prompt with its newest version number and its labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptRecord {
    /// Identifier.
    pub id: Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// Slug, unique in the organization.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Number of the newest version.
    pub latest_version: u32,
    /// Labels and the version each points at.
    pub labels: BTreeMap<String, u32>,
    /// Who created the prompt.
    pub created_by: Option<UserId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the newest version, label move or rename.
    pub updated_at: DateTime<Utc>,
}

/// One immutable version of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptVersion {
    /// The prompt.
    pub prompt_id: Uuid,
    /// Version number, from 1.
    pub version: u32,
    /// Messages, model, parameters, variables.
    pub template: PromptTemplate,
    /// What changed.
    pub commit_message: String,
    /// Who wrote it.
    pub created_by: Option<UserId>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// A label of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptLabel {
    /// Label name.
    pub name: String,
    /// The version it points at.
    pub version: u32,
    /// Who last moved it.
    pub updated_by: Option<UserId>,
    /// When it was last moved.
    pub updated_at: DateTime<Utc>,
}

/// A partial with its newest version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartialRecord {
    /// Identifier.
    pub id: Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// Slug, what `{{> slug}}` names.
    pub slug: String,
    /// Number of the newest version.
    pub latest_version: u32,
    /// The newest version's text.
    pub content: String,
    /// Who created the partial.
    pub created_by: Option<UserId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the newest version.
    pub updated_at: DateTime<Utc>,
}

/// One immutable version of a partial.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartialVersion {
    /// The partial.
    pub partial_id: Uuid,
    /// Version number, from 1.
    pub version: u32,
    /// Template text.
    pub content: String,
    /// What changed.
    pub commit_message: String,
    /// Who wrote it.
    pub created_by: Option<UserId>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// Which version of a prompt a caller asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VersionSelector {
    /// The version a label points at.
    Label(String),
    /// A version by number.
    Number(u32),
    /// The `production` label's version, else the newest.
    Default,
}

impl VersionSelector {
    /// The selector for a request naming a `label`, a `version`, or neither (both is an error).
    pub fn pick(label: Option<String>, version: Option<u32>) -> Result<Self, &'static str> {
        match (label, version) {
            (Some(_), Some(_)) => Err("give a label or a version, not both"),
            (Some(l), None) => Ok(Self::Label(l)),
            (None, Some(n)) => Ok(Self::Number(n)),
            (None, None) => Ok(Self::Default),
        }
    }
}

/// The label [`VersionSelector::Default`] prefers.
pub const DEFAULT_LABEL: &str = "production";

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn number(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn db_number(v: u32) -> Result<i32, StoreError> {
    i32::try_from(v).map_err(|_| StoreError::NotFound("prompt version"))
}

fn slug_conflict(what: &'static str) -> impl Fn(sea_orm::DbErr) -> StoreError {
    move |e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict(what),
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::NotFound("organization"),
        _ => StoreError::Db(e),
    }
}

fn version_conflict(what: &'static str) -> impl Fn(sea_orm::DbErr) -> StoreError {
    move |e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict(what),
        _ => StoreError::Db(e),
    }
}

fn prompt_record(m: prompt::Model, labels: BTreeMap<String, u32>) -> PromptRecord {
    PromptRecord {
        id: m.id,
        org_id: OrgId::from_uuid(m.org_id),
        slug: m.slug,
        name: m.name,
        description: m.description,
        latest_version: number(m.latest_version),
        labels,
        created_by: m.created_by.map(UserId::from_uuid),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn partial_record(m: prompt_partial::Model, content: String) -> PartialRecord {
    PartialRecord {
        id: m.id,
        org_id: OrgId::from_uuid(m.org_id),
        slug: m.slug,
        latest_version: number(m.latest_version),
        content,
        created_by: m.created_by.map(UserId::from_uuid),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn lost_newest(partial: Uuid) -> StoreError {
    StoreError::Invalid(format!("partial {partial} lost its newest version"))
}

fn version_from(m: prompt_version::Model) -> Result<PromptVersion, StoreError> {
    let bad = |what: &str, e: serde_json::Error| {
        StoreError::Invalid(format!(
            "prompt {} version {}: stored {what} unreadable: {e}",
            m.prompt_id, m.version
        ))
    };
    let template = PromptTemplate {
        messages: serde_json::from_value(m.messages.clone()).map_err(|e| bad("messages", e))?,
        model: m.model.clone(),
        parameters: serde_json::from_value(m.parameters.clone())
            .map_err(|e| bad("parameters", e))?,
        variables: serde_json::from_value(m.variables.clone()).map_err(|e| bad("variables", e))?,
        guardrails: match &m.guardrails {
            Some(ids) => serde_json::from_value(ids.clone()).map_err(|e| bad("guardrails", e))?,
            None => Vec::new(),
        },
    };
    Ok(PromptVersion {
        prompt_id: m.prompt_id,
        version: number(m.version),
        template,
        commit_message: m.commit_message,
        created_by: m.created_by.map(UserId::from_uuid),
        created_at: m.created_at,
    })
}

fn version_row(
    prompt_id: Uuid,
    version: i32,
    template: &PromptTemplate,
    commit_message: &str,
    by: Option<UserId>,
    at: DateTime<Utc>,
) -> Result<prompt_version::ActiveModel, StoreError> {
    let json = |v: serde_json::Result<serde_json::Value>| {
        v.map_err(|e| StoreError::Invalid(format!("prompt template: {e}")))
    };
    Ok(prompt_version::ActiveModel {
        prompt_id: Set(prompt_id),
        version: Set(version),
        messages: Set(json(serde_json::to_value(&template.messages))?),
        model: Set(template.model.clone()),
        parameters: Set(json(serde_json::to_value(&template.parameters))?),
        variables: Set(json(serde_json::to_value(&template.variables))?),
        guardrails: Set(if template.guardrails.is_empty() {
            None
        } else {
            Some(json(serde_json::to_value(&template.guardrails))?)
        }),
        commit_message: Set(commit_message.to_owned()),
        created_by: Set(by.map(|u| u.as_uuid())),
        created_at: Set(at),
    })
}

fn label_from(m: prompt_label::Model) -> PromptLabel {
    PromptLabel {
        name: m.name,
        version: number(m.version),
        updated_by: m.updated_by.map(UserId::from_uuid),
        updated_at: m.updated_at,
    }
}

impl Database {
    /// Creates a prompt with its version 1.
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per column of the prompt and its first version"
    )]
    pub async fn create_prompt(
        &self,
        org: OrgId,
        slug: &str,
        name: &str,
        description: &str,
        template: &PromptTemplate,
        commit_message: &str,
        by: Option<UserId>,
    ) -> Result<PromptRecord, StoreError> {
        let at = now();
        let id = Uuid::now_v7();
        let txn = self.conn().begin().await?;
        prompt::Entity::insert(prompt::ActiveModel {
            id: Set(id),
            org_id: Set(org.as_uuid()),
            slug: Set(slug.to_owned()),
            name: Set(name.to_owned()),
            description: Set(description.to_owned()),
            latest_version: Set(1),
            created_by: Set(by.map(|u| u.as_uuid())),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(slug_conflict("prompt slug"))?;
        prompt_version::Entity::insert(version_row(id, 1, template, commit_message, by, at)?)
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        self.get_prompt(org, id)
            .await?
            .ok_or(StoreError::NotFound("prompt"))
    }

    async fn prompt_model(
        &self,
        conn: &impl ConnectionTrait,
        org: OrgId,
        id: Uuid,
    ) -> Result<Option<prompt::Model>, StoreError> {
        Ok(prompt::Entity::find_by_id(id)
            .filter(prompt::Column::OrgId.eq(org.as_uuid()))
            .one(conn)
            .await?)
    }

    async fn prompt_record(&self, m: prompt::Model) -> Result<PromptRecord, StoreError> {
        let labels = prompt_label::Entity::find()
            .filter(prompt_label::Column::PromptId.eq(m.id))
            .all(self.conn())
            .await?
            .into_iter()
            .map(|l| (l.name, number(l.version)))
            .collect();
        Ok(prompt_record(m, labels))
    }

    /// One prompt of `org`; another organization's is `None`.
    pub async fn get_prompt(
        &self,
        org: OrgId,
        id: Uuid,
    ) -> Result<Option<PromptRecord>, StoreError> {
        match self.prompt_model(self.conn(), org, id).await? {
            Some(m) => Ok(Some(self.prompt_record(m).await?)),
            None => Ok(None),
        }
    }

    /// One prompt of `org` by slug.
    pub async fn get_prompt_by_slug(
        &self,
        org: OrgId,
        slug: &str,
    ) -> Result<Option<PromptRecord>, StoreError> {
        let m = prompt::Entity::find()
            .filter(prompt::Column::OrgId.eq(org.as_uuid()))
            .filter(prompt::Column::Slug.eq(slug))
            .one(self.conn())
            .await?;
        match m {
            Some(m) => Ok(Some(self.prompt_record(m).await?)),
            None => Ok(None),
        }
    }

    /// Prompts of `org`, oldest first (two queries, whatever their number).
    pub async fn list_prompts(&self, org: OrgId) -> Result<Vec<PromptRecord>, StoreError> {
        let models = prompt::Entity::find()
            .filter(prompt::Column::OrgId.eq(org.as_uuid()))
            .order_by_asc(prompt::Column::CreatedAt)
            .order_by_asc(prompt::Column::Id)
            .all(self.conn())
            .await?;
        if models.is_empty() {
            return Ok(Vec::new());
        }
        let mut labels: HashMap<Uuid, BTreeMap<String, u32>> = HashMap::new();
        for l in prompt_label::Entity::find()
            .filter(prompt_label::Column::PromptId.is_in(models.iter().map(|m| m.id)))
            .all(self.conn())
            .await?
        {
            labels
                .entry(l.prompt_id)
                .or_default()
                .insert(l.name, number(l.version));
        }
        Ok(models
            .into_iter()
            .map(|m| {
                let labels = labels.remove(&m.id).unwrap_or_default();
                prompt_record(m, labels)
            })
            .collect())
    }

    /// Changes a prompt's name and/or description (its versions stay as they are).
    pub async fn update_prompt(
        &self,
        org: OrgId,
        id: Uuid,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<PromptRecord, StoreError> {
        let mut stmt = prompt::Entity::update_many()
            .col_expr(prompt::Column::UpdatedAt, Expr::value(now()))
            .filter(prompt::Column::Id.eq(id))
            .filter(prompt::Column::OrgId.eq(org.as_uuid()));
        if let Some(name) = name {
            stmt = stmt.col_expr(prompt::Column::Name, Expr::value(name));
        }
        if let Some(description) = description {
            stmt = stmt.col_expr(prompt::Column::Description, Expr::value(description));
        }
        if stmt.exec(self.conn()).await?.rows_affected == 0 {
            return Err(StoreError::NotFound("prompt"));
        }
        self.get_prompt(org, id)
            .await?
            .ok_or(StoreError::NotFound("prompt"))
    }

    /// Deletes a prompt with its versions and labels.
    pub async fn delete_prompt(&self, org: OrgId, id: Uuid) -> Result<(), StoreError> {
        let txn = self.conn().begin().await?;
        if self.prompt_model(&txn, org, id).await?.is_none() {
            return Err(StoreError::NotFound("prompt"));
        }
        // SQLite enforces the cascade only with foreign keys on; delete children explicitly.
        prompt_label::Entity::delete_many()
            .filter(prompt_label::Column::PromptId.eq(id))
            .exec(&txn)
            .await?;
        prompt_version::Entity::delete_many()
            .filter(prompt_version::Column::PromptId.eq(id))
            .exec(&txn)
            .await?;
        prompt::Entity::delete_many()
            .filter(prompt::Column::Id.eq(id))
            .filter(prompt::Column::OrgId.eq(org.as_uuid()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Writes version n+1 of a prompt. Two concurrent writers never share a number: the loser
    /// gets [`StoreError::Conflict`].
    pub async fn create_prompt_version(
        &self,
        org: OrgId,
        id: Uuid,
        template: &PromptTemplate,
        commit_message: &str,
        by: Option<UserId>,
    ) -> Result<PromptVersion, StoreError> {
        let at = now();
        let txn = self.conn().begin().await?;
        let current = self
            .prompt_model(&txn, org, id)
            .await?
            .ok_or(StoreError::NotFound("prompt"))?;
        let next = current.latest_version + 1;
        prompt_version::Entity::insert(version_row(id, next, template, commit_message, by, at)?)
            .exec_without_returning(&txn)
            .await
            .map_err(version_conflict("prompt version"))?;
        let done = prompt::Entity::update_many()
            .col_expr(prompt::Column::LatestVersion, Expr::value(next))
            .col_expr(prompt::Column::UpdatedAt, Expr::value(at))
            .filter(prompt::Column::Id.eq(id))
            .filter(prompt::Column::LatestVersion.eq(current.latest_version))
            .exec(&txn)
            .await?;
        if done.rows_affected == 0 {
            return Err(StoreError::Conflict("prompt version"));
        }
        txn.commit().await?;
        self.get_prompt_version(org, id, number(next))
            .await?
            .ok_or(StoreError::NotFound("prompt version"))
    }

    /// Every version of one prompt, newest first.
    pub async fn list_prompt_versions(
        &self,
        org: OrgId,
        id: Uuid,
    ) -> Result<Vec<PromptVersion>, StoreError> {
        if self.prompt_model(self.conn(), org, id).await?.is_none() {
            return Err(StoreError::NotFound("prompt"));
        }
        prompt_version::Entity::find()
            .filter(prompt_version::Column::PromptId.eq(id))
            .order_by_desc(prompt_version::Column::Version)
            .all(self.conn())
            .await?
            .into_iter()
            .map(version_from)
            .collect()
    }

    /// Version `version` of one prompt of `org`.
    pub async fn get_prompt_version(
        &self,
        org: OrgId,
        id: Uuid,
        version: u32,
    ) -> Result<Option<PromptVersion>, StoreError> {
        if self.prompt_model(self.conn(), org, id).await?.is_none() {
            return Ok(None);
        }
        let Ok(version) = i32::try_from(version) else {
            return Ok(None);
        };
        prompt_version::Entity::find_by_id((id, version))
            .one(self.conn())
            .await?
            .map(version_from)
            .transpose()
    }

    /// The prompt `slug` of `org` and the version `selector` picks; `None` when there is no
    /// such prompt, [`StoreError::NotFound`] when the label or version does not exist.
    pub async fn resolve_prompt(
        &self,
        org: OrgId,
        slug: &str,
        selector: &VersionSelector,
    ) -> Result<Option<(PromptRecord, PromptVersion)>, StoreError> {
        let Some(prompt) = self.get_prompt_by_slug(org, slug).await? else {
            return Ok(None);
        };
        let number = match selector {
            VersionSelector::Number(n) => *n,
            VersionSelector::Label(l) => *prompt
                .labels
                .get(l)
                .ok_or(StoreError::NotFound("prompt label"))?,
            VersionSelector::Default => prompt
                .labels
                .get(DEFAULT_LABEL)
                .copied()
                .unwrap_or(prompt.latest_version),
        };
        let version = self
            .get_prompt_version(org, prompt.id, number)
            .await?
            .ok_or(StoreError::NotFound("prompt version"))?;
        Ok(Some((prompt, version)))
    }

    /// Labels of one prompt, by name.
    pub async fn list_prompt_labels(
        &self,
        org: OrgId,
        id: Uuid,
    ) -> Result<Vec<PromptLabel>, StoreError> {
        if self.prompt_model(self.conn(), org, id).await?.is_none() {
            return Err(StoreError::NotFound("prompt"));
        }
        Ok(prompt_label::Entity::find()
            .filter(prompt_label::Column::PromptId.eq(id))
            .order_by_asc(prompt_label::Column::Name)
            .all(self.conn())
            .await?
            .into_iter()
            .map(label_from)
            .collect())
    }

    /// Points label `name` at `version` (creating the label, or moving it: a rollback is a move
    /// to an older version). The version must exist.
    pub async fn set_prompt_label(
        &self,
        org: OrgId,
        id: Uuid,
        name: &str,
        version: u32,
        by: Option<UserId>,
    ) -> Result<PromptLabel, StoreError> {
        let at = now();
        let number = db_number(version)?;
        let txn = self.conn().begin().await?;
        if self.prompt_model(&txn, org, id).await?.is_none() {
            return Err(StoreError::NotFound("prompt"));
        }
        if prompt_version::Entity::find_by_id((id, number))
            .one(&txn)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound("prompt version"));
        }
        prompt_label::Entity::delete_many()
            .filter(prompt_label::Column::PromptId.eq(id))
            .filter(prompt_label::Column::Name.eq(name))
            .exec(&txn)
            .await?;
        prompt_label::Entity::insert(prompt_label::ActiveModel {
            prompt_id: Set(id),
            name: Set(name.to_owned()),
            version: Set(number),
            updated_by: Set(by.map(|u| u.as_uuid())),
            updated_at: Set(at),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(version_conflict("prompt label"))?;
        prompt::Entity::update_many()
            .col_expr(prompt::Column::UpdatedAt, Expr::value(at))
            .filter(prompt::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(PromptLabel {
            name: name.to_owned(),
            version,
            updated_by: by,
            updated_at: at,
        })
    }

    /// Removes a label from a prompt.
    pub async fn delete_prompt_label(
        &self,
        org: OrgId,
        id: Uuid,
        name: &str,
    ) -> Result<(), StoreError> {
        if self.prompt_model(self.conn(), org, id).await?.is_none() {
            return Err(StoreError::NotFound("prompt"));
        }
        let done = prompt_label::Entity::delete_many()
            .filter(prompt_label::Column::PromptId.eq(id))
            .filter(prompt_label::Column::Name.eq(name))
            .exec(self.conn())
            .await?;
        if done.rows_affected == 0 {
            return Err(StoreError::NotFound("prompt label"));
        }
        Ok(())
    }

    /// Creates a partial with its version 1.
    pub async fn create_partial(
        &self,
        org: OrgId,
        slug: &str,
        content: &str,
        commit_message: &str,
        by: Option<UserId>,
    ) -> Result<PartialRecord, StoreError> {
        let at = now();
        let id = Uuid::now_v7();
        let txn = self.conn().begin().await?;
        prompt_partial::Entity::insert(prompt_partial::ActiveModel {
            id: Set(id),
            org_id: Set(org.as_uuid()),
            slug: Set(slug.to_owned()),
            latest_version: Set(1),
            created_by: Set(by.map(|u| u.as_uuid())),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(slug_conflict("partial slug"))?;
        prompt_partial_version::Entity::insert(partial_version_row(
            id,
            1,
            content,
            commit_message,
            by,
            at,
        ))
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        self.get_partial(org, id)
            .await?
            .ok_or(StoreError::NotFound("partial"))
    }

    async fn partial_model(
        &self,
        conn: &impl ConnectionTrait,
        org: OrgId,
        id: Uuid,
    ) -> Result<Option<prompt_partial::Model>, StoreError> {
        Ok(prompt_partial::Entity::find_by_id(id)
            .filter(prompt_partial::Column::OrgId.eq(org.as_uuid()))
            .one(conn)
            .await?)
    }

    async fn partial_record(&self, m: prompt_partial::Model) -> Result<PartialRecord, StoreError> {
        let latest = prompt_partial_version::Entity::find_by_id((m.id, m.latest_version))
            .one(self.conn())
            .await?
            .ok_or_else(|| lost_newest(m.id))?;
        Ok(partial_record(m, latest.content))
    }

    /// One partial of `org` with its newest version.
    pub async fn get_partial(
        &self,
        org: OrgId,
        id: Uuid,
    ) -> Result<Option<PartialRecord>, StoreError> {
        match self.partial_model(self.conn(), org, id).await? {
            Some(m) => Ok(Some(self.partial_record(m).await?)),
            None => Ok(None),
        }
    }

    /// Partials of `org`, oldest first, each with its newest version (two queries, whatever
    /// their number).
    pub async fn list_partials(&self, org: OrgId) -> Result<Vec<PartialRecord>, StoreError> {
        let models = prompt_partial::Entity::find()
            .filter(prompt_partial::Column::OrgId.eq(org.as_uuid()))
            .order_by_asc(prompt_partial::Column::CreatedAt)
            .order_by_asc(prompt_partial::Column::Id)
            .all(self.conn())
            .await?;
        if models.is_empty() {
            return Ok(Vec::new());
        }
        let newest = models.iter().fold(Condition::any(), |any, m| {
            any.add(
                Condition::all()
                    .add(prompt_partial_version::Column::PartialId.eq(m.id))
                    .add(prompt_partial_version::Column::Version.eq(m.latest_version)),
            )
        });
        let mut contents: HashMap<Uuid, String> = prompt_partial_version::Entity::find()
            .filter(newest)
            .all(self.conn())
            .await?
            .into_iter()
            .map(|v| (v.partial_id, v.content))
            .collect();
        models
            .into_iter()
            .map(|m| {
                let content = contents.remove(&m.id).ok_or_else(|| lost_newest(m.id))?;
                Ok(partial_record(m, content))
            })
            .collect()
    }

    /// The newest text of every partial of `org`, by slug: what rendering resolves
    /// `{{> slug}}` against.
    pub async fn partial_contents(
        &self,
        org: OrgId,
    ) -> Result<HashMap<String, String>, StoreError> {
        Ok(self
            .list_partials(org)
            .await?
            .into_iter()
            .map(|p| (p.slug, p.content))
            .collect())
    }

    /// Writes version n+1 of a partial.
    pub async fn create_partial_version(
        &self,
        org: OrgId,
        id: Uuid,
        content: &str,
        commit_message: &str,
        by: Option<UserId>,
    ) -> Result<PartialRecord, StoreError> {
        let at = now();
        let txn = self.conn().begin().await?;
        let current = self
            .partial_model(&txn, org, id)
            .await?
            .ok_or(StoreError::NotFound("partial"))?;
        let next = current.latest_version + 1;
        prompt_partial_version::Entity::insert(partial_version_row(
            id,
            next,
            content,
            commit_message,
            by,
            at,
        ))
        .exec_without_returning(&txn)
        .await
        .map_err(version_conflict("partial version"))?;
        let done = prompt_partial::Entity::update_many()
            .col_expr(prompt_partial::Column::LatestVersion, Expr::value(next))
            .col_expr(prompt_partial::Column::UpdatedAt, Expr::value(at))
            .filter(prompt_partial::Column::Id.eq(id))
            .filter(prompt_partial::Column::LatestVersion.eq(current.latest_version))
            .exec(&txn)
            .await?;
        if done.rows_affected == 0 {
            return Err(StoreError::Conflict("partial version"));
        }
        txn.commit().await?;
        self.get_partial(org, id)
            .await?
            .ok_or(StoreError::NotFound("partial"))
    }

    /// Every version of one partial, newest first.
    pub async fn list_partial_versions(
        &self,
        org: OrgId,
        id: Uuid,
    ) -> Result<Vec<PartialVersion>, StoreError> {
        if self.partial_model(self.conn(), org, id).await?.is_none() {
            return Err(StoreError::NotFound("partial"));
        }
        Ok(prompt_partial_version::Entity::find()
            .filter(prompt_partial_version::Column::PartialId.eq(id))
            .order_by_desc(prompt_partial_version::Column::Version)
            .all(self.conn())
            .await?
            .into_iter()
            .map(|m| PartialVersion {
                partial_id: m.partial_id,
                version: number(m.version),
                content: m.content,
                commit_message: m.commit_message,
                created_by: m.created_by.map(UserId::from_uuid),
                created_at: m.created_at,
            })
            .collect())
    }

    /// Deletes a partial with its versions.
    pub async fn delete_partial(&self, org: OrgId, id: Uuid) -> Result<(), StoreError> {
        let txn = self.conn().begin().await?;
        if self.partial_model(&txn, org, id).await?.is_none() {
            return Err(StoreError::NotFound("partial"));
        }
        prompt_partial_version::Entity::delete_many()
            .filter(prompt_partial_version::Column::PartialId.eq(id))
            .exec(&txn)
            .await?;
        prompt_partial::Entity::delete_many()
            .filter(prompt_partial::Column::Id.eq(id))
            .filter(prompt_partial::Column::OrgId.eq(org.as_uuid()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }
}

fn partial_version_row(
    partial_id: Uuid,
    version: i32,
    content: &str,
    commit_message: &str,
    by: Option<UserId>,
    at: DateTime<Utc>,
) -> prompt_partial_version::ActiveModel {
    prompt_partial_version::ActiveModel {
        partial_id: Set(partial_id),
        version: Set(version),
        content: Set(content.to_owned()),
        commit_message: Set(commit_message.to_owned()),
        created_by: Set(by.map(|u| u.as_uuid())),
        created_at: Set(at),
    }
}

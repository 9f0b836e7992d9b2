//! Model aliases: organization-defined model names (`fast`, `default-chat`) that stand for a
//! `<credential-slug>/<model>` target. Aliases never contain `/`, so a model name with a slash
//! is always a direct target and one without is always an alias.

use crate::entities::model_alias;
use crate::{Database, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use keyway_domain::{OrgId, Slug};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, SqlErr};
use serde::Serialize;
use std::fmt;
use uuid::Uuid;

/// Longest alias accepted.
pub const MAX_ALIAS_LEN: usize = 128;
/// Longest model name (after the slug) accepted in a target.
pub const MAX_MODEL_LEN: usize = 200;

/// A model as requests address it: a provider credential slug and the upstream model name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ModelTarget {
    /// The organization's provider credential.
    pub provider: Slug,
    /// The upstream model name (may itself contain `/`, e.g. OpenRouter's `meta-llama/...`).
    pub model: String,
}

impl ModelTarget {
    /// Parses `<slug>/<model>`.
    pub fn parse(value: &str) -> Result<Self, StoreError> {
        let invalid = |why: &str| StoreError::Invalid(format!("model {value:?} {why}"));
        let (slug, model) = value
            .split_once('/')
            .ok_or_else(|| invalid("must be written <provider-slug>/<model>"))?;
        let provider = Slug::parse(slug).map_err(|e| invalid(&format!("has a bad slug: {e}")))?;
        if model.is_empty() || model.len() > MAX_MODEL_LEN {
            return Err(invalid(&format!(
                "needs a model name of 1 to {MAX_MODEL_LEN} bytes after the slug"
            )));
        }
        if model.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("contains whitespace or control characters"));
        }
        Ok(Self {
            provider,
            model: model.to_owned(),
        })
    }
}

impl fmt::Display for ModelTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

/// One alias of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelAlias {
    /// Identifier.
    pub id: Uuid,
    /// Owning organization.
    pub org_id: OrgId,
    /// The name requests use.
    pub alias: String,
    /// What it stands for.
    pub target: ModelTarget,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

fn check_alias(alias: &str) -> Result<(), StoreError> {
    if alias.is_empty() || alias.len() > MAX_ALIAS_LEN {
        return Err(StoreError::Invalid(format!(
            "an alias must be 1 to {MAX_ALIAS_LEN} bytes"
        )));
    }
    if alias
        .chars()
        .any(|c| c == '/' || c.is_whitespace() || c.is_control())
    {
        return Err(StoreError::Invalid(format!(
            "alias {alias:?} may not contain '/', whitespace or control characters"
        )));
    }
    Ok(())
}

impl TryFrom<model_alias::Model> for ModelAlias {
    type Error = StoreError;
    fn try_from(m: model_alias::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: m.id,
            org_id: OrgId::from_uuid(m.org_id),
            target: ModelTarget::parse(&m.target)?,
            alias: m.alias,
            created_at: m.created_at,
        })
    }
}

impl Database {
    /// Creates an alias; one the organization already has is a [`StoreError::Conflict`]. The
    /// target's slug need not name an existing credential yet.
    pub async fn create_alias(
        &self,
        org: OrgId,
        alias: &str,
        target: &ModelTarget,
    ) -> Result<ModelAlias, StoreError> {
        check_alias(alias)?;
        let model = model_alias::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org.as_uuid()),
            alias: Set(alias.to_owned()),
            target: Set(target.to_string()),
            created_at: Set(Utc::now().trunc_subsecs(6)),
        };
        model_alias::Entity::insert(model)
            .exec_with_returning(self.conn())
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict("model alias"),
                Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                    StoreError::NotFound("organization")
                }
                _ => StoreError::Db(e),
            })?
            .try_into()
    }

    /// The organization's aliases, by name.
    pub async fn list_aliases(&self, org: OrgId) -> Result<Vec<ModelAlias>, StoreError> {
        model_alias::Entity::find()
            .filter(model_alias::Column::OrgId.eq(org.as_uuid()))
            .order_by_asc(model_alias::Column::Alias)
            .all(self.conn())
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    /// Deletes an alias by name; one the organization does not have is
    /// [`StoreError::NotFound`].
    pub async fn delete_alias(&self, org: OrgId, alias: &str) -> Result<(), StoreError> {
        let deleted = model_alias::Entity::delete_many()
            .filter(model_alias::Column::OrgId.eq(org.as_uuid()))
            .filter(model_alias::Column::Alias.eq(alias))
            .exec(self.conn())
            .await?;
        if deleted.rows_affected == 0 {
            return Err(StoreError::NotFound("model alias"));
        }
        Ok(())
    }

    /// What `alias` stands for in this organization, if it is one of its aliases.
    pub async fn resolve_alias(
        &self,
        org: OrgId,
        alias: &str,
    ) -> Result<Option<ModelTarget>, StoreError> {
        model_alias::Entity::find()
            .filter(model_alias::Column::OrgId.eq(org.as_uuid()))
            .filter(model_alias::Column::Alias.eq(alias))
            .one(self.conn())
            .await?
            .map(|m| ModelTarget::parse(&m.target))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        let t = ModelTarget::parse("openrouter/meta-llama/llama-3-70b").unwrap();
        assert_eq!(t.provider.as_str(), "openrouter");
        assert_eq!(t.model, "meta-llama/llama-3-70b");
        assert_eq!(t.to_string(), "openrouter/meta-llama/llama-3-70b");
        for bad in [
            "gpt-4o",
            "/gpt-4o",
            "openai/",
            "OpenAI/gpt-4o",
            "openai/gpt 4o",
        ] {
            assert!(ModelTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn aliases_have_no_slash_or_space() {
        assert!(check_alias("fast").is_ok());
        assert!(check_alias("gpt-4o@prod").is_ok());
        for bad in ["", "a/b", "a b", &"x".repeat(MAX_ALIAS_LEN + 1)] {
            assert!(check_alias(bad).is_err(), "{bad}");
        }
    }
}

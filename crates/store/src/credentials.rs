//! Provider credentials (bring your own key): an organization's upstream API keys, stored
//! envelope-encrypted ([`crate::crypto`]) and shown only masked to their last four characters.
//!
//! Every query filters by organization: a credential of another organization is simply not
//! found.

use crate::crypto::{self, Sealed};
use crate::entities::provider_credential;
use crate::{Database, MasterKey, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use keyway_domain::{OrgId, Secret, Slug};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, SqlErr,
};
use serde::{Deserialize, Serialize};
use std::fmt;

pub use keyway_domain::CredentialId;

/// The upstream providers Keyway speaks to; stored as its kebab-case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// OpenAI.
    Openai,
    /// Azure OpenAI (config: `api_version`, `deployment`).
    AzureOpenai,
    /// Anthropic.
    Anthropic,
    /// Google Gemini.
    Gemini,
    /// AWS Bedrock (config: `region`).
    Bedrock,
    /// Cohere.
    Cohere,
    /// Mistral.
    Mistral,
    /// Groq.
    Groq,
    /// Together AI.
    Together,
    /// Fireworks AI.
    Fireworks,
    /// DeepSeek.
    Deepseek,
    /// xAI.
    Xai,
    /// OpenRouter.
    Openrouter,
    /// Perplexity.
    Perplexity,
    /// Cerebras.
    Cerebras,
    /// DeepInfra.
    Deepinfra,
    /// Ollama.
    Ollama,
    /// vLLM.
    Vllm,
    /// Any OpenAI-compatible server at a custom base URL.
    OpenaiCompatible,
    /// Keyway's mock provider.
    Mock,
}

impl ProviderKind {
    /// Every kind, in display order.
    pub const ALL: [ProviderKind; 20] = [
        Self::Openai,
        Self::AzureOpenai,
        Self::Anthropic,
        Self::Gemini,
        Self::Bedrock,
        Self::Cohere,
        Self::Mistral,
        Self::Groq,
        Self::Together,
        Self::Fireworks,
        Self::Deepseek,
        Self::Xai,
        Self::Openrouter,
        Self::Perplexity,
        Self::Cerebras,
        Self::Deepinfra,
        Self::Ollama,
        Self::Vllm,
        Self::OpenaiCompatible,
        Self::Mock,
    ];

    /// The stored and wire name (`azure-openai`, `openai-compatible`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::AzureOpenai => "azure-openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Bedrock => "bedrock",
            Self::Cohere => "cohere",
            Self::Mistral => "mistral",
            Self::Groq => "groq",
            Self::Together => "together",
            Self::Fireworks => "fireworks",
            Self::Deepseek => "deepseek",
            Self::Xai => "xai",
            Self::Openrouter => "openrouter",
            Self::Perplexity => "perplexity",
            Self::Cerebras => "cerebras",
            Self::Deepinfra => "deepinfra",
            Self::Ollama => "ollama",
            Self::Vllm => "vllm",
            Self::OpenaiCompatible => "openai-compatible",
            Self::Mock => "mock",
        }
    }

    /// Parses a name from [`ProviderKind::as_str`].
    pub fn parse(name: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| StoreError::Invalid(format!("unknown provider {name:?}")))
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider credential as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderCredential {
    /// Identifier.
    pub id: CredentialId,
    /// Owning organization.
    pub org_id: OrgId,
    /// Display name.
    pub name: String,
    /// Handle used in model names (`<slug>/<model>`).
    pub slug: Slug,
    /// Which provider the key is for.
    pub provider: ProviderKind,
    /// Upstream base URL override.
    pub base_url: Option<String>,
    /// Provider-specific settings (a JSON object), e.g. Azure `api_version`/`deployment`,
    /// Bedrock `region`.
    pub config: serde_json::Value,
    /// Last four characters of the key; empty when the key is shorter than
    /// [`MIN_KEY_LEN_FOR_LAST4`] (showing four of it would show too much).
    pub key_last4: String,
    /// Id of the master key the secret is sealed under.
    pub master_key_id: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl ProviderCredential {
    /// The key as shown in lists: `****` followed by its last four characters.
    pub fn masked_key(&self) -> String {
        format!("****{}", self.key_last4)
    }
}

/// Keys shorter than this show no last four characters.
pub const MIN_KEY_LEN_FOR_LAST4: usize = 12;

/// What [`Database::create_credential`] needs.
#[derive(Debug, Clone)]
pub struct NewCredential {
    /// Display name (1 to 200 characters).
    pub name: String,
    /// Handle used in model names, unique within the organization.
    pub slug: Slug,
    /// Which provider the key is for.
    pub provider: ProviderKind,
    /// Upstream base URL override (`http` or `https`).
    pub base_url: Option<String>,
    /// Provider-specific settings; must be a JSON object (`{}` for none).
    pub config: serde_json::Value,
    /// The provider key; may be empty for providers that take none (Ollama, vLLM).
    pub api_key: Secret<String>,
}

/// A partial change to a credential; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CredentialUpdate {
    /// New display name.
    pub name: Option<String>,
    /// New base URL; `Some(None)` removes the override.
    pub base_url: Option<Option<String>>,
    /// New provider-specific settings (a JSON object).
    pub config: Option<serde_json::Value>,
    /// A new key, sealed afresh.
    pub api_key: Option<Secret<String>>,
}

/// Associated data that binds a sealed key to its organization and credential row.
fn seal_context(org: OrgId, id: CredentialId) -> String {
    format!("provider_credential/{org}/{id}")
}

fn last4(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < MIN_KEY_LEN_FOR_LAST4 {
        return String::new();
    }
    chars[chars.len() - 4..].iter().collect()
}

fn check_name(name: &str) -> Result<(), StoreError> {
    let len = name.trim().chars().count();
    if len == 0 || len > 200 {
        return Err(StoreError::Invalid(
            "a credential name must be 1 to 200 characters".into(),
        ));
    }
    Ok(())
}

fn check_base_url(base_url: Option<&str>) -> Result<(), StoreError> {
    let Some(raw) = base_url else { return Ok(()) };
    let url = url::Url::parse(raw)
        .map_err(|e| StoreError::Invalid(format!("base_url {raw:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(StoreError::Invalid(format!(
            "base_url {raw:?} must be an http or https URL with a host"
        )));
    }
    Ok(())
}

fn check_config(config: &serde_json::Value) -> Result<(), StoreError> {
    if !config.is_object() {
        return Err(StoreError::Invalid(
            "credential config must be a JSON object".into(),
        ));
    }
    Ok(())
}

fn sealed_of(m: &provider_credential::Model) -> Sealed {
    Sealed {
        ciphertext: m.secret_ciphertext.clone(),
        nonce: m.secret_nonce.clone(),
        wrapped_key: m.wrapped_key.clone(),
        key_nonce: m.key_nonce.clone(),
        master_key_id: m.master_key_id.clone(),
    }
}

fn set_sealed(active: &mut provider_credential::ActiveModel, sealed: Sealed) {
    active.secret_ciphertext = Set(sealed.ciphertext);
    active.secret_nonce = Set(sealed.nonce);
    active.wrapped_key = Set(sealed.wrapped_key);
    active.key_nonce = Set(sealed.key_nonce);
    active.master_key_id = Set(sealed.master_key_id);
}

impl TryFrom<provider_credential::Model> for ProviderCredential {
    type Error = StoreError;
    fn try_from(m: provider_credential::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: CredentialId::from_uuid(m.id),
            org_id: OrgId::from_uuid(m.org_id),
            slug: Slug::parse(&m.slug)
                .map_err(|e| StoreError::Invalid(format!("stored slug {:?}: {e}", m.slug)))?,
            provider: ProviderKind::parse(&m.provider)?,
            name: m.name,
            base_url: m.base_url,
            config: m.config,
            key_last4: m.key_last4,
            master_key_id: m.master_key_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

fn conflict_or_db(e: sea_orm::DbErr) -> StoreError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict("provider slug"),
        _ => StoreError::Db(e),
    }
}

impl Database {
    /// Stores a provider credential with its key sealed under `master`; a slug the organization
    /// already uses is a [`StoreError::Conflict`].
    pub async fn create_credential(
        &self,
        org: OrgId,
        new: NewCredential,
        master: &MasterKey,
    ) -> Result<ProviderCredential, StoreError> {
        check_name(&new.name)?;
        check_base_url(new.base_url.as_deref())?;
        check_config(&new.config)?;
        let id = CredentialId::new();
        let sealed = crypto::seal(
            master,
            &seal_context(org, id),
            new.api_key.expose().as_bytes(),
        )?;
        let now = Utc::now().trunc_subsecs(6);
        let model = provider_credential::ActiveModel {
            id: Set(id.as_uuid()),
            org_id: Set(org.as_uuid()),
            name: Set(new.name.trim().to_owned()),
            slug: Set(new.slug.as_str().to_owned()),
            provider: Set(new.provider.as_str().to_owned()),
            base_url: Set(new.base_url),
            config: Set(new.config),
            secret_ciphertext: Set(sealed.ciphertext),
            secret_nonce: Set(sealed.nonce),
            wrapped_key: Set(sealed.wrapped_key),
            key_nonce: Set(sealed.key_nonce),
            master_key_id: Set(sealed.master_key_id),
            key_last4: Set(last4(new.api_key.expose())),
            created_at: Set(now),
            updated_at: Set(now),
        };
        provider_credential::Entity::insert(model)
            .exec_with_returning(self.conn())
            .await
            .map_err(conflict_or_db)?
            .try_into()
    }

    /// The organization's credentials, oldest first, without secrets.
    pub async fn list_credentials(
        &self,
        org: OrgId,
    ) -> Result<Vec<ProviderCredential>, StoreError> {
        provider_credential::Entity::find()
            .filter(provider_credential::Column::OrgId.eq(org.as_uuid()))
            .order_by_asc(provider_credential::Column::CreatedAt)
            .order_by_asc(provider_credential::Column::Id)
            .all(self.conn())
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    /// One of the organization's credentials, without its secret.
    pub async fn credential(
        &self,
        org: OrgId,
        id: CredentialId,
    ) -> Result<Option<ProviderCredential>, StoreError> {
        self.credential_model(org, id)
            .await?
            .map(TryInto::try_into)
            .transpose()
    }

    /// One of the organization's credentials by slug, without its secret.
    pub async fn credential_by_slug(
        &self,
        org: OrgId,
        slug: &Slug,
    ) -> Result<Option<ProviderCredential>, StoreError> {
        self.credential_model_by_slug(org, slug)
            .await?
            .map(TryInto::try_into)
            .transpose()
    }

    /// Changes a credential; a new key is sealed afresh. Another organization's credential is
    /// [`StoreError::NotFound`].
    pub async fn update_credential(
        &self,
        org: OrgId,
        id: CredentialId,
        update: CredentialUpdate,
        master: &MasterKey,
    ) -> Result<ProviderCredential, StoreError> {
        let model = self
            .credential_model(org, id)
            .await?
            .ok_or(StoreError::NotFound("provider credential"))?;
        let mut active = model.into_active_model();
        if let Some(name) = update.name {
            check_name(&name)?;
            active.name = Set(name.trim().to_owned());
        }
        if let Some(base_url) = update.base_url {
            check_base_url(base_url.as_deref())?;
            active.base_url = Set(base_url);
        }
        if let Some(config) = update.config {
            check_config(&config)?;
            active.config = Set(config);
        }
        if let Some(key) = update.api_key {
            let sealed = crypto::seal(master, &seal_context(org, id), key.expose().as_bytes())?;
            set_sealed(&mut active, sealed);
            active.key_last4 = Set(last4(key.expose()));
        }
        active.updated_at = Set(Utc::now().trunc_subsecs(6));
        active.update(self.conn()).await?.try_into()
    }

    /// Deletes a credential; another organization's is [`StoreError::NotFound`].
    pub async fn delete_credential(&self, org: OrgId, id: CredentialId) -> Result<(), StoreError> {
        let deleted = provider_credential::Entity::delete_many()
            .filter(provider_credential::Column::OrgId.eq(org.as_uuid()))
            .filter(provider_credential::Column::Id.eq(id.as_uuid()))
            .exec(self.conn())
            .await?;
        if deleted.rows_affected == 0 {
            return Err(StoreError::NotFound("provider credential"));
        }
        Ok(())
    }

    /// The credential named `slug` with its decrypted key, for the gateway (one query).
    pub async fn credential_with_secret(
        &self,
        org: OrgId,
        slug: &Slug,
        master: &MasterKey,
    ) -> Result<Option<(ProviderCredential, Secret<String>)>, StoreError> {
        let Some(model) = self.credential_model_by_slug(org, slug).await? else {
            return Ok(None);
        };
        let id = CredentialId::from_uuid(model.id);
        let plaintext = crypto::open(master, &seal_context(org, id), &sealed_of(&model))?;
        let key = String::from_utf8(plaintext)
            .map_err(|_| StoreError::Crypto(format!("key of credential {id} is not UTF-8")))?;
        Ok(Some((model.try_into()?, Secret::new(key))))
    }

    /// The decrypted key of the credential named `slug`; unknown (or another organization's)
    /// slugs are [`StoreError::NotFound`].
    pub async fn credential_secret(
        &self,
        org: OrgId,
        slug: &Slug,
        master: &MasterKey,
    ) -> Result<Secret<String>, StoreError> {
        self.credential_with_secret(org, slug, master)
            .await?
            .map(|(_, secret)| secret)
            .ok_or(StoreError::NotFound("provider credential"))
    }

    /// Re-wraps every credential sealed under `old` so it opens with `new` (master-key
    /// rotation); returns how many were re-wrapped. Credentials already under `new` are left
    /// alone, so an interrupted rotation can simply be run again.
    pub async fn rewrap_credentials(
        &self,
        old: &MasterKey,
        new: &MasterKey,
    ) -> Result<usize, StoreError> {
        let models = provider_credential::Entity::find()
            .filter(provider_credential::Column::MasterKeyId.eq(old.id()))
            .all(self.conn())
            .await?;
        let mut rewrapped = 0;
        for model in models {
            let context = seal_context(
                OrgId::from_uuid(model.org_id),
                CredentialId::from_uuid(model.id),
            );
            let sealed = crypto::rewrap(old, new, &context, &sealed_of(&model))?;
            let mut active = model.into_active_model();
            set_sealed(&mut active, sealed);
            active.update(self.conn()).await?;
            rewrapped += 1;
        }
        Ok(rewrapped)
    }

    async fn credential_model(
        &self,
        org: OrgId,
        id: CredentialId,
    ) -> Result<Option<provider_credential::Model>, StoreError> {
        Ok(provider_credential::Entity::find()
            .filter(provider_credential::Column::OrgId.eq(org.as_uuid()))
            .filter(provider_credential::Column::Id.eq(id.as_uuid()))
            .one(self.conn())
            .await?)
    }

    async fn credential_model_by_slug(
        &self,
        org: OrgId,
        slug: &Slug,
    ) -> Result<Option<provider_credential::Model>, StoreError> {
        Ok(provider_credential::Entity::find()
            .filter(provider_credential::Column::OrgId.eq(org.as_uuid()))
            .filter(provider_credential::Column::Slug.eq(slug.as_str()))
            .one(self.conn())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip_and_match_serde() {
        for kind in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(kind.as_str()).unwrap(), kind);
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
        assert!(ProviderKind::parse("OpenAI").is_err());
    }

    #[test]
    fn last4_hides_short_keys() {
        assert_eq!(last4("sk-abcdefgh1234"), "1234");
        assert_eq!(last4("short-key"), "");
        assert_eq!(last4(""), "");
    }

    #[test]
    fn base_urls_must_be_http_with_a_host() {
        assert!(check_base_url(Some("https://api.example.com/v1")).is_ok());
        assert!(check_base_url(Some("http://127.0.0.1:8000")).is_ok());
        assert!(check_base_url(None).is_ok());
        for bad in ["ftp://x", "file:///etc/passwd", "not a url", "https://"] {
            assert!(check_base_url(Some(bad)).is_err(), "{bad}");
        }
    }
}

//! Model addressing: `<provider-slug>/<model>` or an org alias -> the org's provider credential,
//! its wire format, base URL and auth headers.
//!
//! Decrypted credentials and aliases are cached in-process for [`CREDENTIAL_TTL`], so a request
//! does not decrypt or query per call; changes reach the gateway within that time.

use crate::auth::StoreErrorChain;
use crate::error::GatewayError;
use keyway_domain::{OrgId, Secret, Slug};
use keyway_providers::Format;
use keyway_providers::openai::Dialect;
use keyway_store::aliases::ModelTarget;
use keyway_store::credentials::{ProviderCredential, ProviderKind};
use keyway_store::{Database, MasterKey};
use moka::sync::Cache;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// How long a resolved credential is reused.
pub const CREDENTIAL_TTL: Duration = Duration::from_secs(30);

/// Where and how one request goes upstream.
#[derive(Clone)]
pub struct Target {
    /// The credential's slug (reported in `x-keyway-provider`).
    pub slug: String,
    /// Provider kind (prices, analytics).
    pub kind: ProviderKind,
    /// Upstream model name.
    pub model: String,
    /// Wire format the upstream speaks.
    pub format: Format,
    /// OpenAI dialect for OpenAI-format upstreams.
    pub dialect: Dialect,
    base_url: Url,
    api_key: Arc<Secret<String>>,
}

#[derive(Clone)]
struct Resolved {
    credential: Arc<ProviderCredential>,
    api_key: Arc<Secret<String>>,
}

/// Resolves model names for the gateway.
#[derive(Clone)]
pub struct Targets {
    db: Database,
    master_key: Arc<MasterKey>,
    cache: Cache<(OrgId, String), Option<Resolved>>,
    aliases: Cache<(OrgId, String), Option<ModelTarget>>,
}

impl Targets {
    /// Resolution over `db`, decrypting with `master_key`.
    pub fn new(db: Database, master_key: Arc<MasterKey>) -> Self {
        let cache = Cache::builder()
            .max_capacity(50_000)
            .time_to_live(CREDENTIAL_TTL)
            .support_invalidation_closures()
            .build();
        let aliases = Cache::builder()
            .max_capacity(50_000)
            .time_to_live(CREDENTIAL_TTL)
            .support_invalidation_closures()
            .build();
        Self {
            db,
            master_key,
            cache,
            aliases,
        }
    }

    /// Drops cached credentials and aliases of the organization `change` names (all of them
    /// for [`Change::All`]); key changes do not affect them.
    pub fn evict(&self, change: &keyway_store::invalidation::Change) {
        use keyway_store::invalidation::Change;
        match change {
            Change::Key(_) => {}
            Change::Org(org) => {
                let org = *org;
                let a = self.cache.invalidate_entries_if(move |(o, _), _| *o == org);
                let b = self
                    .aliases
                    .invalidate_entries_if(move |(o, _), _| *o == org);
                if a.is_err() || b.is_err() {
                    self.cache.invalidate_all();
                    self.aliases.invalidate_all();
                }
            }
            Change::All => {
                self.cache.invalidate_all();
                self.aliases.invalidate_all();
            }
        }
    }

    /// The store behind resolution (for listing the org's providers and aliases).
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The target for `model` as the caller named it.
    pub async fn resolve(&self, org: OrgId, model: &str) -> Result<Target, GatewayError> {
        let target = match model.split_once('/') {
            Some(_) => ModelTarget::parse(model).map_err(|_| unknown_model(model))?,
            None => self
                .alias(org, model)
                .await?
                .ok_or_else(|| unknown_model(model))?,
        };
        let resolved = self.credential(org, &target.provider).await?.ok_or_else(|| {
            GatewayError::not_found(
                "model_not_found",
                format!(
                    "No provider named `{}` in this organization: name models as `<provider>/<model>` with one of your provider slugs.",
                    target.provider
                ),
            )
        })?;
        let cred = &resolved.credential;
        let (format, dialect) = wire(cred.provider)?;
        let base = match (&cred.base_url, default_base_url(cred.provider)) {
            (Some(url), _) => url.as_str(),
            (None, Some(url)) => url,
            (None, None) => {
                return Err(GatewayError::bad_request(
                    format!("Provider `{}` has no base URL configured.", cred.slug),
                    Some("model"),
                ));
            }
        };
        let base_url = Url::parse(base.trim_end_matches('/')).map_err(|_| {
            GatewayError::bad_request(
                format!("Provider `{}` has an invalid base URL.", cred.slug),
                None,
            )
        })?;
        Ok(Target {
            slug: cred.slug.to_string(),
            kind: cred.provider,
            model: target.model,
            format,
            dialect,
            base_url,
            api_key: resolved.api_key.clone(),
        })
    }

    /// An org alias, cached like credentials so bare model names stay off the database too.
    async fn alias(&self, org: OrgId, name: &str) -> Result<Option<ModelTarget>, GatewayError> {
        let key = (org, name.to_owned());
        if let Some(hit) = self.aliases.get(&key) {
            return Ok(hit);
        }
        let found = self
            .db
            .resolve_alias(org, name)
            .await
            .map_err(|e| store_failure(&e))?;
        self.aliases.insert(key, found.clone());
        Ok(found)
    }

    async fn credential(&self, org: OrgId, slug: &Slug) -> Result<Option<Resolved>, GatewayError> {
        let key = (org, slug.to_string());
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        let found = self
            .db
            .credential_with_secret(org, slug, &self.master_key)
            .await
            .map_err(|e| store_failure(&e))?
            .map(|(credential, api_key)| Resolved {
                credential: Arc::new(credential),
                api_key: Arc::new(api_key),
            });
        self.cache.insert(key, found.clone());
        Ok(found)
    }
}

impl Target {
    /// Upstream URL for a chat call.
    pub fn chat_url(&self, stream: bool) -> Result<Url, GatewayError> {
        let path = match self.format {
            Format::OpenAi => "/chat/completions".to_owned(),
            Format::Anthropic => "/v1/messages".to_owned(),
            Format::Gemini => keyway_providers::gemini::request_path(&self.model, stream),
        };
        Url::parse(&format!(
            "{}{path}",
            self.base_url.as_str().trim_end_matches('/')
        ))
        .map_err(|_| GatewayError::bad_request("The provider's base URL cannot be used.", None))
    }

    /// Upstream URL for embeddings (OpenAI-format providers only).
    pub fn embeddings_url(&self) -> Result<Url, GatewayError> {
        if self.format != Format::OpenAi {
            return Err(GatewayError::bad_request(
                format!(
                    "Embeddings are not supported for provider kind `{}` yet.",
                    self.kind.as_str()
                ),
                Some("model"),
            ));
        }
        Url::parse(&format!(
            "{}/embeddings",
            self.base_url.as_str().trim_end_matches('/')
        ))
        .map_err(|_| GatewayError::bad_request("The provider's base URL cannot be used.", None))
    }

    /// Adds this provider's authentication (and version) headers.
    pub fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let key = self.api_key.expose();
        match self.format {
            Format::OpenAi => request.bearer_auth(key),
            Format::Anthropic => request.header("x-api-key", key).header(
                "anthropic-version",
                keyway_providers::anthropic::API_VERSION,
            ),
            Format::Gemini => request.header("x-goog-api-key", key),
        }
    }
}

fn unknown_model(model: &str) -> GatewayError {
    GatewayError::not_found(
        "model_not_found",
        format!(
            "Unknown model `{model}`: use `<provider>/<model>` or one of your organization's aliases."
        ),
    )
}

fn store_failure(e: &keyway_store::StoreError) -> GatewayError {
    tracing::error!(error = %StoreErrorChain(e), "resolving a model failed");
    GatewayError::unavailable("Keyway cannot resolve providers right now; retry shortly.")
}

/// The wire format of each provider kind; kinds whose adapters are not built yet are refused
/// with a clear error instead of a guess.
fn wire(kind: ProviderKind) -> Result<(Format, Dialect), GatewayError> {
    use ProviderKind as K;
    match kind {
        K::Openai => Ok((Format::OpenAi, Dialect::OpenAi)),
        K::Anthropic => Ok((Format::Anthropic, Dialect::Compatible)),
        K::Gemini => Ok((Format::Gemini, Dialect::Compatible)),
        K::Mistral
        | K::Groq
        | K::Together
        | K::Fireworks
        | K::Deepseek
        | K::Xai
        | K::Openrouter
        | K::Perplexity
        | K::Cerebras
        | K::Deepinfra
        | K::Ollama
        | K::Vllm
        | K::OpenaiCompatible
        | K::Mock => Ok((Format::OpenAi, Dialect::Compatible)),
        K::AzureOpenai | K::Bedrock | K::Cohere => Err(GatewayError::bad_request(
            format!(
                "Provider kind `{}` is not supported by this gateway version yet.",
                kind.as_str()
            ),
            Some("model"),
        )),
    }
}

/// Public endpoints of each kind. OpenAI-format bases include the version path (as OpenAI SDKs
/// take them); Anthropic and Gemini bases are the API host.
fn default_base_url(kind: ProviderKind) -> Option<&'static str> {
    use ProviderKind as K;
    Some(match kind {
        K::Openai => "https://api.openai.com/v1",
        K::Anthropic => "https://api.anthropic.com",
        K::Gemini => "https://generativelanguage.googleapis.com",
        K::Mistral => "https://api.mistral.ai/v1",
        K::Groq => "https://api.groq.com/openai/v1",
        K::Together => "https://api.together.xyz/v1",
        K::Fireworks => "https://api.fireworks.ai/inference/v1",
        K::Deepseek => "https://api.deepseek.com/v1",
        K::Xai => "https://api.x.ai/v1",
        K::Openrouter => "https://openrouter.ai/api/v1",
        K::Perplexity => "https://api.perplexity.ai",
        K::Cerebras => "https://api.cerebras.ai/v1",
        K::Deepinfra => "https://api.deepinfra.com/v1/openai",
        K::Ollama => "http://127.0.0.1:11434/v1",
        K::Vllm => "http://127.0.0.1:8000/v1",
        K::AzureOpenai | K::Bedrock | K::Cohere | K::OpenaiCompatible | K::Mock => return None,
    })
}

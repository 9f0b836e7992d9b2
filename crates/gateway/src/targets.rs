//! Model addressing: `<provider-slug>/<model>` or an org alias -> the org's provider credential,
//! its wire format, base URL and auth headers.
//!
//! Provider settings read from a credential's `config` object:
//! - Azure OpenAI: the base URL is the resource endpoint (`https://{resource}.openai.azure.com`),
//!   the model part of `slug/<deployment>` is the deployment, `api_version` is optional
//!   (default [`keyway_providers::azure::DEFAULT_API_VERSION`]); the key goes in the `api-key`
//!   header.
//! - Bedrock: `region` (required); the key is `ACCESS_KEY_ID:SECRET_ACCESS_KEY` or
//!   `ACCESS_KEY_ID:SECRET_ACCESS_KEY:SESSION_TOKEN`; calls are SigV4-signed; the base URL
//!   defaults to the region's `bedrock-runtime` endpoint.
//!
//! Decrypted credentials and aliases are cached in-process for [`CREDENTIAL_TTL`], so a request
//! does not decrypt or query per call; changes reach the gateway within that time.

use crate::auth::StoreErrorChain;
use crate::error::GatewayError;
use crate::fresh::{Failed, Fresh, STALE_LIMIT, read_through};
use keyway_domain::{OrgId, Secret, Slug};
use keyway_providers::Format;
use keyway_providers::openai::Dialect;
use keyway_providers::sigv4::{self, AwsCredentials};
use keyway_store::aliases::ModelTarget;
use keyway_store::credentials::{ProviderCredential, ProviderKind};
use keyway_store::{Database, MasterKey, StoreError};
use moka::sync::Cache;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// How long a resolved credential is reused before one request reads it again.
pub const CREDENTIAL_TTL: Duration = Duration::from_secs(30);

/// Where and how one request goes upstream: a prepared credential and the model to ask it for.
#[derive(Clone)]
pub struct Target {
    /// Upstream model name.
    pub model: String,
    endpoint: Arc<Endpoint>,
}

/// A credential made ready for requests once per cache fill (its base URL parsed, its settings
/// checked), so that a request through it neither parses a URL nor reads its config again.
struct Endpoint {
    slug: String,
    kind: ProviderKind,
    format: Format,
    dialect: Dialect,
    base_url: Url,
    api_key: Secret<String>,
    auth: Auth,
}

/// How a provider kind authenticates, with the settings it needs.
#[derive(Clone)]
enum Auth {
    /// `Authorization: Bearer` (OpenAI and compatible servers, Cohere).
    Bearer,
    /// `x-api-key` plus `anthropic-version`.
    Anthropic,
    /// `x-goog-api-key`.
    Gemini,
    /// `api-key`, with the deployment URL's `api-version`.
    Azure { api_version: String },
    /// SigV4 with static credentials.
    Bedrock {
        region: String,
        credentials: Arc<AwsCredentials>,
    },
}

/// A cached credential: ready for requests, or why it cannot be used (a missing region, an
/// unusable base URL), answered to every request naming it until the entry is refreshed.
type Ready = Result<Arc<Endpoint>, GatewayError>;

/// Resolves model names for the gateway.
#[derive(Clone)]
pub struct Targets {
    db: Database,
    master_key: Arc<MasterKey>,
    cache: Cache<(OrgId, String), Fresh<Option<Ready>>>,
    aliases: Cache<(OrgId, String), Fresh<Option<ModelTarget>>>,
}

impl Targets {
    /// Resolution over `db`, decrypting with `master_key`.
    pub fn new(db: Database, master_key: Arc<MasterKey>) -> Self {
        // Entries outlive their freshness (see [`crate::fresh`]) so that an outage can fall
        // back to them.
        let cache = Cache::builder()
            .max_capacity(50_000)
            .time_to_live(STALE_LIMIT)
            .support_invalidation_closures()
            .build();
        let aliases = Cache::builder()
            .max_capacity(50_000)
            .time_to_live(STALE_LIMIT)
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
        let ready = self.credential(org, &target.provider).await?.ok_or_else(|| {
            GatewayError::not_found(
                "model_not_found",
                format!(
                    "No provider named `{}` in this organization: name models as `<provider>/<model>` with one of your provider slugs.",
                    target.provider
                ),
            )
        })?;
        Ok(Target {
            model: target.model,
            endpoint: ready?,
        })
    }

    /// An org alias, cached like credentials so bare model names stay off the database too.
    async fn alias(&self, org: OrgId, name: &str) -> Result<Option<ModelTarget>, GatewayError> {
        let fetch = || self.db.resolve_alias(org, name);
        let key = (org, name.to_owned());
        let found = read_through(&self.aliases, &key, CREDENTIAL_TTL, fetch).await;
        found.or_else(serve_stale)
    }

    async fn credential(&self, org: OrgId, slug: &Slug) -> Result<Option<Ready>, GatewayError> {
        let fetch =
            || async {
                let found = self
                    .db
                    .credential_with_secret(org, slug, &self.master_key)
                    .await?;
                Ok(found
                    .map(|(credential, api_key)| Endpoint::new(&credential, api_key).map(Arc::new)))
            };
        let key = (org, slug.to_string());
        let found = read_through(&self.cache, &key, CREDENTIAL_TTL, fetch).await;
        found.or_else(serve_stale)
    }
}

impl Endpoint {
    /// Checks a stored credential's settings and parses its base URL.
    fn new(cred: &ProviderCredential, api_key: Secret<String>) -> Result<Self, GatewayError> {
        let (format, dialect) = wire(cred.provider);
        let auth = auth(cred, &api_key)?;
        let regional = match &auth {
            Auth::Bedrock { region, .. } => Some(keyway_providers::bedrock::endpoint(region)),
            _ => None,
        };
        let base = match (&cred.base_url, default_base_url(cred.provider), &regional) {
            (Some(url), _, _) => url.as_str(),
            (None, Some(url), _) => url,
            (None, None, Some(url)) => url.as_str(),
            (None, None, None) => {
                return Err(GatewayError::bad_request(
                    format!("Provider `{}` has no base URL configured.", cred.slug),
                    Some("model"),
                ));
            }
        };
        let base_url = Url::parse(base.trim_end_matches('/'))
            .ok()
            .filter(|url| !url.cannot_be_a_base())
            .ok_or_else(|| {
                GatewayError::bad_request(
                    format!("Provider `{}` has an invalid base URL.", cred.slug),
                    None,
                )
            })?;
        Ok(Self {
            slug: cred.slug.to_string(),
            kind: cred.provider,
            format,
            dialect,
            base_url,
            api_key,
            auth,
        })
    }

    /// The base URL with `path` (and its query, if it has one) appended to the base's path.
    /// Only the path is parsed: the host was checked once, when the credential was read.
    fn url(&self, path: &str) -> Url {
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        let mut url = self.base_url.clone();
        let joined = format!("{}{path}", self.base_url.path().trim_end_matches('/'));
        url.set_path(&joined);
        match (self.base_url.query(), query) {
            (Some(base), Some(query)) => url.set_query(Some(&format!("{base}&{query}"))),
            (None, Some(query)) => url.set_query(Some(query)),
            (_, None) => {}
        }
        url
    }
}

/// After a failed database read: the entry it would have refreshed, or a 503.
fn serve_stale<V>(failed: Failed<V, StoreError>) -> Result<V, GatewayError> {
    match failed.stale {
        Some(value) => {
            tracing::warn!(error = %StoreErrorChain(&failed.error), "provider lookup failed; serving the cached entry");
            Ok(value)
        }
        None => Err(store_failure(&failed.error)),
    }
}

impl Target {
    /// The credential's slug (reported in `x-keyway-provider`).
    pub fn slug(&self) -> &str {
        &self.endpoint.slug
    }

    /// Provider kind (prices, analytics).
    pub fn kind(&self) -> ProviderKind {
        self.endpoint.kind
    }

    /// Wire format the upstream speaks.
    pub fn format(&self) -> Format {
        self.endpoint.format
    }

    /// OpenAI dialect for OpenAI-format upstreams.
    pub fn dialect(&self) -> Dialect {
        self.endpoint.dialect
    }

    /// Upstream URL for a chat call.
    pub fn chat_url(&self, stream: bool) -> Url {
        let endpoint = &self.endpoint;
        let path = match (&endpoint.auth, endpoint.format) {
            (Auth::Azure { api_version }, _) => self.azure_path("chat/completions", api_version),
            (_, Format::OpenAi) => "/chat/completions".to_owned(),
            (_, Format::Anthropic) => "/v1/messages".to_owned(),
            (_, Format::Gemini) => keyway_providers::gemini::request_path(&self.model, stream),
            (_, Format::Bedrock) => keyway_providers::bedrock::request_path(&self.model, stream),
            (_, Format::Cohere) => keyway_providers::cohere::CHAT_PATH.to_owned(),
        };
        endpoint.url(&path)
    }

    /// Upstream URL for embeddings (OpenAI-format providers only).
    pub fn embeddings_url(&self) -> Result<Url, GatewayError> {
        if self.format() != Format::OpenAi {
            return Err(GatewayError::bad_request(
                format!(
                    "Embeddings are not supported for provider kind `{}` yet.",
                    self.kind().as_str()
                ),
                Some("model"),
            ));
        }
        let path = match &self.endpoint.auth {
            Auth::Azure { api_version } => self.azure_path("embeddings", api_version),
            _ => "/embeddings".to_owned(),
        };
        Ok(self.endpoint.url(&path))
    }

    /// Azure's deployment path (the deployment is the model).
    fn azure_path(&self, action: &str, api_version: &str) -> String {
        keyway_providers::azure::request_path(&self.model, action, api_version)
    }

    /// Adds this provider's authentication (and version) headers for a request to `url` whose
    /// body is `body` (Bedrock signs both).
    pub fn authorize(
        &self,
        request: reqwest::RequestBuilder,
        url: &Url,
        body: &[u8],
    ) -> reqwest::RequestBuilder {
        let key = self.endpoint.api_key.expose();
        match &self.endpoint.auth {
            Auth::Bearer => request.bearer_auth(key),
            Auth::Anthropic => request.header("x-api-key", key).header(
                "anthropic-version",
                keyway_providers::anthropic::API_VERSION,
            ),
            Auth::Gemini => request.header("x-goog-api-key", key),
            Auth::Azure { .. } => request.header(keyway_providers::azure::API_KEY_HEADER, key),
            Auth::Bedrock {
                region,
                credentials,
            } => {
                let host = match url.port() {
                    Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
                    None => url.host_str().unwrap_or_default().to_owned(),
                };
                let signed = sigv4::sign(
                    credentials,
                    sigv4::Scope {
                        region,
                        service: keyway_providers::bedrock::SIGNING_SERVICE,
                        time: std::time::SystemTime::now(),
                    },
                    &sigv4::SignableRequest {
                        method: "POST",
                        host: &host,
                        path: url.path(),
                        query: url.query().unwrap_or_default(),
                        headers: &[("content-type", "application/json")],
                        body,
                    },
                );
                signed
                    .into_iter()
                    .fold(request, |r, (name, value)| r.header(name, value))
            }
        }
    }
}

/// The authentication of a credential, with its provider settings checked.
fn auth(cred: &ProviderCredential, key: &Secret<String>) -> Result<Auth, GatewayError> {
    use ProviderKind as K;
    let setting = |name: &str| {
        cred.config
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Ok(match cred.provider {
        K::Anthropic => Auth::Anthropic,
        K::Gemini => Auth::Gemini,
        K::AzureOpenai => Auth::Azure {
            api_version: setting("api_version")
                .unwrap_or_else(|| keyway_providers::azure::DEFAULT_API_VERSION.to_owned()),
        },
        K::Bedrock => {
            // The region becomes part of the endpoint's host name: only a region-shaped value.
            let region = setting("region")
                .filter(|r| {
                    r.len() <= 32
                        && r.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                })
                .ok_or_else(|| {
                    GatewayError::bad_request(
                        format!(
                            "Provider `{}` (bedrock) needs a valid `region` (e.g. `us-east-1`) in its config.",
                            cred.slug
                        ),
                        Some("model"),
                    )
                })?;
            let credentials = AwsCredentials::parse(key.expose()).ok_or_else(|| {
                GatewayError::bad_request(
                    format!(
                        "Provider `{}` (bedrock) needs its key as ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN].",
                        cred.slug
                    ),
                    Some("model"),
                )
            })?;
            Auth::Bedrock {
                region,
                credentials: Arc::new(credentials),
            }
        }
        _ => Auth::Bearer,
    })
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

/// The wire format of each provider kind.
fn wire(kind: ProviderKind) -> (Format, Dialect) {
    use ProviderKind as K;
    match kind {
        // Azure follows api.openai.com (`max_completion_tokens`, usage in streams).
        K::Openai | K::AzureOpenai => (Format::OpenAi, Dialect::OpenAi),
        K::Bedrock => (Format::Bedrock, Dialect::Compatible),
        K::Cohere => (Format::Cohere, Dialect::Compatible),
        K::Anthropic => (Format::Anthropic, Dialect::Compatible),
        K::Gemini => (Format::Gemini, Dialect::Compatible),
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
        | K::Mock => (Format::OpenAi, Dialect::Compatible),
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
        K::Cohere => "https://api.cohere.com",
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
        // Azure's endpoint names the customer's resource; Bedrock's depends on the region.
        K::AzureOpenai | K::Bedrock | K::OpenaiCompatible | K::Mock => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cred(
        kind: ProviderKind,
        base_url: Option<&str>,
        config: serde_json::Value,
    ) -> ProviderCredential {
        ProviderCredential {
            id: Default::default(),
            org_id: OrgId::new(),
            name: "test".into(),
            slug: Slug::parse("up").unwrap(),
            provider: kind,
            base_url: base_url.map(str::to_owned),
            config,
            key_last4: String::new(),
            master_key_id: String::new(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn endpoint(cred: &ProviderCredential) -> Result<Endpoint, GatewayError> {
        Endpoint::new(cred, Secret::new("AKIAMOCK:secret".to_owned()))
    }

    /// A target for a model name that would break out of its path segment if not encoded.
    fn target(kind: ProviderKind, base_url: Option<&str>, config: serde_json::Value) -> Target {
        Target {
            model: "m/x?y".into(),
            endpoint: Arc::new(endpoint(&cred(kind, base_url, config)).unwrap()),
        }
    }

    #[test]
    fn urls_join_the_base_path_and_keep_the_base_query() {
        let plain = target(
            ProviderKind::Mock,
            Some("http://10.0.0.1:8000/v1/"),
            json!({}),
        );
        assert_eq!(
            plain.chat_url(false).as_str(),
            "http://10.0.0.1:8000/v1/chat/completions"
        );
        assert_eq!(
            plain.embeddings_url().unwrap().as_str(),
            "http://10.0.0.1:8000/v1/embeddings"
        );
        let azure = target(
            ProviderKind::AzureOpenai,
            Some("https://res.openai.azure.com/?tenant=a"),
            json!({"api_version": "2025-01-01"}),
        );
        assert_eq!(
            azure.chat_url(false).as_str(),
            "https://res.openai.azure.com/openai/deployments/m%2Fx%3Fy/chat/completions?tenant=a&api-version=2025-01-01"
        );
        let gemini = target(ProviderKind::Gemini, None, json!({}));
        assert_eq!(
            gemini.chat_url(true).as_str(),
            "https://generativelanguage.googleapis.com/v1beta/models/m%2Fx%3Fy:streamGenerateContent?alt=sse"
        );
        let anthropic = target(ProviderKind::Anthropic, None, json!({}));
        assert_eq!(
            anthropic.chat_url(true).as_str(),
            "https://api.anthropic.com/v1/messages"
        );
    }

    #[test]
    fn unusable_credentials_are_refused_with_the_reason() {
        let refused = |kind, base_url, config| {
            endpoint(&cred(kind, base_url, config))
                .err()
                .unwrap()
                .message()
                .to_owned()
        };
        let no_base = refused(ProviderKind::OpenaiCompatible, None, json!({}));
        assert!(no_base.contains("no base URL"), "{no_base}");
        let not_a_base = refused(ProviderKind::Mock, Some("mailto:a@b.c"), json!({}));
        assert!(not_a_base.contains("invalid base URL"), "{not_a_base}");
        let no_region = refused(ProviderKind::Bedrock, None, json!({}));
        assert!(no_region.contains("region"), "{no_region}");
        let bedrock = endpoint(&cred(
            ProviderKind::Bedrock,
            None,
            json!({"region": "eu-west-1"}),
        ));
        assert_eq!(
            bedrock.unwrap().base_url.as_str(),
            "https://bedrock-runtime.eu-west-1.amazonaws.com/"
        );
    }
}

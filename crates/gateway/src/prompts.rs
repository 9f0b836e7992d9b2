//! Stored prompts served by the gateway (pipeline step 4): `POST /v1/prompts/{slug}/render`
//! returns the rendered OpenAI chat request, `POST /v1/prompts/{slug}/completions` renders it
//! and runs it through the ordinary chat pipeline ([`crate::chat`]): authentication, routing,
//! limits and budgets, guardrails (the key's, the config's and the version's own), logging and
//! streaming all apply, and the request event records the prompt's id and version.
//!
//! Both take `{variables, label | version}` (neither: the `production` label's version, else
//! the newest); completions also take `stream` and `overrides` (request parameters, including
//! `model`, laid over the version's) and answer with `x-keyway-prompt-id` and
//! `x-keyway-prompt-version` besides the chat headers. Rendering is the domain's logic-less renderer
//! ([`keyway_domain::prompt`]); its refusals are 400s in OpenAI's error shape.
//!
//! Resolved versions (and the lookups that found none) and each organization's partials are
//! cached in-process, re-read after [`PROMPT_TTL`] by one request while the others keep the
//! cached answer ([`crate::fresh`]), and evicted when the control plane announces a change of
//! their organization ([`Prompts::evict`]). While the database is unreachable the last answer
//! keeps serving.

use crate::GatewayState;

use crate::chat::Api;
use crate::error::{GatewayError, Surface};
use crate::fresh::{Failed, Fresh, STALE_LIMIT, read_through};
use crate::record::Recorder;
use actix_web::{HttpRequest, HttpResponse, web};
use keyway_analytics::RequestEvent;
use keyway_domain::OrgId;
use keyway_domain::prompt::PromptTemplate;
use keyway_store::invalidation::Change;
use keyway_store::prompts::VersionSelector;
use keyway_store::virtual_keys::KeyPolicy;
use keyway_store::{Database, StoreError};
use moka::sync::Cache;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long a resolved prompt version or an organization's partials are used before being
/// read again (without a change message).
pub const PROMPT_TTL: Duration = Duration::from_secs(30);

/// The stored prompt version a request was rendered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptRef {
    /// The prompt.
    pub id: Uuid,
    /// Its version.
    pub version: u32,
}

/// A prompt version ready to render.
#[derive(Debug)]
pub struct Resolved {
    /// Which version this is.
    pub prompt: PromptRef,
    /// Its template.
    pub template: PromptTemplate,
}

type VersionKey = (OrgId, String, VersionSelector);

/// What looking a version up found. The two refusals are answers like a version, cached as
/// such; only a database failure is not.
#[derive(Clone)]
enum Lookup {
    Found(Arc<Resolved>),
    /// No prompt has this slug.
    NoPrompt,
    /// The prompt has no such label or version (the store's word for which).
    NoSuch(&'static str),
}

/// The prompt cache over the control-plane database.
#[derive(Clone)]
pub struct Prompts {
    db: Database,
    versions: Cache<VersionKey, Fresh<Lookup>>,
    partials: Cache<OrgId, Fresh<Arc<HashMap<String, String>>>>,
}

impl Prompts {
    /// An empty cache over `db`.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            versions: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(STALE_LIMIT)
                .support_invalidation_closures()
                .build(),
            partials: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(STALE_LIMIT)
                .build(),
        }
    }

    /// Drops what is cached of the organization `change` names (everything for [`Change::All`]).
    pub fn evict(&self, change: &Change) {
        match change {
            Change::Key(_) => {}
            Change::Org(org) => {
                let org = *org;
                self.partials.invalidate(&org);
                if self
                    .versions
                    .invalidate_entries_if(move |(o, _, _), _| *o == org)
                    .is_err()
                {
                    self.versions.invalidate_all();
                }
            }
            Change::All => {
                self.versions.invalidate_all();
                self.partials.invalidate_all();
            }
        }
    }

    /// The version of prompt `slug` that `selector` picks.
    pub async fn resolve(
        &self,
        org: OrgId,
        slug: &str,
        selector: VersionSelector,
    ) -> Result<Arc<Resolved>, GatewayError> {
        let not_found = || {
            GatewayError::not_found(
                "prompt_not_found",
                format!("No prompt `{slug}` in this organization."),
            )
        };
        // Prompt slugs are slugs; anything else names no prompt (and never reaches the store).
        if keyway_domain::Slug::parse(slug).is_err() {
            return Err(not_found());
        }
        let key = (org, slug.to_owned(), selector);
        let lookup = || self.lookup(org, slug, &key.2);
        match read_through(&self.versions, &key, PROMPT_TTL, lookup)
            .await
            .or_else(Failed::or_stale)?
        {
            Lookup::Found(version) => Ok(version),
            Lookup::NoPrompt => Err(not_found()),
            Lookup::NoSuch(what) => Err(GatewayError::bad_request(
                format!("Prompt `{slug}` has no such {what}."),
                Some(match key.2 {
                    VersionSelector::Label(_) => "label",
                    _ => "version",
                }),
            )),
        }
    }

    async fn lookup(
        &self,
        org: OrgId,
        slug: &str,
        selector: &VersionSelector,
    ) -> Result<Lookup, GatewayError> {
        match self.db.resolve_prompt(org, slug, selector).await {
            Ok(Some((prompt, version))) => Ok(Lookup::Found(Arc::new(Resolved {
                prompt: PromptRef {
                    id: prompt.id,
                    version: version.version,
                },
                template: version.template,
            }))),
            Ok(None) => Ok(Lookup::NoPrompt),
            Err(StoreError::NotFound(what)) => Ok(Lookup::NoSuch(what)),
            Err(e) => Err(unavailable(&e)),
        }
    }

    /// The newest text of each partial of `org`, by slug.
    pub async fn partials(&self, org: OrgId) -> Result<Arc<HashMap<String, String>>, GatewayError> {
        let load = || async move {
            match self.db.partial_contents(org).await {
                Ok(partials) => Ok(Arc::new(partials)),
                Err(e) => Err(unavailable(&e)),
            }
        };
        read_through(&self.partials, &org, PROMPT_TTL, load)
            .await
            .or_else(Failed::or_stale)
    }
}

fn unavailable(e: &StoreError) -> GatewayError {
    tracing::error!(error = %e, "loading a prompt failed");
    GatewayError::upstream(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        "Prompts cannot be loaded right now; retry shortly.",
    )
}

/// `POST /v1/prompts/{slug}/render` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenderBody {
    #[serde(default)]
    variables: Map<String, Value>,
    label: Option<String>,
    version: Option<u32>,
}

/// `POST /v1/prompts/{slug}/completions` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompletionBody {
    #[serde(default)]
    variables: Map<String, Value>,
    label: Option<String>,
    version: Option<u32>,
    stream: Option<bool>,
    #[serde(default)]
    overrides: Map<String, Value>,
}

fn read<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GatewayError> {
    serde_json::from_slice(body)
        .map_err(|e| GatewayError::bad_request(format!("Invalid request body: {e}"), None))
}

/// A render that failed, and which version it was rendering when one was resolved.
struct Refused {
    error: GatewayError,
    prompt: Option<PromptRef>,
}

impl From<GatewayError> for Refused {
    fn from(error: GatewayError) -> Self {
        Self {
            error,
            prompt: None,
        }
    }
}

/// Renders the selected version for `policy`'s organization.
async fn render_for(
    policy: &KeyPolicy,
    state: &GatewayState,
    slug: &str,
    label: Option<String>,
    version: Option<u32>,
    variables: &Map<String, Value>,
) -> Result<(Arc<Resolved>, Map<String, Value>), Refused> {
    let selector = VersionSelector::pick(label, version)
        .map_err(|e| GatewayError::bad_request(format!("{e}."), Some("version")))?;
    let resolved = state.prompts.resolve(policy.org_id, slug, selector).await?;
    let partials = state.prompts.partials(policy.org_id).await?;
    let body = resolved
        .template
        .render(variables, &partials)
        .map_err(|e| Refused {
            error: GatewayError::bad_request(e.to_string(), Some("variables")),
            prompt: Some(resolved.prompt),
        })?;
    Ok((resolved, body))
}

fn request_id() -> String {
    Uuid::now_v7().to_string()
}

/// A completion refused before it became a chat request still leaves a request event, as
/// every authenticated request does.
fn refuse(
    state: &GatewayState,
    policy: &KeyPolicy,
    body: &[u8],
    started: Instant,
    refused: &Refused,
) -> HttpResponse {
    let request_id = request_id();
    let mut event = RequestEvent::new(
        &request_id,
        &policy.org_id.to_string(),
        Api::Chat.name(),
        "",
    );
    event.key_id = Some(policy.key_id.to_string());
    event.team_id = policy.team_id.map(|t| t.to_string());
    event.prompt_id = refused.prompt.map(|p| p.id.to_string());
    event.prompt_version = refused.prompt.map(|p| p.version);
    let mut recorder = Recorder::new(state.events.clone(), event, started);
    if policy.log_bodies {
        recorder.log_bodies(body);
    }
    recorder.finish(refused.error.status().as_u16(), Some(refused.error.code()));
    let mut resp = refused.error.response(Surface::OpenAi);
    crate::chat::set_header(&mut resp, "x-keyway-request-id", &request_id);
    resp
}

fn fail(err: &GatewayError) -> HttpResponse {
    let mut resp = err.response(Surface::OpenAi);
    crate::chat::set_header(&mut resp, "x-keyway-request-id", &request_id());
    resp
}

/// `POST /v1/prompts/{slug}/render`: `{prompt_id, version, request}` where `request` is the
/// OpenAI chat request the version renders to.
pub async fn render(
    req: HttpRequest,
    slug: web::Path<String>,
    body: crate::body::Body,
    state: web::Data<GatewayState>,
) -> HttpResponse {
    let parsed = match read::<RenderBody>(&body) {
        Ok(parsed) => parsed,
        Err(e) => return fail(&e),
    };
    let policy = match state.auth.authenticate(&req).await {
        Ok(policy) => policy,
        Err(e) => return fail(&e),
    };
    let rendered = render_for(
        &policy,
        &state,
        &slug,
        parsed.label,
        parsed.version,
        &parsed.variables,
    )
    .await;
    match rendered {
        Ok((resolved, request)) => HttpResponse::Ok().json(json!({
            "object": "prompt.render",
            "prompt_id": resolved.prompt.id,
            "version": resolved.prompt.version,
            "request": request,
        })),
        Err(refused) => fail(&refused.error),
    }
}

/// `POST /v1/prompts/{slug}/completions`: renders the version, lays `overrides` and `stream`
/// over it, and serves it as `POST /v1/chat/completions` would.
pub async fn completions(
    req: HttpRequest,
    slug: web::Path<String>,
    body: crate::body::Body,
    state: web::Data<GatewayState>,
) -> HttpResponse {
    let started = Instant::now();
    let policy = match state.auth.authenticate(&req).await {
        Ok(policy) => policy,
        Err(e) => return fail(&e),
    };
    let parsed = read::<CompletionBody>(&body).and_then(|parsed| {
        if parsed.overrides.contains_key("messages") {
            return Err(GatewayError::bad_request(
                "`overrides` may not replace the prompt's messages.",
                Some("overrides"),
            ));
        }
        Ok(parsed)
    });
    let CompletionBody {
        variables,
        label,
        version,
        stream,
        overrides,
    } = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return refuse(&state, &policy, &body, started, &e.into()),
    };
    let rendered = render_for(&policy, &state, &slug, label, version, &variables).await;
    let (resolved, mut request) = match rendered {
        Ok(rendered) => rendered,
        Err(refused) => return refuse(&state, &policy, &body, started, &refused),
    };
    request.extend(overrides);
    if let Some(stream) = stream {
        request.insert("stream".into(), Value::Bool(stream));
    }
    let chat_body = match serde_json::to_vec(&Value::Object(request)) {
        Ok(b) => b,
        Err(e) => {
            let refused = Refused {
                error: GatewayError::bad_request(format!("Rendered request: {e}"), None),
                prompt: Some(resolved.prompt),
            };
            return refuse(&state, &policy, &body, started, &refused);
        }
    };
    let mut resp = crate::chat::serve(Api::Chat, &req, &chat_body, &state, Some(&resolved)).await;
    let prompt = resolved.prompt;
    crate::chat::set_header(&mut resp, "x-keyway-prompt-id", &prompt.id.to_string());
    crate::chat::set_header(
        &mut resp,
        "x-keyway-prompt-version",
        &prompt.version.to_string(),
    );
    resp
}

//! Guardrails in the pipeline (step 5 on the input, step 9 on the output): the checks of the
//! guardrails a key attaches ([`keyway_domain::guardrails`]) run on the request's message text
//! before the upstream call and on the answer's text before the client sees it.
//!
//! - `deny`: the request ends with HTTP 446 and the verdicts, in the surface's error shape
//!   (OpenAI `{"error": {"code": "guardrail_denied", "verdicts": [...]}}`, Anthropic
//!   `{"type": "error", "error": {"type": "guardrail_error", "verdicts": [...]}}`); an input
//!   denial never reaches the provider.
//! - `flag`: the request passes; the failed checks are listed in the `x-keyway-guardrails`
//!   response header (`<guardrail>/<check>=<action>`, comma-separated) and in the request's
//!   log (metadata key `keyway.guardrails`, the same compact list).
//! - `redact`: the matched text is replaced (`[REDACTED_EMAIL]`, ...) in the request before it is
//!   sent upstream, or in the answer before it reaches the client; listed like `flag`.
//!
//! Webhook checks POST `{"guardrail", "check", "on", "model", "text"}` to the customer's URL
//! through the SSRF-safe upstream client ([`crate::upstream`]) within the check's timeout and
//! read `{"passed": bool, "details": "..."}`; an unreachable, slow, refused or malformed webhook
//! fails its check (fail closed).
//!
//! Streams with output checks are buffered: the gateway reads the whole upstream stream, runs the
//! checks on each choice's text, and only then answers (with the stream's events, redacted
//! where needed, or a 446). Without output checks streams pass through as they arrive.
//!
//! A key attaches guardrails (all their checks run); a routing config's root may name guardrail
//! ids in Portkey's `input_guardrails` / `output_guardrails` (only their input, respectively
//! output, checks run; Portkey's inline forms are not run); a stored prompt version names
//! guardrails that run (all their checks) on requests served from it.
//!
//! Guardrails are cached in-process for [`GUARDRAIL_TTL`] and evicted when the control plane
//! announces a change of their organization ([`Guardrails::evict`]).

use crate::error::{GatewayError, Surface};
use crate::fresh::{Failed, Fresh, STALE_LIMIT, read_through};
use crate::record::Recorder;
use crate::upstream::{UpstreamClient, UpstreamError};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use keyway_domain::OrgId;
use keyway_domain::guardrails::{Action, Guardrail, Stage, Verdict, Webhook, named_ids};
use keyway_domain::routing::RoutingConfig;
use keyway_providers::canonical::{ContentPart, Message};
use keyway_providers::{ChatRequest, ChatResponse, StreamEvent};
use keyway_store::Database;
use keyway_store::invalidation::Change;
use keyway_store::virtual_keys::KeyPolicy;
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How long a loaded guardrail is reused before one request reads it again.
pub const GUARDRAIL_TTL: Duration = Duration::from_secs(30);
/// The status of a request a guardrail denied.
pub const DENIED_STATUS: u16 = 446;
/// The response header listing failed `flag` and `redact` checks.
pub const HEADER: &str = "x-keyway-guardrails";
/// The request-event metadata key holding the same list.
pub const METADATA_KEY: &str = "keyway.guardrails";
/// Largest webhook answer read.
const MAX_WEBHOOK_ANSWER: usize = 64 * 1024;
/// Longest `details` kept from a webhook answer (characters).
const MAX_WEBHOOK_DETAILS: usize = 200;

/// One stored guardrail's newest version, compiled.
#[derive(Debug)]
pub struct Loaded {
    slug: String,
    guardrail: Guardrail,
}

/// The guardrail cache over the control-plane database, and the client webhooks are called on.
#[derive(Clone)]
pub struct Guardrails {
    db: Database,
    client: UpstreamClient,
    cache: Cache<(OrgId, Uuid), Fresh<Option<Arc<Loaded>>>>,
}

impl Guardrails {
    /// An empty cache over `db`; webhooks go through `client` (SSRF-safe).
    pub fn new(db: Database, client: UpstreamClient) -> Self {
        Self {
            db,
            client,
            // Entries outlive their freshness so that an outage can fall back to them.
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(STALE_LIMIT)
                .support_invalidation_closures()
                .build(),
        }
    }

    /// Drops what is cached of the organization `change` names (everything for [`Change::All`]).
    pub fn evict(&self, change: &Change) {
        match change {
            Change::Key(_) => {}
            Change::Org(org) => {
                let org = *org;
                if self
                    .cache
                    .invalidate_entries_if(move |(o, _), _| *o == org)
                    .is_err()
                {
                    self.cache.invalidate_all();
                }
            }
            Change::All => self.cache.invalidate_all(),
        }
    }

    /// The guardrails of a request: those `policy`'s key attaches (all their checks), those
    /// the served `prompt` version names (all their checks), then those the routing `config`'s
    /// root names in `input_guardrails` (their input checks) and `output_guardrails` (their
    /// output checks). A key's guardrail that no longer exists is skipped (the control plane
    /// refuses to delete an attached one); a prompt version or config naming one the
    /// organization does not have is a 400.
    pub async fn for_request(
        &self,
        policy: &KeyPolicy,
        config: Option<&RoutingConfig>,
        prompt: &[Uuid],
    ) -> Result<Active, GatewayError> {
        let mut loaded = Vec::with_capacity(policy.guardrails.len() + prompt.len());
        for id in &policy.guardrails {
            if let Some(found) = self.get(policy.org_id, *id).await? {
                loaded.push((found, None));
            }
        }
        for id in prompt {
            // Deleting a guardrail a live version names is refused; an older version naming
            // one since deleted is refused here rather than served unguarded.
            let found = self.get(policy.org_id, *id).await?.ok_or_else(|| {
                GatewayError::bad_request(
                    format!("The prompt version names guardrail {id}, which no longer exists in this organization."),
                    Some("version"),
                )
            })?;
            loaded.push((found, None));
        }
        if let Some(config) = config {
            let root = config.root();
            for (param, list, stage) in [
                ("input_guardrails", &root.input_guardrails, Stage::Input),
                ("output_guardrails", &root.output_guardrails, Stage::Output),
            ] {
                for id in named_ids(list.as_ref()) {
                    let found = self.get(policy.org_id, id).await?.ok_or_else(|| {
                        GatewayError::bad_request(
                            format!("The routing config names guardrail {id}, which does not exist in this organization."),
                            Some(param),
                        )
                    })?;
                    loaded.push((found, Some(stage)));
                }
            }
        }
        Ok(Active {
            loaded,
            client: self.client.clone(),
        })
    }

    async fn get(&self, org: OrgId, id: Uuid) -> Result<Option<Arc<Loaded>>, GatewayError> {
        let load = || self.load(org, id);
        read_through(&self.cache, &(org, id), GUARDRAIL_TTL, load)
            .await
            .or_else(Failed::or_stale)
    }

    async fn load(&self, org: OrgId, id: Uuid) -> Result<Option<Arc<Loaded>>, GatewayError> {
        let record = self.db.get_guardrail(org, id).await.map_err(|e| {
            tracing::error!(error = %e, "loading a guardrail failed");
            GatewayError::unavailable("Guardrails could not be loaded; try again shortly.")
        })?;
        let Some(record) = record else {
            return Ok(None);
        };
        match Guardrail::parse(&record.definition) {
            Ok(guardrail) => Ok(Some(Arc::new(Loaded {
                slug: record.slug,
                guardrail,
            }))),
            Err(e) => {
                // Stored definitions were validated; one this build cannot read fails closed.
                tracing::error!(guardrail = %id, error = %e, "a stored guardrail does not parse");
                Err(GatewayError::internal())
            }
        }
    }
}

/// The guardrails of one request, each with the one stage it is limited to (a routing
/// config's `input_guardrails` / `output_guardrails`) or none (a key's).
#[derive(Debug)]
pub struct Active {
    loaded: Vec<(Arc<Loaded>, Option<Stage>)>,
    client: UpstreamClient,
}

impl Active {
    /// Whether any check runs at `stage`.
    pub fn has(&self, stage: Stage) -> bool {
        self.at(stage).any(|g| g.guardrail.has(stage))
    }

    fn at(&self, stage: Stage) -> impl Iterator<Item = &Arc<Loaded>> {
        self.loaded
            .iter()
            .filter(move |(_, only)| only.is_none_or(|s| s == stage))
            .map(|(loaded, _)| loaded)
    }

    /// Runs every guardrail's checks of `stage` on `texts`, rewriting them where a check
    /// redacts, then its webhooks on the (redacted) text; verdicts name their guardrail.
    pub async fn run(&self, stage: Stage, texts: &mut [String], model: &str) -> Vec<Verdict> {
        let mut verdicts = Vec::new();
        for loaded in self.at(stage) {
            for mut v in loaded.guardrail.run(stage, texts, model) {
                v.guardrail = Some(loaded.slug.clone());
                verdicts.push(v);
            }
        }
        for loaded in self.at(stage) {
            for hook in loaded.guardrail.webhooks(stage) {
                let call = WebhookCall {
                    guardrail: &loaded.slug,
                    check: &hook.check,
                    on: stage,
                    model,
                    text: texts.join("\n"),
                };
                let (passed, details) = match self.call(&hook, &call).await {
                    Ok(answer) => {
                        let details = answer
                            .details
                            .map(|d| d.chars().take(MAX_WEBHOOK_DETAILS).collect())
                            .unwrap_or_else(|| {
                                if answer.passed { "passed" } else { "failed" }.to_owned()
                            });
                        (answer.passed, details)
                    }
                    Err(why) => (false, why.to_owned()),
                };
                verdicts.push(Verdict {
                    guardrail: Some(loaded.slug.clone()),
                    check: hook.check.clone(),
                    kind: "webhook".to_owned(),
                    on: stage,
                    passed,
                    action: hook.action,
                    details,
                });
            }
        }
        verdicts
    }

    /// Calls one webhook; an error says why in words safe to show (never the URL's secrets).
    async fn call(
        &self,
        hook: &Webhook,
        call: &WebhookCall<'_>,
    ) -> Result<WebhookAnswer, &'static str> {
        let url = url::Url::parse(&hook.url).map_err(|_| "webhook URL is invalid")?;
        let work = async {
            let request = self.client.request(reqwest::Method::POST, url).json(call);
            let mut response =
                self.client
                    .send(request, hook.timeout)
                    .await
                    .map_err(|e| match e {
                        UpstreamError::Forbidden { .. }
                        | UpstreamError::UnsupportedScheme(_)
                        | UpstreamError::UserInfo
                        | UpstreamError::MissingHost => {
                            "webhook URL refused (private or invalid address)"
                        }
                        UpstreamError::HeaderTimeout(_) | UpstreamError::IdleTimeout(_) => {
                            "webhook timed out"
                        }
                        UpstreamError::Http(_) | UpstreamError::Build(_) => "webhook unreachable",
                    })?;
            if !response.status().is_success() {
                return Err("webhook answered an error status");
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|_| "webhook unreachable")? {
                if body.len() + chunk.len() > MAX_WEBHOOK_ANSWER {
                    return Err("webhook answer too large");
                }
                body.extend_from_slice(&chunk);
            }
            serde_json::from_slice::<WebhookAnswer>(&body)
                .map_err(|_| "webhook answer is not {\"passed\": bool}")
        };
        tokio::time::timeout(hook.timeout, work)
            .await
            .unwrap_or(Err("webhook timed out"))
    }

    /// Runs the input checks on the text of every message of `requests`, redacting in place.
    pub async fn check_input(&self, requests: &mut [ChatRequest]) -> Vec<Verdict> {
        if !self.has(Stage::Input) {
            return Vec::new();
        }
        let model = requests
            .first()
            .map(|r| r.model.clone())
            .unwrap_or_default();
        let mut texts = Vec::new();
        for_each_input_text(requests, |t| texts.push(t.clone()));
        let before = texts.clone();
        let verdicts = self.run(Stage::Input, &mut texts, &model).await;
        if texts != before {
            let mut it = texts.into_iter();
            for_each_input_text(requests, |t| {
                if let Some(new) = it.next() {
                    *t = new;
                }
            });
        }
        verdicts
    }

    /// Runs the output checks on each choice's text of a whole answer, redacting in place.
    pub async fn check_answer(&self, answer: &mut ChatResponse, model: &str) -> Vec<Verdict> {
        if !self.has(Stage::Output) {
            return Vec::new();
        }
        let mut texts: Vec<String> = answer
            .choices
            .iter()
            .map(|c| c.text.clone().unwrap_or_default())
            .collect();
        let verdicts = self.run(Stage::Output, &mut texts, model).await;
        for (choice, text) in answer.choices.iter_mut().zip(texts) {
            if choice.text.is_some() || !text.is_empty() {
                choice.text = Some(text);
            }
        }
        verdicts
    }

    /// Runs the output checks on each choice's text of a buffered stream; where text was
    /// redacted, the choice's first text delta carries the whole new text and its others go.
    pub async fn check_stream(&self, events: &mut Vec<StreamEvent>, model: &str) -> Vec<Verdict> {
        if !self.has(Stage::Output) {
            return Vec::new();
        }
        let mut choices: Vec<u32> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        for event in events.iter() {
            if let StreamEvent::TextDelta { choice, text } = event {
                match choices.iter().position(|c| c == choice) {
                    Some(i) => texts[i].push_str(text),
                    None => {
                        choices.push(*choice);
                        texts.push(text.clone());
                    }
                }
            }
        }
        if texts.is_empty() {
            texts.push(String::new());
        }
        let before = texts.clone();
        let verdicts = self.run(Stage::Output, &mut texts, model).await;
        if texts != before {
            let mut pending: Vec<Option<String>> = texts.into_iter().map(Some).collect();
            events.retain_mut(|event| match event {
                StreamEvent::TextDelta { choice, text } => {
                    match choices.iter().position(|c| c == choice) {
                        Some(i) => match pending[i].take() {
                            Some(whole) => {
                                *text = whole;
                                true
                            }
                            None => false,
                        },
                        None => true,
                    }
                }
                _ => true,
            });
        }
        verdicts
    }
}

/// What a webhook receives.
#[derive(Serialize)]
struct WebhookCall<'a> {
    guardrail: &'a str,
    check: &'a str,
    on: Stage,
    model: &'a str,
    text: String,
}

/// What a webhook answers.
#[derive(Deserialize)]
struct WebhookAnswer {
    passed: bool,
    #[serde(default)]
    details: Option<String>,
}

fn for_each_input_text(requests: &mut [ChatRequest], mut f: impl FnMut(&mut String)) {
    for request in requests {
        for message in &mut request.messages {
            let parts = match message {
                Message::System { content }
                | Message::User { content }
                | Message::Assistant { content, .. }
                | Message::Tool { content, .. } => content,
            };
            for part in parts {
                if let ContentPart::Text(text) = part {
                    f(text);
                }
            }
        }
    }
}

/// Whether a failed `deny` check is among `verdicts`.
pub fn denied(verdicts: &[Verdict]) -> bool {
    verdicts
        .iter()
        .any(|v| !v.passed && v.action == Action::Deny)
}

/// The failed checks as `<guardrail>/<check>=<action>`, comma-separated; `None` when all passed.
pub fn summary(verdicts: &[Verdict]) -> Option<String> {
    let failed: Vec<String> = verdicts
        .iter()
        .filter(|v| !v.passed)
        .map(|v| {
            format!(
                "{}/{}={}",
                v.guardrail.as_deref().unwrap_or(""),
                v.check,
                v.action.as_str()
            )
        })
        .collect();
    (!failed.is_empty()).then(|| failed.join(","))
}

/// Records the failed checks in the request event's metadata (`keyway.guardrails`).
pub fn record(recorder: &mut Recorder, verdicts: &[Verdict]) {
    let Some(summary) = summary(verdicts) else {
        return;
    };
    let event = recorder.event();
    match event.metadata_keys.iter().position(|k| k == METADATA_KEY) {
        Some(i) => {
            if let Some(value) = event.metadata_values.get_mut(i) {
                value.push(',');
                value.push_str(&summary);
            }
        }
        None => {
            event.metadata_keys.push(METADATA_KEY.to_owned());
            event.metadata_values.push(summary);
        }
    }
}

/// The 446 answer for denied `verdicts`, in `surface`'s error shape.
pub fn denial(surface: Surface, verdicts: &[Verdict]) -> HttpResponse {
    let failed: Vec<&Verdict> = verdicts
        .iter()
        .filter(|v| !v.passed && v.action == Action::Deny)
        .collect();
    let names: Vec<String> = failed
        .iter()
        .map(|v| format!("{}/{}", v.guardrail.as_deref().unwrap_or(""), v.check))
        .collect();
    let message = format!("Denied by guardrail check(s): {}.", names.join(", "));
    let body = match surface {
        Surface::OpenAi => json!({
            "error": {
                "message": message,
                "type": "guardrail_error",
                "param": null,
                "code": "guardrail_denied",
                "verdicts": verdicts,
            }
        }),
        Surface::Anthropic => json!({
            "type": "error",
            "error": {"type": "guardrail_error", "message": message, "verdicts": verdicts},
        }),
    };
    let status = StatusCode::from_u16(DENIED_STATUS).unwrap_or(StatusCode::FORBIDDEN);
    HttpResponse::build(status).json(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::UpstreamConfig;
    use keyway_providers::canonical::Choice;

    fn active(definition: serde_json::Value) -> Active {
        let guardrail = Guardrail::parse(&definition).unwrap();
        Active {
            loaded: vec![(
                Arc::new(Loaded {
                    slug: "g".into(),
                    guardrail,
                }),
                None,
            )],
            client: UpstreamClient::new(&UpstreamConfig::default()).unwrap(),
        }
    }

    fn redact_cards() -> Active {
        active(json!({"version": 1, "checks": [
            {"id": "card", "on": "output", "action": "redact", "check": {"type": "pii", "kinds": ["credit_card"]}}
        ]}))
    }

    fn delta(choice: u32, text: &str) -> StreamEvent {
        StreamEvent::TextDelta {
            choice,
            text: text.into(),
        }
    }

    #[tokio::test]
    async fn a_redacted_stream_carries_each_choice_in_its_first_delta() {
        // The card number is split across deltas, so only the whole text shows it.
        let mut events = vec![
            delta(0, "card 4111 1111 "),
            delta(1, "other"),
            delta(0, "1111 1111 ok"),
            StreamEvent::Done,
        ];
        let verdicts = redact_cards().check_stream(&mut events, "m").await;
        assert_eq!(summary(&verdicts).as_deref(), Some("g/card=redact"));
        assert_eq!(
            events,
            vec![
                delta(0, "card [REDACTED_CREDIT_CARD] ok"),
                delta(1, "other"),
                StreamEvent::Done
            ]
        );
    }

    #[tokio::test]
    async fn a_clean_stream_is_left_as_it_came() {
        let mut events = vec![delta(0, "a "), delta(0, "b"), StreamEvent::Done];
        let before = events.clone();
        let verdicts = redact_cards().check_stream(&mut events, "m").await;
        assert_eq!(summary(&verdicts), None);
        assert_eq!(events, before);
    }

    #[tokio::test]
    async fn whole_answers_are_checked_per_choice() {
        let mut answer = ChatResponse {
            choices: vec![
                Choice {
                    text: Some("4111111111111111".into()),
                    ..Choice::default()
                },
                Choice::default(),
            ],
            ..ChatResponse::default()
        };
        let verdicts = redact_cards().check_answer(&mut answer, "m").await;
        assert!(!denied(&verdicts));
        assert_eq!(
            answer.choices[0].text.as_deref(),
            Some("[REDACTED_CREDIT_CARD]")
        );
        assert_eq!(answer.choices[1].text, None);
    }

    #[actix_web::test]
    async fn denials_answer_446_in_each_surface_shape() {
        let verdicts = vec![Verdict {
            guardrail: Some("g".into()),
            check: "c".into(),
            kind: "words".into(),
            on: Stage::Input,
            passed: false,
            action: Action::Deny,
            details: "1 × listed word or phrase".into(),
        }];
        let openai = denial(Surface::OpenAi, &verdicts);
        assert_eq!(openai.status().as_u16(), 446);
        let body = actix_web::body::to_bytes(openai.into_body()).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "guardrail_denied");
        assert_eq!(body["error"]["verdicts"][0]["check"], "c");
        let anthropic = denial(Surface::Anthropic, &verdicts);
        let body = actix_web::body::to_bytes(anthropic.into_body())
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (&body["type"], &body["error"]["type"]),
            (&json!("error"), &json!("guardrail_error"))
        );
    }
}

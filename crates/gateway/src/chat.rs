//! Generation surfaces: `POST /v1/chat/completions`, `/v1/completions` and `/v1/responses`
//! (OpenAI) and `POST /v1/messages` (Anthropic). Each reaches any provider: the body is parsed
//! into the canonical request, sent in the upstream's own format, and the answer (or each
//! stream event) is translated back into the caller's format.

use crate::GatewayState;
use crate::error::{GatewayError, Surface};
use crate::guardrails;
use crate::prices::OrgPrices;
use crate::record::Recorder;
use crate::routing::exec::{Answer, AttemptError, Exec, Failed, IDLE_TIMEOUT, Served};
use crate::targets::Target;
use crate::upstream::{IdleTimeoutBody, UpstreamError};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use keyway_analytics::RequestEvent;
use keyway_domain::guardrails::{Action, Stage, Verdict};
use keyway_domain::routing::Plan;
use keyway_providers::canonical::Usage;
use keyway_providers::{
    ChatRequest, ChatResponse, Format, StreamEvent, StreamReader, StreamWriter,
};
use std::time::Instant;

/// Largest non-streamed upstream body read.
const MAX_UPSTREAM_BODY: usize = 32 * 1024 * 1024;

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    req: HttpRequest,
    body: crate::body::Body,
    state: web::Data<GatewayState>,
) -> HttpResponse {
    serve(Api::Chat, &req, &body, &state, None).await
}

/// `POST /v1/messages`.
pub async fn messages(
    req: HttpRequest,
    body: crate::body::Body,
    state: web::Data<GatewayState>,
) -> HttpResponse {
    serve(Api::Messages, &req, &body, &state, None).await
}

/// `POST /v1/completions` (legacy OpenAI Completions).
pub async fn completions(
    req: HttpRequest,
    body: crate::body::Body,
    state: web::Data<GatewayState>,
) -> HttpResponse {
    serve(Api::Completions, &req, &body, &state, None).await
}

/// `POST /v1/responses` (OpenAI Responses).
pub async fn responses(
    req: HttpRequest,
    body: crate::body::Body,
    state: web::Data<GatewayState>,
) -> HttpResponse {
    serve(Api::Responses, &req, &body, &state, None).await
}

impl Surface {
    pub(crate) fn format(self) -> Format {
        match self {
            Surface::OpenAi => Format::OpenAi,
            Surface::Anthropic => Format::Anthropic,
        }
    }
}

/// The generation endpoint a request came in on: decides how the body is read, how the answer
/// is written and the error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI Chat Completions.
    Chat,
    /// Anthropic Messages.
    Messages,
    /// OpenAI legacy Completions.
    Completions,
    /// OpenAI Responses.
    Responses,
}

impl Api {
    /// The error shape of this endpoint.
    pub fn surface(self) -> Surface {
        match self {
            Api::Messages => Surface::Anthropic,
            Api::Chat | Api::Completions | Api::Responses => Surface::OpenAi,
        }
    }

    /// The `surface` recorded in request events.
    pub fn name(self) -> &'static str {
        match self {
            Api::Chat => "openai.chat",
            Api::Messages => "anthropic.messages",
            Api::Completions => "openai.completions",
            Api::Responses => "openai.responses",
        }
    }

    /// The body field that holds the conversation.
    pub fn messages_param(self) -> &'static str {
        match self {
            Api::Chat | Api::Messages => "messages",
            Api::Completions => "prompt",
            Api::Responses => "input",
        }
    }

    /// The body field that limits output tokens.
    pub fn max_tokens_param(self) -> &'static str {
        match self {
            Api::Responses => "max_output_tokens",
            _ => "max_tokens",
        }
    }

    fn parse(self, body: &[u8], request_id: &str) -> Result<Parsed, GatewayError> {
        let one = |r: Result<ChatRequest, keyway_providers::TranslateError>| {
            r.map(|request| Parsed {
                requests: vec![request],
                echo: None,
            })
            .map_err(|e| GatewayError::translate(&e))
        };
        match self {
            Api::Chat => one(keyway_providers::openai::parse_request(body)),
            Api::Messages => one(keyway_providers::anthropic::parse_request(body)),
            Api::Completions => Ok(Parsed {
                requests: crate::completions::parse_request(body)?,
                echo: None,
            }),
            Api::Responses => {
                let (request, echo) = crate::responses::parse_request(body, request_id)?;
                Ok(Parsed {
                    requests: vec![request],
                    echo: Some(echo),
                })
            }
        }
    }

    /// Parses a body again (after a routing config's `override_params` changed it).
    pub(crate) fn reparse(self, body: &[u8]) -> Result<Vec<ChatRequest>, GatewayError> {
        self.parse(body, "").map(|parsed| parsed.requests)
    }

    fn build_response(
        self,
        answer: &ChatResponse,
        echo: Option<&crate::responses::Echo>,
    ) -> Result<Bytes, GatewayError> {
        match self {
            Api::Chat => keyway_providers::openai::build_response(answer)
                .map_err(|e| GatewayError::translate(&e)),
            Api::Messages => keyway_providers::anthropic::build_response(answer)
                .map_err(|e| GatewayError::translate(&e)),
            Api::Completions => crate::completions::build_response(answer),
            Api::Responses => {
                crate::responses::build_response(answer, &echo.cloned().unwrap_or_default())
            }
        }
    }

    fn writer(self, include_usage: bool, echo: Option<crate::responses::Echo>) -> ClientWriter {
        match self {
            Api::Chat => ClientWriter::Provider(StreamWriter::new(Format::OpenAi, include_usage)),
            Api::Messages => {
                ClientWriter::Provider(StreamWriter::new(Format::Anthropic, include_usage))
            }
            Api::Completions => ClientWriter::Completions(
                crate::completions::CompletionsStreamWriter::new(include_usage),
            ),
            Api::Responses => ClientWriter::Responses(Box::new(
                crate::responses::ResponsesStreamWriter::new(echo.unwrap_or_default()),
            )),
        }
    }
}

/// A parsed body: one canonical request (several for a multi-prompt Completions call) and, for
/// Responses, what the answer echoes back.
struct Parsed {
    requests: Vec<ChatRequest>,
    echo: Option<crate::responses::Echo>,
}

/// Writes canonical stream events in the client's format.
enum ClientWriter {
    Provider(StreamWriter),
    Completions(crate::completions::CompletionsStreamWriter),
    Responses(Box<crate::responses::ResponsesStreamWriter>),
}

impl ClientWriter {
    fn write(&mut self, event: &StreamEvent) -> Result<Bytes, keyway_providers::TranslateError> {
        match self {
            ClientWriter::Provider(w) => w.write(event),
            ClientWriter::Completions(w) => Ok(w.write(event)),
            ClientWriter::Responses(w) => Ok(w.write(event)),
        }
    }
}

/// Serves one generation request end to end (pipeline steps 2-11). `prompt` is the stored
/// prompt version `body` was rendered from: recorded on the request event, its guardrails
/// applied.
pub(crate) async fn serve(
    api: Api,
    req: &HttpRequest,
    body: &[u8],
    state: &GatewayState,
    prompt: Option<&crate::prompts::Resolved>,
) -> HttpResponse {
    let surface = api.surface();
    let started = Instant::now();
    let request_id = uuid::Uuid::now_v7().to_string();
    let reply = |err: GatewayError| {
        let mut resp = err.response(surface);
        set_header(&mut resp, "x-keyway-request-id", &request_id);
        resp
    };
    let policy = match state.auth.authenticate(req).await {
        Ok(policy) => policy,
        Err(e) => return reply(e),
    };
    // Recorded from here on: every authenticated request leaves an event, bad input included.
    // (Built in a block: a moved-from local would keep its place in this future across awaits.)
    let mut recorder = {
        let mut event = RequestEvent::new(&request_id, &policy.org_id.to_string(), api.name(), "");
        event.key_id = Some(policy.key_id.to_string());
        event.team_id = policy.team_id.map(|t| t.to_string());
        if let Some(resolved) = prompt {
            event.prompt_id = Some(resolved.prompt.id.to_string());
            event.prompt_version = Some(resolved.prompt.version);
        }
        Recorder::new(state.events.clone(), event, started)
    };
    if policy.log_bodies {
        recorder.log_bodies(body);
    }
    let fail = |recorder: Recorder, err: GatewayError| {
        recorder.finish(err.status().as_u16(), Some(err.code()));
        reply(err)
    };
    let Parsed { mut requests, echo } = match state
        .limits
        .check_body(body)
        .and_then(|()| api.parse(body, &request_id))
    {
        Ok(parsed) => parsed,
        Err(e) => return fail(recorder, e),
    };
    if let Err(e) = requests
        .iter()
        .try_for_each(|r| state.limits.check_request(api, r))
    {
        return fail(recorder, e);
    }
    let Some(first) = requests.first() else {
        let err = GatewayError::bad_request(
            format!("`{}` must not be empty.", api.messages_param()),
            Some(api.messages_param()),
        );
        return fail(recorder, err);
    };
    let event = recorder.event();
    event.requested_model.clone_from(&first.model);
    event.end_user_id.clone_from(&first.user);
    event.stream = first.stream;
    event.set_metadata(first.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let (model, stream_usage) = (first.model.clone(), first.stream_usage);

    // The routing config (step 8's selection) is read first: it may name guardrails.
    let selected = match state.routing.select(req, &policy).await {
        Ok(selected) => selected,
        Err(e) => return fail(recorder, e),
    };
    // Step 5: input guardrails (deny, flag, redact in place).
    let config = selected.as_ref().map(|s| &*s.config);
    let named = prompt.map_or(&[][..], |p| &p.template.guardrails);
    let guards = match state.guardrails.for_request(&policy, config, named).await {
        Ok(guards) => guards,
        Err(e) => return fail(recorder, e),
    };
    let mut verdicts = guards.check_input(&mut requests).await;
    guardrails::record(&mut recorder, &verdicts);
    if guardrails::denied(&verdicts) {
        return deny(recorder, surface, &verdicts, &request_id);
    }
    if verdicts
        .iter()
        .any(|v| !v.passed && v.action == Action::Redact)
    {
        // The logged body would hold what was redacted: keep a note instead.
        if let Some(body) = &mut recorder.event().request_body {
            "[not kept: redacted by a guardrail]".clone_into(body);
        }
    }

    // Step 8 (selection, read above): a config from the header or the key, or the model's own
    // target.
    let plan = match &selected {
        Some(selected) => {
            recorder.event().config_id = selected.id.map(|id| id.to_string());
            let ctx = match crate::routing::request_context(req, body) {
                Ok(ctx) => ctx,
                Err(e) => return fail(recorder, e),
            };
            state
                .routing
                .plan(&selected.config, &ctx, policy.org_id, &model)
        }
        None if !policy.allows_model(&model) => {
            let err = GatewayError::forbidden(
                "model_not_allowed",
                format!("This key may not use model `{model}`."),
            );
            return fail(recorder, err);
        }
        None => Plan::direct(),
    };
    let prices = state.prices.for_org(policy.org_id).await;
    let exec = Exec::new(
        state,
        &policy,
        (api, body),
        &requests,
        &prices,
        selected.is_some(),
    );
    // Step 6: rate limits and budget reservation (once per client request, whatever the
    // retries and fallbacks), settled when the recorder finishes.
    let estimate = match exec.first_target(&plan).await {
        Ok(target) => crate::governance::Estimate::chat(&target, &prices, &requests, body.len()),
        Err(e) => return fail(recorder, e),
    };
    let rate_headers = match state
        .governance
        .gate(req, &policy, estimate, &mut recorder)
        .await
    {
        Ok(headers) => headers,
        Err(denied) => {
            recorder.finish(denied.status(), Some(denied.code()));
            return denied.response(surface, &request_id);
        }
    };

    // Steps 8-9: run the plan; nothing reached the client until an attempt succeeded.
    recorder.upstream_sent();
    let served = match exec.run(&plan).await {
        Ok(served) => served,
        Err(failed) => return answer_failure(failed, surface, recorder, &request_id),
    };
    let Served {
        target,
        answer,
        retries,
        fallback_index,
    } = served;
    note_route(&mut recorder, &target, retries, fallback_index);

    let mut builder = HttpResponse::Ok();
    headers(&mut builder, &request_id, &target);
    route_headers(&mut builder, retries, fallback_index);
    crate::governance::apply_headers(&mut builder, &rate_headers);
    let bodies = match answer {
        // A stream was asked for (the executor reads the first chunk only then).
        Answer::Stream { first, body } => {
            let writer = api.writer(stream_usage, echo);
            let relay = Relay::new(first, body, writer, target, prices, recorder, request_id);
            if !guards.has(Stage::Output) {
                guard_header(&mut builder, &verdicts);
                return builder
                    .content_type("text/event-stream")
                    .insert_header(("cache-control", "no-cache"))
                    .streaming(relay_stream(relay));
            }
            // Boxed: output guardrails on a stream are the rare case, and their state is large.
            return Box::pin(relay.answer_checked(&guards, verdicts, &model, surface, builder))
                .await;
        }
        Answer::Whole(bodies) => bodies,
    };
    let mut parsed = Vec::with_capacity(bodies.len());
    for body in bodies {
        match target.format().parse_response(&body) {
            Ok(answer) => parsed.push(answer),
            Err(e) => return fail(recorder, GatewayError::translate(&e)),
        }
    }
    let mut answer = crate::completions::merge(parsed);
    // Some formats (Bedrock, Cohere) do not name the model, Bedrock not even an id.
    fill_identity(&mut answer.id, &mut answer.model, &request_id, &target);
    let usage = answer.usage.unwrap_or_default();
    recorder.usage(&usage);
    let cost = prices.cost(&target, &usage);
    recorder.event().cost_nano_usd = cost.nanos();
    // Step 9: output guardrails on the whole answer.
    let checked = guards.check_answer(&mut answer, &model).await;
    guardrails::record(&mut recorder, &checked);
    if guardrails::denied(&checked) {
        return deny(recorder, surface, &checked, &request_id);
    }
    verdicts.extend(checked);
    guard_header(&mut builder, &verdicts);
    match api.build_response(&answer, echo.as_ref()) {
        Ok(body) => {
            recorder.response_bytes(&body);
            recorder.finish(200, None);
            cost_header(&mut builder, cost);
            builder.content_type("application/json").body(body)
        }
        Err(e) => fail(recorder, e),
    }
}

/// Ends a request a guardrail denied: 446 with the verdicts, recorded.
fn deny(
    recorder: Recorder,
    surface: Surface,
    verdicts: &[Verdict],
    request_id: &str,
) -> HttpResponse {
    recorder.finish(guardrails::DENIED_STATUS, Some("guardrail_denied"));
    let mut resp = guardrails::denial(surface, verdicts);
    set_header(&mut resp, "x-keyway-request-id", request_id);
    resp
}

/// `x-keyway-guardrails` listing the checks that failed, if any.
fn guard_header(builder: &mut HttpResponseBuilder, verdicts: &[Verdict]) {
    if let Some(summary) = guardrails::summary(verdicts) {
        builder.insert_header((guardrails::HEADER, summary));
    }
}

/// Records which target served (or failed last) and how many retries and fallbacks it took.
fn note_route(recorder: &mut Recorder, target: &Target, retries: u32, fallback_index: usize) {
    let event = recorder.event();
    event.provider = Some(target.kind().as_str().to_owned());
    event.served_model = Some(target.model.clone());
    event.retries = u16::try_from(retries).unwrap_or(u16::MAX);
    event.fallback_index = u16::try_from(fallback_index).unwrap_or(u16::MAX);
}

/// `x-keyway-retries` and `x-keyway-fallback-index` of an answer.
pub(crate) fn route_headers(
    builder: &mut HttpResponseBuilder,
    retries: u32,
    fallback_index: usize,
) {
    const RETRIES: HeaderName = HeaderName::from_static("x-keyway-retries");
    const FALLBACK_INDEX: HeaderName = HeaderName::from_static("x-keyway-fallback-index");
    builder
        .insert_header((RETRIES, HeaderValue::from(retries)))
        .insert_header((FALLBACK_INDEX, HeaderValue::from(fallback_index)));
}

/// The answer when every attempt failed: the last upstream error in the caller's shape (with
/// the provider's `retry-after`), or the gateway's own error.
fn answer_failure(
    failed: Failed,
    surface: Surface,
    mut recorder: Recorder,
    request_id: &str,
) -> HttpResponse {
    let Failed {
        error,
        retries,
        fallback_index,
    } = failed;
    let mut resp = match error {
        AttemptError::Upstream {
            target,
            status,
            body,
            retry_after,
            ..
        } => {
            note_route(&mut recorder, &target, retries, fallback_index);
            let api_error = target.format().parse_error(status, &body);
            recorder.response_bytes(&body);
            recorder.finish(status, Some("upstream_error"));
            let mut resp = HttpResponse::build(status_code(api_error.kind.status()))
                .content_type("application/json")
                .body(surface.format().error_body(&api_error));
            set_header(&mut resp, "x-keyway-provider", target.slug());
            set_header(&mut resp, "x-keyway-model", &target.model);
            // Kept so SDK backoff honours the provider's own hint.
            if let Some(value) = retry_after {
                set_header(&mut resp, "retry-after", &value);
            }
            resp
        }
        AttemptError::Gateway { error, .. } => {
            let event = recorder.event();
            event.retries = u16::try_from(retries).unwrap_or(u16::MAX);
            event.fallback_index = u16::try_from(fallback_index).unwrap_or(u16::MAX);
            recorder.finish(error.status().as_u16(), Some(error.code()));
            error.response(surface)
        }
    };
    set_header(&mut resp, "x-keyway-request-id", request_id);
    set_header(&mut resp, "x-keyway-retries", &retries.to_string());
    set_header(
        &mut resp,
        "x-keyway-fallback-index",
        &fallback_index.to_string(),
    );
    resp
}

/// The 403 for a key limited to other providers.
pub(crate) fn provider_not_allowed(target: &Target) -> GatewayError {
    GatewayError::forbidden(
        "provider_not_allowed",
        format!("This key may not use provider `{}`.", target.slug()),
    )
}

pub(crate) fn upstream_failure(e: &UpstreamError) -> GatewayError {
    match e {
        UpstreamError::HeaderTimeout(_) | UpstreamError::IdleTimeout(_) => GatewayError::upstream(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            e.to_string(),
        ),
        UpstreamError::Forbidden { .. }
        | UpstreamError::UnsupportedScheme(_)
        | UpstreamError::UserInfo
        | UpstreamError::MissingHost => {
            GatewayError::upstream(StatusCode::BAD_REQUEST, "upstream_refused", e.to_string())
        }
        UpstreamError::Http(_) | UpstreamError::Build(_) => {
            tracing::warn!(error = %e, "upstream call failed");
            GatewayError::upstream(
                StatusCode::BAD_GATEWAY,
                "upstream_unreachable",
                "The provider could not be reached.",
            )
        }
    }
}

/// Reads a whole upstream body, bounded in size and in silence.
pub(crate) async fn read_body(response: reqwest::Response) -> Result<Bytes, GatewayError> {
    let mut body = IdleTimeoutBody::new(response, IDLE_TIMEOUT);
    let mut out = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| upstream_failure(&e))?;
        if out.len() + chunk.len() > MAX_UPSTREAM_BODY {
            return Err(GatewayError::upstream(
                StatusCode::BAD_GATEWAY,
                "upstream_too_large",
                "The provider's response is too large.",
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// Gives an answer without an upstream id or model (Bedrock, Cohere) the gateway's request id
/// and the model it asked for.
fn fill_identity(id: &mut String, model: &mut String, request_id: &str, target: &Target) {
    if id.is_empty() {
        *id = format!("kw-{request_id}");
    }
    if model.is_empty() {
        model.clone_from(&target.model);
    }
}

pub(crate) fn headers(builder: &mut HttpResponseBuilder, request_id: &str, target: &Target) {
    // Names built at compile time: a `&str` name is parsed and copied on every insert.
    const REQUEST_ID: HeaderName = HeaderName::from_static("x-keyway-request-id");
    const PROVIDER: HeaderName = HeaderName::from_static("x-keyway-provider");
    const MODEL: HeaderName = HeaderName::from_static("x-keyway-model");
    const CACHE: HeaderName = HeaderName::from_static("x-keyway-cache");
    builder
        .insert_header((REQUEST_ID, request_id))
        .insert_header((PROVIDER, target.slug()))
        .insert_header((MODEL, target.model.as_str()))
        .insert_header((CACHE, HeaderValue::from_static("bypass")));
}

/// `x-keyway-cost-usd` of an answer.
pub(crate) fn cost_header(builder: &mut HttpResponseBuilder, cost: impl std::fmt::Display) {
    const COST: HeaderName = HeaderName::from_static("x-keyway-cost-usd");
    builder.insert_header((COST, cost.to_string()));
}

pub(crate) fn set_header(resp: &mut HttpResponse, name: &'static str, value: &str) {
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(value) {
        resp.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static(name),
            value,
        );
    }
}

pub(crate) fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY)
}

/// State of one relayed stream. Dropping it (the client went away) drops the upstream body,
/// which closes the upstream connection, and the recorder, which records a cancel.
struct Relay {
    first: Option<Bytes>,
    body: IdleTimeoutBody,
    reader: StreamReader,
    writer: ClientWriter,
    recorder: Option<Recorder>,
    target: Target,
    prices: OrgPrices,
    usage: Usage,
    outcome: Option<Outcome>,
    request_id: String,
}

enum Outcome {
    Complete,
    Failed(&'static str),
}

/// Passes the upstream stream through event by event, translated to the client's format,
/// starting with its `first` chunk (read while the attempt could still fall back). A cut or
/// stalled upstream ends with an explicit error event, never a fake stop.
fn relay_stream(relay: Relay) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    futures_util::stream::unfold(relay, |mut relay| async move {
        loop {
            if relay.outcome.is_some() {
                relay.settle();
                return None;
            }
            let next = match relay.first.take() {
                Some(chunk) => Some(Ok(chunk)),
                None => relay.body.next().await,
            };
            let events = match next {
                Some(Ok(chunk)) => match relay.reader.push(&chunk) {
                    Ok(events) => events,
                    Err(e) => vec![StreamEvent::Error(e.to_api_error())],
                },
                Some(Err(e)) => {
                    let detail = e.to_string();
                    vec![StreamEvent::Error(
                        keyway_providers::ApiError::stream_interrupted(&detail),
                    )]
                }
                None => relay.reader.finish(),
            };
            let out = relay.write(&events);
            if let Some(r) = &mut relay.recorder {
                r.response_bytes(&out);
            }
            if !out.is_empty() {
                return Some((Ok(out), relay));
            }
        }
    })
}

impl Relay {
    /// A relay of the upstream stream `body` whose `first` chunk was already read.
    fn new(
        first: Bytes,
        body: IdleTimeoutBody,
        writer: ClientWriter,
        target: Target,
        prices: OrgPrices,
        recorder: Recorder,
        request_id: String,
    ) -> Self {
        Relay {
            request_id,
            first: Some(first).filter(|f| !f.is_empty()),
            body,
            reader: StreamReader::new(target.format()),
            writer,
            recorder: Some(recorder),
            target,
            prices,
            usage: Usage::default(),
            outcome: None,
        }
    }

    /// Reads the whole upstream stream (bounded like a whole body) into canonical events; a
    /// cut, stalled or oversized stream ends with an error event.
    async fn read_all(&mut self) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        let mut size = 0;
        loop {
            let next = match self.first.take() {
                Some(chunk) => Some(Ok(chunk)),
                None => self.body.next().await,
            };
            let error = match next {
                Some(Ok(chunk)) => {
                    size += chunk.len();
                    if size > MAX_UPSTREAM_BODY {
                        keyway_providers::ApiError::stream_interrupted(
                            "the provider's stream is too large",
                        )
                    } else {
                        match self.reader.push(&chunk) {
                            Ok(more) => {
                                events.extend(more);
                                continue;
                            }
                            Err(e) => e.to_api_error(),
                        }
                    }
                }
                Some(Err(e)) => keyway_providers::ApiError::stream_interrupted(&e.to_string()),
                None => {
                    events.extend(self.reader.finish());
                    return events;
                }
            };
            events.push(StreamEvent::Error(error));
            return events;
        }
    }

    /// Answers a stream whose output guardrails need the whole text: reads it all, runs the
    /// checks, then sends the (possibly redacted) events at once, or the 446.
    async fn answer_checked(
        mut self,
        guards: &guardrails::Active,
        mut verdicts: Vec<Verdict>,
        model: &str,
        surface: Surface,
        mut builder: HttpResponseBuilder,
    ) -> HttpResponse {
        let mut events = self.read_all().await;
        let checked = guards.check_stream(&mut events, model).await;
        if let Some(recorder) = &mut self.recorder {
            guardrails::record(recorder, &checked);
        }
        if guardrails::denied(&checked) {
            for event in &events {
                if let StreamEvent::Usage(usage) = event {
                    self.usage = *usage;
                }
            }
            let Some(mut recorder) = self.recorder.take() else {
                return GatewayError::internal().response(surface);
            };
            recorder.usage(&self.usage);
            recorder.event().cost_nano_usd = self.prices.cost(&self.target, &self.usage).nanos();
            return deny(recorder, surface, &checked, &self.request_id);
        }
        verdicts.extend(checked);
        let out = self.write(&events);
        if let Some(recorder) = &mut self.recorder {
            recorder.response_bytes(&out);
        }
        self.settle();
        guard_header(&mut builder, &verdicts);
        builder
            .content_type("text/event-stream")
            .insert_header(("cache-control", "no-cache"))
            .body(out)
    }

    fn write(&mut self, events: &[StreamEvent]) -> Bytes {
        let mut out = BytesMut::new();
        for event in events {
            let filled;
            let event = match event {
                StreamEvent::MessageStart { id, model, created } => {
                    let (mut id, mut model) = (id.clone(), model.clone());
                    fill_identity(&mut id, &mut model, &self.request_id, &self.target);
                    filled = StreamEvent::MessageStart {
                        id,
                        model,
                        created: *created,
                    };
                    &filled
                }
                other => other,
            };
            match event {
                StreamEvent::TextDelta { .. } | StreamEvent::ToolCallStart { .. } => {
                    if let Some(r) = &mut self.recorder {
                        r.first_token();
                    }
                }
                StreamEvent::Usage(usage) => self.usage = *usage,
                StreamEvent::Error(_) => self.outcome = Some(Outcome::Failed("stream_incomplete")),
                StreamEvent::Done => {
                    self.outcome.get_or_insert(Outcome::Complete);
                }
                _ => {}
            }
            match self.writer.write(event) {
                Ok(bytes) => out.extend_from_slice(&bytes),
                Err(e) => {
                    let error = StreamEvent::Error(e.to_api_error());
                    out.extend_from_slice(&self.writer.write(&error).unwrap_or_default());
                    self.outcome = Some(Outcome::Failed("stream_translation"));
                    break;
                }
            }
            if matches!(self.outcome, Some(Outcome::Failed(_))) {
                break;
            }
        }
        out.freeze()
    }

    /// Records the finished stream with its (possibly partial) usage and cost.
    fn settle(&mut self) {
        let Some(mut recorder) = self.recorder.take() else {
            return;
        };
        recorder.usage(&self.usage);
        recorder.event().cost_nano_usd = self.prices.cost(&self.target, &self.usage).nanos();
        match self.outcome {
            Some(Outcome::Failed(class)) => recorder.finish(502, Some(class)),
            _ => recorder.finish(200, None),
        }
    }
}

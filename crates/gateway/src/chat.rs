//! Chat surfaces: `POST /v1/chat/completions` (OpenAI) and `POST /v1/messages` (Anthropic).
//! Either surface reaches any provider: the body is parsed into the canonical request, sent in
//! the upstream's own format, and the answer (or each stream event) is translated back.

use crate::GatewayState;
use crate::error::{GatewayError, Surface};
use crate::record::Recorder;
use crate::targets::Target;
use crate::upstream::{IdleTimeoutBody, UpstreamError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use keyway_analytics::RequestEvent;
use keyway_domain::Usd;
use keyway_providers::canonical::Usage;
use keyway_providers::{ChatRequest, Format, StreamEvent, StreamReader, StreamWriter};
use std::time::{Duration, Instant};

/// Longest wait for upstream response headers (a non-streamed answer arrives whole).
const HEADER_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest silence inside an upstream body before the call counts as stalled.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest non-streamed upstream body read.
const MAX_UPSTREAM_BODY: usize = 32 * 1024 * 1024;

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<GatewayState>,
) -> HttpResponse {
    chat(Surface::OpenAi, &req, &body, &state).await
}

/// `POST /v1/messages`.
pub async fn messages(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<GatewayState>,
) -> HttpResponse {
    chat(Surface::Anthropic, &req, &body, &state).await
}

impl Surface {
    fn format(self) -> Format {
        match self {
            Surface::OpenAi => Format::OpenAi,
            Surface::Anthropic => Format::Anthropic,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Surface::OpenAi => "openai.chat",
            Surface::Anthropic => "anthropic.messages",
        }
    }
}

async fn chat(
    surface: Surface,
    req: &HttpRequest,
    body: &[u8],
    state: &GatewayState,
) -> HttpResponse {
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
    let mut event = RequestEvent::new(&request_id, &policy.org_id.to_string(), surface.name(), "");
    event.key_id = Some(policy.key_id.to_string());
    event.team_id = policy.team_id.map(|t| t.to_string());
    let mut recorder = Recorder::new(state.events.clone(), event, started);
    let parsed = match surface {
        Surface::OpenAi => keyway_providers::openai::parse_request(body),
        Surface::Anthropic => keyway_providers::anthropic::parse_request(body),
    };
    let mut request = match parsed {
        Ok(request) => request,
        Err(e) => {
            let err = GatewayError::translate(&e);
            recorder.finish(err.status().as_u16(), Some(err.code()));
            return reply(err);
        }
    };
    if request.messages.is_empty() {
        let err = GatewayError::bad_request(
            "`messages` must contain at least one message.",
            Some("messages"),
        );
        recorder.finish(err.status().as_u16(), Some(err.code()));
        return reply(err);
    }
    let event = recorder.event();
    event.requested_model.clone_from(&request.model);
    event.end_user_id.clone_from(&request.user);
    event.stream = request.stream;
    event.set_metadata(
        request
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );

    let fail = |recorder: Recorder, err: GatewayError| {
        recorder.finish(err.status().as_u16(), Some(err.code()));
        reply(err)
    };
    if !policy.allows_model(&request.model) {
        let err = GatewayError::forbidden(
            "model_not_allowed",
            format!("This key may not use model `{}`.", request.model),
        );
        return fail(recorder, err);
    }
    let target = match state.targets.resolve(policy.org_id, &request.model).await {
        Ok(target) => target,
        Err(e) => return fail(recorder, e),
    };
    if !policy.allows_provider(&target.slug) {
        return fail(recorder, provider_not_allowed(&target));
    }
    recorder.event().provider = Some(target.kind.as_str().to_owned());
    recorder.event().served_model = Some(target.model.clone());
    request.model.clone_from(&target.model);
    // Step 6: rate limits and budget reservation, settled when the recorder finishes.
    let estimate = crate::governance::Estimate::chat(&target, &request, body.len());
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

    let response = match send(state, &target, &request, &mut recorder).await {
        Ok(response) => response,
        Err(e) => return fail(recorder, e),
    };
    let status = response.status();
    if !status.is_success() {
        // Kept so SDK backoff honours the provider's own hint.
        let retry_after = response.headers().get("retry-after").cloned();
        let body = read_body(response).await.unwrap_or_default();
        let api_error = target.format.parse_error(status.as_u16(), &body);
        recorder.finish(status.as_u16(), Some("upstream_error"));
        let mut resp = HttpResponse::build(status_code(api_error.kind.status()))
            .content_type("application/json")
            .body(surface.format().error_body(&api_error));
        set_header(&mut resp, "x-keyway-request-id", &request_id);
        if let Some(value) = retry_after.and_then(|v| v.to_str().ok().map(str::to_owned)) {
            set_header(&mut resp, "retry-after", &value);
        }
        return resp;
    }

    let mut builder = HttpResponse::Ok();
    headers(&mut builder, &request_id, &target);
    crate::governance::apply_headers(&mut builder, &rate_headers);
    if request.stream {
        let stream = relay_stream(response, surface, target, request.stream_usage, recorder);
        return builder
            .content_type("text/event-stream")
            .insert_header(("cache-control", "no-cache"))
            .streaming(stream);
    }
    let answer = match read_body(response).await {
        Ok(body) => target
            .format
            .parse_response(&body)
            .map_err(|e| GatewayError::translate(&e)),
        Err(e) => Err(e),
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => return fail(recorder, e),
    };
    let usage = answer.usage.unwrap_or_default();
    recorder.usage(&usage);
    let cost = cost(&target, &usage);
    recorder.event().cost_nano_usd = cost.nanos();
    match surface.format().build_response(&answer) {
        Ok(body) => {
            recorder.finish(200, None);
            builder
                .insert_header(("x-keyway-cost-usd", cost.to_string()))
                .content_type("application/json")
                .body(body)
        }
        Err(e) => fail(recorder, GatewayError::translate(&e)),
    }
}

/// Sends `request` to `target` in its own format.
async fn send(
    state: &GatewayState,
    target: &Target,
    request: &ChatRequest,
    recorder: &mut Recorder,
) -> Result<reqwest::Response, GatewayError> {
    let body = match target.format {
        Format::OpenAi => keyway_providers::openai::build_request(request, target.dialect),
        Format::Anthropic => keyway_providers::anthropic::build_request(request),
        Format::Gemini => keyway_providers::gemini::build_request(request),
    }
    .map_err(|e| GatewayError::translate(&e))?;
    let url = target.chat_url(request.stream)?;
    let builder = target
        .authorize(state.upstream.request(reqwest::Method::POST, url))
        .header("content-type", "application/json")
        .body(body);
    recorder.upstream_sent();
    state
        .upstream
        .send(builder, HEADER_TIMEOUT)
        .await
        .map_err(|e| upstream_failure(&e))
}

/// The 403 for a key limited to other providers.
pub(crate) fn provider_not_allowed(target: &Target) -> GatewayError {
    GatewayError::forbidden(
        "provider_not_allowed",
        format!("This key may not use provider `{}`.", target.slug),
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

/// Price of `usage` on `target`; unknown models cost zero (and are visible as such).
pub(crate) fn cost(target: &Target, usage: &Usage) -> Usd {
    keyway_providers::PriceCatalog::builtin()
        .cost(target.kind.as_str(), &target.model, usage)
        .unwrap_or(Usd::ZERO)
}

pub(crate) fn headers(builder: &mut HttpResponseBuilder, request_id: &str, target: &Target) {
    builder
        .insert_header(("x-keyway-request-id", request_id))
        .insert_header(("x-keyway-provider", target.slug.as_str()))
        .insert_header(("x-keyway-model", target.model.as_str()))
        .insert_header(("x-keyway-cache", "bypass"))
        .insert_header(("x-keyway-retries", "0"))
        .insert_header(("x-keyway-fallback-index", "0"));
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
    body: IdleTimeoutBody,
    reader: StreamReader,
    writer: StreamWriter,
    recorder: Option<Recorder>,
    target: Target,
    usage: Usage,
    outcome: Option<Outcome>,
}

enum Outcome {
    Complete,
    Failed(&'static str),
}

/// Passes the upstream stream through event by event, translated to the client's format. A cut
/// or stalled upstream ends with an explicit error event, never a fake stop.
fn relay_stream(
    response: reqwest::Response,
    surface: Surface,
    target: Target,
    include_usage: bool,
    recorder: Recorder,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    let relay = Relay {
        body: IdleTimeoutBody::new(response, IDLE_TIMEOUT),
        reader: StreamReader::new(target.format),
        writer: StreamWriter::new(surface.format(), include_usage),
        recorder: Some(recorder),
        target,
        usage: Usage::default(),
        outcome: None,
    };
    futures_util::stream::unfold(relay, |mut relay| async move {
        loop {
            if relay.outcome.is_some() {
                relay.settle();
                return None;
            }
            let events = match relay.body.next().await {
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
            if !out.is_empty() {
                return Some((Ok(out), relay));
            }
        }
    })
}

impl Relay {
    fn write(&mut self, events: &[StreamEvent]) -> Bytes {
        let mut out = BytesMut::new();
        for event in events {
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
        recorder.event().cost_nano_usd = cost(&self.target, &self.usage).nanos();
        match self.outcome {
            Some(Outcome::Failed(class)) => recorder.finish(502, Some(class)),
            _ => recorder.finish(200, None),
        }
    }
}

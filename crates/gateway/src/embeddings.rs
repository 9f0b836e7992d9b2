//! `POST /v1/embeddings` (OpenAI shape) to OpenAI-format providers.
//!
//! The body is checked against the fields of OpenAI's embeddings API and nothing else, so a
//! caller cannot smuggle upstream URLs, keys or headers through it; the model is rewritten to
//! the upstream's name and the answer passed back with usage recorded.

use crate::GatewayState;
use crate::chat::{
    cost_header, headers, provider_not_allowed, read_body, route_headers, set_header, status_code,
    upstream_failure,
};
use crate::error::{GatewayError, Surface};
use crate::record::Recorder;
use actix_web::{HttpRequest, HttpResponse, web};
use keyway_analytics::RequestEvent;
use keyway_providers::canonical::Usage;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

const HEADER_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct EmbeddingsRequest {
    model: String,
    input: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
}

#[derive(Deserialize)]
struct EmbeddingsUsage {
    #[serde(default)]
    prompt_tokens: u64,
}

#[derive(Deserialize)]
struct EmbeddingsAnswer {
    usage: Option<EmbeddingsUsage>,
}

/// `POST /v1/embeddings`.
pub async fn embeddings(
    req: HttpRequest,
    body: crate::body::Body,
    state: web::Data<GatewayState>,
) -> HttpResponse {
    let started = Instant::now();
    let request_id = uuid::Uuid::now_v7().to_string();
    let reply = |err: GatewayError| {
        let mut resp = err.response(Surface::OpenAi);
        set_header(&mut resp, "x-keyway-request-id", &request_id);
        resp
    };
    let policy = match state.auth.authenticate(&req).await {
        Ok(policy) => policy,
        Err(e) => return reply(e),
    };
    let event = RequestEvent::new(
        &request_id,
        &policy.org_id.to_string(),
        "openai.embeddings",
        "",
    );
    let mut recorder = Recorder::new(state.events.clone(), event, started);
    recorder.event().key_id = Some(policy.key_id.to_string());
    recorder.event().team_id = policy.team_id.map(|t| t.to_string());
    if policy.log_bodies {
        recorder.log_bodies(&body);
    }
    let mut request: EmbeddingsRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            let err = GatewayError::bad_request(format!("Invalid embeddings request: {e}"), None);
            recorder.finish(err.status().as_u16(), Some(err.code()));
            return reply(err);
        }
    };
    recorder.event().requested_model.clone_from(&request.model);
    recorder.event().end_user_id.clone_from(&request.user);
    let fail = |recorder: Recorder, err: GatewayError| {
        recorder.finish(err.status().as_u16(), Some(err.code()));
        reply(err)
    };
    if !policy.allows_model(&request.model) {
        let message = format!("This key may not use model `{}`.", request.model);
        return fail(
            recorder,
            GatewayError::forbidden("model_not_allowed", message),
        );
    }
    let target = match state.targets.resolve(policy.org_id, &request.model).await {
        Ok(target) => target,
        Err(e) => return fail(recorder, e),
    };
    if !policy.allows_provider(target.slug()) {
        return fail(recorder, provider_not_allowed(&target));
    }
    let url = match target.embeddings_url() {
        Ok(url) => url,
        Err(e) => return fail(recorder, e),
    };
    recorder.event().provider = Some(target.kind().as_str().to_owned());
    recorder.event().served_model = Some(target.model.clone());
    request.model.clone_from(&target.model);
    // Step 6: rate limits and budget reservation, settled when the recorder finishes.
    let prices = state.prices.for_org(policy.org_id).await;
    let estimate = crate::governance::Estimate::of(
        &target,
        &prices,
        crate::governance::prompt_tokens(body.len()),
        0,
    );
    let rate_headers = match state
        .governance
        .gate(&req, &policy, estimate, &mut recorder)
        .await
    {
        Ok(headers) => headers,
        Err(denied) => {
            recorder.finish(denied.status(), Some(denied.code()));
            return denied.response(Surface::OpenAi, &request_id);
        }
    };
    // Only OpenAI-format upstreams get here (see `embeddings_url`): none signs the body.
    let builder = target
        .authorize(
            state.upstream.request(reqwest::Method::POST, url.clone()),
            &url,
            &[],
        )
        .json(&request);
    recorder.upstream_sent();
    let response = match state.upstream.send(builder, HEADER_TIMEOUT).await {
        Ok(response) => response,
        Err(e) => return fail(recorder, upstream_failure(&e)),
    };
    let status = response.status();
    let body = match read_body(response).await {
        Ok(body) => body,
        Err(e) => return fail(recorder, e),
    };
    if !status.is_success() {
        let api_error = target.format().parse_error(status.as_u16(), &body);
        recorder.response_bytes(&body);
        recorder.finish(status.as_u16(), Some("upstream_error"));
        let mut resp = HttpResponse::build(status_code(api_error.kind.status()))
            .content_type("application/json")
            .body(keyway_providers::Format::OpenAi.error_body(&api_error));
        set_header(&mut resp, "x-keyway-request-id", &request_id);
        return resp;
    }
    let tokens = serde_json::from_slice::<EmbeddingsAnswer>(&body)
        .ok()
        .and_then(|a| a.usage)
        .map_or(0, |u| u.prompt_tokens);
    let usage = Usage {
        input_tokens: tokens,
        ..Usage::default()
    };
    recorder.usage(&usage);
    let cost = prices.cost(&target, &usage);
    recorder.event().cost_nano_usd = cost.nanos();
    recorder.response_bytes(&body);
    recorder.finish(200, None);
    let mut builder = HttpResponse::Ok();
    headers(&mut builder, &request_id, &target);
    route_headers(&mut builder, 0, 0);
    crate::governance::apply_headers(&mut builder, &rate_headers);
    cost_header(&mut builder, cost);
    builder.content_type("application/json").body(body)
}

//! AWS Bedrock's Converse API: `POST /model/{modelId}/converse` and
//! `POST /model/{modelId}/converse-stream` (AWS event-stream framing).
//!
//! Authentication mirrors Bedrock's front door: a request needs a well-formed SigV4
//! `Authorization` header (`AWS4-HMAC-SHA256 Credential=<key id>/<yyyymmdd>/<region>/bedrock/
//! aws4_request, SignedHeaders=...;host;...;x-amz-date..., Signature=<64 hex>`) and an
//! `x-amz-date` whose day matches the credential scope. The signature itself is not recomputed
//! (the mock does not know the secret); the key id `invalid` gets a 403
//! `UnrecognizedClientException`. The event-stream encoder here is written independently of the
//! gateway's decoder so each checks the other.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::behaviour::Behaviour;
use crate::openai::is_invalid_key;
use crate::reply::{Answer, Prompt, ToolDecl, next_id};
use crate::respond::{ApiError, Frames, Reply, execute, read_json};
use crate::server::AppState;
use crate::stats::Surface;
use crate::synth;

const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

/// Top-level fields Converse accepts; anything else is a `ValidationException`.
const FIELDS: &[&str] = &[
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
];

/// Checks the SigV4 `Authorization` header's shape.
fn authenticate(req: &HttpRequest) -> Result<(), ApiError> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if header.is_empty() {
        return Err(ApiError::new(403, "Missing Authentication Token"));
    }
    let malformed = |why: &str| {
        ApiError::new(
            403,
            format!("Authorization header requires a valid SigV4 signature: {why}"),
        )
    };
    let rest = header
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| malformed("algorithm must be AWS4-HMAC-SHA256"))?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(", ") {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or_else(|| malformed("missing Credential"))?;
    let signed = signed.ok_or_else(|| malformed("missing SignedHeaders"))?;
    let signature = signature.ok_or_else(|| malformed("missing Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, day, region, service, terminator] = scope[..] else {
        return Err(malformed(
            "Credential must be <key id>/<date>/<region>/<service>/aws4_request",
        ));
    };
    if key_id.is_empty()
        || day.len() != 8
        || !day.bytes().all(|b| b.is_ascii_digit())
        || region.is_empty()
        || service != "bedrock"
        || terminator != "aws4_request"
    {
        return Err(malformed("bad credential scope"));
    }
    let names: Vec<&str> = signed.split(';').collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    if names != sorted || !names.contains(&"host") || !names.contains(&"x-amz-date") {
        return Err(malformed(
            "SignedHeaders must be sorted and include host and x-amz-date",
        ));
    }
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed("Signature must be 64 hex digits"));
    }
    let date = req
        .headers()
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if date.len() != 16 || !date.starts_with(day) || !date.ends_with('Z') {
        return Err(malformed(
            "x-amz-date missing or not on the credential's day",
        ));
    }
    if is_invalid_key(key_id) {
        return Err(ApiError::new(
            403,
            "The security token included in the request is invalid.",
        ));
    }
    Ok(())
}

/// The model id from the path (a client may send `:` percent-encoded).
fn model_id(raw: &str) -> String {
    raw.replace("%3A", ":").replace("%3a", ":")
}

fn validate(body: &Value) -> Result<(), ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::invalid("The request body must be a JSON object", None))?;
    if let Some(extra) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            format!("Malformed input request: extraneous key [{extra}] is not permitted"),
            None,
        ));
    }
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ApiError::invalid("A conversation must start with a user message.", None))?;
    let mut expected = "user";
    for m in messages {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        if role != expected {
            return Err(ApiError::invalid(
                "A conversation must alternate between user and assistant roles. Make sure the \
                 conversation alternates between user and assistant roles and try again.",
                None,
            ));
        }
        if m.get("content")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            return Err(ApiError::invalid(
                "The content field in the Message object is empty.",
                None,
            ));
        }
        expected = if role == "user" { "assistant" } else { "user" };
    }
    Ok(())
}

fn block_texts(blocks: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    for block in blocks.as_array().into_iter().flatten() {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            out.push(t);
        } else if let Some(result) = block.get("toolResult") {
            out.extend(block_texts(result.get("content").unwrap_or(&Value::Null)));
        }
    }
    out
}

fn prompt(body: &Value) -> Prompt<'_> {
    let mut prompt = Prompt::default();
    if let Some(system) = body.get("system") {
        prompt.count.message(block_texts(system));
    }
    for message in body["messages"].as_array().into_iter().flatten() {
        let texts = block_texts(&message["content"]);
        if message["role"] == "user" {
            prompt.last_user_text = texts.join("\n");
        }
        prompt.count.message(texts);
    }
    prompt.tool = body
        .pointer("/toolConfig/tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|tool| {
            let spec = tool.get("toolSpec")?;
            Some(ToolDecl {
                name: spec.get("name")?.as_str()?,
                schema: spec.pointer("/inputSchema/json"),
            })
        });
    prompt
}

/// `POST /model/{modelId}/converse`
pub(crate) async fn converse(
    req: HttpRequest,
    model: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, &model_id(&model), payload, state, false).await
}

/// `POST /model/{modelId}/converse-stream`
pub(crate) async fn converse_stream(
    req: HttpRequest,
    model: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, &model_id(&model), payload, state, true).await
}

async fn handle(
    req: HttpRequest,
    model: &str,
    payload: web::Payload,
    state: web::Data<AppState>,
    stream: bool,
) -> HttpResponse {
    let mut guard = state.stats.begin(Surface::Bedrock);
    let prepared = async {
        authenticate(&req)?;
        let body: Value = read_json(payload).await?;
        let behaviour = Behaviour::parse(model)
            .map_err(|_| ApiError::new(404, "The provided model identifier is invalid."))?;
        validate(&body)?;
        Ok::<_, ApiError>((body, behaviour))
    };
    match prepared.await {
        Err(e) => {
            guard.complete();
            e.respond(Surface::Bedrock)
        }
        Ok((body, behaviour)) => {
            execute(guard, Surface::Bedrock, &behaviour, stream, || {
                reply(&body, &behaviour, stream)
            })
            .await
        }
    }
}

fn reply(body: &Value, behaviour: &Behaviour, stream: bool) -> Reply {
    let prompt = prompt(body);
    let input_tokens = prompt.count.tokens();
    let answer = Answer::decide(behaviour, prompt);
    let output_tokens = answer.tokens();
    let tool_id = format!("tooluse_mock{}", next_id());
    let stop_reason = match answer {
        Answer::Text(_) => "end_turn",
        Answer::Tool { .. } => "tool_use",
    };
    let usage = json!({
        "inputTokens": input_tokens,
        "outputTokens": output_tokens,
        "totalTokens": input_tokens + output_tokens,
    });
    if !stream {
        let block = match &answer {
            Answer::Text(text) => json!({"text": text}),
            Answer::Tool {
                name, arguments, ..
            } => json!({"toolUse": {"toolUseId": tool_id, "name": name, "input": arguments}}),
        };
        return Reply::Json(json!({
            "output": {"message": {"role": "assistant", "content": [block]}},
            "stopReason": stop_reason,
            "usage": usage,
            "metrics": {"latencyMs": 1},
        }));
    }
    let mut head = vec![event("messageStart", &json!({"role": "assistant"}))];
    if let Answer::Tool { name, .. } = &answer {
        head.push(event(
            "contentBlockStart",
            &json!({"start": {"toolUse": {"toolUseId": tool_id, "name": name}},
                    "contentBlockIndex": 0}),
        ));
    }
    let is_tool = matches!(answer, Answer::Tool { .. });
    let content = synth::split(answer.streamed_text(), behaviour.chunks)
        .into_iter()
        .map(|piece| {
            let delta = if is_tool {
                json!({"toolUse": {"input": piece}})
            } else {
                json!({"text": piece})
            };
            event(
                "contentBlockDelta",
                &json!({"delta": delta, "contentBlockIndex": 0}),
            )
        })
        .collect();
    let tail = vec![
        event("contentBlockStop", &json!({"contentBlockIndex": 0})),
        event("messageStop", &json!({"stopReason": stop_reason})),
        event(
            "metadata",
            &json!({"usage": usage, "metrics": {"latencyMs": 1}}),
        ),
    ];
    Reply::Stream {
        content_type: EVENT_STREAM,
        frames: Frames {
            head,
            content,
            tail,
        },
    }
}

/// One event-stream message: prelude (total and header lengths, their CRC32), string headers
/// (`:event-type`, `:content-type`, `:message-type`), the JSON payload and the message CRC32.
fn event(kind: &str, payload: &Value) -> Bytes {
    let payload = payload.to_string();
    let mut headers = Vec::new();
    for (name, value) in [
        (":event-type", kind),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ] {
        headers.push(name.len() as u8);
        headers.extend_from_slice(name.as_bytes());
        headers.push(7);
        headers.extend_from_slice(&(value.len() as u16).to_be_bytes());
        headers.extend_from_slice(value.as_bytes());
    }
    let total = 12 + headers.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&headers);
    out.extend_from_slice(payload.as_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    Bytes::from(out)
}

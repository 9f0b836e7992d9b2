//! Anthropic's wire format: `POST /v1/messages` (plain and streamed) and the model list.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::behaviour::{Behaviour, MODEL_CATALOG};
use crate::openai::is_invalid_key;
use crate::reply::{Answer, Prompt, ToolDecl, content_texts, next_id};
use crate::respond::{ApiError, Frames, Reply, execute, json_body, read_json, sse_event};
use crate::server::AppState;
use crate::stats::Surface;
use crate::synth;

const SSE: &str = "text/event-stream; charset=utf-8";
const MODEL_CREATED_AT: &str = "2025-01-01T00:00:00Z";

/// True when a request carries Anthropic credentials rather than an OpenAI bearer token; used to
/// pick the shape of the `/v1/models` route both providers share.
pub(crate) fn looks_like_anthropic(req: &HttpRequest) -> bool {
    let headers = req.headers();
    headers.contains_key("x-api-key") || headers.contains_key("anthropic-version")
}

/// Checks `x-api-key` (or an OAuth bearer token) the way Anthropic does.
fn authenticate(req: &HttpRequest) -> Result<(), ApiError> {
    let headers = req.headers();
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        })
        .map(str::trim)
        .unwrap_or("");
    if key.is_empty() {
        return Err(ApiError::new(401, "x-api-key header is required"));
    }
    if is_invalid_key(key) {
        return Err(ApiError::new(401, "invalid x-api-key"));
    }
    Ok(())
}

fn require_version(req: &HttpRequest) -> Result<(), ApiError> {
    if req.headers().contains_key("anthropic-version") {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "anthropic-version: header is required",
            None,
        ))
    }
}

fn model_not_found(model: &str) -> ApiError {
    ApiError::new(404, format!("model: {model}"))
}

#[derive(Debug, Deserialize)]
struct Message {
    role: String,
    #[serde(default)]
    content: Value,
}

#[derive(Debug, Deserialize)]
struct MessagesRequest {
    model: Option<String>,
    max_tokens: Option<u64>,
    messages: Option<Vec<Message>>,
    #[serde(default)]
    system: Value,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    tools: Option<Vec<Value>>,
}

/// `POST /v1/messages`
pub(crate) async fn messages(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let mut guard = state.stats.begin(Surface::Anthropic);
    let prepared = async {
        authenticate(&req)?;
        require_version(&req)?;
        let body: MessagesRequest = read_json(payload).await?;
        let model = body
            .model
            .as_deref()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| ApiError::invalid("model: Field required", None))?;
        let behaviour = Behaviour::parse(model).map_err(|_| model_not_found(model))?;
        if body.max_tokens.is_none() {
            return Err(ApiError::invalid("max_tokens: Field required", None));
        }
        match &body.messages {
            None => return Err(ApiError::invalid("messages: Field required", None)),
            Some(m) if m.is_empty() => {
                return Err(ApiError::invalid(
                    "messages: at least one message is required",
                    None,
                ));
            }
            Some(_) => {}
        }
        Ok((body, behaviour))
    };
    match prepared.await {
        Err(e) => {
            guard.complete();
            e.respond(Surface::Anthropic)
        }
        Ok((body, behaviour)) => {
            let stream = body.stream.unwrap_or(false);
            execute(guard, Surface::Anthropic, &behaviour, stream, || {
                reply(&body, &behaviour, stream)
            })
            .await
        }
    }
}

fn prompt(body: &MessagesRequest) -> Prompt<'_> {
    let mut prompt = Prompt::default();
    if !body.system.is_null() {
        prompt.count.message(content_texts(&body.system));
    }
    for message in body.messages.iter().flatten() {
        let texts = content_texts(&message.content);
        if message.role == "user" {
            prompt.last_user_text = texts.join("\n");
        }
        prompt.count.message(texts);
    }
    // Server tools (web search and the like) have no input schema; only client tools are callable.
    prompt.tool = body.tools.iter().flatten().find_map(|tool| {
        Some(ToolDecl {
            schema: Some(tool.get("input_schema")?),
            name: tool.get("name")?.as_str()?,
        })
    });
    prompt
}

fn reply(body: &MessagesRequest, behaviour: &Behaviour, stream: bool) -> Reply {
    let model = body.model.as_deref().unwrap_or_default();
    let prompt = prompt(body);
    let input_tokens = prompt.count.tokens();
    let answer = Answer::decide(behaviour, prompt);
    let output_tokens = answer.tokens();
    let id = format!("msg_mock{}", next_id());
    let tool_id = format!("toolu_mock{}", next_id());
    let stop_reason = match answer {
        Answer::Text(_) => "end_turn",
        Answer::Tool { .. } => "tool_use",
    };

    if !stream {
        let block = match &answer {
            Answer::Text(text) => json!({"type": "text", "text": text}),
            Answer::Tool {
                name, arguments, ..
            } => json!({"type": "tool_use", "id": tool_id, "name": name, "input": arguments}),
        };
        return Reply::Json(json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [block],
            "stop_reason": stop_reason,
            "stop_sequence": null,
            "usage": usage(input_tokens, output_tokens),
        }));
    }

    let (start_block, delta_kind, delta_field) = match &answer {
        Answer::Text(_) => (json!({"type": "text", "text": ""}), "text_delta", "text"),
        Answer::Tool { name, .. } => (
            json!({"type": "tool_use", "id": tool_id, "name": name, "input": {}}),
            "input_json_delta",
            "partial_json",
        ),
    };
    // Like the real API, message_start reports the input usage and a placeholder output count;
    // message_delta carries the final output count.
    let head = vec![
        sse_event(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": usage(input_tokens, 1),
            }}),
        ),
        sse_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": start_block}),
        ),
        sse_event("ping", &json!({"type": "ping"})),
    ];
    let content = synth::split(answer.streamed_text(), behaviour.chunks)
        .into_iter()
        .map(|piece| {
            sse_event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": 0,
                        "delta": {"type": delta_kind, delta_field: piece}}),
            )
        })
        .collect();
    let tail = vec![
        sse_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ),
        sse_event(
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                    "usage": {"output_tokens": output_tokens}}),
        ),
        sse_event("message_stop", &json!({"type": "message_stop"})),
    ];
    Reply::Stream {
        content_type: SSE,
        frames: Frames {
            head,
            content,
            tail,
        },
    }
}

fn usage(input: u64, output: u64) -> Value {
    json!({
        "input_tokens": input,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output,
        "service_tier": "standard",
    })
}

fn model_object(id: &str) -> Value {
    json!({"type": "model", "id": id, "display_name": id, "created_at": MODEL_CREATED_AT})
}

/// `GET /v1/models` in Anthropic's shape.
pub(crate) fn list_models(req: &HttpRequest) -> HttpResponse {
    if let Err(e) = authenticate(req) {
        return e.respond(Surface::Anthropic);
    }
    let data: Vec<Value> = MODEL_CATALOG.iter().map(|id| model_object(id)).collect();
    json_body(
        &mut HttpResponse::Ok(),
        &json!({
            "data": data,
            "has_more": false,
            "first_id": MODEL_CATALOG.first(),
            "last_id": MODEL_CATALOG.last(),
        }),
    )
}

/// `GET /v1/models/{id}` in Anthropic's shape.
pub(crate) fn get_model(req: &HttpRequest, id: &str) -> HttpResponse {
    let result =
        authenticate(req).and_then(|()| Behaviour::parse(id).map_err(|_| model_not_found(id)));
    match result {
        Ok(_) => json_body(&mut HttpResponse::Ok(), &model_object(id)),
        Err(e) => e.respond(Surface::Anthropic),
    }
}

//! Cohere's v2 Chat API: `POST /v2/chat`, plain and streamed (SSE with `message-start`,
//! `content-*` or `tool-plan-delta` + `tool-call-*`, and `message-end` carrying the usage).
//!
//! Usage: `billed_units` follow the mock's usage rule; `tokens` add [`TEMPLATE_TOKENS`] to the
//! input, like Cohere's prompt template does, so a test can tell which of the two a client
//! counted.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::behaviour::Behaviour;
use crate::openai::is_invalid_key;
use crate::reply::{Answer, Prompt, ToolDecl, content_texts, next_id};
use crate::respond::{ApiError, Frames, Reply, execute, read_json, sse_event};
use crate::server::AppState;
use crate::stats::Surface;
use crate::synth;

const SSE: &str = "text/event-stream";
/// Input tokens of Cohere's prompt template, reported in `usage.tokens` but not billed.
pub const TEMPLATE_TOKENS: u64 = 10;

/// Request fields v2 Chat accepts; anything else is a 400.
const FIELDS: &[&str] = &[
    "model",
    "messages",
    "tools",
    "documents",
    "citation_options",
    "response_format",
    "safety_mode",
    "max_tokens",
    "stop_sequences",
    "temperature",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "k",
    "p",
    "logprobs",
    "tool_choice",
    "strict_tools",
    "stream",
    "thinking",
    "priority",
];

fn authenticate(req: &HttpRequest) -> Result<(), ApiError> {
    let key = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if key.is_empty() {
        return Err(ApiError::new(401, "no api key supplied"));
    }
    if is_invalid_key(key) {
        return Err(ApiError::new(401, "invalid api token"));
    }
    Ok(())
}

fn validate(body: &Value) -> Result<(&str, Behaviour), ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::invalid("invalid request: body must be a JSON object", None))?;
    if let Some(extra) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            format!("invalid request: unknown field `{extra}`"),
            None,
        ));
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ApiError::invalid("invalid request: model must be specified", None))?;
    let behaviour = Behaviour::parse(model).map_err(|_| {
        ApiError::new(
            404,
            format!("model '{model}' not found, make sure the correct model ID was used"),
        )
    })?;
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ApiError::invalid("invalid request: messages cannot be empty", None))?;
    for m in messages {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        if !matches!(role, "system" | "user" | "assistant" | "tool") {
            return Err(ApiError::invalid(
                format!("invalid request: unknown role '{role}'"),
                None,
            ));
        }
        if role == "tool" && m.get("tool_call_id").and_then(Value::as_str).is_none() {
            return Err(ApiError::invalid(
                "invalid request: tool messages need a tool_call_id",
                None,
            ));
        }
    }
    Ok((model, behaviour))
}

fn prompt(body: &Value) -> Prompt<'_> {
    let mut prompt = Prompt::default();
    for message in body["messages"].as_array().into_iter().flatten() {
        let texts = content_texts(&message["content"]);
        if message["role"] == "user" {
            prompt.last_user_text = texts.join("\n");
        }
        prompt.count.message(texts);
    }
    prompt.tool = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|tool| {
            let f = tool.get("function")?;
            Some(ToolDecl {
                name: f.get("name")?.as_str()?,
                schema: f.get("parameters"),
            })
        });
    prompt
}

/// `POST /v2/chat`
pub(crate) async fn chat(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let mut guard = state.stats.begin(Surface::Cohere);
    let prepared = async {
        authenticate(&req)?;
        let body: Value = read_json(payload).await?;
        let (_, behaviour) = validate(&body)?;
        Ok::<_, ApiError>((body, behaviour))
    };
    match prepared.await {
        Err(e) => {
            guard.complete();
            e.respond(Surface::Cohere)
        }
        Ok((body, behaviour)) => {
            let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
            execute(guard, Surface::Cohere, &behaviour, stream, || {
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
    let id = format!("mock-{}", next_id());
    let call_id = format!("call_mock{}", next_id());
    let finish = match answer {
        Answer::Text(_) => "COMPLETE",
        Answer::Tool { .. } => "TOOL_CALL",
    };
    let usage = json!({
        "billed_units": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        "tokens": {"input_tokens": input_tokens + TEMPLATE_TOKENS, "output_tokens": output_tokens},
    });
    if !stream {
        let message = match &answer {
            Answer::Text(text) => {
                json!({"role": "assistant", "content": [{"type": "text", "text": text}]})
            }
            Answer::Tool { name, json, .. } => json!({
                "role": "assistant",
                "tool_plan": format!("I will call {name}."),
                "tool_calls": [{"id": call_id, "type": "function",
                                "function": {"name": name, "arguments": json}}],
            }),
        };
        return Reply::Json(json!({
            "id": id,
            "finish_reason": finish,
            "message": message,
            "usage": usage,
        }));
    }
    let mut head = vec![sse_event(
        "message-start",
        &json!({"id": id, "type": "message-start", "delta": {"message": {
            "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}),
    )];
    let is_tool = match &answer {
        Answer::Text(_) => {
            head.push(sse_event(
                "content-start",
                &json!({"type": "content-start", "index": 0,
                        "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
            ));
            false
        }
        Answer::Tool { name, .. } => {
            head.push(sse_event(
                "tool-plan-delta",
                &json!({"type": "tool-plan-delta",
                        "delta": {"message": {"tool_plan": format!("I will call {name}.")}}}),
            ));
            head.push(sse_event(
                "tool-call-start",
                &json!({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
                    "id": call_id, "type": "function",
                    "function": {"name": name, "arguments": ""}}}}}),
            ));
            true
        }
    };
    let content = synth::split(answer.streamed_text(), behaviour.chunks)
        .into_iter()
        .map(|piece| {
            if is_tool {
                sse_event(
                    "tool-call-delta",
                    &json!({"type": "tool-call-delta", "index": 0, "delta": {"message": {
                        "tool_calls": {"function": {"arguments": piece}}}}}),
                )
            } else {
                sse_event(
                    "content-delta",
                    &json!({"type": "content-delta", "index": 0,
                            "delta": {"message": {"content": {"text": piece}}}}),
                )
            }
        })
        .collect();
    let end = if is_tool {
        sse_event(
            "tool-call-end",
            &json!({"type": "tool-call-end", "index": 0}),
        )
    } else {
        sse_event("content-end", &json!({"type": "content-end", "index": 0}))
    };
    let tail = vec![
        end,
        sse_event(
            "message-end",
            &json!({"type": "message-end", "delta": {"finish_reason": finish, "usage": usage}}),
        ),
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

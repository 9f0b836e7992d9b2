//! Cohere's v2 Chat API: `POST /v2/chat`, plain and streamed (SSE whose events are
//! `message-start`, `content-start`/`-delta`/`-end`, `tool-plan-delta`,
//! `tool-call-start`/`-delta`/`-end` and `message-end`, the last carrying the finish reason and
//! usage).
//!
//! Usage: Cohere reports `billed_units` (what it charges) and `tokens` (what the model saw);
//! Keyway counts billed units when present, so cost matches the invoice.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Format;
use crate::TranslateError;
use crate::canonical::{
    ApiError, ChatRequest, ChatResponse, Choice, ContentPart, ErrorKind, FinishReason, Message,
    ResponseFormat, StreamEvent, ToolCall, ToolChoice, Usage, text_only,
};
use crate::sse::SseEvent;

const FORMAT: Format = Format::Cohere;

/// Upstream path of the chat endpoint (under the API host).
pub const CHAT_PATH: &str = "/v2/chat";

// ---------------------------------------------------------------- requests

fn content_to_wire(content: &[ContentPart]) -> Value {
    if let Some(text) = text_only(content) {
        return json!(text);
    }
    Value::Array(
        content
            .iter()
            .map(|p| match p {
                ContentPart::Text(t) => json!({"type": "text", "text": t}),
                ContentPart::Image(src) => {
                    json!({"type": "image_url", "image_url": {"url": src.to_url()}})
                }
            })
            .collect(),
    )
}

/// Builds the v2 Chat body. A forced tool is expressed as that tool alone with
/// `tool_choice: REQUIRED` (Cohere cannot name a tool). Refused: `n > 1`. `user` is not sent:
/// Cohere has no such field.
pub fn build_request(req: &ChatRequest) -> Result<Bytes, TranslateError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(TranslateError::unsupported(
            FORMAT,
            "`n` greater than 1 (one choice per request)",
        ));
    }
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        messages.push(match m {
            Message::System { content } => {
                let text = text_only(content).ok_or_else(|| {
                    TranslateError::field(
                        format!("messages[{i}]"),
                        "system messages take text only",
                    )
                })?;
                json!({"role": "system", "content": text})
            }
            Message::User { content } => {
                json!({"role": "user", "content": content_to_wire(content)})
            }
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let text = text_only(content).ok_or_else(|| {
                    TranslateError::field(
                        format!("messages[{i}]"),
                        "assistant messages take text only",
                    )
                })?;
                let mut msg = json!({"role": "assistant"});
                // Next to tool calls, Cohere carries the turn's text as its `tool_plan`.
                if !text.is_empty() {
                    let field = if tool_calls.is_empty() {
                        "content"
                    } else {
                        "tool_plan"
                    };
                    msg[field] = json!(text);
                }
                if !tool_calls.is_empty() {
                    msg["tool_calls"] = tool_calls
                        .iter()
                        .map(|c| {
                            json!({"id": c.id, "type": "function",
                                "function": {"name": c.name, "arguments": c.arguments}})
                        })
                        .collect();
                }
                msg
            }
            Message::Tool {
                tool_call_id,
                content,
                ..
            } => {
                let text = text_only(content).ok_or_else(|| {
                    TranslateError::field(format!("messages[{i}]"), "tool results take text only")
                })?;
                json!({"role": "tool", "tool_call_id": tool_call_id, "content": text})
            }
        });
    }
    let mut body = json!({"model": req.model, "messages": messages, "stream": req.stream});
    let mut tools: Vec<&crate::canonical::ToolDefinition> = req.tools.iter().collect();
    match &req.tool_choice {
        None | Some(ToolChoice::Auto) => {}
        Some(ToolChoice::None) => body["tool_choice"] = json!("NONE"),
        Some(ToolChoice::Required) => body["tool_choice"] = json!("REQUIRED"),
        Some(ToolChoice::Tool(name)) => {
            tools.retain(|t| &t.name == name);
            if tools.is_empty() {
                return Err(TranslateError::field(
                    "tool_choice",
                    format!("names `{name}`, which is not a declared tool"),
                ));
            }
            body["tool_choice"] = json!("REQUIRED");
        }
    }
    if tools.is_empty() {
        // A tool choice means nothing without tools (and Cohere refuses it).
        if let Some(obj) = body.as_object_mut() {
            obj.remove("tool_choice");
        }
    } else {
        body["tools"] = tools
            .iter()
            .map(|t| {
                let mut f = json!({"name": t.name, "parameters": t.parameters});
                if let Some(d) = &t.description {
                    f["description"] = json!(d);
                }
                json!({"type": "function", "function": f})
            })
            .collect();
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(p) = req.top_p {
        body["p"] = json!(p);
    }
    if let Some(m) = req.max_tokens {
        body["max_tokens"] = json!(m);
    }
    if !req.stop.is_empty() {
        body["stop_sequences"] = json!(req.stop);
    }
    if let Some(seed) = req.seed {
        body["seed"] = json!(seed);
    }
    match &req.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            body["response_format"] = json!({"type": "json_object"})
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            body["response_format"] = json!({"type": "json_object", "json_schema": schema});
        }
    }
    Ok(Bytes::from(body.to_string()))
}

// ---------------------------------------------------------------- responses

#[derive(Debug, Deserialize)]
struct WireResponse {
    #[serde(default)]
    id: String,
    #[serde(default)]
    finish_reason: Option<String>,
    message: WireMessage,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Vec<Value>,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
}

#[derive(Debug, Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: String,
    function: WireFunction,
}

#[derive(Debug, Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: String,
    #[serde(default)]
    arguments: String,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct WireUsage {
    #[serde(default)]
    billed_units: Option<WireTokens>,
    #[serde(default)]
    tokens: Option<WireTokens>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct WireTokens {
    #[serde(default)]
    input_tokens: Option<f64>,
    #[serde(default)]
    output_tokens: Option<f64>,
}

fn usage_from_wire(u: WireUsage) -> Usage {
    let pick = |f: fn(&WireTokens) -> Option<f64>| {
        u.billed_units
            .as_ref()
            .and_then(f)
            .or_else(|| u.tokens.as_ref().and_then(f))
            .unwrap_or_default()
    };
    // Cohere sends counts as JSON numbers that may be written as floats (`12.0`).
    let count = |v: f64| {
        if v.is_finite() && v > 0.0 {
            v.round() as u64
        } else {
            0
        }
    };
    Usage {
        input_tokens: count(pick(|t| t.input_tokens)),
        output_tokens: count(pick(|t| t.output_tokens)),
        ..Usage::default()
    }
}

fn finish_from_wire(reason: &str) -> FinishReason {
    match reason {
        "COMPLETE" | "STOP_SEQUENCE" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "TOOL_CALL" => FinishReason::ToolCalls,
        _ => FinishReason::Error,
    }
}

fn finish_to_wire(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "COMPLETE",
        FinishReason::Length => "MAX_TOKENS",
        FinishReason::ToolCalls => "TOOL_CALL",
        FinishReason::ContentFilter | FinishReason::Error => "ERROR",
    }
}

/// Parses a v2 Chat response. The `tool_plan` (the model's narration before calling tools) has
/// no canonical place and is not returned.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, TranslateError> {
    let wire: WireResponse =
        serde_json::from_slice(body).map_err(|e| TranslateError::upstream(FORMAT, e))?;
    let mut text: Option<String> = None;
    for block in &wire.message.content {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.get_or_insert_with(String::new).push_str(
                block
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
            Some("thinking") => {}
            _ => {
                return Err(TranslateError::upstream(
                    FORMAT,
                    "a content block has a type Keyway cannot translate",
                ));
            }
        }
    }
    let tool_calls = wire
        .message
        .tool_calls
        .into_iter()
        .map(|c| ToolCall {
            id: c.id,
            name: c.function.name,
            arguments: c.function.arguments,
        })
        .collect();
    Ok(ChatResponse {
        id: wire.id,
        model: String::new(),
        created: None,
        choices: vec![Choice {
            index: 0,
            text,
            tool_calls,
            finish_reason: wire.finish_reason.as_deref().map(finish_from_wire),
            stop_sequence: None,
        }],
        usage: wire.usage.map(usage_from_wire),
    })
}

/// Renders a canonical response as a v2 Chat response body.
pub fn build_response(resp: &ChatResponse) -> Result<Bytes, TranslateError> {
    if resp.choices.len() > 1 {
        return Err(TranslateError::unsupported(
            FORMAT,
            "more than one choice in a response",
        ));
    }
    let choice = resp.choices.first().cloned().unwrap_or_default();
    let mut message = json!({"role": "assistant"});
    if let Some(t) = &choice.text {
        message["content"] = json!([{"type": "text", "text": t}]);
    }
    if !choice.tool_calls.is_empty() {
        message["tool_calls"] = choice
            .tool_calls
            .iter()
            .map(|c| {
                json!({"id": c.id, "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments}})
            })
            .collect();
    }
    let u = resp.usage.unwrap_or_default();
    let tokens = json!({"input_tokens": u.input_tokens, "output_tokens": u.output_tokens});
    Ok(Bytes::from(
        json!({
            "id": resp.id,
            "finish_reason": choice.finish_reason.map_or("COMPLETE", finish_to_wire),
            "message": message,
            "usage": {"billed_units": tokens, "tokens": tokens},
        })
        .to_string(),
    ))
}

// ---------------------------------------------------------------- errors

/// Cohere's error body: `{"message": "..."}`.
pub fn error_body(error: &ApiError) -> Bytes {
    Bytes::from(json!({"message": error.message}).to_string())
}

/// Reads an upstream Cohere error body; the status gives the class.
pub fn parse_error(status: u16, body: &[u8]) -> ApiError {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned));
    match message {
        Some(message) => ApiError {
            kind: ErrorKind::from_status(status),
            message,
            code: None,
        },
        None => ApiError::unreadable(status, body),
    }
}

// ---------------------------------------------------------------- streams

/// Reads v2 Chat SSE events into canonical events; `message-end` is the terminal event.
#[derive(Debug, Default)]
pub struct CohereStreamReader {
    ended: bool,
    tool_of_index: Vec<(u64, u32)>,
    tools: u32,
}

impl CohereStreamReader {
    /// Translates one upstream SSE event.
    pub fn push(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, TranslateError> {
        if self.ended || event.data.trim().is_empty() {
            return Ok(Vec::new());
        }
        let ev: Value =
            serde_json::from_str(&event.data).map_err(|e| TranslateError::upstream(FORMAT, e))?;
        let kind = ev
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or_default();
        let index = ev.get("index").and_then(Value::as_u64).unwrap_or_default();
        let str_at = |path: &str| ev.pointer(path).and_then(Value::as_str).unwrap_or_default();
        Ok(match kind {
            "message-start" => vec![StreamEvent::MessageStart {
                id: str_at("/id").to_owned(),
                model: String::new(),
                created: None,
            }],
            "content-start" | "content-delta" => {
                let text = str_at("/delta/message/content/text");
                if text.is_empty() {
                    Vec::new()
                } else {
                    vec![StreamEvent::TextDelta {
                        choice: 0,
                        text: text.to_owned(),
                    }]
                }
            }
            "tool-call-start" => {
                let position = self.tools;
                self.tools += 1;
                self.tool_of_index.push((index, position));
                let mut out = vec![StreamEvent::ToolCallStart {
                    choice: 0,
                    index: position,
                    id: str_at("/delta/message/tool_calls/id").to_owned(),
                    name: str_at("/delta/message/tool_calls/function/name").to_owned(),
                }];
                let args = str_at("/delta/message/tool_calls/function/arguments");
                if !args.is_empty() {
                    out.push(StreamEvent::ToolCallDelta {
                        choice: 0,
                        index: position,
                        arguments: args.to_owned(),
                    });
                }
                out
            }
            "tool-call-delta" => {
                let position = self
                    .tool_of_index
                    .iter()
                    .find(|(i, _)| *i == index)
                    .map(|(_, p)| *p)
                    .ok_or_else(|| {
                        TranslateError::upstream(
                            FORMAT,
                            format!("tool-call-delta for index {index} without tool-call-start"),
                        )
                    })?;
                let args = str_at("/delta/message/tool_calls/function/arguments");
                if args.is_empty() {
                    Vec::new()
                } else {
                    vec![StreamEvent::ToolCallDelta {
                        choice: 0,
                        index: position,
                        arguments: args.to_owned(),
                    }]
                }
            }
            "message-end" => {
                self.ended = true;
                let reason = str_at("/delta/finish_reason");
                let mut out = Vec::new();
                if reason == "ERROR" || reason == "TIMEOUT" {
                    out.push(StreamEvent::Error(ApiError {
                        kind: if reason == "TIMEOUT" {
                            ErrorKind::Timeout
                        } else {
                            ErrorKind::Server
                        },
                        message: format!("Cohere ended the generation with {reason}"),
                        code: Some(reason.to_lowercase()),
                    }));
                    return Ok(out);
                }
                out.push(StreamEvent::Finish {
                    choice: 0,
                    reason: finish_from_wire(reason),
                    stop_sequence: None,
                });
                if let Some(usage) = ev.pointer("/delta/usage") {
                    let usage: WireUsage = serde_json::from_value(usage.clone())
                        .map_err(|e| TranslateError::upstream(FORMAT, e))?;
                    out.push(StreamEvent::Usage(usage_from_wire(usage)));
                }
                out.push(StreamEvent::Done);
                out
            }
            // content-end, tool-call-end, tool-plan-delta, citation-* and future events carry
            // nothing canonical.
            _ => Vec::new(),
        })
    }

    /// Call at the end of the upstream body: a stream without `message-end` was cut.
    pub fn finish(&mut self, partial_event: bool) -> Vec<StreamEvent> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        let detail = if partial_event {
            "connection closed mid-event"
        } else {
            "no message-end received"
        };
        vec![StreamEvent::Error(ApiError::stream_interrupted(detail))]
    }
}

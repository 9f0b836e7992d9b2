//! OpenAI Chat Completions (`POST /v1/chat/completions`): requests, responses, stream chunks
//! and the error object, to and from the canonical types. OpenAI-compatible providers use the
//! same wire format; [`Dialect`] covers where they differ.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::canonical::{
    ApiError, ChatRequest, ChatResponse, Choice, ContentPart, ErrorKind, FinishReason, ImageSource,
    Message, ResponseFormat, StreamEvent, ToolCall, ToolChoice, ToolDefinition, Usage, text_only,
};
use crate::sse::{SseEvent, frame};
use crate::{Format, TranslateError};

const FORMAT: Format = Format::OpenAi;

/// Which flavour of the Chat Completions API an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// api.openai.com: the output limit goes in `max_completion_tokens` (reasoning models
    /// reject `max_tokens`).
    OpenAi,
    /// OpenAI-compatible servers (vLLM, Ollama, Groq, ...), which read `max_tokens`.
    Compatible,
}

// ---------------------------------------------------------------- wire types

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct WireRequest {
    model: String,
    messages: Vec<WireMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<WireTool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<WireResponseFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StreamOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    include_usage: Option<bool>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(tag = "role", rename_all = "lowercase", deny_unknown_fields)]
enum WireMessage {
    System {
        content: Value,
    },
    Developer {
        content: Value,
    },
    User {
        content: Value,
    },
    Assistant {
        #[serde(default)]
        content: Option<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tool_calls: Option<Vec<WireToolCall>>,
    },
    Tool {
        content: Value,
        tool_call_id: String,
    },
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum WirePart {
    Text { text: String },
    ImageUrl { image_url: WireImageUrl },
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct WireImageUrl {
    url: String,
}

#[derive(Debug, Deserialize, Serialize)]
struct WireToolCall {
    id: String,
    #[serde(rename = "type", default = "function_type")]
    kind: String,
    function: WireFunctionCall,
}

fn function_type() -> String {
    "function".to_owned()
}

#[derive(Debug, Deserialize, Serialize)]
struct WireFunctionCall {
    name: String,
    #[serde(default)]
    arguments: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct WireTool {
    #[serde(rename = "type")]
    kind: String,
    function: WireFunction,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct WireFunction {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Value>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum WireResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: WireJsonSchema },
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct WireJsonSchema {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

#[derive(Debug, Deserialize, Serialize)]
struct WireResponse {
    id: String,
    #[serde(default = "completion_object")]
    object: String,
    #[serde(default)]
    created: u64,
    model: String,
    choices: Vec<WireChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usage: Option<WireUsage>,
}

fn completion_object() -> String {
    "chat.completion".to_owned()
}

#[derive(Debug, Deserialize, Serialize)]
struct WireChoice {
    index: u32,
    message: WireResponseMessage,
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
struct WireResponseMessage {
    #[serde(default = "assistant_role")]
    role: String,
    content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Vec<WireToolCall>>,
}

fn assistant_role() -> String {
    "assistant".to_owned()
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct WireChunk {
    #[serde(default)]
    id: String,
    #[serde(default)]
    created: Option<u64>,
    #[serde(default)]
    model: String,
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<WireErrorDetail>,
}

#[derive(Debug, Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: ChunkDelta,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ChunkDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ChunkToolCall>>,
}

#[derive(Debug, Deserialize)]
struct ChunkToolCall {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<ChunkFunction>,
}

#[derive(Debug, Deserialize)]
struct ChunkFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireErrorBody {
    error: WireErrorDetail,
}

#[derive(Debug, Deserialize)]
struct WireErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<Value>,
}

// ---------------------------------------------------------------- requests

/// Parses a caller's Chat Completions body. Fields outside the canonical set are refused
/// with an error naming them.
pub fn parse_request(body: &[u8]) -> Result<ChatRequest, TranslateError> {
    let wire: WireRequest =
        serde_json::from_slice(body).map_err(|e| TranslateError::body(FORMAT, e))?;
    let mut messages = Vec::with_capacity(wire.messages.len());
    for (i, m) in wire.messages.into_iter().enumerate() {
        let field = format!("messages[{i}].content");
        messages.push(match m {
            WireMessage::System { content } | WireMessage::Developer { content } => {
                let content = parse_content(content, &field)?;
                if text_only(&content).is_none() {
                    return Err(TranslateError::field(
                        field,
                        "system messages take text only",
                    ));
                }
                Message::System { content }
            }
            WireMessage::User { content } => Message::User {
                content: parse_content(content, &field)?,
            },
            WireMessage::Assistant {
                content,
                tool_calls,
            } => Message::Assistant {
                content: parse_content(content.unwrap_or(Value::Null), &field)?,
                tool_calls: tool_calls
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| ToolCall {
                        id: c.id,
                        name: c.function.name,
                        arguments: c.function.arguments,
                    })
                    .collect(),
            },
            WireMessage::Tool {
                content,
                tool_call_id,
            } => Message::Tool {
                tool_call_id,
                content: parse_content(content, &field)?,
                is_error: false,
            },
        });
    }
    let mut tools = Vec::new();
    for (i, t) in wire.tools.unwrap_or_default().into_iter().enumerate() {
        if t.kind != "function" {
            return Err(TranslateError::field(
                format!("tools[{i}].type"),
                format!("`{}` is not supported, only `function`", t.kind),
            ));
        }
        tools.push(ToolDefinition {
            name: t.function.name,
            description: t.function.description,
            parameters: t
                .function
                .parameters
                .unwrap_or_else(|| json!({"type": "object"})),
        });
    }
    if wire.max_tokens.is_some() && wire.max_completion_tokens.is_some() {
        return Err(TranslateError::field(
            "max_tokens",
            "give either `max_tokens` or `max_completion_tokens`, not both",
        ));
    }
    let stream = wire.stream.unwrap_or(false);
    let include_usage = wire
        .stream_options
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    Ok(ChatRequest {
        model: wire.model,
        messages,
        tools,
        tool_choice: wire.tool_choice.map(parse_tool_choice).transpose()?,
        temperature: wire.temperature,
        top_p: wire.top_p,
        max_tokens: wire.max_tokens.or(wire.max_completion_tokens),
        stop: wire.stop.map(parse_stop).transpose()?.unwrap_or_default(),
        n: wire.n,
        seed: wire.seed,
        response_format: wire.response_format.map(|f| match f {
            WireResponseFormat::Text => ResponseFormat::Text,
            WireResponseFormat::JsonObject => ResponseFormat::JsonObject,
            WireResponseFormat::JsonSchema { json_schema } => ResponseFormat::JsonSchema {
                name: json_schema.name,
                description: json_schema.description,
                schema: json_schema.schema.unwrap_or(Value::Null),
                strict: json_schema.strict,
            },
        }),
        stream,
        stream_usage: stream && include_usage,
        user: wire.user,
        metadata: wire.metadata.unwrap_or_default(),
    })
}

fn parse_content(content: Value, field: &str) -> Result<Vec<ContentPart>, TranslateError> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![ContentPart::Text(s)]),
        Value::Array(parts) => parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let field = format!("{field}[{i}]");
                match serde_json::from_value::<WirePart>(p)
                    .map_err(|e| TranslateError::field(&field, e))?
                {
                    WirePart::Text { text } => Ok(ContentPart::Text(text)),
                    WirePart::ImageUrl { image_url } => Ok(ContentPart::Image(
                        ImageSource::from_url(&image_url.url, &field)?,
                    )),
                }
            })
            .collect(),
        _ => Err(TranslateError::field(
            field,
            "expected a string or an array of content parts",
        )),
    }
}

fn parse_tool_choice(v: Value) -> Result<ToolChoice, TranslateError> {
    match &v {
        Value::String(s) => match s.as_str() {
            "auto" => return Ok(ToolChoice::Auto),
            "none" => return Ok(ToolChoice::None),
            "required" => return Ok(ToolChoice::Required),
            _ => {}
        },
        Value::Object(o) if o.len() == 2 && o.get("type") == Some(&json!("function")) => {
            if let Some(Value::Object(f)) = o.get("function")
                && let (1, Some(Value::String(name))) = (f.len(), f.get("name"))
            {
                return Ok(ToolChoice::Tool(name.clone()));
            }
        }
        _ => {}
    }
    Err(TranslateError::field(
        "tool_choice",
        format!(
            "expected \"auto\", \"none\", \"required\" or {{\"type\":\"function\",\"function\":{{\"name\":...}}}}, got {v}"
        ),
    ))
}

fn parse_stop(v: Value) -> Result<Vec<String>, TranslateError> {
    match v {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                other => Err(TranslateError::field(
                    "stop",
                    format!("expected strings, got {other}"),
                )),
            })
            .collect(),
        other => Err(TranslateError::field(
            "stop",
            format!("expected a string or an array of strings, got {other}"),
        )),
    }
}

/// Builds the upstream Chat Completions body. Streams always ask for usage
/// (`stream_options.include_usage`), whatever the caller asked, so cost can be computed.
pub fn build_request(req: &ChatRequest, dialect: Dialect) -> Result<Bytes, TranslateError> {
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        messages.push(match m {
            Message::System { content } => {
                if text_only(content).is_none() {
                    return Err(TranslateError::field(
                        format!("messages[{i}]"),
                        "system messages take text only",
                    ));
                }
                WireMessage::System {
                    content: content_to_wire(content),
                }
            }
            Message::User { content } => WireMessage::User {
                content: content_to_wire(content),
            },
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let text = text_only(content).ok_or_else(|| {
                    TranslateError::unsupported(FORMAT, "images in assistant messages")
                })?;
                WireMessage::Assistant {
                    content: if text.is_empty() && !tool_calls.is_empty() {
                        None
                    } else {
                        Some(content_to_wire(content))
                    },
                    tool_calls: (!tool_calls.is_empty())
                        .then(|| tool_calls.iter().map(tool_call_to_wire).collect()),
                }
            }
            Message::Tool {
                tool_call_id,
                content,
                ..
            } => {
                if text_only(content).is_none() {
                    return Err(TranslateError::unsupported(
                        FORMAT,
                        "images in tool results",
                    ));
                }
                WireMessage::Tool {
                    content: content_to_wire(content),
                    tool_call_id: tool_call_id.clone(),
                }
            }
        });
    }
    let (max_tokens, max_completion_tokens) = match dialect {
        Dialect::OpenAi => (None, req.max_tokens),
        Dialect::Compatible => (req.max_tokens, None),
    };
    let wire = WireRequest {
        model: req.model.clone(),
        messages,
        tools: (!req.tools.is_empty()).then(|| {
            req.tools
                .iter()
                .map(|t| WireTool {
                    kind: "function".to_owned(),
                    function: WireFunction {
                        name: t.name.clone(),
                        description: t.description.clone(),
                        parameters: Some(t.parameters.clone()),
                    },
                })
                .collect()
        }),
        tool_choice: req.tool_choice.as_ref().map(|c| match c {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
        }),
        temperature: req.temperature,
        top_p: req.top_p,
        max_tokens,
        max_completion_tokens,
        stop: (!req.stop.is_empty()).then(|| json!(req.stop)),
        n: req.n,
        seed: req.seed,
        response_format: req.response_format.as_ref().map(|f| match f {
            ResponseFormat::Text => WireResponseFormat::Text,
            ResponseFormat::JsonObject => WireResponseFormat::JsonObject,
            ResponseFormat::JsonSchema {
                name,
                description,
                schema,
                strict,
            } => WireResponseFormat::JsonSchema {
                json_schema: WireJsonSchema {
                    name: name.clone(),
                    description: description.clone(),
                    schema: (!schema.is_null()).then(|| schema.clone()),
                    strict: *strict,
                },
            },
        }),
        stream: req.stream.then_some(true),
        stream_options: req.stream.then_some(StreamOptions {
            include_usage: Some(true),
        }),
        user: req.user.clone(),
        metadata: None,
    };
    to_bytes(&wire)
}

fn content_to_wire(content: &[ContentPart]) -> Value {
    match content {
        [] => return Value::String(String::new()),
        [ContentPart::Text(t)] => return Value::String(t.clone()),
        _ => {}
    }
    let parts: Vec<WirePart> = content
        .iter()
        .map(|p| match p {
            ContentPart::Text(text) => WirePart::Text { text: text.clone() },
            ContentPart::Image(src) => WirePart::ImageUrl {
                image_url: WireImageUrl { url: src.to_url() },
            },
        })
        .collect();
    json!(parts)
}

fn tool_call_to_wire(c: &ToolCall) -> WireToolCall {
    WireToolCall {
        id: c.id.clone(),
        kind: function_type(),
        function: WireFunctionCall {
            name: c.name.clone(),
            arguments: c.arguments.clone(),
        },
    }
}

fn to_bytes(v: &impl Serialize) -> Result<Bytes, TranslateError> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| TranslateError::field("body", e))
}

// ---------------------------------------------------------------- responses

/// Parses an upstream Chat Completions response.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, TranslateError> {
    let wire: WireResponse =
        serde_json::from_slice(body).map_err(|e| TranslateError::upstream(FORMAT, e))?;
    Ok(ChatResponse {
        id: wire.id,
        model: wire.model,
        created: Some(wire.created),
        choices: wire
            .choices
            .into_iter()
            .map(|c| Choice {
                index: c.index,
                text: c.message.content,
                tool_calls: c
                    .message
                    .tool_calls
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| ToolCall {
                        id: t.id,
                        name: t.function.name,
                        arguments: t.function.arguments,
                    })
                    .collect(),
                finish_reason: c.finish_reason.as_deref().map(finish_from_wire),
                stop_sequence: None,
            })
            .collect(),
        usage: wire.usage.map(usage_from_wire),
    })
}

/// Renders a canonical response as a Chat Completions response body. A choice that finished
/// with [`FinishReason::Error`] has no OpenAI equivalent and is refused (answer 502).
pub fn build_response(resp: &ChatResponse) -> Result<Bytes, TranslateError> {
    let mut choices = Vec::with_capacity(resp.choices.len());
    for c in &resp.choices {
        choices.push(WireChoice {
            index: c.index,
            message: WireResponseMessage {
                role: assistant_role(),
                content: c.text.clone(),
                tool_calls: (!c.tool_calls.is_empty())
                    .then(|| c.tool_calls.iter().map(tool_call_to_wire).collect()),
            },
            finish_reason: c
                .finish_reason
                .map(finish_to_wire)
                .transpose()?
                .map(str::to_owned),
        });
    }
    to_bytes(&WireResponse {
        id: resp.id.clone(),
        object: completion_object(),
        created: resp.created.unwrap_or_else(now),
        model: resp.model.clone(),
        choices,
        usage: resp.usage.as_ref().map(usage_to_wire),
    })
}

fn finish_from_wire(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        _ => FinishReason::Error,
    }
}

fn finish_to_wire(r: FinishReason) -> Result<&'static str, TranslateError> {
    Ok(match r {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::Error => {
            return Err(TranslateError::upstream(
                FORMAT,
                "the upstream model stopped with an error",
            ));
        }
    })
}

fn usage_from_wire(u: WireUsage) -> Usage {
    Usage {
        input_tokens: u.prompt_tokens,
        output_tokens: u.completion_tokens,
        cached_read_tokens: u
            .prompt_tokens_details
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0),
        cache_write_tokens: 0,
        reasoning_tokens: u
            .completion_tokens_details
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0),
    }
}

fn usage_to_wire(u: &Usage) -> WireUsage {
    WireUsage {
        prompt_tokens: u.input_tokens,
        completion_tokens: u.output_tokens,
        total_tokens: u.input_tokens + u.output_tokens,
        prompt_tokens_details: Some(PromptDetails {
            cached_tokens: Some(u.cached_read_tokens),
        }),
        completion_tokens_details: Some(CompletionDetails {
            reasoning_tokens: Some(u.reasoning_tokens),
        }),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

// ---------------------------------------------------------------- errors

/// The OpenAI error object for a canonical error.
pub fn error_body(error: &ApiError) -> Bytes {
    Bytes::from(error_json(error).to_string())
}

fn error_json(error: &ApiError) -> Value {
    let kind = match error.kind {
        ErrorKind::InvalidRequest | ErrorKind::NotFound | ErrorKind::RequestTooLarge => {
            "invalid_request_error"
        }
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::PermissionDenied => "permission_error",
        ErrorKind::RateLimited => "rate_limit_error",
        ErrorKind::Server | ErrorKind::BadGateway | ErrorKind::Timeout => "server_error",
        ErrorKind::Overloaded => "overloaded_error",
    };
    json!({"error": {"message": error.message, "type": kind, "param": null, "code": error.code}})
}

/// Reads an upstream OpenAI error body; unreadable bodies keep their text as the message.
pub fn parse_error(status: u16, body: &[u8]) -> ApiError {
    match serde_json::from_slice::<WireErrorBody>(body) {
        Ok(w) => detail_to_error(ErrorKind::from_status(status), w.error),
        Err(_) => ApiError::unreadable(status, body),
    }
}

fn detail_to_error(kind: ErrorKind, d: WireErrorDetail) -> ApiError {
    ApiError {
        kind,
        message: d.message,
        code: match d.code {
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => d.kind,
        },
    }
}

// ---------------------------------------------------------------- streams

/// Reads upstream `chat.completion.chunk` events into canonical events.
#[derive(Debug, Default)]
pub struct OpenAiStreamReader {
    started: bool,
    ended: bool,
}

impl OpenAiStreamReader {
    /// Translates one upstream SSE event.
    pub fn push(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, TranslateError> {
        if self.ended {
            return Ok(Vec::new());
        }
        if event.data.trim() == "[DONE]" {
            self.ended = true;
            return Ok(vec![StreamEvent::Done]);
        }
        let chunk: WireChunk =
            serde_json::from_str(&event.data).map_err(|e| TranslateError::upstream(FORMAT, e))?;
        if let Some(err) = chunk.error {
            self.ended = true;
            return Ok(vec![StreamEvent::Error(detail_to_error(
                ErrorKind::Server,
                err,
            ))]);
        }
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            out.push(StreamEvent::MessageStart {
                id: chunk.id,
                model: chunk.model,
                created: chunk.created,
            });
        }
        for c in chunk.choices {
            if let Some(text) = c.delta.content
                && !text.is_empty()
            {
                out.push(StreamEvent::TextDelta {
                    choice: c.index,
                    text,
                });
            }
            for tc in c.delta.tool_calls.unwrap_or_default() {
                let (name, arguments) = match tc.function {
                    Some(f) => (f.name, f.arguments),
                    None => (None, None),
                };
                if let Some(id) = tc.id {
                    out.push(StreamEvent::ToolCallStart {
                        choice: c.index,
                        index: tc.index,
                        id,
                        name: name.unwrap_or_default(),
                    });
                }
                if let Some(arguments) = arguments
                    && !arguments.is_empty()
                {
                    out.push(StreamEvent::ToolCallDelta {
                        choice: c.index,
                        index: tc.index,
                        arguments,
                    });
                }
            }
            if let Some(reason) = c.finish_reason {
                out.push(StreamEvent::Finish {
                    choice: c.index,
                    reason: finish_from_wire(&reason),
                    stop_sequence: None,
                });
            }
        }
        if let Some(u) = chunk.usage {
            out.push(StreamEvent::Usage(usage_from_wire(u)));
        }
        Ok(out)
    }

    /// Call at the end of the upstream body: a stream without `[DONE]` was cut.
    pub fn finish(&mut self, partial_event: bool) -> Vec<StreamEvent> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        let detail = if partial_event {
            "connection closed mid-event"
        } else {
            "no [DONE] received"
        };
        vec![StreamEvent::Error(ApiError::stream_interrupted(detail))]
    }
}

/// Writes canonical events as Chat Completions SSE: `data: {chunk}` frames, then
/// `data: [DONE]` on [`StreamEvent::Done`] only. An error ends the stream with
/// `data: {"error": ...}` and no `[DONE]`.
#[derive(Debug)]
pub struct OpenAiStreamWriter {
    include_usage: bool,
    id: String,
    model: String,
    created: u64,
    usage: Option<Usage>,
    ended: bool,
}

impl OpenAiStreamWriter {
    /// `include_usage`: the caller's `stream_options.include_usage`; when set, a final chunk
    /// with empty `choices` and the usage precedes `[DONE]`.
    pub fn new(include_usage: bool) -> Self {
        Self {
            include_usage,
            id: "chatcmpl-keyway".to_owned(),
            model: String::new(),
            created: now(),
            usage: None,
            ended: false,
        }
    }

    /// Renders one event (possibly as nothing: usage waits for the end).
    pub fn write(&mut self, event: &StreamEvent) -> Result<Bytes, TranslateError> {
        let mut out = Vec::new();
        if self.ended {
            return Ok(Bytes::new());
        }
        match event {
            StreamEvent::MessageStart { id, model, created } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
                if let Some(c) = created {
                    self.created = *c;
                }
                self.chunk(
                    &mut out,
                    0,
                    json!({"role": "assistant", "content": ""}),
                    None,
                );
            }
            StreamEvent::TextDelta { choice, text } => {
                self.chunk(&mut out, *choice, json!({"content": text}), None);
            }
            StreamEvent::ToolCallStart {
                choice,
                index,
                id,
                name,
            } => {
                let delta = json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                    "function": {"name": name, "arguments": ""}}]});
                self.chunk(&mut out, *choice, delta, None);
            }
            StreamEvent::ToolCallDelta {
                choice,
                index,
                arguments,
            } => {
                let delta =
                    json!({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]});
                self.chunk(&mut out, *choice, delta, None);
            }
            StreamEvent::Finish { choice, reason, .. } => match finish_to_wire(*reason) {
                Ok(r) => self.chunk(&mut out, *choice, json!({}), Some(r)),
                Err(e) => self.error(&mut out, &e.to_api_error()),
            },
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Error(e) => self.error(&mut out, e),
            StreamEvent::Done => {
                if self.include_usage
                    && let Some(u) = &self.usage
                {
                    let chunk = json!({"id": self.id, "object": "chat.completion.chunk",
                        "created": self.created, "model": self.model, "choices": [],
                        "usage": usage_to_wire(u)});
                    frame(&mut out, None, &chunk.to_string());
                }
                frame(&mut out, None, "[DONE]");
                self.ended = true;
            }
        }
        Ok(Bytes::from(out))
    }

    fn chunk(&self, out: &mut Vec<u8>, choice: u32, delta: Value, finish: Option<&str>) {
        let chunk = json!({"id": self.id, "object": "chat.completion.chunk",
            "created": self.created, "model": self.model,
            "choices": [{"index": choice, "delta": delta, "finish_reason": finish}]});
        frame(out, None, &chunk.to_string());
    }

    fn error(&mut self, out: &mut Vec<u8>, e: &ApiError) {
        frame(out, None, &error_json(e).to_string());
        self.ended = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons_map_both_ways() {
        for (wire, canon) in [
            ("stop", FinishReason::Stop),
            ("length", FinishReason::Length),
            ("tool_calls", FinishReason::ToolCalls),
            ("content_filter", FinishReason::ContentFilter),
        ] {
            assert_eq!(finish_from_wire(wire), canon);
            assert_eq!(finish_to_wire(canon).unwrap(), wire);
        }
        assert_eq!(finish_from_wire("function_call"), FinishReason::ToolCalls);
        assert!(finish_to_wire(FinishReason::Error).is_err());
    }

    #[test]
    fn error_object_round_trips() {
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let e = parse_error(429, body);
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(e.message, "Rate limit reached");
        assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));
        let back: Value = serde_json::from_slice(&error_body(&e)).unwrap();
        assert_eq!(back["error"]["message"], "Rate limit reached");
        assert_eq!(back["error"]["code"], "rate_limit_exceeded");
        assert_eq!(back["error"]["type"], "rate_limit_error");
    }

    #[test]
    fn non_json_error_keeps_text() {
        let e = parse_error(502, b"<html>Bad gateway</html>");
        assert_eq!(e.kind, ErrorKind::BadGateway);
        assert!(e.message.contains("Bad gateway"));
    }

    #[test]
    fn dialect_picks_the_max_tokens_field() {
        let req = ChatRequest {
            model: "m".into(),
            messages: vec![Message::User {
                content: vec![ContentPart::Text("hi".into())],
            }],
            max_tokens: Some(7),
            ..Default::default()
        };
        let native: Value =
            serde_json::from_slice(&build_request(&req, Dialect::OpenAi).unwrap()).unwrap();
        assert_eq!(native["max_completion_tokens"], 7);
        assert!(native.get("max_tokens").is_none());
        let compat: Value =
            serde_json::from_slice(&build_request(&req, Dialect::Compatible).unwrap()).unwrap();
        assert_eq!(compat["max_tokens"], 7);
        assert!(compat.get("max_completion_tokens").is_none());
    }
}

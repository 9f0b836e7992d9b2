//! Anthropic Messages (`POST /v1/messages`): requests, responses, SSE events and the error
//! body, to and from the canonical types.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::canonical::{
    ApiError, ChatRequest, ChatResponse, Choice, ContentPart, ErrorKind, FinishReason, ImageSource,
    Message, ResponseFormat, StreamEvent, ToolCall, ToolChoice, ToolDefinition, Usage,
};
use crate::sse::{SseEvent, frame};
use crate::{Format, TranslateError};

const FORMAT: Format = Format::Anthropic;

/// `max_tokens` sent upstream when the canonical request has none: Anthropic requires the
/// field, and 4096 is the largest output every current Claude model accepts.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The `anthropic-version` header value these wire types follow.
pub const API_VERSION: &str = "2023-06-01";

// ---------------------------------------------------------------- wire types

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRequest {
    model: String,
    messages: Vec<WireMessage>,
    max_tokens: u32,
    #[serde(default)]
    system: Option<Value>,
    #[serde(default)]
    metadata: Option<WireMetadata>,
    #[serde(default)]
    stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    tools: Option<Vec<WireTool>>,
    #[serde(default)]
    tool_choice: Option<WireToolChoice>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireMetadata {
    #[serde(default)]
    user_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireMessage {
    role: WireRole,
    content: Value,
}

#[derive(Debug, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum WireRole {
    User,
    Assistant,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum WireBlock {
    Text {
        text: String,
    },
    Image {
        source: WireImageSource,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(default)]
        content: Option<Value>,
        #[serde(default)]
        is_error: Option<bool>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum WireImageSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTool {
    name: String,
    #[serde(default)]
    description: Option<String>,
    input_schema: Value,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum WireToolChoice {
    Auto {
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    Any {
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    Tool {
        name: String,
        #[serde(default)]
        disable_parallel_tool_use: Option<bool>,
    },
    None,
}

#[derive(Debug, Deserialize)]
struct WireResponse {
    id: String,
    model: String,
    content: Vec<RespBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    stop_sequence: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RespBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Default, Deserialize, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireStreamEvent {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: u32,
        content_block: RespBlock,
    },
    ContentBlockDelta {
        index: u32,
        delta: WireDelta,
    },
    ContentBlockStop {},
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: WireUsage,
    },
    MessageStop {},
    Ping {},
    Error {
        error: WireErrorDetail,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Deserialize)]
struct StartMessage {
    id: String,
    model: String,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    stop_sequence: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireErrorBody {
    error: WireErrorDetail,
}

#[derive(Debug, Deserialize)]
struct WireErrorDetail {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

// ---------------------------------------------------------------- requests

/// Parses a caller's Messages body. Fields outside the canonical set (`top_k`, `thinking`,
/// `cache_control`, ...) are refused with an error naming them.
pub fn parse_request(body: &[u8]) -> Result<ChatRequest, TranslateError> {
    let wire: WireRequest =
        serde_json::from_slice(body).map_err(|e| TranslateError::body(FORMAT, e))?;
    let mut messages = Vec::new();
    if let Some(system) = wire.system {
        let content = parse_blocks(system, "system")?;
        let mut parts = Vec::new();
        for (i, b) in content.into_iter().enumerate() {
            match b {
                WireBlock::Text { text } => parts.push(ContentPart::Text(text)),
                _ => {
                    return Err(TranslateError::field(
                        format!("system[{i}]"),
                        "system blocks must be text",
                    ));
                }
            }
        }
        messages.push(Message::System { content: parts });
    }
    for (i, m) in wire.messages.into_iter().enumerate() {
        let field = format!("messages[{i}].content");
        let blocks = parse_blocks(m.content, &field)?;
        let mut content = Vec::new();
        let mut tool_calls = Vec::new();
        for (j, b) in blocks.into_iter().enumerate() {
            let field = format!("{field}[{j}]");
            match (m.role, b) {
                (_, WireBlock::Text { text }) => content.push(ContentPart::Text(text)),
                (_, WireBlock::Image { source }) => {
                    content.push(ContentPart::Image(image_from_wire(source, &field)?));
                }
                (WireRole::Assistant, WireBlock::ToolUse { id, name, input }) => {
                    tool_calls.push(ToolCall {
                        id,
                        name,
                        arguments: input.to_string(),
                    });
                }
                (
                    WireRole::User,
                    WireBlock::ToolResult {
                        tool_use_id,
                        content: result,
                        is_error,
                    },
                ) => {
                    let result_blocks = match result {
                        Some(v) => parse_blocks(v, &format!("{field}.content"))?,
                        None => Vec::new(),
                    };
                    let mut parts = Vec::new();
                    for b in result_blocks {
                        match b {
                            WireBlock::Text { text } => parts.push(ContentPart::Text(text)),
                            WireBlock::Image { source } => {
                                parts.push(ContentPart::Image(image_from_wire(source, &field)?));
                            }
                            _ => {
                                return Err(TranslateError::field(
                                    format!("{field}.content"),
                                    "tool results hold text and images only",
                                ));
                            }
                        }
                    }
                    messages.push(Message::Tool {
                        tool_call_id: tool_use_id,
                        content: parts,
                        is_error: is_error.unwrap_or(false),
                    });
                }
                (role, _) => {
                    return Err(TranslateError::field(
                        field,
                        format!("this block type is not allowed in a {role:?} message"),
                    ));
                }
            }
        }
        match m.role {
            WireRole::User if !content.is_empty() => messages.push(Message::User { content }),
            WireRole::User => {}
            WireRole::Assistant => messages.push(Message::Assistant {
                content,
                tool_calls,
            }),
        }
    }
    let tool_choice = match wire.tool_choice {
        None => None,
        Some(choice) => {
            let (choice, disable_parallel) = match choice {
                WireToolChoice::Auto {
                    disable_parallel_tool_use,
                } => (ToolChoice::Auto, disable_parallel_tool_use),
                WireToolChoice::Any {
                    disable_parallel_tool_use,
                } => (ToolChoice::Required, disable_parallel_tool_use),
                WireToolChoice::Tool {
                    name,
                    disable_parallel_tool_use,
                } => (ToolChoice::Tool(name), disable_parallel_tool_use),
                WireToolChoice::None => (ToolChoice::None, None),
            };
            if disable_parallel == Some(true) {
                return Err(TranslateError::field(
                    "tool_choice.disable_parallel_tool_use",
                    "not supported by Keyway's translation layer",
                ));
            }
            Some(choice)
        }
    };
    Ok(ChatRequest {
        model: wire.model,
        messages,
        tools: wire
            .tools
            .unwrap_or_default()
            .into_iter()
            .map(|t| ToolDefinition {
                name: t.name,
                description: t.description,
                parameters: t.input_schema,
            })
            .collect(),
        tool_choice,
        temperature: wire.temperature,
        top_p: wire.top_p,
        max_tokens: Some(wire.max_tokens),
        stop: wire.stop_sequences.unwrap_or_default(),
        n: None,
        seed: None,
        response_format: None,
        stream: wire.stream.unwrap_or(false),
        stream_usage: false,
        user: wire.metadata.and_then(|m| m.user_id),
        metadata: Default::default(),
    })
}

fn parse_blocks(v: Value, field: &str) -> Result<Vec<WireBlock>, TranslateError> {
    match v {
        Value::String(text) => Ok(vec![WireBlock::Text { text }]),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, b)| {
                serde_json::from_value(b)
                    .map_err(|e| TranslateError::field(format!("{field}[{i}]"), e))
            })
            .collect(),
        _ => Err(TranslateError::field(
            field,
            "expected a string or an array of content blocks",
        )),
    }
}

fn image_from_wire(s: WireImageSource, field: &str) -> Result<ImageSource, TranslateError> {
    match s {
        WireImageSource::Base64 { media_type, data } => {
            ImageSource::base64(&media_type, &data, field)
        }
        WireImageSource::Url { url } => Ok(ImageSource::Url(url)),
    }
}

fn image_to_wire(s: &ImageSource) -> Value {
    match s {
        ImageSource::Url(url) => json!({"type": "image", "source": {"type": "url", "url": url}}),
        ImageSource::Base64 { media_type, data } => json!({"type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data}}),
    }
}

/// Builds the upstream Messages body. System messages are gathered, in order, into the
/// top-level `system`; consecutive turns of one role are merged (tool results first) as the
/// API expects; a missing `max_tokens` becomes [`DEFAULT_MAX_TOKENS`]. Refused: `n > 1`,
/// `seed`, JSON response formats.
pub fn build_request(req: &ChatRequest) -> Result<Bytes, TranslateError> {
    if req.n.is_some_and(|n| n > 1) {
        return Err(TranslateError::unsupported(
            FORMAT,
            "`n` greater than 1 (one choice per request)",
        ));
    }
    if req.seed.is_some() {
        return Err(TranslateError::unsupported(FORMAT, "`seed`"));
    }
    match &req.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(_) => {
            return Err(TranslateError::unsupported(
                FORMAT,
                "`response_format` json_object / json_schema",
            ));
        }
    }
    let mut system: Vec<Value> = Vec::new();
    let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let (role, blocks) = match m {
            Message::System { content } => {
                for part in content {
                    match part {
                        ContentPart::Text(text) => {
                            system.push(json!({"type": "text", "text": text}))
                        }
                        ContentPart::Image(_) => {
                            return Err(TranslateError::field(
                                format!("messages[{i}]"),
                                "system messages take text only",
                            ));
                        }
                    }
                }
                continue;
            }
            Message::User { content } => ("user", content_to_blocks(content)),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut blocks = content_to_blocks(content);
                for (j, c) in tool_calls.iter().enumerate() {
                    let input = parse_arguments(
                        &c.arguments,
                        &format!("messages[{i}].tool_calls[{j}].arguments"),
                    )?;
                    blocks.push(
                        json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}),
                    );
                }
                ("assistant", blocks)
            }
            Message::Tool {
                tool_call_id,
                content,
                is_error,
            } => {
                let mut block = json!({"type": "tool_result", "tool_use_id": tool_call_id,
                    "content": blocks_or_string(content_to_blocks(content))});
                if *is_error {
                    block["is_error"] = json!(true);
                }
                ("user", vec![block])
            }
        };
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let mut body = json!({
        "model": req.model,
        "max_tokens": req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": turns.into_iter().map(|(role, blocks)| json!({"role": role, "content": blocks_or_string(blocks)})).collect::<Vec<_>>(),
    });
    if !system.is_empty() {
        body["system"] = blocks_or_string(system);
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(p) = req.top_p {
        body["top_p"] = json!(p);
    }
    if !req.stop.is_empty() {
        body["stop_sequences"] = json!(req.stop);
    }
    if req.stream {
        body["stream"] = json!(true);
    }
    if let Some(user) = &req.user {
        body["metadata"] = json!({"user_id": user});
    }
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                let mut tool = json!({"name": t.name, "input_schema": t.parameters});
                if let Some(d) = &t.description {
                    tool["description"] = json!(d);
                }
                tool
            })
            .collect();
    }
    if let Some(choice) = &req.tool_choice {
        body["tool_choice"] = match choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
        };
    }
    Ok(Bytes::from(body.to_string()))
}

fn content_to_blocks(content: &[ContentPart]) -> Vec<Value> {
    content
        .iter()
        // Anthropic rejects empty text blocks.
        .filter(|p| !matches!(p, ContentPart::Text(t) if t.is_empty()))
        .map(|p| match p {
            ContentPart::Text(t) => json!({"type": "text", "text": t}),
            ContentPart::Image(src) => image_to_wire(src),
        })
        .collect()
}

fn blocks_or_string(mut blocks: Vec<Value>) -> Value {
    if blocks.len() == 1 && blocks[0]["type"] == "text" {
        return blocks[0]["text"].take();
    }
    Value::Array(blocks)
}

fn parse_arguments(args: &str, field: &str) -> Result<Value, TranslateError> {
    if args.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(args) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(TranslateError::field(
            field,
            "arguments must be a JSON object",
        )),
        Err(e) => Err(TranslateError::field(
            field,
            format!("arguments are not JSON: {e}"),
        )),
    }
}

// ---------------------------------------------------------------- responses

/// Parses an upstream Messages response.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, TranslateError> {
    let wire: WireResponse =
        serde_json::from_slice(body).map_err(|e| TranslateError::upstream(FORMAT, e))?;
    let mut text: Option<String> = None;
    let mut tool_calls = Vec::new();
    for b in wire.content {
        match b {
            RespBlock::Text { text: t } => text.get_or_insert_with(String::new).push_str(&t),
            RespBlock::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                id,
                name,
                arguments: input.to_string(),
            }),
            RespBlock::Other => {
                return Err(TranslateError::upstream(
                    FORMAT,
                    "response holds a content block type Keyway cannot translate",
                ));
            }
        }
    }
    Ok(ChatResponse {
        id: wire.id,
        model: wire.model,
        created: None,
        choices: vec![Choice {
            index: 0,
            text,
            tool_calls,
            finish_reason: wire.stop_reason.as_deref().map(finish_from_wire),
            stop_sequence: wire.stop_sequence,
        }],
        usage: Some(usage_from_wire(wire.usage)),
    })
}

/// Renders a canonical response as a Messages response body (exactly one choice).
pub fn build_response(resp: &ChatResponse) -> Result<Bytes, TranslateError> {
    let [choice] = resp.choices.as_slice() else {
        return Err(TranslateError::unsupported(
            FORMAT,
            format!("{} choices in one response", resp.choices.len()),
        ));
    };
    let mut content = Vec::new();
    if let Some(t) = &choice.text
        && !t.is_empty()
    {
        content.push(json!({"type": "text", "text": t}));
    }
    for c in &choice.tool_calls {
        let input = parse_arguments(&c.arguments, "tool_calls.arguments")
            .map_err(|e| TranslateError::upstream(FORMAT, e))?;
        content.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}));
    }
    let stop_reason = choice
        .finish_reason
        .map(|r| finish_to_wire(r, choice.stop_sequence.is_some()))
        .transpose()?;
    let body = json!({
        "id": resp.id,
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": choice.stop_sequence,
        "usage": usage_to_wire(&resp.usage.unwrap_or_default()),
    });
    Ok(Bytes::from(body.to_string()))
}

fn finish_from_wire(s: &str) -> FinishReason {
    match s {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        _ => FinishReason::Error,
    }
}

fn finish_to_wire(
    r: FinishReason,
    has_stop_sequence: bool,
) -> Result<&'static str, TranslateError> {
    Ok(match r {
        FinishReason::Stop if has_stop_sequence => "stop_sequence",
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
        FinishReason::Error => {
            return Err(TranslateError::upstream(
                FORMAT,
                "the upstream model stopped with an error",
            ));
        }
    })
}

fn usage_from_wire(u: WireUsage) -> Usage {
    let cache_read = u.cache_read_input_tokens.unwrap_or(0);
    let cache_write = u.cache_creation_input_tokens.unwrap_or(0);
    Usage {
        // Anthropic's input_tokens excludes cache reads and writes; canonical input counts all.
        input_tokens: u.input_tokens.unwrap_or(0) + cache_read + cache_write,
        output_tokens: u.output_tokens.unwrap_or(0),
        cached_read_tokens: cache_read,
        cache_write_tokens: cache_write,
        reasoning_tokens: 0,
    }
}

fn usage_to_wire(u: &Usage) -> Value {
    json!({
        "input_tokens": u.uncached_input_tokens(),
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cached_read_tokens,
    })
}

// ---------------------------------------------------------------- errors

fn error_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest => "invalid_request_error",
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::PermissionDenied => "permission_error",
        ErrorKind::NotFound => "not_found_error",
        ErrorKind::RequestTooLarge => "request_too_large",
        ErrorKind::RateLimited => "rate_limit_error",
        ErrorKind::Server | ErrorKind::BadGateway => "api_error",
        ErrorKind::Overloaded => "overloaded_error",
        ErrorKind::Timeout => "timeout_error",
    }
}

fn error_json(error: &ApiError) -> Value {
    json!({"type": "error", "error": {"type": error_type(error.kind), "message": error.message}})
}

/// The Anthropic error body for a canonical error (`{"type":"error","error":{...}}`).
pub fn error_body(error: &ApiError) -> Bytes {
    Bytes::from(error_json(error).to_string())
}

/// Reads an upstream Anthropic error body; the error type wins over the status.
pub fn parse_error(status: u16, body: &[u8]) -> ApiError {
    match serde_json::from_slice::<WireErrorBody>(body) {
        Ok(w) => detail_to_error(ErrorKind::from_status(status), w.error),
        Err(_) => ApiError::unreadable(status, body),
    }
}

fn detail_to_error(fallback: ErrorKind, d: WireErrorDetail) -> ApiError {
    let kind = match d.kind.as_str() {
        "invalid_request_error" => ErrorKind::InvalidRequest,
        "authentication_error" => ErrorKind::Authentication,
        "permission_error" => ErrorKind::PermissionDenied,
        "not_found_error" => ErrorKind::NotFound,
        "request_too_large" => ErrorKind::RequestTooLarge,
        "rate_limit_error" => ErrorKind::RateLimited,
        "api_error" => ErrorKind::Server,
        "overloaded_error" => ErrorKind::Overloaded,
        "timeout_error" => ErrorKind::Timeout,
        _ => fallback,
    };
    ApiError {
        kind,
        message: d.message,
        code: (!d.kind.is_empty()).then_some(d.kind),
    }
}

// ---------------------------------------------------------------- streams

/// Reads upstream Messages SSE events into canonical events. Keeps the map from content block
/// index to tool call position, and the input-side usage of `message_start`.
#[derive(Debug, Default)]
pub struct AnthropicStreamReader {
    ended: bool,
    start_usage: WireUsage,
    tool_of_block: Vec<(u32, u32)>,
    tools: u32,
}

impl AnthropicStreamReader {
    /// Translates one upstream SSE event.
    pub fn push(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, TranslateError> {
        if self.ended {
            return Ok(Vec::new());
        }
        let ev: WireStreamEvent =
            serde_json::from_str(&event.data).map_err(|e| TranslateError::upstream(FORMAT, e))?;
        Ok(match ev {
            WireStreamEvent::MessageStart { message } => {
                self.start_usage = message.usage;
                vec![
                    StreamEvent::MessageStart {
                        id: message.id,
                        model: message.model,
                        created: None,
                    },
                    StreamEvent::Usage(usage_from_wire(message.usage)),
                ]
            }
            WireStreamEvent::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                RespBlock::Text { text } if text.is_empty() => Vec::new(),
                RespBlock::Text { text } => vec![StreamEvent::TextDelta { choice: 0, text }],
                RespBlock::ToolUse { id, name, .. } => {
                    let tool = self.tools;
                    self.tools += 1;
                    self.tool_of_block.push((index, tool));
                    vec![StreamEvent::ToolCallStart {
                        choice: 0,
                        index: tool,
                        id,
                        name,
                    }]
                }
                RespBlock::Other => {
                    return Err(TranslateError::upstream(
                        FORMAT,
                        format!("content block {index} has a type Keyway cannot translate"),
                    ));
                }
            },
            WireStreamEvent::ContentBlockDelta { index, delta } => match delta {
                WireDelta::TextDelta { text } => vec![StreamEvent::TextDelta { choice: 0, text }],
                WireDelta::InputJsonDelta { partial_json } => {
                    let tool = self
                        .tool_of_block
                        .iter()
                        .find(|(b, _)| *b == index)
                        .map(|(_, t)| *t)
                        .ok_or_else(|| {
                            TranslateError::upstream(
                                FORMAT,
                                format!(
                                    "input_json_delta for block {index}, which is not a tool_use"
                                ),
                            )
                        })?;
                    if partial_json.is_empty() {
                        Vec::new()
                    } else {
                        vec![StreamEvent::ToolCallDelta {
                            choice: 0,
                            index: tool,
                            arguments: partial_json,
                        }]
                    }
                }
                // Citations and signatures have no canonical form and carry no text.
                WireDelta::Other => Vec::new(),
            },
            WireStreamEvent::MessageDelta { delta, usage } => {
                let merged = WireUsage {
                    input_tokens: usage.input_tokens.or(self.start_usage.input_tokens),
                    output_tokens: usage.output_tokens.or(self.start_usage.output_tokens),
                    cache_creation_input_tokens: usage
                        .cache_creation_input_tokens
                        .or(self.start_usage.cache_creation_input_tokens),
                    cache_read_input_tokens: usage
                        .cache_read_input_tokens
                        .or(self.start_usage.cache_read_input_tokens),
                };
                let mut out = Vec::new();
                if let Some(reason) = delta.stop_reason {
                    out.push(StreamEvent::Finish {
                        choice: 0,
                        reason: finish_from_wire(&reason),
                        stop_sequence: delta.stop_sequence,
                    });
                }
                out.push(StreamEvent::Usage(usage_from_wire(merged)));
                out
            }
            WireStreamEvent::MessageStop {} => {
                self.ended = true;
                vec![StreamEvent::Done]
            }
            WireStreamEvent::Error { error } => {
                self.ended = true;
                vec![StreamEvent::Error(detail_to_error(
                    ErrorKind::Server,
                    error,
                ))]
            }
            // Anthropic documents that new event types may appear and should be skipped.
            WireStreamEvent::ContentBlockStop {}
            | WireStreamEvent::Ping {}
            | WireStreamEvent::Unknown => Vec::new(),
        })
    }

    /// Call at the end of the upstream body: a stream without `message_stop` was cut.
    pub fn finish(&mut self, partial_event: bool) -> Vec<StreamEvent> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        let detail = if partial_event {
            "connection closed mid-event"
        } else {
            "no message_stop received"
        };
        vec![StreamEvent::Error(ApiError::stream_interrupted(detail))]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenBlock {
    Text,
    Tool(u32),
}

/// Writes canonical events as the Messages SSE sequence the Anthropic SDKs expect:
/// `message_start`, per block `content_block_start` / `content_block_delta`* /
/// `content_block_stop` with consecutive indexes, then `message_delta` (stop reason and final
/// usage) and `message_stop`. An error ends the stream with an `error` event and no
/// `message_stop`.
#[derive(Debug, Default)]
pub struct AnthropicStreamWriter {
    pending_start: Option<(String, String)>,
    started: bool,
    open: Option<(u32, OpenBlock)>,
    next_block: u32,
    finish: Option<(FinishReason, Option<String>)>,
    usage: Option<Usage>,
    ended: bool,
}

impl AnthropicStreamWriter {
    /// Renders one event (possibly as nothing: `message_start` waits for the first usage or
    /// content so its input token count is right; the stop reason waits for the end).
    pub fn write(&mut self, event: &StreamEvent) -> Result<Bytes, TranslateError> {
        let mut out = Vec::new();
        if self.ended {
            return Ok(Bytes::new());
        }
        match event {
            StreamEvent::MessageStart { id, model, .. } => {
                self.pending_start = Some((id.clone(), model.clone()));
            }
            StreamEvent::Usage(u) => {
                self.usage = Some(*u);
                self.ensure_started(&mut out);
            }
            StreamEvent::TextDelta { choice, text } => {
                self.check_choice(*choice)?;
                self.ensure_started(&mut out);
                if self.open.map(|(_, b)| b) != Some(OpenBlock::Text) {
                    self.open_block(
                        &mut out,
                        OpenBlock::Text,
                        json!({"type": "text", "text": ""}),
                    );
                }
                let index = self.open.map(|(i, _)| i).unwrap_or(0);
                event_frame(
                    &mut out,
                    "content_block_delta",
                    json!({"type": "content_block_delta",
                    "index": index, "delta": {"type": "text_delta", "text": text}}),
                );
            }
            StreamEvent::ToolCallStart {
                choice,
                index,
                id,
                name,
            } => {
                self.check_choice(*choice)?;
                self.ensure_started(&mut out);
                self.open_block(
                    &mut out,
                    OpenBlock::Tool(*index),
                    json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                );
            }
            StreamEvent::ToolCallDelta {
                choice,
                index,
                arguments,
            } => {
                self.check_choice(*choice)?;
                let Some((block, OpenBlock::Tool(open_tool))) = self.open else {
                    return Err(TranslateError::upstream(
                        FORMAT,
                        format!("arguments for tool call {index} arrived outside its block"),
                    ));
                };
                if open_tool != *index {
                    return Err(TranslateError::upstream(
                        FORMAT,
                        format!("arguments for tool call {index} arrived after it closed"),
                    ));
                }
                event_frame(
                    &mut out,
                    "content_block_delta",
                    json!({"type": "content_block_delta",
                    "index": block, "delta": {"type": "input_json_delta", "partial_json": arguments}}),
                );
            }
            StreamEvent::Finish {
                choice,
                reason,
                stop_sequence,
            } => {
                self.check_choice(*choice)?;
                if *reason == FinishReason::Error {
                    self.error(
                        &mut out,
                        &ApiError {
                            kind: ErrorKind::Server,
                            message: "the upstream model stopped with an error".to_owned(),
                            code: None,
                        },
                    );
                } else {
                    self.finish = Some((*reason, stop_sequence.clone()));
                }
            }
            StreamEvent::Error(e) => self.error(&mut out, e),
            StreamEvent::Done => {
                self.ensure_started(&mut out);
                self.close_block(&mut out);
                let (stop_reason, stop_sequence) = match &self.finish {
                    Some((r, seq)) => (finish_to_wire(*r, seq.is_some()).ok(), seq.clone()),
                    None => (None, None),
                };
                let usage = usage_to_wire(&self.usage.unwrap_or_default());
                event_frame(
                    &mut out,
                    "message_delta",
                    json!({"type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                    "usage": usage}),
                );
                event_frame(&mut out, "message_stop", json!({"type": "message_stop"}));
                self.ended = true;
            }
        }
        Ok(Bytes::from(out))
    }

    fn check_choice(&self, choice: u32) -> Result<(), TranslateError> {
        if choice == 0 {
            Ok(())
        } else {
            Err(TranslateError::unsupported(
                FORMAT,
                "more than one choice in a stream",
            ))
        }
    }

    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let (id, model) = self.pending_start.take().unwrap_or_default();
        let usage = self.usage.unwrap_or_default();
        let mut start_usage = usage_to_wire(&usage);
        // The output count so far; the final count comes with message_delta.
        start_usage["output_tokens"] = json!(0);
        event_frame(
            out,
            "message_start",
            json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "content": [], "model": model,
            "stop_reason": null, "stop_sequence": null, "usage": start_usage}}),
        );
    }

    fn open_block(&mut self, out: &mut Vec<u8>, kind: OpenBlock, content_block: Value) {
        self.close_block(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((index, kind));
        event_frame(
            out,
            "content_block_start",
            json!({"type": "content_block_start",
            "index": index, "content_block": content_block}),
        );
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some((index, _)) = self.open.take() {
            event_frame(
                out,
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            );
        }
    }

    fn error(&mut self, out: &mut Vec<u8>, e: &ApiError) {
        event_frame(out, "error", error_json(e));
        self.ended = true;
    }
}

fn event_frame(out: &mut Vec<u8>, name: &str, data: Value) {
    frame(out, Some(name), &data.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_map_both_ways() {
        assert_eq!(finish_from_wire("end_turn"), FinishReason::Stop);
        assert_eq!(finish_from_wire("stop_sequence"), FinishReason::Stop);
        assert_eq!(finish_from_wire("max_tokens"), FinishReason::Length);
        assert_eq!(finish_from_wire("tool_use"), FinishReason::ToolCalls);
        assert_eq!(finish_from_wire("refusal"), FinishReason::ContentFilter);
        assert_eq!(
            finish_to_wire(FinishReason::Stop, true).unwrap(),
            "stop_sequence"
        );
        assert_eq!(
            finish_to_wire(FinishReason::Stop, false).unwrap(),
            "end_turn"
        );
        assert_eq!(
            finish_to_wire(FinishReason::Length, false).unwrap(),
            "max_tokens"
        );
        assert_eq!(
            finish_to_wire(FinishReason::ToolCalls, false).unwrap(),
            "tool_use"
        );
        assert!(finish_to_wire(FinishReason::Error, false).is_err());
    }

    #[test]
    fn cache_usage_is_added_to_input() {
        let u = usage_from_wire(WireUsage {
            input_tokens: Some(10),
            output_tokens: Some(5),
            cache_creation_input_tokens: Some(100),
            cache_read_input_tokens: Some(1000),
        });
        assert_eq!(u.input_tokens, 1110);
        assert_eq!(u.uncached_input_tokens(), 10);
        let back = usage_to_wire(&u);
        assert_eq!(back["input_tokens"], 10);
        assert_eq!(back["cache_read_input_tokens"], 1000);
        assert_eq!(back["cache_creation_input_tokens"], 100);
    }

    #[test]
    fn error_type_wins_over_status() {
        let e = parse_error(
            529,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::Overloaded);
        assert_eq!(e.message, "Overloaded");
        let body: Value = serde_json::from_slice(&error_body(&e)).unwrap();
        assert_eq!(
            body,
            json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})
        );
    }
}

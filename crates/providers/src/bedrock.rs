//! AWS Bedrock's Converse API: `POST /model/{modelId}/converse` and `/converse-stream`.
//!
//! Requests are built from the canonical types (system, messages with text, images, tool use
//! and tool results, `inferenceConfig`, `toolConfig`); responses and `ConverseStream` events
//! (AWS event-stream framing, see [`crate::eventstream`]) are read back. Requests are signed with
//! SigV4 ([`crate::sigv4`]) by the gateway, service [`SIGNING_SERVICE`].
//!
//! Converse responses carry neither an id nor the model: the caller fills them in (the gateway
//! uses its request id and the model it asked for).

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Format;
use crate::TranslateError;
use crate::canonical::{
    ApiError, ChatRequest, ChatResponse, Choice, ContentPart, ErrorKind, FinishReason, ImageSource,
    Message, ResponseFormat, StreamEvent, ToolCall, ToolChoice, Usage,
};
use crate::eventstream::EventMessage;
use crate::sigv4::uri_encode;

const FORMAT: Format = Format::Bedrock;

/// SigV4 service name for the Bedrock runtime.
pub const SIGNING_SERVICE: &str = "bedrock";

/// Upstream path for a model; the model id is percent-encoded (ids contain `:`).
pub fn request_path(model: &str, stream: bool) -> String {
    let action = if stream {
        "converse-stream"
    } else {
        "converse"
    };
    format!("/model/{}/{action}", uri_encode(model, false))
}

/// The public runtime endpoint of a region.
pub fn endpoint(region: &str) -> String {
    format!("https://bedrock-runtime.{region}.amazonaws.com")
}

// ---------------------------------------------------------------- requests

fn image_format(media_type: &str) -> Option<&'static str> {
    Some(match media_type {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => return None,
    })
}

fn content_blocks(content: &[ContentPart], field: &str) -> Result<Vec<Value>, TranslateError> {
    let mut out = Vec::new();
    for (j, part) in content.iter().enumerate() {
        match part {
            // Converse rejects blank text blocks.
            ContentPart::Text(t) if t.is_empty() => {}
            ContentPart::Text(t) => out.push(json!({"text": t})),
            ContentPart::Image(ImageSource::Base64 { media_type, data }) => {
                let format = image_format(media_type).ok_or_else(|| {
                    TranslateError::unsupported(
                        FORMAT,
                        format!("image type `{media_type}` in {field}[{j}] (png, jpeg, gif, webp)"),
                    )
                })?;
                out.push(json!({"image": {"format": format, "source": {"bytes": data}}}));
            }
            ContentPart::Image(ImageSource::Url(_)) => {
                return Err(TranslateError::unsupported(
                    FORMAT,
                    format!("image URLs in {field}[{j}] (send the image inline as base64 data)"),
                ));
            }
        }
    }
    Ok(out)
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

/// Builds the Converse body (the model goes in the path, see [`request_path`]). System messages
/// are gathered into `system`; consecutive turns of one role are merged, as Converse requires
/// alternating roles. Refused: `n > 1`, `seed`, JSON response formats, image URLs and
/// `tool_choice: none` (Converse has no way to forbid declared tools). `user` is not sent:
/// Converse has no such field.
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
    if matches!(
        req.response_format,
        Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. })
    ) {
        return Err(TranslateError::unsupported(
            FORMAT,
            "`response_format` json_object / json_schema",
        ));
    }
    let mut system = Vec::new();
    let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let field = format!("messages[{i}].content");
        let (role, blocks) = match m {
            Message::System { content } => {
                for part in content {
                    match part {
                        ContentPart::Text(t) if t.is_empty() => {}
                        ContentPart::Text(t) => system.push(json!({"text": t})),
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
            Message::User { content } => ("user", content_blocks(content, &field)?),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut blocks = content_blocks(content, &field)?;
                for (j, c) in tool_calls.iter().enumerate() {
                    let input = parse_arguments(
                        &c.arguments,
                        &format!("messages[{i}].tool_calls[{j}].arguments"),
                    )?;
                    blocks.push(
                        json!({"toolUse": {"toolUseId": c.id, "name": c.name, "input": input}}),
                    );
                }
                ("assistant", blocks)
            }
            Message::Tool {
                tool_call_id,
                content,
                is_error,
            } => {
                let mut result = json!({"toolUseId": tool_call_id,
                    "content": content_blocks(content, &field)?});
                if *is_error {
                    result["status"] = json!("error");
                }
                ("user", vec![json!({"toolResult": result})])
            }
        };
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let mut body = json!({
        "messages": turns
            .into_iter()
            .map(|(role, content)| json!({"role": role, "content": content}))
            .collect::<Vec<_>>(),
    });
    if !system.is_empty() {
        body["system"] = Value::Array(system);
    }
    let mut inference = serde_json::Map::new();
    if let Some(max) = req.max_tokens {
        inference.insert("maxTokens".into(), json!(max));
    }
    if let Some(t) = req.temperature {
        inference.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        inference.insert("topP".into(), json!(p));
    }
    if !req.stop.is_empty() {
        inference.insert("stopSequences".into(), json!(req.stop));
    }
    if !inference.is_empty() {
        body["inferenceConfig"] = Value::Object(inference);
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut spec = json!({"name": t.name, "inputSchema": {"json": t.parameters}});
                if let Some(d) = &t.description {
                    spec["description"] = json!(d);
                }
                json!({"toolSpec": spec})
            })
            .collect();
        let mut config = json!({"tools": tools});
        match &req.tool_choice {
            None | Some(ToolChoice::Auto) => {}
            Some(ToolChoice::Required) => config["toolChoice"] = json!({"any": {}}),
            Some(ToolChoice::Tool(name)) => {
                config["toolChoice"] = json!({"tool": {"name": name}});
            }
            Some(ToolChoice::None) => {
                return Err(TranslateError::unsupported(
                    FORMAT,
                    "`tool_choice: none` with tools declared (omit the tools instead)",
                ));
            }
        }
        body["toolConfig"] = config;
    } else if matches!(
        req.tool_choice,
        Some(ToolChoice::Required | ToolChoice::Tool(_))
    ) {
        return Err(TranslateError::field(
            "tool_choice",
            "a tool is required but no tools are declared",
        ));
    }
    Ok(Bytes::from(body.to_string()))
}

// ---------------------------------------------------------------- responses

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireResponse {
    output: WireOutput,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct WireOutput {
    message: WireMessage,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Vec<Value>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_write_input_tokens: u64,
}

/// Converse reports input tokens without the cached ones; canonical input counts them all.
fn usage_from_wire(u: WireUsage) -> Usage {
    Usage {
        input_tokens: u.input_tokens + u.cache_read_input_tokens + u.cache_write_input_tokens,
        output_tokens: u.output_tokens,
        cached_read_tokens: u.cache_read_input_tokens,
        cache_write_tokens: u.cache_write_input_tokens,
        reasoning_tokens: 0,
    }
}

fn finish_from_wire(reason: &str) -> FinishReason {
    match reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        _ => FinishReason::Error,
    }
}

fn finish_to_wire(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::Error => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "content_filtered",
    }
}

/// Parses a Converse response. Reasoning blocks carry no canonical form and are skipped; any
/// other block Keyway cannot translate is an error, not silently lost.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, TranslateError> {
    let wire: WireResponse =
        serde_json::from_slice(body).map_err(|e| TranslateError::upstream(FORMAT, e))?;
    let mut text: Option<String> = None;
    let mut tool_calls = Vec::new();
    for block in wire.output.message.content {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            text.get_or_insert_with(String::new).push_str(t);
        } else if let Some(tool) = block.get("toolUse") {
            tool_calls.push(ToolCall {
                id: str_field(tool, "toolUseId"),
                name: str_field(tool, "name"),
                arguments: tool.get("input").cloned().unwrap_or(json!({})).to_string(),
            });
        } else if block.get("reasoningContent").is_none() {
            return Err(TranslateError::upstream(
                FORMAT,
                "a content block has a type Keyway cannot translate",
            ));
        }
    }
    let stop_sequence = None;
    Ok(ChatResponse {
        id: String::new(),
        model: String::new(),
        created: None,
        choices: vec![Choice {
            index: 0,
            text,
            tool_calls,
            finish_reason: wire.stop_reason.as_deref().map(finish_from_wire),
            stop_sequence,
        }],
        usage: wire.usage.map(usage_from_wire),
    })
}

fn str_field(v: &Value, name: &str) -> String {
    v.get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Renders a canonical response as a Converse response body.
pub fn build_response(resp: &ChatResponse) -> Result<Bytes, TranslateError> {
    if resp.choices.len() > 1 {
        return Err(TranslateError::unsupported(
            FORMAT,
            "more than one choice in a response",
        ));
    }
    let mut content = Vec::new();
    let mut reason = "end_turn";
    if let Some(choice) = resp.choices.first() {
        if let Some(t) = &choice.text {
            content.push(json!({"text": t}));
        }
        for c in &choice.tool_calls {
            let input = parse_arguments(&c.arguments, "tool_calls.arguments")?;
            content.push(json!({"toolUse": {"toolUseId": c.id, "name": c.name, "input": input}}));
        }
        reason = choice.finish_reason.map_or("end_turn", finish_to_wire);
    }
    let u = resp.usage.unwrap_or_default();
    Ok(Bytes::from(
        json!({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": reason,
            "usage": {
                "inputTokens": u.uncached_input_tokens(),
                "outputTokens": u.output_tokens,
                "totalTokens": u.input_tokens + u.output_tokens,
                "cacheReadInputTokens": u.cached_read_tokens,
                "cacheWriteInputTokens": u.cache_write_tokens,
            },
        })
        .to_string(),
    ))
}

// ---------------------------------------------------------------- errors

/// Bedrock's error body: `{"message": "..."}` (the class travels in `x-amzn-ErrorType`).
pub fn error_body(error: &ApiError) -> Bytes {
    Bytes::from(json!({"message": error.message}).to_string())
}

/// Reads an upstream Bedrock error body (`message` or `Message`); the status gives the class.
pub fn parse_error(status: u16, body: &[u8]) -> ApiError {
    let message = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        v.get("message")
            .or_else(|| v.get("Message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    match message {
        Some(message) => ApiError {
            kind: ErrorKind::from_status(status),
            message,
            code: None,
        },
        None => ApiError::unreadable(status, body),
    }
}

fn exception_kind(name: &str) -> ErrorKind {
    match name {
        "throttlingException" => ErrorKind::RateLimited,
        "validationException" => ErrorKind::InvalidRequest,
        "accessDeniedException" => ErrorKind::PermissionDenied,
        "resourceNotFoundException" => ErrorKind::NotFound,
        "serviceUnavailableException" => ErrorKind::Overloaded,
        "modelTimeoutException" => ErrorKind::Timeout,
        _ => ErrorKind::Server,
    }
}

// ---------------------------------------------------------------- streams

/// Reads `ConverseStream` event-stream messages into canonical events. The stream ends with
/// `messageStop` and then `metadata` (usage); `Done` follows `metadata`, or the body's end
/// after `messageStop`.
#[derive(Debug, Default)]
pub struct BedrockStreamReader {
    ended: bool,
    stopped: bool,
    tool_of_block: Vec<(u64, u32)>,
    tools: u32,
}

impl BedrockStreamReader {
    /// Translates one event-stream message.
    pub fn push(&mut self, message: &EventMessage) -> Result<Vec<StreamEvent>, TranslateError> {
        if self.ended {
            return Ok(Vec::new());
        }
        let payload: Value = if message.payload.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&message.payload)
                .map_err(|e| TranslateError::upstream(FORMAT, e))?
        };
        match message.header(":message-type") {
            Some("event") | None => {}
            Some(kind) => {
                // `exception` (and `error`) end the stream.
                self.ended = true;
                let name = message
                    .header(":exception-type")
                    .or_else(|| message.header(":error-code"))
                    .unwrap_or(kind);
                let text = payload
                    .get("message")
                    .or_else(|| payload.get("Message"))
                    .and_then(Value::as_str)
                    .or_else(|| message.header(":error-message"))
                    .unwrap_or(name);
                return Ok(vec![StreamEvent::Error(ApiError {
                    kind: exception_kind(name),
                    message: text.to_owned(),
                    code: Some(name.to_owned()),
                })]);
            }
        }
        let index = payload
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .unwrap_or_default();
        Ok(match message.header(":event-type").unwrap_or_default() {
            "messageStart" => vec![StreamEvent::MessageStart {
                id: String::new(),
                model: String::new(),
                created: None,
            }],
            "contentBlockStart" => match payload.pointer("/start/toolUse") {
                Some(tool) => {
                    let position = self.tools;
                    self.tools += 1;
                    self.tool_of_block.push((index, position));
                    vec![StreamEvent::ToolCallStart {
                        choice: 0,
                        index: position,
                        id: str_field(tool, "toolUseId"),
                        name: str_field(tool, "name"),
                    }]
                }
                None => Vec::new(),
            },
            "contentBlockDelta" => {
                let delta = payload.get("delta").cloned().unwrap_or_default();
                if let Some(text) = delta.get("text").and_then(Value::as_str) {
                    if text.is_empty() {
                        Vec::new()
                    } else {
                        vec![StreamEvent::TextDelta {
                            choice: 0,
                            text: text.to_owned(),
                        }]
                    }
                } else if let Some(input) = delta.pointer("/toolUse/input").and_then(Value::as_str)
                {
                    let position = self
                        .tool_of_block
                        .iter()
                        .find(|(b, _)| *b == index)
                        .map(|(_, t)| *t)
                        .ok_or_else(|| {
                            TranslateError::upstream(
                                FORMAT,
                                format!("toolUse delta for block {index}, which is not a toolUse"),
                            )
                        })?;
                    if input.is_empty() {
                        Vec::new()
                    } else {
                        vec![StreamEvent::ToolCallDelta {
                            choice: 0,
                            index: position,
                            arguments: input.to_owned(),
                        }]
                    }
                } else {
                    // Reasoning deltas have no canonical form.
                    Vec::new()
                }
            }
            "messageStop" => {
                self.stopped = true;
                let reason = payload
                    .get("stopReason")
                    .and_then(Value::as_str)
                    .unwrap_or("end_turn");
                vec![StreamEvent::Finish {
                    choice: 0,
                    reason: finish_from_wire(reason),
                    stop_sequence: None,
                }]
            }
            "metadata" => {
                let mut out = Vec::new();
                if let Some(usage) = payload.get("usage") {
                    let usage: WireUsage = serde_json::from_value(usage.clone())
                        .map_err(|e| TranslateError::upstream(FORMAT, e))?;
                    out.push(StreamEvent::Usage(usage_from_wire(usage)));
                }
                if self.stopped {
                    self.ended = true;
                    out.push(StreamEvent::Done);
                }
                out
            }
            // contentBlockStop and event types added later carry nothing to translate.
            _ => Vec::new(),
        })
    }

    /// Call at the end of the upstream body: without `messageStop` the stream was cut.
    pub fn finish(&mut self, partial_message: bool) -> Vec<StreamEvent> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        if self.stopped && !partial_message {
            return vec![StreamEvent::Done];
        }
        let detail = if partial_message {
            "connection closed mid-message"
        } else {
            "no messageStop received"
        };
        vec![StreamEvent::Error(ApiError::stream_interrupted(detail))]
    }
}

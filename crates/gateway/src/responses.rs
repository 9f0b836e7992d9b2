//! OpenAI Responses (`POST /v1/responses`): `input` (a string or message / function-call
//! items), `instructions`, function `tools`, `max_output_tokens`, `text.format`.
//!
//! The request becomes one canonical chat request, so it reaches every provider format; the
//! answer comes back as a `response` object, or streamed as the Responses event sequence
//! (`response.created`, `response.in_progress`, `response.output_item.added`,
//! `response.content_part.added`, `response.output_text.delta`, ..., `response.completed`).
//! Keyway stores no responses: `previous_response_id` and `store: true` are refused.

use crate::completions::{frame, now};
use crate::error::GatewayError;
use bytes::Bytes;
use keyway_providers::canonical::{
    ApiError, ContentPart, FinishReason, ImageSource, Message, ResponseFormat, StreamEvent,
    ToolCall, ToolChoice, ToolDefinition, Usage,
};
use keyway_providers::{ChatRequest, ChatResponse};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRequest {
    model: String,
    input: Value,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default)]
    tools: Option<Vec<Value>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    max_output_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    text: Option<WireText>,
    #[serde(default)]
    store: Option<bool>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireText {
    #[serde(default)]
    format: Option<WireFormat>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum WireFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        schema: Value,
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        strict: Option<bool>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTool {
    #[serde(rename = "type")]
    _kind: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
    #[serde(default)]
    strict: Option<bool>,
}

/// What a `response` object repeats back from the request.
#[derive(Debug, Clone, Default)]
pub struct Echo {
    id: String,
    instructions: Option<String>,
    max_output_tokens: Option<u32>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    tools: Vec<Value>,
    tool_choice: Value,
    text: Value,
    user: Option<String>,
    metadata: BTreeMap<String, String>,
    parallel_tool_calls: bool,
}

fn bad(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::bad_request(message, Some(param))
}

/// Parses a Responses body into the canonical request and what the answer echoes back.
pub fn parse_request(body: &[u8], request_id: &str) -> Result<(ChatRequest, Echo), GatewayError> {
    let wire: WireRequest = serde_json::from_slice(body).map_err(|e| {
        GatewayError::bad_request(format!("invalid OpenAI request body: {e}"), None)
    })?;
    if wire.store == Some(true) {
        return Err(bad(
            "Keyway does not store responses: send `store: false` or leave it out.",
            "store",
        ));
    }
    if wire.parallel_tool_calls == Some(false) {
        return Err(bad(
            "`parallel_tool_calls: false` is not supported.",
            "parallel_tool_calls",
        ));
    }
    let mut messages = Vec::new();
    if let Some(instructions) = &wire.instructions {
        messages.push(Message::System {
            content: vec![ContentPart::Text(instructions.clone())],
        });
    }
    parse_input(wire.input, &mut messages)?;

    let mut tools = Vec::new();
    let mut tools_echo = Vec::new();
    for (i, t) in wire.tools.unwrap_or_default().into_iter().enumerate() {
        let param = format!("tools[{i}]");
        let kind = t.get("type").and_then(Value::as_str).unwrap_or_default();
        if kind != "function" {
            return Err(bad(
                format!("`{param}.type` `{kind}` is not supported, only `function`."),
                &param,
            ));
        }
        let tool: WireTool = serde_json::from_value(t)
            .map_err(|e| bad(format!("invalid `{param}`: {e}"), &param))?;
        let parameters = tool
            .parameters
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        tools_echo.push(json!({
            "type": "function", "name": tool.name, "description": tool.description,
            "parameters": parameters, "strict": tool.strict.unwrap_or(true),
        }));
        tools.push(ToolDefinition {
            name: tool.name,
            description: tool.description,
            parameters,
        });
    }
    let tool_choice = wire
        .tool_choice
        .clone()
        .map(parse_tool_choice)
        .transpose()?;
    let (response_format, text_echo) = match wire.text.and_then(|t| t.format) {
        None | Some(WireFormat::Text) => (None, json!({"format": {"type": "text"}})),
        Some(WireFormat::JsonObject) => (
            Some(ResponseFormat::JsonObject),
            json!({"format": {"type": "json_object"}}),
        ),
        Some(WireFormat::JsonSchema {
            name,
            schema,
            description,
            strict,
        }) => {
            let echo = json!({"format": {"type": "json_schema", "name": name, "schema": schema,
                "description": description, "strict": strict}});
            (
                Some(ResponseFormat::JsonSchema {
                    name,
                    description,
                    schema,
                    strict,
                }),
                echo,
            )
        }
    };
    let stream = wire.stream.unwrap_or(false);
    let metadata = wire.metadata.unwrap_or_default();
    let echo = Echo {
        id: format!("resp_{}", request_id.replace('-', "")),
        instructions: wire.instructions,
        max_output_tokens: wire.max_output_tokens,
        temperature: wire.temperature,
        top_p: wire.top_p,
        tools: tools_echo,
        tool_choice: wire.tool_choice.unwrap_or_else(|| json!("auto")),
        text: text_echo,
        user: wire.user.clone(),
        metadata: metadata.clone(),
        parallel_tool_calls: true,
    };
    let request = ChatRequest {
        model: wire.model,
        messages,
        tools,
        tool_choice,
        temperature: wire.temperature,
        top_p: wire.top_p,
        max_tokens: wire.max_output_tokens,
        response_format,
        stream,
        // The Responses stream always ends with the usage in `response.completed`.
        stream_usage: stream,
        user: wire.user,
        metadata,
        ..Default::default()
    };
    Ok((request, echo))
}

fn parse_tool_choice(v: Value) -> Result<ToolChoice, GatewayError> {
    match &v {
        Value::String(s) if s == "auto" => return Ok(ToolChoice::Auto),
        Value::String(s) if s == "none" => return Ok(ToolChoice::None),
        Value::String(s) if s == "required" => return Ok(ToolChoice::Required),
        Value::Object(o) if o.get("type") == Some(&json!("function")) => {
            if let Some(Value::String(name)) = o.get("name") {
                return Ok(ToolChoice::Tool(name.clone()));
            }
        }
        _ => {}
    }
    Err(bad(
        format!(
            "`tool_choice` must be \"auto\", \"none\", \"required\" or {{\"type\":\"function\",\"name\":...}}, got {v}"
        ),
        "tool_choice",
    ))
}

fn parse_input(input: Value, messages: &mut Vec<Message>) -> Result<(), GatewayError> {
    let items = match input {
        Value::String(s) => {
            messages.push(Message::User {
                content: vec![ContentPart::Text(s)],
            });
            return Ok(());
        }
        Value::Array(items) => items,
        _ => {
            return Err(bad(
                "`input` must be a string or an array of input items.",
                "input",
            ));
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        let param = format!("input[{i}]");
        let Value::Object(mut item) = item else {
            return Err(bad(format!("`{param}` must be an object."), &param));
        };
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message")
            .to_owned();
        match kind.as_str() {
            "message" => {
                let role = take_str(&mut item, "role", &param)?;
                let content = item.remove("content").unwrap_or(Value::Null);
                let content = parse_content(content, &format!("{param}.content"))?;
                messages.push(match role.as_str() {
                    "system" | "developer" => {
                        if content.iter().any(|p| !matches!(p, ContentPart::Text(_))) {
                            return Err(bad(
                                format!("`{param}`: system messages take text only."),
                                &param,
                            ));
                        }
                        Message::System { content }
                    }
                    "user" => Message::User { content },
                    "assistant" => Message::Assistant {
                        content,
                        tool_calls: Vec::new(),
                    },
                    other => {
                        return Err(bad(
                            format!("`{param}.role` `{other}` is not one of user, assistant, system, developer."),
                            &param,
                        ));
                    }
                });
            }
            "function_call" => {
                let call = ToolCall {
                    id: take_str(&mut item, "call_id", &param)?,
                    name: take_str(&mut item, "name", &param)?,
                    arguments: take_str(&mut item, "arguments", &param)?,
                };
                // Consecutive calls (and calls after assistant text) form one assistant turn.
                match messages.last_mut() {
                    Some(Message::Assistant { tool_calls, .. }) => tool_calls.push(call),
                    _ => messages.push(Message::Assistant {
                        content: Vec::new(),
                        tool_calls: vec![call],
                    }),
                }
            }
            "function_call_output" => {
                let call_id = take_str(&mut item, "call_id", &param)?;
                let output = item.remove("output").unwrap_or(Value::Null);
                let content = parse_content(output, &format!("{param}.output"))?;
                messages.push(Message::Tool {
                    tool_call_id: call_id,
                    content,
                    is_error: false,
                });
            }
            other => {
                return Err(bad(
                    format!(
                        "`{param}.type` `{other}` is not supported (use message, function_call or function_call_output items)."
                    ),
                    &param,
                ));
            }
        }
    }
    Ok(())
}

fn take_str(
    item: &mut Map<String, Value>,
    field: &str,
    param: &str,
) -> Result<String, GatewayError> {
    match item.remove(field) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(bad(
            format!("`{param}.{field}` is required and must be a string."),
            param,
        )),
    }
}

fn parse_content(content: Value, param: &str) -> Result<Vec<ContentPart>, GatewayError> {
    let parts = match content {
        Value::String(s) => return Ok(vec![ContentPart::Text(s)]),
        Value::Array(parts) => parts,
        _ => {
            return Err(bad(
                format!("`{param}` must be a string or an array of content parts."),
                param,
            ));
        }
    };
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.into_iter().enumerate() {
        let field = format!("{param}[{i}]");
        let kind = part.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "input_text" | "output_text" => match part.get("text") {
                Some(Value::String(t)) => out.push(ContentPart::Text(t.clone())),
                _ => return Err(bad(format!("`{field}.text` must be a string."), &field)),
            },
            "input_image" => match part.get("image_url") {
                Some(Value::String(url)) => out.push(ContentPart::Image(
                    ImageSource::from_url(url, &field).map_err(|e| bad(e.to_string(), &field))?,
                )),
                _ => {
                    return Err(bad(
                        format!("`{field}`: only images given by `image_url` are supported."),
                        &field,
                    ));
                }
            },
            other => {
                return Err(bad(
                    format!(
                        "`{field}.type` `{other}` is not supported (input_text, output_text, input_image)."
                    ),
                    &field,
                ));
            }
        }
    }
    Ok(out)
}

fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_read_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens + u.output_tokens,
    })
}

/// `status` and `incomplete_details` for a finish reason; `None` for an upstream error.
fn status(reason: Option<FinishReason>) -> Option<(&'static str, Value)> {
    match reason {
        None | Some(FinishReason::Stop | FinishReason::ToolCalls) => {
            Some(("completed", Value::Null))
        }
        Some(FinishReason::Length) => Some(("incomplete", json!({"reason": "max_output_tokens"}))),
        Some(FinishReason::ContentFilter) => {
            Some(("incomplete", json!({"reason": "content_filter"})))
        }
        Some(FinishReason::Error) => None,
    }
}

impl Echo {
    /// The `response` object around `output`.
    fn response(
        &self,
        model: &str,
        created_at: u64,
        (status, incomplete, error): (&str, Value, Value),
        output: Vec<Value>,
        usage: Option<&Usage>,
    ) -> Value {
        json!({
            "id": self.id,
            "object": "response",
            "created_at": created_at,
            "status": status,
            "error": error,
            "incomplete_details": incomplete,
            "instructions": self.instructions,
            "max_output_tokens": self.max_output_tokens,
            "model": model,
            "output": output,
            "parallel_tool_calls": self.parallel_tool_calls,
            "previous_response_id": null,
            "reasoning": {"effort": null, "summary": null},
            "store": false,
            "temperature": self.temperature,
            "text": self.text,
            "tool_choice": self.tool_choice,
            "tools": self.tools,
            "top_p": self.top_p,
            "truncation": "disabled",
            "usage": usage.map(usage_json),
            "user": self.user,
            "metadata": self.metadata,
        })
    }

    fn item_id(&self, prefix: &str, n: usize) -> String {
        let base = self.id.trim_start_matches("resp_");
        format!("{prefix}_{base}{n}")
    }
}

fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "type": "message", "id": id, "status": status, "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    })
}

fn function_item(id: &str, call: &ToolCall, status: &str) -> Value {
    json!({
        "type": "function_call", "id": id, "call_id": call.id, "name": call.name,
        "arguments": call.arguments, "status": status,
    })
}

/// Renders a canonical answer as a `response` object (the first choice: Responses has no `n`).
pub fn build_response(resp: &ChatResponse, echo: &Echo) -> Result<Bytes, GatewayError> {
    let choice = resp.choices.first().cloned().unwrap_or_default();
    let (status, incomplete) = status(choice.finish_reason).ok_or_else(|| {
        GatewayError::upstream(
            actix_web::http::StatusCode::BAD_GATEWAY,
            "upstream_invalid_response",
            "The upstream model stopped with an error.",
        )
    })?;
    let mut output = Vec::new();
    let text = choice.text.unwrap_or_default();
    if !text.is_empty() || choice.tool_calls.is_empty() {
        output.push(message_item(&echo.item_id("msg", 0), &text, "completed"));
    }
    for (i, call) in choice.tool_calls.iter().enumerate() {
        output.push(function_item(&echo.item_id("fc", i + 1), call, "completed"));
    }
    let body = echo.response(
        &resp.model,
        resp.created.unwrap_or_else(now),
        (status, incomplete, Value::Null),
        output,
        resp.usage.as_ref(),
    );
    Ok(Bytes::from(body.to_string()))
}

/// One output item being streamed.
#[derive(Debug)]
enum Item {
    Message {
        id: String,
        text: String,
        done: bool,
    },
    Call {
        id: String,
        tool_index: u32,
        call: ToolCall,
        done: bool,
    },
}

/// Writes canonical stream events as the Responses SSE event sequence. Every event carries a
/// `sequence_number`; an upstream failure ends with an `error` event and `response.failed`.
#[derive(Debug)]
pub struct ResponsesStreamWriter {
    echo: Echo,
    model: String,
    created_at: u64,
    sequence: u64,
    started: bool,
    items: Vec<Item>,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
    ended: bool,
}

impl ResponsesStreamWriter {
    /// A writer for the response `echo` describes.
    pub fn new(echo: Echo) -> Self {
        Self {
            echo,
            model: String::new(),
            created_at: now(),
            sequence: 0,
            started: false,
            items: Vec::new(),
            usage: None,
            finish: None,
            ended: false,
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, kind: &str, mut data: Value) {
        if let Value::Object(map) = &mut data {
            map.insert("type".to_owned(), json!(kind));
            map.insert("sequence_number".to_owned(), json!(self.sequence));
        }
        self.sequence += 1;
        frame(out, Some(kind), &data.to_string());
    }

    fn output(&self) -> Vec<Value> {
        self.items
            .iter()
            .map(|item| match item {
                Item::Message { id, text, done } => {
                    message_item(id, text, if *done { "completed" } else { "in_progress" })
                }
                Item::Call { id, call, done, .. } => {
                    function_item(id, call, if *done { "completed" } else { "in_progress" })
                }
            })
            .collect()
    }

    fn snapshot(&self, status: &str, incomplete: Value, error: Value) -> Value {
        self.echo.response(
            &self.model,
            self.created_at,
            (status, incomplete, error),
            self.output(),
            self.usage.as_ref(),
        )
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        let response = self.snapshot("in_progress", Value::Null, Value::Null);
        self.emit(out, "response.created", json!({"response": response}));
        self.emit(out, "response.in_progress", json!({"response": response}));
    }

    /// Closes every open item, in order.
    fn close_items(&mut self, out: &mut Vec<u8>) {
        for i in 0..self.items.len() {
            let event = match &mut self.items[i] {
                Item::Message { done: true, .. } | Item::Call { done: true, .. } => continue,
                Item::Message { id, text, done } => {
                    *done = true;
                    (id.clone(), Some(text.clone()), None)
                }
                Item::Call { id, call, done, .. } => {
                    *done = true;
                    (id.clone(), None, Some(call.clone()))
                }
            };
            match event {
                (id, Some(text), _) => {
                    let part = json!({"type": "output_text", "text": text, "annotations": []});
                    self.emit(
                        out,
                        "response.output_text.done",
                        json!({"item_id": id,
                        "output_index": i, "content_index": 0, "text": text, "logprobs": []}),
                    );
                    self.emit(
                        out,
                        "response.content_part.done",
                        json!({"item_id": id,
                        "output_index": i, "content_index": 0, "part": part}),
                    );
                    let item = message_item(&id, &text, "completed");
                    self.emit(
                        out,
                        "response.output_item.done",
                        json!({"output_index": i, "item": item}),
                    );
                }
                (id, None, Some(call)) => {
                    self.emit(
                        out,
                        "response.function_call_arguments.done",
                        json!({"item_id": id,
                        "output_index": i, "name": call.name, "arguments": call.arguments}),
                    );
                    let item = function_item(&id, &call, "completed");
                    self.emit(
                        out,
                        "response.output_item.done",
                        json!({"output_index": i, "item": item}),
                    );
                }
                _ => {}
            }
        }
    }

    fn fail(&mut self, out: &mut Vec<u8>, e: &ApiError) {
        self.start(out);
        let code = e.code.clone().unwrap_or_else(|| "server_error".to_owned());
        self.emit(
            out,
            "error",
            json!({"code": code, "message": e.message, "param": null}),
        );
        let error = json!({"code": code, "message": e.message});
        let response = self.snapshot("failed", Value::Null, error);
        self.emit(out, "response.failed", json!({"response": response}));
        self.ended = true;
    }

    /// Renders one event (possibly as nothing).
    pub fn write(&mut self, event: &StreamEvent) -> Bytes {
        let mut out = Vec::new();
        if self.ended {
            return Bytes::new();
        }
        match event {
            StreamEvent::MessageStart { model, created, .. } => {
                self.model.clone_from(model);
                if let Some(c) = created {
                    self.created_at = *c;
                }
                self.start(&mut out);
            }
            StreamEvent::TextDelta { choice: 0, text } => {
                self.start(&mut out);
                let open = matches!(self.items.last(), Some(Item::Message { done: false, .. }));
                if !open {
                    self.close_items(&mut out);
                    let id = self.echo.item_id("msg", self.items.len());
                    let index = self.items.len();
                    self.items.push(Item::Message {
                        id: id.clone(),
                        text: String::new(),
                        done: false,
                    });
                    let item = json!({"type": "message", "id": id, "status": "in_progress",
                        "role": "assistant", "content": []});
                    self.emit(
                        &mut out,
                        "response.output_item.added",
                        json!({"output_index": index, "item": item}),
                    );
                    self.emit(
                        &mut out,
                        "response.content_part.added",
                        json!({"item_id": id,
                        "output_index": index, "content_index": 0,
                        "part": {"type": "output_text", "text": "", "annotations": []}}),
                    );
                }
                let index = self.items.len() - 1;
                let mut item_id = String::new();
                if let Some(Item::Message { id, text: all, .. }) = self.items.last_mut() {
                    all.push_str(text);
                    item_id.clone_from(id);
                }
                self.emit(
                    &mut out,
                    "response.output_text.delta",
                    json!({"item_id": item_id,
                    "output_index": index, "content_index": 0, "delta": text, "logprobs": []}),
                );
            }
            StreamEvent::ToolCallStart {
                choice: 0,
                index,
                id,
                name,
            } => {
                self.start(&mut out);
                // Text before a call is complete once the call starts.
                if let Some(Item::Message { .. }) = self.items.last() {
                    self.close_items(&mut out);
                }
                let item_id = self.echo.item_id("fc", self.items.len());
                let call = ToolCall {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                };
                let item = function_item(&item_id, &call, "in_progress");
                let output_index = self.items.len();
                self.items.push(Item::Call {
                    id: item_id,
                    tool_index: *index,
                    call,
                    done: false,
                });
                self.emit(
                    &mut out,
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": item}),
                );
            }
            StreamEvent::ToolCallDelta {
                choice: 0,
                index,
                arguments,
            } => {
                let found = self
                    .items
                    .iter_mut()
                    .enumerate()
                    .find_map(|(i, item)| match item {
                        Item::Call {
                            id,
                            tool_index,
                            call,
                            done: false,
                        } if tool_index == index => {
                            call.arguments.push_str(arguments);
                            Some((i, id.clone()))
                        }
                        _ => None,
                    });
                if let Some((output_index, item_id)) = found {
                    self.emit(&mut out, "response.function_call_arguments.delta",
                        json!({"item_id": item_id, "output_index": output_index, "delta": arguments}));
                }
            }
            // Responses has no `n`: only the first choice is rendered.
            StreamEvent::TextDelta { .. }
            | StreamEvent::ToolCallStart { .. }
            | StreamEvent::ToolCallDelta { .. } => {}
            StreamEvent::Finish {
                choice: 0, reason, ..
            } => {
                self.finish = Some(*reason);
                if *reason == FinishReason::Error {
                    self.fail(
                        &mut out,
                        &ApiError {
                            kind: keyway_providers::canonical::ErrorKind::BadGateway,
                            message: "The upstream model stopped with an error.".to_owned(),
                            code: Some("upstream_error".to_owned()),
                        },
                    );
                } else {
                    self.start(&mut out);
                    self.close_items(&mut out);
                }
            }
            StreamEvent::Finish { .. } => {}
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Error(e) => self.fail(&mut out, e),
            StreamEvent::Done => {
                self.start(&mut out);
                self.close_items(&mut out);
                let (status, incomplete) =
                    status(self.finish).unwrap_or(("completed", Value::Null));
                let response = self.snapshot(status, incomplete, Value::Null);
                let kind = if status == "completed" {
                    "response.completed"
                } else {
                    "response.incomplete"
                };
                self.emit(&mut out, kind, json!({"response": response}));
                self.ended = true;
            }
        }
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_items_become_a_conversation() {
        let body = json!({
            "model": "m",
            "instructions": "be brief",
            "input": [
                {"role": "user", "content": "weather?"},
                {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "thanks"}]}
            ],
            "tools": [{"type": "function", "name": "get", "parameters": {"type": "object"}}],
            "max_output_tokens": 9
        });
        let (req, echo) = parse_request(body.to_string().as_bytes(), "0190-ab").unwrap();
        assert_eq!(req.messages.len(), 5);
        assert!(matches!(&req.messages[0], Message::System { .. }));
        assert!(
            matches!(&req.messages[2], Message::Assistant { tool_calls, .. } if tool_calls[0].id == "c1")
        );
        assert!(
            matches!(&req.messages[3], Message::Tool { tool_call_id, .. } if tool_call_id == "c1")
        );
        assert_eq!(req.max_tokens, Some(9));
        assert_eq!(req.tools[0].name, "get");
        assert_eq!(echo.id, "resp_0190ab");
    }

    #[test]
    fn unsupported_input_is_refused_naming_the_field() {
        let err = parse_request(
            br#"{"model":"m","input":"x","previous_response_id":"resp_1"}"#,
            "r",
        )
        .unwrap_err();
        assert_eq!(err.status(), 400);
        let err = parse_request(
            br#"{"model":"m","input":[{"type":"reasoning","summary":[]}]}"#,
            "r",
        )
        .unwrap_err();
        assert_eq!(err.status(), 400);
        let err = parse_request(
            br#"{"model":"m","input":"x","tools":[{"type":"web_search"}]}"#,
            "r",
        )
        .unwrap_err();
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn stream_follows_the_responses_event_sequence() {
        let mut w = ResponsesStreamWriter::new(Echo {
            id: "resp_x".into(),
            ..Default::default()
        });
        let mut text = String::new();
        for event in [
            StreamEvent::MessageStart {
                id: "u".into(),
                model: "m".into(),
                created: None,
            },
            StreamEvent::TextDelta {
                choice: 0,
                text: "hi ".into(),
            },
            StreamEvent::TextDelta {
                choice: 0,
                text: "there".into(),
            },
            StreamEvent::Finish {
                choice: 0,
                reason: FinishReason::Stop,
                stop_sequence: None,
            },
            StreamEvent::Usage(Usage {
                input_tokens: 4,
                output_tokens: 2,
                ..Default::default()
            }),
            StreamEvent::Done,
        ] {
            text.push_str(std::str::from_utf8(&w.write(&event)).unwrap());
        }
        let kinds: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        let last: Value = serde_json::from_str(
            text.lines()
                .rev()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(last["sequence_number"], 9);
        assert_eq!(
            last["response"]["output"][0]["content"][0]["text"],
            "hi there"
        );
        assert_eq!(last["response"]["usage"]["total_tokens"], 6);
    }
}

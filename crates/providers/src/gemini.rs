//! Google Gemini `generateContent` / `streamGenerateContent?alt=sse`: requests, responses,
//! stream chunks (each SSE `data` is a whole `GenerateContentResponse`) and the error body, to
//! and from the canonical types. The model and the stream flag live in the URL, not the body
//! (see [`request_path`]). JSON field names are camelCase, as the Gemini SDKs send them.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::canonical::{
    ApiError, ChatRequest, ChatResponse, Choice, ContentPart, ErrorKind, FinishReason, ImageSource,
    Message, ResponseFormat, StreamEvent, ToolCall, ToolChoice, ToolDefinition, Usage, text_only,
};
use crate::sigv4::uri_encode;
use crate::sse::{SseEvent, frame};
use crate::{Format, TranslateError};

const FORMAT: Format = Format::Gemini;

/// The upstream path for `model`: `generateContent`, or `streamGenerateContent?alt=sse`
/// when streaming (SSE framing; without `alt=sse` Gemini streams a JSON array).
pub fn request_path(model: &str, stream: bool) -> String {
    // One path segment whatever the name holds: no `/`, `?` or `..` reaches the URL as such.
    let model = uri_encode(model, false);
    if stream {
        format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("/v1beta/models/{model}:generateContent")
    }
}

// ---------------------------------------------------------------- wire types

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireRequest {
    contents: Vec<WireContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    system_instruction: Option<WireContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<WireTool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tool_config: Option<WireToolConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generation_config: Option<WireGenerationConfig>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    parts: Vec<WirePart>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WirePart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inline_data: Option<WireBlob>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    function_call: Option<WireFunctionCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    function_response: Option<WireFunctionResponse>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireBlob {
    mime_type: String,
    data: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct WireFunctionCall {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    args: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireFunctionResponse {
    name: String,
    response: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireTool {
    function_declarations: Vec<WireFunctionDeclaration>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireFunctionDeclaration {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parameters: Option<Value>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireToolConfig {
    function_calling_config: WireFunctionCallingConfig,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireFunctionCallingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    allowed_function_names: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireGenerationConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stop_sequences: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    candidate_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response_mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response_schema: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireResponse {
    #[serde(default)]
    candidates: Vec<WireCandidate>,
    #[serde(default)]
    usage_metadata: Option<WireUsage>,
    #[serde(default)]
    model_version: Option<String>,
    #[serde(default)]
    response_id: Option<String>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    error: Option<WireErrorDetail>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCandidate {
    #[serde(default)]
    content: Option<RespContent>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    index: u32,
}

#[derive(Debug, Deserialize)]
struct RespContent {
    #[serde(default)]
    parts: Vec<RespPart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RespPart {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thought: Option<bool>,
    #[serde(default)]
    function_call: Option<WireFunctionCall>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireUsage {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    cached_content_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
}

#[derive(Debug, Deserialize)]
struct WireErrorBody {
    error: WireErrorDetail,
}

#[derive(Debug, Deserialize)]
struct WireErrorDetail {
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: Option<String>,
}

// ---------------------------------------------------------------- requests

/// Parses a caller's `generateContent` body; `model` and `stream` come from the URL.
/// Function calls without an `id` get `call_<turn>_<n>` ids, and each function response is
/// paired with the earliest unanswered call of the same name.
pub fn parse_request(
    body: &[u8],
    model: &str,
    stream: bool,
) -> Result<ChatRequest, TranslateError> {
    let wire: WireRequest =
        serde_json::from_slice(body).map_err(|e| TranslateError::body(FORMAT, e))?;
    let mut messages = Vec::new();
    if let Some(system) = wire.system_instruction {
        let mut content = Vec::new();
        for (j, p) in system.parts.into_iter().enumerate() {
            match p.text {
                Some(t)
                    if p.inline_data.is_none()
                        && p.function_call.is_none()
                        && p.function_response.is_none() =>
                {
                    content.push(ContentPart::Text(t));
                }
                _ => {
                    return Err(TranslateError::field(
                        format!("systemInstruction.parts[{j}]"),
                        "system instructions take text only",
                    ));
                }
            }
        }
        messages.push(Message::System { content });
    }
    let mut pending: Vec<(String, String)> = Vec::new();
    for (i, c) in wire.contents.into_iter().enumerate() {
        let is_model = match c.role.as_deref() {
            None | Some("user") => false,
            Some("model") => true,
            Some(other) => {
                return Err(TranslateError::field(
                    format!("contents[{i}].role"),
                    format!("`{other}` is not `user` or `model`"),
                ));
            }
        };
        let mut content = Vec::new();
        let mut tool_calls = Vec::new();
        for (j, p) in c.parts.into_iter().enumerate() {
            let field = format!("contents[{i}].parts[{j}]");
            let set = usize::from(p.text.is_some())
                + usize::from(p.inline_data.is_some())
                + usize::from(p.function_call.is_some())
                + usize::from(p.function_response.is_some());
            if set != 1 {
                return Err(TranslateError::field(
                    field,
                    "a part holds exactly one of text, inlineData, functionCall, functionResponse",
                ));
            }
            if let Some(t) = p.text {
                content.push(ContentPart::Text(t));
            } else if let Some(blob) = p.inline_data {
                content.push(ContentPart::Image(ImageSource::base64(
                    &blob.mime_type,
                    &blob.data,
                    &format!("{field}.inlineData"),
                )?));
            } else if let Some(call) = p.function_call {
                if !is_model {
                    return Err(TranslateError::field(
                        field,
                        "functionCall belongs to a model turn",
                    ));
                }
                let id = call.id.unwrap_or_else(|| format!("call_{i}_{j}"));
                pending.push((call.name.clone(), id.clone()));
                tool_calls.push(ToolCall {
                    id,
                    name: call.name,
                    arguments: call.args.unwrap_or_else(|| json!({})).to_string(),
                });
            } else if let Some(resp) = p.function_response {
                if is_model {
                    return Err(TranslateError::field(
                        field,
                        "functionResponse belongs to a user turn",
                    ));
                }
                let pos = pending
                    .iter()
                    .position(|(name, id)| match &resp.id {
                        Some(rid) => rid == id,
                        None => *name == resp.name,
                    })
                    .ok_or_else(|| {
                        TranslateError::field(
                            &field,
                            format!(
                                "functionResponse `{}` answers no earlier functionCall",
                                resp.name
                            ),
                        )
                    })?;
                let (_, id) = pending.remove(pos);
                let (text, is_error) = response_to_text(resp.response);
                messages.push(Message::Tool {
                    tool_call_id: id,
                    content: vec![ContentPart::Text(text)],
                    is_error,
                });
            }
        }
        if is_model {
            messages.push(Message::Assistant {
                content,
                tool_calls,
            });
        } else if !content.is_empty() {
            messages.push(Message::User { content });
        }
    }
    let tools = wire
        .tools
        .unwrap_or_default()
        .into_iter()
        .flat_map(|t| t.function_declarations)
        .map(|f| ToolDefinition {
            name: f.name,
            description: f.description,
            parameters: f.parameters.unwrap_or_else(|| json!({"type": "object"})),
        })
        .collect();
    let tool_choice = wire
        .tool_config
        .map(|c| parse_tool_choice(c.function_calling_config))
        .transpose()?;
    let g = wire.generation_config.unwrap_or_default();
    let response_format = match (g.response_mime_type.as_deref(), g.response_schema) {
        (None, None) => None,
        (Some("text/plain"), None) => Some(ResponseFormat::Text),
        (Some("application/json"), None) => Some(ResponseFormat::JsonObject),
        (Some("application/json"), Some(schema)) => Some(ResponseFormat::JsonSchema {
            name: "response".to_owned(),
            description: None,
            schema,
            strict: None,
        }),
        (mime, _) => {
            return Err(TranslateError::field(
                "generationConfig.responseMimeType",
                format!(
                    "{mime:?} is not supported (text/plain, or application/json with an optional responseSchema)"
                ),
            ));
        }
    };
    Ok(ChatRequest {
        model: model.to_owned(),
        messages,
        tools,
        tool_choice,
        temperature: g.temperature,
        top_p: g.top_p,
        max_tokens: g.max_output_tokens,
        stop: g.stop_sequences.unwrap_or_default(),
        n: g.candidate_count,
        seed: g.seed,
        response_format,
        stream,
        stream_usage: false,
        user: None,
        metadata: Default::default(),
    })
}

fn parse_tool_choice(c: WireFunctionCallingConfig) -> Result<ToolChoice, TranslateError> {
    let names = c.allowed_function_names.unwrap_or_default();
    match (c.mode.as_deref().unwrap_or("AUTO"), names.as_slice()) {
        ("AUTO", []) => Ok(ToolChoice::Auto),
        ("NONE", []) => Ok(ToolChoice::None),
        ("ANY", []) => Ok(ToolChoice::Required),
        ("ANY", [name]) => Ok(ToolChoice::Tool(name.clone())),
        (mode, names) => Err(TranslateError::field(
            "toolConfig.functionCallingConfig",
            format!(
                "mode {mode} with {} allowed function names is not supported (AUTO, NONE, ANY, or ANY with one name)",
                names.len()
            ),
        )),
    }
}

/// A function response object as tool-result text: `{"content": "..."}` and
/// `{"error": "..."}` unwrap to their string, anything else stays JSON text.
fn response_to_text(v: Value) -> (String, bool) {
    if let Value::Object(o) = &v
        && o.len() == 1
    {
        if let Some(Value::String(s)) = o.get("content") {
            return (s.clone(), false);
        }
        if let Some(Value::String(s)) = o.get("error") {
            return (s.clone(), true);
        }
    }
    (v.to_string(), false)
}

fn text_to_response(text: String, is_error: bool) -> Value {
    if is_error {
        return json!({"error": text});
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({"content": text}),
    }
}

/// Builds the upstream `generateContent` body (send it to [`request_path`]). Refused: image
/// URLs (Gemini takes inline data or its own file URIs). `user` is not sent (no such field).
pub fn build_request(req: &ChatRequest) -> Result<Bytes, TranslateError> {
    let mut system = Vec::new();
    let mut contents: Vec<WireContent> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        let (role, parts) = match m {
            Message::System { content } => {
                if text_only(content).is_none() {
                    return Err(TranslateError::field(
                        format!("messages[{i}]"),
                        "system messages take text only",
                    ));
                }
                system.extend(content_to_parts(content)?);
                continue;
            }
            Message::User { content } => ("user", content_to_parts(content)?),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut parts = content_to_parts(content)?;
                for (j, c) in tool_calls.iter().enumerate() {
                    let args = if c.arguments.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&c.arguments).map_err(|e| {
                            TranslateError::field(
                                format!("messages[{i}].tool_calls[{j}].arguments"),
                                format!("arguments are not JSON: {e}"),
                            )
                        })?
                    };
                    parts.push(WirePart {
                        function_call: Some(WireFunctionCall {
                            name: c.name.clone(),
                            args: Some(args),
                            id: None,
                        }),
                        ..Default::default()
                    });
                }
                ("model", parts)
            }
            Message::Tool {
                tool_call_id,
                content,
                is_error,
            } => {
                let name = req
                    .messages
                    .iter()
                    .take(i)
                    .filter_map(|m| match m {
                        Message::Assistant { tool_calls, .. } => Some(tool_calls),
                        _ => None,
                    })
                    .flatten()
                    .find(|c| c.id == *tool_call_id)
                    .map(|c| c.name.clone())
                    .ok_or_else(|| {
                        TranslateError::field(
                            format!("messages[{i}].tool_call_id"),
                            format!("`{tool_call_id}` matches no earlier tool call"),
                        )
                    })?;
                let text = text_only(content)
                    .ok_or_else(|| TranslateError::unsupported(FORMAT, "images in tool results"))?;
                let part = WirePart {
                    function_response: Some(WireFunctionResponse {
                        name,
                        response: text_to_response(text, *is_error),
                        id: None,
                    }),
                    ..Default::default()
                };
                ("user", vec![part])
            }
        };
        match contents.last_mut() {
            Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
            _ => contents.push(WireContent {
                role: Some(role.to_owned()),
                parts,
            }),
        }
    }
    let (response_mime_type, response_schema) = match &req.response_format {
        None => (None, None),
        Some(ResponseFormat::Text) => (Some("text/plain".to_owned()), None),
        Some(ResponseFormat::JsonObject) => (Some("application/json".to_owned()), None),
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            (Some("application/json".to_owned()), Some(schema.clone()))
        }
    };
    let g = WireGenerationConfig {
        temperature: req.temperature,
        top_p: req.top_p,
        max_output_tokens: req.max_tokens,
        stop_sequences: (!req.stop.is_empty()).then(|| req.stop.clone()),
        candidate_count: req.n,
        seed: req.seed,
        response_mime_type,
        response_schema,
    };
    let has_config = serde_json::to_value(&g)
        .map(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        .unwrap_or(true);
    let wire = WireRequest {
        contents,
        system_instruction: (!system.is_empty()).then_some(WireContent {
            role: None,
            parts: system,
        }),
        tools: (!req.tools.is_empty()).then(|| {
            vec![WireTool {
                function_declarations: req
                    .tools
                    .iter()
                    .map(|t| WireFunctionDeclaration {
                        name: t.name.clone(),
                        description: t.description.clone(),
                        parameters: Some(t.parameters.clone()),
                    })
                    .collect(),
            }]
        }),
        tool_config: req.tool_choice.as_ref().map(|c| {
            let (mode, names) = match c {
                ToolChoice::Auto => ("AUTO", None),
                ToolChoice::None => ("NONE", None),
                ToolChoice::Required => ("ANY", None),
                ToolChoice::Tool(name) => ("ANY", Some(vec![name.clone()])),
            };
            WireToolConfig {
                function_calling_config: WireFunctionCallingConfig {
                    mode: Some(mode.to_owned()),
                    allowed_function_names: names,
                },
            }
        }),
        generation_config: has_config.then_some(g),
    };
    serde_json::to_vec(&wire)
        .map(Bytes::from)
        .map_err(|e| TranslateError::field("body", e))
}

fn content_to_parts(content: &[ContentPart]) -> Result<Vec<WirePart>, TranslateError> {
    content
        .iter()
        .map(|p| match p {
            ContentPart::Text(t) => Ok(WirePart {
                text: Some(t.clone()),
                ..Default::default()
            }),
            ContentPart::Image(ImageSource::Base64 { media_type, data }) => Ok(WirePart {
                inline_data: Some(WireBlob {
                    mime_type: media_type.clone(),
                    data: data.clone(),
                }),
                ..Default::default()
            }),
            ContentPart::Image(ImageSource::Url(_)) => Err(TranslateError::unsupported(
                FORMAT,
                "image URLs (send the image inline as base64 data)",
            )),
        })
        .collect()
}

// ---------------------------------------------------------------- responses

/// Parses an upstream `GenerateContentResponse`. A prompt blocked before any candidate gives
/// one choice finished with [`FinishReason::ContentFilter`].
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, TranslateError> {
    let wire: WireResponse =
        serde_json::from_slice(body).map_err(|e| TranslateError::upstream(FORMAT, e))?;
    let mut choices = Vec::new();
    for c in wire.candidates {
        let mut text: Option<String> = None;
        let mut tool_calls = Vec::new();
        for (j, p) in c
            .content
            .map(|c| c.parts)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            if p.thought == Some(true) {
                continue;
            }
            if let Some(t) = p.text {
                text.get_or_insert_with(String::new).push_str(&t);
            }
            if let Some(call) = p.function_call {
                tool_calls.push(call_from_wire(call, c.index, j));
            }
        }
        choices.push(Choice {
            index: c.index,
            finish_reason: c
                .finish_reason
                .as_deref()
                .map(|r| finish_from_wire(r, !tool_calls.is_empty())),
            text,
            tool_calls,
            stop_sequence: None,
        });
    }
    if choices.is_empty() && wire.prompt_feedback.and_then(|f| f.block_reason).is_some() {
        choices.push(Choice {
            finish_reason: Some(FinishReason::ContentFilter),
            ..Default::default()
        });
    }
    Ok(ChatResponse {
        id: wire.response_id.unwrap_or_default(),
        model: wire.model_version.unwrap_or_default(),
        created: None,
        choices,
        usage: wire.usage_metadata.map(usage_from_wire),
    })
}

fn call_from_wire(call: WireFunctionCall, choice: u32, n: usize) -> ToolCall {
    ToolCall {
        id: call.id.unwrap_or_else(|| format!("call_{choice}_{n}")),
        name: call.name,
        arguments: call.args.unwrap_or_else(|| json!({})).to_string(),
    }
}

/// Renders a canonical response as a `GenerateContentResponse` body.
pub fn build_response(resp: &ChatResponse) -> Result<Bytes, TranslateError> {
    let mut candidates = Vec::new();
    for c in &resp.choices {
        let mut parts = Vec::new();
        if let Some(t) = &c.text {
            parts.push(json!({"text": t}));
        }
        for call in &c.tool_calls {
            let args: Value = serde_json::from_str(&call.arguments).map_err(|e| {
                TranslateError::upstream(FORMAT, format!("tool call arguments: {e}"))
            })?;
            parts.push(json!({"functionCall": {"name": call.name, "args": args}}));
        }
        let mut cand = json!({"content": {"role": "model", "parts": parts}, "index": c.index});
        if let Some(r) = c.finish_reason {
            cand["finishReason"] = json!(finish_to_wire(r));
        }
        candidates.push(cand);
    }
    let mut body =
        json!({"candidates": candidates, "modelVersion": resp.model, "responseId": resp.id});
    if let Some(u) = &resp.usage {
        body["usageMetadata"] = usage_to_wire(u);
    }
    Ok(Bytes::from(body.to_string()))
}

fn finish_from_wire(s: &str, has_tool_calls: bool) -> FinishReason {
    match s {
        // Gemini reports STOP after function calls too.
        "STOP" if has_tool_calls => FinishReason::ToolCalls,
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            FinishReason::ContentFilter
        }
        _ => FinishReason::Error,
    }
}

fn finish_to_wire(r: FinishReason) -> &'static str {
    match r {
        FinishReason::Stop | FinishReason::ToolCalls => "STOP",
        FinishReason::Length => "MAX_TOKENS",
        FinishReason::ContentFilter => "SAFETY",
        FinishReason::Error => "OTHER",
    }
}

fn usage_from_wire(u: WireUsage) -> Usage {
    Usage {
        input_tokens: u.prompt_token_count,
        // Gemini counts thoughts apart from candidates; canonical output includes reasoning.
        output_tokens: u.candidates_token_count + u.thoughts_token_count,
        cached_read_tokens: u.cached_content_token_count,
        cache_write_tokens: 0,
        reasoning_tokens: u.thoughts_token_count,
    }
}

fn usage_to_wire(u: &Usage) -> Value {
    let mut v = json!({
        "promptTokenCount": u.input_tokens,
        "candidatesTokenCount": u.output_tokens.saturating_sub(u.reasoning_tokens),
        "totalTokenCount": u.input_tokens + u.output_tokens,
    });
    if u.cached_read_tokens > 0 {
        v["cachedContentTokenCount"] = json!(u.cached_read_tokens);
    }
    if u.reasoning_tokens > 0 {
        v["thoughtsTokenCount"] = json!(u.reasoning_tokens);
    }
    v
}

// ---------------------------------------------------------------- errors

fn error_json(error: &ApiError) -> Value {
    let status = match error.kind {
        ErrorKind::InvalidRequest | ErrorKind::RequestTooLarge => "INVALID_ARGUMENT",
        ErrorKind::Authentication => "UNAUTHENTICATED",
        ErrorKind::PermissionDenied => "PERMISSION_DENIED",
        ErrorKind::NotFound => "NOT_FOUND",
        ErrorKind::RateLimited => "RESOURCE_EXHAUSTED",
        ErrorKind::Server | ErrorKind::BadGateway => "INTERNAL",
        ErrorKind::Overloaded => "UNAVAILABLE",
        ErrorKind::Timeout => "DEADLINE_EXCEEDED",
    };
    json!({"error": {"code": error.kind.status(), "message": error.message, "status": status}})
}

/// The Gemini error body (`{"error":{"code","message","status"}}`) for a canonical error.
pub fn error_body(error: &ApiError) -> Bytes {
    Bytes::from(error_json(error).to_string())
}

/// Reads an upstream Gemini error body; the `status` string wins over the HTTP status.
pub fn parse_error(status: u16, body: &[u8]) -> ApiError {
    match serde_json::from_slice::<WireErrorBody>(body) {
        Ok(w) => detail_to_error(status, w.error),
        Err(_) => ApiError::unreadable(status, body),
    }
}

fn detail_to_error(status: u16, d: WireErrorDetail) -> ApiError {
    let kind = match d.status.as_deref() {
        Some("INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE") => {
            ErrorKind::InvalidRequest
        }
        Some("UNAUTHENTICATED") => ErrorKind::Authentication,
        Some("PERMISSION_DENIED") => ErrorKind::PermissionDenied,
        Some("NOT_FOUND") => ErrorKind::NotFound,
        Some("RESOURCE_EXHAUSTED") => ErrorKind::RateLimited,
        Some("UNAVAILABLE") => ErrorKind::Overloaded,
        Some("DEADLINE_EXCEEDED") => ErrorKind::Timeout,
        Some("INTERNAL" | "UNKNOWN") => ErrorKind::Server,
        _ => ErrorKind::from_status(d.code.unwrap_or(status)),
    };
    ApiError {
        kind,
        message: d.message,
        code: d.status,
    }
}

// ---------------------------------------------------------------- streams

/// Reads upstream Gemini SSE chunks into canonical events. Gemini sends whole function calls
/// (a start and one argument delta each) and has no end marker: the stream is complete when
/// it ends after a chunk with a `finishReason`.
#[derive(Debug, Default)]
pub struct GeminiStreamReader {
    started: bool,
    ended: bool,
    finished: bool,
    tool_counts: Vec<(u32, u32)>,
}

impl GeminiStreamReader {
    /// Translates one upstream SSE event.
    pub fn push(&mut self, event: &SseEvent) -> Result<Vec<StreamEvent>, TranslateError> {
        if self.ended {
            return Ok(Vec::new());
        }
        let chunk: WireResponse =
            serde_json::from_str(&event.data).map_err(|e| TranslateError::upstream(FORMAT, e))?;
        if let Some(err) = chunk.error {
            self.ended = true;
            return Ok(vec![StreamEvent::Error(detail_to_error(500, err))]);
        }
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            out.push(StreamEvent::MessageStart {
                id: chunk.response_id.unwrap_or_default(),
                model: chunk.model_version.unwrap_or_default(),
                created: None,
            });
        }
        // Usage totals already count this chunk; giving them first lets a writer put the
        // prompt size in its opening frame.
        if let Some(u) = chunk.usage_metadata {
            out.push(StreamEvent::Usage(usage_from_wire(u)));
        }
        for c in chunk.candidates {
            for p in c.content.map(|c| c.parts).unwrap_or_default() {
                if p.thought == Some(true) {
                    continue;
                }
                if let Some(text) = p.text
                    && !text.is_empty()
                {
                    out.push(StreamEvent::TextDelta {
                        choice: c.index,
                        text,
                    });
                }
                if let Some(call) = p.function_call {
                    let n = self.next_tool(c.index);
                    let call = call_from_wire(call, c.index, n as usize);
                    out.push(StreamEvent::ToolCallStart {
                        choice: c.index,
                        index: n,
                        id: call.id,
                        name: call.name,
                    });
                    out.push(StreamEvent::ToolCallDelta {
                        choice: c.index,
                        index: n,
                        arguments: call.arguments,
                    });
                }
            }
            if let Some(reason) = c.finish_reason {
                self.finished = true;
                let has_calls = self.tool_count(c.index) > 0;
                out.push(StreamEvent::Finish {
                    choice: c.index,
                    reason: finish_from_wire(&reason, has_calls),
                    stop_sequence: None,
                });
            }
        }
        if chunk.prompt_feedback.and_then(|f| f.block_reason).is_some() && !self.finished {
            self.finished = true;
            out.push(StreamEvent::Finish {
                choice: 0,
                reason: FinishReason::ContentFilter,
                stop_sequence: None,
            });
        }
        Ok(out)
    }

    /// Call at the end of the upstream body: complete if a `finishReason` was seen and no
    /// event was left half-received, otherwise the stream was cut.
    pub fn finish(&mut self, partial_event: bool) -> Vec<StreamEvent> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        if self.finished && !partial_event {
            vec![StreamEvent::Done]
        } else {
            let detail = if partial_event {
                "connection closed mid-event"
            } else {
                "no finishReason received"
            };
            vec![StreamEvent::Error(ApiError::stream_interrupted(detail))]
        }
    }

    fn tool_count(&self, choice: u32) -> u32 {
        self.tool_counts
            .iter()
            .find(|(c, _)| *c == choice)
            .map_or(0, |(_, n)| *n)
    }

    fn next_tool(&mut self, choice: u32) -> u32 {
        match self.tool_counts.iter_mut().find(|(c, _)| *c == choice) {
            Some((_, n)) => {
                *n += 1;
                *n - 1
            }
            None => {
                self.tool_counts.push((choice, 1));
                0
            }
        }
    }
}

#[derive(Debug)]
struct PendingCall {
    choice: u32,
    index: u32,
    name: String,
    arguments: String,
}

/// Writes canonical events as Gemini SSE chunks. Text goes out as it comes; tool calls are
/// held until complete (Gemini sends a whole `functionCall`); finish reasons and usage go in a
/// final chunk on [`StreamEvent::Done`]. An error ends the stream with an error object.
#[derive(Debug, Default)]
pub struct GeminiStreamWriter {
    id: String,
    model: String,
    pending: Vec<PendingCall>,
    finishes: Vec<(u32, FinishReason)>,
    usage: Option<Usage>,
    ended: bool,
}

impl GeminiStreamWriter {
    /// Renders one event (possibly as nothing while a tool call or the end is pending).
    pub fn write(&mut self, event: &StreamEvent) -> Result<Bytes, TranslateError> {
        let mut out = Vec::new();
        if self.ended {
            return Ok(Bytes::new());
        }
        match event {
            StreamEvent::MessageStart { id, model, .. } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
            }
            StreamEvent::TextDelta { choice, text } => {
                self.flush_calls(&mut out, Some(*choice))?;
                self.chunk(
                    &mut out,
                    vec![json!({"content": {"role": "model",
                    "parts": [{"text": text}]}, "index": choice})],
                    None,
                );
            }
            StreamEvent::ToolCallStart {
                choice,
                index,
                name,
                ..
            } => self.pending.push(PendingCall {
                choice: *choice,
                index: *index,
                name: name.clone(),
                arguments: String::new(),
            }),
            StreamEvent::ToolCallDelta {
                choice,
                index,
                arguments,
            } => {
                let call = self
                    .pending
                    .iter_mut()
                    .find(|p| p.choice == *choice && p.index == *index)
                    .ok_or_else(|| {
                        TranslateError::upstream(
                            FORMAT,
                            format!("arguments for unknown tool call {index}"),
                        )
                    })?;
                call.arguments.push_str(arguments);
            }
            StreamEvent::Finish { choice, reason, .. } => {
                self.flush_calls(&mut out, Some(*choice))?;
                self.finishes.push((*choice, *reason));
            }
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Error(e) => {
                frame(&mut out, None, &error_json(e).to_string());
                self.ended = true;
            }
            StreamEvent::Done => {
                self.flush_calls(&mut out, None)?;
                let candidates = self
                    .finishes
                    .iter()
                    .map(|(c, r)| {
                        json!({"content": {"role": "model", "parts": []},
                        "finishReason": finish_to_wire(*r), "index": c})
                    })
                    .collect();
                let usage = self.usage.as_ref().map(usage_to_wire);
                self.chunk(&mut out, candidates, usage);
                self.ended = true;
            }
        }
        Ok(Bytes::from(out))
    }

    fn flush_calls(
        &mut self,
        out: &mut Vec<u8>,
        choice: Option<u32>,
    ) -> Result<(), TranslateError> {
        let (ready, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| choice.is_none_or(|c| c == p.choice));
        self.pending = keep;
        for p in ready {
            let args: Value = if p.arguments.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(&p.arguments).map_err(|e| {
                    TranslateError::upstream(
                        FORMAT,
                        format!("tool call arguments are not JSON: {e}"),
                    )
                })?
            };
            self.chunk(
                out,
                vec![json!({"content": {"role": "model",
                "parts": [{"functionCall": {"name": p.name, "args": args}}]}, "index": p.choice})],
                None,
            );
        }
        Ok(())
    }

    fn chunk(&self, out: &mut Vec<u8>, candidates: Vec<Value>, usage: Option<Value>) {
        let mut body =
            json!({"candidates": candidates, "modelVersion": self.model, "responseId": self.id});
        if let Some(u) = usage {
            body["usageMetadata"] = u;
        }
        frame(out, None, &body.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons_map() {
        assert_eq!(finish_from_wire("STOP", false), FinishReason::Stop);
        assert_eq!(finish_from_wire("STOP", true), FinishReason::ToolCalls);
        assert_eq!(finish_from_wire("MAX_TOKENS", false), FinishReason::Length);
        assert_eq!(
            finish_from_wire("SAFETY", false),
            FinishReason::ContentFilter
        );
        assert_eq!(
            finish_from_wire("MALFORMED_FUNCTION_CALL", true),
            FinishReason::Error
        );
        assert_eq!(finish_to_wire(FinishReason::ToolCalls), "STOP");
        assert_eq!(finish_to_wire(FinishReason::Length), "MAX_TOKENS");
    }

    #[test]
    fn thoughts_count_as_output() {
        let u = usage_from_wire(WireUsage {
            prompt_token_count: 100,
            candidates_token_count: 20,
            cached_content_token_count: 60,
            thoughts_token_count: 30,
        });
        assert_eq!(
            (
                u.input_tokens,
                u.output_tokens,
                u.reasoning_tokens,
                u.cached_read_tokens
            ),
            (100, 50, 30, 60)
        );
        let back = usage_to_wire(&u);
        assert_eq!(back["candidatesTokenCount"], 20);
        assert_eq!(back["thoughtsTokenCount"], 30);
        assert_eq!(back["totalTokenCount"], 150);
    }

    #[test]
    fn function_response_text_round_trips() {
        for v in [
            json!({"content": "sunny"}),
            json!({"error": "boom"}),
            json!({"temp": 21}),
        ] {
            let (text, err) = response_to_text(v.clone());
            assert_eq!(text_to_response(text, err), v);
        }
    }

    #[test]
    fn error_status_wins() {
        let e = parse_error(
            400,
            br#"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert_eq!(e.message, "API key not valid.");
        let back: Value = serde_json::from_slice(&error_body(&e)).unwrap();
        assert_eq!(back["error"]["status"], "INVALID_ARGUMENT");
        assert_eq!(back["error"]["code"], 400);
    }
}

//! OpenAI's wire format: chat completions, legacy completions, embeddings, responses and models.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::behaviour::{Behaviour, MODEL_CATALOG};
use crate::reply::{Answer, Prompt, ToolDecl, content_texts, next_id, unix_now};
use crate::respond::{ApiError, Frames, Reply, execute, json_body, read_json, sse_data};
use crate::server::AppState;
use crate::stats::Surface;
use crate::synth::{self, PromptCount};

const FINGERPRINT: &str = "fp_keyway_mock";
const SSE: &str = "text/event-stream; charset=utf-8";
const DEFAULT_DIMENSIONS: u64 = 1536;
const MAX_DIMENSIONS: u64 = 3072;
/// A fixed creation time keeps the model list byte-for-byte stable.
const MODEL_CREATED: u64 = 1_700_000_000;

/// Checks `Authorization: Bearer <key>` the way OpenAI does.
fn authenticate(req: &HttpRequest) -> Result<(), ApiError> {
    let key = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if key.is_empty() {
        return Err(ApiError::new(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization \
             header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        ));
    }
    if is_invalid_key(key) {
        return Err(ApiError::new(
            401,
            format!(
                "Incorrect API key provided: {}. You can find your API key at \
                 https://platform.openai.com/account/api-keys.",
                mask(key)
            ),
        )
        .with_code("invalid_api_key"));
    }
    Ok(())
}

/// The keys every surface rejects with a 401.
pub(crate) fn is_invalid_key(key: &str) -> bool {
    key == "invalid" || key == "sk-invalid"
}

fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}***{tail}")
}

fn behaviour_for(model: Option<&str>) -> Result<Behaviour, ApiError> {
    let model = model
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ApiError::invalid("you must provide a model parameter", Some("model")))?;
    Behaviour::parse(model).map_err(|_| model_not_found(model))
}

fn model_not_found(model: &str) -> ApiError {
    ApiError::new(
        404,
        format!("The model `{model}` does not exist or you do not have access to it."),
    )
    .with_code("model_not_found")
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    })
}

fn first_function_tool<'a>(tools: Option<&'a [Value]>, nested: bool) -> Option<ToolDecl<'a>> {
    tools?.iter().find_map(|tool| {
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            return None;
        }
        // Chat completions nest the declaration under `function`; Responses does not.
        let decl = if nested { tool.get("function")? } else { tool };
        Some(ToolDecl {
            name: decl.get("name")?.as_str()?,
            schema: decl.get("parameters"),
        })
    })
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct ChatMessage {
    role: String,
    #[serde(default)]
    content: Value,
}

#[derive(Debug, Deserialize)]
struct ChatRequest {
    model: Option<String>,
    messages: Option<Vec<ChatMessage>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    tools: Option<Vec<Value>>,
}

/// `POST /v1/chat/completions`
pub(crate) async fn chat_completions(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    chat(req, payload, state, None).await
}

/// `POST /openai/deployments/{deployment}/chat/completions?api-version=...` (Azure OpenAI): the
/// deployment in the path is the model (the body's `model` is ignored, as Azure does) and the
/// key comes in the `api-key` header.
pub(crate) async fn azure_chat_completions(
    req: HttpRequest,
    deployment: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    chat(req, payload, state, Some(deployment.into_inner())).await
}

/// Checks Azure's `api-key` header and `api-version` query parameter.
fn authenticate_azure(req: &HttpRequest) -> Result<(), ApiError> {
    let key = req
        .headers()
        .get("api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if key.is_empty() || is_invalid_key(key) {
        return Err(ApiError::new(
            401,
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to \
             provide a valid key for an active subscription and use a correct regional API \
             endpoint for your resource.",
        )
        .with_code("401"));
    }
    let has_version = req.query_string().split('&').any(|p| {
        p.strip_prefix("api-version=")
            .is_some_and(|v| !v.is_empty())
    });
    if !has_version {
        return Err(ApiError::new(404, "Resource not found").with_code("404"));
    }
    Ok(())
}

async fn chat(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    deployment: Option<String>,
) -> HttpResponse {
    let mut guard = state.stats.begin(Surface::OpenAi);
    let prepared = async {
        match deployment {
            Some(_) => authenticate_azure(&req)?,
            None => authenticate(&req)?,
        }
        let mut body: ChatRequest = read_json(payload).await?;
        if let Some(deployment) = deployment {
            body.model = Some(deployment);
        }
        let behaviour = behaviour_for(body.model.as_deref())?;
        match &body.messages {
            Some(m) if !m.is_empty() => {}
            Some(_) => {
                return Err(ApiError::invalid(
                    "Invalid 'messages': empty array. Expected an array with minimum length 1.",
                    Some("messages"),
                ));
            }
            None => {
                return Err(ApiError::invalid(
                    "Missing required parameter: 'messages'.",
                    Some("messages"),
                ));
            }
        }
        Ok((body, behaviour))
    };
    match prepared.await {
        Err(e) => {
            guard.complete();
            e.respond(Surface::OpenAi)
        }
        Ok((body, behaviour)) => {
            let stream = body.stream.unwrap_or(false);
            execute(guard, Surface::OpenAi, &behaviour, stream, || {
                chat_reply(&body, &behaviour, stream)
            })
            .await
        }
    }
}

fn chat_prompt(body: &ChatRequest) -> Prompt<'_> {
    let mut prompt = Prompt::default();
    for message in body.messages.iter().flatten() {
        let texts = content_texts(&message.content);
        if message.role == "user" {
            prompt.last_user_text = texts.join("\n");
        }
        prompt.count.message(texts);
    }
    prompt.tool = first_function_tool(body.tools.as_deref(), true);
    prompt
}

fn chat_reply(body: &ChatRequest, behaviour: &Behaviour, stream: bool) -> Reply {
    let model = body.model.as_deref().unwrap_or_default();
    let prompt = chat_prompt(body);
    let prompt_tokens = prompt.count.tokens();
    let answer = Answer::decide(behaviour, prompt);
    let completion_tokens = answer.tokens();
    let id = format!("chatcmpl-mock{}", next_id());
    let created = unix_now();
    let finish_reason = match answer {
        Answer::Text(_) => "stop",
        Answer::Tool { .. } => "tool_calls",
    };
    let call_id = format!("call_mock{}", next_id());

    if !stream {
        let message = match &answer {
            Answer::Text(text) => json!({
                "role": "assistant", "content": text, "refusal": null, "annotations": [],
            }),
            Answer::Tool { name, json, .. } => json!({
                "role": "assistant",
                "content": null,
                "refusal": null,
                "annotations": [],
                "tool_calls": [{
                    "id": call_id, "type": "function",
                    "function": {"name": name, "arguments": json},
                }],
            }),
        };
        return Reply::Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason,
            }],
            "usage": usage(prompt_tokens, completion_tokens),
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }));
    }

    let include_usage = body
        .stream_options
        .as_ref()
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    let chunk = |choices: Value| {
        let mut chunk = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
        });
        if include_usage {
            chunk["usage"] = Value::Null;
        }
        sse_data(&chunk, "\n")
    };
    let choice = |delta: Value| json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}]);
    let mut frames = Frames::default();
    let pieces = synth::split(answer.streamed_text(), behaviour.chunks);
    match &answer {
        Answer::Text(_) => {
            frames.head.push(chunk(choice(
                json!({"role": "assistant", "content": "", "refusal": null}),
            )));
            frames.content = pieces
                .into_iter()
                .map(|piece| chunk(choice(json!({"content": piece}))))
                .collect();
        }
        Answer::Tool { name, .. } => {
            frames.head.push(chunk(choice(json!({
                "role": "assistant",
                "content": null,
                "refusal": null,
                "tool_calls": [{
                    "index": 0, "id": call_id, "type": "function",
                    "function": {"name": name, "arguments": ""},
                }],
            }))));
            frames.content = pieces
                .into_iter()
                .map(|piece| {
                    chunk(choice(
                        json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                    ))
                })
                .collect();
        }
    }
    frames.tail.push(chunk(json!([{
        "index": 0, "delta": {}, "logprobs": null, "finish_reason": finish_reason,
    }])));
    if include_usage {
        let mut last = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": [],
        });
        last["usage"] = usage(prompt_tokens, completion_tokens);
        frames.tail.push(sse_data(&last, "\n"));
    }
    frames
        .tail
        .push(bytes::Bytes::from_static(b"data: [DONE]\n\n"));
    Reply::Stream {
        content_type: SSE,
        frames,
    }
}

#[derive(Debug, Deserialize)]
struct CompletionRequest {
    model: Option<String>,
    #[serde(default)]
    prompt: Value,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

/// `POST /v1/completions` (legacy). An array prompt counts each entry as a message; the reply
/// (one choice) answers the last entry.
pub(crate) async fn completions(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let mut guard = state.stats.begin(Surface::OpenAi);
    let prepared = async {
        authenticate(&req)?;
        let body: CompletionRequest = read_json(payload).await?;
        let behaviour = behaviour_for(body.model.as_deref())?;
        Ok::<_, ApiError>((body, behaviour))
    };
    match prepared.await {
        Err(e) => {
            guard.complete();
            e.respond(Surface::OpenAi)
        }
        Ok((body, behaviour)) => {
            let stream = body.stream.unwrap_or(false);
            execute(guard, Surface::OpenAi, &behaviour, stream, || {
                completion_reply(&body, &behaviour, stream)
            })
            .await
        }
    }
}

fn completion_reply(body: &CompletionRequest, behaviour: &Behaviour, stream: bool) -> Reply {
    let model = body.model.as_deref().unwrap_or_default();
    let mut prompt = Prompt::default();
    let texts = content_texts(&body.prompt);
    if texts.is_empty() {
        prompt.count.message([""]);
    }
    for text in texts {
        prompt.count.message([text]);
        prompt.last_user_text = text.to_owned();
    }
    let prompt_tokens = prompt.count.tokens();
    let answer = Answer::decide(behaviour, prompt);
    let reply = answer.streamed_text();
    let completion_tokens = answer.tokens();
    let id = format!("cmpl-mock{}", next_id());
    let created = unix_now();
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    let object = |choices: Value| {
        json!({
            "id": id,
            "object": "text_completion",
            "created": created,
            "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
        })
    };
    if !stream {
        let mut out = object(json!([{
            "text": reply, "index": 0, "logprobs": null, "finish_reason": "stop",
        }]));
        out["usage"] = usage;
        return Reply::Json(out);
    }
    let choice = |text: &str, finish: Option<&str>| {
        sse_data(
            &object(json!([{
                "text": text, "index": 0, "logprobs": null, "finish_reason": finish,
            }])),
            "\n",
        )
    };
    let mut frames = Frames {
        content: synth::split(reply, behaviour.chunks)
            .into_iter()
            .map(|piece| choice(piece, None))
            .collect(),
        ..Frames::default()
    };
    frames.tail.push(choice("", Some("stop")));
    if body
        .stream_options
        .as_ref()
        .and_then(|o| o.include_usage)
        .unwrap_or(false)
    {
        let mut last = object(json!([]));
        last["usage"] = usage;
        frames.tail.push(sse_data(&last, "\n"));
    }
    frames
        .tail
        .push(bytes::Bytes::from_static(b"data: [DONE]\n\n"));
    Reply::Stream {
        content_type: SSE,
        frames,
    }
}

#[derive(Debug, Deserialize)]
struct EmbeddingRequest {
    model: Option<String>,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    dimensions: Option<u64>,
    #[serde(default)]
    encoding_format: Option<String>,
}

/// The inputs of an embeddings request as texts: strings stay as they are, token arrays become
/// their numbers joined by spaces (so one token is one word).
fn embedding_inputs(input: &Value) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::invalid("'$.input' is invalid.", Some("input"));
    let tokens = |items: &[Value]| -> Option<String> {
        let numbers: Option<Vec<String>> = items
            .iter()
            .map(|t| t.as_u64().map(|n| n.to_string()))
            .collect();
        numbers.map(|n| n.join(" "))
    };
    match input {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if items.is_empty() => Err(bad()),
        Value::Array(items) if items.iter().all(Value::is_number) => {
            tokens(items).map(|t| vec![t]).ok_or_else(bad)
        }
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Some(s.clone()),
                Value::Array(t) if !t.is_empty() => tokens(t),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad),
        Value::Null => Err(ApiError::invalid(
            "Missing required parameter: 'input'.",
            Some("input"),
        )),
        _ => Err(bad()),
    }
}

/// `POST /v1/embeddings`
pub(crate) async fn embeddings(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    embed(req, payload, state, None).await
}

/// `POST /openai/deployments/{deployment}/embeddings?api-version=...` (Azure OpenAI).
pub(crate) async fn azure_embeddings(
    req: HttpRequest,
    deployment: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    embed(req, payload, state, Some(deployment.into_inner())).await
}

async fn embed(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    deployment: Option<String>,
) -> HttpResponse {
    let mut guard = state.stats.begin(Surface::OpenAi);
    let prepared = async {
        match deployment {
            Some(_) => authenticate_azure(&req)?,
            None => authenticate(&req)?,
        }
        let mut body: EmbeddingRequest = read_json(payload).await?;
        if let Some(deployment) = deployment {
            body.model = Some(deployment);
        }
        let behaviour = behaviour_for(body.model.as_deref())?;
        let inputs = embedding_inputs(&body.input)?;
        let dims = body.dimensions.unwrap_or(DEFAULT_DIMENSIONS);
        if !(1..=MAX_DIMENSIONS).contains(&dims) {
            return Err(ApiError::invalid(
                format!("Invalid 'dimensions': must be between 1 and {MAX_DIMENSIONS}."),
                Some("dimensions"),
            ));
        }
        let base64 = match body.encoding_format.as_deref() {
            None | Some("float") => false,
            Some("base64") => true,
            Some(other) => {
                return Err(ApiError::invalid(
                    format!("Invalid 'encoding_format': '{other}'. Expected 'float' or 'base64'."),
                    Some("encoding_format"),
                ));
            }
        };
        Ok((body, behaviour, inputs, dims, base64))
    };
    match prepared.await {
        Err(e) => {
            guard.complete();
            e.respond(Surface::OpenAi)
        }
        Ok((body, behaviour, inputs, dims, base64)) => {
            execute(guard, Surface::OpenAi, &behaviour, false, || {
                embedding_reply(
                    body.model.as_deref().unwrap_or_default(),
                    &inputs,
                    dims,
                    base64,
                )
            })
            .await
        }
    }
}

fn embedding_reply(model: &str, inputs: &[String], dims: u64, base64: bool) -> Reply {
    let mut count = PromptCount::default();
    let dims = usize::try_from(dims).unwrap_or(1);
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            count.message([input.as_str()]);
            let vector = synth::embedding(input, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                Value::from(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let tokens = count.tokens();
    Reply::Json(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
}

#[derive(Debug, Deserialize)]
struct ResponsesRequest {
    model: Option<String>,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default)]
    tools: Option<Vec<Value>>,
    #[serde(default)]
    stream: Option<bool>,
}

/// `POST /v1/responses` (non-streaming).
pub(crate) async fn responses(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let mut guard = state.stats.begin(Surface::OpenAi);
    let prepared = async {
        authenticate(&req)?;
        let body: ResponsesRequest = read_json(payload).await?;
        let behaviour = behaviour_for(body.model.as_deref())?;
        if body.stream.unwrap_or(false) {
            return Err(ApiError::invalid(
                "The mock provider serves the Responses API without streaming.",
                Some("stream"),
            ));
        }
        if body.input.is_null() {
            return Err(ApiError::invalid(
                "Missing required parameter: 'input'.",
                Some("input"),
            ));
        }
        Ok((body, behaviour))
    };
    match prepared.await {
        Err(e) => {
            guard.complete();
            e.respond(Surface::OpenAi)
        }
        Ok((body, behaviour)) => {
            execute(guard, Surface::OpenAi, &behaviour, false, || {
                responses_reply(&body, &behaviour)
            })
            .await
        }
    }
}

fn responses_reply(body: &ResponsesRequest, behaviour: &Behaviour) -> Reply {
    let mut prompt = Prompt::default();
    if let Some(instructions) = &body.instructions {
        prompt.count.message([instructions.as_str()]);
    }
    match &body.input {
        Value::String(text) => {
            prompt.count.message([text.as_str()]);
            prompt.last_user_text = text.clone();
        }
        Value::Array(items) => {
            for item in items {
                let mut texts = content_texts(item.get("content").unwrap_or(&Value::Null));
                if let Some(output) = item.get("output").and_then(Value::as_str) {
                    texts.push(output);
                }
                if item.get("role").and_then(Value::as_str) == Some("user") {
                    prompt.last_user_text = texts.join("\n");
                }
                prompt.count.message(texts);
            }
        }
        _ => {}
    }
    prompt.tool = first_function_tool(body.tools.as_deref(), false);
    let prompt_tokens = prompt.count.tokens();
    let answer = Answer::decide(behaviour, prompt);
    let completion_tokens = answer.tokens();
    let output = match &answer {
        Answer::Text(text) => json!({
            "type": "message",
            "id": format!("msg_mock{}", next_id()),
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
        }),
        Answer::Tool { name, json, .. } => json!({
            "type": "function_call",
            "id": format!("fc_mock{}", next_id()),
            "call_id": format!("call_mock{}", next_id()),
            "name": name,
            "arguments": json,
            "status": "completed",
        }),
    };
    Reply::Json(json!({
        "id": format!("resp_mock{}", next_id()),
        "object": "response",
        "created_at": unix_now(),
        "status": "completed",
        "error": null,
        "incomplete_details": null,
        "instructions": body.instructions,
        "max_output_tokens": null,
        "model": body.model,
        "output": [output],
        "parallel_tool_calls": true,
        "previous_response_id": null,
        "reasoning": {"effort": null, "summary": null},
        "store": false,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": body.tools.clone().unwrap_or_default(),
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "user": null,
        "metadata": {},
    }))
}

fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": MODEL_CREATED, "owned_by": "keyway-mock"})
}

/// `GET /v1/models` in OpenAI's shape.
pub(crate) fn list_models(req: &HttpRequest) -> Result<Value, ApiError> {
    authenticate(req)?;
    let data: Vec<Value> = MODEL_CATALOG.iter().map(|id| model_object(id)).collect();
    Ok(json!({"object": "list", "data": data}))
}

/// `GET /v1/models/{id}` in OpenAI's shape; any name the grammar accepts exists.
pub(crate) fn get_model(req: &HttpRequest, id: &str) -> Result<Value, ApiError> {
    authenticate(req)?;
    Behaviour::parse(id).map_err(|_| model_not_found(id))?;
    Ok(model_object(id))
}

/// Answers a model route's result in OpenAI's shape.
pub(crate) fn respond_json(result: Result<Value, ApiError>) -> HttpResponse {
    match result {
        Ok(body) => json_body(&mut HttpResponse::Ok(), &body),
        Err(e) => e.respond(Surface::OpenAi),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keys_like_openai() {
        assert_eq!(mask("sk-invalid-key-123"), "sk-***-123");
        assert_eq!(mask("invalid"), "*******");
    }

    #[test]
    fn embedding_inputs_accept_every_documented_form() {
        assert_eq!(embedding_inputs(&json!("a b")).unwrap(), vec!["a b"]);
        assert_eq!(
            embedding_inputs(&json!(["a", "b"])).unwrap(),
            vec!["a", "b"]
        );
        assert_eq!(embedding_inputs(&json!([1, 2, 3])).unwrap(), vec!["1 2 3"]);
        assert_eq!(
            embedding_inputs(&json!([[1], [2, 3]])).unwrap(),
            vec!["1", "2 3"]
        );
        assert_eq!(embedding_inputs(&json!([])).unwrap_err().status, 400);
        assert_eq!(embedding_inputs(&json!([{}])).unwrap_err().status, 400);
    }
}

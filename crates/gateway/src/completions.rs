//! Legacy OpenAI Completions (`POST /v1/completions`): a prompt (or several) in, text out.
//!
//! Each prompt becomes one canonical chat request with a single user message, so the endpoint
//! reaches every provider format; the answers come back as `text_completion` objects (or
//! `text_completion` chunks when streamed). Several prompts fan out to one upstream call each
//! and their choices are numbered `prompt * n + choice`, as OpenAI does; streams take one prompt.

use crate::error::GatewayError;
use bytes::Bytes;
use keyway_providers::canonical::{
    ApiError, ContentPart, FinishReason, Message, StreamEvent, Usage,
};
use keyway_providers::{ChatRequest, ChatResponse};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRequest {
    model: String,
    prompt: Value,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    stop: Option<Value>,
    #[serde(default)]
    seed: Option<i64>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    user: Option<String>,
    // Accepted only with their neutral values (the SDK may send them explicitly).
    #[serde(default)]
    echo: Option<bool>,
    #[serde(default)]
    suffix: Option<String>,
    #[serde(default)]
    best_of: Option<u32>,
    #[serde(default)]
    logprobs: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// Parses a Completions body into one canonical request per prompt.
pub fn parse_request(body: &[u8]) -> Result<Vec<ChatRequest>, GatewayError> {
    let wire: WireRequest = serde_json::from_slice(body).map_err(|e| {
        GatewayError::bad_request(format!("invalid OpenAI request body: {e}"), None)
    })?;
    if wire.echo == Some(true) {
        return Err(unsupported("echo", "`echo: true` is not supported"));
    }
    if wire.suffix.is_some() {
        return Err(unsupported(
            "suffix",
            "`suffix` (insertion) is not supported",
        ));
    }
    if wire.best_of.is_some_and(|b| b != 1) {
        return Err(unsupported(
            "best_of",
            "`best_of` other than 1 is not supported",
        ));
    }
    if wire.logprobs.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(unsupported("logprobs", "`logprobs` is not supported"));
    }
    let prompts = match wire.prompt {
        Value::String(s) => vec![s],
        Value::Array(items) => {
            let mut prompts = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Value::String(s) => prompts.push(s),
                    _ => {
                        return Err(GatewayError::bad_request(
                            format!(
                                "`prompt[{i}]` must be a string; token-id prompts are not supported"
                            ),
                            Some("prompt"),
                        ));
                    }
                }
            }
            prompts
        }
        _ => {
            return Err(GatewayError::bad_request(
                "`prompt` must be a string or an array of strings.",
                Some("prompt"),
            ));
        }
    };
    if prompts.is_empty() {
        return Err(GatewayError::bad_request(
            "`prompt` must contain at least one prompt.",
            Some("prompt"),
        ));
    }
    let stream = wire.stream.unwrap_or(false);
    if stream && prompts.len() > 1 {
        return Err(unsupported(
            "prompt",
            "streaming takes a single prompt; send one request per prompt",
        ));
    }
    let stop = match wire.stop {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(GatewayError::bad_request(
                    "`stop` must be a string or an array of strings.",
                    Some("stop"),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(GatewayError::bad_request(
                "`stop` must be a string or an array of strings.",
                Some("stop"),
            ));
        }
    };
    let include_usage = wire
        .stream_options
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    Ok(prompts
        .into_iter()
        .map(|prompt| ChatRequest {
            model: wire.model.clone(),
            messages: vec![Message::User {
                content: vec![ContentPart::Text(prompt)],
            }],
            temperature: wire.temperature,
            top_p: wire.top_p,
            max_tokens: wire.max_tokens,
            stop: stop.clone(),
            n: wire.n,
            seed: wire.seed,
            stream,
            stream_usage: stream && include_usage,
            user: wire.user.clone(),
            ..Default::default()
        })
        .collect())
}

fn unsupported(param: &str, message: &str) -> GatewayError {
    GatewayError::bad_request(format!("{message}."), Some(param))
}

/// Joins the answers to several prompts into one: choices renumbered, usage summed.
pub fn merge(mut answers: Vec<ChatResponse>) -> ChatResponse {
    if answers.len() == 1 {
        return answers.swap_remove(0);
    }
    let per_prompt = answers.iter().map(|a| a.choices.len()).max().unwrap_or(1);
    let mut merged = ChatResponse::default();
    let mut usage: Option<Usage> = None;
    for (i, answer) in answers.into_iter().enumerate() {
        if i == 0 {
            merged.id = answer.id;
            merged.model = answer.model;
            merged.created = answer.created;
        }
        if let Some(u) = answer.usage {
            let total = usage.get_or_insert_with(Usage::default);
            total.input_tokens += u.input_tokens;
            total.output_tokens += u.output_tokens;
            total.cached_read_tokens += u.cached_read_tokens;
            total.cache_write_tokens += u.cache_write_tokens;
            total.reasoning_tokens += u.reasoning_tokens;
        }
        for mut choice in answer.choices {
            let offset = u32::try_from(i * per_prompt).unwrap_or(u32::MAX);
            choice.index = choice.index.saturating_add(offset);
            merged.choices.push(choice);
        }
    }
    merged.usage = usage;
    merged
}

fn finish(reason: FinishReason) -> Option<&'static str> {
    match reason {
        FinishReason::Stop | FinishReason::ToolCalls => Some("stop"),
        FinishReason::Length => Some("length"),
        FinishReason::ContentFilter => Some("content_filter"),
        FinishReason::Error => None,
    }
}

fn usage_json(u: &Usage) -> Value {
    json!({
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
    })
}

fn completion_id(upstream: &str) -> String {
    if upstream.is_empty() {
        format!("cmpl-{}", uuid::Uuid::now_v7().simple())
    } else {
        format!("cmpl-{upstream}")
    }
}

/// Renders a canonical answer as a `text_completion` object. A choice that stopped with an
/// upstream error has no Completions equivalent: that is a 502.
pub fn build_response(resp: &ChatResponse) -> Result<Bytes, GatewayError> {
    let mut choices = Vec::with_capacity(resp.choices.len());
    for c in &resp.choices {
        let reason = match c.finish_reason {
            Some(r) => Some(finish(r).ok_or_else(stopped_with_error)?),
            None => None,
        };
        choices.push(json!({
            "text": c.text.clone().unwrap_or_default(),
            "index": c.index,
            "logprobs": null,
            "finish_reason": reason,
        }));
    }
    let body = json!({
        "id": completion_id(&resp.id),
        "object": "text_completion",
        "created": resp.created.unwrap_or_else(now),
        "model": resp.model,
        "choices": choices,
        "usage": resp.usage.as_ref().map(usage_json),
    });
    Ok(Bytes::from(body.to_string()))
}

fn stopped_with_error() -> GatewayError {
    GatewayError::upstream(
        actix_web::http::StatusCode::BAD_GATEWAY,
        "upstream_invalid_response",
        "The upstream model stopped with an error.",
    )
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn frame(out: &mut Vec<u8>, event: Option<&str>, data: &str) {
    if let Some(event) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// Writes canonical stream events as Completions SSE: `text_completion` chunks, an optional
/// usage chunk (`stream_options.include_usage`), then `data: [DONE]`. An error ends the stream
/// with `data: {"error": ...}` and no `[DONE]`.
#[derive(Debug)]
pub struct CompletionsStreamWriter {
    include_usage: bool,
    id: String,
    model: String,
    created: u64,
    usage: Option<Usage>,
    ended: bool,
}

impl CompletionsStreamWriter {
    /// A writer; `include_usage` is the caller's `stream_options.include_usage`.
    pub fn new(include_usage: bool) -> Self {
        Self {
            include_usage,
            id: completion_id(""),
            model: String::new(),
            created: now(),
            usage: None,
            ended: false,
        }
    }

    /// Renders one event (possibly as nothing).
    pub fn write(&mut self, event: &StreamEvent) -> Bytes {
        let mut out = Vec::new();
        if self.ended {
            return Bytes::new();
        }
        match event {
            StreamEvent::MessageStart { id, model, created } => {
                self.id = completion_id(id);
                self.model.clone_from(model);
                if let Some(c) = created {
                    self.created = *c;
                }
            }
            StreamEvent::TextDelta { choice, text } => self.chunk(&mut out, *choice, text, None),
            // Completions requests carry no tools; nothing to render.
            StreamEvent::ToolCallStart { .. } | StreamEvent::ToolCallDelta { .. } => {}
            StreamEvent::Finish { choice, reason, .. } => match finish(*reason) {
                Some(r) => self.chunk(&mut out, *choice, "", Some(r)),
                None => self.error(
                    &mut out,
                    &ApiError {
                        kind: keyway_providers::canonical::ErrorKind::BadGateway,
                        message: "The upstream model stopped with an error.".to_owned(),
                        code: Some("upstream_error".to_owned()),
                    },
                ),
            },
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Error(e) => self.error(&mut out, e),
            StreamEvent::Done => {
                if self.include_usage
                    && let Some(u) = &self.usage
                {
                    let chunk = json!({"id": self.id, "object": "text_completion",
                        "created": self.created, "model": self.model, "choices": [],
                        "usage": usage_json(u)});
                    frame(&mut out, None, &chunk.to_string());
                }
                frame(&mut out, None, "[DONE]");
                self.ended = true;
            }
        }
        Bytes::from(out)
    }

    fn chunk(&self, out: &mut Vec<u8>, choice: u32, text: &str, finish: Option<&str>) {
        let chunk = json!({"id": self.id, "object": "text_completion",
            "created": self.created, "model": self.model,
            "choices": [{"text": text, "index": choice, "logprobs": null, "finish_reason": finish}]});
        frame(out, None, &chunk.to_string());
    }

    fn error(&mut self, out: &mut Vec<u8>, e: &ApiError) {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&keyway_providers::openai::error_body(e));
        out.extend_from_slice(b"\n\n");
        self.ended = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyway_providers::canonical::Choice;

    #[test]
    fn prompts_become_one_request_each() {
        let reqs = parse_request(br#"{"model":"m","prompt":["a","b"],"max_tokens":5}"#).unwrap();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[1].max_tokens, Some(5));
        assert_eq!(
            reqs[1].messages,
            vec![Message::User {
                content: vec![ContentPart::Text("b".into())]
            }]
        );
        let err = parse_request(br#"{"model":"m","prompt":[1,2]}"#).unwrap_err();
        assert_eq!(err.status(), 400);
        let err = parse_request(br#"{"model":"m","prompt":"x","logit_bias":{}}"#).unwrap_err();
        assert_eq!(err.status(), 400);
        let err = parse_request(br#"{"model":"m","prompt":["a","b"],"stream":true}"#).unwrap_err();
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn merged_answers_number_choices_per_prompt() {
        let answer = |text: &str| ChatResponse {
            id: "x".into(),
            model: "m".into(),
            choices: vec![Choice {
                text: Some(text.into()),
                finish_reason: Some(FinishReason::Stop),
                ..Default::default()
            }],
            usage: Some(Usage {
                input_tokens: 3,
                output_tokens: 1,
                ..Default::default()
            }),
            ..Default::default()
        };
        let merged = merge(vec![answer("a"), answer("b")]);
        assert_eq!(merged.choices[1].index, 1);
        assert_eq!(merged.choices[1].text.as_deref(), Some("b"));
        assert_eq!(merged.usage.unwrap().input_tokens, 6);
        let body: Value = serde_json::from_slice(&build_response(&merged).unwrap()).unwrap();
        assert_eq!(body["object"], "text_completion");
        assert_eq!(body["choices"][1]["text"], "b");
        assert_eq!(body["usage"]["total_tokens"], 8);
    }
}

//! Gemini's wire format: `generateContent` and `streamGenerateContent` (SSE with `?alt=sse`,
//! otherwise one JSON array streamed element by element).

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::behaviour::Behaviour;
use crate::openai::is_invalid_key;
use crate::reply::{Answer, Prompt, ToolDecl, content_texts, next_id};
use crate::respond::{ApiError, Frames, Reply, execute, read_json, sse_data};
use crate::server::AppState;
use crate::stats::Surface;
use crate::synth;

/// A query parameter's raw value; keys and `alt` never need percent-decoding.
fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then_some(v)
    })
}

fn authenticate(req: &HttpRequest) -> Result<(), ApiError> {
    let key = req
        .headers()
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| query_param(req.query_string(), "key"))
        .map(str::trim)
        .unwrap_or("");
    if key.is_empty() {
        return Err(ApiError::new(
            401,
            "Method doesn't allow unregistered callers (callers without established identity). \
             Please use API Key or other form of API consumer identity to call this API.",
        ));
    }
    if is_invalid_key(key) {
        return Err(ApiError::new(
            401,
            "API key not valid. Please pass a valid API key.",
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct Content {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    parts: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateRequest {
    contents: Option<Vec<Content>>,
    #[serde(default, alias = "system_instruction")]
    system_instruction: Option<Content>,
    #[serde(default)]
    tools: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Generate,
    Stream { sse: bool },
}

/// `POST /v1beta/models/{model}:{method}`
pub(crate) async fn models_action(
    req: HttpRequest,
    target: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let mut guard = state.stats.begin(Surface::Gemini);
    let prepared = async {
        authenticate(&req)?;
        let (model, method) = target.rsplit_once(':').ok_or_else(|| {
            ApiError::new(404, format!("Method not found: models/{}", target.as_str()))
        })?;
        let method = match method {
            "generateContent" => Method::Generate,
            "streamGenerateContent" => Method::Stream {
                sse: query_param(req.query_string(), "alt") == Some("sse"),
            },
            other => return Err(ApiError::new(404, format!("Method not found: {other}"))),
        };
        let behaviour = Behaviour::parse(model).map_err(|_| {
            ApiError::new(
                404,
                format!(
                    "models/{model} is not found for API version v1beta, or is not supported \
                     for generateContent. Call ListModels to see the list of available models \
                     and their supported methods."
                ),
            )
        })?;
        let body: GenerateRequest = read_json(payload).await?;
        if body.contents.as_ref().is_none_or(Vec::is_empty) {
            return Err(ApiError::invalid(
                "* GenerateContentRequest.contents: contents is not specified",
                None,
            ));
        }
        Ok((model.to_owned(), method, behaviour, body))
    };
    match prepared.await {
        Err(e) => {
            guard.complete();
            e.respond(Surface::Gemini)
        }
        Ok((model, method, behaviour, body)) => {
            let stream = method != Method::Generate;
            execute(guard, Surface::Gemini, &behaviour, stream, || {
                reply(&model, &body, &behaviour, method)
            })
            .await
        }
    }
}

fn prompt(body: &GenerateRequest) -> Prompt<'_> {
    let mut prompt = Prompt::default();
    if let Some(system) = &body.system_instruction {
        prompt.count.message(content_texts(&system.parts));
    }
    for content in body.contents.iter().flatten() {
        let texts = content_texts(&content.parts);
        if content.role.as_deref().is_none_or(|r| r == "user") {
            prompt.last_user_text = texts.join("\n");
        }
        prompt.count.message(texts);
    }
    prompt.tool = body.tools.iter().flatten().find_map(|tool| {
        let decl = tool
            .get("functionDeclarations")
            .or_else(|| tool.get("function_declarations"))?
            .as_array()?
            .first()?;
        Some(ToolDecl {
            name: decl.get("name")?.as_str()?,
            schema: decl
                .get("parameters")
                .or_else(|| decl.get("parametersJsonSchema")),
        })
    });
    prompt
}

fn reply(model: &str, body: &GenerateRequest, behaviour: &Behaviour, method: Method) -> Reply {
    let prompt = prompt(body);
    let prompt_tokens = prompt.count.tokens();
    let answer = Answer::decide(behaviour, prompt);
    let candidate_tokens = answer.tokens();
    let response_id = format!("mock{}", next_id());
    let final_usage = json!({
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": candidate_tokens,
        "totalTokenCount": prompt_tokens + candidate_tokens,
    });
    let response = |parts: Value, finish: Option<&str>, usage: &Value| {
        let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
        if let Some(reason) = finish {
            candidate["finishReason"] = Value::from(reason);
        }
        json!({
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": response_id,
        })
    };
    let all_parts = match &answer {
        Answer::Text(text) => json!([{"text": text}]),
        Answer::Tool {
            name, arguments, ..
        } => json!([{"functionCall": {"name": name, "args": arguments}}]),
    };
    let sse = match method {
        Method::Generate => return Reply::Json(response(all_parts, Some("STOP"), &final_usage)),
        Method::Stream { sse } => sse,
    };

    // Like the real API, every chunk reports the prompt usage; the last one has the full count.
    let running_usage = json!({
        "promptTokenCount": prompt_tokens,
        "totalTokenCount": prompt_tokens,
    });
    let content: Vec<Value> = match &answer {
        Answer::Text(text) => synth::split(text, behaviour.chunks)
            .into_iter()
            .map(|piece| response(json!([{"text": piece}]), None, &running_usage))
            .collect(),
        Answer::Tool { .. } => vec![response(all_parts, None, &running_usage)],
    };
    let last = response(json!([{"text": ""}]), Some("STOP"), &final_usage);

    let frames = if sse {
        Frames {
            head: Vec::new(),
            content: content.iter().map(|r| sse_data(r, "\r\n")).collect(),
            tail: vec![sse_data(&last, "\r\n")],
        }
    } else {
        let element = |first: bool, value: &Value| {
            Bytes::from(format!("{}{value}", if first { "[" } else { ",\r\n" }))
        };
        Frames {
            head: Vec::new(),
            content: content
                .iter()
                .enumerate()
                .map(|(i, r)| element(i == 0, r))
                .collect(),
            tail: vec![element(false, &last), Bytes::from_static(b"]")],
        }
    };
    Reply::Stream {
        content_type: if sse {
            "text/event-stream"
        } else {
            "application/json; charset=UTF-8"
        },
        frames,
    }
}

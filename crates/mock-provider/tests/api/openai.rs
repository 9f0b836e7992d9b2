//! OpenAI routes: shapes, streams, usage, errors.

use base64::Engine as _;
use keyway_mock_provider::DEFAULT_REPLY;
use serde_json::{Value, json};

use crate::helpers::{read_body, spawn, sse_data, user};

#[tokio::test]
async fn chat_completion_echoes_with_documented_usage() {
    let mock = spawn().await;
    let res = mock
        .openai(
            "/v1/chat/completions",
            json!({"model": "gpt-4o-mini+echo", "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "first"}]},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": "the last question"},
            ]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-4o-mini+echo");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "the last question");
    assert_eq!(choice["finish_reason"], "stop");
    // 4 messages: (3+2) + (3+1) + (3+1) + (3+3)
    assert_eq!(body["usage"]["prompt_tokens"], 19);
    assert_eq!(body["usage"]["completion_tokens"], 3);
    assert_eq!(body["usage"]["total_tokens"], 22);
}

#[tokio::test]
async fn default_reply_without_echo() {
    let mock = spawn().await;
    let body: Value = mock
        .openai(
            "/v1/chat/completions",
            json!({"model": "mock", "messages": user("hi")}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], DEFAULT_REPLY);
    assert_eq!(body["usage"]["completion_tokens"], 10);
}

#[tokio::test]
async fn stream_with_include_usage_ends_with_usage_chunk_then_done() {
    let mock = spawn().await;
    let res = mock
        .openai(
            "/v1/chat/completions",
            json!({"model": "echo+chunks-3", "stream": true,
                   "stream_options": {"include_usage": true},
                   "messages": user("abcdefghi jkl")}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (body, end) = read_body(res).await;
    end.unwrap();
    let data = sse_data(&body);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    // role chunk, 3 content chunks, finish chunk, usage chunk
    assert_eq!(chunks.len(), 6);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks[1..4]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "abcdefghi jkl");
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
    assert!(
        chunks[..5]
            .iter()
            .all(|c| c["usage"].is_null() && c["object"] == "chat.completion.chunk")
    );
    assert_eq!(chunks[5]["choices"], json!([]));
    assert_eq!(chunks[5]["usage"]["prompt_tokens"], 5);
    assert_eq!(chunks[5]["usage"]["completion_tokens"], 2);
}

#[tokio::test]
async fn stream_without_include_usage_has_no_usage() {
    let mock = spawn().await;
    let res = mock
        .openai(
            "/v1/chat/completions",
            json!({"model": "mock", "stream": true, "messages": user("hi")}),
        )
        .await;
    let (body, _) = read_body(res).await;
    let data = sse_data(&body);
    // role + one chunk per word of the default reply + finish + [DONE]
    assert_eq!(data.len(), 1 + 10 + 1 + 1);
    for d in &data[..data.len() - 1] {
        let chunk: Value = serde_json::from_str(d).unwrap();
        assert!(chunk.get("usage").is_none());
        assert_eq!(chunk["choices"].as_array().unwrap().len(), 1);
    }
}

fn weather_tool() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}}}])
}

#[tokio::test]
async fn tool_call_plain_and_streamed() {
    let mock = spawn().await;
    let body: Value = mock
        .openai(
            "/v1/chat/completions",
            json!({"model": "tool", "tools": weather_tool(), "messages": user("weather?")}),
        )
        .await
        .json()
        .await
        .unwrap();
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "mock", "days": 1}));

    let res = mock
        .openai(
            "/v1/chat/completions",
            json!({"model": "tool+chunks-3", "stream": true, "tools": weather_tool(),
                   "messages": user("weather?")}),
        )
        .await;
    let (body, _) = read_body(res).await;
    let data = sse_data(&body);
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let header = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(header["function"]["name"], "get_weather");
    assert!(header["id"].as_str().unwrap().starts_with("call_"));
    let args: String = chunks[1..4]
        .iter()
        .map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "mock", "days": 1})
    );
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn tool_part_without_tools_answers_text() {
    let mock = spawn().await;
    let body: Value = mock
        .openai(
            "/v1/chat/completions",
            json!({"model": "tool+echo", "messages": user("plain")}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "plain");
}

#[tokio::test]
async fn legacy_completions_plain_and_streamed() {
    let mock = spawn().await;
    let body: Value = mock
        .openai(
            "/v1/completions",
            json!({"model": "echo", "prompt": "say this please"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "text_completion");
    assert_eq!(body["choices"][0]["text"], "say this please");
    assert_eq!(body["usage"]["prompt_tokens"], 6);

    let res = mock
        .openai(
            "/v1/completions",
            json!({"model": "echo+chunks-2", "prompt": "ab cd", "stream": true,
                   "stream_options": {"include_usage": true}}),
        )
        .await;
    let (body, _) = read_body(res).await;
    let data = sse_data(&body);
    assert_eq!(data.len(), 2 + 1 + 1 + 1);
    let usage: Value = serde_json::from_str(&data[3]).unwrap();
    assert_eq!(usage["usage"]["total_tokens"], 5 + 2);
    assert_eq!(data[4], "[DONE]");
}

#[tokio::test]
async fn embeddings_honour_dimensions_and_encoding() {
    let mock = spawn().await;
    let floats: Value = mock
        .openai(
            "/v1/embeddings",
            json!({"model": "text-embedding-3-small", "input": ["hello world", "bye"],
                   "dimensions": 16}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(floats["object"], "list");
    assert_eq!(
        floats["usage"],
        json!({"prompt_tokens": 9, "total_tokens": 9})
    );
    let first: Vec<f32> = floats["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(first.len(), 16);
    assert_eq!(floats["data"][1]["index"], 1);

    let encoded: Value = mock
        .openai(
            "/v1/embeddings",
            json!({"model": "mock", "input": "hello world", "dimensions": 16,
                   "encoding_format": "base64"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(
        decoded, first,
        "same input, same vector, whatever the encoding"
    );

    let default: Value = mock
        .openai(
            "/v1/embeddings",
            json!({"model": "mock", "input": [[1, 2, 3]]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        default["data"][0]["embedding"].as_array().unwrap().len(),
        1536
    );
    assert_eq!(default["usage"]["prompt_tokens"], 6);

    let bad = mock
        .openai(
            "/v1/embeddings",
            json!({"model": "mock", "input": "x", "dimensions": 0}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let err: Value = bad.json().await.unwrap();
    assert_eq!(err["error"]["param"], "dimensions");
}

#[tokio::test]
async fn responses_api_text_and_function_call() {
    let mock = spawn().await;
    let body: Value = mock
        .openai(
            "/v1/responses",
            json!({"model": "echo", "instructions": "Be terse", "input": "hello there"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["output"][0]["content"][0]["type"], "output_text");
    assert_eq!(body["output"][0]["content"][0]["text"], "hello there");
    assert_eq!(body["usage"]["input_tokens"], 10);
    assert_eq!(body["usage"]["output_tokens"], 2);

    let body: Value = mock
        .openai(
            "/v1/responses",
            json!({"model": "tool", "input": [{"role": "user", "content": "go"}],
                   "tools": [{"type": "function", "name": "lookup",
                              "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["output"][0]["type"], "function_call");
    assert_eq!(body["output"][0]["name"], "lookup");
    assert_eq!(body["output"][0]["arguments"], r#"{"q":"mock"}"#);
}

#[tokio::test]
async fn models_list_and_retrieve() {
    let mock = spawn().await;
    let res = mock
        .client
        .get(mock.url("/v1/models"))
        .bearer_auth("k")
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "gpt-4o-mini")
    );
    let res = mock
        .client
        .get(mock.url("/v1/models/nope"))
        .bearer_auth("k")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

async fn error_of(res: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = res.json().await.unwrap();
    let keys: Vec<&String> = body["error"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["code", "message", "param", "type"],
        "OpenAI error object fields"
    );
    (status, retry, body["error"].clone())
}

#[tokio::test]
async fn errors_use_openai_shape_and_types() {
    let mock = spawn().await;
    let chat = |model: &str| json!({"model": model, "messages": user("hi")});

    let res = mock
        .client
        .post(mock.url("/v1/chat/completions"))
        .json(&chat("mock"))
        .send()
        .await
        .unwrap();
    let (status, _, err) = error_of(res).await;
    assert_eq!(
        (status, err["type"].as_str(), err["code"].as_str()),
        (401, Some("invalid_request_error"), Some("invalid_api_key"))
    );

    let res = mock
        .client
        .post(mock.url("/v1/chat/completions"))
        .bearer_auth("sk-invalid")
        .json(&chat("mock"))
        .send()
        .await
        .unwrap();
    let (status, _, err) = error_of(res).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (401, Some("invalid_api_key"))
    );

    let (status, _, err) =
        error_of(mock.openai("/v1/chat/completions", chat("echo+nope")).await).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("model_not_found"))
    );

    let (status, retry, err) = error_of(
        mock.openai("/v1/chat/completions", chat("status-429"))
            .await,
    )
    .await;
    assert_eq!((status, retry.as_deref()), (429, Some("1")));
    assert_eq!(err["code"], "rate_limit_exceeded");

    let (status, retry, err) = error_of(
        mock.openai("/v1/chat/completions", chat("status-503+retry-after-9"))
            .await,
    )
    .await;
    assert_eq!((status, retry.as_deref()), (503, Some("9")));
    assert_eq!(err["type"], "server_error");

    let (status, retry, err) = error_of(
        mock.openai(
            "/v1/embeddings",
            json!({"model": "status-400", "input": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, retry, err["type"].as_str()),
        (400, None, Some("invalid_request_error"))
    );

    let res = mock
        .client
        .post(mock.url("/v1/chat/completions"))
        .bearer_auth("k")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await.0, 400);

    let (status, _, err) = error_of(
        mock.openai("/v1/chat/completions", json!({"model": "mock"}))
            .await,
    )
    .await;
    assert_eq!((status, err["param"].as_str()), (400, Some("messages")));

    let (status, _, _) = error_of(mock.openai("/v1/nowhere", json!({})).await).await;
    assert_eq!(status, 404);
}

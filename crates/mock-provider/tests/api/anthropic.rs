//! Anthropic `/v1/messages`: headers, shapes, the exact stream event sequence, errors.

use serde_json::{Value, json};

use crate::helpers::{read_body, spawn, sse_events, user};

#[tokio::test]
async fn requires_key_and_version_headers() {
    let mock = spawn().await;
    let body = json!({"model": "mock", "max_tokens": 8, "messages": user("hi")});
    let res = mock
        .client
        .post(mock.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "authentication_error");

    let res = mock
        .client
        .post(mock.url("/v1/messages"))
        .header("x-api-key", "k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");

    let res = mock
        .client
        .post(mock.url("/v1/messages"))
        .header("x-api-key", "invalid")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn message_with_system_blocks_and_image() {
    let mock = spawn().await;
    let body: Value = mock
        .anthropic(json!({
            "model": "claude-sonnet-4-5+echo", "max_tokens": 64,
            "system": [{"type": "text", "text": "You see images."}],
            "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                {"type": "text", "text": "what is it"},
            ]}],
        }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "what is it"}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["usage"]["input_tokens"], 6 + 6);
    assert_eq!(body["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn stream_has_the_exact_event_sequence() {
    let mock = spawn().await;
    let res = mock
        .anthropic(
            json!({"model": "echo+chunks-2", "max_tokens": 64, "stream": true,
                          "system": "sys prompt", "messages": user("two words")}),
        )
        .await;
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (body, end) = read_body(res).await;
    end.unwrap();
    let events = sse_events(&body);
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    for (event, data) in &events {
        assert_eq!(data["type"], event.as_str(), "event name matches data type");
    }
    assert_eq!(events[0].1["message"]["usage"]["input_tokens"], 5 + 5);
    let text: String = events[3..5]
        .iter()
        .map(|(_, d)| {
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(text, "two words");
    assert_eq!(events[6].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(events[6].1["usage"]["output_tokens"], 2);
}

#[tokio::test]
async fn tool_use_plain_and_streamed() {
    let mock = spawn().await;
    let tools = json!([{"name": "search", "input_schema": {"type": "object",
        "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}}}}]);
    let body: Value = mock
        .anthropic(
            json!({"model": "tool", "max_tokens": 64, "tools": tools, "messages": user("find")}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(body["content"][0]["type"], "tool_use");
    assert_eq!(
        body["content"][0]["input"],
        json!({"query": "mock", "limit": 1})
    );

    let res = mock
        .anthropic(
            json!({"model": "tool+chunks-3", "max_tokens": 64, "stream": true,
                          "tools": tools, "messages": user("find")}),
        )
        .await;
    let (body, _) = read_body(res).await;
    let events = sse_events(&body);
    assert_eq!(events[1].1["content_block"]["type"], "tool_use");
    assert_eq!(events[1].1["content_block"]["name"], "search");
    let json: String = events
        .iter()
        .filter(|(e, _)| e == "content_block_delta")
        .map(|(_, d)| {
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&json).unwrap(),
        json!({"query": "mock", "limit": 1})
    );
    assert_eq!(
        events[events.len() - 2].1["delta"]["stop_reason"],
        "tool_use"
    );
}

#[tokio::test]
async fn errors_use_anthropic_types() {
    let mock = spawn().await;
    for (status, kind) in [
        (400, "invalid_request_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ] {
        let res = mock
            .anthropic(json!({"model": format!("status-{status}"), "max_tokens": 8,
                              "messages": user("hi")}))
            .await;
        assert_eq!(res.status().as_u16(), status);
        let retry = res.headers().get("retry-after").is_some();
        assert_eq!(
            retry,
            matches!(status, 429 | 529),
            "retry-after on {status}"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], kind);
    }
    let res = mock
        .anthropic(json!({"model": "claude-9", "max_tokens": 8, "messages": user("hi")}))
        .await;
    assert_eq!(res.status(), 404);
    let res = mock
        .anthropic(json!({"model": "mock", "messages": user("hi")}))
        .await;
    assert_eq!(res.status(), 400, "max_tokens is required");
}

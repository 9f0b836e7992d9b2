//! Gemini `generateContent` / `streamGenerateContent`: keys, shapes, SSE and array streaming.

use serde_json::{Value, json};

use crate::helpers::{read_body, spawn, sse_data};

fn contents(text: &str) -> Value {
    json!({"systemInstruction": {"parts": [{"text": "be kind"}]},
           "contents": [{"role": "user", "parts": [{"text": text}]}]})
}

#[tokio::test]
async fn generate_content_shape_and_usage() {
    let mock = spawn().await;
    let res = mock
        .gemini(
            "gemini-2.0-flash+echo:generateContent",
            "",
            contents("hello gemini"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let candidate = &body["candidates"][0];
    assert_eq!(candidate["content"]["role"], "model");
    assert_eq!(candidate["content"]["parts"][0]["text"], "hello gemini");
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(
        body["usageMetadata"],
        json!({"promptTokenCount": 10, "candidatesTokenCount": 2, "totalTokenCount": 12})
    );
}

#[tokio::test]
async fn key_via_query_or_header() {
    let mock = spawn().await;
    let url = mock.url("/v1beta/models/mock:generateContent");
    let with_query = mock
        .client
        .post(format!("{url}?key=abc"))
        .json(&contents("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(with_query.status(), 200);
    let without = mock
        .client
        .post(&url)
        .json(&contents("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), 401);
    let err: Value = without.json().await.unwrap();
    assert_eq!(err["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(err["error"]["code"], 401);
    let invalid = mock
        .client
        .post(format!("{url}?key=invalid"))
        .json(&contents("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 401);
}

#[tokio::test]
async fn stream_sse_uses_crlf_frames_and_final_usage() {
    let mock = spawn().await;
    let res = mock
        .gemini(
            "echo+chunks-2:streamGenerateContent",
            "alt=sse",
            contents("abcd"),
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
    assert!(body.ends_with("\r\n\r\n"));
    let frames: Vec<Value> = sse_data(&body)
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(frames.len(), 3);
    let text: String = frames
        .iter()
        .map(|f| {
            f["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(text, "abcd");
    assert!(frames[0]["candidates"][0].get("finishReason").is_none());
    assert_eq!(frames[2]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(frames[2]["usageMetadata"]["candidatesTokenCount"], 1);
    assert_eq!(
        frames[2]["usageMetadata"]["totalTokenCount"],
        (3 + 2) + (3 + 1) + 1
    );
}

#[tokio::test]
async fn stream_without_alt_is_a_json_array() {
    let mock = spawn().await;
    let res = mock
        .gemini("echo:streamGenerateContent", "", contents("one two three"))
        .await;
    let (body, end) = read_body(res).await;
    end.unwrap();
    let items: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(items.len(), 3 + 1);
    assert_eq!(items[3]["usageMetadata"]["candidatesTokenCount"], 3);
}

#[tokio::test]
async fn function_call_and_errors() {
    let mock = spawn().await;
    let mut req = contents("weather");
    req["tools"] = json!([{"functionDeclarations": [{"name": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]}]);
    let body: Value = mock
        .gemini("tool:generateContent", "", req)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["candidates"][0]["content"]["parts"][0]["functionCall"],
        json!({"name": "weather", "args": {"city": "mock"}})
    );

    for (model, status, name) in [
        ("status-429", 429, "RESOURCE_EXHAUSTED"),
        ("status-503", 503, "UNAVAILABLE"),
        ("status-500", 500, "INTERNAL"),
        ("status-403", 403, "PERMISSION_DENIED"),
        ("gemini-9-ultra", 404, "NOT_FOUND"),
    ] {
        let res = mock
            .gemini(&format!("{model}:generateContent"), "", contents("x"))
            .await;
        assert_eq!(res.status().as_u16(), status);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["status"], name);
        assert_eq!(body["error"]["code"], status);
    }
    let res = mock.gemini("mock:generateContent", "", json!({})).await;
    assert_eq!(res.status(), 400);
}

//! Azure OpenAI, Bedrock Converse and Cohere v2: authentication, shapes, streams (Bedrock's
//! event-stream framing decoded by the gateway's checksum-verifying decoder) and cuts.

use keyway_providers::eventstream::{EventMessage, EventStreamDecoder};
use keyway_providers::sigv4::{self, AwsCredentials, Scope, SignableRequest};
use serde_json::{Value, json};

use crate::helpers::{TestMock, read_body, spawn, user};

const NOVA: &str = "amazon.nova-lite-v1:0";

fn azure_path(deployment: &str, version: Option<&str>) -> String {
    let mut path = format!("/openai/deployments/{deployment}/chat/completions");
    if let Some(v) = version {
        path.push_str(&format!("?api-version={v}"));
    }
    path
}

#[tokio::test]
async fn azure_needs_the_api_key_header_and_an_api_version() {
    let mock = spawn().await;
    let body = json!({"messages": user("one two")});
    let res = mock
        .client
        .post(mock.url(&azure_path("echo", Some("2024-10-21"))))
        .bearer_auth("k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        401,
        "a bearer token is not Azure's key header"
    );

    let res = mock
        .client
        .post(mock.url(&azure_path("echo", None)))
        .header("api-key", "k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let res = mock
        .client
        .post(mock.url(&azure_path("gpt-4o-mini+echo", Some("2024-10-21"))))
        .header("api-key", "k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["model"], "gpt-4o-mini+echo",
        "the deployment is the model"
    );
    assert_eq!(body["choices"][0]["message"]["content"], "one two");
    assert_eq!(mock.handle.stats().openai.completed, 3);
}

/// A Bedrock request signed the way the gateway signs it.
async fn bedrock(mock: &TestMock, model: &str, stream: bool, body: &Value) -> reqwest::Response {
    let path = keyway_providers::bedrock::request_path(model, stream);
    let bytes = body.to_string();
    let host = mock.handle.addr().to_string();
    let headers = sigv4::sign(
        &AwsCredentials::parse("AKIDMOCK:secret").unwrap(),
        Scope {
            region: "us-east-1",
            service: "bedrock",
            time: std::time::SystemTime::now(),
        },
        &SignableRequest {
            method: "POST",
            host: &host,
            path: &path,
            query: "",
            headers: &[("content-type", "application/json")],
            body: bytes.as_bytes(),
        },
    );
    let mut req = mock
        .client
        .post(mock.url(&path))
        .header("content-type", "application/json")
        .body(bytes);
    for (name, value) in headers {
        req = req.header(name, value);
    }
    req.send().await.unwrap()
}

fn converse_body(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": [{"text": text}]}],
           "system": [{"text": "Be brief."}],
           "inferenceConfig": {"maxTokens": 50}})
}

#[tokio::test]
async fn bedrock_needs_a_well_formed_sigv4_header() {
    let mock = spawn().await;
    let url = mock.url(&format!("/model/{NOVA}/converse"));
    let res = mock
        .client
        .post(&url)
        .json(&converse_body("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().contains_key("x-amzn-errortype"));
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["message"], "Missing Authentication Token");

    for bad in [
        "Bearer abc",
        "AWS4-HMAC-SHA256 Credential=AKID/20251205/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
        "AWS4-HMAC-SHA256 Credential=AKID/20251205/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    ] {
        let res = mock
            .client
            .post(&url)
            .header("authorization", bad)
            .header("x-amz-date", "20251205T000000Z")
            .json(&converse_body("hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{bad}");
    }

    let res = bedrock(
        &mock,
        &format!("{NOVA}+echo"),
        false,
        &converse_body("x y z"),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["output"]["message"]["content"][0]["text"], "x y z");
    assert_eq!(body["stopReason"], "end_turn");
    // System (3 + 2) + user (3 + 3).
    assert_eq!(body["usage"]["inputTokens"], 11);
    assert_eq!(body["usage"]["outputTokens"], 3);
}

#[tokio::test]
async fn bedrock_validates_the_conversation_like_converse_does() {
    let mock = spawn().await;
    let two_users = json!({"messages": [
        {"role": "user", "content": [{"text": "a"}]},
        {"role": "user", "content": [{"text": "b"}]}]});
    let res = bedrock(&mock, NOVA, false, &two_users).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["x-amzn-errortype"], "ValidationException");

    let mut extra = converse_body("a");
    extra["temperature"] = json!(0.5);
    let res = bedrock(&mock, NOVA, false, &extra).await;
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert!(
        err["message"].as_str().unwrap().contains("temperature"),
        "{err}"
    );

    let res = bedrock(&mock, "not-a-model", false, &converse_body("a")).await;
    assert_eq!(res.status(), 404);
}

fn decode(bytes: &[u8]) -> Vec<EventMessage> {
    let mut decoder = EventStreamDecoder::default();
    let messages = decoder.push(bytes).unwrap();
    assert!(!decoder.has_partial_message());
    messages
}

#[tokio::test]
async fn bedrock_streams_event_stream_frames_with_valid_checksums() {
    let mock = spawn().await;
    let res = bedrock(
        &mock,
        &format!("{NOVA}+echo+chunks-3"),
        true,
        &converse_body("a b c d e f"),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let bytes = res.bytes().await.unwrap();
    let messages = decode(&bytes);
    let kinds: Vec<&str> = messages
        .iter()
        .map(|m| m.header(":event-type").unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );
    assert!(
        messages
            .iter()
            .all(|m| m.header(":message-type") == Some("event"))
    );
    let text: String = messages
        .iter()
        .filter(|m| m.header(":event-type") == Some("contentBlockDelta"))
        .map(|m| {
            let v: Value = serde_json::from_slice(&m.payload).unwrap();
            v["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, "a b c d e f");
    let meta: Value = serde_json::from_slice(&messages[6].payload).unwrap();
    assert_eq!(meta["usage"]["outputTokens"], 6);

    // A tool call streams as contentBlockStart + toolUse input deltas.
    let mut body = converse_body("weather?");
    body["toolConfig"] = json!({"tools": [{"toolSpec": {"name": "get_weather",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}}}]});
    let res = bedrock(&mock, &format!("{NOVA}+tool"), true, &body).await;
    let messages = decode(&res.bytes().await.unwrap());
    let start: Value = serde_json::from_slice(&messages[1].payload).unwrap();
    assert_eq!(start["start"]["toolUse"]["name"], "get_weather");
    let stop: Value = serde_json::from_slice(&messages[messages.len() - 2].payload).unwrap();
    assert_eq!(stop["stopReason"], "tool_use");
}

#[tokio::test]
async fn bedrock_cut_after_drops_the_connection_mid_stream() {
    let mock = spawn().await;
    let res = bedrock(
        &mock,
        &format!("{NOVA}+chunks-5+cut-after-2"),
        true,
        &converse_body("a b c d e"),
    )
    .await;
    assert_eq!(res.status(), 200);
    let mut body = Vec::new();
    let mut stream = res.bytes_stream();
    let mut failed = false;
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        match chunk {
            Ok(bytes) => body.extend_from_slice(&bytes),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the connection must drop");
    let kinds: Vec<String> = decode(&body)
        .iter()
        .map(|m| m.header(":event-type").unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        ["messageStart", "contentBlockDelta", "contentBlockDelta"]
    );
    mock.wait_stats(|s| s.bedrock.cut == 1).await;
}

async fn cohere(mock: &TestMock, body: &Value) -> reqwest::Response {
    mock.client
        .post(mock.url("/v2/chat"))
        .bearer_auth("co-key")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cohere_chat_reports_billed_units_and_template_tokens() {
    let mock = spawn().await;
    let res = mock
        .client
        .post(mock.url("/v2/chat"))
        .json(&json!({"model": "command-r", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let res = cohere(
        &mock,
        &json!({"model": "command-r", "messages": user("hi"), "top_p": 0.5}),
    )
    .await;
    assert_eq!(res.status(), 400, "Cohere calls it `p`");

    let body: Value = cohere(
        &mock,
        &json!({"model": "command-r+echo", "messages": user("one two")}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["finish_reason"], "COMPLETE");
    assert_eq!(body["message"]["content"][0]["text"], "one two");
    assert_eq!(body["usage"]["billed_units"]["input_tokens"], 5);
    assert_eq!(body["usage"]["tokens"]["input_tokens"], 15);
}

#[tokio::test]
async fn cohere_streams_its_event_sequence_and_can_be_cut() {
    let mock = spawn().await;
    let res = cohere(
        &mock,
        &json!({"model": "command-r-plus+echo+chunks-2", "messages": user("a b"), "stream": true}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let (text, done) = read_body(res).await;
    done.unwrap();
    let kinds: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        kinds,
        [
            "message-start",
            "content-start",
            "content-delta",
            "content-delta",
            "content-end",
            "message-end"
        ]
    );
    assert!(text.contains(r#""finish_reason":"COMPLETE""#), "{text}");

    let res = cohere(
        &mock,
        &json!({"model": "command-r+chunks-4+cut-after-1", "messages": user("a"), "stream": true}),
    )
    .await;
    let (text, done) = read_body(res).await;
    assert!(done.is_err(), "the connection must drop");
    assert!(!text.contains("message-end"), "{text}");
    mock.wait_stats(|s| s.cohere.cut == 1).await;
}

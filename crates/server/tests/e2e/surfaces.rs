//! The legacy Completions and the Responses surfaces end to end against the mock provider in
//! each wire format, and the gateway's input limits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_testkit::{Backends, Tenant, TestApp, spawn_embedded_app, spawn_with};
use serde_json::{Value, json};
use std::time::Duration;

const SLUGS: [&str; 3] = ["mock", "mock-anthropic", "mock-gemini"];

async fn post(app: &TestApp, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(format!("{}{path}", app.gateway_url))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn setup() -> (TestApp, Tenant) {
    let app = spawn_embedded_app().await.unwrap();
    let tenant = app.seed_tenant("acme").await.unwrap();
    (app, tenant)
}

async fn events(app: &TestApp, tenant: &Tenant, n: u64) -> Vec<keyway_analytics::RequestEvent> {
    let org = tenant.org.id.to_string();
    for _ in 0..100 {
        if app.services.analytics.count(&org).await.unwrap() >= n {
            return app.services.analytics.recent(&org, 100).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {n} events for {org}");
}

/// `(event name, data)` of each SSE event.
fn sse(text: &str) -> Vec<(Option<String>, String)> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = Some(e.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (event, data)
        })
        .collect()
}

#[tokio::test]
async fn completions_reach_every_upstream_format() {
    let (app, tenant) = setup().await;
    for slug in SLUGS {
        let body =
            json!({"model": format!("{slug}/echo"), "prompt": "say it back", "max_tokens": 20});
        let resp = post(&app, "/v1/completions", &tenant.key, &body).await;
        assert_eq!(resp.status(), 200, "{slug}");
        assert_eq!(resp.headers()["x-keyway-provider"], slug);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["object"], "text_completion", "{slug}: {body}");
        assert_eq!(body["choices"][0]["text"], "say it back", "{slug}: {body}");
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        // 3 + 3 words in, 3 out.
        assert_eq!(body["usage"]["prompt_tokens"], 6, "{slug}: {body}");
        assert_eq!(body["usage"]["completion_tokens"], 3);
        assert_eq!(body["usage"]["total_tokens"], 9);
    }

    // Several prompts: one choice per prompt, in order, usage summed.
    let body = json!({"model": "mock-anthropic/echo", "prompt": ["first one", "second"]});
    let resp = post(&app, "/v1/completions", &tenant.key, &body).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let texts: Vec<(u64, &str)> = body["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["index"].as_u64().unwrap(), c["text"].as_str().unwrap()))
        .collect();
    assert_eq!(texts, [(0, "first one"), (1, "second")]);
    assert_eq!(body["usage"]["prompt_tokens"], 5 + 4);

    let recorded = events(&app, &tenant, 4).await;
    assert!(recorded.iter().all(|e| e.surface == "openai.completions"));
    assert!(
        recorded
            .iter()
            .all(|e| e.status_code == 200 && e.input_tokens > 0)
    );
}

#[tokio::test]
async fn completions_stream_as_text_completion_chunks() {
    let (app, tenant) = setup().await;
    for slug in SLUGS {
        let body = json!({"model": format!("{slug}/echo+chunks-3"), "prompt": "a b c",
            "stream": true, "stream_options": {"include_usage": true}});
        let resp = post(&app, "/v1/completions", &tenant.key, &body).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let events = sse(&resp.text().await.unwrap());
        assert_eq!(events.last().unwrap().1, "[DONE]", "{slug}");
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|(_, d)| serde_json::from_str(d).unwrap())
            .collect();
        assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"].get(0)?["text"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(text, "a b c", "{slug}");
        assert!(chunks.iter().any(|c| {
            c["choices"]
                .get(0)
                .is_some_and(|c| c["finish_reason"] == "stop")
        }));
        assert_eq!(
            chunks.last().unwrap()["usage"]["completion_tokens"],
            3,
            "{slug}"
        );
    }

    // A cut upstream ends with an error frame, never [DONE].
    let body = json!({"model": "mock/chunks-10+cut-after-3", "prompt": "x", "stream": true});
    let text = post(&app, "/v1/completions", &tenant.key, &body)
        .await
        .text()
        .await
        .unwrap();
    let events = sse(&text);
    assert!(events.iter().all(|(_, d)| d != "[DONE]"));
    let last: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert!(last["error"]["message"].is_string(), "{last}");
}

#[tokio::test]
async fn responses_reach_every_upstream_format() {
    let (app, tenant) = setup().await;
    for slug in SLUGS {
        let body = json!({
            "model": format!("{slug}/echo"),
            "instructions": "Repeat the user.",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "hello responses"}]}],
            "max_output_tokens": 50,
        });
        let resp = post(&app, "/v1/responses", &tenant.key, &body).await;
        assert_eq!(resp.status(), 200, "{slug}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["object"], "response", "{slug}: {body}");
        assert_eq!(body["status"], "completed");
        assert!(body["id"].as_str().unwrap().starts_with("resp_"));
        assert_eq!(body["instructions"], "Repeat the user.");
        assert_eq!(body["max_output_tokens"], 50);
        let message = &body["output"][0];
        assert_eq!(message["type"], "message");
        assert_eq!(message["role"], "assistant");
        assert_eq!(message["content"][0]["type"], "output_text");
        assert_eq!(message["content"][0]["text"], "hello responses", "{slug}");
        // Instructions count as one message: (3 + 3) + (3 + 2) in, 2 out.
        assert_eq!(body["usage"]["input_tokens"], 11, "{slug}: {body}");
        assert_eq!(body["usage"]["output_tokens"], 2);
        assert_eq!(body["usage"]["total_tokens"], 13);
    }

    // A tool call comes back as a function_call item; its output goes back as an input item.
    let tools = json!([{"type": "function", "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
            "required": ["city"]}}]);
    for slug in SLUGS {
        let body = json!({"model": format!("{slug}/tool"), "input": "weather in Paris?",
            "tools": tools});
        let resp = post(&app, "/v1/responses", &tenant.key, &body).await;
        assert_eq!(resp.status(), 200, "{slug}");
        let body: Value = resp.json().await.unwrap();
        let call = body["output"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == "function_call")
            .unwrap_or_else(|| panic!("{slug}: {body}"))
            .clone();
        assert_eq!(call["name"], "get_weather");
        let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
        assert!(args["city"].is_string(), "{args}");

        let follow_up = json!({"model": format!("{slug}/echo"), "tools": tools, "input": [
            {"role": "user", "content": "weather in Paris?"},
            {"type": "function_call", "call_id": call["call_id"], "name": "get_weather",
                "arguments": call["arguments"]},
            {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"},
            {"role": "user", "content": "thanks"},
        ]});
        let resp = post(&app, "/v1/responses", &tenant.key, &follow_up).await;
        assert_eq!(resp.status(), 200, "{slug}: {}", resp.text().await.unwrap());
        let body: Value = resp.json().await.unwrap();
        // Anthropic folds the tool result and the next user text into one user turn, which
        // the echo repeats whole.
        let text = body["output"][0]["content"][0]["text"].as_str().unwrap();
        assert!(text.ends_with("thanks"), "{slug}: {text}");
    }

    let recorded = events(&app, &tenant, 9).await;
    assert!(recorded.iter().all(|e| e.surface == "openai.responses"));
    assert!(recorded.iter().all(|e| e.status_code == 200));
}

#[tokio::test]
async fn responses_stream_the_responses_event_sequence() {
    let (app, tenant) = setup().await;
    for slug in SLUGS {
        let body = json!({"model": format!("{slug}/echo+chunks-4"), "input": "one two three four",
            "stream": true});
        let resp = post(&app, "/v1/responses", &tenant.key, &body).await;
        assert_eq!(resp.status(), 200);
        let events = sse(&resp.text().await.unwrap());
        let kinds: Vec<&str> = events.iter().map(|(e, _)| e.as_deref().unwrap()).collect();
        assert_eq!(
            kinds[..4],
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added"
            ],
            "{slug}"
        );
        assert_eq!(
            kinds[kinds.len() - 4..],
            [
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        let data: Vec<Value> = events
            .iter()
            .map(|(_, d)| serde_json::from_str(d).unwrap())
            .collect();
        for (i, d) in data.iter().enumerate() {
            assert_eq!(d["sequence_number"], i as u64);
            assert_eq!(d["type"], kinds[i]);
        }
        let deltas: String = data
            .iter()
            .filter(|d| d["type"] == "response.output_text.delta")
            .map(|d| d["delta"].as_str().unwrap())
            .collect();
        assert_eq!(deltas, "one two three four", "{slug}");
        let done = &data.last().unwrap()["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(
            done["output"][0]["content"][0]["text"],
            "one two three four"
        );
        assert_eq!(done["usage"]["output_tokens"], 4, "{slug}: {done}");
    }

    // Streamed tool calls: a function_call item with argument deltas.
    let body = json!({"model": "mock-anthropic/tool", "input": "x", "stream": true,
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object",
            "properties": {"q": {"type": "string"}}, "required": ["q"]}}]});
    let text = post(&app, "/v1/responses", &tenant.key, &body)
        .await
        .text()
        .await
        .unwrap();
    let events = sse(&text);
    let done: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    let call = done["response"]["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "function_call")
        .unwrap()
        .clone();
    assert_eq!(call["name"], "f");
    let args: String = events
        .iter()
        .filter(|(e, _)| e.as_deref() == Some("response.function_call_arguments.delta"))
        .map(|(_, d)| {
            serde_json::from_str::<Value>(d).unwrap()["delta"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(args, call["arguments"].as_str().unwrap());

    // A cut upstream ends with `error` and `response.failed`, never `response.completed`.
    let body = json!({"model": "mock/chunks-10+cut-after-3", "input": "x", "stream": true});
    let text = post(&app, "/v1/responses", &tenant.key, &body)
        .await
        .text()
        .await
        .unwrap();
    let kinds: Vec<String> = sse(&text).into_iter().filter_map(|(e, _)| e).collect();
    assert_eq!(kinds[kinds.len() - 2..], ["error", "response.failed"]);
    assert!(!kinds.iter().any(|k| k == "response.completed"));
}

#[tokio::test]
async fn errors_on_the_new_surfaces_keep_openai_shape() {
    let (app, tenant) = setup().await;
    for (path, body, param) in [
        (
            "/v1/responses",
            json!({"model": "mock/echo", "input": "x", "previous_response_id": "resp_1"}),
            Value::Null,
        ),
        (
            "/v1/responses",
            json!({"model": "mock/echo", "input": [{"type": "reasoning"}]}),
            json!("input[0]"),
        ),
        (
            "/v1/responses",
            json!({"model": "mock/echo", "input": []}),
            json!("input"),
        ),
        (
            "/v1/completions",
            json!({"model": "mock/echo", "prompt": [[1, 2]]}),
            json!("prompt"),
        ),
        (
            "/v1/completions",
            json!({"model": "mock/echo", "prompt": "x", "echo": true}),
            json!("echo"),
        ),
    ] {
        let resp = post(&app, path, &tenant.key, &body).await;
        assert_eq!(resp.status(), 400, "{path} {body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["type"], "invalid_request_error", "{err}");
        assert_eq!(err["error"]["param"], param, "{err}");
    }
    let resp = post(
        &app,
        "/v1/responses",
        &tenant.key,
        &json!({"model": "mock-anthropic/status-429", "input": "x"}),
    )
    .await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "rate_limit_error", "{err}");

    let recorded = events(&app, &tenant, 6).await;
    assert_eq!(recorded.iter().filter(|e| e.status_code == 400).count(), 5);
}

#[tokio::test]
async fn input_limits_answer_400_in_the_surface_shape() {
    let app = spawn_with(Backends::Embedded, |s| {
        s.gateway.max_messages = 3;
        s.gateway.max_json_depth = 8;
        s.gateway.max_tokens = 1000;
    })
    .await
    .unwrap();
    let tenant = app.seed_tenant("acme").await.unwrap();
    let many: Vec<Value> = (0..4)
        .map(|i| json!({"role": "user", "content": format!("m{i}")}))
        .collect();
    let mut deep = json!("x");
    for _ in 0..8 {
        deep = json!([deep]);
    }
    for (path, body, param) in [
        (
            "/v1/chat/completions",
            json!({"model": "mock/echo", "messages": many}),
            json!("messages"),
        ),
        (
            "/v1/responses",
            json!({"model": "mock/echo", "input": many}),
            json!("input"),
        ),
        (
            "/v1/chat/completions",
            json!({"model": "mock/echo", "max_tokens": 1001,
            "messages": [{"role": "user", "content": "x"}]}),
            json!("max_tokens"),
        ),
        (
            "/v1/responses",
            json!({"model": "mock/echo", "max_output_tokens": 5000, "input": "x"}),
            json!("max_output_tokens"),
        ),
        (
            "/v1/chat/completions",
            json!({"model": "mock/echo", "metadata": {"a": deep},
            "messages": [{"role": "user", "content": "x"}]}),
            Value::Null,
        ),
    ] {
        let resp = post(&app, path, &tenant.key, &body).await;
        assert_eq!(resp.status(), 400, "{path} {body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "input_limit_exceeded", "{err}");
        assert_eq!(err["error"]["param"], param, "{err}");
    }
    // The Anthropic surface answers in its own shape.
    let resp = app
        .client
        .post(format!("{}/v1/messages", app.gateway_url))
        .header("x-api-key", &tenant.key)
        .json(&json!({"model": "mock/echo", "max_tokens": 4000,
            "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens")
    );
    // Within the limits, all is well.
    let ok = json!({"model": "mock/echo", "max_tokens": 1000,
        "messages": [{"role": "user", "content": "x"}]});
    assert_eq!(
        post(&app, "/v1/chat/completions", &tenant.key, &ok)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn oversized_bodies_answer_413_in_the_surface_shape_announced_or_not() {
    let app = spawn_with(Backends::Embedded, |s| s.gateway.max_body_bytes = 4096)
        .await
        .unwrap();
    let tenant = app.seed_tenant("acme").await.unwrap();
    let big = "x".repeat(5000);
    let chunked = |text: String| {
        // A streamed body carries no Content-Length: the limit holds while reading it.
        let body = json!({"model": "mock/echo", "messages": [{"role": "user", "content": text}]});
        let stream = futures_util::stream::iter(
            body.to_string()
                .into_bytes()
                .chunks(1000)
                .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
                .collect::<Vec<_>>(),
        );
        reqwest::Body::wrap_stream(stream)
    };
    for announced in [true, false] {
        let body = json!({"model": "mock/echo", "messages": [{"role": "user", "content": big}]});
        let req = app
            .client
            .post(format!("{}/v1/chat/completions", app.gateway_url))
            .bearer_auth(&tenant.key)
            .header("content-type", "application/json");
        let req = if announced {
            req.json(&body)
        } else {
            req.body(chunked(big.clone()))
        };
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 413, "announced={announced}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "request_too_large", "{err}");
        assert_eq!(err["error"]["type"], "invalid_request_error", "{err}");
    }
    let resp = app
        .client
        .post(format!("{}/v1/messages", app.gateway_url))
        .header("x-api-key", &tenant.key)
        .json(&json!({"model": "mock/echo", "max_tokens": 10,
            "messages": [{"role": "user", "content": big}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(
        (err["type"].as_str(), err["error"]["type"].as_str()),
        (Some("error"), Some("request_too_large")),
        "{err}"
    );
    // Under the limit, streamed or not, the request is served.
    let resp = app
        .client
        .post(format!("{}/v1/chat/completions", app.gateway_url))
        .bearer_auth(&tenant.key)
        .header("content-type", "application/json")
        .body(chunked("y".repeat(3000)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "y".repeat(3000));
}

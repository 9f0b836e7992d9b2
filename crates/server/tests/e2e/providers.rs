//! Azure OpenAI, AWS Bedrock (Converse, SigV4, event-stream) and Cohere v2 end to end: both
//! client surfaces, streaming and not, against the mock speaking each provider's own wire
//! format, with the behaviour parts (echo, status, delay, chunks, cut-after, tool) and what
//! analytics records.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_testkit::{ProviderKind, Tenant, TestApp, spawn_embedded_app};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// (credential slug, a model name the mock accepts, provider kind as recorded).
const PROVIDERS: [(&str, &str, &str); 3] = [
    ("azure", "gpt-4o-mini", "azure-openai"),
    (
        "bedrock",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "bedrock",
    ),
    ("cohere", "command-r-plus", "cohere"),
];

async fn setup() -> (TestApp, Tenant) {
    let app = spawn_embedded_app().await.unwrap();
    let tenant = app.seed_tenant("acme").await.unwrap();
    app.seed_cloud_providers(&tenant).await.unwrap();
    (app, tenant)
}

async fn post(app: &TestApp, path: &str, key: &str, body: &Value) -> reqwest::Response {
    let req = app
        .client
        .post(format!("{}{path}", app.gateway_url))
        .json(body);
    let req = if path == "/v1/messages" {
        req.header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
    } else {
        req.bearer_auth(key)
    };
    req.send().await.unwrap()
}

fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

fn messages(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}]})
}

fn sse_data(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

fn sse_events(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .map(str::to_owned)
        .collect()
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

#[tokio::test]
async fn the_openai_surface_reaches_azure_bedrock_and_cohere() {
    let (app, tenant) = setup().await;
    for (slug, model, _) in PROVIDERS {
        let name = format!("{slug}/{model}+echo");
        let resp = post(
            &app,
            "/v1/chat/completions",
            &tenant.key,
            &chat(&name, "one two three"),
        )
        .await;
        assert_eq!(resp.status(), 200, "{slug}");
        assert_eq!(resp.headers()["x-keyway-provider"], slug);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body["choices"][0]["message"]["content"], "one two three",
            "{slug}: {body}"
        );
        assert_eq!(body["choices"][0]["finish_reason"], "stop", "{slug}");
        // 3 + words for the one message; billed units for Cohere (not its template tokens).
        assert_eq!(body["usage"]["prompt_tokens"], 6, "{slug}: {body}");
        assert_eq!(body["usage"]["completion_tokens"], 3, "{slug}");
        assert!(!body["id"].as_str().unwrap().is_empty(), "{slug}: {body}");
        assert_eq!(body["model"], format!("{model}+echo"), "{slug}");
    }
    let stats = app.mock.stats();
    assert_eq!(
        (
            stats.openai.completed,
            stats.bedrock.completed,
            stats.cohere.completed
        ),
        (1, 1, 1),
        "each call reached the mock in its provider's own format: {stats:?}"
    );

    let recorded = events(&app, &tenant, 3).await;
    for (_, _, kind) in PROVIDERS {
        let event = recorded
            .iter()
            .find(|e| e.provider.as_deref() == Some(kind))
            .unwrap_or_else(|| panic!("no event for {kind}"));
        assert_eq!((event.input_tokens, event.output_tokens), (6, 3), "{kind}");
        assert_eq!(event.status_code, 200);
    }
}

#[tokio::test]
async fn catalog_models_are_priced_per_provider() {
    let (app, tenant) = setup().await;
    // "hello there": 3 + 2 = 5 input tokens; the default reply has 10 words.
    let expected = [
        // Azure inherits OpenAI's gpt-4o-mini: $0.15 / $0.60 per million.
        ("azure/gpt-4o-mini", 5 * 150 + 10 * 600),
        // Cohere command-r-plus: $2.50 / $10.00, on billed units.
        ("cohere/command-r-plus", 5 * 2_500 + 10 * 10_000),
        // Bedrock Nova Lite: $0.06 / $0.24.
        ("bedrock/amazon.nova-lite-v1:0", 5 * 60 + 10 * 240),
    ];
    for (model, _) in expected {
        let resp = post(
            &app,
            "/v1/chat/completions",
            &tenant.key,
            &chat(model, "hello there"),
        )
        .await;
        assert_eq!(resp.status(), 200, "{model}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["usage"]["prompt_tokens"], 5, "{model}: {body}");
    }
    let recorded = events(&app, &tenant, 3).await;
    for (model, nanos) in expected {
        let event = recorded
            .iter()
            .find(|e| e.requested_model == model)
            .unwrap_or_else(|| panic!("no event for {model}"));
        assert_eq!(event.cost_nano_usd, nanos, "{model}");
    }
}

#[tokio::test]
async fn the_anthropic_surface_reaches_azure_bedrock_and_cohere() {
    let (app, tenant) = setup().await;
    for (slug, model, _) in PROVIDERS {
        let name = format!("{slug}/{model}+echo");
        let resp = post(
            &app,
            "/v1/messages",
            &tenant.key,
            &messages(&name, "a b c d"),
        )
        .await;
        assert_eq!(resp.status(), 200, "{slug}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["type"], "message", "{slug}: {body}");
        assert_eq!(body["content"][0]["text"], "a b c d", "{slug}: {body}");
        assert_eq!(body["stop_reason"], "end_turn", "{slug}");
        assert_eq!(body["usage"]["input_tokens"], 7, "{slug}: {body}");
        assert_eq!(body["usage"]["output_tokens"], 4, "{slug}");
    }
}

#[tokio::test]
async fn streams_translate_event_by_event_on_both_surfaces() {
    let (app, tenant) = setup().await;
    for (slug, model, _) in PROVIDERS {
        let name = format!("{slug}/{model}+echo+chunks-4");
        let mut body = chat(&name, "one two three four");
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
        let resp = post(&app, "/v1/chat/completions", &tenant.key, &body).await;
        assert_eq!(resp.status(), 200, "{slug}");
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let text = resp.text().await.unwrap();
        let data = sse_data(&text);
        assert_eq!(
            data.last().map(String::as_str),
            Some("[DONE]"),
            "{slug}: {text}"
        );
        let chunks: Vec<Value> = data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        let content: String = chunks
            .iter()
            .filter_map(|c| c["choices"].get(0)?["delta"]["content"].as_str())
            .collect();
        assert_eq!(content, "one two three four", "{slug}: {text}");
        let deltas = chunks
            .iter()
            .filter(|c| {
                c["choices"]
                    .get(0)
                    .and_then(|ch| ch["delta"]["content"].as_str())
                    .is_some_and(|s| !s.is_empty())
            })
            .count();
        assert_eq!(
            deltas, 4,
            "{slug}: the upstream's chunks are relayed one by one"
        );
        assert!(
            chunks
                .iter()
                .any(|c| c["choices"][0]["finish_reason"] == "stop"),
            "{slug}"
        );
        let usage = &chunks.last().unwrap()["usage"];
        assert_eq!(
            (
                usage["prompt_tokens"].as_u64(),
                usage["completion_tokens"].as_u64()
            ),
            (Some(7), Some(4)),
            "{slug}: {text}"
        );
        assert!(!chunks[0]["id"].as_str().unwrap().is_empty(), "{slug}");

        let mut body = messages(&name, "w x y z");
        body["stream"] = json!(true);
        let text = post(&app, "/v1/messages", &tenant.key, &body)
            .await
            .text()
            .await
            .unwrap();
        let kinds = sse_events(&text);
        assert_eq!(
            kinds.first().map(String::as_str),
            Some("message_start"),
            "{slug}"
        );
        assert_eq!(
            kinds.last().map(String::as_str),
            Some("message_stop"),
            "{slug}: {text}"
        );
        let streamed: String = sse_data(&text)
            .iter()
            .map(|d| serde_json::from_str::<Value>(d).unwrap())
            .filter_map(|v| v["delta"]["text"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(streamed, "w x y z", "{slug}");
    }
    let recorded = events(&app, &tenant, 6).await;
    assert!(
        recorded
            .iter()
            .all(|e| e.stream && e.status_code == 200 && e.output_tokens == 4),
        "{recorded:?}"
    );
}

#[tokio::test]
async fn a_cut_upstream_stream_ends_with_an_error_event_on_both_surfaces() {
    let (app, tenant) = setup().await;
    for (slug, model, _) in PROVIDERS {
        let name = format!("{slug}/{model}+chunks-6+cut-after-2");
        let mut body = chat(&name, "x");
        body["stream"] = json!(true);
        let text = post(&app, "/v1/chat/completions", &tenant.key, &body)
            .await
            .text()
            .await
            .unwrap();
        let data = sse_data(&text);
        assert!(!data.iter().any(|d| d == "[DONE]"), "{slug}: {text}");
        assert!(
            !text.contains("\"finish_reason\":\"stop\""),
            "{slug}: {text}"
        );
        let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
        assert!(last["error"].is_object(), "{slug}: {text}");

        let mut body = messages(&name, "x");
        body["stream"] = json!(true);
        let text = post(&app, "/v1/messages", &tenant.key, &body)
            .await
            .text()
            .await
            .unwrap();
        let kinds = sse_events(&text);
        assert_eq!(
            kinds.last().map(String::as_str),
            Some("error"),
            "{slug}: {text}"
        );
        assert!(!kinds.iter().any(|k| k == "message_stop"), "{slug}");
    }
    let recorded = events(&app, &tenant, 6).await;
    assert!(
        recorded
            .iter()
            .all(|e| e.error_class.as_deref() == Some("stream_incomplete")),
        "{recorded:?}"
    );
}

#[tokio::test]
async fn upstream_statuses_and_delays_keep_the_surface_shape() {
    let (app, tenant) = setup().await;
    for (slug, model, _) in PROVIDERS {
        let resp = post(
            &app,
            "/v1/chat/completions",
            &tenant.key,
            &chat(&format!("{slug}/{model}+status-429"), "x"),
        )
        .await;
        assert_eq!(resp.status(), 429, "{slug}");
        assert_eq!(resp.headers()["retry-after"], "1", "{slug}");
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Rate limit"),
            "{slug}: {body}"
        );

        let resp = post(
            &app,
            "/v1/messages",
            &tenant.key,
            &messages(&format!("{slug}/{model}+status-400"), "x"),
        )
        .await;
        assert_eq!(resp.status(), 400, "{slug}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["type"], "error", "{slug}: {body}");
        assert_eq!(body["error"]["type"], "invalid_request_error", "{slug}");

        let started = Instant::now();
        let resp = post(
            &app,
            "/v1/chat/completions",
            &tenant.key,
            &chat(&format!("{slug}/{model}+delay-300"), "x"),
        )
        .await;
        assert_eq!(resp.status(), 200, "{slug}");
        assert!(started.elapsed() >= Duration::from_millis(300), "{slug}");
    }
}

#[tokio::test]
async fn tool_calls_round_trip_through_bedrock_and_cohere() {
    let (app, tenant) = setup().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}]);
    for (slug, model, _) in PROVIDERS {
        let mut body = chat(&format!("{slug}/{model}+tool"), "weather?");
        body["tools"] = tools.clone();
        body["stream"] = json!(true);
        let text = post(&app, "/v1/chat/completions", &tenant.key, &body)
            .await
            .text()
            .await
            .unwrap();
        let chunks: Vec<Value> = sse_data(&text)
            .iter()
            .filter(|d| *d != "[DONE]")
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        let name = chunks
            .iter()
            .find_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["name"].as_str())
            .unwrap_or_else(|| panic!("{slug}: no tool call in {text}"));
        assert_eq!(name, "get_weather");
        let args: String = chunks
            .iter()
            .filter_map(|c| {
                c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            })
            .collect();
        let args: Value = serde_json::from_str(&args).unwrap();
        assert!(args["city"].is_string(), "{slug}: {args}");
        assert!(
            chunks
                .iter()
                .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"),
            "{slug}: {text}"
        );

        // Non-streamed, for an Anthropic client.
        let mut body = messages(&format!("{slug}/{model}+tool"), "weather?");
        body["tools"] =
            json!([{"name": "get_weather", "input_schema": tools[0]["function"]["parameters"]}]);
        let body: Value = post(&app, "/v1/messages", &tenant.key, &body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["stop_reason"], "tool_use", "{slug}: {body}");
        let block = body["content"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == "tool_use")
            .unwrap_or_else(|| panic!("{slug}: {body}"));
        assert_eq!(block["name"], "get_weather");
        assert!(block["input"]["city"].is_string(), "{slug}: {body}");
    }
}

#[tokio::test]
async fn what_a_provider_cannot_do_is_refused_before_any_upstream_call() {
    let (app, tenant) = setup().await;
    let mut body = chat("bedrock/amazon.nova-lite-v1:0", "x");
    body["n"] = json!(2);
    let resp = post(&app, "/v1/chat/completions", &tenant.key, &body).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`n` greater than 1"),
        "{err}"
    );
    assert_eq!(err["error"]["type"], "invalid_request_error", "{err}");
    assert_eq!(app.mock.stats().bedrock.started, 0);

    let mut body = chat("cohere/command-r", "x");
    body["n"] = json!(2);
    let resp = post(&app, "/v1/chat/completions", &tenant.key, &body).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(app.mock.stats().cohere.started, 0);
}

#[tokio::test]
async fn provider_settings_and_credentials_are_checked() {
    let (app, tenant) = setup().await;
    let base = Some(app.mock.base_url());
    // A Bedrock credential without a region.
    app.add_credential(
        &tenant,
        "bedrock-noregion",
        ProviderKind::Bedrock,
        base.clone(),
        json!({}),
        "AKIAMOCK:secret",
    )
    .await
    .unwrap();
    let resp = post(
        &app,
        "/v1/chat/completions",
        &tenant.key,
        &chat("bedrock-noregion/amazon.nova-lite-v1:0", "x"),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert!(
        err["error"]["message"].as_str().unwrap().contains("region"),
        "{err}"
    );

    // A region that would change the endpoint's host is refused the same way.
    app.add_credential(
        &tenant,
        "bedrock-badregion",
        ProviderKind::Bedrock,
        None,
        json!({"region": "evil.example/#"}),
        "AKIAMOCK:secret",
    )
    .await
    .unwrap();
    let resp = post(
        &app,
        "/v1/chat/completions",
        &tenant.key,
        &chat("bedrock-badregion/amazon.nova-lite-v1:0", "x"),
    )
    .await;
    assert_eq!(resp.status(), 400);

    // A Bedrock key that is not ACCESS_KEY_ID:SECRET: refused, and never echoed.
    app.add_credential(
        &tenant,
        "bedrock-badkey",
        ProviderKind::Bedrock,
        base.clone(),
        json!({"region": "us-west-2"}),
        "just-a-secret-value",
    )
    .await
    .unwrap();
    let resp = post(
        &app,
        "/v1/chat/completions",
        &tenant.key,
        &chat("bedrock-badkey/amazon.nova-lite-v1:0", "x"),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(text.contains("ACCESS_KEY_ID:SECRET_ACCESS_KEY"), "{text}");
    assert!(!text.contains("just-a-secret-value"), "{text}");

    // Keys the upstreams reject: Bedrock answers 403 (an unknown access key id), Azure 401.
    app.add_credential(
        &tenant,
        "bedrock-invalid",
        ProviderKind::Bedrock,
        base.clone(),
        json!({"region": "us-east-1"}),
        "invalid:secret",
    )
    .await
    .unwrap();
    let resp = post(
        &app,
        "/v1/messages",
        &tenant.key,
        &messages("bedrock-invalid/amazon.nova-lite-v1:0", "x"),
    )
    .await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "permission_error", "{body}");

    app.add_credential(
        &tenant,
        "azure-invalid",
        ProviderKind::AzureOpenai,
        base,
        json!({}),
        "invalid",
    )
    .await
    .unwrap();
    let resp = post(
        &app,
        "/v1/chat/completions",
        &tenant.key,
        &chat("azure-invalid/gpt-4o-mini", "x"),
    )
    .await;
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn azure_embeddings_go_to_the_deployment() {
    let (app, tenant) = setup().await;
    let body = json!({"model": "azure/text-embedding-3-small", "input": ["alpha beta", "gamma"], "dimensions": 8});
    let resp = post(&app, "/v1/embeddings", &tenant.key, &body).await;
    assert_eq!(resp.status(), 200);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("x-keyway-provider").as_deref(), Some("azure"));
    assert_eq!(
        header("x-keyway-model").as_deref(),
        Some("text-embedding-3-small")
    );
    assert_eq!(header("x-keyway-retries").as_deref(), Some("0"));
    assert_eq!(header("x-keyway-fallback-index").as_deref(), Some("0"));
    let cost: f64 = header("x-keyway-cost-usd").unwrap().parse().unwrap();
    assert!(
        cost > 0.0,
        "an embedding of priced tokens costs something: {cost}"
    );
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["data"].as_array().unwrap().len(), 2, "{answer}");
    assert_eq!(answer["data"][0]["embedding"].as_array().unwrap().len(), 8);
    assert_eq!(answer["model"], "text-embedding-3-small");
    // Embeddings exist only for OpenAI-format upstreams.
    let refused = json!({"model": "bedrock/amazon.titan-embed-text-v2:0", "input": "x"});
    assert_eq!(
        post(&app, "/v1/embeddings", &tenant.key, &refused)
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn a_tool_conversation_reaches_bedrock_and_cohere_in_their_shapes() {
    let (app, tenant) = setup().await;
    let conversation = json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C"},
        {"role": "user", "content": "And tomorrow?"}
    ]);
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    // Bedrock: the tool result and the next user text merge into one user turn (Converse, and
    // the mock, refuse two user turns in a row), so 4 messages: 5 + 6 + 3 + (3 + 2 + 2).
    // Cohere keeps 5 messages: 5 + 6 + 3 + (3 + 2) + (3 + 2).
    for (model, prompt_tokens) in [
        ("bedrock/amazon.nova-lite-v1:0+echo", 21),
        ("cohere/command-r+echo", 24),
    ] {
        let body = json!({"model": model, "messages": conversation, "tools": tools});
        let resp = post(&app, "/v1/chat/completions", &tenant.key, &body).await;
        assert_eq!(resp.status(), 200, "{model}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body["usage"]["prompt_tokens"], prompt_tokens,
            "{model}: {body}"
        );
        let text = body["choices"][0]["message"]["content"].as_str().unwrap();
        assert!(text.ends_with("And tomorrow?"), "{model}: {text}");
    }
}

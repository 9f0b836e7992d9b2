//! The gateway end to end: a virtual key, provider credentials pointing at the mock provider in
//! each wire format, and both client surfaces, streaming and not, with the request events that
//! land in analytics.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_testkit::{Backends, Tenant, TestApp, spawn_embedded_app, spawn_with};
use serde_json::{Value, json};
use std::time::Duration;

fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

fn anthropic(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}]})
}

async fn post(app: &TestApp, path: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = app
        .client
        .post(format!("{}{path}", app.gateway_url))
        .json(body);
    if let Some(key) = key {
        req = if path == "/v1/messages" {
            req.header("x-api-key", key)
                .header("anthropic-version", "2023-06-01")
        } else {
            req.bearer_auth(key)
        };
    }
    req.send().await.unwrap()
}

async fn setup() -> (TestApp, Tenant) {
    let app = spawn_embedded_app().await.unwrap();
    let tenant = app.seed_tenant("acme").await.unwrap();
    (app, tenant)
}

/// Waits until `n` events of the org are in analytics and returns the most recent ones.
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
async fn openai_surface_reaches_every_upstream_format() {
    let (app, tenant) = setup().await;
    for slug in ["mock", "mock-anthropic", "mock-gemini"] {
        let resp = post(
            &app,
            "/v1/chat/completions",
            Some(&tenant.key),
            &chat(&format!("{slug}/echo"), "hello there"),
        )
        .await;
        assert_eq!(resp.status(), 200, "{slug}");
        let h = resp.headers().clone();
        assert_eq!(h["x-keyway-provider"], slug);
        assert_eq!(h["x-keyway-model"], "echo");
        assert!(h.contains_key("x-keyway-request-id"));
        let cost: f64 = h["x-keyway-cost-usd"].to_str().unwrap().parse().unwrap();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["object"], "chat.completion", "{slug}: {body}");
        assert_eq!(
            body["choices"][0]["message"]["content"], "hello there",
            "{slug}: {body}"
        );
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        // The mock's usage rule: 3 + words per message in, words of the reply out.
        assert_eq!(body["usage"]["prompt_tokens"], 5, "{slug}: {body}");
        assert_eq!(body["usage"]["completion_tokens"], 2);
        // Mock models are priced so demos show cost; "echo" on a real provider kind is not a
        // catalog model, so it costs nothing rather than a guessed price.
        assert_eq!(cost > 0.0, slug == "mock", "{slug}: {cost}");
    }
    let recorded = events(&app, &tenant, 3).await;
    assert!(
        recorded
            .iter()
            .all(|e| e.status_code == 200 && e.input_tokens == 5 && e.output_tokens == 2)
    );
    assert!(
        recorded
            .iter()
            .all(|e| e.key_id == Some(tenant.key_id.to_string()))
    );
    assert!(
        recorded
            .iter()
            .all(|e| (e.cost_nano_usd > 0) == (e.provider.as_deref() == Some("mock")))
    );
    let providers: Vec<_> = recorded.iter().filter_map(|e| e.provider.clone()).collect();
    for kind in ["mock", "anthropic", "gemini"] {
        assert!(providers.iter().any(|p| p == kind), "{providers:?}");
    }
}

#[tokio::test]
async fn anthropic_surface_reaches_openai_format_upstreams() {
    let (app, tenant) = setup().await;
    let resp = post(
        &app,
        "/v1/messages",
        Some(&tenant.key),
        &anthropic("mock/echo", "ping pong"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "message", "{body}");
    assert_eq!(body["content"][0]["text"], "ping pong");
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["usage"]["output_tokens"], 2);
}

fn sse_data(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn streams_are_translated_event_by_event_with_usage() {
    let (app, tenant) = setup().await;
    let mut body = chat("mock-anthropic/echo+chunks-4", "one two three four");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = post(&app, "/v1/chat/completions", Some(&tenant.key), &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let data = sse_data(&resp.text().await.unwrap());
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| {
            c["choices"].get(0)?["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "one two three four");
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(
        (
            usage["prompt_tokens"].as_u64(),
            usage["completion_tokens"].as_u64()
        ),
        (Some(7), Some(4))
    );

    // The reverse direction: an Anthropic SDK stream served by an OpenAI-format provider.
    let mut body = anthropic("mock/echo+chunks-3", "a b c");
    body["stream"] = json!(true);
    let resp = post(&app, "/v1/messages", Some(&tenant.key), &body).await;
    let text = resp.text().await.unwrap();
    let kinds: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(kinds.first(), Some(&"message_start"));
    assert_eq!(kinds.last(), Some(&"message_stop"));
    assert!(kinds.contains(&"content_block_delta") && kinds.contains(&"message_delta"));

    let recorded = events(&app, &tenant, 2).await;
    assert!(
        recorded
            .iter()
            .all(|e| e.stream && e.status_code == 200 && e.ttft_ms.is_some())
    );
    assert!(recorded.iter().all(|e| e.output_tokens > 0));
    assert!(
        recorded
            .iter()
            .any(|e| e.provider.as_deref() == Some("mock") && e.cost_nano_usd > 0)
    );
}

#[tokio::test]
async fn a_cut_upstream_stream_ends_with_an_error_event_and_is_recorded_incomplete() {
    let (app, tenant) = setup().await;
    let mut body = chat("mock/chunks-10+cut-after-3", "x");
    body["stream"] = json!(true);
    let text = post(&app, "/v1/chat/completions", Some(&tenant.key), &body)
        .await
        .text()
        .await
        .unwrap();
    let data = sse_data(&text);
    assert!(
        !data.iter().any(|d| d == "[DONE]"),
        "a cut stream must not end with [DONE]: {text}"
    );
    assert!(!text.contains("\"finish_reason\":\"stop\""), "{text}");
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert!(last["error"].is_object(), "{text}");

    let recorded = events(&app, &tenant, 1).await;
    assert_eq!(
        recorded[0].error_class.as_deref(),
        Some("stream_incomplete")
    );
}

#[tokio::test]
async fn a_client_disconnect_cancels_the_upstream_call_and_is_recorded() {
    let (app, tenant) = setup().await;
    let mut body = chat("mock/chunks-50+chunk-delay-100", "x");
    body["stream"] = json!(true);
    let mut resp = post(&app, "/v1/chat/completions", Some(&tenant.key), &body).await;
    assert!(resp.chunk().await.unwrap().is_some());
    drop(resp);
    let mut cancelled = false;
    for _ in 0..100 {
        if app.mock.stats().cancelled >= 1 {
            cancelled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cancelled, "the mock never saw the upstream call cancelled");
    let recorded = events(&app, &tenant, 1).await;
    assert_eq!(recorded[0].status_code, 499);
    assert_eq!(recorded[0].error_class.as_deref(), Some("client_cancelled"));
}

#[tokio::test]
async fn auth_failures_answer_in_each_surface_shape() {
    let (app, tenant) = setup().await;
    let resp = post(&app, "/v1/chat/completions", None, &chat("mock/echo", "x")).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");

    let resp = post(
        &app,
        "/v1/messages",
        Some("kw-not-a-real-key"),
        &anthropic("mock/echo", "x"),
    )
    .await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (body["type"].as_str(), body["error"]["type"].as_str()),
        (Some("error"), Some("authentication_error"))
    );

    app.services
        .db
        .revoke_key(tenant.org.id, tenant.key_id)
        .await
        .unwrap();
    let resp = post(
        &app,
        "/v1/chat/completions",
        Some(&tenant.key),
        &chat("mock/echo", "x"),
    )
    .await;
    assert_eq!(resp.status(), 401, "a revoked key never works");
}

#[tokio::test]
async fn bad_models_and_upstream_errors_keep_the_surface_shape() {
    let (app, tenant) = setup().await;
    let resp = post(
        &app,
        "/v1/chat/completions",
        Some(&tenant.key),
        &chat("nobody/echo", "x"),
    )
    .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "model_not_found"
    );

    let resp = post(
        &app,
        "/v1/messages",
        Some(&tenant.key),
        &anthropic("mock/status-429", "x"),
    )
    .await;
    assert_eq!(resp.status(), 429);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");

    let mut body = chat("mock/echo", "x");
    body["base_url"] = json!("http://169.254.169.254/");
    let resp = post(&app, "/v1/chat/completions", Some(&tenant.key), &body).await;
    assert_eq!(resp.status(), 400, "fields naming upstreams are refused");

    // Another org's key cannot reach this org's providers.
    let other = app.seed_tenant("other").await.unwrap();
    app.services
        .db
        .delete_credential(other.org.id, {
            let creds = app
                .services
                .db
                .list_credentials(other.org.id)
                .await
                .unwrap();
            creds
                .into_iter()
                .find(|c| c.slug.as_str() == "mock")
                .unwrap()
                .id
        })
        .await
        .unwrap();
    let resp = post(
        &app,
        "/v1/chat/completions",
        Some(&other.key),
        &chat("mock/echo", "x"),
    )
    .await;
    assert_eq!(resp.status(), 404, "credentials are scoped to their org");
}

#[tokio::test]
async fn private_upstreams_are_refused_unless_the_operator_allows_them() {
    let app = spawn_with(Backends::Embedded, |s| {
        s.gateway.allow_private_upstreams = false
    })
    .await
    .unwrap();
    let tenant = app.seed_tenant("acme").await.unwrap();
    let resp = post(
        &app,
        "/v1/chat/completions",
        Some(&tenant.key),
        &chat("mock/echo", "x"),
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "upstream_refused"
    );
    assert_eq!(
        app.mock.stats().started,
        0,
        "no packet reached the private upstream"
    );
}

/// A mock provider serving HTTPS under its own certificate authority, and a gateway told to
/// trust it (or not) through `gateway.upstream_ca_file`, with a credential `mock-tls` on it.
async fn tls_upstream(trust: bool) -> (TestApp, Tenant, keyway_mock_provider::MockHandle) {
    let mock = keyway_mock_provider::MockProvider::builder()
        .workers(1)
        .tls()
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let ca = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    std::fs::write(&ca, mock.ca_pem().unwrap()).unwrap();
    let app = spawn_with(Backends::Embedded, |s| {
        if trust {
            s.gateway.upstream_ca_file = Some(ca.to_path_buf());
        }
    })
    .await
    .unwrap();
    let tenant = app.seed_tenant("acme").await.unwrap();
    app.add_credential(
        &tenant,
        "mock-tls",
        keyway_testkit::ProviderKind::Mock,
        Some(format!("{}/v1", mock.base_url())),
        json!({}),
        "sk-upstream-tls-0123456789",
    )
    .await
    .unwrap();
    (app, tenant, mock)
}

#[tokio::test]
async fn https_upstreams_under_the_operator_authority_multiplex_over_http2() {
    let (app, tenant, mock) = tls_upstream(true).await;
    // Each gateway worker sends on a pool of its own, and until a pool's first connection has
    // negotiated HTTP/2, concurrent requests each open their own. Warm every worker with a
    // call on a fresh client connection (actix hands new connections to its workers in turn).
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    for _ in 0..2 * workers {
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/chat/completions", app.gateway_url))
            .bearer_auth(&tenant.key)
            .json(&chat("mock-tls/echo", "warm-up"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let warm = mock.stats().connections;
    assert!(
        warm <= workers as u64,
        "{warm} connections for {workers} gateway workers"
    );
    let calls = (0..12).map(|i| {
        let (app, tenant) = (&app, &tenant);
        async move {
            let resp = post(
                app,
                "/v1/chat/completions",
                Some(&tenant.key),
                &chat("mock-tls/echo+delay-100", &format!("call {i}")),
            )
            .await;
            assert_eq!(resp.status(), 200);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(
                body["choices"][0]["message"]["content"],
                format!("call {i}")
            );
        }
    });
    futures_util::future::join_all(calls).await;
    let mut streamed = chat("mock-tls/echo+chunks-4", "one two three four");
    streamed["stream"] = json!(true);
    let resp = post(&app, "/v1/chat/completions", Some(&tenant.key), &streamed).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let stats = mock.stats();
    assert_eq!(stats.completed, 2 * workers as u64 + 13);
    assert_eq!(
        stats.connections, warm,
        "12 concurrent calls and a stream rode the warm HTTP/2 connections"
    );
}

#[tokio::test]
async fn https_upstreams_outside_the_trusted_authorities_fail_without_a_request() {
    let (app, tenant, mock) = tls_upstream(false).await;
    let resp = post(
        &app,
        "/v1/chat/completions",
        Some(&tenant.key),
        &chat("mock-tls/echo", "x"),
    )
    .await;
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_unreachable", "{body}");
    assert_eq!(
        mock.stats().started,
        0,
        "no request crossed the failed handshake"
    );
}

#[tokio::test]
async fn production_backends_record_gateway_events_in_clickhouse() {
    let app = spawn_with(Backends::Production, |_| {}).await.unwrap();
    let tenant = app.seed_tenant("acme").await.unwrap();
    let resp = post(
        &app,
        "/v1/chat/completions",
        Some(&tenant.key),
        &chat("mock-gemini/echo", "hi"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let recorded = events(&app, &tenant, 1).await;
    assert_eq!(recorded[0].served_model.as_deref(), Some("echo"));
    assert_eq!(recorded[0].provider.as_deref(), Some("gemini"));
}

#[tokio::test]
async fn embeddings_pass_through_openai_format_providers_with_usage() {
    let (app, tenant) = setup().await;
    let body = json!({"model": "mock/text-embedding-3-small", "input": ["alpha beta", "gamma"], "dimensions": 8});
    let resp = post(&app, "/v1/embeddings", Some(&tenant.key), &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-keyway-model"], "text-embedding-3-small");
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["data"].as_array().unwrap().len(), 2, "{answer}");
    assert_eq!(answer["data"][0]["embedding"].as_array().unwrap().len(), 8);
    let prompt_tokens = answer["usage"]["prompt_tokens"].as_u64().unwrap();

    let refused = json!({"model": "mock/text-embedding-3-small", "input": "x", "api_base": "http://169.254.169.254"});
    assert_eq!(
        post(&app, "/v1/embeddings", Some(&tenant.key), &refused)
            .await
            .status(),
        400
    );
    let anthropic = json!({"model": "mock-anthropic/text-embedding-3-small", "input": "x"});
    assert_eq!(
        post(&app, "/v1/embeddings", Some(&tenant.key), &anthropic)
            .await
            .status(),
        400
    );

    let recorded = events(&app, &tenant, 3).await;
    let ok = recorded.iter().find(|e| e.status_code == 200).unwrap();
    assert_eq!(
        (ok.surface.as_str(), u64::from(ok.input_tokens)),
        ("openai.embeddings", prompt_tokens)
    );
}

#[tokio::test]
async fn models_lists_what_the_key_may_use() {
    let app = spawn_embedded_app().await.unwrap();
    let tenant = app.seed_tenant("acme").await.unwrap();
    let db = &app.services.db;
    let target =
        keyway_store::aliases::ModelTarget::parse("mock-anthropic/claude-sonnet-4-5").unwrap();
    db.create_alias(tenant.org.id, "smart", &target)
        .await
        .unwrap();
    let list = |key: String| {
        let app = &app;
        async move {
            let resp = app
                .client
                .get(format!("{}/v1/models", app.gateway_url))
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["object"], "list");
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    // An alias routes like its target (twice: the second answer comes from the alias cache).
    for _ in 0..2 {
        let resp = post(
            &app,
            "/v1/chat/completions",
            Some(&tenant.key),
            &chat("smart", "hi"),
        )
        .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-keyway-model"], "claude-sonnet-4-5");
        assert_eq!(resp.headers()["x-keyway-provider"], "mock-anthropic");
    }
    let all = list(tenant.key.clone()).await;
    assert!(
        all.contains(&"mock-anthropic/claude-sonnet-4-5".to_owned()),
        "{all:?}"
    );
    assert!(
        all.iter().any(|m| m.starts_with("mock-gemini/gemini-")),
        "{all:?}"
    );
    assert!(all.contains(&"smart".to_owned()));

    let params = keyway_store::virtual_keys::NewKey {
        name: "narrow".into(),
        allowed_models: vec!["mock-gemini/*".into()],
        ..Default::default()
    };
    let (_, narrow) = db.issue_key(tenant.org.id, params).await.unwrap();
    let some = list(narrow.expose().clone()).await;
    assert!(
        !some.is_empty() && some.iter().all(|m| m.starts_with("mock-gemini/")),
        "{some:?}"
    );
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    let (mut app, tenant) = setup().await;
    let url = format!("{}/v1/chat/completions", app.gateway_url);
    let slow = app
        .client
        .post(url)
        .bearer_auth(&tenant.key)
        .json(&chat("mock/echo+delay-1500", "still here"))
        .send();
    let in_flight = tokio::spawn(slow);
    // Let the request reach the upstream before asking the app to stop.
    for _ in 0..100 {
        if app.mock.stats().started >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.shutdown().await.unwrap();
    let resp = in_flight.await.unwrap().unwrap();
    assert_eq!(
        resp.status(),
        200,
        "an in-flight request was cut by shutdown"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "still here");
}

#[tokio::test]
async fn keys_limited_to_providers_or_models_are_refused_elsewhere() {
    let (app, tenant) = setup().await;
    let params = keyway_store::virtual_keys::NewKey {
        name: "gemini-only".into(),
        allowed_providers: vec![keyway_domain::Slug::parse("mock-gemini").unwrap()],
        ..Default::default()
    };
    let (_, key) = app
        .services
        .db
        .issue_key(tenant.org.id, params)
        .await
        .unwrap();
    let key = key.expose().clone();
    let ok = post(
        &app,
        "/v1/chat/completions",
        Some(&key),
        &chat("mock-gemini/echo", "x"),
    )
    .await;
    assert_eq!(ok.status(), 200);
    for (path, body) in [
        ("/v1/chat/completions", chat("mock/echo", "x")),
        (
            "/v1/embeddings",
            json!({"model": "mock/text-embedding-3-small", "input": "x"}),
        ),
    ] {
        let resp = post(&app, path, Some(&key), &body).await;
        assert_eq!(resp.status(), 403, "{path}");
        assert_eq!(
            resp.json::<Value>().await.unwrap()["error"]["code"],
            "provider_not_allowed"
        );
    }
}

//! Routing configs executed by the gateway, against the mock provider (whose model name picks
//! its behaviour: `status-<code>`, `delay-<ms>`, `stall`, `cut-after-<n>`) and a small
//! hand-rolled upstream whose status a test can change: fallbacks on 5xx and on a stalled
//! upstream, weighted load balancing, retries honouring `retry-after`, no retry once a stream
//! has started, race and hedge (the losing leg cancelled upstream), the circuit breaker opening
//! and recovering, conditions on `x-keyway-metadata`, the three ways to pick a config, and
//! Portkey's documented configs pasted verbatim.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_store::invalidation::publish_org_change;
use keyway_store::virtual_keys::NewKey;
use keyway_testkit::{Backends, ProviderKind, Tenant, TestApp, spawn_with};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn app() -> TestApp {
    spawn_with(Backends::Embedded, |_| {}).await.unwrap()
}

/// What a caller sees.
struct Seen {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or(""))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// Which mock model answered (`x-keyway-model`), checked against the body's `model`.
    fn served(&self) -> &str {
        let model = self.header("x-keyway-model");
        assert_eq!(self.json()["model"], model, "{}", self.body);
        model
    }
}

/// A chat call with `headers`, model `mock/gpt-4o-mini` unless the body says otherwise.
async fn chat(app: &TestApp, key: &str, headers: &[(&str, &str)], body: Value) -> Seen {
    let mut body = body;
    let obj = body.as_object_mut().unwrap();
    obj.entry("model").or_insert(json!("mock/gpt-4o-mini"));
    obj.entry("messages")
        .or_insert(json!([{"role": "user", "content": "route me"}]));
    let mut req = app
        .client
        .post(format!("{}/v1/chat/completions", app.gateway_url))
        .bearer_auth(key)
        .json(&body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.unwrap();
    Seen {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.unwrap(),
    }
}

/// A chat call routed by the inline `config`.
async fn routed(app: &TestApp, key: &str, config: &Value) -> Seen {
    chat(
        app,
        key,
        &[("x-keyway-config", &config.to_string())],
        json!({}),
    )
    .await
}

/// Waits up to two seconds for the mock to count what `check` wants.
async fn eventually(app: &TestApp, check: impl Fn(keyway_mock_provider::MockStats) -> bool) {
    for _ in 0..40 {
        if check(app.mock.stats()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "mock never reached the expected counts: {:?}",
        app.mock.stats()
    );
}

/// An OpenAI-compatible upstream answering every call with the status a test sets (200: a
/// chat completion), counting calls.
struct Switchable {
    base_url: String,
    status: Arc<AtomicU16>,
    hits: Arc<AtomicUsize>,
}

impl Switchable {
    async fn start(status: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let (status, hits) = (
            Arc::new(AtomicU16::new(status)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (s, h) = (status.clone(), hits.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (s, h) = (s.clone(), h.clone());
                tokio::spawn(async move {
                    read_request(&mut socket).await;
                    h.fetch_add(1, Ordering::SeqCst);
                    let status = s.load(Ordering::SeqCst);
                    let body = if status == 200 {
                        json!({
                            "id": "chatcmpl-switchable", "object": "chat.completion",
                            "created": 0, "model": "switchable",
                            "choices": [{"index": 0, "finish_reason": "stop",
                                "message": {"role": "assistant", "content": "ok"}}],
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                        })
                    } else {
                        json!({"error": {"message": "switched off", "type": "server_error",
                            "param": null, "code": null}})
                    }
                    .to_string();
                    let head = format!(
                        "HTTP/1.1 {status} Status\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(body.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self {
            base_url,
            status,
            hits,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = socket.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + length {
            return;
        }
    }
}

/// A credential `slug` of `tenant` reaching the mock in OpenAI's format.
async fn mock_credential(app: &TestApp, tenant: &Tenant, slug: &str) {
    let base = format!("{}/v1", app.mock.base_url());
    credential(app, tenant, slug, &base).await;
}

async fn credential(app: &TestApp, tenant: &Tenant, slug: &str, base_url: &str) {
    app.add_credential(
        tenant,
        slug,
        ProviderKind::Mock,
        Some(base_url.to_owned()),
        json!({}),
        "sk-upstream-0123456789",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn fallback_on_a_5xx_then_on_a_stalled_upstream() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    let config = json!({
        "strategy": {"mode": "fallback"},
        "targets": [{"provider": "@mock/status-500"}, {"provider": "@mock/echo"}],
    });
    let seen = routed(&app, &t.key, &config).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.served(), "echo");
    assert_eq!(seen.header("x-keyway-provider"), "mock");
    assert_eq!(seen.header("x-keyway-fallback-index"), "1");
    assert_eq!(seen.header("x-keyway-retries"), "0");
    assert_eq!(app.mock.stats().started, 2);

    // A target naming no credential of the organization is skipped like a failure.
    let config = json!({
        "strategy": {"mode": "fallback"},
        "targets": [{"provider": "@gone/gpt-4o"}, {"provider": "@mock/gpt-4.1"}],
    });
    let seen = routed(&app, &t.key, &config).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.served(), "gpt-4.1");
    assert_eq!(seen.header("x-keyway-fallback-index"), "1");

    // No response headers at all: the per-attempt timeout ends it and the next target answers.
    let config = json!({
        "strategy": {"mode": "fallback"},
        "request_timeout": 400,
        "targets": [{"provider": "@mock/stall"}, {"provider": "@mock/gpt-4o"}],
    });
    let started = Instant::now();
    let seen = routed(&app, &t.key, &config).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.served(), "gpt-4o");
    assert_eq!(seen.header("x-keyway-fallback-index"), "1");
    assert!(started.elapsed() < Duration::from_secs(3));
    eventually(&app, |s| s.cancelled == 1).await;

    // Only a stalled target: the caller gets a timeout in its own shape, not a hang.
    let config = json!({"provider": "@mock/stall", "timeouts": {"first_byte_ms": 300}});
    let seen = routed(&app, &t.key, &config).await;
    assert_eq!(seen.status, 504, "{}", seen.body);
    assert_eq!(seen.json()["error"]["code"], "upstream_timeout");
}

#[tokio::test]
async fn fallback_on_status_codes_moves_on_only_for_listed_codes() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    let config = json!({
        "strategy": {"mode": "fallback", "on_status_codes": [429]},
        "targets": [{"provider": "@mock/status-503"}, {"provider": "@mock/echo"}],
    });
    let seen = routed(&app, &t.key, &config).await;
    assert_eq!(seen.status, 503, "{}", seen.body);
    assert_eq!(seen.header("x-keyway-fallback-index"), "0");
    assert_eq!(seen.header("x-keyway-model"), "status-503");
    assert_eq!(
        seen.header("retry-after"),
        "1",
        "the provider's hint is passed on"
    );
    assert_eq!(app.mock.stats().started, 1);
}

#[tokio::test]
async fn retries_honour_retry_after_then_fall_back() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    let config = json!({
        "strategy": {"mode": "fallback"},
        "targets": [
            {"provider": "@mock/status-429+retry-after-1",
             "retry": {"attempts": 2, "use_retry_after_header": true}},
            {"provider": "@mock/echo"},
        ],
    });
    let started = Instant::now();
    let seen = routed(&app, &t.key, &config).await;
    let took = started.elapsed();
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.served(), "echo");
    assert_eq!(seen.header("x-keyway-retries"), "2");
    assert_eq!(seen.header("x-keyway-fallback-index"), "1");
    assert!(took >= Duration::from_secs(2), "waited {took:?}");
    assert_eq!(
        app.mock.stats().started,
        4,
        "three tries, then the fallback"
    );

    // Without the header option the jittered backoff (0.25 s, then 0.5 s at most) applies.
    let config = json!({"provider": "@mock/status-500", "retry": {"attempts": 2}});
    let started = Instant::now();
    let seen = routed(&app, &t.key, &config).await;
    assert_eq!(seen.status, 500, "{}", seen.body);
    assert_eq!(seen.header("x-keyway-retries"), "2");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(125 + 250) && took < Duration::from_secs(2),
        "{took:?}"
    );

    // A 400 says the upstream processed and refused the request: never retried.
    let before = app.mock.stats().started;
    let config = json!({"provider": "@mock/status-400", "retry": {"attempts": 3}});
    let seen = routed(&app, &t.key, &config).await;
    assert_eq!(seen.status, 400);
    assert_eq!(seen.header("x-keyway-retries"), "0");
    assert_eq!(app.mock.stats().started, before + 1);
}

#[tokio::test]
async fn streams_retry_before_the_first_byte_and_never_after() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    let stream = |config: Value| {
        let key = t.key.clone();
        let app = &app;
        async move {
            chat(
                app,
                &key,
                &[("x-keyway-config", &config.to_string())],
                json!({"stream": true}),
            )
            .await
        }
    };
    // The stream starts, then the upstream cuts it: the client already has bytes, so no retry;
    // the stream ends with an explicit error event.
    let seen = stream(json!({"provider": "@mock/cut-after-2", "retry": {"attempts": 3}})).await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.header("x-keyway-retries"), "0");
    assert!(seen.body.contains("error"), "{}", seen.body);
    assert!(!seen.body.contains("\"finish_reason\":\"stop\""));
    assert_eq!(app.mock.stats().started, 1);

    // Failing before any byte: retried, then the fallback streams.
    let seen = stream(json!({
        "strategy": {"mode": "fallback"},
        "targets": [
            {"provider": "@mock/status-502", "retry": {"attempts": 1}},
            {"provider": "@mock/echo"},
        ],
    }))
    .await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.header("x-keyway-retries"), "1");
    assert_eq!(seen.header("x-keyway-fallback-index"), "1");
    assert_eq!(seen.header("x-keyway-model"), "echo");
    assert!(
        seen.body.contains("route") && seen.body.contains("[DONE]"),
        "{}",
        seen.body
    );
}

#[tokio::test]
async fn race_returns_the_fastest_success_and_cancels_the_other_leg() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    let config = json!({
        "strategy": {"mode": "race"},
        "targets": [{"provider": "@mock/delay-3000"}, {"provider": "@mock/delay-50"}],
    });
    let started = Instant::now();
    let seen = routed(&app, &t.key, &config).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.served(), "delay-50");
    assert!(started.elapsed() < Duration::from_secs(2));
    eventually(&app, |s| {
        s.started == 2 && s.completed == 1 && s.cancelled == 1
    })
    .await;
    let metrics = app
        .get_gateway("/metrics")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\nkeyway_routing_cancelled_legs_total 1\n"),
        "{metrics}"
    );

    // A failing leg does not win: the slower success does.
    let config = json!({
        "strategy": {"mode": "race"},
        "targets": [{"provider": "@mock/status-500"}, {"provider": "@mock/delay-100"}],
    });
    let seen = routed(&app, &t.key, &config).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.served(), "delay-100");
}

#[tokio::test]
async fn hedge_starts_a_second_leg_only_when_the_first_is_slow() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    let config = json!({
        "strategy": {"mode": "hedge", "delay_ms": 200},
        "targets": [{"provider": "@mock/delay-3000"}, {"provider": "@mock/delay-10"}],
    });
    let started = Instant::now();
    let seen = routed(&app, &t.key, &config).await;
    let took = started.elapsed();
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.served(), "delay-10");
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(2),
        "{took:?}"
    );
    eventually(&app, |s| s.started == 2 && s.cancelled == 1).await;

    let config = json!({
        "strategy": {"mode": "hedge", "delay_ms": 1000},
        "targets": [{"provider": "@mock/delay-10"}, {"provider": "@mock/echo"}],
    });
    let seen = routed(&app, &t.key, &config).await;
    assert_eq!(seen.served(), "delay-10");
    assert_eq!(
        app.mock.stats().started,
        3,
        "the fast first leg needed no hedge"
    );
}

#[tokio::test]
async fn loadbalance_follows_the_weights() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    let config = json!({
        "strategy": {"mode": "loadbalance"},
        "targets": [
            {"provider": "@mock/gpt-4o", "weight": 3},
            {"provider": "@mock/gpt-4o-mini", "weight": 1},
            {"provider": "@mock/echo", "weight": 0},
        ],
    });
    let mut big = 0;
    for _ in 0..200 {
        let seen = routed(&app, &t.key, &config).await;
        match seen.served() {
            "gpt-4o" => big += 1,
            "gpt-4o-mini" => {}
            other => panic!("weight 0 got traffic: {other}"),
        }
    }
    assert!((120..=180).contains(&big), "gpt-4o served {big} of 200");
}

#[tokio::test]
async fn circuit_opens_on_a_failure_streak_and_recovers_through_a_probe() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    let upstream = Switchable::start(500).await;
    credential(&app, &t, "flaky", &upstream.base_url).await;
    let config = json!({
        "strategy": {"mode": "fallback"},
        "targets": [{"provider": "@flaky/model-a"}, {"provider": "@mock/echo"}],
    });
    // Five failures in a row open the circuit (the fallback still answers every time).
    for _ in 0..5 {
        let seen = routed(&app, &t.key, &config).await;
        assert_eq!(seen.header("x-keyway-fallback-index"), "1");
    }
    assert_eq!(upstream.hits(), 5);
    // Open: the failing target is skipped without a call.
    let seen = routed(&app, &t.key, &config).await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.header("x-keyway-fallback-index"), "1");
    assert_eq!(upstream.hits(), 5);
    let alone = json!({"provider": "@flaky/model-a"});
    let seen = routed(&app, &t.key, &alone).await;
    assert_eq!(seen.status, 503, "{}", seen.body);
    assert_eq!(seen.json()["error"]["code"], "target_unavailable");
    assert_eq!(upstream.hits(), 5);

    // After the open period a probe goes through; two successes close the circuit.
    upstream.status.store(200, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(10_200)).await;
    for _ in 0..3 {
        let seen = routed(&app, &t.key, &config).await;
        assert_eq!(seen.status, 200, "{}", seen.body);
        assert_eq!(seen.header("x-keyway-fallback-index"), "0");
        assert_eq!(seen.header("x-keyway-provider"), "flaky");
    }
    assert_eq!(upstream.hits(), 8);
}

#[tokio::test]
async fn conditions_route_on_metadata() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    let config = json!({
        "strategy": {
            "mode": "conditional",
            "conditions": [
                {"query": {"metadata.plan": {"$eq": "pro"}}, "then": "fast"},
                {"query": {"$or": [{"metadata.region": {"$in": ["eu", "uk"]}}]}, "then": "local"},
            ],
            "default": "cheap",
        },
        "targets": [
            {"name": "fast", "provider": "@mock/gpt-4o"},
            {"name": "local", "provider": "@mock/gpt-4.1"},
            {"name": "cheap", "provider": "@mock/gpt-4o-mini"},
        ],
    });
    let with = |meta: &'static str| {
        let config = config.to_string();
        let app = &app;
        let key = t.key.clone();
        async move {
            chat(
                app,
                &key,
                &[("x-keyway-config", &config), ("x-keyway-metadata", meta)],
                json!({}),
            )
            .await
        }
    };
    assert_eq!(with(r#"{"plan": "pro"}"#).await.served(), "gpt-4o");
    assert_eq!(with(r#"{"region": "uk"}"#).await.served(), "gpt-4.1");
    assert_eq!(with(r#"{"plan": "free"}"#).await.served(), "gpt-4o-mini");
    // Portkey's header names work too.
    let seen = chat(
        &app,
        &t.key,
        &[
            ("x-portkey-config", &config.to_string()),
            ("x-portkey-metadata", r#"{"plan": "pro"}"#),
        ],
        json!({}),
    )
    .await;
    assert_eq!(seen.served(), "gpt-4o");
    let bad = with("not json").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["param"], "x-keyway-metadata");
}

async fn config_scenario(app: TestApp) {
    let t = app.seed_tenant("acme").await.unwrap();
    let other = app.seed_tenant("other").await.unwrap();
    let db = &app.services.db;
    let stored = db
        .create_routing_config(
            t.org.id,
            "pinned",
            json!({"provider": "@mock/gpt-4.1"}),
            None,
        )
        .await
        .unwrap();
    let id = stored.id.to_string();

    // By id.
    let seen = chat(&app, &t.key, &[("x-keyway-config", &id)], json!({})).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.served(), "gpt-4.1");

    // Inline, with a validation error naming its path.
    let inline = json!({"provider": "@mock/echo"}).to_string();
    let seen = chat(&app, &t.key, &[("x-keyway-config", &inline)], json!({})).await;
    assert_eq!(seen.served(), "echo");
    let bad = json!({"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "@mock", "weight": -1}]});
    let seen = routed(&app, &t.key, &bad).await;
    assert_eq!(seen.status, 400, "{}", seen.body);
    assert!(seen.body.contains("targets[0].weight"), "{}", seen.body);

    // The key's default, which the header overrides.
    let (_, secret) = db
        .issue_key(
            t.org.id,
            NewKey {
                name: "routed".into(),
                default_config_id: Some(stored.id),
                ..NewKey::default()
            },
        )
        .await
        .unwrap();
    let routed_key = secret.expose().clone();
    assert_eq!(
        chat(&app, &routed_key, &[], json!({})).await.served(),
        "gpt-4.1"
    );
    let seen = chat(
        &app,
        &routed_key,
        &[("x-keyway-config", &inline)],
        json!({}),
    )
    .await;
    assert_eq!(seen.served(), "echo");
    // Without any config the model addresses its target, as before.
    assert_eq!(
        chat(&app, &t.key, &[], json!({})).await.served(),
        "gpt-4o-mini"
    );

    // A new version reaches the gateway through the change message, not the cache's TTL.
    db.update_routing_config(
        t.org.id,
        stored.id,
        None,
        Some(json!({"provider": "@mock/gpt-4o"})),
        None,
    )
    .await
    .unwrap();
    publish_org_change(&app.services.kv, t.org.id)
        .await
        .unwrap();
    let mut served = String::new();
    for _ in 0..20 {
        served = chat(&app, &routed_key, &[], json!({}))
            .await
            .served()
            .to_owned();
        if served == "gpt-4o" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served, "gpt-4o");

    // Another organization's config id is unknown here, in each surface's shape.
    let seen = chat(&app, &other.key, &[("x-keyway-config", &id)], json!({})).await;
    assert_eq!(seen.status, 404, "{}", seen.body);
    assert_eq!(seen.json()["error"]["code"], "config_not_found");
    let resp = app
        .client
        .post(format!("{}/v1/messages", app.gateway_url))
        .header("x-api-key", &other.key)
        .header("anthropic-version", "2023-06-01")
        .header("x-keyway-config", &id)
        .json(&json!({"model": "mock/echo", "max_tokens": 16,
            "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "not_found_error");
}
keyway_testkit::on_both_backends!(config_scenario);

/// Portkey's fallback example ("Triggering fallback on specific error codes",
/// docs.portkey.ai fallbacks page), pasted verbatim.
const PORTKEY_FALLBACK_ON_429: &str = r#"{
  "strategy": {
    "mode": "fallback",
    "on_status_codes": [ 429 ]
  },
  "targets": [
    {
      "virtual_key": "openai-virtual-key"
    },
    {
      "virtual_key": "azure-openai-virtual-key"
    }
  ]
}"#;

/// Portkey's load-balancing example ("load balance 75-25", docs.portkey.ai load-balancing
/// page), pasted verbatim.
const PORTKEY_LOADBALANCE: &str = r#"{
  "strategy": {
      "mode": "loadbalance",
  },
  "targets": [
    {
      "virtual_key": "openai-virtual-key",
      "weight": 0.75
    },
    {
      "virtual_key": "azure-virtual-key",
      "weight": 0.25
    }
  ]
}"#;

/// A JSON document on one line, as an SDK sends a config in a header.
fn header_value(json: &str) -> String {
    serde_json::from_str::<Value>(json).unwrap().to_string()
}

#[tokio::test]
async fn portkey_fallback_example_routes_as_portkey_would() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    let limited = Switchable::start(429).await;
    credential(&app, &t, "openai-virtual-key", &limited.base_url).await;
    mock_credential(&app, &t, "azure-openai-virtual-key").await;
    let config = header_value(PORTKEY_FALLBACK_ON_429);
    let headers = [("x-keyway-config", config.as_str())];
    let body = json!({"model": "gpt-4o"});

    // 429 from OpenAI: Azure answers.
    let seen = chat(&app, &t.key, &headers, body.clone()).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.header("x-keyway-provider"), "azure-openai-virtual-key");
    assert_eq!(seen.served(), "gpt-4o");
    assert_eq!(seen.header("x-keyway-fallback-index"), "1");
    assert_eq!(limited.hits(), 1);

    // Any other error from OpenAI is the answer: no fallback.
    limited.status.store(500, Ordering::SeqCst);
    let seen = chat(&app, &t.key, &headers, body).await;
    assert_eq!(seen.status, 500, "{}", seen.body);
    assert_eq!(seen.header("x-keyway-provider"), "openai-virtual-key");
    assert_eq!(seen.header("x-keyway-fallback-index"), "0");
    assert_eq!(app.mock.stats().started, 1);
}

#[tokio::test]
async fn portkey_loadbalance_example_routes_as_portkey_would() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    mock_credential(&app, &t, "openai-virtual-key").await;
    mock_credential(&app, &t, "azure-virtual-key").await;
    // The page's sample has a trailing comma after `"loadbalance"`, which no JSON parser
    // accepts (Portkey's neither); that comma is the only change.
    let config =
        header_value(&PORTKEY_LOADBALANCE.replacen("\"loadbalance\",", "\"loadbalance\"", 1));
    let mut openai = 0;
    for _ in 0..200 {
        let seen = chat(
            &app,
            &t.key,
            &[("x-keyway-config", &config)],
            json!({"model": "gpt-4o-mini"}),
        )
        .await;
        assert_eq!(seen.status, 200, "{}", seen.body);
        assert_eq!(seen.served(), "gpt-4o-mini");
        match seen.header("x-keyway-provider") {
            "openai-virtual-key" => openai += 1,
            "azure-virtual-key" => {}
            other => panic!("unexpected provider {other}"),
        }
    }
    assert!(
        (125..=175).contains(&openai),
        "openai served {openai} of 200"
    );
}

#[tokio::test]
async fn retries_stay_within_the_retry_budget_under_total_failure() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    // Every call fails with a status the config retries; a 400 keeps the circuit breaker out of
    // the way (it is the caller's fault, not the target's), so only the budget limits retries.
    let config = json!({
        "provider": "@mock/status-400",
        "retry": {"attempts": 5, "on_status_codes": [400]},
    })
    .to_string();
    let headers = [("x-keyway-config", config.as_str())];
    let began = Instant::now();
    let calls = (0..1000).map(|_| chat(&app, &t.key, &headers, json!({})));
    let seen = futures_util::future::join_all(calls).await;
    assert!(seen.iter().all(|s| s.status == 400));
    let retries: usize = seen
        .iter()
        .map(|s| s.header("x-keyway-retries").parse::<usize>().unwrap())
        .sum();
    let upstream_calls = usize::try_from(app.mock.stats().started).unwrap();
    assert_eq!(
        upstream_calls,
        1000 + retries,
        "every retry reached the upstream"
    );
    assert!(retries > 0, "the budget allows some retries");
    // 20% of the requests, plus the small per-second floor that lets quiet traffic retry.
    let floor = (5.0 * (began.elapsed().as_secs_f64() + 1.0)).ceil();
    let limit = 200 + floor as usize;
    assert!(
        retries <= limit,
        "{retries} retries for 1000 failing requests (limit {limit})"
    );
}

#[tokio::test]
async fn replicas_share_an_open_circuit_through_redis() {
    let app = spawn_with(Backends::Production, |_| {}).await.unwrap();
    let replica = keyway::Application::build(app.settings.clone(), keyway::Parts::Gateway)
        .await
        .unwrap();
    let replica_url = replica.gateway_url().unwrap();
    let stopper = replica.stopper();
    tokio::spawn(replica.run_until_stopped());
    let t = app.seed_tenant("acme").await.unwrap();
    let upstream = Switchable::start(503).await;
    credential(&app, &t, "flaky", &upstream.base_url).await;
    let config = json!({"provider": "@flaky/model-a"}).to_string();
    for _ in 0..5 {
        let seen = chat(&app, &t.key, &[("x-keyway-config", &config)], json!({})).await;
        assert_eq!(seen.status, 503);
    }
    assert_eq!(upstream.hits(), 5);
    // After two sync intervals the other replica skips the target without calling it.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let resp = app
        .client
        .post(format!("{replica_url}/v1/chat/completions"))
        .bearer_auth(&t.key)
        .header("x-keyway-config", &config)
        .json(&json!({"model": "mock/gpt-4o-mini",
            "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(upstream.hits(), 5, "the replica called the open target");
    stopper.stop();
    assert_eq!(body["error"]["code"], "target_unavailable", "{body}");
}

#[tokio::test]
async fn loadbalance_stops_sending_to_a_target_whose_circuit_opened() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    let upstream = Switchable::start(500).await;
    credential(&app, &t, "flaky", &upstream.base_url).await;
    let config = json!({
        "strategy": {"mode": "loadbalance"},
        "targets": [{"provider": "@flaky/model-a"}, {"provider": "@mock/echo"}],
    });
    // The balancer sends less and less to the failing target as its error rate grows, so the
    // streak that opens the circuit takes a varying number of requests.
    let mut failed = 0;
    for _ in 0..1000 {
        if routed(&app, &t.key, &config).await.status == 500 {
            failed += 1;
            if failed == 5 {
                break;
            }
        }
    }
    assert_eq!(failed, 5, "the failure streak opened the circuit");
    assert_eq!(upstream.hits(), 5);
    // Open: everything goes to the healthy target, nothing to the failing one.
    for _ in 0..20 {
        let seen = routed(&app, &t.key, &config).await;
        assert_eq!(seen.status, 200, "{}", seen.body);
    }
    assert_eq!(upstream.hits(), 5);
}

#[tokio::test]
async fn canary_takes_its_share_and_falls_back_to_the_stable_target() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    let config = json!({
        "strategy": {"mode": "canary"},
        "targets": [{"provider": "@mock/gpt-4o"}, {"provider": "@mock/gpt-4.1", "percent": 25}],
    });
    let mut canary = 0;
    for _ in 0..200 {
        if routed(&app, &t.key, &config).await.served() == "gpt-4.1" {
            canary += 1;
        }
    }
    assert!((25..=75).contains(&canary), "canary served {canary} of 200");

    let config = json!({
        "strategy": {"mode": "canary"},
        "targets": [{"provider": "@mock/gpt-4o"}, {"provider": "@mock/status-500", "percent": 100}],
    });
    let seen = routed(&app, &t.key, &config).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.served(), "gpt-4o");
    assert_eq!(seen.header("x-keyway-fallback-index"), "1");
}

#[tokio::test]
async fn a_key_limited_to_some_models_cannot_reach_others_through_a_config() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    let (_, secret) = app
        .services
        .db
        .issue_key(
            t.org.id,
            NewKey {
                name: "limited".into(),
                allowed_models: vec!["mock/gpt-4o".into()],
                ..NewKey::default()
            },
        )
        .await
        .unwrap();
    let key = secret.expose().clone();
    let allowed = json!({"provider": "@mock/gpt-4o"});
    let seen = chat(
        &app,
        &key,
        &[("x-keyway-config", &allowed.to_string())],
        json!({"model": "mock/gpt-4o"}),
    )
    .await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    let other = json!({"provider": "@mock/gpt-4.1"});
    let seen = chat(
        &app,
        &key,
        &[("x-keyway-config", &other.to_string())],
        json!({"model": "mock/gpt-4o"}),
    )
    .await;
    assert_eq!(seen.status, 403, "{}", seen.body);
    assert_eq!(seen.json()["error"]["code"], "model_not_allowed");
    assert_eq!(app.mock.stats().started, 1);
}

#[tokio::test]
async fn override_params_apply_per_target_on_every_surface() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    let config = json!({
        "strategy": {"mode": "fallback"},
        "targets": [
            {"provider": "@mock/status-500"},
            {"provider": "@mock-anthropic/echo",
             "override_params": {"messages": [{"role": "user", "content": "overridden words"}]}},
        ],
    })
    .to_string();
    let seen = chat(&app, &t.key, &[("x-keyway-config", &config)], json!({})).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.header("x-keyway-provider"), "mock-anthropic");
    assert_eq!(
        seen.json()["choices"][0]["message"]["content"],
        "overridden words"
    );

    // Anthropic's surface, routed the same way, answers in Anthropic's shape.
    let resp = app
        .client
        .post(format!("{}/v1/messages", app.gateway_url))
        .header("x-api-key", &t.key)
        .header("anthropic-version", "2023-06-01")
        .header("x-keyway-config", &config)
        .json(&json!({"model": "claude-sonnet-4-5", "max_tokens": 16,
            "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-keyway-fallback-index"], "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["content"][0]["text"], "overridden words");
}

#[tokio::test]
async fn a_per_request_budget_skips_targets_that_may_cost_more() {
    let app = app().await;
    let t = app.seed_tenant("acme").await.unwrap();
    // Opus at $75 per million output tokens may cost $0.075 for 1,000 tokens; the mock-kind
    // target is free.
    let config = json!({
        "budget": {"max_cost_usd": 0.01},
        "strategy": {"mode": "fallback"},
        "targets": [{"provider": "@mock-anthropic/claude-opus-4-1"}, {"provider": "@mock/echo"}],
    })
    .to_string();
    let headers = [("x-keyway-config", config.as_str())];
    let seen = chat(&app, &t.key, &headers, json!({"max_tokens": 1000})).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.served(), "echo");
    assert_eq!(seen.header("x-keyway-fallback-index"), "1");
    assert_eq!(app.mock.stats().started, 1, "opus was never called");
    // A short answer fits the budget.
    let seen = chat(&app, &t.key, &headers, json!({"max_tokens": 10})).await;
    assert_eq!(seen.header("x-keyway-provider"), "mock-anthropic");
    assert_eq!(seen.header("x-keyway-fallback-index"), "0");
}

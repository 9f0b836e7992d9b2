//! Redis stopped mid-test: limits switch to the configured mode at once (no request hangs), and
//! recover by themselves when Redis is back. This test runs its own `redis-server` on a free
//! port (and stops only that one); it is skipped when the binary is not installed.
//!
//! * `fail_closed`: requests that need a limit decision get 503 while Redis is down.
//! * `local_allowance`: requests keep being served, under in-process limits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_config::LimitsFallback;
use keyway_testkit::{Backends, TestApp, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` this test started; killed (by its pid) when dropped.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    async fn start(port: u16) -> Option<Self> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(Self { child, port });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {port}");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn app(port: u16, mode: LimitsFallback) -> TestApp {
    spawn_with(Backends::Production, |s| {
        s.redis.url = Some(keyway_domain::Secret::new(format!(
            "redis://127.0.0.1:{port}"
        )));
        s.gateway.limits.on_redis_down = mode;
        s.gateway.limits.local_rate_share = 0.5;
    })
    .await
    .unwrap()
}

/// An org with a mock credential and a key limited to 4 requests per minute.
async fn limited_key(app: &TestApp) -> String {
    let owner = app.register("owner@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    for (path, body) in [
        (
            "providers",
            json!({
                "name": "mock", "slug": "mock", "provider": "mock",
                "api_key": "sk-upstream-0123456789", "base_url": format!("{}/v1", app.mock.base_url()),
            }),
        ),
        ("keys", json!({"name": "k", "limits": {"rpm": 4}})),
    ] {
        let (status, resp) = app
            .api(
                Method::POST,
                &format!("/api/v1/orgs/{org}/{path}"),
                Some(&owner.access_token),
                Some(body),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{resp}");
        if path == "keys" {
            return resp["key"].as_str().unwrap().to_owned();
        }
    }
    unreachable!()
}

/// Status, error code and how long the answer took.
async fn chat(app: &TestApp, key: &str) -> (u16, Option<String>, Duration) {
    let started = Instant::now();
    let resp = app
        .client
        .post(format!("{}/v1/chat/completions", app.gateway_url))
        .bearer_auth(key)
        .json(&json!({"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().map(str::to_owned),
        started.elapsed(),
    )
}

#[tokio::test]
async fn redis_stopped_then_restarted_fail_closed_and_local_allowance() {
    let port = free_port();
    let Some(mut redis) = OwnRedis::start(port).await else {
        eprintln!("redis-server not installed; skipping");
        return;
    };
    let closed = app(port, LimitsFallback::FailClosed).await;
    let local = app(port, LimitsFallback::LocalAllowance).await;
    let closed_key = limited_key(&closed).await;
    let local_key = limited_key(&local).await;
    assert_eq!(chat(&closed, &closed_key).await.0, 200);
    assert_eq!(chat(&local, &local_key).await.0, 200);

    redis.stop();
    // Fail closed: a clear 503, quickly, every time.
    for _ in 0..3 {
        let (status, code, took) = chat(&closed, &closed_key).await;
        assert_eq!(
            (status, code.as_deref()),
            (503, Some("service_unavailable"))
        );
        assert!(took < Duration::from_secs(3), "took {took:?}");
    }
    // Local allowance: served under in-process limits, half of the 4 per minute here.
    let mut answers = Vec::new();
    for _ in 0..4 {
        let (status, _, took) = chat(&local, &local_key).await;
        assert!(took < Duration::from_secs(3), "took {took:?}");
        answers.push(status);
    }
    assert_eq!(answers, [200, 200, 429, 429]);

    // Redis is back on the same port: both recover by themselves.
    let _redis = OwnRedis::start(redis.port).await.unwrap();
    let mut recovered = false;
    for _ in 0..50 {
        if chat(&closed, &closed_key).await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "fail-closed mode never recovered");
}

//! Limits and budgets hold across gateway processes: three `Application`s (as three replicas)
//! share one Postgres and one Redis prefix, and a client spreads requests over all three.
//!
//! * 1,000 concurrent requests against a $1 budget overspend by at most one request's
//!   reservation, and the spend the API shows is exactly the sum of the costs the gateways
//!   reported.
//! * An RPM limit of 100 admits 100 +- 5 per window across the three (window shortened).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use futures_util::future::join_all;
use keyway::{Application, Parts, Stopper};
use keyway_testkit::api::TestUser;
use keyway_testkit::{Backends, TestApp, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The replicas next to the test app's own gateway; stopped when dropped.
struct Replicas {
    urls: Vec<String>,
    stoppers: Vec<Stopper>,
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for s in &self.stoppers {
            s.stop();
        }
    }
}

/// The test app plus two more gateway-only processes on the same Postgres and Redis prefix.
async fn three_gateways(window_ms: u64) -> (TestApp, Replicas) {
    let app = spawn_with(Backends::Production, |s| {
        s.gateway.limits.rate_window_ms = window_ms;
        // These tests are about exactness, not Redis latency: on a loaded test machine 1,000
        // concurrent scripts can take longer than the production default of 250 ms.
        s.gateway.limits.redis_timeout_ms = 10_000;
    })
    .await
    .unwrap();
    let mut urls = vec![app.gateway_url.clone()];
    let mut stoppers = Vec::new();
    for _ in 0..2 {
        let replica = Application::build(app.settings.clone(), Parts::Gateway)
            .await
            .unwrap();
        urls.push(replica.gateway_url().unwrap());
        stoppers.push(replica.stopper());
        tokio::spawn(replica.run_until_stopped());
    }
    (app, Replicas { urls, stoppers })
}

async fn api(app: &TestApp, owner: &TestUser, method: Method, path: &str, body: Value) -> Value {
    let (status, resp) = app
        .api(method.clone(), path, Some(&owner.access_token), Some(body))
        .await
        .unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {resp}"
    );
    resp
}

fn nanos(usd: &str) -> i64 {
    let (whole, frac) = usd.split_once('.').unwrap_or((usd, ""));
    let frac = format!("{frac:0<9}");
    whole.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap()
}

/// An org with an Anthropic-format credential `claude` on the mock (priced as the real model)
/// and a key with `settings`; returns the owner, org id, key id and key.
async fn tenant(app: &TestApp, settings: Value) -> (TestUser, String, String, String) {
    let owner = app.register("owner@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    api(
        app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/providers"),
        json!({
            "name": "claude", "slug": "claude", "provider": "anthropic",
            "api_key": "sk-ant-upstream-0123456789", "base_url": app.mock.base_url(),
        }),
    )
    .await;
    let mut body = json!({"name": "shared"});
    body.as_object_mut()
        .unwrap()
        .extend(settings.as_object().unwrap().clone());
    let key = api(
        app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/keys"),
        body,
    )
    .await;
    let id = key["id"].as_str().unwrap().to_owned();
    let secret = key["key"].as_str().unwrap().to_owned();
    (owner, org, id, secret)
}

struct Outcome {
    status: u16,
    cost: i64,
    code: Option<String>,
    message: Option<String>,
}

async fn send(client: &reqwest::Client, url: &str, key: &str, prompt: &str) -> Outcome {
    let resp = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({
            "model": "claude/claude-opus-4-1", "max_tokens": 16,
            "messages": [{"role": "user", "content": prompt}],
        }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let cost = resp
        .headers()
        .get("x-keyway-cost-usd")
        .map_or(0, |v| nanos(v.to_str().unwrap()));
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    Outcome {
        status,
        cost,
        code: body["error"]["code"].as_str().map(str::to_owned),
        message: body["error"]["message"].as_str().map(str::to_owned),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_holds_under_1000_concurrent_requests_over_three_processes() {
    let (app, replicas) = three_gateways(60_000).await;
    let limit = 1_000_000_000; // $1
    let (owner, org, key_id, key) = tenant(
        &app,
        json!({"budget": {"limit_usd": "1", "period": "total"}}),
    )
    .await;
    // About half a cent a request at Claude Opus prices: the budget pays for ~200 of 1,000.
    let prompt = vec!["word"; 300].join(" ");
    let client = reqwest::Client::new();
    let started = Instant::now();
    let outcomes = join_all((0..1000).map(|i| {
        let url = &replicas.urls[i % replicas.urls.len()];
        send(&client, url, &key, &prompt)
    }))
    .await;
    let elapsed = started.elapsed();
    let admitted: Vec<&Outcome> = outcomes.iter().filter(|o| o.status == 200).collect();
    let refused = outcomes.iter().filter(|o| o.status == 429).count();
    let others: Vec<(u16, Option<&str>)> = outcomes
        .iter()
        .filter(|o| o.status != 200 && o.status != 429)
        .map(|o| (o.status, o.message.as_deref()))
        .collect();
    assert!(others.is_empty(), "unexpected answers: {others:?}");
    assert!(
        outcomes
            .iter()
            .filter(|o| o.status == 429)
            .all(|o| o.code.as_deref() == Some("budget_exceeded"))
    );
    let spent: i64 = admitted.iter().map(|o| o.cost).sum();
    let one_cost = admitted.iter().map(|o| o.cost).max().unwrap();
    // The largest reservation: the prompt estimate (one token per 3 bytes of body) plus
    // max_tokens, at $15 / $75 per million.
    let body_len = serde_json::to_vec(&json!({
        "model": "claude/claude-opus-4-1", "max_tokens": 16,
        "messages": [{"role": "user", "content": prompt}],
    }))
    .unwrap()
    .len() as i64;
    let reservation = (body_len / 3 + 1) * 15_000 + 16 * 75_000;
    eprintln!(
        "admitted {} refused {refused} in {elapsed:?}; spent {spent} nano-USD of {limit}; one request {one_cost}, one reservation {reservation}",
        admitted.len()
    );
    assert!(refused > 0, "the budget never ran out");
    assert!(
        spent <= limit + reservation,
        "overspent: {spent} > {limit} + {reservation}"
    );
    assert!(
        spent >= limit / 2,
        "spent {spent}: the budget was mostly unused"
    );

    // The API shows exactly what the gateways charged, with nothing left in flight.
    let path = format!("/api/v1/orgs/{org}/keys/{key_id}");
    let mut shown = Value::Null;
    for _ in 0..50 {
        shown = api(&app, &owner, Method::GET, &path, json!(null)).await;
        if shown["spend"]["reserved_usd"] == "0.000000000"
            && nanos(shown["spend"]["spent_usd"].as_str().unwrap()) == spent
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        nanos(shown["spend"]["spent_usd"].as_str().unwrap()),
        spent,
        "{shown}"
    );
    assert_eq!(shown["spend"]["reserved_usd"], "0.000000000", "{shown}");
    assert_eq!(shown["spend"]["period_id"], "total");
    drop(replicas);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpm_100_across_three_processes_admits_100_per_window() {
    let window = Duration::from_secs(5);
    let (app, replicas) = three_gateways(window.as_millis() as u64).await;
    let (_owner, _org, _key_id, key) = tenant(&app, json!({"limits": {"rpm": 100}})).await;
    let client = reqwest::Client::new();
    for round in 0..2 {
        let started = Instant::now();
        let outcomes = join_all((0..300).map(|i| {
            let url = &replicas.urls[i % replicas.urls.len()];
            send(&client, url, &key, "hello")
        }))
        .await;
        let elapsed = started.elapsed();
        let admitted = outcomes.iter().filter(|o| o.status == 200).count();
        let refused = outcomes
            .iter()
            .filter(|o| o.status == 429 && o.code.as_deref() == Some("rate_limit_exceeded"))
            .count();
        eprintln!("round {round}: admitted {admitted}, refused {refused} in {elapsed:?}");
        assert_eq!(admitted + refused, 300);
        assert!(
            elapsed < window,
            "the burst outlasted the window ({elapsed:?})"
        );
        assert!(
            (95..=105).contains(&admitted),
            "round {round}: admitted {admitted}"
        );
        // Wait until the whole window (and its last slot) has passed.
        tokio::time::sleep(window + window / 10 + Duration::from_millis(200)).await;
    }
    drop(replicas);
}

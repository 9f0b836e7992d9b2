//! Rate limits and budgets through the gateway, against the mock provider, on the production
//! shape (Postgres + Redis scripts) and the embedded default (SQLite + in-process limits):
//! an RPM limit on a key with its headers in both surfaces' error shapes, a budget exhausted
//! after exactly the requests it pays for, and a team limit shared by two keys.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_testkit::api::TestUser;
use keyway_testkit::{Backends, TestApp, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// The tests shorten the per-minute window so a refused caller can wait it out.
const WINDOW_MS: u64 = 3_000;

async fn app(backends: Backends) -> TestApp {
    spawn_with(backends, |s| s.gateway.limits.rate_window_ms = WINDOW_MS)
        .await
        .unwrap()
}

macro_rules! on_both {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test]
            async fn redis() {
                super::$scenario(super::app(keyway_testkit::Backends::Production).await).await;
            }
            #[tokio::test]
            async fn embedded() {
                super::$scenario(super::app(keyway_testkit::Backends::Embedded).await).await;
            }
        }
    };
}

struct Org {
    owner: TestUser,
    id: String,
}

async fn api(app: &TestApp, org: &Org, method: Method, path: &str, body: Value) -> Value {
    let (status, resp) = app
        .api(
            method.clone(),
            &format!("/api/v1/orgs/{}{path}", org.id),
            Some(&org.owner.access_token),
            Some(body),
        )
        .await
        .unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {resp}"
    );
    resp
}

/// An organization with a credential `mock` pointing at the mock provider.
async fn org(app: &TestApp) -> Org {
    let owner = app.register("owner@example.com").await.unwrap();
    let id = app.create_org(&owner, "Acme").await.unwrap();
    let org = Org { owner, id };
    api(
        app,
        &org,
        Method::POST,
        "/providers",
        json!({
            "name": "mock", "slug": "mock", "provider": "mock",
            "api_key": "sk-upstream-0123456789", "base_url": format!("{}/v1", app.mock.base_url()),
        }),
    )
    .await;
    org
}

/// Issues a key with `settings` (limits, budget, team) and returns (id, secret).
async fn issue_key(app: &TestApp, org: &Org, settings: Value) -> (String, String) {
    let mut body = json!({"name": "limited"});
    body.as_object_mut()
        .unwrap()
        .extend(settings.as_object().unwrap().clone());
    let k = api(app, org, Method::POST, "/keys", body).await;
    (
        k["id"].as_str().unwrap().to_owned(),
        k["key"].as_str().unwrap().to_owned(),
    )
}

async fn chat(app: &TestApp, key: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/v1/chat/completions", app.gateway_url))
        .bearer_auth(key)
        .json(&json!({
            "model": "mock/echo", "max_tokens": 16,
            "messages": [{"role": "user", "content": "count my tokens please"}],
        }))
        .send()
        .await
        .unwrap()
}

async fn messages(app: &TestApp, key: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/v1/messages", app.gateway_url))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({
            "model": "mock/echo", "max_tokens": 16,
            "messages": [{"role": "user", "content": "count my tokens please"}],
        }))
        .send()
        .await
        .unwrap()
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

on_both!(rpm_limit_on_a_key);
async fn rpm_limit_on_a_key(app: TestApp) {
    let org = org(&app).await;
    let (_, key) = issue_key(&app, &org, json!({"limits": {"rpm": 3}})).await;
    for remaining in ["2", "1", "0"] {
        let resp = chat(&app, &key).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            header(&resp, "x-ratelimit-limit-requests").as_deref(),
            Some("3")
        );
        assert_eq!(
            header(&resp, "x-ratelimit-remaining-requests").as_deref(),
            Some(remaining)
        );
        assert!(header(&resp, "x-ratelimit-reset-requests").is_some());
    }
    let refused = chat(&app, &key).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(
        header(&refused, "x-ratelimit-remaining-requests").as_deref(),
        Some("0")
    );
    let retry: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    // At most the window plus one of its ten slots, rounded up to whole seconds.
    assert!(
        (1..=WINDOW_MS.div_ceil(1000) + 1).contains(&retry),
        "retry-after {retry}"
    );
    assert!(header(&refused, "x-keyway-request-id").is_some());
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("3 requests"),
        "{body}"
    );
    // The same key on the Anthropic surface: Anthropic's error shape.
    let refused = messages(&app, &key).await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    // Once retry-after has passed, the key works again.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let resp = messages(&app, &key).await;
    assert_eq!(resp.status(), 200);
    // The window slides slot by slot: the three requests may have landed in two slots, so
    // retry-after frees at least the oldest of them (remaining 0 to 2 with this one counted).
    let remaining: u64 = header(&resp, "x-ratelimit-remaining-requests")
        .unwrap()
        .parse()
        .unwrap();
    assert!(remaining <= 2, "remaining {remaining}");
    // A key without limits sends no rate headers and is never refused.
    let (_, free) = issue_key(&app, &org, json!({})).await;
    for _ in 0..5 {
        let resp = chat(&app, &free).await;
        assert_eq!(resp.status(), 200);
        assert!(header(&resp, "x-ratelimit-limit-requests").is_none());
    }
}

fn nanos(usd: &str) -> i64 {
    let (whole, frac) = usd.split_once('.').unwrap_or((usd, ""));
    let frac = format!("{frac:0<9}");
    whole.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap()
}

on_both!(budget_exhausted_after_the_requests_it_pays_for);
async fn budget_exhausted_after_the_requests_it_pays_for(app: TestApp) {
    let org = org(&app).await;
    // Learn one request's price with an unlimited key.
    let (_, free) = issue_key(&app, &org, json!({})).await;
    let probe = chat(&app, &free).await;
    assert_eq!(probe.status(), 200);
    let cost = nanos(&header(&probe, "x-keyway-cost-usd").unwrap());
    assert!(cost > 0, "the mock prices every model");
    // A budget of 3.5 requests: admitted while any headroom is left, so 4 requests run.
    let limit = cost * 7 / 2;
    let limit_usd = format!("{}.{:09}", limit / 1_000_000_000, limit % 1_000_000_000);
    let (key_id, key) = issue_key(
        &app,
        &org,
        json!({"budget": {"limit_usd": limit_usd, "period": "monthly"}}),
    )
    .await;
    let mut spent = 0;
    let mut admitted = 0;
    let refused = loop {
        let resp = chat(&app, &key).await;
        if resp.status() != 200 {
            break resp;
        }
        admitted += 1;
        spent += nanos(&header(&resp, "x-keyway-cost-usd").unwrap());
        assert!(admitted <= 4, "budget not enforced");
        // Settlement runs right after the response; give it a moment.
        tokio::time::sleep(Duration::from_millis(150)).await;
    };
    assert_eq!(admitted, 4);
    assert_eq!(spent, cost * 4);
    assert_eq!(refused.status(), 429);
    let retry: i64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 31 * 24 * 3600, "retry-after {retry}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    let spent_usd = format!("${}.{:09}", spent / 1_000_000_000, spent % 1_000_000_000);
    assert!(message.contains(&spent_usd), "{spent_usd} not in {message}");
    assert!(message.contains("monthly"), "{message}");
    // Refused requests cost nothing and do not reach the provider: still refused, same spend.
    let again: Value = messages(&app, &key).await.json().await.unwrap();
    assert_eq!(again["error"]["type"], "rate_limit_error", "{again}");
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&spent_usd)
    );
    // The API shows the same spend, settled, nothing in flight.
    let shown = api(
        &app,
        &org,
        Method::GET,
        &format!("/keys/{key_id}"),
        json!(null),
    )
    .await;
    let spend = &shown["spend"];
    assert_eq!(spend["spent_usd"], spent_usd[1..], "{shown}");
    assert_eq!(spend["reserved_usd"], "0.000000000", "{shown}");
    assert_eq!(spend["limit_usd"], limit_usd, "{shown}");
    assert!(
        spend["period_id"].as_str().unwrap().starts_with('m'),
        "{shown}"
    );
    assert!(spend["resets_at"].is_string(), "{shown}");
    // Each threshold crossed once: an audit entry and an e-mail to the owner.
    let mut percents = Vec::new();
    for _ in 0..30 {
        let audit = api(
            &app,
            &org,
            Method::GET,
            "/audit?action=budget.threshold",
            json!(null),
        )
        .await;
        percents = audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["target_type"] == "key" && e["target_id"] == key_id.as_str())
            .map(|e| e["summary"]["percent"].as_u64().unwrap())
            .collect();
        if percents.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    percents.sort_unstable();
    assert_eq!(percents, [50, 80, 100]);
    let mails: Vec<(String, String, String)> = app
        .outbox()
        .unwrap()
        .into_iter()
        .filter(|(to, subject, _)| to.contains("owner@example.com") && subject.contains("budget"))
        .collect();
    assert_eq!(mails.len(), 3, "{mails:?}");
    assert!(
        mails
            .iter()
            .any(|(_, subject, body)| subject.contains("100%") && body.contains(&spent_usd))
    );
    // Raising the budget lets the key continue.
    api(
        &app,
        &org,
        Method::PATCH,
        &format!("/keys/{key_id}"),
        json!({"budget": {"limit_usd": "10", "period": "monthly"}}),
    )
    .await;
    let mut ok = false;
    for _ in 0..40 {
        // The gateway's key cache refreshes within seconds.
        if chat(&app, &key).await.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ok, "a raised budget admits again");
}

on_both!(team_limit_shared_by_two_keys);
async fn team_limit_shared_by_two_keys(app: TestApp) {
    let org = org(&app).await;
    let team = api(
        &app,
        &org,
        Method::POST,
        "/teams",
        json!({"name": "Research", "limits": {"rpm": 4}, "budget": {"limit_usd": "5", "period": "daily"}}),
    )
    .await;
    let team_id = team["id"].as_str().unwrap();
    let (_, a) = issue_key(&app, &org, json!({"team_id": team_id})).await;
    let (_, b) = issue_key(
        &app,
        &org,
        json!({"team_id": team_id, "limits": {"rpm": 100}}),
    )
    .await;
    let (_, outsider) = issue_key(&app, &org, json!({"limits": {"rpm": 100}})).await;
    let mut spent = 0;
    for k in [&a, &b, &a, &b] {
        let resp = chat(&app, k).await;
        assert_eq!(resp.status(), 200);
        spent += nanos(&header(&resp, "x-keyway-cost-usd").unwrap());
    }
    for k in [&a, &b] {
        let refused = chat(&app, k).await;
        assert_eq!(refused.status(), 429);
        let body: Value = refused.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("team") && message.contains("4 requests"),
            "{message}"
        );
    }
    // Both keys' spend is the team's, visible through the API once settled.
    let expected = format!("{}.{:09}", spent / 1_000_000_000, spent % 1_000_000_000);
    let mut shown = Value::Null;
    for _ in 0..20 {
        shown = api(
            &app,
            &org,
            Method::GET,
            &format!("/teams/{team_id}"),
            json!(null),
        )
        .await;
        if shown["spend"]["spent_usd"] == expected.as_str() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown["spend"]["spent_usd"], expected.as_str(), "{shown}");
    assert!(
        shown["spend"]["period_id"]
            .as_str()
            .unwrap()
            .starts_with('d')
    );
    // A key outside the team is not affected.
    let resp = chat(&app, &outsider).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-ratelimit-remaining-requests").as_deref(),
        Some("99")
    );
}

async fn chat_as(app: &TestApp, key: &str, user: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(format!("{}/v1/chat/completions", app.gateway_url))
        .bearer_auth(key)
        .json(&json!({
            "model": "mock/echo", "max_tokens": 16,
            "messages": [{"role": "user", "content": "count my tokens please"}],
        }));
    if let Some(user) = user {
        req = req.header("x-keyway-user", user);
    }
    req.send().await.unwrap()
}

on_both!(organization_and_end_user_limits);
async fn organization_and_end_user_limits(app: TestApp) {
    let org = org(&app).await;
    let limits = api(
        &app,
        &org,
        Method::PUT,
        "/limits",
        json!({
            "limits": {"rpm": 5}, "budget": {"limit_usd": "10", "period": "daily"},
            "end_user_limits": {"rpm": 2},
        }),
    )
    .await;
    assert_eq!(limits["end_user_limits"], json!({"rpm": 2, "tpm": null}));
    let (_, key) = issue_key(&app, &org, json!({})).await;
    let mut spent = 0;
    for user in [Some("alice"), Some("alice"), Some("bob"), Some("bob"), None] {
        let resp = chat_as(&app, &key, user).await;
        assert_eq!(resp.status(), 200, "{user:?}");
        spent += nanos(&header(&resp, "x-keyway-cost-usd").unwrap());
    }
    // Alice is refused at her own level before the organization's.
    let refused: Value = chat_as(&app, &key, Some("alice"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("end user: 2 requests"),
        "{refused}"
    );
    // Carol has room of her own, but the organization's 5 are used.
    let refused = chat_as(&app, &key, Some("carol")).await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("organization: 5 requests"),
        "{body}"
    );
    // An unusable end-user id is a 400 naming the header.
    let long = "x".repeat(300);
    let resp = chat_as(&app, &key, Some(&long)).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["param"], "x-keyway-user", "{body}");
    // The organization's spend is visible once settled.
    let expected = format!("{}.{:09}", spent / 1_000_000_000, spent % 1_000_000_000);
    let mut shown = Value::Null;
    for _ in 0..20 {
        shown = api(&app, &org, Method::GET, "/limits", json!(null)).await;
        if shown["spend"]["spent_usd"] == expected.as_str() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown["spend"]["spent_usd"], expected.as_str(), "{shown}");
}

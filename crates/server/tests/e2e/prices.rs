//! Per-organization price overrides reach the gateway's cost (response header and request
//! event) once published, without touching other organizations.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_domain::Usd;
use keyway_store::invalidation::publish_org_change;
use keyway_store::price_overrides::Prices;
use keyway_testkit::{Backends, Tenant, TestApp, spawn_with};
use serde_json::json;

/// `x-keyway-cost-usd` of one chat call: 5 prompt tokens, 2 completion tokens (the mock's rule).
async fn cost(app: &TestApp, tenant: &Tenant, model: &str) -> f64 {
    let resp = app
        .client
        .post(format!("{}/v1/chat/completions", app.gateway_url))
        .bearer_auth(&tenant.key)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hello there"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.headers()["x-keyway-cost-usd"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The cost of calls to `model` once it is `expected`: change messages travel asynchronously
/// (Redis pub/sub), so the first call after a publish may still see the old prices; within a
/// second it must not.
async fn cost_becomes(app: &TestApp, tenant: &Tenant, model: &str, expected: f64) {
    let mut seen = 0.0;
    for _ in 0..50 {
        seen = cost(app, tenant, model).await;
        if (seen - expected).abs() < 1e-9 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{model} still costs {seen}, not {expected}, a second after the change");
}

fn usd(dollars: i64) -> Usd {
    Usd::from_nanos(dollars * 1_000_000_000)
}

#[tokio::test]
async fn an_org_price_override_prices_its_requests() {
    for backends in [Backends::Embedded, Backends::Production] {
        let app = spawn_with(backends, |_| {}).await.unwrap();
        let acme = app.seed_tenant("acme").await.unwrap();
        let globex = app.seed_tenant("globex").await.unwrap();
        // The catalog: mock models at $1 in / $2 out per million; "echo" on Anthropic unknown.
        let catalog = 5.0 * 1e-6 + 2.0 * 2e-6;
        assert!((cost(&app, &acme, "mock/echo").await - catalog).abs() < 1e-12);
        assert_eq!(cost(&app, &acme, "mock-anthropic/echo").await, 0.0);

        let db = &app.services.db;
        db.set_price_override(
            acme.org.id,
            "mock",
            "echo",
            Prices::new(usd(100), usd(1000)),
        )
        .await
        .unwrap();
        db.set_price_override(acme.org.id, "anthropic", "*", Prices::new(usd(10), usd(20)))
            .await
            .unwrap();
        publish_org_change(&app.services.kv, acme.org.id)
            .await
            .unwrap();

        let overridden = 5.0 * 100e-6 + 2.0 * 1000e-6;
        cost_becomes(&app, &acme, "mock/echo", overridden).await;
        let anthropic = 5.0 * 10e-6 + 2.0 * 20e-6;
        assert!((cost(&app, &acme, "mock-anthropic/echo").await - anthropic).abs() < 1e-9);
        // Models the override's pattern does not match keep the catalog price.
        assert!((cost(&app, &acme, "mock/gpt-4o-mini+echo").await - catalog).abs() < 1e-12);
        // Another org pays the catalog price.
        assert!((cost(&app, &globex, "mock/echo").await - catalog).abs() < 1e-12);

        // The recorded event carries the overridden cost.
        let org = acme.org.id.to_string();
        let expected = (overridden * 1e9).round() as i64;
        let mut found = false;
        for _ in 0..100 {
            let events = app.services.analytics.recent(&org, 100).await.unwrap();
            if events.iter().any(|e| e.cost_nano_usd == expected) {
                found = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(found, "no event with cost {expected}");

        // Deleting the override restores the catalog price.
        db.delete_price_override(acme.org.id, "mock", "echo")
            .await
            .unwrap();
        publish_org_change(&app.services.kv, acme.org.id)
            .await
            .unwrap();
        cost_becomes(&app, &acme, "mock/echo", catalog).await;
    }
}

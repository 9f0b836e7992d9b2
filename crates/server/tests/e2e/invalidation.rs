//! Revocations and organization changes reach every gateway process well within the policy
//! cache's TTL: the control plane publishes the change (Redis pub/sub in production, the
//! in-process bus in the embedded default) and each gateway evicts its cached copy.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway::{Application, Parts};
use keyway_store::invalidation::{publish_key_change, publish_org_change};
use keyway_store::virtual_keys::hash_key;
use keyway_testkit::{Backends, Tenant, TestApp, spawn_with};
use serde_json::json;
use std::time::{Duration, Instant};

/// Well under the 5 s policy TTL, so only the invalidation message can explain a refusal.
const PROPAGATION_LIMIT: Duration = Duration::from_secs(1);

async fn status(app: &TestApp, gateway: &str, key: &str) -> u16 {
    app.client
        .post(format!("{gateway}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Polls every gateway until each answers `expected`; returns how long that took.
async fn until_all(app: &TestApp, gateways: &[String], key: &str, expected: u16) -> Duration {
    let started = Instant::now();
    for gateway in gateways {
        while status(app, gateway, key).await != expected {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{gateway} never answered {expected}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    started.elapsed()
}

/// A second gateway process's worth: its own Application on the same Postgres and Redis prefix.
async fn second_gateway(app: &TestApp) -> (String, keyway::Stopper, tokio::task::JoinHandle<()>) {
    let second = Application::build(app.settings.clone(), Parts::Gateway)
        .await
        .unwrap();
    let url = second.gateway_url().unwrap();
    let stopper = second.stopper();
    let task = tokio::spawn(async move {
        second.run_until_stopped().await.unwrap();
    });
    (url, stopper, task)
}

async fn warm(app: &TestApp, gateways: &[String], tenant: &Tenant) {
    // Both gateways now hold the key's policy in their caches.
    for gateway in gateways {
        assert_eq!(status(app, gateway, &tenant.key).await, 200, "{gateway}");
    }
}

#[tokio::test]
async fn a_revocation_reaches_every_gateway_process_within_a_second() {
    let app = spawn_with(Backends::Production, |_| {}).await.unwrap();
    let tenant = app.seed_tenant("acme").await.unwrap();
    let (second, stopper, task) = second_gateway(&app).await;
    let gateways = [app.gateway_url.clone(), second];
    warm(&app, &gateways, &tenant).await;

    app.services
        .db
        .revoke_key(tenant.org.id, tenant.key_id)
        .await
        .unwrap();
    publish_key_change(&app.services.kv, &hash_key(&tenant.key))
        .await
        .unwrap();
    let took = until_all(&app, &gateways, &tenant.key, 401).await;
    assert!(took < PROPAGATION_LIMIT, "took {took:?}");

    stopper.stop();
    task.await.unwrap();
}

#[tokio::test]
async fn disabling_an_org_reaches_every_gateway_process_within_a_second() {
    let app = spawn_with(Backends::Production, |_| {}).await.unwrap();
    let tenant = app.seed_tenant("acme").await.unwrap();
    let other = app.seed_tenant("globex").await.unwrap();
    let (second, stopper, task) = second_gateway(&app).await;
    let gateways = [app.gateway_url.clone(), second];
    warm(&app, &gateways, &tenant).await;
    warm(&app, &gateways, &other).await;

    app.services
        .db
        .set_org_disabled(tenant.org.id, true)
        .await
        .unwrap();
    publish_org_change(&app.services.kv, tenant.org.id)
        .await
        .unwrap();
    let took = until_all(&app, &gateways, &tenant.key, 403).await;
    assert!(took < PROPAGATION_LIMIT, "took {took:?}");
    // Other organizations are untouched.
    for gateway in &gateways {
        assert_eq!(status(&app, gateway, &other.key).await, 200);
    }

    app.services
        .db
        .set_org_disabled(tenant.org.id, false)
        .await
        .unwrap();
    publish_org_change(&app.services.kv, tenant.org.id)
        .await
        .unwrap();
    let took = until_all(&app, &gateways, &tenant.key, 200).await;
    assert!(took < PROPAGATION_LIMIT, "took {took:?}");

    stopper.stop();
    task.await.unwrap();
}

#[tokio::test]
async fn the_embedded_default_evicts_through_the_in_process_bus() {
    let app = spawn_with(Backends::Embedded, |_| {}).await.unwrap();
    let tenant = app.seed_tenant("acme").await.unwrap();
    let gateways = [app.gateway_url.clone()];
    warm(&app, &gateways, &tenant).await;
    app.services
        .db
        .revoke_key(tenant.org.id, tenant.key_id)
        .await
        .unwrap();
    publish_key_change(&app.services.kv, &hash_key(&tenant.key))
        .await
        .unwrap();
    let took = until_all(&app, &gateways, &tenant.key, 401).await;
    assert!(took < PROPAGATION_LIMIT, "took {took:?}");
}

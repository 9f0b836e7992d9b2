//! The application as tests see it: both ports up, health and readiness per deployment shape,
//! error shapes of unknown routes, graceful shutdown flushing analytics.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_analytics::RequestEvent;
use keyway_testkit::{Backends, TestApp, spawn_app, spawn_embedded_app, spawn_with};
use serde_json::Value;

async fn json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn assert_healthy(app: &TestApp, expected_kv: &str, expected_analytics: &str) {
    for (name, base) in [("api", &app.api_url), ("gateway", &app.gateway_url)] {
        let (status, body) = json(
            app.client
                .get(format!("{base}/healthz"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, &body["status"]),
            (200, &Value::from("ok")),
            "{name} healthz"
        );
        let (status, body) = json(
            app.client
                .get(format!("{base}/readyz"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{name} readyz: {body}");
        assert_eq!(body["status"], "ready", "{name} readyz: {body}");
        assert_eq!(body["checks"]["database"], "ok");
        assert_eq!(body["checks"]["kv"], expected_kv);
        assert_eq!(body["checks"]["analytics"], expected_analytics);
    }
}

#[tokio::test]
async fn production_backends_are_healthy_and_ready() {
    let app = spawn_app().await.unwrap();
    assert_healthy(&app, "redis", "clickhouse").await;
}

#[tokio::test]
async fn embedded_default_is_healthy_and_ready() {
    let app = spawn_embedded_app().await.unwrap();
    assert_healthy(&app, "memory", "sql").await;
    // The embedded default keeps its state in the data directory.
    let dir = &app.settings.server.data_dir;
    assert!(dir.join("keyway.db").exists() && dir.join("analytics.db").exists());
}

#[tokio::test]
async fn readiness_reports_an_analytics_outage_as_degraded_not_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = keyway_config::Settings::default();
    settings.server.api_addr = "127.0.0.1:0".parse().unwrap();
    settings.server.gateway_addr = "127.0.0.1:0".parse().unwrap();
    settings.server.data_dir = dir.path().to_path_buf();
    // Nothing listens on port 9 (discard): ClickHouse is down from the start.
    settings.clickhouse.url = Some("http://127.0.0.1:9".into());
    let app = keyway::Application::build(settings, keyway::Parts::Gateway)
        .await
        .unwrap();
    let url = app.gateway_url().unwrap();
    let stopper = app.stopper();
    let task = tokio::spawn(app.run_until_stopped());
    let (status, body) = json(reqwest::get(format!("{url}/readyz")).await.unwrap()).await;
    assert_eq!(
        status, 200,
        "an analytics blip must not pull the replica: {body}"
    );
    assert_eq!(body["status"], "degraded");
    assert!(
        body["checks"]["analytics"]
            .as_str()
            .unwrap()
            .starts_with("error")
    );
    assert!(
        !body.to_string().contains("127.0.0.1:9"),
        "readiness leaks the URL: {body}"
    );
    stopper.stop();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn unknown_routes_answer_in_each_surface_error_shape() {
    let app = spawn_embedded_app().await.unwrap();
    let (status, body) = json(app.get_api("/api/v1/nope").await.unwrap()).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["message"].is_string());

    let resp = app
        .client
        .post(format!("{}/v1/nope", app.gateway_url))
        .send()
        .await
        .unwrap();
    let (status, body) = json(resp).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/nope")
    );
}

#[tokio::test]
async fn shutdown_flushes_buffered_events_and_closes_ports() {
    for backends in [Backends::Production, Backends::Embedded] {
        let mut app = spawn_with(backends, |s| {
            // Long enough that only the shutdown flush can write these rows.
            s.analytics.flush_interval_ms = 60_000;
        })
        .await
        .unwrap();
        let org = uuid::Uuid::now_v7().to_string();
        for i in 0..25 {
            assert!(app.services.events.try_record(event(&org, i)));
        }
        let analytics = app.services.analytics.clone();
        let gateway = app.gateway_url.clone();
        let client = app.client.clone();
        app.shutdown().await.unwrap();
        assert_eq!(analytics.count(&org).await.unwrap(), 25, "{backends:?}");
        assert!(
            client
                .get(format!("{gateway}/healthz"))
                .send()
                .await
                .is_err(),
            "port still open"
        );
    }
}

fn event(org: &str, i: u32) -> RequestEvent {
    RequestEvent {
        status_code: 200,
        input_tokens: 10,
        output_tokens: 5,
        cost_nano_usd: 1_500,
        ..RequestEvent::new(&format!("req-{i}"), org, "openai.chat", "mock/echo")
    }
}

#[tokio::test]
async fn gateway_port_serves_the_analytics_sink_metrics() {
    let app = spawn_embedded_app().await.unwrap();
    let org = uuid::Uuid::now_v7().to_string();
    for i in 0..3 {
        assert!(app.services.events.try_record(event(&org, i)));
    }
    let resp = app
        .client
        .get(format!("{}/metrics", app.gateway_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("\nkeyway_analytics_events_recorded_total 3\n"),
        "{body}"
    );
    for name in [
        "keyway_analytics_events_spooled_total",
        "keyway_analytics_events_replayed_total",
        "keyway_analytics_events_spool_dropped_total",
        "keyway_analytics_events_dropped_total",
    ] {
        assert!(body.contains(&format!("# TYPE {name} counter\n")), "{name}");
    }
}

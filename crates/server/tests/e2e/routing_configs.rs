//! Routing configs through the REST API, on Postgres and on SQLite: create, validate with JSON
//! paths, immutable versions, rename, delete (refused while a key uses the config), isolation
//! between organizations and the audit trail.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_testkit::api::TestUser;
use keyway_testkit::{Backends, TestApp, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};

async fn app(backends: Backends) -> TestApp {
    spawn_with(backends, |_| {}).await.unwrap()
}

macro_rules! on_both {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test]
            async fn postgres() {
                super::$scenario(super::app(keyway_testkit::Backends::Production).await).await;
            }
            #[tokio::test]
            async fn sqlite() {
                super::$scenario(super::app(keyway_testkit::Backends::Embedded).await).await;
            }
        }
    };
}

async fn call(
    app: &TestApp,
    user: &TestUser,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    app.api(method, path, Some(&user.access_token), body)
        .await
        .unwrap()
}

/// Portkey's documented fallback example, pasted as is.
fn portkey_fallback() -> Value {
    json!({
        "strategy": {"mode": "fallback", "on_status_codes": [429, 503]},
        "targets": [
            {"virtual_key": "openai-virtual-key", "override_params": {"model": "gpt-4o"}},
            {"virtual_key": "anthropic-virtual-key", "override_params": {"model": "claude-3-5-sonnet-20240620", "max_tokens": 1024}}
        ]
    })
}

on_both!(configs_are_validated_and_versioned);
async fn configs_are_validated_and_versioned(app: TestApp) {
    let owner = app.register("owner@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    let configs = format!("/api/v1/orgs/{org}/configs");

    let (status, created) = call(
        &app,
        &owner,
        Method::POST,
        &configs,
        Some(json!({"name": "Fallback", "config": portkey_fallback()})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["version"], 1);
    assert_eq!(created["name"], "Fallback");
    assert_eq!(created["config"], portkey_fallback(), "stored as written");
    assert_eq!(created["created_by"], json!(owner.id));
    let id = created["id"].as_str().unwrap().to_owned();

    // Same name again: 409.
    let (status, body) = call(
        &app,
        &owner,
        Method::POST,
        &configs,
        Some(json!({"name": "Fallback", "config": {"provider": "@openai"}})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    // Invalid configs: 400 naming the JSON path of the offence.
    for (bad, path) in [
        (
            json!({"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "@a"}, {"provider": "@b", "weight": -1}]}),
            "targets[1].weight",
        ),
        (
            json!({"strategy": {"mode": "sometimes"}, "targets": []}),
            "strategy.mode",
        ),
        (
            json!({"targets": [{"provider": "@a", "api_key": "sk-live-secret-123456"}]}),
            "targets[0].api_key",
        ),
        (
            json!({"targets": [{"provider": "@a", "retry": {"attempts": 99}}]}),
            "targets[0].retry.attempts",
        ),
    ] {
        let (status, body) = call(
            &app,
            &owner,
            Method::POST,
            &configs,
            Some(json!({"name": "Bad", "config": bad})),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(path), "{path} not in {message}");
        assert!(
            !message.contains("sk-live-secret"),
            "secret echoed: {message}"
        );
    }
    let (_, list) = call(&app, &owner, Method::GET, &configs, None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");

    // A new version; the old one stays readable and unchanged.
    let v2 = json!({"strategy": {"mode": "loadbalance"}, "targets": [
        {"provider": "@openai", "weight": 0.7}, {"provider": "@anthropic", "weight": 0.3}]});
    let (status, updated) = call(
        &app,
        &owner,
        Method::PATCH,
        &format!("{configs}/{id}"),
        Some(json!({"config": v2})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (updated["version"].clone(), updated["config"].clone()),
        (json!(2), v2.clone())
    );
    // An invalid new version is refused and writes nothing.
    let (status, body) = call(
        &app,
        &owner,
        Method::PATCH,
        &format!("{configs}/{id}"),
        Some(json!({"config": {"targets": [{"provider": ""}]}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("targets[0].provider")
    );
    let (status, renamed) = call(
        &app,
        &owner,
        Method::PATCH,
        &format!("{configs}/{id}"),
        Some(json!({"name": "Weighted"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (renamed["name"].as_str(), renamed["version"].as_u64()),
        (Some("Weighted"), Some(2))
    );

    let (status, versions) = call(
        &app,
        &owner,
        Method::GET,
        &format!("{configs}/{id}/versions"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let versions = versions["data"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        (
            versions[0]["version"].clone(),
            versions[0]["config"].clone()
        ),
        (json!(2), v2)
    );
    assert_eq!(
        (
            versions[1]["version"].clone(),
            versions[1]["config"].clone()
        ),
        (json!(1), portkey_fallback())
    );
    let (_, got) = call(&app, &owner, Method::GET, &format!("{configs}/{id}"), None).await;
    assert_eq!(got["version"], 2);

    // Another organization sees nothing of it.
    let outsider = app.register("outsider@example.com").await.unwrap();
    let other = app.create_org(&outsider, "Other").await.unwrap();
    for path in [
        format!("{configs}/{id}"),
        format!("/api/v1/orgs/{other}/configs/{id}"),
        format!("/api/v1/orgs/{other}/configs/{id}/versions"),
    ] {
        let (status, _) = call(&app, &outsider, Method::GET, &path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (_, theirs) = call(
        &app,
        &outsider,
        Method::GET,
        &format!("/api/v1/orgs/{other}/configs"),
        None,
    )
    .await;
    assert_eq!(theirs["data"], json!([]));

    // A key's default config must be one of the organization's own.
    let (_, their_config) = call(
        &app,
        &outsider,
        Method::POST,
        &format!("/api/v1/orgs/{other}/configs"),
        Some(json!({"name": "Theirs", "config": {"provider": "@x"}})),
    )
    .await;
    let (status, body) = call(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/keys"),
        Some(json!({"name": "k", "default_config_id": their_config["id"]})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("default_config_id")
    );
    // A key using it as default blocks deletion until it lets go.
    let (status, key) = call(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/keys"),
        Some(json!({"name": "k", "default_config_id": id})),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let (status, body) = call(
        &app,
        &owner,
        Method::DELETE,
        &format!("{configs}/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let key_id = key["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        &owner,
        Method::PATCH,
        &format!("/api/v1/orgs/{org}/keys/{key_id}"),
        Some(json!({"default_config_id": null})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &app,
        &owner,
        Method::DELETE,
        &format!("{configs}/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &app,
        &owner,
        Method::GET,
        &format!("{configs}/{id}/versions"),
        None,
    )
    .await;
    assert_eq!(status, 404);

    // Every change is in the audit log.
    let (_, audit) = call(
        &app,
        &owner,
        Method::GET,
        &format!("/api/v1/orgs/{org}/audit"),
        None,
    )
    .await;
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target_type"] == "config")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "config.delete",
            "config.update",
            "config.update",
            "config.create"
        ],
        "{audit}"
    );
}

on_both!(only_admins_write_configs);
async fn only_admins_write_configs(app: TestApp) {
    let owner = app.register("owner@example.com").await.unwrap();
    let member = app.register("member@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    app.add_to_org(&owner, &org, &member, "member")
        .await
        .unwrap();
    let configs = format!("/api/v1/orgs/{org}/configs");
    let (status, body) = call(
        &app,
        &member,
        Method::POST,
        &configs,
        Some(json!({"name": "Mine", "config": {"provider": "@openai"}})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (_, created) = call(
        &app,
        &owner,
        Method::POST,
        &configs,
        Some(json!({"name": "Shared", "config": {"provider": "@openai"}})),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let (status, got) = call(&app, &member, Method::GET, &format!("{configs}/{id}"), None).await;
    assert_eq!((status, got["name"].as_str()), (200, Some("Shared")));
    let (status, _) = call(
        &app,
        &member,
        Method::PATCH,
        &format!("{configs}/{id}"),
        Some(json!({"config": {"provider": "@anthropic"}})),
    )
    .await;
    assert_eq!(status, 403);
    let (_, versions) = call(
        &app,
        &member,
        Method::GET,
        &format!("{configs}/{id}/versions"),
        None,
    )
    .await;
    assert_eq!(
        versions["data"].as_array().unwrap().len(),
        1,
        "nothing written"
    );
}

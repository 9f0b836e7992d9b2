//! Control-plane resources through the REST API, on Postgres and on SQLite: organizations,
//! invites for new and existing accounts, ownership rules, teams, provider credentials (sealed,
//! masked, SSRF-checked), virtual keys used through the gateway, and the audit log.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_testkit::api::{TEST_PASSWORD, TestUser};
use keyway_testkit::{Backends, TestApp, on_both_backends, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};

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

on_both_backends!(organization_lifecycle);
async fn organization_lifecycle(app: TestApp) {
    let ada = app.register("ada@example.com").await.unwrap();
    let (status, org) = call(
        &app,
        &ada,
        Method::POST,
        "/api/v1/orgs",
        Some(json!({"name": "Acme Corp", "slug": "acme"})),
    )
    .await;
    assert_eq!(status, 201, "{org}");
    assert_eq!(
        (org["slug"].as_str(), org["role"].as_str()),
        (Some("acme"), Some("owner"))
    );
    let id = org["id"].as_str().unwrap();
    let (status, body) = call(
        &app,
        &ada,
        Method::POST,
        "/api/v1/orgs",
        Some(json!({"name": "Other", "slug": "acme"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    let (status, body) = call(
        &app,
        &ada,
        Method::POST,
        "/api/v1/orgs",
        Some(json!({"name": "Bad", "slug": "Not A Slug"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // Without a slug one is derived from the name.
    let (_, derived) = call(
        &app,
        &ada,
        Method::POST,
        "/api/v1/orgs",
        Some(json!({"name": "Beta Labs!"})),
    )
    .await;
    assert!(
        derived["slug"].as_str().unwrap().starts_with("beta-labs-"),
        "{derived}"
    );

    let (status, list) = call(&app, &ada, Method::GET, "/api/v1/orgs?limit=1", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let cursor = list["next_cursor"].as_str().unwrap();
    let (_, rest) = call(
        &app,
        &ada,
        Method::GET,
        &format!("/api/v1/orgs?limit=1&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], Value::Null);
    assert_ne!(rest["data"][0]["id"], list["data"][0]["id"]);

    let (status, changed) = call(
        &app,
        &ada,
        Method::PATCH,
        &format!("/api/v1/orgs/{id}"),
        Some(json!({"name": "Acme Inc", "retention_days": 30, "log_bodies": true})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (
            changed["name"].as_str(),
            changed["retention_days"].as_u64(),
            changed["log_bodies"].as_bool()
        ),
        (Some("Acme Inc"), Some(30), Some(true))
    );
    let (status, _) = call(
        &app,
        &ada,
        Method::PATCH,
        &format!("/api/v1/orgs/{id}"),
        Some(json!({"retention_days": 0})),
    )
    .await;
    assert_eq!(status, 400);
    let (_, cleared) = call(
        &app,
        &ada,
        Method::PATCH,
        &format!("/api/v1/orgs/{id}"),
        Some(json!({"retention_days": null})),
    )
    .await;
    assert_eq!(cleared["retention_days"], Value::Null);
    assert_eq!(cleared["log_bodies"], true, "omitted fields stay");

    let (status, _) = call(
        &app,
        &ada,
        Method::DELETE,
        &format!("/api/v1/orgs/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(&app, &ada, Method::GET, &format!("/api/v1/orgs/{id}"), None).await;
    assert_eq!(status, 404);
    let (status, body) = call(&app, &ada, Method::GET, "/api/v1/orgs/not-a-uuid", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

on_both_backends!(invites_for_new_and_existing_accounts);
async fn invites_for_new_and_existing_accounts(app: TestApp) {
    let owner = app.register("owner@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();

    // An existing account accepts with its own login.
    let bob = app.register("bob@example.com").await.unwrap();
    let (status, invite) = call(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/invites"),
        Some(json!({"email": "Bob@Example.com", "role": "admin"})),
    )
    .await;
    assert_eq!(status, 201, "{invite}");
    assert_eq!(
        (invite["email"].as_str(), invite["status"].as_str()),
        (Some("bob@example.com"), Some("pending"))
    );
    let token = app
        .mailed_token("bob@example.com", "/invites/accept")
        .await
        .unwrap();
    let (status, preview) = app
        .api(
            Method::POST,
            "/api/v1/invites/lookup",
            None,
            Some(json!({"token": token})),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            status,
            preview["org_name"].as_str(),
            preview["role"].as_str()
        ),
        (200, Some("Acme"), Some("admin"))
    );
    // Someone else's account cannot take it.
    let eve = app.register("eve@example.com").await.unwrap();
    let (status, _) = call(
        &app,
        &eve,
        Method::POST,
        "/api/v1/invites/accept",
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &app,
        &bob,
        Method::POST,
        "/api/v1/invites/accept",
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &app,
        &bob,
        Method::POST,
        "/api/v1/invites/accept",
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(status, 404, "an invite works once");
    let (_, me) = call(&app, &bob, Method::GET, "/api/v1/me", None).await;
    assert_eq!(me["orgs"][0]["role"], "admin");

    // A new address signs up through the link: verified at once, member at once.
    let (status, _) = call(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/invites"),
        Some(json!({"email": "carol@example.com"})),
    )
    .await;
    assert_eq!(status, 201);
    let token = app
        .mailed_token("carol@example.com", "/invites/accept")
        .await
        .unwrap();
    let (status, user) = app.api(Method::POST, "/api/v1/auth/signup", None,
        Some(json!({"email": "carol@example.com", "password": TEST_PASSWORD, "name": "Carol", "invite_token": token}))).await.unwrap();
    assert_eq!((status, &user["email_verified"]), (201, &Value::Bool(true)));
    let carol = app.login("carol@example.com", TEST_PASSWORD).await.unwrap();
    let (_, me) = call(&app, &carol, Method::GET, "/api/v1/me", None).await;
    assert_eq!(
        (me["orgs"][0]["id"].as_str(), me["orgs"][0]["role"].as_str()),
        (Some(org.as_str()), Some("member"))
    );

    // A revoked invite stops working; an existing member cannot be invited again.
    let (_, dave) = call(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/invites"),
        Some(json!({"email": "dave@example.com"})),
    )
    .await;
    let token = app
        .mailed_token("dave@example.com", "/invites/accept")
        .await
        .unwrap();
    let (status, revoked) = call(
        &app,
        &owner,
        Method::DELETE,
        &format!(
            "/api/v1/orgs/{org}/invites/{}",
            dave["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!((status, revoked["status"].as_str()), (200, Some("revoked")));
    let (status, _) = app
        .api(
            Method::POST,
            "/api/v1/invites/lookup",
            None,
            Some(json!({"token": token})),
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/invites"),
        Some(json!({"email": "bob@example.com"})),
    )
    .await;
    assert_eq!(status, 409);
    // Only owners invite owners.
    let (status, _) = call(
        &app,
        &bob,
        Method::POST,
        &format!("/api/v1/orgs/{org}/invites"),
        Some(json!({"email": "x@example.com", "role": "owner"})),
    )
    .await;
    assert_eq!(status, 403);
    let (_, list) = call(
        &app,
        &owner,
        Method::GET,
        &format!("/api/v1/orgs/{org}/invites"),
        None,
    )
    .await;
    let statuses: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["revoked", "accepted", "accepted"]);
}

on_both_backends!(an_organization_always_keeps_an_owner);
async fn an_organization_always_keeps_an_owner(app: TestApp) {
    let owner = app.register("owner@example.com").await.unwrap();
    let admin = app.register("admin@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    app.add_to_org(&owner, &org, &admin, "admin").await.unwrap();
    let members = format!("/api/v1/orgs/{org}/members");
    let (status, body) = call(
        &app,
        &owner,
        Method::DELETE,
        &format!("{members}/{}", owner.id),
        None,
    )
    .await;
    assert_eq!(status, 409, "the last owner cannot leave: {body}");
    let (status, _) = call(
        &app,
        &owner,
        Method::PATCH,
        &format!("{members}/{}", owner.id),
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(status, 409);
    // Admins cannot touch owners or make owners.
    let (status, _) = call(
        &app,
        &admin,
        Method::PATCH,
        &format!("{members}/{}", owner.id),
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &app,
        &admin,
        Method::PATCH,
        &format!("{members}/{}", admin.id),
        Some(json!({"role": "owner"})),
    )
    .await;
    assert_eq!(status, 403);
    // Hand over, then leave.
    let (status, _) = call(
        &app,
        &owner,
        Method::PATCH,
        &format!("{members}/{}", admin.id),
        Some(json!({"role": "owner"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &app,
        &owner,
        Method::DELETE,
        &format!("{members}/{}", owner.id),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &app,
        &owner,
        Method::GET,
        &format!("/api/v1/orgs/{org}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "a former member sees nothing");
    let (_, list) = call(&app, &admin, Method::GET, &members, None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

on_both_backends!(teams_with_members_limits_and_budgets);
async fn teams_with_members_limits_and_budgets(app: TestApp) {
    let owner = app.register("owner@example.com").await.unwrap();
    let stranger = app.register("stranger@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    let teams = format!("/api/v1/orgs/{org}/teams");
    let (status, team) = call(
        &app,
        &owner,
        Method::POST,
        &teams,
        Some(json!({
            "name": "Research", "limits": {"rpm": 600, "tpm": 100000},
            "budget": {"limit_usd": "250.5", "period": "monthly"},
        })),
    )
    .await;
    assert_eq!(status, 201, "{team}");
    assert_eq!(
        team["budget"],
        json!({"limit_usd": "250.500000000", "period": "monthly"})
    );
    assert_eq!(team["limits"], json!({"rpm": 600, "tpm": 100000}));
    let id = team["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        &owner,
        Method::POST,
        &teams,
        Some(json!({"name": "Research"})),
    )
    .await;
    assert_eq!(status, 409);
    for bad in [
        json!({"name": "x", "budget": {"limit_usd": "-1", "period": "monthly"}}),
        json!({"name": "x", "budget": {"limit_usd": "1", "period": "hourly"}}),
        json!({"name": "x", "limits": {"rpm": 0}}),
    ] {
        let (status, body) = call(&app, &owner, Method::POST, &teams, Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, body) = call(
        &app,
        &owner,
        Method::POST,
        &format!("{teams}/{id}/members"),
        Some(json!({"user_id": stranger.id})),
    )
    .await;
    assert_eq!(status, 400, "only org members join teams: {body}");
    let (status, with) = call(
        &app,
        &owner,
        Method::POST,
        &format!("{teams}/{id}/members"),
        Some(json!({"user_id": owner.id})),
    )
    .await;
    assert_eq!(
        (status, with["member_ids"].clone()),
        (200, json!([owner.id]))
    );
    let (_, changed) = call(
        &app,
        &owner,
        Method::PATCH,
        &format!("{teams}/{id}"),
        Some(json!({"budget": null})),
    )
    .await;
    assert_eq!(changed["budget"], Value::Null);
    assert_eq!(changed["name"], "Research");
    let (_, without) = call(
        &app,
        &owner,
        Method::DELETE,
        &format!("{teams}/{id}/members/{}", owner.id),
        None,
    )
    .await;
    assert_eq!(without["member_ids"], json!([]));
}

on_both_backends!(provider_keys_are_sealed_masked_and_write_only);
async fn provider_keys_are_sealed_masked_and_write_only(app: TestApp) {
    let owner = app.register("owner@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    let secret = "sk-live-PLAINTEXT-never-stored-9f3k";
    let (status, p) = call(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/providers"),
        Some(json!({
            "name": "OpenAI prod", "slug": "openai-prod", "provider": "openai", "api_key": secret,
        })),
    )
    .await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["api_key_masked"], "****9f3k");
    assert!(!p.to_string().contains(secret));
    let id = p["id"].as_str().unwrap();
    let (_, got) = call(
        &app,
        &owner,
        Method::GET,
        &format!("/api/v1/orgs/{org}/providers/{id}"),
        None,
    )
    .await;
    assert!(!got.to_string().contains(secret) && got.get("api_key").is_none());
    for bad in [
        json!({"name": "x", "slug": "x", "provider": "nope", "api_key": "k"}),
        json!({"name": "x", "slug": "Bad Slug", "provider": "openai", "api_key": "k"}),
        json!({"name": "x", "slug": "x", "provider": "openai", "api_key": "k", "config": []}),
        json!({"name": "x", "slug": "x", "provider": "openai", "api_key": "k", "base_url": "ftp://example.com"}),
    ] {
        let (status, body) = call(
            &app,
            &owner,
            Method::POST,
            &format!("/api/v1/orgs/{org}/providers"),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _) = call(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/providers"),
        Some(json!({
        "name": "dup", "slug": "openai-prod", "provider": "openai", "api_key": "k"})),
    )
    .await;
    assert_eq!(status, 409);
    let rotated = "sk-live-SECOND-plaintext-abcd";
    let (status, p2) = call(
        &app,
        &owner,
        Method::PATCH,
        &format!("/api/v1/orgs/{org}/providers/{id}"),
        Some(json!({"api_key": rotated})),
    )
    .await;
    assert_eq!(
        (status, p2["api_key_masked"].as_str()),
        (200, Some("****abcd"))
    );

    // Nothing in any row of the database holds either key in clear.
    let dump = dump_database(&app).await;
    for s in [secret, rotated] {
        assert!(
            !dump.contains(s),
            "plaintext provider key found in the database"
        );
    }
    assert!(
        dump.contains("****9f3k") || dump.contains("9f3k"),
        "the dump sees credential rows"
    );
}

/// Every text column of every control-plane table, concatenated.
async fn dump_database(app: &TestApp) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let conn = app.services.db.conn();
    let backend = conn.get_database_backend();
    let tables = [
        "provider_credentials",
        "virtual_keys",
        "audit_log",
        "users",
        "invites",
        "sessions",
        "refresh_tokens",
        "email_tokens",
        "organizations",
        "teams",
    ];
    let mut out = String::new();
    for table in tables {
        let sql = match backend {
            sea_orm::DbBackend::Postgres => {
                format!("SELECT row_to_json(t)::text AS j FROM {table} t")
            }
            _ => format!("SELECT * FROM {table}"),
        };
        let rows = conn
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .unwrap();
        for row in rows {
            match backend {
                sea_orm::DbBackend::Postgres => {
                    out.push_str(&row.try_get::<String>("", "j").unwrap())
                }
                _ => {
                    for col in row.column_names() {
                        if let Ok(s) = row.try_get::<String>("", &col) {
                            out.push_str(&s);
                        } else if let Ok(b) = row.try_get::<Vec<u8>>("", &col) {
                            out.push_str(&String::from_utf8_lossy(&b));
                        }
                        out.push('|');
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

#[tokio::test]
async fn provider_base_urls_follow_the_ssrf_policy() {
    let app = spawn_with(Backends::Embedded, |s| {
        s.gateway.allow_private_upstreams = false
    })
    .await
    .unwrap();
    let owner = app.register("owner@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    for url in [
        "http://169.254.169.254/latest",
        "http://127.0.0.1:8080",
        "http://10.1.2.3",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://user:pw@api.example.com",
    ] {
        let (status, body) = call(&app, &owner, Method::POST, &format!("/api/v1/orgs/{org}/providers"), Some(json!({
            "name": "x", "slug": "x", "provider": "openai-compatible", "api_key": "k", "base_url": url}))).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("base_url"),
            "{body}"
        );
    }
    let (status, _) = call(&app, &owner, Method::POST, &format!("/api/v1/orgs/{org}/providers"), Some(json!({
        "name": "x", "slug": "x", "provider": "openai-compatible", "api_key": "k", "base_url": "https://api.example.com/v1"}))).await;
    assert_eq!(status, 201);
}

on_both_backends!(virtual_keys_through_the_gateway);
async fn virtual_keys_through_the_gateway(app: TestApp) {
    let owner = app.register("owner@example.com").await.unwrap();
    let member = app.register("member@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    app.add_to_org(&owner, &org, &member, "member")
        .await
        .unwrap();
    let (status, _) = call(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/providers"),
        Some(json!({
        "name": "Mock", "slug": "mock", "provider": "mock", "api_key": "sk-upstream-0123456789",
        "base_url": format!("{}/v1", app.mock.base_url())})),
    )
    .await;
    assert_eq!(status, 201);

    let keys = format!("/api/v1/orgs/{org}/keys");
    let (status, created) = call(
        &app,
        &member,
        Method::POST,
        &keys,
        Some(json!({
            "name": "ci", "allowed_models": ["mock/echo"], "limits": {"rpm": 100},
            "budget": {"limit_usd": 5, "period": "daily"}, "metadata": {"env": "ci"},
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("kw-") && secret.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(created["budget"]["limit_usd"], "5.000000000");
    let id = created["id"].as_str().unwrap().to_owned();
    // The secret is shown once: never in reads or lists.
    let (_, got) = call(&app, &member, Method::GET, &format!("{keys}/{id}"), None).await;
    let (_, list) = call(&app, &member, Method::GET, &keys, None).await;
    assert!(got.get("key").is_none() && !list.to_string().contains(&secret));

    let chat = |key: String, model: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(format!("{}/v1/chat/completions", app.gateway_url))
                .bearer_auth(key)
                .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(got["last_used_at"], Value::Null);
    assert_eq!(chat(secret.clone(), "mock/echo").await, 200);
    assert_eq!(
        chat(secret.clone(), "mock/other").await,
        403,
        "allowed_models applies"
    );
    // The gateway notes the use and writes it in its next batch (every few seconds).
    let mut last_used = Value::Null;
    for _ in 0..150 {
        last_used = call(&app, &member, Method::GET, &format!("{keys}/{id}"), None)
            .await
            .1["last_used_at"]
            .clone();
        if !last_used.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let last_used = chrono::DateTime::parse_from_rfc3339(last_used.as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - last_used.to_utc()).num_seconds() < 60);

    // Rotation with grace: both secrets work; without grace the old one stops.
    let (status, rotated) = call(
        &app,
        &member,
        Method::POST,
        &format!("{keys}/{id}/rotate"),
        Some(json!({"grace_period_secs": 3600})),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["key"].as_str().unwrap().to_owned();
    assert_ne!(second, secret);
    assert_eq!(chat(second.clone(), "mock/echo").await, 200);
    assert_eq!(chat(secret.clone(), "mock/echo").await, 200);
    let (_, rotated) = call(
        &app,
        &member,
        Method::POST,
        &format!("{keys}/{id}/rotate"),
        Some(json!({"grace_period_secs": 0})),
    )
    .await;
    let third = rotated["key"].as_str().unwrap().to_owned();
    assert_eq!(chat(third.clone(), "mock/echo").await, 200);

    // Revocation reaches the gateway at once (the control plane notifies every gateway process;
    // the 5 s cache TTL is only the backstop).
    let (status, revoked) = call(
        &app,
        &member,
        Method::POST,
        &format!("{keys}/{id}/revoke"),
        None,
    )
    .await;
    assert_eq!((status, revoked["status"].as_str()), (200, Some("revoked")));
    let started = std::time::Instant::now();
    loop {
        let status = chat(third.clone(), "mock/echo").await;
        if status == 401 || status == 403 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "revoked key still accepted after 1 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Bad input is explained; a team from another org is refused.
    for bad in [
        json!({"name": ""}),
        json!({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}),
        json!({"name": "x", "allowed_providers": ["Not A Slug"]}),
        json!({"name": "x", "team_id": uuid::Uuid::new_v4()}),
        json!({"name": "x", "budget": {"limit_usd": "1.0000000001", "period": "daily"}}),
    ] {
        let (status, body) = call(&app, &member, Method::POST, &keys, Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

on_both_backends!(the_audit_log_records_who_did_what);
async fn the_audit_log_records_who_did_what(app: TestApp) {
    let owner = app.register("owner@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    let key_secret = "sk-provider-SECRET-value-1234";
    let (_, p) = call(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/providers"),
        Some(json!({
        "name": "OpenAI", "slug": "openai", "provider": "openai", "api_key": key_secret})),
    )
    .await;
    let (_, k) = call(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/keys"),
        Some(json!({"name": "ci"})),
    )
    .await;
    let key_id = k["id"].as_str().unwrap();
    call(
        &app,
        &owner,
        Method::PATCH,
        &format!("/api/v1/orgs/{org}/keys/{key_id}"),
        Some(json!({"name": "ci-2"})),
    )
    .await;
    call(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/keys/{key_id}/revoke"),
        None,
    )
    .await;

    let audit = format!("/api/v1/orgs/{org}/audit");
    let (status, all) = call(&app, &owner, Method::GET, &audit, None).await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "key.revoke",
            "key.update",
            "key.create",
            "provider.create",
            "org.create"
        ]
    );
    let update = &all["data"][1];
    assert_eq!(update["actor_email"], "owner@example.com");
    assert_eq!(update["actor_id"], owner.id.as_str());
    assert_eq!(update["target_id"], key_id);
    assert_eq!(
        (
            update["summary"]["before"]["name"].as_str(),
            update["summary"]["after"]["name"].as_str()
        ),
        (Some("ci"), Some("ci-2"))
    );
    assert_eq!(update["ip"], "127.0.0.1");
    assert!(
        !all.to_string().contains(key_secret)
            && !all.to_string().contains(k["key"].as_str().unwrap()),
        "no secrets in the audit log"
    );
    assert_eq!(all["data"][3]["summary"]["api_key"], "****1234");

    let (_, keys_only) = call(
        &app,
        &owner,
        Method::GET,
        &format!("{audit}?action=key."),
        None,
    )
    .await;
    assert_eq!(keys_only["data"].as_array().unwrap().len(), 3);
    let (_, one) = call(
        &app,
        &owner,
        Method::GET,
        &format!(
            "{audit}?target_type=provider&target_id={}",
            p["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    let (_, none) = call(
        &app,
        &owner,
        Method::GET,
        &format!("{audit}?since=2999-01-01T00:00:00Z"),
        None,
    )
    .await;
    assert_eq!(none["data"], json!([]));

    // Pages of two walk the whole log without repeats.
    let mut seen = Vec::new();
    let mut url = format!("{audit}?limit=2");
    loop {
        let (status, page) = call(&app, &owner, Method::GET, &url, None).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["action"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("{audit}?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, actions);
    let (status, _) = call(
        &app,
        &owner,
        Method::GET,
        &format!("{audit}?limit=500"),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &app,
        &owner,
        Method::GET,
        &format!("{audit}?cursor=%%%"),
        None,
    )
    .await;
    assert_eq!(status, 400);
}

on_both_backends!(analytics_of_gateway_traffic);
async fn analytics_of_gateway_traffic(app: TestApp) {
    let owner = app.register("owner@example.com").await.unwrap();
    let viewer = app.register("viewer@example.com").await.unwrap();
    let rival = app.register("rival@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    let rival_org = app.create_org(&rival, "Rival").await.unwrap();
    app.add_to_org(&owner, &org, &viewer, "viewer")
        .await
        .unwrap();
    call(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/providers"),
        Some(json!({
        "name": "Mock", "slug": "mock", "provider": "mock", "api_key": "sk-upstream-0123456789",
        "base_url": format!("{}/v1", app.mock.base_url())})),
    )
    .await;
    let (_, key) = call(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{org}/keys"),
        Some(json!({"name": "ci"})),
    )
    .await;
    let secret = key["key"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for model in ["mock/echo", "mock/echo", "mock/echo", "mock/status-500"] {
        let resp = app
            .client
            .post(format!("{}/v1/chat/completions", app.gateway_url))
            .bearer_auth(&secret)
            .json(
                &json!({"model": model, "messages": [{"role": "user", "content": "hello there"}]}),
            )
            .send()
            .await
            .unwrap();
        ids.push(
            resp.headers()["x-keyway-request-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    let base = format!("/api/v1/orgs/{org}");
    // Events are written in batches off the request path: wait for all four.
    let mut summary = Value::Null;
    for _ in 0..100 {
        summary = call(
            &app,
            &viewer,
            Method::GET,
            &format!("{base}/analytics/summary"),
            None,
        )
        .await
        .1;
        if summary["requests"] == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(summary["requests"], 4, "{summary}");
    assert_eq!(summary["errors"], 1);
    assert!(summary["input_tokens"].as_u64().unwrap() > 0);
    assert!(summary["latency_ms"]["p50"].is_u64());
    assert_eq!(
        summary["cost_usd"].as_str().unwrap().len(),
        summary["cost_usd"]
            .as_str()
            .unwrap()
            .split('.')
            .next()
            .unwrap()
            .len()
            + 10
    );

    let (_, errors) = call(
        &app,
        &viewer,
        Method::GET,
        &format!("{base}/analytics/summary?status=error"),
        None,
    )
    .await;
    assert_eq!(errors["requests"], 1);
    let (_, by_status) = call(
        &app,
        &viewer,
        Method::GET,
        &format!("{base}/analytics/breakdown?by=status"),
        None,
    )
    .await;
    let groups: Vec<(String, u64)> = by_status["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["value"].as_str().unwrap().to_owned(),
                g["totals"]["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        groups.contains(&("200".into(), 3)) && groups.contains(&("500".into(), 1)),
        "{groups:?}"
    );
    let from = (chrono::Utc::now() - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:00:00Z");
    let to = (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:00:00Z");
    let (status, series) = call(
        &app,
        &viewer,
        Method::GET,
        &format!("{base}/analytics/timeseries?bucket=minute&from={from}&to={to}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{series}");
    let points = series["points"].as_array().unwrap();
    assert_eq!(points.len(), 120, "zero-filled minutes over two hours");
    assert_eq!(
        points
            .iter()
            .map(|p| p["totals"]["requests"].as_u64().unwrap())
            .sum::<u64>(),
        4
    );

    // Logs page through all four, newest first; detail and CSV agree.
    let (_, page) = call(
        &app,
        &viewer,
        Method::GET,
        &format!("{base}/logs?limit=3"),
        None,
    )
    .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    assert_eq!(page["data"][0]["request_id"], ids[3].as_str());
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = call(
        &app,
        &viewer,
        Method::GET,
        &format!("{base}/logs?limit=3&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], Value::Null);
    let (status, detail) = call(
        &app,
        &viewer,
        Method::GET,
        &format!("{base}/logs/{}", ids[0]),
        None,
    )
    .await;
    assert_eq!((status, detail["status_code"].as_u64()), (200, Some(200)));
    assert_eq!(detail["key_id"], key["id"]);
    let csv = app
        .client
        .get(format!("{}{base}/logs/export.csv", app.api_url))
        .bearer_auth(&viewer.access_token)
        .send()
        .await
        .unwrap();
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(
        csv.text().await.unwrap().lines().count(),
        5,
        "header and four rows"
    );

    // Another organization sees none of it, even knowing the ids.
    let (status, _) = call(
        &app,
        &rival,
        Method::GET,
        &format!("/api/v1/orgs/{rival_org}/logs/{}", ids[0]),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, theirs) = call(
        &app,
        &rival,
        Method::GET,
        &format!("/api/v1/orgs/{rival_org}/analytics/summary"),
        None,
    )
    .await;
    assert_eq!(theirs["requests"], 0);
    let (status, _) = call(
        &app,
        &rival,
        Method::GET,
        &format!("{base}/analytics/summary"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    // Bad filters are explained.
    for bad in [
        "status=teapot",
        "bucket=year",
        "from=yesterday",
        "surprise=1",
        "from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z",
    ] {
        let path = if bad.starts_with("bucket") {
            format!("{base}/analytics/timeseries?{bad}")
        } else {
            format!("{base}/analytics/summary?{bad}")
        };
        let (status, body) = call(&app, &viewer, Method::GET, &path, None).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

on_both_backends!(bodies_are_logged_only_once_the_organization_opts_in);
async fn bodies_are_logged_only_once_the_organization_opts_in(app: TestApp) {
    let owner = app.register("owner@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    let base = format!("/api/v1/orgs/{org}");
    call(
        &app,
        &owner,
        Method::POST,
        &format!("{base}/providers"),
        Some(json!({
        "name": "Mock", "slug": "mock", "provider": "mock", "api_key": "sk-upstream-0123456789",
        "base_url": format!("{}/v1", app.mock.base_url())})),
    )
    .await;
    let (_, key) = call(
        &app,
        &owner,
        Method::POST,
        &format!("{base}/keys"),
        Some(json!({"name": "ci"})),
    )
    .await;
    let secret = key["key"].as_str().unwrap().to_owned();
    let send = |content: &'static str, stream: bool| {
        let request = app
            .client
            .post(format!("{}/v1/chat/completions", app.gateway_url))
            .bearer_auth(&secret)
            .json(&json!({"model": "mock/echo", "stream": stream,
                "messages": [{"role": "user", "content": content}]}));
        async move {
            let resp = request.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let id = resp.headers()["x-keyway-request-id"]
                .to_str()
                .unwrap()
                .to_owned();
            let text = resp.text().await.unwrap();
            (id, text)
        }
    };
    let detail = |id: String| {
        let path = format!("{base}/logs/{id}");
        let app = &app;
        let owner = &owner;
        async move {
            for _ in 0..100 {
                let (status, body) = call(app, owner, Method::GET, &path, None).await;
                if status == 200 {
                    return body;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("request {id} never reached the logs");
        }
    };

    // Off by default: the request is logged without its bodies.
    let (quiet, _) = send("nothing to keep", false).await;
    let row = detail(quiet).await;
    assert_eq!(row["request_body"], Value::Null, "{row}");
    assert_eq!(row["response_body"], Value::Null, "{row}");

    let (status, updated) = call(
        &app,
        &owner,
        Method::PATCH,
        &base,
        Some(json!({"log_bodies": true})),
    )
    .await;
    assert_eq!((status, updated["log_bodies"].as_bool()), (200, Some(true)));

    // On: both bodies are kept (the gateway learns of the change at once), secrets redacted.
    let (id, answer) = send(
        "tell me about llamas; my key is sk-proj-abcdefghijklmnop1234",
        false,
    )
    .await;
    let row = detail(id).await;
    let request_body = row["request_body"].as_str().unwrap();
    assert!(
        request_body.contains("tell me about llamas"),
        "{request_body}"
    );
    assert!(!request_body.contains("sk-proj-abcdefghijklmnop1234"));
    assert!(request_body.contains("[REDACTED]"), "{request_body}");
    let response_body = row["response_body"].as_str().unwrap();
    let sent: Value = serde_json::from_str(&answer).unwrap();
    let content = sent["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(response_body.contains("chat.completion"), "{response_body}");
    assert!(
        response_body.contains(&content.replace("sk-proj-abcdefghijklmnop1234", "[REDACTED]")),
        "{response_body}"
    );

    // A stream's logged response is the event stream the client received.
    let (id, streamed) = send("stream about alpacas", true).await;
    assert!(streamed.ends_with("data: [DONE]\n\n"), "{streamed}");
    let row = detail(id).await;
    let response_body = row["response_body"].as_str().unwrap();
    assert_eq!(response_body, streamed);
}

#[tokio::test]
async fn an_organizations_retention_setting_deletes_its_old_requests() {
    let app = spawn_with(Backends::Embedded, |s| {
        s.analytics.retention_interval_secs = 1
    })
    .await
    .unwrap();
    let owner = app.register("owner@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    let other = app.create_org(&owner, "Keeps everything").await.unwrap();
    let event = |org: &str, days_ago: i64| {
        let mut e = keyway_analytics::RequestEvent::new(
            &uuid::Uuid::now_v7().to_string(),
            org,
            "chat",
            "mock/echo",
        );
        e.ts = chrono::Utc::now() - chrono::Duration::days(days_ago);
        e.status_code = 200;
        e
    };
    app.services
        .analytics
        .insert(&[event(&org, 10), event(&org, 0), event(&other, 10)])
        .await
        .unwrap();
    let (status, _) = call(
        &app,
        &owner,
        Method::PATCH,
        &format!("/api/v1/orgs/{org}"),
        Some(json!({"retention_days": 7})),
    )
    .await;
    assert_eq!(status, 200);
    let count = |org: String| {
        let app = &app;
        let owner = &owner;
        async move {
            call(
                app,
                owner,
                Method::GET,
                &format!("/api/v1/orgs/{org}/analytics/summary"),
                None,
            )
            .await
            .1["requests"]
                .as_u64()
                .unwrap()
        }
    };
    let mut left = 0;
    for _ in 0..50 {
        left = count(org.clone()).await;
        if left == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(left, 1, "the 10-day-old request is gone, today's stays");
    assert_eq!(
        count(other.clone()).await,
        1,
        "an org without a retention setting keeps its data"
    );
}

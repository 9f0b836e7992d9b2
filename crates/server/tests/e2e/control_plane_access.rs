//! Who may call what: every org-scoped route of the OpenAPI document, called as each role of
//! the organization (exactly the allowed results) and as a member of another organization
//! (404 every time, with the other org's ids or with their own org and this org's ids).
//! A route in the document without a row here fails the test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_testkit::api::TestUser;
use keyway_testkit::{Backends, TestApp, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Expected statuses for owner, admin, member, viewer.
type Expect = [u16; 4];

const READ: Expect = [200, 200, 200, 200];
const ADMIN_ONLY_READ: Expect = [200, 200, 403, 403];

struct Row {
    method: Method,
    path: &'static str,
    expect: Expect,
}

fn rows() -> Vec<Row> {
    let r = |method: Method, path: &'static str, expect: Expect| Row {
        method,
        path,
        expect,
    };
    vec![
        r(Method::GET, "/api/v1/orgs/{org_id}", READ),
        r(Method::PATCH, "/api/v1/orgs/{org_id}", [200, 200, 403, 403]),
        r(Method::GET, "/api/v1/orgs/{org_id}/members", READ),
        r(Method::GET, "/api/v1/orgs/{org_id}/members/{user_id}", READ),
        r(
            Method::PATCH,
            "/api/v1/orgs/{org_id}/members/{user_id}",
            [200, 200, 403, 403],
        ),
        r(
            Method::DELETE,
            "/api/v1/orgs/{org_id}/members/{user_id}",
            [204, 204, 403, 403],
        ),
        r(
            Method::POST,
            "/api/v1/orgs/{org_id}/invites",
            [201, 201, 403, 403],
        ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/invites",
            ADMIN_ONLY_READ,
        ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/invites/{invite_id}",
            ADMIN_ONLY_READ,
        ),
        r(
            Method::DELETE,
            "/api/v1/orgs/{org_id}/invites/{invite_id}",
            [200, 200, 403, 403],
        ),
        r(
            Method::POST,
            "/api/v1/orgs/{org_id}/teams",
            [201, 201, 403, 403],
        ),
        r(Method::GET, "/api/v1/orgs/{org_id}/teams", READ),
        r(Method::GET, "/api/v1/orgs/{org_id}/teams/{team_id}", READ),
        r(
            Method::PATCH,
            "/api/v1/orgs/{org_id}/teams/{team_id}",
            [200, 200, 403, 403],
        ),
        r(
            Method::DELETE,
            "/api/v1/orgs/{org_id}/teams/{team_id}",
            [204, 204, 403, 403],
        ),
        r(
            Method::POST,
            "/api/v1/orgs/{org_id}/teams/{team_id}/members",
            [200, 200, 403, 403],
        ),
        r(
            Method::DELETE,
            "/api/v1/orgs/{org_id}/teams/{team_id}/members/{user_id}",
            [200, 200, 403, 403],
        ),
        r(
            Method::POST,
            "/api/v1/orgs/{org_id}/configs",
            [201, 201, 403, 403],
        ),
        r(Method::GET, "/api/v1/orgs/{org_id}/configs", READ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/configs/{config_id}",
            READ,
        ),
        r(
            Method::PATCH,
            "/api/v1/orgs/{org_id}/configs/{config_id}",
            [200, 200, 403, 403],
        ),
        r(
            Method::DELETE,
            "/api/v1/orgs/{org_id}/configs/{config_id}",
            [204, 204, 403, 403],
        ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/configs/{config_id}/versions",
            READ,
        ),
        r(
            Method::POST,
            "/api/v1/orgs/{org_id}/guardrails",
            [201, 201, 403, 403],
        ),
        r(Method::GET, "/api/v1/orgs/{org_id}/guardrails", READ),
        r(Method::POST, "/api/v1/orgs/{org_id}/guardrails/test", READ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/guardrails/{guardrail_id}",
            READ,
        ),
        r(
            Method::PATCH,
            "/api/v1/orgs/{org_id}/guardrails/{guardrail_id}",
            [200, 200, 403, 403],
        ),
        r(
            Method::DELETE,
            "/api/v1/orgs/{org_id}/guardrails/{guardrail_id}",
            [204, 204, 403, 403],
        ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/guardrails/{guardrail_id}/versions",
            READ,
        ),
        r(
            Method::POST,
            "/api/v1/orgs/{org_id}/guardrails/{guardrail_id}/test",
            READ,
        ),
        r(
            Method::POST,
            "/api/v1/orgs/{org_id}/prompts",
            [201, 201, 403, 403],
        ),
        r(Method::GET, "/api/v1/orgs/{org_id}/prompts", READ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/prompts/{prompt_id}",
            READ,
        ),
        r(
            Method::PATCH,
            "/api/v1/orgs/{org_id}/prompts/{prompt_id}",
            [200, 200, 403, 403],
        ),
        r(
            Method::DELETE,
            "/api/v1/orgs/{org_id}/prompts/{prompt_id}",
            [204, 204, 403, 403],
        ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/prompts/{prompt_id}/versions",
            READ,
        ),
        r(
            Method::POST,
            "/api/v1/orgs/{org_id}/prompts/{prompt_id}/versions",
            [201, 201, 403, 403],
        ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/prompts/{prompt_id}/versions/{version}",
            READ,
        ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/prompts/{prompt_id}/diff",
            READ,
        ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/prompts/{prompt_id}/labels",
            READ,
        ),
        r(
            Method::PUT,
            "/api/v1/orgs/{org_id}/prompts/{prompt_id}/labels/{label}",
            [200, 200, 403, 403],
        ),
        r(
            Method::DELETE,
            "/api/v1/orgs/{org_id}/prompts/{prompt_id}/labels/{label}",
            [204, 204, 403, 403],
        ),
        r(
            Method::POST,
            "/api/v1/orgs/{org_id}/prompts/{prompt_id}/render",
            READ,
        ),
        r(
            Method::POST,
            "/api/v1/orgs/{org_id}/partials",
            [201, 201, 403, 403],
        ),
        r(Method::GET, "/api/v1/orgs/{org_id}/partials", READ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/partials/{partial_id}",
            READ,
        ),
        r(
            Method::PATCH,
            "/api/v1/orgs/{org_id}/partials/{partial_id}",
            [200, 200, 403, 403],
        ),
        r(
            Method::DELETE,
            "/api/v1/orgs/{org_id}/partials/{partial_id}",
            [204, 204, 403, 403],
        ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/partials/{partial_id}/versions",
            READ,
        ),
        r(
            Method::POST,
            "/api/v1/orgs/{org_id}/providers",
            [201, 201, 403, 403],
        ),
        r(Method::GET, "/api/v1/orgs/{org_id}/providers", READ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/providers/{provider_id}",
            READ,
        ),
        r(
            Method::PATCH,
            "/api/v1/orgs/{org_id}/providers/{provider_id}",
            [200, 200, 403, 403],
        ),
        r(
            Method::DELETE,
            "/api/v1/orgs/{org_id}/providers/{provider_id}",
            [204, 204, 403, 403],
        ),
        r(
            Method::POST,
            "/api/v1/orgs/{org_id}/keys",
            [201, 201, 201, 403],
        ),
        r(Method::GET, "/api/v1/orgs/{org_id}/keys", READ),
        r(Method::GET, "/api/v1/orgs/{org_id}/keys/{key_id}", READ),
        r(
            Method::PATCH,
            "/api/v1/orgs/{org_id}/keys/{key_id}",
            [200, 200, 200, 403],
        ),
        r(
            Method::DELETE,
            "/api/v1/orgs/{org_id}/keys/{key_id}",
            [204, 204, 204, 403],
        ),
        r(
            Method::POST,
            "/api/v1/orgs/{org_id}/keys/{key_id}/rotate",
            [200, 200, 200, 403],
        ),
        r(
            Method::POST,
            "/api/v1/orgs/{org_id}/keys/{key_id}/revoke",
            [200, 200, 200, 403],
        ),
        r(Method::GET, "/api/v1/orgs/{org_id}/limits", READ),
        r(
            Method::PUT,
            "/api/v1/orgs/{org_id}/limits",
            [200, 200, 403, 403],
        ),
        r(Method::GET, "/api/v1/orgs/{org_id}/audit", ADMIN_ONLY_READ),
        r(Method::GET, "/api/v1/orgs/{org_id}/analytics/summary", READ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/analytics/timeseries",
            READ,
        ),
        r(
            Method::GET,
            "/api/v1/orgs/{org_id}/analytics/breakdown",
            READ,
        ),
        r(Method::GET, "/api/v1/orgs/{org_id}/logs", READ),
        r(Method::GET, "/api/v1/orgs/{org_id}/logs/export.csv", READ),
        r(Method::GET, "/api/v1/orgs/{org_id}/logs/{request_id}", READ),
        // Last: it deletes the organization (the owner's call comes after the others').
        r(
            Method::DELETE,
            "/api/v1/orgs/{org_id}",
            [204, 403, 403, 403],
        ),
    ]
}

struct World {
    app: TestApp,
    owner: TestUser,
    admin: TestUser,
    member: TestUser,
    viewer: TestUser,
    outsider: TestUser,
    /// A member (role `member`) that member routes act on.
    target: TestUser,
    org: String,
    other_org: String,
    counter: AtomicUsize,
}

impl World {
    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    async fn owner_call(&self, method: Method, path: &str, body: Value) -> Value {
        let (status, resp) = self
            .app
            .api(
                method.clone(),
                path,
                Some(&self.owner.access_token),
                Some(body),
            )
            .await
            .unwrap();
        assert!(
            (200..300).contains(&status),
            "fixture {method} {path}: {status} {resp}"
        );
        resp
    }

    /// Fresh ids for one call, made by the owner, so destructive calls never starve the next.
    async fn fixtures(&self, path: &str) -> Vec<(&'static str, String)> {
        let org = &self.org;
        let n = self.next();
        let mut ids = vec![("{org_id}", org.clone())];
        if path.contains("{user_id}") || path.ends_with("/members") {
            // The target may have been removed by an earlier call: bring them back as member.
            let (status, _) = self
                .app
                .api(
                    Method::GET,
                    &format!("/api/v1/orgs/{org}/members/{}", self.target.id),
                    Some(&self.owner.access_token),
                    None,
                )
                .await
                .unwrap();
            if status == 404 {
                self.app
                    .add_to_org(&self.owner, org, &self.target, "member")
                    .await
                    .unwrap();
            } else {
                self.owner_call(
                    Method::PATCH,
                    &format!("/api/v1/orgs/{org}/members/{}", self.target.id),
                    json!({"role": "member"}),
                )
                .await;
            }
            if path.contains("{user_id}") {
                ids.push(("{user_id}", self.target.id.clone()));
            }
        }
        if path.contains("{team_id}") {
            let team = self
                .owner_call(
                    Method::POST,
                    &format!("/api/v1/orgs/{org}/teams"),
                    json!({"name": format!("team {n}")}),
                )
                .await;
            let team_id = team["id"].as_str().unwrap().to_owned();
            if path.contains("{user_id}") {
                self.owner_call(
                    Method::POST,
                    &format!("/api/v1/orgs/{org}/teams/{team_id}/members"),
                    json!({"user_id": self.target.id}),
                )
                .await;
            }
            ids.push(("{team_id}", team_id));
        }
        if path.contains("{provider_id}") {
            let p = self
                .owner_call(
                    Method::POST,
                    &format!("/api/v1/orgs/{org}/providers"),
                    json!({
                        "name": format!("p{n}"), "slug": format!("p{n}"), "provider": "openai",
                        "api_key": "sk-test-abcdefghijklmnop",
                    }),
                )
                .await;
            ids.push(("{provider_id}", p["id"].as_str().unwrap().to_owned()));
        }
        if path.contains("{config_id}") {
            let c = self
                .owner_call(
                    Method::POST,
                    &format!("/api/v1/orgs/{org}/configs"),
                    json!({"name": format!("config {n}"), "config": {"provider": "@openai"}}),
                )
                .await;
            ids.push(("{config_id}", c["id"].as_str().unwrap().to_owned()));
        }
        if path.contains("{guardrail_id}") {
            let g = self
                .owner_call(
                    Method::POST,
                    &format!("/api/v1/orgs/{org}/guardrails"),
                    json!({"slug": format!("g{n}"), "definition": {"version": 1, "checks": []}}),
                )
                .await;
            ids.push(("{guardrail_id}", g["id"].as_str().unwrap().to_owned()));
        }
        if path.contains("{prompt_id}") {
            let p = self
                .owner_call(
                    Method::POST,
                    &format!("/api/v1/orgs/{org}/prompts"),
                    json!({
                        "slug": format!("p{n}"), "name": format!("prompt {n}"),
                        "model": "openai/gpt-4o-mini",
                        "messages": [{"role": "user", "content": "Hi {{name}}"}],
                        "variables": {"name": {"default": "you"}},
                    }),
                )
                .await;
            let prompt_id = p["id"].as_str().unwrap().to_owned();
            if path.contains("{label}") {
                self.owner_call(
                    Method::PUT,
                    &format!("/api/v1/orgs/{org}/prompts/{prompt_id}/labels/production"),
                    json!({"version": 1}),
                )
                .await;
                ids.push(("{label}", "production".to_owned()));
            }
            if path.contains("{version}") {
                ids.push(("{version}", "1".to_owned()));
            }
            ids.push(("{prompt_id}", prompt_id));
        }
        if path.contains("{partial_id}") {
            let p = self
                .owner_call(
                    Method::POST,
                    &format!("/api/v1/orgs/{org}/partials"),
                    json!({"slug": format!("part{n}"), "content": "Thanks."}),
                )
                .await;
            ids.push(("{partial_id}", p["id"].as_str().unwrap().to_owned()));
        }
        if path.contains("{key_id}") {
            let k = self
                .owner_call(
                    Method::POST,
                    &format!("/api/v1/orgs/{org}/keys"),
                    json!({"name": format!("k{n}")}),
                )
                .await;
            ids.push(("{key_id}", k["id"].as_str().unwrap().to_owned()));
        }
        if path.contains("{request_id}") {
            ids.push(("{request_id}", self.gateway_request().await));
        }
        if path.contains("{invite_id}") {
            let i = self
                .owner_call(
                    Method::POST,
                    &format!("/api/v1/orgs/{org}/invites"),
                    json!({"email": format!("invitee{n}@example.com")}),
                )
                .await;
            ids.push(("{invite_id}", i["id"].as_str().unwrap().to_owned()));
        }
        ids
    }

    /// Sends one request through the gateway with an org key and waits until analytics has it.
    async fn gateway_request(&self) -> String {
        let org = &self.org;
        let (status, _) = self
            .app
            .api(
                Method::GET,
                &format!("/api/v1/orgs/{org}/providers"),
                Some(&self.owner.access_token),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 200);
        let n = self.next();
        self.owner_call(Method::POST, &format!("/api/v1/orgs/{org}/providers"), json!({
            "name": format!("mock{n}"), "slug": format!("mock{n}"), "provider": "mock",
            "api_key": "sk-upstream-0123456789", "base_url": format!("{}/v1", self.app.mock.base_url()),
        })).await;
        let key = self
            .owner_call(
                Method::POST,
                &format!("/api/v1/orgs/{org}/keys"),
                json!({"name": format!("gw{n}")}),
            )
            .await;
        let resp = self
            .app
            .client
            .post(format!("{}/v1/chat/completions", self.app.gateway_url))
            .bearer_auth(key["key"].as_str().unwrap())
            .json(&json!({"model": format!("mock{n}/echo"), "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let id = resp.headers()["x-keyway-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        for _ in 0..100 {
            let (status, _) = self
                .app
                .api(
                    Method::GET,
                    &format!("/api/v1/orgs/{org}/logs/{id}"),
                    Some(&self.owner.access_token),
                    None,
                )
                .await
                .unwrap();
            if status == 200 {
                return id;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("request {id} never reached analytics");
    }

    fn body(&self, row: &Row) -> Option<Value> {
        let n = self.next();
        let path = row.path;
        let body = match (row.method.as_str(), path.rsplit('/').next().unwrap_or("")) {
            ("PATCH", "{org_id}") => json!({"name": format!("Acme {n}")}),
            ("PATCH", "{user_id}") => json!({"role": "viewer"}),
            ("POST", "invites") => {
                json!({"email": format!("new{n}@example.com"), "role": "member"})
            }
            ("POST", "teams") => json!({"name": format!("new team {n}")}),
            ("PATCH", "{team_id}") => json!({"name": format!("renamed {n}")}),
            ("POST", "members") => json!({"user_id": self.target.id}),
            ("POST", "providers") => {
                json!({"name": format!("np{n}"), "slug": format!("np{n}"), "provider": "anthropic", "api_key": "sk-ant-test-0123456789"})
            }
            ("PATCH", "{provider_id}") => json!({"name": format!("renamed {n}")}),
            ("POST", "configs") => {
                json!({"name": format!("new config {n}"), "config": {"strategy": {"mode": "fallback"}, "targets": [{"provider": "@a"}, {"provider": "@b"}]}})
            }
            ("PATCH", "{config_id}") => json!({"config": {"provider": "@anthropic"}}),
            ("POST", "guardrails") => json!({
                "slug": format!("new-g{n}"),
                "definition": {"version": 1, "checks": [
                    {"id": "pii", "on": "input", "action": "deny", "check": {"type": "pii"}}
                ]},
            }),
            ("PATCH", "{guardrail_id}") => json!({"definition": {"version": 1, "checks": []}}),
            ("POST", "test") if path.contains("{guardrail_id}") => json!({"text": "hello"}),
            ("POST", "test") => json!({
                "text": "hello",
                "definition": {"version": 1, "checks": [
                    {"id": "w", "on": "input", "action": "flag", "check": {"type": "words", "words": ["bad"]}}
                ]},
            }),
            ("POST", "prompts") => json!({
                "slug": format!("new-{n}"), "name": format!("new prompt {n}"),
                "model": "openai/gpt-4o-mini",
                "messages": [{"role": "user", "content": "Hello"}],
            }),
            ("PATCH", "{prompt_id}") => json!({"name": format!("renamed {n}")}),
            ("POST", "versions") => json!({
                "model": "openai/gpt-4o-mini",
                "messages": [{"role": "user", "content": "Hello again"}],
            }),
            ("PUT", "{label}") => json!({"version": 1}),
            ("POST", "render") => json!({"variables": {"name": "Ada"}}),
            ("POST", "partials") => json!({"slug": format!("new-part-{n}"), "content": "Bye."}),
            ("PATCH", "{partial_id}") => json!({"content": "Bye now."}),
            ("PUT", "limits") => json!({"limits": {"rpm": 1000}, "end_user_limits": {"rpm": 10}}),
            ("POST", "keys") => json!({"name": format!("new key {n}")}),
            ("PATCH", "{key_id}") => json!({"name": format!("renamed {n}")}),
            ("POST", "rotate") => json!({"grace_period_secs": 0}),
            _ => return None,
        };
        Some(body)
    }
}

async fn world(backends: Backends) -> World {
    let app = spawn_with(backends, |_| {}).await.unwrap();
    let owner = app.register("owner@example.com").await.unwrap();
    let admin = app.register("admin@example.com").await.unwrap();
    let member = app.register("member@example.com").await.unwrap();
    let viewer = app.register("viewer@example.com").await.unwrap();
    let target = app.register("target@example.com").await.unwrap();
    let outsider = app.register("outsider@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    let other_org = app.create_org(&outsider, "Other").await.unwrap();
    for (user, role) in [
        (&admin, "admin"),
        (&member, "member"),
        (&viewer, "viewer"),
        (&target, "member"),
    ] {
        app.add_to_org(&owner, &org, user, role).await.unwrap();
    }
    World {
        app,
        owner,
        admin,
        member,
        viewer,
        outsider,
        target,
        org,
        other_org,
        counter: AtomicUsize::new(0),
    }
}

fn fill(path: &str, ids: &[(&str, String)]) -> String {
    ids.iter()
        .fold(path.to_owned(), |p, (k, v)| p.replace(k, v))
}

async fn every_org_route_answers_each_role_exactly(backends: Backends) {
    let w = world(backends).await;
    let rows = rows();

    // The table covers every org-scoped operation of the OpenAPI document, and nothing else.
    let (status, doc) = w
        .app
        .api(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with("/api/v1/orgs/{org_id}"))
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), p.clone()))
        })
        .collect();
    let tabled: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(
        documented, tabled,
        "every org-scoped route needs a row (and every row a route)"
    );

    let mut failures = Vec::new();
    for row in &rows {
        let roles: [(&TestUser, u16); 4] = [
            (&w.owner, row.expect[0]),
            (&w.admin, row.expect[1]),
            (&w.member, row.expect[2]),
            (&w.viewer, row.expect[3]),
        ];
        // Another organization's member, on this org's ids: 404, never 403, never data.
        let ids = w.fixtures(row.path).await;
        let (status, body) = w
            .app
            .api(
                row.method.clone(),
                &fill(row.path, &ids),
                Some(&w.outsider.access_token),
                w.body(row),
            )
            .await
            .unwrap();
        if status != 404 || body["error"]["code"] != "not_found" {
            failures.push(format!(
                "outsider {} {}: {status} {body}",
                row.method, row.path
            ));
        }
        // ... and on their own org with this org's resource ids (only routes naming a resource).
        if ids.len() > 1 {
            let mut theirs = ids.clone();
            theirs[0].1 = w.other_org.clone();
            let (status, body) = w
                .app
                .api(
                    row.method.clone(),
                    &fill(row.path, &theirs),
                    Some(&w.outsider.access_token),
                    w.body(row),
                )
                .await
                .unwrap();
            if status != 404 {
                failures.push(format!(
                    "outsider via own org {} {}: {status} {body}",
                    row.method, row.path
                ));
            }
        }
        // The owner goes last so destructive rows (deleting the org) run after the others.
        for (user, expected) in roles.iter().rev() {
            let ids = w.fixtures(row.path).await;
            let (status, body) = w
                .app
                .api(
                    row.method.clone(),
                    &fill(row.path, &ids),
                    Some(&user.access_token),
                    w.body(row),
                )
                .await
                .unwrap();
            if status != *expected {
                failures.push(format!(
                    "{} {} {}: expected {expected}, got {status} {body}",
                    user.email, row.method, row.path
                ));
            }
            if status == 403 && body["error"]["code"] != "forbidden" {
                failures.push(format!(
                    "{} {} {}: 403 without code forbidden: {body}",
                    user.email, row.method, row.path
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} wrong answers:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn every_org_route_answers_each_role_exactly_postgres() {
    every_org_route_answers_each_role_exactly(Backends::Production).await;
}

#[tokio::test]
async fn every_org_route_answers_each_role_exactly_sqlite() {
    every_org_route_answers_each_role_exactly(Backends::Embedded).await;
}

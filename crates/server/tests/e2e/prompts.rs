//! Prompt templates end to end, on Postgres and on SQLite: the REST flow (create, validation,
//! new version, diff, labels moved and rolled back, render preview, partials, isolation between
//! organizations) and the gateway's `/v1/prompts/{slug}/render` and `/completions` through the
//! mock provider (plain and streamed, label switches served at once, prompt version logged), and
//! the cross-origin allowance the dashboard's playground uses.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_testkit::api::TestUser;
use keyway_testkit::{TestApp, on_both_backends};
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

fn greet(content: &str, model: &str) -> Value {
    json!({
        "messages": [
            {"role": "system", "content": "You are {{tone}}."},
            {"role": "user", "content": content},
        ],
        "model": model,
        "parameters": {"temperature": 0.2},
        "variables": {
            "name": {"required": true},
            "tone": {"default": "kind"},
        },
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

on_both_backends!(prompts_version_diff_label_and_roll_back);
async fn prompts_version_diff_label_and_roll_back(app: TestApp) {
    let owner = app.register("owner@example.com").await.unwrap();
    let viewer = app.register("viewer@example.com").await.unwrap();
    let rival = app.register("rival@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    let rival_org = app.create_org(&rival, "Rival").await.unwrap();
    app.add_to_org(&owner, &org, &viewer, "viewer")
        .await
        .unwrap();
    let base = format!("/api/v1/orgs/{org}/prompts");

    let v1 = greet("Hello {{name}}!", "openai/gpt-4o-mini");
    let create = with(
        v1.clone(),
        json!({"slug": "greet", "name": "Greeting", "description": "says hi", "commit_message": "first"}),
    );
    let (status, created) = call(&app, &owner, Method::POST, &base, Some(create.clone())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["latest_version"], 1);
    assert_eq!(created["labels"], json!({}));
    let id = created["id"].as_str().unwrap().to_owned();
    let prompt = format!("{base}/{id}");

    let (status, body) = call(&app, &owner, Method::POST, &base, Some(create.clone())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    let (status, _) = call(&app, &viewer, Method::POST, &base, Some(create.clone())).await;
    assert_eq!(status, 403);
    // NUL characters (which Postgres cannot store) are a 400, not a database error.
    for (field, value) in [
        ("description", json!("a\u{0}b")),
        ("messages", json!([{"role": "user", "content": "a\u{0}b"}])),
        ("parameters", json!({"stop": ["\u{0}"]})),
    ] {
        let mut bad = create.clone();
        bad[field] = value;
        bad["slug"] = json!("nul");
        let (status, body) = call(&app, &owner, Method::POST, &base, Some(bad)).await;
        assert_eq!(status, 400, "{field}: {body}");
    }

    // Templates outside the logic-less subset are refused with a message saying why.
    for (content, needle) in [
        ("{{{name}}}", "triple braces"),
        ("{{#each items}}x{{/each}}", "helpers"),
        ("{{> nowhere}}", "no partial named `nowhere`"),
        ("{{#open}}never closed", "never closed"),
    ] {
        let (status, body) = call(
            &app,
            &owner,
            Method::POST,
            &format!("{prompt}/versions"),
            Some(greet(content, "openai/gpt-4o-mini")),
        )
        .await;
        assert_eq!(status, 400, "{content}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{content}: {message}");
    }

    // Version 2 changes the user message and the model; version 1 stays as it was.
    let (status, v2) = call(
        &app,
        &owner,
        Method::POST,
        &format!("{prompt}/versions"),
        Some(with(
            greet("Good day {{name}}.", "anthropic/claude-3-5-haiku"),
            json!({"commit_message": "more formal"}),
        )),
    )
    .await;
    assert_eq!((status, v2["version"].as_u64()), (201, Some(2)), "{v2}");
    assert_eq!(v2["created_by"], json!(owner.id));
    let (status, old) = call(
        &app,
        &viewer,
        Method::GET,
        &format!("{prompt}/versions/1"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(old["messages"], v1["messages"]);
    assert_eq!(old["commit_message"], "first");
    let (_, versions) = call(
        &app,
        &viewer,
        Method::GET,
        &format!("{prompt}/versions"),
        None,
    )
    .await;
    let numbers: Vec<u64> = versions["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![2, 1]);
    let (status, _) = call(
        &app,
        &viewer,
        Method::GET,
        &format!("{prompt}/versions/3"),
        None,
    )
    .await;
    assert_eq!(status, 404);

    // The diff names what changed, line by line.
    let (status, diff) = call(
        &app,
        &viewer,
        Method::GET,
        &format!("{prompt}/diff?from=1&to=2"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{diff}");
    assert_eq!(diff["changed"], true);
    let field = |name: &str| {
        diff["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(field("parameters")["changed"], false);
    assert_eq!(field("model")["changed"], true);
    let lines = field("messages")["lines"].clone();
    assert!(
        lines
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["op"] == "delete" && l["text"] == "Hello {{name}}!"),
        "{lines}"
    );
    assert!(
        lines
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["op"] == "insert" && l["text"] == "Good day {{name}}."),
        "{lines}"
    );
    assert!(
        diff["unified"]
            .as_str()
            .unwrap()
            .contains("-Hello {{name}}!")
    );
    let (status, _) = call(
        &app,
        &viewer,
        Method::GET,
        &format!("{prompt}/diff?from=1&to=7"),
        None,
    )
    .await;
    assert_eq!(status, 400);

    // Labels: ship v2 to production, roll back to v1; a missing version is a 400.
    let label = format!("{prompt}/labels/production");
    let (status, moved) = call(
        &app,
        &owner,
        Method::PUT,
        &label,
        Some(json!({"version": 2})),
    )
    .await;
    assert_eq!(
        (status, moved["version"].as_u64()),
        (200, Some(2)),
        "{moved}"
    );
    let (status, _) = call(
        &app,
        &viewer,
        Method::PUT,
        &label,
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &app,
        &owner,
        Method::PUT,
        &label,
        Some(json!({"version": 9})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &app,
        &owner,
        Method::PUT,
        &label,
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(status, 200);
    call(
        &app,
        &owner,
        Method::PUT,
        &format!("{prompt}/labels/staging"),
        Some(json!({"version": 2})),
    )
    .await;
    let (_, labels) = call(
        &app,
        &viewer,
        Method::GET,
        &format!("{prompt}/labels"),
        None,
    )
    .await;
    let pairs: Vec<(String, u64)> = labels["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap().to_owned(),
                l["version"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(pairs, vec![("production".into(), 1), ("staging".into(), 2)]);

    // Render preview: production (v1) by default, staging on request; the schema is enforced.
    let render = format!("{prompt}/render");
    let (status, out) = call(
        &app,
        &viewer,
        Method::POST,
        &render,
        Some(json!({"variables": {"name": "Ada"}})),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["version"], 1);
    assert_eq!(
        out["request"],
        json!({"model": "openai/gpt-4o-mini", "temperature": 0.2, "messages": [
            {"role": "system", "content": "You are kind."},
            {"role": "user", "content": "Hello Ada!"}]})
    );
    let (_, out) = call(
        &app,
        &viewer,
        Method::POST,
        &render,
        Some(json!({"label": "staging", "variables": {"name": "Ada", "tone": "<stern & brief>"}})),
    )
    .await;
    assert_eq!(
        out["request"]["messages"][0]["content"], "You are <stern & brief>.",
        "not HTML-escaped"
    );
    assert_eq!(out["request"]["messages"][1]["content"], "Good day Ada.");
    for (body, needle) in [
        (json!({"variables": {}}), "missing required variables: name"),
        (
            json!({"variables": {"name": "a", "role": "x"}}),
            "unknown variables: role",
        ),
        (
            json!({"label": "canary", "variables": {"name": "a"}}),
            "no such prompt label",
        ),
        (
            json!({"label": "staging", "version": 1, "variables": {"name": "a"}}),
            "not both",
        ),
    ] {
        let (status, out) = call(&app, &viewer, Method::POST, &render, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {out}");
        assert!(
            out["error"]["message"].as_str().unwrap().contains(needle),
            "{out}"
        );
    }

    // Partials: versioned, included by slug; rendering uses the newest version.
    let partials = format!("/api/v1/orgs/{org}/partials");
    let (status, part) = call(
        &app,
        &owner,
        Method::POST,
        &partials,
        Some(json!({"slug": "sign-off", "content": "Regards, {{tone}} bot"})),
    )
    .await;
    assert_eq!(status, 201, "{part}");
    let part_path = format!("{partials}/{}", part["id"].as_str().unwrap());
    let (status, part) = call(
        &app,
        &owner,
        Method::PATCH,
        &part_path,
        Some(json!({"content": "Cheers, {{tone}} bot", "commit_message": "friendlier"})),
    )
    .await;
    assert_eq!((status, part["version"].as_u64()), (200, Some(2)), "{part}");
    let (_, pv) = call(
        &app,
        &viewer,
        Method::GET,
        &format!("{part_path}/versions"),
        None,
    )
    .await;
    assert_eq!(pv["data"][1]["content"], "Regards, {{tone}} bot");
    let (status, v3) = call(
        &app,
        &owner,
        Method::POST,
        &format!("{prompt}/versions"),
        Some(greet("Hi {{name}}. {{> sign-off}}", "openai/gpt-4o-mini")),
    )
    .await;
    assert_eq!(status, 201, "{v3}");
    let (_, out) = call(
        &app,
        &viewer,
        Method::POST,
        &render,
        Some(json!({"version": 3, "variables": {"name": "Ada"}})),
    )
    .await;
    assert_eq!(
        out["request"]["messages"][1]["content"],
        "Hi Ada. Cheers, kind bot"
    );
    // The partial cannot be deleted while a live version includes it.
    let (status, body) = call(&app, &owner, Method::DELETE, &part_path, None).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("greet v3"),
        "{body}"
    );
    // A partial that includes itself fails at the depth limit instead of looping.
    call(
        &app,
        &owner,
        Method::PATCH,
        &part_path,
        Some(json!({"content": "again {{> sign-off}}"})),
    )
    .await;
    let (status, out) = call(
        &app,
        &viewer,
        Method::POST,
        &render,
        Some(json!({"version": 3, "variables": {"name": "Ada"}})),
    )
    .await;
    assert_eq!(status, 400, "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nest more than"),
        "{out}"
    );

    // Another organization: 404 for every path, with their org or ours.
    for path in [
        prompt.clone(),
        format!("{prompt}/versions/1"),
        format!("{prompt}/labels"),
        format!("{prompt}/diff"),
        format!("/api/v1/orgs/{rival_org}/prompts/{id}"),
        format!("/api/v1/orgs/{rival_org}/prompts/{id}/versions"),
        part_path.clone(),
    ] {
        let (status, _) = call(&app, &rival, Method::GET, &path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = call(
        &app,
        &rival,
        Method::PUT,
        &format!("/api/v1/orgs/{rival_org}/prompts/{id}/labels/production"),
        Some(json!({"version": 2})),
    )
    .await;
    assert_eq!(status, 404);
    let (_, theirs) = call(
        &app,
        &rival,
        Method::GET,
        &format!("/api/v1/orgs/{rival_org}/prompts"),
        None,
    )
    .await;
    assert_eq!(theirs["data"], json!([]));

    // Rename, then delete; every change is in the audit log.
    let (status, renamed) = call(
        &app,
        &owner,
        Method::PATCH,
        &prompt,
        Some(json!({"name": "Greeter"})),
    )
    .await;
    assert_eq!((status, renamed["name"].as_str()), (200, Some("Greeter")));
    let (status, _) = call(&app, &owner, Method::DELETE, &prompt, None).await;
    assert_eq!(status, 204);
    let (status, _) = call(&app, &owner, Method::GET, &prompt, None).await;
    assert_eq!(status, 404);
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
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "prompt.create",
        "prompt.version",
        "prompt.label",
        "prompt.update",
        "prompt.delete",
        "partial.create",
        "partial.version",
    ] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
}

/// Org with the mock provider, a virtual key, and prompt `greet` (v1 "Hello", v2 "Bye").
async fn gateway_world(app: &TestApp) -> (TestUser, String, String, String) {
    let owner = app.register("owner@example.com").await.unwrap();
    let org = app.create_org(&owner, "Acme").await.unwrap();
    let base = format!("/api/v1/orgs/{org}");
    let (status, _) = call(
        app,
        &owner,
        Method::POST,
        &format!("{base}/providers"),
        Some(json!({
        "name": "Mock", "slug": "mock", "provider": "mock", "api_key": "sk-upstream-0123456789",
        "base_url": format!("{}/v1", app.mock.base_url())})),
    )
    .await;
    assert_eq!(status, 201);
    let (_, key) = call(
        app,
        &owner,
        Method::POST,
        &format!("{base}/keys"),
        Some(json!({"name": "ci"})),
    )
    .await;
    let create = with(
        greet("Hello {{name}}", "mock/echo"),
        json!({"slug": "greet", "name": "Greeting"}),
    );
    let (status, created) = call(
        app,
        &owner,
        Method::POST,
        &format!("{base}/prompts"),
        Some(create),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let prompt = format!("{base}/prompts/{}", created["id"].as_str().unwrap());
    let (status, _) = call(
        app,
        &owner,
        Method::POST,
        &format!("{prompt}/versions"),
        Some(greet("Bye {{name}}", "mock/echo")),
    )
    .await;
    assert_eq!(status, 201);
    (owner, org, key["key"].as_str().unwrap().to_owned(), prompt)
}

async fn post(app: &TestApp, key: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}{path}", app.gateway_url))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn answer(app: &TestApp, key: &str, body: Value) -> (String, Value) {
    let resp = post(app, key, "/v1/prompts/greet/completions", body).await;
    assert!(resp.headers().contains_key("x-keyway-prompt-version"));
    let id = resp.headers()["x-keyway-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    (id, body)
}

fn content(body: &Value) -> &str {
    body["choices"][0]["message"]["content"].as_str().unwrap()
}

on_both_backends!(gateway_renders_and_serves_prompts_by_label_and_version);
async fn gateway_renders_and_serves_prompts_by_label_and_version(app: TestApp) {
    let (owner, org, key, prompt) = gateway_world(&app).await;
    let vars = json!({"name": "Ada"});

    // Render: no label yet, so the newest version (2).
    let resp = post(
        &app,
        &key,
        "/v1/prompts/greet/render",
        json!({"variables": vars}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let rendered: Value = resp.json().await.unwrap();
    assert_eq!(rendered["version"], 2);
    assert_eq!(rendered["request"]["model"], "mock/echo");
    assert_eq!(
        rendered["request"]["messages"][1],
        json!({"role": "user", "content": "Bye Ada"})
    );

    // Completions through the mock (which echoes the last user message).
    let (_, body) = answer(&app, &key, json!({"variables": vars})).await;
    assert_eq!(content(&body), "Bye Ada");
    let resp = post(
        &app,
        &key,
        "/v1/prompts/greet/completions",
        json!({"variables": vars, "version": 1}),
    )
    .await;
    assert_eq!(resp.headers()["x-keyway-prompt-version"], "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(content(&body), "Hello Ada");

    // Moving production changes what is served at once; moving it back rolls back.
    call(
        &app,
        &owner,
        Method::PUT,
        &format!("{prompt}/labels/production"),
        Some(json!({"version": 1})),
    )
    .await;
    let (v1_id, body) = answer(&app, &key, json!({"variables": vars})).await;
    assert_eq!(content(&body), "Hello Ada");
    call(
        &app,
        &owner,
        Method::PUT,
        &format!("{prompt}/labels/production"),
        Some(json!({"version": 2})),
    )
    .await;
    let (v2_id, body) = answer(
        &app,
        &key,
        json!({"variables": vars, "label": "production"}),
    )
    .await;
    assert_eq!(content(&body), "Bye Ada");

    // Streamed.
    let resp = post(
        &app,
        &key,
        "/v1/prompts/greet/completions",
        json!({"variables": vars, "stream": true, "overrides": {"model": "mock/echo+chunks-3"}}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    let streamed: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"].get(0)?["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(streamed, "Bye Ada", "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"));

    // Bad input answers in OpenAI's error shape.
    for (path, body, status, needle) in [
        (
            "/v1/prompts/greet/completions",
            json!({"variables": {}}),
            400,
            "missing required variables: name",
        ),
        (
            "/v1/prompts/greet/completions",
            json!({"variables": {"name": "a", "x": 1}}),
            400,
            "unknown variables: x",
        ),
        (
            "/v1/prompts/greet/render",
            json!({"variables": vars, "label": "canary"}),
            400,
            "no such prompt label",
        ),
        (
            "/v1/prompts/greet/render",
            json!({"variables": vars, "code": "1"}),
            400,
            "unknown field",
        ),
        (
            "/v1/prompts/greet/completions",
            json!({"variables": vars, "overrides": {"messages": []}}),
            400,
            "messages",
        ),
        (
            "/v1/prompts/nope/render",
            json!({"variables": vars}),
            404,
            "No prompt `nope`",
        ),
    ] {
        let resp = post(&app, &key, path, body.clone()).await;
        assert_eq!(resp.status().as_u16(), status, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert!(
            err["error"]["message"].as_str().unwrap().contains(needle),
            "{err}"
        );
        assert!(err["error"]["type"].is_string(), "{err}");
    }
    // A variable that looks like a template is only text.
    let (_, body) = answer(
        &app,
        &key,
        json!({"variables": {"name": "{{#x}}{{> y}}{{{z}}}"}}),
    )
    .await;
    assert_eq!(content(&body), "Bye {{#x}}{{> y}}{{{z}}}");
    // Another organization's key finds no prompt of this one.
    let rival = app.register("rival@example.com").await.unwrap();
    let rival_org = app.create_org(&rival, "Rival").await.unwrap();
    let (_, rival_key) = call(
        &app,
        &rival,
        Method::POST,
        &format!("/api/v1/orgs/{rival_org}/keys"),
        Some(json!({"name": "theirs"})),
    )
    .await;
    let rival_key = rival_key["key"].as_str().unwrap();
    for path in ["/v1/prompts/greet/render", "/v1/prompts/greet/completions"] {
        let resp = post(&app, rival_key, path, json!({"variables": vars})).await;
        assert_eq!(resp.status(), 404, "{path}");
    }
    // No key: 401.
    let resp = app
        .client
        .post(format!("{}/v1/prompts/greet/render", app.gateway_url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // A refused render is logged too, with the version it was rendering.
    let resp = post(
        &app,
        &key,
        "/v1/prompts/greet/completions",
        json!({"variables": {}}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let refused_id = resp.headers()["x-keyway-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    // The logs record the prompt and the version served.
    let prompt_id = prompt.rsplit('/').next().unwrap().to_owned();
    for (request_id, version, status) in [(v1_id, 1, 200), (v2_id, 2, 200), (refused_id, 2, 400)] {
        let path = format!("/api/v1/orgs/{org}/logs/{request_id}");
        let mut row = Value::Null;
        for _ in 0..100 {
            let (status, body) = call(&app, &owner, Method::GET, &path, None).await;
            if status == 200 {
                row = body;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(row["prompt_id"], json!(prompt_id), "{row}");
        assert_eq!(row["prompt_version"], version, "{row}");
        assert_eq!(row["surface"], "openai.chat");
        assert_eq!(row["status_code"], status, "{row}");
    }
    // ... so analytics compares versions side by side.
    let (status, groups) = call(
        &app,
        &owner,
        Method::GET,
        &format!("/api/v1/orgs/{org}/analytics/breakdown?by=prompt_version"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{groups}");
    let values: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["value"].as_str())
        .collect();
    for version in [1, 2] {
        let value = format!("{prompt_id}@{version}");
        assert!(values.contains(&value.as_str()), "{value}: {groups}");
    }
}

/// The dashboard's playground calls `/v1/prompts/{slug}/completions` from the browser: the
/// dashboard's origin may (preflight, then a readable answer with its cost headers); other
/// origins and other gateway routes get no cross-origin permission.
#[tokio::test]
async fn prompt_endpoints_answer_the_dashboard_origin_only() {
    let app = keyway_testkit::spawn_embedded_app().await.unwrap();
    let (_, _, key, _) = gateway_world(&app).await;
    let dashboard = app.api_url.clone();
    let url = format!("{}/v1/prompts/greet/completions", app.gateway_url);
    let preflight = |origin: &str| {
        app.client
            .request(Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };

    let resp = preflight(&dashboard).await.unwrap();
    assert_eq!(resp.status(), 204);
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], dashboard.as_str());
    assert_eq!(h["access-control-allow-methods"], "POST");
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    assert!(!h.contains_key("access-control-allow-credentials"));

    let resp = preflight("https://evil.example").await.unwrap();
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    assert!(!resp.headers().contains_key("access-control-allow-methods"));

    let resp = app
        .client
        .post(&url)
        .header("origin", &dashboard)
        .bearer_auth(&key)
        .json(&json!({"variables": {"name": "Ada"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], dashboard.as_str());
    let exposed = h["access-control-expose-headers"].to_str().unwrap();
    for name in [
        "x-keyway-cost-usd",
        "x-keyway-prompt-version",
        "x-keyway-request-id",
    ] {
        assert!(exposed.contains(name), "{exposed}");
    }

    // Errors are readable too, so the playground can show the gateway's message.
    let resp = app
        .client
        .post(&url)
        .header("origin", &dashboard)
        .bearer_auth("kw-not-a-key")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        dashboard.as_str()
    );

    // Every other route stays same-origin only.
    let resp = app
        .client
        .post(format!("{}/v1/chat/completions", app.gateway_url))
        .header("origin", &dashboard)
        .bearer_auth(&key)
        .json(&json!({"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
}

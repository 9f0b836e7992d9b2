//! Accounts through the REST API, on Postgres and on SQLite: signup, verification, login,
//! refresh rotation and reuse detection, logout, password reset and change, throttling, and
//! access tokens that must be refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use base64::Engine as _;
use keyway_testkit::api::TEST_PASSWORD;
use keyway_testkit::{Backends, TestApp, on_both_backends, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};

async fn app(backends: Backends) -> TestApp {
    spawn_with(backends, |_| {}).await.unwrap()
}

on_both_backends!(signup_verify_login_me);
async fn signup_verify_login_me(app: TestApp) {
    let (status, user) = app
        .api(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({"email": " Ada@Example.com ", "password": TEST_PASSWORD, "name": "Ada"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["email_verified"], false);
    assert!(user.get("password_hash").is_none());

    // Unverified accounts cannot log in yet; the error says what to do.
    let (status, body) = app
        .api(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "ada@example.com", "password": TEST_PASSWORD})),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("email_not_verified"))
    );

    // The same address cannot sign up twice.
    let (status, body) = app
        .api(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({"email": "ada@example.com", "password": TEST_PASSWORD, "name": "Ada"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    let token = app
        .mailed_token("ada@example.com", "/verify-email")
        .await
        .unwrap();
    let (status, body) = app
        .api(
            Method::POST,
            "/api/v1/auth/verify-email",
            None,
            Some(json!({"token": token})),
        )
        .await
        .unwrap();
    assert_eq!((status, &body["email_verified"]), (200, &Value::Bool(true)));
    // A verification link works once.
    let (status, _) = app
        .api(
            Method::POST,
            "/api/v1/auth/verify-email",
            None,
            Some(json!({"token": token})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);

    let ada = app.login("ada@example.com", TEST_PASSWORD).await.unwrap();
    let (status, me) = app
        .api(Method::GET, "/api/v1/me", Some(&ada.access_token), None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(me["user"]["email"], "ada@example.com");
    assert_eq!(me["orgs"], json!([]));

    // The stored password is an Argon2id PHC string with the required parameters.
    let row = raw_password_hash(&app, "ada@example.com").await;
    assert!(row.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{row}");
}

async fn raw_password_hash(app: &TestApp, email: &str) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let conn = app.services.db.conn();
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => "SELECT password_hash FROM users WHERE email = $1",
        _ => "SELECT password_hash FROM users WHERE email = ?",
    };
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [email.into()]))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<String>("", "password_hash").unwrap()
}

on_both_backends!(bad_signups_are_explained);
async fn bad_signups_are_explained(app: TestApp) {
    for (body, needle) in [
        (
            json!({"email": "nope", "password": TEST_PASSWORD, "name": "A"}),
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": "short", "name": "A"}),
            "at least 10",
        ),
        (
            json!({"email": "a@example.com", "password": "x".repeat(300), "name": "A"}),
            "at most",
        ),
        (
            json!({"email": "a@example.com", "password": TEST_PASSWORD, "name": ""}),
            "name",
        ),
        (
            json!({"email": "a@example.com", "password": TEST_PASSWORD, "name": "A", "admin": true}),
            "unknown field",
        ),
    ] {
        let (status, resp) = app
            .api(
                Method::POST,
                "/api/v1/auth/signup",
                None,
                Some(body.clone()),
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{body} -> {resp}");
        assert_eq!(resp["error"]["code"], "bad_request");
        let message = resp["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
}

on_both_backends!(refresh_rotates_and_reuse_ends_the_session);
async fn refresh_rotates_and_reuse_ends_the_session(app: TestApp) {
    let ada = app.register("ada@example.com").await.unwrap();
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.api(
                Method::POST,
                "/api/v1/auth/refresh",
                None,
                Some(json!({"refresh_token": token})),
            )
            .await
            .unwrap()
        }
    };
    let (status, first) = refresh(ada.refresh_token.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_ne!(
        first["refresh_token"],
        Value::String(ada.refresh_token.clone())
    );
    let new_access = first["access_token"].as_str().unwrap().to_owned();
    let (status, _) = app
        .api(Method::GET, "/api/v1/me", Some(&new_access), None)
        .await
        .unwrap();
    assert_eq!(status, 200);

    // Presenting the used token again is theft: the whole family dies, including the newest
    // refresh token and every access token of the session.
    let (status, body) = refresh(ada.refresh_token.clone()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = refresh(first["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(status, 401);
    let (status, _) = app
        .api(Method::GET, "/api/v1/me", Some(&new_access), None)
        .await
        .unwrap();
    assert_eq!(status, 401);
    let (status, _) = app
        .api(Method::GET, "/api/v1/me", Some(&ada.access_token), None)
        .await
        .unwrap();
    assert_eq!(status, 401);

    // Another login is unaffected by the dead family.
    let again = app.login("ada@example.com", TEST_PASSWORD).await.unwrap();
    let (status, _) = app
        .api(Method::GET, "/api/v1/me", Some(&again.access_token), None)
        .await
        .unwrap();
    assert_eq!(status, 200);
}

on_both_backends!(logout_ends_the_session);
async fn logout_ends_the_session(app: TestApp) {
    let ada = app.register("ada@example.com").await.unwrap();
    let (status, _) = app
        .api(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&ada.access_token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (status, _) = app
        .api(Method::GET, "/api/v1/me", Some(&ada.access_token), None)
        .await
        .unwrap();
    assert_eq!(status, 401);
    let (status, _) = app
        .api(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": ada.refresh_token})),
        )
        .await
        .unwrap();
    assert_eq!(status, 401);
}

on_both_backends!(password_change_ends_other_sessions);
async fn password_change_ends_other_sessions(app: TestApp) {
    let laptop = app.register("ada@example.com").await.unwrap();
    let phone = app.login("ada@example.com", TEST_PASSWORD).await.unwrap();
    let (status, body) = app
        .api(Method::POST, "/api/v1/me/password", Some(&laptop.access_token),
            Some(json!({"current_password": "wrong password!!", "new_password": "a brand new passphrase"})))
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    let (status, _) = app
        .api(Method::POST, "/api/v1/me/password", Some(&laptop.access_token),
            Some(json!({"current_password": TEST_PASSWORD, "new_password": "a brand new passphrase"})))
        .await
        .unwrap();
    assert_eq!(status, 200);
    // The session that changed it goes on; the other ends, access and refresh alike.
    let (status, _) = app
        .api(Method::GET, "/api/v1/me", Some(&laptop.access_token), None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (status, _) = app
        .api(Method::GET, "/api/v1/me", Some(&phone.access_token), None)
        .await
        .unwrap();
    assert_eq!(status, 401);
    let (status, _) = app
        .api(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": phone.refresh_token})),
        )
        .await
        .unwrap();
    assert_eq!(status, 401);
    assert!(app.login("ada@example.com", TEST_PASSWORD).await.is_err());
    app.login("ada@example.com", "a brand new passphrase")
        .await
        .unwrap();
}

on_both_backends!(forgot_and_reset_password);
async fn forgot_and_reset_password(app: TestApp) {
    let ada = app.register("ada@example.com").await.unwrap();
    // Unknown addresses get the same answer (no account enumeration) and no mail.
    let before = app.outbox().unwrap().len();
    let (status, _) = app
        .api(
            Method::POST,
            "/api/v1/auth/forgot-password",
            None,
            Some(json!({"email": "nobody@example.com"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 202);
    assert_eq!(app.outbox().unwrap().len(), before);

    let (status, _) = app
        .api(
            Method::POST,
            "/api/v1/auth/forgot-password",
            None,
            Some(json!({"email": "ADA@example.com"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 202);
    let token = app
        .mailed_token("ada@example.com", "/reset-password")
        .await
        .unwrap();
    // A weak password is refused without using the token up.
    let (status, _) = app
        .api(
            Method::POST,
            "/api/v1/auth/reset-password",
            None,
            Some(json!({"token": token, "password": "short"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
    let (status, body) = app
        .api(
            Method::POST,
            "/api/v1/auth/reset-password",
            None,
            Some(json!({"token": token, "password": "reset passphrase here"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    // Once only; every session ended; the new password works.
    let (status, _) = app
        .api(
            Method::POST,
            "/api/v1/auth/reset-password",
            None,
            Some(json!({"token": token, "password": "another passphrase!"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
    let (status, _) = app
        .api(Method::GET, "/api/v1/me", Some(&ada.access_token), None)
        .await
        .unwrap();
    assert_eq!(status, 401);
    app.login("ada@example.com", "reset passphrase here")
        .await
        .unwrap();
}

on_both_backends!(failed_logins_are_throttled_per_account);
async fn failed_logins_are_throttled_per_account(app: TestApp) {
    app.register("ada@example.com").await.unwrap();
    for _ in 0..10 {
        let (status, _) = app
            .api(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "ada@example.com", "password": "not the password"})),
            )
            .await
            .unwrap();
        assert_eq!(status, 401);
    }
    // Past the limit even the right password waits, and the answer says for how long.
    let resp = app
        .client
        .post(format!("{}/api/v1/auth/login", app.api_url))
        .json(&json!({"email": "ada@example.com", "password": TEST_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    // Another account from the same address is not locked by it.
    app.register("bob@example.com").await.unwrap();
}

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn forged_and_stale_access_tokens_are_refused() {
    let app = app(Backends::Embedded).await;
    let ada = app.register("ada@example.com").await.unwrap();
    let parts: Vec<&str> = ada.access_token.split('.').collect();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[0])
            .unwrap(),
    )
    .unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
    assert!(header["kid"].is_string());

    // Re-signs claims with the app's real key, so only the claim under test is wrong.
    let signing_key = keyway_api::auth::jwt::JwtKeys::from_master_key(&app.services.master_key);
    let _ = &signing_key;
    let sign = |claims: &Value| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = header["kid"].as_str().map(str::to_owned);
        jsonwebtoken::encode(&h, claims, &test_encoding_key(&app)).unwrap()
    };
    let now = chrono::Utc::now().timestamp();
    let with = |key: &str, value: Value| {
        let mut c = claims.clone();
        c[key] = value;
        c
    };
    // Control: a token we sign ourselves with the right claims is accepted, so the negatives
    // below fail for the reason named.
    let (status, _) = app
        .api(Method::GET, "/api/v1/me", Some(&sign(&claims)), None)
        .await
        .unwrap();
    assert_eq!(status, 200);

    let mut alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        parts[1]
    );
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(&with("sub", json!(uuid::Uuid::new_v4()))),
        parts[2]
    );
    let wrong_key = {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = header["kid"].as_str().map(str::to_owned);
        jsonwebtoken::encode(
            &h,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"not the key"),
        )
        .unwrap()
    };
    // RS/HS confusion: a token claiming RS256 (signed with HMAC over the same bytes) must not
    // pass as HS256.
    let rs_header = b64(&json!({"alg": "RS256", "typ": "JWT", "kid": header["kid"]}));
    let confused = format!("{rs_header}.{}.{}", parts[1], parts[2]);
    let cases = [
        ("alg none", std::mem::take(&mut alg_none)),
        ("RS/HS confusion", confused),
        ("wrong key", wrong_key),
        ("tampered payload", tampered),
        ("expired", sign(&with("exp", json!(now - 60)))),
        ("not yet valid", sign(&with("nbf", json!(now + 600)))),
        ("wrong audience", sign(&with("aud", json!("someone-else")))),
        ("wrong issuer", sign(&with("iss", json!("evil")))),
        ("unknown kid", {
            let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            h.kid = Some("other-key".into());
            jsonwebtoken::encode(&h, &claims, &test_encoding_key(&app)).unwrap()
        }),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (name, token) in cases {
        let (status, body) = app
            .api(Method::GET, "/api/v1/me", Some(&token), None)
            .await
            .unwrap();
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{name}");
    }
    // No token at all.
    let (status, _) = app
        .api(Method::GET, "/api/v1/me", None, None)
        .await
        .unwrap();
    assert_eq!(status, 401);
}

/// The HS256 key the app signs with (derived from its master key, as the app does).
fn test_encoding_key(app: &TestApp) -> jsonwebtoken::EncodingKey {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(b"keyway/jwt-signing/v1\0");
    hasher.update(app.services.master_key.bytes());
    jsonwebtoken::EncodingKey::from_secret(&hasher.finalize())
}

#[tokio::test]
async fn dashboard_cookie_sessions_need_the_csrf_header_to_change_state() {
    let app = app(Backends::Embedded).await;
    app.register("ada@example.com").await.unwrap();
    let resp = app
        .client
        .post(format!("{}/api/v1/auth/login", app.api_url))
        .json(&json!({"email": "ada@example.com", "password": TEST_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let find = |name: &str| {
        cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
            .clone()
    };
    let access = find("kw_access");
    assert!(
        access.contains("HttpOnly") && access.contains("SameSite=Strict"),
        "{access}"
    );
    let csrf = find("kw_csrf");
    assert!(
        !csrf.contains("HttpOnly"),
        "the page must read the CSRF cookie: {csrf}"
    );
    let value = |c: &str| {
        c.split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_owned()
    };
    let cookie_header = format!("kw_access={}; kw_csrf={}", value(&access), value(&csrf));

    // Reading with the cookie works without the header.
    let me = app
        .client
        .get(format!("{}/api/v1/me", app.api_url))
        .header("cookie", &cookie_header)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // Changing state with the cookie alone is refused; with the echoed token it works.
    let create = |with_header: bool| {
        let mut req = app
            .client
            .post(format!("{}/api/v1/orgs", app.api_url))
            .header("cookie", &cookie_header)
            .json(&json!({"name": "Acme"}));
        if with_header {
            req = req.header("x-csrf-token", value(&csrf));
        }
        req.send()
    };
    let refused = create(false).await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "csrf");
    assert_eq!(create(true).await.unwrap().status(), 201);
}

#[tokio::test]
async fn failed_logins_are_throttled_per_client_address() {
    let app = app(Backends::Embedded).await;
    // Fifty failures spread over many addresses (password spraying) lock the client address.
    for n in 0..50 {
        let (status, _) = app
            .api(Method::POST, "/api/v1/auth/login", None,
                Some(json!({"email": format!("user{n}@example.com"), "password": "spray-password-1"})))
            .await
            .unwrap();
        assert_eq!(status, 401);
    }
    let (status, body) = app
        .api(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "fresh@example.com", "password": "spray-password-1"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("too_many_requests"))
    );
}

#[tokio::test]
async fn the_api_documents_itself() {
    let app = app(Backends::Embedded).await;
    let (status, doc) = app
        .api(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/v1/orgs/{org_id}/keys/{key_id}/rotate"]["post"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let page = app.get_api("/api/docs").await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Keyway API reference") && html.contains("/api/v1/orgs/{org_id}/keys"));
    assert!(
        !html.contains("<script"),
        "the docs page loads nothing from elsewhere"
    );
}

//! Helpers for driving the control-plane REST API as a user would: JSON calls with a bearer
//! token, reading links out of the mail outbox, and registering verified, logged-in users.

use crate::TestApp;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// A verified, logged-in account.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// User id.
    pub id: String,
    /// Address.
    pub email: String,
    /// Password.
    pub password: String,
    /// Access token (JWT).
    pub access_token: String,
    /// Refresh token.
    pub refresh_token: String,
}

/// Password every [`TestApp::register`]ed user gets.
pub const TEST_PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// Calls the API: `method path` with an optional bearer token and JSON body; returns the
    /// status and the JSON body (`null` when empty or not JSON).
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.api_url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Every message in the outbox as `(to, subject, decoded text body)`.
    pub fn outbox(&self) -> anyhow::Result<Vec<(String, String, String)>> {
        let dir = self.settings.outbox_dir();
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(out);
        };
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        paths.sort();
        for path in paths {
            let raw = std::fs::read(&path)?;
            let mail = mailparse::parse_mail(&raw)?;
            let header = |name: &str| {
                mail.headers
                    .iter()
                    .find(|h| h.get_key().eq_ignore_ascii_case(name))
                    .map(|h| h.get_value())
                    .unwrap_or_default()
            };
            let body = if mail.subparts.is_empty() {
                mail.get_body()?
            } else {
                mail.subparts[0].get_body()?
            };
            out.push((header("To"), header("Subject"), body));
        }
        Ok(out)
    }

    /// The token of the newest link to `to` whose path contains `path_part` (e.g.
    /// `/verify-email`), waiting up to five seconds for the mail.
    pub async fn mailed_token(&self, to: &str, path_part: &str) -> anyhow::Result<String> {
        for _ in 0..50 {
            let found = self
                .outbox()?
                .into_iter()
                .rev()
                .filter(|(t, _, _)| t.to_lowercase().contains(&to.to_lowercase()))
                .find_map(|(_, _, body)| {
                    body.split_whitespace()
                        .find(|w| w.contains(path_part) && w.contains("token="))
                        .and_then(|w| w.split("token=").nth(1))
                        .map(|t| t.trim_end_matches(['.', ',']).to_owned())
                });
            if let Some(token) = found {
                return Ok(token);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("no mail to {to} with a {path_part} link")
    }

    /// Signs `email` up, verifies it through the mailed link and logs in.
    pub async fn register(&self, email: &str) -> anyhow::Result<TestUser> {
        let (status, user) = self
            .api(
                Method::POST,
                "/api/v1/auth/signup",
                None,
                Some(json!({"email": email, "password": TEST_PASSWORD, "name": email.split('@').next().unwrap_or("user")})),
            )
            .await?;
        anyhow::ensure!(status == 201, "signup {email}: {status} {user}");
        let token = self.mailed_token(email, "/verify-email").await?;
        let (status, body) = self
            .api(
                Method::POST,
                "/api/v1/auth/verify-email",
                None,
                Some(json!({"token": token})),
            )
            .await?;
        anyhow::ensure!(status == 200, "verify {email}: {status} {body}");
        self.login(email, TEST_PASSWORD).await
    }

    /// Logs an existing, verified account in.
    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<TestUser> {
        let (status, tokens) = self
            .api(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await?;
        anyhow::ensure!(status == 200, "login {email}: {status} {tokens}");
        let access_token = tokens["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let (status, me) = self
            .api(Method::GET, "/api/v1/me", Some(&access_token), None)
            .await?;
        anyhow::ensure!(status == 200, "me {email}: {status} {me}");
        Ok(TestUser {
            id: me["user"]["id"].as_str().unwrap_or_default().to_owned(),
            email: email.to_owned(),
            password: password.to_owned(),
            access_token,
            refresh_token: tokens["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
    }

    /// Creates an organization as `owner`; returns its id.
    pub async fn create_org(&self, owner: &TestUser, name: &str) -> anyhow::Result<String> {
        let (status, org) = self
            .api(
                Method::POST,
                "/api/v1/orgs",
                Some(&owner.access_token),
                Some(json!({"name": name})),
            )
            .await?;
        anyhow::ensure!(status == 201, "create org: {status} {org}");
        Ok(org["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Brings `user` into `org` with `role` through a real invite, accepted by the user.
    pub async fn add_to_org(
        &self,
        admin: &TestUser,
        org: &str,
        user: &TestUser,
        role: &str,
    ) -> anyhow::Result<()> {
        let (status, invite) = self
            .api(
                Method::POST,
                &format!("/api/v1/orgs/{org}/invites"),
                Some(&admin.access_token),
                Some(json!({"email": user.email, "role": role})),
            )
            .await?;
        anyhow::ensure!(status == 201, "invite: {status} {invite}");
        let token = self.mailed_token(&user.email, "/invites/accept").await?;
        let (status, body) = self
            .api(
                Method::POST,
                "/api/v1/invites/accept",
                Some(&user.access_token),
                Some(json!({"token": token})),
            )
            .await?;
        anyhow::ensure!(status == 200, "accept: {status} {body}");
        Ok(())
    }
}

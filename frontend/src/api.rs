//! The dashboard's client of the REST API (`/api/v1`): the page calls the same handlers and
//! service layer as any API client, authenticated by the HttpOnly session cookies set at login.
//! State changes echo the `kw_csrf` cookie in the `x-csrf-token` header (double-submit), and an
//! expired access token is renewed once with the refresh cookie.
//!
//! Requests only run in the browser; on the server every call answers [`ApiError::offline`]
//! (pages load their data after hydration and render a loading state on the server).

use serde_json::Value;

/// Why a call failed, in words a user can act on.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status (0 when the request never got an answer).
    pub status: u16,
    /// Stable error code from the API's error body.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// An error with no HTTP answer behind it.
    pub fn local(message: impl Into<String>) -> Self {
        Self {
            status: 0,
            code: "client".into(),
            message: message.into(),
        }
    }

    /// The answer on the server, where no request is made.
    pub fn offline() -> Self {
        Self::local("loading…")
    }

    /// Whether the session is missing or over.
    pub fn is_unauthorized(&self) -> bool {
        self.status == 401
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Result of one API call: the JSON body on success.
pub type ApiResult = Result<Value, ApiError>;

/// `GET path`.
pub async fn get(path: &str) -> ApiResult {
    request("GET", path, None).await
}

/// `POST path` with a JSON body.
pub async fn post(path: &str, body: Value) -> ApiResult {
    request("POST", path, Some(body)).await
}

/// `PATCH path` with a JSON body.
pub async fn patch(path: &str, body: Value) -> ApiResult {
    request("PATCH", path, Some(body)).await
}

/// `PUT path` with a JSON body.
pub async fn put(path: &str, body: Value) -> ApiResult {
    request("PUT", path, Some(body)).await
}

/// `DELETE path`.
pub async fn delete(path: &str) -> ApiResult {
    request("DELETE", path, None).await
}

/// Sends one request; on a 401 outside `/auth/` it refreshes the session once and retries.
pub async fn request(method: &str, path: &str, body: Option<Value>) -> ApiResult {
    let first = send_once(method, path, body.as_ref()).await;
    match first {
        Err(e) if e.is_unauthorized() && !path.starts_with("/api/v1/auth/") => {
            if send_once("POST", "/api/v1/auth/refresh", None)
                .await
                .is_ok()
            {
                send_once(method, path, body.as_ref()).await
            } else {
                Err(e)
            }
        }
        other => other,
    }
}

/// Turns an API error body (`{"error": {"code", "message"}}`) into an [`ApiError`].
pub fn error_from_body(status: u16, text: &str) -> ApiError {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let detail = parsed.as_ref().and_then(|v| v.get("error"));
    let code = detail
        .and_then(|d| d.get("code"))
        .and_then(Value::as_str)
        .unwrap_or("http_error")
        .to_owned();
    let message = detail
        .and_then(|d| d.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| match status {
            401 => "Your session has ended. Log in again.".to_owned(),
            403 => "You do not have permission to do that.".to_owned(),
            404 => "Not found.".to_owned(),
            429 => "Too many attempts. Wait a minute and try again.".to_owned(),
            s if s >= 500 => "The server failed to answer. Try again in a moment.".to_owned(),
            s => format!("The request failed (HTTP {s})."),
        });
    ApiError {
        status,
        code,
        message,
    }
}

#[cfg(feature = "hydrate")]
fn csrf_token() -> Option<String> {
    use wasm_bindgen::JsCast;
    let doc = leptos::prelude::document()
        .dyn_into::<web_sys::HtmlDocument>()
        .ok()?;
    let cookies = doc.cookie().ok()?;
    cookies.split(';').find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == "kw_csrf").then(|| v.to_owned())
    })
}

#[cfg(feature = "hydrate")]
async fn send_once(method: &str, path: &str, body: Option<&Value>) -> ApiResult {
    use gloo_net::http::Request;
    let builder = match method {
        "POST" => Request::post(path),
        "PATCH" => Request::patch(path),
        "DELETE" => Request::delete(path),
        "PUT" => Request::put(path),
        _ => Request::get(path),
    };
    let builder = builder.header("accept", "application/json");
    let builder = match (method, csrf_token()) {
        ("GET", _) | (_, None) => builder,
        (_, Some(token)) => builder.header("x-csrf-token", &token),
    };
    let request = match body {
        Some(b) => builder.json(b),
        None => builder.build(),
    }
    .map_err(|e| ApiError::local(format!("could not build the request: {e}")))?;
    let response = request.send().await.map_err(|_| {
        ApiError::local("Could not reach the Keyway server. Check your connection and try again.")
    })?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if (200..300).contains(&status) {
        if text.trim().is_empty() {
            Ok(Value::Null)
        } else {
            serde_json::from_str(&text)
                .map_err(|e| ApiError::local(format!("unexpected answer from the server: {e}")))
        }
    } else {
        Err(error_from_body(status, &text))
    }
}

#[cfg(not(feature = "hydrate"))]
async fn send_once(_method: &str, _path: &str, _body: Option<&Value>) -> ApiResult {
    Err(ApiError::offline())
}

/// The gateway's answer to a call the page made with a virtual key.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayAnswer {
    /// The JSON body.
    pub body: Value,
    /// The `x-keyway-*` headers the page shows, by name.
    pub headers: Vec<(&'static str, String)>,
    /// Time from sending the request to reading the whole answer, in milliseconds.
    pub elapsed_ms: f64,
}

impl GatewayAnswer {
    /// A response header, when the gateway sent it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Response headers of the gateway the dashboard reads (it exposes them to the dashboard).
pub const GATEWAY_HEADERS: [&str; 5] = [
    "x-keyway-request-id",
    "x-keyway-cost-usd",
    "x-keyway-prompt-version",
    "x-keyway-model",
    "x-keyway-provider",
];

/// `POST url` to the gateway with a virtual key as the bearer token. No cookie is sent: the
/// gateway knows only the key.
#[cfg(feature = "hydrate")]
pub async fn gateway_post(url: &str, key: &str, body: &Value) -> Result<GatewayAnswer, ApiError> {
    use gloo_net::http::Request;
    let started = crate::util::now_ms();
    let response = Request::post(url)
        .header("authorization", &format!("Bearer {}", key.trim()))
        .json(body)
        .map_err(|e| ApiError::local(format!("could not build the request: {e}")))?
        .send()
        .await
        .map_err(|_| {
            ApiError::local(format!(
                "Could not reach the gateway at {url}. Check that it runs and that it allows this \
                 dashboard's address (server.public_api_url)."
            ))
        })?;
    let status = response.status();
    let headers = GATEWAY_HEADERS
        .iter()
        .filter_map(|name| response.headers().get(name).map(|v| (*name, v)))
        .collect();
    let text = response.text().await.unwrap_or_default();
    let elapsed_ms = crate::util::now_ms() - started;
    if !(200..300).contains(&status) {
        let mut e = error_from_body(status, &text);
        e.message = format!("HTTP {status}: {}", e.message);
        return Err(e);
    }
    let body = serde_json::from_str(&text)
        .map_err(|e| ApiError::local(format!("unexpected answer from the gateway: {e}")))?;
    Ok(GatewayAnswer {
        body,
        headers,
        elapsed_ms,
    })
}

/// On the server no request is made.
#[cfg(not(feature = "hydrate"))]
pub async fn gateway_post(
    _url: &str,
    _key: &str,
    _body: &Value,
) -> Result<GatewayAnswer, ApiError> {
    Err(ApiError::offline())
}

/// Reads a string field (empty when missing or not a string).
pub fn s(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// Reads a numeric field (0 when missing); numeric strings are parsed.
pub fn n(v: &Value, key: &str) -> f64 {
    num(v.get(key))
}

/// A JSON number or numeric string as `f64` (0 otherwise).
pub fn num(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::Number(x)) => x.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// An optional numeric field.
pub fn opt_n(v: &Value, key: &str) -> Option<f64> {
    match v.get(key) {
        Some(Value::Number(x)) => x.as_f64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

/// Reads an array field (empty when missing).
pub fn arr(v: &Value, key: &str) -> Vec<Value> {
    v.get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Percent-encodes a query-string value.
pub fn enc(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_messages() {
        let e = error_from_body(
            403,
            r#"{"error":{"code":"forbidden","message":"issuing keys needs the member role"}}"#,
        );
        assert_eq!(e.code, "forbidden");
        assert_eq!(e.message, "issuing keys needs the member role");
        let e = error_from_body(502, "bad gateway");
        assert!(e.message.contains("server failed"), "{}", e.message);
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(enc("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}

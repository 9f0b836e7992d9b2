//! Errors of the data plane, answered in the caller's surface shape: OpenAI's error object on
//! OpenAI routes, Anthropic's on `/v1/messages`. Each carries a stable `code`.

use actix_web::{HttpResponse, http::StatusCode};
use serde_json::json;

/// Which API shape the caller speaks; decides the error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// OpenAI Chat Completions, Completions, Embeddings, Models, Responses.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

impl Surface {
    /// The surface a gateway path belongs to: Anthropic's for `/v1/messages`, OpenAI's for
    /// every other route.
    pub fn for_path(path: &str) -> Self {
        if path.trim_end_matches('/') == "/v1/messages" {
            Self::Anthropic
        } else {
            Self::OpenAi
        }
    }
}

/// A request the gateway refuses or could not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    status: StatusCode,
    code: &'static str,
    message: String,
    param: Option<String>,
}

impl GatewayError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            param: None,
        }
    }

    /// No key, or a key Keyway does not know (401).
    pub fn invalid_key(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_api_key", message)
    }

    /// The key is known but may not do this (403).
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// Malformed request (400), optionally naming the offending parameter.
    pub fn bad_request(message: impl Into<String>, param: Option<&str>) -> Self {
        Self {
            param: param.map(str::to_owned),
            ..Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
        }
    }

    /// A request over one of the configured input limits (400, code `input_limit_exceeded`).
    pub fn limit(message: impl Into<String>, param: Option<&str>) -> Self {
        Self {
            param: param.map(str::to_owned),
            ..Self::new(StatusCode::BAD_REQUEST, "input_limit_exceeded", message)
        }
    }

    /// Unknown model or route (404).
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// Body too large (413).
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large", message)
    }

    /// The upstream failed or could not be reached (502), or timed out (504).
    pub fn upstream(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(status, code, message)
    }

    /// A request or upstream payload that could not be translated: 400 for the caller's own
    /// input, 502 for an unreadable upstream answer.
    pub fn translate(e: &keyway_providers::TranslateError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let code = if status.is_client_error() {
            "invalid_request"
        } else {
            "upstream_invalid_response"
        };
        let param = match e {
            keyway_providers::TranslateError::InvalidField { field, .. } => Some(field.clone()),
            _ => None,
        };
        Self {
            param,
            ..Self::new(status, code, e.to_string())
        }
    }

    /// A rate limit or budget refused the request (429); see [`crate::governance`].
    pub fn too_many_requests(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, code, message)
    }

    /// A dependency Keyway needs is briefly unavailable (503).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            message,
        )
    }

    /// Something failed inside Keyway (500); the cause is logged by the caller, never sent.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
        )
    }

    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// What went wrong, for people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The response in `surface`'s error shape.
    pub fn response(&self, surface: Surface) -> HttpResponse {
        let body = match surface {
            Surface::OpenAi => json!({
                "error": {
                    "message": self.message,
                    "type": openai_type(self.status),
                    "param": self.param,
                    "code": self.code,
                }
            }),
            Surface::Anthropic => json!({
                "type": "error",
                "error": { "type": anthropic_type(self.status), "message": self.message }
            }),
        };
        HttpResponse::build(self.status).json(body)
    }
}

fn openai_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 | 400 | 404 | 413 | 422 => "invalid_request_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        _ => "server_error",
    }
}

fn anthropic_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        400 | 422 => "invalid_request_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(resp: HttpResponse) -> serde_json::Value {
        let bytes = actix_web::body::to_bytes(resp.into_body()).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[actix_web::test]
    async fn renders_each_surface_shape() {
        let err = GatewayError::bad_request("messages must not be empty", Some("messages"));
        let openai = body(err.response(Surface::OpenAi)).await;
        assert_eq!(openai["error"]["type"], "invalid_request_error");
        assert_eq!(openai["error"]["param"], "messages");
        assert_eq!(openai["error"]["code"], "invalid_request");
        let anthropic = body(err.response(Surface::Anthropic)).await;
        assert_eq!(anthropic["type"], "error");
        assert_eq!(anthropic["error"]["type"], "invalid_request_error");
        assert_eq!(anthropic["error"]["message"], "messages must not be empty");
        let key = GatewayError::invalid_key("no key");
        assert_eq!(
            body(key.response(Surface::Anthropic)).await["error"]["type"],
            "authentication_error"
        );
    }
}

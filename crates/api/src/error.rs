//! The control plane's one error type and its JSON body.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde::Serialize;

/// An error as API clients see it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input; the message says what to fix.
    #[error("{0}")]
    BadRequest(String),
    /// No such resource, or not visible to the caller (cross-org access answers this too).
    #[error("not found")]
    NotFound,
    /// Something failed inside Keyway; details go to the log, never to the client.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: String,
}

impl ApiError {
    /// Stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::NotFound => "not_found",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(source) = self {
            tracing::error!(error = %error_chain(source.as_ref()), "internal error");
        }
        HttpResponse::build(self.status_code()).json(Body {
            error: Detail {
                code: self.code(),
                message: self.to_string(),
            },
        })
    }
}

/// Formats an error with its whole cause chain, for logs.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

//! The control plane's one error type and its JSON body, `{"error": {"code", "message"}}`.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use keyway_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error as API clients see it. Cross-organization access answers [`ApiError::NotFound`],
/// exactly as a missing resource does.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input; the message says what to fix.
    #[error("{0}")]
    BadRequest(String),
    /// No valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but the role (or account state) does not allow this; `code` says why.
    #[error("{message}")]
    Forbidden {
        /// Stable code (`forbidden`, `email_not_verified`, `csrf`).
        code: &'static str,
        /// What to do about it.
        message: String,
    },
    /// No such resource, or not visible to the caller.
    #[error("not found")]
    NotFound,
    /// The request conflicts with existing state (a taken slug, the last owner leaving).
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; retry after the given seconds.
    #[error("{message}")]
    TooManyRequests {
        /// What was throttled.
        message: String,
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// Something failed inside Keyway; details go to the log, never to the client.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The error body every `/api/v1` route answers with.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl ApiError {
    /// Stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden { code, .. } => code,
            ApiError::NotFound => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Internal(_) => "internal",
        }
    }

    /// A 403 for a role that may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::Forbidden {
            code: "forbidden",
            message: message.into(),
        }
    }

    /// Wraps an unexpected error.
    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(err))
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(_) => ApiError::NotFound,
            StoreError::Conflict(what) => ApiError::Conflict(format!("{what} already exists")),
            StoreError::Invalid(message) => ApiError::BadRequest(message),
            other => ApiError::internal(other),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(source) = self {
            tracing::error!(error = %error_chain(source.as_ref()), "internal error");
        }
        let mut resp = HttpResponse::build(self.status_code());
        if let ApiError::Unauthorized(_) = self {
            resp.insert_header(("www-authenticate", "Bearer"));
        }
        if let ApiError::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            resp.insert_header(("retry-after", retry_after_secs.to_string()));
        }
        resp.json(ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
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

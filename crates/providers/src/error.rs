//! The crate's error type and its mapping to a caller-facing [`ApiError`].

use crate::Format;
use crate::canonical::{ApiError, ErrorKind};

/// Why a translation could not be done.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TranslateError {
    /// The caller's body is not valid for its format (bad JSON, missing or unknown field; the
    /// message names the field).
    #[error("invalid {format} request body: {message}")]
    InvalidBody {
        /// The surface format of the body.
        format: Format,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A field has a value that cannot be translated (e.g. malformed tool arguments).
    #[error("invalid `{field}`: {reason}")]
    InvalidField {
        /// Path of the offending field, e.g. `messages[2].tool_calls[0].function.arguments`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request asks for something the target format cannot express.
    #[error("{format} does not support {feature}")]
    Unsupported {
        /// The target format.
        format: Format,
        /// The feature, naming the field and value.
        feature: String,
    },
    /// The upstream sent something this crate cannot read.
    #[error("unexpected {format} upstream payload: {message}")]
    Upstream {
        /// The upstream format.
        format: Format,
        /// What was unexpected.
        message: String,
    },
}

impl TranslateError {
    /// HTTP status the gateway should answer with: 400 for caller mistakes and unsupported
    /// features, 502 for unreadable upstream payloads.
    pub fn status(&self) -> u16 {
        match self {
            Self::Upstream { .. } => 502,
            _ => 400,
        }
    }

    /// The canonical error to render in the caller's surface shape.
    pub fn to_api_error(&self) -> ApiError {
        let (kind, code) = match self {
            Self::InvalidBody { .. } => (ErrorKind::InvalidRequest, "invalid_body"),
            Self::InvalidField { .. } => (ErrorKind::InvalidRequest, "invalid_field"),
            Self::Unsupported { .. } => (ErrorKind::InvalidRequest, "unsupported_parameter"),
            Self::Upstream { .. } => (ErrorKind::BadGateway, "upstream_unreadable"),
        };
        ApiError {
            kind,
            message: self.to_string(),
            code: Some(code.to_owned()),
        }
    }

    pub(crate) fn body(format: Format, err: impl std::fmt::Display) -> Self {
        Self::InvalidBody {
            format,
            message: err.to_string(),
        }
    }

    pub(crate) fn field(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::InvalidField {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn unsupported(format: Format, feature: impl Into<String>) -> Self {
        Self::Unsupported {
            format,
            feature: feature.into(),
        }
    }

    pub(crate) fn upstream(format: Format, message: impl std::fmt::Display) -> Self {
        Self::Upstream {
            format,
            message: message.to_string(),
        }
    }
}

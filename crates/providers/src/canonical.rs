//! Canonical chat types: the one shape every surface is parsed into and every provider request
//! is built from. They carry only what Keyway can translate faithfully; anything else is refused
//! at parse time.

use std::collections::BTreeMap;

use base64::Engine as _;

use crate::TranslateError;

/// A chat request, independent of any wire format.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// The model as the caller named it (the gateway resolves `provider/model` and aliases).
    pub model: String,
    /// The conversation, in order. System messages may appear anywhere; formats with a single
    /// top-level system prompt gather them in order.
    pub messages: Vec<Message>,
    /// Tools the model may call.
    pub tools: Vec<ToolDefinition>,
    /// How the model must choose tools; `None` leaves the provider default (auto).
    pub tool_choice: Option<ToolChoice>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Maximum output tokens.
    pub max_tokens: Option<u32>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Number of choices to generate.
    pub n: Option<u32>,
    /// Sampling seed.
    pub seed: Option<i64>,
    /// Output format constraint.
    pub response_format: Option<ResponseFormat>,
    /// Whether the caller asked for a stream.
    pub stream: bool,
    /// An OpenAI caller asked for usage in its stream (`stream_options.include_usage`). Builders
    /// ignore it: upstream streams always ask for usage; it only configures the client writer.
    pub stream_usage: bool,
    /// End-user id (OpenAI `user`, Anthropic `metadata.user_id`); not sent to Gemini, which has
    /// no such field; the gateway records it in analytics either way.
    pub user: Option<String>,
    /// Caller metadata for Keyway (routing conditions, analytics); never forwarded upstream.
    pub metadata: BTreeMap<String, String>,
}

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions to the model.
    System,
    /// The end user.
    User,
    /// The model.
    Assistant,
    /// A tool result.
    Tool,
}

/// One conversation turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// System instructions (text only).
    System {
        /// Text parts.
        content: Vec<ContentPart>,
    },
    /// A user turn.
    User {
        /// Text and image parts.
        content: Vec<ContentPart>,
    },
    /// A model turn, possibly calling tools.
    Assistant {
        /// Text parts (may be empty when the turn only calls tools).
        content: Vec<ContentPart>,
        /// Tool calls made in this turn.
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call.
    Tool {
        /// The [`ToolCall::id`] this answers.
        tool_call_id: String,
        /// The result.
        content: Vec<ContentPart>,
        /// Anthropic's `is_error`; formats without the flag send the content as is.
        is_error: bool,
    },
}

impl Message {
    /// The message's role.
    pub fn role(&self) -> Role {
        match self {
            Message::System { .. } => Role::System,
            Message::User { .. } => Role::User,
            Message::Assistant { .. } => Role::Assistant,
            Message::Tool { .. } => Role::Tool,
        }
    }
}

/// A piece of message content.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentPart {
    /// Text.
    Text(String),
    /// An image.
    Image(ImageSource),
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    /// A URL the provider fetches.
    Url(String),
    /// Inline bytes, base64-encoded (validated at parse time).
    Base64 {
        /// MIME type, e.g. `image/png`.
        media_type: String,
        /// Standard base64 with padding.
        data: String,
    },
}

impl ImageSource {
    /// Parses an OpenAI-style image URL: `data:<mime>;base64,<data>` becomes inline bytes, any
    /// other URL stays a URL.
    pub fn from_url(url: &str, field: &str) -> Result<Self, TranslateError> {
        match url.strip_prefix("data:") {
            Some(rest) => {
                let (media_type, data) = rest.split_once(";base64,").ok_or_else(|| {
                    TranslateError::field(field, "data URL must be `data:<mime>;base64,<data>`")
                })?;
                Self::base64(media_type, data, field)
            }
            None => Ok(Self::Url(url.to_owned())),
        }
    }

    /// Inline image data, checked to be valid base64 with a MIME type.
    pub fn base64(media_type: &str, data: &str, field: &str) -> Result<Self, TranslateError> {
        if media_type.is_empty() {
            return Err(TranslateError::field(field, "missing media type"));
        }
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| TranslateError::field(field, format!("invalid base64 data: {e}")))?;
        Ok(Self::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        })
    }

    /// The image as an OpenAI `image_url.url` (inline data becomes a data URL).
    pub fn to_url(&self) -> String {
        match self {
            ImageSource::Url(url) => url.clone(),
            ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDefinition {
    /// Function name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// Tool selection policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call.
    Required,
    /// This named tool must be called.
    Tool(String),
}

/// A tool call made by the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// Call id, echoed by the matching [`Message::Tool`].
    pub id: String,
    /// Function name.
    pub name: String,
    /// Arguments as a JSON text (OpenAI's convention; other formats parse it).
    pub arguments: String,
}

/// Output format constraint.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Free text (the default).
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        /// Schema name.
        name: String,
        /// Schema description.
        description: Option<String>,
        /// The JSON Schema.
        schema: serde_json::Value,
        /// Strict adherence (OpenAI).
        strict: Option<bool>,
    },
}

/// A complete (non-streamed) chat response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatResponse {
    /// Upstream response id.
    pub id: String,
    /// Model that served the request.
    pub model: String,
    /// Unix seconds, when the format carries it.
    pub created: Option<u64>,
    /// Generated choices (one unless `n > 1`).
    pub choices: Vec<Choice>,
    /// Token usage.
    pub usage: Option<Usage>,
}

/// One generated answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Choice {
    /// Position among the choices.
    pub index: u32,
    /// Generated text, if any.
    pub text: Option<String>,
    /// Tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Why generation stopped.
    pub finish_reason: Option<FinishReason>,
    /// The stop sequence that matched, when the format reports it (Anthropic).
    pub stop_sequence: Option<String>,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// Natural end or a stop sequence.
    Stop,
    /// Output token limit.
    Length,
    /// The model called tools.
    ToolCalls,
    /// Blocked by a safety filter or refused.
    ContentFilter,
    /// The provider stopped for another reason (e.g. Gemini `MALFORMED_FUNCTION_CALL`).
    /// Formats without such a reason render it as an error, not as a stop.
    Error,
}

/// Token usage, in OpenAI's accounting: `input_tokens` counts every prompt token including
/// cached reads and cache writes, `output_tokens` includes reasoning tokens. Price uncached
/// input as `input - cached_read - cache_write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// All prompt tokens.
    pub input_tokens: u64,
    /// All generated tokens, reasoning included.
    pub output_tokens: u64,
    /// Prompt tokens read from the provider's cache.
    pub cached_read_tokens: u64,
    /// Prompt tokens written to the provider's cache.
    pub cache_write_tokens: u64,
    /// Generated tokens spent on reasoning.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Prompt tokens billed at the plain input price.
    pub fn uncached_input_tokens(&self) -> u64 {
        self.input_tokens
            .saturating_sub(self.cached_read_tokens)
            .saturating_sub(self.cache_write_tokens)
    }
}

/// One event of a streamed response. Indexes: `choice` is the choice position, `index` of a
/// tool call is its position within that choice's tool calls.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The response began.
    MessageStart {
        /// Upstream response id.
        id: String,
        /// Model serving the request.
        model: String,
        /// Unix seconds, when known.
        created: Option<u64>,
    },
    /// Generated text.
    TextDelta {
        /// Choice position.
        choice: u32,
        /// The text piece.
        text: String,
    },
    /// A tool call began.
    ToolCallStart {
        /// Choice position.
        choice: u32,
        /// Tool call position within the choice.
        index: u32,
        /// Call id.
        id: String,
        /// Function name.
        name: String,
    },
    /// A piece of a tool call's JSON arguments.
    ToolCallDelta {
        /// Choice position.
        choice: u32,
        /// Tool call position within the choice.
        index: u32,
        /// Argument text piece.
        arguments: String,
    },
    /// A choice finished.
    Finish {
        /// Choice position.
        choice: u32,
        /// Why.
        reason: FinishReason,
        /// Matched stop sequence, when reported.
        stop_sequence: Option<String>,
    },
    /// Usage so far; a later event replaces an earlier one (totals, not increments).
    Usage(Usage),
    /// The stream failed (upstream error event, or cut before its end). Nothing follows.
    Error(ApiError),
    /// The stream completed normally. Nothing follows.
    Done,
}

/// A provider-independent error, rendered in each format's error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Error class (drives status and the format's error type).
    pub kind: ErrorKind,
    /// Human-readable message.
    pub message: String,
    /// Stable machine code, when known.
    pub code: Option<String>,
}

impl ApiError {
    /// An upstream error whose body is not in its format's error shape: the status decides the
    /// kind and the body text is kept as the message.
    pub fn unreadable(status: u16, body: &[u8]) -> Self {
        Self {
            kind: ErrorKind::from_status(status),
            message: String::from_utf8_lossy(body).into_owned(),
            code: None,
        }
    }

    /// The error for an upstream stream that ended before its terminal event.
    pub fn stream_interrupted(detail: &str) -> Self {
        Self {
            kind: ErrorKind::Server,
            message: format!("upstream stream ended before completion: {detail}"),
            code: Some("stream_interrupted".to_owned()),
        }
    }
}

/// Error classes shared by every format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400.
    InvalidRequest,
    /// 401.
    Authentication,
    /// 403.
    PermissionDenied,
    /// 404.
    NotFound,
    /// 413.
    RequestTooLarge,
    /// 429.
    RateLimited,
    /// 500.
    Server,
    /// 502: the upstream answered something unusable.
    BadGateway,
    /// 503 / Anthropic 529.
    Overloaded,
    /// 504.
    Timeout,
}

impl ErrorKind {
    /// HTTP status for this class.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidRequest => 400,
            ErrorKind::Authentication => 401,
            ErrorKind::PermissionDenied => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::RequestTooLarge => 413,
            ErrorKind::RateLimited => 429,
            ErrorKind::Server => 500,
            ErrorKind::BadGateway => 502,
            ErrorKind::Overloaded => 503,
            ErrorKind::Timeout => 504,
        }
    }

    /// The class of an HTTP status (unknown 4xx are invalid requests, unknown 5xx server errors).
    pub fn from_status(status: u16) -> Self {
        match status {
            401 => ErrorKind::Authentication,
            403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::NotFound,
            413 => ErrorKind::RequestTooLarge,
            429 => ErrorKind::RateLimited,
            502 => ErrorKind::BadGateway,
            503 | 529 => ErrorKind::Overloaded,
            504 => ErrorKind::Timeout,
            400..=499 => ErrorKind::InvalidRequest,
            _ => ErrorKind::Server,
        }
    }
}

/// Concatenates the text parts; `None` if any part is not text.
pub(crate) fn text_only(parts: &[ContentPart]) -> Option<String> {
    let mut out = String::new();
    for part in parts {
        match part {
            ContentPart::Text(t) => out.push_str(t),
            ContentPart::Image(_) => return None,
        }
    }
    Some(out)
}

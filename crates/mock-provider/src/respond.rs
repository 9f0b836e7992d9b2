//! The request life cycle shared by every surface: reading the body, the behaviour steps (delay,
//! stall, status, cut) and streaming frames, with the error body rendered in each provider's shape.

use std::future::pending;
use std::io;

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, HttpResponseBuilder, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::behaviour::Behaviour;
use crate::stats::{RequestGuard, Surface};

/// Largest request body accepted (Anthropic's documented limit); larger ones get a 413.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// An error answered in the caller's surface shape.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: u16,
    pub message: String,
    pub param: Option<&'static str>,
    pub code: Option<&'static str>,
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
        }
    }

    pub fn invalid(message: impl Into<String>, param: Option<&'static str>) -> Self {
        Self {
            param,
            ..Self::new(400, message)
        }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The error a `status-<code>` part asks for, with the message the real APIs use.
    pub fn simulated(status: u16, retry_after: Option<u32>) -> Self {
        let message = match status {
            400 => "The request was invalid.",
            401 => "Invalid authentication credentials.",
            403 => "You are not allowed to perform this request.",
            404 => "The requested resource was not found.",
            408 => "The request timed out.",
            409 => "The request conflicts with the current state of the resource.",
            413 => "Request exceeds the maximum allowed size.",
            422 => "The request could not be processed.",
            429 => "Rate limit reached for requests. Please try again later.",
            500 => "The server had an error while processing your request.",
            502 => "Bad gateway.",
            503 => "The service is temporarily unavailable. Please try again later.",
            504 => "The request timed out.",
            529 => "Overloaded",
            s if s < 500 => "The request could not be completed.",
            _ => "The server could not complete the request.",
        };
        let retry_after = retry_after.or(matches!(status, 429 | 503 | 529).then_some(1));
        Self {
            retry_after,
            ..Self::new(status, message)
        }
    }

    pub fn respond(&self, surface: Surface) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = match surface {
            Surface::OpenAi => self.openai_body(),
            Surface::Anthropic => json!({
                "type": "error",
                "error": {"type": anthropic_type(self.status), "message": self.message},
            }),
            Surface::Gemini => json!({
                "error": {
                    "code": self.status,
                    "message": self.message,
                    "status": gemini_status(self.status),
                },
            }),
            Surface::Bedrock | Surface::Cohere => json!({"message": self.message}),
        };
        let mut res = HttpResponse::build(status);
        if surface == Surface::Bedrock {
            res.insert_header(("x-amzn-ErrorType", bedrock_error_type(self.status)));
        }
        if let Some(secs) = self.retry_after {
            res.insert_header((RETRY_AFTER, secs));
        }
        json_body(&mut res, &body)
    }

    fn openai_body(&self) -> Value {
        let (kind, default_code) = match self.status {
            // OpenAI reports a bad key as an invalid request with code `invalid_api_key`.
            401 => ("invalid_request_error", Some("invalid_api_key")),
            403 => ("permission_error", None),
            429 => ("requests", Some("rate_limit_exceeded")),
            s if s >= 500 => ("server_error", None),
            _ => ("invalid_request_error", None),
        };
        json!({
            "error": {
                "message": self.message,
                "type": kind,
                "param": self.param,
                "code": self.code.or(default_code),
            }
        })
    }
}

fn anthropic_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

fn bedrock_error_type(status: u16) -> &'static str {
    match status {
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        408 => "ModelTimeoutException",
        424 => "ModelErrorException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        s if s >= 500 => "InternalServerException",
        _ => "ValidationException",
    }
}

fn gemini_status(status: u16) -> &'static str {
    match status {
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        s if s >= 500 => "INTERNAL",
        _ => "INVALID_ARGUMENT",
    }
}

pub(crate) fn json_body(res: &mut HttpResponseBuilder, body: &Value) -> HttpResponse {
    res.insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .body(body.to_string())
}

/// Reads the whole body, refusing more than [`MAX_BODY`] bytes.
pub(crate) async fn read_body(mut payload: web::Payload) -> Result<Bytes, ApiError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::invalid(format!("Could not read the body: {e}"), None))?;
        if buf.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::new(
                413,
                "Request exceeds the maximum allowed number of bytes.",
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Reads and parses a JSON body into `T`.
pub(crate) async fn read_json<T: DeserializeOwned>(payload: web::Payload) -> Result<T, ApiError> {
    let body = read_body(payload).await?;
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid(
            format!("We could not parse the JSON body of your request: {e}"),
            None,
        )
    })
}

/// A surface's answer once the behaviour steps let it through.
pub(crate) enum Reply {
    Json(Value),
    Stream {
        content_type: &'static str,
        frames: Frames,
    },
}

/// A stream split where the behaviour needs it: `chunk-delay` spaces the content frames and
/// `cut-after` drops the connection after the head and the first `n` content frames.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    pub head: Vec<Bytes>,
    pub content: Vec<Bytes>,
    pub tail: Vec<Bytes>,
}

/// Runs the behaviour steps, then answers with `build()`. The guard rides along in the handler
/// future (a delay or stall) or in the response stream, so an abandoned request counts as
/// cancelled.
pub(crate) async fn execute(
    mut guard: RequestGuard,
    surface: Surface,
    behaviour: &Behaviour,
    stream: bool,
    build: impl FnOnce() -> Reply,
) -> HttpResponse {
    if let Some(delay) = behaviour.delay {
        tokio::time::sleep(delay).await;
    }
    if behaviour.stall {
        pending::<()>().await;
    }
    if let Some(status) = behaviour.status {
        guard.complete();
        return ApiError::simulated(status, behaviour.retry_after).respond(surface);
    }
    if behaviour.cut_after.is_some() && !stream {
        return cut_before_response(guard);
    }
    match build() {
        Reply::Json(body) => {
            guard.complete();
            json_body(&mut HttpResponse::Ok(), &body)
        }
        Reply::Stream {
            content_type,
            frames,
        } => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, HeaderValue::from_static(content_type)))
            .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-cache")))
            .streaming(frame_stream(frames, behaviour, guard)),
    }
}

/// A body that fails on its first poll: actix then closes the connection before the response head
/// it buffered is ever written, so the client sees the connection drop with no response.
fn cut_before_response(mut guard: RequestGuard) -> HttpResponse {
    guard.cut();
    let body = futures_util::stream::once(async { Err::<Bytes, _>(cut_error()) });
    HttpResponse::Ok().streaming(body)
}

fn cut_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "mock cut-after")
}

struct StreamState {
    frames: Vec<Bytes>,
    next: usize,
    first_content: usize,
    end_content: usize,
    cut_at: Option<usize>,
    flushed_before_cut: bool,
    chunk_delay: Option<std::time::Duration>,
    guard: RequestGuard,
}

fn frame_stream(
    frames: Frames,
    behaviour: &Behaviour,
    guard: RequestGuard,
) -> impl futures_util::Stream<Item = Result<Bytes, io::Error>> + 'static {
    let first_content = frames.head.len();
    let end_content = first_content + frames.content.len();
    let cut_at = behaviour
        .cut_after
        .map(|n| first_content + n.min(frames.content.len()));
    let mut all = frames.head;
    all.extend(frames.content);
    all.extend(frames.tail);
    let state = StreamState {
        frames: all,
        next: 0,
        first_content,
        end_content,
        cut_at,
        flushed_before_cut: false,
        chunk_delay: behaviour.chunk_delay,
        guard,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        if st.cut_at == Some(st.next) {
            if !st.flushed_before_cut {
                // Yielding once lets actix flush the frames already produced; failing right away
                // would drop them with the connection.
                st.flushed_before_cut = true;
                tokio::task::yield_now().await;
            }
            st.guard.cut();
            st.cut_at = None;
            st.next = st.frames.len() + 1;
            return Some((Err(cut_error()), st));
        }
        if st.next >= st.frames.len() {
            st.guard.complete();
            return None;
        }
        if let Some(delay) = st.chunk_delay
            && st.next > st.first_content
            && st.next < st.end_content
        {
            tokio::time::sleep(delay).await;
        }
        let frame = st.frames[st.next].clone();
        st.next += 1;
        Some((Ok(frame), st))
    })
}

/// `data: <json>` SSE framing with the given line ending (OpenAI uses `\n`, Gemini `\r\n`).
pub(crate) fn sse_data(value: &Value, eol: &str) -> Bytes {
    let json = value.to_string();
    let mut out = String::with_capacity(json.len() + 6 + 2 * eol.len());
    out.push_str("data: ");
    out.push_str(&json);
    out.push_str(eol);
    out.push_str(eol);
    Bytes::from(out)
}

/// `event: <name>` plus `data: <json>`, Anthropic's framing.
pub(crate) fn sse_event(event: &str, value: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {value}\n\n"))
}

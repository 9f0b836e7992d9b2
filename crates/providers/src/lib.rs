//! Keyway's provider translation layer: pure, I/O-free conversion between the canonical chat
//! types in [`canonical`] and each provider's wire format, both ways, for requests, responses,
//! errors and streams.
//!
//! One module per wire format ([`openai`], [`anthropic`], [`gemini`], [`bedrock`], [`cohere`];
//! [`azure`] holds Azure OpenAI's addressing around the OpenAI format);
//! each holds its private
//! serde wire types and the translation functions. Streaming is driven event by event: an
//! upstream byte chunk goes into a [`StreamReader`] (which yields canonical
//! [`StreamEvent`]s) and every event goes into a [`StreamWriter`] (which yields the bytes to
//! send to the client in the caller's surface format). The gateway owns all I/O.
//!
//! Conventions every module follows:
//! - Caller-supplied request fields that have no canonical meaning are refused with an error
//!   naming the field ([`TranslateError::InvalidBody`]), never dropped.
//! - Canonical settings a target provider cannot honour are refused with
//!   [`TranslateError::Unsupported`] (a 400 for the caller).
//! - Upstream responses are parsed leniently (providers add fields all the time).
//! - A stream that ends without its terminal marker becomes an explicit
//!   [`StreamEvent::Error`], which writers render as an error frame, never as a normal stop.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod canonical;
pub mod cohere;
mod error;
pub mod eventstream;
pub mod gemini;
pub mod openai;
pub mod pricing;
pub mod sigv4;
pub mod sse;

use bytes::Bytes;

pub use canonical::{ApiError, ChatRequest, ChatResponse, StreamEvent};
pub use error::TranslateError;
pub use pricing::{ModelPrice, PriceCatalog, PriceOverride};

/// A wire format Keyway speaks, on the client side (surface) or upstream side (provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// OpenAI Chat Completions (also used by OpenAI-compatible providers).
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini `generateContent`.
    Gemini,
    /// AWS Bedrock Converse (upstream only; streams in AWS event-stream framing).
    Bedrock,
    /// Cohere v2 Chat (upstream only).
    Cohere,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::OpenAi => "OpenAI",
            Format::Anthropic => "Anthropic",
            Format::Gemini => "Gemini",
            Format::Bedrock => "Bedrock",
            Format::Cohere => "Cohere",
        })
    }
}

impl Format {
    /// Renders a canonical error as the error body of this format.
    pub fn error_body(self, error: &ApiError) -> Bytes {
        match self {
            Format::OpenAi => openai::error_body(error),
            Format::Anthropic => anthropic::error_body(error),
            Format::Gemini => gemini::error_body(error),
            Format::Bedrock => bedrock::error_body(error),
            Format::Cohere => cohere::error_body(error),
        }
    }

    /// Parses an upstream (non-streamed) response body of this format.
    pub fn parse_response(self, body: &[u8]) -> Result<ChatResponse, TranslateError> {
        match self {
            Format::OpenAi => openai::parse_response(body),
            Format::Anthropic => anthropic::parse_response(body),
            Format::Gemini => gemini::parse_response(body),
            Format::Bedrock => bedrock::parse_response(body),
            Format::Cohere => cohere::parse_response(body),
        }
    }

    /// Renders a canonical response as a response body of this format, for the client.
    pub fn build_response(self, response: &ChatResponse) -> Result<Bytes, TranslateError> {
        match self {
            Format::OpenAi => openai::build_response(response),
            Format::Anthropic => anthropic::build_response(response),
            Format::Gemini => gemini::build_response(response),
            Format::Bedrock => bedrock::build_response(response),
            Format::Cohere => cohere::build_response(response),
        }
    }

    /// Reads an upstream error body of this format (any body, even non-JSON, gives an error).
    pub fn parse_error(self, status: u16, body: &[u8]) -> ApiError {
        match self {
            Format::OpenAi => openai::parse_error(status, body),
            Format::Anthropic => anthropic::parse_error(status, body),
            Format::Gemini => gemini::parse_error(status, body),
            Format::Bedrock => bedrock::parse_error(status, body),
            Format::Cohere => cohere::parse_error(status, body),
        }
    }
}

/// Turns an upstream byte stream of one format (SSE, or AWS event-stream for Bedrock) into
/// canonical events, chunk by chunk.
#[derive(Debug)]
pub struct StreamReader {
    inner: ReaderKind,
}

#[derive(Debug)]
enum ReaderKind {
    OpenAi(sse::SseDecoder, openai::OpenAiStreamReader),
    Anthropic(sse::SseDecoder, anthropic::AnthropicStreamReader),
    Gemini(sse::SseDecoder, gemini::GeminiStreamReader),
    Cohere(sse::SseDecoder, cohere::CohereStreamReader),
    Bedrock(
        eventstream::EventStreamDecoder,
        bedrock::BedrockStreamReader,
    ),
}

impl StreamReader {
    /// A reader for an upstream stream in `format`.
    pub fn new(format: Format) -> Self {
        let sse = sse::SseDecoder::new(format);
        let inner = match format {
            Format::OpenAi => ReaderKind::OpenAi(sse, openai::OpenAiStreamReader::default()),
            Format::Anthropic => {
                ReaderKind::Anthropic(sse, anthropic::AnthropicStreamReader::default())
            }
            Format::Gemini => ReaderKind::Gemini(sse, gemini::GeminiStreamReader::default()),
            Format::Cohere => ReaderKind::Cohere(sse, cohere::CohereStreamReader::default()),
            Format::Bedrock => ReaderKind::Bedrock(
                eventstream::EventStreamDecoder::default(),
                bedrock::BedrockStreamReader::default(),
            ),
        };
        Self { inner }
    }

    /// Feeds one chunk of upstream bytes (any split) and returns the events it completed.
    /// An `Err` means the upstream sent something unreadable: end the client stream with
    /// `StreamEvent::Error(err.to_api_error())` and stop reading.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<StreamEvent>, TranslateError> {
        let mut out = Vec::new();
        match &mut self.inner {
            ReaderKind::OpenAi(d, r) => {
                for event in d.push(chunk)? {
                    out.extend(r.push(&event)?);
                }
            }
            ReaderKind::Anthropic(d, r) => {
                for event in d.push(chunk)? {
                    out.extend(r.push(&event)?);
                }
            }
            ReaderKind::Gemini(d, r) => {
                for event in d.push(chunk)? {
                    out.extend(r.push(&event)?);
                }
            }
            ReaderKind::Cohere(d, r) => {
                for event in d.push(chunk)? {
                    out.extend(r.push(&event)?);
                }
            }
            ReaderKind::Bedrock(d, r) => {
                for message in d.push(chunk)? {
                    out.extend(r.push(&message)?);
                }
            }
        }
        Ok(out)
    }

    /// Call when the upstream body ended (cleanly or not). Returns [`StreamEvent::Done`] or,
    /// if the stream was cut before its terminal marker, a [`StreamEvent::Error`].
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        match &mut self.inner {
            ReaderKind::OpenAi(d, r) => r.finish(d.has_partial_event()),
            ReaderKind::Anthropic(d, r) => r.finish(d.has_partial_event()),
            ReaderKind::Gemini(d, r) => r.finish(d.has_partial_event()),
            ReaderKind::Cohere(d, r) => r.finish(d.has_partial_event()),
            ReaderKind::Bedrock(d, r) => r.finish(d.has_partial_message()),
        }
    }
}

/// Turns canonical events into the SSE bytes of one client-facing format.
#[derive(Debug)]
pub enum StreamWriter {
    /// OpenAI `data: {chunk}` frames ending with `data: [DONE]`.
    OpenAi(openai::OpenAiStreamWriter),
    /// Anthropic `event:`/`data:` frames ending with `message_stop`.
    Anthropic(anthropic::AnthropicStreamWriter),
    /// Gemini `data: {GenerateContentResponse}` frames.
    Gemini(gemini::GeminiStreamWriter),
    /// A format Keyway only speaks upstream (Bedrock, Cohere): every write is refused.
    Unsupported(Format),
}

impl StreamWriter {
    /// A writer for `format`; `include_usage` is the OpenAI caller's
    /// `stream_options.include_usage` (the other formats always carry usage).
    pub fn new(format: Format, include_usage: bool) -> Self {
        match format {
            Format::OpenAi => Self::OpenAi(openai::OpenAiStreamWriter::new(include_usage)),
            Format::Anthropic => Self::Anthropic(anthropic::AnthropicStreamWriter::default()),
            Format::Gemini => Self::Gemini(gemini::GeminiStreamWriter::default()),
            Format::Bedrock | Format::Cohere => Self::Unsupported(format),
        }
    }

    /// Renders one canonical event; the result may be empty (the event is buffered until the
    /// format has somewhere to put it, e.g. usage waits for the final frame).
    pub fn write(&mut self, event: &StreamEvent) -> Result<Bytes, TranslateError> {
        match self {
            Self::OpenAi(w) => w.write(event),
            Self::Anthropic(w) => w.write(event),
            Self::Gemini(w) => w.write(event),
            Self::Unsupported(format) => Err(TranslateError::unsupported(
                *format,
                "streaming to clients (it is an upstream-only format)",
            )),
        }
    }
}

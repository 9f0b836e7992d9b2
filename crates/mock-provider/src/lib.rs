//! A fake LLM upstream that speaks the real wire formats of OpenAI (and Azure OpenAI),
//! Anthropic, Gemini, AWS Bedrock Converse and Cohere v2.
//!
//! The gateway's tests, the end-to-end suites and the benchmarks point provider base URLs at
//! this server. It is deterministic (same request, same answer and usage), fast (actix-web,
//! `TCP_NODELAY` on every accepted socket, long keep-alive, one worker per core, no logging per
//! request) and counts what happened so a test can assert that, say, a raced request was
//! cancelled.
//!
//! # Surfaces
//! | provider  | routes |
//! |-----------|--------|
//! | OpenAI    | `POST /v1/chat/completions`, `POST /v1/completions`, `POST /v1/embeddings`, `POST /v1/responses` (non-streaming), `GET /v1/models`, `GET /v1/models/{id}` |
//! | Anthropic | `POST /v1/messages` (`GET /v1/models` answers in Anthropic's shape when called with `x-api-key` and no bearer token) |
//! | Gemini    | `POST /v1beta/models/{model}:generateContent`, `POST /v1beta/models/{model}:streamGenerateContent` (`?alt=sse` for SSE, otherwise a streamed JSON array) |
//! | Azure OpenAI | `POST /openai/deployments/{deployment}/chat/completions?api-version=...` and `.../embeddings` (the deployment is the model; counted under OpenAI) |
//! | Bedrock   | `POST /model/{modelId}/converse`, `POST /model/{modelId}/converse-stream` (AWS event-stream framing with CRC32s) |
//! | Cohere    | `POST /v2/chat` (plain and SSE stream) |
//! | mock      | `GET /_mock/stats`: the [`MockStats`] counters as JSON |
//!
//! It serves plain HTTP/1.1, or with [`MockBuilder::tls`] HTTPS with HTTP/2 offered by ALPN, as
//! hosted providers do, under a certificate authority made at start-up
//! ([`MockHandle::ca_pem`]).
//!
//! Authentication mirrors the real APIs: OpenAI routes need `Authorization: Bearer <key>`,
//! Anthropic needs `x-api-key` (or a bearer token) and `anthropic-version`, Gemini needs
//! `x-goog-api-key` or `?key=`, Azure needs `api-key` and an `api-version` query parameter,
//! Cohere a bearer token, Bedrock a well-formed SigV4 `Authorization` header with a matching
//! `x-amz-date` (403 otherwise; the signature is not recomputed). A missing key, or the key `sk-invalid` / `invalid`, gets a 401 in
//! that provider's error shape; any other key is accepted.
//!
//! # Behaviour grammar (the model name)
//! The model name is a list of parts joined by `+`, e.g. `echo+delay-50` or
//! `gpt-4o-mini+chunks-64+chunk-delay-2`. Every part must be one of:
//!
//! | part | effect |
//! |------|--------|
//! | a catalog name (`mock`, `gpt-4o-mini`, `claude-sonnet-4-5`, `gemini-2.0-flash`, ..., see [`MODEL_CATALOG`]) | none: the default behaviour under a realistic name |
//! | `echo` | the reply is the text of the last user message (default: a fixed sentence, [`DEFAULT_REPLY`]) |
//! | `delay-<ms>` | wait this long before the response headers |
//! | `status-<code>` | answer with HTTP `<code>` (400..=599) and that provider's real error body; 429 and 503 (and Anthropic's 529) carry `retry-after: 1` |
//! | `retry-after-<s>` | the `retry-after` value sent with a `status-` error |
//! | `chunks-<n>` | stream the reply as exactly `n` content chunks (characters split evenly; default: one chunk per word) |
//! | `chunk-delay-<ms>` | wait this long between content chunks |
//! | `cut-after-<n>` | stream: send the preamble and `n` content chunks, then drop the TCP connection without the terminal events; non-stream: drop the connection before any response byte |
//! | `tool` | when the request declares tools, call the first one (arguments generated from its JSON schema); streamed as real tool-call deltas |
//! | `stall` | never send response headers; the request ends only when the client gives up |
//!
//! Any other part answers 404 in the surface's shape (`model_not_found` for OpenAI). Parts apply
//! in this order: authentication and body validation, `delay`, `stall`, `status`, `cut-after`
//! (non-stream), then the reply.
//!
//! # Stream layout
//! A stream is a preamble (OpenAI: the `role` chunk, plus the tool-call header chunk; Anthropic:
//! `message_start`, `content_block_start`, `ping`), the content chunks (text deltas or tool
//! argument fragments), and the terminal events (OpenAI: the `finish_reason` chunk, the usage chunk
//! when `stream_options.include_usage` is true, `data: [DONE]`; Anthropic: `content_block_stop`,
//! `message_delta`, `message_stop`; Gemini: a final chunk carrying `finishReason` and the full
//! `usageMetadata`, then `]` in array mode). A Gemini function call is one content chunk.
//!
//! # Usage rule (identical on every surface)
//! `words(s)` is the number of whitespace-separated words in `s`; images and other non-text parts
//! count zero.
//! - prompt tokens = sum over input messages of `3 + words(text of the message)`. The system prompt
//!   (OpenAI `system`/`developer` message, Anthropic `system`, Gemini `systemInstruction`,
//!   Responses `instructions`) is one message; a legacy completion prompt and each embedding input
//!   count as one message each.
//! - completion tokens = `words(reply)`; for a tool call, `words(arguments as compact JSON)`.
//! - total = prompt + completion.
//! - Bedrock counts the `system` blocks as one message and a `toolResult`'s text as part of its
//!   message; Cohere's `usage.billed_units` follow the rule while its `usage.tokens` add 10 input
//!   tokens for Cohere's prompt template.
//!
//! # Counters
//! Every request on a provider route is `started`; it ends as `completed` (a full response or
//! stream, errors included), `cut` (a `cut-after` drop) or `cancelled` (the client went away
//! during a delay, a stall or a stream).

mod anthropic;
mod bedrock;
mod behaviour;
mod cohere;
mod gemini;
mod openai;
mod reply;
mod respond;
mod server;
mod stats;
mod synth;
mod tls;

pub use behaviour::{DEFAULT_REPLY, MODEL_CATALOG};
pub use server::{MockBuilder, MockHandle, MockProvider};
pub use stats::{MockStats, SurfaceStats};

//! Step 10: one [`RequestEvent`] per request, whatever its outcome, handed to the analytics sink
//! without blocking. A [`Recorder`] that is dropped before it was finished (the client went away
//! mid-stream, or the handler future was cancelled) records the request as cancelled (499).

use keyway_analytics::{EventSink, RequestEvent};
use keyway_providers::canonical::Usage;
use std::time::Instant;

/// HTTP-style status recorded for requests the client abandoned (nginx's convention).
pub const CLIENT_CLOSED: u16 = 499;

/// Runs once with the final event, just before it goes to the sink (governance settles here).
pub type FinishHook = Box<dyn FnOnce(&RequestEvent) + Send>;

/// The event of one request, filled in as it proceeds.
pub struct Recorder {
    sink: EventSink,
    on_finish: Option<FinishHook>,
    event: RequestEvent,
    emitted: bool,
    started: Instant,
    upstream_started: Option<Instant>,
}

impl Recorder {
    /// Starts timing `event`.
    pub fn new(sink: EventSink, event: RequestEvent, started: Instant) -> Self {
        Self {
            sink,
            on_finish: None,
            event,
            emitted: false,
            started,
            upstream_started: None,
        }
    }

    /// Mutable access to the event being built.
    pub fn event(&mut self) -> &mut RequestEvent {
        &mut self.event
    }

    /// Runs `hook` with the final event when the request ends, however it ends (a cancel too).
    pub fn on_finish(&mut self, hook: FinishHook) {
        self.on_finish = Some(hook);
    }

    /// Keeps the request body, and from now on what is sent back, in the event (the
    /// organization stores bodies). Each is cut at [`MAX_LOGGED_BODY`] bytes; the analytics
    /// sink redacts secrets before storing them.
    pub fn log_bodies(&mut self, request: &[u8]) {
        let mut body = String::new();
        append_capped(&mut body, request);
        self.event.request_body = Some(body);
        self.event.response_body = Some(String::new());
    }

    /// Adds bytes sent to the client to the logged response body, when bodies are logged.
    pub fn response_bytes(&mut self, bytes: &[u8]) {
        if let Some(body) = &mut self.event.response_body {
            append_capped(body, bytes);
        }
    }

    /// Marks the moment the upstream call was sent.
    pub fn upstream_sent(&mut self) {
        self.upstream_started = Some(Instant::now());
    }

    /// Marks the first token reaching the client.
    pub fn first_token(&mut self) {
        if self.event.ttft_ms.is_none() {
            self.event.ttft_ms = Some(millis(self.started));
        }
    }

    /// Adds token usage (the last report wins, as providers send cumulative totals).
    pub fn usage(&mut self, usage: &Usage) {
        let event = &mut self.event;
        event.input_tokens = clamp(usage.input_tokens);
        event.output_tokens = clamp(usage.output_tokens);
        event.cached_read_tokens = clamp(usage.cached_read_tokens);
        event.cache_write_tokens = clamp(usage.cache_write_tokens);
        event.reasoning_tokens = clamp(usage.reasoning_tokens);
    }

    /// Records the outcome and hands the event to the sink.
    pub fn finish(mut self, status: u16, error_class: Option<&str>) {
        self.emit(status, error_class);
    }

    fn emit(&mut self, status: u16, error_class: Option<&str>) {
        if std::mem::replace(&mut self.emitted, true) {
            return;
        }
        let mut event = std::mem::replace(&mut self.event, RequestEvent::new("", "", "", ""));
        event.status_code = status;
        event.error_class = error_class.map(str::to_owned);
        event.latency_ms = millis(self.started);
        if event.response_body.as_deref() == Some("") {
            event.response_body = None;
        }
        if let Some(up) = self.upstream_started {
            event.upstream_latency_ms = Some(millis(up));
            let overhead = up.saturating_duration_since(self.started);
            event.gateway_overhead_us = u32::try_from(overhead.as_micros()).unwrap_or(u32::MAX);
        }
        if let Some(hook) = self.on_finish.take() {
            hook(&event);
        }
        if !self.sink.try_record(event) {
            tracing::warn!("analytics channel full: request event dropped");
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.emit(CLIENT_CLOSED, Some("client_cancelled"));
    }
}

/// Most bytes of a request or of a response body kept in a logged request.
pub const MAX_LOGGED_BODY: usize = 64 * 1024;
/// Appended to a logged body cut at [`MAX_LOGGED_BODY`].
const TRUNCATED: &str = "\n[truncated by Keyway]";

/// Appends `bytes` (lossy UTF-8) to `body` up to [`MAX_LOGGED_BODY`], marking a cut once.
fn append_capped(body: &mut String, bytes: &[u8]) {
    if body.ends_with(TRUNCATED) || bytes.is_empty() {
        return;
    }
    let text = String::from_utf8_lossy(bytes);
    let room = MAX_LOGGED_BODY.saturating_sub(body.len());
    if text.len() <= room {
        body.push_str(&text);
    } else {
        body.push_str(&text[..text.floor_char_boundary(room)]);
        body.push_str(TRUNCATED);
    }
}

fn millis(since: Instant) -> u32 {
    u32::try_from(since.elapsed().as_millis()).unwrap_or(u32::MAX)
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_bodies_are_cut_once_at_a_char_boundary() {
        let mut body = String::new();
        append_capped(&mut body, "é".repeat(MAX_LOGGED_BODY).as_bytes());
        assert!(body.ends_with(TRUNCATED));
        assert!(body.len() <= MAX_LOGGED_BODY + TRUNCATED.len());
        assert!(body.trim_end_matches(TRUNCATED).chars().all(|c| c == 'é'));
        let cut = body.clone();
        append_capped(&mut body, b"more");
        assert_eq!(body, cut);

        let mut small = String::new();
        append_capped(&mut small, b"data: {}\n\n");
        append_capped(&mut small, b"data: [DONE]\n\n");
        assert_eq!(small, "data: {}\n\ndata: [DONE]\n\n");
    }
}

//! Shared helpers for the integration tests: fixtures, and driving streams through readers
//! and writers exactly as the gateway does (chunk by chunk).
// Each test binary uses a subset of these helpers, and a helper that panics is a failed test.
#![allow(dead_code, clippy::expect_used)]

use keyway_providers::sse::SseDecoder;
use keyway_providers::{Format, StreamEvent, StreamReader, StreamWriter};
use serde_json::Value;

pub fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

pub fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

/// Feeds `bytes` to a reader in chunks of `chunk` bytes, then signals the end of the body.
pub fn read_stream(format: Format, bytes: &[u8], chunk: usize) -> Vec<StreamEvent> {
    let mut reader = StreamReader::new(format);
    let mut events = Vec::new();
    for piece in bytes.chunks(chunk) {
        events.extend(reader.push(piece).expect("readable stream"));
    }
    events.extend(reader.finish());
    events
}

pub fn write_stream(format: Format, include_usage: bool, events: &[StreamEvent]) -> Vec<u8> {
    let mut writer = StreamWriter::new(format, include_usage);
    let mut out = Vec::new();
    for e in events {
        out.extend_from_slice(&writer.write(e).expect("writable event"));
    }
    out
}

/// The SSE frames of a byte stream as (event name, data).
pub fn frames(bytes: &[u8]) -> Vec<(Option<String>, String)> {
    let mut d = SseDecoder::new(Format::OpenAi);
    let events = d.push(bytes).expect("valid SSE");
    assert!(!d.has_partial_event(), "stream ends mid-frame");
    events.into_iter().map(|e| (e.event, e.data)).collect()
}

/// Frames whose data is JSON, as (event name, JSON); `[DONE]` becomes the string "[DONE]".
pub fn json_frames(bytes: &[u8]) -> Vec<(Option<String>, Value)> {
    frames(bytes)
        .into_iter()
        .map(|(e, d)| {
            let v = if d == "[DONE]" {
                Value::String(d)
            } else {
                serde_json::from_str(&d).expect("JSON frame")
            };
            (e, v)
        })
        .collect()
}

pub fn without_usage(events: &[StreamEvent]) -> Vec<StreamEvent> {
    events
        .iter()
        .filter(|e| !matches!(e, StreamEvent::Usage(_)))
        .cloned()
        .collect()
}

pub fn last_usage(events: &[StreamEvent]) -> Option<keyway_providers::canonical::Usage> {
    events.iter().rev().find_map(|e| match e {
        StreamEvent::Usage(u) => Some(*u),
        _ => None,
    })
}

//! Incremental Server-Sent Events decoding and frame encoding.
//!
//! Why our own decoder: the maintained crates (`eventsource-stream`, `sse-stream`) only offer
//! async `Stream` adapters over futures/http-body with a private parser, while this crate is
//! synchronous and I/O-free: the gateway pushes each upstream chunk as it arrives. The decoder
//! follows the WHATWG event-stream rules that matter for LLM APIs: `\n`, `\r\n` and `\r` line
//! ends, multi-line `data`, comments, and dispatch on a blank line.

use crate::Format;
use crate::TranslateError as E;

/// Longest line accepted, so a misbehaving upstream cannot grow the buffer without bound.
const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// One dispatched SSE event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Incremental SSE decoder: feed chunks split anywhere, get complete events.
#[derive(Debug)]
pub struct SseDecoder {
    format: Format,
    line: Vec<u8>,
    skip_lf: bool,
    event: Option<String>,
    data: Option<String>,
}

impl SseDecoder {
    /// A decoder for an upstream speaking `format` (named in errors).
    pub fn new(format: Format) -> Self {
        Self {
            format,
            line: Vec::new(),
            skip_lf: false,
            event: None,
            data: None,
        }
    }

    /// Feeds bytes and returns the events completed by them.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, E> {
        let mut out = Vec::new();
        for &b in chunk {
            if self.skip_lf {
                self.skip_lf = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' | b'\r' => {
                    self.skip_lf = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    let line = String::from_utf8(line).map_err(|e| E::Upstream {
                        format: self.format,
                        message: format!("SSE line is not UTF-8: {e}"),
                    })?;
                    if let Some(ev) = self.line_done(&line) {
                        out.push(ev);
                    }
                }
                _ => {
                    if self.line.len() >= MAX_LINE_BYTES {
                        return Err(E::Upstream {
                            format: self.format,
                            message: format!("SSE line longer than {MAX_LINE_BYTES} bytes"),
                        });
                    }
                    self.line.push(b);
                }
            }
        }
        Ok(out)
    }

    /// True when bytes of an event were received but the event was never dispatched.
    pub fn has_partial_event(&self) -> bool {
        !self.line.is_empty() || self.event.is_some() || self.data.is_some()
    }

    fn line_done(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let data = self.data.take();
            let event = self.event.take();
            return match (event, data) {
                (None, None) => None,
                (event, data) => Some(SseEvent {
                    event,
                    data: data.unwrap_or_default(),
                }),
            };
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            // `id` and `retry` drive browser reconnection, which no LLM API relies on.
            _ => {}
        }
        None
    }
}

/// Appends one `event:`/`data:` frame (the data must be single-line JSON).
pub(crate) fn frame(out: &mut Vec<u8>, event: Option<&str>, data: &str) {
    if let Some(event) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new(Format::OpenAi);
        let mut out = Vec::new();
        for c in chunks {
            out.extend(d.push(c).unwrap());
        }
        out
    }

    #[test]
    fn events_survive_any_split() {
        let input = b"event: ping\ndata: {\"a\":1}\n\n: comment\ndata: x\ndata: y\n\n";
        let whole = all(&[input]);
        assert_eq!(
            whole,
            vec![
                SseEvent {
                    event: Some("ping".into()),
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    event: None,
                    data: "x\ny".into()
                },
            ]
        );
        for split in 0..input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(all(&[a, b]), whole, "split at {split}");
        }
    }

    #[test]
    fn crlf_and_cr_line_endings() {
        let crlf = all(&[b"data: a\r", b"\n\r\ndata: b\r\r"]);
        assert_eq!(crlf.len(), 2);
        assert_eq!(crlf[0].data, "a");
        assert_eq!(crlf[1].data, "b");
    }

    #[test]
    fn partial_event_is_reported() {
        let mut d = SseDecoder::new(Format::OpenAi);
        d.push(b"data: {\"tru").unwrap();
        assert!(d.has_partial_event());
        let mut d = SseDecoder::new(Format::OpenAi);
        d.push(b"data: 1\n\n").unwrap();
        assert!(!d.has_partial_event());
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut d = SseDecoder::new(Format::OpenAi);
        assert!(d.push(b"data: \xff\n").is_err());
    }
}

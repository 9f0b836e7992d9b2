//! The AWS event-stream binary framing (`application/vnd.amazon.eventstream`) that Bedrock's
//! `ConverseStream` answers in: incremental decoding with both CRC checks, and encoding (used by
//! tests and anything that has to produce such a stream).
//!
//! Why our own: `aws-smithy-eventstream` brings `aws-smithy-types` and its runtime along and
//! decodes through smithy's `Message`/`Header` types; the format is a 12-byte prelude, typed
//! headers, a payload and a CRC32 — about 150 lines over `crc32fast`, synchronous like the rest
//! of this crate.
//!
//! Message layout (all integers big-endian):
//! `total_len u32 | headers_len u32 | prelude_crc u32 | headers | payload | message_crc u32`,
//! where `prelude_crc` covers the first 8 bytes and `message_crc` everything before it.

use crate::Format;
use crate::TranslateError;

/// Largest message accepted (AWS caps event-stream messages at 16 MiB).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
const PRELUDE: usize = 12;

/// A header value. Only the types Bedrock uses are kept as values; the others are read and
/// skipped as [`HeaderValue::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// Type 7.
    String(String),
    /// Type 6.
    Bytes(Vec<u8>),
    /// Types 0 and 1.
    Bool(bool),
    /// Any other type (integers, timestamp, uuid).
    Other,
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventMessage {
    /// Headers in order.
    pub headers: Vec<(String, HeaderValue)>,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

impl EventMessage {
    /// The string value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|(k, v)| match v {
            HeaderValue::String(s) if k == name => Some(s.as_str()),
            _ => None,
        })
    }

    /// A message with string headers, as Bedrock sends them.
    pub fn new(headers: &[(&str, &str)], payload: impl Into<Vec<u8>>) -> Self {
        Self {
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), HeaderValue::String((*v).to_owned())))
                .collect(),
            payload: payload.into(),
        }
    }

    /// Encodes the message with both checksums.
    pub fn encode(&self) -> Vec<u8> {
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            let name = name.as_bytes();
            headers.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
            headers.extend_from_slice(&name[..name.len().min(255)]);
            match value {
                HeaderValue::Bool(true) => headers.push(0),
                HeaderValue::Bool(false) | HeaderValue::Other => headers.push(1),
                HeaderValue::Bytes(b) => {
                    headers.push(6);
                    push_short_bytes(&mut headers, b);
                }
                HeaderValue::String(s) => {
                    headers.push(7);
                    push_short_bytes(&mut headers, s.as_bytes());
                }
            }
        }
        let total = PRELUDE + headers.len() + self.payload.len() + 4;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(
            &u32::try_from(headers.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        let prelude_crc = crc32fast::hash(&out);
        out.extend_from_slice(&prelude_crc.to_be_bytes());
        out.extend_from_slice(&headers);
        out.extend_from_slice(&self.payload);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }
}

fn push_short_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(&bytes[..len]);
}

/// Incremental decoder: feed chunks split anywhere, get complete, checksum-verified messages.
#[derive(Debug, Default)]
pub struct EventStreamDecoder {
    buf: Vec<u8>,
}

impl EventStreamDecoder {
    /// Feeds bytes and returns the messages they completed. Any framing or checksum error is
    /// final: the stream cannot be resynchronised.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<EventMessage>, TranslateError> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        loop {
            if self.buf.len() < PRELUDE {
                break;
            }
            let total = be_u32(&self.buf[0..4]) as usize;
            let headers_len = be_u32(&self.buf[4..8]) as usize;
            let prelude_crc = be_u32(&self.buf[8..12]);
            if crc32fast::hash(&self.buf[0..8]) != prelude_crc {
                return Err(err("prelude checksum mismatch"));
            }
            if total < PRELUDE + 4 + headers_len || total > MAX_MESSAGE_BYTES {
                return Err(err(format!(
                    "invalid message length {total} (headers {headers_len})"
                )));
            }
            if self.buf.len() < total {
                break;
            }
            let message: Vec<u8> = self.buf.drain(..total).collect();
            let crc = be_u32(&message[total - 4..]);
            if crc32fast::hash(&message[..total - 4]) != crc {
                return Err(err("message checksum mismatch"));
            }
            let headers = parse_headers(&message[PRELUDE..PRELUDE + headers_len])?;
            out.push(EventMessage {
                headers,
                payload: message[PRELUDE + headers_len..total - 4].to_vec(),
            });
        }
        Ok(out)
    }

    /// Whether bytes of an incomplete message are buffered.
    pub fn has_partial_message(&self) -> bool {
        !self.buf.is_empty()
    }
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn err(message: impl std::fmt::Display) -> TranslateError {
    TranslateError::upstream(Format::Bedrock, format!("event stream: {message}"))
}

fn parse_headers(mut b: &[u8]) -> Result<Vec<(String, HeaderValue)>, TranslateError> {
    let truncated = || err("truncated header");
    let mut out = Vec::new();
    while !b.is_empty() {
        let name_len = usize::from(b[0]);
        let name = b.get(1..1 + name_len).ok_or_else(truncated)?;
        let name = String::from_utf8_lossy(name).into_owned();
        let kind = *b.get(1 + name_len).ok_or_else(truncated)?;
        b = &b[2 + name_len..];
        let fixed = |n: usize, b: &mut &[u8]| -> Result<(), TranslateError> {
            if b.len() < n {
                return Err(truncated());
            }
            *b = &b[n..];
            Ok(())
        };
        let value = match kind {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => {
                fixed(1, &mut b)?;
                HeaderValue::Other
            }
            3 => {
                fixed(2, &mut b)?;
                HeaderValue::Other
            }
            4 => {
                fixed(4, &mut b)?;
                HeaderValue::Other
            }
            5 | 8 => {
                fixed(8, &mut b)?;
                HeaderValue::Other
            }
            9 => {
                fixed(16, &mut b)?;
                HeaderValue::Other
            }
            6 | 7 => {
                let len_bytes = b.get(0..2).ok_or_else(truncated)?;
                let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
                let value = b.get(2..2 + len).ok_or_else(truncated)?.to_vec();
                b = &b[2 + len..];
                if kind == 6 {
                    HeaderValue::Bytes(value)
                } else {
                    HeaderValue::String(
                        String::from_utf8(value).map_err(|_| err("header is not UTF-8"))?,
                    )
                }
            }
            other => return Err(err(format!("unknown header type {other}"))),
        };
        out.push((name, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_split_anywhere() {
        let a = EventMessage::new(
            &[
                (":event-type", "contentBlockDelta"),
                (":message-type", "event"),
            ],
            br#"{"delta":{"text":"hi"}}"#.to_vec(),
        );
        let b = EventMessage::new(&[(":event-type", "messageStop")], b"{}".to_vec());
        let mut bytes = a.encode();
        bytes.extend(b.encode());
        for split in 1..bytes.len() {
            let mut d = EventStreamDecoder::default();
            let mut got = d.push(&bytes[..split]).unwrap();
            got.extend(d.push(&bytes[split..]).unwrap());
            assert_eq!(got, vec![a.clone(), b.clone()], "split at {split}");
            assert!(!d.has_partial_message());
        }
    }
}

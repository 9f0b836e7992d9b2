//! Step 3's input limits, checked before and after parsing: JSON nesting depth (on the raw
//! bytes, before any parser recurses), message count and the requested output tokens. Each
//! refusal is a 400 in the surface's error shape naming the parameter.

use crate::chat::Api;
use crate::error::GatewayError;
use keyway_providers::ChatRequest;

/// Limits on one request's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Largest request body in bytes ([`crate::body::Body`] refuses more with a 413).
    pub max_body_bytes: usize,
    /// Most messages (input items, prompts' turns) in one request.
    pub max_messages: usize,
    /// Deepest JSON nesting of the body (objects and arrays).
    pub max_json_depth: usize,
    /// Largest accepted `max_tokens` / `max_output_tokens`.
    pub max_tokens: u32,
}

impl Default for InputLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 * 1024 * 1024,
            max_messages: 4096,
            max_json_depth: 64,
            max_tokens: 262_144,
        }
    }
}

impl InputLimits {
    /// Refuses a body nested deeper than [`Self::max_json_depth`]. One pass over the bytes;
    /// brackets inside strings do not count.
    pub fn check_body(&self, body: &[u8]) -> Result<(), GatewayError> {
        match json_depth_exceeds(body, self.max_json_depth) {
            false => Ok(()),
            true => Err(GatewayError::limit(
                format!(
                    "The request body is nested deeper than {} levels.",
                    self.max_json_depth
                ),
                None,
            )),
        }
    }

    /// Refuses a parsed request with too many messages or too large a `max_tokens`.
    pub fn check_request(&self, api: Api, request: &ChatRequest) -> Result<(), GatewayError> {
        let param = api.messages_param();
        if request.messages.len() > self.max_messages {
            return Err(GatewayError::limit(
                format!(
                    "`{param}` has {} messages; at most {} are accepted.",
                    request.messages.len(),
                    self.max_messages
                ),
                Some(param),
            ));
        }
        let conversation = request
            .messages
            .iter()
            .any(|m| m.role() != keyway_providers::canonical::Role::System);
        if request.messages.is_empty() || (api == Api::Responses && !conversation) {
            let message = match api {
                Api::Responses => "`input` must contain at least one item.",
                _ => "`messages` must contain at least one message.",
            };
            return Err(GatewayError::bad_request(message, Some(param)));
        }
        if let Some(max) = request.max_tokens
            && max > self.max_tokens
        {
            let param = api.max_tokens_param();
            return Err(GatewayError::limit(
                format!(
                    "`{param}` is {max}; at most {} is accepted.",
                    self.max_tokens
                ),
                Some(param),
            ));
        }
        Ok(())
    }
}

/// Whether `body` nests objects/arrays deeper than `max` (JSON strings skipped, escapes
/// honoured). Malformed JSON is left to the parser.
pub fn json_depth_exceeds(body: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_brackets_outside_strings() {
        assert!(!json_depth_exceeds(br#"{"a":[{"b":1}]}"#, 3));
        assert!(json_depth_exceeds(br#"{"a":[{"b":[1]}]}"#, 3));
        assert!(!json_depth_exceeds(br#"{"a":"[[[[[[\"{{{{"}"#, 1));
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert!(json_depth_exceeds(deep.as_bytes(), 64));
        assert!(!json_depth_exceeds(deep.as_bytes(), 65));
    }
}

//! Secret redaction for stored request/response bodies.
//!
//! Bodies are stored only when the org opted in (the gateway decides and fills
//! [`RequestEvent::request_body`](crate::RequestEvent::request_body)); whatever arrives here is
//! scrubbed of credentials before any backend sees it: provider API keys (`sk-…`, `sk-ant-…`,
//! `AIza…`, `AKIA…`), Keyway virtual keys (`kw-…`), bearer tokens, and the values of JSON fields
//! whose name says they hold a secret (`api_key`, `password`, `authorization`, …).

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use crate::RequestEvent;

/// What a redacted secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

static TOKENS: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}",
        r"|\bsk-[A-Za-z0-9_-]{12,}",
        r"|\bkw-[A-Za-z0-9]{12,}",
        r"|\bAIza[0-9A-Za-z_-]{20,}",
        r"|\bAKIA[0-9A-Z]{16}\b",
        r"|\bgh[pousr]_[A-Za-z0-9]{20,}",
        r"|\bxox[abpr]-[A-Za-z0-9-]{10,}",
    ))
    .ok()
});

static SECRET_FIELDS: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)("(?:api[_-]?key|x-api-key|apikey|secret|client_secret|password|passwd|authorization|access[_-]?token|refresh[_-]?token|token)"\s*:\s*)"(?:[^"\\]|\\.)*""#,
    )
    .ok()
});

/// `text` with every recognised secret replaced by [`REDACTED`]. Borrowed when nothing matched.
pub fn redact_secrets(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    if let Some(fields) = SECRET_FIELDS.as_ref()
        && let Cow::Owned(s) = fields.replace_all(&out, format!("${{1}}\"{REDACTED}\""))
    {
        out = Cow::Owned(s);
    }
    if let Some(tokens) = TOKENS.as_ref()
        && let Cow::Owned(s) = tokens.replace_all(&out, REDACTED)
    {
        out = Cow::Owned(s);
    }
    out
}

/// Redacts the bodies of `event` in place.
pub(crate) fn redact_event(event: &mut RequestEvent) {
    for body in [&mut event.request_body, &mut event.response_body]
        .into_iter()
        .flatten()
    {
        if let Cow::Owned(clean) = redact_secrets(body) {
            *body = clean;
        }
    }
}

/// The batch as it may be stored: borrowed when no event carries a body.
pub(crate) fn redact_batch(events: &[RequestEvent]) -> Cow<'_, [RequestEvent]> {
    if !crate::event::has_bodies(events) {
        return Cow::Borrowed(events);
    }
    let mut owned = events.to_vec();
    owned.iter_mut().for_each(redact_event);
    Cow::Owned(owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_secret_shapes_are_redacted_and_the_rest_kept() {
        let body = r#"{"model":"gpt-4o","api_key":"abc\"def","messages":[{"role":"user","content":"my key is sk-proj-AbCdEf0123456789xyz and Bearer eyJhbGciOiJIUzI1NiJ9.payload and kw-AbCdEfGhIjKlMnOp, aws AKIAABCDEFGHIJKLMNOP"}]}"#;
        let clean = redact_secrets(body);
        for secret in [
            "sk-proj-AbCdEf0123456789xyz",
            "eyJhbGciOiJIUzI1NiJ9",
            "kw-AbCdEfGhIjKlMnOp",
            "AKIAABCDEFGHIJKLMNOP",
            "abc\\\"def",
        ] {
            assert!(!clean.contains(secret), "{secret} left in {clean}");
        }
        assert!(clean.contains(r#""api_key":"[REDACTED]""#), "{clean}");
        assert!(clean.contains(r#""model":"gpt-4o""#));
        assert!(clean.contains("my key is [REDACTED]"));
        assert!(serde_json::from_str::<serde_json::Value>(&clean).is_ok());
    }

    #[test]
    fn text_without_secrets_is_borrowed() {
        assert!(matches!(
            redact_secrets("hello, task-force sk-short"),
            Cow::Borrowed(_)
        ));
    }
}

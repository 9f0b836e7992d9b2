//! The behaviour grammar: what a model name such as `echo+delay-50` asks the mock to do.

use std::time::Duration;

/// The reply sent when the model name has no `echo` part.
pub const DEFAULT_REPLY: &str = "This is a deterministic reply from the Keyway mock provider.";

/// Model names accepted as a no-op part, so requests can carry realistic names.
/// `GET /v1/models` lists them.
pub const MODEL_CATALOG: &[&str] = &[
    "mock",
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-3.5-turbo-instruct",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
    "claude-sonnet-4-5",
    "claude-opus-4-1",
    "claude-3-5-haiku-latest",
    "gemini-2.0-flash",
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "command-r",
    "command-r-plus",
    "command-a-03-2025",
    "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "amazon.nova-lite-v1:0",
    "meta.llama3-70b-instruct-v1:0",
];

/// Upper bounds keep a hostile model name from asking for unbounded memory or time.
const MAX_CHUNKS: usize = 65_536;
const MAX_MILLIS: u64 = 3_600_000;

/// What one request asks for, parsed from its model name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Behaviour {
    pub echo: bool,
    pub delay: Option<Duration>,
    pub status: Option<u16>,
    pub retry_after: Option<u32>,
    pub chunks: Option<usize>,
    pub chunk_delay: Option<Duration>,
    pub cut_after: Option<usize>,
    pub tool: bool,
    pub stall: bool,
}

impl Behaviour {
    /// Parses `model`; the error is the first part that is not in the grammar.
    pub fn parse(model: &str) -> Result<Self, String> {
        let mut behaviour = Self::default();
        for part in model.split('+') {
            if !behaviour.apply(part) {
                return Err(part.to_owned());
            }
        }
        Ok(behaviour)
    }

    fn apply(&mut self, part: &str) -> bool {
        match part {
            "echo" => self.echo = true,
            "tool" => self.tool = true,
            "stall" => self.stall = true,
            _ if MODEL_CATALOG.contains(&part) => {}
            _ => {
                if let Some(v) = part.strip_prefix("chunk-delay-") {
                    return set(&mut self.chunk_delay, millis(v));
                }
                if let Some(v) = part.strip_prefix("delay-") {
                    return set(&mut self.delay, millis(v));
                }
                if let Some(v) = part.strip_prefix("status-") {
                    let code = number(v).filter(|c| (400..=599).contains(c));
                    return set(&mut self.status, code.and_then(|c| u16::try_from(c).ok()));
                }
                if let Some(v) = part.strip_prefix("retry-after-") {
                    let secs = number(v).and_then(|s| u32::try_from(s).ok());
                    return set(&mut self.retry_after, secs);
                }
                if let Some(v) = part.strip_prefix("chunks-") {
                    return set(&mut self.chunks, count(v).filter(|n| *n > 0));
                }
                if let Some(v) = part.strip_prefix("cut-after-") {
                    return set(&mut self.cut_after, count(v));
                }
                return false;
            }
        }
        true
    }
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    match value {
        Some(v) => {
            *slot = Some(v);
            true
        }
        None => false,
    }
}

fn number(s: &str) -> Option<u64> {
    // `u64::from_str` accepts a leading `+`, which cannot occur here but would be ambiguous.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn millis(s: &str) -> Option<Duration> {
    number(s)
        .filter(|ms| *ms <= MAX_MILLIS)
        .map(Duration::from_millis)
}

fn count(s: &str) -> Option<usize> {
    number(s)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n <= MAX_CHUNKS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combines_parts() {
        let b = Behaviour::parse("gpt-4o-mini+echo+chunks-64+chunk-delay-2+cut-after-3").unwrap();
        assert!(b.echo);
        assert_eq!(b.chunks, Some(64));
        assert_eq!(b.chunk_delay, Some(Duration::from_millis(2)));
        assert_eq!(b.cut_after, Some(3));
        assert_eq!(b.delay, None);
    }

    #[test]
    fn rejects_unknown_and_malformed_parts() {
        assert_eq!(Behaviour::parse("echo+bogus"), Err("bogus".to_owned()));
        assert_eq!(Behaviour::parse("status-200"), Err("status-200".to_owned()));
        assert_eq!(Behaviour::parse("delay-x"), Err("delay-x".to_owned()));
        assert_eq!(Behaviour::parse("chunks-0"), Err("chunks-0".to_owned()));
        assert_eq!(
            Behaviour::parse("gpt-5-turbo"),
            Err("gpt-5-turbo".to_owned())
        );
        assert_eq!(Behaviour::parse(""), Err(String::new()));
    }

    #[test]
    fn status_and_retry_after() {
        let b = Behaviour::parse("status-429+retry-after-7+delay-5").unwrap();
        assert_eq!(b.status, Some(429));
        assert_eq!(b.retry_after, Some(7));
        assert_eq!(b.delay, Some(Duration::from_millis(5)));
    }
}

//! What the mock answers, independent of any wire format: the prompt facts a reply depends on and
//! the reply itself (text or a tool call) with its token counts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::behaviour::{Behaviour, DEFAULT_REPLY};
use crate::synth::{self, PromptCount};

/// The facts of a request the reply depends on.
#[derive(Debug, Default)]
pub(crate) struct Prompt<'a> {
    pub last_user_text: String,
    pub count: PromptCount,
    pub tool: Option<ToolDecl<'a>>,
}

/// The first tool a request declares.
#[derive(Debug)]
pub(crate) struct ToolDecl<'a> {
    pub name: &'a str,
    pub schema: Option<&'a Value>,
}

/// The reply to a request.
#[derive(Debug)]
pub(crate) enum Answer<'a> {
    Text(String),
    Tool {
        name: &'a str,
        arguments: Value,
        /// `arguments` as compact JSON, the form OpenAI sends and streams.
        json: String,
    },
}

impl<'a> Answer<'a> {
    pub fn decide(behaviour: &Behaviour, prompt: Prompt<'a>) -> Self {
        match (behaviour.tool, prompt.tool) {
            (true, Some(tool)) => {
                let arguments = synth::tool_arguments(tool.schema);
                let json = arguments.to_string();
                Answer::Tool {
                    name: tool.name,
                    arguments,
                    json,
                }
            }
            _ if behaviour.echo => Answer::Text(prompt.last_user_text),
            _ => Answer::Text(DEFAULT_REPLY.to_owned()),
        }
    }

    /// Completion tokens under the documented rule.
    pub fn tokens(&self) -> u64 {
        match self {
            Answer::Text(text) => synth::words(text),
            Answer::Tool { json, .. } => synth::words(json),
        }
    }

    /// The text that streams as content chunks: the reply, or the tool arguments' JSON.
    pub fn streamed_text(&self) -> &str {
        match self {
            Answer::Text(text) => text,
            Answer::Tool { json, .. } => json,
        }
    }
}

/// The text parts of a message content in any of the surfaces' shapes: a string, or an array of
/// blocks whose `text` counts (nested `content`, as in Anthropic's `tool_result`, is searched).
pub(crate) fn content_texts(content: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    collect_texts(content, &mut out, 0);
    out
}

fn collect_texts<'v>(content: &'v Value, out: &mut Vec<&'v str>, depth: usize) {
    match content {
        Value::String(s) => out.push(s),
        Value::Array(items) if depth < 4 => {
            for item in items {
                match item {
                    Value::String(s) => out.push(s),
                    Value::Object(block) => {
                        if let Some(Value::String(text)) = block.get("text") {
                            out.push(text);
                        } else if let Some(Value::String(output)) = block.get("output") {
                            out.push(output);
                        } else if let Some(nested) = block.get("content") {
                            collect_texts(nested, out, depth + 1);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// A process-wide sequence for response ids, so every id in a run is distinct.
pub(crate) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

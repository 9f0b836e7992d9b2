//! Prompt templates: the stored shape of one prompt version and its logic-less, safe renderer.
//!
//! Templates use a small subset of Mustache, written here rather than taken from a crate because
//! the crates on offer either evaluate helpers (Handlebars, even in strict mode, is not
//! logic-less), read partials from the file system (`mustache`), or need compile-time data types
//! (`ramhorns`). The subset:
//!
//! - `{{name}}` and dotted `{{a.b}}`: the variable's value, **not HTML-escaped** (prompts are not
//!   HTML; escaping would corrupt `<`, `&` and quotes sent to a model). Strings as they are,
//!   numbers and booleans as JSON text, arrays and objects as compact JSON, null or missing as
//!   nothing. `{{.}}` is the current item inside a section.
//! - `{{#name}}..{{/name}}` renders its body once for a truthy value, once per item of a list,
//!   with an object pushed as the context; `{{^name}}..{{/name}}` renders when the value is
//!   missing, false, null, empty string or empty list.
//! - `{{! comment }}` renders nothing.
//! - `{{> slug}}` inserts the organization's partial `slug`, resolved only from the partials the
//!   caller passes (never a file or a URL), at most [`MAX_PARTIAL_DEPTH`] deep so a partial that
//!   includes itself fails instead of looping.
//!
//! Everything else is an error (a 400 to callers), never executed: triple braces `{{{x}}}` and
//! `{{&x}}`, delimiter changes `{{=<% %>=}}`, helper-like tags with spaces (`{{#each items}}`,
//! `{{lookup a b}}`), unbalanced sections. Data are JSON, so lambdas cannot exist. Work is
//! bounded: template text by [`MAX_TEMPLATE_BYTES`], output by [`MAX_OUTPUT_BYTES`], and the
//! number of rendering steps by [`MAX_STEPS`] (nested loops over long lists that print nothing
//! would otherwise spin).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use uuid::Uuid;

/// Largest template text (one message, or one partial), in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 256 * 1024;
/// Largest rendered output (all messages together), in bytes.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;
/// Deepest partial nesting.
pub const MAX_PARTIAL_DEPTH: usize = 8;
/// Most rendering steps (nodes visited) for one render.
pub const MAX_STEPS: usize = 1_000_000;
/// Most messages in one prompt version.
pub const MAX_MESSAGES: usize = 256;
/// Most guardrails one version may name.
pub const MAX_GUARDRAILS: usize = 32;

/// Why a template could not be parsed or rendered. Every case is the caller's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// The template text is not valid in the supported subset.
    #[error("{0}")]
    Template(String),
    /// Variables do not match the version's schema.
    #[error("{0}")]
    Variables(String),
    /// Rendering would exceed a limit.
    #[error("{0}")]
    TooLarge(String),
}

/// One message of a prompt version; `content` is a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptMessage {
    /// `system`, `user`, `assistant` or `developer`.
    pub role: String,
    /// Template text.
    pub content: String,
}

/// How one variable is declared.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableSpec {
    /// Rendering fails when a required variable is not given.
    #[serde(default)]
    pub required: bool,
    /// Used when the variable is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// What the variable is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What a prompt version holds: messages, model, parameters and the variable schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptTemplate {
    /// Messages in order; each `content` is a template.
    pub messages: Vec<PromptMessage>,
    /// Model as the gateway addresses it (`provider/model` or an alias).
    pub model: String,
    /// Request parameters (temperature, max_tokens, ...) merged into the rendered request.
    pub parameters: Map<String, Value>,
    /// Declared variables by name.
    pub variables: BTreeMap<String, VariableSpec>,
    /// Ids of the organization's guardrails this version applies, besides the key's and the
    /// routing config's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<Uuid>,
}

const ROLES: [&str; 4] = ["system", "user", "assistant", "developer"];
/// Parameters a stored version may not set: the renderer owns them, or the caller decides.
const RESERVED_PARAMS: [&str; 3] = ["model", "messages", "stream"];

impl PromptTemplate {
    /// Checks the version: roles, non-empty model, every template parses, partial names exist
    /// in `partials`, no reserved parameter, at most [`MAX_GUARDRAILS`] distinct guardrails
    /// (whether they exist is the store's to check).
    pub fn validate(&self, partials: &HashMap<String, String>) -> Result<(), PromptError> {
        if self.messages.is_empty() || self.messages.len() > MAX_MESSAGES {
            return Err(PromptError::Template(format!(
                "messages: give 1 to {MAX_MESSAGES} messages"
            )));
        }
        if self.model.trim().is_empty() || self.model.len() > 200 {
            return Err(PromptError::Template(
                "model: must be 1 to 200 characters".into(),
            ));
        }
        for key in self.parameters.keys() {
            if RESERVED_PARAMS.contains(&key.as_str()) {
                return Err(PromptError::Template(format!(
                    "parameters.{key}: set by the prompt itself, not a parameter"
                )));
            }
        }
        let mut guardrails = self.guardrails.clone();
        guardrails.sort_unstable();
        guardrails.dedup();
        if guardrails.len() != self.guardrails.len() || guardrails.len() > MAX_GUARDRAILS {
            return Err(PromptError::Template(format!(
                "guardrails: name at most {MAX_GUARDRAILS} guardrails, each once"
            )));
        }
        for name in self.variables.keys() {
            check_name(name).map_err(|e| PromptError::Variables(format!("variables: {e}")))?;
        }
        for (i, m) in self.messages.iter().enumerate() {
            if !ROLES.contains(&m.role.as_str()) {
                return Err(PromptError::Template(format!(
                    "messages[{i}].role: must be one of {}",
                    ROLES.join(", ")
                )));
            }
            let nodes = parse(&m.content)
                .map_err(|e| PromptError::Template(format!("messages[{i}].content: {e}")))?;
            for name in partial_names(&nodes) {
                if !partials.contains_key(name) {
                    return Err(PromptError::Template(format!(
                        "messages[{i}].content: no partial named `{name}` in this organization"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Slugs of the partials the messages include directly (templates that do not parse
    /// include none).
    pub fn partials(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for m in &self.messages {
            if let Ok(nodes) = parse(&m.content) {
                out.extend(partial_names(&nodes).into_iter().map(str::to_owned));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The variables to render with: `given` checked against the schema (names outside it are
    /// refused, required ones must be there) with defaults filled in.
    pub fn bind(&self, given: &Map<String, Value>) -> Result<Map<String, Value>, PromptError> {
        let extra: Vec<&str> = given
            .keys()
            .filter(|k| !self.variables.contains_key(*k))
            .map(String::as_str)
            .collect();
        if !extra.is_empty() {
            return Err(PromptError::Variables(format!(
                "unknown variables: {}",
                extra.join(", ")
            )));
        }
        let mut out = given.clone();
        let mut missing = Vec::new();
        for (name, spec) in &self.variables {
            if out.contains_key(name) {
                continue;
            }
            match &spec.default {
                Some(d) => {
                    out.insert(name.clone(), d.clone());
                }
                None if spec.required => missing.push(name.as_str()),
                None => {}
            }
        }
        if !missing.is_empty() {
            return Err(PromptError::Variables(format!(
                "missing required variables: {}",
                missing.join(", ")
            )));
        }
        Ok(out)
    }

    /// Renders the version into an OpenAI chat request body: `model`, the parameters, and the
    /// messages with their templates filled in from `given` (see [`PromptTemplate::bind`]).
    pub fn render(
        &self,
        given: &Map<String, Value>,
        partials: &HashMap<String, String>,
    ) -> Result<Map<String, Value>, PromptError> {
        let vars = Value::Object(self.bind(given)?);
        let mut budget = Budget {
            steps: 0,
            output: 0,
        };
        let mut messages = Vec::with_capacity(self.messages.len());
        for (i, m) in self.messages.iter().enumerate() {
            let nodes = parse(&m.content)
                .map_err(|e| PromptError::Template(format!("messages[{i}].content: {e}")))?;
            let mut out = String::new();
            let mut r = Renderer {
                partials,
                budget: &mut budget,
            };
            r.nodes(&nodes, &mut vec![&vars], &mut out, 0)?;
            messages.push(serde_json::json!({"role": m.role, "content": out}));
        }
        let mut body = self.parameters.clone();
        body.insert("model".into(), Value::String(self.model.clone()));
        body.insert("messages".into(), Value::Array(messages));
        Ok(body)
    }
}

/// Slugs of the partials a partial's text includes directly (none when it does not parse).
pub fn partials_of(content: &str) -> Vec<String> {
    parse(content)
        .map(|nodes| {
            partial_names(&nodes)
                .into_iter()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Checks a partial's text: it parses, and every partial it names exists in `partials`.
pub fn validate_partial(
    content: &str,
    partials: &HashMap<String, String>,
) -> Result<(), PromptError> {
    let nodes = parse(content).map_err(PromptError::Template)?;
    for name in partial_names(&nodes) {
        if !partials.contains_key(name) {
            return Err(PromptError::Template(format!(
                "no partial named `{name}` in this organization"
            )));
        }
    }
    Ok(())
}

#[derive(Debug, PartialEq)]
enum Node {
    Text(String),
    Var(String),
    Section {
        name: String,
        inverted: bool,
        body: Vec<Node>,
    },
    Partial(String),
}

fn partial_names(nodes: &[Node]) -> Vec<&str> {
    let mut out = Vec::new();
    for n in nodes {
        match n {
            Node::Partial(p) => out.push(p.as_str()),
            Node::Section { body, .. } => out.extend(partial_names(body)),
            Node::Text(_) | Node::Var(_) => {}
        }
    }
    out
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && (name == "."
            || name.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            }));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a variable name (letters, digits, `_`, `-`, dotted paths)"
        ))
    }
}

/// Parses template text into nodes; the error says what is wrong and where.
fn parse(src: &str) -> Result<Vec<Node>, String> {
    if src.len() > MAX_TEMPLATE_BYTES {
        return Err(format!(
            "template of {} bytes is more than the {MAX_TEMPLATE_BYTES} allowed",
            src.len()
        ));
    }
    // Stack of open sections: (name, inverted, nodes collected before it opened).
    let mut stack: Vec<(String, bool, Vec<Node>)> = Vec::new();
    let mut nodes = Vec::new();
    let mut rest = src;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            nodes.push(Node::Text(rest[..start].to_owned()));
        }
        let at = offset + start;
        let after = &rest[start + 2..];
        if after.starts_with('{') {
            return Err(format!(
                "triple braces at byte {at} are not supported (variables are never escaped; use {{{{name}}}})"
            ));
        }
        let Some(end) = after.find("}}") else {
            return Err(format!("tag opened at byte {at} is never closed"));
        };
        let tag = &after[..end];
        let consumed = start + 2 + end + 2;
        rest = &rest[consumed..];
        offset += consumed;
        let (sigil, name) = match tag.chars().next() {
            Some(c @ ('#' | '^' | '/' | '!' | '>' | '&' | '=')) => (Some(c), tag[1..].trim()),
            _ => (None, tag.trim()),
        };
        match sigil {
            Some('!') => continue,
            Some('&') => {
                return Err(format!(
                    "`{{{{&{name}}}}}` at byte {at} is not supported (variables are never escaped; use {{{{{name}}}}})"
                ));
            }
            Some('=') => {
                return Err(format!("delimiter changes at byte {at} are not supported"));
            }
            _ => {}
        }
        if name.contains(char::is_whitespace) {
            return Err(format!(
                "`{{{{{tag}}}}}` at byte {at}: helpers are not supported; templates are logic-less"
            ));
        }
        match sigil {
            Some('>') => {
                crate::Slug::parse(name).map_err(|_| {
                    format!("`{{{{> {name}}}}}` at byte {at}: partial names are slugs")
                })?;
                nodes.push(Node::Partial(name.to_owned()));
            }
            Some(c @ ('#' | '^')) => {
                check_name(name).map_err(|e| format!("at byte {at}: {e}"))?;
                if stack.len() >= 32 {
                    return Err(format!("sections nested too deep at byte {at}"));
                }
                stack.push((name.to_owned(), c == '^', std::mem::take(&mut nodes)));
            }
            Some('/') => {
                let Some((open, inverted, before)) = stack.pop() else {
                    return Err(format!(
                        "`{{{{/{name}}}}}` at byte {at} closes no open section"
                    ));
                };
                if open != name {
                    return Err(format!(
                        "`{{{{/{name}}}}}` at byte {at} closes `{open}`, which is still open"
                    ));
                }
                let body = std::mem::replace(&mut nodes, before);
                nodes.push(Node::Section {
                    name: open,
                    inverted,
                    body,
                });
            }
            _ => {
                check_name(name).map_err(|e| format!("at byte {at}: {e}"))?;
                nodes.push(Node::Var(name.to_owned()));
            }
        }
    }
    if !rest.is_empty() {
        nodes.push(Node::Text(rest.to_owned()));
    }
    if let Some((open, _, _)) = stack.last() {
        return Err(format!("section `{open}` is never closed"));
    }
    Ok(nodes)
}

struct Budget {
    steps: usize,
    output: usize,
}

struct Renderer<'a> {
    partials: &'a HashMap<String, String>,
    budget: &'a mut Budget,
}

fn lookup<'v>(stack: &[&'v Value], name: &str) -> Option<&'v Value> {
    let top = *stack.last()?;
    if name == "." {
        return Some(top);
    }
    let mut parts = name.split('.');
    let first = parts.next()?;
    // The first segment is looked up from the innermost context outwards (Mustache's rule).
    let mut value = stack.iter().rev().find_map(|v| v.get(first))?;
    for part in parts {
        value = value.get(part)?;
    }
    Some(value)
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Number(_) | Value::Object(_) => true,
    }
}

impl Renderer<'_> {
    fn push(&mut self, out: &mut String, s: &str) -> Result<(), PromptError> {
        self.budget.output += s.len();
        if self.budget.output > MAX_OUTPUT_BYTES {
            return Err(PromptError::TooLarge(format!(
                "the rendered prompt is more than {MAX_OUTPUT_BYTES} bytes"
            )));
        }
        out.push_str(s);
        Ok(())
    }

    fn step(&mut self) -> Result<(), PromptError> {
        self.budget.steps += 1;
        if self.budget.steps > MAX_STEPS {
            return Err(PromptError::TooLarge(format!(
                "rendering took more than {MAX_STEPS} steps"
            )));
        }
        Ok(())
    }

    fn nodes(
        &mut self,
        nodes: &[Node],
        stack: &mut Vec<&Value>,
        out: &mut String,
        depth: usize,
    ) -> Result<(), PromptError> {
        for node in nodes {
            self.step()?;
            match node {
                Node::Text(t) => self.push(out, t)?,
                Node::Var(name) => match lookup(stack, name) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) => self.push(out, s)?,
                    Some(other) => {
                        let mut text = String::new();
                        let _ = write!(text, "{other}");
                        self.push(out, &text)?;
                    }
                },
                Node::Section {
                    name,
                    inverted,
                    body,
                } => {
                    let value = lookup(stack, name);
                    let on = value.is_some_and(truthy);
                    if *inverted {
                        if !on {
                            self.nodes(body, stack, out, depth)?;
                        }
                        continue;
                    }
                    match value {
                        Some(Value::Array(items)) => {
                            for item in items {
                                // Each pass counts, or empty bodies over long lists would spin.
                                self.step()?;
                                stack.push(item);
                                let r = self.nodes(body, stack, out, depth);
                                stack.pop();
                                r?;
                            }
                        }
                        Some(v) if on => {
                            stack.push(v);
                            let r = self.nodes(body, stack, out, depth);
                            stack.pop();
                            r?;
                        }
                        _ => {}
                    }
                }
                Node::Partial(slug) => {
                    if depth >= MAX_PARTIAL_DEPTH {
                        return Err(PromptError::Template(format!(
                            "partials nest more than {MAX_PARTIAL_DEPTH} deep at `{slug}` (does a partial include itself?)"
                        )));
                    }
                    let Some(text) = self.partials.get(slug) else {
                        return Err(PromptError::Template(format!(
                            "no partial named `{slug}` in this organization"
                        )));
                    };
                    let parsed = parse(text)
                        .map_err(|e| PromptError::Template(format!("partial `{slug}`: {e}")))?;
                    self.nodes(&parsed, stack, out, depth + 1)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(content: &str, vars: Value, partials: &[(&str, &str)]) -> Result<String, PromptError> {
        let variables = vars
            .as_object()
            .map(|o| {
                o.keys()
                    .map(|k| (k.clone(), VariableSpec::default()))
                    .collect()
            })
            .unwrap_or_default();
        let t = PromptTemplate {
            messages: vec![PromptMessage {
                role: "user".into(),
                content: content.into(),
            }],
            model: "openai/gpt-4o-mini".into(),
            parameters: Map::new(),
            variables,
            guardrails: Vec::new(),
        };
        let partials = partials
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let vars = vars.as_object().cloned().unwrap_or_default();
        let body = t.render(&vars, &partials)?;
        Ok(body["messages"][0]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    #[test]
    fn variables_sections_and_comments_render() {
        let out = one(
            "Hi {{name}}{{! hidden }}! {{#items}}[{{.}}]{{/items}}{{^none}} none{{/none}} {{user.city}} {{n}}",
            json!({"name": "<Ada & co>", "items": ["a", "b"], "none": [], "user": {"city": "Paris"}, "n": 3}),
            &[],
        )
        .unwrap();
        assert_eq!(out, "Hi <Ada & co>! [a][b] none Paris 3");
    }

    #[test]
    fn sections_over_objects_push_context_and_see_outer_names() {
        let out = one(
            "{{#people}}{{name}} of {{team}};{{/people}}{{#flag}}yes{{/flag}}{{#off}}no{{/off}}",
            json!({"people": [{"name": "a"}, {"name": "b"}], "team": "t", "flag": true, "off": false}),
            &[],
        )
        .unwrap();
        assert_eq!(out, "a of t;b of t;yes");
    }

    #[test]
    fn partials_resolve_from_the_given_set_only() {
        let out = one(
            "{{> greet}}!",
            json!({"name": "Ada"}),
            &[("greet", "Hello {{name}}")],
        )
        .unwrap();
        assert_eq!(out, "Hello Ada!");
        let err = one("{{> /etc/passwd}}", json!({}), &[]).unwrap_err();
        assert!(err.to_string().contains("slugs"), "{err}");
        let err = one("{{> missing}}", json!({}), &[]).unwrap_err();
        assert!(
            err.to_string().contains("no partial named `missing`"),
            "{err}"
        );
    }

    #[test]
    fn recursive_partials_fail_at_the_depth_limit() {
        let err = one("{{> loop}}", json!({}), &[("loop", "x{{> loop}}")]).unwrap_err();
        assert!(err.to_string().contains("nest more than 8"), "{err}");
        let err = one("{{> a}}", json!({}), &[("a", "{{> b}}"), ("b", "{{> a}}")]).unwrap_err();
        assert!(err.to_string().contains("nest more than"), "{err}");
    }

    #[test]
    fn injection_attempts_fail_with_a_clear_error() {
        for (src, needle) in [
            ("{{{name}}}", "triple braces"),
            ("{{&name}}", "not supported"),
            ("{{=<% %>=}}", "delimiter"),
            ("{{#each items}}x{{/each}}", "helpers"),
            ("{{lookup . 'constructor'}}", "helpers"),
            ("{{#if admin}}x{{/if}}", "helpers"),
            ("{{name", "never closed"),
            ("{{#a}}x", "never closed"),
            ("{{#a}}x{{/b}}", "still open"),
            ("{{/a}}", "closes no open section"),
            ("{{constructor.constructor('x')()}}", "not a variable name"),
        ] {
            let err = one(src, json!({"name": "x"}), &[]).unwrap_err();
            assert!(err.to_string().contains(needle), "{src}: {err}");
        }
    }

    #[test]
    fn values_that_look_like_templates_render_literally() {
        let out = one(
            "{{name}}",
            json!({"name": "{{#x}}{{> secret}}{{{y}}}{{/x}}"}),
            &[("secret", "SECRET")],
        )
        .unwrap();
        assert_eq!(out, "{{#x}}{{> secret}}{{{y}}}{{/x}}");
    }

    #[test]
    fn huge_inputs_and_runaway_loops_are_bounded() {
        let big = "a".repeat(MAX_TEMPLATE_BYTES + 1);
        assert!(matches!(
            one(&big, json!({}), &[]),
            Err(PromptError::Template(_))
        ));
        let long: Vec<u32> = (0..2000).collect();
        let err = one(
            "{{#l}}{{#l}}{{name}}{{/l}}{{/l}}",
            json!({"l": long, "name": "x".repeat(1000)}),
            &[],
        )
        .unwrap_err();
        assert!(matches!(err, PromptError::TooLarge(_)), "{err}");
        let err = one(
            "{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}",
            json!({"l": long}),
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("steps"), "{err}");
    }

    #[test]
    fn schema_refuses_extras_requires_and_fills_defaults() {
        let mut variables = BTreeMap::new();
        variables.insert(
            "name".to_owned(),
            VariableSpec {
                required: true,
                ..Default::default()
            },
        );
        variables.insert(
            "tone".to_owned(),
            VariableSpec {
                default: Some(json!("kind")),
                ..Default::default()
            },
        );
        let t = PromptTemplate {
            messages: vec![PromptMessage {
                role: "system".into(),
                content: "Be {{tone}} to {{name}}".into(),
            }],
            model: "openai/gpt-4o-mini".into(),
            parameters: json!({"temperature": 0.2}).as_object().cloned().unwrap(),
            variables,
            guardrails: Vec::new(),
        };
        t.validate(&HashMap::new()).unwrap();
        let given = |v: Value| v.as_object().cloned().unwrap();
        let body = t
            .render(&given(json!({"name": "Ada"})), &HashMap::new())
            .unwrap();
        assert_eq!(
            Value::Object(body),
            json!({"model": "openai/gpt-4o-mini", "temperature": 0.2,
                   "messages": [{"role": "system", "content": "Be kind to Ada"}]})
        );
        let err = t.render(&given(json!({})), &HashMap::new()).unwrap_err();
        assert_eq!(err.to_string(), "missing required variables: name");
        let err = t
            .render(
                &given(json!({"name": "a", "zz": 1, "aa": 2})),
                &HashMap::new(),
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "unknown variables: aa, zz");
    }

    #[test]
    fn validate_checks_roles_partials_and_reserved_parameters() {
        let mut t = PromptTemplate {
            messages: vec![PromptMessage {
                role: "user".into(),
                content: "{{> p}}".into(),
            }],
            model: "m".into(),
            parameters: Map::new(),
            variables: BTreeMap::new(),
            guardrails: Vec::new(),
        };
        assert!(t.validate(&HashMap::new()).is_err());
        assert_eq!(t.partials(), vec!["p".to_owned()]);
        assert_eq!(partials_of("{{#a}}{{> q}}{{/a}}{{> p}}"), vec!["q", "p"]);
        let partials = HashMap::from([("p".to_owned(), "x".to_owned())]);
        t.validate(&partials).unwrap();
        t.parameters.insert("stream".into(), json!(true));
        assert!(t.validate(&partials).is_err());
        t.parameters.clear();
        t.messages[0].role = "tool".into();
        assert!(t.validate(&partials).is_err());
        t.messages[0].role = "user".into();
        let g = Uuid::now_v7();
        t.guardrails = vec![g, g];
        assert!(t.validate(&partials).is_err(), "a guardrail named twice");
        t.guardrails = (0..=MAX_GUARDRAILS).map(|_| Uuid::now_v7()).collect();
        assert!(t.validate(&partials).is_err(), "too many guardrails");
        t.guardrails.truncate(2);
        t.validate(&partials).unwrap();
    }
}

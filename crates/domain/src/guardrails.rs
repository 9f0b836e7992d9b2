//! Guardrails: versioned lists of checks the gateway runs on a request's text before the
//! upstream call (`on: input`) and on the answer before the client sees it (`on: output`).
//!
//! A guardrail definition is JSON:
//!
//! ```json
//! {"version": 1, "checks": [
//!   {"id": "no-pii", "on": "input", "action": "redact", "check": {"type": "pii"}},
//!   {"id": "short", "on": "output", "action": "deny",
//!    "check": {"type": "length", "unit": "words", "max": 200}}
//! ]}
//! ```
//!
//! Check types: `regex` (`mode` `match` fails when the pattern matches, `not_match` when it does
//! not), `words` (case-insensitive words or phrases on word boundaries), `pii` (`kinds` among
//! `email`, `phone`, `credit_card` (Luhn-checked), `iban` (mod-97-checked), `ssn` (US),
//! `ip` (v4 and v6), `secret` (provider and Keyway keys, bearer tokens); all by default),
//! `json_schema` (the text is JSON valid against `schema`; remote `$ref`s are never fetched),
//! `json_keys` (the text is a JSON object holding every key), `length` (`unit` `chars`, `words`
//! or `tokens` (approximated as 4 characters each), `min`/`max`), `models` (the request's model
//! is one of `allowed`), `charset` (`allowed` `ascii` or `latin`), and `injection` (the
//! prompt-injection phrases of [`INJECTION_PHRASES`], each with a weight; fails when the summed
//! weight of the phrases found reaches `threshold`, 1.0 by default).
//!
//! `webhook` (`url`, `timeout_ms`: the gateway POSTs `{"guardrail", "check", "on", "model",
//! "text"}` and reads `{"passed": bool, "details": "..."}`; an unreachable, slow or malformed
//! answer fails the check; [`Guardrail::run`] leaves webhooks to the caller, which owns the
//! network: see [`Guardrail::webhooks`]).
//!
//! Actions: `deny` refuses the request (HTTP 446), `flag` lets it pass and reports the verdict,
//! `redact` rewrites the matched text (`regex` with mode `match`, `words` and `pii` only).
//! Verdicts name the check and say what was found, never the matched text itself.
//!
//! Errors name the JSON path they are about (`checks[1].check.max: must be >= min`).

use crate::routing::{ConfigError, ConfigErrors};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

/// The only definition version this gateway reads.
pub const SCHEMA_VERSION: u32 = 1;
/// Most checks in one guardrail.
pub const MAX_CHECKS: usize = 64;
/// Largest compiled size of one regex (bytes).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Longest regex pattern (characters).
pub const MAX_PATTERN_LEN: usize = 2_000;
/// Most entries in a word list.
pub const MAX_WORDS: usize = 2_000;

/// Where a check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// On the request's message text, before the upstream call.
    Input,
    /// On the answer's text, before it reaches the client.
    Output,
}

/// What a failed check does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Refuse the request.
    Deny,
    /// Let it pass and report the verdict.
    Flag,
    /// Rewrite the matched text.
    Redact,
}

impl Action {
    /// The action's name as written in definitions.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deny => "deny",
            Action::Flag => "flag",
            Action::Redact => "redact",
        }
    }
}

/// Whether a regex check fails on a match or on its absence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegexMode {
    /// Fails when the pattern matches.
    #[default]
    Match,
    /// Fails when the pattern does not match.
    NotMatch,
}

/// Kinds of personal data and secrets the `pii` check finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// E-mail addresses.
    Email,
    /// Phone numbers (international or North American forms).
    Phone,
    /// Payment card numbers passing the Luhn check.
    CreditCard,
    /// IBANs passing the mod-97 check.
    Iban,
    /// US social security numbers.
    Ssn,
    /// IPv4 and IPv6 addresses.
    Ip,
    /// API keys, Keyway keys and bearer tokens.
    Secret,
}

impl PiiKind {
    const ALL: [PiiKind; 7] = [
        PiiKind::Secret,
        PiiKind::Email,
        PiiKind::Iban,
        PiiKind::CreditCard,
        PiiKind::Ssn,
        PiiKind::Ip,
        PiiKind::Phone,
    ];

    fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::CreditCard => "credit_card",
            PiiKind::Iban => "iban",
            PiiKind::Ssn => "ssn",
            PiiKind::Ip => "ip",
            PiiKind::Secret => "secret",
        }
    }
}

/// Units of the `length` check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthUnit {
    /// Unicode scalar values.
    #[default]
    Chars,
    /// Whitespace-separated words.
    Words,
    /// Approximate tokens (4 characters each, rounded up).
    Tokens,
}

/// Character sets of the `charset` check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Charset {
    /// ASCII only.
    Ascii,
    /// Latin script (ASCII, Latin-1 and Latin Extended), general punctuation and whitespace.
    Latin,
}

/// One check's parameters, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CheckSpec {
    /// A regular expression.
    Regex {
        /// The pattern (Rust `regex` syntax).
        pattern: String,
        /// Fail on a match or on its absence.
        #[serde(default)]
        mode: RegexMode,
    },
    /// Words or phrases, case-insensitive, on word boundaries.
    Words {
        /// The list.
        words: Vec<String>,
    },
    /// Personal data and secrets.
    Pii {
        /// Kinds to look for; empty means all.
        #[serde(default)]
        kinds: Vec<PiiKind>,
    },
    /// The text is JSON valid against a JSON Schema (remote `$ref`s are not fetched).
    JsonSchema {
        /// The schema.
        schema: serde_json::Value,
    },
    /// The text is a JSON object with these keys.
    JsonKeys {
        /// Required top-level keys.
        keys: Vec<String>,
    },
    /// Length bounds.
    Length {
        /// What is counted.
        #[serde(default)]
        unit: LengthUnit,
        /// Fewest allowed.
        #[serde(default)]
        min: Option<u64>,
        /// Most allowed.
        #[serde(default)]
        max: Option<u64>,
    },
    /// Models the request may name.
    Models {
        /// Allowed model names as the request names them.
        allowed: Vec<String>,
    },
    /// Allowed characters.
    Charset {
        /// The set.
        allowed: Charset,
    },
    /// A verdict from the customer's service: the gateway POSTs
    /// `{"guardrail", "check", "on", "model", "text"}` to `url` and reads `{"passed", "details"}`.
    Webhook {
        /// `http(s)://` URL, called through the gateway's SSRF-safe client.
        url: String,
        /// How long the whole call may take.
        #[serde(default = "default_webhook_timeout")]
        timeout_ms: u64,
    },
    /// Prompt-injection heuristics.
    Injection {
        /// Summed phrase weight at which the check fails.
        #[serde(default = "default_threshold")]
        threshold: f64,
    },
}

fn default_threshold() -> f64 {
    1.0
}

fn default_webhook_timeout() -> u64 {
    3_000
}

/// Longest webhook timeout (milliseconds).
pub const MAX_WEBHOOK_TIMEOUT_MS: u64 = 10_000;

impl CheckSpec {
    fn type_name(&self) -> &'static str {
        match self {
            CheckSpec::Regex { .. } => "regex",
            CheckSpec::Words { .. } => "words",
            CheckSpec::Pii { .. } => "pii",
            CheckSpec::JsonSchema { .. } => "json_schema",
            CheckSpec::JsonKeys { .. } => "json_keys",
            CheckSpec::Length { .. } => "length",
            CheckSpec::Models { .. } => "models",
            CheckSpec::Charset { .. } => "charset",
            CheckSpec::Injection { .. } => "injection",
            CheckSpec::Webhook { .. } => "webhook",
        }
    }

    fn redactable(&self) -> bool {
        matches!(
            self,
            CheckSpec::Regex {
                mode: RegexMode::Match,
                ..
            } | CheckSpec::Words { .. }
                | CheckSpec::Pii { .. }
        )
    }
}

/// One check as written in a definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDef {
    /// Name, unique in the guardrail; verdicts carry it.
    pub id: String,
    /// Where it runs.
    pub on: Stage,
    /// What a failure does.
    pub action: Action,
    /// What is checked.
    pub check: CheckSpec,
}

/// A guardrail definition as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Schema version, [`SCHEMA_VERSION`].
    pub version: u32,
    /// The checks, run in order.
    pub checks: Vec<CheckDef>,
}

/// A compiled check.
#[derive(Debug, Clone)]
enum Compiled {
    Regex(Regex, RegexMode),
    Words(Regex),
    Pii(Vec<PiiKind>),
    JsonSchema(Schema),
    JsonKeys(Vec<String>),
    Length(LengthUnit, Option<u64>, Option<u64>),
    Models(Vec<String>),
    Charset(Charset),
    Injection(f64),
    Webhook(Webhook),
}

/// A webhook check: run by the caller, which owns the network ([`Guardrail::webhooks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The check's id.
    pub check: String,
    /// What a failure does (`deny` or `flag`).
    pub action: Action,
    /// Where to POST.
    pub url: String,
    /// How long the whole call may take.
    pub timeout: std::time::Duration,
}

/// A compiled JSON Schema.
#[derive(Clone)]
struct Schema(Arc<jsonschema::Validator>);

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schema")
    }
}

#[derive(Debug, Clone)]
struct Check {
    id: String,
    on: Stage,
    action: Action,
    kind: &'static str,
    compiled: Compiled,
}

/// A guardrail that parsed, validated and compiled: ready to run.
#[derive(Debug, Clone)]
pub struct Guardrail {
    checks: Vec<Check>,
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The guardrail it belongs to (its slug), when the caller names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrail: Option<String>,
    /// The check's id.
    pub check: String,
    /// The check's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where it ran.
    pub on: Stage,
    /// Whether the text passed.
    pub passed: bool,
    /// The check's action (taken only when it failed).
    pub action: Action,
    /// What was found, never the matched text itself.
    pub details: String,
}

fn push(errors: &mut Vec<ConfigError>, path: String, message: impl Into<String>) {
    errors.push(ConfigError {
        path,
        message: message.into(),
    });
}

impl Guardrail {
    /// Parses, validates and compiles a definition.
    pub fn parse(value: &serde_json::Value) -> Result<Self, ConfigErrors> {
        let def: Definition = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            ConfigErrors(vec![ConfigError {
                path,
                message: e.inner().to_string(),
            }])
        })?;
        Self::compile(&def)
    }

    /// Validates and compiles a parsed definition.
    pub fn compile(def: &Definition) -> Result<Self, ConfigErrors> {
        let mut errors = Vec::new();
        if def.version != SCHEMA_VERSION {
            push(
                &mut errors,
                "version".into(),
                format!("must be {SCHEMA_VERSION}"),
            );
        }
        if def.checks.len() > MAX_CHECKS {
            push(
                &mut errors,
                "checks".into(),
                format!("at most {MAX_CHECKS} checks"),
            );
        }
        let mut checks = Vec::with_capacity(def.checks.len());
        for (i, c) in def.checks.iter().enumerate() {
            let at = |field: &str| format!("checks[{i}].{field}");
            // Ids travel in a response header: keep them to header-safe characters.
            let id_ok = |ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.');
            if c.id.is_empty() || c.id.len() > 100 || !c.id.chars().all(id_ok) {
                push(
                    &mut errors,
                    at("id"),
                    "must be 1 to 100 letters, digits, `-`, `_` or `.`",
                );
            } else if def.checks[..i].iter().any(|o| o.id == c.id) {
                push(&mut errors, at("id"), "is used by an earlier check");
            }
            if c.action == Action::Redact && !c.check.redactable() {
                push(
                    &mut errors,
                    at("action"),
                    format!(
                        "`redact` applies to regex (mode match), words and pii checks, not {}",
                        c.check.type_name()
                    ),
                );
            }
            if let CheckSpec::Webhook { url, timeout_ms } = &c.check {
                if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2_000
                {
                    push(
                        &mut errors,
                        at("check.url"),
                        "must be an http(s):// URL of at most 2000 characters",
                    );
                }
                if *timeout_ms == 0 || *timeout_ms > MAX_WEBHOOK_TIMEOUT_MS {
                    push(
                        &mut errors,
                        at("check.timeout_ms"),
                        format!("must be 1 to {MAX_WEBHOOK_TIMEOUT_MS}"),
                    );
                }
                checks.push(Check {
                    id: c.id.clone(),
                    on: c.on,
                    action: c.action,
                    kind: c.check.type_name(),
                    compiled: Compiled::Webhook(Webhook {
                        check: c.id.clone(),
                        action: c.action,
                        url: url.clone(),
                        timeout: std::time::Duration::from_millis(*timeout_ms),
                    }),
                });
            } else if let Some(compiled) = compile_spec(&c.check, &at, &mut errors) {
                checks.push(Check {
                    id: c.id.clone(),
                    on: c.on,
                    action: c.action,
                    kind: c.check.type_name(),
                    compiled,
                });
            }
        }
        if errors.is_empty() {
            Ok(Guardrail { checks })
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Whether any check runs at `stage`.
    pub fn has(&self, stage: Stage) -> bool {
        self.checks.iter().any(|c| c.on == stage)
    }

    /// The webhook checks of `stage`, in order; [`Guardrail::run`] leaves them to the caller.
    pub fn webhooks(&self, stage: Stage) -> Vec<Webhook> {
        self.checks
            .iter()
            .filter(|c| c.on == stage)
            .filter_map(|c| match &c.compiled {
                Compiled::Webhook(hook) => Some(hook.clone()),
                _ => None,
            })
            .collect()
    }

    /// Runs the checks of `stage` in order (webhooks excepted) on `texts` (the text parts of a request or answer),
    /// rewriting them where a `redact` check failed. Checks that redact look at each part;
    /// the others at all parts joined by newlines. `model` is the model the request names.
    pub fn run(&self, stage: Stage, texts: &mut [String], model: &str) -> Vec<Verdict> {
        let mut verdicts = Vec::new();
        let local = |c: &&Check| c.on == stage && !matches!(c.compiled, Compiled::Webhook(_));
        for check in self.checks.iter().filter(local) {
            let found = if check.action == Action::Redact {
                let mut total = Findings::default();
                for text in texts.iter_mut() {
                    let found = evaluate(&check.compiled, text, model);
                    if let Some(redacted) = found.redacted(text) {
                        *text = redacted;
                    }
                    total.merge(found);
                }
                total
            } else {
                evaluate(&check.compiled, &texts.join("\n"), model)
            };
            verdicts.push(Verdict {
                guardrail: None,
                check: check.id.clone(),
                kind: check.kind.to_owned(),
                on: stage,
                passed: found.failure.is_none(),
                action: check.action,
                details: found.failure.unwrap_or_else(|| "passed".to_owned()),
            });
        }
        verdicts
    }
}

/// The stored guardrail ids a routing config's `input_guardrails` / `output_guardrails` list
/// names (entries that are UUID strings). Portkey's other forms (inline checks, its own ids) are
/// kept by the config but not run.
pub fn named_ids(list: Option<&serde_json::Value>) -> Vec<uuid::Uuid> {
    let Some(serde_json::Value::Array(entries)) = list else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| e.as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()))
        .collect()
}

fn compile_spec(
    spec: &CheckSpec,
    at: &dyn Fn(&str) -> String,
    errors: &mut Vec<ConfigError>,
) -> Option<Compiled> {
    match spec {
        CheckSpec::Regex { pattern, mode } => {
            if pattern.chars().count() > MAX_PATTERN_LEN {
                push(
                    errors,
                    at("check.pattern"),
                    format!("at most {MAX_PATTERN_LEN} characters"),
                );
                return None;
            }
            match build_regex(pattern) {
                Ok(re) => Some(Compiled::Regex(re, *mode)),
                Err(e) => {
                    push(errors, at("check.pattern"), format!("invalid regex: {e}"));
                    None
                }
            }
        }
        CheckSpec::Words { words } => {
            if words.is_empty() || words.len() > MAX_WORDS {
                push(
                    errors,
                    at("check.words"),
                    format!("must hold 1 to {MAX_WORDS} entries"),
                );
                return None;
            }
            if let Some(j) = words.iter().position(|w| w.trim().is_empty()) {
                push(
                    errors,
                    at(&format!("check.words[{j}]")),
                    "must not be blank",
                );
                return None;
            }
            let alternatives: Vec<String> = words
                .iter()
                .map(|w| {
                    w.split_whitespace()
                        .map(regex::escape)
                        .collect::<Vec<_>>()
                        .join(r"\s+")
                })
                .collect();
            let pattern = format!(r"(?i)\b(?:{})\b", alternatives.join("|"));
            match build_regex(&pattern) {
                Ok(re) => Some(Compiled::Words(re)),
                Err(e) => {
                    push(errors, at("check.words"), format!("list too large: {e}"));
                    None
                }
            }
        }
        CheckSpec::Pii { kinds } => {
            let mut kinds = if kinds.is_empty() {
                PiiKind::ALL.to_vec()
            } else {
                kinds.clone()
            };
            kinds.sort();
            kinds.dedup();
            Some(Compiled::Pii(kinds))
        }
        // Schema patterns use the linear-time `regex` engine, size-limited like regex checks.
        CheckSpec::JsonSchema { schema } => match jsonschema::options()
            .with_pattern_options(jsonschema::PatternOptions::regex().size_limit(REGEX_SIZE_LIMIT))
            .build(schema)
        {
            Ok(validator) => Some(Compiled::JsonSchema(Schema(Arc::new(validator)))),
            Err(e) => {
                push(
                    errors,
                    at("check.schema"),
                    format!("invalid JSON Schema: {e}"),
                );
                None
            }
        },
        CheckSpec::JsonKeys { keys } => {
            if keys.is_empty() {
                push(errors, at("check.keys"), "must name at least one key");
                return None;
            }
            Some(Compiled::JsonKeys(keys.clone()))
        }
        CheckSpec::Length { unit, min, max } => {
            match (min, max) {
                (None, None) => push(errors, at("check"), "needs `min` or `max`"),
                (Some(lo), Some(hi)) if hi < lo => push(errors, at("check.max"), "must be >= min"),
                _ => return Some(Compiled::Length(*unit, *min, *max)),
            }
            None
        }
        CheckSpec::Models { allowed } => {
            if allowed.is_empty() {
                push(errors, at("check.allowed"), "must name at least one model");
                return None;
            }
            Some(Compiled::Models(allowed.clone()))
        }
        CheckSpec::Charset { allowed } => Some(Compiled::Charset(*allowed)),
        // Validated and compiled by the caller (it needs the check's id and action).
        CheckSpec::Webhook { .. } => None,
        CheckSpec::Injection { threshold } => {
            if !threshold.is_finite() || *threshold <= 0.0 {
                push(errors, at("check.threshold"), "must be a number > 0");
                return None;
            }
            Some(Compiled::Injection(*threshold))
        }
    }
}

fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// What one check found in a text: why it failed (if it did) and the byte ranges to redact.
#[derive(Debug, Default)]
struct Findings {
    failure: Option<String>,
    ranges: Vec<(Range<usize>, &'static str)>,
}

impl Findings {
    fn fail(details: impl Into<String>) -> Self {
        Findings {
            failure: Some(details.into()),
            ranges: Vec::new(),
        }
    }

    /// `text` with every range replaced by its label; `None` when nothing is to be replaced.
    fn redacted(&self, text: &str) -> Option<String> {
        if self.ranges.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (range, label) in &self.ranges {
            out.push_str(&text[at..range.start]);
            let _ = write!(out, "[REDACTED_{}]", label.to_ascii_uppercase());
            at = range.end;
        }
        out.push_str(&text[at..]);
        Some(out)
    }

    fn merge(&mut self, other: Findings) {
        match (&mut self.failure, other.failure) {
            (None, Some(f)) => self.failure = Some(f),
            (Some(mine), Some(f)) if *mine != f => {
                mine.push_str("; ");
                mine.push_str(&f);
            }
            _ => {}
        }
    }
}

fn evaluate(compiled: &Compiled, text: &str, model: &str) -> Findings {
    match compiled {
        Compiled::Regex(re, RegexMode::Match) => matches_of(re, text, "match", "pattern"),
        Compiled::Regex(re, RegexMode::NotMatch) => {
            if re.is_match(text) {
                Findings::default()
            } else {
                Findings::fail("required pattern not found")
            }
        }
        Compiled::Words(re) => matches_of(re, text, "word", "listed word or phrase"),
        Compiled::Pii(kinds) => pii(kinds, text),
        Compiled::JsonSchema(schema) => json_schema(&schema.0, text),
        Compiled::JsonKeys(keys) => json_keys(keys, text),
        Compiled::Length(unit, min, max) => {
            let (n, name) = match unit {
                LengthUnit::Chars => (text.chars().count() as u64, "characters"),
                LengthUnit::Words => (text.split_whitespace().count() as u64, "words"),
                LengthUnit::Tokens => (approx_tokens(text), "tokens (approx.)"),
            };
            match (min, max) {
                (Some(lo), _) if n < *lo => Findings::fail(format!("{n} {name}, fewer than {lo}")),
                (_, Some(hi)) if n > *hi => Findings::fail(format!("{n} {name}, more than {hi}")),
                _ => Findings::default(),
            }
        }
        Compiled::Models(allowed) => {
            if allowed.iter().any(|m| m == model) {
                Findings::default()
            } else {
                Findings::fail("model not allowed by this guardrail")
            }
        }
        Compiled::Charset(set) => {
            let bad = text.chars().filter(|c| !in_charset(*set, *c)).count();
            if bad == 0 {
                Findings::default()
            } else {
                Findings::fail(format!("{bad} characters outside the allowed set"))
            }
        }
        Compiled::Injection(threshold) => injection(*threshold, text),
        // Never evaluated here: the caller runs webhooks (`Guardrail::webhooks`).
        Compiled::Webhook(_) => Findings::default(),
    }
}

fn matches_of(re: &Regex, text: &str, label: &'static str, what: &str) -> Findings {
    let ranges: Vec<_> = re.find_iter(text).map(|m| (m.range(), label)).collect();
    if ranges.is_empty() {
        return Findings::default();
    }
    Findings {
        failure: Some(format!("{} × {what}", ranges.len())),
        ranges,
    }
}

/// Approximate token count: 4 characters per token, rounded up.
pub fn approx_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

fn in_charset(set: Charset, c: char) -> bool {
    match set {
        Charset::Ascii => c.is_ascii(),
        Charset::Latin => {
            c.is_ascii()
                || c.is_whitespace()
                || matches!(c, '\u{00A0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}' | '\u{2000}'..='\u{206F}' | '\u{20A0}'..='\u{20CF}')
        }
    }
}

fn json_schema(validator: &jsonschema::Validator, text: &str) -> Findings {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text.trim()) else {
        return Findings::fail("not valid JSON");
    };
    // Paths only: a validation message could quote the text itself.
    let paths: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| {
            let path = e.instance_path().to_string();
            if path.is_empty() {
                "/".to_owned()
            } else {
                path
            }
        })
        .collect();
    if paths.is_empty() {
        return Findings::default();
    }
    let mut shown: Vec<&str> = paths.iter().map(String::as_str).take(5).collect();
    shown.dedup();
    Findings::fail(format!(
        "{} schema violation(s) at {}",
        paths.len(),
        shown.join(", ")
    ))
}

fn json_keys(keys: &[String], text: &str) -> Findings {
    let trimmed = text.trim();
    match serde_json::from_str::<serde_json::Value>(trimmed) {
        Ok(serde_json::Value::Object(map)) => {
            let missing: Vec<&str> = keys
                .iter()
                .filter(|k| !map.contains_key(k.as_str()))
                .map(String::as_str)
                .collect();
            if missing.is_empty() {
                Findings::default()
            } else {
                Findings::fail(format!("missing keys: {}", missing.join(", ")))
            }
        }
        Ok(_) => Findings::fail("not a JSON object"),
        Err(_) => Findings::fail("not valid JSON"),
    }
}

/// Prompt-injection phrases (case-insensitive regexes) and their weights. A text's score is the
/// sum of the weights of the phrases it contains.
pub const INJECTION_PHRASES: &[(&str, f64)] = &[
    (
        r"ignore\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|earlier)\s+(?:instructions|prompts|rules|directions)",
        1.0,
    ),
    (
        r"disregard\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|earlier|your)\s+(?:instructions|prompts|rules)",
        1.0,
    ),
    (
        r"forget\s+(?:all\s+|everything\s+)?(?:your|the|previous)\s+(?:instructions|rules|training)",
        0.8,
    ),
    (
        r"(?:reveal|show|print|repeat|output)\s+(?:me\s+)?(?:your|the)\s+(?:system\s+prompt|hidden\s+instructions|initial\s+instructions)",
        1.0,
    ),
    (r"you\s+are\s+now\s+(?:a|an|in)\b", 0.5),
    (r"\bDAN\b|do\s+anything\s+now", 0.6),
    (r"developer\s+mode|jailbreak", 0.6),
    (
        r"pretend\s+(?:that\s+)?you\s+(?:are|have)\s+no\s+(?:rules|restrictions|limits)",
        0.8,
    ),
    (
        r"act\s+as\s+if\s+you\s+have\s+no\s+(?:rules|restrictions|guidelines)",
        0.8,
    ),
    (r"new\s+instructions\s*:", 0.5),
    (r"</?\s*system\s*>|\[\s*system\s*\]", 0.5),
];

static INJECTION: LazyLock<Vec<(Regex, f64)>> = LazyLock::new(|| {
    INJECTION_PHRASES
        .iter()
        .filter_map(|(p, w)| {
            RegexBuilder::new(p)
                .case_insensitive(true)
                .build()
                .ok()
                .map(|re| (re, *w))
        })
        .collect()
});

fn injection(threshold: f64, text: &str) -> Findings {
    let (hits, score) = INJECTION
        .iter()
        .filter(|(re, _)| re.is_match(text))
        .fold((0, 0.0), |(n, s), (_, w)| (n + 1, s + w));
    if score >= threshold {
        Findings::fail(format!(
            "injection score {score:.2} >= {threshold:.2} ({hits} patterns)"
        ))
    } else {
        Findings::default()
    }
}

fn re(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

static EMAIL: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"));
static PHONE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(concat!(
        r"\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}\b",
        r"|\(\d{3}\)\s?\d{3}[\s.-]\d{4}\b",
        r"|\b\d{3}[\s.-]\d{3}[\s.-]\d{4}\b",
    ))
});
static CARD: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"\b(?:\d[ -]?){12,18}\d\b"));
static IBAN: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"));
static SSN: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"\b\d{3}-\d{2}-\d{4}\b"));
static IPV4: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"));
static IPV6: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"(?i)(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}"));
static SECRET: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(concat!(
        r"(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}",
        r"|\bsk-[A-Za-z0-9_-]{12,}",
        r"|\bkw-[A-Za-z0-9]{12,}",
        r"|\bAIza[0-9A-Za-z_-]{20,}",
        r"|\bAKIA[0-9A-Z]{16}\b",
        r"|\bgh[pousr]_[A-Za-z0-9]{20,}",
        r"|\bxox[abpr]-[A-Za-z0-9-]{10,}",
    ))
});

fn pii_regex(kind: PiiKind) -> Vec<&'static Regex> {
    let statics: &[&LazyLock<Option<Regex>>] = match kind {
        PiiKind::Email => &[&EMAIL],
        PiiKind::Phone => &[&PHONE],
        PiiKind::CreditCard => &[&CARD],
        PiiKind::Iban => &[&IBAN],
        PiiKind::Ssn => &[&SSN],
        PiiKind::Ip => &[&IPV4, &IPV6],
        PiiKind::Secret => &[&SECRET],
    };
    statics.iter().filter_map(|s| s.as_ref()).collect()
}

fn pii_valid(kind: PiiKind, found: &str) -> bool {
    match kind {
        PiiKind::CreditCard => luhn(found),
        PiiKind::Iban => iban_valid(found),
        PiiKind::Ssn => ssn_valid(found),
        PiiKind::Ip => found.parse::<std::net::IpAddr>().is_ok(),
        _ => true,
    }
}

fn pii(kinds: &[PiiKind], text: &str) -> Findings {
    // Most specific kinds claim their text first, so a card number is not also a phone.
    let mut ranges: Vec<(Range<usize>, &'static str)> = Vec::new();
    for kind in PiiKind::ALL.iter().filter(|k| kinds.contains(k)) {
        for regex in pii_regex(*kind) {
            for m in regex.find_iter(text) {
                let r = m.range();
                let overlaps = ranges
                    .iter()
                    .any(|(o, _)| o.start < r.end && r.start < o.end);
                if !overlaps && pii_valid(*kind, m.as_str()) {
                    ranges.push((r, kind.as_str()));
                }
            }
        }
    }
    if ranges.is_empty() {
        return Findings::default();
    }
    ranges.sort_by_key(|(r, _)| r.start);
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for (_, label) in &ranges {
        match counts.iter_mut().find(|(l, _)| l == label) {
            Some((_, n)) => *n += 1,
            None => counts.push((label, 1)),
        }
    }
    let summary: Vec<String> = counts.iter().map(|(l, n)| format!("{n} × {l}")).collect();
    Findings {
        failure: Some(format!("found {}", summary.join(", "))),
        ranges,
    }
}

/// Whether the digits of `number` (spaces and dashes ignored) pass the Luhn check and count 13
/// to 19.
pub fn luhn(number: &str) -> bool {
    let digits: Vec<u32> = number
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()
        .unwrap_or_default();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether `iban` (spaces ignored) passes the ISO 13616 mod-97 check.
pub fn iban_valid(iban: &str) -> bool {
    let compact: String = iban.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) || !compact.is_ascii() {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let value = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        rem = if value < 10 {
            (rem * 10 + value) % 97
        } else {
            (rem * 100 + value) % 97
        };
    }
    rem == 1
}

fn ssn_valid(ssn: &str) -> bool {
    let mut parts = ssn.split('-');
    let (Some(area), Some(group), Some(serial)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

#[cfg(test)]
mod tests;

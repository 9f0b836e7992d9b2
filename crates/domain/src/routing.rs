//! Routing configs: the schema behind `x-keyway-config` and a key's default config, and the pure
//! (no I/O) evaluation that turns a config plus one request into an ordered attempt [`Plan`].
//!
//! The schema accepts Portkey's config format as is: `strategy.mode` `single | fallback |
//! loadbalance | conditional`, nested `targets`, `weight`, `on_status_codes`, `retry {attempts,
//! on_status_codes, use_retry_after_header(s)}`, `override_params`, `request_timeout`, `cache`,
//! and conditions (`{"query": {...}, "then": "<target name>"}` plus `default`) with `$eq $ne $in
//! $nin $regex $gt $gte $lt $lte $and $or` on `metadata.*`, `params.*`, `headers.*` and
//! `url.pathname`. camelCase spellings of Portkey's keys are accepted too, as Portkey does.
//!
//! Keyway extensions: `race` (send to `count` targets at once, the first success wins), `hedge`
//! (start the next target after `delay_ms` if no answer yet), `canary` (the first target is the
//! stable one, the others take `percent` of traffic and fall back to the stable one), `timeouts`
//! (connect, first byte, total) and a per-request `budget`.
//!
//! Portkey target credentials map onto Keyway's stored provider credentials:
//! `provider: "@slug"` and `virtual_key: "slug"` name a credential slug; a bare `provider:
//! "openai"` names a credential slug too (Keyway's `<provider-slug>/<model>` convention);
//! `override_params.model: "@slug/model"` names both. Raw provider keys (`api_key`) and upstream
//! URLs (`custom_host`) parse but are refused by validation: Keyway only calls upstreams through
//! credentials stored (encrypted) in the control plane.
//!
//! [`RoutingConfig::parse`] deserializes and validates in one step; every error names the JSON
//! path it is about (`targets[1].weight: must be >= 0`).
//!
//! # Executing a plan
//! [`RoutingConfig::plan`] resolves everything that needs no I/O — conditions, weighted and
//! health-adjusted choices, canary draws, inherited settings — into a [`Plan`]: steps, each with
//! one attempt ([`StepKind::Single`]) or several run together ([`StepKind::Race`],
//! [`StepKind::Hedge`]). The gateway runs step 0; an attempt that fails is retried per its
//! [`RetryPolicy`] (only while nothing reached the client and the upstream did not process the
//! request); when the step has failed for good, [`Plan::next_after`] says which step to run next
//! (the enclosing fallbacks' `on_status_codes` decide) or `None` to answer with the failure. In a
//! race or hedge the first success wins and the other legs are cancelled.

use crate::Secret;
use crate::money::Usd;
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

/// Status codes Portkey retries on when `retry.on_status_codes` is not given.
pub const DEFAULT_RETRY_STATUS_CODES: [u16; 5] = [429, 500, 502, 503, 504];
/// Most retries one target may make (Portkey's documented cap).
pub const MAX_RETRY_ATTEMPTS: u32 = 5;
/// Separates a query's inner path from its message in a serde error.
const PATH_MARK: char = '\u{1}';
/// Deepest nesting of targets accepted.
pub const MAX_DEPTH: usize = 8;

/// One node of a config: the root config and every entry of `targets` share this shape.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Name conditions refer to (`then`, `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How the nested `targets` are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Nested targets; each may itself have a strategy and targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    /// `@credential-slug`, `@credential-slug/model`, or a bare provider / credential slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Portkey virtual key: in Keyway, a stored credential's slug.
    #[serde(default, alias = "virtualKey", skip_serializing_if = "Option::is_none")]
    pub virtual_key: Option<String>,
    /// A raw provider key. Parsed so Portkey configs load, refused by validation.
    #[serde(default, alias = "apiKey", skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret<String>>,
    /// An upstream URL. Parsed so Portkey configs load, refused by validation.
    #[serde(default, alias = "customHost", skip_serializing_if = "Option::is_none")]
    pub custom_host: Option<String>,
    /// Relative share in a `loadbalance` (default 1; 0 takes no traffic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Retries against this target before moving on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Request body fields to override (merged into nested targets, inner keys win).
    #[serde(
        default,
        alias = "overrideParams",
        skip_serializing_if = "Option::is_none"
    )]
    pub override_params: Option<Map<String, Value>>,
    /// Per-attempt timeout in milliseconds.
    #[serde(
        default,
        alias = "requestTimeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_timeout: Option<u64>,
    /// Response cache settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<Cache>,
    /// Caller headers to forward upstream.
    #[serde(
        default,
        alias = "forwardHeaders",
        skip_serializing_if = "Option::is_none"
    )]
    pub forward_headers: Option<Vec<String>>,
    /// Guardrails run on the input (kept opaque here; the guardrail schema owns it).
    #[serde(
        default,
        alias = "inputGuardrails",
        skip_serializing_if = "Option::is_none"
    )]
    pub input_guardrails: Option<Value>,
    /// Guardrails run on the output (opaque here).
    #[serde(
        default,
        alias = "outputGuardrails",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_guardrails: Option<Value>,
    /// Portkey's hook form of input guardrails (opaque here).
    #[serde(
        default,
        alias = "beforeRequestHooks",
        skip_serializing_if = "Option::is_none"
    )]
    pub before_request_hooks: Option<Value>,
    /// Portkey's hook form of output guardrails (opaque here).
    #[serde(
        default,
        alias = "afterRequestHooks",
        skip_serializing_if = "Option::is_none"
    )]
    pub after_request_hooks: Option<Value>,
    /// Keyway: share of traffic (0-100) for a non-first target of a `canary` strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Keyway: finer timeouts than `request_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
    /// Keyway: spending cap for one request routed through this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<RequestBudget>,
}

/// How a node uses its targets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    /// The strategy.
    pub mode: Mode,
    /// Status codes that move on to the next target (fallback, canary); any non-2xx when absent.
    #[serde(
        default,
        alias = "onStatusCodes",
        skip_serializing_if = "Option::is_none"
    )]
    pub on_status_codes: Option<Vec<u16>>,
    /// `conditional`: rules tried in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<ConditionRule>>,
    /// `conditional`: target name used when no rule matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Keyway `race`: how many targets run at once (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// Keyway `hedge`: milliseconds to wait before starting the next target.
    #[serde(default, alias = "delayMs", skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

/// Strategy modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The first (only) target.
    Single,
    /// Targets in order until one succeeds.
    Fallback,
    /// One target picked by weight (and health).
    Loadbalance,
    /// One target picked by the first matching condition.
    Conditional,
    /// Keyway: `count` targets at once; the first success wins, the rest are cancelled.
    Race,
    /// Keyway: the next target starts after `delay_ms` without an answer; first success wins.
    Hedge,
    /// Keyway: the first target is stable; the others take `percent` of traffic.
    Canary,
}

/// Retry settings of a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Retries after the first try (0-5).
    #[serde(default)]
    pub attempts: u32,
    /// Status codes retried; [`DEFAULT_RETRY_STATUS_CODES`] when absent.
    #[serde(
        default,
        alias = "onStatusCodes",
        skip_serializing_if = "Option::is_none"
    )]
    pub on_status_codes: Option<Vec<u16>>,
    /// Wait what the upstream's `retry-after(-ms)` says instead of the backoff.
    #[serde(
        default,
        alias = "use_retry_after_headers",
        alias = "useRetryAfterHeader",
        alias = "useRetryAfterHeaders",
        skip_serializing_if = "Option::is_none"
    )]
    pub use_retry_after_header: Option<bool>,
}

/// Cache settings of a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    /// Exact or semantic matching.
    pub mode: CacheMode,
    /// Entry lifetime in seconds.
    #[serde(default, alias = "maxAge", skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
}

/// Cache matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheMode {
    /// Exact request match.
    Simple,
    /// Embedding similarity within the org.
    Semantic,
}

/// Keyway timeouts, all in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// TCP + TLS connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<u64>,
    /// Until the upstream's response headers (or first stream byte).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_ms: Option<u64>,
    /// Whole attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_ms: Option<u64>,
}

/// Keyway per-request spending cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestBudget {
    /// Most one request may cost, in USD (all attempts together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    /// Most upstream attempts (retries, fallbacks, race and hedge legs) one request may make.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
}

/// One rule of a conditional strategy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionRule {
    /// The condition.
    pub query: Query,
    /// Target name used when it matches.
    pub then: String,
}

/// A compiled condition (MongoDB-style, as Portkey writes them).
#[derive(Debug, Clone)]
pub enum Query {
    /// All must match (`$and`, or several keys in one object).
    And(Vec<Query>),
    /// At least one must match (`$or`).
    Or(Vec<Query>),
    /// Operators applied to one field.
    Field {
        /// The field as written (`metadata.user_plan`).
        field: String,
        /// Every operator must hold.
        ops: Vec<Op>,
    },
}

/// A comparison operator.
#[derive(Debug, Clone)]
pub enum Op {
    /// `$eq` (also a bare value).
    Eq(Value),
    /// `$ne`; true when the field is missing.
    Ne(Value),
    /// `$in`.
    In(Vec<Value>),
    /// `$nin`; true when the field is missing.
    Nin(Vec<Value>),
    /// `$regex` (unanchored search).
    Regex(Regex),
    /// `$gt`.
    Gt(Value),
    /// `$gte`.
    Gte(Value),
    /// `$lt`.
    Lt(Value),
    /// `$lte`.
    Lte(Value),
}

/// A config error and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// JSON path, e.g. `targets[1].weight` (empty for the root).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every error found in a config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join("; "))
    }
}

/// A routing config that parsed and validated.
#[derive(Debug, Clone)]
pub struct RoutingConfig {
    root: Target,
}

impl RoutingConfig {
    /// Parses and validates a config from JSON text.
    pub fn parse(json: &str) -> Result<Self, ConfigErrors> {
        let de = &mut serde_json::Deserializer::from_str(json);
        Self::from_deserializer(de)
    }

    /// Parses and validates a config from a JSON value.
    pub fn from_value(value: Value) -> Result<Self, ConfigErrors> {
        Self::from_deserializer(value)
    }

    fn from_deserializer<'de, D: Deserializer<'de>>(de: D) -> Result<Self, ConfigErrors>
    where
        D::Error: fmt::Display,
    {
        let root: Target = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let mut path = if path == "." { String::new() } else { path };
            let mut message = e.into_inner().to_string();
            if let Some(rest) = message.strip_prefix(PATH_MARK)
                && let Some((inner, msg)) = rest.split_once(PATH_MARK)
            {
                if !inner.is_empty() {
                    path = child(&path, inner);
                }
                message = msg.to_owned();
            }
            if let Some(at) = message.rfind(" at line ") {
                message.truncate(at);
            }
            ConfigErrors(vec![ConfigError { path, message }])
        })?;
        let mut errors = Vec::new();
        validate(&root, "", 0, &mut errors);
        if errors.is_empty() {
            Ok(Self { root })
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The root node.
    pub fn root(&self) -> &Target {
        &self.root
    }

    /// The config as JSON (secrets masked).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(&self.root).unwrap_or(Value::Null)
    }

    /// The ordered attempt plan for one request. `chooser` supplies randomness and target health.
    pub fn plan(&self, ctx: &RequestContext, chooser: &mut dyn Chooser) -> Plan {
        let mut planner = Planner {
            ctx,
            chooser,
            steps: Vec::new(),
        };
        planner.expand(&self.root, "", &Inherited::default());
        Plan {
            steps: planner.steps,
            budget: self.root.budget,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

fn child(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn push(errors: &mut Vec<ConfigError>, path: String, message: impl Into<String>) {
    errors.push(ConfigError {
        path,
        message: message.into(),
    });
}

fn check_status_codes(codes: &[u16], path: &str, errors: &mut Vec<ConfigError>) {
    for (i, code) in codes.iter().enumerate() {
        if !(100..=599).contains(code) {
            push(
                errors,
                format!("{path}[{i}]"),
                "must be an HTTP status code (100-599)",
            );
        }
    }
}

fn validate(node: &Target, path: &str, depth: usize, errors: &mut Vec<ConfigError>) {
    if depth > MAX_DEPTH {
        push(
            errors,
            path.to_owned(),
            format!("targets nest deeper than {MAX_DEPTH} levels"),
        );
        return;
    }
    if node.api_key.is_some() {
        push(
            errors,
            child(path, "api_key"),
            "raw provider keys are not accepted; store the key as a provider credential and \
             reference it with \"provider\": \"@<slug>\" or \"virtual_key\"",
        );
    }
    if node.custom_host.is_some() {
        push(
            errors,
            child(path, "custom_host"),
            "upstream URLs are not accepted in configs; set the base URL on a provider credential",
        );
    }
    if let Some(w) = node.weight
        && !(w.is_finite() && w >= 0.0)
    {
        push(errors, child(path, "weight"), "must be >= 0");
    }
    if let Some(p) = node.percent
        && !(p.is_finite() && (0.0..=100.0).contains(&p))
    {
        push(errors, child(path, "percent"), "must be between 0 and 100");
    }
    if node.request_timeout == Some(0) {
        push(errors, child(path, "request_timeout"), "must be > 0");
    }
    for (field, value) in node.timeouts.iter().flat_map(|t| {
        [
            ("connect_ms", t.connect_ms),
            ("first_byte_ms", t.first_byte_ms),
            ("total_ms", t.total_ms),
        ]
    }) {
        if value == Some(0) {
            push(
                errors,
                child(&child(path, "timeouts"), field),
                "must be > 0",
            );
        }
    }
    if let Some(budget) = &node.budget {
        if let Some(c) = budget.max_cost_usd
            && !(c.is_finite() && c > 0.0)
        {
            push(
                errors,
                child(&child(path, "budget"), "max_cost_usd"),
                "must be > 0",
            );
        }
        if budget.max_attempts == Some(0) {
            push(
                errors,
                child(&child(path, "budget"), "max_attempts"),
                "must be >= 1",
            );
        }
    }
    if let Some(retry) = &node.retry {
        if retry.attempts > MAX_RETRY_ATTEMPTS {
            push(
                errors,
                child(&child(path, "retry"), "attempts"),
                format!("must be between 0 and {MAX_RETRY_ATTEMPTS}"),
            );
        }
        if let Some(codes) = &retry.on_status_codes {
            check_status_codes(
                codes,
                &child(&child(path, "retry"), "on_status_codes"),
                errors,
            );
        }
    }
    if node
        .override_params
        .as_ref()
        .and_then(|p| p.get("model"))
        .is_some_and(|m| !m.is_string())
    {
        push(
            errors,
            child(&child(path, "override_params"), "model"),
            "must be a string",
        );
    }
    if let Some(provider) = &node.provider
        && (provider.is_empty() || provider == "@")
    {
        push(errors, child(path, "provider"), "must not be empty");
    }

    let targets_path = child(path, "targets");
    let mut names = HashSet::new();
    for (i, t) in node.targets.iter().enumerate() {
        let tp = format!("{targets_path}[{i}]");
        if let Some(name) = &t.name
            && !names.insert(name.as_str())
        {
            push(
                errors,
                child(&tp, "name"),
                format!("duplicate target name \"{name}\""),
            );
        }
        validate(t, &tp, depth + 1, errors);
    }

    let Some(strategy) = &node.strategy else {
        if !node.targets.is_empty() {
            push(
                errors,
                child(path, "strategy"),
                "is required when targets are given",
            );
        }
        return;
    };
    let sp = child(path, "strategy");
    if node.targets.is_empty() && strategy.mode == Mode::Single {
        // Portkey's single mode on a plain target: the node itself is the target.
        return;
    }
    if node.targets.is_empty() {
        push(
            errors,
            targets_path.clone(),
            format!("strategy {:?} needs at least one target", strategy.mode).to_lowercase(),
        );
        return;
    }
    if let Some(codes) = &strategy.on_status_codes {
        check_status_codes(codes, &child(&sp, "on_status_codes"), errors);
    }
    let only = |field: &str, given: bool, modes: &str, errors: &mut Vec<ConfigError>| {
        if given {
            push(
                errors,
                child(&sp, field),
                format!("only applies to mode {modes}"),
            );
        }
    };
    let mode = strategy.mode;
    only(
        "conditions",
        strategy.conditions.is_some() && mode != Mode::Conditional,
        "conditional",
        errors,
    );
    only(
        "default",
        strategy.default.is_some() && mode != Mode::Conditional,
        "conditional",
        errors,
    );
    only(
        "count",
        strategy.count.is_some() && !matches!(mode, Mode::Race | Mode::Hedge),
        "race or hedge",
        errors,
    );
    only(
        "delay_ms",
        strategy.delay_ms.is_some() && mode != Mode::Hedge,
        "hedge",
        errors,
    );
    match mode {
        Mode::Conditional => {
            let known: HashSet<&str> = node
                .targets
                .iter()
                .filter_map(|t| t.name.as_deref())
                .collect();
            match &strategy.conditions {
                None => push(
                    errors,
                    child(&sp, "conditions"),
                    "is required for mode conditional",
                ),
                Some(rules) => {
                    for (i, rule) in rules.iter().enumerate() {
                        if !known.contains(rule.then.as_str()) {
                            push(
                                errors,
                                format!("{sp}.conditions[{i}].then"),
                                format!("no target is named \"{}\"", rule.then),
                            );
                        }
                    }
                }
            }
            match &strategy.default {
                None => push(
                    errors,
                    child(&sp, "default"),
                    "is required for mode conditional",
                ),
                Some(d) if !known.contains(d.as_str()) => push(
                    errors,
                    child(&sp, "default"),
                    format!("no target is named \"{d}\""),
                ),
                Some(_) => {}
            }
        }
        Mode::Race | Mode::Hedge => {
            if let Some(count) = strategy.count
                && (count == 0 || count > node.targets.len())
            {
                push(
                    errors,
                    child(&sp, "count"),
                    format!(
                        "must be between 1 and the number of targets ({})",
                        node.targets.len()
                    ),
                );
            }
            if mode == Mode::Hedge && strategy.delay_ms.is_none_or(|d| d == 0) {
                push(
                    errors,
                    child(&sp, "delay_ms"),
                    "is required for mode hedge and must be > 0",
                );
            }
            for (i, t) in node.targets.iter().enumerate() {
                if !resolves_to_one(t) {
                    push(
                        errors,
                        format!("{targets_path}[{i}]"),
                        format!(
                            "a {} target must resolve to one upstream (single, loadbalance, \
                             conditional or a plain target)",
                            if mode == Mode::Race { "race" } else { "hedge" }
                        ),
                    );
                }
            }
        }
        Mode::Canary => {
            if node.targets.len() < 2 {
                push(
                    errors,
                    targets_path.clone(),
                    "canary needs a stable target and at least one canary",
                );
            }
            if node.targets[0].percent.is_some() {
                push(
                    errors,
                    format!("{targets_path}[0].percent"),
                    "the first target is the stable one and takes the remaining traffic",
                );
            }
            let mut sum = 0.0;
            for (i, t) in node.targets.iter().enumerate().skip(1) {
                match t.percent {
                    None => push(
                        errors,
                        format!("{targets_path}[{i}].percent"),
                        "is required for canary targets",
                    ),
                    Some(p) => sum += p,
                }
            }
            if sum > 100.0 {
                push(
                    errors,
                    targets_path.clone(),
                    "canary percentages add up to more than 100",
                );
            }
        }
        Mode::Single | Mode::Fallback | Mode::Loadbalance => {}
    }
}

/// Whether a node always yields exactly one upstream attempt.
fn resolves_to_one(node: &Target) -> bool {
    match &node.strategy {
        None => node.targets.is_empty(),
        Some(s) => match s.mode {
            Mode::Single => node.targets.first().is_none_or(resolves_to_one),
            Mode::Loadbalance | Mode::Conditional => node.targets.iter().all(resolves_to_one),
            Mode::Fallback | Mode::Race | Mode::Hedge | Mode::Canary => false,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Conditions

impl Query {
    /// Compiles a Portkey/MongoDB-style query; errors carry the path inside the query.
    pub fn compile(value: &Value) -> Result<Query, ConfigError> {
        compile_query(value, "")
    }

    /// Whether the request matches.
    pub fn matches(&self, ctx: &RequestContext) -> bool {
        match self {
            Query::And(qs) => qs.iter().all(|q| q.matches(ctx)),
            Query::Or(qs) => qs.iter().any(|q| q.matches(ctx)),
            Query::Field { field, ops } => {
                let value = ctx.lookup(field);
                ops.iter().all(|op| op.holds(value.as_ref()))
            }
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Query::And(qs) => {
                serde_json::json!({ "$and": qs.iter().map(Query::to_json).collect::<Vec<_>>() })
            }
            Query::Or(qs) => {
                serde_json::json!({ "$or": qs.iter().map(Query::to_json).collect::<Vec<_>>() })
            }
            Query::Field { field, ops } => {
                let mut m = Map::new();
                for op in ops {
                    let (k, v) = match op {
                        Op::Eq(v) => ("$eq", v.clone()),
                        Op::Ne(v) => ("$ne", v.clone()),
                        Op::In(v) => ("$in", Value::Array(v.clone())),
                        Op::Nin(v) => ("$nin", Value::Array(v.clone())),
                        Op::Regex(r) => ("$regex", Value::String(r.as_str().to_owned())),
                        Op::Gt(v) => ("$gt", v.clone()),
                        Op::Gte(v) => ("$gte", v.clone()),
                        Op::Lt(v) => ("$lt", v.clone()),
                        Op::Lte(v) => ("$lte", v.clone()),
                    };
                    m.insert(k.to_owned(), v);
                }
                let mut outer = Map::new();
                outer.insert(field.clone(), Value::Object(m));
                Value::Object(outer)
            }
        }
    }
}

impl Serialize for Query {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Query {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        // The inner path travels inside the message; `RoutingConfig::parse` splices it onto
        // the path serde reports for the `query` field.
        compile_query(&value, "").map_err(|e| {
            serde::de::Error::custom(format!("{PATH_MARK}{}{PATH_MARK}{}", e.path, e.message))
        })
    }
}

fn qpath(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn err(path: String, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path,
        message: message.into(),
    }
}

fn compile_query(value: &Value, path: &str) -> Result<Query, ConfigError> {
    let Value::Object(map) = value else {
        return Err(err(path.to_owned(), "a query must be an object"));
    };
    if map.is_empty() {
        return Err(err(path.to_owned(), "a query must not be empty"));
    }
    let mut parts = Vec::with_capacity(map.len());
    for (key, v) in map {
        let kp = qpath(path, key);
        match key.as_str() {
            "$and" | "$or" => {
                let Value::Array(items) = v else {
                    return Err(err(kp, "must be an array of queries"));
                };
                if items.is_empty() {
                    return Err(err(kp, "must not be empty"));
                }
                let qs = items
                    .iter()
                    .enumerate()
                    .map(|(i, q)| compile_query(q, &format!("{kp}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                parts.push(if key == "$and" {
                    Query::And(qs)
                } else {
                    Query::Or(qs)
                });
            }
            k if k.starts_with('$') => {
                return Err(err(
                    kp,
                    "unknown operator (expected $and or $or, or a field)",
                ));
            }
            field => {
                check_field(field).map_err(|m| err(kp.clone(), m))?;
                parts.push(Query::Field {
                    field: field.to_owned(),
                    ops: compile_ops(v, &kp)?,
                });
            }
        }
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Query::And(parts)
    })
}

fn check_field(field: &str) -> Result<(), String> {
    let ok = ["metadata.", "params.", "headers."]
        .iter()
        .any(|p| field.strip_prefix(p).is_some_and(|rest| !rest.is_empty()))
        || field == "url.pathname";
    if ok {
        Ok(())
    } else {
        Err("fields start with metadata., params. or headers., or are url.pathname".into())
    }
}

fn compile_ops(value: &Value, path: &str) -> Result<Vec<Op>, ConfigError> {
    let Value::Object(map) = value else {
        return Ok(vec![Op::Eq(value.clone())]);
    };
    if !map.keys().any(|k| k.starts_with('$')) {
        // An object literal compared for equality.
        return Ok(vec![Op::Eq(value.clone())]);
    }
    let mut ops = Vec::with_capacity(map.len());
    for (op, v) in map {
        let op_path = qpath(path, op);
        let list = |v: &Value| match v {
            Value::Array(items) => Ok(items.clone()),
            _ => Err(err(op_path.clone(), "must be an array")),
        };
        let ordered = |v: &Value| match v {
            Value::Number(_) | Value::String(_) => Ok(v.clone()),
            _ => Err(err(op_path.clone(), "must be a number or a string")),
        };
        ops.push(match op.as_str() {
            "$eq" => Op::Eq(v.clone()),
            "$ne" => Op::Ne(v.clone()),
            "$in" => Op::In(list(v)?),
            "$nin" => Op::Nin(list(v)?),
            "$regex" => {
                let Value::String(pattern) = v else {
                    return Err(err(op_path, "must be a string"));
                };
                let re = regex::RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| err(op_path.clone(), format!("invalid regex: {e}")))?;
                Op::Regex(re)
            }
            "$gt" => Op::Gt(ordered(v)?),
            "$gte" => Op::Gte(ordered(v)?),
            "$lt" => Op::Lt(ordered(v)?),
            "$lte" => Op::Lte(ordered(v)?),
            _ => {
                return Err(err(
                    op_path,
                    "unknown operator (expected $eq, $ne, $in, $nin, $regex, $gt, $gte, $lt, $lte)",
                ));
            }
        });
    }
    Ok(ops)
}

/// A number from a JSON number or a numeric string (metadata values are strings).
fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn loosely_equal(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (Value::Number(_), _) | (_, Value::Number(_)) => {
            matches!((as_number(a), as_number(b)), (Some(x), Some(y)) if x == y)
        }
        (Value::Bool(x), Value::String(s)) | (Value::String(s), Value::Bool(x)) => {
            s == if *x { "true" } else { "false" }
        }
        _ => false,
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            // Two numeric strings compare as numbers (metadata values are strings).
            match (x.trim().parse::<f64>(), y.trim().parse::<f64>()) {
                (Ok(p), Ok(q)) => p.partial_cmp(&q),
                _ => Some(x.cmp(y)),
            }
        }
        _ => as_number(a)?.partial_cmp(&as_number(b)?),
    }
}

impl Op {
    fn holds(&self, field: Option<&Value>) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let any_elem = |f: &dyn Fn(&Value) -> bool| match field {
            Some(Value::Array(items)) => items.iter().any(f),
            Some(v) => f(v),
            None => false,
        };
        match self {
            Op::Eq(want) => match field {
                Some(v) if loosely_equal(v, want) => true,
                _ => any_elem(&|v| loosely_equal(v, want)),
            },
            Op::Ne(want) => !Op::Eq(want.clone()).holds(field),
            Op::In(list) => any_elem(&|v| list.iter().any(|w| loosely_equal(v, w))),
            Op::Nin(list) => !Op::In(list.clone()).holds(field),
            Op::Regex(re) => any_elem(&|v| match v {
                Value::String(s) => re.is_match(s),
                Value::Number(n) => re.is_match(&n.to_string()),
                Value::Bool(b) => re.is_match(if *b { "true" } else { "false" }),
                _ => false,
            }),
            Op::Gt(w) => any_elem(&|v| compare(v, w) == Some(Greater)),
            Op::Gte(w) => any_elem(&|v| matches!(compare(v, w), Some(Greater | Equal))),
            Op::Lt(w) => any_elem(&|v| compare(v, w) == Some(Less)),
            Op::Lte(w) => any_elem(&|v| matches!(compare(v, w), Some(Less | Equal))),
        }
    }
}

/// What conditions can look at.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// `x-keyway-metadata` (or `x-portkey-metadata`) as an object.
    pub metadata: Map<String, Value>,
    /// The request body.
    pub params: Value,
    /// Request headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// The URL path, e.g. `/v1/chat/completions`.
    pub url_path: String,
}

impl RequestContext {
    /// Parses a metadata header (`x-keyway-metadata`, Portkey's `x-portkey-metadata`): a JSON
    /// object whose values are strings, numbers or booleans.
    pub fn parse_metadata(header: &str) -> Result<Map<String, Value>, String> {
        let value: Value =
            serde_json::from_str(header).map_err(|e| format!("metadata is not JSON: {e}"))?;
        let Value::Object(map) = value else {
            return Err("metadata must be a JSON object".into());
        };
        if let Some((k, _)) = map
            .iter()
            .find(|(_, v)| !matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)))
        {
            return Err(format!("metadata.{k} must be a string, number or boolean"));
        }
        Ok(map)
    }

    /// The value a condition field names, if present.
    pub fn lookup(&self, field: &str) -> Option<Value> {
        if field == "url.pathname" {
            return Some(Value::String(self.url_path.clone()));
        }
        if let Some(name) = field.strip_prefix("headers.") {
            return self
                .headers
                .get(&name.to_ascii_lowercase())
                .map(|v| Value::String(v.clone()));
        }
        let (root, rest) = if let Some(rest) = field.strip_prefix("metadata.") {
            // Metadata keys may contain dots themselves; try the whole key first.
            if let Some(v) = self.metadata.get(rest) {
                return Some(v.clone());
            }
            (
                self.metadata.get(rest.split('.').next()?)?,
                rest.split_once('.').map(|x| x.1),
            )
        } else {
            let rest = field.strip_prefix("params.")?;
            (&self.params, Some(rest))
        };
        let mut cur = root;
        for seg in rest.into_iter().flat_map(|r| r.split('.')) {
            cur = match cur {
                Value::Object(m) => m.get(seg)?,
                Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// Planning

/// Randomness and health for planning; the gateway implements it over its RNG and health table.
pub trait Chooser {
    /// A uniform number in `[0, 1)`.
    fn random(&mut self) -> f64;
    /// Weight multiplier of an upstream in `[0, 1]` (1 healthy, 0 circuit open).
    fn health(&self, _upstream: &Upstream) -> f64 {
        1.0
    }
}

/// Which stored credential and model an attempt uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Upstream {
    /// Credential slug (from `@slug`, `virtual_key` or a bare `provider`); `None` uses the
    /// request's own `provider/model` addressing.
    pub credential: Option<String>,
    /// Model name for the upstream; `None` keeps the request's model.
    pub model: Option<String>,
}

impl Upstream {
    fn of(node: &Target, params: &Map<String, Value>) -> Self {
        // `@slug` names a credential outright; a bare provider name is Portkey's provider kind,
        // which a `virtual_key` (the credential) already implies, so it only names the
        // credential when no virtual key is given.
        let mut credential = None;
        let mut model = None;
        match node.provider.as_deref().map(|p| (p.strip_prefix('@'), p)) {
            Some((Some(catalog), _)) => match catalog.split_once('/') {
                Some((slug, m)) => {
                    credential = Some(slug.to_owned());
                    model = Some(m.to_owned());
                }
                None => credential = Some(catalog.to_owned()),
            },
            Some((None, bare)) => {
                credential = Some(node.virtual_key.clone().unwrap_or_else(|| bare.to_owned()));
            }
            None => credential.clone_from(&node.virtual_key),
        }
        if let Some(m) = params.get("model").and_then(Value::as_str) {
            match m.strip_prefix('@').and_then(|rest| rest.split_once('/')) {
                Some((slug, name)) => {
                    credential = Some(slug.to_owned());
                    model = Some(name.to_owned());
                }
                None => model = Some(m.to_owned()),
            }
        }
        Self { credential, model }
    }
}

/// Retry policy of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub attempts: u32,
    /// Status codes that are retried.
    pub on_status_codes: Vec<u16>,
    /// Honour `retry-after` / `retry-after-ms`.
    pub use_retry_after_header: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 0,
            on_status_codes: DEFAULT_RETRY_STATUS_CODES.to_vec(),
            use_retry_after_header: false,
        }
    }
}

impl RetryPolicy {
    fn of(retry: Option<&Retry>) -> Self {
        match retry {
            None => Self::default(),
            Some(r) => Self {
                attempts: r.attempts,
                on_status_codes: r
                    .on_status_codes
                    .clone()
                    .unwrap_or_else(|| DEFAULT_RETRY_STATUS_CODES.to_vec()),
                use_retry_after_header: r.use_retry_after_header.unwrap_or(false),
            },
        }
    }

    /// Whether the `retries_done`-th retry may follow `failure`. Connection failures and
    /// timeouts are retried like a retryable status.
    pub fn should_retry(&self, failure: Failure, retries_done: u32) -> bool {
        retries_done < self.attempts
            && match failure {
                Failure::Status(s) => self.on_status_codes.contains(&s),
                Failure::Gateway => true,
            }
    }

    /// How long to wait before retry number `retry` (0 for the first): jittered exponential
    /// backoff ([`BACKOFF_BASE`] doubling, at most [`BACKOFF_MAX`], "equal jitter" from
    /// `random` in `[0, 1)`), or the upstream's `retry-after` when the policy honours it.
    /// `waited` is the time already spent waiting for this request; `None` means give up
    /// because the total wait would pass [`MAX_RETRY_WAIT`] (Portkey's 60 s cap).
    pub fn delay(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        waited: Duration,
        random: f64,
    ) -> Option<Duration> {
        let wait = match retry_after.filter(|_| self.use_retry_after_header) {
            Some(d) => d,
            None => {
                let exp = BACKOFF_BASE
                    .saturating_mul(2u32.saturating_pow(retry.min(16)))
                    .min(BACKOFF_MAX);
                exp / 2 + exp.mul_f64(random.clamp(0.0, 1.0) / 2.0)
            }
        };
        (waited + wait <= MAX_RETRY_WAIT).then_some(wait)
    }
}

/// First backoff step.
pub const BACKOFF_BASE: Duration = Duration::from_millis(250);
/// Longest backoff step.
pub const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// Most time one request may spend waiting between retries.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// One upstream call of a plan (before its own retries).
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Where in the config it comes from (`targets[1].targets[0]`, empty for the root).
    pub path: String,
    /// Target name, when the config gave one.
    pub name: Option<String>,
    /// Credential and model.
    pub upstream: Upstream,
    /// Body fields to override (merged from outer to inner nodes).
    pub override_params: Map<String, Value>,
    /// Retries.
    pub retry: RetryPolicy,
    /// Whole-attempt timeout (`timeouts.total_ms`, else `request_timeout`).
    pub total_timeout: Option<Duration>,
    /// Connect timeout.
    pub connect_timeout: Option<Duration>,
    /// Timeout until the first byte.
    pub first_byte_timeout: Option<Duration>,
    /// Cache settings.
    pub cache: Option<Cache>,
}

/// How the attempts of a step run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// One attempt.
    Single,
    /// All attempts at once; the first success wins, the others are cancelled.
    Race,
    /// Attempt `i` starts `i * delay` after the first unless an earlier one has answered (a
    /// failed leg starts the next one at once); the first success wins.
    Hedge {
        /// Delay between legs.
        delay: Duration,
    },
}

/// Why an attempt failed, for deciding whether to move on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The upstream answered with this non-2xx status.
    Status(u16),
    /// No usable answer: connection failure, timeout, cut stream. Always moves on.
    Gateway,
}

#[derive(Debug, Clone)]
struct Level {
    on_status_codes: Option<Vec<u16>>,
    next: Option<usize>,
}

impl Level {
    fn matches(&self, failure: Failure) -> bool {
        match (failure, &self.on_status_codes) {
            (Failure::Gateway, _) | (Failure::Status(_), None) => true,
            (Failure::Status(s), Some(codes)) => codes.contains(&s),
        }
    }
}

/// A group of attempts run together.
#[derive(Debug, Clone)]
pub struct Step {
    /// How they run.
    pub kind: StepKind,
    /// The attempts (one unless race or hedge).
    pub attempts: Vec<Attempt>,
    /// Enclosing fallback levels, innermost first.
    levels: Vec<Level>,
}

/// The ordered attempts for one request.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Steps, run one after another as failures allow.
    pub steps: Vec<Step>,
    /// The config's per-request budget.
    pub budget: Option<RequestBudget>,
}

impl Plan {
    /// Index of the step to run after step `step` failed with `failure` (its retries spent),
    /// or `None` to answer the caller with that failure. Mirrors Portkey: each enclosing
    /// fallback checks its own `on_status_codes`; an inner fallback that gives up hands the
    /// failure to the outer one.
    pub fn next_after(&self, step: usize, failure: Failure) -> Option<usize> {
        let s = self.steps.get(step)?;
        s.levels
            .iter()
            .find(|l| l.next.is_some() && l.matches(failure))
            .and_then(|l| l.next)
    }

    /// The plan of a request without a config: one attempt at the request's own
    /// `<provider-slug>/<model>`, no retries, no timeouts beyond the gateway's own.
    pub fn direct() -> Self {
        Plan {
            steps: vec![Step {
                kind: StepKind::Single,
                attempts: vec![Attempt {
                    path: String::new(),
                    name: None,
                    upstream: Upstream::default(),
                    override_params: Map::new(),
                    retry: RetryPolicy::default(),
                    total_timeout: None,
                    connect_timeout: None,
                    first_byte_timeout: None,
                    cache: None,
                }],
                levels: Vec::new(),
            }],
            budget: None,
        }
    }

    /// All attempts in order, flattened (for display and tests).
    pub fn attempts(&self) -> impl Iterator<Item = &Attempt> {
        self.steps.iter().flat_map(|s| s.attempts.iter())
    }

    /// Most attempts the plan may make, counting retries (for budgets and logs).
    pub fn max_attempts(&self) -> u32 {
        self.attempts().map(|a| 1 + a.retry.attempts).sum()
    }
}

/// Picks an index with probability proportional to `weights[i] * multipliers[i]`, using
/// `random` in `[0, 1)`. When every adjusted weight is zero (all targets degraded) it falls back
/// to the plain weights, so traffic still flows somewhere; `None` only when those are all zero
/// too (or the slice is empty).
pub fn weighted_choice(weights: &[f64], multipliers: &[f64], random: f64) -> Option<usize> {
    let clean = |w: f64| if w.is_finite() && w > 0.0 { w } else { 0.0 };
    let adjusted: Vec<f64> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| clean(*w) * clean(multipliers.get(i).copied().unwrap_or(1.0)).min(1.0))
        .collect();
    let pick = |ws: &[f64]| {
        let total: f64 = ws.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let mut x = random.clamp(0.0, 1.0) * total;
        let mut last = None;
        for (i, w) in ws.iter().enumerate() {
            if *w <= 0.0 {
                continue;
            }
            last = Some(i);
            if x < *w {
                return Some(i);
            }
            x -= w;
        }
        last
    };
    pick(&adjusted).or_else(|| pick(&weights.iter().map(|w| clean(*w)).collect::<Vec<_>>()))
}

#[derive(Clone, Default)]
struct Inherited {
    override_params: Map<String, Value>,
    retry: Option<Retry>,
    request_timeout: Option<u64>,
    timeouts: Option<Timeouts>,
    cache: Option<Cache>,
}

impl Inherited {
    fn with(&self, node: &Target) -> Inherited {
        let mut next = self.clone();
        if let Some(p) = &node.override_params {
            for (k, v) in p {
                next.override_params.insert(k.clone(), v.clone());
            }
        }
        if node.retry.is_some() {
            next.retry.clone_from(&node.retry);
        }
        if node.request_timeout.is_some() {
            next.request_timeout = node.request_timeout;
        }
        if node.timeouts.is_some() {
            next.timeouts = node.timeouts;
        }
        if node.cache.is_some() {
            next.cache.clone_from(&node.cache);
        }
        next
    }
}

struct Planner<'a> {
    ctx: &'a RequestContext,
    chooser: &'a mut dyn Chooser,
    steps: Vec<Step>,
}

fn ms(v: Option<u64>) -> Option<Duration> {
    v.map(Duration::from_millis)
}

impl Planner<'_> {
    fn leaf(node: &Target, path: &str, inh: &Inherited) -> Attempt {
        let timeouts = inh.timeouts.unwrap_or_default();
        Attempt {
            path: path.to_owned(),
            name: node.name.clone(),
            upstream: Upstream::of(node, &inh.override_params),
            override_params: inh.override_params.clone(),
            retry: RetryPolicy::of(inh.retry.as_ref()),
            total_timeout: ms(timeouts.total_ms.or(inh.request_timeout)),
            connect_timeout: ms(timeouts.connect_ms),
            first_byte_timeout: ms(timeouts.first_byte_ms),
            cache: inh.cache.clone(),
        }
    }

    fn child_path(path: &str, i: usize) -> String {
        format!("{}[{i}]", child(path, "targets"))
    }

    /// Health of a child: its own upstream if it is a plain target, else healthy.
    fn child_health(&self, node: &Target, inh: &Inherited) -> f64 {
        if node.targets.is_empty() {
            self.chooser
                .health(&Upstream::of(node, &inh.with(node).override_params))
        } else {
            1.0
        }
    }

    /// The single child a single / loadbalance / conditional node routes to.
    fn pick_one(&mut self, node: &Target, strategy: &Strategy, inh: &Inherited) -> Option<usize> {
        match strategy.mode {
            Mode::Single => Some(0),
            Mode::Loadbalance => {
                let weights: Vec<f64> = node
                    .targets
                    .iter()
                    .map(|t| t.weight.unwrap_or(1.0))
                    .collect();
                let health: Vec<f64> = node
                    .targets
                    .iter()
                    .map(|t| self.child_health(t, inh))
                    .collect();
                let r = self.chooser.random();
                weighted_choice(&weights, &health, r)
            }
            Mode::Conditional => {
                let name = strategy
                    .conditions
                    .iter()
                    .flatten()
                    .find(|c| c.query.matches(self.ctx))
                    .map(|c| c.then.as_str())
                    .or(strategy.default.as_deref())?;
                node.targets
                    .iter()
                    .position(|t| t.name.as_deref() == Some(name))
            }
            Mode::Fallback | Mode::Race | Mode::Hedge | Mode::Canary => None,
        }
    }

    /// The one attempt a node resolves to (race and hedge legs).
    fn resolve_one(&mut self, node: &Target, path: &str, inh: &Inherited) -> Option<Attempt> {
        let inh = inh.with(node);
        match node.strategy.as_ref().filter(|_| !node.targets.is_empty()) {
            None => Some(Self::leaf(node, path, &inh)),
            Some(s) => {
                let i = self.pick_one(node, s, &inh)?;
                self.resolve_one(&node.targets[i], &Self::child_path(path, i), &inh)
            }
        }
    }

    fn expand(&mut self, node: &Target, path: &str, inherited: &Inherited) {
        let inh = inherited.with(node);
        let Some(strategy) = node.strategy.as_ref().filter(|_| !node.targets.is_empty()) else {
            self.steps.push(Step {
                kind: StepKind::Single,
                attempts: vec![Self::leaf(node, path, &inh)],
                levels: Vec::new(),
            });
            return;
        };
        match strategy.mode {
            Mode::Single | Mode::Loadbalance | Mode::Conditional => {
                if let Some(i) = self.pick_one(node, strategy, &inh) {
                    self.expand(&node.targets[i], &Self::child_path(path, i), &inh);
                }
            }
            Mode::Fallback => {
                let order: Vec<usize> = (0..node.targets.len()).collect();
                self.chain(node, path, &inh, &order, strategy.on_status_codes.clone());
            }
            Mode::Canary => {
                let r = self.chooser.random() * 100.0;
                let mut acc = 0.0;
                let mut chosen = 0;
                for (i, t) in node.targets.iter().enumerate().skip(1) {
                    acc += t.percent.unwrap_or(0.0);
                    if r < acc {
                        chosen = i;
                        break;
                    }
                }
                let order = if chosen == 0 {
                    vec![0]
                } else {
                    vec![chosen, 0]
                };
                self.chain(node, path, &inh, &order, strategy.on_status_codes.clone());
            }
            Mode::Race | Mode::Hedge => {
                let count = strategy
                    .count
                    .unwrap_or(node.targets.len())
                    .min(node.targets.len());
                let order = if strategy.mode == Mode::Race {
                    self.weighted_order(node, &inh, count)
                } else {
                    (0..count).collect()
                };
                let attempts: Vec<Attempt> = order
                    .into_iter()
                    .filter_map(|i| {
                        self.resolve_one(&node.targets[i], &Self::child_path(path, i), &inh)
                    })
                    .collect();
                if attempts.is_empty() {
                    return;
                }
                let kind = if strategy.mode == Mode::Race {
                    StepKind::Race
                } else {
                    StepKind::Hedge {
                        delay: Duration::from_millis(strategy.delay_ms.unwrap_or(0)),
                    }
                };
                self.steps.push(Step {
                    kind,
                    attempts,
                    levels: Vec::new(),
                });
            }
        }
    }

    /// Expands `order` as a fallback chain: each child's steps move on to the next child when
    /// the failure matches `codes`.
    fn chain(
        &mut self,
        node: &Target,
        path: &str,
        inh: &Inherited,
        order: &[usize],
        codes: Option<Vec<u16>>,
    ) {
        let mut ranges = Vec::with_capacity(order.len());
        for &i in order {
            let start = self.steps.len();
            self.expand(&node.targets[i], &Self::child_path(path, i), inh);
            ranges.push(start..self.steps.len());
        }
        for (k, range) in ranges.iter().enumerate() {
            let next = ranges[k + 1..]
                .iter()
                .find(|r| !r.is_empty())
                .map(|r| r.start);
            for s in range.clone() {
                self.steps[s].levels.push(Level {
                    on_status_codes: codes.clone(),
                    next,
                });
            }
        }
    }

    /// `count` distinct children drawn by weight x health without replacement.
    fn weighted_order(&mut self, node: &Target, inh: &Inherited, count: usize) -> Vec<usize> {
        let mut weights: Vec<f64> = node
            .targets
            .iter()
            .map(|t| t.weight.unwrap_or(1.0))
            .collect();
        let health: Vec<f64> = node
            .targets
            .iter()
            .map(|t| self.child_health(t, inh))
            .collect();
        let mut picked = Vec::with_capacity(count);
        while picked.len() < count {
            let r = self.chooser.random();
            let choice = weighted_choice(&weights, &health, r)
                .or_else(|| (0..weights.len()).find(|i| !picked.contains(i)));
            let Some(i) = choice else { break };
            picked.push(i);
            weights[i] = 0.0;
            if picked.len() < count && weights.iter().all(|w| *w <= 0.0) {
                // Remaining children have weight 0: take them in config order.
                let rest: Vec<usize> = (0..node.targets.len())
                    .filter(|j| !picked.contains(j))
                    .take(count - picked.len())
                    .collect();
                picked.extend(rest);
            }
        }
        picked
    }
}

impl RequestBudget {
    /// `max_cost_usd` in exact nano-dollars.
    pub fn max_cost(&self) -> Option<Usd> {
        self.max_cost_usd
            .map(|usd| Usd::from_nanos((usd * Usd::NANOS_PER_USD as f64).round() as i64))
    }
}

#[cfg(test)]
mod tests;

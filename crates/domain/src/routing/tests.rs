//! Routing config tests: Portkey's documented configs, validation paths, operators, planning.

use super::*;
use serde_json::json;

/// Randomness from a fixed list; health from a table keyed by credential slug.
struct Fixed {
    randoms: Vec<f64>,
    next: usize,
    health: BTreeMap<String, f64>,
}

impl Fixed {
    fn new(randoms: &[f64]) -> Self {
        Self {
            randoms: randoms.to_vec(),
            next: 0,
            health: BTreeMap::new(),
        }
    }
    fn with_health(mut self, slug: &str, h: f64) -> Self {
        self.health.insert(slug.to_owned(), h);
        self
    }
}

impl Chooser for Fixed {
    fn random(&mut self) -> f64 {
        let r = self.randoms.get(self.next).copied().unwrap_or(0.0);
        self.next += 1;
        r
    }
    fn health(&self, upstream: &Upstream) -> f64 {
        upstream
            .credential
            .as_deref()
            .and_then(|c| self.health.get(c).copied())
            .unwrap_or(1.0)
    }
}

fn parse(json: &str) -> RoutingConfig {
    match RoutingConfig::parse(json) {
        Ok(c) => c,
        Err(e) => panic!("config should parse: {e}"),
    }
}

fn errors(json: &str) -> Vec<String> {
    match RoutingConfig::parse(json) {
        Ok(_) => panic!("config should be refused"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

fn upstreams(plan: &Plan) -> Vec<(Option<&str>, Option<&str>)> {
    plan.attempts()
        .map(|a| {
            (
                a.upstream.credential.as_deref(),
                a.upstream.model.as_deref(),
            )
        })
        .collect()
}

fn meta(pairs: &[(&str, &str)]) -> RequestContext {
    RequestContext {
        metadata: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect(),
        ..RequestContext::default()
    }
}

// ---- Portkey's documented configs, verbatim -------------------------------------------------

/// https://www.mintlify.com/portkey-AI/gateway/concepts/routing (single mode)
const PORTKEY_SINGLE: &str = r#"{
  "provider": "openai",
  "api_key": "sk-...",
  "strategy": {
    "mode": "single"
  }
}"#;

/// https://portkey.ai/docs/product/ai-gateway/fallbacks
const PORTKEY_FALLBACK: &str = r#"{
  "strategy": { "mode": "fallback" },
  "targets": [
    { "override_params": { "model": "@openai-prod/gpt-4o" } },
    { "override_params": { "model": "@anthropic-prod/claude-3-5-sonnet-20241022" } }
  ]
}"#;

/// https://portkey.ai/docs/product/ai-gateway/fallbacks (trigger on specific status codes)
const PORTKEY_FALLBACK_CODES: &str = r#"{
  "strategy": { "mode": "fallback", "on_status_codes": [429, 503] },
  "targets": [
    { "provider": "@openai-prod" },
    { "provider": "@azure-prod" }
  ]
}"#;

/// https://portkey.ai/docs/product/ai-gateway/load-balancing
const PORTKEY_LOADBALANCE: &str = r#"{
  "strategy": { "mode": "loadbalance" },
  "targets": [
    { "provider": "@openai-prod", "weight": 0.7 },
    { "provider": "@azure-prod", "weight": 0.3 }
  ]
}"#;

/// https://portkey.ai/docs/product/ai-gateway/conditional-routing (simple conditional config)
const PORTKEY_CONDITIONAL: &str = r#"{
  "strategy": {
    "mode": "conditional",
    "conditions": [
      {
        "query": { "metadata.user_plan": { "$eq": "paid" } },
        "then": "finetuned-gpt4"
      },
      {
        "query": { "metadata.user_plan": { "$eq": "free" } },
        "then": "base-gpt4"
      }
    ],
    "default": "base-gpt4"
  },
  "targets": [
    {
      "name": "finetuned-gpt4",
      "virtual_key":"xx"
    },
    {
      "name": "base-gpt4",
      "virtual_key":"yy"
    }
  ]
}"#;

/// https://portkey.ai/docs/product/ai-gateway/conditional-routing (data sensitivity example)
const PORTKEY_DATA_SENSITIVITY: &str = r#"{
  "strategy": {
    "mode": "conditional",
    "conditions": [
      {
        "query": {
          "metadata.data_sensitivity": "high"
        },
        "then": "on-premises-model"
      },
      {
        "query": {
          "metadata.data_sensitivity": {
            "$in": ["medium", "low"]
          }
        },
        "then": "cloud-model"
      }
    ],
    "default": "public-model"
  },
  "targets": [
    {
      "name": "public-model",
      "virtual_key": "..."
    },
    {
      "name": "on-premises-model",
      "virtual_key": "..."
    },
    {
      "name": "cloud-model",
      "virtual_key": "..."
    }
  ]
}"#;

/// https://portkey.ai/docs/product/ai-gateway/automatic-retries
const PORTKEY_RETRY: &str = r#"{
  "retry": {
    "attempts": 3,
    "on_status_codes": [ 408, 429, 401 ]
  },
  "provider":"@virtual-key-xxx"
}"#;

/// https://portkey.ai/docs/api-reference/admin-api/control-plane/configs/retrieve-config
const PORTKEY_RETRIEVED: &str = r#"{
"retry": {
"attempts": 5,
"on_status_codes": [
429,
529
]
},
"cache": {
"mode": "simple",
"max_age": 3600
},
"strategy": {
"mode": "fallback"
},
"targets": [
{
"provider": "openai",
"virtual_key": "main-258f4d"
},
{
"provider": "azure-openai",
"virtual_key": "azure-test-4110dd"
}
]
}"#;

/// https://www.mintlify.com/portkey-AI/gateway/concepts/configs ("Complete Config Example")
const PORTKEY_COMPLETE_WITH_KEYS: &str = r#"{
  "strategy": {
    "mode": "fallback",
    "on_status_codes": [429, 500, 502, 503]
  },
  "targets": [
    {
      "provider": "openai",
      "api_key": "sk-...",
      "retry": {
        "attempts": 3,
        "on_status_codes": [429, 500]
      },
      "request_timeout": 30000,
      "cache": {
        "mode": "simple",
        "max_age": 3600000
      },
      "input_guardrails": [
        {
          "default.contains": {
            "operator": "none",
            "words": ["sensitive-info"]
          },
          "deny": true
        }
      ],
      "output_guardrails": [
        {
          "default.contains": {
            "operator": "none",
            "words": ["restricted"]
          },
          "deny": true
        }
      ]
    },
    {
      "provider": "anthropic",
      "api_key": "sk-ant-..."
    }
  ]
}"#;

#[test]
fn portkey_single_mode_on_a_plain_target() {
    // Verbatim it carries a raw key, refused at its path and nowhere else.
    assert_eq!(
        errors(PORTKEY_SINGLE),
        [
            "api_key: raw provider keys are not accepted; store the key as a provider credential \
          and reference it with \"provider\": \"@<slug>\" or \"virtual_key\""
        ]
    );
    let config = parse(&PORTKEY_SINGLE.replace(r#""api_key": "sk-...","#, ""));
    let plan = config.plan(&RequestContext::default(), &mut Fixed::new(&[]));
    assert_eq!(upstreams(&plan), [(Some("openai"), None)]);
    assert_eq!(plan.next_after(0, Failure::Gateway), None);
}

#[test]
fn portkey_fallback_tries_targets_in_order_on_any_error() {
    let plan = parse(PORTKEY_FALLBACK).plan(&RequestContext::default(), &mut Fixed::new(&[]));
    assert_eq!(
        upstreams(&plan),
        [
            (Some("openai-prod"), Some("gpt-4o")),
            (Some("anthropic-prod"), Some("claude-3-5-sonnet-20241022"))
        ]
    );
    // No on_status_codes: any non-2xx moves on, as Portkey documents; the last target ends it.
    assert_eq!(plan.next_after(0, Failure::Status(400)), Some(1));
    assert_eq!(plan.next_after(0, Failure::Gateway), Some(1));
    assert_eq!(plan.next_after(1, Failure::Status(500)), None);
}

#[test]
fn portkey_fallback_on_status_codes_only_moves_on_for_those_codes() {
    let plan = parse(PORTKEY_FALLBACK_CODES).plan(&RequestContext::default(), &mut Fixed::new(&[]));
    assert_eq!(
        upstreams(&plan),
        [(Some("openai-prod"), None), (Some("azure-prod"), None)]
    );
    assert_eq!(plan.next_after(0, Failure::Status(429)), Some(1));
    assert_eq!(plan.next_after(0, Failure::Status(503)), Some(1));
    assert_eq!(plan.next_after(0, Failure::Status(500)), None);
    // Gateway exceptions move on regardless of on_status_codes (Portkey does the same).
    assert_eq!(plan.next_after(0, Failure::Gateway), Some(1));
}

#[test]
fn portkey_loadbalance_splits_by_normalized_weight() {
    let config = parse(PORTKEY_LOADBALANCE);
    let pick = |r: f64| {
        let plan = config.plan(&RequestContext::default(), &mut Fixed::new(&[r]));
        upstreams(&plan)[0].0.map(str::to_owned)
    };
    assert_eq!(pick(0.0).as_deref(), Some("openai-prod"));
    assert_eq!(pick(0.69).as_deref(), Some("openai-prod"));
    assert_eq!(pick(0.71).as_deref(), Some("azure-prod"));
    assert_eq!(pick(0.999).as_deref(), Some("azure-prod"));
    // Over a uniform sweep of random numbers the split is 70/30.
    let n = 1000;
    let openai = (0..n)
        .filter(|i| pick(f64::from(*i) / f64::from(n)).as_deref() == Some("openai-prod"))
        .count();
    assert_eq!(openai, 700);
    // Loadbalance makes one attempt: a failure is returned, not sent elsewhere.
    let plan = config.plan(&RequestContext::default(), &mut Fixed::new(&[0.1]));
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.next_after(0, Failure::Gateway), None);
}

#[test]
fn loadbalance_down_weights_unhealthy_targets() {
    let config = parse(PORTKEY_LOADBALANCE);
    // openai-prod's circuit is open (multiplier 0): everything goes to azure.
    let mut chooser = Fixed::new(&[0.0]).with_health("openai-prod", 0.0);
    let plan = config.plan(&RequestContext::default(), &mut chooser);
    assert_eq!(upstreams(&plan)[0].0, Some("azure-prod"));
    // Half-healthy: 0.35 vs 0.3 -> openai below 0.35/0.65 of the range.
    let mut chooser = Fixed::new(&[0.5]).with_health("openai-prod", 0.5);
    assert_eq!(
        upstreams(&config.plan(&RequestContext::default(), &mut chooser))[0].0,
        Some("openai-prod")
    );
    let mut chooser = Fixed::new(&[0.55]).with_health("openai-prod", 0.5);
    assert_eq!(
        upstreams(&config.plan(&RequestContext::default(), &mut chooser))[0].0,
        Some("azure-prod")
    );
}

#[test]
fn portkey_conditional_routes_on_metadata_with_default() {
    let config = parse(PORTKEY_CONDITIONAL);
    let route = |ctx: RequestContext| {
        let plan = config.plan(&ctx, &mut Fixed::new(&[]));
        (
            plan.steps[0].attempts[0].name.clone(),
            upstreams(&plan)[0].0.map(str::to_owned),
        )
    };
    assert_eq!(
        route(meta(&[("user_plan", "paid")])),
        (Some("finetuned-gpt4".into()), Some("xx".into()))
    );
    assert_eq!(
        route(meta(&[("user_plan", "free")])),
        (Some("base-gpt4".into()), Some("yy".into()))
    );
    assert_eq!(
        route(meta(&[])),
        (Some("base-gpt4".into()), Some("yy".into()))
    );
}

#[test]
fn portkey_data_sensitivity_example_routes_as_documented() {
    let config = parse(PORTKEY_DATA_SENSITIVITY);
    let name = |level: &str| {
        let plan = config.plan(&meta(&[("data_sensitivity", level)]), &mut Fixed::new(&[]));
        plan.steps[0].attempts[0].name.clone().unwrap_or_default()
    };
    assert_eq!(name("high"), "on-premises-model");
    assert_eq!(name("medium"), "cloud-model");
    assert_eq!(name("low"), "cloud-model");
    assert_eq!(name("unknown"), "public-model");
}

#[test]
fn portkey_retry_example_sets_the_retry_policy() {
    let plan = parse(PORTKEY_RETRY).plan(&RequestContext::default(), &mut Fixed::new(&[]));
    let a = &plan.steps[0].attempts[0];
    assert_eq!(a.upstream.credential.as_deref(), Some("virtual-key-xxx"));
    assert_eq!(a.retry.attempts, 3);
    assert!(a.retry.should_retry(Failure::Status(401), 0));
    assert!(a.retry.should_retry(Failure::Status(408), 2));
    assert!(
        !a.retry.should_retry(Failure::Status(408), 3),
        "3 retries at most"
    );
    assert!(
        !a.retry.should_retry(Failure::Status(500), 0),
        "only the listed codes"
    );
    assert_eq!(plan.max_attempts(), 4);
}

#[test]
fn portkey_retrieved_config_inherits_retry_and_cache_into_targets() {
    let plan = parse(PORTKEY_RETRIEVED).plan(&RequestContext::default(), &mut Fixed::new(&[]));
    // virtual_key names the credential; provider is Portkey's provider kind, which the
    // credential already carries.
    assert_eq!(
        upstreams(&plan),
        [
            (Some("main-258f4d"), None),
            (Some("azure-test-4110dd"), None)
        ]
    );
    for a in plan.attempts() {
        assert_eq!(a.retry.attempts, 5);
        assert_eq!(a.retry.on_status_codes, [429, 529]);
        assert_eq!(
            a.cache,
            Some(Cache {
                mode: CacheMode::Simple,
                max_age: Some(3600)
            })
        );
    }
}

#[test]
fn portkey_config_with_raw_keys_parses_but_keys_are_refused_at_their_paths() {
    let errs = errors(PORTKEY_COMPLETE_WITH_KEYS);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].starts_with("targets[0].api_key: raw provider keys are not accepted"));
    assert!(errs[1].starts_with("targets[1].api_key: "));
    assert!(!errs.join(" ").contains("sk-"), "the key is never echoed");
    // The same config with the keys replaced by credential references is accepted as is,
    // guardrails, request_timeout and cache included.
    let fixed = PORTKEY_COMPLETE_WITH_KEYS
        .replace(
            r#""api_key": "sk-...","#,
            r#""virtual_key": "openai-main","#,
        )
        .replace(
            r#""api_key": "sk-ant-...""#,
            r#""virtual_key": "anthropic-main""#,
        );
    let plan = parse(&fixed).plan(&RequestContext::default(), &mut Fixed::new(&[]));
    let first = &plan.steps[0].attempts[0];
    assert_eq!(first.upstream.credential.as_deref(), Some("openai-main"));
    assert_eq!(first.total_timeout, Some(Duration::from_millis(30_000)));
    assert_eq!(first.retry.on_status_codes, [429, 500]);
    assert_eq!(plan.next_after(0, Failure::Status(502)), Some(1));
    assert_eq!(plan.next_after(0, Failure::Status(400)), None);
}

#[test]
fn camel_case_keys_are_accepted_like_portkey() {
    let config = parse(
        r#"{"strategy": {"mode": "fallback", "onStatusCodes": [429]},
            "targets": [{"virtualKey": "a", "overrideParams": {"model": "m"}, "requestTimeout": 5},
                        {"virtualKey": "b", "retry": {"attempts": 1, "useRetryAfterHeaders": true}}]}"#,
    );
    let plan = config.plan(&RequestContext::default(), &mut Fixed::new(&[]));
    assert_eq!(
        upstreams(&plan),
        [(Some("a"), Some("m")), (Some("b"), None)]
    );
    assert!(plan.steps[1].attempts[0].retry.use_retry_after_header);
}

// ---- Nesting --------------------------------------------------------------------------------

#[test]
fn nested_fallback_escalates_through_each_levels_status_codes() {
    // Outer fallback on [503] whose first target is an inner fallback on [429].
    let config = parse(
        r#"{"strategy": {"mode": "fallback", "on_status_codes": [503]},
            "targets": [
              {"strategy": {"mode": "fallback", "on_status_codes": [429]},
               "targets": [{"provider": "@a"}, {"provider": "@b"}]},
              {"provider": "@c"}]}"#,
    );
    let plan = config.plan(&RequestContext::default(), &mut Fixed::new(&[]));
    assert_eq!(
        upstreams(&plan),
        [(Some("a"), None), (Some("b"), None), (Some("c"), None)]
    );
    assert_eq!(
        plan.next_after(0, Failure::Status(429)),
        Some(1),
        "inner moves on"
    );
    assert_eq!(
        plan.next_after(0, Failure::Status(503)),
        Some(2),
        "inner gives up, outer moves on"
    );
    assert_eq!(plan.next_after(0, Failure::Status(400)), None);
    assert_eq!(
        plan.next_after(1, Failure::Status(429)),
        None,
        "b is the inner's last; outer ignores 429"
    );
    assert_eq!(plan.next_after(1, Failure::Status(503)), Some(2));
    assert_eq!(plan.next_after(2, Failure::Gateway), None);
}

#[test]
fn conditional_into_loadbalance_into_fallback() {
    let config = parse(
        r#"{"override_params": {"temperature": 0.2},
            "strategy": {"mode": "conditional",
              "conditions": [{"query": {"params.model": {"$eq": "claude-sonnet"}}, "then": "lb"}],
              "default": "direct"},
            "targets": [
              {"name": "lb", "strategy": {"mode": "loadbalance"},
               "override_params": {"model": "claude-sonnet-4"},
               "targets": [
                 {"provider": "@anthropic", "weight": 1},
                 {"strategy": {"mode": "fallback"}, "weight": 1,
                  "targets": [{"provider": "@vertex"}, {"provider": "@bedrock"}]}]},
              {"name": "direct", "provider": "@openai", "override_params": {"model": "gpt-4o"}}]}"#,
    );
    let ctx = RequestContext {
        params: json!({"model": "claude-sonnet"}),
        ..RequestContext::default()
    };
    let plan = config.plan(&ctx, &mut Fixed::new(&[0.9]));
    assert_eq!(
        upstreams(&plan),
        [
            (Some("vertex"), Some("claude-sonnet-4")),
            (Some("bedrock"), Some("claude-sonnet-4"))
        ]
    );
    assert_eq!(
        plan.steps[1].attempts[0].path,
        "targets[0].targets[1].targets[1]"
    );
    // override_params merge from the root down; inner keys win.
    assert_eq!(
        Value::Object(plan.steps[0].attempts[0].override_params.clone()),
        json!({"temperature": 0.2, "model": "claude-sonnet-4"})
    );
    let other = RequestContext {
        params: json!({"model": "gpt-4o-mini"}),
        ..RequestContext::default()
    };
    let plan = config.plan(&other, &mut Fixed::new(&[0.9]));
    assert_eq!(upstreams(&plan), [(Some("openai"), Some("gpt-4o"))]);
}

// ---- Keyway extensions ----------------------------------------------------------------------

#[test]
fn race_runs_count_targets_at_once_drawn_by_weight() {
    let config = parse(
        r#"{"strategy": {"mode": "race", "count": 2},
            "targets": [{"provider": "@a", "weight": 1}, {"provider": "@b", "weight": 0},
                        {"provider": "@c", "weight": 1}]}"#,
    );
    let plan = config.plan(&RequestContext::default(), &mut Fixed::new(&[0.9, 0.0]));
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.steps[0].kind, StepKind::Race);
    assert_eq!(upstreams(&plan), [(Some("c"), None), (Some("a"), None)]);
}

#[test]
fn hedge_starts_legs_after_the_delay_in_order() {
    let config = parse(
        r#"{"strategy": {"mode": "hedge", "delay_ms": 250},
            "targets": [{"provider": "@a"}, {"provider": "@b"}]}"#,
    );
    let plan = config.plan(&RequestContext::default(), &mut Fixed::new(&[]));
    assert_eq!(
        plan.steps[0].kind,
        StepKind::Hedge {
            delay: Duration::from_millis(250)
        }
    );
    assert_eq!(upstreams(&plan), [(Some("a"), None), (Some("b"), None)]);
}

#[test]
fn canary_sends_its_percentage_and_falls_back_to_stable() {
    let config = parse(
        r#"{"strategy": {"mode": "canary"},
            "targets": [{"provider": "@stable"}, {"provider": "@new", "percent": 10}]}"#,
    );
    let plan = config.plan(&RequestContext::default(), &mut Fixed::new(&[0.05]));
    assert_eq!(
        upstreams(&plan),
        [(Some("new"), None), (Some("stable"), None)]
    );
    assert_eq!(plan.next_after(0, Failure::Status(500)), Some(1));
    let plan = config.plan(&RequestContext::default(), &mut Fixed::new(&[0.10]));
    assert_eq!(upstreams(&plan), [(Some("stable"), None)]);
    let canary = (0..1000)
        .filter(|i| {
            let plan = config.plan(
                &RequestContext::default(),
                &mut Fixed::new(&[f64::from(*i) / 1000.0]),
            );
            plan.steps.len() == 2
        })
        .count();
    assert_eq!(canary, 100);
}

#[test]
fn timeouts_and_budget_extensions() {
    let config = parse(
        r#"{"budget": {"max_cost_usd": 0.25, "max_attempts": 3}, "request_timeout": 9000,
            "strategy": {"mode": "single"},
            "targets": [{"provider": "@a", "timeouts": {"connect_ms": 500, "first_byte_ms": 2000}}]}"#,
    );
    let plan = config.plan(&RequestContext::default(), &mut Fixed::new(&[]));
    let a = &plan.steps[0].attempts[0];
    assert_eq!(a.connect_timeout, Some(Duration::from_millis(500)));
    assert_eq!(a.first_byte_timeout, Some(Duration::from_millis(2000)));
    assert_eq!(
        a.total_timeout,
        Some(Duration::from_millis(9000)),
        "request_timeout inherited"
    );
    let budget = plan.budget.unwrap_or_default();
    assert_eq!(budget.max_cost(), Some(Usd::from_nanos(250_000_000)));
    assert_eq!(budget.max_attempts, Some(3));
}

#[test]
fn a_bare_config_uses_the_request_model() {
    let plan = parse("{}").plan(&RequestContext::default(), &mut Fixed::new(&[]));
    assert_eq!(upstreams(&plan), [(None, None)]);
    assert_eq!(plan.steps[0].attempts[0].path, "");
}

// ---- Validation paths -----------------------------------------------------------------------

#[test]
fn validation_errors_point_at_the_offending_path() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "@a"}, {"provider": "@b", "weight": -1}]}"#,
            "targets[1].weight: must be >= 0",
        ),
        (
            r#"{"strategy": {"mode": "fallback"}, "targets": [{"provider": "@a", "retry": {"attempts": 9}}]}"#,
            "targets[0].retry.attempts: must be between 0 and 5",
        ),
        (
            r#"{"strategy": {"mode": "fallback", "on_status_codes": [429, 42]}, "targets": [{"provider": "@a"}]}"#,
            "strategy.on_status_codes[1]: must be an HTTP status code (100-599)",
        ),
        (
            r#"{"strategy": {"mode": "conditional", "conditions": [{"query": {"metadata.x": "y"}, "then": "nope"}], "default": "a"}, "targets": [{"name": "a", "provider": "@a"}]}"#,
            "strategy.conditions[0].then: no target is named \"nope\"",
        ),
        (
            r#"{"strategy": {"mode": "conditional", "conditions": []}, "targets": [{"name": "a", "provider": "@a"}]}"#,
            "strategy.default: is required for mode conditional",
        ),
        (
            r#"{"targets": [{"provider": "@a"}]}"#,
            "strategy: is required when targets are given",
        ),
        (
            r#"{"strategy": {"mode": "fallback"}}"#,
            "targets: strategy fallback needs at least one target",
        ),
        (
            r#"{"strategy": {"mode": "hedge"}, "targets": [{"provider": "@a"}]}"#,
            "strategy.delay_ms: is required for mode hedge and must be > 0",
        ),
        (
            r#"{"strategy": {"mode": "race", "count": 3}, "targets": [{"provider": "@a"}, {"provider": "@b"}]}"#,
            "strategy.count: must be between 1 and the number of targets (2)",
        ),
        (
            r#"{"strategy": {"mode": "race"}, "targets": [{"provider": "@a"}, {"strategy": {"mode": "fallback"}, "targets": [{"provider": "@b"}]}]}"#,
            "targets[1]: a race target must resolve to one upstream",
        ),
        (
            r#"{"strategy": {"mode": "canary"}, "targets": [{"provider": "@a"}, {"provider": "@b", "percent": 60}, {"provider": "@c", "percent": 50}]}"#,
            "targets: canary percentages add up to more than 100",
        ),
        (
            r#"{"strategy": {"mode": "fallback"}, "targets": [{"name": "x", "provider": "@a"}, {"name": "x", "provider": "@b"}]}"#,
            "targets[1].name: duplicate target name \"x\"",
        ),
        (
            r#"{"strategy": {"mode": "fallback"}, "targets": [{"provider": "@a", "custom_host": "http://169.254.169.254"}]}"#,
            "targets[0].custom_host: upstream URLs are not accepted",
        ),
        (
            r#"{"strategy": {"mode": "single", "count": 2}, "targets": [{"provider": "@a"}]}"#,
            "strategy.count: only applies to mode race or hedge",
        ),
        (
            r#"{"override_params": {"model": 4}}"#,
            "override_params.model: must be a string",
        ),
    ];
    for (json, want) in cases {
        let errs = errors(json);
        assert!(
            errs.iter().any(|e| e.starts_with(want)),
            "{json}\n  want {want}\n  got {errs:?}"
        );
    }
}

#[test]
fn parse_errors_carry_the_path_too() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"strategy": {"mode": "roundrobin"}}"#,
            "strategy.mode: unknown variant `roundrobin`",
        ),
        (
            r#"{"strategy": {"mode": "fallback"}, "targets": [{"provider": "@a"}, {"provder": "@b"}]}"#,
            "targets[1].provder: unknown field `provder`",
        ),
        (
            r#"{"strategy": {"mode": "fallback"}, "targets": [{"weight": "heavy"}]}"#,
            "targets[0].weight: invalid type",
        ),
        (
            r#"{"strategy": {"mode": "conditional", "default": "a", "conditions": [{"query": {"$or": [{"metadata.a": "1"}, {"params.t": {"$gt": [1]}}]}, "then": "a"}]}, "targets": [{"name": "a"}]}"#,
            "strategy.conditions[0].query.$or[1].params.t.$gt: must be a number or a string",
        ),
        (
            r#"{"strategy": {"mode": "conditional", "default": "a", "conditions": [{"query": {"metadata.a": {"$regex": "("}}, "then": "a"}]}, "targets": [{"name": "a"}]}"#,
            "strategy.conditions[0].query.metadata.a.$regex: invalid regex",
        ),
        (
            r#"{"strategy": {"mode": "conditional", "default": "a", "conditions": [{"query": {"metadata.a": {"$like": "x"}}, "then": "a"}]}, "targets": [{"name": "a"}]}"#,
            "strategy.conditions[0].query.metadata.a.$like: unknown operator",
        ),
        (
            r#"{"strategy": {"mode": "conditional", "default": "a", "conditions": [{"query": {"user_plan": "x"}, "then": "a"}]}, "targets": [{"name": "a"}]}"#,
            "strategy.conditions[0].query.user_plan: fields start with metadata.",
        ),
        (
            r#"{"retry": {"attempts": 1, "backoff": 2}}"#,
            "retry.backoff: unknown field `backoff`",
        ),
    ];
    for (json, want) in cases {
        let errs = errors(json);
        assert!(
            errs.iter().any(|e| e.starts_with(want)),
            "{json}\n  want {want}\n  got {errs:?}"
        );
    }
}

// ---- Condition operators --------------------------------------------------------------------

#[test]
fn condition_operator_table() {
    let ctx = RequestContext {
        metadata: serde_json::from_value(json!({
            "user_plan": "paid", "tier": "5", "region": "eu-west-1", "tags": ["a", "b"]
        }))
        .unwrap_or_default(),
        params: json!({"model": "gpt-4o", "temperature": 0.8, "max_tokens": 512,
                       "stream": true, "response_format": {"type": "json_object"}}),
        headers: [("x-team".to_owned(), "search".to_owned())]
            .into_iter()
            .collect(),
        url_path: "/v1/embeddings".to_owned(),
    };
    let table: &[(Value, bool)] = &[
        (json!({"metadata.user_plan": "paid"}), true),
        (json!({"metadata.user_plan": {"$eq": "paid"}}), true),
        (json!({"metadata.user_plan": {"$eq": "free"}}), false),
        (json!({"metadata.user_plan": {"$ne": "free"}}), true),
        (json!({"metadata.missing": {"$ne": "x"}}), true),
        (json!({"metadata.missing": {"$eq": "x"}}), false),
        (
            json!({"metadata.user_plan": {"$in": ["paid", "enterprise"]}}),
            true,
        ),
        (json!({"metadata.user_plan": {"$in": ["free"]}}), false),
        (json!({"metadata.user_plan": {"$nin": ["free"]}}), true),
        (json!({"metadata.missing": {"$nin": ["free"]}}), true),
        (json!({"metadata.region": {"$regex": "^eu-"}}), true),
        (json!({"metadata.region": {"$regex": "^us-"}}), false),
        (json!({"metadata.tags": {"$eq": "b"}}), true),
        (json!({"metadata.tier": {"$gt": 4}}), true),
        (json!({"metadata.tier": {"$gt": 5}}), false),
        (json!({"metadata.tier": {"$gte": 5}}), true),
        (json!({"metadata.tier": {"$lt": 5}}), false),
        (json!({"metadata.tier": {"$lte": "5"}}), true),
        (json!({"metadata.tier": {"$eq": 5}}), true),
        (json!({"params.temperature": {"$gt": 0.7}}), true),
        (json!({"params.temperature": {"$gte": 0.8, "$lt": 1}}), true),
        (json!({"params.temperature": {"$lte": 0.7}}), false),
        (json!({"params.max_tokens": {"$gte": 512}}), true),
        (json!({"params.model": {"$regex": "^gpt-4"}}), true),
        (json!({"params.stream": true}), true),
        (json!({"params.response_format.type": "json_object"}), true),
        (json!({"params.missing": {"$gt": 1}}), false),
        (json!({"headers.X-Team": "search"}), true),
        (json!({"headers.x-team": {"$in": ["ads"]}}), false),
        (json!({"url.pathname": {"$regex": "embeddings$"}}), true),
        (
            json!({"$and": [{"metadata.user_plan": "paid"}, {"params.model": "gpt-4o"}]}),
            true,
        ),
        (
            json!({"$and": [{"metadata.user_plan": "paid"}, {"params.model": "o1"}]}),
            false,
        ),
        (
            json!({"$or": [{"metadata.user_plan": "free"}, {"params.model": "gpt-4o"}]}),
            true,
        ),
        (
            json!({"$or": [{"metadata.user_plan": "free"}, {"params.model": "o1"}]}),
            false,
        ),
        (
            json!({"$or": [{"$and": [{"metadata.tier": {"$gte": 3}}, {"params.stream": true}]},
                            {"metadata.user_plan": "free"}]}),
            true,
        ),
        (
            json!({"metadata.user_plan": "paid", "params.model": "o1"}),
            false,
        ),
    ];
    for (query, want) in table {
        let q = match Query::compile(query) {
            Ok(q) => q,
            Err(e) => panic!("{query} should compile: {e}"),
        };
        assert_eq!(q.matches(&ctx), *want, "{query}");
    }
}

#[test]
fn weighted_choice_edges() {
    assert_eq!(weighted_choice(&[], &[], 0.5), None);
    assert_eq!(weighted_choice(&[0.0, 0.0], &[1.0, 1.0], 0.5), None);
    assert_eq!(weighted_choice(&[5.0, 3.0, 1.0], &[], 0.0), Some(0));
    assert_eq!(weighted_choice(&[5.0, 3.0, 1.0], &[], 5.0 / 9.0), Some(1));
    assert_eq!(weighted_choice(&[5.0, 3.0, 1.0], &[], 0.99), Some(2));
    // All degraded: the plain weights still route somewhere.
    assert_eq!(weighted_choice(&[1.0, 3.0], &[0.0, 0.0], 0.5), Some(1));
    // Zero-weight targets are never chosen, even at the top of the range.
    assert_eq!(weighted_choice(&[1.0, 0.0], &[], 1.0), Some(0));
    // NaN and negative multipliers count as zero.
    assert_eq!(weighted_choice(&[1.0, 1.0], &[f64::NAN, 1.0], 0.1), Some(1));
}

#[test]
fn configs_round_trip_through_json_with_secrets_masked() {
    let config = parse(PORTKEY_CONDITIONAL);
    let again = RoutingConfig::from_value(config.to_value());
    assert!(again.is_ok(), "{again:?}");
    let with_key = r#"{"api_key": "sk-live-abcdef"}"#;
    let target: Target = serde_json::from_str(with_key).unwrap_or_default();
    assert!(
        !serde_json::to_string(&target)
            .unwrap_or_default()
            .contains("sk-live")
    );
}

#[test]
fn metadata_headers_parse_into_flat_objects() {
    let m = RequestContext::parse_metadata(r#"{"user_plan": "paid", "tier": 3, "beta": true}"#);
    assert_eq!(m.map(|m| m.len()), Ok(3));
    assert_eq!(
        RequestContext::parse_metadata("[1]"),
        Err("metadata must be a JSON object".to_owned())
    );
    assert_eq!(
        RequestContext::parse_metadata(r#"{"nested": {"a": 1}}"#),
        Err("metadata.nested must be a string, number or boolean".to_owned())
    );
    assert!(RequestContext::parse_metadata("{oops").is_err());
}

#[test]
fn retry_delays_back_off_with_jitter_and_honour_retry_after() {
    let policy = RetryPolicy {
        attempts: 5,
        on_status_codes: vec![429],
        use_retry_after_header: true,
    };
    let ms = Duration::from_millis;
    // 250 ms doubling, half fixed and half jittered.
    assert_eq!(policy.delay(0, None, Duration::ZERO, 0.0), Some(ms(125)));
    assert_eq!(policy.delay(0, None, Duration::ZERO, 1.0), Some(ms(250)));
    assert_eq!(policy.delay(2, None, Duration::ZERO, 0.5), Some(ms(750)));
    assert_eq!(
        policy.delay(10, None, Duration::ZERO, 1.0),
        Some(BACKOFF_MAX)
    );
    // Retry-After wins when honoured; the 60 s total cap ends the retries.
    assert_eq!(
        policy.delay(0, Some(ms(3000)), Duration::ZERO, 0.0),
        Some(ms(3000))
    );
    assert_eq!(policy.delay(1, Some(ms(50_000)), ms(20_000), 0.0), None);
    assert_eq!(policy.delay(0, Some(ms(61_000)), Duration::ZERO, 0.0), None);
    let ignoring = RetryPolicy {
        use_retry_after_header: false,
        ..policy
    };
    assert_eq!(
        ignoring.delay(0, Some(ms(3000)), Duration::ZERO, 0.0),
        Some(ms(125))
    );
}

#[test]
fn hedge_count_limits_the_legs() {
    let config = parse(
        r#"{"strategy": {"mode": "hedge", "delay_ms": 100, "count": 2},
            "targets": [{"provider": "@a"}, {"provider": "@b"}, {"provider": "@c"}]}"#,
    );
    let plan = config.plan(&RequestContext::default(), &mut Fixed::new(&[]));
    assert_eq!(upstreams(&plan), [(Some("a"), None), (Some("b"), None)]);
}

//! The shipped pricing catalog and the cost arithmetic, as the gateway uses them.
#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

use keyway_domain::Usd;
use keyway_providers::canonical::Usage;
use keyway_providers::pricing::{self, PricingError};
use keyway_providers::{ModelPrice, PriceCatalog, PriceOverride};

/// The strings of the store's `ProviderKind`.
const PROVIDER_KINDS: [&str; 20] = [
    "openai",
    "azure-openai",
    "anthropic",
    "gemini",
    "bedrock",
    "cohere",
    "mistral",
    "groq",
    "together",
    "fireworks",
    "deepseek",
    "xai",
    "openrouter",
    "perplexity",
    "cerebras",
    "deepinfra",
    "ollama",
    "vllm",
    "openai-compatible",
    "mock",
];

fn usd(s: &str) -> Usd {
    pricing::parse_usd(s).unwrap()
}

fn catalog() -> &'static PriceCatalog {
    PriceCatalog::builtin()
}

fn price(provider: &str, model: &str) -> ModelPrice {
    *catalog()
        .price(provider, model)
        .unwrap_or_else(|| panic!("{provider}/{model} should be priced"))
}

fn io(input: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        ..Usage::default()
    }
}

#[test]
fn shipped_catalog_parses_and_every_entry_is_sane() {
    let parsed = PriceCatalog::from_json(pricing::BUILTIN_JSON).expect("shipped catalog parses");
    assert!(parsed.entries().count() > 150);
    // builtin() is the same document, not the empty fallback.
    assert_eq!(catalog().entries().count(), parsed.entries().count());

    let date = catalog().prices_as_of();
    let b = date.as_bytes();
    assert!(
        date.len() == 10 && b[4] == b'-' && b[7] == b'-',
        "prices_as_of {date:?} is not YYYY-MM-DD"
    );

    let providers: Vec<&str> = catalog().providers().collect();
    for kind in PROVIDER_KINDS {
        assert!(providers.contains(&kind), "no section for {kind}");
    }
    for kind in &providers {
        assert!(
            PROVIDER_KINDS.contains(kind),
            "section {kind} is no provider kind"
        );
    }

    for (provider, model, p) in catalog().entries() {
        let what = format!("{provider}/{model}");
        assert!(p.input_per_mtok >= Usd::ZERO, "{what} input");
        assert!(p.output_per_mtok >= Usd::ZERO, "{what} output");
        assert!(p.cache_write_per_mtok >= Usd::ZERO, "{what} cache write");
        assert!(p.reasoning_per_mtok >= Usd::ZERO, "{what} reasoning");
        assert!(p.cached_read_per_mtok >= Usd::ZERO, "{what} cached read");
        assert!(
            p.cached_read_per_mtok <= p.input_per_mtok,
            "{what}: a cached read costs more than input"
        );
        // Nothing lists above $1,000 per million tokens; a misplaced decimal point would.
        assert!(p.output_per_mtok <= usd("1000"), "{what} output");
        assert!(p.input_per_mtok <= usd("1000"), "{what} input");
    }
}

#[test]
fn main_models_of_every_priced_provider_are_known() {
    let known = [
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini"),
        ("openai", "gpt-4.1"),
        ("openai", "gpt-4.1-mini"),
        ("openai", "gpt-4.1-nano"),
        ("openai", "o3"),
        ("openai", "o4-mini"),
        ("openai", "gpt-5"),
        ("openai", "gpt-5-mini"),
        ("openai", "gpt-5-nano"),
        ("openai", "text-embedding-3-small"),
        ("openai", "text-embedding-3-large"),
        ("azure-openai", "gpt-4o"),
        ("anthropic", "claude-opus-4-1"),
        ("anthropic", "claude-sonnet-4-5"),
        ("anthropic", "claude-haiku-4-5"),
        ("anthropic", "claude-3-7-sonnet-latest"),
        ("anthropic", "claude-3-5-haiku-20241022"),
        ("gemini", "gemini-2.5-pro"),
        ("gemini", "gemini-2.5-flash"),
        ("gemini", "gemini-2.0-flash"),
        ("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("cohere", "command-r"),
        ("cohere", "command-r-plus"),
        ("mistral", "mistral-large-latest"),
        ("mistral", "mistral-small-latest"),
        ("groq", "llama-3.3-70b-versatile"),
        ("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
        (
            "fireworks",
            "accounts/fireworks/models/llama-v3p3-70b-instruct",
        ),
        ("cerebras", "llama-3.3-70b"),
        ("deepinfra", "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
        ("deepseek", "deepseek-chat"),
        ("deepseek", "deepseek-reasoner"),
        ("xai", "grok-4"),
        ("openrouter", "openai/gpt-4o-mini"),
        ("perplexity", "sonar"),
        ("perplexity", "sonar-pro"),
    ];
    for (provider, model) in known {
        let p = price(provider, model);
        assert!(
            p.input_per_mtok > Usd::ZERO,
            "{provider}/{model} has no input price"
        );
    }
}

#[test]
fn gpt_4o_mini_thousand_in_thousand_out_costs_exactly() {
    // $0.15/M in, $0.60/M out: 1k in = 150_000 nano, 1k out = 600_000 nano.
    let cost = price("openai", "gpt-4o-mini").cost(&io(1_000, 1_000));
    assert_eq!(cost, Usd::from_nanos(750_000));
    assert_eq!(cost.to_string(), "0.000750000");
    assert_eq!(
        catalog().cost("openai", "gpt-4o-mini", &io(1_000, 1_000)),
        Some(cost)
    );
}

#[test]
fn dated_snapshots_price_as_their_family() {
    let cases = [
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai", "gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("openai", "o3-mini-2025-01-31", "o3-mini"),
        ("openai", "gpt-5-2025-08-07", "gpt-5"),
        (
            "anthropic",
            "claude-sonnet-4-5-20250929",
            "claude-sonnet-4-5",
        ),
        ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("anthropic", "claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        (
            "gemini",
            "gemini-2.5-flash-preview-05-20",
            "gemini-2.5-flash",
        ),
        (
            "gemini",
            "gemini-2.5-flash-lite-preview-06-17",
            "gemini-2.5-flash-lite",
        ),
        ("gemini", "gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("mistral", "mistral-large-2411", "mistral-large"),
        ("xai", "grok-4-0709", "grok-4"),
    ];
    for (provider, snapshot, family) in cases {
        assert_eq!(
            price(provider, snapshot),
            price(provider, family),
            "{snapshot} should price as {family}"
        );
    }
    // The longest prefix wins: Opus 4.5 is not priced as Opus 4.
    assert_eq!(
        price("anthropic", "claude-opus-4-5-20251101").input_per_mtok,
        usd("5")
    );
    assert_eq!(
        price("anthropic", "claude-opus-4-20250514").input_per_mtok,
        usd("15")
    );
    // An exact snapshot entry beats its family.
    assert_eq!(
        price("openai", "gpt-4o-2024-05-13").input_per_mtok,
        usd("5")
    );
}

#[test]
fn ids_are_normalised_per_provider() {
    let sonnet = price("anthropic", "claude-sonnet-4-5");
    for id in [
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ] {
        assert_eq!(price("bedrock", id), sonnet, "{id}");
    }
    assert_eq!(
        price("bedrock", "amazon.nova-pro-v1:0").input_per_mtok,
        usd("0.80")
    );
    assert_eq!(
        price("gemini", "models/gemini-2.5-pro"),
        price("gemini", "gemini-2.5-pro")
    );
    // Case does not matter (Together ids are mixed case).
    assert_eq!(
        price("together", "meta-llama/llama-3.3-70b-instruct-turbo"),
        price("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo")
    );
    assert_eq!(price("openai", "GPT-4o"), price("openai", "gpt-4o"));
}

#[test]
fn bedrock_ids_as_the_converse_api_takes_them_are_priced() {
    // The versioned ids Converse is called with fall back to their family entries.
    for (id, input, output) in [
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", "3.00", "15.00"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "3.00", "15.00"),
        ("amazon.nova-lite-v1:0", "0.06", "0.24"),
        ("us.amazon.nova-premier-v1:0", "2.50", "12.50"),
        ("meta.llama3-70b-instruct-v1:0", "2.65", "3.50"),
        ("meta.llama3-8b-instruct-v1:0", "0.30", "0.60"),
        ("meta.llama3-1-70b-instruct-v1:0", "0.72", "0.72"),
        ("cohere.command-r-plus-v1:0", "3.00", "15.00"),
        ("cohere.command-r-v1:0", "0.50", "1.50"),
    ] {
        let p = price("bedrock", id);
        assert_eq!(
            (p.input_per_mtok, p.output_per_mtok),
            (usd(input), usd(output)),
            "{id}"
        );
    }
    // Cohere's own API and Azure (which inherits OpenAI's list prices).
    assert_eq!(
        price("cohere", "command-a-03-2025").input_per_mtok,
        usd("2.50")
    );
    assert_eq!(
        price("azure-openai", "gpt-4o-mini"),
        price("openai", "gpt-4o-mini")
    );
    // 1,000 in + 1,000 out on Nova Lite: 60,000 + 240,000 nano-USD.
    assert_eq!(
        catalog()
            .cost("bedrock", "amazon.nova-lite-v1:0", &io(1_000, 1_000))
            .unwrap(),
        Usd::from_nanos(300_000)
    );
}

#[test]
fn cached_reads_and_cache_writes_use_their_own_prices() {
    // Sonnet 4.5: $3 in, $0.30 cached read, $3.75 cache write, $15 out.
    let usage = Usage {
        input_tokens: 10_000,
        cached_read_tokens: 6_000,
        cache_write_tokens: 2_000,
        output_tokens: 1_000,
        reasoning_tokens: 0,
    };
    let cost = price("anthropic", "claude-sonnet-4-5").cost(&usage);
    let expected = 2_000 * 3_000 // uncached input, nano-dollars (3_000 nano per token)
        + 6_000 * 300
        + 2_000 * 3_750
        + 1_000 * 15_000;
    assert_eq!(cost, Usd::from_nanos(expected));
    assert_eq!(cost.to_string(), "0.030300000");

    // OpenAI lists no cache-write surcharge: written tokens cost the input price.
    let mini = price("openai", "gpt-4o-mini");
    assert_eq!(mini.cache_write_per_mtok, mini.input_per_mtok);
    assert_eq!(mini.cached_read_per_mtok, usd("0.075"));
}

#[test]
fn reasoning_tokens_are_output_unless_priced_apart() {
    // o4-mini: reasoning costs the output price, so splitting output changes nothing.
    let o4 = price("openai", "o4-mini");
    let with_reasoning = Usage {
        reasoning_tokens: 700,
        ..io(100, 1_000)
    };
    assert_eq!(o4.cost(&with_reasoning), o4.cost(&io(100, 1_000)));
    assert_eq!(
        o4.cost(&with_reasoning),
        Usd::from_nanos(100 * 1_100 + 1_000 * 4_400)
    );

    // sonar-deep-research lists reasoning apart: $2 in, $8 out, $3 reasoning.
    let deep = price("perplexity", "sonar-deep-research");
    let usage = Usage {
        reasoning_tokens: 400,
        ..io(100, 1_000)
    };
    assert_eq!(
        deep.cost(&usage),
        Usd::from_nanos(100 * 2_000 + 600 * 8_000 + 400 * 3_000)
    );
    // Reasoning reported beyond the output total is not billed twice.
    let inconsistent = Usage {
        reasoning_tokens: 5_000,
        ..io(0, 1_000)
    };
    assert_eq!(deep.cost(&inconsistent), Usd::from_nanos(1_000 * 3_000));
}

#[test]
fn fractions_of_a_nano_dollar_round_half_up_per_component() {
    // command-r7b: $0.0375/M in = 37.5 nano per token; $0.15/M out = 150 nano per token.
    let r7b = price("cohere", "command-r7b-12-2024");
    assert_eq!(r7b.cost(&io(1, 0)), Usd::from_nanos(38));
    assert_eq!(r7b.cost(&io(3, 0)), Usd::from_nanos(113)); // 112.5 -> 113
    assert_eq!(r7b.cost(&io(2, 1)), Usd::from_nanos(75 + 150));
    // Rounded per component, not per token: 1 + 1 cached read at 37.5 each = 38 + 38.
    let cached = Usage {
        input_tokens: 2,
        cached_read_tokens: 1,
        ..Usage::default()
    };
    assert_eq!(r7b.cost(&cached), Usd::from_nanos(76));
}

#[test]
fn an_org_override_wins_over_the_catalog() {
    let overrides: Vec<PriceOverride> = serde_json::from_str(
        r#"[
            {"provider": "openai", "model": "gpt-4o", "prices": {"input": "1.00", "output": "4.00"}},
            {"provider": "anthropic", "model": "claude-sonnet-4-5",
             "prices": {"input": "2", "output": "10", "cached_read": "0.2", "cache_write": "2.5"}},
            {"provider": "openai-compatible", "model": "*", "prices": {"input": "0.5", "output": "0.5"}},
            {"provider": "openai", "model": "gpt-4o", "prices": {"input": "1.50", "output": "6.00"}}
        ]"#,
    )
    .unwrap();
    let org = catalog().with_overrides(&overrides);

    // The later of two overrides of one model wins; snapshots follow their family's override.
    for model in ["gpt-4o", "gpt-4o-2024-08-06", "GPT-4o-latest"] {
        let p = org.price("openai", model).unwrap();
        assert_eq!(p.input_per_mtok, usd("1.50"), "{model}");
        assert_eq!(p.output_per_mtok, usd("6.00"), "{model}");
        assert_eq!(
            p.cached_read_per_mtok,
            usd("1.50"),
            "{model}: defaults to input"
        );
    }
    // Azure inherits OpenAI's prices, overridden ones included.
    assert_eq!(
        org.price("azure-openai", "gpt-4o").unwrap().input_per_mtok,
        usd("1.50")
    );
    // gpt-4o-mini is another model, untouched by the gpt-4o override.
    assert_eq!(
        org.price("openai", "gpt-4o-mini"),
        catalog().price("openai", "gpt-4o-mini")
    );
    assert_eq!(
        org.price("anthropic", "claude-sonnet-4-5-20250929")
            .unwrap()
            .cache_write_per_mtok,
        usd("2.5")
    );
    // A wildcard override prices a provider the catalog cannot know.
    assert_eq!(
        org.cost("openai-compatible", "my-finetune", &io(1_000_000, 0)),
        Some(usd("0.5"))
    );
    // The shared catalog is unchanged.
    assert_eq!(price("openai", "gpt-4o").input_per_mtok, usd("2.50"));
    assert_eq!(catalog().price("openai-compatible", "my-finetune"), None);
}

#[test]
fn overrides_refuse_float_and_malformed_prices() {
    for bad in [
        r#"{"provider": "openai", "model": "gpt-4o", "prices": {"input": 0.15, "output": "1"}}"#,
        r#"{"provider": "openai", "model": "gpt-4o", "prices": {"input": "-1", "output": "1"}}"#,
        r#"{"provider": "openai", "model": "gpt-4o", "prices": {"input": "1", "output": "1", "cached_input": "1"}}"#,
        r#"{"provider": "openai", "model": "gpt-4o", "prices": {"input": "0.0000000001", "output": "1"}}"#,
        r#"{"provider": "openai", "model": "gpt-4o", "prices": {"output": "1"}}"#,
    ] {
        assert!(
            serde_json::from_str::<PriceOverride>(bad).is_err(),
            "{bad} should be refused"
        );
    }
}

#[test]
fn prices_serialise_as_the_decimal_strings_they_are_read_from() {
    let p = price("openai", "gpt-4o-mini");
    let json = serde_json::to_value(p).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "input": "0.15", "output": "0.6", "cached_read": "0.075",
            "cache_write": "0.15", "reasoning": "0.6"
        })
    );
    assert_eq!(serde_json::from_value::<ModelPrice>(json).unwrap(), p);
}

#[test]
fn mock_models_are_priced_so_demos_show_cost() {
    for model in [
        "echo",
        "echo+delay-50",
        "gpt-4o-mini+echo",
        "anything at all",
    ] {
        let p = price("mock", model);
        assert_eq!(p.input_per_mtok, usd("1"), "{model}");
        assert_eq!(p.output_per_mtok, usd("2"), "{model}");
    }
    assert_eq!(
        catalog().cost("mock", "echo", &io(1_000_000, 1_000_000)),
        Some(usd("3"))
    );
    assert_eq!(
        catalog().cost("mock", "echo", &io(10, 20)),
        Some(Usd::from_nanos(10 * 1_000 + 20 * 2_000))
    );
}

#[test]
fn self_hosted_models_are_free() {
    for provider in ["ollama", "vllm"] {
        for model in ["llama3.1:8b", "Qwen/Qwen2.5-7B-Instruct"] {
            assert_eq!(
                catalog().cost(provider, model, &io(1_000_000, 1_000_000)),
                Some(Usd::ZERO),
                "{provider}/{model}"
            );
        }
    }
}

#[test]
fn unknown_models_and_providers_have_no_price() {
    let unknown = [
        ("openai", "made-up-model"),
        ("openai", "gpt-4o-mini-tts"), // another model, not a snapshot of gpt-4o-mini
        ("openai", "gpt-4-32k"),       // not gpt-4
        ("anthropic", "claude-opus-4-6"), // a newer version is not priced as an older one
        ("anthropic", "gpt-4o"),       // models are per provider
        ("openai-compatible", "gpt-4o"), // custom base URLs do not borrow OpenAI's prices
        ("groq", "gpt-4o"),
        ("no-such-provider", "gpt-4o"),
        ("openai", ""),
    ];
    for (provider, model) in unknown {
        assert_eq!(catalog().price(provider, model), None, "{provider}/{model}");
        assert_eq!(catalog().cost(provider, model, &io(1, 1)), None);
    }
}

#[test]
fn huge_token_counts_do_not_overflow() {
    // o1-pro: $150/M in, $600/M out. A trillion tokens each way is exact.
    let o1_pro = price("openai", "o1-pro");
    let trillion = 1_000_000_000_000;
    assert_eq!(
        o1_pro.cost(&io(trillion, trillion)),
        usd("750000000") // $150M + $600M
    );
    // The largest counts saturate at the largest amount instead of wrapping.
    let max = Usage {
        input_tokens: u64::MAX,
        output_tokens: u64::MAX,
        cached_read_tokens: u64::MAX,
        cache_write_tokens: u64::MAX,
        reasoning_tokens: u64::MAX,
    };
    assert_eq!(o1_pro.cost(&max), Usd::from_nanos(i64::MAX));
    assert_eq!(price("ollama", "x").cost(&max), Usd::ZERO);
}

#[test]
fn broken_catalogs_are_errors_not_panics() {
    let cases = [
        ("not json", "invalid pricing catalog"),
        (
            r#"{"prices_as_of": "2025-01-01", "unit": "", "providers": {"openai": {"models": {"x": {"input": 1, "output": "1"}}}}}"#,
            "expected a string",
        ),
        (
            r#"{"prices_as_of": "2025-01-01", "unit": "", "providers": {"openai": {"models": {"x": {"input": "1,5", "output": "1"}}}}}"#,
            "invalid price",
        ),
        (
            r#"{"prices_as_of": "2025-01-01", "unit": "", "providers": {"azure-openai": {"inherits": "openai", "models": {}}}}"#,
            "inherits unknown provider",
        ),
        (
            r#"{"prices_as_of": "2025-01-01", "unit": "", "providers": {"openai": {"models": {"GPT-4o": {"input": "1", "output": "1"}, "gpt-4o": {"input": "1", "output": "1"}}}}}"#,
            "listed twice",
        ),
    ];
    for (json, message) in cases {
        let err: PricingError = PriceCatalog::from_json(json).unwrap_err();
        assert!(
            err.to_string().contains(message),
            "{json}: {err} should mention {message:?}"
        );
    }
}

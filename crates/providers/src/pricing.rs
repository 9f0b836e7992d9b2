//! The pricing catalog: what a request costs, in exact integer nano-dollars.
//!
//! The catalog ships as data, `pricing/catalog.json` in this crate, compiled in with
//! `include_str!` and parsed once into [`PriceCatalog::builtin`]. Prices in the file are JSON
//! decimal strings of USD per million tokens (`"0.15"`), parsed by a small decimal parser into
//! nano-dollars exactly; JSON numbers are refused so that no price ever passes through `f64`.
//! The file's `prices_as_of` field dates the list prices ([`PriceCatalog::prices_as_of`]).
//!
//! Each entry has an input and an output price and, optionally, a cached-read price and a
//! cache-write price (both default to the input price) and a reasoning price (defaults to the
//! output price).
//!
//! # Matching a model to an entry
//! Entries are keyed by provider kind (`openai`, `azure-openai`, `anthropic`, ... `mock`, the
//! strings of the store's `ProviderKind`) and model id. [`PriceCatalog::price`] looks up, within
//! the provider:
//! 1. the exact model id, ignoring ASCII case;
//! 2. else the longest catalog id that is a prefix of the model id followed by a snapshot
//!    suffix: `-` or `@`, then a segment that is a date or build number (three or more digits),
//!    `latest`, `preview`, `exp`, or a version tag `v1`/`v1:0`. So `gpt-4o-2024-08-06` and
//!    `gpt-4o-latest` price as `gpt-4o` and `claude-sonnet-4-5-20250929` as `claude-sonnet-4-5`,
//!    but `gpt-4o-mini-tts` or `claude-opus-4-6` do not fall back to a cheaper or older
//!    sibling: a different model is unknown until the catalog (or an override) lists it;
//! 3. else the provider's `*` entry, if it has one: `ollama` and `vllm` price every model at 0,
//!    and `mock` prices every behaviour string (`echo`, `echo+delay-50`, `gpt-4o-mini+echo`) at
//!    $1 input / $2 output per million tokens so that demos show a cost;
//! 4. else, if the provider `inherits` another one, the same steps there. Only `azure-openai`
//!    does (it inherits `openai`: Azure lists the same prices for its global deployments).
//!    OpenAI-compatible presets do not inherit: `openai-compatible` (any base URL) has no
//!    entries at all.
//!
//! Before matching, a Bedrock id loses an ARN path (up to its last `/`) and a cross-region
//! inference-profile prefix (`us.`, `eu.`, `apac.`, `global.`, ...), and a Gemini id loses a
//! leading `models/`. An unknown model gives `None`; the caller records cost 0 and flags it.
//!
//! # Overrides
//! [`PriceCatalog::with_overrides`] applies an org's [`PriceOverride`]s: each replaces (or adds)
//! the entry with the same provider and model id, and the matching rules above then apply
//! unchanged (an override of `gpt-4o` also prices `gpt-4o-2024-08-06`, unless the catalog lists
//! that snapshot separately; an override of `*` prices every otherwise unknown model).
//!
//! # Arithmetic
//! [`ModelPrice::cost`] multiplies tokens by nano-dollars per million tokens in `i128` (the
//! product of any `u64` and any `i64` fits), divides by one million rounding half up, once per
//! billed component, and sums with saturation.
//!
//! # A broken shipped file
//! The shipped file is checked by this crate's tests. Should a broken one ship anyway,
//! [`PriceCatalog::builtin`] logs the parse error once and serves an empty catalog (every
//! model unknown, so every request is flagged) rather than panicking in the gateway.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use keyway_domain::Usd;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::canonical::Usage;

/// The shipped catalog file, as compiled into the binary.
pub const BUILTIN_JSON: &str = include_str!("../pricing/catalog.json");

/// The wildcard model id: the price of every model of a provider that no other entry matches.
pub const WILDCARD: &str = "*";

const TOKENS_PER_PRICE_UNIT: i128 = 1_000_000;

static BUILTIN: LazyLock<PriceCatalog> =
    LazyLock::new(|| match PriceCatalog::from_json(BUILTIN_JSON) {
        Ok(catalog) => catalog,
        Err(error) => {
            tracing::error!(
                %error,
                "the shipped pricing catalog does not parse; every model is priced as unknown"
            );
            PriceCatalog::default()
        }
    });

/// Why a catalog or a price could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    /// The document is not valid JSON of the catalog's shape (this includes bad prices).
    #[error("invalid pricing catalog: {0}")]
    Json(#[from] serde_json::Error),
    /// A price string is not a non-negative decimal with at most nine fractional digits.
    #[error("invalid price {value:?}: {reason}")]
    Price {
        /// The string as written.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The catalog is well-formed JSON but inconsistent.
    #[error("invalid pricing catalog: {0}")]
    Invalid(String),
}

/// The prices of one model, in USD per million tokens, with every default already applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PriceWire", into = "PriceWire")]
pub struct ModelPrice {
    /// Uncached prompt tokens.
    pub input_per_mtok: Usd,
    /// Generated tokens other than reasoning.
    pub output_per_mtok: Usd,
    /// Prompt tokens read from the provider's cache.
    pub cached_read_per_mtok: Usd,
    /// Prompt tokens written to the provider's cache.
    pub cache_write_per_mtok: Usd,
    /// Generated reasoning tokens.
    pub reasoning_per_mtok: Usd,
}

impl ModelPrice {
    /// A price with only input and output set: cached reads and cache writes cost the input
    /// price, reasoning costs the output price.
    pub const fn new(input_per_mtok: Usd, output_per_mtok: Usd) -> Self {
        Self {
            input_per_mtok,
            output_per_mtok,
            cached_read_per_mtok: input_per_mtok,
            cache_write_per_mtok: input_per_mtok,
            reasoning_per_mtok: output_per_mtok,
        }
    }

    /// The cost of `usage` at these prices: uncached input, cached reads and cache writes each
    /// at their price, output minus reasoning at the output price, reasoning at the reasoning
    /// price. Reasoning tokens beyond the output total are not billed twice (the canonical
    /// [`Usage`] counts them inside `output_tokens`). Each of the five amounts is rounded half
    /// up to a nano-dollar, then they are summed (saturating).
    pub fn cost(&self, usage: &Usage) -> Usd {
        let reasoning = usage.reasoning_tokens.min(usage.output_tokens);
        [
            (usage.uncached_input_tokens(), self.input_per_mtok),
            (usage.cached_read_tokens, self.cached_read_per_mtok),
            (usage.cache_write_tokens, self.cache_write_per_mtok),
            (usage.output_tokens - reasoning, self.output_per_mtok),
            (reasoning, self.reasoning_per_mtok),
        ]
        .into_iter()
        .fold(Usd::ZERO, |total, (tokens, price)| {
            total + component_cost(tokens, price)
        })
    }
}

/// `tokens * price / 1e6`, rounded half up (towards +inf on a tie, also for negative prices).
fn component_cost(tokens: u64, price_per_mtok: Usd) -> Usd {
    // |u64 * i64| < 2^127, so neither the product nor adding half a unit can overflow i128;
    // the saturating forms only make that explicit.
    let scaled = i128::from(tokens)
        .saturating_mul(i128::from(price_per_mtok.nanos()))
        .saturating_add(TOKENS_PER_PRICE_UNIT / 2)
        .div_euclid(TOKENS_PER_PRICE_UNIT);
    let nanos = i64::try_from(scaled).unwrap_or(if scaled > 0 { i64::MAX } else { i64::MIN });
    Usd::from_nanos(nanos)
}

/// One org's price for one model, replacing the catalog's, e.g.
/// `{"provider": "openai", "model": "gpt-4o", "prices": {"input": "2.00", "output": "8.00"}}`.
/// `prices` takes the catalog file's entry shape (decimal strings of USD per million tokens;
/// `cached_read`, `cache_write` and `reasoning` optional with the same defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    /// Provider kind, e.g. `openai`.
    pub provider: String,
    /// Model id or prefix as matched by [`PriceCatalog::price`], or `*` for every model.
    pub model: String,
    /// The prices.
    pub prices: ModelPrice,
}

/// Prices of every known model, by provider kind and model id. See the module docs for the
/// matching rules.
#[derive(Debug, Clone, Default)]
pub struct PriceCatalog {
    prices_as_of: String,
    providers: BTreeMap<String, ProviderPrices>,
}

#[derive(Debug, Clone, Default)]
struct ProviderPrices {
    inherits: Option<String>,
    models: ModelTable,
}

/// Entries keyed by lowercased model id, plus the non-wildcard ones longest first for prefix
/// matching.
#[derive(Debug, Clone, Default)]
struct ModelTable {
    exact: HashMap<String, Entry>,
    by_length: Vec<(String, ModelPrice)>,
}

#[derive(Debug, Clone)]
struct Entry {
    id: String,
    price: ModelPrice,
}

impl ModelTable {
    fn insert(&mut self, id: &str, price: ModelPrice) {
        let entry = Entry {
            id: id.to_owned(),
            price,
        };
        self.exact.insert(id.to_ascii_lowercase(), entry);
    }

    fn reindex(&mut self) {
        self.by_length = self
            .exact
            .iter()
            .filter(|(key, _)| key.as_str() != WILDCARD)
            .map(|(key, entry)| (key.clone(), entry.price))
            .collect();
        self.by_length
            .sort_by(|(a, _), (b, _)| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// `model` is already lowercased.
    fn find(&self, model: &str) -> Option<&ModelPrice> {
        if let Some(entry) = self.exact.get(model) {
            return Some(&entry.price);
        }
        self.by_length
            .iter()
            .find(|(key, _)| {
                model
                    .strip_prefix(key.as_str())
                    .is_some_and(is_snapshot_suffix)
            })
            .map(|(_, price)| price)
            .or_else(|| self.exact.get(WILDCARD).map(|entry| &entry.price))
    }
}

/// Whether what follows a catalog id names a snapshot of that model rather than another model.
fn is_snapshot_suffix(rest: &str) -> bool {
    let Some(rest) = rest.strip_prefix(['-', '@']) else {
        return false;
    };
    let segment = rest.split('-').next().unwrap_or_default();
    let all_digits = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    // A one- or two-digit segment is a version bump (`claude-opus-4-6`), not a snapshot.
    (all_digits && segment.len() >= 3)
        || matches!(segment, "latest" | "preview" | "exp")
        || is_version_tag(segment)
}

/// `v1`, `v2:0` (Bedrock's model versions).
fn is_version_tag(segment: &str) -> bool {
    let Some(version) = segment.strip_prefix('v') else {
        return false;
    };
    let (major, minor) = version.split_once(':').unwrap_or((version, "0"));
    [major, minor]
        .iter()
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// Bedrock cross-region inference-profile prefixes.
const BEDROCK_GEOS: [&str; 8] = ["us", "us-gov", "eu", "apac", "global", "jp", "au", "ca"];

fn normalize<'a>(provider: &str, model: &'a str) -> Cow<'a, str> {
    let mut model = model.trim();
    match provider {
        "bedrock" => {
            model = model.rsplit('/').next().unwrap_or(model);
            if let Some((geo, rest)) = model.split_once('.')
                && BEDROCK_GEOS.iter().any(|g| g.eq_ignore_ascii_case(geo))
            {
                model = rest;
            }
        }
        "gemini" => model = model.strip_prefix("models/").unwrap_or(model),
        _ => {}
    }
    if model.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(model.to_ascii_lowercase())
    } else {
        Cow::Borrowed(model)
    }
}

impl PriceCatalog {
    /// The shipped catalog, parsed on first use. If the shipped file were broken, this is an
    /// empty catalog and the parse error was logged once (the tests make sure it is not).
    pub fn builtin() -> &'static PriceCatalog {
        &BUILTIN
    }

    /// Reads a catalog document of the shipped file's shape.
    pub fn from_json(json: &str) -> Result<Self, PricingError> {
        let file: CatalogFile = serde_json::from_str(json)?;
        let mut providers = BTreeMap::new();
        for (kind, provider) in file.providers {
            let mut models = ModelTable::default();
            for (id, price) in provider.models {
                if id.trim().is_empty() || id.trim() != id {
                    return Err(PricingError::Invalid(format!(
                        "{kind}: model id {id:?} is empty or padded"
                    )));
                }
                if models.exact.contains_key(&id.to_ascii_lowercase()) {
                    return Err(PricingError::Invalid(format!(
                        "{kind}: model id {id:?} is listed twice (ids match ignoring case)"
                    )));
                }
                models.insert(&id, price);
            }
            models.reindex();
            providers.insert(
                kind,
                ProviderPrices {
                    inherits: provider.inherits,
                    models,
                },
            );
        }
        for (kind, provider) in &providers {
            if let Some(parent) = &provider.inherits {
                match providers.get(parent) {
                    None => {
                        return Err(PricingError::Invalid(format!(
                            "{kind} inherits unknown provider {parent:?}"
                        )));
                    }
                    Some(p) if p.inherits.is_some() => {
                        return Err(PricingError::Invalid(format!(
                            "{kind} inherits {parent:?}, which inherits in turn (one level only)"
                        )));
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(Self {
            prices_as_of: file.prices_as_of,
            providers,
        })
    }

    /// The date of the list prices (`YYYY-MM-DD`), as written in the catalog.
    pub fn prices_as_of(&self) -> &str {
        &self.prices_as_of
    }

    /// The price of `model` served by provider kind `provider`, or `None` if the catalog does
    /// not know it (see the module docs for the matching rules).
    pub fn price(&self, provider: &str, model: &str) -> Option<&ModelPrice> {
        let model = normalize(provider, model);
        let own = self.providers.get(provider)?;
        own.models.find(&model).or_else(|| {
            let parent = self.providers.get(own.inherits.as_deref()?)?;
            parent.models.find(&model)
        })
    }

    /// The cost of `usage` for `model` at `provider`, or `None` if the model is unknown.
    pub fn cost(&self, provider: &str, model: &str, usage: &Usage) -> Option<Usd> {
        self.price(provider, model).map(|price| price.cost(usage))
    }

    /// A copy of this catalog with `overrides` applied in order (a later override of the same
    /// provider and model wins). Model ids match as in [`PriceCatalog::price`], ignoring case.
    pub fn with_overrides(&self, overrides: &[PriceOverride]) -> PriceCatalog {
        let mut catalog = self.clone();
        for o in overrides {
            let provider = catalog.providers.entry(o.provider.clone()).or_default();
            provider.models.insert(o.model.trim(), o.prices);
        }
        for o in overrides {
            if let Some(provider) = catalog.providers.get_mut(&o.provider) {
                provider.models.reindex();
            }
        }
        catalog
    }

    /// Every entry as `(provider kind, model id as written, price)`, by provider; models of one
    /// provider in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, &ModelPrice)> {
        self.providers.iter().flat_map(|(kind, provider)| {
            provider
                .models
                .exact
                .values()
                .map(move |entry| (kind.as_str(), entry.id.as_str(), &entry.price))
        })
    }

    /// The provider kinds the catalog has a section for.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// The provider kind whose entries `provider` falls back to, if any.
    pub fn inherits(&self, provider: &str) -> Option<&str> {
        self.providers.get(provider)?.inherits.as_deref()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    prices_as_of: String,
    #[serde(rename = "unit")]
    _unit: IgnoredAny,
    #[serde(rename = "notes", default)]
    _notes: Option<IgnoredAny>,
    providers: BTreeMap<String, ProviderFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderFile {
    #[serde(default)]
    inherits: Option<String>,
    models: BTreeMap<String, ModelPrice>,
}

/// A price entry as written in JSON: decimal strings of USD per million tokens.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceWire {
    input: String,
    output: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cached_read: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cache_write: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reasoning: Option<String>,
}

impl TryFrom<PriceWire> for ModelPrice {
    type Error = PricingError;

    fn try_from(wire: PriceWire) -> Result<Self, Self::Error> {
        let optional = |value: Option<String>| value.as_deref().map(parse_usd).transpose();
        let base = ModelPrice::new(parse_usd(&wire.input)?, parse_usd(&wire.output)?);
        Ok(ModelPrice {
            cached_read_per_mtok: optional(wire.cached_read)?.unwrap_or(base.input_per_mtok),
            cache_write_per_mtok: optional(wire.cache_write)?.unwrap_or(base.input_per_mtok),
            reasoning_per_mtok: optional(wire.reasoning)?.unwrap_or(base.output_per_mtok),
            ..base
        })
    }
}

impl From<ModelPrice> for PriceWire {
    fn from(price: ModelPrice) -> Self {
        Self {
            input: format_usd(price.input_per_mtok),
            output: format_usd(price.output_per_mtok),
            cached_read: Some(format_usd(price.cached_read_per_mtok)),
            cache_write: Some(format_usd(price.cache_write_per_mtok)),
            reasoning: Some(format_usd(price.reasoning_per_mtok)),
        }
    }
}

/// Parses a non-negative decimal dollar amount (`"0.15"`, `"10"`, `"0.000000001"`) exactly.
pub fn parse_usd(value: &str) -> Result<Usd, PricingError> {
    let fail = |reason| PricingError::Price {
        value: value.to_owned(),
        reason,
    };
    let (whole, fraction) = match value.split_once('.') {
        Some((_, "")) => {
            return Err(fail("a digit must follow the decimal point"));
        }
        Some(parts) => parts,
        None => (value, ""),
    };
    if whole.is_empty() {
        return Err(fail("a digit must precede the decimal point"));
    }
    if !whole
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return Err(fail("only digits and one decimal point are allowed"));
    }
    if fraction.len() > 9 {
        return Err(fail(
            "finer than a nano-dollar (more than 9 fractional digits)",
        ));
    }
    let digits = |s: &str| {
        s.bytes().try_fold(0_i64, |acc, b| {
            acc.checked_mul(10)?.checked_add(i64::from(b - b'0'))
        })
    };
    let scale = 10_i64.pow(9 - fraction.len() as u32);
    digits(whole)
        .and_then(|w| w.checked_mul(Usd::NANOS_PER_USD))
        .zip(digits(fraction).and_then(|f| f.checked_mul(scale)))
        .and_then(|(w, f)| w.checked_add(f))
        .map(Usd::from_nanos)
        .ok_or_else(|| fail("too large"))
}

/// The shortest exact decimal for an amount: `0.15`, `10`, `-0.000000005`.
fn format_usd(amount: Usd) -> String {
    let full = amount.to_string();
    let trimmed = full.trim_end_matches('0');
    trimmed.strip_suffix('.').unwrap_or(trimmed).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimals_exactly() {
        let nanos = |s: &str| parse_usd(s).unwrap().nanos();
        assert_eq!(nanos("0.15"), 150_000_000);
        assert_eq!(nanos("10"), 10_000_000_000);
        assert_eq!(nanos("0.000000001"), 1);
        assert_eq!(nanos("0.0375"), 37_500_000);
        assert_eq!(nanos("0"), 0);
        for bad in [
            "",
            ".5",
            "1.",
            "-1",
            "+1",
            "1e3",
            "0.15 ",
            "0.0000000001",
            "1.2.3",
            "99999999999",
        ] {
            assert!(parse_usd(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn formats_the_shortest_exact_decimal() {
        assert_eq!(format_usd(Usd::from_nanos(150_000_000)), "0.15");
        assert_eq!(format_usd(Usd::from_nanos(10_000_000_000)), "10");
        assert_eq!(format_usd(Usd::from_nanos(0)), "0");
        assert_eq!(format_usd(Usd::from_nanos(1)), "0.000000001");
    }

    #[test]
    fn snapshot_suffixes() {
        for ok in [
            "-2024-08-06",
            "-20250929",
            "-latest",
            "-preview-05-20",
            "@20240620",
            "-v1:0",
        ] {
            assert!(is_snapshot_suffix(ok), "{ok}");
        }
        for no in [
            "",
            "-mini",
            "-6",
            "-32k",
            "-1-20250805",
            "o",
            ".1",
            "-v",
            "-vx:0",
            "-",
        ] {
            assert!(!is_snapshot_suffix(no), "{no}");
        }
    }

    #[test]
    fn rounds_half_up_per_component() {
        // 500_000 nano-dollars per million tokens is half a nano-dollar per token.
        assert_eq!(component_cost(1, Usd::from_nanos(500_000)).nanos(), 1);
        assert_eq!(component_cost(1, Usd::from_nanos(499_999)).nanos(), 0);
        assert_eq!(component_cost(3, Usd::from_nanos(500_000)).nanos(), 2);
        assert_eq!(component_cost(1, Usd::from_nanos(-500_000)).nanos(), 0);
        assert_eq!(component_cost(1, Usd::from_nanos(-500_001)).nanos(), -1);
    }
}

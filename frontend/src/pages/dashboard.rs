//! The org overview: the onboarding checklist on a fresh organization, headline totals, charts of
//! requests, errors, cost, latency percentiles and time to first token over the chosen range,
//! and breakdowns by model, provider, key, team and end user. Refreshes every few seconds.

use std::time::Duration;

use leptos::prelude::*;
use serde_json::Value;

use crate::Endpoints;
use crate::api::{self, ApiError, arr, enc, n, opt_n, s};
use crate::charts::{BarList, LineChart, RefLine, Series};
use crate::components::quick_start::QuickStart;
use crate::session::{Loading, PageHeader, use_org};
use crate::util;

/// A time range the picker offers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// Button label and query value.
    pub label: &'static str,
    /// Bucket name for the API.
    pub bucket: &'static str,
    /// Bucket length in milliseconds.
    pub bucket_ms: f64,
    /// Number of buckets.
    pub buckets: usize,
}

/// The ranges of the picker.
pub const RANGES: [Range; 4] = [
    Range {
        label: "1h",
        bucket: "minute",
        bucket_ms: 60_000.0,
        buckets: 60,
    },
    Range {
        label: "24h",
        bucket: "hour",
        bucket_ms: 3_600_000.0,
        buckets: 24,
    },
    Range {
        label: "7d",
        bucket: "day",
        bucket_ms: 86_400_000.0,
        buckets: 7,
    },
    Range {
        label: "30d",
        bucket: "day",
        bucket_ms: 86_400_000.0,
        buckets: 30,
    },
];

impl Range {
    /// Start and end (epoch ms) of the range ending with the current bucket.
    pub fn bounds(&self, now: f64) -> (f64, f64) {
        let end = (now / self.bucket_ms).floor() * self.bucket_ms + self.bucket_ms;
        (end - self.bucket_ms * self.buckets as f64, end)
    }
}

/// Everything the overview shows, fetched together.
#[derive(Clone, Debug, PartialEq)]
struct OverviewData {
    summary: Value,
    labels: Vec<String>,
    points: Vec<Option<Value>>,
    latency: Vec<[Option<f64>; 5]>,
    sampled: usize,
    breakdowns: Vec<(&'static str, Value)>,
    key_names: Vec<(String, String)>,
    team_names: Vec<(String, String)>,
    providers: usize,
    keys: usize,
    first_model: Option<String>,
}

/// Epoch ms of an RFC 3339 timestamp (browser only).
fn parse_ms(iso: &str) -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::parse(iso)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = iso;
        0.0
    }
}

/// The `p`-th percentile (nearest rank) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

async fn load(org_api: String, range: Range) -> Result<OverviewData, ApiError> {
    let (from_ms, to_ms) = range.bounds(util::now_ms());
    let q = format!(
        "from={}&to={}",
        enc(&util::iso(from_ms)),
        enc(&util::iso(to_ms))
    );
    let summary = api::get(&format!("{org_api}/analytics/summary?{q}")).await?;
    let series = api::get(&format!(
        "{org_api}/analytics/timeseries?{q}&bucket={}",
        range.bucket
    ))
    .await?;
    let logs = api::get(&format!("{org_api}/logs?{q}&limit=1000")).await?;
    let mut breakdowns = Vec::new();
    for by in ["model", "provider", "key", "team", "end_user"] {
        let b = api::get(&format!(
            "{org_api}/analytics/breakdown?{q}&by={by}&limit=8"
        ))
        .await?;
        breakdowns.push((by, b));
    }
    let keys = api::get(&format!("{org_api}/keys?limit=200")).await?;
    let teams = api::get(&format!("{org_api}/teams?limit=200")).await?;
    let providers = api::get(&format!("{org_api}/providers?limit=200")).await?;

    // Buckets over the whole range, gaps included.
    let daily = range.bucket == "day";
    let mut labels = Vec::with_capacity(range.buckets);
    let mut points = vec![None; range.buckets];
    let mut samples: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); range.buckets];
    for i in 0..range.buckets {
        labels.push(util::bucket_label(
            &util::iso(from_ms + range.bucket_ms * i as f64),
            daily,
        ));
    }
    let slot = |ms: f64| -> Option<usize> {
        let i = ((ms - from_ms) / range.bucket_ms).floor();
        (i >= 0.0 && (i as usize) < range.buckets).then_some(i as usize)
    };
    for p in arr(&series, "points") {
        if let Some(i) = slot(parse_ms(&s(&p, "start")) + 1.0) {
            points[i] = p.get("totals").cloned();
        }
    }
    let events = arr(&logs, "data");
    for e in &events {
        if let Some(i) = slot(n(e, "ts_ms")) {
            samples[i].0.push(n(e, "latency_ms"));
            if let Some(t) = opt_n(e, "ttft_ms") {
                samples[i].1.push(t);
            }
        }
    }
    let latency = samples
        .into_iter()
        .map(|(mut lat, mut ttft)| {
            lat.sort_by(f64::total_cmp);
            ttft.sort_by(f64::total_cmp);
            [
                percentile(&lat, 50.0),
                percentile(&lat, 95.0),
                percentile(&lat, 99.0),
                percentile(&ttft, 50.0),
                percentile(&ttft, 95.0),
            ]
        })
        .collect();
    let names = |v: &Value| {
        arr(v, "data")
            .iter()
            .map(|k| (s(k, "id"), s(k, "name")))
            .collect::<Vec<_>>()
    };
    let provider_list = arr(&providers, "data");
    Ok(OverviewData {
        summary,
        labels,
        points,
        latency,
        sampled: events.len(),
        breakdowns,
        key_names: names(&keys),
        team_names: names(&teams),
        providers: provider_list.len(),
        keys: arr(&keys, "data").len(),
        first_model: provider_list
            .first()
            .map(crate::pages::providers::example_model),
    })
}

/// `/o/{org}`: the overview.
#[component]
pub fn Overview() -> impl IntoView {
    let org = use_org();
    let range = RwSignal::new(RANGES[0]);
    let tick = RwSignal::new(0_u32);
    let org_api = org.api("");
    let data = LocalResource::new(move || {
        tick.track();
        load(org_api.clone(), range.get())
    });
    // Keep the last good answer on screen while a refresh runs.
    let shown = RwSignal::new(None::<Result<OverviewData, ApiError>>);
    Effect::new(move |_| {
        if let Some(r) = data.get()
            && shown.with_untracked(|cur| cur.as_ref() != Some(&r))
        {
            shown.set(Some(r));
        }
    });
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || tick.update(|t| *t = t.wrapping_add(1)),
            Duration::from_secs(4),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    let endpoints = use_context::<Endpoints>().unwrap_or_default();
    let org_for_view = org.clone();

    view! {
        <PageHeader eyebrow=org.name.clone() title="Overview">
            <div class="segmented" role="group" aria-label="Time range">
                {RANGES
                    .iter()
                    .map(|r| {
                        let r = *r;
                        view! {
                            <button
                                type="button"
                                class="segmented-item"
                                aria-pressed=move || (range.get() == r).to_string()
                                on:click=move |_| range.set(r)
                            >
                                {r.label}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
        </PageHeader>
        {move || match shown.get() {
            None => view! { <Loading what="analytics" /> }.into_any(),
            Some(Err(e)) => {
                view! {
                    <div class="empty" role="alert">
                        <h2>"Analytics are unavailable"</h2>
                        <p>{e.message}</p>
                    </div>
                }
                    .into_any()
            }
            Some(Ok(d)) => {
                view! {
                    <OverviewBody
                        d=d
                        range=range.get_untracked()
                        gateway_url=endpoints.gateway_url.clone()
                        org=org_for_view.clone()
                    />
                }
                    .into_any()
            }
        }}
    }
}

#[component]
fn OverviewBody(
    d: OverviewData,
    range: Range,
    gateway_url: String,
    org: crate::session::OrgCtx,
) -> impl IntoView {
    let sm = &d.summary;
    let requests = n(sm, "requests");
    let fresh = d.providers == 0 || d.keys == 0 || requests == 0.0;
    let lat = sm.get("latency_ms").cloned().unwrap_or(Value::Null);
    let ttft = sm.get("ttft_ms").cloned().unwrap_or(Value::Null);
    let pick = |f: &dyn Fn(&Value) -> f64| -> Vec<Option<f64>> {
        d.points
            .iter()
            .map(|p| Some(p.as_ref().map(f).unwrap_or(0.0)))
            .collect()
    };
    let req_series = vec![
        Series {
            name: "Requests".into(),
            color: "#4f46e5",
            values: pick(&|t| n(t, "requests")),
        },
        Series {
            name: "Errors".into(),
            color: "#dc2626",
            values: pick(&|t| n(t, "errors")),
        },
    ];
    let cost_series = vec![Series {
        name: "Cost (USD)".into(),
        color: "#059669",
        values: pick(&|t| n(t, "cost_nano_usd") / 1e9),
    }];
    let col = |i: usize| -> Vec<Option<f64>> { d.latency.iter().map(|l| l[i]).collect() };
    let lat_series = vec![
        Series {
            name: "p50".into(),
            color: "#4f46e5",
            values: col(0),
        },
        Series {
            name: "p95".into(),
            color: "#d97706",
            values: col(1),
        },
        Series {
            name: "p99".into(),
            color: "#dc2626",
            values: col(2),
        },
    ];
    let ttft_series = vec![
        Series {
            name: "TTFT p50".into(),
            color: "#0891b2",
            values: col(3),
        },
        Series {
            name: "TTFT p95".into(),
            color: "#7c3aed",
            values: col(4),
        },
    ];
    let refs_of = |v: &Value, keys: &[(&str, &'static str)]| -> Vec<RefLine> {
        keys.iter()
            .filter_map(|(k, color)| {
                opt_n(v, k).map(|value| RefLine {
                    name: format!("range {k}"),
                    color,
                    value,
                })
            })
            .collect()
    };
    let lat_refs = refs_of(&lat, &[("p95", "#d97706")]);
    let ttft_refs = refs_of(&ttft, &[("p50", "#0891b2")]);
    let pct_text = |v: &Value, keys: &[&str]| {
        util::ms_list(&keys.iter().map(|k| opt_n(v, k)).collect::<Vec<_>>())
    };
    let sampled_note = (d.sampled >= 1000)
        .then_some("Percentiles per bucket come from the latest 1,000 requests of the range.");

    let name_of = |list: &[(String, String)], id: &str| {
        list.iter()
            .find(|(i, _)| i == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| id.to_owned())
    };
    let breakdowns = d
        .breakdowns
        .iter()
        .map(|(by, b)| {
            let title = match *by {
                "model" => "Cost by model",
                "provider" => "Requests by provider",
                "key" => "Cost by virtual key",
                "team" => "Cost by team",
                _ => "Requests by end user",
            };
            let by_cost = matches!(*by, "model" | "key" | "team");
            let rows = arr(b, "groups")
                .iter()
                .map(|g| {
                    let raw = s(g, "value");
                    let label = match (*by, raw.is_empty()) {
                        (_, true) => "(none)".to_owned(),
                        ("key", _) => name_of(&d.key_names, &raw),
                        ("team", _) => name_of(&d.team_names, &raw),
                        _ => raw,
                    };
                    let t = g.get("totals").cloned().unwrap_or(Value::Null);
                    let v = if by_cost {
                        n(&t, "cost_nano_usd") / 1e9
                    } else {
                        n(&t, "requests")
                    };
                    (label, v)
                })
                .collect::<Vec<_>>();
            let fmt: fn(f64) -> String = if by_cost { util::usd } else { util::count };
            view! {
                <section class="card">
                    <header class="card-header">
                        <h2>{title}</h2>
                    </header>
                    <BarList rows fmt testid=format!("breakdown-{by}") />
                </section>
            }
        })
        .collect_view();

    let model = d.first_model.clone();
    let onboarding = fresh.then(|| {
        let steps = [
            (
                d.providers > 0,
                "Add a provider credential",
                "Store an upstream API key once; Keyway encrypts it.",
                org.link("/providers"),
                "Add provider",
            ),
            (
                d.keys > 0,
                "Issue a virtual key",
                "Apps authenticate with their own key, limits and budget.",
                org.link("/keys"),
                "Issue key",
            ),
            (
                requests > 0.0,
                "Send your first request",
                "Copy a snippet below; requests appear here within seconds.",
                org.link("/logs"),
                "Open logs",
            ),
        ];
        view! {
            <section class="card card-wide onboarding" data-testid="onboarding">
                <header class="card-header">
                    <h2>"Get started"</h2>
                    <span class="muted">
                        {format!(
                            "{} of 3 done",
                            steps.iter().filter(|s| s.0).count(),
                        )}
                    </span>
                </header>
                <ol class="checklist">
                    {steps
                        .into_iter()
                        .map(|(done, title, text, href, cta)| {
                            view! {
                                <li class:done=done>
                                    <span class="check" aria-hidden="true">
                                        {if done { "✓" } else { "" }}
                                    </span>
                                    <div>
                                        <strong>{title}</strong>
                                        <span class="sr-only">
                                            {if done { " (done)" } else { " (to do)" }}
                                        </span>
                                        <p class="muted">{text}</p>
                                    </div>
                                    {(!done)
                                        .then(|| {
                                            view! {
                                                <a class="btn btn-sm" href=href>
                                                    {cta}
                                                </a>
                                            }
                                        })}
                                </li>
                            }
                        })
                        .collect_view()}
                </ol>
                {(requests == 0.0)
                    .then(|| {
                        view! {
                            <p class="waiting" role="status">
                                <span class="pulse" aria-hidden="true"></span>
                                "Waiting for the first request…"
                            </p>
                        }
                    })}
            </section>
            <QuickStart gateway_url=gateway_url.clone() model=model.unwrap_or_else(|| "openai/gpt-4o-mini".into()) />
        }
    });

    view! {
        <div class="grid">
            {onboarding}
            <section class="card card-wide" aria-label="Totals">
                <dl class="stats" data-testid="totals">
                    <div>
                        <dt>"Requests"</dt>
                        <dd data-testid="total-requests">{util::count(requests)}</dd>
                    </div>
                    <div>
                        <dt>"Errors"</dt>
                        <dd data-testid="total-errors">
                            {util::count(n(sm, "errors"))}
                            <small>{util::pct(n(sm, "error_rate"))}</small>
                        </dd>
                    </div>
                    <div>
                        <dt>"Cost"</dt>
                        <dd data-testid="total-cost">{util::usd_nanos(n(sm, "cost_nano_usd"))}</dd>
                    </div>
                    <div>
                        <dt>"Tokens in / out"</dt>
                        <dd>
                            {util::count(n(sm, "input_tokens"))} " / "
                            {util::count(n(sm, "output_tokens"))}
                        </dd>
                    </div>
                    <div>
                        <dt>"Latency p50/p95/p99"</dt>
                        <dd data-testid="latency-pcts">
                            {pct_text(&lat, &["p50", "p95", "p99"])}
                        </dd>
                    </div>
                    <div>
                        <dt>"TTFT p50/p95"</dt>
                        <dd>{pct_text(&ttft, &["p50", "p95"])}</dd>
                    </div>
                </dl>
            </section>
            <section class="card">
                <header class="card-header">
                    <h2>"Requests and errors"</h2>
                    <span class="muted">{format!("per {}", range.bucket)}</span>
                </header>
                <LineChart
                    title="Requests and errors over time"
                    labels=d.labels.clone()
                    series=req_series
                    fmt=util::count
                    testid="chart-requests"
                />
            </section>
            <section class="card">
                <header class="card-header">
                    <h2>"Cost"</h2>
                    <span class="muted">{format!("per {}", range.bucket)}</span>
                </header>
                <LineChart
                    title="Cost over time"
                    labels=d.labels.clone()
                    series=cost_series
                    fmt=util::usd
                    testid="chart-cost"
                />
            </section>
            <section class="card">
                <header class="card-header">
                    <h2>"Latency"</h2>
                    <span class="muted">"p50 / p95 / p99 per bucket"</span>
                </header>
                <LineChart
                    title="Latency percentiles over time"
                    labels=d.labels.clone()
                    series=lat_series
                    refs=lat_refs
                    fmt=util::ms
                    testid="chart-latency"
                />
            </section>
            <section class="card">
                <header class="card-header">
                    <h2>"Time to first token"</h2>
                    <span class="muted">"streamed requests"</span>
                </header>
                <LineChart
                    title="Time to first token over time"
                    labels=d.labels.clone()
                    series=ttft_series
                    refs=ttft_refs
                    fmt=util::ms
                    testid="chart-ttft"
                />
            </section>
            {sampled_note.map(|t| view! { <p class="muted card-wide">{t}</p> })}
            {breakdowns}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn ranges_end_after_the_current_bucket() {
        let (from, to) = RANGES[0].bounds(90_000.0);
        assert_eq!(to, 120_000.0);
        assert_eq!(from, 120_000.0 - 3_600_000.0);
    }
}

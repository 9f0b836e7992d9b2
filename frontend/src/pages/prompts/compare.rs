//! Versions compared: requests, errors, cost and latency per version of this prompt over the
//! last 30 days, from the analytics breakdown by `prompt_version` (`<prompt id>@<version>`).
//! Refreshes every few seconds, so playground runs show up.

use std::time::Duration;

use leptos::prelude::*;
use serde_json::Value;

use super::detail::PromptData;
use super::label_badge;
use crate::api::{self, ApiError, arr, enc, n, opt_n, s};
use crate::session::{Loading, use_org};
use crate::util;

/// One version's totals.
#[derive(Clone, Debug, PartialEq)]
pub struct VersionStats {
    /// Version number.
    pub version: u32,
    /// Requests.
    pub requests: f64,
    /// Requests answered with an error.
    pub errors: f64,
    /// Cost in nano-USD.
    pub cost_nanos: f64,
    /// Mean latency (ms), when known.
    pub avg_latency_ms: Option<f64>,
}

/// This prompt's groups of a `by=prompt_version` breakdown, newest version first.
pub fn stats_of(breakdown: &Value, prompt_id: &str) -> Vec<VersionStats> {
    let prefix = format!("{prompt_id}@");
    let mut out: Vec<VersionStats> = arr(breakdown, "groups")
        .iter()
        .filter_map(|g| {
            let version = s(g, "value").strip_prefix(&prefix)?.parse().ok()?;
            let t = g.get("totals")?;
            Some(VersionStats {
                version,
                requests: n(t, "requests"),
                errors: n(t, "errors"),
                cost_nanos: n(t, "cost_nano_usd"),
                avg_latency_ms: opt_n(t, "avg_latency_ms"),
            })
        })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.version));
    out
}

/// The analytics card.
#[component]
pub(super) fn VersionsCompared(data: Signal<PromptData>) -> impl IntoView {
    let org = use_org();
    let tick = RwSignal::new(0_u32);
    let breakdown_api = org.api("/analytics/breakdown");
    let prompt_id = Memo::new(move |_| data.with(|d| s(&d.prompt, "id")));
    let resource = LocalResource::new(move || {
        tick.track();
        let id = prompt_id.get();
        let url = format!(
            "{breakdown_api}?by=prompt_version&limit=1000&from={}",
            enc(&util::iso(util::now_ms() - 30.0 * 86_400_000.0))
        );
        async move {
            let b = api::get(&url).await?;
            Ok::<_, ApiError>(stats_of(&b, &id))
        }
    });
    // Keep the last answer on screen while a refresh runs.
    let shown = RwSignal::new(None::<Result<Vec<VersionStats>, ApiError>>);
    Effect::new(move |_| {
        if let Some(r) = resource.get()
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

    view! {
        <section class="card card-wide card-flush" data-testid="versions-compared">
            <header class="card-header card-pad">
                <div>
                    <h2>"Versions compared"</h2>
                    <p class="muted">"Gateway traffic per version over the last 30 days: the numbers to check before and after moving a label."</p>
                </div>
            </header>
            {move || match shown.get() {
                None => view! { <Loading what="analytics" /> }.into_any(),
                Some(Err(e)) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                Some(Ok(rows)) if rows.is_empty() => view! {
                    <div class="empty">
                        <h2>"No traffic yet"</h2>
                        <p>"Run the prompt in the playground or from an app; each version's requests, cost and latency appear here."</p>
                    </div>
                }
                    .into_any(),
                Some(Ok(rows)) => {
                    let d = data.get();
                    view! {
                        <div class="table-wrap">
                            <table class="table" data-testid="versions-compared-table">
                                <thead>
                                    <tr>
                                        <th scope="col">"Version"</th>
                                        <th scope="col" class="num">"Requests"</th>
                                        <th scope="col" class="num">"Errors"</th>
                                        <th scope="col" class="num">"Cost"</th>
                                        <th scope="col" class="num">"Cost / request"</th>
                                        <th scope="col" class="num">"Avg latency"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows
                                        .into_iter()
                                        .map(|r| {
                                            let rate = if r.requests > 0.0 { r.errors / r.requests } else { 0.0 };
                                            let per = if r.requests > 0.0 { r.cost_nanos / r.requests } else { 0.0 };
                                            let err_class = if r.errors > 0.0 { "num error-text" } else { "num" };
                                            view! {
                                                <tr data-version=r.version.to_string()>
                                                    <td>
                                                        <div class="badges">
                                                            <strong class="version-num">{format!("v{}", r.version)}</strong>
                                                            {d.labels_at(r.version).iter().map(|l| label_badge(l, None)).collect_view()}
                                                        </div>
                                                    </td>
                                                    <td class="num" data-testid="version-requests">{util::count(r.requests)}</td>
                                                    <td class=err_class>{format!("{} ({})", util::count(r.errors), util::pct(rate))}</td>
                                                    <td class="num">{util::usd_nanos(r.cost_nanos)}</td>
                                                    <td class="num">{util::usd_nanos(per)}</td>
                                                    <td class="num">{r.avg_latency_ms.map(util::ms).unwrap_or_else(|| "–".into())}</td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_this_prompts_versions_count() {
        let b = json!({"groups": [
            {"value": "p1@1", "totals": {"requests": 3, "errors": 1, "cost_nano_usd": 30, "avg_latency_ms": 12.5}},
            {"value": "", "totals": {"requests": 9}},
            {"value": "p2@1", "totals": {"requests": 4}},
            {"value": "p1@2", "totals": {"requests": 5, "errors": 0, "cost_nano_usd": 50, "avg_latency_ms": null}},
        ]});
        let rows = stats_of(&b, "p1");
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].version, rows[0].requests), (2, 5.0));
        assert_eq!(rows[0].avg_latency_ms, None);
        assert_eq!((rows[1].version, rows[1].errors), (1, 1.0));
    }
}

//! The logs explorer (filters, cursor pagination, CSV export) and the request detail page.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde_json::Value;

use crate::api::{self, arr, enc, n, opt_n, s};
use crate::pages::dashboard::RANGES;
use crate::session::{Loading, PageHeader, use_org};
use crate::util;

/// The explorer's filters.
#[derive(Clone, Debug, PartialEq, Default)]
struct LogFilter {
    range: usize,
    model: String,
    provider: String,
    key_id: String,
    status: String,
    end_user: String,
}

impl LogFilter {
    fn query(&self) -> String {
        let (from, to) = RANGES[self.range].bounds(util::now_ms());
        let mut q = format!("from={}&to={}", enc(&util::iso(from)), enc(&util::iso(to)));
        for (k, v) in [
            ("model", &self.model),
            ("provider", &self.provider),
            ("key_id", &self.key_id),
            ("status", &self.status),
            ("end_user_id", &self.end_user),
        ] {
            if !v.trim().is_empty() {
                q.push_str(&format!("&{k}={}", enc(v.trim())));
            }
        }
        q
    }
}

/// Status badge of an HTTP status code.
pub fn status_badge(code: f64) -> impl IntoView {
    let class = if code >= 500.0 {
        "badge badge-red"
    } else if code >= 400.0 {
        "badge badge-amber"
    } else {
        "badge badge-green"
    };
    view! { <span class=class>{format!("{code:.0}")}</span> }
}

/// `/o/{org}/logs`.
#[component]
pub fn Logs() -> impl IntoView {
    let org = use_org();
    let filter = RwSignal::new(LogFilter {
        range: 1,
        ..LogFilter::default()
    });
    // Draft fields, applied on submit.
    let range = RwSignal::new("1".to_owned());
    let model = RwSignal::new(String::new());
    let provider = RwSignal::new(String::new());
    let key_id = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let end_user = RwSignal::new(String::new());
    // Cursors of the pages before the current one, and the current cursor.
    let cursors = RwSignal::new(Vec::<String>::new());
    let cursor = RwSignal::new(None::<String>);
    let tick = RwSignal::new(0_u32);

    let org_api = org.api("");
    let keys_api = org.api("/keys?limit=200");
    let keys = LocalResource::new(move || {
        let url = keys_api.clone();
        async move { api::get(&url).await }
    });
    let page = LocalResource::new(move || {
        tick.track();
        let f = filter.get();
        let c = cursor.get();
        let url = format!(
            "{org_api}/logs?{}&limit=25{}",
            f.query(),
            c.map(|c| format!("&cursor={}", enc(&c)))
                .unwrap_or_default()
        );
        async move { api::get(&url).await }
    });
    let export_base = org.api("/logs/export.csv");
    let export_href = move || format!("{export_base}?{}", filter.get().query());

    let apply = move |ev: SubmitEvent| {
        ev.prevent_default();
        filter.set(LogFilter {
            range: range.get_untracked().parse().unwrap_or(1),
            model: model.get_untracked(),
            provider: provider.get_untracked(),
            key_id: key_id.get_untracked(),
            status: status.get_untracked(),
            end_user: end_user.get_untracked(),
        });
        cursors.set(Vec::new());
        cursor.set(None);
    };
    let key_name = move |id: &str| -> String {
        keys.get()
            .and_then(Result::ok)
            .and_then(|k| {
                arr(&k, "data")
                    .into_iter()
                    .find(|k| s(k, "id") == id)
                    .map(|k| s(&k, "name"))
            })
            .unwrap_or_else(|| {
                if id.is_empty() {
                    "–".into()
                } else {
                    id[..8.min(id.len())].to_owned()
                }
            })
    };
    let org_link = org.link("/logs/");

    view! {
        <PageHeader
            eyebrow=org.name.clone()
            title="Logs"
            lead="Every request through the gateway: who sent it, what it cost and how long it took."
        >
            <a class="btn" href=export_href download="keyway-logs.csv">
                "Export CSV"
            </a>
            <button class="btn" on:click=move |_| tick.update(|t| *t += 1)>
                "Refresh"
            </button>
        </PageHeader>
        <form class="card filters" on:submit=apply aria-label="Filters">
            <div class="field">
                <label for="f-range">"Range"</label>
                <select
                    id="f-range"
                    on:change=move |ev| range.set(event_target_value(&ev))
                    prop:value=range
                >
                    {RANGES
                        .iter()
                        .enumerate()
                        .map(|(i, r)| {
                            view! {
                                <option value=i.to_string() selected=i == 1>
                                    {format!("Last {}", r.label)}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-model">"Model"</label>
                <input id="f-model" placeholder="any" bind:value=model />
            </div>
            <div class="field">
                <label for="f-provider">"Provider"</label>
                <input id="f-provider" placeholder="any" bind:value=provider />
            </div>
            <div class="field">
                <label for="f-key">"Virtual key"</label>
                <select id="f-key" on:change=move |ev| key_id.set(event_target_value(&ev))>
                    <option value="">"Any key"</option>
                    {move || {
                        keys.get()
                            .and_then(Result::ok)
                            .map(|k| {
                                arr(&k, "data")
                                    .into_iter()
                                    .map(|k| {
                                        view! { <option value=s(&k, "id")>{s(&k, "name")}</option> }
                                    })
                                    .collect_view()
                            })
                    }}
                </select>
            </div>
            <div class="field">
                <label for="f-status">"Status"</label>
                <select id="f-status" on:change=move |ev| status.set(event_target_value(&ev))>
                    <option value="">"Any"</option>
                    <option value="success">"Success"</option>
                    <option value="error">"Errors"</option>
                </select>
            </div>
            <div class="field">
                <label for="f-user">"End user"</label>
                <input id="f-user" placeholder="any" bind:value=end_user />
            </div>
            <div class="field field-button">
                <button class="btn btn-primary" type="submit">
                    "Apply filters"
                </button>
            </div>
        </form>
        <section class="card card-flush">
            {move || match page.get() {
                None => view! { <Loading what="requests" /> }.into_any(),
                Some(Err(e)) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                Some(Ok(p)) => {
                    let rows = arr(&p, "data");
                    let next = p.get("next_cursor").and_then(Value::as_str).map(str::to_owned);
                    if rows.is_empty() {
                        return view! {
                            <div class="empty">
                                <h2>"No requests match"</h2>
                                <p>
                                    "Send a request through the gateway with a virtual key, or widen the range and filters."
                                </p>
                            </div>
                        }
                            .into_any();
                    }
                    let org_link = org_link.clone();
                    view! {
                        <div class="table-wrap">
                            <table class="table" data-testid="logs-table">
                                <thead>
                                    <tr>
                                        <th scope="col">"Time (UTC)"</th>
                                        <th scope="col">"Status"</th>
                                        <th scope="col">"Model"</th>
                                        <th scope="col">"Provider"</th>
                                        <th scope="col">"Key"</th>
                                        <th scope="col" class="num">"Tokens in/out"</th>
                                        <th scope="col" class="num">"Cost"</th>
                                        <th scope="col" class="num">"Latency"</th>
                                        <th scope="col" class="num">"TTFT"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows
                                        .into_iter()
                                        .map(|r| {
                                            let href = format!("{org_link}{}", s(&r, "request_id"));
                                            let model = {
                                                let served = s(&r, "served_model");
                                                if served.is_empty() { s(&r, "requested_model") } else { served }
                                            };
                                            view! {
                                                <tr>
                                                    <td>
                                                        <a href=href class="mono">
                                                            {util::datetime(&util::iso(n(&r, "ts_ms")))}
                                                        </a>
                                                    </td>
                                                    <td>{status_badge(n(&r, "status_code"))}</td>
                                                    <td class="mono">{model}</td>
                                                    <td>{s(&r, "provider")}</td>
                                                    <td>{key_name(&s(&r, "key_id"))}</td>
                                                    <td class="num">
                                                        {format!(
                                                            "{} / {}",
                                                            util::count(n(&r, "input_tokens")),
                                                            util::count(n(&r, "output_tokens")),
                                                        )}
                                                    </td>
                                                    <td class="num">{util::usd_nanos(n(&r, "cost_nano_usd"))}</td>
                                                    <td class="num">{util::ms(n(&r, "latency_ms"))}</td>
                                                    <td class="num">
                                                        {opt_n(&r, "ttft_ms").map(util::ms).unwrap_or_else(|| "–".into())}
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        </div>
                        <nav class="pager" aria-label="Pages">
                            <button
                                class="btn btn-sm"
                                disabled=move || cursors.with(Vec::is_empty)
                                on:click=move |_| {
                                    let mut stack = cursors.get_untracked();
                                    let prev = stack.pop();
                                    cursors.set(stack);
                                    cursor.set(prev.filter(|c| !c.is_empty()));
                                }
                            >
                                "← Newer"
                            </button>
                            <button
                                class="btn btn-sm"
                                disabled=next.is_none()
                                on:click=move |_| {
                                    if let Some(nc) = next.clone() {
                                        let cur = cursor.get_untracked().unwrap_or_default();
                                        cursors.update(|s| s.push(cur));
                                        cursor.set(Some(nc));
                                    }
                                }
                            >
                                "Older →"
                            </button>
                        </nav>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

/// `/o/{org}/logs/{request_id}`.
#[component]
pub fn LogDetail() -> impl IntoView {
    let org = use_org();
    let params = use_params_map();
    let rid = move || params.read().get("rid").unwrap_or_default();
    let org_api = org.api("/logs/");
    let keys_api = org.api("/keys?limit=200");
    let detail = LocalResource::new(move || {
        let url = format!("{org_api}{}", enc(&rid()));
        let keys_url = keys_api.clone();
        async move {
            let r = api::get(&url).await?;
            let key_id = s(&r, "key_id");
            // The key's name is a nicety; its id is shown when the list cannot be read.
            let name = api::get(&keys_url)
                .await
                .ok()
                .and_then(|k| arr(&k, "data").into_iter().find(|k| s(k, "id") == key_id))
                .map(|k| s(&k, "name"));
            Ok::<_, api::ApiError>((r, name))
        }
    });
    let back = org.link("/logs");
    view! {
        <PageHeader eyebrow="Logs" title="Request detail">
            <a class="btn" href=back>
                "← All requests"
            </a>
        </PageHeader>
        {move || match detail.get() {
            None => view! { <Loading what="the request" /> }.into_any(),
            Some(Err(e)) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
            Some(Ok((r, key_name))) => view! { <RequestDetail r key_name /> }.into_any(),
        }}
    }
}

#[component]
fn RequestDetail(r: Value, key_name: Option<String>) -> impl IntoView {
    let opt_ms = |k: &str| opt_n(&r, k).map(util::ms).unwrap_or_else(|| "–".into());
    let text = |k: &str| {
        let v = s(&r, k);
        if v.is_empty() { "–".to_owned() } else { v }
    };
    let facts: Vec<(&str, String)> = vec![
        ("Request id", s(&r, "request_id")),
        ("Time (UTC)", util::datetime(&util::iso(n(&r, "ts_ms")))),
        ("API surface", text("surface")),
        ("Provider", text("provider")),
        ("Requested model", text("requested_model")),
        ("Served model", text("served_model")),
        (
            "Streamed",
            if r["stream"] == Value::Bool(true) {
                "yes".into()
            } else {
                "no".into()
            },
        ),
        ("Error class", text("error_class")),
        ("Virtual key", key_name.unwrap_or_else(|| text("key_id"))),
        ("Team", text("team_id")),
        ("End user", text("end_user_id")),
        ("Trace id", text("trace_id")),
        ("Cache", text("cache_status")),
        ("Retries", util::count(n(&r, "retries"))),
        ("Fallback position", util::count(n(&r, "fallback_index"))),
    ];
    let timings: Vec<(&str, String)> = vec![
        ("Total latency", util::ms(n(&r, "latency_ms"))),
        ("Time to first token", opt_ms("ttft_ms")),
        ("Upstream latency", opt_ms("upstream_latency_ms")),
        (
            "Gateway overhead",
            format!("{:.2} ms", n(&r, "gateway_overhead_us") / 1000.0),
        ),
    ];
    let usage: Vec<(&str, String)> = vec![
        ("Input tokens", util::count(n(&r, "input_tokens"))),
        ("Output tokens", util::count(n(&r, "output_tokens"))),
        (
            "Cached read tokens",
            util::count(n(&r, "cached_read_tokens")),
        ),
        ("Reasoning tokens", util::count(n(&r, "reasoning_tokens"))),
        ("Cost", util::usd_nanos(n(&r, "cost_nano_usd"))),
    ];
    let meta: Vec<(String, String)> = arr(&r, "metadata_keys")
        .iter()
        .zip(arr(&r, "metadata_values").iter())
        .map(|(k, v)| {
            (
                k.as_str().unwrap_or_default().to_owned(),
                v.as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let dl = |items: Vec<(&str, String)>| {
        view! {
            <dl class="kv">
                {items
                    .into_iter()
                    .map(|(k, v)| view! { <div><dt>{k.to_owned()}</dt><dd>{v}</dd></div> })
                    .collect_view()}
            </dl>
        }
    };
    let body = |k: &str, title: &'static str| {
        let v = s(&r, k);
        (!v.is_empty()).then(|| {
            view! {
                <section class="card card-wide">
                    <header class="card-header"><h2>{title}</h2></header>
                    <pre class="code-block"><code>{v}</code></pre>
                </section>
            }
        })
    };
    let no_bodies = s(&r, "request_body").is_empty() && s(&r, "response_body").is_empty();
    view! {
        <div class="grid" data-testid="request-detail">
            <section class="card">
                <header class="card-header">
                    <h2>"Request"</h2>
                    {status_badge(n(&r, "status_code"))}
                </header>
                {dl(facts)}
            </section>
            <div class="stack">
                <section class="card">
                    <header class="card-header"><h2>"Timings"</h2></header>
                    {dl(timings)}
                </section>
                <section class="card">
                    <header class="card-header"><h2>"Tokens and cost"</h2></header>
                    {dl(usage)}
                </section>
                <section class="card">
                    <header class="card-header"><h2>"Metadata"</h2></header>
                    {if meta.is_empty() {
                        view! { <p class="muted">"No metadata was sent with this request."</p> }.into_any()
                    } else {
                        view! {
                            <dl class="kv">
                                {meta
                                    .into_iter()
                                    .map(|(k, v)| view! { <div><dt class="mono">{k}</dt><dd>{v}</dd></div> })
                                    .collect_view()}
                            </dl>
                        }
                            .into_any()
                    }}
                </section>
            </div>
            {body("request_body", "Request body")}
            {body("response_body", "Response body")}
            {no_bodies
                .then(|| {
                    view! {
                        <p class="muted card-wide">
                            "Bodies are not stored for this request. Turn on body logging in the organization settings to keep them."
                        </p>
                    }
                })}
        </div>
    }
}

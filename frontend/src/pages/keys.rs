//! Virtual keys: list with per-key spend, issue (models, limits, budget, expiry), the secret shown
//! once with a copy button, rotate and revoke. Viewers see the list only.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Map, Value, json};

use crate::Endpoints;
use crate::api::{self, arr, enc, n, s};
use crate::components::quick_start::QuickStart;
use crate::session::{FormError, Loading, PageHeader, use_org};
use crate::util;

/// Splits a comma- or space-separated list.
pub fn list_of(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses an optional positive whole number typed by a person.
pub fn positive(text: &str, what: &str) -> Result<Option<u64>, String> {
    let t = text.trim().replace([',', '_'], "");
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<u64>() {
        Ok(0) | Err(_) => Err(format!(
            "{what} must be a whole number above zero, or empty for no limit."
        )),
        Ok(v) => Ok(Some(v)),
    }
}

/// Builds the JSON body of a new key from the form, or explains what is wrong.
pub fn key_body(
    name: &str,
    models: &str,
    rpm: &str,
    tpm: &str,
    budget: &str,
    period: &str,
    expires: &str,
) -> Result<Value, String> {
    if name.trim().is_empty() {
        return Err("Give the key a name, e.g. the app or person that will use it.".into());
    }
    let mut body = Map::new();
    body.insert("name".into(), json!(name.trim()));
    body.insert("allowed_models".into(), json!(list_of(models)));
    let rpm = positive(rpm, "Requests per minute")?;
    let tpm = positive(tpm, "Tokens per minute")?;
    if rpm.is_some() || tpm.is_some() {
        body.insert("limits".into(), json!({ "rpm": rpm, "tpm": tpm }));
    }
    let budget = budget.trim().trim_start_matches('$');
    if !budget.is_empty() {
        match budget.parse::<f64>() {
            Ok(v) if v > 0.0 && v.is_finite() => {
                body.insert(
                    "budget".into(),
                    json!({ "limit_usd": budget, "period": period }),
                );
            }
            _ => {
                return Err(
                    "Budget must be an amount in dollars above zero, like 25 or 12.50.".into(),
                );
            }
        }
    }
    if !expires.trim().is_empty() {
        let d = expires.trim();
        if d.len() != 10 {
            return Err(
                "Pick an expiry date, or leave it empty for a key that does not expire.".into(),
            );
        }
        body.insert("expires_at".into(), json!(format!("{d}T23:59:59Z")));
    }
    Ok(Value::Object(body))
}

/// A secret shown once, with a copy button and a snippet using it.
#[component]
fn SecretOnce(
    secret: String,
    title: String,
    model: Option<String>,
    on_close: Callback<()>,
) -> impl IntoView {
    let copied = RwSignal::new(false);
    let endpoints = use_context::<Endpoints>().unwrap_or_default();
    let text = secret.clone();
    let copy = move |_| {
        let text = text.clone();
        spawn_local(async move {
            #[cfg(feature = "hydrate")]
            {
                let p = window().navigator().clipboard().write_text(&text);
                if wasm_bindgen_futures::JsFuture::from(p).await.is_ok() {
                    copied.set(true);
                }
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = text;
        });
    };
    view! {
        <section class="card card-wide secret-once" role="region" aria-labelledby="secret-title">
            <header class="card-header">
                <h2 id="secret-title">{title}</h2>
                <button class="btn btn-ghost btn-sm" on:click=move |_| on_close.run(())>
                    "Done"
                </button>
            </header>
            <p class="warning">
                "Copy this key now. It is shown only once; Keyway stores only a hash of it."
            </p>
            <div class="secret-row">
                <code class="secret" data-testid="new-key-secret">{secret.clone()}</code>
                <button class="btn btn-primary" on:click=copy>
                    {move || if copied.get() { "Copied" } else { "Copy key" }}
                </button>
            </div>
            {match model {
                Some(model) => view! { <QuickStart gateway_url=endpoints.gateway_url api_key=secret model /> }.into_any(),
                None => view! { <QuickStart gateway_url=endpoints.gateway_url api_key=secret /> }.into_any(),
            }}
        </section>
    }
}

/// `/o/{org}/keys`.
#[component]
pub fn Keys() -> impl IntoView {
    let org = use_org();
    let can_write = org.can("member");
    let tick = RwSignal::new(0_u32);
    let keys_api = org.api("/keys?limit=200");
    let spend_api = org.api("/analytics/breakdown");
    let keys = LocalResource::new(move || {
        tick.track();
        let url = keys_api.clone();
        let spend_url = format!(
            "{spend_api}?by=key&limit=1000&from={}",
            enc(&util::iso(util::now_ms() - 30.0 * 86_400_000.0))
        );
        async move {
            let keys = api::get(&url).await?;
            // Spend is a nicety: the list still shows without analytics.
            let spend = api::get(&spend_url).await.unwrap_or(Value::Null);
            Ok::<_, api::ApiError>((keys, spend))
        }
    });
    let providers_api = org.api("/providers?limit=200");
    let providers = LocalResource::new(move || {
        let url = providers_api.clone();
        async move { api::get(&url).await }
    });
    let show_form = RwSignal::new(false);
    let secret = RwSignal::new(None::<(String, String)>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let models = RwSignal::new(String::new());
    let rpm = RwSignal::new(String::new());
    let tpm = RwSignal::new(String::new());
    let budget = RwSignal::new(String::new());
    let period = RwSignal::new("monthly".to_owned());
    let expires = RwSignal::new(String::new());
    let list_error = RwSignal::new(None::<String>);
    let create_api = org.api("/keys");

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = match key_body(
            &name.get_untracked(),
            &models.get_untracked(),
            &rpm.get_untracked(),
            &tpm.get_untracked(),
            &budget.get_untracked(),
            &period.get_untracked(),
            &expires.get_untracked(),
        ) {
            Ok(b) => b,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        error.set(None);
        busy.set(true);
        let url = create_api.clone();
        spawn_local(async move {
            match api::post(&url, body).await {
                Ok(k) => {
                    secret.set(Some((
                        format!("Key “{}” is ready", s(&k, "name")),
                        s(&k, "key"),
                    )));
                    show_form.set(false);
                    name.set(String::new());
                    tick.update(|t| *t += 1);
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let base = org.api("/keys/");
    let action = move |id: String, what: &'static str, label: String| {
        let base = base.clone();
        spawn_local(async move {
            let question = match what {
                "revoke" => format!("Revoke “{label}”? Requests with it stop working at once."),
                _ => format!(
                    "Rotate “{label}”? A new secret is issued and the old one stops working."
                ),
            };
            if !window().confirm_with_message(&question).unwrap_or(false) {
                return;
            }
            let body = if what == "rotate" {
                json!({})
            } else {
                Value::Null
            };
            match api::post(&format!("{base}{id}/{what}"), body).await {
                Ok(k) if what == "rotate" => {
                    secret.set(Some((format!("New secret for “{label}”"), s(&k, "key"))));
                    tick.update(|t| *t += 1);
                }
                Ok(_) => tick.update(|t| *t += 1),
                Err(e) => list_error.set(Some(e.message)),
            }
        });
    };

    view! {
        <PageHeader
            eyebrow=org.name.clone()
            title="Virtual keys"
            lead="Apps call the gateway with a virtual key; provider keys never leave Keyway."
        >
            {can_write
                .then(|| {
                    view! {
                        <button
                            class="btn btn-primary"
                            data-testid="issue-key"
                            on:click=move |_| show_form.update(|v| *v = !*v)
                        >
                            "Issue key"
                        </button>
                    }
                })}
        </PageHeader>
        {(!can_write)
            .then(|| {
                view! {
                    <p class="notice" data-testid="viewer-notice">
                        "You are a viewer in this organization: you can see keys but not issue, rotate or revoke them."
                    </p>
                }
            })}
        <div class="grid">
            {move || {
                secret
                    .get()
                    .map(|(title, key)| {
                        view! {
                            <SecretOnce
                                secret=key
                                title=title
                                model=providers
                                    .get()
                                    .and_then(Result::ok)
                                    .and_then(|p| arr(&p, "data").first().map(crate::pages::providers::example_model))
                                on_close=Callback::new(move |_| secret.set(None))
                            />
                        }
                    })
            }}
            <Show when=move || show_form.get()>
                <form class="card card-wide form-grid" on:submit=submit.clone() novalidate data-testid="key-form">
                    <header class="card-header card-wide-span">
                        <h2>"Issue a virtual key"</h2>
                    </header>
                    <div class="field">
                        <label for="k-name">"Name"</label>
                        <input id="k-name" placeholder="e.g. support-bot production" bind:value=name />
                    </div>
                    <div class="field">
                        <label for="k-models">"Allowed models"</label>
                        <input
                            id="k-models"
                            placeholder="all models"
                            aria-describedby="k-models-hint"
                            bind:value=models
                        />
                        <span class="hint" id="k-models-hint">
                            "Comma-separated provider/model names; empty allows every model."
                        </span>
                    </div>
                    <div class="field">
                        <label for="k-rpm">"Requests per minute"</label>
                        <input id="k-rpm" inputmode="numeric" placeholder="unlimited" bind:value=rpm />
                    </div>
                    <div class="field">
                        <label for="k-tpm">"Tokens per minute"</label>
                        <input id="k-tpm" inputmode="numeric" placeholder="unlimited" bind:value=tpm />
                    </div>
                    <div class="field">
                        <label for="k-budget">"Budget (USD)"</label>
                        <input id="k-budget" inputmode="decimal" placeholder="no budget" bind:value=budget />
                    </div>
                    <div class="field">
                        <label for="k-period">"Budget period"</label>
                        <select id="k-period" on:change=move |ev| period.set(event_target_value(&ev))>
                            <option value="monthly" selected>"Monthly"</option>
                            <option value="weekly">"Weekly"</option>
                            <option value="daily">"Daily"</option>
                            <option value="total">"Total (never resets)"</option>
                        </select>
                    </div>
                    <div class="field">
                        <label for="k-expires">"Expires on"</label>
                        <input id="k-expires" type="date" bind:value=expires />
                    </div>
                    <div class="card-wide-span">
                        <FormError error />
                        <div class="form-actions">
                            <button class="btn btn-primary" type="submit" disabled=busy>
                                "Create key"
                            </button>
                            <button class="btn btn-ghost" type="button" on:click=move |_| show_form.set(false)>
                                "Cancel"
                            </button>
                        </div>
                    </div>
                </form>
            </Show>
            <section class="card card-wide card-flush">
                <FormError error=list_error />
                {move || match keys.get() {
                    None => view! { <Loading what="keys" /> }.into_any(),
                    Some(Err(e)) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                    Some(Ok((list, spend))) => {
                        let rows = arr(&list, "data");
                        if rows.is_empty() {
                            return view! {
                                <div class="empty">
                                    <h2>"No keys yet"</h2>
                                    <p>"Issue a key for each app or teammate; you can limit models, rate and spend."</p>
                                </div>
                            }
                                .into_any();
                        }
                        let groups = arr(&spend, "groups");
                        let spend_of = move |id: &str| {
                            groups
                                .iter()
                                .find(|g| s(g, "value") == id)
                                .and_then(|g| g.get("totals").cloned())
                                .map(|t| (n(&t, "cost_nano_usd"), n(&t, "requests")))
                                .unwrap_or((0.0, 0.0))
                        };
                        let action = action.clone();
                        view! {
                            <div class="table-wrap">
                                <table class="table" data-testid="keys-table">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Name"</th>
                                            <th scope="col">"Key"</th>
                                            <th scope="col">"Status"</th>
                                            <th scope="col">"Models"</th>
                                            <th scope="col">"Limits"</th>
                                            <th scope="col">"Budget"</th>
                                            <th scope="col" class="num">"Spend (30 d)"</th>
                                            <th scope="col">"Last used"</th>
                                            {can_write.then(|| view! { <th scope="col"><span class="sr-only">"Actions"</span></th> })}
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {rows
                                            .into_iter()
                                            .map(|k| {
                                                let id = s(&k, "id");
                                                let status = s(&k, "status");
                                                let (cost, reqs) = spend_of(&id);
                                                let models = arr(&k, "allowed_models")
                                                    .iter()
                                                    .filter_map(|m| m.as_str().map(str::to_owned))
                                                    .collect::<Vec<_>>();
                                                let limits = k.get("limits").cloned().unwrap_or(Value::Null);
                                                let limit_text = {
                                                    let mut parts = Vec::new();
                                                    if let Some(r) = api::opt_n(&limits, "rpm") {
                                                        parts.push(format!("{} rpm", util::count(r)));
                                                    }
                                                    if let Some(t) = api::opt_n(&limits, "tpm") {
                                                        parts.push(format!("{} tpm", util::count(t)));
                                                    }
                                                    if parts.is_empty() { "none".to_owned() } else { parts.join(", ") }
                                                };
                                                let budget_text = util::budget(&k).unwrap_or_else(|| "none".into());
                                                let active = status == "active";
                                                let badge = match status.as_str() {
                                                    "active" => "badge badge-green",
                                                    "expired" => "badge badge-amber",
                                                    _ => "badge badge-red",
                                                };
                                                let label = s(&k, "name");
                                                let (a1, a2) = (action.clone(), action.clone());
                                                let (id1, id2, l1, l2) = (id.clone(), id.clone(), label.clone(), label.clone());
                                                let last = s(&k, "last_used_at");
                                                view! {
                                                    <tr>
                                                        <td><strong>{label.clone()}</strong></td>
                                                        <td class="mono">{format!("{}…", s(&k, "prefix"))}</td>
                                                        <td><span class=badge>{status.clone()}</span></td>
                                                        <td>{if models.is_empty() { "all".to_owned() } else { models.join(", ") }}</td>
                                                        <td>{limit_text}</td>
                                                        <td data-testid="key-budget">{budget_text}</td>
                                                        <td class="num" data-testid="key-spend">
                                                            {util::usd_nanos(cost)}
                                                            <small class="muted">{format!(" · {} req", util::count(reqs))}</small>
                                                        </td>
                                                        <td>{if last.is_empty() { "never".to_owned() } else { util::datetime(&last) }}</td>
                                                        {(can_write && active)
                                                            .then(|| {
                                                                view! {
                                                                    <td class="row-actions">
                                                                        <button class="btn btn-sm" on:click=move |_| a1(id1.clone(), "rotate", l1.clone())>
                                                                            "Rotate"
                                                                        </button>
                                                                        <button class="btn btn-sm btn-danger" on:click=move |_| a2(id2.clone(), "revoke", l2.clone())>
                                                                            "Revoke"
                                                                        </button>
                                                                    </td>
                                                                }
                                                            })}
                                                        {(can_write && !active).then(|| view! { <td></td> })}
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
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_forms_explain_mistakes() {
        assert!(key_body("", "", "", "", "", "monthly", "").is_err());
        let e = key_body("app", "", "0", "", "", "monthly", "").unwrap_err();
        assert!(e.contains("Requests per minute"), "{e}");
        let e = key_body("app", "", "", "", "-3", "monthly", "").unwrap_err();
        assert!(e.contains("Budget"), "{e}");
        let ok = key_body(
            "app",
            "mock/echo, openai/gpt-4o",
            "60",
            "",
            "$25",
            "weekly",
            "2030-01-02",
        )
        .unwrap();
        assert_eq!(ok["allowed_models"], json!(["mock/echo", "openai/gpt-4o"]));
        assert_eq!(ok["limits"], json!({ "rpm": 60, "tpm": null }));
        assert_eq!(
            ok["budget"],
            json!({ "limit_usd": "25", "period": "weekly" })
        );
        assert_eq!(ok["expires_at"], json!("2030-01-02T23:59:59Z"));
    }
}

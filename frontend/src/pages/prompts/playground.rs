//! The prompt playground: pick a label or a version, fill its variables, paste a virtual key and
//! run the prompt through the gateway (`POST /v1/prompts/{slug}/completions`), exactly as an
//! app would, so the call is priced, logged and counted in the analytics. The key stays in this
//! page's memory only; the gateway allows the dashboard's origin on the prompt endpoints.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Map, Value};
use std::collections::HashMap;

use super::detail::PromptData;
use super::editor::{default_text, default_value};
use super::labels_of;
use crate::Endpoints;
use crate::api::{self, GatewayAnswer, n, s};
use crate::session::{FormError, use_org};
use crate::util;

/// What the playground runs: `label:<name>` or `version:<n>`.
fn target_options(d: &PromptData) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = labels_of(&d.prompt)
        .into_iter()
        .map(|(l, v)| (format!("label:{l}"), format!("{l} (v{v})")))
        .collect();
    out.extend(d.versions.iter().map(|v| {
        let num = n(v, "version") as u32;
        (format!("version:{num}"), format!("v{num}"))
    }));
    out
}

/// The version a target names.
fn target_version(d: &PromptData, target: &str) -> Option<u32> {
    match target.split_once(':') {
        Some(("label", l)) => labels_of(&d.prompt)
            .into_iter()
            .find(|(name, _)| name == l)
            .map(|(_, v)| v),
        Some(("version", v)) => v.parse().ok(),
        _ => None,
    }
}

/// The text of a chat completion's first choice.
pub fn answer_text(body: &Value) -> String {
    body.pointer("/choices/0/message/content")
        .map(|c| match c {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_else(|| body.to_string())
}

/// The playground card.
#[component]
pub(super) fn Playground(data: Signal<PromptData>) -> impl IntoView {
    let org = use_org();
    let endpoints = use_context::<Endpoints>().unwrap_or_default();
    let target = RwSignal::new(String::new());
    // Production when it exists, else the newest version.
    let default_target = Memo::new(move |_| {
        data.with(|d| {
            target_options(d)
                .into_iter()
                .map(|(v, _)| v)
                .find(|v| v == "label:production")
                .unwrap_or_else(|| format!("version:{}", d.latest()))
        })
    });
    // Follows the default (production once it exists) until the user picks a target.
    let picked = RwSignal::new(false);
    Effect::new(move |_| {
        let t = default_target.get();
        if !picked.get_untracked() {
            target.set(t);
        }
    });
    // What was typed per variable name, kept when another target declares the same name.
    let values = RwSignal::new(HashMap::<String, String>::new());
    // The variables of the targeted version: name, required, default.
    let schema = Memo::new(move |_| {
        let t = target.get();
        data.with(|d| {
            target_version(d, &t)
                .and_then(|v| d.version(v))
                .and_then(|v| v.get("variables"))
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, spec)| {
                            (
                                k.clone(),
                                spec.get("required") == Some(&Value::Bool(true)),
                                default_text(spec.get("default")),
                            )
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    });
    let key = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let answer = RwSignal::new(None::<GatewayAnswer>);
    let gateway = endpoints.gateway_url.clone();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let k = key.get_untracked();
        if k.trim().is_empty() {
            error.set(Some(
                "Paste a virtual key: the playground calls the gateway as an app would.".into(),
            ));
            return;
        }
        let mut body = Map::new();
        let mut variables = Map::new();
        let typed = values.get_untracked();
        for (name, _, _) in schema.get_untracked() {
            match typed.get(&name) {
                Some(text) if !text.is_empty() => {
                    variables.insert(name, default_value(text));
                }
                _ => {}
            }
        }
        body.insert("variables".into(), Value::Object(variables));
        match target.get_untracked().split_once(':') {
            Some(("label", l)) => {
                body.insert("label".into(), Value::String(l.to_owned()));
            }
            Some(("version", v)) => {
                if let Ok(num) = v.parse::<u32>() {
                    body.insert("version".into(), num.into());
                }
            }
            _ => {}
        }
        let url = format!(
            "{gateway}/v1/prompts/{}/completions",
            data.with_untracked(|d| s(&d.prompt, "slug"))
        );
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            match api::gateway_post(&url, &k, &Value::Object(body)).await {
                Ok(a) => answer.set(Some(a)),
                Err(e) => {
                    answer.set(None);
                    error.set(Some(e.message));
                }
            }
            busy.set(false);
        });
    };
    let logs = org.link("/logs/");

    view! {
        <section class="card card-wide" data-testid="playground">
            <header class="card-header">
                <div>
                    <h2>"Playground"</h2>
                    <p class="muted">"Runs the prompt through the gateway with a virtual key, like an app: the call is billed, logged and counted below."</p>
                </div>
            </header>
            <form class="playground" on:submit=submit novalidate>
                <div class="playground-inputs">
                    <div class="field">
                        <label for="pg-target">"Run"</label>
                        <select
                            id="pg-target"
                            on:change=move |ev| {
                                picked.set(true);
                                target.set(event_target_value(&ev));
                            }
                        >
                            {move || {
                                let cur = target.get();
                                data.with(target_options)
                                    .into_iter()
                                    .map(|(v, label)| {
                                        let selected = v == cur;
                                        view! { <option value=v selected=selected>{label}</option> }
                                    })
                                    .collect_view()
                            }}
                        </select>
                    </div>
                    {move || {
                        schema
                            .get()
                            .into_iter()
                            .map(|(name, required, default)| {
                                let id = format!("pg-var-{name}");
                                let placeholder = match (default.is_empty(), required) {
                                    (false, _) => format!("default: {default}"),
                                    (true, true) => "required".to_owned(),
                                    (true, false) => "optional".to_owned(),
                                };
                                let (n1, n2) = (name.clone(), name.clone());
                                view! {
                                    <div class="field">
                                        <label for=id.clone()>
                                            <span class="mono">{name}</span>
                                            {required.then(|| view! { <span class="req" aria-hidden="true">" *"</span> })}
                                        </label>
                                        <textarea
                                            id=id
                                            rows="2"
                                            placeholder=placeholder
                                            prop:value=move || values.with(|m| m.get(&n1).cloned().unwrap_or_default())
                                            on:input=move |ev| {
                                                let text = event_target_value(&ev);
                                                values.update(|m| {
                                                    m.insert(n2.clone(), text);
                                                });
                                            }
                                        ></textarea>
                                    </div>
                                }
                            })
                            .collect_view()
                    }}
                    <div class="field">
                        <label for="pg-key">"Virtual key"</label>
                        <input
                            id="pg-key"
                            type="password"
                            autocomplete="off"
                            spellcheck="false"
                            placeholder="kw-…"
                            aria-describedby="pg-key-hint"
                            bind:value=key
                        />
                        <span class="hint" id="pg-key-hint">"Kept in this page only; it is never stored or sent to the dashboard's server."</span>
                    </div>
                    <FormError error />
                    <div class="form-actions">
                        <button class="btn btn-primary" type="submit" disabled=busy data-testid="run-prompt">
                            {move || if busy.get() { "Running…" } else { "Run" }}
                        </button>
                    </div>
                </div>
                <div class="playground-output" aria-live="polite">
                    {move || match answer.get() {
                        None => view! {
                            <div class="output-empty">
                                <p class="muted">"The answer, the version that served it, its cost and latency appear here."</p>
                            </div>
                        }
                            .into_any(),
                        Some(a) => {
                            let rid = a.header("x-keyway-request-id").unwrap_or_default().to_owned();
                            let cost = a
                                .header("x-keyway-cost-usd")
                                .and_then(|c| c.parse::<f64>().ok())
                                .map(util::usd)
                                .unwrap_or_else(|| "–".into());
                            let version = a
                                .header("x-keyway-prompt-version")
                                .map(|v| format!("v{v}"))
                                .unwrap_or_else(|| "–".into());
                            let model = a.header("x-keyway-model").unwrap_or("–").to_owned();
                            let href = format!("{logs}{}", api::enc(&rid));
                            view! {
                                <div class="output" data-testid="playground-result">
                                    <dl class="output-stats">
                                        <div><dt>"Version"</dt><dd data-testid="playground-version">{version}</dd></div>
                                        <div><dt>"Model"</dt><dd class="mono">{model}</dd></div>
                                        <div><dt>"Cost"</dt><dd data-testid="playground-cost">{cost}</dd></div>
                                        <div><dt>"Latency"</dt><dd data-testid="playground-latency">{util::ms(a.elapsed_ms.round())}</dd></div>
                                    </dl>
                                    <pre class="output-text" data-testid="playground-output">{answer_text(&a.body)}</pre>
                                    {(!rid.is_empty()).then(|| view! { <a class="small" href=href>"Open in logs →"</a> })}
                                </div>
                            }
                                .into_any()
                        }
                    }}
                </div>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn targets_name_labels_then_versions() {
        let d = PromptData {
            prompt: json!({"latest_version": 2, "labels": {"production": 1}}),
            versions: vec![json!({"version": 2}), json!({"version": 1})],
            members: Value::Null,
            labels: Vec::new(),
            guardrails: Vec::new(),
        };
        let opts: Vec<String> = target_options(&d).into_iter().map(|o| o.0).collect();
        assert_eq!(opts, vec!["label:production", "version:2", "version:1"]);
        assert_eq!(target_version(&d, "label:production"), Some(1));
        assert_eq!(target_version(&d, "version:2"), Some(2));
        assert_eq!(target_version(&d, "label:staging"), None);
        let body = json!({"choices": [{"message": {"content": "hello"}}]});
        assert_eq!(answer_text(&body), "hello");
    }
}

//! Guardrails: the list, the create form, and the guardrail page with the definition editor
//! (JSON, started from a template, the API's validation errors shown under it), the version
//! history and a test box that runs the checks on a pasted text and shows every verdict.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde_json::{Value, json};

use crate::api::{self, arr, n, s};
use crate::pages::prompts::author;
use crate::session::{FormError, Loading, PageHeader, use_org};
use crate::util;

/// Starting points for a definition: a name and the definition.
pub fn templates() -> Vec<(&'static str, Value)> {
    vec![
        (
            "Redact personal data",
            json!({"version": 1, "checks": [
                {"id": "no-pii", "on": "input", "action": "redact",
                 "check": {"type": "pii", "kinds": ["email", "phone", "credit_card", "iban", "ssn", "secret"]}}
            ]}),
        ),
        (
            "Block words",
            json!({"version": 1, "checks": [
                {"id": "blocked-words", "on": "input", "action": "deny",
                 "check": {"type": "words", "words": ["confidential", "internal only"]}}
            ]}),
        ),
        (
            "Stop prompt injection",
            json!({"version": 1, "checks": [
                {"id": "injection", "on": "input", "action": "deny",
                 "check": {"type": "injection", "threshold": 1.0}}
            ]}),
        ),
        (
            "Limit answer length",
            json!({"version": 1, "checks": [
                {"id": "short-answers", "on": "output", "action": "flag",
                 "check": {"type": "length", "unit": "words", "max": 300}}
            ]}),
        ),
        (
            "JSON answers",
            json!({"version": 1, "checks": [
                {"id": "json-answer", "on": "output", "action": "deny",
                 "check": {"type": "json_keys", "keys": ["answer"]}}
            ]}),
        ),
    ]
}

/// Keys written first, in this order, so a check reads `id`, `on`, `action`, then what it checks.
const KEY_ORDER: [&str; 7] = ["version", "checks", "id", "on", "action", "check", "type"];

/// Pretty JSON for the editor: known keys first, short lists of plain values on one line.
pub fn pretty(v: &Value) -> String {
    let mut out = String::new();
    write_pretty(&mut out, v, 0);
    out
}

fn write_pretty(out: &mut String, v: &Value, depth: usize) {
    let pad = |d: usize| "  ".repeat(d);
    match v {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            let rank = |k: &str| {
                KEY_ORDER
                    .iter()
                    .position(|o| *o == k)
                    .unwrap_or(KEY_ORDER.len())
            };
            keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push_str(": ");
                write_pretty(out, &map[k.as_str()], depth + 1);
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(depth));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            let inline =
                items.iter().all(|i| !i.is_object() && !i.is_array()) && v.to_string().len() <= 72;
            if inline {
                let parts: Vec<String> = items.iter().map(Value::to_string).collect();
                out.push('[');
                out.push_str(&parts.join(", "));
                out.push(']');
                return;
            }
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                write_pretty(out, item, depth + 1);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(depth));
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Parses the editor's text, explaining where it is not JSON.
pub fn parse_definition(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Err("Write the definition, or start from a template.".into());
    }
    serde_json::from_str(text).map_err(|e| format!("Not valid JSON: {e}."))
}

/// `2 input · 1 output`, and the actions the checks take.
pub fn summary(definition: &Value) -> (String, Vec<String>) {
    let checks = arr(definition, "checks");
    let on = |stage: &str| checks.iter().filter(|c| s(c, "on") == stage).count();
    let (input, output) = (on("input"), on("output"));
    let mut parts = Vec::new();
    if input > 0 {
        parts.push(format!("{input} input"));
    }
    if output > 0 {
        parts.push(format!("{output} output"));
    }
    let mut actions: Vec<String> = checks.iter().map(|c| s(c, "action")).collect();
    actions.sort();
    actions.dedup();
    let text = if parts.is_empty() {
        "no checks".to_owned()
    } else {
        parts.join(" · ")
    };
    (text, actions)
}

fn action_badge(action: &str, taken: bool) -> impl IntoView + use<> {
    let class = match (action, taken) {
        (_, false) => "badge",
        ("deny", true) => "badge badge-red",
        _ => "badge badge-amber",
    };
    view! { <span class=class>{action.to_owned()}</span> }
}

/// The definition textarea with template buttons; `error` shows under it.
#[component]
fn DefinitionEditor(
    /// The definition as typed.
    text: RwSignal<String>,
    /// Why the last save or test failed.
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let format = move |_| match parse_definition(&text.get_untracked()) {
        Ok(v) => {
            text.set(pretty(&v));
            error.set(None);
        }
        Err(e) => error.set(Some(e)),
    };
    view! {
        <div class="field">
            <div class="definition-bar">
                <label for="gr-definition">"Checks (JSON)"</label>
                <div class="template-picker">
                    <span class="muted small">"Start from:"</span>
                    {templates()
                        .into_iter()
                        .map(|(name, def)| {
                            view! {
                                <button
                                    type="button"
                                    class="btn btn-sm"
                                    on:click=move |_| {
                                        text.set(pretty(&def));
                                        error.set(None);
                                    }
                                >
                                    {name}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
            </div>
            <textarea
                id="gr-definition"
                class="code-input json-editor"
                rows="16"
                spellcheck="false"
                aria-describedby="gr-definition-hint"
                aria-invalid=move || error.with(Option::is_some).to_string()
                bind:value=text
            ></textarea>
            {move || {
                error
                    .get()
                    .map(|e| view! { <p class="form-error" role="alert" data-testid="definition-error">{e}</p> })
            }}
            <div class="definition-help" id="gr-definition-hint">
                <button type="button" class="btn btn-ghost btn-sm" on:click=format>"Format JSON"</button>
                <p class="hint">
                    "Each check has an "<code>"id"</code>", runs "<code>"on"</code>" input (the request, before the model) or output (the answer), takes an "
                    <code>"action"</code>" (deny refuses with HTTP 446, flag reports, redact rewrites) and a "<code>"check"</code>": "
                    <code>"pii"</code>", "<code>"regex"</code>", "<code>"words"</code>", "<code>"injection"</code>", "<code>"length"</code>", "
                    <code>"json_schema"</code>", "<code>"json_keys"</code>", "<code>"models"</code>", "<code>"charset"</code>" or "<code>"webhook"</code>"."
                </p>
            </div>
        </div>
    }
}

/// `/o/{org}/guardrails`.
#[component]
pub fn Guardrails() -> impl IntoView {
    let org = use_org();
    let admin = org.can("admin");
    let list_api = org.api("/guardrails?limit=200");
    let list = LocalResource::new(move || {
        let url = list_api.clone();
        async move { api::get(&url).await }
    });
    let show_form = RwSignal::new(false);
    let slug = RwSignal::new(String::new());
    let text = RwSignal::new(pretty(&templates()[0].1));
    let error = RwSignal::new(None::<String>);
    let definition_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let navigate = use_navigate();
    let create_api = org.api("/guardrails");
    let detail = org.link("/guardrails/");
    let detail2 = detail.clone();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let sl = slug.get_untracked().trim().to_owned();
        if sl.is_empty() {
            error.set(Some("Give the guardrail a slug, e.g. no-pii.".into()));
            return;
        }
        error.set(None);
        let definition = match parse_definition(&text.get_untracked()) {
            Ok(d) => d,
            Err(e) => {
                definition_error.set(Some(e));
                return;
            }
        };
        definition_error.set(None);
        busy.set(true);
        let (url, link, navigate) = (create_api.clone(), detail.clone(), navigate.clone());
        spawn_local(async move {
            match api::post(&url, json!({ "slug": sl, "definition": definition })).await {
                Ok(g) => navigate(&format!("{link}{}", s(&g, "id")), Default::default()),
                // Definition problems name their JSON path: show them by the editor.
                Err(e)
                    if e.message.starts_with("invalid guardrail")
                        || e.message.starts_with("definition") =>
                {
                    definition_error.set(Some(e.message));
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <PageHeader
            eyebrow=org.name.clone()
            title="Guardrails"
            lead="Checks the gateway runs on requests before the model and on answers before your app sees them: refuse, flag or redact. Attach a guardrail to a virtual key to enforce it."
        >
            {admin
                .then(|| {
                    view! {
                        <button class="btn btn-primary" data-testid="new-guardrail" on:click=move |_| show_form.update(|v| *v = !*v)>
                            "New guardrail"
                        </button>
                    }
                })}
        </PageHeader>
        {(!admin)
            .then(|| view! { <p class="notice">"Only admins and owners can create or change guardrails; you can view and test them."</p> })}
        <div class="grid">
            <Show when=move || show_form.get()>
                <form class="card card-wide" on:submit=submit.clone() novalidate data-testid="guardrail-form">
                    <header class="card-header">
                        <div>
                            <h2>"New guardrail"</h2>
                            <p class="muted">"Pick a template and adjust it; you can test it on its page right after."</p>
                        </div>
                    </header>
                    <div class="field slug-field">
                        <label for="gr-slug">"Slug"</label>
                        <input id="gr-slug" class="mono" placeholder="e.g. no-pii" bind:value=slug />
                    </div>
                    <DefinitionEditor text error=definition_error />
                    <FormError error />
                    <div class="form-actions">
                        <button class="btn btn-primary" type="submit" disabled=busy>"Create guardrail"</button>
                        <button class="btn btn-ghost" type="button" on:click=move |_| show_form.set(false)>"Cancel"</button>
                    </div>
                </form>
            </Show>
            <section class="card card-wide card-flush">
                {move || match list.get() {
                    None => view! { <Loading what="guardrails" /> }.into_any(),
                    Some(Err(e)) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                    Some(Ok(v)) => {
                        let rows = arr(&v, "data");
                        if rows.is_empty() {
                            return view! {
                                <div class="empty">
                                    <h2>"No guardrails yet"</h2>
                                    <p>"Redact personal data before it reaches a provider, refuse prompt injections, or check that answers are valid JSON."</p>
                                </div>
                            }
                                .into_any();
                        }
                        let link = detail2.clone();
                        view! {
                            <div class="table-wrap">
                                <table class="table" data-testid="guardrails-table">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Guardrail"</th>
                                            <th scope="col">"Version"</th>
                                            <th scope="col">"Checks"</th>
                                            <th scope="col">"Actions"</th>
                                            <th scope="col">"Updated"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {rows
                                            .into_iter()
                                            .map(|g| {
                                                let (checks, actions) = summary(g.get("definition").unwrap_or(&Value::Null));
                                                view! {
                                                    <tr>
                                                        <td><a class="row-link mono" href=format!("{link}{}", s(&g, "id"))>{s(&g, "slug")}</a></td>
                                                        <td><span class="badge">{format!("v{}", n(&g, "version"))}</span></td>
                                                        <td>{checks}</td>
                                                        <td><div class="badges">{actions.iter().map(|a| action_badge(a, false)).collect_view()}</div></td>
                                                        <td>{util::datetime(&s(&g, "updated_at"))}</td>
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

/// `/o/{org}/guardrails/{id}`.
#[component]
pub fn GuardrailDetail() -> impl IntoView {
    let org = use_org();
    let admin = org.can("admin");
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let tick = RwSignal::new(0_u32);
    let base = org.api("/guardrails/");
    let members_api = org.api("/members?limit=200");
    let resource = LocalResource::new(move || {
        tick.track();
        let url = format!("{base}{}", id.get());
        let members_url = members_api.clone();
        async move {
            let g = api::get(&url).await?;
            let versions = api::get(&format!("{url}/versions")).await?;
            let members = api::get(&members_url).await.unwrap_or(Value::Null);
            Ok::<_, api::ApiError>((g, arr(&versions, "data"), members))
        }
    });
    let loaded = RwSignal::new(None::<(Value, Vec<Value>, Value)>);
    let failed = RwSignal::new(None::<String>);
    let text = RwSignal::new(String::new());
    let slug = RwSignal::new(String::new());
    // A fresh answer replaces the draft only when a new version arrived (or at first load).
    Effect::new(move |_| match resource.get() {
        Some(Ok(d)) => {
            failed.set(None);
            let version = n(&d.0, "version");
            let changed = loaded.with_untracked(|cur| {
                cur.as_ref().map(|c| (n(&c.0, "version"), s(&c.0, "slug")))
                    != Some((version, s(&d.0, "slug")))
            });
            if changed {
                text.set(pretty(d.0.get("definition").unwrap_or(&Value::Null)));
                slug.set(s(&d.0, "slug"));
            }
            loaded.set(Some(d));
        }
        Some(Err(e)) => failed.set(Some(e.message)),
        None => {}
    });
    let current = move || {
        loaded
            .with(|l| l.as_ref().map(|l| l.0.clone()))
            .unwrap_or(Value::Null)
    };
    let title = Memo::new(move |_| {
        loaded.with(|l| {
            l.as_ref()
                .map(|l| s(&l.0, "slug"))
                .unwrap_or_else(|| "Guardrail".into())
        })
    });
    let error = RwSignal::new(None::<String>);
    let definition_error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let item_api = org.api("/guardrails/");
    let item_api2 = item_api.clone();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        saved.set(None);
        let definition = match parse_definition(&text.get_untracked()) {
            Ok(d) => d,
            Err(e) => {
                definition_error.set(Some(e));
                return;
            }
        };
        definition_error.set(None);
        let cur = current();
        let mut body = serde_json::Map::new();
        let new_slug = slug.get_untracked().trim().to_owned();
        if new_slug != s(&cur, "slug") {
            body.insert("slug".into(), json!(new_slug));
        }
        if Some(&definition) != cur.get("definition") {
            body.insert("definition".into(), definition);
        }
        if body.is_empty() {
            error.set(Some(
                "Nothing changed: edit the checks or the slug first.".into(),
            ));
            return;
        }
        error.set(None);
        busy.set(true);
        let url = format!("{item_api}{}", id.get_untracked());
        spawn_local(async move {
            match api::patch(&url, serde_json::Value::Object(body)).await {
                Ok(g) => {
                    saved.set(Some(format!(
                        "Saved. Version {} is live for every key that attaches this guardrail.",
                        n(&g, "version")
                    )));
                    tick.update(|t| *t = t.wrapping_add(1));
                }
                Err(e)
                    if e.message.starts_with("invalid guardrail")
                        || e.message.starts_with("definition") =>
                {
                    definition_error.set(Some(e.message));
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let navigate = use_navigate();
    let back = org.link("/guardrails");
    let back2 = back.clone();
    let remove = move |_| {
        let url = format!("{item_api2}{}", id.get_untracked());
        let (navigate, back) = (navigate.clone(), back2.clone());
        spawn_local(async move {
            if !window()
                .confirm_with_message("Delete this guardrail and its versions?")
                .unwrap_or(false)
            {
                return;
            }
            match api::delete(&url).await {
                Ok(_) => navigate(&back, Default::default()),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    let test_url = Signal::derive({
        let base = org.api("/guardrails/");
        move || format!("{base}{}/test", id.get())
    });
    let inline_url = org.api("/guardrails/test");
    let eyebrow = format!("{} · Guardrails", org.name);

    view! {
        {move || {
            let back = back.clone();
            let remove = remove.clone();
            view! {
                <PageHeader eyebrow=eyebrow.clone() title=title.get()>
                    <a class="btn" href=back>"← All guardrails"</a>
                    {admin.then(|| view! { <button class="btn btn-danger" type="button" on:click=remove>"Delete"</button> })}
                </PageHeader>
            }
        }}
        {move || failed.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        <Show
            when=move || loaded.with(Option::is_some)
            fallback=move || failed.with(Option::is_none).then(|| view! { <Loading what="the guardrail" /> })
        >
            <div class="grid guardrail-grid">
                <form class="card" on:submit=submit.clone() novalidate data-testid="guardrail-editor">
                    <header class="card-header">
                        <div>
                            <h2>"Edit"</h2>
                            <p class="muted">
                                {move || {
                                    let v = n(&current(), "version");
                                    format!("Saving writes version {}; versions never change once written.", v + 1.0)
                                }}
                            </p>
                        </div>
                        <span class="badge badge-green">{move || format!("v{} live", n(&current(), "version"))}</span>
                    </header>
                    <fieldset disabled=!admin>
                        <div class="field slug-field">
                            <label for="gr-slug">"Slug"</label>
                            <input id="gr-slug" class="mono" bind:value=slug />
                        </div>
                        <DefinitionEditor text error=definition_error />
                        <FormError error />
                        {move || saved.get().map(|m| view! { <p class="success" role="status">{m}</p> })}
                        <div class="form-actions">
                            <button class="btn btn-primary" type="submit" disabled=busy>"Save new version"</button>
                        </div>
                    </fieldset>
                </form>
                <TestBox test_url inline_url=inline_url.clone() draft=text />
                <section class="card card-wide card-flush">
                    <header class="card-header card-pad">
                        <div>
                            <h2>"Versions"</h2>
                            <p class="muted">"Load an older version into the editor and save it to roll back."</p>
                        </div>
                    </header>
                    <div class="table-wrap">
                        <table class="table" data-testid="guardrail-versions">
                            <thead>
                                <tr>
                                    <th scope="col">"Version"</th>
                                    <th scope="col">"Checks"</th>
                                    <th scope="col">"Author"</th>
                                    <th scope="col">"Created"</th>
                                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                {move || {
                                    let Some((g, versions, members)) = loaded.get() else {
                                        return ().into_any();
                                    };
                                    let live = n(&g, "version");
                                    versions
                                        .into_iter()
                                        .map(|v| {
                                            let def = v.get("definition").cloned().unwrap_or(Value::Null);
                                            let (checks, _) = summary(&def);
                                            let num = n(&v, "version");
                                            view! {
                                                <tr>
                                                    <td>
                                                        <div class="badges">
                                                            <strong class="version-num">{format!("v{num}")}</strong>
                                                            {(num == live).then(|| view! { <span class="badge badge-green">"live"</span> })}
                                                        </div>
                                                    </td>
                                                    <td>{checks}</td>
                                                    <td>{author(&members, &s(&v, "created_by"))}</td>
                                                    <td>{util::datetime(&s(&v, "created_at"))}</td>
                                                    <td class="row-actions">
                                                        <button
                                                            type="button"
                                                            class="btn btn-sm"
                                                            on:click=move |_| {
                                                                text.set(pretty(&def));
                                                                definition_error.set(None);
                                                            }
                                                        >
                                                            "Load into editor"
                                                        </button>
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()
                                        .into_any()
                                }}
                            </tbody>
                        </table>
                    </div>
                </section>
            </div>
        </Show>
    }
}

/// Runs the checks on a pasted text (`POST .../test`, or the inline test of the unsaved draft)
/// and shows each verdict and the text after redaction.
#[component]
fn TestBox(
    /// The saved guardrail's test endpoint.
    test_url: Signal<String>,
    /// The inline-definition test endpoint.
    inline_url: String,
    /// The editor's draft, tested instead when asked.
    draft: RwSignal<String>,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let stage = RwSignal::new("input".to_owned());
    let model = RwSignal::new(String::new());
    let use_draft = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let result = RwSignal::new(None::<Value>);
    let busy = RwSignal::new(false);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if text.get_untracked().is_empty() {
            error.set(Some("Paste a text to check.".into()));
            return;
        }
        let mut body = json!({
            "text": text.get_untracked(),
            "on": stage.get_untracked(),
            "model": model.get_untracked().trim(),
        });
        let url = if use_draft.get_untracked() {
            match parse_definition(&draft.get_untracked()) {
                Ok(d) => body["definition"] = d,
                Err(e) => {
                    error.set(Some(format!("The draft: {e}")));
                    return;
                }
            }
            inline_url.clone()
        } else {
            test_url.get_untracked()
        };
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            match api::post(&url, body).await {
                Ok(r) => result.set(Some(r)),
                Err(e) => {
                    result.set(None);
                    error.set(Some(e.message));
                }
            }
            busy.set(false);
        });
    };
    let stage_button = move |value: &'static str, label: &'static str| {
        view! {
            <button
                type="button"
                class="segmented-item"
                aria-pressed=move || (stage.get() == value).to_string()
                on:click=move |_| stage.set(value.to_owned())
            >
                {label}
            </button>
        }
    };

    view! {
        <section class="card" data-testid="guardrail-test">
            <header class="card-header">
                <div>
                    <h2>"Test"</h2>
                    <p class="muted">"Runs the checks on a text as the gateway would. Nothing is stored."</p>
                </div>
            </header>
            <form on:submit=submit novalidate>
                <div class="field">
                    <label for="gt-text">"Text"</label>
                    <textarea id="gt-text" rows="6" placeholder="Paste a prompt (input) or an answer (output)" bind:value=text></textarea>
                </div>
                <div class="test-options">
                    <div class="segmented" role="group" aria-label="Checks to run">
                        {stage_button("input", "Input checks")}
                        {stage_button("output", "Output checks")}
                    </div>
                    <input class="test-model" aria-label="Model (for models checks)" placeholder="model (optional)" bind:value=model />
                </div>
                <div class="field field-check">
                    <input id="gt-draft" type="checkbox" bind:checked=use_draft />
                    <label for="gt-draft">"Test the unsaved draft instead of the live version"</label>
                </div>
                <FormError error />
                <div class="form-actions">
                    <button class="btn btn-primary" type="submit" disabled=busy>"Run test"</button>
                </div>
            </form>
            {move || {
                result
                    .get()
                    .map(|r| {
                        let verdicts = arr(&r, "verdicts");
                        let denied = r.get("denied") == Some(&Value::Bool(true));
                        let failed = verdicts.iter().filter(|v| v.get("passed") == Some(&Value::Bool(false))).count();
                        let (class, banner) = if denied {
                            ("verdict-banner verdict-denied", "Denied: the gateway would refuse this request (HTTP 446).".to_owned())
                        } else if failed > 0 {
                            ("verdict-banner verdict-flagged", format!("Allowed, with {failed} failed check{}: flagged or redacted.", if failed == 1 { "" } else { "s" }))
                        } else if verdicts.is_empty() {
                            ("verdict-banner", format!("No {} checks in this guardrail.", stage.get_untracked()))
                        } else {
                            ("verdict-banner verdict-passed", "Passed every check.".to_owned())
                        };
                        let after = s(&r, "text");
                        let changed = after != text.get_untracked();
                        view! {
                            <div class="test-result" data-testid="test-result">
                                <p class=class data-testid="verdict-banner">{banner}</p>
                                {(!verdicts.is_empty())
                                    .then(|| {
                                        view! {
                                            <div class="table-wrap">
                                                <table class="table" data-testid="verdicts">
                                                    <thead>
                                                        <tr>
                                                            <th scope="col">"Check"</th>
                                                            <th scope="col">"Result"</th>
                                                            <th scope="col">"Action"</th>
                                                            <th scope="col">"Details"</th>
                                                        </tr>
                                                    </thead>
                                                    <tbody>
                                                        {verdicts
                                                            .iter()
                                                            .map(|v| {
                                                                let passed = v.get("passed") == Some(&Value::Bool(true));
                                                                view! {
                                                                    <tr data-check=s(v, "check")>
                                                                        <td>
                                                                            <strong class="mono">{s(v, "check")}</strong>
                                                                            <div class="muted small">{s(v, "type")}</div>
                                                                        </td>
                                                                        <td>
                                                                            {if passed {
                                                                                view! { <span class="badge badge-green">"passed"</span> }.into_any()
                                                                            } else {
                                                                                view! { <span class="badge badge-red">"failed"</span> }.into_any()
                                                                            }}
                                                                        </td>
                                                                        <td>{action_badge(&s(v, "action"), !passed)}</td>
                                                                        <td class="details">{s(v, "details")}</td>
                                                                    </tr>
                                                                }
                                                            })
                                                            .collect_view()}
                                                    </tbody>
                                                </table>
                                            </div>
                                        }
                                    })}
                                <div class="field">
                                    <span class="label-text">{if changed { "Text after redaction" } else { "Text passed on (unchanged)" }}</span>
                                    <pre class="output-text" data-testid="redacted-text">{after}</pre>
                                </div>
                            </div>
                        }
                    })
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_valid_json_with_checks() {
        for (name, def) in templates() {
            let (text, actions) = summary(&def);
            assert_ne!(text, "no checks", "{name}");
            assert!(!actions.is_empty(), "{name}");
            assert_eq!(parse_definition(&pretty(&def)).unwrap(), def);
        }
    }

    #[test]
    fn definitions_print_in_reading_order() {
        let def = json!({"checks": [{"check": {"kinds": ["email", "phone"], "type": "pii"},
            "action": "redact", "on": "input", "id": "no-pii"}], "version": 1});
        assert_eq!(
            pretty(&def),
            "{\n  \"version\": 1,\n  \"checks\": [\n    {\n      \"id\": \"no-pii\",\n      \"on\": \"input\",\n      \"action\": \"redact\",\n      \"check\": {\n        \"type\": \"pii\",\n        \"kinds\": [\"email\", \"phone\"]\n      }\n    }\n  ]\n}"
        );
        assert_eq!(
            pretty(&json!({"a": [], "b": {}})),
            "{\n  \"a\": [],\n  \"b\": {}\n}"
        );
    }

    #[test]
    fn definitions_explain_json_mistakes() {
        let e = parse_definition("{\"version\": 1,").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        assert!(parse_definition("  ").is_err());
        let def = json!({"checks": [
            {"on": "input", "action": "deny"}, {"on": "input", "action": "redact"},
            {"on": "output", "action": "deny"}
        ]});
        assert_eq!(
            summary(&def),
            (
                "2 input · 1 output".to_owned(),
                vec!["deny".to_owned(), "redact".to_owned()]
            )
        );
    }
}

//! The prompt page: labels (moving one ships or rolls back), the version history, the diff of
//! two versions, the editor of the next version, the playground and the per-version analytics.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use serde_json::{Value, json};

use super::compare::VersionsCompared;
use super::diff::VersionDiff;
use super::editor::VersionEditor;
use super::playground::Playground;
use super::{author, label_badge, labels_of};
use crate::Endpoints;
use crate::api::{self, ApiError, arr, n, s};
use crate::session::{FormError, Loading, PageHeader, use_org};
use crate::util;

/// What the page shows, loaded together.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct PromptData {
    /// The prompt (`GET /prompts/{id}`).
    pub prompt: Value,
    /// Every version, newest first.
    pub versions: Vec<Value>,
    /// Organization members, to name authors.
    pub members: Value,
    /// Labels with who moved them and when (`GET .../labels`).
    pub labels: Vec<Value>,
    /// The organization's guardrails, which versions may name.
    pub guardrails: Vec<Value>,
}

impl PromptData {
    /// Number of the newest version.
    pub fn latest(&self) -> u32 {
        n(&self.prompt, "latest_version") as u32
    }

    /// Version `v`, when it exists.
    pub fn version(&self, v: u32) -> Option<&Value> {
        self.versions.iter().find(|x| n(x, "version") as u32 == v)
    }

    /// Who last moved label `name`, and when.
    pub fn label_moved(&self, name: &str) -> Option<(String, String)> {
        self.labels.iter().find(|l| s(l, "name") == name).map(|l| {
            (
                author(&self.members, &s(l, "updated_by")),
                s(l, "updated_at"),
            )
        })
    }

    /// `text` with every guardrail id shown as `slug · id…`, for people to read.
    pub fn name_guardrails(&self, text: &str) -> String {
        self.guardrails.iter().fold(text.to_owned(), |t, g| {
            let id = s(g, "id");
            if id.is_empty() || !t.contains(&id) {
                return t;
            }
            t.replace(
                &id,
                &format!("{} · {}…", s(g, "slug"), id.get(..8).unwrap_or(&id)),
            )
        })
    }

    /// Labels pointing at version `v`.
    pub fn labels_at(&self, v: u32) -> Vec<String> {
        labels_of(&self.prompt)
            .into_iter()
            .filter(|(_, at)| *at == v)
            .map(|(l, _)| l)
            .collect()
    }
}

async fn load(
    prompt_url: String,
    members_url: String,
    guardrails_url: String,
) -> Result<PromptData, ApiError> {
    let prompt = api::get(&prompt_url).await?;
    let versions = api::get(&format!("{prompt_url}/versions")).await?;
    // Author names are a nicety; ids are shown when the member list cannot be read.
    let members = api::get(&members_url).await.unwrap_or(Value::Null);
    let labels = api::get(&format!("{prompt_url}/labels")).await?;
    // Without the list the editor offers no guardrails; the rest of the page still works.
    let guardrails = api::get(&guardrails_url).await.unwrap_or(Value::Null);
    Ok(PromptData {
        prompt,
        versions: arr(&versions, "data"),
        members,
        labels: arr(&labels, "data"),
        guardrails: arr(&guardrails, "data"),
    })
}

/// `/o/{org}/prompts/{id}`.
#[component]
pub fn PromptDetail() -> impl IntoView {
    let org = use_org();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let tick = RwSignal::new(0_u32);
    let prompts_api = org.api("/prompts/");
    let members_api = org.api("/members?limit=200");
    let guardrails_api = org.api("/guardrails?limit=200");
    let resource = LocalResource::new(move || {
        tick.track();
        load(
            format!("{prompts_api}{}", id.get()),
            members_api.clone(),
            guardrails_api.clone(),
        )
    });
    // Sections keep their own state (the editor's draft, the playground's key) across reloads:
    // they read the newest good answer from here.
    let loaded = RwSignal::new(None::<PromptData>);
    let failed = RwSignal::new(None::<String>);
    Effect::new(move |_| match resource.get() {
        Some(Ok(d)) => {
            failed.set(None);
            if loaded.with_untracked(|cur| cur.as_ref() != Some(&d)) {
                loaded.set(Some(d));
            }
        }
        Some(Err(e)) => failed.set(Some(e.message)),
        None => {}
    });
    let data = Signal::derive(move || loaded.get().unwrap_or_default());
    let reload = Callback::new(move |_| tick.update(|t| *t = t.wrapping_add(1)));
    let title = Memo::new(move |_| {
        loaded.with(|d| {
            d.as_ref()
                .map(|d| s(&d.prompt, "name"))
                .unwrap_or_else(|| "Prompt".into())
        })
    });
    let lead = Memo::new(move |_| loaded.with(|d| d.as_ref().map(|d| s(&d.prompt, "description"))));
    let ready = Memo::new(move |_| loaded.with(Option::is_some));
    let back = org.link("/prompts");
    let eyebrow = format!("{} · Prompts", org.name);

    view! {
        {move || {
            let lead = lead.get().filter(|l| !l.is_empty());
            let back = back.clone();
            match lead {
                Some(lead) => view! {
                    <PageHeader eyebrow=eyebrow.clone() title=title.get() lead>
                        <a class="btn" href=back>"← All prompts"</a>
                    </PageHeader>
                }
                    .into_any(),
                None => view! {
                    <PageHeader eyebrow=eyebrow.clone() title=title.get()>
                        <a class="btn" href=back>"← All prompts"</a>
                    </PageHeader>
                }
                    .into_any(),
            }
        }}
        {move || failed.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        <Show
            when=move || ready.get()
            fallback=move || (failed.with(Option::is_none)).then(|| view! { <Loading what="the prompt" /> })
        >
            <div class="grid">
                <Labels data reload />
                <CallIt data />
                <History data reload />
                <VersionDiff data />
                <VersionEditor data reload />
                <Playground data />
                <VersionsCompared data />
            </div>
        </Show>
    }
}

/// Where each label points, and the form that moves one.
#[component]
fn Labels(data: Signal<PromptData>, reload: Callback<()>) -> impl IntoView {
    let org = use_org();
    let admin = org.can("admin");
    let error = RwSignal::new(None::<String>);
    let label = RwSignal::new("production".to_owned());
    let custom = RwSignal::new(String::new());
    let version = RwSignal::new(String::new());
    let prompts_api = org.api("/prompts/");
    let prompt_url = move || format!("{prompts_api}{}", data.with(|d| s(&d.prompt, "id")));
    let prompt_url2 = prompt_url.clone();
    let labels_url = move || format!("{}/labels/", prompt_url());
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let name = match label.get_untracked().as_str() {
            "custom" => custom.get_untracked().trim().to_owned(),
            l => l.to_owned(),
        };
        if name.is_empty() {
            error.set(Some("Name the label, e.g. canary.".into()));
            return;
        }
        let Ok(v) = version.get_untracked().parse::<u32>() else {
            error.set(Some("Pick the version the label should point at.".into()));
            return;
        };
        error.set(None);
        let url = format!("{}{}", labels_url(), api::enc(&name));
        spawn_local(async move {
            match api::put(&url, json!({ "version": v })).await {
                Ok(_) => reload.run(()),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    let remove = move |name: String| {
        let url = format!("{}/labels/{}", prompt_url2(), api::enc(&name));
        spawn_local(async move {
            let q = format!(
                "Remove the label “{name}”? Callers naming it get an error until it points somewhere again."
            );
            if !window().confirm_with_message(&q).unwrap_or(false) {
                return;
            }
            match api::delete(&url).await {
                Ok(_) => reload.run(()),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    // The version picker starts at the newest version.
    let latest = Memo::new(move |_| data.with(PromptData::latest));
    Effect::new(move |_| version.set(latest.get().to_string()));

    view! {
        <section class="card" data-testid="labels-card">
            <header class="card-header">
                <div>
                    <h2>"Labels"</h2>
                    <p class="muted">"Callers ask for a label; moving it ships a version, or rolls back, on the next request."</p>
                </div>
            </header>
            {move || {
                let d = data.get();
                let labels = labels_of(&d.prompt);
                if labels.is_empty() {
                    return view! {
                        <p class="muted" data-testid="no-labels">
                            "No labels yet: callers that name none get the newest version. Point production at a version to pin it."
                        </p>
                    }
                        .into_any();
                }
                let remove = remove.clone();
                view! {
                    <ul class="list" data-testid="labels">
                        {labels
                            .into_iter()
                            .map(|(l, v)| {
                                let remove = remove.clone();
                                let name = l.clone();
                                let moved = d.label_moved(&l).map(|(who, when)| {
                                    format!("moved by {who}, {}", util::datetime(&when))
                                });
                                view! {
                                    <li>
                                        <span class="label-name">
                                            {label_badge(&l, None)}
                                            {moved.map(|m| view! { <span class="muted small">{m}</span> })}
                                        </span>
                                        <span class="label-target">
                                            <strong data-testid=format!("label-{l}")>{format!("v{v}")}</strong>
                                            {admin
                                                .then(|| {
                                                    view! {
                                                        <button
                                                            type="button"
                                                            class="btn btn-ghost btn-sm"
                                                            aria-label=format!("Remove label {l}")
                                                            on:click=move |_| remove(name.clone())
                                                        >
                                                            "Remove"
                                                        </button>
                                                    }
                                                })}
                                        </span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
            {admin
                .then(|| {
                    view! {
                        <form class="inline-form label-form" on:submit=submit novalidate data-testid="label-form">
                            <div class="field">
                                <label for="lb-name">"Label"</label>
                                <select id="lb-name" on:change=move |ev| label.set(event_target_value(&ev))>
                                    <option value="production" selected>"production"</option>
                                    <option value="staging">"staging"</option>
                                    <option value="custom">"Other…"</option>
                                </select>
                            </div>
                            <Show when=move || label.get() == "custom">
                                <div class="field">
                                    <label for="lb-custom">"Label name"</label>
                                    <input id="lb-custom" placeholder="e.g. canary" bind:value=custom />
                                </div>
                            </Show>
                            <div class="field field-grow">
                                <label for="lb-version">"Version"</label>
                                <select id="lb-version" on:change=move |ev| version.set(event_target_value(&ev))>
                                    {move || {
                                        data.get()
                                            .versions
                                            .iter()
                                            .map(|v| {
                                                let num = n(v, "version") as u32;
                                                let msg = s(v, "commit_message");
                                                let text = if msg.is_empty() { format!("v{num}") } else { format!("v{num} · {msg}") };
                                                view! { <option value=num.to_string() selected=move || version.get() == num.to_string()>{text}</option> }
                                            })
                                            .collect_view()
                                    }}
                                </select>
                            </div>
                            <button class="btn btn-primary" type="submit">"Move label"</button>
                        </form>
                    }
                })}
            <FormError error />
        </section>
    }
}

/// How an app calls the prompt through the gateway.
#[component]
fn CallIt(data: Signal<PromptData>) -> impl IntoView {
    let endpoints = use_context::<Endpoints>().unwrap_or_default();
    let snippet = move || {
        let d = data.get();
        let vars: Vec<String> = d
            .version(d.latest())
            .and_then(|v| v.get("variables"))
            .and_then(Value::as_object)
            .map(|m| m.keys().map(|k| format!("\"{k}\": \"…\"")).collect())
            .unwrap_or_default();
        format!(
            "curl {}/v1/prompts/{}/completions \\\n  -H \"authorization: Bearer $KEYWAY_KEY\" \\\n  -H \"content-type: application/json\" \\\n  -d '{{\"label\": \"production\", \"variables\": {{{}}}}}'",
            endpoints.gateway_url,
            s(&d.prompt, "slug"),
            vars.join(", "),
        )
    };
    view! {
        <section class="card">
            <header class="card-header">
                <div>
                    <h2>"Call it"</h2>
                    <p class="muted">
                        "Slug "
                        <code>{move || data.with(|d| s(&d.prompt, "slug"))}</code>
                        {move || format!(" · newest v{}", data.with(PromptData::latest))}
                    </p>
                </div>
            </header>
            <pre class="code-block code-scroll"><code>{snippet}</code></pre>
            <p class="hint">"Without a label or version the gateway serves production, else the newest version. Add \"stream\": true to stream."</p>
        </section>
    }
}

/// Every version, newest first, with quick actions.
#[component]
fn History(data: Signal<PromptData>, reload: Callback<()>) -> impl IntoView {
    let org = use_org();
    let admin = org.can("admin");
    let error = RwSignal::new(None::<String>);
    let prompts_api = org.api("/prompts/");
    let promote = move |v: u32| {
        let url = format!(
            "{prompts_api}{}/labels/production",
            data.with_untracked(|d| s(&d.prompt, "id"))
        );
        spawn_local(async move {
            match api::put(&url, json!({ "version": v })).await {
                Ok(_) => reload.run(()),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    view! {
        <section class="card card-wide card-flush" data-testid="history">
            <header class="card-header card-pad">
                <div>
                    <h2>"Version history"</h2>
                    <p class="muted">"Versions never change once written; every edit is a new version."</p>
                </div>
            </header>
            <FormError error />
            <div class="table-wrap">
                <table class="table" data-testid="versions-table">
                    <thead>
                        <tr>
                            <th scope="col">"Version"</th>
                            <th scope="col">"Message"</th>
                            <th scope="col">"Model"</th>
                            <th scope="col">"Author"</th>
                            <th scope="col">"Created"</th>
                            {admin.then(|| view! { <th scope="col"><span class="sr-only">"Actions"</span></th> })}
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            let d = data.get();
                            let promote = promote.clone();
                            d.versions
                                .iter()
                                .map(|v| {
                                    let num = n(v, "version") as u32;
                                    let labels = d.labels_at(num);
                                    let in_production = labels.iter().any(|l| l == "production");
                                    let msg = s(v, "commit_message");
                                    let promote = promote.clone();
                                    view! {
                                        <tr data-version=num.to_string()>
                                            <td>
                                                <div class="badges">
                                                    <strong class="version-num">{format!("v{num}")}</strong>
                                                    {labels.iter().map(|l| label_badge(l, None)).collect_view()}
                                                </div>
                                            </td>
                                            <td>{if msg.is_empty() { view! { <span class="muted">"–"</span> }.into_any() } else { view! { <span>{msg}</span> }.into_any() }}</td>
                                            <td class="mono">{s(v, "model")}</td>
                                            <td>{author(&d.members, &s(v, "created_by"))}</td>
                                            <td>{util::datetime(&s(v, "created_at"))}</td>
                                            {admin
                                                .then(|| {
                                                    view! {
                                                        <td class="row-actions">
                                                            {(!in_production)
                                                                .then(|| {
                                                                    view! {
                                                                        <button
                                                                            type="button"
                                                                            class="btn btn-sm"
                                                                            data-testid=format!("promote-v{num}")
                                                                            on:click=move |_| promote(num)
                                                                        >
                                                                            "Set as production"
                                                                        </button>
                                                                    }
                                                                })}
                                                        </td>
                                                    }
                                                })}
                                        </tr>
                                    }
                                })
                                .collect_view()
                        }}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

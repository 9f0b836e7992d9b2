//! Prompts: the list with each prompt's newest version and labels, and the form that creates a
//! prompt with its version 1. The prompt page ([`detail`]) edits, compares, labels and runs
//! versions.

mod compare;
mod detail;
mod diff;
mod editor;
mod playground;

pub use detail::PromptDetail;

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use serde_json::{Value, json};

use crate::Endpoints;
use crate::api::{self, arr, n, s};
use crate::pages::providers::{example_model, slugify};
use crate::session::{FormError, Loading, PageHeader, use_org};
use crate::util;

/// The names a template uses: `{{name}}`, `{{a.b}}` (as `a`) and sections `{{#name}}` /
/// `{{^name}}`, in order of first use. Comments, partials, closing tags and `{{.}}` name none.
pub fn template_variables(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find("}}") else { break };
        let tag = rest[..end].trim();
        rest = &rest[end + 2..];
        if tag.starts_with(['!', '/', '>', '=']) {
            continue;
        }
        let name = tag.trim_start_matches(['#', '^']).trim();
        let name = name.split('.').next().unwrap_or_default();
        if !name.is_empty() && !out.iter().any(|v| v == name) {
            out.push(name.to_owned());
        }
    }
    out
}

/// A label as a badge: `production` green, `staging` amber, any other grey.
pub fn label_badge(name: &str, version: Option<u32>) -> impl IntoView + use<> {
    let class = match name {
        "production" => "badge badge-green",
        "staging" => "badge badge-amber",
        _ => "badge",
    };
    let text = match version {
        Some(v) => format!("{name} → v{v}"),
        None => name.to_owned(),
    };
    view! { <span class=class data-label=name.to_owned()>{text}</span> }
}

/// A prompt's labels (`{"production": 2}`) sorted with `production` and `staging` first.
pub fn labels_of(prompt: &Value) -> Vec<(String, u32)> {
    let mut labels: Vec<(String, u32)> = prompt
        .get("labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0) as u32))
                .collect()
        })
        .unwrap_or_default();
    let rank = |l: &str| match l {
        "production" => 0,
        "staging" => 1,
        _ => 2,
    };
    labels.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(a.0.cmp(&b.0)));
    labels
}

/// The display name of a member (`GET /members` answer), or a short id for anyone else.
pub fn author(members: &Value, user_id: &str) -> String {
    if user_id.is_empty() {
        return "–".into();
    }
    arr(members, "data")
        .into_iter()
        .find(|m| s(m, "user_id") == user_id)
        .map(|m| {
            let name = s(&m, "name");
            if name.is_empty() {
                s(&m, "email")
            } else {
                name
            }
        })
        .unwrap_or_else(|| format!("{}…", user_id.get(..8).unwrap_or(user_id)))
}

/// Builds the body that creates a prompt, or explains what is missing.
pub fn prompt_body(
    name: &str,
    slug: &str,
    description: &str,
    model: &str,
    system: &str,
    user: &str,
) -> Result<Value, String> {
    if name.trim().is_empty() {
        return Err("Give the prompt a name, e.g. “Support answer”.".into());
    }
    if slug.is_empty()
        || !slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(
            "The slug may hold lowercase letters, digits and dashes; callers name the prompt by it."
                .into(),
        );
    }
    if model.trim().is_empty() {
        return Err("Pick the model, as <provider slug>/<model>, e.g. openai/gpt-4o-mini.".into());
    }
    if user.trim().is_empty() {
        return Err("Write the user message; {{variables}} are filled in at request time.".into());
    }
    let mut messages = Vec::new();
    if !system.trim().is_empty() {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": user}));
    let mut names = template_variables(system);
    names.extend(template_variables(user));
    let variables: serde_json::Map<String, Value> = names
        .into_iter()
        .map(|v| (v, json!({"required": true})))
        .collect();
    Ok(json!({
        "name": name.trim(),
        "slug": slug,
        "description": description.trim(),
        "model": model.trim(),
        "messages": messages,
        "variables": variables,
        "commit_message": "First version",
    }))
}

/// `/o/{org}/prompts`.
#[component]
pub fn Prompts() -> impl IntoView {
    let org = use_org();
    let admin = org.can("admin");
    let list_api = org.api("/prompts?limit=200");
    let list = LocalResource::new(move || {
        let url = list_api.clone();
        async move { api::get(&url).await }
    });
    let providers_api = org.api("/providers?limit=200");
    let providers = LocalResource::new(move || {
        let url = providers_api.clone();
        async move { api::get(&url).await }
    });
    let show_form = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let slug = RwSignal::new(String::new());
    let slug_touched = RwSignal::new(false);
    let description = RwSignal::new(String::new());
    let model = RwSignal::new(String::new());
    let system = RwSignal::new("You are a helpful assistant for {{company}}.".to_owned());
    let user = RwSignal::new("{{question}}".to_owned());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    Effect::new(move |_| {
        let n = name.get();
        if !slug_touched.get_untracked() {
            slug.set(slugify(&n));
        }
    });
    let model_hint = move || {
        providers
            .get()
            .and_then(Result::ok)
            .and_then(|p| arr(&p, "data").first().map(example_model))
            .unwrap_or_else(|| "openai/gpt-4o-mini".into())
    };
    let navigate = use_navigate();
    let create_api = org.api("/prompts");
    let org_link = org.link("/prompts/");
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = match prompt_body(
            &name.get_untracked(),
            &slug.get_untracked(),
            &description.get_untracked(),
            &model.get_untracked(),
            &system.get_untracked(),
            &user.get_untracked(),
        ) {
            Ok(b) => b,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        error.set(None);
        busy.set(true);
        let (url, link, navigate) = (create_api.clone(), org_link.clone(), navigate.clone());
        spawn_local(async move {
            match api::post(&url, body).await {
                Ok(p) => navigate(&format!("{link}{}", s(&p, "id")), Default::default()),
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let endpoints = use_context::<Endpoints>().unwrap_or_default();
    let detail_link = org.link("/prompts/");

    view! {
        <PageHeader
            eyebrow=org.name.clone()
            title="Prompts"
            lead="Versioned prompt templates. Apps call a prompt by its slug; labels such as production pick the version they get, so shipping and rolling back need no deploy."
        >
            {admin
                .then(|| {
                    view! {
                        <button class="btn btn-primary" data-testid="new-prompt" on:click=move |_| show_form.update(|v| *v = !*v)>
                            "New prompt"
                        </button>
                    }
                })}
        </PageHeader>
        {(!admin)
            .then(|| view! { <p class="notice">"Only admins and owners can create or change prompts; you can view them and run them in the playground."</p> })}
        <div class="grid">
            <Show when=move || show_form.get()>
                <form class="card card-wide form-grid" on:submit=submit.clone() novalidate data-testid="prompt-form">
                    <header class="card-header card-wide-span">
                        <div>
                            <h2>"New prompt"</h2>
                            <p class="muted">"This becomes version 1. Write {{name}} where a value goes in; every variable starts as required."</p>
                        </div>
                    </header>
                    <div class="field">
                        <label for="pr-name">"Name"</label>
                        <input id="pr-name" placeholder="e.g. Support answer" bind:value=name />
                    </div>
                    <div class="field">
                        <label for="pr-slug">"Slug"</label>
                        <input
                            id="pr-slug"
                            aria-describedby="pr-slug-hint"
                            prop:value=slug
                            on:input=move |ev| {
                                slug_touched.set(true);
                                slug.set(event_target_value(&ev));
                            }
                        />
                        <span class="hint" id="pr-slug-hint">
                            {move || format!("Called as /v1/prompts/{}/completions.", if slug.get().is_empty() { "<slug>".to_owned() } else { slug.get() })}
                        </span>
                    </div>
                    <div class="field">
                        <label for="pr-model">"Model"</label>
                        <input id="pr-model" placeholder=model_hint bind:value=model />
                        <span class="hint">"<provider slug>/<model>, or an alias."</span>
                    </div>
                    <div class="field card-wide-span">
                        <label for="pr-desc">"Description (optional)"</label>
                        <input id="pr-desc" placeholder="What the prompt is for" bind:value=description />
                    </div>
                    <div class="field card-wide-span">
                        <label for="pr-system">"System message"</label>
                        <textarea id="pr-system" class="code-input" rows="3" bind:value=system></textarea>
                    </div>
                    <div class="field card-wide-span">
                        <label for="pr-user">"User message"</label>
                        <textarea id="pr-user" class="code-input" rows="4" bind:value=user></textarea>
                        <span class="hint">
                            {move || {
                                let mut vars = template_variables(&system.get());
                                for v in template_variables(&user.get()) {
                                    if !vars.contains(&v) {
                                        vars.push(v);
                                    }
                                }
                                if vars.is_empty() {
                                    "No variables yet.".to_owned()
                                } else {
                                    format!("Variables: {}", vars.join(", "))
                                }
                            }}
                        </span>
                    </div>
                    <div class="card-wide-span">
                        <FormError error />
                        <div class="form-actions">
                            <button class="btn btn-primary" type="submit" disabled=busy>"Create prompt"</button>
                            <button class="btn btn-ghost" type="button" on:click=move |_| show_form.set(false)>"Cancel"</button>
                        </div>
                    </div>
                </form>
            </Show>
            <section class="card card-wide card-flush">
                {move || match list.get() {
                    None => view! { <Loading what="prompts" /> }.into_any(),
                    Some(Err(e)) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                    Some(Ok(v)) => {
                        let rows = arr(&v, "data");
                        if rows.is_empty() {
                            let example = format!(
                                "curl {}/v1/prompts/<slug>/completions \\\n  -H \"authorization: Bearer $KEYWAY_KEY\" \\\n  -H \"content-type: application/json\" \\\n  -d '{{\"variables\": {{\"question\": \"…\"}}, \"label\": \"production\"}}'",
                                endpoints.gateway_url,
                            );
                            return view! {
                                <div class="empty">
                                    <h2>"No prompts yet"</h2>
                                    <p>"Keep prompts out of your code: write them here, version every change, and ship a version by pointing the production label at it."</p>
                                    <pre class="code-block empty-code"><code>{example}</code></pre>
                                </div>
                            }
                                .into_any();
                        }
                        let link = detail_link.clone();
                        view! {
                            <div class="table-wrap">
                                <table class="table" data-testid="prompts-table">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Prompt"</th>
                                            <th scope="col">"Slug"</th>
                                            <th scope="col">"Latest"</th>
                                            <th scope="col">"Labels"</th>
                                            <th scope="col">"Updated"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {rows
                                            .into_iter()
                                            .map(|p| {
                                                let href = format!("{link}{}", s(&p, "id"));
                                                let desc = s(&p, "description");
                                                let labels = labels_of(&p);
                                                view! {
                                                    <tr>
                                                        <td>
                                                            <a class="row-link" href=href>{s(&p, "name")}</a>
                                                            {(!desc.is_empty()).then(|| view! { <div class="muted small">{desc}</div> })}
                                                        </td>
                                                        <td class="mono">{s(&p, "slug")}</td>
                                                        <td><span class="badge">{format!("v{}", n(&p, "latest_version"))}</span></td>
                                                        <td>
                                                            <div class="badges">
                                                                {if labels.is_empty() {
                                                                    view! { <span class="muted small">"none"</span> }.into_any()
                                                                } else {
                                                                    labels
                                                                        .into_iter()
                                                                        .map(|(l, v)| label_badge(&l, Some(v)))
                                                                        .collect_view()
                                                                        .into_any()
                                                                }}
                                                            </div>
                                                        </td>
                                                        <td>{util::datetime(&s(&p, "updated_at"))}</td>
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
    fn variables_are_found_in_templates() {
        assert_eq!(
            template_variables(
                "Hi {{name}}! {{#items}}{{.}}{{/items}}{{^vip}}x{{/vip}} {{! no }} {{> footer}} {{ user.email }} {{name}}"
            ),
            vec!["name", "items", "vip", "user"]
        );
        assert!(template_variables("no tags, {{ unclosed").is_empty());
    }

    #[test]
    fn labels_sort_production_first() {
        let p = json!({"labels": {"beta": 3, "staging": 2, "production": 1}});
        let names: Vec<String> = labels_of(&p).into_iter().map(|l| l.0).collect();
        assert_eq!(names, vec!["production", "staging", "beta"]);
    }

    #[test]
    fn prompt_forms_explain_mistakes() {
        assert!(prompt_body("", "a", "", "m/x", "", "hi").is_err());
        assert!(prompt_body("A", "A B", "", "m/x", "", "hi").is_err());
        assert!(prompt_body("A", "a", "", "", "", "hi").is_err());
        let ok = prompt_body("A", "a", "", "mock/echo", "Be {{tone}}", "Say {{word}}").unwrap();
        assert_eq!(ok["messages"][0]["role"], "system");
        assert_eq!(ok["variables"]["tone"], json!({"required": true}));
        assert_eq!(ok["variables"]["word"], json!({"required": true}));
    }
}

//! Provider credentials: add (the API key is write-only), edit, delete; keys show masked.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Map, Value, json};

use crate::api::{self, arr, s};
use crate::session::{FormError, Loading, PageHeader, use_org};
use crate::util;

/// Provider kinds Keyway routes to (the API's `provider` values) and their labels.
pub const KINDS: &[(&str, &str)] = &[
    ("openai", "OpenAI"),
    ("anthropic", "Anthropic"),
    ("gemini", "Google Gemini"),
    ("azure-openai", "Azure OpenAI"),
    ("bedrock", "AWS Bedrock"),
    ("mistral", "Mistral"),
    ("groq", "Groq"),
    ("together", "Together AI"),
    ("fireworks", "Fireworks"),
    ("deepseek", "DeepSeek"),
    ("xai", "xAI"),
    ("openrouter", "OpenRouter"),
    ("perplexity", "Perplexity"),
    ("cerebras", "Cerebras"),
    ("deepinfra", "DeepInfra"),
    ("cohere", "Cohere"),
    ("ollama", "Ollama"),
    ("vllm", "vLLM"),
    ("openai-compatible", "OpenAI-compatible"),
    ("mock", "Mock (testing)"),
];

/// A model to show in snippets for a credential: `<slug>/<a model of that provider>`.
pub fn example_model(provider: &Value) -> String {
    let model = match s(provider, "provider").as_str() {
        "anthropic" => "claude-3-5-haiku-latest",
        "gemini" => "gemini-2.0-flash",
        "mistral" => "mistral-small-latest",
        "groq" => "llama-3.1-8b-instant",
        "deepseek" => "deepseek-chat",
        "mock" => "echo",
        _ => "gpt-4o-mini",
    };
    format!("{}/{model}", s(provider, "slug"))
}

/// A slug from a display name: lowercase letters, digits and dashes.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// Checks the add-provider form.
pub fn provider_problem(name: &str, slug: &str, key: &str, base_url: &str) -> Option<String> {
    if name.trim().is_empty() {
        return Some("Give the credential a name, e.g. “OpenAI production”.".into());
    }
    if slug.is_empty()
        || !slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Some("The slug may hold lowercase letters, digits and dashes; models are called <slug>/<model>.".into());
    }
    if key.trim().is_empty() {
        return Some(
            "Paste the provider's API key. Keyway encrypts it and never shows it again.".into(),
        );
    }
    let u = base_url.trim();
    if !(u.is_empty() || u.starts_with("http://") || u.starts_with("https://")) {
        return Some("The base URL must start with http:// or https://.".into());
    }
    None
}

/// `/o/{org}/providers`.
#[component]
pub fn Providers() -> impl IntoView {
    let org = use_org();
    let admin = org.can("admin");
    let tick = RwSignal::new(0_u32);
    let list_api = org.api("/providers?limit=200");
    let list = LocalResource::new(move || {
        tick.track();
        let url = list_api.clone();
        async move { api::get(&url).await }
    });
    let show_form = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let slug = RwSignal::new(String::new());
    let slug_touched = RwSignal::new(false);
    let kind = RwSignal::new("openai".to_owned());
    let base_url = RwSignal::new(String::new());
    let key = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let list_error = RwSignal::new(None::<String>);
    let editing = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let n = name.get();
        if !slug_touched.get_untracked() {
            slug.set(slugify(&n));
        }
    });
    let create_api = org.api("/providers");
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let (n, sl, k, u) = (
            name.get_untracked(),
            slug.get_untracked(),
            key.get_untracked(),
            base_url.get_untracked(),
        );
        if let Some(p) = provider_problem(&n, &sl, &k, &u) {
            error.set(Some(p));
            return;
        }
        error.set(None);
        let mut body = json!({
            "name": n.trim(), "slug": sl, "provider": kind.get_untracked(), "api_key": k.trim(),
        });
        if !u.trim().is_empty() {
            body["base_url"] = json!(u.trim());
        }
        let url = create_api.clone();
        spawn_local(async move {
            match api::post(&url, body).await {
                Ok(_) => {
                    show_form.set(false);
                    name.set(String::new());
                    key.set(String::new());
                    base_url.set(String::new());
                    slug_touched.set(false);
                    tick.update(|t| *t += 1);
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    let item_api = org.api("/providers/");
    let item_api2 = item_api.clone();
    let remove = move |id: String, label: String| {
        let url = format!("{item_api}{id}");
        spawn_local(async move {
            let q = format!(
                "Delete “{label}”? Requests routed to it will fail until you add it again."
            );
            if !window().confirm_with_message(&q).unwrap_or(false) {
                return;
            }
            match api::delete(&url).await {
                Ok(_) => tick.update(|t| *t += 1),
                Err(e) => list_error.set(Some(e.message)),
            }
        });
    };

    view! {
        <PageHeader
            eyebrow=org.name.clone()
            title="Providers"
            lead="Upstream credentials the gateway uses. Secrets are encrypted at rest and shown masked."
        >
            {admin
                .then(|| {
                    view! {
                        <button class="btn btn-primary" data-testid="add-provider" on:click=move |_| show_form.update(|v| *v = !*v)>
                            "Add provider"
                        </button>
                    }
                })}
        </PageHeader>
        {(!admin)
            .then(|| view! { <p class="notice">"Only admins and owners can add or change provider credentials."</p> })}
        <div class="grid">
            <Show when=move || show_form.get()>
                <form class="card card-wide form-grid" on:submit=submit.clone() novalidate data-testid="provider-form">
                    <header class="card-header card-wide-span">
                        <h2>"Add a provider credential"</h2>
                    </header>
                    <div class="field">
                        <label for="p-kind">"Provider"</label>
                        <select id="p-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                            {KINDS
                                .iter()
                                .map(|(v, l)| view! { <option value=*v selected=*v == "openai">{*l}</option> })
                                .collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="p-name">"Name"</label>
                        <input id="p-name" placeholder="e.g. OpenAI production" bind:value=name />
                    </div>
                    <div class="field">
                        <label for="p-slug">"Slug"</label>
                        <input
                            id="p-slug"
                            aria-describedby="p-slug-hint"
                            prop:value=slug
                            on:input=move |ev| {
                                slug_touched.set(true);
                                slug.set(event_target_value(&ev));
                            }
                        />
                        <span class="hint" id="p-slug-hint">
                            {move || format!("Requests name models as {}/<model>.", if slug.get().is_empty() { "<slug>".to_owned() } else { slug.get() })}
                        </span>
                    </div>
                    <div class="field">
                        <label for="p-base">"Base URL (optional)"</label>
                        <input id="p-base" type="url" placeholder="the provider's default" bind:value=base_url />
                    </div>
                    <div class="field card-wide-span">
                        <label for="p-key">"API key"</label>
                        <input
                            id="p-key"
                            type="password"
                            autocomplete="off"
                            aria-describedby="p-key-hint"
                            bind:value=key
                        />
                        <span class="hint" id="p-key-hint">
                            "Write-only: after saving, only the last characters are shown."
                        </span>
                    </div>
                    <div class="card-wide-span">
                        <FormError error />
                        <div class="form-actions">
                            <button class="btn btn-primary" type="submit">"Save credential"</button>
                            <button class="btn btn-ghost" type="button" on:click=move |_| show_form.set(false)>"Cancel"</button>
                        </div>
                    </div>
                </form>
            </Show>
            <section class="card card-wide card-flush">
                <FormError error=list_error />
                {move || match list.get() {
                    None => view! { <Loading what="providers" /> }.into_any(),
                    Some(Err(e)) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                    Some(Ok(v)) => {
                        let rows = arr(&v, "data");
                        if rows.is_empty() {
                            return view! {
                                <div class="empty">
                                    <h2>"No providers yet"</h2>
                                    <p>"Add the API key of OpenAI, Anthropic, Gemini or any OpenAI-compatible server."</p>
                                </div>
                            }
                                .into_any();
                        }
                        let remove = remove.clone();
                        let item_api = item_api2.clone();
                        view! {
                            <div class="table-wrap">
                                <table class="table" data-testid="providers-table">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Name"</th>
                                            <th scope="col">"Slug"</th>
                                            <th scope="col">"Provider"</th>
                                            <th scope="col">"Base URL"</th>
                                            <th scope="col">"API key"</th>
                                            <th scope="col">"Updated"</th>
                                            {admin.then(|| view! { <th scope="col"><span class="sr-only">"Actions"</span></th> })}
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {rows
                                            .into_iter()
                                            .map(|p| {
                                                let id = s(&p, "id");
                                                let label = s(&p, "name");
                                                let remove = remove.clone();
                                                let (id1, id2, l1) = (id.clone(), id.clone(), label.clone());
                                                let base = s(&p, "base_url");
                                                let url = format!("{item_api}{id}");
                                                view! {
                                                    <tr>
                                                        <td><strong>{label.clone()}</strong></td>
                                                        <td class="mono">{s(&p, "slug")}</td>
                                                        <td>{s(&p, "provider")}</td>
                                                        <td class="mono">{if base.is_empty() { "default".to_owned() } else { base.clone() }}</td>
                                                        <td class="mono" data-testid="masked-key">{s(&p, "api_key_masked")}</td>
                                                        <td>{util::date(&s(&p, "updated_at"))}</td>
                                                        {admin
                                                            .then(|| {
                                                                view! {
                                                                    <td class="row-actions">
                                                                        <button class="btn btn-sm" on:click=move |_| editing.set(Some(id1.clone()))>"Edit"</button>
                                                                        <button class="btn btn-sm btn-danger" on:click=move |_| remove(id2.clone(), l1.clone())>"Delete"</button>
                                                                    </td>
                                                                }
                                                            })}
                                                    </tr>
                                                    {move || {
                                                        (editing.get().as_deref() == Some(id.as_str()))
                                                            .then(|| {
                                                                view! {
                                                                    <tr class="edit-row">
                                                                        <td colspan="7">
                                                                            <EditProvider
                                                                                url=url.clone()
                                                                                name=label.clone()
                                                                                base_url=base.clone()
                                                                                on_done=Callback::new(move |_| {
                                                                                    editing.set(None);
                                                                                    tick.update(|t| *t += 1);
                                                                                })
                                                                            />
                                                                        </td>
                                                                    </tr>
                                                                }
                                                            })
                                                    }}
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

#[component]
fn EditProvider(
    url: String,
    name: String,
    base_url: String,
    on_done: Callback<()>,
) -> impl IntoView {
    let name = RwSignal::new(name);
    let base = RwSignal::new(base_url);
    let key = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let mut body = Map::new();
        let n = name.get_untracked();
        if n.trim().is_empty() {
            error.set(Some("The name cannot be empty.".into()));
            return;
        }
        body.insert("name".into(), json!(n.trim()));
        let b = base.get_untracked();
        body.insert(
            "base_url".into(),
            if b.trim().is_empty() {
                Value::Null
            } else {
                json!(b.trim())
            },
        );
        let k = key.get_untracked();
        if !k.trim().is_empty() {
            body.insert("api_key".into(), json!(k.trim()));
        }
        let url = url.clone();
        spawn_local(async move {
            match api::patch(&url, Value::Object(body)).await {
                Ok(_) => on_done.run(()),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    view! {
        <form class="inline-form" on:submit=submit novalidate>
            <div class="field">
                <label for="e-name">"Name"</label>
                <input id="e-name" bind:value=name />
            </div>
            <div class="field">
                <label for="e-base">"Base URL"</label>
                <input id="e-base" placeholder="the provider's default" bind:value=base />
            </div>
            <div class="field">
                <label for="e-key">"New API key"</label>
                <input id="e-key" type="password" autocomplete="off" placeholder="unchanged" bind:value=key />
            </div>
            <div class="form-actions">
                <button class="btn btn-primary btn-sm" type="submit">"Save"</button>
                <button class="btn btn-ghost btn-sm" type="button" on:click=move |_| on_done.run(())>"Cancel"</button>
            </div>
            <FormError error />
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_checks() {
        assert_eq!(slugify("OpenAI  Production!"), "openai-production");
        assert!(
            provider_problem("A", "a", "", "")
                .unwrap()
                .contains("API key")
        );
        assert!(
            provider_problem("A", "A B", "k", "")
                .unwrap()
                .contains("slug")
        );
        assert!(
            provider_problem("A", "a", "k", "ftp://x")
                .unwrap()
                .contains("http")
        );
        assert_eq!(
            provider_problem("A", "a", "k", "http://127.0.0.1:9/v1"),
            None
        );
    }
}

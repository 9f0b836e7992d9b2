//! The editor of a prompt's next version: messages (role and template), model, parameters as
//! JSON, the variable schema and a commit message, with the `{{variables}}` the templates use.
//! It starts from the newest version (or the one picked in the history).

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Map, Value, json};

use super::detail::PromptData;
use super::template_variables;
use crate::api::{self, n, s};
use crate::pages::guardrails::summary;
use crate::session::{FormError, use_org};

/// Roles a message may have.
const ROLES: [&str; 4] = ["system", "user", "assistant", "developer"];

/// One message row of the editor.
#[derive(Clone, Copy)]
struct MessageRow {
    key: u32,
    role: RwSignal<String>,
    content: RwSignal<String>,
}

/// One variable row of the editor.
#[derive(Clone, Copy)]
struct VariableRow {
    key: u32,
    name: RwSignal<String>,
    required: RwSignal<bool>,
    default: RwSignal<String>,
    description: RwSignal<String>,
}

/// A variable as the editor holds it: name, required, default and description as typed.
pub type VariableDraft = (String, bool, String, String);

/// A default as typed: JSON numbers, booleans, lists and objects keep their type, anything else
/// is a string.
pub fn default_value(text: &str) -> Value {
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(v) if !v.is_string() && !v.is_null() => v,
        _ => Value::String(text.to_owned()),
    }
}

/// A default as the editor shows it (strings without quotes).
pub fn default_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Builds the body of `POST /versions` from the editor (`guardrails` are ids), or explains
/// what is wrong.
pub fn version_body(
    messages: &[(String, String)],
    model: &str,
    parameters: &str,
    variables: &[VariableDraft],
    guardrails: &[String],
    commit_message: &str,
) -> Result<Value, String> {
    if messages.is_empty() {
        return Err("Add at least one message.".into());
    }
    if let Some(i) = messages.iter().position(|(_, c)| c.trim().is_empty()) {
        return Err(format!(
            "Message {} is empty: write it or remove it.",
            i + 1
        ));
    }
    if model.trim().is_empty() {
        return Err("Name the model, as <provider slug>/<model>.".into());
    }
    let parameters: Map<String, Value> = if parameters.trim().is_empty() {
        Map::new()
    } else {
        match serde_json::from_str::<Value>(parameters) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(
                    "Parameters must be a JSON object, e.g. {\"temperature\": 0.2}.".into(),
                );
            }
            Err(e) => return Err(format!("Parameters are not valid JSON: {e}.")),
        }
    };
    let mut vars = Map::new();
    for (name, required, default, description) in variables {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        if vars.contains_key(name) {
            return Err(format!("The variable {name} is declared twice."));
        }
        let mut spec = Map::new();
        spec.insert("required".into(), json!(required));
        if !default.is_empty() {
            spec.insert("default".into(), default_value(default));
        }
        if !description.trim().is_empty() {
            spec.insert("description".into(), json!(description.trim()));
        }
        vars.insert(name.to_owned(), Value::Object(spec));
    }
    let messages: Vec<Value> = messages
        .iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    Ok(json!({
        "messages": messages,
        "model": model.trim(),
        "parameters": parameters,
        "variables": vars,
        "guardrails": guardrails,
        "commit_message": commit_message.trim(),
    }))
}

/// Runs `make` under `owner`, so the signals it creates are disposed with it.
fn owned<T>(owner: StoredValue<Option<Owner>>, make: impl FnOnce() -> T) -> T {
    owner.with_value(|o| match o {
        Some(o) => o.with(make),
        None => make(),
    })
}

/// The editor card. It starts over from the newest version whenever a new one is written.
#[component]
pub(super) fn VersionEditor(data: Signal<PromptData>, reload: Callback<()>) -> impl IntoView {
    let org = use_org();
    let admin = org.can("admin");
    let latest = Memo::new(move |_| data.with(PromptData::latest));
    // The version the draft started from; the newest by default.
    let source = RwSignal::new(0_u32);
    Effect::new(move |_| source.set(latest.get()));
    let next_key = StoredValue::new(0_u32);
    let key = move || {
        next_key.update_value(|k| *k += 1);
        next_key.get_value()
    };
    let messages = RwSignal::new(Vec::<MessageRow>::new());
    let variables = RwSignal::new(Vec::<VariableRow>::new());
    let model = RwSignal::new(String::new());
    let parameters = RwSignal::new(String::new());
    let commit = RwSignal::new(String::new());
    // Ids of the guardrails the version names.
    let chosen = RwSignal::new(Vec::<String>::new());
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    // Rows belong to the editor, not to the effect or handler that adds them, so they live as
    // long as the editor does.
    let owner = StoredValue::new(Owner::current());
    let new_message = move |role: &str, content: &str| {
        owned(owner, || MessageRow {
            key: key(),
            role: RwSignal::new(role.to_owned()),
            content: RwSignal::new(content.to_owned()),
        })
    };
    let new_variable = move |name: &str, required: bool, default: String, description: String| {
        owned(owner, || VariableRow {
            key: key(),
            name: RwSignal::new(name.to_owned()),
            required: RwSignal::new(required),
            default: RwSignal::new(default),
            description: RwSignal::new(description),
        })
    };
    // Load the source version into the draft.
    Effect::new(move |_| {
        let v = source.get();
        let Some(version) = data.with_untracked(|d| d.version(v).cloned()) else {
            return;
        };
        messages.set(
            api::arr(&version, "messages")
                .iter()
                .map(|m| new_message(&s(m, "role"), &s(m, "content")))
                .collect(),
        );
        variables.set(
            version
                .get("variables")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(name, spec)| {
                            new_variable(
                                name,
                                spec.get("required") == Some(&Value::Bool(true)),
                                default_text(spec.get("default")),
                                s(spec, "description"),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        );
        chosen.set(
            api::arr(&version, "guardrails")
                .iter()
                .filter_map(|g| g.as_str().map(str::to_owned))
                .collect(),
        );
        model.set(s(&version, "model"));
        let params = version.get("parameters").cloned().unwrap_or(json!({}));
        parameters.set(if params.as_object().is_some_and(Map::is_empty) {
            String::new()
        } else {
            serde_json::to_string_pretty(&params).unwrap_or_default()
        });
        commit.set(String::new());
        error.set(None);
    });

    let used = Memo::new(move |_| {
        let mut names: Vec<String> = Vec::new();
        for m in messages.get() {
            for v in template_variables(&m.content.get()) {
                if !names.contains(&v) {
                    names.push(v);
                }
            }
        }
        names
    });
    let declared = Memo::new(move |_| {
        variables
            .get()
            .iter()
            .map(|v| v.name.get())
            .collect::<Vec<_>>()
    });
    let declare_missing = move |_| {
        let have = declared.get_untracked();
        let missing: Vec<VariableRow> = used
            .get_untracked()
            .into_iter()
            .filter(|u| !have.contains(u))
            .map(|u| new_variable(&u, true, String::new(), String::new()))
            .collect();
        variables.update(|v| v.extend(missing));
    };

    let prompts_api = org.api("/prompts/");
    let guardrails_link = org.link("/guardrails");
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let msgs: Vec<(String, String)> = messages
            .get_untracked()
            .iter()
            .map(|m| (m.role.get_untracked(), m.content.get_untracked()))
            .collect();
        let vars: Vec<VariableDraft> = variables
            .get_untracked()
            .iter()
            .map(|v| {
                (
                    v.name.get_untracked(),
                    v.required.get_untracked(),
                    v.default.get_untracked(),
                    v.description.get_untracked(),
                )
            })
            .collect();
        let body = match version_body(
            &msgs,
            &model.get_untracked(),
            &parameters.get_untracked(),
            &vars,
            &chosen.get_untracked(),
            &commit.get_untracked(),
        ) {
            Ok(b) => b,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        error.set(None);
        saved.set(None);
        busy.set(true);
        let url = format!(
            "{prompts_api}{}/versions",
            data.with_untracked(|d| s(&d.prompt, "id"))
        );
        spawn_local(async move {
            match api::post(&url, body).await {
                Ok(v) => {
                    saved.set(Some(format!(
                        "Saved as v{}. Move a label to it to ship it.",
                        n(&v, "version")
                    )));
                    reload.run(());
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <section class="card card-wide" data-testid="editor">
            <header class="card-header">
                <div>
                    <h2>{move || format!("New version (v{})", latest.get() + 1)}</h2>
                    <p class="muted">
                        {move || format!("Starts from v{}. Saving writes a new version; nothing changes for callers until a label points at it.", source.get())}
                    </p>
                </div>
                <div class="field compact-field">
                    <label for="ed-source">"Start from"</label>
                    <select
                        id="ed-source"
                        class="select-sm"
                        on:change=move |ev| {
                            if let Ok(v) = event_target_value(&ev).parse() {
                                source.set(v);
                            }
                        }
                    >
                        {move || {
                            data.get()
                                .versions
                                .iter()
                                .map(|v| {
                                    let num = n(v, "version") as u32;
                                    view! { <option value=num.to_string() selected=move || source.get() == num>{format!("v{num}")}</option> }
                                })
                                .collect_view()
                        }}
                    </select>
                </div>
            </header>
            {(!admin).then(|| view! { <p class="notice">"Only admins and owners can write versions."</p> })}
            <form on:submit=submit novalidate>
                <fieldset disabled=!admin>
                    <h3 class="section-title">"Messages"</h3>
                    <ol class="messages" role="list">
                        <For each=move || messages.get() key=|m| m.key let:m>
                            <li class="message">
                                <div class="message-bar">
                                    <select
                                        class="select-sm"
                                        aria-label="Role"
                                        on:change=move |ev| m.role.set(event_target_value(&ev))
                                    >
                                        {ROLES
                                            .iter()
                                            .map(|r| view! { <option value=*r selected=move || m.role.get() == *r>{*r}</option> })
                                            .collect_view()}
                                    </select>
                                    <button
                                        type="button"
                                        class="btn btn-ghost btn-sm"
                                        on:click=move |_| messages.update(|v| v.retain(|x| x.key != m.key))
                                    >
                                        "Remove"
                                    </button>
                                </div>
                                <textarea
                                    class="code-input"
                                    rows="4"
                                    aria-label=move || format!("{} message", m.role.get())
                                    prop:value=m.content
                                    on:input=move |ev| m.content.set(event_target_value(&ev))
                                ></textarea>
                            </li>
                        </For>
                    </ol>
                    <button
                        type="button"
                        class="btn btn-sm"
                        on:click=move |_| {
                            let role = if messages.with(|v| v.last().map(|m| m.role.get() == "user")).unwrap_or(false) { "assistant" } else { "user" };
                            messages.update(|v| v.push(new_message(role, "")));
                        }
                    >
                        "+ Add message"
                    </button>
                    <div class="detected" data-testid="detected-variables">
                        <span class="muted small">"Used in the messages:"</span>
                        {move || {
                            let have = declared.get();
                            let names = used.get();
                            if names.is_empty() {
                                return view! { <span class="muted small">"no {{variables}}"</span> }.into_any();
                            }
                            names
                                .into_iter()
                                .map(|u| {
                                    let ok = have.contains(&u);
                                    let class = if ok { "chip" } else { "chip chip-warn" };
                                    let title = if ok { "declared" } else { "not declared: renders empty" };
                                    view! { <span class=class title=title>{format!("{{{{{u}}}}}")}</span> }
                                })
                                .collect_view()
                                .into_any()
                        }}
                        {move || {
                            let have = declared.get();
                            used.get()
                                .iter()
                                .any(|u| !have.contains(u))
                                .then(|| view! { <button type="button" class="btn btn-sm" on:click=declare_missing>"Declare missing"</button> })
                        }}
                    </div>

                    <div class="form-grid editor-grid">
                        <div class="field">
                            <label for="ed-model">"Model"</label>
                            <input id="ed-model" class="mono" bind:value=model />
                        </div>
                        <div class="field">
                            <label for="ed-params">"Parameters (JSON)"</label>
                            <textarea
                                id="ed-params"
                                class="code-input"
                                rows="3"
                                placeholder="{\"temperature\": 0.2, \"max_tokens\": 300}"
                                bind:value=parameters
                            ></textarea>
                        </div>
                    </div>

                    <h3 class="section-title">"Variables"</h3>
                    <div class="table-wrap">
                        <table class="table vars-table" data-testid="variables-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Name"</th>
                                    <th scope="col">"Required"</th>
                                    <th scope="col">"Default"</th>
                                    <th scope="col">"Description"</th>
                                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                <For each=move || variables.get() key=|v| v.key let:v>
                                    <tr>
                                        <td><input class="mono" aria-label="Variable name" bind:value=v.name /></td>
                                        <td><input type="checkbox" aria-label="Required" bind:checked=v.required /></td>
                                        <td><input aria-label="Default value" placeholder="none" bind:value=v.default /></td>
                                        <td><input aria-label="Variable description" placeholder="optional" bind:value=v.description /></td>
                                        <td class="row-actions">
                                            <button type="button" class="btn btn-ghost btn-sm" on:click=move |_| variables.update(|x| x.retain(|y| y.key != v.key))>
                                                "Remove"
                                            </button>
                                        </td>
                                    </tr>
                                </For>
                            </tbody>
                        </table>
                    </div>
                    <button
                        type="button"
                        class="btn btn-sm"
                        on:click=move |_| variables.update(|v| v.push(new_variable("", false, String::new(), String::new())))
                    >
                        "+ Add variable"
                    </button>
                    <p class="hint">"Callers may pass only declared variables. A default is used when the caller leaves the variable out; JSON numbers, lists and objects keep their type."</p>

                    <h3 class="section-title">"Guardrails"</h3>
                    {move || {
                        let guardrails = data.with(|d| d.guardrails.clone());
                        if guardrails.is_empty() {
                            return view! {
                                <p class="muted small">
                                    "No guardrails in this organization yet. "
                                    <a href=guardrails_link.clone()>"Create one"</a>
                                    " to check or redact what this prompt sends and receives."
                                </p>
                            }
                                .into_any();
                        }
                        view! {
                            <div class="guardrail-picks" role="group" aria-label="Guardrails" data-testid="guardrail-picks">
                                {guardrails
                                    .iter()
                                    .map(|g| {
                                        let id = s(g, "id");
                                        let (checks, actions) = summary(g.get("definition").unwrap_or(&Value::Null));
                                        let (id1, id2) = (id.clone(), id.clone());
                                        view! {
                                            <label class="pick">
                                                <input
                                                    type="checkbox"
                                                    prop:checked=move || chosen.with(|c| c.contains(&id1))
                                                    on:change=move |ev| {
                                                        let on = event_target_checked(&ev);
                                                        chosen.update(|c| {
                                                            c.retain(|x| *x != id2);
                                                            if on {
                                                                c.push(id2.clone());
                                                            }
                                                        });
                                                    }
                                                />
                                                <span class="mono">{s(g, "slug")}</span>
                                                <span class="muted small">{format!("{checks} · {}", actions.join(", "))}</span>
                                            </label>
                                        }
                                    })
                                    .collect_view()}
                            </div>
                        }
                            .into_any()
                    }}
                    <p class="hint">"They run on completions served from this version, besides the key's own guardrails."</p>

                    <div class="field commit-field">
                        <label for="ed-commit">"Commit message"</label>
                        <input id="ed-commit" placeholder="What changed, e.g. shorter answers" bind:value=commit />
                    </div>
                    <FormError error />
                    {move || saved.get().map(|m| view! { <p class="success" role="status" data-testid="saved">{m}</p> })}
                    <div class="form-actions">
                        <button class="btn btn-primary" type="submit" disabled=busy>
                            {move || format!("Save as v{}", latest.get() + 1)}
                        </button>
                    </div>
                </fieldset>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_bodies_are_checked_and_typed() {
        let msgs = vec![("user".to_owned(), "Hi {{name}}".to_owned())];
        assert!(version_body(&[], "m", "", &[], &[], "").is_err());
        assert!(version_body(&msgs, "", "", &[], &[], "").is_err());
        let e = version_body(&msgs, "m", "[1]", &[], &[], "").unwrap_err();
        assert!(e.contains("JSON object"), "{e}");
        let e = version_body(&msgs, "m", "{", &[], &[], "").unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        let vars = vec![
            ("name".to_owned(), true, String::new(), "who".to_owned()),
            ("n".to_owned(), false, "3".to_owned(), String::new()),
            ("tone".to_owned(), false, "kind".to_owned(), String::new()),
            (" ".to_owned(), false, String::new(), String::new()),
        ];
        let ids = vec!["3f2a".to_owned()];
        let ok = version_body(
            &msgs,
            "mock/echo",
            "{\"temperature\": 0.2}",
            &vars,
            &ids,
            " v2 ",
        )
        .unwrap();
        assert_eq!(ok["guardrails"], json!(["3f2a"]));
        assert_eq!(
            ok["variables"],
            json!({
                "name": {"required": true, "description": "who"},
                "n": {"required": false, "default": 3},
                "tone": {"required": false, "default": "kind"},
            })
        );
        assert_eq!(ok["parameters"]["temperature"], 0.2);
        assert_eq!(ok["commit_message"], "v2");
        let twice = vec![vars[0].clone(), vars[0].clone()];
        assert!(version_body(&msgs, "m", "", &twice, &[], "").is_err());
        assert_eq!(default_text(Some(&json!("x"))), "x");
        assert_eq!(default_text(Some(&json!(3))), "3");
    }
}

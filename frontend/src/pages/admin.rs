//! The audit log (filters, pagination) and the organization settings (name, retention, body
//! logging, deletion).

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use serde_json::{Map, Value, json};

use crate::api::{self, arr, enc, s};
use crate::session::{FormError, Loading, PageHeader, use_org};
use crate::util;

/// `/o/{org}/audit`.
#[component]
pub fn Audit() -> impl IntoView {
    let org = use_org();
    let action = RwSignal::new(String::new());
    let target = RwSignal::new(String::new());
    let since = RwSignal::new(String::new());
    let applied = RwSignal::new((String::new(), String::new(), String::new()));
    let cursors = RwSignal::new(Vec::<String>::new());
    let cursor = RwSignal::new(None::<String>);
    let base = org.api("/audit");
    let page = LocalResource::new(move || {
        let (a, t, d) = applied.get();
        let mut url = format!("{base}?limit=25");
        if !a.trim().is_empty() {
            url.push_str(&format!("&action={}", enc(a.trim())));
        }
        if !t.trim().is_empty() {
            url.push_str(&format!("&target_type={}", enc(t.trim())));
        }
        if !d.trim().is_empty() {
            url.push_str(&format!(
                "&since={}",
                enc(&format!("{}T00:00:00Z", d.trim()))
            ));
        }
        if let Some(c) = cursor.get() {
            url.push_str(&format!("&cursor={}", enc(&c)));
        }
        async move { api::get(&url).await }
    });
    let apply = move |ev: SubmitEvent| {
        ev.prevent_default();
        applied.set((
            action.get_untracked(),
            target.get_untracked(),
            since.get_untracked(),
        ));
        cursors.set(Vec::new());
        cursor.set(None);
    };
    view! {
        <PageHeader
            eyebrow=org.name.clone()
            title="Audit log"
            lead="Every change made in this organization, by whom, from where."
        />
        <form class="card filters" on:submit=apply aria-label="Filters">
            <div class="field">
                <label for="a-action">"Action"</label>
                <input id="a-action" placeholder="e.g. key.create" bind:value=action />
            </div>
            <div class="field">
                <label for="a-target">"Target type"</label>
                <select id="a-target" on:change=move |ev| target.set(event_target_value(&ev))>
                    <option value="">"Any"</option>
                    {["org", "member", "invite", "team", "provider", "key"]
                        .iter()
                        .map(|t| view! { <option value=*t>{*t}</option> })
                        .collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="a-since">"Since"</label>
                <input id="a-since" type="date" bind:value=since />
            </div>
            <div class="field field-button">
                <button class="btn btn-primary" type="submit">"Apply filters"</button>
            </div>
        </form>
        <section class="card card-flush">
            {move || match page.get() {
                None => view! { <Loading what="the audit log" /> }.into_any(),
                Some(Err(e)) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
                Some(Ok(p)) => {
                    let rows = arr(&p, "data");
                    let next = p.get("next_cursor").and_then(Value::as_str).map(str::to_owned);
                    if rows.is_empty() {
                        return view! {
                            <div class="empty"><h2>"No entries match"</h2><p>"Changes appear here as soon as they are made."</p></div>
                        }
                            .into_any();
                    }
                    view! {
                        <div class="table-wrap">
                            <table class="table" data-testid="audit-table">
                                <thead>
                                    <tr>
                                        <th scope="col">"Time (UTC)"</th>
                                        <th scope="col">"Actor"</th>
                                        <th scope="col">"Action"</th>
                                        <th scope="col">"Target"</th>
                                        <th scope="col">"Details"</th>
                                        <th scope="col">"IP"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows
                                        .into_iter()
                                        .map(|r| {
                                            let summary = r.get("summary").cloned().unwrap_or(Value::Null);
                                            let details = match &summary {
                                                Value::Object(m) if !m.is_empty() => m
                                                    .iter()
                                                    .map(|(k, v)| format!("{k}: {}", match v { Value::String(s) => s.clone(), other => other.to_string() }))
                                                    .collect::<Vec<_>>()
                                                    .join(", "),
                                                _ => "–".into(),
                                            };
                                            view! {
                                                <tr>
                                                    <td class="mono">{util::datetime(&s(&r, "created_at"))}</td>
                                                    <td>{s(&r, "actor_email")}</td>
                                                    <td><span class="badge">{s(&r, "action")}</span></td>
                                                    <td>{format!("{} {}", s(&r, "target_type"), s(&r, "target_id").chars().take(8).collect::<String>())}</td>
                                                    <td class="details">{details}</td>
                                                    <td class="mono">{s(&r, "ip")}</td>
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

/// Checks the retention field: empty keeps data forever, otherwise 1..=3650 days.
pub fn retention_value(text: &str) -> Result<Value, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Value::Null);
    }
    match t.parse::<u32>() {
        Ok(d) if (1..=3650).contains(&d) => Ok(json!(d)),
        _ => Err(
            "Retention is a number of days between 1 and 3650, or empty to keep logs forever."
                .into(),
        ),
    }
}

/// `/o/{org}/settings`.
#[component]
pub fn Settings() -> impl IntoView {
    let org = use_org();
    let admin = org.can("admin");
    let owner = org.can("owner");
    let name = RwSignal::new(org.name.clone());
    let retention = RwSignal::new(
        org.org
            .get("retention_days")
            .and_then(Value::as_u64)
            .map(|d| d.to_string())
            .unwrap_or_default(),
    );
    let log_bodies = RwSignal::new(org.org.get("log_bodies") == Some(&Value::Bool(true)));
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let confirm = RwSignal::new(String::new());
    let del_error = RwSignal::new(None::<String>);
    let url = org.api("");
    let url2 = url.clone();
    let org_name = org.name.clone();
    let navigate = use_navigate();
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let n = name.get_untracked();
        if n.trim().is_empty() {
            error.set(Some("The organization needs a name.".into()));
            return;
        }
        let days = match retention_value(&retention.get_untracked()) {
            Ok(d) => d,
            Err(e) => {
                error.set(Some(e));
                return;
            }
        };
        error.set(None);
        let mut body = Map::new();
        body.insert("name".into(), json!(n.trim()));
        body.insert("retention_days".into(), days);
        body.insert("log_bodies".into(), json!(log_bodies.get_untracked()));
        let url = url.clone();
        spawn_local(async move {
            match api::patch(&url, Value::Object(body)).await {
                Ok(_) => saved.set(true),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    let delete = move |ev: SubmitEvent| {
        ev.prevent_default();
        if confirm.get_untracked().trim() != org_name {
            del_error.set(Some(format!(
                "Type the organization's name, {org_name}, exactly to confirm."
            )));
            return;
        }
        let url = url2.clone();
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::delete(&url).await {
                Ok(_) => navigate("/", Default::default()),
                Err(e) => del_error.set(Some(e.message)),
            }
        });
    };
    view! {
        <PageHeader eyebrow=org.name.clone() title="Settings" />
        <div class="grid">
            <form class="card settings-form" on:submit=save novalidate>
                <header class="card-header"><h2>"Organization"</h2></header>
                <fieldset disabled=!admin>
                    <div class="field">
                        <label for="s-name">"Name"</label>
                        <input id="s-name" bind:value=name />
                    </div>
                    <div class="field">
                        <label for="s-retention">"Log retention (days)"</label>
                        <input
                            id="s-retention"
                            inputmode="numeric"
                            placeholder="keep forever"
                            aria-describedby="s-retention-hint"
                            bind:value=retention
                        />
                        <span class="hint" id="s-retention-hint">
                            "Request logs older than this are deleted. Empty keeps them."
                        </span>
                    </div>
                    <div class="field field-check">
                        <input id="s-bodies" type="checkbox" bind:checked=log_bodies />
                        <label for="s-bodies">
                            "Store request and response bodies"
                            <span class="hint">
                                "Shown in the request detail. Bodies may contain personal data."
                            </span>
                        </label>
                    </div>
                    <FormError error />
                    {move || saved.get().then(|| view! { <p class="notice" role="status">"Saved."</p> })}
                    <button class="btn btn-primary" type="submit">"Save changes"</button>
                </fieldset>
                {(!admin).then(|| view! { <p class="muted">"Only admins and owners can change these settings."</p> })}
            </form>
            {owner
                .then(|| {
                    view! {
                        <form class="card danger-zone" on:submit=delete novalidate>
                            <header class="card-header"><h2>"Delete organization"</h2></header>
                            <p>
                                "Deletes the organization with its keys, provider credentials, teams and invitations. Keys stop working at once. This cannot be undone."
                            </p>
                            <div class="field">
                                <label for="s-confirm">"Type the organization's name to confirm"</label>
                                <input id="s-confirm" autocomplete="off" bind:value=confirm />
                            </div>
                            <FormError error=del_error />
                            <button class="btn btn-danger" type="submit">"Delete this organization"</button>
                        </form>
                    }
                })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::retention_value;
    use serde_json::{Value, json};

    #[test]
    fn retention_is_days_or_forever() {
        assert_eq!(retention_value(""), Ok(Value::Null));
        assert_eq!(retention_value(" 30 "), Ok(json!(30)));
        assert!(retention_value("0").is_err());
        assert!(retention_value("ten").is_err());
    }
}

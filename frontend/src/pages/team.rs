//! Team: members and roles, invitations (send, pending, revoke), and teams with their members.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Value, json};

use crate::api::{self, arr, s};
use crate::pages::auth::email_problem;
use crate::session::{FormError, Loading, PageHeader, use_org};
use crate::util;

const ROLES: [&str; 4] = ["viewer", "member", "admin", "owner"];

/// `/o/{org}/team`.
#[component]
pub fn Team() -> impl IntoView {
    let org = use_org();
    let admin = org.can("admin");
    let tick = RwSignal::new(0_u32);
    let (m_api, i_api, t_api) = (
        org.api("/members?limit=200"),
        org.api("/invites?limit=200"),
        org.api("/teams?limit=200"),
    );
    let data = LocalResource::new(move || {
        tick.track();
        let (m, i, t) = (m_api.clone(), i_api.clone(), t_api.clone());
        async move {
            let members = api::get(&m).await?;
            let invites = if admin {
                api::get(&i).await?
            } else {
                Value::Null
            };
            let teams = api::get(&t).await?;
            Ok::<_, api::ApiError>((members, invites, teams))
        }
    });
    let refresh = move || tick.update(|t| *t += 1);
    let error = RwSignal::new(None::<String>);

    // Invite form.
    let inv_email = RwSignal::new(String::new());
    let inv_role = RwSignal::new("member".to_owned());
    let inv_error = RwSignal::new(None::<String>);
    let inv_sent = RwSignal::new(None::<String>);
    let inv_url = org.api("/invites");
    let invite = move |ev: SubmitEvent| {
        ev.prevent_default();
        let e = inv_email.get_untracked();
        if let Some(p) = email_problem(&e) {
            inv_error.set(Some(p));
            return;
        }
        inv_error.set(None);
        let body = json!({ "email": e.trim(), "role": inv_role.get_untracked() });
        let url = inv_url.clone();
        spawn_local(async move {
            match api::post(&url, body).await {
                Ok(_) => {
                    inv_sent.set(Some(format!("Invitation sent to {}.", e.trim())));
                    inv_email.set(String::new());
                    refresh();
                }
                Err(err) => inv_error.set(Some(err.message)),
            }
        });
    };
    // Team form.
    let team_name = RwSignal::new(String::new());
    let team_error = RwSignal::new(None::<String>);
    let team_url = org.api("/teams");
    let create_team = move |ev: SubmitEvent| {
        ev.prevent_default();
        let n = team_name.get_untracked();
        if n.trim().is_empty() {
            team_error.set(Some("Name the team, e.g. “Search” or “Support”.".into()));
            return;
        }
        team_error.set(None);
        let url = team_url.clone();
        spawn_local(async move {
            match api::post(&url, json!({ "name": n.trim() })).await {
                Ok(_) => {
                    team_name.set(String::new());
                    refresh();
                }
                Err(e) => team_error.set(Some(e.message)),
            }
        });
    };
    let base = org.api("");

    let run = move |method: &'static str, path: String, body: Value, confirm: Option<String>| {
        let url = format!("{base}{path}");
        spawn_local(async move {
            if let Some(q) = confirm
                && !window().confirm_with_message(&q).unwrap_or(false)
            {
                return;
            }
            let r = match method {
                "PATCH" => api::patch(&url, body).await,
                "DELETE" => api::delete(&url).await,
                _ => api::post(&url, body).await,
            };
            match r {
                Ok(_) => {
                    error.set(None);
                    refresh();
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };

    view! {
        <PageHeader
            eyebrow=org.name.clone()
            title="Team"
            lead="Who can use this organization, with which role, and how they are grouped into teams."
        />
        <FormError error />
        {move || match data.get() {
            None => view! { <Loading what="members" /> }.into_any(),
            Some(Err(e)) => view! { <p class="form-error" role="alert">{e.message}</p> }.into_any(),
            Some(Ok((members, invites, teams))) => {
                let members = arr(&members, "data");
                let names: Vec<(String, String)> = members
                    .iter()
                    .map(|m| (s(m, "user_id"), format!("{} <{}>", s(m, "name"), s(m, "email"))))
                    .collect();
                let pending: Vec<Value> = arr(&invites, "data")
                    .into_iter()
                    .filter(|i| s(i, "status") == "pending")
                    .collect();
                let teams = arr(&teams, "data");
                let run = run.clone();
                let (run_m, run_i, run_t) = (run.clone(), run.clone(), run);
                view! {
                    <div class="grid">
                        <section class="card card-wide card-flush">
                            <header class="card-header card-pad">
                                <h2>"Members"</h2>
                                <span class="muted">{match members.len() {
                                    1 => "1 member".to_owned(),
                                    n => format!("{n} members"),
                                }}</span>
                            </header>
                            <div class="table-wrap">
                                <table class="table" data-testid="members-table">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Name"</th>
                                            <th scope="col">"E-mail"</th>
                                            <th scope="col">"Role"</th>
                                            <th scope="col">"Joined"</th>
                                            {admin.then(|| view! { <th scope="col"><span class="sr-only">"Actions"</span></th> })}
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {members
                                            .iter()
                                            .map(|m| {
                                                let uid = s(m, "user_id");
                                                let role = s(m, "role");
                                                let email = s(m, "email");
                                                let (r1, r2) = (run_m.clone(), run_m.clone());
                                                let (u1, u2) = (uid.clone(), uid.clone());
                                                let e2 = email.clone();
                                                let select_id = format!("role-{uid}");
                                                view! {
                                                    <tr>
                                                        <td><strong>{s(m, "name")}</strong></td>
                                                        <td>{email.clone()}</td>
                                                        <td>
                                                            {if admin {
                                                                view! {
                                                                    <label class="sr-only" for=select_id.clone()>{format!("Role of {email}")}</label>
                                                                    <select
                                                                        id=select_id
                                                                        class="select-sm"
                                                                        on:change=move |ev| {
                                                                            let v = event_target_value(&ev);
                                                                            r1("PATCH", format!("/members/{u1}"), json!({ "role": v }), None);
                                                                        }
                                                                    >
                                                                        {ROLES
                                                                            .iter()
                                                                            .map(|r| view! { <option value=*r selected=*r == role>{*r}</option> })
                                                                            .collect_view()}
                                                                    </select>
                                                                }
                                                                    .into_any()
                                                            } else {
                                                                view! { <span class="role-pill">{role.clone()}</span> }.into_any()
                                                            }}
                                                        </td>
                                                        <td>{util::date(&s(m, "joined_at"))}</td>
                                                        {admin
                                                            .then(|| {
                                                                view! {
                                                                    <td class="row-actions">
                                                                        <button
                                                                            class="btn btn-sm btn-danger"
                                                                            on:click=move |_| r2(
                                                                                "DELETE",
                                                                                format!("/members/{u2}"),
                                                                                Value::Null,
                                                                                Some(format!("Remove {e2} from the organization?")),
                                                                            )
                                                                        >
                                                                            "Remove"
                                                                        </button>
                                                                    </td>
                                                                }
                                                            })}
                                                    </tr>
                                                }
                                            })
                                            .collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        </section>
                        {admin
                            .then(|| {
                                let run_i = run_i.clone();
                                let invite = invite.clone();
                                view! {
                                    <section class="card">
                                        <header class="card-header"><h2>"Invite someone"</h2></header>
                                        <form on:submit=invite novalidate data-testid="invite-form">
                                            <div class="field">
                                                <label for="inv-email">"E-mail"</label>
                                                <input id="inv-email" type="email" bind:value=inv_email />
                                            </div>
                                            <div class="field">
                                                <label for="inv-role">"Role"</label>
                                                <select id="inv-role" on:change=move |ev| inv_role.set(event_target_value(&ev))>
                                                    <option value="viewer">"Viewer: sees everything, changes nothing"</option>
                                                    <option value="member" selected>"Member: issues and manages keys"</option>
                                                    <option value="admin">"Admin: providers, members, settings"</option>
                                                </select>
                                            </div>
                                            <FormError error=inv_error />
                                            {move || inv_sent.get().map(|m| view! { <p class="notice" role="status">{m}</p> })}
                                            <button class="btn btn-primary" type="submit">"Send invitation"</button>
                                        </form>
                                    </section>
                                    <section class="card">
                                        <header class="card-header">
                                            <h2>"Pending invitations"</h2>
                                            <span class="muted">{pending.len().to_string()}</span>
                                        </header>
                                        {if pending.is_empty() {
                                            view! { <p class="muted">"No invitation is waiting."</p> }.into_any()
                                        } else {
                                            view! {
                                                <ul class="list" role="list" data-testid="pending-invites">
                                                    {pending
                                                        .iter()
                                                        .map(|i| {
                                                            let id = s(i, "id");
                                                            let email = s(i, "email");
                                                            let r = run_i.clone();
                                                            let e2 = email.clone();
                                                            view! {
                                                                <li>
                                                                    <div>
                                                                        <strong>{email.clone()}</strong>
                                                                        <span class="muted">
                                                                            {format!(" · {} · expires {}", s(i, "role"), util::date(&s(i, "expires_at")))}
                                                                        </span>
                                                                    </div>
                                                                    <button
                                                                        class="btn btn-sm"
                                                                        on:click=move |_| r(
                                                                            "DELETE",
                                                                            format!("/invites/{id}"),
                                                                            Value::Null,
                                                                            Some(format!("Revoke the invitation of {e2}?")),
                                                                        )
                                                                    >
                                                                        "Revoke"
                                                                    </button>
                                                                </li>
                                                            }
                                                        })
                                                        .collect_view()}
                                                </ul>
                                            }
                                                .into_any()
                                        }}
                                    </section>
                                }
                            })}
                        <section class="card card-wide">
                            <header class="card-header">
                                <h2>"Teams"</h2>
                                <span class="muted">"Group keys and people; budgets and limits apply per team."</span>
                            </header>
                            {admin
                                .then(|| {
                                    let create_team = create_team.clone();
                                    view! {
                                        <form class="inline-form" on:submit=create_team novalidate>
                                            <div class="field">
                                                <label for="team-name">"New team"</label>
                                                <input id="team-name" placeholder="e.g. Search" bind:value=team_name />
                                            </div>
                                            <div class="form-actions">
                                                <button class="btn btn-primary btn-sm" type="submit">"Create team"</button>
                                            </div>
                                            <FormError error=team_error />
                                        </form>
                                    }
                                })}
                            {if teams.is_empty() {
                                view! { <p class="muted">"No teams yet."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="teams">
                                        {teams
                                            .iter()
                                            .map(|t| {
                                                let tid = s(t, "id");
                                                let member_ids: Vec<String> = arr(t, "member_ids")
                                                    .iter()
                                                    .filter_map(|v| v.as_str().map(str::to_owned))
                                                    .collect();
                                                let others: Vec<(String, String)> = names
                                                    .iter()
                                                    .filter(|(id, _)| !member_ids.contains(id))
                                                    .cloned()
                                                    .collect();
                                                let r = run_t.clone();
                                                let r_add = run_t.clone();
                                                let r_del = run_t.clone();
                                                let tname = s(t, "name");
                                                let (tid1, tid2, tid3) = (tid.clone(), tid.clone(), tid.clone());
                                                let add_id = format!("add-{tid}");
                                                view! {
                                                    <article class="team">
                                                        <header>
                                                            <h3>{tname.clone()}</h3>
                                                            {util::budget(t).map(|b| view! {
                                                                <span class="muted" data-testid="team-budget">{format!("Budget {b}")}</span>
                                                            })}
                                                            {admin.then(|| {
                                                                let tn = tname.clone();
                                                                view! {
                                                                    <button class="btn btn-sm btn-ghost" on:click=move |_| r_del(
                                                                        "DELETE", format!("/teams/{tid1}"), Value::Null,
                                                                        Some(format!("Delete the team {tn}? Its keys stay, without a team.")),
                                                                    )>"Delete"</button>
                                                                }
                                                            })}
                                                        </header>
                                                        <ul class="list" role="list">
                                                            {member_ids
                                                                .iter()
                                                                .map(|uid| {
                                                                    let label = names.iter().find(|(i, _)| i == uid).map(|(_, n)| n.clone()).unwrap_or_else(|| uid.clone());
                                                                    let r = r.clone();
                                                                    let (uid, tid) = (uid.clone(), tid2.clone());
                                                                    view! {
                                                                        <li>
                                                                            <span>{label}</span>
                                                                            {admin.then(|| view! {
                                                                                <button class="btn btn-sm btn-ghost" on:click=move |_| r(
                                                                                    "DELETE", format!("/teams/{tid}/members/{uid}"), Value::Null, None,
                                                                                )>"Remove"</button>
                                                                            })}
                                                                        </li>
                                                                    }
                                                                })
                                                                .collect_view()}
                                                            {member_ids.is_empty().then(|| view! { <li class="muted">"No members yet."</li> })}
                                                        </ul>
                                                        {(admin && !others.is_empty())
                                                            .then(|| {
                                                                view! {
                                                                    <label class="sr-only" for=add_id.clone()>{format!("Add a member to {tname}")}</label>
                                                                    <select
                                                                        id=add_id
                                                                        class="select-sm"
                                                                        on:change=move |ev| {
                                                                            let v = event_target_value(&ev);
                                                                            if !v.is_empty() {
                                                                                r_add("POST", format!("/teams/{tid3}/members"), json!({ "user_id": v }), None);
                                                                            }
                                                                        }
                                                                    >
                                                                        <option value="">"+ Add member…"</option>
                                                                        {others.iter().map(|(id, n)| view! { <option value=id.clone()>{n.clone()}</option> }).collect_view()}
                                                                    </select>
                                                                }
                                                            })}
                                                    </article>
                                                }
                                            })
                                            .collect_view()}
                                    </div>
                                }
                                    .into_any()
                            }}
                        </section>
                    </div>
                }
                    .into_any()
            }
        }}
    }
}

//! Who is logged in and in which organization: the signed-in frame (sidebar with the org
//! switcher, navigation and the account menu) around every org page, the frame of the auth pages,
//! and the small form helpers every page shares.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::{
    components::{A, Outlet},
    hooks::{use_location, use_navigate},
};
use serde_json::Value;

use crate::api::{self, ApiResult, enc, s};
use crate::components::icon::{Icon, IconKind};

/// The caller's organization for the current page.
#[derive(Clone, Debug, PartialEq)]
pub struct OrgCtx {
    /// Organization id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The caller's role there (`viewer`, `member`, `admin`, `owner`).
    pub role: String,
    /// The organization as the API returned it.
    pub org: Value,
}

/// Rank of a role name, for comparisons.
pub fn role_rank(role: &str) -> u8 {
    match role {
        "owner" => 3,
        "admin" => 2,
        "member" => 1,
        _ => 0,
    }
}

impl OrgCtx {
    /// Whether the caller's role is at least `needed`.
    pub fn can(&self, needed: &str) -> bool {
        role_rank(&self.role) >= role_rank(needed)
    }

    /// `/api/v1/orgs/{id}` + `rest`.
    pub fn api(&self, rest: &str) -> String {
        format!("/api/v1/orgs/{}{rest}", self.id)
    }

    /// `/o/{id}` + `rest` (a dashboard link).
    pub fn link(&self, rest: &str) -> String {
        format!("/o/{}{rest}", self.id)
    }
}

/// The signed-in account, loaded once per org frame.
#[derive(Clone, Copy)]
pub struct Session {
    /// `GET /api/v1/me`: the user and their organizations.
    pub me: LocalResource<ApiResult>,
}

/// The current organization; org pages render only once it is known.
pub fn use_org() -> OrgCtx {
    use_context::<Memo<Option<OrgCtx>>>()
        .and_then(|m| m.get_untracked())
        .unwrap_or(OrgCtx {
            id: String::new(),
            name: String::new(),
            role: "viewer".into(),
            org: Value::Null,
        })
}

/// Finds organization `id` in a `/me` answer.
fn org_in(me: &Value, id: &str) -> Option<OrgCtx> {
    api::arr(me, "orgs")
        .into_iter()
        .find(|o| s(o, "id") == id)
        .map(|o| OrgCtx {
            id: s(&o, "id"),
            name: s(&o, "name"),
            role: s(&o, "role"),
            org: o,
        })
}

/// Sends the browser to the login page when the session is missing, coming back afterwards.
fn redirect_to_login() {
    let navigate = use_navigate();
    let location = use_location();
    let path = location.pathname.get_untracked();
    let search = location.search.get_untracked();
    let next = if search.is_empty() {
        path
    } else {
        format!("{path}?{search}")
    };
    navigate(&format!("/login?next={}", enc(&next)), Default::default());
}

/// `/`: sends a signed-in user to their first organization (or to create one), anyone else to
/// the login page.
#[component]
pub fn Home() -> impl IntoView {
    let me = LocalResource::new(|| api::get("/api/v1/me"));
    let navigate = use_navigate();
    Effect::new(move |_| match me.get() {
        Some(Ok(me)) => {
            let first = api::arr(&me, "orgs").first().map(|o| s(o, "id"));
            match first {
                Some(id) => navigate(&format!("/o/{id}"), Default::default()),
                None => navigate("/orgs/new", Default::default()),
            }
        }
        Some(Err(e)) if e.is_unauthorized() => navigate("/login", Default::default()),
        _ => {}
    });
    view! {
        <leptos_meta::Title text="Keyway" />
        <AuthFrame>
            <div class="auth-card" aria-busy="true">
                <h1>"Keyway"</h1>
                <p class="muted">
                    {move || match me.get() {
                        Some(Err(e)) if !e.is_unauthorized() => e.message,
                        _ => "Loading your workspace…".to_owned(),
                    }}
                </p>
                <noscript>
                    <p>
                        "The dashboard needs JavaScript. " <a href="/login">"Log in"</a>
                    </p>
                </noscript>
            </div>
        </AuthFrame>
    }
}

/// The centred frame of the auth pages.
#[component]
pub fn AuthFrame(
    /// The page.
    children: Children,
) -> impl IntoView {
    view! {
        <div class="auth">
            <a class="brand auth-brand" href="/" aria-label="Keyway home">
                <Brand />
            </a>
            <main id="main" class="auth-main">
                {children()}
            </main>
            <p class="auth-foot">"Keyway · the self-hosted AI gateway"</p>
        </div>
    }
}

/// Logo and name.
#[component]
pub fn Brand() -> impl IntoView {
    view! {
        <span class="brand-mark" aria-hidden="true">
            <svg viewBox="0 0 32 32" width="28" height="28">
                <rect width="32" height="32" rx="8" fill="currentColor" />
                <circle cx="16" cy="13" r="5" fill="#fff" />
                <rect x="14" y="15" width="4" height="10" rx="1.5" fill="#fff" />
            </svg>
        </span>
        <span class="brand-name">"Keyway"</span>
    }
}

/// The organization id in the current `/o/{org}/…` path (the location, unlike a nested route's
/// parameters, changes on every navigation).
fn org_in_path() -> Memo<String> {
    let location = use_location();
    Memo::new(move |_| {
        location
            .pathname
            .read()
            .split('/')
            .nth(2)
            .unwrap_or_default()
            .to_owned()
    })
}

/// The frame of every `/o/{org}/…` page: sidebar, org switcher, navigation, account menu.
#[component]
pub fn OrgShell() -> impl IntoView {
    let org_id = org_in_path();
    let me = LocalResource::new(|| api::get("/api/v1/me"));
    provide_context(Session { me });
    let current = Memo::new(move |_| {
        let me = me.get()?.ok()?;
        org_in(&me, &org_id.get())
    });
    provide_context(current);
    let status = Memo::new(move |_| match me.get() {
        None => 0,
        Some(Ok(_)) => 1,
        Some(Err(e)) if e.is_unauthorized() => 2,
        Some(Err(_)) => 3,
    });
    Effect::new(move |_| {
        if status.get() == 2 {
            redirect_to_login();
        }
    });
    let has_org = Memo::new(move |_| current.with(Option::is_some));
    let navigate = use_navigate();
    let nav2 = navigate.clone();

    let switch = move |ev: leptos::ev::Event| {
        let v = event_target_value(&ev);
        if v == "new" {
            navigate("/orgs/new", Default::default());
        } else if !v.is_empty() {
            // A full load: every page of the frame starts over with the other organization.
            _ = window().location().set_href(&format!("/o/{v}"));
        }
    };
    let logout = move |_| {
        let navigate = nav2.clone();
        spawn_local(async move {
            _ = api::post("/api/v1/auth/logout", Value::Null).await;
            navigate("/login?logged_out=1", Default::default());
        });
    };

    let nav = move || {
        let org = current.get()?;
        let items: Vec<(String, &str, IconKind, bool)> = vec![
            (org.link(""), "Overview", IconKind::Home, true),
            (org.link("/logs"), "Logs", IconKind::Logs, false),
            (org.link("/keys"), "Virtual keys", IconKind::Key, false),
            (org.link("/providers"), "Providers", IconKind::Plug, false),
            (org.link("/prompts"), "Prompts", IconKind::Prompt, false),
            (
                org.link("/guardrails"),
                "Guardrails",
                IconKind::ShieldCheck,
                false,
            ),
            (org.link("/team"), "Team", IconKind::Team, false),
            (org.link("/audit"), "Audit log", IconKind::Shield, false),
            (org.link("/settings"), "Settings", IconKind::Gear, false),
        ];
        Some(
            items
                .into_iter()
                .filter(|(_, label, _, _)| *label != "Audit log" || org.can("admin"))
                .map(|(href, label, icon, exact)| {
                    view! {
                        <li>
                            <A href=href attr:class="nav-item" exact=exact>
                                <Icon kind=icon />
                                <span>{label}</span>
                            </A>
                        </li>
                    }
                })
                .collect_view(),
        )
    };

    view! {
        <a class="skip-link" href="#main">
            "Skip to content"
        </a>
        <div class="app">
            <aside class="sidebar">
                <a class="brand" href="/" aria-label="Keyway home">
                    <Brand />
                </a>
                <label class="org-switch">
                    <span class="sr-only">"Organization"</span>
                    <select on:change=switch data-testid="org-switcher" aria-label="Organization">
                        {move || {
                            let me = me.get().and_then(Result::ok).unwrap_or(Value::Null);
                            let cur = org_id.get();
                            api::arr(&me, "orgs")
                                .into_iter()
                                .map(|o| {
                                    let id = s(&o, "id");
                                    let selected = id == cur;
                                    view! {
                                        <option value=id selected=selected>
                                            {s(&o, "name")}
                                        </option>
                                    }
                                })
                                .collect_view()
                        }}
                        <option value="new">"+ New organization"</option>
                    </select>
                </label>
                <nav class="nav" aria-label="Main">
                    <ul role="list">{nav}</ul>
                </nav>
                <div class="sidebar-foot">
                    {move || {
                        me.get()
                            .and_then(Result::ok)
                            .map(|me| {
                                let user = me.get("user").cloned().unwrap_or(Value::Null);
                                let role = current.get().map(|o| o.role).unwrap_or_default();
                                view! {
                                    <div class="whoami">
                                        <span class="whoami-name">{s(&user, "name")}</span>
                                        <span class="whoami-email" data-testid="whoami">
                                            {s(&user, "email")}
                                        </span>
                                        <span class="role-pill" data-testid="my-role">
                                            {role}
                                        </span>
                                    </div>
                                }
                            })
                    }}
                    <button class="btn btn-ghost btn-sm" on:click=logout>
                        "Log out"
                    </button>
                </div>
            </aside>
            <main id="main" class="main" tabindex="-1">
                {move || match (status.get(), has_org.get()) {
                    (1, true) => view! { <Outlet /> }.into_any(),
                    (1, false) => {
                        view! {
                            <div class="empty">
                                <h1>"Organization not found"</h1>
                                <p>
                                    "It does not exist or you are not a member. "
                                    <a href="/">"Go to your organizations"</a>
                                </p>
                            </div>
                        }
                            .into_any()
                    }
                    (3, _) => {
                        view! {
                            <div class="empty" role="alert">
                                <h1>"Could not load your account"</h1>
                                <p>
                                    {move || {
                                        me.get()
                                            .and_then(|r| r.err())
                                            .map(|e| e.message)
                                            .unwrap_or_default()
                                    }}
                                </p>
                            </div>
                        }
                            .into_any()
                    }
                    _ => view! { <Loading what="your workspace" /> }.into_any(),
                }}
            </main>
        </div>
    }
}

/// A loading placeholder.
#[component]
pub fn Loading(
    /// What is loading, e.g. "keys".
    #[prop(into)]
    what: String,
) -> impl IntoView {
    view! {
        <div class="loading" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            {format!("Loading {what}…")}
        </div>
    }
}

/// An error message under a form, announced to screen readers.
#[component]
pub fn FormError(
    /// The message, if any.
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    view! {
        {move || {
            error
                .get()
                .map(|e| {
                    view! {
                        <p class="form-error" role="alert" data-testid="form-error">
                            {e}
                        </p>
                    }
                })
        }}
    }
}

/// A page header with an eyebrow, a title and optional actions.
#[component]
pub fn PageHeader(
    /// Small text above the title (usually the organization).
    #[prop(into)]
    eyebrow: String,
    /// Page title (also the document title).
    #[prop(into)]
    title: String,
    /// One-sentence explanation under the title.
    #[prop(optional, into)]
    lead: Option<String>,
    /// Actions on the right.
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title.clone() />
        <header class="page-header page-header-row">
            <div>
                <p class="eyebrow">{eyebrow}</p>
                <h1>{title}</h1>
                {lead.map(|l| view! { <p class="lead">{l}</p> })}
            </div>
            <div class="page-actions">{children.map(|c| c())}</div>
        </header>
    }
}

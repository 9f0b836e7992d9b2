//! Account pages: sign up, log in, verify the e-mail address, forgot / reset the password, accept
//! an invitation, and create an organization. The paths are the ones the e-mails link to.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use serde_json::{Value, json};

use crate::api::{self, s};
use crate::session::{AuthFrame, FormError};

/// Smallest password the server accepts.
const MIN_PASSWORD: usize = 10;

/// Checks an e-mail address the way a person would.
pub fn email_problem(email: &str) -> Option<String> {
    let email = email.trim();
    if email.is_empty() {
        return Some("Enter your e-mail address.".into());
    }
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') => None,
        _ => Some(format!(
            "“{email}” is not an e-mail address: it needs a name, an @ and a domain."
        )),
    }
}

fn password_problem(password: &str) -> Option<String> {
    let n = password.chars().count();
    (n < MIN_PASSWORD).then(|| {
        format!("Choose a password of at least {MIN_PASSWORD} characters (this one has {n}).")
    })
}

fn query(key: &'static str) -> Memo<String> {
    let q = use_query_map();
    Memo::new(move |_| q.read().get(key).unwrap_or_default())
}

/// A path the login page may send the user on to (same-origin paths only).
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

/// `/login`.
#[component]
pub fn Login() -> impl IntoView {
    let next = query("next");
    let logged_out = query("logged_out");
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let unverified = RwSignal::new(false);
    let resent = RwSignal::new(false);
    let navigate = use_navigate();

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let (e, p) = (email.get_untracked(), password.get_untracked());
        if let Some(problem) = email_problem(&e) {
            error.set(Some(problem));
            return;
        }
        if p.is_empty() {
            error.set(Some("Enter your password.".into()));
            return;
        }
        busy.set(true);
        error.set(None);
        unverified.set(false);
        let navigate = navigate.clone();
        let next = safe_next(&next.get_untracked());
        spawn_local(async move {
            let body = json!({ "email": e.trim(), "password": p });
            match api::post("/api/v1/auth/login", body).await {
                Ok(_) => navigate(&next, Default::default()),
                Err(err) => {
                    if err.code == "email_not_verified" {
                        unverified.set(true);
                    }
                    let msg = if err.status == 401 {
                        "That e-mail and password do not match an account.".to_owned()
                    } else {
                        err.message
                    };
                    error.set(Some(msg));
                }
            }
            busy.set(false);
        });
    };
    let resend = move |_| {
        let e = email.get_untracked();
        spawn_local(async move {
            _ = api::post(
                "/api/v1/auth/resend-verification",
                json!({ "email": e.trim() }),
            )
            .await;
            resent.set(true);
        });
    };

    view! {
        <Title text="Log in" />
        <AuthFrame>
            <form class="auth-card" on:submit=submit novalidate>
                <h1>"Log in to Keyway"</h1>
                <Show when=move || !logged_out.get().is_empty()>
                    <p class="notice" role="status">
                        "You are logged out."
                    </p>
                </Show>
                <div class="field">
                    <label for="login-email">"E-mail"</label>
                    <input
                        id="login-email"
                        type="email"
                        autocomplete="email"
                        required
                        bind:value=email
                    />
                </div>
                <div class="field">
                    <label for="login-password">"Password"</label>
                    <input
                        id="login-password"
                        type="password"
                        autocomplete="current-password"
                        required
                        bind:value=password
                    />
                </div>
                <FormError error />
                <Show when=move || unverified.get()>
                    <p class="hint">
                        <button type="button" class="link-button" on:click=resend>
                            "Send the verification e-mail again"
                        </button>
                        {move || resent.get().then_some(" · Sent. Check your inbox.")}
                    </p>
                </Show>
                <button class="btn btn-primary btn-block" type="submit" disabled=busy>
                    {move || if busy.get() { "Logging in…" } else { "Log in" }}
                </button>
                <p class="auth-links">
                    <a href="/forgot-password">"Forgot your password?"</a>
                    <span>"New here? " <a href="/signup">"Create an account"</a></span>
                </p>
            </form>
        </AuthFrame>
    }
}

/// `/signup` (with `?invite=<token>` when coming from an invitation).
#[component]
pub fn Signup() -> impl IntoView {
    let invite = query("invite");
    let invited_email = query("email");
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let done = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    Effect::new(move |_| {
        let e = invited_email.get();
        if !e.is_empty() && email.get_untracked().is_empty() {
            email.set(e);
        }
    });

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let (n, e, p) = (
            name.get_untracked(),
            email.get_untracked(),
            password.get_untracked(),
        );
        let problem = if n.trim().is_empty() {
            Some("Enter your name, as your teammates will see it.".to_owned())
        } else {
            email_problem(&e).or_else(|| password_problem(&p))
        };
        if let Some(problem) = problem {
            error.set(Some(problem));
            return;
        }
        busy.set(true);
        error.set(None);
        let token = invite.get_untracked();
        let navigate = navigate.clone();
        spawn_local(async move {
            let mut body = json!({ "name": n.trim(), "email": e.trim(), "password": p });
            if !token.is_empty() {
                body["invite_token"] = Value::String(token.clone());
            }
            match api::post("/api/v1/auth/signup", body).await {
                Ok(user) if !token.is_empty() && user["email_verified"] == Value::Bool(true) => {
                    // The invitation proved the mailbox: log straight in and open the org.
                    let login = json!({ "email": e.trim(), "password": p });
                    match api::post("/api/v1/auth/login", login).await {
                        Ok(_) => navigate("/", Default::default()),
                        Err(err) => error.set(Some(err.message)),
                    }
                }
                Ok(_) => done.set(Some(e.trim().to_owned())),
                Err(err) => error.set(Some(if err.status == 409 {
                    "An account with this e-mail already exists. Log in instead.".to_owned()
                } else {
                    err.message
                })),
            }
            busy.set(false);
        });
    };

    view! {
        <Title text="Create your account" />
        <AuthFrame>
            {move || match done.get() {
                Some(addr) => {
                    view! {
                        <div class="auth-card" data-testid="signup-done">
                            <h1>"Check your inbox"</h1>
                            <p>
                                "We sent a verification link to " <strong>{addr}</strong>
                                ". Open it to activate your account, then log in."
                            </p>
                            <a class="btn btn-primary btn-block" href="/login">
                                "Go to log in"
                            </a>
                        </div>
                    }
                        .into_any()
                }
                None => {
                    view! {
                        <form class="auth-card" on:submit=submit.clone() novalidate>
                            <h1>"Create your account"</h1>
                            <p class="muted">
                                {move || {
                                    if invite.get().is_empty() {
                                        "Route every LLM call through one gateway with keys, budgets and logs."
                                    } else {
                                        "Create an account to join the organization that invited you."
                                    }
                                }}
                            </p>
                            <div class="field">
                                <label for="signup-name">"Your name"</label>
                                <input
                                    id="signup-name"
                                    autocomplete="name"
                                    required
                                    bind:value=name
                                />
                            </div>
                            <div class="field">
                                <label for="signup-email">"Work e-mail"</label>
                                <input
                                    id="signup-email"
                                    type="email"
                                    autocomplete="email"
                                    required
                                    bind:value=email
                                />
                            </div>
                            <div class="field">
                                <label for="signup-password">"Password"</label>
                                <input
                                    id="signup-password"
                                    type="password"
                                    autocomplete="new-password"
                                    aria-describedby="signup-password-hint"
                                    required
                                    bind:value=password
                                />
                                <span class="hint" id="signup-password-hint">
                                    {format!("At least {MIN_PASSWORD} characters.")}
                                </span>
                            </div>
                            <FormError error />
                            <button class="btn btn-primary btn-block" type="submit" disabled=busy>
                                {move || {
                                    if busy.get() { "Creating account…" } else { "Create account" }
                                }}
                            </button>
                            <p class="auth-links">
                                <span>"Already have an account? " <a href="/login">"Log in"</a></span>
                            </p>
                        </form>
                    }
                        .into_any()
                }
            }}
        </AuthFrame>
    }
}

/// `/verify-email?token=…`: verifies on load.
#[component]
pub fn VerifyEmail() -> impl IntoView {
    let token = query("token");
    let result = LocalResource::new(move || {
        let t = token.get();
        async move {
            if t.is_empty() {
                return Err(api::ApiError::local(
                    "This link has no token. Open the link from the e-mail exactly as sent.",
                ));
            }
            api::post("/api/v1/auth/verify-email", json!({ "token": t })).await
        }
    });
    view! {
        <Title text="Verify e-mail" />
        <AuthFrame>
            <div class="auth-card" data-testid="verify-result">
                {move || match result.get() {
                    None => view! { <h1>"Verifying your e-mail…"</h1> }.into_any(),
                    Some(Ok(user)) => {
                        view! {
                            <h1>"E-mail verified"</h1>
                            <p>
                                <strong>{s(&user, "email")}</strong>
                                " is confirmed. You can log in now."
                            </p>
                            <a class="btn btn-primary btn-block" href="/login">
                                "Log in"
                            </a>
                        }
                            .into_any()
                    }
                    Some(Err(e)) => {
                        view! {
                            <h1>"This link did not work"</h1>
                            <p class="form-error" role="alert">
                                {e.message}
                            </p>
                            <p>
                                "Links expire and work once. Log in to have a new one sent. "
                                <a href="/login">"Log in"</a>
                            </p>
                        }
                            .into_any()
                    }
                }}
            </div>
        </AuthFrame>
    }
}

/// `/forgot-password`.
#[component]
pub fn ForgotPassword() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let sent = RwSignal::new(false);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let e = email.get_untracked();
        if let Some(p) = email_problem(&e) {
            error.set(Some(p));
            return;
        }
        error.set(None);
        spawn_local(async move {
            match api::post("/api/v1/auth/forgot-password", json!({ "email": e.trim() })).await {
                Ok(_) => sent.set(true),
                Err(err) => error.set(Some(err.message)),
            }
        });
    };
    view! {
        <Title text="Reset your password" />
        <AuthFrame>
            <form class="auth-card" on:submit=submit novalidate>
                <h1>"Reset your password"</h1>
                <Show
                    when=move || sent.get()
                    fallback=move || {
                        view! {
                            <p class="muted">
                                "Enter the e-mail of your account; we will send a link to choose a new password."
                            </p>
                            <div class="field">
                                <label for="forgot-email">"E-mail"</label>
                                <input
                                    id="forgot-email"
                                    type="email"
                                    autocomplete="email"
                                    bind:value=email
                                />
                            </div>
                            <FormError error />
                            <button class="btn btn-primary btn-block" type="submit">
                                "Send reset link"
                            </button>
                        }
                    }
                >
                    <p role="status">
                        "If an account exists for that address, a reset link is on its way. It works for one hour."
                    </p>
                </Show>
                <p class="auth-links">
                    <a href="/login">"Back to log in"</a>
                </p>
            </form>
        </AuthFrame>
    }
}

/// `/reset-password?token=…`.
#[component]
pub fn ResetPassword() -> impl IntoView {
    let token = query("token");
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(false);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let (p, c) = (password.get_untracked(), confirm.get_untracked());
        let problem = password_problem(&p).or_else(|| {
            (p != c).then(|| "The two passwords differ. Type the same one twice.".to_owned())
        });
        if let Some(problem) = problem {
            error.set(Some(problem));
            return;
        }
        error.set(None);
        let t = token.get_untracked();
        spawn_local(async move {
            let body = json!({ "token": t, "password": p });
            match api::post("/api/v1/auth/reset-password", body).await {
                Ok(_) => done.set(true),
                Err(err) => error.set(Some(err.message)),
            }
        });
    };
    view! {
        <Title text="Choose a new password" />
        <AuthFrame>
            <form class="auth-card" on:submit=submit novalidate>
                <h1>"Choose a new password"</h1>
                <Show
                    when=move || done.get()
                    fallback=move || {
                        view! {
                            <div class="field">
                                <label for="reset-password">"New password"</label>
                                <input
                                    id="reset-password"
                                    type="password"
                                    autocomplete="new-password"
                                    bind:value=password
                                />
                                <span class="hint">
                                    {format!("At least {MIN_PASSWORD} characters.")}
                                </span>
                            </div>
                            <div class="field">
                                <label for="reset-confirm">"Repeat the new password"</label>
                                <input
                                    id="reset-confirm"
                                    type="password"
                                    autocomplete="new-password"
                                    bind:value=confirm
                                />
                            </div>
                            <FormError error />
                            <button class="btn btn-primary btn-block" type="submit">
                                "Set password"
                            </button>
                        }
                    }
                >
                    <p role="status">"Your password is changed. Other sessions were logged out."</p>
                    <a class="btn btn-primary btn-block" href="/login">
                        "Log in"
                    </a>
                </Show>
            </form>
        </AuthFrame>
    }
}

/// `/invites/accept?token=…`: shows the invitation and joins the organization.
#[component]
pub fn AcceptInvite() -> impl IntoView {
    let token = query("token");
    let preview = LocalResource::new(move || {
        let t = token.get();
        async move { api::post("/api/v1/invites/lookup", json!({ "token": t })).await }
    });
    let me = LocalResource::new(|| api::get("/api/v1/me"));
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    let accept = move |_| {
        let t = token.get_untracked();
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::post("/api/v1/invites/accept", json!({ "token": t })).await {
                Ok(inv) => navigate(&format!("/o/{}", s(&inv, "org_id")), Default::default()),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    view! {
        <Title text="Join an organization" />
        <AuthFrame>
            <div class="auth-card" data-testid="invite-card">
                {move || match preview.get() {
                    None => view! { <h1>"Loading the invitation…"</h1> }.into_any(),
                    Some(Err(e)) => {
                        view! {
                            <h1>"This invitation cannot be used"</h1>
                            <p class="form-error" role="alert">
                                {e.message}
                            </p>
                            <p>"Ask the person who invited you to send a new one."</p>
                        }
                            .into_any()
                    }
                    Some(Ok(p)) => {
                        let email = s(&p, "email");
                        let next = format!("/invites/accept?token={}", api::enc(&token.get()));
                        let signup = format!(
                            "/signup?invite={}&email={}",
                            api::enc(&token.get()),
                            api::enc(&email),
                        );
                        let login = format!("/login?next={}", api::enc(&next));
                        let accept = accept.clone();
                        view! {
                            <h1>{format!("Join {}", s(&p, "org_name"))}</h1>
                            <p>
                                "You are invited as " <strong>{s(&p, "role")}</strong> " with "
                                <strong>{email.clone()}</strong> "."
                            </p>
                            {move || match me.get() {
                                Some(Ok(m)) => {
                                    let mine = m
                                        .get("user")
                                        .map(|u| s(u, "email"))
                                        .unwrap_or_default();
                                    let accept = accept.clone();
                                    view! {
                                        <p class="muted">{format!("Signed in as {mine}.")}</p>
                                        <FormError error />
                                        <button class="btn btn-primary btn-block" on:click=accept>
                                            "Accept invitation"
                                        </button>
                                    }
                                        .into_any()
                                }
                                _ => {
                                    view! {
                                        <a class="btn btn-primary btn-block" href=signup.clone()>
                                            "Create an account and join"
                                        </a>
                                        <p class="auth-links">
                                            <span>
                                                "Already have an account? "
                                                <a href=login.clone()>"Log in to accept"</a>
                                            </span>
                                        </p>
                                    }
                                        .into_any()
                                }
                            }}
                        }
                            .into_any()
                    }
                }}
            </div>
        </AuthFrame>
    }
}

/// `/orgs/new`.
#[component]
pub fn NewOrg() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let navigate = use_navigate();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let n = name.get_untracked();
        if n.trim().is_empty() {
            error.set(Some(
                "Give the organization a name, e.g. your company or team.".into(),
            ));
            return;
        }
        busy.set(true);
        error.set(None);
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::post("/api/v1/orgs", json!({ "name": n.trim() })).await {
                Ok(org) => navigate(&format!("/o/{}", s(&org, "id")), Default::default()),
                Err(e) if e.is_unauthorized() => {
                    navigate("/login?next=%2Forgs%2Fnew", Default::default())
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <Title text="New organization" />
        <AuthFrame>
            <form class="auth-card" on:submit=submit novalidate>
                <h1>"Create an organization"</h1>
                <p class="muted">
                    "Keys, provider credentials, logs and members belong to an organization."
                </p>
                <div class="field">
                    <label for="org-name">"Organization name"</label>
                    <input id="org-name" autocomplete="organization" bind:value=name />
                </div>
                <FormError error />
                <button class="btn btn-primary btn-block" type="submit" disabled=busy>
                    "Create organization"
                </button>
                <p class="auth-links">
                    <a href="/">"Cancel"</a>
                </p>
            </form>
        </AuthFrame>
    }
}

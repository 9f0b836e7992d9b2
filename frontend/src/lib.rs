//! Keyway's web dashboard: a Leptos app rendered on the API port (feature `ssr`) and hydrated
//! in the browser (feature `hydrate`, built to wasm by `scripts/build-wasm.sh`).
//!
//! The server mounts it with [`ssr::configure`]; the browser entry point is [`hydrate`].
#![recursion_limit = "256"]

pub mod api;
pub mod charts;
pub mod components;
pub mod pages;
pub mod session;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod util;

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path,
};
use serde::{Deserialize, Serialize};

use crate::pages::{
    admin::{Audit, Settings},
    auth::{AcceptInvite, ForgotPassword, Login, NewOrg, ResetPassword, Signup, VerifyEmail},
    dashboard::Overview,
    guardrails::{GuardrailDetail, Guardrails},
    keys::Keys,
    logs::{LogDetail, Logs},
    not_found::NotFound,
    prompts::{PromptDetail, Prompts},
    providers::Providers,
    team::Team,
};
use crate::session::{Home, OrgShell};

/// Prefix of every dashboard server function; kept apart from the REST API's `/api/` prefix.
pub const SERVER_FN_PREFIX: &str = "/_dash/fn";

/// Path of the dashboard stylesheet, copied into the site's `pkg` directory by the build script.
pub const STYLESHEET_PATH: &str = "/pkg/keyway.css";

/// Public endpoints of this Keyway deployment, shown to users so they can point SDKs at them.
///
/// Provided as context on the server and carried to the browser in the server-rendered HTML.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// Base URL of the gateway (data plane), without a trailing slash.
    pub gateway_url: String,
    /// Base URL of the control-plane API and dashboard, without a trailing slash.
    pub api_url: String,
}

impl Endpoints {
    /// Builds the endpoints, dropping trailing slashes so paths can be appended with `/`.
    pub fn new(gateway_url: &str, api_url: &str) -> Self {
        Self {
            gateway_url: gateway_url.trim_end_matches('/').to_owned(),
            api_url: api_url.trim_end_matches('/').to_owned(),
        }
    }
}

/// The HTML document around the app: head, hydration scripts and the body.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// An inline favicon, so browsers do not request `/favicon.ico` from a server that has none.
const FAVICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' \
viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='8' fill='%234f46e5'/%3E%3Ccircle \
cx='16' cy='13' r='5' fill='white'/%3E%3Crect x='14' y='15' width='4' height='10' rx='1.5' \
fill='white'/%3E%3C/svg%3E";

/// The dashboard application: metadata, shared context and the router.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Read from context on the server, from the serialized HTML while hydrating.
    let endpoints =
        SharedValue::new(|| use_context::<Endpoints>().unwrap_or_default()).into_inner();
    provide_context(endpoints);

    view! {
        <Stylesheet id="keyway-css" href=STYLESHEET_PATH />
        <Link rel="icon" href=FAVICON />
        <Title formatter=|page: String| format!("{page} · Keyway") />
        <Meta name="description" content="Keyway AI gateway dashboard" />
        <Meta name="color-scheme" content="light" />
        <Router>
            <Routes fallback=|| view! { <NotFound /> }>
                <Route path=path!("/") view=Home />
                <Route path=path!("/login") view=Login />
                <Route path=path!("/signup") view=Signup />
                <Route path=path!("/verify-email") view=VerifyEmail />
                <Route path=path!("/forgot-password") view=ForgotPassword />
                <Route path=path!("/reset-password") view=ResetPassword />
                <Route path=path!("/invites/accept") view=AcceptInvite />
                <Route path=path!("/orgs/new") view=NewOrg />
                <ParentRoute path=path!("/o/:org") view=OrgShell>
                    <Route path=path!("") view=Overview />
                    <Route path=path!("logs") view=Logs />
                    <Route path=path!("logs/:rid") view=LogDetail />
                    <Route path=path!("keys") view=Keys />
                    <Route path=path!("providers") view=Providers />
                    <Route path=path!("prompts") view=Prompts />
                    <Route path=path!("prompts/:id") view=PromptDetail />
                    <Route path=path!("guardrails") view=Guardrails />
                    <Route path=path!("guardrails/:id") view=GuardrailDetail />
                    <Route path=path!("team") view=Team />
                    <Route path=path!("audit") view=Audit />
                    <Route path=path!("settings") view=Settings />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Browser entry point, called by the hydration script once the wasm module has loaded.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // Marks the page as interactive, so browser tests (and people debugging) can tell a
    // server-rendered page from a hydrated one.
    if let Some(body) = document().body() {
        _ = body.set_attribute("data-hydrated", "true");
    }
}

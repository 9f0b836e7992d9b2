//! The application frame: a sidebar with the brand and navigation, and the main content area.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::icon::{Icon, IconKind};

/// Product sections that exist in the plan but have no page yet: shown, but not links.
const UPCOMING: &[(&str, IconKind)] = &[
    ("Logs", IconKind::Logs),
    ("Analytics", IconKind::Chart),
    ("Virtual keys", IconKind::Key),
    ("Providers", IconKind::Plug),
    ("Routing", IconKind::Route),
    ("Prompts", IconKind::Prompt),
    ("Guardrails", IconKind::Shield),
    ("Team", IconKind::Team),
    ("Billing", IconKind::Card),
    ("Settings", IconKind::Gear),
];

/// Sidebar plus main area; `children` is the routed page.
#[component]
pub fn Layout(
    /// The page rendered in the main area.
    children: Children,
) -> impl IntoView {
    view! {
        <a class="skip-link" href="#main">
            "Skip to content"
        </a>
        <div class="app">
            <aside class="sidebar">
                <A href="/" attr:class="brand" attr:aria-label="Keyway home">
                    <span class="brand-mark" aria-hidden="true">
                        <svg viewBox="0 0 32 32" width="28" height="28">
                            <rect width="32" height="32" rx="8" fill="currentColor" />
                            <circle cx="16" cy="13" r="5" fill="#fff" />
                            <rect x="14" y="15" width="4" height="10" rx="1.5" fill="#fff" />
                        </svg>
                    </span>
                    <span class="brand-name">"Keyway"</span>
                </A>
                <nav class="nav" aria-label="Main">
                    <ul role="list">
                        <li>
                            <A href="/" attr:class="nav-item" exact=true>
                                <Icon kind=IconKind::Home />
                                <span>"Overview"</span>
                            </A>
                        </li>
                        {UPCOMING
                            .iter()
                            .map(|(label, icon)| {
                                view! {
                                    <li>
                                        <span
                                            class="nav-item nav-item-disabled"
                                            aria-disabled="true"
                                            title="Coming soon"
                                        >
                                            <Icon kind=*icon />
                                            <span>{*label}</span>
                                            <span class="badge">"Soon"</span>
                                        </span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </nav>
                <p class="sidebar-foot">"Self-hosted AI gateway"</p>
            </aside>
            <main id="main" class="main" tabindex="-1">
                {children()}
            </main>
        </div>
    }
}

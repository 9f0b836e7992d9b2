//! Inline stroke icons (24x24 grid), so the dashboard needs no icon font or external asset.

use leptos::prelude::*;

/// The icons the dashboard draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IconKind {
    /// Overview / home.
    Home,
    /// Request logs.
    Logs,
    /// Analytics charts.
    Chart,
    /// Virtual keys.
    Key,
    /// Provider credentials.
    Plug,
    /// Routing configs.
    Route,
    /// Prompts.
    Prompt,
    /// Audit log.
    Shield,
    /// Guardrails.
    ShieldCheck,
    /// Team and members.
    Team,
    /// Billing.
    Card,
    /// Settings.
    Gear,
    /// Copy to clipboard.
    Copy,
    /// Check mark.
    Check,
    /// Refresh.
    Refresh,
}

impl IconKind {
    /// SVG path data of the icon.
    fn path(self) -> &'static str {
        match self {
            Self::Home => "M3 10.5 12 3l9 7.5V20a1 1 0 0 1-1 1h-5v-6H9v6H4a1 1 0 0 1-1-1z",
            Self::Logs => "M4 6h16M4 12h16M4 18h10",
            Self::Chart => "M4 20V10M10 20V4M16 20v-7M22 20H2",
            Self::Key => {
                "M15 7a4 4 0 1 1-3.9 4.9L4 19v2h3v-2h2v-2h2l1.1-1.1A4 4 0 0 1 15 7zm1.5 1.5h.01"
            }
            Self::Plug => "M9 2v6M15 2v6M6 8h12v3a6 6 0 0 1-12 0zM12 17v5",
            Self::Route => "M6 3v12a3 3 0 0 0 3 3h9M18 18l-3-3m3 3-3 3M6 3 3 6m3-3 3 3",
            Self::Prompt => "M4 5h16v11H8l-4 4zM8 9h8M8 12h5",
            Self::Shield => "M12 3 4 6v6c0 5 3.5 8 8 9 4.5-1 8-4 8-9V6z",
            Self::ShieldCheck => "M12 3 4 6v6c0 5 3.5 8 8 9 4.5-1 8-4 8-9V6zM9 12l2 2 4-4",
            Self::Team => {
                "M16 20v-2a4 4 0 0 0-8 0v2M12 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM21 20v-1.5a3 3 0 0 0-3-3M3 20v-1.5a3 3 0 0 1 3-3"
            }
            Self::Card => "M3 6h18v12H3zM3 10h18M7 15h3",
            Self::Gear => {
                "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM19 12l2-1-1-3-2.2.2-1.3-1.3L16.7 4l-3-1-1 2h-1.4l-1-2-3 1 .2 2.2-1.3 1.3L4 8 3 11l2 1v1.4l-2 1 1 3 2.2-.2 1.3 1.3L7.3 20l3 1 1-2h1.4l1 2 3-1-.2-2.2 1.3-1.3 2.2.2 1-3-2-1z"
            }
            Self::Copy => "M9 9h11v11H9zM5 15H4V4h11v1",
            Self::Check => "m5 12 5 5L20 7",
            Self::Refresh => "M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7",
        }
    }
}

/// A decorative icon; the surrounding text carries the meaning, so it is hidden from screen readers.
#[component]
pub fn Icon(
    /// Which icon to draw.
    kind: IconKind,
) -> impl IntoView {
    view! {
        <svg
            class="icon"
            viewBox="0 0 24 24"
            width="18"
            height="18"
            fill="none"
            stroke="currentColor"
            stroke-width="1.8"
            stroke-linecap="round"
            stroke-linejoin="round"
            aria-hidden="true"
            focusable="false"
        >
            <path d=kind.path() />
        </svg>
    }
}

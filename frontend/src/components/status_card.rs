//! Card showing that the dashboard's server answers: version, server time and uptime, loaded
//! through a server function (rendered on the server first, refreshed from the browser).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::icon::{Icon, IconKind};

/// What the server reports about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Keyway version running on the server.
    pub version: String,
    /// Server clock at the time of the call, RFC 3339 with milliseconds, UTC.
    pub server_time: String,
    /// Seconds since the dashboard was mounted.
    pub uptime_secs: u64,
}

/// Reports the server's version, clock and uptime; the round trip itself proves the server is up.
#[server(prefix = "/_dash/fn", endpoint = "status")]
pub async fn server_status() -> Result<StatusReport, ServerFnError> {
    let info = use_context::<crate::ssr::ServerInfo>()
        .ok_or_else(|| ServerFnError::new("dashboard server info is not configured"))?;
    Ok(StatusReport {
        version: info.version.clone(),
        server_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        uptime_secs: info.started_at.elapsed().as_secs(),
    })
}

/// Formats a duration in seconds the way people say it: `3d 4h`, `5h 12m`, `2m 40s`, `9s`.
pub fn format_uptime(secs: u64) -> String {
    let (days, hours, minutes, seconds) =
        (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m {seconds}s"),
        (0, _, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

/// Shows an RFC 3339 timestamp as `YYYY-MM-DD HH:MM:SS UTC`.
fn display_time(rfc3339: &str) -> String {
    let seconds = rfc3339.get(..19).unwrap_or(rfc3339);
    format!("{} UTC", seconds.replacen('T', " ", 1))
}

/// The status card.
#[component]
pub fn StatusCard() -> impl IntoView {
    let refresh = RwSignal::new(0_u32);
    let status = Resource::new(move || refresh.get(), |_| server_status());

    view! {
        <section class="card" aria-labelledby="status-title">
            <header class="card-header">
                <h2 id="status-title">"Server status"</h2>
                <button
                    type="button"
                    class="button button-ghost button-small"
                    on:click=move |_| refresh.update(|n| *n += 1)
                >
                    <Icon kind=IconKind::Refresh />
                    "Refresh"
                </button>
            </header>
            <div class="status-body" aria-live="polite">
                <Transition fallback=|| {
                    view! { <p class="muted">"Checking the server…"</p> }
                }>
                    {move || {
                        status
                            .get()
                            .map(|result| match result {
                                Ok(s) => {
                                    view! {
                                        <p class="status-line">
                                            <span class="dot dot-ok" aria-hidden="true"></span>
                                            <strong data-testid="status-state">"Online"</strong>
                                        </p>
                                        <dl class="facts">
                                            <div>
                                                <dt>"Version"</dt>
                                                <dd data-testid="status-version">{s.version.clone()}</dd>
                                            </div>
                                            <div>
                                                <dt>"Server time"</dt>
                                                <dd>
                                                    <time
                                                        datetime=s.server_time.clone()
                                                        data-testid="status-time"
                                                    >
                                                        {display_time(&s.server_time)}
                                                    </time>
                                                </dd>
                                            </div>
                                            <div>
                                                <dt>"Uptime"</dt>
                                                <dd>{format_uptime(s.uptime_secs)}</dd>
                                            </div>
                                        </dl>
                                    }
                                        .into_any()
                                }
                                Err(e) => {
                                    view! {
                                        <p class="status-line">
                                            <span class="dot dot-error" aria-hidden="true"></span>
                                            <strong data-testid="status-state">"Unreachable"</strong>
                                        </p>
                                        <p class="error-text" role="alert">
                                            {format!("The server did not answer: {e}")}
                                        </p>
                                    }
                                        .into_any()
                                }
                            })
                    }}
                </Transition>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_like_a_person_would_say_it() {
        assert_eq!(format_uptime(9), "9s");
        assert_eq!(format_uptime(160), "2m 40s");
        assert_eq!(format_uptime(5 * 3_600 + 12 * 60 + 7), "5h 12m");
        assert_eq!(format_uptime(3 * 86_400 + 4 * 3_600 + 59), "3d 4h");
    }

    #[test]
    fn server_time_is_shown_to_the_second_in_utc() {
        assert_eq!(
            display_time("2026-11-22T03:15:02.123Z"),
            "2026-11-22 03:15:02 UTC"
        );
    }
}

//! Overview / "Get started": where the endpoints are, whether the server answers, and how to send
//! a first request through the gateway.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::Endpoints;
use crate::components::{quick_start::QuickStart, status_card::StatusCard};

/// The home page.
#[component]
pub fn Overview() -> impl IntoView {
    let endpoints = use_context::<Endpoints>().unwrap_or_default();
    let gateway_base = format!("{}/v1", endpoints.gateway_url);

    view! {
        <Title text="Overview" />
        <header class="page-header">
            <p class="eyebrow">"Overview"</p>
            <h1>"Get started with Keyway"</h1>
            <p class="lead">
                "One endpoint in front of every LLM provider. Point any OpenAI-compatible SDK at the gateway "
                "and authenticate with a Keyway virtual key instead of a provider key."
            </p>
        </header>
        <div class="grid">
            <section class="card" aria-labelledby="endpoints-title">
                <header class="card-header">
                    <h2 id="endpoints-title">"Endpoints"</h2>
                </header>
                <dl class="endpoints">
                    <div>
                        <dt>"Gateway URL"</dt>
                        <dd>
                            <code data-testid="gateway-url">{endpoints.gateway_url.clone()}</code>
                            <span class="hint">
                                "SDK base URL: " <code>{gateway_base}</code>
                            </span>
                        </dd>
                    </div>
                    <div>
                        <dt>"API URL"</dt>
                        <dd>
                            <code data-testid="api-url">{endpoints.api_url.clone()}</code>
                            <span class="hint">"REST control plane under " <code>"/api/v1"</code></span>
                        </dd>
                    </div>
                </dl>
            </section>
            <StatusCard />
            <QuickStart gateway_url=endpoints.gateway_url />
            <section class="card card-wide" aria-labelledby="next-title">
                <header class="card-header">
                    <h2 id="next-title">"Next steps"</h2>
                </header>
                <ol class="steps">
                    <li>
                        <strong>"Add a provider key."</strong>
                        " Store it once; Keyway encrypts it and never shows it again."
                    </li>
                    <li>
                        <strong>"Issue a virtual key."</strong>
                        " Give each app or team its own key with limits, budgets and allowed models."
                    </li>
                    <li>
                        <strong>"Send your first request."</strong>
                        " Use the snippet above; the model is named "
                        <code>"provider/model"</code>
                        ", for example "
                        <code>"openai/gpt-4o-mini"</code>
                        "."
                    </li>
                </ol>
            </section>
        </div>
    }
}

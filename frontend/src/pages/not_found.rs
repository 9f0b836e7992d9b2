//! Page shown for any path the router does not know.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// "Page not found", answered with HTTP status 404 when rendered on the server.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_actix::ResponseOptions>() {
        response.set_status(actix_web::http::StatusCode::NOT_FOUND);
    }

    view! {
        <Title text="Page not found" />
        <crate::session::AuthFrame>
        <section class="auth-card not-found" aria-labelledby="not-found-title">
            <p class="eyebrow">"Error 404"</p>
            <h1 id="not-found-title">"Page not found"</h1>
            <p class="muted">"There is nothing at this address. It may have moved, or the link may be mistyped."</p>
            <A href="/" attr:class="btn btn-primary">
                "Back to overview"
            </A>
        </section>
        </crate::session::AuthFrame>
    }
}

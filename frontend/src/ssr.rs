//! Server side of the dashboard: mounts pages, server functions and static assets on the API
//! port's actix-web app.

use std::{path::PathBuf, rc::Rc, time::Instant};

use actix_web::{
    HttpResponse,
    dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse, fn_factory, fn_service},
    http::Method,
    web,
};
use leptos::prelude::*;
use leptos_actix::{LeptosRoutes, generate_route_list, render_app_to_stream_with_context};

use crate::{App, Endpoints, SERVER_FN_PREFIX, shell};

/// Base name of the wasm-bindgen output (`keyway.js`, `keyway.wasm`) and of the stylesheet.
pub const OUTPUT_NAME: &str = "keyway";

/// Directory under the site root, and URL prefix, of the wasm, JS and CSS assets.
pub const PKG_DIR: &str = "pkg";

/// What the server needs to know to mount the dashboard.
#[derive(Clone, Debug)]
pub struct DashboardOptions {
    /// Directory holding `pkg/` as produced by `scripts/build-wasm.sh`.
    pub site_root: PathBuf,
    /// Public base URL of the gateway, shown in the SDK snippets.
    pub gateway_url: String,
    /// Public base URL of the API port (this server).
    pub api_url: String,
    /// Keyway version reported by the status card.
    pub version: String,
}

/// Server-only facts handed to server functions through context.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    /// Keyway version.
    pub version: String,
    /// When the dashboard was mounted on this worker.
    pub started_at: Instant,
}

/// Adds the dashboard to the API port's app:
///
/// - page routes (`GET /`), rendered with streaming SSR;
/// - server functions under [`SERVER_FN_PREFIX`];
/// - `GET /pkg/*`: the hydration wasm/JS and the stylesheet from `site_root/pkg`;
/// - the app's default service: a `GET` to an unknown path outside `/api/`, `/pkg/` and
///   [`SERVER_FN_PREFIX`] renders the dashboard's 404 page; any other unmatched request gets an
///   empty 404. Give the REST scope its own default service if it wants JSON 404 bodies.
///
/// Call it inside the `HttpServer::new` factory, e.g. `App::new().configure(|cfg| configure(cfg, options.clone()))`.
pub fn configure(cfg: &mut web::ServiceConfig, options: DashboardOptions) {
    let DashboardOptions {
        site_root,
        gateway_url,
        api_url,
        version,
    } = options;

    let pkg_dir = site_root.join(PKG_DIR);
    let wasm = pkg_dir.join(format!("{OUTPUT_NAME}.wasm"));
    if !wasm.is_file() {
        // Pages still render without it, but nothing in them will react to clicks.
        tracing::warn!(
            path = %wasm.display(),
            "dashboard wasm not found; build it with scripts/build-wasm.sh"
        );
    }

    let leptos_options = LeptosOptions::builder()
        .output_name(OUTPUT_NAME)
        .site_root(site_root.to_string_lossy().into_owned())
        .site_pkg_dir(PKG_DIR)
        .build();
    let endpoints = Endpoints::new(&gateway_url, &api_url);
    let info = ServerInfo {
        version,
        started_at: Instant::now(),
    };
    let context = move || {
        provide_context(endpoints.clone());
        provide_context(info.clone());
    };
    let app = move || shell(leptos_options.clone());

    cfg.service(actix_files::Files::new(&format!("/{PKG_DIR}"), pkg_dir));
    cfg.leptos_routes_with_context(generate_route_list(App), context.clone(), app.clone());
    cfg.default_service(not_found_service(context, app));
}

/// Whether an unmatched request should get the HTML 404 page rather than an empty 404.
fn wants_page(req: &ServiceRequest) -> bool {
    let path = req.path();
    req.method() == Method::GET
        && !path.starts_with("/api/")
        && !path.starts_with(&format!("/{PKG_DIR}/"))
        && !path.starts_with(SERVER_FN_PREFIX)
}

/// Default service rendering the app (whose router falls back to the 404 page) for page requests.
fn not_found_service<IV: IntoView + 'static>(
    context: impl Fn() + Clone + Send + 'static,
    app: impl Fn() -> IV + Clone + Send + 'static,
) -> impl ServiceFactory<
    ServiceRequest,
    Config = (),
    Response = ServiceResponse,
    Error = actix_web::Error,
    InitError = (),
> {
    fn_factory(move || {
        let page = render_app_to_stream_with_context(
            context.clone(),
            app.clone(),
            leptos_router::Method::Get,
        );
        async move {
            let page = Rc::new(page.new_service(()).await?);
            Ok(fn_service(move |req: ServiceRequest| {
                let page = Rc::clone(&page);
                async move {
                    if wants_page(&req) {
                        page.call(req).await
                    } else {
                        Ok(req.into_response(HttpResponse::NotFound().finish()))
                    }
                }
            }))
        }
    })
}

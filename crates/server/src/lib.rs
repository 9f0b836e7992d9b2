//! Keyway's composition root: connects the services the settings name and serves the two ports.
//!
//! * API port: dashboard (Leptos SSR + hydration), REST `/api/v1`, `/healthz`, `/readyz`.
//! * Gateway port: the data plane under `/v1`, `/healthz`, `/readyz`.
//!
//! Binaries stay thin: `main.rs` parses the command line ([`cli`]) and calls
//! [`Application::build`]. Without the default `control-plane` feature the crate builds the
//! data-plane binary (`keyway-gateway`): no dashboard or API code, and `serve` / `api` refuse to
//! start. Tests build the same application on port 0 and read the bound ports.

mod admin;
pub mod cli;
mod health;
mod services;
mod shutdown;

pub use services::Services;

use actix_web::{App, HttpServer, dev::ServerHandle, web};
use keyway_config::Settings;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Which listeners a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parts {
    /// Dashboard + API and gateway (`keyway serve`).
    Both,
    /// Dashboard + API only (`keyway api`).
    Api,
    /// Gateway only (`keyway gateway`).
    Gateway,
}

impl Parts {
    fn api(self) -> bool {
        matches!(self, Parts::Both | Parts::Api)
    }
    fn gateway(self) -> bool {
        matches!(self, Parts::Both | Parts::Gateway)
    }

    /// Refuses, before anything is connected or migrated, the parts this build lacks: the
    /// data-plane build (without the `control-plane` feature) has no dashboard or API.
    pub(crate) fn check_built(self) -> anyhow::Result<()> {
        anyhow::ensure!(
            cfg!(feature = "control-plane") || !self.api(),
            "this is the data-plane build of Keyway (keyway-gateway): it runs `gateway`, \
             `migrate`, `admin` and `mock-provider`; the dashboard and API are in the full \
             `keyway` binary"
        );
        Ok(())
    }
}

/// A bound, not yet running, Keyway process.
pub struct Application {
    services: Services,
    /// Periodic per-org analytics retention, run by processes that serve the API.
    retention: Option<tokio::task::JoinHandle<()>>,
    api: Option<Listener>,
    gateway: Option<Listener>,
    stop: Arc<Notify>,
}

struct Listener {
    addr: SocketAddr,
    server: actix_web::dev::Server,
}

/// Stops a running [`Application`] gracefully, as SIGTERM does.
#[derive(Clone)]
pub struct Stopper(Arc<Notify>);

impl Stopper {
    /// Asks the application to stop accepting and drain in-flight requests.
    pub fn stop(&self) {
        self.0.notify_one();
    }
}

/// Applies control-plane and analytics migrations.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let services = Services::connect(settings).await?;
    services.migrate().await?;
    tracing::info!("migrations applied");
    services.close().await;
    Ok(())
}

impl Application {
    /// Connects the services and binds the listeners `parts` asks for (port 0 picks a free one).
    pub async fn build(settings: Settings, parts: Parts) -> anyhow::Result<Self> {
        parts.check_built()?;
        // rustls may see two crypto providers through the dependency tree; pick one for the
        // whole process. A second call fails harmlessly when a provider is already installed.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let services = Services::connect(&settings).await?;
        let grace = settings.server.shutdown_grace_secs;
        // Bind both first, so the dashboard can show the gateway's real address even on port 0.
        let api_listener = parts
            .api()
            .then(|| bind(settings.server.api_addr))
            .transpose()?;
        let gateway_listener = parts
            .gateway()
            .then(|| bind(settings.server.gateway_addr))
            .transpose()?;
        let gateway_addr = match &gateway_listener {
            Some(l) => l.local_addr()?,
            None => settings.server.gateway_addr,
        };
        // The prompt playground calls the gateway from the dashboard's pages.
        let (api, dashboard_url) = match api_listener {
            // Without the feature there is no API listener: `check_built` refused the parts.
            #[cfg(feature = "control-plane")]
            Some(listener) => {
                let (api, url) = control_plane(&services, &settings, listener, gateway_addr)?;
                (Some(api), Some(url))
            }
            _ => (None, settings.server.public_api_url.clone()),
        };
        let gateway = match gateway_listener {
            Some(listener) => {
                let state = web::Data::new(services.clone());
                let mut upstream = keyway_gateway::upstream::UpstreamConfig {
                    allow_private: settings.gateway.allow_private_upstreams,
                    ..Default::default()
                };
                if let Some(path) = &settings.gateway.upstream_ca_file {
                    upstream = upstream.trust_ca_file(path)?;
                }
                let mut gateway = keyway_gateway::GatewayState::new(
                    services.db.clone(),
                    services.master_key.clone(),
                    services.events.clone(),
                    &upstream,
                )?
                .with_dashboard_origin(dashboard_url.as_deref())
                .with_limits(keyway_gateway::limits::InputLimits {
                    max_body_bytes: settings.gateway.max_body_bytes,
                    max_messages: settings.gateway.max_messages,
                    max_json_depth: settings.gateway.max_json_depth,
                    max_tokens: settings.gateway.max_tokens,
                })
                .with_governance(
                    keyway_gateway::governance::Governance::new(
                        services.limits.clone(),
                        services.db.clone(),
                        std::time::Duration::from_millis(settings.gateway.limits.rate_window_ms),
                    )
                    .with_mailer(services.mailer.clone()),
                );
                // Revocations and other changes published by the control plane evict cached
                // policies here within milliseconds.
                gateway.listen_for_changes(&services.kv).await;
                gateway.auth.spawn_last_used_writer();
                // Circuit breakers and target health are shared with the other replicas.
                gateway.share_health(&services.kv);
                let gateway = web::Data::new(gateway);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(state.clone())
                        .app_data(gateway.clone())
                        .configure(health::configure)
                        .route("/metrics", web::get().to(health::metrics))
                        .configure(keyway_gateway::configure)
                });
                let server = tune(server, grace).listen(listener)?.run();
                Some(Listener {
                    addr: gateway_addr,
                    server,
                })
            }
            None => None,
        };
        let retention = api.is_some().then(|| spawn_retention(&services, &settings));
        Ok(Self {
            services,
            retention,
            api,
            gateway,
            stop: Arc::new(Notify::new()),
        })
    }

    /// Port of the dashboard + API listener, when this process runs it.
    pub fn api_port(&self) -> Option<u16> {
        self.api.as_ref().map(|l| l.addr.port())
    }

    /// Port of the gateway listener, when this process runs it.
    pub fn gateway_port(&self) -> Option<u16> {
        self.gateway.as_ref().map(|l| l.addr.port())
    }

    /// `http://host:port` of the dashboard + API.
    pub fn api_url(&self) -> Option<String> {
        self.api.as_ref().map(|l| format!("http://{}", l.addr))
    }

    /// `http://host:port` of the gateway.
    pub fn gateway_url(&self) -> Option<String> {
        self.gateway.as_ref().map(|l| format!("http://{}", l.addr))
    }

    /// The connected services (for tests and tools).
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// A handle that stops the application as SIGTERM would.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.stop.clone())
    }

    /// Serves until SIGTERM/SIGINT or [`Stopper::stop`], then stops accepting, lets in-flight
    /// requests finish within the grace period, and flushes pending analytics events.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let listeners: Vec<Listener> = self.api.into_iter().chain(self.gateway).collect();
        let handles: Vec<ServerHandle> = listeners.iter().map(|l| l.server.handle()).collect();
        let mut tasks: Vec<_> = listeners
            .into_iter()
            .map(|l| tokio::spawn(l.server))
            .collect();
        tokio::select! {
            () = shutdown::signal() => tracing::info!("shutdown signal received, draining"),
            () = self.stop.notified() => tracing::info!("stop requested, draining"),
            (finished, _, _) = futures_util::future::select_all(&mut tasks) => {
                tracing::error!(result = ?finished, "a listener stopped unexpectedly");
            }
        }
        futures_util::future::join_all(handles.iter().map(|h| h.stop(true))).await;
        for task in tasks {
            if let Ok(Err(e)) = task.await {
                tracing::error!(error = %e, "listener failed while draining");
            }
        }
        if let Some(task) = self.retention {
            task.abort();
        }
        self.services.close().await;
        Ok(())
    }
}

/// Enforces each organization's analytics retention now and every
/// `analytics.retention_interval_secs`.
fn spawn_retention(services: &Services, settings: &Settings) -> tokio::task::JoinHandle<()> {
    let db = services.db.clone();
    keyway_analytics::spawn_retention(
        services.analytics.clone(),
        Duration::from_secs(settings.analytics.retention_interval_secs),
        move || {
            let db = db.clone();
            async move {
                match db.org_retentions().await {
                    Ok(policies) => policies
                        .into_iter()
                        .map(|(org, days)| (org.to_string(), days))
                        .collect(),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read retention settings");
                        Vec::new()
                    }
                }
            }
        },
    )
}

fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

/// Serves the dashboard and the management API on `listener`; returns it with the dashboard's
/// URL.
#[cfg(feature = "control-plane")]
fn control_plane(
    services: &Services,
    settings: &Settings,
    listener: TcpListener,
    gateway_addr: SocketAddr,
) -> anyhow::Result<(Listener, String)> {
    let addr = listener.local_addr()?;
    let dashboard = services.dashboard_options(addr, gateway_addr);
    let api_url = dashboard.api_url.clone();
    let state = web::Data::new(services.clone());
    let api_state = web::Data::new(
        keyway_api::ApiState::new(
            services.db.clone(),
            services.analytics.clone(),
            services.kv.clone(),
            services.mailer.clone(),
            services.master_key.clone(),
            api_url.clone(),
            settings.gateway.allow_private_upstreams,
        )
        .with_limits(services.limits.clone()),
    );
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(api_state.clone())
            .configure(health::configure)
            .configure(keyway_api::configure)
            .configure(|cfg| keyway_dashboard::ssr::configure(cfg, dashboard.clone()))
    });
    let server = tune(server, settings.server.shutdown_grace_secs)
        .listen(listener)?
        .run();
    Ok((Listener { addr, server }, api_url))
}

/// Settings shared by both listeners: TCP_NODELAY on every accepted socket (no Nagle stall on
/// small SSE writes), header and idle timeouts, signals handled by [`Application`] for both at once.
fn tune<F, I, S, B>(server: HttpServer<F, I, S, B>, grace_secs: u64) -> HttpServer<F, I, S, B>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: actix_service::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
        + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    <S::Service as actix_service::Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    server
        .disable_signals()
        .shutdown_timeout(grace_secs)
        .client_request_timeout(Duration::from_secs(10))
        .keep_alive(Duration::from_secs(75))
        // A client that closes its side is gone: drop its handler, which cancels the upstream
        // call (the default keeps half-closed connections alive until the handler finishes).
        .h1_allow_half_closed(false)
        .on_connect(|conn, _| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>()
                && let Err(e) = tcp.set_nodelay(true)
            {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        })
}

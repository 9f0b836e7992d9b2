//! Binding, routing and life cycle of the mock's actix-web server.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::KeepAlive;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use tokio::task::JoinHandle;

use crate::respond::ApiError;
use crate::stats::{MockStats, Stats, Surface};
use crate::tls::MockTls;
use crate::{anthropic, bedrock, cohere, gemini, openai};

/// Long enough that pooled client connections (reqwest and httpx idle out at 90 s or less) are
/// closed by the client, never raced by a server-side close.
const KEEP_ALIVE: Duration = Duration::from_secs(120);
const BACKLOG: u32 = 4096;
/// Bounds `stop()`: stalled requests never finish on their own.
const SHUTDOWN_TIMEOUT_SECS: u64 = 2;

/// Shared by every worker.
#[derive(Debug, Default)]
pub(crate) struct AppState {
    pub stats: Arc<Stats>,
}

/// The mock provider server. [`MockProvider::start`] uses the defaults; [`MockProvider::builder`]
/// tunes them.
#[derive(Debug, Clone, Copy)]
pub struct MockProvider;

impl MockProvider {
    /// Binds `addr` (port 0 allowed) and serves in the background on the current tokio runtime,
    /// with one worker thread per core.
    pub async fn start(addr: SocketAddr) -> io::Result<MockHandle> {
        Self::builder().start(addr).await
    }

    /// A builder for non-default settings.
    pub fn builder() -> MockBuilder {
        MockBuilder {
            workers: None,
            tls: false,
        }
    }
}

/// Settings of a mock server before it starts.
#[derive(Debug, Clone, Copy)]
pub struct MockBuilder {
    workers: Option<usize>,
    tls: bool,
}

impl MockBuilder {
    /// Number of worker threads (at least 1); the default is one per core.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers.max(1));
        self
    }

    /// Serves HTTPS (HTTP/2 or HTTP/1.1 by ALPN) with a certificate signed by a certificate
    /// authority made at start-up; [`MockHandle::ca_pem`] is the certificate to trust.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Binds `addr` (port 0 allowed) and serves in the background on the current tokio runtime.
    pub async fn start(self, addr: SocketAddr) -> io::Result<MockHandle> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let state = web::Data::new(AppState::default());
        let stats = Arc::clone(&state.stats);
        let accepted = Arc::clone(&stats);
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .configure(routes)
                .default_service(web::to(not_found))
        })
        // Without it, small SSE frames wait up to 40 ms for Nagle's algorithm.
        .tcp_nodelay(true)
        .on_connect(move |_, _| accepted.connection_accepted())
        .keep_alive(KeepAlive::Timeout(KEEP_ALIVE))
        // Notice a client that hangs up while its request is still being answered (a delay, a
        // stall) at once, so the handler is dropped and the request counts as cancelled.
        .h1_allow_half_closed(false)
        .backlog(BACKLOG)
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .disable_signals();
        if let Some(workers) = self.workers {
            server = server.workers(workers);
        }
        let (server, ca_pem) = if self.tls {
            let tls = MockTls::generate()?;
            (
                server.listen_rustls_0_23(listener, tls.server)?,
                Some(tls.ca_pem),
            )
        } else {
            (server.listen(listener)?, None)
        };
        let server = server.run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Ok(MockHandle {
            addr,
            ca_pem,
            stats,
            handle,
            task,
        })
    }
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/v1/chat/completions",
        web::post().to(openai::chat_completions),
    )
    .route("/v1/completions", web::post().to(openai::completions))
    .route("/v1/embeddings", web::post().to(openai::embeddings))
    .route("/v1/responses", web::post().to(openai::responses))
    .route("/v1/models", web::get().to(list_models))
    .route("/v1/models/{id}", web::get().to(get_model))
    .route("/v1/messages", web::post().to(anthropic::messages))
    .route(
        "/v1beta/models/{target}",
        web::post().to(gemini::models_action),
    )
    .route(
        "/openai/deployments/{deployment}/chat/completions",
        web::post().to(openai::azure_chat_completions),
    )
    .route(
        "/openai/deployments/{deployment}/embeddings",
        web::post().to(openai::azure_embeddings),
    )
    .route("/model/{model}/converse", web::post().to(bedrock::converse))
    .route(
        "/model/{model}/converse-stream",
        web::post().to(bedrock::converse_stream),
    )
    .route("/v2/chat", web::post().to(cohere::chat))
    .route("/_mock/stats", web::get().to(stats));
}

async fn list_models(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if anthropic::looks_like_anthropic(&req) {
        let mut guard = state.stats.begin(Surface::Anthropic);
        guard.complete();
        return anthropic::list_models(&req);
    }
    let mut guard = state.stats.begin(Surface::OpenAi);
    guard.complete();
    openai::respond_json(openai::list_models(&req))
}

async fn get_model(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if anthropic::looks_like_anthropic(&req) {
        let mut guard = state.stats.begin(Surface::Anthropic);
        guard.complete();
        return anthropic::get_model(&req, &id);
    }
    let mut guard = state.stats.begin(Surface::OpenAi);
    guard.complete();
    openai::respond_json(openai::get_model(&req, &id))
}

async fn stats(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.stats.snapshot())
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    let message = format!("Invalid URL ({} {})", req.method(), req.path());
    let surface = if req.path().starts_with("/v1beta/") {
        Surface::Gemini
    } else if req.path().starts_with("/model/") {
        Surface::Bedrock
    } else if req.path().starts_with("/v2/") {
        Surface::Cohere
    } else {
        Surface::OpenAi
    };
    ApiError::new(404, message).respond(surface)
}

/// A running mock provider.
#[derive(Debug)]
pub struct MockHandle {
    addr: SocketAddr,
    /// The certificate authority to trust when serving HTTPS.
    ca_pem: Option<String>,
    stats: Arc<Stats>,
    handle: ServerHandle,
    task: JoinHandle<io::Result<()>>,
}

impl MockHandle {
    /// The bound address (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT` (`https://` when serving TLS), the base URL to configure as a
    /// provider endpoint.
    pub fn base_url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The PEM certificate of the authority that signed the server certificate, when serving
    /// HTTPS ([`MockBuilder::tls`]).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A snapshot of the request counters.
    pub fn stats(&self) -> MockStats {
        self.stats.snapshot()
    }

    /// Stops accepting connections, lets in-flight responses finish (stalled ones are dropped
    /// after a short grace period) and waits for the server to exit.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        // The task's own result (an I/O error or a panic) is nothing a caller stopping the mock
        // can act on.
        let _ = self.task.await;
    }
}

//! The pooled upstream client, its guarded resolver and the idle-timeout body wrapper.

use std::error::Error as StdError;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Method, RequestBuilder, Response};
use thread_local::ThreadLocal;
use tokio::time::{Instant, Sleep};
use url::{Host, Url};

use super::address::{ForbiddenReason, host_forbidden, is_forbidden};

/// Why an upstream request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The URL scheme is not `http` or `https`.
    #[error("upstream URL scheme `{0}` is not allowed; use http or https")]
    UnsupportedScheme(String),
    /// The URL carries a user name or password.
    #[error("upstream URL must not contain a user name or password")]
    UserInfo,
    /// The URL has no host.
    #[error("upstream URL has no host")]
    MissingHost,
    /// The host, or every address it resolved to, is not a permitted destination.
    #[error("upstream host `{host}` is not allowed: {reason}")]
    Forbidden {
        /// The host as written in the URL.
        host: String,
        /// Why it was refused (for a name: the first refused address).
        reason: ForbiddenReason,
    },
    /// No response headers arrived within the caller's response-header timeout.
    #[error("upstream sent no response headers within {0:?}")]
    HeaderTimeout(Duration),
    /// The response body sent nothing for longer than the caller's idle timeout.
    #[error("upstream response stalled: nothing received for {0:?}")]
    IdleTimeout(Duration),
    /// Connecting, sending or reading failed (`is_connect()`, `is_timeout()` tell which). The
    /// URL is stripped: some providers (Gemini) carry the API key in the query string.
    #[error("upstream request failed")]
    Http(#[source] reqwest::Error),
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("could not build the upstream HTTP client")]
    Build(#[source] reqwest::Error),
}

/// `gateway.upstream_ca_file` could not be read or holds no PEM certificate (a start-up error,
/// never a request's).
#[derive(Debug, thiserror::Error)]
#[error("gateway.upstream_ca_file {path}: {reason}")]
pub struct CaFileError {
    /// The file as configured.
    pub path: PathBuf,
    /// What was wrong with it.
    pub reason: String,
}

/// How the upstream client connects. Timeouts that depend on the request (response headers,
/// idle body) are the caller's, passed to [`UpstreamClient::send`] and [`IdleTimeoutBody::new`].
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// `gateway.allow_private_upstreams`: permit loopback and private networks (never metadata).
    pub allow_private: bool,
    /// Limit on DNS resolution plus TCP and TLS connection set-up.
    pub connect_timeout: Duration,
    /// How long an unused pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per upstream host by each thread's pool. Hosted providers speak
    /// HTTP/2, where one connection carries every request of a thread; only HTTP/1.1 upstreams
    /// (self-hosted servers, usually nearby) need one connection per request in flight. Each
    /// idle one holds ~25 KB of buffers, so after a burst only this many stay open per thread;
    /// the rest close and are re-made on demand.
    pub pool_max_idle_per_host: usize,
    /// Certificate authorities trusted besides the system's (`gateway.upstream_ca_file`): a
    /// self-hosted model server behind an internal CA, or the mock provider over HTTPS.
    pub extra_roots: Vec<reqwest::Certificate>,
}

impl UpstreamConfig {
    /// Reads the PEM certificates in `path` into [`UpstreamConfig::extra_roots`].
    pub fn trust_ca_file(mut self, path: &Path) -> Result<Self, CaFileError> {
        let refused = |reason: String| CaFileError {
            path: path.to_owned(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|err| refused(err.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|err| refused(format!("not a PEM certificate bundle ({err})")))?;
        if certs.is_empty() {
            return Err(refused("holds no PEM certificate".into()));
        }
        self.extra_roots.extend(certs);
        Ok(self)
    }
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 64,
            extra_roots: Vec::new(),
        }
    }
}

/// The pooled, SSRF-safe client for provider calls. Build it once per process and clone it
/// freely (clones share the pools).
///
/// Each thread sends on a connection pool of its own. A pooled connection's I/O task runs on
/// the runtime that opened it. With one pool for every actix worker, a request served by one
/// worker on a connection opened by another crossed threads twice (the request out, the
/// answer back): two wake-ups of a sleeping thread per call, and a worker busy with other
/// requests held up the calls sent on its connections. Per-thread pools keep the whole call
/// on the worker that serves it.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    /// The constructing thread's pool, which also builds every thread's requests
    /// ([`UpstreamClient::request`]; a request carries no connection until it is sent).
    builder: reqwest::Client,
    pools: Arc<ThreadLocal<reqwest::Client>>,
    config: Arc<UpstreamConfig>,
}

impl UpstreamClient {
    /// Builds the client: rustls, HTTP/1.1 keep-alive and HTTP/2 where the server offers it
    /// over ALPN (so that one connection carries every concurrent request to a provider), no
    /// redirects, no proxies, `TCP_NODELAY`, the guarded resolver, and the system's certificate
    /// authorities plus [`UpstreamConfig::extra_roots`].
    pub fn new(config: &UpstreamConfig) -> Result<Self, UpstreamError> {
        let builder = build(config)?;
        let pools = ThreadLocal::new();
        pools.get_or(|| builder.clone());
        Ok(Self {
            builder,
            pools: Arc::new(pools),
            config: Arc::new(config.clone()),
        })
    }

    /// The calling thread's pool, made on its first call.
    fn pool(&self) -> Result<&reqwest::Client, UpstreamError> {
        self.pools.get_or_try(|| build(&self.config))
    }

    /// Whether loopback and private networks are permitted.
    pub fn allow_private(&self) -> bool {
        self.config.allow_private
    }

    /// Checks `url` without resolving it: scheme, user info, metadata host names and IP
    /// literals. Host names are checked again, address by address, on every new connection.
    pub fn check_url(&self, url: &Url) -> Result<(), UpstreamError> {
        check_url(url, self.config.allow_private)
    }

    /// Starts a request on this client. Send it with [`UpstreamClient::send`], never with
    /// `RequestBuilder::send`, which skips the IP-literal check.
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.builder.request(method, url)
    }

    /// Checks the request's URL, sends it on this client's pool and waits at most
    /// `header_timeout` for the response headers. The body is the caller's to read, typically
    /// through [`IdleTimeoutBody`]. A redirect comes back as the 3xx response itself.
    pub async fn send(
        &self,
        request: RequestBuilder,
        header_timeout: Duration,
    ) -> Result<Response, UpstreamError> {
        // Executing on our own client means a builder made elsewhere still gets the guard.
        let request = request
            .build()
            .map_err(|err| UpstreamError::Http(err.without_url()))?;
        self.check_url(request.url())?;
        match tokio::time::timeout(header_timeout, self.pool()?.execute(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(err)) => Err(classify(err)),
            Err(_) => Err(UpstreamError::HeaderTimeout(header_timeout)),
        }
    }
}

/// One connection pool with the client's settings.
fn build(config: &UpstreamConfig) -> Result<reqwest::Client, UpstreamError> {
    let mut builder = reqwest::Client::builder();
    if !config.extra_roots.is_empty() {
        builder = builder.tls_certs_merge(config.extra_roots.iter().cloned());
    }
    builder
        // A proxy would resolve the name itself, out of the guarded resolver's sight.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .connect_timeout(config.connect_timeout)
        .pool_idle_timeout(config.pool_idle_timeout)
        .pool_max_idle_per_host(config.pool_max_idle_per_host)
        .dns_resolver(GuardedResolver {
            allow_private: config.allow_private,
        })
        .build()
        .map_err(UpstreamError::Build)
}

/// Checks `url` as [`UpstreamClient::check_url`] does, for callers without a client (the
/// control plane validating a credential's base URL when it is saved).
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), UpstreamError> {
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(UpstreamError::UnsupportedScheme(scheme.to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UpstreamError::UserInfo);
    }
    let reason = match url.host() {
        None => return Err(UpstreamError::MissingHost),
        Some(Host::Ipv4(ip)) => is_forbidden(ip.into()),
        Some(Host::Ipv6(ip)) => is_forbidden(ip.into()),
        Some(Host::Domain(name)) => host_forbidden(name),
    };
    match reason {
        Some(reason) if refused(reason, allow_private) => Err(UpstreamError::Forbidden {
            host: url.host_str().unwrap_or_default().to_owned(),
            reason,
        }),
        _ => Ok(()),
    }
}

fn refused(reason: ForbiddenReason, allow_private: bool) -> bool {
    !allow_private || reason.is_always_refused()
}

/// Maps a reqwest error, recovering our resolver's refusal from the cause chain.
fn classify(err: reqwest::Error) -> UpstreamError {
    let mut cause: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(current) = cause {
        if let Some(refusal) = current.downcast_ref::<ResolveRefused>() {
            return UpstreamError::Forbidden {
                host: refusal.host.clone(),
                reason: refusal.reason,
            };
        }
        cause = current.source();
    }
    UpstreamError::Http(err.without_url())
}

/// Resolves through the system resolver (getaddrinfo, so `/etc/hosts` and search domains
/// behave as operators expect) and returns only permitted addresses: the connector dials
/// exactly these, so the check and the connection cannot disagree.
#[derive(Debug)]
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allow_private = self.allow_private;
        Box::pin(async move {
            if let Some(reason) = host_forbidden(&host)
                && refused(reason, allow_private)
            {
                return Err(ResolveRefused { host, reason }.into());
            }
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed = filter_resolved(&host, resolved, allow_private)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Keeps the permitted addresses; refuses the name if none is left.
fn filter_resolved(
    host: &str,
    resolved: impl IntoIterator<Item = SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, ResolveRefused> {
    let mut first_refusal = None;
    let allowed: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|addr| match is_forbidden(addr.ip()) {
            Some(reason) if refused(reason, allow_private) => {
                tracing::debug!(host, ip = %addr.ip(), %reason, "dropped forbidden upstream address");
                first_refusal.get_or_insert(reason);
                false
            }
            _ => true,
        })
        .collect();
    match (allowed.is_empty(), first_refusal) {
        (true, Some(reason)) => {
            tracing::warn!(host, %reason, "refused upstream host");
            Err(ResolveRefused {
                host: host.to_owned(),
                reason,
            })
        }
        _ => Ok(allowed),
    }
}

/// The resolver's refusal, carried through reqwest's error chain to [`classify`].
#[derive(Debug)]
struct ResolveRefused {
    host: String,
    reason: ForbiddenReason,
}

impl fmt::Display for ResolveRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "upstream host `{}` is not allowed: {}",
            self.host, self.reason
        )
    }
}

impl StdError for ResolveRefused {}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A response body that fails with [`UpstreamError::IdleTimeout`] when no chunk arrives for
/// the idle timeout, then ends. Dropping it (or the timeout firing) closes the upstream body.
pub struct IdleTimeoutBody {
    inner: Option<ByteStream>,
    idle: Duration,
    last_chunk: Instant,
    timer: Pin<Box<Sleep>>,
}

impl IdleTimeoutBody {
    /// Wraps `response`'s body; the idle clock starts now.
    pub fn new(response: Response, idle: Duration) -> Self {
        let now = Instant::now();
        Self {
            inner: Some(Box::pin(response.bytes_stream())),
            idle,
            last_chunk: now,
            timer: Box::pin(tokio::time::sleep_until(now + idle)),
        }
    }
}

impl fmt::Debug for IdleTimeoutBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdleTimeoutBody")
            .field("idle", &self.idle)
            .field("finished", &self.inner.is_none())
            .finish()
    }
}

impl Stream for IdleTimeoutBody {
    type Item = Result<Bytes, UpstreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                // The timer is not reset per chunk (a timer-wheel update each time); it is
                // moved forward only when it fires early.
                this.last_chunk = Instant::now();
                return Poll::Ready(Some(Ok(chunk)));
            }
            Poll::Ready(Some(Err(err))) => {
                this.inner = None;
                return Poll::Ready(Some(Err(UpstreamError::Http(err.without_url()))));
            }
            Poll::Ready(None) => {
                this.inner = None;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        while this.timer.as_mut().poll(cx).is_ready() {
            let deadline = this.last_chunk + this.idle;
            if Instant::now() >= deadline {
                this.inner = None;
                return Poll::Ready(Some(Err(UpstreamError::IdleTimeout(this.idle))));
            }
            this.timer.as_mut().reset(deadline);
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn name_resolving_only_to_forbidden_addresses_is_refused() {
        let err = filter_resolved(
            "rebind.example",
            addrs(&["127.0.0.1:0", "[::1]:0", "10.0.0.8:0"]),
            false,
        )
        .unwrap_err();
        assert_eq!(err.host, "rebind.example");
        assert_eq!(err.reason, ForbiddenReason::Loopback);
    }

    #[test]
    fn forbidden_addresses_are_dropped_from_a_mixed_answer() {
        let kept = filter_resolved(
            "mixed.example",
            addrs(&["169.254.169.254:0", "8.8.8.8:0", "[::ffff:10.0.0.1]:0"]),
            false,
        )
        .unwrap();
        assert_eq!(kept, addrs(&["8.8.8.8:0"]));
    }

    #[test]
    fn allow_private_keeps_private_but_not_metadata() {
        let kept = filter_resolved(
            "vllm.internal",
            addrs(&["10.0.0.8:0", "127.0.0.1:0", "169.254.169.254:0"]),
            true,
        )
        .unwrap();
        assert_eq!(kept, addrs(&["10.0.0.8:0", "127.0.0.1:0"]));
        let err = filter_resolved("imds.example", addrs(&["169.254.169.254:0"]), true).unwrap_err();
        assert_eq!(err.reason, ForbiddenReason::CloudMetadata);
    }
}

//! The SSRF-safe upstream client, seen from the gateway: what it refuses, what it reaches.
//!
//! Network tests only ever talk to servers on 127.0.0.1; refused destinations are refused
//! before a packet is sent, which the local servers' connection counters prove.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use futures_util::StreamExt;
use keyway_gateway::upstream::{
    ForbiddenReason, IdleTimeoutBody, UpstreamClient, UpstreamConfig, UpstreamError, check_url,
};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

fn client(allow_private: bool) -> Result<UpstreamClient> {
    Ok(UpstreamClient::new(&UpstreamConfig {
        allow_private,
        ..UpstreamConfig::default()
    })?)
}

fn url(s: &str) -> Url {
    match Url::parse(s) {
        Ok(url) => url,
        Err(err) => panic!("test URL {s}: {err}"),
    }
}

/// What the local test server does with each request it reads.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answers with this complete HTTP/1.1 response and keeps the connection open.
    Respond(&'static str),
    /// Sends a chunked response head and one chunk, then goes silent.
    StallAfterFirstChunk,
    /// Sends `count` chunks `gap` apart, then ends the body.
    Trickle { count: usize, gap: Duration },
    /// Reads the request and never answers.
    Silent,
}

struct TestServer {
    port: u16,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl TestServer {
    async fn start(behaviour: Behaviour) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (conn_count, req_count) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                conn_count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, behaviour, req_count.clone()));
            }
        });
        Ok(Self {
            port,
            connections,
            requests,
        })
    }

    fn url(&self, host: &str, path: &str) -> Url {
        url(&format!("http://{host}:{}{path}", self.port))
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn serve(mut stream: TcpStream, behaviour: Behaviour, requests: Arc<AtomicUsize>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // Requests in these tests have no body, so a request ends at the blank line.
        let end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        buf.drain(..end);
        requests.fetch_add(1, Ordering::SeqCst);
        match behaviour {
            Behaviour::Respond(response) => {
                if stream.write_all(response.as_bytes()).await.is_err() {
                    return;
                }
            }
            Behaviour::StallAfterFirstChunk => {
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                            transfer-encoding: chunked\r\n\r\n9\r\ndata: 1\n\n\r\n";
                let _ = stream.write_all(head.as_bytes()).await;
                tokio::time::sleep(Duration::from_secs(60)).await;
                return;
            }
            Behaviour::Trickle { count, gap } => {
                let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
                let _ = stream.write_all(head.as_bytes()).await;
                for _ in 0..count {
                    tokio::time::sleep(gap).await;
                    let _ = stream.write_all(b"1\r\nx\r\n").await;
                }
                let _ = stream.write_all(b"0\r\n\r\n").await;
            }
            Behaviour::Silent => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                return;
            }
        }
    }
}

const HELLO: &str = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\nhello";

fn assert_forbidden(result: Result<(), UpstreamError>, expected: ForbiddenReason, what: &str) {
    match result {
        Err(UpstreamError::Forbidden { reason, .. }) => assert_eq!(reason, expected, "{what}"),
        other => panic!("{what}: expected Forbidden({expected:?}), got {other:?}"),
    }
}

#[tokio::test]
async fn every_forbidden_address_form_is_refused_with_its_reason() -> Result<()> {
    use ForbiddenReason::*;
    let client = client(false)?;
    let table = [
        // IPv4 ranges.
        ("http://127.0.0.1/", Loopback),
        ("http://127.8.9.10/", Loopback),
        ("http://0.0.0.0/", Unspecified),
        ("http://10.1.2.3/", Private),
        ("http://172.16.0.1/", Private),
        ("http://172.31.255.254/", Private),
        ("http://192.168.1.1/", Private),
        ("http://169.254.1.1/", LinkLocal),
        ("http://169.254.169.254/latest/meta-data/", CloudMetadata),
        ("http://100.64.0.1/", SharedAddressSpace),
        ("http://192.0.0.8/", ProtocolAssignment),
        ("http://192.0.2.1/", Documentation),
        ("http://198.51.100.1/", Documentation),
        ("http://203.0.113.1/", Documentation),
        ("http://198.18.0.1/", Benchmarking),
        ("http://224.0.0.1/", Multicast),
        ("http://240.0.0.1/", Reserved),
        ("http://255.255.255.255/", Broadcast),
        // IPv6 ranges.
        ("http://[::1]/", Loopback),
        ("http://[::]/", Unspecified),
        ("http://[fc00::1]/", UniqueLocal),
        ("http://[fd00::1]/", UniqueLocal),
        ("http://[fe80::1]/", LinkLocal),
        ("http://[ff02::1]/", Multicast),
        ("http://[fec0::1]/", SiteLocal),
        ("http://[2001::1]/", Teredo),
        ("http://[2001:db8::1]/", Documentation),
        ("http://[fd00:ec2::254]/", CloudMetadata),
        // IPv4 embedded in IPv6.
        ("http://[::ffff:127.0.0.1]/", Loopback),
        ("http://[::ffff:7f00:1]/", Loopback),
        ("http://[0:0:0:0:0:ffff:127.0.0.1]/", Loopback),
        ("http://[::ffff:169.254.169.254]/", CloudMetadata),
        ("http://[::ffff:192.168.0.1]/", Private),
        ("http://[::127.0.0.1]/", Loopback),
        ("http://[64:ff9b::7f00:1]/", Loopback),
        ("http://[64:ff9b::10.0.0.1]/", Private),
        ("http://[2002:7f00:1::1]/", Loopback),
        ("http://[2002:a9fe:a9fe::]/", CloudMetadata),
        // Alternative IPv4 encodings.
        ("http://2130706433/", Loopback),
        ("http://017700000001/", Loopback),
        ("http://0x7f000001/", Loopback),
        ("http://0177.0.0.1/", Loopback),
        ("http://0x7f.0.0.1/", Loopback),
        ("http://0x7f.0x0.0.01/", Loopback),
        ("http://127.1/", Loopback),
        ("http://127.0.1/", Loopback),
        ("http://0/", Unspecified),
        ("http://2852039166/", CloudMetadata),
        ("http://0xa9fea9fe/", CloudMetadata),
        ("http://0251.0376.0251.0376/", CloudMetadata),
        ("http://3232235777/", Private),
        ("http://127.0.0.1.:8080/", Loopback),
        // Metadata host names.
        (
            "http://metadata.google.internal/computeMetadata/v1/",
            MetadataHostname,
        ),
        ("http://METADATA.google.internal./", MetadataHostname),
        ("http://metadata/", MetadataHostname),
        ("http://instance-data/latest/", MetadataHostname),
    ];
    for (raw, expected) in table {
        assert_forbidden(client.check_url(&url(raw)), expected, raw);
    }
    Ok(())
}

#[tokio::test]
async fn public_destinations_pass_the_check() -> Result<()> {
    let client = client(false)?;
    for raw in [
        "https://8.8.8.8/",
        "https://1.1.1.1/v1",
        "https://[2606:4700:4700::1111]/",
        "https://[::ffff:8.8.8.8]/",
        "https://api.openai.com/v1",
        "http://api.example.com:8080/",
    ] {
        client
            .check_url(&url(raw))
            .map_err(|e| anyhow::anyhow!("{raw}: {e}"))?;
    }
    Ok(())
}

#[test]
fn only_http_urls_without_credentials_are_accepted() {
    for raw in ["ftp://api.openai.com/", "file:///etc/passwd", "gopher://x/"] {
        assert!(
            matches!(
                check_url(&url(raw), true),
                Err(UpstreamError::UnsupportedScheme(_))
            ),
            "{raw}"
        );
    }
    for raw in [
        "https://user:pass@api.openai.com/",
        "https://user@api.openai.com/",
        "https://:pass@api.openai.com/",
    ] {
        assert!(
            matches!(check_url(&url(raw), true), Err(UpstreamError::UserInfo)),
            "{raw}"
        );
    }
}

#[test]
fn allow_private_admits_private_networks_but_never_metadata() {
    for raw in [
        "http://127.0.0.1:11434/",
        "http://localhost:8000/v1",
        "http://10.0.0.5:8000/v1",
        "http://[::1]:8000/",
        "http://[fd12::5]/",
    ] {
        assert!(check_url(&url(raw), true).is_ok(), "{raw}");
    }
    for raw in [
        "http://169.254.169.254/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://metadata.google.internal/",
    ] {
        assert!(
            matches!(
                check_url(&url(raw), true),
                Err(UpstreamError::Forbidden { .. })
            ),
            "{raw}"
        );
    }
}

#[tokio::test]
async fn loopback_literal_is_refused_before_connecting() -> Result<()> {
    let server = TestServer::start(Behaviour::Respond(HELLO)).await?;
    let client = client(false)?;
    for host in ["127.0.0.1", "2130706433", "0x7f.1", "[::ffff:127.0.0.1]"] {
        let target = server.url(host, "/v1/models");
        let err = client
            .send(client.request(Method::GET, target), HEADER_TIMEOUT)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                UpstreamError::Forbidden {
                    reason: ForbiddenReason::Loopback,
                    ..
                }
            ),
            "{host}: {err:?}"
        );
    }
    assert_eq!(server.connections(), 0);
    Ok(())
}

#[tokio::test]
async fn builder_from_another_client_still_goes_through_the_guard() -> Result<()> {
    let server = TestServer::start(Behaviour::Respond(HELLO)).await?;
    let client = client(false)?;
    let foreign = reqwest::Client::new().get(server.url("127.0.0.1", "/"));
    let err = client.send(foreign, HEADER_TIMEOUT).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Forbidden { .. }), "{err:?}");
    assert_eq!(server.connections(), 0);
    Ok(())
}

#[tokio::test]
async fn name_resolving_to_loopback_is_refused_by_the_resolver() -> Result<()> {
    let server = TestServer::start(Behaviour::Respond(HELLO)).await?;
    let client = client(false)?;
    // `localhost` is an ordinary name to the URL check; the resolver sees where it points.
    let target = server.url("localhost", "/v1/models");
    client.check_url(&target)?;
    let err = client
        .send(client.request(Method::GET, target), HEADER_TIMEOUT)
        .await
        .unwrap_err();
    match &err {
        UpstreamError::Forbidden { host, reason } => {
            assert_eq!(host, "localhost");
            assert_eq!(*reason, ForbiddenReason::Loopback);
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "upstream host `localhost` is not allowed: loopback address"
    );
    assert_eq!(server.connections(), 0);
    Ok(())
}

#[tokio::test]
async fn allow_private_reaches_a_local_server_and_reuses_the_connection() -> Result<()> {
    let server = TestServer::start(Behaviour::Respond(HELLO)).await?;
    let client = client(true)?;
    for host in ["127.0.0.1", "127.0.0.1", "localhost"] {
        let response = client
            .send(
                client.request(Method::GET, server.url(host, "/v1/models")),
                HEADER_TIMEOUT,
            )
            .await?;
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await?, "hello");
    }
    assert_eq!(server.requests(), 3);
    // The two requests to 127.0.0.1 shared one pooled connection; `localhost` is another
    // pool key, so it may add one more.
    assert!(server.connections() <= 2, "{}", server.connections());
    Ok(())
}

/// Two single-threaded runtimes sharing one client, as actix workers do. The first makes its
/// calls and then stops polling (a busy worker) while its connection is still idle in a pool;
/// the second's calls must not be sent on that connection, whose I/O only the first runtime
/// drives, but on one of its own.
#[test]
fn each_thread_sends_on_connections_of_its_own() -> Result<()> {
    let server_runtime = tokio::runtime::Runtime::new()?;
    let server = server_runtime.block_on(TestServer::start(Behaviour::Respond(HELLO)))?;
    let client = client(true)?;
    let target = server.url("127.0.0.1", "/v1/models");
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let calls = |runtime: &tokio::runtime::Runtime| -> Result<()> {
        runtime.block_on(async {
            for _ in 0..3 {
                let request = client.request(Method::GET, target.clone());
                let response = client.send(request, HEADER_TIMEOUT).await?;
                assert_eq!(response.text().await?, "hello");
            }
            Ok(())
        })
    };
    let first_done = std::sync::Barrier::new(2);
    let second_done = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            let runtime = runtime()?;
            let result = calls(&runtime);
            // The runtime lives on, unpolled, with its connection idle.
            first_done.wait();
            second_done.wait();
            result
        });
        let second = scope.spawn(|| {
            let runtime = runtime()?;
            first_done.wait();
            let result = calls(&runtime);
            second_done.wait();
            result
        });
        for thread in [first, second] {
            thread.join().expect("caller thread panicked")?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    assert_eq!(server.requests(), 6);
    assert_eq!(server.connections(), 2, "one connection per thread");
    Ok(())
}

#[tokio::test]
async fn redirects_are_returned_not_followed() -> Result<()> {
    let target = TestServer::start(Behaviour::Respond(HELLO)).await?;
    let location = target.url("127.0.0.1", "/secret");
    let response: &'static str = Box::leak(
        format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n")
            .into_boxed_str(),
    );
    let redirector = TestServer::start(Behaviour::Respond(response)).await?;
    let client = client(true)?;
    let response = client
        .send(
            client.request(Method::POST, redirector.url("127.0.0.1", "/v1/chat")),
            HEADER_TIMEOUT,
        )
        .await?;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"].to_str()?, location.as_str());
    assert_eq!(redirector.requests(), 1);
    assert_eq!(target.connections(), 0);
    Ok(())
}

#[tokio::test]
async fn silent_upstream_hits_the_header_timeout() -> Result<()> {
    let server = TestServer::start(Behaviour::Silent).await?;
    let client = client(true)?;
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let err = client
        .send(
            client.request(Method::GET, server.url("127.0.0.1", "/")),
            timeout,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, UpstreamError::HeaderTimeout(t) if t == timeout),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(server.requests(), 1);
    Ok(())
}

#[tokio::test]
async fn stalled_body_ends_with_idle_timeout() -> Result<()> {
    let server = TestServer::start(Behaviour::StallAfterFirstChunk).await?;
    let client = client(true)?;
    let response = client
        .send(
            client.request(Method::GET, server.url("127.0.0.1", "/stream")),
            HEADER_TIMEOUT,
        )
        .await?;
    assert_eq!(response.status(), 200);
    let idle = Duration::from_millis(300);
    let mut body = IdleTimeoutBody::new(response, idle);
    let first = body.next().await.unwrap()?;
    assert_eq!(&first[..], b"data: 1\n\n");
    let started = Instant::now();
    let err = body.next().await.unwrap().unwrap_err();
    assert!(
        matches!(err, UpstreamError::IdleTimeout(t) if t == idle),
        "{err:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(body.next().await.is_none());
    Ok(())
}

#[tokio::test]
async fn steady_chunks_keep_the_idle_timer_from_firing() -> Result<()> {
    // Five chunks 150 ms apart: the whole body takes longer than the idle timeout, no gap does.
    let server = TestServer::start(Behaviour::Trickle {
        count: 5,
        gap: Duration::from_millis(150),
    })
    .await?;
    let client = client(true)?;
    let response = client
        .send(
            client.request(Method::GET, server.url("127.0.0.1", "/")),
            HEADER_TIMEOUT,
        )
        .await?;
    let mut body = IdleTimeoutBody::new(response, Duration::from_millis(500));
    let mut received = Vec::new();
    while let Some(chunk) = body.next().await {
        received.extend_from_slice(&chunk?);
    }
    assert_eq!(received, b"xxxxx");
    Ok(())
}

/// A mock provider over HTTPS and a client trusting its authority through a PEM file, as
/// `gateway.upstream_ca_file` configures it.
async fn tls_mock_and_client() -> Result<(keyway_mock_provider::MockHandle, UpstreamClient)> {
    let mock = keyway_mock_provider::MockProvider::builder()
        .workers(1)
        .tls()
        .start("127.0.0.1:0".parse()?)
        .await?;
    let ca = tempfile::NamedTempFile::new()?;
    std::fs::write(ca.path(), mock.ca_pem().unwrap_or_default())?;
    let config = UpstreamConfig {
        allow_private: true,
        ..UpstreamConfig::default()
    }
    .trust_ca_file(ca.path())?;
    Ok((mock, UpstreamClient::new(&config)?))
}

#[tokio::test]
async fn an_operator_authority_reaches_https_upstreams_over_one_http2_connection() -> Result<()> {
    let (mock, client) = tls_mock_and_client().await?;
    let url = url(&format!("{}/v1/chat/completions", mock.base_url()));
    // Until a first connection has negotiated HTTP/2, concurrent requests each open their own.
    let first = client.request(
        Method::GET,
        self::url(&format!("{}/v1/models", mock.base_url())),
    );
    assert_eq!(
        client
            .send(first.bearer_auth("sk-test"), HEADER_TIMEOUT)
            .await?
            .status(),
        200
    );
    let requests = (0..16).map(|i| {
        let request = client
            .request(Method::POST, url.clone())
            .bearer_auth("sk-test")
            .json(&serde_json::json!({
                "model": "echo+delay-50",
                "messages": [{"role": "user", "content": format!("hi {i}")}],
            }));
        client.send(request, HEADER_TIMEOUT)
    });
    for response in futures_util::future::join_all(requests).await {
        let response = response?;
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        assert_eq!(response.status(), 200);
    }
    let stats = mock.stats();
    assert_eq!(stats.completed, 17);
    assert_eq!(
        stats.connections, 1,
        "16 concurrent requests, one connection"
    );
    Ok(())
}

#[tokio::test]
async fn https_upstreams_signed_by_an_unknown_authority_are_refused() -> Result<()> {
    let (mock, _) = tls_mock_and_client().await?;
    let untrusting = client(true)?;
    let url = url(&format!("{}/v1/models", mock.base_url()));
    let err = untrusting
        .send(
            untrusting.request(Method::GET, url).bearer_auth("sk-test"),
            HEADER_TIMEOUT,
        )
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("an unknown authority was accepted"))?;
    assert!(
        matches!(&err, UpstreamError::Http(inner) if inner.is_connect()),
        "{err:?}"
    );
    assert_eq!(mock.stats().started, 0);
    Ok(())
}

#[test]
fn an_unreadable_or_empty_ca_file_is_a_clear_error() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let missing = dir.path().join("missing.pem");
    let not_pem = dir.path().join("notes.txt");
    std::fs::write(&not_pem, "not a certificate\n")?;
    for (path, expected) in [
        (&missing, "No such file"),
        (&not_pem, "holds no PEM certificate"),
    ] {
        let err = UpstreamConfig::default()
            .trust_ca_file(path)
            .err()
            .ok_or_else(|| anyhow::anyhow!("{} was accepted", path.display()))?;
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("gateway.upstream_ca_file {}", path.display())),
            "{message}"
        );
        assert!(message.contains(expected), "{message}");
    }
    Ok(())
}

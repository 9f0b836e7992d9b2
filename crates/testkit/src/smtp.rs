//! A real SMTP server for tests, so mail is checked the way a relay would receive it.
//!
//! [`SmtpSink::start`] binds `127.0.0.1` on a free port and accepts every message (no TLS, no
//! AUTH). Point a mailer at [`SmtpSink::url`], then read what arrived with
//! [`SmtpSink::messages`] or [`SmtpSink::wait_for`].
//!
//! `mailin-embedded` 0.8 serves forever and has no shutdown hook, so the server thread stays
//! parked on its listener after the sink is dropped, until the test process exits. Each sink
//! has its own port and inbox, so tests running in parallel never see each other's mail.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use mailin_embedded::{Handler, Response, Server, response};
use tokio::sync::watch;

/// One message as the SMTP server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedEmail {
    /// Envelope sender (`MAIL FROM`), without angle brackets.
    pub from: String,
    /// Envelope recipients (`RCPT TO`), in the order given.
    pub recipients: Vec<String>,
    /// The message as transmitted after `DATA` (headers and body, CRLF line endings,
    /// dot-stuffing removed).
    pub data: String,
}

/// A running SMTP server on `127.0.0.1` that keeps every message it accepts.
#[derive(Debug)]
pub struct SmtpSink {
    addr: SocketAddr,
    inbox: watch::Sender<Vec<ReceivedEmail>>,
}

impl SmtpSink {
    /// Binds a free port on `127.0.0.1` and serves SMTP on a background thread.
    pub fn start() -> anyhow::Result<SmtpSink> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (inbox, _) = watch::channel(Vec::new());
        let mut server = Server::new(SinkHandler {
            inbox: inbox.clone(),
            current: None,
        });
        server
            .with_name("keyway-test-sink")
            .with_tcp_listener(listener);
        std::thread::Builder::new()
            .name(format!("smtp-sink-{}", addr.port()))
            .spawn(move || {
                if let Err(error) = server.serve() {
                    eprintln!("SMTP sink on {addr} stopped: {error}");
                }
            })?;
        Ok(SmtpSink { addr, inbox })
    }

    /// The URL to hand to a mailer: `smtp://127.0.0.1:PORT` (plain SMTP).
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedEmail> {
        self.inbox.borrow().clone()
    }

    /// Waits until at least `n` messages arrived or `timeout` passed, then returns all messages
    /// received so far (fewer than `n` on timeout: assert on the length).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedEmail> {
        let mut arrivals = self.inbox.subscribe();
        // On timeout the caller's assertion on the returned messages reports the shortfall.
        let _ = tokio::time::timeout(timeout, arrivals.wait_for(|inbox| inbox.len() >= n)).await;
        self.messages()
    }
}

/// mailin clones the handler for each connection, so `current` is per SMTP session while
/// `inbox` is shared by all of them.
#[derive(Clone)]
struct SinkHandler {
    inbox: watch::Sender<Vec<ReceivedEmail>>,
    current: Option<(ReceivedEmail, Vec<u8>)>,
}

impl Handler for SinkHandler {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        let envelope = ReceivedEmail {
            from: from.to_owned(),
            recipients: to.to_vec(),
            data: String::new(),
        };
        self.current = Some((envelope, Vec::new()));
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some((_, data)) = self.current.as_mut() {
            data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some((mut email, data)) = self.current.take() {
            email.data = String::from_utf8_lossy(&data).into_owned();
            self.inbox.send_modify(|inbox| inbox.push(email));
        }
        response::OK
    }
}

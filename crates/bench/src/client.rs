//! A minimal HTTP/1.1 keep-alive client: just enough to POST a prebuilt request and read a
//! `content-length` or chunked response. A general client (reqwest, hyper) would spend the
//! shared cores on pooling and header maps; this one costs one `write` and a few `read`s per
//! request, so the figures measure the servers, not the load generator.

use anyhow::{Context, Result, anyhow, bail};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The marker of an OpenAI stream chunk whose delta carries text; the role chunk's empty
/// `"content":""` is skipped by requiring a non-quote byte after it.
const CONTENT_MARKER: &[u8] = b"\"content\":\"";

/// What one exchange produced.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    /// HTTP status code.
    pub status: u16,
    /// From the first request byte written to the last response byte read.
    pub total: Duration,
    /// From the first request byte written to the first streamed chunk with text, when asked for.
    pub first_token: Option<Duration>,
}

/// One prebuilt POST request: the bytes are written as they are on every exchange.
#[derive(Debug, Clone)]
pub struct Request {
    addr: SocketAddr,
    bytes: Vec<u8>,
}

impl Request {
    /// A JSON POST to `path` on `addr` with a bearer token.
    pub fn post_json(addr: SocketAddr, path: &str, bearer: &str, body: &str) -> Self {
        let bytes = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {bearer}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes();
        Self { addr, bytes }
    }

    /// The server this request goes to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A keep-alive connection; reconnects by itself when the server closed it.
#[derive(Debug)]
pub struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    /// Opens a connection (with `TCP_NODELAY`, else Nagle adds tens of milliseconds).
    pub async fn connect(addr: SocketAddr) -> Result<Self> {
        let mut conn = Self {
            addr,
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
        };
        conn.open().await?;
        Ok(conn)
    }

    async fn open(&mut self) -> Result<()> {
        let stream = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        stream.set_nodelay(true)?;
        self.buf.clear();
        self.stream = Some(stream);
        Ok(())
    }

    /// Sends `req` and reads the whole response. With `ttft`, also times the first chunk that
    /// carries text.
    pub async fn exchange(&mut self, req: &Request, ttft: bool) -> Result<Exchange> {
        if self.stream.is_none() {
            self.open().await?;
        }
        let Self { stream, buf, .. } = self;
        let Some(stream) = stream.as_mut() else {
            bail!("no connection to {}", self.addr);
        };
        let start = Instant::now();
        let result = async {
            stream.write_all(&req.bytes).await?;
            read_response(stream, buf, start, ttft).await
        }
        .await;
        match result {
            Ok((exchange, keep_alive)) => {
                if !keep_alive {
                    self.stream = None;
                }
                Ok(exchange)
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }
}

/// Reads one response; returns it and whether the connection may be reused.
async fn read_response(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    start: Instant,
    ttft: bool,
) -> Result<(Exchange, bool)> {
    buf.clear();
    let head_len = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        fill(stream, buf).await?;
    };
    let head = Head::parse(&buf[..head_len])?;
    buf.drain(..head_len);
    let mut first_token = None;
    let mut seen = Vec::new();
    let mut on_body = |data: &[u8]| {
        if ttft && first_token.is_none() {
            let from = seen.len().saturating_sub(CONTENT_MARKER.len());
            seen.extend_from_slice(data);
            if has_text_chunk(&seen[from..]) {
                first_token = Some(start.elapsed());
            }
        }
    };
    let mut keep_alive = head.keep_alive;
    if head.chunked {
        read_chunked(stream, buf, &mut on_body).await?;
    } else if let Some(len) = head.content_length {
        while buf.len() < len {
            fill(stream, buf).await?;
        }
        on_body(&buf[..len]);
    } else {
        // Close-delimited body.
        while stream.read_buf(buf).await? > 0 {}
        on_body(buf);
        keep_alive = false;
    }
    let exchange = Exchange {
        status: head.status,
        total: start.elapsed(),
        first_token,
    };
    Ok((exchange, keep_alive))
}

async fn read_chunked(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    on_body: &mut impl FnMut(&[u8]),
) -> Result<()> {
    loop {
        let line_end = loop {
            if let Some(i) = find(buf, b"\r\n") {
                break i;
            }
            fill(stream, buf).await?;
        };
        let size_text = std::str::from_utf8(&buf[..line_end])?;
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .with_context(|| format!("bad chunk size line {size_text:?}"))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // No trailers from either server: the last chunk is followed by one empty line.
            while buf.len() < 2 {
                fill(stream, buf).await?;
            }
            buf.drain(..2);
            return Ok(());
        }
        while buf.len() < size + 2 {
            fill(stream, buf).await?;
        }
        on_body(&buf[..size]);
        buf.drain(..size + 2);
    }
}

async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<()> {
    buf.reserve(16 * 1024);
    if stream.read_buf(buf).await? == 0 {
        bail!("connection closed mid-response");
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn has_text_chunk(body: &[u8]) -> bool {
    let mut rest = body;
    while let Some(i) = find(rest, CONTENT_MARKER) {
        let after = i + CONTENT_MARKER.len();
        match rest.get(after) {
            Some(b'"') => rest = &rest[after..],
            Some(_) => return true,
            None => return false,
        }
    }
    false
}

/// The parts of a response head this client acts on.
struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
    keep_alive: bool,
}

impl Head {
    fn parse(bytes: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(bytes)?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("bad status line {status_line:?}"))?;
        let mut head = Self {
            status,
            content_length: None,
            chunked: false,
            keep_alive: true,
        };
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                head.content_length = Some(value.parse()?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                head.keep_alive = !value.eq_ignore_ascii_case("close");
            }
        }
        Ok(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_chunk_detection_skips_the_empty_role_chunk() {
        assert!(!has_text_chunk(
            br#"data: {"delta":{"role":"assistant","content":""}}"#
        ));
        assert!(has_text_chunk(
            br#"data: {"delta":{"content":""}} data: {"delta":{"content":"he"}}"#
        ));
        assert!(!has_text_chunk(br#"data: {"delta":{"content":"#));
    }
}

//! Spawning a mock per test and reading its SSE streams.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use keyway_mock_provider::{MockHandle, MockProvider, MockStats};
use serde_json::Value;

pub struct TestMock {
    pub handle: MockHandle,
    pub client: reqwest::Client,
}

pub async fn spawn() -> TestMock {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let handle = MockProvider::builder()
        .workers(2)
        .start(addr)
        .await
        .unwrap();
    TestMock {
        handle,
        client: reqwest::Client::new(),
    }
}

impl TestMock {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    pub async fn openai(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth("sk-test")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn anthropic(&self, body: Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/messages"))
            .header("x-api-key", "sk-ant-test")
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn gemini(&self, target: &str, query: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/v1beta/models/{target}?{query}")))
            .header("x-goog-api-key", "g-test")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Polls the counters until `done` holds (counting happens when the server notices).
    pub async fn wait_stats(&self, done: impl Fn(&MockStats) -> bool) -> MockStats {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stats = self.handle.stats();
            if done(&stats) {
                return stats;
            }
            assert!(Instant::now() < deadline, "stats never matched: {stats:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Reads a body to its end; `Err` when the server dropped the connection mid-body.
pub async fn read_body(res: reqwest::Response) -> (String, Result<(), reqwest::Error>) {
    let mut body = Vec::new();
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => body.extend_from_slice(&bytes),
            Err(e) => return (String::from_utf8(body).unwrap(), Err(e)),
        }
    }
    (String::from_utf8(body).unwrap(), Ok(()))
}

/// The `data:` payloads of an SSE body (`\n` or `\r\n` line endings), in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            frame
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data frame: {frame:?}"))
                .to_owned()
        })
        .collect()
}

/// `(event, data)` pairs of an Anthropic SSE body.
pub fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let mut lines = frame.lines();
            let event = lines.next().unwrap().strip_prefix("event: ").unwrap();
            let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
            assert!(lines.next().is_none());
            (event.to_owned(), serde_json::from_str(data).unwrap())
        })
        .collect()
}

pub fn user(text: &str) -> Value {
    serde_json::json!([{"role": "user", "content": text}])
}

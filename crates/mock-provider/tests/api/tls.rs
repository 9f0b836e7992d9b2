//! HTTPS: the mock answers over HTTP/2 or HTTP/1.1 as ALPN decides, only to clients that trust
//! the authority it made.

use std::net::SocketAddr;

use futures_util::future::join_all;
use keyway_mock_provider::{MockHandle, MockProvider};
use reqwest::{Certificate, Version};
use serde_json::json;

async fn spawn_tls() -> MockHandle {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    MockProvider::builder()
        .workers(1)
        .tls()
        .start(addr)
        .await
        .unwrap()
}

fn trusting(mock: &MockHandle) -> reqwest::ClientBuilder {
    let ca = Certificate::from_pem(mock.ca_pem().unwrap().as_bytes()).unwrap();
    reqwest::Client::builder().tls_certs_only([ca])
}

async fn chat(client: &reqwest::Client, mock: &MockHandle, text: &str) -> reqwest::Response {
    client
        .post(format!("{}/v1/chat/completions", mock.base_url()))
        .bearer_auth("sk-test")
        .json(&json!({"model": "echo", "messages": [{"role": "user", "content": text}]}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn concurrent_requests_share_one_http2_connection() {
    let mock = spawn_tls().await;
    assert!(mock.base_url().starts_with("https://127.0.0.1:"));
    let client = trusting(&mock).build().unwrap();
    // Until a first connection has negotiated HTTP/2, concurrent requests each open their own.
    assert_eq!(chat(&client, &mock, "first").await.status(), 200);
    let answers = join_all((0..8).map(|i| {
        let (client, mock) = (&client, &mock);
        async move {
            let resp = chat(client, mock, &format!("hello {i}")).await;
            assert_eq!(resp.version(), Version::HTTP_2);
            assert_eq!(resp.status(), 200);
            let body: serde_json::Value = resp.json().await.unwrap();
            body["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    }))
    .await;
    assert_eq!(
        answers,
        (0..8).map(|i| format!("hello {i}")).collect::<Vec<_>>()
    );
    let stats = mock.stats();
    assert_eq!(stats.completed, 9);
    assert_eq!(stats.connections, 1, "HTTP/2 multiplexes every request");
}

#[tokio::test]
async fn http1_only_clients_are_served_too() {
    let mock = spawn_tls().await;
    let client = trusting(&mock).http1_only().build().unwrap();
    let resp = chat(&client, &mock, "over http/1.1").await;
    assert_eq!(resp.version(), Version::HTTP_11);
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn clients_that_do_not_trust_its_authority_are_refused() {
    let mock = spawn_tls().await;
    let other = spawn_tls().await;
    // Trusting another mock's authority is not enough: each start makes a new one.
    let client = trusting(&other).build().unwrap();
    let err = client
        .post(format!("{}/v1/chat/completions", mock.base_url()))
        .bearer_auth("sk-test")
        .json(&json!({"model": "echo", "messages": []}))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert_eq!(mock.stats().started, 0);
}

//! The model-name grammar's timing and failure parts, and the counters that observe them.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use keyway_mock_provider::{MockProvider, MockStats};
use serde_json::{Value, json};

use crate::helpers::{read_body, spawn, sse_data, user};

#[tokio::test]
async fn delay_holds_back_the_response_headers() {
    let mock = spawn().await;
    let started = Instant::now();
    let res = mock
        .openai(
            "/v1/chat/completions",
            json!({"model": "echo+delay-150", "messages": user("x")}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn chunk_delay_spaces_the_chunks() {
    let mock = spawn().await;
    let started = Instant::now();
    let res = mock
        .openai(
            "/v1/chat/completions",
            json!({"model": "echo+chunks-5+chunk-delay-40", "stream": true, "messages": user("abcde")}),
        )
        .await;
    let (body, _) = read_body(res).await;
    assert!(started.elapsed() >= Duration::from_millis(4 * 40));
    assert_eq!(sse_data(&body).len(), 1 + 5 + 1 + 1);
}

#[tokio::test]
async fn small_frames_are_not_held_back_by_nagle() {
    let mock = spawn().await;
    // With Nagle on, each 1 ms-spaced frame waits for the previous frame's delayed ACK (~40 ms).
    let started = Instant::now();
    let res = mock
        .openai(
            "/v1/chat/completions",
            json!({"model": "echo+chunks-30+chunk-delay-1", "stream": true, "messages": user("abcdefghijklmnopqrstuvwxyz0123")}),
        )
        .await;
    let (body, end) = read_body(res).await;
    end.unwrap();
    assert_eq!(sse_data(&body).len(), 33);
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn cut_after_drops_the_stream_without_terminal_events() {
    let mock = spawn().await;
    let res = mock
        .openai(
            "/v1/chat/completions",
            json!({"model": "echo+chunks-4+cut-after-2", "stream": true,
                   "stream_options": {"include_usage": true}, "messages": user("abcdefgh")}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (body, end) = read_body(res).await;
    assert!(end.is_err(), "the body must end in a transport error");
    let data = sse_data(&body);
    assert_eq!(data.len(), 1 + 2, "role chunk plus two content chunks");
    assert!(!body.contains("[DONE]") && !body.contains("finish_reason\":\"stop"));

    let res = mock
        .anthropic(
            json!({"model": "echo+chunks-4+cut-after-1", "max_tokens": 8, "stream": true,
                          "messages": user("abcdefgh")}),
        )
        .await;
    let (body, end) = read_body(res).await;
    assert!(end.is_err());
    assert!(body.contains("content_block_delta") && !body.contains("message_stop"));

    let stats = mock.wait_stats(|s| s.cut == 2).await;
    assert_eq!(
        (stats.openai.cut, stats.anthropic.cut, stats.cancelled),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn cut_after_without_stream_drops_before_any_response() {
    let mock = spawn().await;
    let err = mock
        .client
        .post(mock.url("/v1/chat/completions"))
        .bearer_auth("k")
        .json(&json!({"model": "cut-after-0", "messages": user("x")}))
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_status(), "no HTTP response at all: {err}");
    mock.wait_stats(|s| s.openai.cut == 1).await;
}

#[tokio::test]
async fn client_giving_up_during_a_delay_counts_as_cancelled() {
    let mock = spawn().await;
    let res = mock
        .client
        .post(mock.url("/v1/chat/completions"))
        .bearer_auth("k")
        .timeout(Duration::from_millis(100))
        .json(&json!({"model": "delay-5000", "messages": user("x")}))
        .send()
        .await;
    assert!(res.unwrap_err().is_timeout());
    let stats = mock.wait_stats(|s| s.cancelled == 1).await;
    assert_eq!(
        (stats.started, stats.completed, stats.openai.cancelled),
        (1, 0, 1)
    );
}

#[tokio::test]
async fn stall_ends_only_when_the_client_leaves() {
    let mock = spawn().await;
    let res = mock
        .client
        .post(mock.url("/v1beta/models/stall:generateContent?key=k"))
        .timeout(Duration::from_millis(200))
        .json(&json!({"contents": [{"parts": [{"text": "x"}]}]}))
        .send()
        .await;
    assert!(res.unwrap_err().is_timeout());
    let stats = mock.wait_stats(|s| s.gemini.cancelled == 1).await;
    assert_eq!(stats.completed, 0);
}

#[tokio::test]
async fn dropping_a_stream_midway_counts_as_cancelled() {
    let mock = spawn().await;
    let res = mock
        .openai(
            "/v1/chat/completions",
            json!({"model": "echo+chunks-50+chunk-delay-50", "stream": true, "messages": user("x".repeat(50).as_str())}),
        )
        .await;
    let mut stream = res.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    drop(stream);
    let stats = mock.wait_stats(|s| s.cancelled == 1).await;
    assert_eq!((stats.started, stats.completed, stats.cut), (1, 0, 0));
}

#[tokio::test]
async fn stats_endpoint_matches_the_handle() {
    let mock = spawn().await;
    mock.openai(
        "/v1/chat/completions",
        json!({"model": "mock", "messages": user("x")}),
    )
    .await;
    mock.anthropic(json!({"model": "status-500", "max_tokens": 1, "messages": user("x")}))
        .await;
    let over_http: MockStats = mock
        .client
        .get(mock.url("/_mock/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http, mock.handle.stats());
    assert_eq!((over_http.started, over_http.completed), (2, 2));
    assert_eq!(
        (over_http.openai.completed, over_http.anthropic.completed),
        (1, 1)
    );
}

#[tokio::test]
async fn combined_parts_apply_together() {
    let mock = spawn().await;
    let started = Instant::now();
    let res = mock
        .openai(
            "/v1/chat/completions",
            json!({"model": "gpt-4o+echo+delay-60+chunks-2+status-429+retry-after-3", "stream": true,
                   "messages": user("hi")}),
        )
        .await;
    assert!(started.elapsed() >= Duration::from_millis(60));
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "3");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_closes_the_listener() {
    let handle = MockProvider::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("{}/_mock/stats", handle.base_url());
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    handle.stop().await;
    assert!(reqwest::get(&url).await.is_err());
}

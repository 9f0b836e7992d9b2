//! Azure OpenAI speaks OpenAI's Chat Completions format with extras (content-filter results,
//! a leading chunk with no choices); these fixtures in Azure's own shape go through the OpenAI
//! reader the gateway uses for Azure deployments.

mod common;

use common::*;
use keyway_providers::canonical::{FinishReason, Usage};
use keyway_providers::{Format, StreamEvent, azure};

#[test]
fn reads_an_azure_response_with_filter_results() {
    let resp = Format::OpenAi
        .parse_response(&fixture("azure/response.json"))
        .unwrap();
    assert_eq!(resp.model, "gpt-4o-mini-2024-07-18");
    assert_eq!(
        resp.choices[0].text.as_deref(),
        Some("Hello! How can I help?")
    );
    assert_eq!(resp.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(resp.usage.unwrap().input_tokens, 12);
}

#[test]
fn reads_an_azure_stream_with_its_leading_filter_chunk() {
    for chunk in [1, 50, 8192] {
        let events = read_stream(Format::OpenAi, &fixture("azure/stream.sse"), chunk);
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::TextDelta { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "Hello there", "chunk {chunk}");
        assert!(events.contains(&StreamEvent::Usage(Usage {
            input_tokens: 12,
            output_tokens: 2,
            ..Usage::default()
        })));
        assert_eq!(events.last(), Some(&StreamEvent::Done));
        assert!(!events.iter().any(|e| matches!(e, StreamEvent::Error(_))));
    }
}

#[test]
fn deployment_paths_carry_the_api_version() {
    assert_eq!(
        azure::request_path("prod-gpt4o", "chat/completions", azure::DEFAULT_API_VERSION),
        "/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21"
    );
    // A deployment name cannot break out of its path segment or the query.
    assert_eq!(
        azure::request_path("a/b?c", "embeddings", "2025-01-01-preview"),
        "/openai/deployments/a%2Fb%3Fc/embeddings?api-version=2025-01-01-preview"
    );
}

//! Cohere v2 Chat fixtures: request building, responses, SSE streams and errors.

mod common;

use common::*;
use keyway_providers::canonical::{ErrorKind, FinishReason, Usage};
use keyway_providers::{Format, StreamEvent, cohere, openai};
use serde_json::json;

#[test]
fn builds_the_v2_chat_body_from_an_openai_request() {
    let req = openai::parse_request(&fixture("cohere/openai_request.json")).unwrap();
    let body = cohere::build_request(&req).unwrap();
    // A forced tool becomes that tool alone with REQUIRED; top_p is `p`; the JSON schema goes
    // in `response_format.json_schema`.
    assert_eq!(json(&body), json(&fixture("cohere/chat_request.json")));
}

#[test]
fn assistant_text_next_to_tool_calls_is_the_tool_plan() {
    let req = openai::parse_request(
        json!({"model": "command-r", "tool_choice": "none", "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": "Let me check.", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "assistant", "content": "It is sunny."}]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let body = json(&cohere::build_request(&req).unwrap());
    assert_eq!(body["messages"][1]["tool_plan"], "Let me check.");
    assert!(body["messages"][1].get("content").is_none(), "{body}");
    assert_eq!(body["messages"][3]["content"], "It is sunny.");
    assert!(
        body.get("tool_choice").is_none(),
        "no tools, no tool choice: {body}"
    );
}

#[test]
fn refuses_more_than_one_choice() {
    let mut req = openai::parse_request(&fixture("cohere/openai_request.json")).unwrap();
    req.n = Some(3);
    let err = cohere::build_request(&req).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(
        err.to_string().contains("Cohere does not support `n`"),
        "{err}"
    );
}

#[test]
fn parses_responses_counting_billed_units() {
    let resp = cohere::parse_response(&fixture("cohere/response_text.json")).unwrap();
    assert_eq!(resp.id, "c14c80c3-18eb-4519-9460-6c92edd8cfb4");
    assert_eq!(
        resp.choices[0].text.as_deref(),
        Some("It is 18 C and cloudy in Paris.")
    );
    assert_eq!(resp.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(
        resp.usage,
        Some(Usage {
            input_tokens: 17,
            output_tokens: 11,
            ..Usage::default()
        })
    );

    let resp = cohere::parse_response(&fixture("cohere/response_tool.json")).unwrap();
    let choice = &resp.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(choice.text, None, "the tool plan is not answer text");
    assert_eq!(choice.tool_calls[0].name, "get_weather");
    assert_eq!(choice.tool_calls[0].arguments, r#"{"city":"Paris"}"#);
    assert_eq!(
        resp.usage.unwrap().input_tokens,
        37,
        "float counts are read"
    );

    // Rendered for an Anthropic client.
    let out = json(&Format::Anthropic.build_response(&resp).unwrap());
    assert_eq!(out["stop_reason"], "tool_use");
    assert_eq!(out["content"][0]["input"], json!({"city": "Paris"}));
}

#[test]
fn reads_text_and_tool_streams_split_anywhere() {
    for chunk in [1, 13, 4096] {
        let events = read_stream(Format::Cohere, &fixture("cohere/stream_text.sse"), chunk);
        assert_eq!(
            events,
            vec![
                StreamEvent::MessageStart {
                    id: "29f14a5a-11de-4cae-9800-25e4747408ea".into(),
                    model: String::new(),
                    created: None
                },
                StreamEvent::TextDelta {
                    choice: 0,
                    text: "It is".into()
                },
                StreamEvent::TextDelta {
                    choice: 0,
                    text: " cloudy.".into()
                },
                StreamEvent::Finish {
                    choice: 0,
                    reason: FinishReason::Stop,
                    stop_sequence: None
                },
                StreamEvent::Usage(Usage {
                    input_tokens: 9,
                    output_tokens: 3,
                    ..Usage::default()
                }),
                StreamEvent::Done,
            ]
        );
    }
    let events = read_stream(Format::Cohere, &fixture("cohere/stream_tool.sse"), 7);
    let args: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallDelta { arguments, .. } => Some(arguments.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(args, r#"{"city":"Paris"}"#);
    assert!(events.contains(&StreamEvent::ToolCallStart {
        choice: 0,
        index: 0,
        id: "get_weather_nsz5zm3w56q3".into(),
        name: "get_weather".into()
    }));
    assert!(events.contains(&StreamEvent::Finish {
        choice: 0,
        reason: FinishReason::ToolCalls,
        stop_sequence: None
    }));

    // Translated for an OpenAI client, the tool call streams as tool_calls deltas.
    let out = String::from_utf8(write_stream(Format::OpenAi, true, &events)).unwrap();
    assert!(out.contains(r#""finish_reason":"tool_calls""#), "{out}");
    assert!(out.ends_with("data: [DONE]\n\n"), "{out}");
}

#[test]
fn a_cut_stream_ends_with_an_error() {
    let full = fixture("cohere/stream_text.sse");
    let text = String::from_utf8(full).unwrap();
    let cut = &text[..text.find("event: content-end").unwrap()];
    let events = read_stream(Format::Cohere, cut.as_bytes(), 11);
    let Some(StreamEvent::Error(e)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(e.code.as_deref(), Some("stream_interrupted"));
    assert!(!events.contains(&StreamEvent::Done));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, StreamEvent::Finish { .. }))
    );
}

#[test]
fn reads_errors() {
    let e = Format::Cohere.parse_error(400, &fixture("cohere/error.json"));
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert!(e.message.starts_with("invalid request: message must be"));
    assert_eq!(
        json(&Format::Cohere.error_body(&e))["message"],
        e.message.as_str()
    );
}

//! OpenAI Chat Completions fixtures round-tripped through the canonical types.

mod common;

use common::*;
use keyway_providers::canonical::{
    ContentPart, FinishReason, ImageSource, Message, ResponseFormat, ToolChoice, Usage,
};
use keyway_providers::openai::{self, Dialect};
use keyway_providers::{Format, StreamEvent, TranslateError};

#[test]
fn request_fixture_parses_every_field() {
    let req = openai::parse_request(&fixture("openai/request.json")).unwrap();
    assert_eq!(req.model, "gpt-4o-mini");
    assert_eq!(req.messages.len(), 5);
    assert_eq!(
        req.messages[0],
        Message::System {
            content: vec![ContentPart::Text("You are a helpful assistant.".into())]
        }
    );
    let Message::User { content } = &req.messages[1] else {
        panic!("user message expected")
    };
    assert_eq!(
        content[1],
        ContentPart::Image(ImageSource::Url(
            "https://upload.wikimedia.org/wikipedia/commons/boston.jpg".into()
        ))
    );
    assert_eq!(
        content[2],
        ContentPart::Image(ImageSource::Base64 {
            media_type: "image/png".into(),
            data: "iVBORw0KGgo=".into()
        })
    );
    let Message::Assistant {
        tool_calls,
        content,
    } = &req.messages[2]
    else {
        panic!("assistant message expected")
    };
    assert!(content.is_empty());
    assert_eq!(tool_calls[0].id, "call_abc123");
    assert_eq!(tool_calls[0].name, "get_current_weather");
    assert!(
        matches!(&req.messages[3], Message::Tool { tool_call_id, .. } if tool_call_id == "call_abc123")
    );
    assert_eq!(req.tools[0].name, "get_current_weather");
    assert_eq!(req.tools[0].parameters["required"][0], "location");
    assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
    assert_eq!(req.temperature, Some(0.7));
    assert_eq!(req.top_p, Some(0.9));
    assert_eq!(req.max_tokens, Some(256));
    assert_eq!(req.stop, vec!["\n\nHuman:".to_string()]);
    assert_eq!((req.n, req.seed), (Some(1), Some(42)));
    assert!(req.stream && req.stream_usage);
    assert_eq!(req.user.as_deref(), Some("user-1234"));
    assert_eq!(req.metadata.get("team").map(String::as_str), Some("search"));
}

#[test]
fn request_round_trips_and_never_forwards_metadata() {
    let original = openai::parse_request(&fixture("openai/request.json")).unwrap();
    let built = openai::build_request(&original, Dialect::Compatible).unwrap();
    let wire = json(&built);
    assert!(
        wire.get("metadata").is_none(),
        "metadata is Keyway's, not upstream's"
    );
    assert_eq!(wire["stream_options"]["include_usage"], true);
    assert_eq!(wire["messages"][2]["content"], serde_json::Value::Null);
    assert_eq!(
        wire["messages"][1]["content"][2]["image_url"]["url"],
        "data:image/png;base64,iVBORw0KGgo="
    );
    let mut expected = original.clone();
    expected.metadata.clear();
    assert_eq!(openai::parse_request(&built).unwrap(), expected);
}

#[test]
fn json_schema_and_named_tool_choice_round_trip() {
    let req = openai::parse_request(&fixture("openai/request_json_schema.json")).unwrap();
    let Some(ResponseFormat::JsonSchema {
        name,
        schema,
        strict,
        ..
    }) = &req.response_format
    else {
        panic!("json_schema expected")
    };
    assert_eq!(name, "calendar_event");
    assert_eq!(schema["required"][2], "participants");
    assert_eq!(*strict, Some(true));
    assert_eq!(req.tool_choice, Some(ToolChoice::Tool("noop".into())));
    let built = openai::build_request(&req, Dialect::OpenAi).unwrap();
    assert_eq!(openai::parse_request(&built).unwrap(), req);
}

#[test]
fn streams_always_ask_upstream_for_usage() {
    let mut req = openai::parse_request(&fixture("openai/request.json")).unwrap();
    req.stream_usage = false;
    let wire = json(&openai::build_request(&req, Dialect::OpenAi).unwrap());
    assert_eq!(wire["stream"], true);
    assert_eq!(wire["stream_options"]["include_usage"], true);
}

#[test]
fn responses_round_trip_with_usage_details() {
    for name in [
        "openai/response_text.json",
        "openai/response_tool_calls.json",
    ] {
        let resp = openai::parse_response(&fixture(name)).unwrap();
        let built = openai::build_response(&resp).unwrap();
        assert_eq!(openai::parse_response(&built).unwrap(), resp, "{name}");
    }
    let text = openai::parse_response(&fixture("openai/response_text.json")).unwrap();
    assert_eq!(
        text.choices[0].text.as_deref(),
        Some("Hello! How can I assist you today?")
    );
    assert_eq!(text.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(
        text.usage,
        Some(Usage {
            input_tokens: 1219,
            output_tokens: 310,
            cached_read_tokens: 1024,
            cache_write_tokens: 0,
            reasoning_tokens: 192
        })
    );
    let tools = openai::parse_response(&fixture("openai/response_tool_calls.json")).unwrap();
    assert_eq!(
        tools.choices[0].finish_reason,
        Some(FinishReason::ToolCalls)
    );
    assert_eq!(tools.choices[0].tool_calls[0].name, "get_current_weather");
    assert_eq!(tools.choices[0].text, None);
}

#[test]
fn tool_call_stream_reads_into_canonical_events() {
    let events = read_stream(Format::OpenAi, &fixture("openai/stream_tool_calls.sse"), 7);
    assert_eq!(
        events,
        vec![
            StreamEvent::MessageStart {
                id: "chatcmpl-123".into(),
                model: "gpt-4o-mini".into(),
                created: Some(1694268190)
            },
            StreamEvent::ToolCallStart {
                choice: 0,
                index: 0,
                id: "call_DdmO9pD3xa9XTPNJ32zg2hcA".into(),
                name: "get_weather".into()
            },
            StreamEvent::ToolCallDelta {
                choice: 0,
                index: 0,
                arguments: "{\"".into()
            },
            StreamEvent::ToolCallDelta {
                choice: 0,
                index: 0,
                arguments: "location".into()
            },
            StreamEvent::ToolCallDelta {
                choice: 0,
                index: 0,
                arguments: "\":\"Paris, France\"}".into()
            },
            StreamEvent::Finish {
                choice: 0,
                reason: FinishReason::ToolCalls,
                stop_sequence: None
            },
            StreamEvent::Usage(Usage {
                input_tokens: 57,
                output_tokens: 17,
                ..Default::default()
            }),
            StreamEvent::Done,
        ]
    );
}

#[test]
fn stream_written_back_reads_the_same() {
    for name in ["openai/stream_tool_calls.sse", "openai/stream_text.sse"] {
        let events = read_stream(Format::OpenAi, &fixture(name), 64);
        let written = write_stream(Format::OpenAi, true, &events);
        assert_eq!(read_stream(Format::OpenAi, &written, 5), events, "{name}");
        assert!(written.ends_with(b"data: [DONE]\n\n"));
    }
}

#[test]
fn usage_chunk_only_when_the_caller_asked() {
    let events = read_stream(Format::OpenAi, &fixture("openai/stream_text.sse"), 64);
    let without = json_frames(&write_stream(Format::OpenAi, false, &events));
    assert!(without.iter().all(|(_, v)| v.get("usage").is_none()));
    let with = json_frames(&write_stream(Format::OpenAi, true, &events));
    let usage_frame = &with[with.len() - 2].1;
    assert_eq!(usage_frame["choices"], serde_json::json!([]));
    assert_eq!(usage_frame["usage"]["prompt_tokens"], 9);
    assert_eq!(usage_frame["usage"]["total_tokens"], 12);
}

#[test]
fn cut_stream_ends_with_an_error_not_done() {
    let full = fixture("openai/stream_text.sse");
    let text = String::from_utf8(full).unwrap();
    let cut = &text[..text.find("finish_reason\":\"stop").unwrap()];
    let events = read_stream(Format::OpenAi, cut.as_bytes(), 16);
    let StreamEvent::Error(err) = events.last().unwrap() else {
        panic!("cut stream must end with an error, got {events:?}")
    };
    assert_eq!(err.code.as_deref(), Some("stream_interrupted"));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, StreamEvent::Finish { .. } | StreamEvent::Done))
    );
    let written = String::from_utf8(write_stream(Format::OpenAi, true, &events)).unwrap();
    assert!(!written.contains("[DONE]"));
    assert!(!written.contains("\"finish_reason\":\"stop\""));
    let last = json_frames(written.as_bytes()).pop().unwrap().1;
    assert_eq!(last["error"]["code"], "stream_interrupted");
}

#[test]
fn upstream_error_event_mid_stream_is_an_error() {
    let body = b"data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\",\"code\":null}}\n\n";
    let events = read_stream(Format::OpenAi, body, 9);
    let StreamEvent::Error(e) = events.last().unwrap() else {
        panic!("{events:?}")
    };
    assert_eq!(e.message, "The server had an error");
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, StreamEvent::Error(_)))
            .count(),
        1
    );
}

#[test]
fn unknown_fields_are_refused_by_name() {
    let cases = [
        (r#"{"model":"m","messages":[],"logprobs":true}"#, "logprobs"),
        (
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"high"}}]}]}"#,
            "detail",
        ),
        (
            r#"{"model":"m","messages":[{"role":"user","content":"hi","name":"bob"}]}"#,
            "name",
        ),
        (
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}"#,
            "input_audio",
        ),
        (
            r#"{"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f","strict":true}}]}"#,
            "strict",
        ),
    ];
    for (body, field) in cases {
        let err = openai::parse_request(body.as_bytes()).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
}

#[test]
fn invalid_values_are_refused() {
    let both = r#"{"model":"m","messages":[],"max_tokens":1,"max_completion_tokens":2}"#;
    assert!(matches!(
        openai::parse_request(both.as_bytes()),
        Err(TranslateError::InvalidField { .. })
    ));
    let bad_image = r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,@@@"}}]}]}"#;
    let err = openai::parse_request(bad_image.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("messages[0].content[0]"), "{err}");
    let bad_choice = r#"{"model":"m","messages":[],"tool_choice":"sometimes"}"#;
    assert!(
        openai::parse_request(bad_choice.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("tool_choice")
    );
}

#[test]
fn error_fixture_reads_and_renders() {
    let e = openai::parse_error(401, &fixture("openai/error.json"));
    assert_eq!(e.kind.status(), 401);
    assert_eq!(e.code.as_deref(), Some("invalid_api_key"));
    let back = json(&Format::OpenAi.error_body(&e));
    assert_eq!(
        back["error"]["message"],
        json(&fixture("openai/error.json"))["error"]["message"]
    );
}

//! Anthropic Messages fixtures round-tripped through the canonical types.

mod common;

use common::*;
use keyway_providers::anthropic;
use keyway_providers::canonical::{
    ChatRequest, ContentPart, FinishReason, ImageSource, Message, ResponseFormat, ToolChoice, Usage,
};
use keyway_providers::{Format, StreamEvent, TranslateError};
use serde_json::json;

#[test]
fn request_fixture_parses_every_field() {
    let req = anthropic::parse_request(&fixture("anthropic/request.json")).unwrap();
    assert_eq!(req.model, "claude-sonnet-4-5");
    assert_eq!(req.max_tokens, Some(1024));
    assert_eq!(
        req.messages[0],
        Message::System {
            content: vec![
                ContentPart::Text("You are a weather assistant.".into()),
                ContentPart::Text("Answer briefly.".into())
            ]
        }
    );
    let Message::User { content } = &req.messages[1] else {
        panic!()
    };
    assert!(
        matches!(&content[0], ContentPart::Image(ImageSource::Base64 { media_type, .. }) if media_type == "image/jpeg")
    );
    assert!(matches!(
        &content[1],
        ContentPart::Image(ImageSource::Url(_))
    ));
    let Message::Assistant {
        content,
        tool_calls,
    } = &req.messages[2]
    else {
        panic!()
    };
    assert_eq!(content.len(), 1);
    assert_eq!(tool_calls[0].id, "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&tool_calls[0].arguments).unwrap(),
        json!({"location": "San Francisco, CA", "unit": "celsius"})
    );
    assert_eq!(
        req.messages[3],
        Message::Tool {
            tool_call_id: "toolu_01A09q90qw90lq917835lq9".into(),
            content: vec![ContentPart::Text("15 degrees".into())],
            is_error: false
        }
    );
    assert_eq!(
        req.messages[4],
        Message::User {
            content: vec![ContentPart::Text("Thanks! Is that warm?".into())]
        }
    );
    assert_eq!(req.tools[0].parameters["required"][0], "location");
    assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
    assert_eq!(req.stop, vec!["END".to_string()]);
    assert_eq!(req.user.as_deref(), Some("user-1234"));
    assert!(req.stream);
}

#[test]
fn request_round_trips() {
    let original = anthropic::parse_request(&fixture("anthropic/request.json")).unwrap();
    let built = anthropic::build_request(&original).unwrap();
    let wire = json(&built);
    // The tool result and the follow-up text share one user turn, tool result first.
    assert_eq!(wire["messages"][2]["content"][0]["type"], "tool_result");
    assert_eq!(wire["messages"][2]["content"][1]["type"], "text");
    assert_eq!(anthropic::parse_request(&built).unwrap(), original);
}

fn user(text: &str) -> ChatRequest {
    ChatRequest {
        model: "claude-haiku-4-5".into(),
        messages: vec![Message::User {
            content: vec![ContentPart::Text(text.into())],
        }],
        ..Default::default()
    }
}

#[test]
fn missing_max_tokens_gets_the_documented_default() {
    let wire = json(&anthropic::build_request(&user("hi")).unwrap());
    assert_eq!(wire["max_tokens"], anthropic::DEFAULT_MAX_TOKENS);
    assert_eq!(wire["messages"], json!([{"role": "user", "content": "hi"}]));
}

#[test]
fn what_anthropic_cannot_do_is_refused_with_a_400() {
    let mut n = user("hi");
    n.n = Some(2);
    let err = anthropic::build_request(&n).unwrap_err();
    assert!(matches!(
        err,
        TranslateError::Unsupported {
            format: Format::Anthropic,
            ..
        }
    ));
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("`n`"), "{err}");
    let mut one = user("hi");
    one.n = Some(1);
    assert!(anthropic::build_request(&one).is_ok());
    let mut seed = user("hi");
    seed.seed = Some(1);
    assert!(
        anthropic::build_request(&seed)
            .unwrap_err()
            .to_string()
            .contains("seed")
    );
    let mut json_mode = user("hi");
    json_mode.response_format = Some(ResponseFormat::JsonObject);
    assert!(
        anthropic::build_request(&json_mode)
            .unwrap_err()
            .to_string()
            .contains("response_format")
    );
}

#[test]
fn unknown_fields_are_refused_by_name() {
    let cases = [
        (
            r#"{"model":"m","max_tokens":5,"messages":[],"top_k":3}"#,
            "top_k",
        ),
        (
            r#"{"model":"m","max_tokens":5,"messages":[],"thinking":{"type":"enabled","budget_tokens":1024}}"#,
            "thinking",
        ),
        (
            r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}]}"#,
            "cache_control",
        ),
        (
            r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}"#,
            "document",
        ),
        (r#"{"model":"m","messages":[]}"#, "max_tokens"),
    ];
    for (body, field) in cases {
        let err = anthropic::parse_request(body.as_bytes()).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
    let parallel = r#"{"model":"m","max_tokens":5,"messages":[],"tool_choice":{"type":"auto","disable_parallel_tool_use":true}}"#;
    assert!(
        anthropic::parse_request(parallel.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("disable_parallel_tool_use")
    );
}

#[test]
fn responses_round_trip_with_cache_usage_and_stop_sequence() {
    for name in [
        "anthropic/response_text.json",
        "anthropic/response_tool_use.json",
    ] {
        let resp = anthropic::parse_response(&fixture(name)).unwrap();
        let built = anthropic::build_response(&resp).unwrap();
        assert_eq!(anthropic::parse_response(&built).unwrap(), resp, "{name}");
        let (orig, back) = (json(&fixture(name)), json(&built));
        for key in ["id", "model", "content", "stop_reason", "stop_sequence"] {
            assert_eq!(orig[key], back[key], "{name}: {key}");
        }
    }
    let text = anthropic::parse_response(&fixture("anthropic/response_text.json")).unwrap();
    assert_eq!(text.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(text.choices[0].stop_sequence.as_deref(), Some("END"));
    assert_eq!(
        text.usage,
        Some(Usage {
            input_tokens: 21 + 188086 + 1024,
            output_tokens: 393,
            cached_read_tokens: 1024,
            cache_write_tokens: 188086,
            reasoning_tokens: 0
        })
    );
    let back = json(&anthropic::build_response(&text).unwrap());
    assert_eq!(back["usage"]["input_tokens"], 21);
    let tool = anthropic::parse_response(&fixture("anthropic/response_tool_use.json")).unwrap();
    assert_eq!(tool.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(tool.choices[0].tool_calls[0].name, "get_weather");
}

#[test]
fn stream_maps_block_indexes_to_tool_calls() {
    let events = read_stream(
        Format::Anthropic,
        &fixture("anthropic/stream_tool_use.sse"),
        11,
    );
    assert_eq!(
        without_usage(&events),
        vec![
            StreamEvent::MessageStart {
                id: "msg_014p7gG3wDgGV9EUtLvnow3U".into(),
                model: "claude-sonnet-4-5-20250929".into(),
                created: None
            },
            StreamEvent::TextDelta {
                choice: 0,
                text: "Okay".into()
            },
            StreamEvent::TextDelta {
                choice: 0,
                text: ", let's check the weather for San Francisco, CA:".into()
            },
            StreamEvent::ToolCallStart {
                choice: 0,
                index: 0,
                id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6".into(),
                name: "get_weather".into()
            },
            StreamEvent::ToolCallDelta {
                choice: 0,
                index: 0,
                arguments: "{\"location\":".into()
            },
            StreamEvent::ToolCallDelta {
                choice: 0,
                index: 0,
                arguments: " \"San Francisco, CA\"}".into()
            },
            StreamEvent::Finish {
                choice: 0,
                reason: FinishReason::ToolCalls,
                stop_sequence: None
            },
            StreamEvent::Done,
        ]
    );
    assert_eq!(
        last_usage(&events),
        Some(Usage {
            input_tokens: 572,
            output_tokens: 89,
            cached_read_tokens: 100,
            ..Default::default()
        })
    );
}

#[test]
fn stream_written_back_reads_the_same() {
    let events = read_stream(
        Format::Anthropic,
        &fixture("anthropic/stream_tool_use.sse"),
        64,
    );
    let written = write_stream(Format::Anthropic, false, &events);
    let again = read_stream(Format::Anthropic, &written, 3);
    assert_eq!(without_usage(&again), without_usage(&events));
    assert_eq!(last_usage(&again), last_usage(&events));
    // Same frame sequence as the upstream, minus the ping and the empty json delta.
    let names: Vec<_> = frames(&written)
        .into_iter()
        .map(|(e, _)| e.unwrap())
        .collect();
    let upstream: Vec<_> = frames(&fixture("anthropic/stream_tool_use.sse"))
        .into_iter()
        .filter(|(e, d)| e.as_deref() != Some("ping") && !d.contains("\"partial_json\":\"\""))
        .map(|(e, _)| e.unwrap())
        .collect();
    assert_eq!(names, upstream);
}

#[test]
fn cut_stream_ends_with_an_error_event_and_no_message_stop() {
    let full = String::from_utf8(fixture("anthropic/stream_tool_use.sse")).unwrap();
    let cut = &full[..full.find("event: message_delta").unwrap()];
    let events = read_stream(Format::Anthropic, cut.as_bytes(), 13);
    assert!(
        matches!(events.last(), Some(StreamEvent::Error(_))),
        "{events:?}"
    );
    let written = frames(&write_stream(Format::Anthropic, false, &events));
    let (last_name, last_data) = written.last().unwrap();
    assert_eq!(last_name.as_deref(), Some("error"));
    assert_eq!(json(last_data.as_bytes())["error"]["type"], "api_error");
    assert!(
        written
            .iter()
            .all(|(e, _)| !matches!(e.as_deref(), Some("message_stop" | "message_delta")))
    );
}

#[test]
fn upstream_error_event_is_read() {
    let body = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":1}}}\n\nevent: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n";
    let events = read_stream(Format::Anthropic, body, 10);
    let StreamEvent::Error(e) = events.last().unwrap() else {
        panic!("{events:?}")
    };
    assert_eq!(e.kind.status(), 503);
    assert_eq!(e.message, "Overloaded");
}

#[test]
fn error_fixture_reads_and_renders() {
    let e = anthropic::parse_error(404, &fixture("anthropic/error.json"));
    assert_eq!(e.kind.status(), 404);
    assert_eq!(
        json(&Format::Anthropic.error_body(&e)),
        json(&fixture("anthropic/error.json"))
    );
}

//! Gemini generateContent fixtures round-tripped through the canonical types.

mod common;

use common::*;
use keyway_providers::canonical::{
    ChatRequest, ContentPart, FinishReason, ImageSource, Message, ResponseFormat, ToolChoice, Usage,
};
use keyway_providers::gemini;
use keyway_providers::{Format, StreamEvent};
use serde_json::json;

#[test]
fn request_fixture_parses_every_field() {
    let req =
        gemini::parse_request(&fixture("gemini/request.json"), "gemini-2.5-flash", false).unwrap();
    assert_eq!(req.model, "gemini-2.5-flash");
    assert!(matches!(&req.messages[0], Message::System { .. }));
    let Message::User { content } = &req.messages[1] else {
        panic!()
    };
    assert!(
        matches!(&content[1], ContentPart::Image(ImageSource::Base64 { media_type, .. }) if media_type == "image/jpeg")
    );
    let Message::Assistant { tool_calls, .. } = &req.messages[2] else {
        panic!()
    };
    assert_eq!(tool_calls[0].name, "find_theaters");
    let Message::Tool {
        tool_call_id,
        content,
        is_error,
    } = &req.messages[3]
    else {
        panic!()
    };
    assert_eq!(
        tool_call_id, &tool_calls[0].id,
        "the response is paired with its call"
    );
    assert!(!is_error);
    let ContentPart::Text(result) = &content[0] else {
        panic!()
    };
    assert_eq!(json(result.as_bytes())["content"]["movie"], "Barbie");
    assert_eq!(req.tools[0].name, "find_theaters");
    assert_eq!(
        req.tool_choice,
        Some(ToolChoice::Tool("find_theaters".into()))
    );
    assert_eq!(
        (req.temperature, req.top_p, req.max_tokens),
        (Some(1.0), Some(0.8), Some(800))
    );
    assert_eq!(req.stop, vec!["Title".to_string()]);
    assert_eq!((req.n, req.seed), (Some(1), Some(7)));
}

#[test]
fn requests_round_trip() {
    for name in ["gemini/request.json", "gemini/request_json.json"] {
        let original = gemini::parse_request(&fixture(name), "gemini-2.5-flash", true).unwrap();
        let built = gemini::build_request(&original).unwrap();
        assert_eq!(
            gemini::parse_request(&built, "gemini-2.5-flash", true).unwrap(),
            original,
            "{name}"
        );
    }
    let original = gemini::parse_request(&fixture("gemini/request.json"), "m", false).unwrap();
    let built = json(&gemini::build_request(&original).unwrap());
    assert_eq!(
        built["contents"][2]["parts"][0]["functionResponse"]["response"],
        json(&fixture("gemini/request.json"))["contents"][2]["parts"][0]["functionResponse"]["response"]
    );
}

#[test]
fn json_mode_maps_to_response_schema() {
    let req = gemini::parse_request(&fixture("gemini/request_json.json"), "m", false).unwrap();
    let Some(ResponseFormat::JsonSchema { schema, .. }) = &req.response_format else {
        panic!()
    };
    assert_eq!(schema["type"], "ARRAY");
    let mut obj = req.clone();
    obj.response_format = Some(ResponseFormat::JsonObject);
    let wire = json(&gemini::build_request(&obj).unwrap());
    assert_eq!(
        wire["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );
}

#[test]
fn path_carries_model_and_stream() {
    assert_eq!(
        gemini::request_path("gemini-2.5-flash", false),
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(
        gemini::request_path("gemini-2.5-flash", true),
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    // A model name cannot break out of its path segment or add a query.
    assert_eq!(
        gemini::request_path("../x?key=1", false),
        "/v1beta/models/..%2Fx%3Fkey%3D1:generateContent"
    );
}

#[test]
fn refusals_name_the_problem() {
    let url_image = ChatRequest {
        model: "m".into(),
        messages: vec![Message::User {
            content: vec![ContentPart::Image(ImageSource::Url(
                "https://x/y.png".into(),
            ))],
        }],
        ..Default::default()
    };
    let err = gemini::build_request(&url_image).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("image URLs"), "{err}");
    let cases = [
        (r#"{"contents":[],"safetySettings":[]}"#, "safetySettings"),
        (
            r#"{"contents":[{"role":"user","parts":[{"text":"a","inlineData":{"mimeType":"image/png","data":"AA=="}}]}]}"#,
            "exactly one",
        ),
        (
            r#"{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}}]}]}"#,
            "answers no earlier functionCall",
        ),
        (
            r#"{"contents":[],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["a","b"]}}}"#,
            "allowed function names",
        ),
        (r#"{"contents":[],"generationConfig":{"topK":3}}"#, "topK"),
    ];
    for (body, needle) in cases {
        let err = gemini::parse_request(body.as_bytes(), "m", false).unwrap_err();
        assert!(err.to_string().contains(needle), "{needle}: {err}");
    }
}

#[test]
fn responses_round_trip_with_usage() {
    for name in [
        "gemini/response_text.json",
        "gemini/response_function_call.json",
    ] {
        let resp = gemini::parse_response(&fixture(name)).unwrap();
        let built = gemini::build_response(&resp).unwrap();
        assert_eq!(gemini::parse_response(&built).unwrap(), resp, "{name}");
    }
    let text = gemini::parse_response(&fixture("gemini/response_text.json")).unwrap();
    assert_eq!(text.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(
        text.usage,
        Some(Usage {
            input_tokens: 4120,
            output_tokens: 11 + 440,
            cached_read_tokens: 4096,
            cache_write_tokens: 0,
            reasoning_tokens: 440
        })
    );
    let call = gemini::parse_response(&fixture("gemini/response_function_call.json")).unwrap();
    assert_eq!(call.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(
        json(call.choices[0].tool_calls[0].arguments.as_bytes())["movie"],
        "Barbie"
    );
}

#[test]
fn blocked_prompt_is_a_content_filter_choice() {
    let body =
        br#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":5}}"#;
    let resp = gemini::parse_response(body).unwrap();
    assert_eq!(
        resp.choices[0].finish_reason,
        Some(FinishReason::ContentFilter)
    );
}

#[test]
fn stream_ends_with_done_only_after_a_finish_reason() {
    let events = read_stream(Format::Gemini, &fixture("gemini/stream_text.sse"), 17);
    assert_eq!(
        without_usage(&events),
        vec![
            StreamEvent::MessageStart {
                id: "abc123".into(),
                model: "gemini-2.5-flash".into(),
                created: None
            },
            StreamEvent::TextDelta {
                choice: 0,
                text: "The".into()
            },
            StreamEvent::TextDelta {
                choice: 0,
                text: " quick brown fox".into()
            },
            StreamEvent::TextDelta {
                choice: 0,
                text: " jumps.".into()
            },
            StreamEvent::Finish {
                choice: 0,
                reason: FinishReason::Stop,
                stop_sequence: None
            },
            StreamEvent::Done,
        ]
    );
    assert_eq!(
        last_usage(&events),
        Some(Usage {
            input_tokens: 8,
            output_tokens: 16,
            reasoning_tokens: 10,
            ..Default::default()
        })
    );
    let written = write_stream(Format::Gemini, false, &events);
    let again = read_stream(Format::Gemini, &written, 9);
    assert_eq!(without_usage(&again), without_usage(&events));
    assert_eq!(last_usage(&again), last_usage(&events));

    let full = String::from_utf8(fixture("gemini/stream_text.sse")).unwrap();
    let cut = &full[..full.rfind("data:").unwrap()];
    let events = read_stream(Format::Gemini, cut.as_bytes(), 17);
    let Some(StreamEvent::Error(e)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(e.code.as_deref(), Some("stream_interrupted"));
    let out = frames(&write_stream(Format::Gemini, false, &events));
    assert!(json(out.last().unwrap().1.as_bytes())["error"]["code"] == 500);
}

#[test]
fn error_fixture_reads_and_renders() {
    let e = gemini::parse_error(429, &fixture("gemini/error.json"));
    assert_eq!(e.kind.status(), 429);
    assert_eq!(
        json(&Format::Gemini.error_body(&e)),
        json(&fixture("gemini/error.json"))
    );
}

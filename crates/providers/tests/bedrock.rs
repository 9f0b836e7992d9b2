//! Bedrock Converse fixtures: request building, response and ConverseStream reading (AWS
//! event-stream framing, checksums included), errors, and SigV4 against AWS's test vectors.
#![allow(clippy::unwrap_used, reason = "helpers fail the test loudly")]

mod common;

use common::*;
use keyway_providers::canonical::{ErrorKind, FinishReason, Usage};
use keyway_providers::eventstream::{EventMessage, EventStreamDecoder};
use keyway_providers::sigv4::{self, AwsCredentials, Scope, SignableRequest};
use keyway_providers::{Format, StreamEvent, StreamReader, bedrock, openai};
use serde_json::{Value, json};
use std::time::{Duration, UNIX_EPOCH};

fn openai_request(path: &str) -> keyway_providers::ChatRequest {
    openai::parse_request(&fixture(path)).unwrap()
}

#[test]
fn builds_the_converse_body_from_an_openai_request() {
    let req = openai_request("bedrock/openai_request.json");
    let body = bedrock::build_request(&req).unwrap();
    assert_eq!(json(&body), json(&fixture("bedrock/converse_request.json")));
    assert_eq!(
        bedrock::request_path(&req.model, false),
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    );
    assert_eq!(
        bedrock::request_path("us.amazon.nova-lite-v1:0", true),
        "/model/us.amazon.nova-lite-v1%3A0/converse-stream"
    );
}

#[test]
fn refuses_what_converse_cannot_do() {
    let base = openai_request("bedrock/openai_request.json");
    let mut n = base.clone();
    n.n = Some(2);
    let err = bedrock::build_request(&n).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("`n` greater than 1"), "{err}");
    assert_eq!(
        err.to_api_error().code.as_deref(),
        Some("unsupported_parameter")
    );

    let mut seed = base.clone();
    seed.seed = Some(1);
    assert!(bedrock::build_request(&seed).is_err());

    let url_image = openai::parse_request(
        json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let err = bedrock::build_request(&url_image).unwrap_err();
    assert!(err.to_string().contains("image URLs"), "{err}");

    let json_mode = openai::parse_request(
        json!({"model": "m", "response_format": {"type": "json_object"},
               "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    assert!(bedrock::build_request(&json_mode).is_err());
}

#[test]
fn parses_text_and_tool_responses_with_cached_usage() {
    let resp = bedrock::parse_response(&fixture("bedrock/response_text.json")).unwrap();
    let choice = &resp.choices[0];
    assert_eq!(
        choice.text.as_deref(),
        Some("Tomorrow will be sunny in Paris, around 21 C.")
    );
    assert_eq!(choice.finish_reason, Some(FinishReason::Stop));
    // Converse's inputTokens exclude cache reads; canonical input counts every prompt token.
    assert_eq!(
        resp.usage,
        Some(Usage {
            input_tokens: 225,
            output_tokens: 14,
            cached_read_tokens: 100,
            ..Usage::default()
        })
    );

    let resp = bedrock::parse_response(&fixture("bedrock/response_tool.json")).unwrap();
    let choice = &resp.choices[0];
    assert_eq!(choice.text.as_deref(), Some("Let me look that up."));
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(choice.tool_calls[0].id, "tooluse_2SZv3-ZHQbWsNiv6cxUhkQ");
    assert_eq!(
        json(choice.tool_calls[0].arguments.as_bytes()),
        json!({"city": "Paris", "day": "tomorrow"})
    );

    // Rendered for an OpenAI client, the tool call survives.
    let out = json(&Format::OpenAi.build_response(&resp).unwrap());
    assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        out["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
}

#[test]
fn reads_errors() {
    let e = Format::Bedrock.parse_error(400, &fixture("bedrock/error.json"));
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert!(
        e.message
            .starts_with("The model returned the following errors")
    );
    let e = Format::Bedrock.parse_error(429, b"Too many requests");
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.message, "Too many requests");
}

fn stream_fixture() -> Vec<u8> {
    let events: Vec<(String, Value)> =
        serde_json::from_slice(&fixture("bedrock/stream_tool.json")).unwrap();
    events
        .iter()
        .flat_map(|(kind, payload)| {
            EventMessage::new(
                &[
                    (":event-type", kind.as_str()),
                    (":content-type", "application/json"),
                    (":message-type", "event"),
                ],
                payload.to_string(),
            )
            .encode()
        })
        .collect()
}

#[test]
fn reads_a_converse_stream_split_anywhere() {
    let bytes = stream_fixture();
    for chunk in [1, 7, 64, bytes.len()] {
        let events = read_stream(Format::Bedrock, &bytes, chunk);
        assert_eq!(
            events,
            vec![
                StreamEvent::MessageStart {
                    id: String::new(),
                    model: String::new(),
                    created: None
                },
                StreamEvent::TextDelta {
                    choice: 0,
                    text: "Let me ".into()
                },
                StreamEvent::TextDelta {
                    choice: 0,
                    text: "check.".into()
                },
                StreamEvent::ToolCallStart {
                    choice: 0,
                    index: 0,
                    id: "tooluse_Q1".into(),
                    name: "get_weather".into()
                },
                StreamEvent::ToolCallDelta {
                    choice: 0,
                    index: 0,
                    arguments: "{\"city\":".into()
                },
                StreamEvent::ToolCallDelta {
                    choice: 0,
                    index: 0,
                    arguments: "\"Paris\"}".into()
                },
                StreamEvent::Finish {
                    choice: 0,
                    reason: FinishReason::ToolCalls,
                    stop_sequence: None
                },
                StreamEvent::Usage(Usage {
                    input_tokens: 420,
                    output_tokens: 31,
                    ..Usage::default()
                }),
                StreamEvent::Done,
            ],
            "chunk size {chunk}"
        );
    }
}

#[test]
fn a_cut_stream_ends_with_an_error_never_a_stop() {
    let bytes = stream_fixture();
    // Cut inside a message: the partial message is reported.
    let events = read_stream(Format::Bedrock, &bytes[..bytes.len() / 2], 10);
    let Some(StreamEvent::Error(e)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(e.code.as_deref(), Some("stream_interrupted"));
    assert!(e.message.contains("mid-message"), "{}", e.message);
    assert!(!events.contains(&StreamEvent::Done));

    // Cut cleanly between messages, before messageStop.
    let first_two: Vec<u8> = EventMessage::new(&[(":event-type", "messageStart")], "{}")
        .encode()
        .into_iter()
        .chain(
            EventMessage::new(
                &[(":event-type", "contentBlockDelta")],
                r#"{"contentBlockIndex":0,"delta":{"text":"hi"}}"#,
            )
            .encode(),
        )
        .collect();
    let events = read_stream(Format::Bedrock, &first_two, 5);
    assert!(
        matches!(events.last(), Some(StreamEvent::Error(e)) if e.message.contains("no messageStop")),
        "{events:?}"
    );
}

#[test]
fn checksum_failures_are_unreadable_upstream_payloads() {
    let good = EventMessage::new(
        &[(":event-type", "contentBlockDelta")],
        r#"{"contentBlockIndex":0,"delta":{"text":"hi"}}"#,
    )
    .encode();

    let mut payload_flip = good.clone();
    let at = payload_flip.len() - 6;
    payload_flip[at] ^= 0x01;
    let err = EventStreamDecoder::default()
        .push(&payload_flip)
        .unwrap_err();
    assert!(
        err.to_string().contains("message checksum mismatch"),
        "{err}"
    );
    assert_eq!(err.status(), 502);

    let mut prelude_flip = good.clone();
    prelude_flip[3] ^= 0x10;
    let err = EventStreamDecoder::default()
        .push(&prelude_flip)
        .unwrap_err();
    assert!(
        err.to_string().contains("prelude checksum mismatch"),
        "{err}"
    );

    // Through the reader the gateway uses, the error surfaces as soon as the bad message
    // is complete.
    let mut reader = StreamReader::new(Format::Bedrock);
    assert!(reader.push(&payload_flip).is_err());
}

#[test]
fn exceptions_in_the_stream_become_error_events() {
    let mut bytes = EventMessage::new(&[(":event-type", "messageStart")], "{}").encode();
    bytes.extend(
        EventMessage::new(
            &[
                (":message-type", "exception"),
                (":exception-type", "throttlingException"),
                (":content-type", "application/json"),
            ],
            r#"{"message":"Too many tokens, please wait before trying again."}"#,
        )
        .encode(),
    );
    let events = read_stream(Format::Bedrock, &bytes, 9);
    let Some(StreamEvent::Error(e)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(e.kind, ErrorKind::RateLimited);
    assert_eq!(e.code.as_deref(), Some("throttlingException"));
    assert_eq!(events.len(), 2, "{events:?}");

    // Service errors carry code and message in headers, not in the payload.
    let bytes = EventMessage::new(
        &[
            (":message-type", "error"),
            (":error-code", "InternalFailure"),
            (":error-message", "The request processing has failed."),
        ],
        Vec::new(),
    )
    .encode();
    let events = read_stream(Format::Bedrock, &bytes, 4);
    let [StreamEvent::Error(e)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(e.kind, ErrorKind::Server);
    assert_eq!(e.message, "The request processing has failed.");
    assert_eq!(e.code.as_deref(), Some("InternalFailure"));
}

// ---------------------------------------------------------------- SigV4

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn vector(method: &str, path: &str, query: &str) -> String {
    let creds = AwsCredentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: SECRET.into(),
        session_token: None,
    };
    let headers = sigv4::sign(
        &creds,
        Scope {
            region: "us-east-1",
            service: "service",
            time: UNIX_EPOCH + Duration::from_secs(1_440_938_160),
        },
        &SignableRequest {
            method,
            host: "example.amazonaws.com",
            path,
            query,
            headers: &[],
            body: b"",
        },
    );
    assert_eq!(headers[0], ("x-amz-date", "20150830T123600Z".to_owned()));
    headers
        .into_iter()
        .find(|(k, _)| *k == "authorization")
        .unwrap()
        .1
}

/// The published vectors of AWS's SigV4 test suite (aws-sig-v4-test-suite), credentials
/// `AKIDEXAMPLE`, 2015-08-30T12:36:00Z, us-east-1, service `service`.
#[test]
fn sigv4_matches_the_aws_test_suite() {
    let prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=";
    for (name, method, path, query, signature) in [
        (
            "get-vanilla",
            "GET",
            "/",
            "",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "get-vanilla-query-order-key-case",
            "GET",
            "/",
            "Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        (
            "post-vanilla",
            "POST",
            "/",
            "",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
        (
            "get-utf8",
            "GET",
            "/ሴ",
            "",
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
        ),
    ] {
        assert_eq!(
            vector(method, path, query),
            format!("{prefix}{signature}"),
            "{name}"
        );
    }
}

/// The worked example of AWS's SigV4 guide: IAM `ListUsers`, with a signed `content-type`.
#[test]
fn sigv4_matches_the_iam_worked_example() {
    let creds = AwsCredentials::parse(&format!("AKIDEXAMPLE:{SECRET}")).unwrap();
    let headers = sigv4::sign(
        &creds,
        Scope {
            region: "us-east-1",
            service: "iam",
            time: UNIX_EPOCH + Duration::from_secs(1_440_938_160),
        },
        &SignableRequest {
            method: "GET",
            host: "iam.amazonaws.com",
            path: "/",
            query: "Action=ListUsers&Version=2010-05-08",
            headers: &[(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            body: b"",
        },
    );
    assert_eq!(
        headers.last().unwrap().1,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, \
         Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    );
}

#[test]
fn sigv4_signing_key_matches_the_documented_derivation() {
    assert_eq!(
        hex(&sigv4::signing_key(
            SECRET,
            "20150830",
            "us-east-1",
            "service"
        )),
        "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75"
    );
    // AWS's IAM example (the "Create a signature" page of the SigV4 guide).
    assert_eq!(
        hex(&sigv4::signing_key(SECRET, "20150830", "us-east-1", "iam")),
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    );
}

#[test]
fn sigv4_for_bedrock_signs_the_double_encoded_path_and_session_token() {
    let creds = AwsCredentials::parse("AKIDEXAMPLE:secret:session-token").unwrap();
    let sign = |path: &str| {
        sigv4::sign(
            &creds,
            Scope {
                region: "eu-west-1",
                service: bedrock::SIGNING_SERVICE,
                time: UNIX_EPOCH + Duration::from_secs(1_764_979_200),
            },
            &SignableRequest {
                method: "POST",
                host: "bedrock-runtime.eu-west-1.amazonaws.com",
                path,
                query: "",
                headers: &[("Content-Type", "application/json")],
                body: b"{}",
            },
        )
    };
    let headers = sign(&bedrock::request_path("amazon.nova-lite-v1:0", false));
    let names: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        ["x-amz-date", "x-amz-security-token", "authorization"]
    );
    let auth = &headers[2].1;
    assert!(
        auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251206/eu-west-1/bedrock/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="
        ),
        "{auth}"
    );
    // The body and path are covered: change either and the signature changes.
    let other = sign("/model/amazon.nova-pro-v1%3A0/converse");
    assert_ne!(other[2].1, *auth);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

"""The official `anthropic` SDK against the mock provider: messages, streams (text and tool use)
and errors parse, and each HTTP status raises the SDK's own exception class."""

from __future__ import annotations

import anthropic
import httpx2
import pytest

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city"],
    },
}


def test_message_with_system_string(claude: anthropic.Anthropic) -> None:
    msg = claude.messages.create(
        model="claude-sonnet-4-5+echo",
        max_tokens=64,
        system="You are terse.",
        messages=[{"role": "user", "content": "Hello from the SDK"}],
    )
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.content[0].type == "text" and msg.content[0].text == "Hello from the SDK"
    assert msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (3 + 3 + 3 + 4, 4)


def test_message_with_system_blocks_and_image(claude: anthropic.Anthropic) -> None:
    msg = claude.messages.create(
        model="echo",
        max_tokens=64,
        system=[{"type": "text", "text": "Describe images."}],
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                    },
                    {"type": "text", "text": "What is this?"},
                ],
            }
        ],
    )
    assert msg.content[0].text == "What is this?"
    assert msg.usage.input_tokens == (3 + 2) + (3 + 3)


def test_stream_text_and_final_usage(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="echo+chunks-3",
        max_tokens=64,
        messages=[{"role": "user", "content": "stream these four words"}],
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) == 3
    assert "".join(pieces) == "stream these four words"
    assert final.content[0].text == "stream these four words"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (7, 4)


def test_raw_stream_event_sequence(claude: anthropic.Anthropic) -> None:
    events = [
        e.type
        for e in claude.messages.create(
            model="echo+chunks-2",
            max_tokens=16,
            messages=[{"role": "user", "content": "ab"}],
            stream=True,
        )
    ]
    assert events == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_tool_use(claude: anthropic.Anthropic) -> None:
    msg = claude.messages.create(
        model="tool",
        max_tokens=64,
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    block = msg.content[0]
    assert msg.stop_reason == "tool_use"
    assert block.type == "tool_use" and block.name == "get_weather"
    assert block.input == {"city": "mock", "unit": "c"}
    assert block.id.startswith("toolu_")


def test_tool_use_streamed_as_input_json_deltas(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="tool+chunks-5",
        max_tokens=64,
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    ) as stream:
        deltas = [
            e.delta.partial_json
            for e in stream
            if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
        ]
        final = stream.get_final_message()
    assert len(deltas) == 5
    assert final.stop_reason == "tool_use"
    assert final.content[0].type == "tool_use"
    assert final.content[0].input == {"city": "mock", "unit": "c"}
    assert final.usage.output_tokens == 1


def test_models_list(claude: anthropic.Anthropic) -> None:
    ids = [m.id for m in claude.models.list()]
    assert "claude-sonnet-4-5" in ids


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (403, anthropic.PermissionDeniedError, "permission_error"),
        (404, anthropic.NotFoundError, "not_found_error"),
        (413, anthropic.ContentTooLargeError, "request_too_large"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_status_errors_raise_sdk_classes(
    claude: anthropic.Anthropic,
    status: int,
    error_class: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    for stream in (False, True):
        with pytest.raises(error_class) as info:
            claude.messages.create(
                model=f"status-{status}",
                max_tokens=16,
                messages=[{"role": "user", "content": "hi"}],
                stream=stream,
            )
        err = info.value
        assert err.status_code == status
        assert err.body["type"] == "error"
        assert err.body["error"]["type"] == error_type
        if status in (429, 529):
            assert err.response.headers["retry-after"] == "1"


def test_invalid_key_and_unknown_model(mock_url: str, claude: anthropic.Anthropic) -> None:
    bad = anthropic.Anthropic(base_url=mock_url, api_key="sk-invalid", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(
            model="mock", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    bad.close()
    with pytest.raises(anthropic.NotFoundError) as info:
        claude.messages.create(
            model="claude-9", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.body["error"]["type"] == "not_found_error"


def test_cut_stream_is_an_error_not_a_message(claude: anthropic.Anthropic) -> None:
    # A connection dropped mid-body surfaces as the HTTP client's protocol error.
    with pytest.raises((anthropic.APIError, httpx2.HTTPError)):
        with claude.messages.stream(
            model="echo+chunks-4+cut-after-1",
            max_tokens=16,
            messages=[{"role": "user", "content": "abcdefgh"}],
        ) as stream:
            stream.get_final_message()

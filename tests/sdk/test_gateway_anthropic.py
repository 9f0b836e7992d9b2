"""The official `anthropic` SDK pointed at the Keyway gateway, changed only in base URL and key.

Messages go through the gateway's `/v1/messages` to the mock in each upstream wire format
(`mock`: OpenAI, `mock-anthropic`: Anthropic, `mock-gemini`: Gemini), so an Anthropic call
crosses formats both ways. Usage rule of the mock: input tokens = sum over messages (the system
prompt is one) of 3 + words; output tokens = words of the reply. The mock prices every model at
$1 input / $2 output per million tokens.
"""

from __future__ import annotations

import anthropic
import pytest

from sdk_gateway import Gateway

DEFAULT_REPLY = "This is a deterministic reply from the Keyway mock provider."
UPSTREAMS = ["mock", "mock-anthropic", "mock-gemini"]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city"],
    },
}
WEATHER_INPUT = {"city": "mock", "unit": "c"}


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_message_with_system_string(gw_claude: anthropic.Anthropic, upstream: str) -> None:
    msg = gw_claude.messages.create(
        model=f"{upstream}/echo",
        max_tokens=64,
        system="You are terse.",
        messages=[{"role": "user", "content": "Hello from the SDK"}],
    )
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.id
    assert len(msg.content) == 1
    assert msg.content[0].type == "text" and msg.content[0].text == "Hello from the SDK"
    assert msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (3 + 3 + 3 + 4, 4)


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_message_with_system_blocks_and_image(
    gw_claude: anthropic.Anthropic, upstream: str
) -> None:
    msg = gw_claude.messages.create(
        model=f"{upstream}/echo",
        max_tokens=64,
        system=[{"type": "text", "text": "Describe images."}],
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": "iVBORw0KGgo=",
                        },
                    },
                    {"type": "text", "text": "What is this?"},
                ],
            }
        ],
    )
    assert msg.content[0].text == "What is this?"
    assert msg.usage.input_tokens == (3 + 2) + (3 + 3)


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_multi_turn_default_reply(gw_claude: anthropic.Anthropic, upstream: str) -> None:
    msg = gw_claude.messages.create(
        model=f"{upstream}/mock",
        max_tokens=64,
        stop_sequences=["END"],
        messages=[
            {"role": "user", "content": "First question"},
            {"role": "assistant", "content": "First answer"},
            {"role": "user", "content": "Second question"},
        ],
    )
    assert msg.content[0].text == DEFAULT_REPLY
    assert msg.usage.input_tokens == 3 * (3 + 2)
    assert msg.usage.output_tokens == len(DEFAULT_REPLY.split())


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_stream_text_and_final_usage(gw_claude: anthropic.Anthropic, upstream: str) -> None:
    with gw_claude.messages.stream(
        model=f"{upstream}/echo+chunks-3",
        max_tokens=64,
        messages=[{"role": "user", "content": "stream these four words"}],
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    # Passed through event by event: the upstream's three pieces stay three deltas.
    assert len(pieces) == 3
    assert "".join(pieces) == "stream these four words"
    assert final.content[0].text == "stream these four words"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (7, 4)


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_raw_stream_event_sequence(gw_claude: anthropic.Anthropic, upstream: str) -> None:
    events = [
        e.type
        for e in gw_claude.messages.create(
            model=f"{upstream}/echo+chunks-2",
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


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_tool_use(gw_claude: anthropic.Anthropic, upstream: str) -> None:
    msg = gw_claude.messages.create(
        model=f"{upstream}/tool",
        max_tokens=64,
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert msg.stop_reason == "tool_use"
    tool_blocks = [b for b in msg.content if b.type == "tool_use"]
    assert len(tool_blocks) == 1
    block = tool_blocks[0]
    assert block.id and block.name == "get_weather"
    assert block.input == WEATHER_INPUT


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_tool_result_round_trip(gw_claude: anthropic.Anthropic, upstream: str) -> None:
    first = gw_claude.messages.create(
        model=f"{upstream}/tool",
        max_tokens=64,
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    call = next(b for b in first.content if b.type == "tool_use")
    second = gw_claude.messages.create(
        model=f"{upstream}/mock",
        max_tokens=64,
        tools=[WEATHER_TOOL],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [b.model_dump(exclude_none=True) for b in first.content],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"}
                ],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text" and second.content[0].text == DEFAULT_REPLY


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_tool_use_streamed_as_input_json_deltas(
    gw_claude: anthropic.Anthropic, upstream: str
) -> None:
    with gw_claude.messages.stream(
        model=f"{upstream}/tool+chunks-5",
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
    # Gemini sends a function call whole; the others stream the arguments in five pieces.
    assert len(deltas) == (1 if upstream == "mock-gemini" else 5)
    assert final.stop_reason == "tool_use"
    block = next(b for b in final.content if b.type == "tool_use")
    assert block.name == "get_weather" and block.id
    assert block.input == WEATHER_INPUT
    assert final.usage.output_tokens == 1


def test_raw_response_carries_keyway_headers(gw_claude: anthropic.Anthropic) -> None:
    raw = gw_claude.messages.with_raw_response.create(
        model="mock/echo",
        max_tokens=64,
        system="You are terse.",
        messages=[{"role": "user", "content": "Hello from the SDK"}],
    )
    assert raw.parse().content[0].text == "Hello from the SDK"
    assert raw.headers["x-keyway-provider"] == "mock"
    assert raw.headers["x-keyway-model"] == "echo"
    assert raw.headers["x-keyway-request-id"]
    # 13 input tokens at $1/M plus 4 output tokens at $2/M.
    assert raw.headers["x-keyway-cost-usd"] == "0.000021000"


def test_bearer_token_auth_works_too(gateway: Gateway) -> None:
    client = anthropic.Anthropic(base_url=gateway.root, auth_token=gateway.key, max_retries=0)
    try:
        msg = client.messages.create(
            model="mock-anthropic/echo",
            max_tokens=16,
            messages=[{"role": "user", "content": "bearer works"}],
        )
    finally:
        client.close()
    assert msg.content[0].text == "bearer works"


def test_bad_key_is_an_authentication_error(gateway: Gateway) -> None:
    bad = anthropic.Anthropic(base_url=gateway.root, api_key="kw-not-a-real-key", max_retries=0)
    try:
        for stream in (False, True):
            with pytest.raises(anthropic.AuthenticationError) as info:
                bad.messages.create(
                    model="mock-anthropic/echo",
                    max_tokens=8,
                    messages=[{"role": "user", "content": "hi"}],
                    stream=stream,
                )
            err = info.value
            assert err.status_code == 401
            assert err.body["type"] == "error"
            assert err.body["error"]["type"] == "authentication_error"
    finally:
        bad.close()


def test_unknown_model_is_not_found(gw_claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as info:
        gw_claude.messages.create(
            model="no-such-provider/echo",
            max_tokens=8,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert info.value.body["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_upstream_rate_limit_is_a_rate_limit_error(
    gw_claude: anthropic.Anthropic, upstream: str
) -> None:
    for stream in (False, True):
        with pytest.raises(anthropic.RateLimitError) as info:
            gw_claude.messages.create(
                model=f"{upstream}/status-429",
                max_tokens=16,
                messages=[{"role": "user", "content": "hi"}],
                stream=stream,
            )
        err = info.value
        assert err.status_code == 429
        assert err.body["type"] == "error"
        assert err.body["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_cut_stream_is_an_error_not_a_message(
    gw_claude: anthropic.Anthropic, upstream: str
) -> None:
    pieces = []
    with pytest.raises(anthropic.APIError) as info:
        with gw_claude.messages.stream(
            model=f"{upstream}/echo+chunks-4+cut-after-1",
            max_tokens=16,
            messages=[{"role": "user", "content": "abcdefgh"}],
        ) as stream:
            for text in stream.text_stream:
                pieces.append(text)
    assert pieces == ["ab"]
    # An explicit `error` event from the gateway, not a dropped connection.
    assert not isinstance(info.value, anthropic.APIConnectionError)
    assert isinstance(info.value.body, dict)
    assert info.value.body["type"] == "error"

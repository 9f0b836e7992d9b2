"""The official `openai` SDK pointed at the Keyway gateway, changed only in base URL and key.

Each test runs against the mock provider through the gateway, and most run once per upstream
wire format (`mock`: OpenAI, `mock-anthropic`: Anthropic, `mock-gemini`: Gemini), so an OpenAI
call crosses formats both ways. The mock's usage rule (see its crate docs): prompt tokens = sum
over messages of 3 + words; completion tokens = words of the reply. The mock prices every model
at $1 input / $2 output per million tokens.
"""

from __future__ import annotations

import json

import openai
import pytest

from sdk_gateway import Gateway

DEFAULT_REPLY = "This is a deterministic reply from the Keyway mock provider."
UPSTREAMS = ["mock", "mock-anthropic", "mock-gemini"]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
WEATHER_ARGS = {"city": "mock", "days": 1}
GREETING = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello to the gateway"},
]


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_chat_completion_echoes_and_counts_usage(gw_oai: openai.OpenAI, upstream: str) -> None:
    res = gw_oai.chat.completions.create(model=f"{upstream}/echo", messages=GREETING)
    assert res.object == "chat.completion"
    assert res.id
    assert len(res.choices) == 1
    choice = res.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Say hello to the gateway"
    assert choice.finish_reason == "stop"
    assert res.usage is not None
    assert (res.usage.prompt_tokens, res.usage.completion_tokens) == (3 + 3 + 3 + 5, 5)
    assert res.usage.total_tokens == 19


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_chat_default_reply_with_sampling_params(gw_oai: openai.OpenAI, upstream: str) -> None:
    res = gw_oai.chat.completions.create(
        model=f"{upstream}/mock",
        messages=[{"role": "user", "content": "Anything"}],
        temperature=0.2,
        top_p=0.9,
        max_tokens=64,
        stop=["\n\n"],
    )
    assert res.choices[0].message.content == DEFAULT_REPLY
    assert res.usage is not None
    assert res.usage.prompt_tokens == 4
    assert res.usage.completion_tokens == len(DEFAULT_REPLY.split())


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_chat_stream_with_include_usage(gw_oai: openai.OpenAI, upstream: str) -> None:
    stream = gw_oai.chat.completions.create(
        model=f"{upstream}/echo+chunks-5",
        messages=[{"role": "user", "content": "one two three four five six"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    # Passed through event by event: the upstream's five pieces stay five chunks.
    assert len(text_chunks) == 5
    assert "".join(c.choices[0].delta.content for c in text_chunks) == "one two three four five six"
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == ["stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (9, 6)
    assert last.usage.total_tokens == 15
    assert all(c.usage is None for c in chunks[:-1])


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_chat_stream_without_usage_request_has_no_usage_chunk(
    gw_oai: openai.OpenAI, upstream: str
) -> None:
    chunks = list(
        gw_oai.chat.completions.create(
            model=f"{upstream}/echo+chunks-2",
            messages=[{"role": "user", "content": "two words"}],
            stream=True,
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "two words"
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_stream_helper_accumulates(gw_oai: openai.OpenAI) -> None:
    with gw_oai.chat.completions.stream(
        model="mock-anthropic/echo+chunks-3",
        messages=[{"role": "user", "content": "accumulate me please"}],
        stream_options={"include_usage": True},
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "accumulate me please"
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None and final.usage.completion_tokens == 3


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_chat_tool_call(gw_oai: openai.OpenAI, upstream: str) -> None:
    res = gw_oai.chat.completions.create(
        model=f"{upstream}/tool",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
    )
    choice = res.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None and len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert call.id
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == WEATHER_ARGS
    assert res.usage is not None
    compact_args = json.dumps(WEATHER_ARGS, separators=(",", ":"))
    assert res.usage.completion_tokens == len(compact_args.split())


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_chat_tool_result_round_trip(gw_oai: openai.OpenAI, upstream: str) -> None:
    first = gw_oai.chat.completions.create(
        model=f"{upstream}/tool",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
    )
    call = first.choices[0].message.tool_calls[0]
    second = gw_oai.chat.completions.create(
        model=f"{upstream}/mock",
        tools=[WEATHER_TOOL],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {
                            "name": call.function.name,
                            "arguments": call.function.arguments,
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call.id, "content": '{"forecast": "sunny"}'},
        ],
    )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == DEFAULT_REPLY


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_chat_tool_call_streamed_as_deltas(gw_oai: openai.OpenAI, upstream: str) -> None:
    stream = gw_oai.chat.completions.create(
        model=f"{upstream}/tool+chunks-4",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    name, call_id, fragments, finish = None, None, [], None
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        for delta in choice.delta.tool_calls or []:
            assert delta.index == 0
            call_id = delta.id or call_id
            if delta.function and delta.function.name:
                name = delta.function.name
            if delta.function and delta.function.arguments:
                fragments.append(delta.function.arguments)
        finish = choice.finish_reason or finish
    assert (name, finish) == ("get_weather", "tool_calls")
    assert call_id
    # Gemini sends a function call whole; the others stream the arguments in four pieces.
    assert len(fragments) == (1 if upstream == "mock-gemini" else 4)
    assert json.loads("".join(fragments)) == WEATHER_ARGS


def test_raw_response_carries_keyway_headers(gw_oai: openai.OpenAI) -> None:
    raw = gw_oai.chat.completions.with_raw_response.create(model="mock/echo", messages=GREETING)
    assert raw.status_code == 200
    completion = raw.parse()
    assert completion.choices[0].message.content == "Say hello to the gateway"
    headers = raw.headers
    assert headers["x-keyway-provider"] == "mock"
    assert headers["x-keyway-model"] == "echo"
    # 14 prompt tokens at $1/M plus 5 completion tokens at $2/M.
    assert headers["x-keyway-cost-usd"] == "0.000024000"
    first_id = headers["x-keyway-request-id"]
    assert first_id
    again = gw_oai.chat.completions.with_raw_response.create(model="mock/echo", messages=GREETING)
    assert again.headers["x-keyway-request-id"] not in ("", first_id)


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_raw_response_names_each_provider(gw_oai: openai.OpenAI, upstream: str) -> None:
    raw = gw_oai.chat.completions.with_raw_response.create(
        model=f"{upstream}/echo", messages=GREETING
    )
    assert raw.headers["x-keyway-provider"] == upstream
    assert raw.headers["x-keyway-model"] == "echo"
    assert raw.headers["x-keyway-request-id"]
    assert float(raw.headers["x-keyway-cost-usd"]) >= 0


def test_streamed_raw_response_carries_keyway_headers(gw_oai: openai.OpenAI) -> None:
    with gw_oai.chat.completions.with_streaming_response.create(
        model="mock-gemini/echo+chunks-2",
        messages=[{"role": "user", "content": "streamed headers"}],
        stream=True,
    ) as raw:
        assert raw.headers["content-type"].startswith("text/event-stream")
        assert raw.headers["x-keyway-provider"] == "mock-gemini"
        assert raw.headers["x-keyway-model"] == "echo+chunks-2"
        assert raw.headers["x-keyway-request-id"]
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text == "streamed headers"


def test_bad_key_is_an_authentication_error(gateway: Gateway) -> None:
    bad = openai.OpenAI(base_url=gateway.url, api_key="kw-not-a-real-key", max_retries=0)
    try:
        for stream in (False, True):
            with pytest.raises(openai.AuthenticationError) as info:
                bad.chat.completions.create(
                    model="mock/echo", messages=[{"role": "user", "content": "hi"}], stream=stream
                )
            assert info.value.status_code == 401
            assert info.value.code == "invalid_api_key"
            assert info.value.response.headers["x-keyway-request-id"]
    finally:
        bad.close()


@pytest.mark.parametrize(
    "model",
    [
        "no-such-provider/echo",  # no credential with that slug
        "mock/echo+warp-9",  # the upstream itself does not know the model
        "gpt-4o-no-provider",  # neither an address nor an alias
    ],
)
def test_unknown_model_is_not_found(gw_oai: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        gw_oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 404
    assert info.value.code == "model_not_found"


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_empty_messages_is_a_bad_request(gw_oai: openai.OpenAI, upstream: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        gw_oai.chat.completions.create(model=f"{upstream}/echo", messages=[])
    assert info.value.status_code == 400
    assert info.value.param == "messages"


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_upstream_rate_limit_is_a_rate_limit_error(gw_oai: openai.OpenAI, upstream: str) -> None:
    for stream in (False, True):
        with pytest.raises(openai.RateLimitError) as info:
            gw_oai.chat.completions.create(
                model=f"{upstream}/status-429",
                messages=[{"role": "user", "content": "hi"}],
                stream=stream,
            )
        err = info.value
        assert err.status_code == 429
        assert isinstance(err.body, dict) and err.message


def test_upstream_retry_after_reaches_the_sdk(gw_oai: openai.OpenAI) -> None:
    # The SDK's own retry waits as long as `retry-after` says; the gateway must not drop it.
    with pytest.raises(openai.RateLimitError) as info:
        gw_oai.chat.completions.create(
            model="mock/status-429+retry-after-7", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.response.headers.get("retry-after") == "7"


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(400, openai.BadRequestError), (500, openai.InternalServerError)],
)
def test_other_upstream_statuses_keep_their_class(
    gw_oai: openai.OpenAI, status: int, error_class: type[openai.APIStatusError]
) -> None:
    with pytest.raises(error_class) as info:
        gw_oai.chat.completions.create(
            model=f"mock-anthropic/status-{status}", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.status_code == status


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_cut_stream_raises_instead_of_ending_normally(gw_oai: openai.OpenAI, upstream: str) -> None:
    stream = gw_oai.chat.completions.create(
        model=f"{upstream}/echo+chunks-10+cut-after-3",
        messages=[{"role": "user", "content": "abcdefghij"}],
        stream=True,
    )
    received, finishes = [], []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
            if chunk.choices and chunk.choices[0].finish_reason:
                finishes.append(chunk.choices[0].finish_reason)
    assert received == ["a", "b", "c"]
    assert finishes == []
    # An explicit error event from the gateway, not a dropped connection.
    assert not isinstance(info.value, openai.APIConnectionError)
    assert isinstance(info.value.body, dict) and info.value.message


def test_non_stream_cut_is_a_server_error(gw_oai: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        gw_oai.chat.completions.create(
            model="mock/cut-after-0", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.status_code == 502


def test_client_timeout_cancels_the_upstream_call(
    gateway: Gateway, gw_oai: openai.OpenAI, mock_stats, wait_for
) -> None:
    before = mock_stats()["openai"]["cancelled"]
    impatient = openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0, timeout=0.5)
    try:
        with pytest.raises(openai.APITimeoutError):
            impatient.chat.completions.create(
                model="mock/stall", messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        impatient.close()
    # The caller gave up, so the gateway must give up on the upstream too.
    wait_for(lambda: mock_stats()["openai"]["cancelled"] == before + 1, 5.0)
    res = gw_oai.chat.completions.create(
        model="mock/echo", messages=[{"role": "user", "content": "still up"}]
    )
    assert res.choices[0].message.content == "still up"

"""The official `openai` SDK against the mock provider: responses, streams and errors parse, and
each HTTP status raises the SDK's own exception class.

Usage rule under test (see the mock's crate docs): prompt tokens = sum over messages of
3 + words; completion tokens = words of the reply.
"""

from __future__ import annotations

import base64
import json
import struct

import httpx2
import openai
import pytest

DEFAULT_REPLY = "This is a deterministic reply from the Keyway mock provider."
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


def test_chat_completion_echoes_and_counts_usage(oai: openai.OpenAI) -> None:
    res = oai.chat.completions.create(
        model="gpt-4o-mini+echo",
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello to the mock"},
        ],
    )
    assert res.object == "chat.completion"
    assert res.choices[0].message.content == "Say hello to the mock"
    assert res.choices[0].finish_reason == "stop"
    assert res.usage is not None
    assert (res.usage.prompt_tokens, res.usage.completion_tokens) == (3 + 3 + 3 + 5, 5)
    assert res.usage.total_tokens == 19


def test_chat_completion_default_reply_with_content_parts(oai: openai.OpenAI) -> None:
    res = oai.chat.completions.create(
        model="mock",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            }
        ],
    )
    assert res.choices[0].message.content == DEFAULT_REPLY
    assert res.usage is not None and res.usage.prompt_tokens == 4
    assert res.usage.completion_tokens == len(DEFAULT_REPLY.split())


def test_chat_stream_with_include_usage(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="echo+chunks-5",
        messages=[{"role": "user", "content": "one two three four five six"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(text_chunks) == 5
    assert "".join(c.choices[0].delta.content for c in text_chunks) == "one two three four five six"
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (9, 6)
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_stream_helper_accumulates(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(
        model="echo",
        messages=[{"role": "user", "content": "accumulate me please"}],
        stream_options={"include_usage": True},
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "accumulate me please"
    assert final.usage is not None and final.usage.completion_tokens == 3


def test_chat_tool_call(oai: openai.OpenAI) -> None:
    res = oai.chat.completions.create(
        model="tool",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
    )
    choice = res.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock", "days": 1}


def test_chat_tool_call_streamed_as_deltas(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="tool+chunks-4",
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
    assert call_id and call_id.startswith("call_")
    assert len(fragments) == 4
    assert json.loads("".join(fragments)) == {"city": "mock", "days": 1}


def test_legacy_completions(oai: openai.OpenAI) -> None:
    res = oai.completions.create(model="gpt-3.5-turbo-instruct+echo", prompt="complete this text")
    assert res.object == "text_completion"
    assert res.choices[0].text == "complete this text"
    assert res.usage is not None and (res.usage.prompt_tokens, res.usage.completion_tokens) == (6, 3)

    stream = oai.completions.create(
        model="echo+chunks-3",
        prompt="stream this text",
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "stream this text"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 9


def test_embeddings_float_and_base64_agree(oai: openai.OpenAI) -> None:
    floats = oai.embeddings.create(
        model="text-embedding-3-small", input=["hello world", "bye"], dimensions=8,
        encoding_format="float",
    )
    assert [d.index for d in floats.data] == [0, 1]
    assert all(len(d.embedding) == 8 for d in floats.data)
    assert floats.usage.prompt_tokens == (3 + 2) + (3 + 1)
    # The SDK's default asks for base64 and decodes it; the vectors must match.
    default = oai.embeddings.create(
        model="text-embedding-3-small", input=["hello world", "bye"], dimensions=8
    )
    for a, b in zip(floats.data, default.data):
        assert a.embedding == pytest.approx(b.embedding, rel=1e-6)
    raw = oai.embeddings.create(
        model="text-embedding-3-small", input="hello world", encoding_format="base64"
    )
    vector = struct.unpack("<1536f", base64.b64decode(raw.data[0].embedding))
    assert sum(v * v for v in vector) == pytest.approx(1.0, rel=1e-3)
    assert list(vector[:8]) != pytest.approx(floats.data[1].embedding)


def test_responses_create_text_and_tool(oai: openai.OpenAI) -> None:
    res = oai.responses.create(model="echo", input="hello responses", instructions="Be terse")
    assert res.status == "completed"
    assert res.output_text == "hello responses"
    assert res.usage is not None
    assert (res.usage.input_tokens, res.usage.output_tokens) == (5 + 5, 2)

    res = oai.responses.create(
        model="tool",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "weather?"}]}],
        tools=[{"type": "function", "name": "get_weather", **{
            k: v for k, v in WEATHER_TOOL["function"].items() if k != "name"}}],
    )
    call = res.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "mock", "days": 1}


def test_models_list_and_retrieve(oai: openai.OpenAI) -> None:
    ids = [m.id for m in oai.models.list()]
    assert "gpt-4o-mini" in ids and "mock" in ids
    assert oai.models.retrieve("echo+delay-1").id == "echo+delay-1"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("no-such-model")


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (409, openai.ConflictError),
        (422, openai.UnprocessableEntityError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_status_errors_raise_sdk_classes(
    oai: openai.OpenAI, status: int, error_class: type[openai.APIStatusError]
) -> None:
    for stream in (False, True):
        with pytest.raises(error_class) as info:
            oai.chat.completions.create(
                model=f"status-{status}",
                messages=[{"role": "user", "content": "hi"}],
                stream=stream,
            )
        err = info.value
        assert err.status_code == status
        assert isinstance(err.body, dict) and err.message
        if status in (429, 503):
            assert err.response.headers["retry-after"] == "1"


def test_rate_limit_carries_code_and_custom_retry_after(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        oai.chat.completions.create(
            model="status-429+retry-after-7", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after"] == "7"


def test_invalid_key_and_unknown_model(mock_url: str, oai: openai.OpenAI) -> None:
    bad = openai.OpenAI(base_url=f"{mock_url}/v1", api_key="sk-invalid", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])
    assert info.value.code == "invalid_api_key"
    bad.close()
    with pytest.raises(openai.NotFoundError) as info:
        oai.chat.completions.create(model="echo+warp-9", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model="mock", messages=[])
    assert info.value.param == "messages"


def test_cut_stream_surfaces_as_an_error(oai: openai.OpenAI, mock_stats, wait_for) -> None:
    before = mock_stats()["openai"]["cut"]
    stream = oai.chat.completions.create(
        model="echo+chunks-4+cut-after-2",
        messages=[{"role": "user", "content": "abcdefgh"}],
        stream=True,
    )
    received = []
    with pytest.raises((openai.APIError, httpx2.HTTPError)):
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert received == ["ab", "cd"]
    wait_for(lambda: mock_stats()["openai"]["cut"] == before + 1)


def test_non_stream_cut_is_a_connection_error(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(
            model="cut-after-0", messages=[{"role": "user", "content": "hi"}]
        )


def test_client_timeout_counts_as_cancelled(mock_url: str, mock_stats, wait_for) -> None:
    before = mock_stats()["openai"]["cancelled"]
    impatient = openai.OpenAI(
        base_url=f"{mock_url}/v1", api_key="sk-test", max_retries=0, timeout=0.3
    )
    with pytest.raises(openai.APITimeoutError):
        impatient.chat.completions.create(
            model="stall", messages=[{"role": "user", "content": "hi"}]
        )
    impatient.close()
    wait_for(lambda: mock_stats()["openai"]["cancelled"] == before + 1)

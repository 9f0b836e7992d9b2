"""The official `openai` and `anthropic` SDKs through the gateway to the cloud providers Keyway
translates to: Azure OpenAI (deployment URL, `api-key`), AWS Bedrock (Converse, SigV4-signed,
event-stream responses) and Cohere v2, all served by the mock in each provider's own format.

Usage rule of the mock: prompt tokens = sum over messages of 3 + words; completion tokens = words
of the reply (for Cohere, the billed units).
"""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

# (credential slug, a model id the mock accepts for it)
CLOUD = [
    ("azure", "gpt-4o-mini"),
    ("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
    ("cohere", "command-r-plus"),
]
IDS = [slug for slug, _ in CLOUD]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.mark.parametrize(("slug", "model"), CLOUD, ids=IDS)
def test_chat_completion(gw_oai: openai.OpenAI, slug: str, model: str) -> None:
    raw = gw_oai.chat.completions.with_raw_response.create(
        model=f"{slug}/{model}+echo",
        messages=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hello gateway"}],
    )
    assert raw.headers["x-keyway-provider"] == slug
    res = raw.parse()
    assert res.id
    assert res.choices[0].message.content == "hello gateway"
    assert res.choices[0].finish_reason == "stop"
    assert res.usage is not None
    assert (res.usage.prompt_tokens, res.usage.completion_tokens) == (3 + 2 + 3 + 2, 2)


@pytest.mark.parametrize(("slug", "model"), CLOUD, ids=IDS)
def test_chat_stream_with_usage(gw_oai: openai.OpenAI, slug: str, model: str) -> None:
    stream = gw_oai.chat.completions.create(
        model=f"{slug}/{model}+echo+chunks-3",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, finishes, usage = [], [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.choices and chunk.choices[0].finish_reason:
            finishes.append(chunk.choices[0].finish_reason)
        if chunk.usage is not None:
            usage = chunk.usage
    assert "".join(pieces) == "one two three"
    assert len(pieces) == 3
    assert finishes == ["stop"]
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (6, 3)


@pytest.mark.parametrize(("slug", "model"), CLOUD, ids=IDS)
def test_streamed_tool_call(gw_oai: openai.OpenAI, slug: str, model: str) -> None:
    stream = gw_oai.chat.completions.create(
        model=f"{slug}/{model}+tool",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    names, fragments, finishes = [], [], []
    for chunk in stream:
        if not chunk.choices:
            continue
        for call in chunk.choices[0].delta.tool_calls or []:
            if call.function and call.function.name:
                names.append(call.function.name)
            if call.function and call.function.arguments:
                fragments.append(call.function.arguments)
        if chunk.choices[0].finish_reason:
            finishes.append(chunk.choices[0].finish_reason)
    assert names == ["get_weather"]
    assert isinstance(json.loads("".join(fragments))["city"], str)
    assert finishes == ["tool_calls"]


@pytest.mark.parametrize(("slug", "model"), CLOUD, ids=IDS)
def test_cut_stream_raises_instead_of_ending_normally(
    gw_oai: openai.OpenAI, slug: str, model: str
) -> None:
    stream = gw_oai.chat.completions.create(
        model=f"{slug}/{model}+echo+chunks-10+cut-after-3",
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
    assert not isinstance(info.value, openai.APIConnectionError)


@pytest.mark.parametrize(("slug", "model"), CLOUD, ids=IDS)
def test_upstream_rate_limit_is_a_rate_limit_error(
    gw_oai: openai.OpenAI, slug: str, model: str
) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        gw_oai.chat.completions.create(
            model=f"{slug}/{model}+status-429", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.response.headers["retry-after"] == "1"


def test_bedrock_refuses_several_choices(gw_oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        gw_oai.chat.completions.create(
            model="bedrock/amazon.nova-lite-v1:0", n=2, messages=[{"role": "user", "content": "hi"}]
        )
    assert "`n` greater than 1" in info.value.message


@pytest.mark.parametrize(("slug", "model"), CLOUD, ids=IDS)
def test_anthropic_sdk_messages_and_stream(
    gw_claude: anthropic.Anthropic, slug: str, model: str
) -> None:
    msg = gw_claude.messages.create(
        model=f"{slug}/{model}+echo",
        max_tokens=64,
        messages=[{"role": "user", "content": "red green blue"}],
    )
    assert msg.content[0].type == "text" and msg.content[0].text == "red green blue"
    assert msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (6, 3)

    with gw_claude.messages.stream(
        model=f"{slug}/{model}+echo+chunks-3",
        max_tokens=64,
        messages=[{"role": "user", "content": "red green blue"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "red green blue"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 3

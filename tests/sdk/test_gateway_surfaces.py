"""The official `openai` SDK's legacy Completions and Responses calls through the Keyway gateway.

Each test runs once per upstream wire format (`mock`: OpenAI, `mock-anthropic`: Anthropic,
`mock-gemini`: Gemini): the gateway translates the surface to the provider's format and back.
The mock's usage rule: prompt tokens = sum over messages of 3 + words (instructions count as one
message, a legacy prompt as one); completion tokens = words of the reply.
"""

from __future__ import annotations

import json

import openai
import pytest

UPSTREAMS = ["mock", "mock-anthropic", "mock-gemini"]
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_completion_echoes_the_prompt(gw_oai: openai.OpenAI, upstream: str) -> None:
    res = gw_oai.completions.create(model=f"{upstream}/echo", prompt="complete this please", max_tokens=20)
    assert res.object == "text_completion"
    assert res.id
    assert len(res.choices) == 1
    assert res.choices[0].text == "complete this please"
    assert res.choices[0].finish_reason == "stop"
    assert res.usage is not None
    assert (res.usage.prompt_tokens, res.usage.completion_tokens, res.usage.total_tokens) == (6, 3, 9)


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_completion_with_several_prompts(gw_oai: openai.OpenAI, upstream: str) -> None:
    res = gw_oai.completions.create(model=f"{upstream}/echo", prompt=["alpha", "beta gamma"])
    assert [(c.index, c.text) for c in res.choices] == [(0, "alpha"), (1, "beta gamma")]
    assert res.usage is not None
    assert res.usage.prompt_tokens == 4 + 5


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_completion_stream(gw_oai: openai.OpenAI, upstream: str) -> None:
    stream = gw_oai.completions.create(
        model=f"{upstream}/echo+chunks-3",
        prompt="one two three",
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == "one two three"
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3


def test_completion_refusals_are_openai_errors(gw_oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        gw_oai.completions.create(model="mock/echo", prompt="x", echo=True)
    assert err.value.status_code == 400
    assert err.value.body["param"] == "echo"
    with pytest.raises(openai.NotFoundError):
        gw_oai.completions.create(model="nobody/echo", prompt="x")


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_response_with_instructions(gw_oai: openai.OpenAI, upstream: str) -> None:
    res = gw_oai.responses.create(
        model=f"{upstream}/echo",
        instructions="Repeat the user.",
        input="hello from responses",
        max_output_tokens=64,
    )
    assert res.object == "response"
    assert res.id.startswith("resp_")
    assert res.status == "completed"
    assert res.output_text == "hello from responses"
    assert res.output[0].type == "message"
    assert res.usage is not None
    assert (res.usage.input_tokens, res.usage.output_tokens) == (6 + 6, 3)
    assert res.usage.total_tokens == 15


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_response_tool_round_trip(gw_oai: openai.OpenAI, upstream: str) -> None:
    first = gw_oai.responses.create(
        model=f"{upstream}/tool", input="Weather in Paris?", tools=[WEATHER_TOOL]
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather"
    assert isinstance(json.loads(call.arguments)["city"], str)

    second = gw_oai.responses.create(
        model=f"{upstream}/echo",
        tools=[WEATHER_TOOL],
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "function_call", "call_id": call.call_id, "name": call.name,
             "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
            {"role": "user", "content": [{"type": "input_text", "text": "thank you"}]},
        ],
    )
    assert second.status == "completed"
    assert second.output_text.endswith("thank you")


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_response_stream_events(gw_oai: openai.OpenAI, upstream: str) -> None:
    stream = gw_oai.responses.create(
        model=f"{upstream}/echo+chunks-4", input="one two three four", stream=True
    )
    events = list(stream)
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "one two three four"
    final = events[-1].response
    assert final.output_text == "one two three four"
    assert final.usage is not None and final.usage.output_tokens == 4


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_response_stream_helper_accumulates(gw_oai: openai.OpenAI, upstream: str) -> None:
    # `responses.stream` checks the event sequence as it builds the final response.
    with gw_oai.responses.stream(model=f"{upstream}/echo+chunks-2", input="stream helper") as stream:
        texts = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(texts) == "stream helper"
    assert final.output_text == "stream helper"


def test_response_refusals_are_openai_errors(gw_oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        gw_oai.responses.create(model="mock/echo", input="x", previous_response_id="resp_123")
    assert "previous_response_id" in str(err.value)
    with pytest.raises(openai.RateLimitError):
        gw_oai.responses.create(model="mock-gemini/status-429", input="x")

"""Feeds Keyway's translated SSE streams (tests/fixtures/cross/*.sse, kept byte-identical to
the writers' output by tests/cross_format.rs) to the official SDKs through an in-memory HTTP
transport, and checks what an SDK user would see.

Run: scripts/test.sh (pytest), or directly with the venv python.
"""

import json
import pathlib

import anthropic
try:
    import httpx2 as httpx  # the SDKs in this venv are built on the httpx2 fork
except ImportError:
    import httpx
import openai

CROSS = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "cross"


def transport(name):
    body = (CROSS / name).read_bytes()
    return httpx.MockTransport(
        lambda request: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)
    )


def anthropic_client(name):
    return anthropic.Anthropic(api_key="k", base_url="http://keyway.test", http_client=httpx.Client(transport=transport(name)))


def openai_client(name):
    return openai.OpenAI(api_key="k", base_url="http://keyway.test/v1", http_client=httpx.Client(transport=transport(name)))


def ask_anthropic(name):
    with anthropic_client(name).messages.stream(
        model="m", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        for _ in stream:
            pass
        return stream.get_final_message()


def ask_openai(name):
    chunks = openai_client(name).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}
    )
    return list(chunks)


def main():
    msg = ask_anthropic("openai_tool_stream_as_anthropic.sse")
    assert msg.stop_reason == "tool_use", msg
    assert msg.content[0].type == "tool_use" and msg.content[0].input == {"location": "Paris, France"}, msg
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (57, 17), msg.usage

    msg = ask_anthropic("openai_text_stream_as_anthropic.sse")
    assert msg.content[0].text == "Hello there!" and msg.stop_reason == "end_turn", msg
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (9, 3), msg.usage

    msg = ask_anthropic("gemini_text_stream_as_anthropic.sse")
    assert msg.content[0].text == "The quick brown fox jumps.", msg
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (8, 16), msg.usage

    try:
        ask_anthropic("openai_cut_stream_as_anthropic.sse")
        raise AssertionError("a cut stream must raise in the Anthropic SDK")
    except anthropic.APIError as e:
        assert "stream ended before completion" in str(e), e

    chunks = ask_openai("anthropic_tool_stream_as_openai.sse")
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Okay, let's check the weather for San Francisco, CA:", text
    args = "".join(
        tc.function.arguments or "" for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])
    )
    assert json.loads(args) == {"location": "San Francisco, CA"}, args
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    usage = chunks[-1].usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.prompt_tokens_details.cached_tokens) == (572, 89, 100)

    try:
        ask_openai("anthropic_cut_stream_as_openai.sse")
        raise AssertionError("a cut stream must raise in the OpenAI SDK")
    except openai.APIError as e:
        assert "stream ended before completion" in str(e), e

    print("SDK checks passed: anthropic", anthropic.__version__, "openai", openai.__version__)


def test_official_sdks_read_translated_streams():
    main()


if __name__ == "__main__":
    main()

"""Shared fixtures for the SDK conformance suites.

`mock_url` is the base URL of a running Keyway mock provider: `KEYWAY_MOCK_URL` when set (later
suites reuse one mock), otherwise `$KEYWAY_BIN mock-provider --addr 127.0.0.1:0` is started for the
session and stopped at the end.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator

import anthropic
import openai
import pytest

LISTENING_PREFIX = "mock provider listening on "
START_TIMEOUT_SECS = 60


def _drain(stream) -> None:
    # Keep reading so later output (logs) can never fill the pipe and block the mock.
    for _ in iter(stream.readline, ""):
        pass


@pytest.fixture(scope="session")
def mock_url() -> Iterator[str]:
    external = os.environ.get("KEYWAY_MOCK_URL")
    if external:
        yield external.rstrip("/")
        return
    binary = os.environ.get("KEYWAY_BIN")
    if not binary:
        pytest.fail("set KEYWAY_BIN (the keyway binary) or KEYWAY_MOCK_URL (a running mock)")
    proc = subprocess.Popen(
        [binary, "mock-provider", "--addr", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_SECS)
        line = proc.stdout.readline().strip() if ready else ""
        if not line.startswith(LISTENING_PREFIX):
            pytest.fail(f"mock provider did not announce its address; first line: {line!r}")
        threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
        yield line[len(LISTENING_PREFIX) :].rstrip("/")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def mock_stats(mock_url: str) -> Callable[[], dict]:
    """Reads the mock's counters (`GET /_mock/stats`)."""

    def read() -> dict:
        with urllib.request.urlopen(f"{mock_url}/_mock/stats", timeout=5) as res:
            return json.load(res)

    return read


@pytest.fixture
def wait_for() -> Callable[[Callable[[], bool], float], None]:
    """Polls a condition until it holds or the deadline passes."""

    def wait(condition: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail("condition not met in time")
            time.sleep(0.02)

    return wait


@pytest.fixture
def oai(mock_url: str) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=f"{mock_url}/v1", api_key="sk-test-key", max_retries=0)
    yield client
    client.close()


@pytest.fixture
def claude(mock_url: str) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(base_url=mock_url, api_key="sk-ant-test-key", max_retries=0)
    yield client
    client.close()

"""Shared fixtures for the SDK conformance suites.

`mock_url` is the base URL of a running Keyway mock provider: `KEYWAY_MOCK_URL` when set (later
suites reuse one mock), otherwise `$KEYWAY_BIN mock-provider --addr 127.0.0.1:0` is started for the
session and stopped at the end.

`gateway` is a `keyway serve` process (embedded default: SQLite in a temporary data directory)
seeded with one organization, a virtual key and provider credentials that all point at the
mock, one per upstream wire format: `mock` (OpenAI format), `mock-anthropic` (Anthropic format),
`mock-gemini` (Gemini format), `azure` (Azure OpenAI), `bedrock` (Bedrock Converse, SigV4) and
`cohere` (Cohere v2). Models are addressed `<credential-slug>/<mock behaviour>`.
"""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import anthropic
import openai
import pytest
from sdk_gateway import Gateway

LISTENING_PREFIX = "mock provider listening on "
GATEWAY_PREFIX = "Keyway gateway:"
START_TIMEOUT_SECS = 60
# Longer than the server's graceful drain of in-flight requests (30 s), so a slow drain still
# ends in a clean exit that this fixture can check.
STOP_TIMEOUT_SECS = 40
# The key the gateway sends upstream (the mock accepts any key but `sk-invalid`); not `KEYWAY_*`,
# which the settings loader would read as a setting.
UPSTREAM_KEY_ENV = "SDK_SUITE_UPSTREAM_KEY"
# Bedrock keys are `ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`.
BEDROCK_KEY_ENV = "SDK_SUITE_BEDROCK_KEY"
# (credential slug, provider kind, base URL suffix on the mock, config JSON, key variable): one
# per upstream wire format.
GATEWAY_CREDENTIALS = (
    ("mock", "mock", "/v1", "{}", UPSTREAM_KEY_ENV),
    ("mock-anthropic", "anthropic", "", "{}", UPSTREAM_KEY_ENV),
    ("mock-gemini", "gemini", "", "{}", UPSTREAM_KEY_ENV),
    ("azure", "azure-openai", "", '{"api_version": "2024-10-21"}', UPSTREAM_KEY_ENV),
    ("bedrock", "bedrock", "", '{"region": "us-east-1"}', BEDROCK_KEY_ENV),
    ("cohere", "cohere", "", "{}", UPSTREAM_KEY_ENV),
)


def _keyway_bin() -> str:
    binary = os.environ.get("KEYWAY_BIN")
    if not binary:
        pytest.fail("set KEYWAY_BIN (the keyway binary)")
    return binary


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


def _gateway_env() -> dict[str, str]:
    # The gateway runs the embedded default in its own data directory: settings that a caller's
    # shell may carry (a Postgres URL, a config file) must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYWAY_")}
    env.update(
        {
            "KEYWAY_LOG": "warn",
            "KEYWAY_GATEWAY__ALLOW_PRIVATE_UPSTREAMS": "true",
            UPSTREAM_KEY_ENV: "sk-keyway-sdk-upstream",
            BEDROCK_KEY_ENV: "AKIAKEYWAYSDK:sdk/suite+secret",
        }
    )
    return env


def _admin(binary: str, data_dir: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [binary, "admin", *args, "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECS,
    )
    if done.returncode != 0:
        pytest.fail(f"keyway admin {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout.strip()


def _read_gateway_url(proc: subprocess.Popen) -> str:
    """Waits for serve's `Keyway gateway: URL` line, then keeps draining its stdout."""
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def pump(stream) -> None:
        # A thread, not select(): the text wrapper may buffer several lines behind one read.
        for line in iter(stream.readline, ""):
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, args=(proc.stdout,), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_SECS
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line.rstrip())
        if line.startswith(GATEWAY_PREFIX):
            return line[len(GATEWAY_PREFIX) :].strip().rstrip("/")
    pytest.fail(f"keyway serve did not announce its gateway address; stdout: {seen!r}")


@pytest.fixture(scope="session")
def gateway(mock_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    binary = _keyway_bin()
    data_dir = tmp_path_factory.mktemp("keyway-gateway")
    env = _gateway_env()
    # Seeded before `serve` starts: the admin commands migrate and write the same SQLite files.
    _admin(binary, data_dir, env, "create-org", "sdk-suite")
    for slug, kind, suffix, config, key_env in GATEWAY_CREDENTIALS:
        _admin(
            binary, data_dir, env, "add-provider", "--org", "sdk-suite", "--slug", slug,
            "--kind", kind, "--base-url", f"{mock_url}{suffix}", "--api-key-env", key_env,
            "--provider-config", config,
        )
    key = _admin(binary, data_dir, env, "issue-key", "--org", "sdk-suite", "--name", "sdk-suite")
    assert key and len(key.split()) == 1, f"issue-key printed more than the secret: {key!r}"

    proc = subprocess.Popen(
        [
            binary, "serve", "--api-addr", "127.0.0.1:0", "--gateway-addr", "127.0.0.1:0",
            "--data-dir", str(data_dir),
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    stopped = False
    try:
        url = _read_gateway_url(proc)
        assert url.endswith("/v1"), url
        yield Gateway(root=url[: -len("/v1")], url=url, key=key)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=STOP_TIMEOUT_SECS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"keyway serve still running {STOP_TIMEOUT_SECS} s after SIGTERM")
        stopped = True
        assert code == 0, f"keyway serve exited {code} on SIGTERM"
    finally:
        if not stopped and proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def gw_oai(gateway: Gateway) -> Iterator[openai.OpenAI]:
    """The OpenAI SDK, changed only in base URL and key, pointed at the gateway."""
    client = openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0)
    yield client
    client.close()


@pytest.fixture
def gw_claude(gateway: Gateway) -> Iterator[anthropic.Anthropic]:
    """The Anthropic SDK, changed only in base URL and key, pointed at the gateway."""
    client = anthropic.Anthropic(base_url=gateway.root, api_key=gateway.key, max_retries=0)
    yield client
    client.close()

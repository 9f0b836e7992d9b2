"""A `keyway serve` process on the embedded default, for the control-plane API suites.

`keyway` starts `$KEYWAY_BIN serve` on free ports in a temporary data directory with debug logs
captured to a file, and yields its URLs, data directory and log path. Helpers register users the
way a person does: sign up, read the verification link from the outbox, verify, log in.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

START_TIMEOUT_SECS = 120
PASSWORD = "correct horse battery staple"


@dataclass
class Keyway:
    api_url: str
    gateway_url: str
    data_dir: Path
    log_path: Path

    def outbox_token(self, to: str, path_part: str) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for mail_path in sorted((self.data_dir / "outbox").glob("*.eml"), reverse=True):
                msg = email.message_from_bytes(mail_path.read_bytes(), policy=email.policy.default)
                if to.lower() not in str(msg["To"]).lower():
                    continue
                body = msg.get_body(preferencelist=("plain",))
                text = body.get_content() if body is not None else ""
                match = re.search(re.escape(path_part) + r"\?token=([A-Za-z0-9_-]+)", text)
                if match:
                    return match.group(1)
            time.sleep(0.1)
        raise AssertionError(f"no {path_part} mail to {to}")

    def register(self, address: str, password: str = PASSWORD) -> dict:
        r = requests.post(f"{self.api_url}/api/v1/auth/signup",
                          json={"email": address, "password": password, "name": address.split("@")[0]}, timeout=30)
        assert r.status_code == 201, r.text
        token = self.outbox_token(address, "/verify-email")
        r = requests.post(f"{self.api_url}/api/v1/auth/verify-email", json={"token": token}, timeout=30)
        assert r.status_code == 200, r.text
        r = requests.post(f"{self.api_url}/api/v1/auth/login", json={"email": address, "password": password}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="session")
def mock_url() -> Iterator[str]:
    binary = os.environ.get("KEYWAY_BIN")
    if not binary:
        pytest.fail("set KEYWAY_BIN (the keyway binary)")
    proc = subprocess.Popen([binary, "mock-provider", "--addr", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("mock provider listening on "), line
        yield line.removeprefix("mock provider listening on ").rstrip("/")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def keyway() -> Iterator[Keyway]:
    binary = os.environ.get("KEYWAY_BIN")
    if not binary:
        pytest.fail("set KEYWAY_BIN (the keyway binary)")
    data_dir = Path(tempfile.mkdtemp(prefix="keyway-api-suite-"))
    log_path = data_dir / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYWAY_")}
    env["KEYWAY_LOG"] = "debug"
    # The suites' upstream is the mock provider on loopback.
    env["KEYWAY_GATEWAY__ALLOW_PRIVATE_UPSTREAMS"] = "true"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [binary, "serve", "--api-addr", "127.0.0.1:0", "--gateway-addr", "127.0.0.1:0", "--data-dir", str(data_dir)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    try:
        api = gateway = None
        deadline = time.monotonic() + START_TIMEOUT_SECS
        while (api is None or gateway is None) and time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()
            text = log_path.read_text()
            m = re.search(r"^Keyway dashboard and API:\s*(\S+)", text, re.M)
            g = re.search(r"^Keyway gateway:\s*(\S+)", text, re.M)
            api = m.group(1) if m else None
            gateway = g.group(1).removesuffix("/v1") if g else None
            time.sleep(0.1)
        assert api and gateway, log_path.read_text()
        yield Keyway(api, gateway, data_dir, log_path)
    finally:
        proc.terminate()
        proc.wait(timeout=40)

"""The running gateway the SDK suites talk to (its own module: every suite directory has a
`conftest`, so test modules cannot import from `conftest` by name)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gateway:
    """A running `keyway serve` and the virtual key seeded for it."""

    #: Gateway root, e.g. `http://127.0.0.1:PORT` (Anthropic SDKs' base URL).
    root: str
    #: OpenAI-compatible base URL, `root + "/v1"` (OpenAI SDKs' base URL).
    url: str
    #: A valid Keyway virtual key of the seeded organization.
    key: str

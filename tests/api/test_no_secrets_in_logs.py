"""No secret reaches the server's log, even at debug level: passwords, access and refresh
tokens, provider keys and virtual keys all pass through a real `keyway serve` while its whole
output is captured, then the log is searched for each of them."""

from __future__ import annotations

import time

import requests

PROVIDER_KEY = "sk-upstream-LOGCHECK-0123456789abcdef"
PASSWORD = "a log-check passphrase 42"


def test_secrets_never_reach_the_log(keyway, mock_url):
    api = keyway.api_url
    tokens = keyway.register("logcheck@example.com", PASSWORD)
    # A failed login with a wrong (but secret) password, and a refresh.
    requests.post(f"{api}/api/v1/auth/login", json={"email": "logcheck@example.com", "password": "wrong-secret-pass-77"}, timeout=30)
    refreshed = requests.post(f"{api}/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}, timeout=30).json()
    headers = {"Authorization": f"Bearer {refreshed['access_token']}"}
    org = requests.post(f"{api}/api/v1/orgs", json={"name": "Logs"}, headers=headers, timeout=30).json()["id"]
    r = requests.post(f"{api}/api/v1/orgs/{org}/providers", headers=headers, timeout=30, json={
        "name": "Mock", "slug": "mock", "provider": "mock", "api_key": PROVIDER_KEY, "base_url": f"{mock_url}/v1"})
    assert r.status_code == 201, r.text
    key = requests.post(f"{api}/api/v1/orgs/{org}/keys", json={"name": "ci"}, headers=headers, timeout=30).json()
    rotated = requests.post(f"{api}/api/v1/orgs/{org}/keys/{key['id']}/rotate", json={"grace_period_secs": 60}, headers=headers, timeout=30).json()
    chat = requests.post(f"{keyway.gateway_url}/v1/chat/completions", timeout=30,
                         headers={"Authorization": f"Bearer {rotated['key']}"},
                         json={"model": "mock/echo", "messages": [{"role": "user", "content": "hello"}]})
    assert chat.status_code == 200, chat.text
    # A key that does not exist, and a provider error, are logged too: still no secrets.
    requests.post(f"{keyway.gateway_url}/v1/chat/completions", timeout=30,
                  headers={"Authorization": f"Bearer {key['key']}x"},
                  json={"model": "mock/echo", "messages": [{"role": "user", "content": "hello"}]})
    time.sleep(0.5)

    log = keyway.log_path.read_text()
    assert "e-mail written to the outbox" in log and "DEBUG" in log, "the log captured the flows at debug level"
    secrets = {
        "password": PASSWORD,
        "wrong password": "wrong-secret-pass-77",
        "access token": tokens["access_token"],
        "refreshed access token": refreshed["access_token"],
        "refresh token": tokens["refresh_token"],
        "rotated refresh token": refreshed["refresh_token"],
        "provider key": PROVIDER_KEY,
        "virtual key": key["key"],
        "rotated virtual key": rotated["key"],
    }
    leaked = [name for name, value in secrets.items() if value in log]
    assert not leaked, f"secrets in the log: {leaked}"

"""schemathesis against Keyway's own OpenAPI document: generated requests for every operation,
as a logged-in owner of a real organization, must never get a 5xx and every documented response
must match its schema (and content type)."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

# Operations that would end the suite's own session or organization when called with its token;
# they are fuzzed without it (and must then answer 401 in the documented shape).
SESSION_ENDING = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/me/password"), ("DELETE", "/api/v1/orgs/{org_id}")}
CHECKS = (not_a_server_error, response_schema_conformance, content_type_conformance)


@pytest.fixture(scope="module")
def owner(keyway):
    tokens = keyway.register("fuzz-owner@example.com")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    r = requests.post(f"{keyway.api_url}/api/v1/orgs", json={"name": "Fuzz"}, headers=headers, timeout=30)
    assert r.status_code == 201, r.text
    return {"headers": headers, "org_id": r.json()["id"]}


def test_no_server_errors_and_responses_match_the_document(keyway, owner):
    schema = schemathesis.openapi.from_url(f"{keyway.api_url}/api/v1/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        key = (operation.method.upper(), operation.path)

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def run(case):
            if key not in SESSION_ENDING:
                case.headers = {**(case.headers or {}), **owner["headers"]}
                # Aim at the real organization so generated calls reach the service layer,
                # not only the membership check.
                if case.path_parameters and "org_id" in case.path_parameters:
                    case.path_parameters["org_id"] = owner["org_id"]
            response = case.call(base_url=keyway.api_url, timeout=30)
            try:
                case.validate_response(response, checks=CHECKS)
            except (AssertionError, FailureGroup) as err:
                failures.append(f"{key[0]} {key[1]} -> {response.status_code}: {str(err)[:600]}")

        run()
    assert operations >= 40, f"only {operations} operations in the document"
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:30])


def test_the_checks_catch_a_response_that_breaks_the_document(keyway, owner):
    """Control for the test above: a body of the wrong shape is reported, so its silence means
    something."""
    schema = schemathesis.openapi.from_url(f"{keyway.api_url}/api/v1/openapi.json")
    operation = schema["/api/v1/orgs"]["GET"]
    case = operation.Case(headers=owner["headers"])
    # `/me` answers 200 with a body that is not a page of organizations.
    response = case.call(base_url=keyway.api_url, timeout=30)
    wrong = requests.get(f"{keyway.api_url}/api/v1/me", headers=owner["headers"], timeout=30)
    response.content = wrong.content
    response.content_size = len(wrong.content)
    response.clear_cache()
    with pytest.raises((AssertionError, FailureGroup)):
        case.validate_response(response, checks=CHECKS)

"""schemathesis against /openapi.json, in-process: no 5xx, no response that breaks the schema.

Requests to POST /v1/commands are signed by a ``before_call`` hook (a fresh webhook-id each,
over the exact bytes sent), so generated envelopes get past the signature and reach the
envelope parser and the (fake) publisher; the statuses seen are counted to prove it. GETs are
signed over ``GET <path>`` the same way. The API does not serve its document: the fuzzed app
is the API with ``/openapi.json`` mounted beside it.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import quote

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.webhooks.signature import request_content, signed_headers
from tests.unit.webhooks.fakes import NEW_SECRET, build_harness, with_openapi

HARNESS = build_harness(max_body_bytes=64 * 1024, wait_max_s=0.05)
APP = with_openapi(HARNESS.app)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
SEEN: Counter[tuple[str, int]] = Counter()
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@schemathesis.hook("before_call")  # before_call hooks are process-wide: act on this schema only
def sign(ctx: Any, case: Any, **kwargs: Any) -> None:
    """Sign the body bytes of every POST /v1/commands as a Standard Webhooks sender would."""
    if case.operation.app is not APP:
        return
    if case.method.upper() == "GET":
        path = quote(case.formatted_path, safe="/%")
        content = request_content("GET", path)
        case.headers = {**(case.headers or {}), **signed_headers(NEW_SECRET, content)}
        return
    if case.method.upper() != "POST":
        return
    if isinstance(case.body, NotSet):  # a negative case without a body: sign the empty body
        raw = b""
    else:
        raw = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
        case.body = raw
    case.headers = {**(case.headers or {}), **signed_headers(NEW_SECRET, raw)}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: Any) -> None:
    """Every generated request gets a documented status, content type and body; never a 5xx."""
    response = case.call_and_validate(checks=CHECKS)
    SEEN[(case.operation.label, response.status_code)] += 1


def test_the_fuzzing_reached_the_publisher() -> None:
    """Signed, schema-valid envelopes were accepted: the signing hook works."""
    assert SEEN[("POST /v1/commands", 202)] > 0, SEEN
    assert HARNESS.publisher.records

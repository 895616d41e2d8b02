"""schemathesis against the OpenAPI the running local stack serves, with a valid token per principal.

Every operation of /openapi.json (so every route of the template, including ones added later) gets
positive and negative cases; each answer must not be a 5xx and must match what the document says:
its status is listed, its content type and schema are the listed ones, its headers too. Cases go
to the seeded demo studio most of the time (so they reach the domain, not only 404s), rotating the
caller through owner, billing, creator, viewer and the machine identities (usage meter, billing
operations). `ACT3_SCHEMATHESIS_EXAMPLES` (default 6) sets
the examples per operation and mode.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode

from act3_local.auth import machine_clients
from act3_local.template import load_yaml
from tests.e2e.stack_process import StackProcess

EXAMPLES = int(os.environ.get("ACT3_SCHEMATHESIS_EXAMPLES", "6"))
# A dependency that did not answer (DynamoDB; Stripe, here localstripe, which lacks a few endpoints such
# as the billing portal) is the contract's 503 with Retry-After, documented on every route.
RETRYABLE = frozenset({"unavailable", "payment_provider_unavailable"})
DEPENDENCY_DOWN: list[str] = []


def _dependency_down(response: Any) -> bool:
    if response.status_code != 503 or not response.headers.get("retry-after"):
        return False
    try:
        return response.json().get("code") in RETRYABLE
    except ValueError:
        return False


@schemathesis.check
def no_server_error_but_a_dependency_down(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis' not_a_server_error, except the contract's 503 for a dependency that did not answer."""
    if _dependency_down(response):
        DEPENDENCY_DOWN.append(case.operation.label)
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    no_server_error_but_a_dependency_down,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def test_the_served_openapi_holds_for_every_operation(
    product_stack: StackProcess, demo: dict[str, Any]
) -> None:
    schema = schemathesis.openapi.from_url(product_stack.api + "/openapi.json")
    members = sorted(demo["members"], key=lambda m: m["role"])
    # every principal: the members by role and the machine identities (their client-credentials tokens)
    clients = machine_clients(load_yaml(product_stack.template))
    machines = [product_stack.client_token(name) for name in clients]
    assert machines, "the template declares machine identities (issue 9)"
    tokens = itertools.cycle([m["token"] for m in members] + machines)
    known = {"org_id": [demo["org_id"]], "user_id": [m["sub"] for m in members]}
    failures: list[str] = []
    calls = 0

    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the document itself must be valid OpenAPI
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
            def run(case: Any, data: st.DataObject) -> None:
                nonlocal calls
                for name, values in known.items():
                    if case.path_parameters and name in case.path_parameters and data.draw(st.integers(0, 3)):
                        case.path_parameters[name] = data.draw(st.sampled_from(values))
                headers = {"Authorization": f"Bearer {next(tokens)}"}
                calls += 1
                try:
                    case.call_and_validate(base_url=product_stack.api, headers=headers, checks=CHECKS)
                except (AssertionError, FailureGroup) as failure:
                    # run() is called at once, inside this iteration: the loop variables are the current ones
                    failures.append(f"{operation.label} ({mode.value}): {str(failure)[:1500]}")  # noqa: B023

            try:
                run()
            except Unsatisfiable:  # nothing to negate (no parameters, no body): positive cases only
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert calls > 0
    assert not failures, "\n\n".join(failures[:10])
    print(f"schemathesis: {calls} calls, 503 from a dependency: {sorted(set(DEPENDENCY_DOWN))}")


def test_docs_is_swagger_ui_served_offline(product_stack: StackProcess) -> None:
    page = product_stack.request("GET", "/docs")
    assert page.status == 200 and b"SwaggerUIBundle" in page.body and b"/openapi.json" in page.body
    assert b"http://" not in page.body and b"https://" not in page.body  # nothing fetched from elsewhere
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        served = product_stack.request("GET", asset)
        assert served.status == 200 and len(served.body) > 10_000, asset
    assert product_stack.request("GET", "/docs/assets/../../template.yaml").status == 404
    doc = product_stack.request("GET", "/openapi.json").json()
    assert doc["components"]["securitySchemes"]["jwt"]["scheme"] == "bearer"  # the Authorize button
    assert doc["servers"][0]["url"] == product_stack.api  # try-it-out goes to this stack

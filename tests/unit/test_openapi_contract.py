"""The OpenAPI document of every function says what the code does (checked over all template routes)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from act3_billing.http.contract import problems
from act3_billing.http.problems import STATUS_BY_CODE
from tests.support.functions import load
from tests.support.template import http_routes

ROUTES = http_routes()


def operation(code_uri: str, method: str, path: str) -> dict[str, Any]:
    doc = json.loads(load(code_uri.strip("/").split("/")[-1]).app.get_openapi_json_schema())
    assert "HTTPValidationError" not in json.dumps(doc)
    # OpenAPI has no greedy parameters: a `{key+}` route is documented as `{key}`
    return doc["paths"][path.replace("+}", "}")][method.lower()]  # type: ignore[no-any-return]


def codes_at(op: dict[str, Any], status: int) -> set[str]:
    response = op["responses"].get(str(status))
    if response is None:
        return set()
    schema = response["content"]["application/problem+json"]["schema"]
    return set(schema["allOf"][1]["properties"]["code"]["enum"])


@pytest.mark.parametrize(("logical_id", "method", "path", "code_uri", "_handler"), ROUTES)
def test_every_refusal_is_a_documented_problem(
    logical_id: str, method: str, path: str, code_uri: str, _handler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Act3Billing")
    op = operation(code_uri, method, path)
    assert not op["summary"].startswith(method), "a summary from the handler, not the route"
    statuses = {int(s) for s in op["responses"]}
    assert any(200 <= s < 300 for s in statuses)
    for status in (s for s in statuses if s >= 400):
        codes = codes_at(op, status)
        assert codes, (status, op["responses"][str(status)])
        assert {STATUS_BY_CODE[c] for c in codes} == {status}
    assert "unavailable" in codes_at(op, 503)
    assert "Retry-After" in op["responses"]["503"]["headers"]
    assert "validation_error" in codes_at(op, 422)
    if method in ("POST", "PUT", "PATCH"):
        assert {"malformed_json"} <= codes_at(op, 400)
        assert codes_at(op, 415) == {"unsupported_media_type"}
        assert "validation_error" in codes_at(op, 422)
    if "{" in path:
        assert "not_found" in codes_at(op, 404)
    keys = [p for p in op.get("parameters", []) if p["in"] == "header" and p["name"] == "Idempotency-Key"]
    if keys:
        assert keys[0]["required"] is True
        assert "idempotency_key_required" in codes_at(op, 400)
        assert "idempotency_key_reuse" in codes_at(op, 409)


@pytest.mark.parametrize(
    ("method", "path", "code_uri", "status"),
    [
        ("POST", "/orgs/{org_id}/quotes", "functions/quotes/", 201),
        ("POST", "/orgs/{org_id}/debits", "functions/debits/", 201),
        ("POST", "/orgs/{org_id}/holds", "functions/holds/", 201),
        ("POST", "/orgs/{org_id}/holds/{hold_id}/capture", "functions/holds/", 200),
        ("POST", "/orgs/{org_id}/refunds", "functions/refunds/", 201),
        ("POST", "/orgs/{org_id}/transfers", "functions/transfers/", 201),
        ("DELETE", "/orgs/{org_id}/members/{user_id}", "functions/members/", 204),
        ("POST", "/orgs/{org_id}/credit-packs", "functions/credit_packs/", 201),
        ("POST", "/orgs/{org_id}/subscription", "functions/subscription/", 201),
        ("POST", "/orgs/{org_id}/subscription/plan", "functions/subscription/", 200),
        ("POST", "/orgs/{org_id}/tax-ids", "functions/billing_account/", 201),
        ("DELETE", "/orgs/{org_id}/tax-ids/{tax_id}", "functions/billing_account/", 204),
        ("DELETE", "/orgs/{org_id}/payment-methods/{payment_method_id}", "functions/billing_account/", 204),
    ],
)
def test_success_statuses_are_the_real_ones(method: str, path: str, code_uri: str, status: int) -> None:
    op = operation(code_uri, method, path)
    assert [int(s) for s in op["responses"] if int(s) < 300] == [status]


def test_domain_refusals_come_with_their_route() -> None:
    debit = operation("functions/debits/", "POST", "/orgs/{org_id}/debits")
    assert codes_at(debit, 402) == {"insufficient_credits", "past_due"}
    assert {"forbidden_role", "generation_disabled"} <= codes_at(debit, 403)
    assert {"quote_expired"} <= codes_at(debit, 410)


def test_a_code_without_a_status_cannot_be_declared() -> None:
    with pytest.raises(ValueError, match="no status"):
        problems("made_up_code")


def test_request_models_carry_examples_that_validate() -> None:
    from act3_billing.http import models

    for name in ("QuoteRequest", "DebitRequest", "HoldRequest", "CaptureRequest", "RefundRequest"):
        model = getattr(models, name)
        examples = model.model_json_schema()["examples"]
        assert examples
        for example in examples:
            model.model_validate(example)

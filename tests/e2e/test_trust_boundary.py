"""Over HTTP on the local stack: members authorize, the usage meter reports, billing operations grants;
the gateway refuses a valid token without the route's scope (403) before any function runs."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.e2e.stack_process import StackProcess

FORBIDDEN = (403, {"message": "Forbidden"})  # API Gateway's answer when no route scope is on the token


@pytest.fixture(scope="module")
def member(product_stack: StackProcess) -> dict[str, Any]:
    """A new user signed in with LinkedIn: their personal org, on the trial with its 800 credits."""
    email = f"trust-{uuid.uuid4().hex[:8]}@studio.example"
    token = product_stack.token(email, idp="linkedin")
    me = product_stack.request("GET", "/me", token=token)
    assert me.status == 200, me.body
    (org,) = [o for o in me.json()["orgs"] if o["personal"]]
    return {"token": token, "org": org["org_id"], "sub": me.json()["user_id"]}


def _post(stack: StackProcess, path: str, token: str, body: dict[str, Any], key: str) -> Any:
    return stack.request("POST", path, token=token, body=body, headers={"idempotency-key": key})


def _balance(stack: StackProcess, member: dict[str, Any]) -> dict[str, Any]:
    reply = stack.request("GET", f"/orgs/{member['org']}/balance", token=member["token"])
    assert reply.status == 200, reply.body
    return reply.json()  # type: ignore[no-any-return]


def test_a_member_holds_the_meter_captures_twice_and_releases_the_member_may_not(
    product_stack: StackProcess, member: dict[str, Any]
) -> None:
    api, job = f"/orgs/{member['org']}", f"render-{uuid.uuid4().hex[:8]}"
    meter = product_stack.client_token("usage-meter")
    before = _balance(product_stack, member)["spendable"]
    # Given the member authorizes a hold for their render
    held = _post(product_stack, f"{api}/holds", member["token"], {"job_id": job, "credits": 500}, f"{job}-h")
    assert held.status == 201, held.body
    hold = f"{api}/holds/{held.json()['hold_id']}"
    # When the member tries to capture 1 credit or release it, the gateway refuses before any function
    for action, body in (("capture", {"credits": 1, "final": True}), ("release", {})):
        tried = _post(product_stack, f"{hold}/{action}", member["token"], body, f"{job}-{action}-member")
        assert (tried.status, tried.json()) == FORBIDDEN
    # And a machine token without the usage scope is refused the same way
    operations = product_stack.client_token("billing-operations")
    wrong = _post(product_stack, f"{hold}/capture", operations, {"credits": 1}, f"{job}-ops")
    assert (wrong.status, wrong.json()) == FORBIDDEN
    # When the usage meter captures twice and releases the rest
    first = _post(product_stack, f"{hold}/capture", meter, {"credits": 120}, f"{job}-c1")
    second = _post(product_stack, f"{hold}/capture", meter, {"credits": 80}, f"{job}-c2")
    rest = _post(product_stack, f"{hold}/release", meter, {}, f"{job}-r")
    assert (first.status, second.status, rest.status) == (200, 200, 200), (first.body, rest.body)
    assert rest.json()["released"] == 300
    # Then 200 credits are spent, and the ledger names the member and the meter on each capture
    assert _balance(product_stack, member)["spendable"] == before - 200
    ledger = product_stack.request("GET", f"{api}/ledger?job={job}", token=member["token"]).json()["entries"]
    captures = [e for e in ledger if e["type"] == "capture"]
    assert len(captures) == 2
    assert {(e["actor"], e["service"]) for e in captures} == {
        (member["sub"], "service:act3-local-usage-meter")
    }


def test_an_education_grant_shows_in_the_balance_with_its_expiry_and_is_spent_in_spec_order(
    product_stack: StackProcess, member: dict[str, Any]
) -> None:
    api = f"/orgs/{member['org']}"
    operations = product_stack.client_token("billing-operations")
    now = datetime.fromisoformat(_balance(product_stack, member)["as_of"])
    # Given billing operations grants the student bundle, and a small promotion that expires sooner
    edu = _post(
        product_stack, f"{api}/grants", operations, {"kind": "education", "bundle": "edu-student"}, "e2e-edu"
    )
    promo_body = {"label": "launch week", "credits": 100, "expires_at": (now + timedelta(days=7)).isoformat()}
    promo = _post(product_stack, f"{api}/grants", operations, promo_body, "e2e-promo")
    assert (edu.status, promo.status) == (201, 201), (edu.body, promo.body)
    # The usage meter may not grant
    meter_grant = _post(
        product_stack, f"{api}/grants", product_stack.client_token("usage-meter"), promo_body, "x"
    )
    assert (meter_grant.status, meter_grant.json()) == FORBIDDEN
    # Then the member sees the grant in the balance with its expiry
    balance = _balance(product_stack, member)
    grants = {g["label"]: g for g in balance["grants"]}
    assert grants["Education: student"]["remaining"] == 10_000
    assert grants["Education: student"]["expires_at"] == edu.json()["expires_at"]
    lifetime = datetime.fromisoformat(edu.json()["expires_at"]) - now
    assert timedelta(days=180) <= lifetime < timedelta(days=180, minutes=1)
    # When the member debits a quote bigger than the monthly allowance
    monthly_left = balance["monthly"]["remaining"]
    quote = _post(product_stack, f"{api}/quotes", member["token"], {"usage": {"shots": {"Q3": 3}}}, "q")
    assert quote.status == 201, quote.body
    spent = _post(
        product_stack,
        f"{api}/debits",
        member["token"],
        {"job_id": f"edu-{uuid.uuid4().hex[:6]}", "quote_id": quote.json()["quote_id"]},
        "e2e-edu-debit",
    )
    assert spent.status == 201, spent.body
    # Then the allowance goes first, then the promotion (expires sooner), then the education grant
    lots = spent.json()["lots"]
    monthly = [lot for lot in lots if lot.startswith("monthly#")]
    assert [lots[m] for m in monthly] == [monthly_left]
    assert lots[promo.json()["lot_id"]] == 100
    assert lots[edu.json()["lot_id"]] == 1_200 - monthly_left - 100
    assert list(lots) == [*monthly, promo.json()["lot_id"], edu.json()["lot_id"]]


def test_the_openapi_document_names_each_routes_scopes_as_the_template(product_stack: StackProcess) -> None:
    doc = product_stack.request("GET", "/openapi.json").json()
    capture = doc["paths"]["/orgs/{org_id}/holds/{hold_id}/capture"]["post"]
    assert capture["security"] == [{"jwt": ["billing/usage.write"]}]
    debit = doc["paths"]["/orgs/{org_id}/debits"]["post"]
    assert debit["security"] == [{"jwt": ["openid", "aws.cognito.signin.user.admin", "billing/usage.write"]}]
    grants = doc["paths"]["/orgs/{org_id}/grants"]["post"]
    assert grants["security"] == [{"jwt": ["billing/grants.write"]}]
    assert doc["paths"]["/orgs/{org_id}/balance"]["get"]["security"] == [
        {"jwt": ["openid", "aws.cognito.signin.user.admin"]}
    ]

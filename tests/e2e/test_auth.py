"""The local JWT authorizer on the product's routes refuses what the HTTP API authorizer refuses."""

from __future__ import annotations

import base64
import json
import time

from tests.e2e.stack_process import StackProcess

ORG_PATH = "/orgs/org-e2e-auth/balance"


def test_a_protected_route_without_a_token_is_401_before_any_handler(product_stack: StackProcess) -> None:
    reply = product_stack.request("GET", ORG_PATH)
    assert reply.status == 401
    assert reply.json() == {"message": "Unauthorized"}
    product_stack.wait_for(lambda: f"GET {ORG_PATH} -> authorizer 401" in product_stack.output(), timeout=5)


def test_a_tampered_token_is_refused(product_stack: StackProcess) -> None:
    # Given a valid token whose payload is changed after signing (another e-mail)
    header, payload, signature = product_stack.token("ann@example.com").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["email"] = "mallory@example.com"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    # Then the signature no longer matches
    assert product_stack.request("GET", ORG_PATH, token=f"{header}.{forged}.{signature}").status == 401


def test_an_expired_token_is_refused(product_stack: StackProcess) -> None:
    token = product_stack.issuer().mint("ann@example.com", ttl=60, now=time.time() - 3600)
    assert product_stack.request("GET", ORG_PATH, token=token).status == 401


def test_a_token_for_another_audience_or_issuer_is_refused(product_stack: StackProcess) -> None:
    other_audience = product_stack.issuer()
    other_audience.audience = "someone-else"
    assert product_stack.request("GET", ORG_PATH, token=other_audience.mint("ann@example.com")).status == 401
    other_issuer = product_stack.issuer()
    other_issuer.issuer = "https://cognito-idp.us-east-1.amazonaws.com/elsewhere"
    assert product_stack.request("GET", ORG_PATH, token=other_issuer.mint("ann@example.com")).status == 401


def test_a_valid_token_from_the_cli_passes_the_authorizer(product_stack: StackProcess) -> None:
    printed = product_stack.cli("token", "--email", "ann@example.com", "--idp", "linkedin", "--name", "Ann")
    assert printed.returncode == 0, printed.stderr
    reply = product_stack.request("GET", ORG_PATH, token=printed.stdout.strip())
    # Ann is no member of that org: the handler itself answers, in problem+json (not the authorizer).
    assert reply.status != 401, reply.body
    assert "code" in reply.json()


def test_public_route_and_jwks_need_no_token(product_stack: StackProcess) -> None:
    assert product_stack.request("GET", "/plans").status == 200
    jwks = product_stack.request("GET", "/auth/.well-known/jwks.json").json()
    assert jwks["keys"][0]["kid"] == product_stack.issuer().kid


def test_machine_tokens_from_the_cli_pass_only_routes_with_their_scopes(product_stack: StackProcess) -> None:
    # `make token CLIENT=usage-meter` and the same client asking only for its refunds scope
    meter = product_stack.cli("token", "--client", "usage-meter")
    refunds_only = product_stack.cli("token", "--client", "usage-meter", "--scope", "billing/refunds.write")
    assert meter.returncode == refunds_only.returncode == 0, meter.stderr + refunds_only.stderr
    capture = "/orgs/org-e2e-auth/holds/hold_none/capture"
    headers = {"idempotency-key": "cli-1"}
    # The meter's token passes the gateway (the handler answers: there is no such hold)
    passed = product_stack.request(
        "POST", capture, token=meter.stdout.strip(), body={"credits": 1}, headers=headers
    )
    assert (passed.status, passed.json()["code"]) == (404, "not_found")
    # A token without the route's scope is refused by the gateway, and so is the meter on a member route
    refused = product_stack.request(
        "POST", capture, token=refunds_only.stdout.strip(), body={"credits": 1}, headers=headers
    )
    assert (refused.status, refused.json()) == (403, {"message": "Forbidden"})
    member_route = product_stack.request("GET", ORG_PATH, token=meter.stdout.strip())
    assert (member_route.status, member_route.json()) == (403, {"message": "Forbidden"})
    # A client may not ask for a scope it is not allowed, nor be confused with a member
    assert product_stack.cli("token", "--client", "usage-meter", "--scope", "billing/grants.write").returncode
    assert product_stack.cli("token", "--client", "usage-meter", "--email", "a@b.example").returncode

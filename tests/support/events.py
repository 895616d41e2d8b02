"""Sample events from `events/`, filled in for a test: its own org, caller, body and headers."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from tests.support.template import REPO_ROOT

EVENTS = REPO_ROOT / "events"


USAGE_METER = "usage-meter-client"
BILLING_OPERATIONS = "billing-operations-client"
# The scopes each machine client is allowed (template.yaml UsageMeterClient / BillingOperationsClient).
CLIENT_SCOPES: dict[str, tuple[str, ...]] = {
    USAGE_METER: ("billing/usage.write", "billing/refunds.write", "billing/usage.read"),
    BILLING_OPERATIONS: ("billing/grants.write", "billing/adjustments.write", "billing/contracts.write"),
}


@dataclass(frozen=True)
class Machine:
    """A machine identity's client-credentials token: the client id and the scopes on the token."""

    client_id: str
    scopes: tuple[str, ...]


def machine(client_id: str = USAGE_METER, scopes: tuple[str, ...] | None = None) -> Machine:
    return Machine(client_id, CLIENT_SCOPES.get(client_id, ()) if scopes is None else scopes)


def _machine_claims(base: dict[str, str], caller: Machine) -> dict[str, str]:
    return {
        "sub": caller.client_id,
        "client_id": caller.client_id,
        "iss": base.get("iss", ""),
        "token_use": "access",
        "scope": " ".join(caller.scopes),
        "auth_time": base.get("auth_time", ""),
        "exp": base.get("exp", ""),
        "iat": base.get("iat", ""),
        "version": "2",
    }


def _member_claims(base: dict[str, str], user: str, email: str | None) -> dict[str, str]:
    if base.get("client_id") and base.get("sub") == base.get("client_id"):
        # a machine's sample event called by a member: a member's token instead
        base = {"iss": base.get("iss", ""), "client_id": "exampleclientid", "token_use": "access"}
        base |= {"scope": "openid email profile", "email_verified": "true"}
    return {**base, "sub": user, "username": user, "email": email or f"{user}@studio.example"}


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / "http" / f"{name}.json").read_text())  # type: ignore[no-any-return]


def http_event(
    name: str,
    *,
    org_id: str | None = None,
    hold_id: str | None = None,
    params: dict[str, str] | None = None,
    user: str | None = "user-1",
    service: Machine | None = None,
    claims: dict[str, str] | None = None,
    email: str | None = None,
    body: Any = ...,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    drop_headers: tuple[str, ...] = (),
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The stored event `name`, with path parameters, caller claims, body, headers and query replaced.

    `user=None` removes the authorizer block (as for an unauthenticated call); `service` makes the caller a
    machine identity (its client-credentials token) instead; `claims` adds or replaces verified claims
    (e.g. `custom:idp`, `email_verified`)."""
    event = copy.deepcopy(_load(name))
    path_params = event.get("pathParameters") or {}
    path = event["rawPath"]
    for key, value in (("org_id", org_id), ("hold_id", hold_id), *(params or {}).items()):
        if value is not None and key in path_params:
            path = path.replace(path_params[key], value, 1)
            path_params[key] = value
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    jwt = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {})
    jwt_claims = jwt.get("claims")
    if service is not None and jwt_claims is not None:
        jwt["claims"] = {**_machine_claims(jwt_claims, service), **(claims or {})}
        jwt["scopes"] = list(service.scopes)
    elif user is None:
        event["requestContext"].pop("authorizer", None)
    elif jwt_claims is not None:
        jwt["claims"] = {**_member_claims(jwt_claims, user, email), **(claims or {})}
        jwt["scopes"] = jwt["claims"].get("scope", "").split()
    if body is not ...:
        event["body"] = json.dumps(body)
    if raw_body is not None:
        event["body"] = raw_body
    event["headers"].update(headers or {})
    for header in drop_headers:
        event["headers"].pop(header, None)
    if query is not None:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    return event

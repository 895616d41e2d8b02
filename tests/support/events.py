"""Sample events from `events/`, filled in for a test: its own org, caller, body and headers."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from tests.support.template import REPO_ROOT

EVENTS = REPO_ROOT / "events"


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
    claims: dict[str, str] | None = None,
    email: str | None = None,
    body: Any = ...,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    drop_headers: tuple[str, ...] = (),
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The stored event `name`, with path parameters, caller claims, body, headers and query replaced.

    `user=None` removes the authorizer block (as for an unauthenticated call); `claims` adds or replaces
    verified claims (e.g. `custom:idp`, `email_verified`)."""
    event = copy.deepcopy(_load(name))
    path_params = event.get("pathParameters") or {}
    path = event["rawPath"]
    for key, value in (("org_id", org_id), ("hold_id", hold_id), *(params or {}).items()):
        if value is not None and key in path_params:
            path = path.replace(path_params[key], value, 1)
            path_params[key] = value
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    jwt_claims = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims")
    if user is None:
        event["requestContext"].pop("authorizer", None)
    elif jwt_claims is not None:
        jwt_claims["sub"] = user
        jwt_claims["email"] = email or f"{user}@studio.example"
        jwt_claims.update(claims or {})
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

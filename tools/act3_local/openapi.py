"""One OpenAPI document for the whole HTTP API, merged from each function's Powertools resolver.

Every HTTP function module exposes its ``APIGatewayHttpResolver`` as ``app``; its schema comes from the
code. Routes of the template that no resolver documents still appear (as stubs), and routes behind the
JWT authorizer carry the bearer security requirement, so the document lists exactly what is served.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from .lambdas import Runtime
from .template import Route

log = logging.getLogger("act3_local")

TITLE = "ACT 3 AI credit billing API (local)"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
DESCRIPTION = (
    "Every error is `application/problem+json` with a stable `code`; each operation lists the codes it "
    "can answer under their statuses. To try it here: `make -s token EMAIL=owner@studio.example` (after "
    "`make seed`), then **Authorize** with that token and **Try it out** against this stack."
)
# The JWT authorizer answers before any handler runs, in API Gateway's own shape.
UNAUTHORIZED: dict[str, Any] = {
    "description": "Missing, expired or invalid bearer token (the JWT authorizer's answer)",
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"message": {"type": "string", "examples": ["Unauthorized"]}},
            }
        }
    },
}


def _resolver_schema(module: Any) -> dict[str, Any] | None:
    resolver = getattr(module, "app", None)
    if resolver is None or not hasattr(resolver, "get_openapi_json_schema"):
        return None
    schema: dict[str, Any] = json.loads(resolver.get_openapi_json_schema(title=TITLE, version="local"))
    return schema


# The JWT authorizer's 403 when the token carries none of the route's AuthorizationScopes (a member's
# token on a machine's route, or the other way round), in API Gateway's shape, beside the handler's own.
GATEWAY_FORBIDDEN: dict[str, Any] = {
    "schema": {
        "type": "object",
        "properties": {"message": {"type": "string", "examples": ["Forbidden"]}},
    }
}


def _gateway_forbidden(responses: dict[str, Any]) -> None:
    forbidden = responses.setdefault("403", {"description": ""})
    forbidden.setdefault("content", {})["application/json"] = GATEWAY_FORBIDDEN
    note = 'the gateway\'s `{"message": "Forbidden"}` when the token has none of the route\'s scopes'
    forbidden["description"] = "; ".join(d for d in (forbidden.get("description"), note) if d)


def build(runtime: Runtime, routes: list[Route], server_url: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": TITLE, "version": "local", "description": DESCRIPTION},
        "servers": [{"url": server_url}],
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {
                "jwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": (
                        "A Cognito access token: a member's (scope openid or aws.cognito.signin.user.admin)"
                        " or a machine identity's client-credentials token (billing/... scopes). Each"
                        " operation lists the scopes it accepts; the token needs one of them, else 403."
                    ),
                }
            },
        },
    }
    seen: set[str] = set()
    for route in routes:
        if route.function in seen:
            continue
        seen.add(route.function)
        try:
            schema = _resolver_schema(runtime.module(route.function))
        except Exception as exc:
            log.warning("openapi: %s could not be loaded: %s", route.function, exc)
            continue
        if schema is None:
            continue
        doc["openapi"] = schema.get("openapi", doc["openapi"])
        for path, operations in (schema.get("paths") or {}).items():
            target = doc["paths"].setdefault(path, {})
            for method, operation in operations.items():
                if method in _METHODS:
                    operation.setdefault("x-act3-function", route.function)
                target[method] = operation
        for kind, items in (schema.get("components") or {}).items():
            doc["components"].setdefault(kind, {}).update(items)
    for route in routes:
        if route.path == "$default":
            continue
        methods = list(_METHODS[:5]) if route.method == "ANY" else [route.method.lower()]
        # A greedy `{key+}` is documented by its resolver as `{key}` (OpenAPI has no greedy parameters).
        entry = doc["paths"].setdefault(route.path.replace("+}", "}"), {})
        for method in methods:
            if route.method == "ANY" and entry:
                break
            operation = entry.setdefault(
                method,
                {
                    "summary": f"{route.function} ({route.route_key})",
                    "x-act3-function": route.function,
                    "responses": {"default": {"description": "Answer of the handler"}},
                },
            )
            if route.auth:
                operation.setdefault("security", [{"jwt": route.scopes}])
                operation.setdefault("responses", {})["401"] = UNAUTHORIZED
                if route.scopes:
                    _gateway_forbidden(operation["responses"])
    doc["paths"] = dict(sorted(doc["paths"].items()))
    return doc

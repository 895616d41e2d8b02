"""The resolver every HTTP function uses: validation on, errors as problem+json, caller from claims."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from act3_billing.domain.errors import DomainError
from act3_billing.domain.principals import Service
from act3_billing.http.caller import Caller, principal_from_claims
from act3_billing.http.problems import from_domain, problem
from act3_billing.observability import logger

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def make_resolver() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)

    def known_ids_only(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        """An id in the path that no id could ever look like is simply not found (never a 500)."""
        for name, value in (app.current_event.path_parameters or {}).items():
            # Ids only: an asset key ({key+}) is a path, checked against the storage layout instead.
            if name.endswith("_id") and not ID_PATTERN.match(value or ""):
                return problem("not_found", "Not found", f"no such {name.removesuffix('_id')}")
        return next_middleware(app)

    app.use(middlewares=[known_ids_only])

    @app.exception_handler(DomainError)
    def _domain(error: DomainError) -> Response[str]:
        if error.code == "unavailable":
            logger.warning("store unavailable", extra={"detail": error.detail})
        return from_domain(error)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[str]:
        content_type = app.current_event.headers.get("content-type") or ""
        if app.current_event.body and "json" not in content_type:
            return problem(
                "unsupported_media_type",
                "Send JSON",
                f"the body must be application/json (got '{content_type or 'no Content-Type'}')",
            )
        errors = [_clean(e) for e in error.errors()]
        if any(e["type"] == "json_invalid" for e in errors):
            return problem(
                "malformed_json", "The body is not valid JSON", "the request body could not be parsed"
            )
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
        return problem("validation_error", "The request is not valid", detail, errors=errors)

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        return problem(
            "route_not_found", "No such route", f"{app.current_event.http_method} {app.current_event.path}"
        )

    return app


def _clean(error: Any) -> dict[str, Any]:
    return {"type": error.get("type"), "loc": list(error.get("loc", ())), "msg": error.get("msg")}


def caller(app: APIGatewayHttpResolver) -> Caller:
    authorizer = app.current_event.request_context.authorizer
    claims = authorizer.jwt_claim if authorizer is not None else None
    return Caller.from_claims(claims)


def principal(app: APIGatewayHttpResolver) -> Caller | Service:
    """A member or a machine identity (for the routes both may call, or only machines may)."""
    authorizer = app.current_event.request_context.authorizer
    if authorizer is None:
        return Caller.from_claims(None)
    return principal_from_claims(authorizer.jwt_claim, authorizer.jwt_scopes)


def idempotency_key(app: APIGatewayHttpResolver) -> str | None:
    return app.current_event.headers.get("idempotency-key") or app.current_event.headers.get(
        "Idempotency-Key"
    )


def outcome(body: dict[str, Any], replayed: bool, status: int = 201) -> Response[Any]:
    """A mutating call's answer; a replay returns the first answer, marked by a header."""
    return Response(
        status_code=status,
        content_type="application/json",
        body=body,
        headers={"Idempotent-Replayed": "true" if replayed else "false"},
    )

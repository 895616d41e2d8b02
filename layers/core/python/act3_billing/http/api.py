"""The resolver every HTTP function uses: validation on, errors as problem+json, caller from claims."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from act3_billing.domain.errors import DomainError
from act3_billing.domain.principals import Service
from act3_billing.http import guard
from act3_billing.http.caller import Caller, principal_from_claims
from act3_billing.http.problems import RETRY_AFTER_SECONDS, from_domain, problem
from act3_billing.observability import logger, metrics

if TYPE_CHECKING:
    from act3_billing.store.idempotency import Outcome

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


class Resolver(APIGatewayHttpResolver):
    """Powertools' resolver behind `guard`: what cannot be read is refused before any parser runs."""

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        try:
            guard.check(event)
        except guard.Refused as refused:
            return _proxy_problem(refused.code, refused.title, refused.detail)
        return super().resolve(event, context)

    def get_openapi_json_schema(self, **kwargs: Any) -> str:
        """Powertools' document made true to the contract (statuses, problems, headers, prose)."""
        from act3_billing.http import contract

        doc = json.loads(super().get_openapi_json_schema(**kwargs))
        routes = contract.handlers_of(self._static_routes + self._dynamic_routes)
        return json.dumps(contract.document(doc, routes))


def _proxy_problem(code: str, title: str, detail: str) -> dict[str, Any]:
    """A problem as the Lambda proxy answer, for refusals made before the resolver has an event."""
    answer = problem(code, title, detail)
    return {
        "statusCode": answer.status_code,
        "headers": {"Content-Type": "application/problem+json"},
        "body": answer.body if isinstance(answer.body, str) else json.dumps(answer.body),
        "isBase64Encoded": False,
    }


def make_resolver() -> APIGatewayHttpResolver:
    app = Resolver(enable_validation=True, json_body_deserializer=guard.loads)

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

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        """DynamoDB (or the network to it) failing is 503 and retryable; anything else is a bug."""
        from act3_billing.store.faults import is_unavailable

        if not is_unavailable(error):
            raise error
        logger.warning("store unavailable", extra={"error": repr(error)[:500]})
        return problem(
            "unavailable",
            "Temporarily unavailable, retry with the same Idempotency-Key",
            f"the database did not answer; nothing was changed, retry in {RETRY_AFTER_SECONDS} s",
        )

    @app.exception_handler(guard.Refused)
    def _refused(refused: guard.Refused) -> Response[str]:
        return problem(refused.code, refused.title, refused.detail)

    @app.exception_handler(RequestUnsupportedContentType)
    def _media(_: RequestUnsupportedContentType) -> Response[str]:
        return problem("unsupported_media_type", "Send JSON", "the body must be application/json")

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[str]:
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


def counted(result: Outcome, metric: str, value: int, *, status: int = 201) -> Response[Any]:
    """A mutating call's answer, counting `value` in the `metric` once: a replay is not counted again."""
    if not result.replayed:
        from aws_lambda_powertools.metrics import MetricUnit

        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)
    return outcome(result.body, result.replayed, status)

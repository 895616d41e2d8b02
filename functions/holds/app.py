"""Holds for long jobs: a member reserves; the usage meter extends, captures (in stages) and releases."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, services, usage
from act3_billing.http.api import caller, counted, make_resolver, outcome, principal
from act3_billing.http.contract import SPEND_REFUSALS, problems
from act3_billing.http.models import (
    CaptureRequest,
    ExtendRequest,
    HoldRequest,
    HoldResponse,
    ReleaseRequest,
    SettleResponse,
)
from act3_billing.observability import logger, metrics

app = make_resolver()

IdempotencyKey = Annotated[str | None, Header(alias="idempotency-key")]


def _context() -> services.Context:
    return services.context(runtime.store(), caller(app), runtime.now())


def _usage() -> usage.PrincipalContext:
    return usage.context(runtime.store(), principal(app), runtime.now())


@app.post(
    "/orgs/<org_id>/holds",
    status_code=201,
    summary="Reserve credits for a long job (by credits, a quote or usage)",
    openapi_extensions=problems(
        *SPEND_REFUSALS,
        "quote_expired",
        "quote_used",
    ),
)
def create_hold(
    org_id: str, request: HoldRequest, idempotency_key: IdempotencyKey = None
) -> Response[HoldResponse]:
    result = services.place_hold(_context(), org_id, request, idempotency_key)
    return counted(result, "CreditsHeld", result.body["amount"])


@app.post(
    "/orgs/<org_id>/holds/<hold_id>/extend",
    summary="Add credits to an open hold or push back its expiry",
    openapi_extensions=problems(
        *SPEND_REFUSALS,
        "hold_not_open",
        "hold_expired",
    ),
)
def extend_hold(
    org_id: str, hold_id: str, request: ExtendRequest, idempotency_key: IdempotencyKey = None
) -> Response[HoldResponse]:
    result = usage.extend_hold(_usage(), org_id, hold_id, request, idempotency_key)
    return outcome(result.body, result.replayed, status=200)


@app.post(
    "/orgs/<org_id>/holds/<hold_id>/capture",
    summary="Charge what the job used from its hold, in stages; `final` releases the rest",
    openapi_extensions=problems(
        "forbidden_role", "hold_not_open", "hold_expired", "capture_exceeds_hold", "already_refunded"
    ),
)
def capture_hold(
    org_id: str, hold_id: str, request: CaptureRequest, idempotency_key: IdempotencyKey = None
) -> Response[SettleResponse]:
    result = usage.capture(_usage(), org_id, hold_id, request, idempotency_key)
    return counted(result, "CreditsCaptured", result.body["captured"], status=200)


@app.post(
    "/orgs/<org_id>/holds/<hold_id>/release",
    summary="Give a hold's remaining credits back",
    openapi_extensions=problems("forbidden_role", "hold_not_open"),
)
def release_hold(
    org_id: str, hold_id: str, request: ReleaseRequest, idempotency_key: IdempotencyKey = None
) -> Response[SettleResponse]:
    result = usage.release(_usage(), org_id, hold_id, request, idempotency_key)
    return outcome(result.body, result.replayed, status=200)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

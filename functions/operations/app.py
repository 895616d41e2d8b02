"""Billing operations (a machine identity): grants with label and expiry, signed adjustments with a reason."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import operations, runtime, usage
from act3_billing.http.api import make_resolver, outcome, principal
from act3_billing.http.contract import problems
from act3_billing.http.operations import AdjustmentRequest, AdjustmentResponse, GrantRequest, GrantResponse
from act3_billing.observability import logger, metrics

app = make_resolver()

IdempotencyKey = Annotated[str | None, Header(alias="idempotency-key")]


def _context() -> usage.PrincipalContext:
    return usage.context(runtime.store(), principal(app), runtime.now())


@app.post(
    "/orgs/<org_id>/grants",
    status_code=201,
    summary="Grant credits (promotional with a label and expiry, education in bundles): billing operations",
    openapi_extensions=problems("forbidden_role"),
)
def create_grant(
    org_id: str, request: GrantRequest, idempotency_key: IdempotencyKey = None
) -> Response[GrantResponse]:
    result = operations.grant(_context(), org_id, request, idempotency_key)
    if not result.replayed:
        metrics.add_metric(name="CreditsGranted", unit=MetricUnit.Count, value=result.body["credits"])
    return outcome(result.body, result.replayed)


@app.post(
    "/orgs/<org_id>/adjustments",
    status_code=201,
    summary="A signed adjustment with its reason (a negative one never overdraws): billing operations",
    openapi_extensions=problems("forbidden_role", "insufficient_credits"),
)
def create_adjustment(
    org_id: str, request: AdjustmentRequest, idempotency_key: IdempotencyKey = None
) -> Response[AdjustmentResponse]:
    result = operations.adjust(_context(), org_id, request, idempotency_key)
    if not result.replayed:
        metrics.add_metric(name="CreditsAdjusted", unit=MetricUnit.Count, value=abs(result.body["credits"]))
    return outcome(result.body, result.replayed)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

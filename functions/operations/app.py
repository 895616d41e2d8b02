"""Billing operations (a machine identity): grants with label and expiry, signed adjustments with a reason,
an enterprise org's contract terms (issue 12)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import operations, runtime, usage
from act3_billing.http.api import counted, make_resolver, principal
from act3_billing.http.contract import problems
from act3_billing.http.entitlement_models import ContractRequest, ContractResponse
from act3_billing.http.operations import AdjustmentRequest, AdjustmentResponse, GrantRequest, GrantResponse
from act3_billing.http.problems import documented
from act3_billing.observability import logger, metrics

app = make_resolver()

IdempotencyKey = Annotated[str | None, Header(alias="idempotency-key")]


def _context() -> usage.PrincipalContext:
    return usage.context(runtime.store(), principal(app), runtime.now())


@app.post(
    "/orgs/<org_id>/grants",
    status_code=201,
    summary="Grant credits (promotional with a label and expiry, education in bundles): billing operations",
    openapi_extensions=problems("forbidden_role", "too_many_lots"),
)
def create_grant(
    org_id: str, request: GrantRequest, idempotency_key: IdempotencyKey = None
) -> Response[GrantResponse]:
    result = operations.grant(_context(), org_id, request, idempotency_key)
    return counted(result, "CreditsGranted", result.body["credits"])


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
    return counted(result, "CreditsAdjusted", abs(result.body["credits"]))


@app.put(
    "/orgs/<org_id>/contract",
    responses={
        200: {"description": "the contract terms recorded (they apply while the org is on a contract plan)"},
        401: documented("unauthenticated"),
        403: documented(
            "forbidden_scope (a machine without billing/contracts.write), forbidden_role (members)"
        ),
        404: documented("not_found (also for non-members)"),
        409: documented("conflict: the terms changed meanwhile; send them again"),
        422: documented("validation_error"),
    },
)
def put_contract(org_id: str, request: ContractRequest) -> ContractResponse:
    from act3_billing import entitlements

    return entitlements.set_contract(
        runtime.entitlements(),
        runtime.store(),
        principal(app),
        org_id,
        features=dict(request.features),
        storage_gb=request.storage_gb,
        catalog=runtime.catalog_cache().get(runtime.now()),
        now=runtime.now(),
    )


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

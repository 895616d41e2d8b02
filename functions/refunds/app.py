"""POST /orgs/{org_id}/refunds — the usage meter reverses a failed or cancelled job's spending, once."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, usage
from act3_billing.http.api import counted, make_resolver, principal
from act3_billing.http.contract import problems
from act3_billing.http.models import RefundRequest, RefundResponse
from act3_billing.observability import logger, metrics

app = make_resolver()


@app.post(
    "/orgs/<org_id>/refunds",
    status_code=201,
    summary="Give back what a failed or cancelled job was charged, once",
    openapi_extensions=problems("forbidden_role", "nothing_to_refund", "already_refunded"),
)
def create_refund(
    org_id: str,
    request: RefundRequest,
    idempotency_key: Annotated[str | None, Header(alias="idempotency-key")] = None,
) -> Response[RefundResponse]:
    ctx = usage.context(runtime.store(), principal(app), runtime.now())
    result = usage.refund(ctx, org_id, request, idempotency_key)
    return counted(result, "CreditsRefunded", result.body["refunded"])


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

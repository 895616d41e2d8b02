"""POST /orgs/{org_id}/debits — spend credits for finished usage (a quote id or job metrics)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, usage
from act3_billing.http.api import counted, make_resolver, principal
from act3_billing.http.contract import SPEND_REFUSALS, problems
from act3_billing.http.models import DebitRequest, DebitResponse
from act3_billing.observability import logger, metrics

app = make_resolver()


@app.post(
    "/orgs/<org_id>/debits",
    status_code=201,
    summary="Spend credits for finished usage, priced from a quote or from the job's metrics",
    openapi_extensions=problems(
        *SPEND_REFUSALS,
        "quote_expired",
        "quote_used",
        "already_refunded",
    ),
)
def create_debit(
    org_id: str,
    request: DebitRequest,
    idempotency_key: Annotated[str | None, Header(alias="idempotency-key")] = None,
) -> Response[DebitResponse]:
    ctx = usage.context(runtime.store(), principal(app), runtime.now())
    result = usage.debit(ctx, org_id, request, idempotency_key)
    return counted(result, "CreditsDebited", result.body["credits"])


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

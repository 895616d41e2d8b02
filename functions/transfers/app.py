"""POST /orgs/{org_id}/transfers — an owner of both orgs moves credits between them."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import organizations, runtime, services
from act3_billing.http.api import caller, counted, make_resolver
from act3_billing.http.contract import problems
from act3_billing.http.models import TransferRequest, TransferResponse
from act3_billing.observability import logger, metrics

app = make_resolver()


@app.post(
    "/orgs/<org_id>/transfers",
    status_code=201,
    summary="Move credits to another organization the caller also owns",
    openapi_extensions=problems(
        "forbidden_role", "generation_disabled", "insufficient_credits", "same_org", "too_many_lots"
    ),
)
def create_transfer(
    org_id: str,
    request: TransferRequest,
    idempotency_key: Annotated[str | None, Header(alias="idempotency-key")] = None,
) -> Response[TransferResponse]:
    ctx = services.context(runtime.store(), caller(app), runtime.now())
    result = organizations.transfer(ctx, org_id, request, idempotency_key)
    return counted(result, "CreditsTransferred", result.body["credits"])


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

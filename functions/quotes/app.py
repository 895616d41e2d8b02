"""POST /orgs/{org_id}/quotes — price a job, say whether it is affordable, and offer options if not."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, services
from act3_billing.http.api import caller, make_resolver
from act3_billing.http.contract import problems
from act3_billing.http.models import QuoteRequest, QuoteResponse
from act3_billing.observability import logger

app = make_resolver()


@app.post(
    "/orgs/<org_id>/quotes",
    status_code=201,
    summary="Price a job and keep the quote for 15 minutes; an unaffordable quote carries the options",
    openapi_extensions=problems("forbidden_role", "shared_credits_disabled", "generation_disabled"),
)
def create_quote(org_id: str, request: QuoteRequest) -> Response[QuoteResponse]:
    ctx = services.context(runtime.store(), caller(app), runtime.now())
    quote = services.quote(ctx, org_id, request)
    return Response(status_code=201, content_type="application/json", body=quote)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

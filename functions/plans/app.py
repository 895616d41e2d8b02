"""GET /plans — the live plan catalog with prices, allowances, caps and the upgrade order (public)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, services
from act3_billing.http.api import make_resolver
from act3_billing.http.models import PlansResponse
from act3_billing.observability import logger

app = make_resolver()


@app.get("/plans", summary="The plan catalog: prices, monthly credits, rollover caps and the upgrade order")
def list_plans() -> PlansResponse:
    # The live catalog (synced from Stripe), the built-in one where Stripe says nothing. Imported on the
    # first request, so the cold start stays as it was.
    from act3_billing.catalog import live_catalog

    return services.plans(live_catalog(runtime.payments()))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

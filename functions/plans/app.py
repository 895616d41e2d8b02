"""GET /plans — the plan catalog with prices, allowances, caps and the upgrade order (public)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import services
from act3_billing.domain.plans import default_catalog
from act3_billing.http.api import make_resolver
from act3_billing.http.models import PlansResponse
from act3_billing.observability import logger

app = make_resolver()


@app.get("/plans", summary="The plan catalog: prices, monthly credits, rollover caps and the upgrade order")
def list_plans() -> PlansResponse:
    return services.plans(default_catalog())


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

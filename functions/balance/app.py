"""GET /orgs/{org_id}/balance — the meters: monthly, bank lots, grants, packs, held, spendable."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, services
from act3_billing.http.api import caller, make_resolver
from act3_billing.http.models import BalanceResponse
from act3_billing.observability import logger

app = make_resolver()


@app.get(
    "/orgs/<org_id>/balance",
    summary="The meters: monthly allowance, bank lots, grants, packs, held and spendable credits",
)
def get_balance(org_id: str) -> BalanceResponse:
    ctx = services.context(runtime.store(), caller(app), runtime.now())
    view = services.balance(ctx, org_id)
    subscription = runtime.payments().subscription(org_id)  # past_due shows here (issue 8)
    return view.model_copy(update={"subscription_status": subscription.status if subscription else None})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

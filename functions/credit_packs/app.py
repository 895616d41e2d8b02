"""POST /orgs/{org_id}/credit-packs — buy a one-time pack; GET — the org's purchases, pending ones too."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import packs, runtime, services
from act3_billing.catalog import live_catalog
from act3_billing.config import settings
from act3_billing.http.api import caller, counted, make_resolver
from act3_billing.http.contract import problems
from act3_billing.http.money_models import BuyPackRequest, PackPurchaseOut, PackPurchasesOut
from act3_billing.observability import logger, metrics

app = make_resolver()


def _context() -> services.Context:
    ctx = services.context(runtime.store(), caller(app), runtime.now())
    return dataclasses.replace(ctx, catalog=live_catalog(runtime.payments()))


@app.post(
    "/orgs/<org_id>/credit-packs",
    status_code=201,
    summary="Buy a one-time credit pack: with the card on file, or through a Stripe Checkout page",
    openapi_extensions=problems(
        "forbidden_role",
        "generation_disabled",
        "trial_expired",
        "pack_unavailable",
        "payment_refused",
        "payment_provider_unavailable",
    ),
)
def buy_pack(
    org_id: str,
    request: BuyPackRequest,
    idempotency_key: Annotated[str | None, Header(alias="idempotency-key")] = None,
) -> Response[PackPurchaseOut]:
    app_url = settings().app_url
    result = packs.buy(
        _context(),
        runtime.payments(),
        runtime.gateway(),
        org_id,
        credits=request.credits,
        checkout=request.checkout,
        payment_method=request.payment_method,
        success_url=f"{app_url}/orgs/{org_id}/billing?pack=paid",
        cancel_url=f"{app_url}/orgs/{org_id}/billing?pack=cancelled",
        key=idempotency_key,
    )
    return counted(result, "PackPurchasesStarted", 1)


@app.get(
    "/orgs/<org_id>/credit-packs",
    summary="The org's pack purchases, pending ones too",
    openapi_extensions=problems("forbidden_role"),
)
def list_packs(org_id: str) -> PackPurchasesOut:
    ctx = services.context(runtime.store(), caller(app), runtime.now())
    return PackPurchasesOut.model_validate(packs.list_purchases(ctx, runtime.payments(), org_id))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

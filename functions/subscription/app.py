"""The org's subscription (owner only for changes): read, subscribe, change plan, cancel to archive."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime, services, subscriptions
from act3_billing.catalog import live_catalog
from act3_billing.config import settings
from act3_billing.http.api import caller, make_resolver, outcome
from act3_billing.http.contract import problems
from act3_billing.http.money_models import CancelRequest, ChangePlanRequest, SubscribeRequest, SubscriptionOut
from act3_billing.observability import logger, metrics

app = make_resolver()

IdempotencyKey = Annotated[str | None, Header(alias="idempotency-key")]


def _context() -> services.Context:
    ctx = services.context(runtime.store(), caller(app), runtime.now())
    return dataclasses.replace(ctx, catalog=live_catalog(runtime.payments()))


@app.get(
    "/orgs/<org_id>/subscription",
    summary="The org's subscription: plan, period, pending change, next invoice",
    openapi_extensions=problems("forbidden_role"),
)
def get_subscription(org_id: str) -> SubscriptionOut:
    return SubscriptionOut.model_validate(subscriptions.get(_context(), runtime.payments(), org_id))


@app.post(
    "/orgs/<org_id>/subscription",
    status_code=201,
    summary="Subscribe to a paid plan: with a saved card, or through a Stripe Checkout page",
    openapi_extensions=problems(
        "forbidden_role",
        "subscription_exists",
        "plan_not_purchasable",
        "payment_refused",
        "payment_provider_unavailable",
    ),
)
def subscribe(
    org_id: str, request: SubscribeRequest, idempotency_key: IdempotencyKey = None
) -> Response[SubscriptionOut]:
    app_url = settings().app_url
    result = subscriptions.subscribe(
        _context(),
        runtime.payments(),
        runtime.gateway(),
        org_id,
        plan_id=request.plan_id,
        payment_method=request.payment_method,
        success_url=f"{app_url}/orgs/{org_id}/billing?subscription=started",
        cancel_url=f"{app_url}/orgs/{org_id}/billing?subscription=cancelled",
        key=idempotency_key,
    )
    return outcome(result.body, result.replayed)


@app.post(
    "/orgs/<org_id>/subscription/plan",
    summary="Change plan: an upgrade now (prorated), a downgrade at the period's end",
    openapi_extensions=problems(
        "forbidden_role",
        "no_subscription",
        "same_plan",
        "plan_not_purchasable",
        "payment_refused",
        "payment_provider_unavailable",
    ),
)
def change_plan(
    org_id: str, request: ChangePlanRequest, idempotency_key: IdempotencyKey = None
) -> Response[SubscriptionOut]:
    result = subscriptions.change_plan(
        _context(),
        runtime.payments(),
        runtime.gateway(),
        org_id,
        plan_id=request.plan_id,
        key=idempotency_key,
    )
    return outcome(result.body, result.replayed, status=200)


@app.post(
    "/orgs/<org_id>/subscription/cancel",
    summary="Cancel at the period's end; the org is archived then",
    openapi_extensions=problems(
        "forbidden_role",
        "no_subscription",
        "payment_refused",
        "payment_provider_unavailable",
    ),
)
def cancel(
    org_id: str, request: CancelRequest, idempotency_key: IdempotencyKey = None
) -> Response[SubscriptionOut]:
    result = subscriptions.cancel(
        _context(), runtime.payments(), runtime.gateway(), org_id, key=idempotency_key
    )
    return outcome(result.body, result.replayed, status=200)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

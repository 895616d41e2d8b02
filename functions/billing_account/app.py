"""Payment methods, the billing portal, tax ids and invoices (owners and billing members)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import billing_account, runtime, services
from act3_billing.config import settings
from act3_billing.http.api import caller, make_resolver, outcome
from act3_billing.http.contract import problems
from act3_billing.http.money_models import (
    InvoicesOut,
    PaymentMethodOut,
    PaymentMethodsOut,
    PortalOut,
    PortalRequest,
    SetupIntentOut,
    SetupIntentRequest,
    TaxIdOut,
    TaxIdRequest,
    TaxIdsOut,
)
from act3_billing.observability import logger

app = make_resolver()

IdempotencyKey = Annotated[str | None, Header(alias="idempotency-key")]


def _context() -> services.Context:
    return services.context(runtime.store(), caller(app), runtime.now())


@app.post(
    "/orgs/<org_id>/payment-methods/setup-intent",
    status_code=201,
    summary="Start saving a card: a SetupIntent's client secret for Stripe.js",
    openapi_extensions=problems("forbidden_role", "payment_refused", "payment_provider_unavailable"),
)
def create_setup_intent(
    org_id: str, request: SetupIntentRequest, idempotency_key: IdempotencyKey = None
) -> Response[SetupIntentOut]:
    result = billing_account.setup_intent(
        _context(), runtime.payments(), runtime.gateway(), org_id, idempotency_key
    )
    return outcome(result.body, result.replayed)


@app.get(
    "/orgs/<org_id>/payment-methods",
    summary="The org's saved cards, the default one marked",
    openapi_extensions=problems("forbidden_role", "payment_refused", "payment_provider_unavailable"),
)
def list_payment_methods(org_id: str) -> PaymentMethodsOut:
    found = billing_account.payment_methods(_context(), runtime.payments(), runtime.gateway(), org_id)
    return PaymentMethodsOut.model_validate(found)


@app.post(
    "/orgs/<org_id>/payment-methods/<payment_method_id>/default",
    summary="Make a saved card the one future invoices and packs are charged to",
    openapi_extensions=problems("forbidden_role", "payment_refused", "payment_provider_unavailable"),
)
def set_default_payment_method(
    org_id: str, payment_method_id: str, idempotency_key: IdempotencyKey = None
) -> Response[PaymentMethodOut]:
    result = billing_account.set_default(
        _context(), runtime.payments(), runtime.gateway(), org_id, payment_method_id, idempotency_key
    )
    return outcome(result.body, result.replayed, status=200)


@app.delete(
    "/orgs/<org_id>/payment-methods/<payment_method_id>",
    status_code=204,
    summary="Remove a saved card",
    openapi_extensions=problems("forbidden_role", "payment_refused", "payment_provider_unavailable"),
)
def remove_payment_method(org_id: str, payment_method_id: str) -> Response[None]:
    billing_account.remove(_context(), runtime.payments(), runtime.gateway(), org_id, payment_method_id)
    return Response(status_code=204, body=None)


@app.post(
    "/orgs/<org_id>/billing-portal",
    status_code=201,
    summary="A link to Stripe's billing portal for this org",
    openapi_extensions=problems("forbidden_role", "payment_refused", "payment_provider_unavailable"),
)
def billing_portal(
    org_id: str, request: PortalRequest, idempotency_key: IdempotencyKey = None
) -> Response[PortalOut]:
    return_url = f"{settings().app_url}/orgs/{org_id}/billing"
    result = billing_account.portal(
        _context(), runtime.payments(), runtime.gateway(), org_id, return_url, idempotency_key
    )
    return outcome(result.body, result.replayed)


@app.get(
    "/orgs/<org_id>/tax-ids",
    summary="The org's tax ids, as Stripe verified them",
    openapi_extensions=problems("forbidden_role", "payment_refused", "payment_provider_unavailable"),
)
def list_tax_ids(org_id: str) -> TaxIdsOut:
    return TaxIdsOut.model_validate(
        billing_account.tax_ids(_context(), runtime.payments(), runtime.gateway(), org_id)
    )


@app.post(
    "/orgs/<org_id>/tax-ids",
    status_code=201,
    summary="Add a tax id (checked per type before Stripe sees it)",
    openapi_extensions=problems(
        "forbidden_role", "invalid_tax_id", "payment_refused", "payment_provider_unavailable"
    ),
)
def add_tax_id(
    org_id: str, request: TaxIdRequest, idempotency_key: IdempotencyKey = None
) -> Response[TaxIdOut]:
    result = billing_account.add_tax_id(
        _context(),
        runtime.payments(),
        runtime.gateway(),
        org_id,
        request.type,
        request.value,
        idempotency_key,
    )
    return outcome(result.body, result.replayed)


@app.delete(
    "/orgs/<org_id>/tax-ids/<tax_id>",
    status_code=204,
    summary="Remove a tax id",
    openapi_extensions=problems("forbidden_role", "payment_refused", "payment_provider_unavailable"),
)
def remove_tax_id(org_id: str, tax_id: str) -> Response[None]:
    billing_account.remove_tax_id(_context(), runtime.payments(), runtime.gateway(), org_id, tax_id)
    return Response(status_code=204, body=None)


@app.get(
    "/orgs/<org_id>/invoices",
    summary="The org's invoices, newest first, with their PDF links",
    openapi_extensions=problems("forbidden_role", "payment_refused", "payment_provider_unavailable"),
)
def list_invoices(org_id: str, limit: Annotated[int, Query(ge=1, le=100)] = 24) -> InvoicesOut:
    found = billing_account.invoices(_context(), runtime.payments(), runtime.gateway(), org_id, limit)
    return InvoicesOut.model_validate(found)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

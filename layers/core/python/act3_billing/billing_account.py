"""Payment methods (SetupIntent, list, default, remove), the billing-portal link, VAT / tax ids and
invoices: the owners' and billing members' (creators and viewers get 403). Every id the caller names
is checked to belong to the org's own Stripe customer, so another org's card or tax id is `not_found`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from act3_billing.domain.errors import NotFound
from act3_billing.domain.roles import Permission
from act3_billing.domain.tax_ids import check_tax_id
from act3_billing.services import Context, idem
from act3_billing.store.idempotency import Outcome, previous

if TYPE_CHECKING:
    from act3_billing.payments.gateway import StripeGateway
    from act3_billing.store.payments import PaymentsStore


def _customer(
    ctx: Context, payments: PaymentsStore, gateway: StripeGateway, org_id: str, *, create: bool
) -> str | None:
    from act3_billing.packs import ensure_customer

    if create:
        return ensure_customer(payments, gateway, org_id, ctx.caller.email, ctx.now)
    return payments.customer_id(org_id)


def _card(pm: dict[str, Any], default: str | None) -> dict[str, Any]:
    card = pm.get("card") or {}
    return {
        "payment_method_id": pm["id"],
        "type": pm.get("type"),
        "brand": card.get("brand"),
        "last4": card.get("last4"),
        "exp_month": card.get("exp_month"),
        "exp_year": card.get("exp_year"),
        "default": pm["id"] == default,
    }


def setup_intent(
    ctx: Context, payments: PaymentsStore, gateway: StripeGateway, org_id: str, key: str | None
) -> Outcome:
    from act3_billing.payments.gateway import stripe_key

    token = idem(key, "setup_intent", ctx.caller, {})
    ctx.store.require(org_id, ctx.caller.user_id, Permission.MANAGE_BILLING)
    earlier = previous(org_id, token)
    if earlier is not None:
        return earlier
    customer = _customer(ctx, payments, gateway, org_id, create=True)
    assert customer is not None
    intent = gateway.create_setup_intent(customer, key=stripe_key("setup_intent", org_id, token.key))
    answer = {
        "setup_intent_id": intent["id"],
        "client_secret": intent.get("client_secret"),
        "status": intent.get("status"),
    }
    return payments.remember(org_id, token, answer, ctx.now)


def payment_methods(
    ctx: Context, payments: PaymentsStore, gateway: StripeGateway, org_id: str
) -> dict[str, Any]:
    ctx.store.require(org_id, ctx.caller.user_id, Permission.READ_BILLING)
    customer = _customer(ctx, payments, gateway, org_id, create=False)
    if customer is None:
        return {"payment_methods": []}
    default = (gateway.customer(customer).get("invoice_settings") or {}).get("default_payment_method")
    return {"payment_methods": [_card(pm, default) for pm in gateway.payment_methods(customer)]}


def _own_payment_method(
    gateway: StripeGateway, customer: str | None, payment_method_id: str
) -> dict[str, Any]:
    try:
        pm = gateway.payment_method(payment_method_id)
    except NotFound:
        pm = {}
    if customer is None or pm.get("customer") != customer:
        raise NotFound(f"payment method {payment_method_id} not found")
    return pm


def set_default(
    ctx: Context,
    payments: PaymentsStore,
    gateway: StripeGateway,
    org_id: str,
    payment_method_id: str,
    key: str | None,
) -> Outcome:
    from act3_billing.payments.gateway import stripe_key

    token = idem(key, f"default_payment_method:{payment_method_id}", ctx.caller, {})
    ctx.store.require(org_id, ctx.caller.user_id, Permission.MANAGE_BILLING)
    earlier = previous(org_id, token)
    if earlier is not None:
        return earlier
    customer = _customer(ctx, payments, gateway, org_id, create=False)
    pm = _own_payment_method(gateway, customer, payment_method_id)
    assert customer is not None
    gateway.set_default_payment_method(
        customer, payment_method_id, key=stripe_key("default_pm", org_id, token.key)
    )
    return payments.remember(org_id, token, _card(pm, payment_method_id), ctx.now)


def remove(
    ctx: Context, payments: PaymentsStore, gateway: StripeGateway, org_id: str, payment_method_id: str
) -> None:
    from act3_billing.payments.gateway import stripe_key

    ctx.store.require(org_id, ctx.caller.user_id, Permission.MANAGE_BILLING)
    customer = _customer(ctx, payments, gateway, org_id, create=False)
    _own_payment_method(gateway, customer, payment_method_id)
    gateway.detach_payment_method(payment_method_id, key=stripe_key("detach", org_id, payment_method_id))
    payments.audit(org_id, ctx.caller.user_id, "payment_method_removed", payment_method_id, ctx.now)


def portal(
    ctx: Context,
    payments: PaymentsStore,
    gateway: StripeGateway,
    org_id: str,
    return_url: str,
    key: str | None,
) -> Outcome:
    from act3_billing.payments.gateway import stripe_key

    token = idem(key, "billing_portal", ctx.caller, {})
    ctx.store.require(org_id, ctx.caller.user_id, Permission.MANAGE_BILLING)
    customer = _customer(ctx, payments, gateway, org_id, create=True)
    assert customer is not None
    # A portal session lives minutes: a retry gets a fresh link rather than a recorded, stale one.
    session = gateway.portal_session(
        customer, return_url, key=stripe_key("portal", org_id, token.key, ctx.now.isoformat())
    )
    return Outcome({"url": session["url"]})


def _tax_json(tax: dict[str, Any]) -> dict[str, Any]:
    return {
        "tax_id": tax["id"],
        "type": tax.get("type"),
        "value": tax.get("value"),
        "country": tax.get("country"),
        "verification": (tax.get("verification") or {}).get("status"),
    }


def tax_ids(ctx: Context, payments: PaymentsStore, gateway: StripeGateway, org_id: str) -> dict[str, Any]:
    ctx.store.require(org_id, ctx.caller.user_id, Permission.READ_BILLING)
    customer = _customer(ctx, payments, gateway, org_id, create=False)
    return {"tax_ids": [_tax_json(t) for t in gateway.tax_ids(customer)] if customer else []}


def add_tax_id(
    ctx: Context,
    payments: PaymentsStore,
    gateway: StripeGateway,
    org_id: str,
    type_: str,
    value: str,
    key: str | None,
) -> Outcome:
    from act3_billing.payments.gateway import stripe_key

    token = idem(key, "tax_id", ctx.caller, {"type": type_, "value": value})
    ctx.store.require(org_id, ctx.caller.user_id, Permission.MANAGE_BILLING)
    earlier = previous(org_id, token)
    if earlier is not None:
        return earlier
    normalized = check_tax_id(type_, value)
    customer = _customer(ctx, payments, gateway, org_id, create=True)
    assert customer is not None
    tax = gateway.add_tax_id(customer, type_, normalized, key=stripe_key("tax_id", org_id, token.key))
    return payments.remember(org_id, token, _tax_json(tax), ctx.now)


def remove_tax_id(
    ctx: Context, payments: PaymentsStore, gateway: StripeGateway, org_id: str, tax_id: str
) -> None:
    ctx.store.require(org_id, ctx.caller.user_id, Permission.MANAGE_BILLING)
    customer = _customer(ctx, payments, gateway, org_id, create=False)
    if customer is None or tax_id not in {t["id"] for t in gateway.tax_ids(customer)}:
        raise NotFound(f"tax id {tax_id} not found")
    gateway.delete_tax_id(customer, tax_id)
    payments.audit(org_id, ctx.caller.user_id, "tax_id_removed", tax_id, ctx.now)


def invoices(
    ctx: Context, payments: PaymentsStore, gateway: StripeGateway, org_id: str, limit: int
) -> dict[str, Any]:
    ctx.store.require(org_id, ctx.caller.user_id, Permission.READ_BILLING)
    customer = _customer(ctx, payments, gateway, org_id, create=False)
    found = gateway.invoices(customer, limit) if customer else []
    return {
        "invoices": [
            {
                "invoice_id": i["id"],
                "number": i.get("number"),
                "status": i.get("status"),
                "currency": i.get("currency"),
                "amount_due": int(i.get("amount_due") or 0),
                "amount_paid": int(i.get("amount_paid") or 0),
                "total": int(i.get("total") or 0),
                "created": i.get("created"),
                "period_start": i.get("period_start"),
                "period_end": i.get("period_end"),
                "hosted_invoice_url": i.get("hosted_invoice_url"),
                "invoice_pdf": i.get("invoice_pdf"),
            }
            for i in found
        ]
    }

"""Every call we make to Stripe, as plain dicts in and out.

Each POST carries an idempotency key derived from our own request (the org, the operation and the
caller's Idempotency-Key or the object it is about), so a retried request never creates a second
customer, subscription or charge. Stripe keeps keys for 24 hours; beyond that our own records
(one customer per org, one purchase per key) keep the promise.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from act3_billing.domain.errors import DomainError

if TYPE_CHECKING:
    from stripe._base_address import BaseAddresses


class StripeUnavailable(DomainError):
    code = "payment_provider_unavailable"
    title = "The payment provider did not answer; nothing was charged, retry with the same Idempotency-Key"


class PaymentRefused(DomainError):
    code = "payment_refused"
    title = "The payment provider refused the request"


def stripe_key(*parts: str) -> str:
    """An idempotency key for Stripe derived from our own request; the same parts give the same key."""
    return "act3-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:48]


@dataclass(frozen=True)
class StripeSettings:
    api_key: str
    api_base: str | None = None
    webhook_secret: str = ""


class StripeGateway:
    def __init__(self, settings: StripeSettings) -> None:
        import stripe

        self._stripe = stripe
        base: BaseAddresses | None = {"api": settings.api_base} if settings.api_base else None
        self._client = stripe.StripeClient(settings.api_key, base_addresses=base, max_network_retries=2)

    # ---- plumbing ----------------------------------------------------------------------------

    def _call(self, fn: Any, *args: Any, key: str | None = None, params: dict[str, Any] | None = None) -> Any:
        options: dict[str, Any] = {"idempotency_key": key} if key else {}
        try:
            result = fn(*args, params=params or {}, options=options)
        except self._stripe.CardError as exc:
            raise PaymentRefused(
                exc.user_message or "the card was declined", decline_code=getattr(exc, "code", None)
            ) from None
        except self._stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                from act3_billing.domain.errors import NotFound

                raise NotFound(f"no such {exc.param or 'object'} at the payment provider") from None
            raise PaymentRefused(exc.user_message or str(exc.user_message or "invalid request")) from None
        except self._stripe.StripeError as exc:
            raise StripeUnavailable(f"Stripe: {type(exc).__name__}") from None
        return result

    @staticmethod
    def _plain(obj: Any) -> dict[str, Any]:
        return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)

    # ---- customers ---------------------------------------------------------------------------

    def create_customer(self, org_id: str, name: str, email: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"name": name, "metadata": {"act3_org": org_id}}
        if email:
            params["email"] = email
        return self._plain(
            self._call(self._client.v1.customers.create, key=stripe_key("customer", org_id), params=params)
        )

    def customer(self, customer_id: str) -> dict[str, Any]:
        return self._plain(self._call(self._client.v1.customers.retrieve, customer_id))

    # ---- one-time payments (credit packs) ----------------------------------------------------

    def create_payment_intent(
        self,
        *,
        customer_id: str,
        amount_cents: int,
        currency: str,
        metadata: dict[str, str],
        key: str,
        payment_method: str | None = None,
    ) -> dict[str, Any]:
        """A saved card is confirmed at once (3-D Secure may still be asked for: `requires_action`);
        without one the client confirms with the client secret (Stripe.js / Payment Element)."""
        params: dict[str, Any] = {
            "amount": amount_cents,
            "currency": currency,
            "customer": customer_id,
            "metadata": metadata,
            "payment_method_types": ["card"],
        }
        if payment_method:
            params |= {"payment_method": payment_method, "confirm": True, "off_session": False}
        return self._plain(self._call(self._client.v1.payment_intents.create, key=key, params=params))

    def create_payment_checkout(
        self,
        *,
        customer_id: str,
        amount_cents: int,
        currency: str,
        product_name: str,
        metadata: dict[str, str],
        success_url: str,
        cancel_url: str,
        key: str,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "mode": "payment",
            "customer": customer_id,
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency,
                        "unit_amount": amount_cents,
                        "product_data": {"name": product_name},
                    },
                }
            ],
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "client_reference_id": metadata.get("act3_org"),
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        return self._plain(self._call(self._client.v1.checkout.sessions.create, key=key, params=params))

    # ---- subscriptions -----------------------------------------------------------------------

    def create_subscription_checkout(
        self,
        *,
        customer_id: str,
        price_id: str,
        metadata: dict[str, str],
        success_url: str,
        cancel_url: str,
        key: str,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "mode": "subscription",
            "customer": customer_id,
            "line_items": [{"price": price_id, "quantity": 1}],
            "metadata": metadata,
            "subscription_data": {"metadata": metadata},
            "client_reference_id": metadata.get("act3_org"),
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        return self._plain(self._call(self._client.v1.checkout.sessions.create, key=key, params=params))

    def create_subscription(
        self, *, customer_id: str, price_id: str, payment_method: str, metadata: dict[str, str], key: str
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "customer": customer_id,
            "items": [{"price": price_id}],
            "default_payment_method": payment_method,
            "metadata": metadata,
            "payment_behavior": "error_if_incomplete",
            "expand": ["latest_invoice"],
        }
        return self._plain(self._call(self._client.v1.subscriptions.create, key=key, params=params))

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        return self._plain(self._call(self._client.v1.subscriptions.retrieve, subscription_id))

    def change_price(
        self,
        subscription: dict[str, Any],
        price_id: str,
        *,
        now: bool,
        metadata: dict[str, str],
        key: str,
    ) -> dict[str, Any]:
        """Upgrade (`now`): a new billing period starts at once, Stripe prorates and charges, and the
        change applies only when that payment succeeds (a pending update, which accepts only the
        price, proration and anchor). Downgrade: the new price bills from the next period."""
        item_id = subscription["items"]["data"][0]["id"]
        update = self._client.v1.subscriptions.update
        if subscription.get("cancel_at_period_end"):
            # A change of plan takes back a scheduled cancellation first.
            self._call(
                update, subscription["id"], key=key + "-resume", params={"cancel_at_period_end": False}
            )
        params: dict[str, Any] = {"items": [{"id": item_id, "price": price_id}]}
        if now:
            params |= {
                "proration_behavior": "always_invoice",
                "billing_cycle_anchor": "now",
                "payment_behavior": "pending_if_incomplete",
                "expand": ["latest_invoice"],
            }
        else:
            params |= {"proration_behavior": "none", "metadata": metadata}
        return self._plain(self._call(update, subscription["id"], key=key, params=params))

    def cancel_at_period_end(self, subscription_id: str, *, key: str) -> dict[str, Any]:
        return self._plain(
            self._call(
                self._client.v1.subscriptions.update,
                subscription_id,
                key=key,
                params={"cancel_at_period_end": True},
            )
        )

    # ---- payment methods, portal, tax ids, invoices ------------------------------------------

    def create_setup_intent(self, customer_id: str, *, key: str) -> dict[str, Any]:
        params = {
            "customer": customer_id,
            "usage": "off_session",
            "automatic_payment_methods": {"enabled": True},
        }
        return self._plain(self._call(self._client.v1.setup_intents.create, key=key, params=params))

    def payment_methods(self, customer_id: str) -> list[dict[str, Any]]:
        page = self._call(self._client.v1.customers.payment_methods.list, customer_id, params={"limit": 100})
        return [self._plain(pm) for pm in page.data]

    def payment_method(self, payment_method_id: str) -> dict[str, Any]:
        return self._plain(self._call(self._client.v1.payment_methods.retrieve, payment_method_id))

    def set_default_payment_method(
        self, customer_id: str, payment_method_id: str, *, key: str
    ) -> dict[str, Any]:
        params = {"invoice_settings": {"default_payment_method": payment_method_id}}
        return self._plain(self._call(self._client.v1.customers.update, customer_id, key=key, params=params))

    def detach_payment_method(self, payment_method_id: str, *, key: str) -> dict[str, Any]:
        return self._plain(self._call(self._client.v1.payment_methods.detach, payment_method_id, key=key))

    def portal_session(self, customer_id: str, return_url: str, *, key: str) -> dict[str, Any]:
        params = {"customer": customer_id, "return_url": return_url}
        return self._plain(self._call(self._client.v1.billing_portal.sessions.create, key=key, params=params))

    def add_tax_id(self, customer_id: str, type_: str, value: str, *, key: str) -> dict[str, Any]:
        params = {"type": type_, "value": value}
        return self._plain(
            self._call(self._client.v1.customers.tax_ids.create, customer_id, key=key, params=params)
        )

    def tax_ids(self, customer_id: str) -> list[dict[str, Any]]:
        page = self._call(self._client.v1.customers.tax_ids.list, customer_id, params={"limit": 100})
        return [self._plain(t) for t in page.data]

    def delete_tax_id(self, customer_id: str, tax_id: str) -> dict[str, Any]:
        return self._plain(self._call(self._client.v1.customers.tax_ids.delete, customer_id, tax_id))

    def invoices(self, customer_id: str, limit: int) -> list[dict[str, Any]]:
        page = self._call(self._client.v1.invoices.list, params={"customer": customer_id, "limit": limit})
        return [self._plain(i) for i in page.data]

    # ---- catalog -----------------------------------------------------------------------------

    def products(self) -> list[dict[str, Any]]:
        page = self._call(self._client.v1.products.list, params={"limit": 100, "active": True})
        return [self._plain(p) for p in page.data]

    def prices(self) -> list[dict[str, Any]]:
        page = self._call(self._client.v1.prices.list, params={"limit": 100, "active": True})
        return [self._plain(p) for p in page.data]


def verify_webhook(payload: str, signature: str | None, secret: str, tolerance: int = 300) -> dict[str, Any]:
    """The event Stripe signed, or `InvalidSignature`: checked before anything else is read."""
    import json

    import stripe

    if not signature or not secret:
        raise InvalidSignature("missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise InvalidSignature(str(exc.user_message or "signature verification failed")) from None
    try:
        event = json.loads(payload)
    except ValueError:
        raise InvalidSignature("signed payload is not JSON") from None
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
    ):
        raise InvalidSignature("signed payload is not a Stripe event")
    return event


class InvalidSignature(DomainError):
    code = "invalid_signature"
    title = "The Stripe signature is missing, forged or too old"

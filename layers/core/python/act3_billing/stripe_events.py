"""What each Stripe event does. The webhook verifies the signature, stores the event id and queues the
event (`accept`); the stripe-events worker applies it (`process`). Every
step here is idempotent on its own (lots by payment id, cycles by period, state by Stripe's timestamps),
so a redelivery or an out-of-order event never counts twice or moves state back."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from act3_billing import dunning, packs, subscriptions
from act3_billing.catalog import live_catalog
from act3_billing.domain.errors import DomainError
from act3_billing.objects import Queue
from act3_billing.observability import logger
from act3_billing.store.debt import DebtStore
from act3_billing.store.payments import PaymentsStore
from act3_billing.store.wallets import BillingStore


@dataclass(frozen=True)
class Ports:
    store: BillingStore
    payments: PaymentsStore
    debts: DebtStore
    now: datetime


Handler = Callable[[Ports, dict[str, Any], dict[str, Any]], str]


def _pack_ref(ports: Ports, obj: dict[str, Any]) -> tuple[str, str] | None:
    """(org, purchase) of a pack payment: from our metadata, else from the payment intent's reference."""
    meta = obj.get("metadata") or {}
    if meta.get("act3_kind") == packs.PACK_KIND and meta.get("act3_org") and meta.get("act3_purchase"):
        return str(meta["act3_org"]), str(meta["act3_purchase"])
    intent = obj.get("payment_intent") if obj.get("object") != "payment_intent" else obj.get("id")
    if isinstance(intent, dict):
        intent = intent.get("id")
    if isinstance(intent, str):
        ref = ports.payments.ref(intent)
        if ref is not None and ref.kind == "pack" and ref.ref:
            return ref.org_id, ref.ref
    return None


def payment_intent_succeeded(ports: Ports, obj: dict[str, Any], event: dict[str, Any]) -> str:
    ref = _pack_ref(ports, obj)
    if ref is None:
        return "ignored: not a credit pack payment"
    org_id, purchase_id = ref
    ports.payments.attach_payment(org_id, purchase_id, payment_intent_id=str(obj["id"]), session_id=None)
    added = packs.paid(
        ports.store,
        ports.payments,
        ports.debts,
        org_id,
        purchase_id,
        str(obj["id"]),
        int(obj.get("amount_received") or 0),
        ports.now,
    )
    return "pack added" if added else "pack already settled"


def payment_intent_failed(ports: Ports, obj: dict[str, Any], event: dict[str, Any]) -> str:
    ref = _pack_ref(ports, obj)
    if ref is None:
        return "ignored: not a credit pack payment"
    packs.failed(ports.payments, ref[0], ref[1], ports.now)
    return "pack payment failed"


def checkout_completed(ports: Ports, obj: dict[str, Any], event: dict[str, Any]) -> str:
    if obj.get("mode") == "subscription":
        return subscriptions.checkout_completed(ports.payments, obj)
    ref = _pack_ref(ports, obj)
    if ref is None:
        return "ignored: not a credit pack checkout"
    if obj.get("payment_status") != "paid" or not isinstance(obj.get("payment_intent"), str):
        return "checkout not paid yet"
    org_id, purchase_id = ref
    intent = str(obj["payment_intent"])
    ports.payments.attach_payment(org_id, purchase_id, payment_intent_id=intent, session_id=str(obj["id"]))
    added = packs.paid(
        ports.store,
        ports.payments,
        ports.debts,
        org_id,
        purchase_id,
        intent,
        int(obj.get("amount_total") or 0),
        ports.now,
    )
    return "pack added" if added else "pack already settled"


def charge_refunded(ports: Ports, obj: dict[str, Any], event: dict[str, Any]) -> str:
    ref = _pack_ref(ports, obj)
    if ref is None:
        return "ignored: not a credit pack charge"
    if not obj.get("refunded"):
        taken = packs.partially_refunded(
            ports.payments,
            ports.debts,
            ref[0],
            ref[1],
            int(obj.get("amount_refunded") or 0),
            int(obj.get("amount") or 0),
            ports.now,
        )
        return f"partial refund: {taken} credits taken back"
    packs.closed(ports.payments, ports.debts, ref[0], ref[1], "refunded", ports.now)
    return "pack clawed back (refund)"


def dispute_created(ports: Ports, obj: dict[str, Any], event: dict[str, Any]) -> str:
    ref = _pack_ref(ports, obj)
    if ref is None:
        return "ignored: not a credit pack dispute"
    packs.closed(ports.payments, ports.debts, ref[0], ref[1], "disputed", ports.now)
    return "pack clawed back (dispute)"


def subscription_changed(ports: Ports, obj: dict[str, Any], event: dict[str, Any]) -> str:
    return subscriptions.stripe_subscription_changed(
        ports.store,
        ports.payments,
        live_catalog(ports.payments),
        obj,
        int(event.get("created") or 0),
        ports.now,
        deleted=event["type"] == "customer.subscription.deleted",
    )


def invoice_paid(ports: Ports, obj: dict[str, Any], event: dict[str, Any]) -> str:
    created = int(event.get("created") or 0)
    result = subscriptions.invoice_paid(
        ports.store,
        ports.payments,
        ports.debts,
        live_catalog(ports.payments),
        obj,
        ports.now,
        event_created=created,
    )
    recovered = dunning.renewal_paid(ports.store, ports.payments, obj, created, ports.now)
    return f"{result}; wallet {recovered.value}" if recovered is not None else result


def invoice_failed(ports: Ports, obj: dict[str, Any], event: dict[str, Any]) -> str:
    return dunning.renewal_failed(ports.store, ports.payments, obj, int(event.get("created") or 0), ports.now)


def catalog_changed(ports: Ports, obj: dict[str, Any], event: dict[str, Any]) -> str:
    from act3_billing import catalog

    return catalog.stripe_object_changed(ports.payments, obj, int(event.get("created") or 0), ports.now)


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": payment_intent_succeeded,
    "payment_intent.payment_failed": payment_intent_failed,
    "checkout.session.completed": checkout_completed,
    "checkout.session.async_payment_succeeded": checkout_completed,
    "charge.refunded": charge_refunded,
    "charge.dispute.created": dispute_created,
    "customer.subscription.created": subscription_changed,
    "customer.subscription.updated": subscription_changed,
    "customer.subscription.deleted": subscription_changed,
    "invoice.paid": invoice_paid,
    "invoice.payment_failed": invoice_failed,
    "product.created": catalog_changed,
    "product.updated": catalog_changed,
    "price.created": catalog_changed,
    "price.updated": catalog_changed,
}


def apply(ports: Ports, event: dict[str, Any]) -> str:
    """Applies one verified event; unknown types change nothing."""
    handler = HANDLERS.get(str(event.get("type")))
    if handler is None:
        return "ignored: event type not handled"
    obj = (event.get("data") or {}).get("object")
    if not isinstance(obj, dict):
        return "ignored: no object"
    return handler(ports, obj, event)


# SQS takes 256 KiB a message; a bigger event (an invoice with very many lines) is applied at once.
MAX_QUEUED_BYTES = 240_000
RETRY_CODES = frozenset({"unavailable", "conflict"})


def accept(ports: Ports, event: dict[str, Any], queue: Queue) -> str:
    """The webhook's part, within Stripe's timeout: store the event id once, hand the event to the
    queue. A duplicate of an applied event is a no-op; an event stored but not applied yet (the queue
    lost it, or it is still waiting) is queued again - applying is idempotent, so that is safe."""
    if not ports.payments.record_event(
        str(event["id"]), str(event["type"]), int(event.get("created") or 0), ports.now
    ):
        return "duplicate"
    if len(json.dumps(event)) > MAX_QUEUED_BYTES:
        return process(ports, event)
    queue.send([event])
    return "queued"


def process(ports: Ports, event: dict[str, Any]) -> str:
    """The worker's part: apply, then mark the event done with what it did. A refusal by the domain
    (an unknown org, a closed purchase, ...) is final and recorded; `unavailable` and `conflict`
    propagate, so SQS delivers the event again (and dead-letters it after the queue's retries)."""
    try:
        result = apply(ports, event)
    except DomainError as exc:
        if exc.code in RETRY_CODES:
            raise
        logger.warning("stripe event refused by the domain", extra={"event": event["id"], "code": exc.code})
        result = f"ignored: {exc.code}"
    ports.payments.event_done(str(event["id"]), result)
    return result

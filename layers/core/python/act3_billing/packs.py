"""Credit packs: buy one (a PaymentIntent client secret or a Checkout URL), add its lot exactly once
when Stripe confirms the payment, claw it back when the payment is refunded or disputed.

Pack state only moves forward: pending → paid → refunded | disputed (or pending → failed, and a
refund that arrives before the payment's confirmation closes the purchase without a lot).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from act3_billing.domain.errors import Conflict, IdempotencyKeyReuse
from act3_billing.domain.ledger import EntryType
from act3_billing.domain.lots import Lot, LotKind
from act3_billing.domain.packs import pack_lot_id, price_pack
from act3_billing.domain.roles import Permission
from act3_billing.domain.times import iso
from act3_billing.observability import logger
from act3_billing.services import Context, idem
from act3_billing.store.idempotency import Idem, Outcome, previous

if TYPE_CHECKING:
    from act3_billing.payments.gateway import StripeGateway
    from act3_billing.store.debt import DebtStore
    from act3_billing.store.payment_models import PackPurchaseItem
    from act3_billing.store.payments import PaymentsStore

PACK_KIND = "pack"
CLOSED = ("refunded", "disputed")

MAX_REFUND_ATTEMPTS = 10  # another refund of the same pack landing in between makes us read again


def ensure_customer(
    payments: PaymentsStore, gateway: StripeGateway, org_id: str, email: str | None, now: datetime
) -> str:
    """One Stripe customer per org: made once (Stripe's idempotency key and our conditional put agree)."""
    existing = payments.customer_id(org_id)
    if existing:
        return existing
    customer = gateway.create_customer(org_id, name=f"ACT 3 AI org {org_id}", email=email)
    return payments.save_customer(org_id, str(customer["id"]), now)


def purchase_json(item: PackPurchaseItem) -> dict[str, Any]:
    return {
        "purchase_id": item.purchase_id,
        "credits": int(item.credits),
        "price_cents": int(item.price_cents),
        "currency": item.currency,
        "status": item.status,
        "payment_intent_id": item.payment_intent_id,
        "created_at": item.created_at,
        "paid_at": item.paid_at,
        "clawed_back": int(item.clawed_back or 0),
    }


def buy(
    ctx: Context,
    payments: PaymentsStore,
    gateway: StripeGateway,
    org_id: str,
    *,
    credits: int,
    checkout: bool,
    payment_method: str | None,
    success_url: str,
    cancel_url: str,
    key: str | None,
) -> Outcome:
    from act3_billing.store.models import org_pk
    from act3_billing.store.payment_models import PackPurchaseItem

    body = {"credits": credits, "checkout": checkout, "payment_method": payment_method}
    token = idem(key, "buy_pack", ctx.caller, body)
    ctx.store.require(org_id, ctx.caller.user_id, Permission.BUY_CREDITS)
    earlier = previous(org_id, token)
    if earlier is not None:
        return earlier
    wallet = ctx.store.wallet(org_id)
    pack = price_pack(ctx.catalog, wallet.plan_id, credits)
    purchase_id = "pp_" + hashlib.sha256(f"{org_id}\x1f{token.key}".encode()).hexdigest()[:24]
    item, created = payments.new_purchase(
        PackPurchaseItem(
            org_pk(org_id),
            f"PACK#{purchase_id}",
            purchase_id=purchase_id,
            org_id=org_id,
            credits=pack.credits,
            price_cents=pack.price_cents,
            currency=pack.currency,
            status="pending",
            actor=ctx.caller.user_id,
            created_at=iso(ctx.now),
        )
    )
    if not created and (item.actor != ctx.caller.user_id or int(item.credits) != pack.credits):
        # An earlier attempt under this key stopped half-way with another request.
        raise IdempotencyKeyReuse("this Idempotency-Key was already used with a different request")
    customer = ensure_customer(payments, gateway, org_id, ctx.caller.email, ctx.now)
    metadata = {
        "act3_org": org_id,
        "act3_kind": PACK_KIND,
        "act3_purchase": purchase_id,
        "act3_credits": str(pack.credits),
    }
    description = f"ACT 3 AI credit pack: {pack.credits:,} credits"
    answer = purchase_json(item)
    if checkout:
        session = gateway.create_payment_checkout(
            customer_id=customer,
            amount_cents=pack.price_cents,
            currency=pack.currency,
            product_name=description,
            metadata=metadata,
            success_url=success_url,
            cancel_url=cancel_url,
            key=gateway_key(org_id, purchase_id, "checkout"),
        )
        payments.attach_payment(org_id, purchase_id, payment_intent_id=None, session_id=str(session["id"]))
        answer |= {"checkout_url": session.get("url"), "checkout_session_id": session["id"]}
    else:
        intent = gateway.create_payment_intent(
            customer_id=customer,
            amount_cents=pack.price_cents,
            currency=pack.currency,
            metadata=metadata,
            key=gateway_key(org_id, purchase_id, "payment_intent", payment_method or ""),
            payment_method=payment_method,
        )
        payments.attach_payment(org_id, purchase_id, payment_intent_id=str(intent["id"]), session_id=None)
        answer |= {
            "payment_intent_id": intent["id"],
            "client_secret": intent.get("client_secret"),
            "payment_status": intent.get("status"),
        }
        if intent.get("status") == "succeeded":
            # Confirmed at once (a saved card): the webhook will say the same, and is a no-op then.
            paid(
                ctx.store,
                payments,
                debt_store(),
                org_id,
                purchase_id,
                str(intent["id"]),
                int(intent["amount"]),
                ctx.now,
            )
            answer["status"] = "paid"
    return payments.remember(org_id, token, answer, ctx.now)


def gateway_key(*parts: str) -> str:
    from act3_billing.payments.gateway import stripe_key

    return stripe_key(*parts)


def debt_store() -> DebtStore:
    from act3_billing import runtime

    return runtime.debts()


def list_purchases(ctx: Context, payments: PaymentsStore, org_id: str) -> dict[str, Any]:
    ctx.store.require(org_id, ctx.caller.user_id, Permission.BUY_CREDITS)
    return {"purchases": [purchase_json(p) for p in payments.purchases(org_id)]}


# ---- what Stripe tells us (webhook) ------------------------------------------------------------------


def paid(
    store: Any,
    payments: PaymentsStore,
    debts: DebtStore,
    org_id: str,
    purchase_id: str,
    payment_intent_id: str,
    amount_received: int,
    now: datetime,
) -> bool:
    """Adds the pack's lot exactly once (the idempotency key is the payment's id); new credits pay
    any debt first. False when nothing was added (closed already, or paid too little)."""
    purchase = payments.purchase(org_id, purchase_id)
    if purchase.status in CLOSED or purchase.status == "paid":
        return False
    if amount_received < int(purchase.price_cents):
        logger.warning("pack paid short", extra={"purchase": purchase_id, "received": amount_received})
        return False
    credits = int(purchase.credits)
    lot = Lot(
        pack_lot_id(purchase_id), LotKind.PACK, credits, credits, now, None, f"pack of {credits} credits"
    )
    store.add_lot(
        org_id,
        lot,
        entry_type=EntryType.PACK_PURCHASE,
        idem=Idem(f"pack:{payment_intent_id}", "pack_purchase", f"{purchase_id}:{credits}"),
        now=now,
        memo=f"credit pack {purchase_id} paid ({payment_intent_id})",
        pay_debt=True,
    )
    if not payments.move_purchase(
        org_id, purchase_id, to="paid", allowed_from=("pending", "failed"), now=now
    ):
        # A refund or dispute closed it while the lot went in: take the lot back as the refund would.
        current = payments.purchase(org_id, purchase_id)
        if current.status in CLOSED:
            _claw_back(debts, current, current.status, now, payments)
    return True


def failed(payments: PaymentsStore, org_id: str, purchase_id: str, now: datetime) -> None:
    payments.move_purchase(org_id, purchase_id, to="failed", allowed_from=("pending",), now=now)


def closed(
    payments: PaymentsStore, debts: DebtStore, org_id: str, purchase_id: str, reason: str, now: datetime
) -> None:
    """A refunded or disputed pack payment: claws back what is left of the pack, the rest becomes debt."""
    purchase = payments.purchase(org_id, purchase_id)
    if purchase.status in ("pending", "failed") and payments.move_purchase(
        org_id, purchase_id, to=reason, allowed_from=("pending", "failed"), now=now
    ):
        return  # never granted: nothing to take back (a later confirmation finds it closed)
    payments.move_purchase(org_id, purchase_id, to=reason, allowed_from=("paid",), now=now)
    purchase = payments.purchase(org_id, purchase_id)
    if purchase.paid_at:
        _claw_back(debts, purchase, reason, now, payments)


def _claw_back(
    debts: DebtStore, purchase: PackPurchaseItem, reason: str, now: datetime, payments: PaymentsStore
) -> None:
    """What is still the org's of a closed pack goes back (all of it, less what partial refunds took)."""
    for _ in range(MAX_REFUND_ATTEMPTS):
        before = int(purchase.clawed_back or 0)
        take = int(purchase.credits) - before
        if take <= 0:
            return
        done = debts.claw_back(
            purchase.org_id,
            lot_id=pack_lot_id(purchase.purchase_id),
            credits=take,
            idem=Idem(f"clawback:{purchase.purchase_id}", "pack_clawback", str(take)),
            now=now,
            memo=f"credit pack {purchase.purchase_id} {reason}",
            purchase=(purchase.purchase_id, before),
        )
        if done is not None:
            return
        purchase = payments.purchase(purchase.org_id, purchase.purchase_id)
    raise Conflict("the purchase kept changing; retry")


def partially_refunded(
    payments: PaymentsStore,
    debts: DebtStore,
    org_id: str,
    purchase_id: str,
    refunded_cents: int,
    charged_cents: int,
    now: datetime,
) -> int:
    """A partial refund of a paid pack takes back the same share of its credits, rounded down (the org
    keeps the fraction of a credit): `refunded_cents` is Stripe's running total for the charge, so a
    redelivered or out-of-order refund never takes twice, and a later full refund takes the rest.
    Returns the credits taken back now."""
    for _ in range(MAX_REFUND_ATTEMPTS):
        purchase = payments.purchase(org_id, purchase_id)
        if purchase.status != "paid" or not purchase.paid_at:
            return 0  # not granted yet, or closed already (the closure took everything)
        credits = int(purchase.credits)
        charged = charged_cents or int(purchase.price_cents)
        target = min(credits, credits * max(refunded_cents, 0) // charged) if charged > 0 else 0
        before = int(purchase.clawed_back or 0)
        if target <= before:
            return 0
        done = debts.claw_back(
            org_id,
            lot_id=pack_lot_id(purchase_id),
            credits=target - before,
            idem=Idem(f"clawback:{purchase_id}:{refunded_cents}", "pack_clawback", str(target)),
            now=now,
            memo=f"credit pack {purchase_id} partly refunded ({refunded_cents} of {charged} cents)",
            purchase=(purchase_id, before),
        )
        if done is not None:
            return target - before
    raise Conflict("the purchase kept changing; retry")

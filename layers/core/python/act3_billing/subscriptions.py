"""Subscriptions and plan changes (owner only): subscribe (Checkout in subscription mode, or the API
path: a payment method saved by a SetupIntent, then the subscription), upgrade now, downgrade at the
end of the cycle, cancel to archive at period end; `invoice.paid` grants the paid cycle exactly once.

The subscription item keeps Stripe's view (status, period, the plan of the price Stripe bills, the
cancel flag), moved only forward by Stripe's own timestamps. The wallet's plan state (plan, pending
plan, status, archive) belongs to the cycles work (issue 7): `PlanState` is the one adapter onto
`act3_billing.cycles` (`grant_paid_cycle`, `change_plan_now`, `schedule_plan_change`, `enter_archive`),
following the contract in that module's docstring.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from act3_billing.domain.errors import (
    NoSubscription,
    NotFound,
    PlanNotPurchasable,
    SamePlan,
    SubscriptionExists,
)
from act3_billing.domain.plans import Catalog
from act3_billing.domain.roles import Permission
from act3_billing.domain.times import iso
from act3_billing.observability import logger
from act3_billing.services import Context, idem
from act3_billing.store.idempotency import Outcome, previous

if TYPE_CHECKING:
    from act3_billing.payments.gateway import StripeGateway
    from act3_billing.store.debt import DebtStore
    from act3_billing.store.payment_models import SubscriptionItem
    from act3_billing.store.payments import PaymentsStore
    from act3_billing.store.wallets import BillingStore

ARCHIVE = "archive"
ENDED = frozenset({"canceled", "unpaid", "incomplete_expired"})


def _ts(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


class PlanState:
    """The one adapter onto the wallet's plan state, which issue 7 owns (`act3_billing.cycles`)."""

    def __init__(self, store: BillingStore, payments: PaymentsStore, catalog: Catalog) -> None:
        self._store = store
        self._payments = payments
        self._catalog = catalog

    def grant_paid_cycle(
        self,
        org_id: str,
        period_start: datetime,
        period_end: datetime,
        plan_id: str,
        source_ref: str,
        now: datetime,
    ) -> None:
        """The paid period's allowance, exactly once (issue 7's contract); an org in archive comes back
        first (generation on, the media purge cancelled)."""
        from act3_billing import cycles
        from act3_billing.domain.lots import WalletStatus

        if self._store.wallet(org_id).status is WalletStatus.ARCHIVED:
            cycles.change_plan_now(org_id, plan_id, now, catalog=self._catalog)
        cycles.grant_paid_cycle(
            org_id, period_start, period_end, plan_id, source_ref, now, catalog=self._catalog
        )
        logger.info("paid cycle", extra={"org": org_id, "plan": plan_id, "source": source_ref})

    def change_plan_now(
        self, org_id: str, plan_id: str, period: tuple[datetime, datetime], source_ref: str, now: datetime
    ) -> None:
        """An upgrade: a new cycle now (the old allowance banked), granted by its paid invoice."""
        from act3_billing import cycles

        cycles.change_plan_now(org_id, plan_id, now, catalog=self._catalog)
        cycles.grant_paid_cycle(org_id, period[0], period[1], plan_id, source_ref, now, catalog=self._catalog)

    def schedule_plan_change(self, org_id: str, plan_id: str, now: datetime) -> None:
        from act3_billing import cycles

        cycles.schedule_plan_change(org_id, plan_id, now, catalog=self._catalog)

    def enter_archive(self, org_id: str, now: datetime) -> None:
        """Archive keeps every lot (SPEC §12); generation stops and the media purge is scheduled."""
        from act3_billing import cycles

        cycles.enter_archive(org_id, now, catalog=self._catalog)


def _price_of(catalog: Catalog, plan_id: str) -> str:
    plan = catalog.get(plan_id)
    if not plan.stripe_price_id or plan.contract or not plan.price_cents:
        raise PlanNotPurchasable(f"plan '{plan_id}' has no monthly price to subscribe to", plan=plan_id)
    return plan.stripe_price_id


def _first_item(subscription: dict[str, Any]) -> dict[str, Any]:
    items = (subscription.get("items") or {}).get("data") or [{}]
    return dict(items[0])


def _period(subscription: dict[str, Any]) -> tuple[datetime, datetime] | None:
    item = _first_item(subscription)
    start = item.get("current_period_start") or subscription.get("current_period_start")
    end = item.get("current_period_end") or subscription.get("current_period_end")
    return (_ts(start), _ts(end)) if start and end else None


def _price_id(item: dict[str, Any]) -> str | None:
    price = item.get("price") or item.get("plan")
    if isinstance(price, dict):
        price = price.get("id")
    return str(price) if price else None


def subscription_json(item: SubscriptionItem | None, wallet_plan: str, pending: str | None) -> dict[str, Any]:
    """Plan and status, the current period, a pending change and the next invoice date."""
    if item is None:
        return {
            "plan_id": wallet_plan,
            "status": "none",
            "subscription_id": None,
            "current_period_start": None,
            "current_period_end": None,
            "pending_plan_id": pending,
            "cancel_at_period_end": False,
            "next_invoice_at": None,
        }
    cancel = bool(item.cancel_at_period_end)
    live = item.status not in ENDED
    return {
        "plan_id": wallet_plan,
        "status": item.status,
        "subscription_id": item.subscription_id,
        "current_period_start": item.period_start,
        "current_period_end": item.period_end,
        "pending_plan_id": ARCHIVE if cancel and live else pending,
        "cancel_at_period_end": cancel,
        "next_invoice_at": item.period_end if live and not cancel else None,
    }


# ---- routes ------------------------------------------------------------------------------------------


def get(ctx: Context, payments: PaymentsStore, org_id: str) -> dict[str, Any]:
    ctx.store.require(org_id, ctx.caller.user_id, Permission.READ_BILLING)
    wallet = ctx.store.wallet(org_id)
    return subscription_json(payments.subscription(org_id), wallet.plan_id, wallet.pending_plan_id)


def _live(payments: PaymentsStore, org_id: str) -> SubscriptionItem:
    current = payments.subscription(org_id)
    if current is None or not current.subscription_id or current.status in ENDED:
        raise NoSubscription("this organization has no subscription; subscribe first")
    return current


def subscribe(
    ctx: Context,
    payments: PaymentsStore,
    gateway: StripeGateway,
    org_id: str,
    *,
    plan_id: str,
    payment_method: str | None,
    success_url: str,
    cancel_url: str,
    key: str | None,
) -> Outcome:
    """Without a payment method: a Checkout Session in subscription mode (its URL). With one (saved by
    a SetupIntent): the subscription itself, charged at once; the paid cycle starts on its invoice."""
    from act3_billing.packs import ensure_customer
    from act3_billing.payments.gateway import stripe_key

    token = idem(key, "subscribe", ctx.caller, {"plan_id": plan_id, "payment_method": payment_method})
    ctx.store.require(org_id, ctx.caller.user_id, Permission.MANAGE_SUBSCRIPTION)
    earlier = previous(org_id, token)
    if earlier is not None:
        return earlier
    current = payments.subscription(org_id)
    if current is not None and current.subscription_id and current.status not in ENDED:
        raise SubscriptionExists("this organization already has a subscription; change its plan instead")
    price = _price_of(ctx.catalog, plan_id)
    customer = ensure_customer(payments, gateway, org_id, ctx.caller.email, ctx.now)
    metadata = {"act3_org": org_id, "act3_plan": plan_id}
    skey = stripe_key("subscribe", org_id, token.key)
    if payment_method is None:
        session = gateway.create_subscription_checkout(
            customer_id=customer,
            price_id=price,
            metadata=metadata,
            success_url=success_url,
            cancel_url=cancel_url,
            key=skey,
        )
        answer = {
            "plan_id": plan_id,
            "status": "checkout_open",
            "checkout_url": session.get("url"),
            "checkout_session_id": session["id"],
        }
        return payments.remember(org_id, token, answer, ctx.now)
    if gateway.payment_method(payment_method).get("customer") != customer:
        raise NotFound(f"payment method {payment_method} not found")
    sub = gateway.create_subscription(
        customer_id=customer, price_id=price, payment_method=payment_method, metadata=metadata, key=skey
    )
    apply_subscription(ctx.store, payments, sub, int(sub.get("created") or 0), ctx.now, ctx.catalog)
    invoice = sub.get("latest_invoice")
    period = _period(sub)
    if isinstance(invoice, dict) and invoice.get("status") == "paid" and period is not None:
        plans = PlanState(ctx.store, payments, ctx.catalog)
        plans.change_plan_now(org_id, plan_id, period, str(invoice["id"]), ctx.now)
        payments.cycle_paid(org_id, plan_id, *period, int(invoice.get("created") or 0), ctx.now)
    return payments.remember(org_id, token, get(ctx, payments, org_id), ctx.now)


def change_plan(
    ctx: Context,
    payments: PaymentsStore,
    gateway: StripeGateway,
    org_id: str,
    *,
    plan_id: str,
    key: str | None,
) -> Outcome:
    """Upgrade at once (a new paid period starts, Stripe prorates, applied when the payment succeeds);
    downgrade at the end of the cycle (Stripe bills the new price from the next period)."""
    from act3_billing.payments.gateway import stripe_key

    token = idem(key, "change_plan", ctx.caller, {"plan_id": plan_id})
    ctx.store.require(org_id, ctx.caller.user_id, Permission.MANAGE_SUBSCRIPTION)
    earlier = previous(org_id, token)
    if earlier is not None:
        return earlier
    current = _live(payments, org_id)
    if plan_id == ARCHIVE:
        return cancel(ctx, payments, gateway, org_id, key=key)
    price = _price_of(ctx.catalog, plan_id)
    wallet = ctx.store.wallet(org_id)
    wallet_plan = wallet.plan_id
    if plan_id == wallet_plan and not wallet.pending_plan_id and not current.cancel_at_period_end:
        raise SamePlan(f"already on plan '{plan_id}'")
    old, new = ctx.catalog.get(wallet_plan), ctx.catalog.get(plan_id)
    upgrade = (new.price_cents or 0) > (old.price_cents or 0)
    sub = gateway.subscription(str(current.subscription_id))
    updated = gateway.change_price(
        sub,
        price,
        now=upgrade,
        metadata={"act3_org": org_id, "act3_plan": plan_id},
        key=stripe_key("change_plan", org_id, token.key),
    )
    plans = PlanState(ctx.store, payments, ctx.catalog)
    change = "downgrade_at_period_end"
    if upgrade:
        change = "upgrade_pending_payment"
        invoice = updated.get("latest_invoice")
        period = _period(updated)
        paid = isinstance(invoice, dict) and invoice.get("status") == "paid"
        if paid and isinstance(invoice, dict) and not updated.get("pending_update") and period is not None:
            plans.change_plan_now(org_id, plan_id, period, str(invoice["id"]), ctx.now)
            payments.cycle_paid(org_id, plan_id, *period, int(invoice.get("created") or 0), ctx.now)
            change = "upgraded"
    else:
        plans.schedule_plan_change(org_id, plan_id, ctx.now)
    return payments.remember(org_id, token, {**get(ctx, payments, org_id), "change": change}, ctx.now)


def cancel(
    ctx: Context, payments: PaymentsStore, gateway: StripeGateway, org_id: str, *, key: str | None
) -> Outcome:
    """Cancel at period end: the org moves to archive when Stripe ends the subscription."""
    from act3_billing.payments.gateway import stripe_key

    token = idem(key, "cancel_subscription", ctx.caller, {})
    ctx.store.require(org_id, ctx.caller.user_id, Permission.MANAGE_SUBSCRIPTION)
    earlier = previous(org_id, token)
    if earlier is not None:
        return earlier
    current = _live(payments, org_id)
    updated = gateway.cancel_at_period_end(
        str(current.subscription_id), key=stripe_key("cancel", org_id, token.key)
    )
    apply_subscription(ctx.store, payments, updated, int(current.stripe_ts or 0), ctx.now, ctx.catalog)
    return payments.remember(org_id, token, get(ctx, payments, org_id), ctx.now)


# ---- what Stripe tells us -----------------------------------------------------------------------------


def org_of(payments: PaymentsStore, obj: dict[str, Any]) -> str | None:
    """The org a Stripe object belongs to, by its customer (or the subscription's own reference)."""
    for raw in (obj.get("customer"), obj.get("id")):
        candidate = raw.get("id") if isinstance(raw, dict) else raw
        ref = payments.ref(str(candidate)) if candidate else None
        if ref is not None:
            return ref.org_id
    logger.info("stripe object of an unknown customer", extra={"customer": obj.get("customer")})
    return None


def apply_subscription(
    store: BillingStore,
    payments: PaymentsStore,
    sub: dict[str, Any],
    stripe_ts: int,
    now: datetime,
    catalog: Catalog,
) -> bool:
    """Stores Stripe's view of the subscription unless a newer one is stored (out-of-order safe)."""
    from act3_billing.store.models import org_pk
    from act3_billing.store.payment_models import SubscriptionItem
    from act3_billing.store.payments import SUBSCRIPTION_SK

    org_id = org_of(payments, sub)
    if org_id is None:
        return False
    plan = catalog.by_price(_price_id(_first_item(sub)))
    existing = payments.subscription(org_id)
    period = _period(sub)
    pending = existing.pending_plan_id if existing is not None else None
    wallet_plan = store.wallet(org_id).plan_id
    if (
        plan is not None
        and plan.id != wallet_plan
        and sub.get("status") in ("active", "past_due", "trialing")
    ):
        # The price Stripe bills from the next period differs (a downgrade, a change in the portal).
        pending = plan.id
    return payments.save_subscription(
        SubscriptionItem(
            org_pk(org_id),
            SUBSCRIPTION_SK,
            org_id=org_id,
            subscription_id=str(sub["id"]),
            plan_id=plan.id if plan is not None else None,
            price_id=_price_id(_first_item(sub)),
            status=str(sub.get("status") or "incomplete"),
            period_start=iso(period[0]) if period else None,
            period_end=iso(period[1]) if period else None,
            cancel_at_period_end="true" if sub.get("cancel_at_period_end") else None,
            pending_plan_id=pending,
            stripe_ts=stripe_ts,
            updated_at=iso(now),
        )
    )


def checkout_completed(payments: PaymentsStore, session: dict[str, Any]) -> str:
    org_id = org_of(payments, session)
    sub = session.get("subscription")
    if org_id and isinstance(sub, str):
        payments.save_ref(sub, org_id, "subscription")
        return "subscription checkout recorded"
    return "ignored: unknown customer"


def stripe_subscription_changed(
    store: BillingStore,
    payments: PaymentsStore,
    catalog: Catalog,
    sub: dict[str, Any],
    created: int,
    now: datetime,
    *,
    deleted: bool,
) -> str:
    if not apply_subscription(store, payments, sub, created, now, catalog):
        return "ignored: older than the stored state, or unknown customer"
    org_id = org_of(payments, sub)
    assert org_id is not None
    if deleted or sub.get("status") in ENDED:
        # Cancelled at period end, or Stripe's last retry failed: the org follows the archive rules.
        PlanState(store, payments, catalog).enter_archive(org_id, now)
        return "archived"
    return f"subscription {sub.get('status')}"


def invoice_paid(
    store: BillingStore,
    payments: PaymentsStore,
    debts: DebtStore,
    catalog: Catalog,
    invoice: dict[str, Any],
    now: datetime,
    event_created: int | None = None,
) -> str:
    """The paid cycle's grant, once per period, on the plan the invoice's price stands for; the new
    allowance pays any debt first. `event_created` (Stripe's time of the payment) orders the
    subscription's status against a failure reported before it."""
    org_id = org_of(payments, invoice)
    if org_id is None:
        return "ignored: unknown customer"
    line = subscription_line(invoice)
    if line is None:
        return "ignored: not a subscription invoice"
    plan = catalog.by_price(line_price(line))
    if plan is None:
        meta = ((invoice.get("parent") or {}).get("subscription_details") or {}).get("metadata") or {}
        plan = catalog.plans.get(str(meta.get("act3_plan")))
    if plan is None:
        logger.warning("invoice.paid for an unknown price", extra={"price": line_price(line)})
        return "ignored: unknown price"
    start, end = _ts(line["period"]["start"]), _ts(line["period"]["end"])
    PlanState(store, payments, catalog).grant_paid_cycle(
        org_id, start, end, plan.id, str(invoice.get("id")), now
    )
    paid_at = event_created or int(invoice.get("created") or 0)
    payments.cycle_paid(org_id, plan.id, start, end, paid_at, now)
    return f"paid cycle granted ({plan.id})"


def invoice_payment_failed(
    payments: PaymentsStore, invoice: dict[str, Any], created: int, now: datetime
) -> str:
    """A failed renewal: the org is visibly `past_due`; what was granted stays."""
    org_id = org_of(payments, invoice)
    if org_id is None or subscription_line(invoice) is None:
        return "ignored"
    return "past_due" if payments.mark_past_due(org_id, created, now) else "ignored: newer state stored"


def subscription_line(invoice: dict[str, Any]) -> dict[str, Any] | None:
    """The invoice line of the subscription's new period (not a proration line)."""
    for line in ((invoice.get("lines") or {}).get("data")) or []:
        parent = line.get("parent") or {}
        details = parent.get("subscription_item_details") or {}
        is_subscription = (
            parent.get("type") == "subscription_item_details" or line.get("type") == "subscription"
        )
        proration = details.get("proration") if details else line.get("proration")
        if is_subscription and not proration and line.get("period"):
            return dict(line)
    return None


def line_price(line: dict[str, Any]) -> str | None:
    details = (line.get("pricing") or {}).get("price_details") or {}
    price = details.get("price") or line.get("price") or line.get("plan")
    if isinstance(price, dict):
        price = price.get("id")
    return str(price) if price else None

"""Subscriptions end to end against localstripe: the product's own calls (a subscription on a saved card,
an upgrade that starts a new paid period at once, a downgrade at period end, a cancel at period end) on
the local Stripe emulator, taught the current API in `tools/act3_local/localstripe_main.py` (Prices are
its Plans, as Stripe accepts a Plan id wherever a Price id goes). localstripe's own signed webhooks go
through the webhook function and the stripe-events worker; `invoice.paid`, which localstripe does not
send, is built from Stripe's sample with localstripe's ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from act3_billing import catalog, runtime
from act3_billing.domain.lots import LotKind
from act3_billing.store.wallets import BillingStore
from act3_local import stripe_local
from tests.integration.conftest import MovableClock
from tests.support.books import assert_books
from tests.support.events import http_event
from tests.support.functions import Reply, invoke
from tests.support.localstripe import VISA, Deliveries, saved_card
from tests.support.stripe_events import deliver, stripe_event
from tests.support.wallets import Org, new_org


def call(name: str, org: Org, body: Any = ..., key: str | None = None) -> Reply:
    headers = {"idempotency-key": key} if key else None
    return invoke(
        "subscription", http_event(name, org_id=org.org_id, user=org.owner, body=body, headers=headers)
    )


def stripe_catalog(base: str) -> dict[str, str]:
    """localstripe's Products and Plans into the live catalog, as `make stripe-sync` does; plan -> price."""
    stripe_local.load_catalog(base)
    products = stripe_local.call(base, "GET", "/v1/products?limit=100")["data"]
    prices = stripe_local.call(base, "GET", "/v1/plans?limit=100")["data"]
    synced = catalog.sync(runtime.payments(), products, prices, datetime.now(UTC))
    return {p.id: str(p.stripe_price_id) for p in synced.plans.values() if p.stripe_price_id}


def subscribed_on_localstripe(
    localstripe: str, store: BillingStore, clock: MovableClock
) -> tuple[Org, dict[str, str], str]:
    prices = stripe_catalog(localstripe)
    org = new_org(store, plan_id="starter_trial", monthly=800, cap=1600)
    card = saved_card(localstripe, org, VISA)
    reply = call("subscription_create", org, {"plan_id": "creator", "payment_method": card}, key="ls-sub")
    assert reply.status == 201, reply.body
    clock.advance(seconds=1)
    sub = runtime.payments().subscription(org.org_id)
    assert sub is not None and sub.subscription_id
    return org, prices, str(sub.subscription_id)


def on_stripe(localstripe: str, subscription_id: str) -> dict[str, Any]:
    return stripe_local.call(localstripe, "GET", f"/v1/subscriptions/{subscription_id}")


def test_subscribe_on_a_saved_card_grants_the_paid_cycle_once(
    localstripe: str, on_localstripe: Deliveries, store: BillingStore, clock: MovableClock
) -> None:
    org, prices, sub_id = subscribed_on_localstripe(localstripe, store, clock)
    # Stripe (localstripe) holds an active subscription on the creator price, paid by the card
    stripe_sub = on_stripe(localstripe, sub_id)
    assert stripe_sub["status"] == "active"
    assert stripe_sub["items"]["data"][0]["plan"]["id"] == prices["creator"]
    # and the org is on creator, the trial's unused 800 banked, 33,000 granted
    wallet = store.wallet(org.org_id)
    assert (wallet.plan_id, wallet.monthly_allowance) == ("creator", 33_000)
    assert [lot.remaining for lot in wallet.lots if lot.kind is LotKind.BANK] == [800]
    # When invoice.paid for that first invoice arrives (built from Stripe's sample with localstripe's ids)
    invoice = stripe_local.call(localstripe, "GET", f"/v1/invoices/{stripe_sub['latest_invoice']}")
    paid = stripe_event(
        "invoice_paid",
        ids={
            "cus_REPLACE": str(stripe_sub["customer"]),
            "sub_REPLACE": sub_id,
            "price_REPLACE": prices["creator"],
            "org_REPLACE": org.org_id,
            "in_REPLACE": str(invoice["id"]),
        },
        created=int(invoice["created"]),
        change=lambda obj: obj["lines"]["data"][0].update(
            period={
                "start": stripe_sub["current_period_start"],
                "end": stripe_sub["current_period_end"],
            }
        ),
    )
    assert deliver(paid).status == 200
    # Then nothing is granted twice
    assert store.wallet(org.org_id).total() == wallet.total()
    assert_books(store, org.org_id)


def test_upgrade_now_downgrade_later_and_cancel_to_archive_on_localstripe(
    localstripe: str, on_localstripe: Deliveries, store: BillingStore, clock: MovableClock
) -> None:
    org, prices, sub_id = subscribed_on_localstripe(localstripe, store, clock)
    # Upgrade: a new paid period starts at once on Stripe; the creator allowance left is banked
    on_localstripe.apply()  # what localstripe sent about the new subscription, delivered in time
    up = call("subscription_plan_change", org, {"plan_id": "studio"}, key="ls-up")
    on_localstripe.apply()
    assert up.status == 200 and up.body["change"] == "upgraded", up.body
    assert on_stripe(localstripe, sub_id)["items"]["data"][0]["plan"]["id"] == prices["studio"]
    wallet = store.wallet(org.org_id)
    assert (wallet.plan_id, wallet.monthly_allowance) == ("studio", 120_000)
    assert sum(lot.remaining for lot in wallet.lots if lot.kind is LotKind.BANK) == 800 + 33_000
    clock.advance(seconds=1)
    # Downgrade: Stripe bills the starter price from the next period; the org stays on studio till then
    down = call("subscription_plan_change", org, {"plan_id": "starter"}, key="ls-down")
    on_localstripe.apply()
    assert down.status == 200 and down.body["change"] == "downgrade_at_period_end", down.body
    assert on_stripe(localstripe, sub_id)["items"]["data"][0]["plan"]["id"] == prices["starter"]
    assert store.wallet(org.org_id).plan_id == "studio"
    assert store.wallet(org.org_id).pending_plan_id == "starter"
    clock.advance(seconds=1)
    # Cancel: at period end on Stripe; archive is pending
    cancel = call("subscription_cancel", org, {}, key="ls-cancel")
    on_localstripe.apply()
    assert cancel.status == 200 and cancel.body["pending_plan_id"] == "archive", cancel.body
    stripe_sub = on_stripe(localstripe, sub_id)
    assert stripe_sub["cancel_at_period_end"] is True
    # When Stripe ends it (deleted on localstripe, which sends its own signed event)
    total = store.wallet(org.org_id).total()
    stripe_local.call(localstripe, "DELETE", f"/v1/subscriptions/{sub_id}")
    (ended,) = on_localstripe.wait_for("customer.subscription.deleted")
    assert ended["result"] == "archived", ended
    wallet = store.wallet(org.org_id)
    assert wallet.plan_id == "archive" and not wallet.generation_enabled
    assert wallet.total() == total  # nothing lost (two cycles began within one second: see _unused)
    assert_books(store, org.org_id)

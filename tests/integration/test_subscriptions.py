"""Subscriptions and plan changes (SPEC §3, §4, §8), against the Stripe stand-in and signed webhooks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from act3_billing import catalog, runtime
from act3_billing.domain.lots import LotKind
from act3_billing.domain.plans import default_catalog
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import MovableClock
from tests.support.books import assert_books
from tests.support.events import http_event
from tests.support.functions import Reply, invoke
from tests.support.stripe_api import FakeStripe
from tests.support.stripe_events import deliver, stripe_event
from tests.support.wallets import Org, new_org

MONTH = 30 * 86400


def sync_catalog(money: FakeStripe) -> None:
    """Stripe Products (metadata) and monthly Prices for the paid plans, synced as `make stripe-sync` does."""
    for rank, plan in enumerate(("starter", "creator", "studio"), start=1):
        p = default_catalog().get(plan)
        money.add(
            {
                "id": f"prod_{plan}",
                "object": "product",
                "active": True,
                "name": f"ACT 3 AI {p.name}",
                "default_price": f"price_{plan}",
                "created": money.now,
                "metadata": {
                    "act3_plan": plan,
                    "monthly_credits": str(p.monthly_credits),
                    "storage_gb": str(p.storage_gb),
                    "rollover_cap": str(p.rollover_cap),
                    "rank": str(rank),
                },
            }
        )
        money.price(f"price_{plan}", f"prod_{plan}", p.price_cents or 0)
    gateway = runtime.gateway()
    catalog.sync(runtime.payments(), gateway.products(), gateway.prices(), datetime.now(UTC))


def call(name: str, org: Org, user: str, body: Any = ..., key: str | None = None) -> Reply:
    headers = {"idempotency-key": key} if key else None
    return invoke("subscription", http_event(name, org_id=org.org_id, user=user, body=body, headers=headers))


def trial_org(store: BillingStore, money: FakeStripe) -> Org:
    sync_catalog(money)
    return new_org(store, plan_id="starter_trial", monthly=800, cap=1600)


def subscribed(
    store: BillingStore, money: FakeStripe, clock: MovableClock, plan: str = "creator"
) -> tuple[Org, str]:
    org = trial_org(store, money)
    call("subscription_create", org, org.owner, {"plan_id": "starter"}, key="make-customer")
    customer = runtime.payments().customer_id(org.org_id)
    assert customer
    card = money.card(customer)
    reply = call(
        "subscription_create", org, org.owner, {"plan_id": plan, "payment_method": card["id"]}, key="sub-1"
    )
    assert reply.status == 201, reply.body
    clock.advance(seconds=1)  # what follows happens later (the ledger is replayed in time order)
    return org, customer


def invoice_paid(
    org: Org, customer: str, subscription: str, price: str, start: int, **changes: Any
) -> dict[str, Any]:
    def change(obj: dict[str, Any]) -> None:
        obj["lines"]["data"][0]["period"] = {"start": start, "end": start + MONTH}
        obj.update(changes)

    return stripe_event(
        "invoice_paid",
        ids={
            "cus_REPLACE": customer,
            "sub_REPLACE": subscription,
            "price_REPLACE": price,
            "org_REPLACE": org.org_id,
            "in_REPLACE": f"in_{start}",
        },
        created=start,
        change=change,
    )


def test_subscribe_by_checkout_returns_a_url_in_subscription_mode(
    money: FakeStripe, store: BillingStore
) -> None:
    org = trial_org(store, money)
    reply = call("subscription_create", org, org.owner, {"plan_id": "creator"}, key="checkout-1")
    assert reply.status == 201 and reply.body["checkout_url"].startswith("https://checkout.stripe.com/")
    (session,) = money.posts("/v1/checkout/sessions")
    assert session.params["mode"] == "subscription"
    assert session.params["line_items"] == [{"price": "price_creator", "quantity": "1"}]
    assert session.params["subscription_data"]["metadata"]["act3_org"] == org.org_id
    assert session.idempotency_key


def test_subscribe_with_a_saved_card_grants_the_paid_cycle_exactly_once(
    money: FakeStripe, store: BillingStore, clock: MovableClock
) -> None:
    org, customer = subscribed(store, money, clock)
    (created,) = money.posts("/v1/subscriptions")
    assert created.params["items"] == [{"price": "price_creator"}]
    wallet = store.wallet(org.org_id)
    assert wallet.plan_id == "creator" and wallet.monthly_allowance == 33_000
    # the trial's unused allowance rolled into the bank as at any cycle end
    assert [lot.remaining for lot in wallet.lots if lot.kind is LotKind.BANK] == [800]
    sub = runtime.payments().subscription(org.org_id)
    assert sub is not None and sub.subscription_id
    # invoice.paid for the same period, delivered later (twice): no second grant
    start = int(datetime.fromisoformat(str(sub.period_start)).timestamp())
    event = invoice_paid(org, customer, sub.subscription_id, "price_creator", start)
    deliver(event)
    deliver(event)
    deliver(invoice_paid(org, customer, sub.subscription_id, "price_creator", start))
    assert store.wallet(org.org_id).spendable(store.wallet(org.org_id).cycle_start) == 33_800
    assert_books(store, org.org_id)
    view = call("subscription_get", org, org.owner)
    assert view.body["plan_id"] == "creator" and view.body["status"] == "active"
    assert view.body["next_invoice_at"] == view.body["current_period_end"]


def test_the_next_paid_cycle_comes_on_invoice_paid(
    money: FakeStripe, store: BillingStore, clock: MovableClock
) -> None:
    org, customer = subscribed(store, money, clock)
    sub = runtime.payments().subscription(org.org_id)
    assert sub is not None and sub.subscription_id
    next_start = int(datetime.fromisoformat(str(sub.period_end)).timestamp())
    assert (
        deliver(invoice_paid(org, customer, sub.subscription_id, "price_creator", next_start)).status == 200
    )
    wallet = store.wallet(org.org_id)
    assert wallet.cycle_start == datetime.fromtimestamp(next_start, UTC)
    assert wallet.current_monthly() is not None and wallet.current_monthly().remaining == 33_000  # type: ignore[union-attr]
    assert_books(store, org.org_id)


def test_upgrade_takes_effect_at_once_with_proration(
    money: FakeStripe, store: BillingStore, clock: MovableClock
) -> None:
    org, _ = subscribed(store, money, clock)
    reply = call("subscription_plan_change", org, org.owner, {"plan_id": "studio"}, key="up-1")
    assert reply.status == 200 and reply.body["change"] == "upgraded", reply.body
    update = money.posts("/v1/subscriptions/")[-1]
    assert update.params["proration_behavior"] == "always_invoice"
    assert update.params["billing_cycle_anchor"] == "now"
    assert update.params["payment_behavior"] == "pending_if_incomplete"
    assert update.params["items"][0]["price"] == "price_studio"
    # a pending update takes only what Stripe allows with it (no metadata, no cancel flag)
    assert set(update.params) <= {
        "items",
        "proration_behavior",
        "billing_cycle_anchor",
        "payment_behavior",
        "expand",
    }
    wallet = store.wallet(org.org_id)
    assert wallet.plan_id == "studio" and wallet.monthly_allowance == 120_000
    assert sum(lot.remaining for lot in wallet.lots if lot.kind is LotKind.BANK) == 800 + 33_000
    assert_books(store, org.org_id)


def test_downgrade_waits_for_the_end_of_the_cycle(
    money: FakeStripe, store: BillingStore, clock: MovableClock
) -> None:
    org, customer = subscribed(store, money, clock)
    reply = call("subscription_plan_change", org, org.owner, {"plan_id": "starter"}, key="down-1")
    assert reply.status == 200 and reply.body["change"] == "downgrade_at_period_end"
    assert reply.body["pending_plan_id"] == "starter" and reply.body["plan_id"] == "creator"
    assert money.posts("/v1/subscriptions/")[-1].params["proration_behavior"] == "none"
    assert store.wallet(org.org_id).plan_id == "creator"
    sub = runtime.payments().subscription(org.org_id)
    assert sub is not None and sub.subscription_id
    next_start = int(datetime.fromisoformat(str(sub.period_end)).timestamp())
    deliver(invoice_paid(org, customer, sub.subscription_id, "price_starter", next_start))
    wallet = store.wallet(org.org_id)
    assert wallet.plan_id == "starter" and wallet.monthly_allowance == 800
    assert sum(lot.remaining for lot in wallet.lots if lot.kind is LotKind.BANK) <= 1600  # cut to the new cap
    assert call("subscription_get", org, org.owner).body["pending_plan_id"] is None
    assert_books(store, org.org_id)


def test_cancel_goes_to_archive_at_period_end_keeping_every_lot(
    money: FakeStripe, store: BillingStore, clock: MovableClock
) -> None:
    org, customer = subscribed(store, money, clock)
    reply = call("subscription_cancel", org, org.owner, {}, key="cancel-1")
    assert reply.status == 200 and reply.body["pending_plan_id"] == "archive"
    assert reply.body["cancel_at_period_end"] is True and reply.body["next_invoice_at"] is None
    assert store.wallet(org.org_id).plan_id == "creator"
    sub = runtime.payments().subscription(org.org_id)
    assert sub is not None and sub.subscription_id
    total = store.wallet(org.org_id).total()
    deleted = stripe_event(
        "customer_subscription_deleted",
        ids={
            "cus_REPLACE": customer,
            "sub_REPLACE": sub.subscription_id,
            "price_REPLACE": "price_creator",
            "org_REPLACE": org.org_id,
        },
        created=int(datetime.now(UTC).timestamp()) + MONTH,
    )
    assert deliver(deleted).result == "archived"
    wallet = store.wallet(org.org_id)
    assert wallet.plan_id == "archive" and not wallet.generation_enabled
    assert wallet.total() == total  # nothing forfeited on entering archive
    assert_books(store, org.org_id)


def test_a_failed_renewal_is_visible_as_past_due_and_keeps_the_credits(
    money: FakeStripe, store: BillingStore, clock: MovableClock
) -> None:
    org, customer = subscribed(store, money, clock)
    sub = runtime.payments().subscription(org.org_id)
    assert sub is not None and sub.subscription_id
    before = store.wallet(org.org_id).total()
    failed = stripe_event(
        "invoice_payment_failed",
        ids={
            "cus_REPLACE": customer,
            "sub_REPLACE": sub.subscription_id,
            "price_REPLACE": "price_creator",
            "org_REPLACE": org.org_id,
        },
        created=int(datetime.now(UTC).timestamp()) + MONTH,
    )
    assert deliver(failed).result == "past_due"
    assert call("subscription_get", org, org.owner).body["status"] == "past_due"
    balance = invoke("balance", http_event("balance_get", org_id=org.org_id, user=org.viewer)).body
    assert balance["subscription_status"] == "past_due"
    assert store.wallet(org.org_id).total() == before


def test_plan_changes_are_the_owners(money: FakeStripe, store: BillingStore) -> None:
    org = trial_org(store, money)
    for user in (org.billing, org.creator, org.viewer):
        assert (
            call("subscription_create", org, user, {"plan_id": "creator"}, key=f"s-{user}").code
            == "forbidden_role"
        )
        assert call("subscription_cancel", org, user, {}, key=f"c-{user}").code == "forbidden_role"
    assert money.requests[-1].path in ("/v1/products", "/v1/prices")  # nothing but the catalog sync


def test_enterprise_and_archive_cannot_be_subscribed_and_no_subscription_cannot_change(
    money: FakeStripe, store: BillingStore
) -> None:
    org = trial_org(store, money)
    assert (
        call("subscription_create", org, org.owner, {"plan_id": "enterprise"}, key="e").code
        == "plan_not_purchasable"
    )
    assert call("subscription_create", org, org.owner, {"plan_id": "nope"}, key="n").code == "not_found"
    assert (
        call("subscription_plan_change", org, org.owner, {"plan_id": "studio"}, key="p").code
        == "no_subscription"
    )

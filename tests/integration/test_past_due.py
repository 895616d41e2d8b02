"""A failed renewal puts the org's wallet in `past_due`: holds and debits are refused with `past_due`
until the renewal is paid; the events are signed Stripe payloads, delivered late, twice, out of order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from act3_billing import runtime
from act3_billing.domain.lots import WalletStatus
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import MovableClock
from tests.integration.test_subscriptions import MONTH, invoice_paid, subscribed
from tests.support.books import assert_books
from tests.support.calls import debit, hold
from tests.support.events import http_event
from tests.support.functions import invoke
from tests.support.stripe_api import FakeStripe
from tests.support.stripe_events import deliver, stripe_event
from tests.support.wallets import Org


def _subscription(org: Org) -> tuple[str, int]:
    sub = runtime.payments().subscription(org.org_id)
    assert sub is not None and sub.subscription_id and sub.period_end
    return sub.subscription_id, int(datetime.fromisoformat(sub.period_end).timestamp())


def failed_renewal(org: Org, customer: str, created: int) -> dict[str, Any]:
    subscription, _ = _subscription(org)
    return stripe_event(
        "invoice_payment_failed",
        ids={
            "cus_REPLACE": customer,
            "sub_REPLACE": subscription,
            "price_REPLACE": "price_creator",
            "org_REPLACE": org.org_id,
        },
        created=created,
    )


def paid_renewal(org: Org, customer: str, created: int) -> dict[str, Any]:
    """The renewal's invoice paid (Stripe's retry succeeded) at `created`, for the next period."""
    subscription, next_start = _subscription(org)
    event = invoice_paid(org, customer, subscription, "price_creator", next_start)
    event["created"] = created
    return event


def one_credit_hold(org: Org, key: str) -> tuple[int, str | None, Any]:
    reply = hold(org.org_id, org.creator, {"credits": 1, "job_id": f"job-{key}"}, key=key)
    return reply.status, reply.code, reply.body


def test_a_failed_renewal_stops_spending_with_past_due_until_it_is_paid(
    money: FakeStripe, store: BillingStore, clock: MovableClock
) -> None:
    # Given a paying org whose renewal payment fails
    org, customer = subscribed(store, money, clock)
    before = store.wallet(org.org_id).total()
    failed_at = int(datetime.now(UTC).timestamp()) + MONTH
    # When Stripe reports it (twice: the same event redelivered)
    event = failed_renewal(org, customer, failed_at)
    assert deliver(event).result == "past_due"
    assert deliver(event).result == "duplicate"
    # Then the wallet is past_due, visible in the balance, and nothing can be spent
    assert store.wallet(org.org_id).status is WalletStatus.PAST_DUE
    balance = invoke("balance", http_event("balance_get", org_id=org.org_id, user=org.viewer)).body
    assert balance["status"] == "past_due" and balance["subscription_status"] == "past_due"
    assert (balance["generation_enabled"], balance["generation_reason"]) == (False, "past_due")
    status, code, body = one_credit_hold(org, "h1")
    assert (status, code, body["reason"]) == (402, "past_due", "past_due") and "options" not in body
    told = invoke("entitlements", http_event("entitlements_get", org_id=org.org_id, user=org.creator)).body
    assert told["generation"] == {"enabled": False, "reason": "past_due"} and told["status"] == "past_due"
    refused = debit(org.org_id, org.creator, "job-d1")
    assert (refused.status, refused.code, refused.body["reason"]) == (402, "past_due", "past_due")
    assert store.wallet(org.org_id).total() == before  # what was granted stays
    # When Stripe's retry succeeds (the renewal's invoice paid, later)
    result = deliver(paid_renewal(org, customer, failed_at + 3600)).result
    clock.advance(seconds=1)  # what follows happens later (the books are replayed in time order)
    # Then the new cycle is granted and spending goes on
    assert result.startswith("paid cycle granted") and result.endswith("wallet active")
    assert store.wallet(org.org_id).status is WalletStatus.ACTIVE
    told = invoke("entitlements", http_event("entitlements_get", org_id=org.org_id, user=org.creator)).body
    assert told["generation"] == {"enabled": True, "reason": None}
    balance = invoke("balance", http_event("balance_get", org_id=org.org_id, user=org.viewer)).body
    assert (balance["generation_enabled"], balance["generation_reason"]) == (True, None)
    assert one_credit_hold(org, "h2")[0] == 201
    assert (
        invoke("subscription", http_event("subscription_get", org_id=org.org_id, user=org.owner)).body[
            "status"
        ]
        == "active"
    )
    assert_books(store, org.org_id)


def test_a_failure_older_than_the_payment_applied_changes_nothing(
    money: FakeStripe, store: BillingStore, clock: MovableClock
) -> None:
    # Given a renewal paid at t
    org, customer = subscribed(store, money, clock)
    t = int(datetime.now(UTC).timestamp()) + MONTH
    deliver(paid_renewal(org, customer, t))
    # When an earlier attempt's failure (at t - 60) arrives after it
    deliver(failed_renewal(org, customer, t - 60))
    clock.advance(seconds=1)
    # Then the wallet stays active and spends
    assert store.wallet(org.org_id).status is WalletStatus.ACTIVE
    assert one_credit_hold(org, "h1")[0] == 201


def test_a_payment_older_than_the_failure_does_not_end_past_due(
    money: FakeStripe, store: BillingStore, clock: MovableClock
) -> None:
    # Given a failure at t
    org, customer = subscribed(store, money, clock)
    t = int(datetime.now(UTC).timestamp()) + MONTH
    deliver(failed_renewal(org, customer, t))
    # When a payment Stripe made before it (at t - 60) is delivered late
    deliver(paid_renewal(org, customer, t - 60))
    # Then the org stays past_due
    assert store.wallet(org.org_id).status is WalletStatus.PAST_DUE
    assert one_credit_hold(org, "h1")[1] == "past_due"


def test_archive_outranks_past_due_and_a_late_failure_leaves_archive_alone(
    money: FakeStripe, store: BillingStore, clock: MovableClock
) -> None:
    # Given an org past due whose subscription Stripe ends after its final retry
    org, customer = subscribed(store, money, clock)
    t = int(datetime.now(UTC).timestamp()) + MONTH
    deliver(failed_renewal(org, customer, t))
    late_failure = failed_renewal(org, customer, t + 50)
    subscription, _ = _subscription(org)
    ended = stripe_event(
        "customer_subscription_deleted",
        ids={
            "cus_REPLACE": customer,
            "sub_REPLACE": subscription,
            "price_REPLACE": "price_creator",
            "org_REPLACE": org.org_id,
        },
        created=t + 100,
    )
    assert deliver(ended).result == "archived"
    # When another failure arrives late
    deliver(late_failure)
    # Then the org is archived, and spending says so
    assert store.wallet(org.org_id).status is WalletStatus.ARCHIVED
    status, code, body = one_credit_hold(org, "h1")
    assert (status, code, body["reason"]) == (403, "generation_disabled", "archived")

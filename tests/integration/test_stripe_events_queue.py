"""The webhook answers Stripe once the event is stored and queued; the stripe-events worker applies it.
Redeliveries on either side (Stripe's, SQS's) apply an event once; a failure while applying is retried
by SQS and never lost; what each event did is recorded on it."""

from __future__ import annotations

from act3_billing import runtime
from act3_billing.store.wallets import BillingStore
from tests.integration.test_credit_packs import balance, buy, customer_of, paid_event
from tests.support.faults import injected_faults
from tests.support.stripe_api import FakeStripe
from tests.support.stripe_events import post, queued, work
from tests.support.wallets import new_org


def fresh_clients() -> None:
    """The handlers' DynamoDB clients made anew (inside `injected_faults` they carry its hooks)."""
    for cached in (runtime.connection, runtime.store, runtime.payments, runtime.debts):
        cached.cache_clear()


def test_the_webhook_answers_once_queued_and_the_worker_adds_the_pack(
    money: FakeStripe, store: BillingStore
) -> None:
    org = new_org(store)
    bought = buy(org, org.owner, {"credits": 2000}, key="q-pack").body
    event = paid_event(org, bought, customer_of(org))
    before = balance(org, org.owner)["spendable"]
    # When Stripe delivers the payment: the answer comes before any credit moves
    reply = post(event)
    assert reply.status == 200 and reply.body == {"received": True, "result": "queued"}
    assert balance(org, org.owner)["spendable"] == before
    stored = runtime.payments().event(event["id"])
    assert stored is not None and stored.status == "received"
    # Then the worker applies it and records what it did
    assert work() == []
    assert balance(org, org.owner)["spendable"] == before + 2000
    stored = runtime.payments().event(event["id"])
    assert stored is not None and (stored.status, stored.result) == ("done", "pack added")


def test_redeliveries_before_and_after_the_worker_apply_the_event_once(
    money: FakeStripe, store: BillingStore
) -> None:
    org = new_org(store)
    bought = buy(org, org.owner, {"credits": 3000}, key="q-twice").body
    event = paid_event(org, bought, customer_of(org))
    before = balance(org, org.owner)["spendable"]
    # Stripe retries before the worker ran (its first delivery timed out on its side): queued again
    assert post(event).body["result"] == "queued"
    assert post(event).body["result"] == "queued"
    batch = queued()
    assert len(batch["Records"]) == 2
    # SQS hands both over, and then the same batch once more (at-least-once delivery)
    assert work(batch) == [] and work(batch) == []
    assert balance(org, org.owner)["spendable"] == before + 3000
    # once applied, Stripe's next retry is a no-op answered at once
    assert post(event).body["result"] == "duplicate"
    assert queued()["Records"] == []


def test_a_failure_while_applying_is_retried_by_sqs_not_lost(money: FakeStripe, store: BillingStore) -> None:
    org = new_org(store)
    bought = buy(org, org.owner, {"credits": 1000}, key="q-fail").body
    event = paid_event(org, bought, customer_of(org))
    before = balance(org, org.owner)["spendable"]
    assert post(event).body["result"] == "queued"
    batch = queued()
    (message_id,) = [r["messageId"] for r in batch["Records"]]
    # When the worker's connection to DynamoDB drops on every try of its transaction
    fresh_clients()
    with injected_faults() as faults:
        faults.arm("TransactWriteItems", "drop", times=20)
        assert work(batch) == [message_id]  # reported back to SQS as failed
        assert faults.injected
    fresh_clients()
    stored = runtime.payments().event(event["id"])
    assert stored is not None and stored.status == "received"
    assert balance(org, org.owner)["spendable"] == before
    # Then SQS delivers it again and it is applied, once
    assert work(batch) == []
    assert balance(org, org.owner)["spendable"] == before + 1000

"""Credit packs (SPEC §5, §8): priced per plan, paid through Stripe, added exactly once, clawed back."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from act3_billing import runtime
from act3_billing.domain.ledger import EntryType
from act3_billing.domain.lots import Lot, Wallet
from act3_billing.domain.roles import Role
from act3_billing.store.orgs import OrgStore
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import MovableClock
from tests.support import calls
from tests.support.books import assert_books
from tests.support.events import http_event
from tests.support.functions import Reply, invoke
from tests.support.stripe_api import DECLINED, FakeStripe
from tests.support.stripe_events import deliver, stripe_event
from tests.support.wallets import Org, new_org


def buy(org: Org, user: str, body: dict[str, Any], *, key: str) -> Reply:
    return invoke(
        "credit_packs",
        http_event(
            "credit_pack_create", org_id=org.org_id, user=user, body=body, headers={"idempotency-key": key}
        ),
    )


def purchases(org: Org, user: str) -> Reply:
    return invoke("credit_packs", http_event("credit_packs_list", org_id=org.org_id, user=user))


def balance(org: Org, user: str) -> dict[str, Any]:
    reply = invoke("balance", http_event("balance_get", org_id=org.org_id, user=user))
    assert reply.status == 200, reply.body
    return reply.body  # type: ignore[no-any-return]


def paid_event(org: Org, bought: dict[str, Any], customer: str, **changes: Any) -> dict[str, Any]:
    def change(obj: dict[str, Any]) -> None:
        obj["amount"] = obj["amount_received"] = bought["price_cents"]
        obj["metadata"]["act3_credits"] = str(bought["credits"])
        obj.update(changes)

    return stripe_event(
        "payment_intent_succeeded",
        ids={
            "org_REPLACE": org.org_id,
            "pp_REPLACE": bought["purchase_id"],
            "pi_REPLACE": bought["payment_intent_id"],
            "cus_REPLACE": customer,
        },
        change=change,
    )


def customer_of(org: Org) -> str:
    customer = runtime.payments().customer_id(org.org_id)
    assert customer is not None
    return customer


def test_a_pack_is_priced_per_plan_and_returns_a_client_secret(
    money: FakeStripe, store: BillingStore
) -> None:
    # Given a creator-plan org ($35 for 33,000 credits)
    org = new_org(store)
    # When the owner buys 5,000 credits
    reply = buy(org, org.owner, {"credits": 5000}, key="pack-1")
    # Then the price is 5,000 x 3500/33000 x 1.15 = 609.85 -> 610 cents, pending until Stripe confirms
    assert reply.status == 201, reply.body
    assert reply.body["price_cents"] == 610 and reply.body["status"] == "pending"
    assert reply.body["client_secret"].startswith(reply.body["payment_intent_id"])
    (intent,) = money.posts("/v1/payment_intents")
    assert intent.params["amount"] == "610" and intent.params["currency"] == "usd"
    assert intent.params["metadata"]["act3_org"] == org.org_id
    assert intent.idempotency_key and intent.idempotency_key.startswith("act3-")
    # And nothing is credited yet, but the pending purchase is visible
    assert balance(org, org.owner)["packs"] == [] or all(
        p["lot_id"] != f"pack#{reply.body['purchase_id']}" for p in balance(org, org.owner)["packs"]
    )
    listed = purchases(org, org.owner)
    assert [p["status"] for p in listed.body["purchases"]] == ["pending"]


def test_one_customer_per_org_and_a_retry_makes_no_second_payment(
    money: FakeStripe, store: BillingStore
) -> None:
    org = new_org(store)
    first = buy(org, org.owner, {"credits": 1000}, key="pack-a")
    again = buy(org, org.owner, {"credits": 1000}, key="pack-a")
    other = buy(org, org.billing, {"credits": 2000}, key="pack-b")
    assert first.status == again.status == other.status == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.body["payment_intent_id"] == first.body["payment_intent_id"]
    assert len(money.posts("/v1/customers")) == 1  # made once, for the org
    intents = {r.idempotency_key for r in money.posts("/v1/payment_intents")}
    assert len(intents) == 2  # the retry carried the same Stripe idempotency key
    assert len({o["id"] for o in money.objects.values() if o["object"] == "payment_intent"}) == 2
    # the same key with another body is refused
    assert buy(org, org.owner, {"credits": 3000}, key="pack-a").code == "idempotency_key_reuse"


def test_the_pack_lot_is_added_exactly_once_whatever_the_deliveries(
    money: FakeStripe, store: BillingStore
) -> None:
    org = new_org(store)
    bought = buy(org, org.owner, {"credits": 2000}, key="pack-once").body
    event = paid_event(org, bought, customer_of(org))
    before = balance(org, org.owner)["spendable"]
    # delivered twice (same event id), and the checkout completion for the same payment too
    assert deliver(event).status == 200
    assert deliver(event).body["result"] == "duplicate"
    again = paid_event(org, bought, customer_of(org))  # another event id, same payment
    assert deliver(again).status == 200
    after = balance(org, org.owner)
    assert after["spendable"] == before + 2000
    assert [p["remaining"] for p in after["packs"] if p["lot_id"] == f"pack#{bought['purchase_id']}"] == [
        2000
    ]
    assert purchases(org, org.owner).body["purchases"][0]["status"] == "paid"
    assert_books(store, org.org_id)


def test_a_paid_amount_short_of_the_price_adds_nothing(money: FakeStripe, store: BillingStore) -> None:
    org = new_org(store)
    bought = buy(org, org.owner, {"credits": 1000}, key="pack-short").body
    deliver(paid_event(org, bought, customer_of(org), amount_received=1))
    assert purchases(org, org.owner).body["purchases"][0]["status"] == "pending"


def test_a_saved_card_pays_at_once_and_a_declined_card_is_402(money: FakeStripe, store: BillingStore) -> None:
    org = new_org(store)
    buy(org, org.owner, {"credits": 1000}, key="make-customer")
    card = money.card(customer_of(org))
    before = balance(org, org.owner)["spendable"]
    ok = buy(org, org.owner, {"credits": 1000, "payment_method": card["id"]}, key="pack-card")
    assert ok.status == 201 and ok.body["status"] == "paid"
    assert balance(org, org.owner)["spendable"] == before + 1000
    declined = buy(org, org.owner, {"credits": 1000, "payment_method": DECLINED}, key="pack-declined")
    assert declined.status == 402 and declined.code == "payment_refused"
    assert balance(org, org.owner)["spendable"] == before + 1000


def test_checkout_returns_a_url_and_its_completion_adds_the_pack(
    money: FakeStripe, store: BillingStore
) -> None:
    org = new_org(store)
    reply = buy(org, org.owner, {"credits": 1000, "checkout": True}, key="pack-checkout")
    assert reply.status == 201 and reply.body["checkout_url"].startswith("https://checkout.stripe.com/")
    (session,) = money.posts("/v1/checkout/sessions")
    assert session.params["mode"] == "payment"
    assert session.params["line_items"][0]["price_data"]["unit_amount"] == str(reply.body["price_cents"])
    completed = stripe_event(
        "checkout_session_completed",
        ids={
            "org_REPLACE": org.org_id,
            "pp_REPLACE": reply.body["purchase_id"],
            "cus_REPLACE": customer_of(org),
            "cs_REPLACE": reply.body["checkout_session_id"],
            "pi_REPLACE": "pi_from_checkout",
        },
        change=lambda obj: obj.update(amount_total=reply.body["price_cents"]),
    )
    before = balance(org, org.owner)["spendable"]
    assert deliver(completed).status == 200
    assert balance(org, org.owner)["spendable"] == before + 1000


def test_a_refunded_pack_claws_back_what_is_left_and_the_rest_is_debt_paid_by_the_next_credits(
    money: FakeStripe, store: BillingStore, clock: MovableClock
) -> None:
    # Given an org whose monthly credits are spent and who bought and spent part of a 1,000-credit pack
    org = new_org(store, monthly=100, cap=200)
    calls.debit(org.org_id, org.creator, "job-monthly", usage={"shots": {"Q1": 1}})  # 80 of 100
    clock.advance(seconds=1)
    bought = buy(org, org.owner, {"credits": 1000}, key="pack-refund").body
    deliver(paid_event(org, bought, customer_of(org)))
    for n in range(4):  # 4 x 80 = 320 credits: 20 from the monthly lot, 300 from the pack
        clock.advance(seconds=1)
        assert calls.debit(org.org_id, org.creator, f"job-{n}", usage={"shots": {"Q1": 1}}).status == 201
    clock.advance(seconds=1)
    # When the payment is refunded (and the refund is delivered twice)
    refund = stripe_event(
        "charge_refunded",
        ids={"pi_REPLACE": bought["payment_intent_id"], "cus_REPLACE": customer_of(org)},
        change=lambda obj: obj.update(amount=bought["price_cents"], amount_refunded=bought["price_cents"]),
    )
    assert deliver(refund).status == 200
    assert deliver(refund).body["result"] == "duplicate"
    # Then what was left (700) is taken back, and the 300 spent are a debt shown in the balance and quote
    after = balance(org, org.owner)
    assert [p["remaining"] for p in after["packs"] if p["lot_id"] == f"pack#{bought['purchase_id']}"] in (
        [0],
        [],
    )
    assert after["debt"] == 300
    assert calls.quote(org.org_id, org.creator, {"shots": {"Q1": 1}}).body["debt"] == 300
    assert purchases(org, org.owner).body["purchases"][0]["status"] == "refunded"
    assert_books(store, org.org_id)
    # And the next credits (another pack of 1,000) pay the debt first
    clock.advance(seconds=1)
    second = buy(org, org.owner, {"credits": 1000}, key="pack-after-debt").body
    deliver(paid_event(org, second, customer_of(org)))
    later = balance(org, org.owner)
    assert later["debt"] == 0
    assert [p["remaining"] for p in later["packs"] if p["lot_id"] == f"pack#{second['purchase_id']}"] == [700]
    assert_books(store, org.org_id)


def test_a_dispute_before_the_payment_confirmation_closes_the_purchase_without_a_lot(
    money: FakeStripe, store: BillingStore
) -> None:
    org = new_org(store)
    bought = buy(org, org.owner, {"credits": 1000}, key="pack-dispute").body
    before = balance(org, org.owner)["spendable"]
    dispute = stripe_event(
        "charge_dispute_created",
        ids={"pi_REPLACE": bought["payment_intent_id"], "cus_REPLACE": customer_of(org)},
    )
    assert deliver(dispute).status == 200
    assert deliver(paid_event(org, bought, customer_of(org))).status == 200  # arrives late
    assert balance(org, org.owner)["spendable"] == before
    assert purchases(org, org.owner).body["purchases"][0]["status"] == "disputed"
    assert_books(store, org.org_id)


def test_packs_are_for_owners_and_billing_members(money: FakeStripe, store: BillingStore) -> None:
    org = new_org(store)
    assert buy(org, org.creator, {"credits": 1000}, key="c").code == "forbidden_role"
    assert buy(org, org.viewer, {"credits": 1000}, key="v").code == "forbidden_role"
    assert buy(org, org.billing, {"credits": 1000}, key="b").status == 201
    assert money.posts("/v1/payment_intents")[0].params["metadata"]["act3_org"] == org.org_id


def test_bad_pack_sizes_are_422_and_call_nobody(money: FakeStripe, store: BillingStore) -> None:
    org = new_org(store)
    for body in (
        {"credits": 1500},
        {"credits": 0},
        {"credits": "1000"},
        {"credits": 10**12},
        {},
        {"credits": 1000, "x": 1},
    ):
        reply = buy(
            org,
            org.owner,
            body,
            key=f"bad-{len(money.requests)}-{sorted(body)}".replace(" ", "").replace("'", ""),
        )
        assert reply.status == 422, (body, reply.body)
    assert money.requests == []


def in_debt_240(store: BillingStore, clock: MovableClock) -> tuple[Org, Lot]:
    """A trial org that spent 240 credits of a 1,000-credit pack whose payment was then disputed; its
    monthly lot."""
    org = new_org(store, plan_id="starter_trial", monthly=800, cap=1_600)
    bought = buy(org, org.owner, {"credits": 1000}, key="pack-trial").body
    deliver(paid_event(org, bought, customer_of(org)))
    monthly = store.wallet(org.org_id).current_monthly()
    assert monthly is not None
    for n in range(13):  # 13 x 80 = 1,040: the 800 monthly credits, then 240 of the pack
        clock.advance(seconds=1)
        spent = calls.debit(org.org_id, org.creator, f"trial-job-{n}", usage={"shots": {"Q1": 1}})
        assert spent.status == 201
    clock.advance(seconds=1)
    dispute = stripe_event(
        "charge_dispute_created",
        ids={"pi_REPLACE": bought["payment_intent_id"], "cus_REPLACE": customer_of(org)},
    )
    assert deliver(dispute).status == 200
    assert balance(org, org.owner)["debt"] == 240
    return org, monthly


def test_the_next_monthly_allowance_pays_the_debt_in_the_grant_transaction(
    money: FakeStripe, store: BillingStore, clock: MovableClock
) -> None:
    from tests.integration.test_cycles import DEC_1, run_schedule

    # Given a trial org that spent 240 credits of a 1,000-credit pack whose payment was then disputed
    org, monthly = in_debt_240(store, clock)
    # When the cycle ends and the schedule grants the next 800
    clock.now = DEC_1 + timedelta(minutes=5)
    assert run_schedule(clock) == {"batchItemFailures": []}
    # Then the grant and its repayment are one transaction's entries: 800 in, 240 repaid, 560 left
    wallet = store.wallet(org.org_id)
    after = wallet.current_monthly()
    assert after is not None and after.lot_id != monthly.lot_id
    assert (after.granted, after.remaining, wallet.debt) == (800, 560, 0)
    grant, repaid = [
        e
        for e in store.entries(org.org_id)
        if after.lot_id in e.lots and e.type in (EntryType.GRANT_MONTHLY, EntryType.DEBT_REPAID)
    ]
    assert (grant.type, repaid.type, repaid.amount) == (EntryType.GRANT_MONTHLY, EntryType.DEBT_REPAID, 240)
    assert grant.idempotency_key == repaid.idempotency_key and repaid.created_at > grant.created_at
    assert_books(store, org.org_id)


def test_partial_refunds_take_back_the_same_share_of_credits_and_a_full_refund_the_rest(
    money: FakeStripe, store: BillingStore, clock: MovableClock
) -> None:
    # Given a paid 10,000-credit pack (its monthly credits spent first, none of the pack yet)
    org = new_org(store, monthly=100, cap=200)
    bought = buy(org, org.owner, {"credits": 10_000}, key="pack-partial").body
    deliver(paid_event(org, bought, customer_of(org)))
    price = int(bought["price_cents"])
    lot_id = f"pack#{bought['purchase_id']}"

    def refund(refunded_cents: int) -> str:
        clock.advance(seconds=1)
        event = stripe_event(
            "charge_refunded",
            ids={"pi_REPLACE": bought["payment_intent_id"], "cus_REPLACE": customer_of(org)},
            change=lambda obj: obj.update(
                amount=price, amount_refunded=refunded_cents, refunded=refunded_cents >= price
            ),
        )
        return deliver(event).result

    def pack_left() -> int:
        return sum(p["remaining"] for p in balance(org, org.owner)["packs"] if p["lot_id"] == lot_id)

    # When a quarter of the money is refunded: a quarter of the credits go back (rounded down)
    quarter = price // 4
    taken = 10_000 * quarter // price
    assert refund(quarter) == f"partial refund: {taken} credits taken back"
    assert pack_left() == 10_000 - taken
    # Stripe's running total redelivered, or an older total arriving late, takes nothing more
    assert refund(quarter) == "partial refund: 0 credits taken back"
    assert refund(quarter // 2) == "partial refund: 0 credits taken back"
    # Then the rest is refunded: everything still the org's goes, nothing twice
    assert refund(price) == "pack clawed back (refund)"
    assert pack_left() == 0 and balance(org, org.owner)["debt"] == 0
    (purchase,) = [
        p for p in purchases(org, org.owner).body["purchases"] if p["purchase_id"] == bought["purchase_id"]
    ]
    assert (purchase["status"], purchase["clawed_back"]) == ("refunded", 10_000)
    assert_books(store, org.org_id)


def test_credits_transferred_in_pay_the_debt_first_in_the_transfer_transaction(
    money: FakeStripe, store: BillingStore, clock: MovableClock
) -> None:
    from tests.integration.test_organizations import transfer

    # Given an org 240 credits in debt, and the owner of another org who is an owner of it too
    org, _ = in_debt_240(store, clock)
    source = new_org(store, monthly=1000)
    OrgStore(store.connection).add_member(org.org_id, source.owner, Role.OWNER, email=None, now=clock.now)
    # When they move 300 credits into it
    clock.advance(seconds=1)
    moved = transfer(source.org_id, source.owner, org.org_id, 300, "xfer-pays-debt")
    assert moved.status == 201, moved.body
    # Then the 300 arrive, 240 of them pay the debt in the same transaction, and 60 are left to spend
    assert (list(moved.body["lots_in"].values()), moved.body["debt_repaid"]) == ([300], 240)
    wallet = store.wallet(org.org_id)
    (arrived,) = [lot for lot in wallet.lots if lot.lot_id in moved.body["lots_in"]]
    assert (arrived.remaining, wallet.debt) == (60, 0)
    came_in, repaid = [e for e in store.entries(org.org_id) if arrived.lot_id in e.lots]
    assert (came_in.type, repaid.type, repaid.lots) == (
        EntryType.TRANSFER_IN,
        EntryType.DEBT_REPAID,
        {arrived.lot_id: -240},
    )
    assert came_in.idempotency_key == repaid.idempotency_key == "xfer-pays-debt"
    # And a retry replays the answer without paying twice
    assert transfer(source.org_id, source.owner, org.org_id, 300, "xfer-pays-debt").body == moved.body
    assert store.wallet(org.org_id).debt == 0 and store.wallet(source.org_id).total() == 700
    assert_books(store, source.org_id, org.org_id)


def test_a_debt_that_appears_after_the_read_is_still_paid_by_the_credits_arriving(
    money: FakeStripe, store: BillingStore, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.test_organizations import transfer

    # Given an org in debt, and a transfer that reads its wallet just before the claw-back committed
    org, _ = in_debt_240(store, clock)
    source = new_org(store, monthly=1000)
    OrgStore(store.connection).add_member(org.org_id, source.owner, Role.OWNER, email=None, now=clock.now)
    read, stale = BillingStore.wallet, {"left": 1}

    def wallet_as_before_the_claw_back(self: BillingStore, org_id: str) -> Wallet:
        wallet = read(self, org_id)
        if org_id == org.org_id and stale["left"]:
            stale["left"] -= 1
            return dataclasses.replace(wallet, debt=0)
        return wallet

    monkeypatch.setattr(BillingStore, "wallet", wallet_as_before_the_claw_back)
    # When the credits arrive
    clock.advance(seconds=1)
    moved = transfer(source.org_id, source.owner, org.org_id, 300, "xfer-stale-read")
    # Then the write saw the debt had changed, read again, and paid it first
    assert (moved.status, moved.body["debt_repaid"]) == (201, 240), moved.body
    assert stale["left"] == 0 and store.wallet(org.org_id).debt == 0
    assert_books(store, source.org_id, org.org_id)

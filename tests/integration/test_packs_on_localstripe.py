"""Credit packs end to end against localstripe (the local Stripe emulator): the product's own calls
(customer, PaymentIntent confirmed with a saved card) and localstripe's own signed webhooks delivered to
the webhook function; declined and 3-D Secure cards; a refund made on localstripe, its `charge.refunded`
(which localstripe does not send) built from Stripe's sample and the real charge."""

from __future__ import annotations

from typing import Any

from act3_billing.store.wallets import BillingStore
from act3_local import stripe_local
from tests.integration.conftest import MovableClock
from tests.support import calls
from tests.support.books import assert_books
from tests.support.events import http_event
from tests.support.functions import invoke
from tests.support.localstripe import DECLINED, THREE_DS, VISA, Deliveries, saved_card
from tests.support.stripe_events import deliver, stripe_event
from tests.support.wallets import Org, new_org


def buy(org: Org, body: dict[str, Any], key: str) -> Any:
    return invoke(
        "credit_packs",
        http_event(
            "credit_pack_create",
            org_id=org.org_id,
            user=org.owner,
            body=body,
            headers={"idempotency-key": key},
        ),
    )


def spendable(org: Org) -> int:
    return int(
        invoke("balance", http_event("balance_get", org_id=org.org_id, user=org.owner)).body["spendable"]
    )


def test_a_card_payment_adds_the_pack_once_and_a_refund_claws_it_back_with_debt(
    localstripe: str, on_localstripe: Deliveries, store: BillingStore, clock: MovableClock
) -> None:
    org = new_org(store, monthly=100, cap=200)
    card = saved_card(localstripe, org, VISA)
    before = spendable(org)
    clock.advance(seconds=1)
    bought = buy(org, {"credits": 1000, "payment_method": card}, "ls-pack-1")
    assert bought.status == 201 and bought.body["status"] == "paid", bought.body
    assert spendable(org) == before + 1000
    # localstripe's own signed payment_intent.succeeded arrives later: verified, and a no-op
    (result,) = on_localstripe.wait_for("payment_intent.succeeded")
    assert result["result"] == "pack already settled"
    assert spendable(org) == before + 1000
    # spend 80 + 80 (100 monthly, then 60 of the pack), then the payment is refunded on localstripe
    for job in ("ls-job-1", "ls-job-2"):
        clock.advance(seconds=1)
        calls.debit(org.org_id, org.creator, job)
    clock.advance(seconds=1)
    intent = stripe_local.call(localstripe, "GET", f"/v1/payment_intents/{bought.body['payment_intent_id']}")
    stripe_local.call(localstripe, "POST", "/v1/refunds", {"payment_intent": intent["id"]})
    latest = intent["latest_charge"]
    charge_id = latest["id"] if isinstance(latest, dict) else latest
    charge = stripe_local.call(localstripe, "GET", f"/v1/charges/{charge_id}")
    assert charge["refunded"] is True
    refunded = stripe_event(
        "charge_refunded",
        ids={"pi_REPLACE": intent["id"], "cus_REPLACE": str(charge["customer"]), "ch_REPLACE": charge["id"]},
        change=lambda obj: obj.update(amount=charge["amount"], amount_refunded=charge["amount_refunded"]),
    )
    assert deliver(refunded).status == 200
    view = invoke("balance", http_event("balance_get", org_id=org.org_id, user=org.owner)).body
    assert view["debt"] == 60 and view["spendable"] == 0  # 940 taken back, the 60 spent are owed
    assert_books(store, org.org_id)


def test_a_declined_card_is_402_and_adds_nothing(
    localstripe: str, on_localstripe: Deliveries, store: BillingStore
) -> None:
    org = new_org(store)
    card = saved_card(localstripe, org, DECLINED)
    before = spendable(org)
    reply = buy(org, {"credits": 1000, "payment_method": card}, "ls-declined")
    assert reply.status == 402 and reply.code == "payment_refused"
    assert spendable(org) == before


def test_a_3d_secure_card_leaves_the_purchase_pending_with_a_client_secret(
    localstripe: str, on_localstripe: Deliveries, store: BillingStore
) -> None:
    org = new_org(store)
    card = saved_card(localstripe, org, THREE_DS)
    before = spendable(org)
    reply = buy(org, {"credits": 1000, "payment_method": card}, "ls-3ds")
    assert reply.status == 201, reply.body
    assert reply.body["payment_status"] == "requires_action" and reply.body["status"] == "pending"
    assert reply.body["client_secret"]
    assert spendable(org) == before

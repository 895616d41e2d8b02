"""Credit packs end to end against localstripe (the local Stripe emulator): the product's own calls
(customer, PaymentIntent confirmed with a saved card) and localstripe's own signed webhooks delivered to
the webhook function; declined and 3-D Secure cards; a refund made on localstripe, its `charge.refunded`
(which localstripe does not send) built from Stripe's sample and the real charge."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from act3_billing import runtime
from act3_billing.store.wallets import BillingStore
from act3_local import stripe_local
from act3_local.services import free_port, start_localstripe
from tests.integration.conftest import MovableClock
from tests.support import calls
from tests.support.books import assert_books
from tests.support.events import http_event
from tests.support.functions import invoke
from tests.support.stripe_events import SECRET, _load, deliver, stripe_event, work
from tests.support.wallets import Org, new_org

VISA, DECLINED, THREE_DS = "4242424242424242", "4000000000000341", "4000002760003184"


class Deliveries:
    """Webhooks localstripe sends, handed to the webhook function as function-URL events."""

    def __init__(self) -> None:
        self.replies: list[tuple[str, int, Any]] = []
        self.lock = threading.Lock()

    def wait_for(self, event_type: str, timeout: float = 15.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [body for t, _, body in self.replies if t == event_type]
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"localstripe sent no {event_type}: {self.replies}")


@pytest.fixture(scope="module")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("localstripe")
    child = start_localstripe(free_port(), state / "localstripe.pickle", state / "localstripe.log")
    try:
        yield str(child.endpoint)
    finally:
        child.stop()


@pytest.fixture
def deliveries(localstripe: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deliveries]:
    seen = Deliveries()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
            call = json.loads(json.dumps(_load("url/stripe_webhook.json")))
            call["body"] = body
            call["headers"]["stripe-signature"] = self.headers.get("Stripe-Signature", "")
            with seen.lock:
                reply = invoke("stripe_webhook", call)
                answer = dict(reply.body) if isinstance(reply.body, dict) else {"body": reply.body}
                if answer.get("result") == "queued":  # the worker applies it, as SQS would hand it over
                    assert work() == []
                    stored = runtime.payments().event(str(json.loads(body)["id"]))
                    answer["result"] = stored.result if stored is not None else None
                seen.replies.append((json.loads(body).get("type", "?"), reply.status, answer))
            self.send_response(reply.status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stripe_local.register_webhook(localstripe, f"http://127.0.0.1:{server.server_address[1]}/", SECRET)
    monkeypatch.setenv("STRIPE_API_BASE", localstripe)
    monkeypatch.setenv("STRIPE_API_KEY", stripe_local.API_KEY)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def on_localstripe(deliveries: Deliveries, store: BillingStore) -> Deliveries:
    return deliveries


def saved_card(localstripe: str, org: Org, number: str) -> str:
    """A card attached to the org's Stripe customer (made by our own code on the first purchase)."""
    from act3_billing.packs import ensure_customer

    customer = ensure_customer(runtime.payments(), runtime.gateway(), org.org_id, None, runtime.now())
    pm = stripe_local.call(
        localstripe,
        "POST",
        "/v1/payment_methods",
        {"type": "card", "card": {"number": number, "exp_month": "12", "exp_year": "2030", "cvc": "123"}},
    )
    stripe_local.call(localstripe, "POST", f"/v1/payment_methods/{pm['id']}/attach", {"customer": customer})
    return str(pm["id"])


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

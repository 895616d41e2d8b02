"""localstripe (the local Stripe emulator) for integration tests: one per module, its signed webhooks
taken in and applied through the webhook function and the stripe-events worker, cards saved on it."""

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
from tests.support.functions import invoke
from tests.support.stripe_events import SECRET, _load, work
from tests.support.wallets import Org

VISA, DECLINED, THREE_DS = "4242424242424242", "4000000000000341", "4000002760003184"


class Deliveries:
    """Webhooks localstripe sends. They are taken in as they come and handed to the webhook function
    (then the stripe-events worker) in the test's own thread when it waits for one: the handlers run on
    in-process moto, which must not be used from two threads at once."""

    def __init__(self) -> None:
        self.replies: list[tuple[str, int, Any]] = []
        self.pending: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def take_in(self, body: str, signature: str) -> None:
        with self.lock:
            self.pending.append((body, signature))

    def apply(self) -> None:
        """What arrived so far, through the webhook function and the worker, as Stripe and SQS would."""
        with self.lock:
            arrived, self.pending = self.pending, []
        for body, signature in arrived:
            call = json.loads(json.dumps(_load("url/stripe_webhook.json")))
            call["body"] = body
            call["headers"]["stripe-signature"] = signature
            reply = invoke("stripe_webhook", call)
            answer = dict(reply.body) if isinstance(reply.body, dict) else {"body": reply.body}
            if answer.get("result") == "queued":
                assert work() == []
                stored = runtime.payments().event(str(json.loads(body)["id"]))
                answer["result"] = stored.result if stored is not None else None
            self.replies.append((json.loads(body).get("type", "?"), reply.status, answer))

    def wait_for(self, event_type: str, timeout: float = 15.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.apply()
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
            seen.take_in(body, self.headers.get("Stripe-Signature", ""))
            self.send_response(200)
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

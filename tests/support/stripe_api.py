"""A stand-in for api.stripe.com on loopback, for what localstripe lacks (Prices, Checkout Sessions, the
billing portal, idempotency keys, subscriptions on Prices): it answers in the shapes of Stripe's API
reference, keeps the objects it made, honours `Idempotency-Key` as Stripe does (same key, same
answer), and records every request so tests can assert on exactly what our code sent.

stripe-python talks to it through `api_base` (STRIPE_API_BASE), as it would to Stripe.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DECLINED = "pm_card_chargeDeclined"
MONTH = 30 * 86400


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's nested form encoding (`items[0][price]=x`, `expand[]=y`) back into dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = parts[i + 1] if not last else None
            if isinstance(node, list):
                if part == "[]":
                    node.append(value)
                    break
                index = int(part)
                while len(node) <= index:
                    node.append({} if nxt and not nxt.isdigit() else [])
                if last:
                    node[index] = value
                else:
                    node = node[index]
                continue
            if last:
                node[part] = value
            else:
                default: Any = [] if (nxt == "[]" or (nxt or "").isdigit()) else {}
                node = node.setdefault(part, default)
    return root


@dataclass
class FakeStripe:
    base: str = ""
    requests: list[Recorded] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    _answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    now: int = field(default_factory=lambda: int(time.time()))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    def posts(self, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path.startswith(path_prefix)]

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects[obj["id"]] = obj
        return obj

    def card(self, customer: str, pm_id: str | None = None, last4: str = "4242") -> dict[str, Any]:
        return self.add(
            {
                "id": pm_id or self.new_id("pm"),
                "object": "payment_method",
                "type": "card",
                "customer": customer,
                "card": {"brand": "visa", "last4": last4, "exp_month": 12, "exp_year": 2030},
                "created": self.now,
            }
        )

    def price(self, price_id: str, product: str, amount: int) -> dict[str, Any]:
        return self.add(
            {
                "id": price_id,
                "object": "price",
                "active": True,
                "currency": "usd",
                "product": product,
                "unit_amount": amount,
                "recurring": {"interval": "month", "interval_count": 1},
                "type": "recurring",
                "created": self.now,
            }
        )

    # ---- the API ----------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, params: dict[str, Any], key: str | None
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(Recorded(method, path, params, key))
            if method == "POST" and key:
                if key in self._answers:
                    return self._answers[key]
                answer = self._route(method, path, params)
                self._answers[key] = answer
                return answer
            return self._route(method, path, params)

    def _route(self, method: str, path: str, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")[1:]  # drop "v1"
        head = "/".join(parts[:2]) if parts[0] in ("checkout", "billing_portal") else parts[0]
        rest = parts[2:] if parts[0] in ("checkout", "billing_portal") else parts[1:]
        handler = getattr(self, f"_{head.replace('/', '_')}", None)
        if handler is None:
            return _error(404, f"Unrecognized request URL ({method}: {path})")
        result: tuple[int, dict[str, Any]] = handler(method, rest, p)
        return result

    def _customers(self, method: str, rest: list[str], p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not rest:
            obj = {
                "id": self.new_id("cus"),
                "object": "customer",
                "created": self.now,
                "invoice_settings": {"default_payment_method": None},
                **p,
            }
            return 200, self.add(obj)
        cus = self.objects.get(rest[0])
        if cus is None:
            return _error(404, f"No such customer: '{rest[0]}'", "id")
        if len(rest) == 1:
            if method == "POST":
                cus["invoice_settings"] = {**cus["invoice_settings"], **p.get("invoice_settings", {})}
            return 200, cus
        if rest[1] == "payment_methods":
            data = [
                o
                for o in self.objects.values()
                if o["object"] == "payment_method" and o.get("customer") == cus["id"]
            ]
            return 200, _list(data, path=f"/v1/customers/{cus['id']}/payment_methods")
        if rest[1] == "tax_ids":
            if method == "POST" and len(rest) == 2:
                return 200, self.add(
                    {
                        "id": self.new_id("txi"),
                        "object": "tax_id",
                        "customer": cus["id"],
                        "type": p["type"],
                        "value": p["value"],
                        "created": self.now,
                        "verification": {"status": "pending"},
                    }
                )
            if method == "DELETE":
                self.objects.pop(rest[2], None)
                return 200, {"id": rest[2], "object": "tax_id", "deleted": True}
            data = [
                o for o in self.objects.values() if o["object"] == "tax_id" and o["customer"] == cus["id"]
            ]
            return 200, _list(data, path=f"/v1/customers/{cus['id']}/tax_ids")
        return _error(404, "unknown")

    def _payment_intents(self, method: str, rest: list[str], p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if rest:
            return (
                (200, self.objects[rest[0]])
                if rest[0] in self.objects
                else _error(404, "No such payment_intent")
            )
        pi_id = self.new_id("pi")
        amount = int(p["amount"])
        status = "requires_payment_method"
        if p.get("confirm") == "true":
            if p.get("payment_method") == DECLINED:
                return 402, {
                    "error": {
                        "type": "card_error",
                        "code": "card_declined",
                        "decline_code": "generic_decline",
                        "message": "Your card was declined.",
                        "payment_intent": {"id": pi_id},
                    }
                }
            status = "succeeded"
        obj = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "currency": p["currency"],
            "customer": p.get("customer"),
            "metadata": p.get("metadata", {}),
            "status": status,
            "amount_received": amount if status == "succeeded" else 0,
            "client_secret": f"{pi_id}_secret_fake",
            "created": self.now,
            "latest_charge": None,
        }
        return 200, self.add(obj)

    def _checkout_sessions(
        self, method: str, rest: list[str], p: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        cs_id = self.new_id("cs_test")
        return 200, self.add(
            {
                "id": cs_id,
                "object": "checkout.session",
                "mode": p["mode"],
                "customer": p.get("customer"),
                "metadata": p.get("metadata", {}),
                "status": "open",
                "payment_status": "unpaid",
                "url": f"https://checkout.stripe.com/c/pay/{cs_id}",
                "created": self.now,
            }
        )

    def _billing_portal_sessions(
        self, method: str, rest: list[str], p: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        bps = self.new_id("bps")
        return 200, {
            "id": bps,
            "object": "billing_portal.session",
            "customer": p["customer"],
            "return_url": p.get("return_url"),
            "url": f"https://billing.stripe.com/p/session/{bps}",
        }

    def _setup_intents(self, method: str, rest: list[str], p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        seti = self.new_id("seti")
        return 200, self.add(
            {
                "id": seti,
                "object": "setup_intent",
                "customer": p.get("customer"),
                "status": "requires_payment_method",
                "client_secret": f"{seti}_secret_fake",
                "usage": p.get("usage"),
                "created": self.now,
            }
        )

    def _payment_methods(self, method: str, rest: list[str], p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        pm = self.objects.get(rest[0]) if rest else None
        if pm is None:
            return _error(404, "No such PaymentMethod", "payment_method")
        if len(rest) > 1 and rest[1] == "detach":
            pm["customer"] = None
        return 200, pm

    def _subscription(self, sub: dict[str, Any], price_id: str, start: int) -> None:
        sub["items"] = _list(
            [
                {
                    "id": sub["items"]["data"][0]["id"] if sub.get("items") else self.new_id("si"),
                    "object": "subscription_item",
                    "price": self.objects[price_id],
                    "quantity": 1,
                    "current_period_start": start,
                    "current_period_end": start + MONTH,
                }
            ],
            path=f"/v1/subscription_items?subscription={sub['id']}",
        )
        invoice = self.add(
            {
                "id": self.new_id("in"),
                "object": "invoice",
                "status": "paid",
                "created": start,
                "customer": sub["customer"],
                "amount_paid": self.objects[price_id]["unit_amount"],
            }
        )
        sub["latest_invoice"] = invoice

    def _subscriptions(self, method: str, rest: list[str], p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not rest:
            sub = {
                "id": self.new_id("sub"),
                "object": "subscription",
                "customer": p["customer"],
                "status": "active",
                "metadata": p.get("metadata", {}),
                "cancel_at_period_end": False,
                "created": self.now,
                "default_payment_method": p.get("default_payment_method"),
            }
            self._subscription(sub, p["items"][0]["price"], self.now)
            return 200, self.add(sub)
        if rest[0] not in self.objects:
            return _error(404, "No such subscription", "id")
        sub = self.objects[rest[0]]
        if method == "POST":
            if "cancel_at_period_end" in p:
                sub["cancel_at_period_end"] = p["cancel_at_period_end"] == "true"
            if p.get("items"):
                start = (
                    self.now
                    if p.get("billing_cycle_anchor") == "now"
                    else sub["items"]["data"][0]["current_period_start"]
                )
                self._subscription(sub, p["items"][0]["price"], start)
            sub["metadata"] = {**sub["metadata"], **p.get("metadata", {})}
        return 200, sub

    def _invoices(self, method: str, rest: list[str], p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = [
            o
            for o in self.objects.values()
            if o["object"] == "invoice" and o.get("customer") == p.get("customer")
        ]
        return 200, _list(data, path="/v1/invoices")

    def _products(self, method: str, rest: list[str], p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, _list([o for o in self.objects.values() if o["object"] == "product"], path="/v1/products")

    def _prices(self, method: str, rest: list[str], p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, _list([o for o in self.objects.values() if o["object"] == "price"], path="/v1/prices")


def _list(data: list[dict[str, Any]], path: str) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": False, "url": path}


def _error(status: int, message: str, param: str | None = None) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": "invalid_request_error", "message": message, "param": param}}


@contextmanager
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode() if length else url.query
            status, answer = fake.handle(
                self.command, url.path, parse_form(body), self.headers.get("Idempotency-Key")
            )
            raw = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Request-Id", f"req_{len(fake.requests)}")
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_DELETE = _serve  # noqa: N815 - http.server names them so

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()

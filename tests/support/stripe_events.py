"""Stripe events from `events/stripe/` (built from Stripe's own sample objects), filled in for a test and
signed as Stripe signs them (`Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.payload")`), delivered to
the webhook function as a function-URL event (`events/url/stripe_webhook.json`)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

from tests.support.functions import Reply, invoke
from tests.support.template import REPO_ROOT

EVENTS = REPO_ROOT / "events"
SECRET = "whsec_test_act3_webhook_secret"


@cache
def _load(path: str) -> dict[str, Any]:
    return json.loads((EVENTS / path).read_text())  # type: ignore[no-any-return]


def stripe_event(
    name: str,
    *,
    ids: dict[str, str],
    created: int | None = None,
    change: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The sample `name` with its placeholders (`org_REPLACE`, `pi_REPLACE`, …) replaced, a fresh event id
    unless `ids` names one, and `created` set; `change` edits the object further."""
    text = json.dumps(_load(f"stripe/{name}.json"))
    for placeholder, value in {"evt_REPLACE": f"evt_{uuid.uuid4().hex[:16]}", **ids}.items():
        text = text.replace(placeholder, value)
    event: dict[str, Any] = json.loads(text)
    event["created"] = created if created is not None else int(time.time())
    if change is not None:
        change(event["data"]["object"])
    return event


def sign(payload: str, secret: str = SECRET, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def deliver(
    event: dict[str, Any] | None = None,
    *,
    payload: str | None = None,
    signature: str | None = "",
) -> Reply:
    """POST the event to the webhook function as Stripe would (signed now with the test secret, unless
    `signature` is given; None sends no Stripe-Signature header)."""
    body = payload if payload is not None else json.dumps(event)
    call = copy.deepcopy(_load("url/stripe_webhook.json"))
    call["body"] = body
    if signature == "":
        signature = sign(body)
    if signature is None:
        call["headers"].pop("stripe-signature")
    else:
        call["headers"]["stripe-signature"] = signature
    return invoke("stripe_webhook", call)

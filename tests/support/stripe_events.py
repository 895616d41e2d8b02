"""Stripe events from `events/stripe/` (built from Stripe's own sample objects), filled in for a test and
signed as Stripe signs them (`Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.payload")`), delivered to
the webhook function as a function-URL event (`events/url/stripe_webhook.json`), and what it queued
handed to the stripe-events worker as SQS delivers it (`events/sqs/stripe_event.json`)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import boto3

from act3_billing import runtime
from tests.support.functions import Reply, call, invoke
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


@dataclass
class Delivery:
    """The webhook's answer to Stripe, and what the worker then did with the queued event."""

    reply: Reply
    applied: str | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def status(self) -> int:
        return self.reply.status

    @property
    def body(self) -> Any:
        return self.reply.body

    @property
    def code(self) -> str | None:
        return self.reply.code

    @property
    def result(self) -> str:
        """What the event did: the worker's result when it was queued, else the webhook's answer."""
        return self.applied if self.applied is not None else str(self.body.get("result"))


def post(
    event: dict[str, Any] | None = None,
    *,
    payload: str | None = None,
    signature: str | None = "",
) -> Reply:
    """POST the event to the webhook function as Stripe would (signed now with the test secret, unless
    `signature` is given; None sends no Stripe-Signature header). Nothing is applied yet."""
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


def queued() -> dict[str, Any]:
    """What the stripe-events queue holds, taken off it as the SQS event the worker gets."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = os.environ["STRIPE_EVENTS_QUEUE_URL"]
    template = _load("sqs/stripe_event.json")["Records"][0]
    records: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return {"Records": records}
        for message in messages:
            record = copy.deepcopy(template)
            record.update(
                messageId=message["MessageId"], receiptHandle=message["ReceiptHandle"], body=message["Body"]
            )
            records.append(record)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def work(batch: dict[str, Any] | None = None) -> list[str]:
    """The stripe-events worker on `batch` (default: all that is queued); the ids of failed messages."""
    batch = queued() if batch is None else batch
    if not batch["Records"]:
        return []
    return [f["itemIdentifier"] for f in call("stripe_events_worker", batch)["batchItemFailures"]]


def deliver(
    event: dict[str, Any] | None = None,
    *,
    payload: str | None = None,
    signature: str | None = "",
) -> Delivery:
    """Stripe's delivery end to end: the webhook, then the worker on what it queued. `result` says what
    the event did (recorded on the stored event), or the webhook's answer when nothing was queued."""
    reply = post(event, payload=payload, signature=signature)
    delivery = Delivery(reply)
    if reply.status == 200 and reply.body.get("result") == "queued":
        delivery.failures = work()
        sent = json.loads(payload) if payload is not None else event
        stored = runtime.payments().event(str(sent["id"])) if sent else None
        delivery.applied = stored.result if stored is not None else None
    return delivery

"""Stripe webhook on a Lambda function URL (auth NONE): the signature is verified before anything else
(300 s tolerance; forged, missing or stale → 400, nothing stored), each event id is stored once and the
event goes to the stripe-events queue, so Stripe gets its answer in a few milliseconds whatever the
work; the stripe-events worker applies it with idempotent steps. Unknown types change nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime
from act3_billing.domain.errors import DomainError
from act3_billing.observability import logger, metrics
from act3_billing.payments.gateway import InvalidSignature, verify_webhook


def _answer(status: int, body: dict[str, Any], content_type: str = "application/json") -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": content_type}, "body": json.dumps(body)}


def _payload(event: dict[str, Any]) -> str:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(raw).decode("utf-8", errors="replace")
    return str(raw)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from act3_billing import stripe_events

    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    try:
        verified = verify_webhook(_payload(event), headers.get("stripe-signature"), runtime.webhook_secret())
    except InvalidSignature as exc:
        logger.warning("stripe webhook refused", extra={"reason": exc.detail})
        return _answer(
            400,
            {
                "type": "https://docs.act3.ai/problems/invalid_signature",
                "title": exc.title,
                "status": 400,
                "code": exc.code,
                "detail": exc.detail,
            },
            "application/problem+json",
        )
    ports = stripe_events.Ports(runtime.store(), runtime.payments(), runtime.debts(), runtime.now())
    try:
        result = stripe_events.accept(ports, verified, runtime.stripe_events_queue())
    except DomainError as exc:
        if exc.code in stripe_events.RETRY_CODES:
            raise  # nothing was queued: Stripe delivers it again
        logger.warning(
            "stripe event refused by the domain", extra={"event": verified["id"], "code": exc.code}
        )
        ports.payments.event_done(str(verified["id"]), f"ignored: {exc.code}")
        result = f"ignored: {exc.code}"
    logger.info("stripe event", extra={"event": verified["id"], "type": verified["type"], "result": result})
    metrics.add_metric(name="StripeEventsReceived", unit=MetricUnit.Count, value=1)
    return _answer(200, {"received": True, "result": result})

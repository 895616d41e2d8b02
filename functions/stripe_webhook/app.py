"""Stripe webhook on a Lambda function URL (auth NONE): the signature is verified before anything else
(300 s tolerance; forged, missing or stale → 400, nothing stored), each event id is stored once and the
event goes to the stripe-events queue, so Stripe gets its answer in a few milliseconds whatever the
work; the stripe-events worker applies it with idempotent steps. Unknown types change nothing."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from act3_billing import runtime
from act3_billing.domain.errors import DomainError
from act3_billing.http import guard
from act3_billing.http.problems import RETRY_AFTER_SECONDS
from act3_billing.observability import logger, metrics
from act3_billing.payments.gateway import InvalidSignature, verify_webhook


def _answer(status: int, body: dict[str, Any], content_type: str = "application/json") -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": content_type}, "body": json.dumps(body)}


def _problem(status: int, code: str, title: str, detail: str) -> dict[str, Any]:
    body = {"type": f"https://docs.act3.ai/problems/{code}", "title": title, "status": status, "code": code}
    answer = _answer(status, body | {"detail": detail}, "application/problem+json")
    if status == 503:
        answer["headers"]["retry-after"] = str(RETRY_AFTER_SECONDS)
    return answer


def _payload(event: dict[str, Any]) -> str:
    """The body as Stripe signed it; `guard.Refused` when it cannot be (not base64, not UTF-8)."""
    return guard.body_text(event) or ""


def _headers(event: dict[str, Any]) -> dict[str, str]:
    """The headers, lower-cased; `guard.Refused` when one is not text (no signature could be in it)."""
    guard.check_text("header", event.get("headers"))
    return {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items() if v is not None}


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from act3_billing import stripe_events

    try:
        headers, payload = _headers(event), _payload(event)
    except guard.Refused as refused:  # nothing unreadable can carry a valid signature
        logger.warning("stripe webhook refused", extra={"reason": refused.detail})
        title = "The Stripe signature is missing, forged or too old"
        return _problem(400, "invalid_signature", title, refused.detail)
    try:
        verified = verify_webhook(payload, headers.get("stripe-signature"), runtime.webhook_secret())
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
        if exc.code in stripe_events.RETRY_CODES:  # nothing was queued: Stripe delivers it again
            logger.warning("stripe event not accepted yet", extra={"event": verified["id"], "code": exc.code})
            return _problem(503 if exc.code == "unavailable" else 409, exc.code, exc.title, exc.detail)
        logger.warning(
            "stripe event refused by the domain", extra={"event": verified["id"], "code": exc.code}
        )
        ports.payments.event_done(str(verified["id"]), f"ignored: {exc.code}")
        result = f"ignored: {exc.code}"
    except Exception as exc:
        from act3_billing.store.faults import is_unavailable

        if not is_unavailable(exc):
            raise  # a bug: a 500, and Stripe delivers the event again until it is fixed
        logger.warning("stripe event not accepted yet: a dependency failed", extra={"event": verified["id"]})
        return _problem(503, "unavailable", "Temporarily unavailable", "the database or queue did not answer")
    logger.info("stripe event", extra={"event": verified["id"], "type": verified["type"], "result": result})
    metrics.add_metric(name="StripeEventsReceived", unit=MetricUnit.Count, value=1)
    return _answer(200, {"received": True, "result": result})

"""The calls tests make most, through the handlers and the sample events (one line each)."""

from __future__ import annotations

from typing import Any

from tests.support.events import http_event
from tests.support.functions import Reply, invoke

ONE_Q1_SHOT = {"shots": {"Q1": 1}}  # 80 credits


def quote(org_id: str, user: str, usage: dict[str, Any]) -> Reply:
    return invoke("quotes", http_event("quote_create", org_id=org_id, user=user, body={"usage": usage}))


def debit(
    org_id: str,
    user: str,
    job_id: str,
    *,
    key: str | None = None,
    usage: dict[str, Any] = ONE_Q1_SHOT,
    quote_id: str | None = None,
) -> Reply:
    body: dict[str, Any] = {"job_id": job_id, **({"quote_id": quote_id} if quote_id else {"usage": usage})}
    return invoke(
        "debits",
        http_event(
            "debit_create",
            org_id=org_id,
            user=user,
            body=body,
            headers={"idempotency-key": key or f"debit-{job_id}"},
        ),
    )


def hold(org_id: str, user: str, body: dict[str, Any], *, key: str) -> Reply:
    return invoke(
        "holds",
        http_event("hold_create", org_id=org_id, user=user, body=body, headers={"idempotency-key": key}),
    )


def capture(org_id: str, user: str, hold_id: str, body: dict[str, Any], *, key: str) -> Reply:
    return invoke(
        "holds",
        http_event(
            "hold_capture",
            org_id=org_id,
            hold_id=hold_id,
            user=user,
            body=body,
            headers={"idempotency-key": key},
        ),
    )


def refund(org_id: str, user: str, job_id: str, *, key: str) -> Reply:
    return invoke(
        "refunds",
        http_event(
            "refund_create",
            org_id=org_id,
            user=user,
            body={"job_id": job_id},
            headers={"idempotency-key": key},
        ),
    )

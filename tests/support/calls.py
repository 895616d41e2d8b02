"""The calls tests make most, through the handlers and the sample events (one line each)."""

from __future__ import annotations

from typing import Any

from tests.support.events import http_event
from tests.support.functions import Reply, invoke

ONE_Q1_SHOT = {"shots": {"Q1": 1}}  # 80 credits


def debit(
    org_id: str, user: str, job_id: str, *, key: str | None = None, usage: dict[str, Any] = ONE_Q1_SHOT
) -> Reply:
    return invoke(
        "debits",
        http_event(
            "debit_create",
            org_id=org_id,
            user=user,
            body={"job_id": job_id, "usage": usage},
            headers={"idempotency-key": key or f"debit-{job_id}"},
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

"""The calls tests make most, through the handlers and the sample events (one line each).

Each call is made by the principal that makes it in production (SPEC §12): a member quotes, holds and
debits at a quote's price; the usage meter (a machine identity) debits finished usage by its metrics,
extends, captures and releases holds, and refunds, on behalf of the member `user`. Pass `by=None` to
make a meter's call with the member's own token instead (it is refused), or another `machine(...)`.
"""

from __future__ import annotations

from typing import Any

from tests.support.events import BILLING_OPERATIONS, Machine, http_event, machine
from tests.support.functions import Reply, invoke

ONE_Q1_SHOT = {"shots": {"Q1": 1}}  # 80 credits
USAGE_METER = machine()
OPERATIONS = machine(BILLING_OPERATIONS)


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
    by: Machine | None = USAGE_METER,
) -> Reply:
    """At a quote's price: the member `user` debits. By job metrics: the usage meter, for `user`."""
    body: dict[str, Any] = {"job_id": job_id}
    if quote_id:
        body["quote_id"] = quote_id
        by = None
    else:
        body["usage"] = usage
        if by is not None:
            body["member_id"] = user
    return invoke(
        "debits",
        http_event(
            "debit_create",
            org_id=org_id,
            user=user,
            service=by,
            body=body,
            headers={"idempotency-key": key or f"debit-{job_id}"},
        ),
    )


def hold(org_id: str, user: str, body: dict[str, Any], *, key: str) -> Reply:
    return invoke(
        "holds",
        http_event("hold_create", org_id=org_id, user=user, body=body, headers={"idempotency-key": key}),
    )


def _settle(
    event: str, org_id: str, user: str, hold_id: str, body: dict[str, Any], key: str, by: Machine | None
) -> Reply:
    return invoke(
        "holds",
        http_event(
            event,
            org_id=org_id,
            hold_id=hold_id,
            user=user,
            service=by,
            body=body,
            headers={"idempotency-key": key},
        ),
    )


def capture(
    org_id: str, user: str, hold_id: str, body: dict[str, Any], *, key: str, by: Machine | None = USAGE_METER
) -> Reply:
    return _settle("hold_capture", org_id, user, hold_id, body, key, by)


def release(
    org_id: str,
    user: str,
    hold_id: str,
    body: dict[str, Any] | None = None,
    *,
    key: str,
    by: Machine | None = USAGE_METER,
) -> Reply:
    return _settle("hold_release", org_id, user, hold_id, body or {}, key, by)


def extend(
    org_id: str, user: str, hold_id: str, body: dict[str, Any], *, key: str, by: Machine | None = USAGE_METER
) -> Reply:
    return _settle("hold_extend", org_id, user, hold_id, body, key, by)


def refund(org_id: str, user: str, job_id: str, *, key: str, by: Machine | None = USAGE_METER) -> Reply:
    body = {"job_id": job_id, **({"member_id": user} if by is not None else {})}
    return invoke(
        "refunds",
        http_event(
            "refund_create",
            org_id=org_id,
            user=user,
            service=by,
            body=body,
            headers={"idempotency-key": key},
        ),
    )


def grant(
    org_id: str, body: dict[str, Any], *, key: str, by: Machine | None = OPERATIONS, user: str = "x"
) -> Reply:
    """Billing operations grants (`{"kind": "education", "bundle": "edu-student"}`, or credits, label and
    expires_at); `by=None` makes the call with `user`'s member token instead (refused)."""
    event = http_event(
        "grant_create", org_id=org_id, service=by, user=user, body=body, headers={"idempotency-key": key}
    )
    return invoke("operations", event)


def adjust(
    org_id: str, body: dict[str, Any], *, key: str, by: Machine | None = OPERATIONS, user: str = "x"
) -> Reply:
    """Billing operations adjusts (`{"credits": -500, "reason": "..."}`)."""
    event = http_event(
        "adjustment_create", org_id=org_id, service=by, user=user, body=body, headers={"idempotency-key": key}
    )
    return invoke("operations", event)

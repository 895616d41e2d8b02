"""RFC 9457 problem+json: every domain error code maps to one HTTP status, here and only here."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response

from act3_billing.domain.errors import DomainError

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

PROBLEM_TYPE_BASE = "https://docs.act3.ai/problems/"
RETRY_AFTER_SECONDS = 1

STATUS_BY_CODE: dict[str, int] = {
    "malformed_json": 400,
    "validation_error": 422,
    "idempotency_key_required": 400,
    "unauthenticated": 401,
    "insufficient_credits": 402,
    "forbidden_role": 403,
    "shared_credits_disabled": 403,
    "generation_disabled": 403,
    "trial_expired": 403,
    "not_found": 404,
    "nothing_to_refund": 404,
    "route_not_found": 404,
    "idempotency_key_reuse": 409,
    "quote_used": 409,
    "hold_not_open": 409,
    "capture_exceeds_hold": 409,
    "already_refunded": 409,
    "conflict": 409,
    "quote_expired": 410,
    "hold_expired": 410,
    "unsupported_media_type": 415,
    "last_owner": 409,
    "member_limit_exceeded": 403,
    "invite_not_found": 404,
    "invite_expired": 410,
    "invite_used": 409,
    "invite_revoked": 410,
    "invite_email_mismatch": 403,
    "email_not_verified": 403,
    "linkedin_sso_required": 403,
    "already_member": 409,
    "same_org": 422,
    "unavailable": 503,
    # storage (issue 10)
    "storage_quota_exceeded": 402,
    "media_purged": 410,
    # issue 9: machine identities and their scopes
    "forbidden_scope": 403,
}

# Money (issue 8).
STATUS_BY_CODE |= {
    "invalid_signature": 400,
    "payment_refused": 402,
    "pack_unavailable": 409,
    "plan_not_purchasable": 422,
    "no_subscription": 404,
    "subscription_exists": 409,
    "same_plan": 409,
    "invalid_tax_id": 422,
    "payment_provider_unavailable": 503,
}

# DynamoDB's limits (issue 11).
STATUS_BY_CODE |= {"too_many_lots": 409}


# Entitlements and the wallet's past_due state (issue 12): spending waits for the failed payment.
STATUS_BY_CODE |= {"past_due": 402}


def problem(code: str, title: str, detail: str, *, status: int | None = None, **extra: Any) -> Response[str]:
    status = status or STATUS_BY_CODE.get(code, 400)
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    return Response(
        status_code=status,
        content_type="application/problem+json",
        body=json.dumps(body, default=str),
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None,
    )


def from_domain(error: DomainError) -> Response[str]:
    return problem(error.code, error.title, error.detail, **error.extra)


def documented(description: str) -> OpenAPIResponse:
    """An OpenAPI response for a refusal: problem+json, with the codes it can carry in `description`."""
    from act3_billing.http.models import ProblemOut

    return {"description": description, "content": {"application/problem+json": {"model": ProblemOut}}}

"""What a job really used, reported by the platform's usage meter (SPEC §12): capture, extend and release
holds, debit finished usage, refund failed jobs.

The usage meter is a machine identity; it acts on behalf of an org and of the member who started the
job, and the ledger records both. Members authorize spending (a debit at a quote's binding price, in
`services.py`) but never settle it: those calls are refused to them (non-members still learn nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from act3_billing.domain.errors import (
    ForbiddenRole,
    ValidationFailed,
)
from act3_billing.domain.plans import Catalog, default_catalog
from act3_billing.domain.principals import Service
from act3_billing.domain.ratecard import RateCard, load_rate_card
from act3_billing.domain.roles import Permission
from act3_billing.http import models as m
from act3_billing.http.caller import Caller
from act3_billing.services import (
    idem,
    price,
    quoted_credits,
    spend,
)

if TYPE_CHECKING:
    from act3_billing.notifications import Notifier
    from act3_billing.store.idempotency import Idem, Outcome
    from act3_billing.store.wallets import BillingStore


@dataclass(frozen=True)
class PrincipalContext:
    store: BillingStore
    principal: Caller | Service
    now: datetime
    catalog: Catalog
    rate_card: RateCard
    notifier: Notifier | None = None


def context(
    store: BillingStore, principal: Caller | Service, now: datetime, notifier: Notifier | None = None
) -> PrincipalContext:
    return PrincipalContext(store, principal, now, default_catalog(), load_rate_card(), notifier)


def machine(ctx: PrincipalContext, org_id: str, permission: Permission) -> Service:
    """The machine identity allowed to do this. A member's call is refused as the domain refuses any
    role without the permission (non-members: `not_found`, as for an org that does not exist)."""
    principal = ctx.principal
    if isinstance(principal, Service):
        principal.require(permission)
        return principal
    ctx.store.require(org_id, principal.user_id, permission)
    raise ForbiddenRole(f"members may not {permission.value.replace('_', ' ')}", needed=permission.value)


def authorize_read(
    store: BillingStore,
    principal: Caller | Service,
    org_id: str,
    permission: Permission = Permission.READ_METERS,
) -> None:
    """A read both members (by their role) and machine identities (by their scopes: the usage meter's
    `billing/usage.read`) may do, e.g. an org's entitlements. Non-members get `not_found`."""
    if isinstance(principal, Service):
        principal.require(permission)
    else:
        store.require(org_id, principal.user_id, permission)


def debit(ctx: PrincipalContext, org_id: str, request: m.DebitRequest, key: str | None) -> Outcome:
    """A member's debit at a quote's binding price, or the usage meter's for a finished job."""
    from act3_billing.store.quotes import QuoteRef

    token = idem(key, "debit", ctx.principal, request.model_dump(mode="json"))
    service: str | None = None
    if isinstance(ctx.principal, Service) or request.usage is not None:
        # Job metrics come from the usage meter; a member reporting them would price their own job.
        service = machine(ctx, org_id, Permission.REPORT_USAGE).principal_id
        if request.member_id is None:
            raise ValidationFailed("member_id: the member who started the job is required", field="member_id")
        actor = request.member_id
    else:
        assert isinstance(ctx.principal, Caller)
        if request.member_id not in (None, ctx.principal.user_id):
            raise ValidationFailed("member_id: only the usage meter debits on behalf of someone else")
        actor = ctx.principal.user_id
    if request.quote_id is not None:
        amount, version = quoted_credits(request.quote_id), ctx.rate_card.version
        quote_ref: QuoteRef | None = QuoteRef(request.quote_id, amount)
    else:
        assert request.usage is not None  # the model guarantees one of the two
        priced = price(ctx, request.usage)
        amount, version, quote_ref = priced.credits, priced.rate_card_version, None
    return spend(
        ctx,
        org_id,
        lambda: ctx.store.debit(
            org_id,
            actor=actor,
            amount=amount,
            job_id=request.job_id,
            idem=token,
            now=ctx.now,
            rate_card_version=version,
            quote=quote_ref,
            service=service,
        ),
    )


def extend_hold(
    ctx: PrincipalContext, org_id: str, hold_id: str, request: m.ExtendRequest, key: str | None
) -> Outcome:
    token = idem(key, f"extend:{hold_id}", ctx.principal, request.model_dump(mode="json"))
    # Before the hold is read: a stranger learns nothing about it (closed, expired, or there at all).
    service = machine(ctx, org_id, Permission.REPORT_USAGE)
    expires = ctx.now + timedelta(seconds=request.expires_in_seconds) if request.expires_in_seconds else None
    return spend(
        ctx,
        org_id,
        lambda: ctx.store.extend_hold(
            org_id,
            actor=service.principal_id,
            hold_id=hold_id,
            more=request.credits,
            expires_at=expires,
            idem=token,
            now=ctx.now,
            service=service.principal_id,
        ),
    )


def capture(
    ctx: PrincipalContext, org_id: str, hold_id: str, request: m.CaptureRequest, key: str | None
) -> Outcome:
    token = idem(key, f"capture:{hold_id}", ctx.principal, request.model_dump(mode="json"))
    return _settle(ctx, org_id, hold_id, token, capture=request.credits, final=request.final)


def release(
    ctx: PrincipalContext, org_id: str, hold_id: str, request: m.ReleaseRequest, key: str | None
) -> Outcome:
    token = idem(key, f"release:{hold_id}", ctx.principal, request.model_dump(mode="json"))
    return _settle(ctx, org_id, hold_id, token, capture=0, final=True)


def _settle(
    ctx: PrincipalContext, org_id: str, hold_id: str, token: Idem, *, capture: int, final: bool
) -> Outcome:
    """Capture part of a hold and/or release the rest, on behalf of the member who placed it."""
    service = machine(ctx, org_id, Permission.REPORT_USAGE).principal_id
    return ctx.store.settle_hold(
        org_id,
        actor=service,
        hold_id=hold_id,
        capture=capture,
        final=final,
        idem=token,
        now=ctx.now,
        service=service,
    )


def refund(ctx: PrincipalContext, org_id: str, request: m.RefundRequest, key: str | None) -> Outcome:
    token = idem(key, "refund", ctx.principal, request.model_dump(mode="json"))
    service = machine(ctx, org_id, Permission.REFUND)
    return ctx.store.refund_job(
        org_id,
        actor=request.member_id,
        job_id=request.job_id,
        idem=token,
        now=ctx.now,
        service=service.principal_id,
    )

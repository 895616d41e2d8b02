"""Billing operations (support and finance tools, a machine identity): grants and signed adjustments.

Nothing else: the scopes `billing/grants.write` and `billing/adjustments.write` allow these two calls
and no other; members (even owners) get them refused, non-members learn nothing (SPEC §12).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from act3_billing.domain.grants import GrantKind, GrantSpec, clean_reason, grant_lot, positive_adjustment_lot
from act3_billing.domain.ledger import EntryType
from act3_billing.domain.roles import Permission
from act3_billing.domain.times import iso
from act3_billing.http import operations as m
from act3_billing.services import idem
from act3_billing.usage import PrincipalContext, machine

if TYPE_CHECKING:
    from act3_billing.store.idempotency import Outcome
    from act3_billing.store.operations import OperationsStore


def _store(ctx: PrincipalContext) -> OperationsStore:
    from act3_billing.store.operations import OperationsStore

    return OperationsStore(ctx.store)


def grant(ctx: PrincipalContext, org_id: str, request: m.GrantRequest, key: str | None) -> Outcome:
    token = idem(key, "grant", ctx.principal, request.model_dump(mode="json"))
    service = machine(ctx, org_id, Permission.GRANT)
    spec = GrantSpec(
        kind=GrantKind(request.kind),
        label=request.label,
        credits=request.credits,
        expires_at=request.expires_at,
        bundle_id=request.bundle,
    )
    lot = grant_lot(spec, ctx.now)
    answer = {
        "kind": spec.kind.value,
        "bundle": request.bundle,
        "label": lot.label,
        "credits": lot.granted,
        "expires_at": iso(lot.expires_at) if lot.expires_at else None,
    }
    memo = f"{spec.kind.value} grant: {lot.label}" + (f" ({request.bundle})" if request.bundle else "")
    return _store(ctx).grant(
        org_id,
        lot,
        entry_type=EntryType.GRANT,
        memo=memo,
        idem=token,
        now=ctx.now,
        service=service.principal_id,
        answer=answer,
    )


def adjust(ctx: PrincipalContext, org_id: str, request: m.AdjustmentRequest, key: str | None) -> Outcome:
    """A signed correction: positive adds a non-expiring lot, negative takes back in spending order."""
    token = idem(key, "adjustment", ctx.principal, request.model_dump(mode="json"))
    service = machine(ctx, org_id, Permission.ADJUST)
    reason = clean_reason(request.reason)
    if request.credits < 0:
        return _store(ctx).take_back(
            org_id,
            credits=-request.credits,
            reason=reason,
            idem=token,
            now=ctx.now,
            service=service.principal_id,
        )
    lot = positive_adjustment_lot(request.credits, reason, ctx.now)
    return _store(ctx).grant(
        org_id,
        lot,
        entry_type=EntryType.ADJUSTMENT,
        memo=f"adjustment {lot.lot_id}: {reason}",
        idem=token,
        now=ctx.now,
        service=service.principal_id,
        answer={
            "adjustment_id": lot.lot_id,
            "credits": request.credits,
            "reason": reason,
            "lots": {lot.lot_id: request.credits},
            "created_at": iso(ctx.now),
        },
    )

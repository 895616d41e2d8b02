"""`GET /orgs/{org_id}/statements/{cycle}`: the monthly usage statement PDF, stored in S3 and served by a
presigned URL. A finished month is rendered once; the current month is rendered afresh on each call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from act3_billing.domain.errors import NotFound
from act3_billing.domain.roles import Permission
from act3_billing.domain.statements import month_bounds, summarize
from act3_billing.domain.times import iso
from act3_billing.services import Context

if TYPE_CHECKING:
    from act3_billing.store.orgs import OrgStore
    from act3_billing.store.statements import StatementFiles

URL_TTL_SECONDS = 900


def statement(ctx: Context, files: StatementFiles, orgs: OrgStore, org_id: str, cycle: str) -> dict[str, Any]:
    ctx.store.require(org_id, ctx.caller.user_id, Permission.READ_BILLING)
    org_name = orgs.org(org_id).name
    start, end = month_bounds(cycle)
    if start > ctx.now:
        raise NotFound(f"no statement for {cycle} yet")
    finished = end <= ctx.now
    wallet = ctx.store.wallet(org_id)
    summary = summarize(org_id, cycle, ctx.store.entries(org_id), wallet.debt)
    if not (finished and files.exists(org_id, cycle)):
        from act3_billing.statement_pdf import render

        files.put(org_id, cycle, render(summary, org_name, ctx.now))
    return {
        "org_id": org_id,
        "cycle": cycle,
        "period_start": iso(start),
        "period_end": iso(end),
        "final": finished,
        "url": files.url(org_id, cycle, URL_TTL_SECONDS),
        "expires_in": URL_TTL_SECONDS,
        "totals": {
            "granted": sum(summary.granted.values()),
            "spent": summary.spent,
            "refunded": summary.refunded,
            "rolled_over": summary.rolled_over,
            "expired": summary.expired,
            "forfeited": summary.forfeited,
            "packs_bought": summary.packs_bought,
            "taken_back": summary.taken_back,
            "debt": summary.debt_now,
        },
    }

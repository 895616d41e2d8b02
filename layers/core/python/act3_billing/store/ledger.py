"""Reading an org's ledger a page at a time (newest first), by type, member or job."""

from __future__ import annotations

from typing import Any

from pynamodb.expressions.condition import Condition

from act3_billing.domain.ledger import LedgerEntry
from act3_billing.store.models import LedgerItem, org_pk
from act3_billing.store.records import entry_from_item


def ledger_page(
    org_id: str,
    *,
    limit: int,
    after: str | None,
    entry_type: str | None = None,
    job_id: str | None = None,
    actor: str | None = None,
) -> tuple[list[LedgerEntry], str | None]:
    """Newest first, starting after the entry whose sort key is `after`; returns the page and the
    sort key to continue after. The start key is rebuilt here from that sort key alone, so no key
    from outside reaches DynamoDB. Filters by type / member run in DynamoDB; by job through the
    job index."""
    condition: Condition | None = None
    if entry_type:
        condition = LedgerItem.type == entry_type
    if actor:
        condition = (
            (LedgerItem.actor == actor) if condition is None else condition & (LedgerItem.actor == actor)
        )
    out: list[LedgerEntry] = []
    job_pk = f"{org_pk(org_id)}#JOB#{job_id}"
    last: dict[str, Any] | None = None
    if after:
        last = {"pk": {"S": org_pk(org_id)}, "sk": {"S": after}}
        if job_id:
            last |= {"gsi1pk": {"S": job_pk}, "gsi1sk": {"S": after}}
    while len(out) < limit:
        if job_id:
            result = LedgerItem.by_job.query(
                job_pk,
                filter_condition=condition,
                scan_index_forward=False,
                limit=limit - len(out),
                last_evaluated_key=last,
            )
        else:
            result = LedgerItem.query(
                org_pk(org_id),
                LedgerItem.sk.startswith("LEDGER#"),
                filter_condition=condition,
                scan_index_forward=False,
                limit=limit - len(out),
                last_evaluated_key=last,
            )
        out.extend(entry_from_item(item) for item in result)
        last = result.last_evaluated_key
        if not last:
            break
    return out, str(last["sk"]["S"]) if last else None

"""Members' monthly limits around refunds: a refund gives the credits back to the spending member's
limit when it falls in the cycle they were spent in (SPEC §12). Each charge of a job records who
spent it and in which cycle (`by`, `cycle`), so the refund knows whom to give back to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from act3_billing.store.models import MemberItem, org_pk
from act3_billing.store.tx import Tx


def charge_entries(draw: Mapping[str, int], by: str | None, cycle: str | None) -> list[dict[str, Any]]:
    """What a job's charges list gets for one debit or capture."""
    extra = {"by": by, "cycle": cycle} if by and cycle else {}
    return [{"lot": k, "n": v, **extra} for k, v in draw.items()]


def give_backs(charges: Iterable[Mapping[str, Any]], cycle_id: str) -> dict[str, int]:
    """Credits to give back per member: those they were charged in the current cycle."""
    out: dict[str, int] = {}
    for charge in charges:
        by = charge.get("by")
        if by and charge.get("cycle") == cycle_id:
            out[str(by)] = out.get(str(by), 0) + int(charge["n"])
    return out


def refund_members(tx: Tx, org_id: str, give: Mapping[str, int], cycle_id: str) -> None:
    """Lower each spender's count for the cycle, in the refund's transaction. Refunds are the usage
    meter's (a machine identity, its scope checked before), so no member is authorized here.
    A failed `give_back` (the spender left) is retried by the caller without giving back."""
    for user, credits in give.items():
        spent = MemberItem.spent[cycle_id]
        tx.update(
            "give_back",
            MemberItem(org_pk(org_id), f"MEMBER#{user}"),
            [spent.set(spent - credits)],
            spent >= credits,
        )

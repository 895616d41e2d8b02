"""Members' monthly limits around refunds: a refund gives the credits back to the spending member's
limit when it falls in the cycle they were spent in (SPEC §12). Each charge of a job records who
spent it and in which cycle (`by`, `cycle`), so the refund knows whom to give back to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pynamodb.expressions.condition import Condition

from act3_billing.domain.roles import Permission, roles_with
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


def refund_members(tx: Tx, org_id: str, actor: str, give: Mapping[str, int], cycle_id: str) -> None:
    """Authorize the refunding member and lower each spender's count for the cycle, in the refund's
    transaction (one update when they are the same member: a transaction touches an item once).
    A failed `give_back` (the spender left) is retried by the caller without giving back."""
    roles = [role.value for role in roles_with(Permission.REFUND)]
    authorize: Condition = MemberItem.role.is_in(*roles)
    for user, credits in give.items():
        spent = MemberItem.spent[cycle_id]
        condition: Condition = spent >= credits
        if user == actor:
            condition &= authorize
        tx.update(
            "member" if user == actor else "give_back",
            MemberItem(org_pk(org_id), f"MEMBER#{user}"),
            [spent.set(spent - credits)],
            condition,
        )
    if actor not in give:
        tx.check("member", MemberItem, org_pk(org_id), f"MEMBER#{actor}", authorize)

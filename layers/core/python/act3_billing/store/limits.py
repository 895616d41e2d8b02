"""Members' monthly limits around refunds: a refund gives the credits back to the spending member's
limit when it falls in the cycle they were spent in (SPEC §12). A job's record keeps who spent its
credits and in which cycle (store/job_charges.py), so the refund knows whom to give back to."""

from __future__ import annotations

from collections.abc import Mapping

from act3_billing.store.models import MemberItem, org_pk
from act3_billing.store.tx import Tx


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

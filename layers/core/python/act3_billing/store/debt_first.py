"""New credits pay the org's debt first, in the transaction that brings them (a pack, a grant, a
monthly allowance): the lot as it is stored, the `debt_repaid` entry, and what the wallet update adds."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from act3_billing.domain.ids import new_id
from act3_billing.domain.ledger import EntryType, LedgerEntry
from act3_billing.domain.lots import Lot
from act3_billing.store.models import WalletItem

SYSTEM_ACTOR = "system"


def debt_first(
    org_id: str, debt: int, lot: Lot, idem_key: str | None, now: datetime
) -> tuple[Lot, list[LedgerEntry], list[Action], Condition | None]:
    """(the lot less what it repays, the `debt_repaid` entries, the wallet actions, the condition that the
    debt is still what was read). The entry is dated just after the lot's arrival, in replay order."""
    pay = min(debt, lot.remaining)
    if pay <= 0:
        return lot, [], [], None
    at = now + timedelta(milliseconds=1)
    entry = LedgerEntry(
        new_id("le", at),
        org_id,
        EntryType.DEBT_REPAID,
        pay,
        at,
        lots={lot.lot_id: -pay},
        actor=SYSTEM_ACTOR,
        idempotency_key=idem_key,
        memo=f"debt repaid from {lot.lot_id}",
    )
    return (
        dataclasses.replace(lot, remaining=lot.remaining - pay),
        [entry],
        [WalletItem.debt.set(WalletItem.debt - pay)],
        WalletItem.debt == debt,
    )

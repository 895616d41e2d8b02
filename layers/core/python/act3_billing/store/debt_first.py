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
    org_id: str, debt: int | None, lot: Lot, idem_key: str | None, now: datetime
) -> tuple[Lot, list[LedgerEntry], list[Action], Condition | None]:
    """(the lot less what it repays, the `debt_repaid` entries, the wallet actions, the condition that the
    debt is still what was read). The entry is dated just after the lot's arrival, in replay order.
    `debt` None: these credits do not pay debt (no condition either)."""
    (paid,), entries, actions, condition = debt_first_from(org_id, debt, [lot], idem_key, now)
    return paid, entries, actions, condition


def debt_first_from(
    org_id: str, debt: int | None, lots: list[Lot], idem_key: str | None, now: datetime
) -> tuple[list[Lot], list[LedgerEntry], list[Action], Condition | None]:
    """Several arriving lots (a transfer's) pay the debt in spending order, soonest-expiring first: the
    lots less what each repays, one `debt_repaid` entry naming them, one wallet action, the condition.

    With no debt read, the condition is that there still is none: a claw-back committing meanwhile
    makes the write fail and be tried again, so its debt is paid before these credits can be spent."""
    if debt is None:
        return list(lots), [], [], None
    if debt <= 0:
        return list(lots), [], [], (WalletItem.debt == 0) | WalletItem.debt.does_not_exist()
    left, taken = debt, {}
    for lot in sorted(lots, key=lambda x: x.spend_key()):
        pay = min(left, lot.remaining)
        if pay > 0:
            taken[lot.lot_id] = pay
            left -= pay
    if not taken:  # nothing arriving to pay with
        return list(lots), [], [], WalletItem.debt == debt
    at = now + timedelta(milliseconds=1)
    total = sum(taken.values())
    entry = LedgerEntry(
        new_id("le", at),
        org_id,
        EntryType.DEBT_REPAID,
        total,
        at,
        lots={lot_id: -pay for lot_id, pay in taken.items()},
        actor=SYSTEM_ACTOR,
        idempotency_key=idem_key,
        memo=f"debt repaid from {', '.join(taken)}",
    )
    return (
        [dataclasses.replace(lot, remaining=lot.remaining - taken.get(lot.lot_id, 0)) for lot in lots],
        [entry],
        [WalletItem.debt.set(WalletItem.debt - total)],
        WalletItem.debt == debt,
    )

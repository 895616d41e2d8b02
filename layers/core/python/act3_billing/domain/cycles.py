"""Starting a billing cycle: the old monthly allowance rolls into the bank (cut to the plan's cap,
the excess forfeited), bank lots past their six-cycle life expire, and the new allowance is granted."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime

from act3_billing.domain.ledger import EntryType
from act3_billing.domain.lots import Lot, LotKind, Wallet, bank_lot_id, monthly_lot_id

BANK_LIFETIME_CYCLES = 6


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class PlannedEntry:
    type: EntryType
    amount: int
    lots: dict[str, int]
    memo: str


@dataclass(frozen=True)
class CyclePlan:
    new_lots: list[Lot] = field(default_factory=list)
    removed_lots: dict[str, int] = field(default_factory=dict)  # lot id -> remaining it must still have
    entries: list[PlannedEntry] = field(default_factory=list)


def plan_new_cycle(
    wallet: Wallet,
    *,
    cycle_id: str,
    cycle_start: datetime,
    cycle_end: datetime,
    allowance: int,
    rollover_cap: int,
    now: datetime,
) -> CyclePlan:
    plan = CyclePlan()
    # Bank lots whose life is over leave first, so they don't count against the cap.
    for lot in wallet.lots:
        if lot.kind is not LotKind.MONTHLY and not lot.live_at(now):
            plan.removed_lots[lot.lot_id] = lot.remaining
            if lot.remaining:
                plan.entries.append(
                    PlannedEntry(
                        EntryType.EXPIRE,
                        lot.remaining,
                        {lot.lot_id: -lot.remaining},
                        f"{lot.kind} lot expired",
                    )
                )
    old = wallet.current_monthly()
    if old is not None and old.lot_id != monthly_lot_id(cycle_id):
        plan.removed_lots[old.lot_id] = old.remaining
        bank_total = sum(
            lot.remaining
            for lot in wallet.lots
            if lot.kind is LotKind.BANK and lot.lot_id not in plan.removed_lots
        )
        room = max(0, rollover_cap - bank_total)
        banked = min(old.remaining, room)
        forfeited = old.remaining - banked
        if banked:
            bank = Lot(
                lot_id=bank_lot_id(wallet.cycle_id),
                kind=LotKind.BANK,
                remaining=banked,
                granted=banked,
                created_at=now,
                expires_at=add_months(wallet.cycle_end, BANK_LIFETIME_CYCLES),
                label=f"rolled over from cycle {wallet.cycle_id}",
            )
            plan.new_lots.append(bank)
            plan.entries.append(
                PlannedEntry(
                    EntryType.ROLLOVER, banked, {old.lot_id: -banked, bank.lot_id: banked}, bank.label
                )
            )
        if forfeited:
            plan.entries.append(
                PlannedEntry(
                    EntryType.FORFEIT,
                    forfeited,
                    {old.lot_id: -forfeited},
                    f"over the rollover cap of {rollover_cap}",
                )
            )
    if allowance:
        monthly = Lot(
            lot_id=monthly_lot_id(cycle_id),
            kind=LotKind.MONTHLY,
            remaining=allowance,
            granted=allowance,
            created_at=now,
            expires_at=cycle_end,
            label=f"monthly allowance, cycle {cycle_id}",
        )
        plan.new_lots.append(monthly)
        plan.entries.append(
            PlannedEntry(EntryType.GRANT_MONTHLY, allowance, {monthly.lot_id: allowance}, monthly.label)
        )
    return plan

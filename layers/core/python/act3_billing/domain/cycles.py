"""Starting a billing cycle: the old monthly allowance rolls into the bank (cut to the plan's cap,
the excess forfeited), bank lots past their six-cycle life expire, and the new allowance is granted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from act3_billing.domain.ledger import EntryType
from act3_billing.domain.lots import Lot, LotKind, Wallet, bank_lot_id, monthly_lot_id

BANK_LIFETIME_CYCLES = 6


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    day = min(moment.day, (first_of_next - timedelta(days=1)).day)
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
    cut_lots: dict[str, tuple[int, int]] = field(default_factory=dict)  # lot id -> (remaining now, after)
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
    # Lots whose life is over leave (one entry for all of them); emptied lots are dropped.
    expired = {
        lot.lot_id: lot.remaining
        for lot in wallet.lots
        if lot.kind is not LotKind.MONTHLY and not lot.live_at(now)
    }
    plan.removed_lots.update(expired)
    if sum(expired.values()):
        plan.entries.append(
            PlannedEntry(
                EntryType.EXPIRE,
                sum(expired.values()),
                {k: -v for k, v in expired.items() if v},
                f"{len(expired)} lot(s) expired",
            )
        )
    plan.removed_lots.update(
        {
            lot.lot_id: 0
            for lot in wallet.lots
            if lot.kind is not LotKind.MONTHLY and lot.remaining == 0 and lot.lot_id not in expired
        }
    )
    old = wallet.current_monthly()
    if old is not None and old.lot_id != monthly_lot_id(cycle_id):
        plan.removed_lots[old.lot_id] = old.remaining
        bank = [
            lot for lot in wallet.lots if lot.kind is LotKind.BANK and lot.lot_id not in plan.removed_lots
        ]
        bank_total = sum(lot.remaining for lot in bank)
        # The new bank lot is cut to fit the cap; a bank already over it (after a downgrade) is cut
        # too, its soonest-expiring credits first.
        banked = min(old.remaining, max(0, rollover_cap - bank_total))
        forfeit: dict[str, int] = {}
        if old.remaining - banked:
            forfeit[old.lot_id] = -(old.remaining - banked)
        over = bank_total - rollover_cap
        for lot in sorted(bank, key=Lot.spend_key):
            if over <= 0:
                break
            cut = min(over, lot.remaining)
            plan.cut_lots[lot.lot_id] = (lot.remaining, lot.remaining - cut)
            forfeit[lot.lot_id] = -cut
            over -= cut
        if banked:
            new_bank = Lot(
                lot_id=bank_lot_id(wallet.cycle_id),
                kind=LotKind.BANK,
                remaining=banked,
                granted=banked,
                created_at=now,
                expires_at=add_months(wallet.cycle_end, BANK_LIFETIME_CYCLES),
                label=f"rolled over from cycle {wallet.cycle_id}",
            )
            plan.new_lots.append(new_bank)
            plan.entries.append(
                PlannedEntry(
                    EntryType.ROLLOVER, banked, {old.lot_id: -banked, new_bank.lot_id: banked}, new_bank.label
                )
            )
        if forfeit:
            plan.entries.append(
                PlannedEntry(
                    EntryType.FORFEIT,
                    -sum(forfeit.values()),
                    forfeit,
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

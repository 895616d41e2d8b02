"""Billing cycles (SPEC §4, §12): what happens at a boundary, and when an org is next due.

Starting a cycle: the old monthly allowance rolls into the bank (cut to the plan's cap, the excess
forfeited), bank lots past their six-cycle life expire, and the new allowance is granted.

Which boundary comes next is decided here too (`scheduled_boundary`, `upgrade_boundary`,
`archive_boundary`, `paid_boundary`): the plan that applies (a pending downgrade takes effect),
whether the schedule grants the allowance (free plans) or the payment does (paid plans), the cap
(none on entering or staying in archive: nothing is forfeited there), whether the existing bank is
cut (only when a downgrade takes effect), the trial's end, and the org's status.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from act3_billing.domain.errors import GenerationDisabled
from act3_billing.domain.ledger import EntryType
from act3_billing.domain.lots import Lot, LotKind, Wallet, WalletStatus, bank_lot_id, monthly_lot_id
from act3_billing.domain.plans import Catalog, Plan

BANK_LIFETIME_CYCLES = 6
ARCHIVE_PLAN = "archive"
TRIAL_PLAN = "starter_trial"
DUE_SHARDS = 8  # the due index is spread over this many partitions; the scheduler queries them all
BANK_ALERT_AHEAD = timedelta(days=7)
TRIAL_ALERT_AHEAD = timedelta(days=14)
# A paid period starting this close to the current cycle's start is that cycle (Stripe's clock and
# ours differ by the webhook's delay, never by more).
SAME_CYCLE = timedelta(hours=1)


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
    rollover_cap: int | None,
    now: datetime,
    cut_existing: bool = True,
    bank_expires_at: datetime | None = None,
) -> CyclePlan:
    """`rollover_cap` None: no cap (archive). `cut_existing`: an existing bank over the cap is cut too
    (a downgrade taking effect); otherwise only the new bank lot is cut to fit."""
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
    rolling = old is not None and old.lot_id != monthly_lot_id(cycle_id)
    left = old.remaining if old is not None and rolling else 0
    if old is not None and rolling:
        plan.removed_lots[old.lot_id] = old.remaining
    bank = [lot for lot in wallet.lots if lot.kind is LotKind.BANK and lot.lot_id not in plan.removed_lots]
    bank_total = sum(lot.remaining for lot in bank)
    # The new bank lot is cut to fit the cap; a bank already over it (a downgrade taking effect) is
    # cut too, its soonest-expiring credits first. Transfer lots never count against the cap.
    cap = bank_total + left if rollover_cap is None else rollover_cap
    banked = min(left, max(0, cap - bank_total))
    forfeit: dict[str, int] = {}
    if old is not None and left - banked:
        forfeit[old.lot_id] = -(left - banked)
    over = bank_total - cap if cut_existing else 0
    for lot in sorted(bank, key=Lot.spend_key):
        if over <= 0:
            break
        cut = min(over, lot.remaining)
        if cut == lot.remaining:
            plan.removed_lots[lot.lot_id] = lot.remaining  # emptied lots leave the wallet
        else:
            plan.cut_lots[lot.lot_id] = (lot.remaining, lot.remaining - cut)
        forfeit[lot.lot_id] = -cut
        over -= cut
    if old is not None and banked:
        new_bank = Lot(
            lot_id=_unused(bank_lot_id(wallet.cycle_id), wallet),
            kind=LotKind.BANK,
            remaining=banked,
            granted=banked,
            created_at=now,
            expires_at=bank_expires_at or add_months(wallet.cycle_end, BANK_LIFETIME_CYCLES),
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
                EntryType.FORFEIT, -sum(forfeit.values()), forfeit, f"over the rollover cap of {cap}"
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


def _unused(lot_id: str, wallet: Wallet) -> str:
    """A new bank lot never takes the id of one the wallet holds (its credits would be overwritten): two
    cycles can start within one second (subscribe, then upgrade at once), and cycle ids have seconds."""
    candidate, n = lot_id, 2
    while candidate in wallet.lots_by_id:
        candidate, n = f"{lot_id}~{n}", n + 1
    return candidate


# ---- which boundary, and when an org is next due ----------------------------------------------------


def cycle_id_for(start: datetime) -> str:
    return start.strftime("%Y%m%dT%H%M%SZ")


def anchored_end(anchor: datetime, after: datetime) -> datetime:
    """The first anchor + k months strictly after `after` (cycles keep their anchor's day of month)."""
    k = max((after.year - anchor.year) * 12 + after.month - anchor.month - 1, 0)
    while (end := add_months(anchor, k)) <= after:
        k += 1
    return end


def _new_cycle_id(current: str, start: datetime) -> str:
    """The id of a cycle starting at `start`; a second cycle starting in the same second as the
    current one (an upgrade, then archive at once) gets a suffix: cycle ids never repeat."""
    cycle_id = cycle_id_for(start)
    base, _, n = current.partition(".")
    if base == cycle_id:
        return f"{cycle_id}.{int(n or 1) + 1}"
    return cycle_id


def granted_by_schedule(plan: Plan) -> bool:
    """Free plans get their allowance from the schedule; paid plans from the payment (`invoice.paid`)."""
    return plan.price_cents == 0


@dataclass(frozen=True)
class Boundary:
    """A cycle start: the new cycle, the plan state after it, and how the rollover is cut."""

    cycle_id: str
    cycle_start: datetime
    cycle_end: datetime
    anchor: datetime
    plan_id: str
    allowance: int  # granted in the same transaction (0: nothing, or the payment grants it later)
    rollover_cap: int | None
    cut_existing: bool
    generation_enabled: bool
    status: WalletStatus
    archived_at: datetime | None
    trial_ends_at: datetime | None
    bank_expires_at: datetime

    @property
    def grants(self) -> bool:
        return self.allowance > 0


def _trial_live(plan: Plan, trial_ends_at: datetime | None, at: datetime) -> bool:
    return not plan.trial_months or (trial_ends_at is not None and at < trial_ends_at)


def _boundary(
    wallet: Wallet,
    catalog: Catalog,
    *,
    plan_id: str,
    start: datetime,
    end: datetime,
    anchor: datetime,
    grant: bool,
    downgrade: bool = False,
    archived_at: datetime | None = None,
) -> Boundary:
    plan = catalog.get(plan_id)
    archive = plan_id == ARCHIVE_PLAN
    trial_ends_at = wallet.trial_ends_at
    if trial_ends_at is None and plan.trial_months and wallet.monthly_allowance:
        # A trial activated before its end was recorded: it started with the wallet's first cycle.
        trial_ends_at = add_months(wallet.anchor or wallet.cycle_start, plan.trial_months)
    trial_live = _trial_live(plan, trial_ends_at, start)
    status = WalletStatus.ARCHIVED if archive else WalletStatus.ACTIVE
    if not archive and wallet.status is WalletStatus.PAST_DUE:
        status = WalletStatus.PAST_DUE  # only the payment ends that (store/dunning.py), whatever the plan
    return Boundary(
        cycle_id=_new_cycle_id(wallet.cycle_id, start),
        cycle_start=start,
        cycle_end=end,
        anchor=anchor,
        plan_id=plan_id,
        allowance=(plan.monthly_credits or 0) if grant and trial_live else 0,
        rollover_cap=None if archive or wallet.plan_id == ARCHIVE_PLAN else plan.rollover_cap,
        cut_existing=downgrade,
        generation_enabled=plan.generation and trial_live and not archive,
        status=status,
        archived_at=(archived_at or wallet.archived_at or start) if archive else None,
        trial_ends_at=trial_ends_at,
        bank_expires_at=_bank_expiry(wallet),
    )


def _bank_expiry(wallet: Wallet) -> datetime:
    """The lot banked from the ending cycle n expires at the end of cycle n + 6 (on the anchor's day)."""
    anchor = wallet.anchor or wallet.cycle_start
    end = wallet.cycle_end
    for _ in range(BANK_LIFETIME_CYCLES):
        end = anchored_end(anchor, end)
    return end


def scheduled_boundary(wallet: Wallet, catalog: Catalog) -> Boundary:
    """The boundary at the wallet's cycle end: a pending plan change takes effect; free plans are
    granted here, paid plans wait for their payment."""
    plan_id = wallet.pending_plan_id or wallet.plan_id
    anchor = wallet.anchor or wallet.cycle_start
    old_cap = catalog.get(wallet.plan_id).rollover_cap
    new_cap = catalog.get(plan_id).rollover_cap
    return _boundary(
        wallet,
        catalog,
        plan_id=plan_id,
        start=wallet.cycle_end,
        end=anchored_end(anchor, wallet.cycle_end),
        anchor=anchor,
        grant=granted_by_schedule(catalog.get(plan_id)),
        downgrade=plan_id != wallet.plan_id and (new_cap or 0) < (old_cap or 0),
    )


def upgrade_boundary(wallet: Wallet, catalog: Catalog, plan_id: str, now: datetime) -> Boundary:
    """A plan change that takes effect at once: a new cycle anchored now (re-upgrade from archive too)."""
    return _boundary(
        wallet,
        catalog,
        plan_id=plan_id,
        start=now,
        end=add_months(now, 1),
        anchor=now,
        grant=granted_by_schedule(catalog.get(plan_id)),
    )


def archive_boundary(wallet: Wallet, catalog: Catalog, now: datetime) -> Boundary:
    """Entering archive at once: a new (empty) cycle; every lot stays and keeps expiring."""
    return _boundary(
        wallet,
        catalog,
        plan_id=ARCHIVE_PLAN,
        start=now,
        end=add_months(now, 1),
        anchor=now,
        grant=False,
        archived_at=now,
    )


def paid_boundary(
    wallet: Wallet, catalog: Catalog, plan_id: str, period_start: datetime, period_end: datetime
) -> Boundary:
    """A paid period that starts a new cycle (the payment came before the schedule, or an upgrade's
    payment before the plan change): its allowance is granted in the same transaction."""
    return _boundary(
        wallet,
        catalog,
        plan_id=plan_id,
        start=period_start,
        end=period_end,
        anchor=period_start,
        grant=True,
        downgrade=plan_id == wallet.pending_plan_id and plan_id != wallet.plan_id,
    )


def trial_activation(now: datetime, plan: Plan) -> tuple[datetime, datetime, datetime]:
    """A trial's first cycle and its end start when its credits become usable (SPEC §12)."""
    return now, add_months(now, 1), add_months(now, plan.trial_months or 0)


def due_shard(org_id: str) -> str:
    return f"DUE#{zlib.crc32(org_id.encode()) % DUE_SHARDS}"


def next_due(wallet: Wallet, now: datetime) -> datetime:
    """When the schedule next has something to do for the org: its cycle end, or earlier a notice
    (bank credits expiring within 7 days, the trial ending within 14 days)."""
    candidates = [wallet.cycle_end]
    bank_expiries = [
        lot.expires_at for lot in wallet.lots if lot.kind is LotKind.BANK and lot.remaining and lot.expires_at
    ]
    if bank_expiries:
        candidates.append(min(bank_expiries) - BANK_ALERT_AHEAD)
    if wallet.trial_ends_at is not None and wallet.plan_id == TRIAL_PLAN:
        candidates.append(wallet.trial_ends_at - TRIAL_ALERT_AHEAD)
    upcoming = [c for c in candidates if c > now]
    return min(upcoming) if upcoming else wallet.cycle_end


def due_key(org_id: str, due: datetime) -> tuple[str, str]:
    from act3_billing.domain.times import iso

    return due_shard(org_id), f"{iso(due)}#{org_id}"


def generation_refusal(wallet: Wallet, now: datetime) -> GenerationDisabled:
    """Why a wallet that cannot generate refuses (domain/spending.py decides)."""
    from act3_billing.domain.spending import Reason, refusal_error, wallet_refusal

    error = refusal_error(wallet_refusal(wallet, now) or Reason.GENERATION_DISABLED, wallet, None, 1, now)
    assert isinstance(error, GenerationDisabled)
    return error

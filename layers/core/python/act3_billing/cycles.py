"""Use cases of billing cycles: the scheduled boundary, the paid grant, plan changes, archive, the
trial's activation, and the hold-expiry sweep. Nothing here sees an event, boto3 or the clock.

Contract with the Stripe webhook (issue 8) — who grants a cycle
---------------------------------------------------------------
- **Free plans** (price 0: the starter trial, archive) are granted by the schedule at each boundary.
- **Paid plans** are granted by the payment: `grant_paid_cycle(cycles, org_id, period_start,
  period_end, plan_id, source_ref, now)` on `invoice.paid`, with the invoice line's period and the
  invoice id as `source_ref`. At a paid plan's boundary the schedule still starts the cycle (the
  old allowance is banked or forfeited, dead lots expire, a pending downgrade applies) but grants
  nothing; the payment then grants the cycle it falls in.
- **Whichever comes first, the cycle is granted exactly once.** The paid period is matched to the
  wallet's cycles: a period starting within `SAME_CYCLE` (1 h) of the current cycle's start *is* the
  current cycle, granted under the condition that it has not been granted yet (`granted_cycle`); a
  period starting later (the payment came before the schedule, or an upgrade's invoice before the
  plan change) starts a new cycle at `period_start` and grants it in the same transaction; a period
  that starts before the current cycle is stale and changes nothing. The same invoice twice
  replays its first answer (idempotency key `paid:{source_ref}`).
- `change_plan_now(cycles, org_id, plan_id, now)`: an upgrade (or re-upgrade from archive) takes
  effect at once and starts a new cycle anchored `now`; the old cycle's unused allowance rolls into
  the bank as at any cycle end. A paid plan's new cycle is granted by its invoice (above). Calling it
  again for the plan the org is on only clears a pending change.
- `schedule_plan_change(cycles, org_id, plan_id, now)`: a downgrade (also to `archive`) recorded as
  `pending_plan_id`; it takes effect at the cycle end, where the bank is cut to the new plan's cap,
  soonest-expiring first. Scheduling the current plan cancels a pending change.
- `enter_archive(cycles, org_id, now)`: archive at once (a cancelled subscription). Nothing is
  forfeited: bank, grant, pack and transfer lots stay and keep expiring; nothing can be spent.
  `archived_at` is set (the storage purge runs 30 days later); a re-upgrade clears it.

All of them are idempotent and safe to call twice, late, or from two instances at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from act3_billing.domain.cycles import (
    ARCHIVE_PLAN,
    SAME_CYCLE,
    TRIAL_PLAN,
    archive_boundary,
    cycle_id_for,
    next_due,
    paid_boundary,
    scheduled_boundary,
    trial_activation,
    upgrade_boundary,
)
from act3_billing.domain.errors import Conflict, HoldNotOpen, NotFound
from act3_billing.domain.lots import LotKind, Wallet, WalletStatus
from act3_billing.domain.plans import Catalog, default_catalog
from act3_billing.domain.times import iso
from act3_billing.store.idempotency import Idem, Outcome

if TYPE_CHECKING:
    from act3_billing.notifications import Alert, Notifier
    from act3_billing.store.cycles import Committed, CycleStore

MAX_ATTEMPTS = 20
MAX_CATCH_UP = 24  # boundaries one run may apply to an org the schedule missed (two years)
SYSTEM_ACTOR = "system"


@dataclass
class DueResult:
    org_id: str
    rolled: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)


def _catalog(catalog: Catalog | None) -> Catalog:
    return catalog or default_catalog()


# ---- the schedule ---------------------------------------------------------------------------------


def roll_due(
    cycles: CycleStore,
    org_id: str,
    now: datetime,
    *,
    catalog: Catalog | None = None,
    notifier: Notifier | None = None,
) -> DueResult:
    """Everything due for one org: the boundaries that passed (one transaction each; usually one),
    then the notices (bank expiring, trial ending). A second run, or a run racing this one, finds
    the org no longer due and changes nothing."""
    catalog = _catalog(catalog)
    result = DueResult(org_id)
    wallet = cycles.wallet(org_id)
    moved = False
    for _ in range(MAX_CATCH_UP + MAX_ATTEMPTS):
        if now < wallet.cycle_end or len(result.rolled) >= MAX_CATCH_UP:
            break
        boundary = scheduled_boundary(wallet, catalog)
        idem = Idem(f"cycle:{boundary.cycle_id}", "cycle", boundary.cycle_id)
        committed = cycles.commit_boundary(wallet, boundary, idem=idem, now=now)
        if committed is None or committed.wallet is None:
            wallet = cycles.wallet(org_id)  # raced: someone else moved it; decide again
            continue
        wallet, moved = committed.wallet, True
        result.rolled.append(boundary.cycle_id)
    for alert in notices(wallet, now):
        if notifier is not None and notifier.notify(alert, now):
            result.alerts.append(alert.key)
    if not moved:
        cycles.set_due(wallet, now)
    return result


def notices(wallet: Wallet, now: datetime) -> list[Alert]:
    """The time-based notices due for the wallet now: bank credits expiring within 7 days, the trial
    ending within 14 days (each once per cycle)."""
    from act3_billing.domain.cycles import BANK_ALERT_AHEAD, TRIAL_ALERT_AHEAD
    from act3_billing.notifications import Alert

    out: list[Alert] = []
    expiring = [
        lot
        for lot in wallet.lots
        if lot.kind is LotKind.BANK
        and lot.remaining
        and lot.expires_at is not None
        and now < lot.expires_at <= now + BANK_ALERT_AHEAD
    ]
    if expiring:
        out.append(
            Alert(
                wallet.org_id,
                "bank_expiring",
                "7d",
                wallet.cycle_id,
                {
                    "credits": sum(lot.remaining for lot in expiring),
                    "expires_at": iso(min(lot.expires_at for lot in expiring if lot.expires_at)),
                },
            )
        )
    ends = wallet.trial_ends_at
    if wallet.plan_id == TRIAL_PLAN and ends is not None and now < ends <= now + TRIAL_ALERT_AHEAD:
        out.append(Alert(wallet.org_id, "trial_ending", "14d", wallet.cycle_id, {"trial_ends_at": iso(ends)}))
    return out


def due_orgs(cycles: CycleStore, now: datetime) -> list[str]:
    """The orgs the schedule has work for, through the due index."""
    return list(dict.fromkeys(cycles.due_orgs(now)))


def expired_holds(cycles: CycleStore, now: datetime) -> list[tuple[str, str]]:
    return list(cycles.expired_holds(now))


def expire_hold(cycles: CycleStore, org_id: str, hold_id: str, now: datetime) -> Outcome | None:
    """Release a hold past its expiry: credits back to their lots, or `expire` if those lots expired
    meanwhile. None when it was settled or released already."""
    try:
        return cycles.billing.settle_hold(
            org_id,
            actor=SYSTEM_ACTOR,
            hold_id=hold_id,
            capture=0,
            final=True,
            idem=Idem(f"expire:{hold_id}", "expire_hold", hold_id),
            now=now,
            check_member=False,
            expiring=True,
        )
    except (HoldNotOpen, NotFound):
        return None


# ---- payments and plan changes (called by the Stripe webhook) ---------------------------------------


def grant_paid_cycle(
    cycles: CycleStore,
    org_id: str,
    period_start: datetime,
    period_end: datetime,
    plan_id: str,
    source_ref: str,
    now: datetime,
    *,
    catalog: Catalog | None = None,
) -> Outcome:
    """The allowance of a paid period, exactly once (see the module's contract)."""
    catalog = _catalog(catalog)
    plan = catalog.get(plan_id)
    idem = Idem(f"paid:{source_ref}", "paid_cycle", f"{plan_id}:{iso(period_start)}:{iso(period_end)}")
    caught_up = 0
    for _ in range(MAX_ATTEMPTS + MAX_CATCH_UP):
        wallet = cycles.wallet(org_id)
        committed: Committed | None
        if wallet.cycle_end + SAME_CYCLE <= period_start and caught_up < MAX_CATCH_UP:
            # Boundaries the schedule has not applied yet come first (banking what they bank).
            boundary = scheduled_boundary(wallet, catalog)
            cycles.commit_boundary(
                wallet, boundary, idem=Idem(f"cycle:{boundary.cycle_id}", "cycle", boundary.cycle_id), now=now
            )
            caught_up += 1
            continue
        same = abs(period_start - wallet.cycle_start) <= SAME_CYCLE
        if same and wallet.granted_cycle != wallet.cycle_id:
            committed = cycles.grant_current(
                wallet,
                plan_id=plan_id,
                allowance=plan.monthly_credits or 0,
                cycle_end=period_end,
                generation_enabled=plan.generation,
                idem=idem,
                now=now,
            )
        elif (same and wallet.plan_id == plan_id) or period_start < wallet.cycle_start - SAME_CYCLE:
            return Outcome(
                {"cycle_id": wallet.cycle_id, "plan_id": wallet.plan_id, "granted": 0, "entries": []}
            )
        else:
            boundary = paid_boundary(wallet, catalog, plan_id, period_start, period_end)
            committed = cycles.commit_boundary(wallet, boundary, idem=idem, now=now)
        if committed is not None:
            return committed.outcome
    raise Conflict("the wallet kept changing; retry")


def change_plan_now(
    cycles: CycleStore, org_id: str, plan_id: str, now: datetime, *, catalog: Catalog | None = None
) -> Wallet:
    """An upgrade (or re-upgrade from archive): a new cycle now; see the module's contract."""
    catalog = _catalog(catalog)
    catalog.get(plan_id)
    for _ in range(MAX_ATTEMPTS):
        wallet = cycles.wallet(org_id)
        if wallet.plan_id == plan_id and wallet.status is not WalletStatus.ARCHIVED:
            if wallet.pending_plan_id is None:
                return wallet
            after = cycles.set_pending_plan(wallet, None, now)
        else:
            boundary = upgrade_boundary(wallet, catalog, plan_id, now)
            idem = Idem(f"plan:{plan_id}:{boundary.cycle_id}", "change_plan", plan_id)
            committed = cycles.commit_boundary(wallet, boundary, idem=idem, now=now)
            after = (committed.wallet or cycles.wallet(org_id)) if committed else None
        if after is not None:
            return after
    raise Conflict("the wallet kept changing; retry")


def schedule_plan_change(
    cycles: CycleStore, org_id: str, plan_id: str, now: datetime, *, catalog: Catalog | None = None
) -> Wallet:
    """A downgrade (or archive) at the cycle end; the current plan cancels a pending change."""
    _catalog(catalog).get(plan_id)
    for _ in range(MAX_ATTEMPTS):
        wallet = cycles.wallet(org_id)
        pending = None if plan_id == wallet.plan_id else plan_id
        if wallet.pending_plan_id == pending:
            return wallet
        after = cycles.set_pending_plan(wallet, pending, now)
        if after is not None:
            return after
    raise Conflict("the wallet kept changing; retry")


def enter_archive(
    cycles: CycleStore, org_id: str, now: datetime, *, catalog: Catalog | None = None
) -> Wallet:
    """Archive at once; a second call keeps the first `archived_at`."""
    catalog = _catalog(catalog)
    for _ in range(MAX_ATTEMPTS):
        wallet = cycles.wallet(org_id)
        if wallet.plan_id == ARCHIVE_PLAN and wallet.status is WalletStatus.ARCHIVED:
            return wallet
        boundary = archive_boundary(wallet, catalog, now)
        idem = Idem(f"archive:{boundary.cycle_id}", "enter_archive", boundary.cycle_id)
        committed = cycles.commit_boundary(wallet, boundary, idem=idem, now=now)
        if committed is not None:
            return committed.wallet or cycles.wallet(org_id)
    raise Conflict("the wallet kept changing; retry")


def activate_trial(
    cycles: CycleStore, org_id: str, now: datetime, *, catalog: Catalog | None = None
) -> Wallet:
    """The starter trial's credits become usable (the first LinkedIn sign-in): its first cycle and its
    six months start now, whenever the personal org was made (SPEC §12)."""
    catalog = _catalog(catalog)
    plan = catalog.get(TRIAL_PLAN)
    for _ in range(MAX_ATTEMPTS):
        wallet = cycles.wallet(org_id)
        if wallet.plan_id != TRIAL_PLAN or wallet.trial_ends_at is not None or wallet.monthly_allowance:
            return wallet
        _, _, trial_end = trial_activation(now, plan)
        boundary = upgrade_boundary(
            dataclasses.replace(wallet, trial_ends_at=trial_end), catalog, TRIAL_PLAN, now
        )
        committed = cycles.commit_boundary(
            wallet, boundary, idem=Idem("trial:activation", "activate_trial", org_id), now=now
        )
        if committed is not None:
            return committed.wallet or cycles.wallet(org_id)
    raise Conflict("the wallet kept changing; retry")


def describe(wallet: Wallet, now: datetime) -> dict[str, Any]:
    """The plan state as JSON (logs, the worker's answer)."""
    return {
        "org_id": wallet.org_id,
        "plan_id": wallet.plan_id,
        "status": wallet.status.value,
        "pending_plan_id": wallet.pending_plan_id,
        "cycle_id": wallet.cycle_id,
        "cycle_end": iso(wallet.cycle_end),
        "next_due": iso(next_due(wallet, now)),
        "archived_at": iso(wallet.archived_at) if wallet.archived_at else None,
        "new_cycle_id": cycle_id_for(wallet.cycle_end),
    }


# ---- the fan-out: schedule -> queue -> worker -------------------------------------------------------


def due_messages(cycles: CycleStore, job: str, now: datetime) -> list[dict[str, Any]]:
    """What the scheduler enqueues: one message per due org (`cycles`) or per expired hold (`holds`)."""
    if job == "cycles":
        return [{"job": "cycle", "org_id": org_id} for org_id in due_orgs(cycles, now)]
    if job == "holds":
        return [{"job": "hold", "org_id": o, "hold_id": h} for o, h in expired_holds(cycles, now)]
    raise ValueError(f"unknown job {job!r} (cycles, holds)")


def run_message(
    cycles: CycleStore, message: dict[str, Any], now: datetime, *, notifier: Notifier | None = None
) -> dict[str, Any]:
    """The worker's unit of work; raises on a malformed message (it is retried, then dead-lettered)."""
    job, org_id = message.get("job"), message.get("org_id")
    if not isinstance(org_id, str) or not org_id:
        raise ValueError(f"message without an org_id: {message!r}")
    if job == "cycle":
        result = roll_due(cycles, org_id, now, notifier=notifier)
        return {"org_id": org_id, "rolled": result.rolled, "alerts": result.alerts}
    if job == "hold":
        hold_id = message.get("hold_id")
        if not isinstance(hold_id, str) or not hold_id:
            raise ValueError(f"hold message without a hold_id: {message!r}")
        outcome = expire_hold(cycles, org_id, hold_id, now)
        return {"org_id": org_id, "hold_id": hold_id, "released": outcome is not None}
    raise ValueError(f"unknown job {job!r}")

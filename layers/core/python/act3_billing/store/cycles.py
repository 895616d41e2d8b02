"""Cycle boundaries, plan state and the due index in DynamoDB.

A boundary is one `TransactWriteItems`: the wallet update (old allowance banked or forfeited, dead lots
expired, the new allowance, the plan state, the next due time) conditioned on the wallet's
`lots_version` and `cycle_id` as read, the ledger entries, and an idempotency record keyed by the new
cycle. Two workers racing on one org: one commits, the other's condition fails and it reads a wallet
that is no longer due. A debit racing the boundary conditions on the same `lots_version`, so it never
draws from a lot the boundary just closed; it reads the wallet again and draws from the new one.

The due index (gsi1 on the wallet, `DUE#{shard}` / `{due}#{org}`) is what the scheduler queries: the
org's next cycle end, or earlier a notice (bank expiring, trial ending). Open holds are indexed the
same way by expiry (`HOLDDUE#{shard}`), so neither sweep ever scans the table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from pynamodb.attributes import Attribute
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from act3_billing.domain.cycles import (
    DUE_SHARDS,
    Boundary,
    due_key,
    next_due,
    plan_new_cycle,
)
from act3_billing.domain.errors import Conflict
from act3_billing.domain.ids import new_id
from act3_billing.domain.ledger import EntryType, LedgerEntry
from act3_billing.domain.lots import Lot, LotKind, Wallet, WalletStatus, monthly_lot_id
from act3_billing.domain.times import iso
from act3_billing.store import lot_writes
from act3_billing.store.debt_first import debt_first
from act3_billing.store.idempotency import Idem, Outcome, add_idem, replay
from act3_billing.store.models import WALLET_SK, HoldItem, WalletItem, org_pk
from act3_billing.store.records import entry_json, ledger_item, lot_meta, lot_to_map
from act3_billing.store.tx import Tx, TxCancelled

if TYPE_CHECKING:
    from act3_billing.store.wallets import BillingStore

SYSTEM_ACTOR = "system"
MAX_ATTEMPTS = 20
HOLD_SHARDS = 8
T = TypeVar("T")


def hold_due_key(org_id: str, hold_id: str, expires_at: datetime) -> tuple[str, str]:
    """Where an open hold sits in the expiry index (removed when the hold closes)."""
    import zlib

    return f"HOLDDUE#{zlib.crc32(org_id.encode()) % HOLD_SHARDS}", f"{iso(expires_at)}#{org_id}#{hold_id}"


def _until(now: datetime) -> str:
    return f"{iso(now)}#~"  # '~' sorts after every org id character: everything due at or before now


@dataclasses.dataclass(frozen=True)
class Committed:
    """A boundary that committed (`wallet` is the wallet after it) or was already applied (`replayed`)."""

    outcome: Outcome
    wallet: Wallet | None


def due_after(wallet: Wallet, now: datetime) -> datetime | None:
    """When the schedule should next look at the org; None when never (archived, nothing left)."""
    if wallet.status is WalletStatus.ARCHIVED and not wallet.lots:
        return None
    return next_due(wallet, now)


def _due_actions(org_id: str, wallet: Wallet, now: datetime) -> list[Action]:
    due = due_after(wallet, now)
    if due is None:
        return [WalletItem.gsi1pk.remove(), WalletItem.gsi1sk.remove()]  # nothing left to roll
    pk, sk = due_key(org_id, due)
    return [WalletItem.gsi1pk.set(pk), WalletItem.gsi1sk.set(sk)]


def _set_or_remove(attribute: Attribute[str], value: str | None) -> Action:
    return attribute.set(value) if value is not None else attribute.remove()


def _archive_purge(tx: Tx, before: Wallet, after: Wallet) -> None:
    """Entering archive schedules the media purge (30 days later) in the same transaction; leaving it
    (a re-upgrade, or a payment) cancels it (store/storage.py owns the purge)."""
    from act3_billing.store.storage import StorageStore

    entering = after.status is WalletStatus.ARCHIVED and before.status is not WalletStatus.ARCHIVED
    if entering and after.archived_at is not None:
        StorageStore.schedule_purge(tx, after.org_id, after.archived_at)
    elif before.status is WalletStatus.ARCHIVED and after.status is not WalletStatus.ARCHIVED:
        StorageStore.cancel_purge(tx, after.org_id)


class CycleStore:
    """Boundaries, the paid grant, plan changes and the due indexes of one table."""

    def __init__(self, billing: BillingStore) -> None:
        self._billing = billing
        self._connection = billing.connection

    @property
    def billing(self) -> BillingStore:
        return self._billing

    def wallet(self, org_id: str) -> Wallet:
        return self._billing.wallet(org_id)

    # ---- the boundary --------------------------------------------------------------------------

    def commit_boundary(
        self,
        wallet: Wallet,
        boundary: Boundary,
        *,
        idem: Idem,
        now: datetime,
        pending_plan_id: str | None = None,
    ) -> Committed | None:
        """One transaction from `wallet` (as read) into `boundary`. None when the wallet changed
        meanwhile (the caller reads it again and decides again)."""
        org_id = wallet.org_id
        plan = plan_new_cycle(
            wallet,
            cycle_id=boundary.cycle_id,
            cycle_start=boundary.cycle_start,
            cycle_end=boundary.cycle_end,
            allowance=boundary.allowance,
            rollover_cap=boundary.rollover_cap,
            now=now,
            cut_existing=boundary.cut_existing,
            bank_expires_at=boundary.bank_expires_at,
        )
        opening = {lot.lot_id: lot_meta(lot) for lot in plan.new_lots}
        entries = [
            LedgerEntry(
                entry_id=new_id("le", now),
                org_id=org_id,
                type=p.type,
                amount=p.amount,
                created_at=now,
                lots=p.lots,
                actor=SYSTEM_ACTOR,
                idempotency_key=idem.key,
                memo=p.memo,
                opened={k: opening[k] for k, v in p.lots.items() if v > 0 and k in opening},
            )
            for p in plan.entries
        ]
        new_lots = list(plan.new_lots)
        repaid: list[LedgerEntry] = []
        debt_actions: list[Action] = []
        debt_condition: Condition | None = None
        for i, lot in enumerate(new_lots):
            if lot.kind is LotKind.MONTHLY and not repaid:
                new_lots[i], repaid, debt_actions, debt_condition = debt_first(
                    wallet.org_id, wallet.debt, lot, idem.key, now
                )
        entries += repaid
        lots = {lot.lot_id: lot for lot in wallet.lots if lot.lot_id not in plan.removed_lots}
        for lot_id, (_, left) in plan.cut_lots.items():
            lots[lot_id] = dataclasses.replace(lots[lot_id], remaining=left)
        lots.update({lot.lot_id: lot for lot in new_lots})
        granted = boundary.cycle_id if boundary.grants else wallet.granted_cycle
        after = dataclasses.replace(
            wallet,
            plan_id=boundary.plan_id,
            cycle_id=boundary.cycle_id,
            cycle_start=boundary.cycle_start,
            cycle_end=boundary.cycle_end,
            lots=tuple(sorted(lots.values(), key=lambda lot: lot.lot_id)),
            generation_enabled=boundary.generation_enabled,
            monthly_allowance=boundary.allowance,
            lots_version=wallet.lots_version + 1,
            status=boundary.status,
            pending_plan_id=pending_plan_id,
            archived_at=boundary.archived_at,
            anchor=boundary.anchor,
            trial_ends_at=boundary.trial_ends_at,
            granted_cycle=granted,
        )
        actions: list[Action] = [
            WalletItem.cycle_id.set(after.cycle_id),
            WalletItem.cycle_start.set(iso(after.cycle_start)),
            WalletItem.cycle_end.set(iso(after.cycle_end)),
            WalletItem.monthly_allowance.set(after.monthly_allowance),
            WalletItem.plan_id.set(after.plan_id),
            WalletItem.generation_enabled.set(after.generation_enabled),
            WalletItem.status.set(after.status.value),
            WalletItem.anchor.set(iso(boundary.anchor)),
            _set_or_remove(WalletItem.pending_plan_id, pending_plan_id),
            _set_or_remove(WalletItem.archived_at, iso(after.archived_at) if after.archived_at else None),
            _set_or_remove(
                WalletItem.trial_ends_at, iso(after.trial_ends_at) if after.trial_ends_at else None
            ),
            _set_or_remove(WalletItem.granted_cycle, granted),
            *_due_actions(org_id, after, now),
        ]
        condition: Condition = (WalletItem.lots_version == wallet.lots_version) & (
            WalletItem.cycle_id == wallet.cycle_id
        )
        touched = len(plan.removed_lots) + len(plan.cut_lots) + len(new_lots)
        if lot_writes.needs_whole(touched):
            # Years of lots expiring at once: the map as one value, on the counters read with it.
            lot_actions, guard = lot_writes.whole(wallet, after.lots, version=True, refuse_over=len(lots))
            actions += lot_actions
            condition &= guard
        else:
            actions += lot_writes.bump(version=True)
            for lot_id, expected in plan.removed_lots.items():
                actions.append(WalletItem.lots[lot_id].remove())
                condition &= WalletItem.lots[lot_id]["remaining"] == expected
            for lot_id, (expected, remaining) in plan.cut_lots.items():
                actions.append(WalletItem.lots[lot_id]["remaining"].set(remaining))
                condition &= WalletItem.lots[lot_id]["remaining"] == expected
            for lot in new_lots:
                actions.append(WalletItem.lots[lot.lot_id].set(lot_to_map(lot)))
        actions += debt_actions
        if debt_condition is not None:
            condition &= debt_condition
        body = {
            "cycle_id": boundary.cycle_id,
            "plan_id": boundary.plan_id,
            "cycle_start": iso(boundary.cycle_start),
            "cycle_end": iso(boundary.cycle_end),
            "granted": boundary.allowance,
            "entries": [entry_json(e) for e in entries],
        }
        tx = Tx(self._connection)
        tx.update("wallet", WalletItem(org_pk(org_id), WALLET_SK), actions, condition)
        _archive_purge(tx, wallet, after)
        add_idem(tx, org_id, idem, body, now)
        for entry in entries:
            tx.put("ledger", ledger_item(entry))
        try:
            tx.run()
        except TxCancelled as exc:
            if "idem" in exc.failed:
                return Committed(replay(org_id, idem), None)
            return None
        self._billing.forget(org_id)
        return Committed(Outcome(body), dataclasses.replace(after, due_at=due_after(after, now)))

    def grant_current(
        self,
        wallet: Wallet,
        *,
        plan_id: str,
        allowance: int,
        cycle_end: datetime,
        generation_enabled: bool,
        idem: Idem,
        now: datetime,
    ) -> Committed | None:
        """The paid allowance of the cycle the wallet is in, once: conditioned on this cycle not being
        granted yet (the schedule does not grant paid plans; a second payment finds it granted)."""
        org_id = wallet.org_id
        lot = Lot(
            monthly_lot_id(wallet.cycle_id),
            LotKind.MONTHLY,
            allowance,
            allowance,
            now,
            cycle_end,
            f"monthly allowance, cycle {wallet.cycle_id}",
        )
        entry = LedgerEntry(
            new_id("le", now),
            org_id,
            EntryType.GRANT_MONTHLY,
            allowance,
            now,
            lots={lot.lot_id: allowance},
            actor=SYSTEM_ACTOR,
            idempotency_key=idem.key,
            memo=lot.label,
            opened={lot.lot_id: lot_meta(lot)},
        )
        lot, repaid, debt_actions, debt_condition = debt_first(wallet.org_id, wallet.debt, lot, idem.key, now)
        after = dataclasses.replace(
            wallet,
            plan_id=plan_id,
            cycle_end=cycle_end,
            lots=(*(x for x in wallet.lots if x.lot_id != lot.lot_id), lot),
            generation_enabled=generation_enabled,
            monthly_allowance=allowance,
            lots_version=wallet.lots_version + 1,
            # A payment brings an org back from archive; only its own event ends past_due (store/dunning).
            status=WalletStatus.ACTIVE if wallet.status is WalletStatus.ARCHIVED else wallet.status,
            archived_at=None,
            granted_cycle=wallet.cycle_id,
        )
        actions: list[Action] = [
            WalletItem.lots[lot.lot_id].set(lot_to_map(lot)),
            *lot_writes.bump(version=True),
            WalletItem.plan_id.set(plan_id),
            WalletItem.cycle_end.set(iso(cycle_end)),
            WalletItem.monthly_allowance.set(allowance),
            WalletItem.generation_enabled.set(generation_enabled),
            WalletItem.status.set(after.status.value),
            WalletItem.archived_at.remove(),
            WalletItem.granted_cycle.set(wallet.cycle_id),
            *_due_actions(org_id, after, now),
            *debt_actions,
        ]
        condition = (
            (WalletItem.cycle_id == wallet.cycle_id)
            & (WalletItem.granted_cycle.does_not_exist() | (WalletItem.granted_cycle != wallet.cycle_id))
            & WalletItem.lots[lot.lot_id].does_not_exist()
        )
        if debt_condition is not None:
            condition &= debt_condition
        body = {
            "cycle_id": wallet.cycle_id,
            "plan_id": plan_id,
            "cycle_start": iso(wallet.cycle_start),
            "cycle_end": iso(cycle_end),
            "granted": allowance,
            "entries": [entry_json(e) for e in (entry, *repaid)],
        }
        tx = Tx(self._connection)
        tx.update("wallet", WalletItem(org_pk(org_id), WALLET_SK), actions, condition)
        _archive_purge(tx, wallet, after)
        add_idem(tx, org_id, idem, body, now)
        for e in (entry, *repaid):
            tx.put("ledger", ledger_item(e))
        try:
            tx.run()
        except TxCancelled as exc:
            if "idem" in exc.failed:
                return Committed(replay(org_id, idem), None)
            return None
        self._billing.forget(org_id)
        return Committed(Outcome(body), dataclasses.replace(after, due_at=due_after(after, now)))

    # ---- plan state without a boundary ----------------------------------------------------------

    def set_pending_plan(self, wallet: Wallet, plan_id: str | None, now: datetime) -> Wallet | None:
        """Record (or clear) the plan that takes effect at the cycle end. None if the cycle moved on."""
        after = dataclasses.replace(wallet, pending_plan_id=plan_id)
        item = WalletItem(org_pk(wallet.org_id), WALLET_SK)
        try:
            item.update(
                actions=[
                    _set_or_remove(WalletItem.pending_plan_id, plan_id),
                    *_due_actions(wallet.org_id, after, now),
                ],
                condition=WalletItem.cycle_id == wallet.cycle_id,
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise
        self._billing.forget(wallet.org_id)
        return dataclasses.replace(after, due_at=due_after(after, now))

    def set_due(self, wallet: Wallet, now: datetime) -> None:
        """Move the org in the due index (after a notice); a no-op if the cycle moved on meanwhile, or
        when it is where it should be already (a duplicate message: not even a request)."""
        if wallet.due_at == due_after(wallet, now):
            return
        item = WalletItem(org_pk(wallet.org_id), WALLET_SK)
        try:
            item.update(
                actions=_due_actions(wallet.org_id, wallet, now),
                condition=WalletItem.cycle_id == wallet.cycle_id,
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise

    # ---- the indexes the schedules query --------------------------------------------------------

    def due_orgs(self, now: datetime, shards: range | None = None) -> Iterator[str]:
        """Org ids due at or before `now`, through the index (never a scan), all shards at once."""

        def shard(n: int) -> list[str]:
            items = WalletItem.by_due.query(
                f"DUE#{n}", WalletItem.gsi1sk <= _until(now), attributes_to_get=["org_id", "gsi1sk"]
            )
            return [str(item.org_id) for item in items]

        for found in _each_shard(shard, shards or range(DUE_SHARDS)):
            yield from found

    def held_expired(self, org_id: str, now: datetime) -> int:
        """Credits still held by the org's holds whose expiry passed (the sweep has not run yet): its
        shard of the expiry index, filtered to the org — only holds expired since the last sweep."""
        shard, _ = hold_due_key(org_id, "", now)
        items = HoldItem.by_expiry.query(
            shard, HoldItem.gsi1sk <= _until(now), filter_condition=HoldItem.org_id == org_id
        )
        return sum(int(i.amount) - int(i.captured or 0) - int(i.released or 0) for i in items)

    def expired_holds(self, now: datetime, shards: range | None = None) -> Iterator[tuple[str, str]]:
        """(org id, hold id) of open holds whose expiry has passed, through the index."""

        def shard(n: int) -> list[tuple[str, str]]:
            items = HoldItem.by_expiry.query(
                f"HOLDDUE#{n}", HoldItem.gsi1sk <= _until(now), attributes_to_get=["org_id", "hold_id"]
            )
            return [(str(item.org_id), str(item.hold_id)) for item in items]

        for found in _each_shard(shard, shards or range(HOLD_SHARDS)):
            yield from found


def _each_shard(query: Callable[[int], list[T]], shards: range) -> Iterator[list[T]]:
    """The shards' queries side by side (each is one round trip, or a few pages)."""
    with ThreadPoolExecutor(max_workers=len(shards)) as pool:
        yield from pool.map(query, shards)


def legacy_boundary(
    wallet: Wallet,
    *,
    cycle_id: str,
    cycle_start: datetime,
    cycle_end: datetime,
    allowance: int,
    rollover_cap: int,
    plan_id: str | None,
    generation_enabled: bool | None,
) -> Boundary:
    """`BillingStore.start_cycle`'s explicit arguments as a boundary (seeds and tests use it)."""
    from act3_billing.domain.cycles import BANK_LIFETIME_CYCLES, add_months

    return Boundary(
        cycle_id=cycle_id,
        cycle_start=cycle_start,
        cycle_end=cycle_end,
        anchor=wallet.anchor or cycle_start,
        plan_id=plan_id or wallet.plan_id,
        allowance=allowance,
        rollover_cap=rollover_cap,
        cut_existing=True,
        generation_enabled=wallet.generation_enabled if generation_enabled is None else generation_enabled,
        status=wallet.status,
        archived_at=wallet.archived_at,
        trial_ends_at=wallet.trial_ends_at,
        bank_expires_at=add_months(wallet.cycle_end, BANK_LIFETIME_CYCLES),
    )


def start_cycle(
    billing: BillingStore,
    org_id: str,
    *,
    boundary_of: Callable[[Wallet], Boundary],
    idem: Idem,
    now: datetime,
) -> Outcome:
    """Read, decide, commit; again while the wallet keeps changing under us."""
    cycles = CycleStore(billing)
    for _ in range(MAX_ATTEMPTS):
        wallet = billing.wallet(org_id)
        committed = cycles.commit_boundary(wallet, boundary_of(wallet), idem=idem, now=now)
        if committed is not None:
            return committed.outcome
    raise Conflict("the wallet kept changing; retry")

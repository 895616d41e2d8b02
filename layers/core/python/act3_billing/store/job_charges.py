"""What a job was charged, added up: one record per job whose size does not grow with its charges.

Every debit or capture of a job adds its credits to the job's record in the charging transaction, per
lot, spender and cycle (`charged`, keys `lot␟by␟cycle` joined by the unit separator U+001F, which no id
holds and a document path allows), and counts the charge
(`charge_count`, what a refund conditions on). Ten thousand staged captures of one hold touch the same
few keys. The record is written one of three ways, each with an expression of bounded size:

- `create`: the job's first charge sets the whole map (the usual debit: one job, one charge);
- `merge`: a later charge adds to each key by name (a few lots);
- `rewrite`: a later charge drawn from many lots sets the whole map again, on condition of the count
  read with it.

A transaction that guessed wrong (the job had a record, or had none) fails on the `job` item; the caller
reads the record (`look`) and tries again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.update import Action

from act3_billing.store.lot_writes import needs_whole
from act3_billing.store.models import JobItem, org_pk
from act3_billing.store.records import plain
from act3_billing.store.tx import Tx

SEPARATOR = "\x1f"


def charge_key(lot_id: str, by: str | None, cycle: str | None) -> str:
    """Who spent it and in which cycle count only together (a refund gives back to that cycle's limit)."""
    return SEPARATOR.join([lot_id, by, cycle] if by and cycle else [lot_id, "", ""])


@dataclass(frozen=True)
class Charge:
    lot: str
    n: int
    by: str | None
    cycle: str | None


@dataclass
class JobRecord:
    """What a charging transaction assumes of the job's record: none yet, or one with `count` charges
    (`charged` known when it was read)."""

    exists: bool
    count: int | None = None
    charged: dict[str, int] | None = None
    refunded_by: str | None = None
    legacy: list[Charge] = field(default_factory=list)

    def charges(self) -> list[Charge]:
        """Everything charged, per lot, spender and cycle (records made before issue 11 included)."""
        out = list(self.legacy)
        for key, n in (self.charged or {}).items():
            lot, by, cycle = key.split(SEPARATOR)
            out.append(Charge(str(lot), int(n), by or None, cycle or None))
        return out

    def per_lot(self) -> dict[str, int]:
        spent: dict[str, int] = {}
        for charge in self.charges():
            spent[charge.lot] = spent.get(charge.lot, 0) + charge.n
        return {k: v for k, v in spent.items() if v}

    def unchanged(self) -> Condition:
        """The record still holds exactly the charges read (a refund's condition)."""
        condition: Condition = JobItem.refunded_by.does_not_exist()
        if self.count:
            condition &= JobItem.charge_count == self.count
        else:
            condition &= JobItem.charge_count.does_not_exist()
        if self.legacy:
            condition &= size(JobItem.charges) == len(self.legacy)
        return condition


def look(org_id: str, job_id: str) -> JobRecord:
    """The job's record as it is now (consistent read)."""
    try:
        item = JobItem.get(org_pk(org_id), f"JOB#{job_id}", consistent_read=True)
    except DoesNotExist:
        return JobRecord(exists=False)
    return JobRecord(
        exists=item.charge_count is not None,
        count=int(item.charge_count) if item.charge_count is not None else None,
        charged={k: int(v) for k, v in plain(item.charged).items()},
        refunded_by=item.refunded_by,
        legacy=[_legacy(plain(c)) for c in item.charges or []],
    )


def _legacy(raw: Mapping[str, Any]) -> Charge:
    return Charge(str(raw["lot"]), int(raw["n"]), raw.get("by"), raw.get("cycle"))


def _added(draw: Mapping[str, int], by: str | None, cycle: str | None) -> dict[str, int]:
    return {charge_key(lot, by, cycle): n for lot, n in draw.items() if n}


def charge_job(
    tx: Tx,
    org_id: str,
    job_id: str,
    draw: Mapping[str, int],
    by: str | None,
    cycle: str | None,
    record: JobRecord,
) -> None:
    """Add one charge to the job's record, in the charging transaction (labelled `job`)."""
    added = _added(draw, by, cycle)
    item = JobItem(org_pk(org_id), f"JOB#{job_id}")
    condition: Condition = JobItem.refunded_by.does_not_exist()
    if not record.exists:
        tx.update(
            "job",
            item,
            [JobItem.charged.set(added), JobItem.charge_count.set(1)],
            condition & JobItem.charge_count.does_not_exist(),
        )
        return
    if needs_whole(len(added)) and record.charged is None:
        record = look(org_id, job_id)  # a rewrite needs the map it rewrites
        if not record.exists:
            charge_job(tx, org_id, job_id, draw, by, cycle, record)
            return
    if needs_whole(len(added)) and record.charged is not None:
        merged = dict(record.charged)
        for key, n in added.items():
            merged[key] = merged.get(key, 0) + n
        tx.update(
            "job",
            item,
            [JobItem.charged.set(merged), JobItem.charge_count.add(1)],
            condition & (JobItem.charge_count == record.count),
        )
        return
    actions: list[Action] = [JobItem.charge_count.add(1)]
    for key, n in added.items():
        path = JobItem.charged[key]
        actions.append(path.set((path | 0) + n))
    tx.update("job", item, actions, condition & JobItem.charge_count.exists())


def give_backs(charges: Iterable[Charge], cycle_id: str) -> dict[str, int]:
    """Credits to give back per member: those they were charged in the current cycle."""
    out: dict[str, int] = {}
    for charge in charges:
        if charge.by and charge.cycle == cycle_id:
            out[charge.by] = out.get(charge.by, 0) + charge.n
    return out

"""The monthly usage statement (SPEC §8): what an org's credits did in one calendar month, from its
ledger: granted, spent by member and by job, rolled over, expired, forfeited, packs bought, debt."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from act3_billing.domain.cycles import add_months
from act3_billing.domain.errors import ValidationFailed
from act3_billing.domain.ledger import Account, EntryType, LedgerEntry

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
SPENDING = (EntryType.DEBIT, EntryType.CAPTURE)


def month_bounds(cycle: str) -> tuple[datetime, datetime]:
    match = MONTH.match(cycle)
    if not match:
        raise ValidationFailed("the statement cycle is a month, YYYY-MM", field="cycle")
    start = datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)
    return start, add_months(start, 1)


@dataclass(frozen=True)
class Statement:
    org_id: str
    cycle: str
    period_start: datetime
    period_end: datetime
    granted: dict[str, int] = field(
        default_factory=dict
    )  # by entry type (monthly, grants, packs, transfers in)
    spent: int = 0
    refunded: int = 0
    spent_by_member: list[tuple[str, int]] = field(default_factory=list)
    spent_by_job: list[tuple[str, int]] = field(default_factory=list)
    rolled_over: int = 0
    expired: int = 0
    forfeited: int = 0
    packs_bought: int = 0
    taken_back: int = 0  # refunded or disputed packs, debt repaid
    debt_now: int = 0
    entries: int = 0


def summarize(org_id: str, cycle: str, entries: Iterable[LedgerEntry], debt_now: int) -> Statement:
    start, end = month_bounds(cycle)
    granted: Counter[str] = Counter()
    by_member: Counter[str] = Counter()
    by_job: Counter[str] = Counter()
    spender: dict[str, str] = {}  # job -> the member who spent on it (a refund gives back to them)
    spent = refunded = rolled = expired = forfeited = packs = taken = count = 0
    for e in sorted(entries, key=lambda x: x.created_at):
        if e.type in SPENDING and e.job_id:
            spender.setdefault(e.job_id, e.actor or "-")
        if not start <= e.created_at < end:
            continue
        count += 1
        if e.from_account == Account.ISSUED or e.type is EntryType.TRANSFER_IN:
            granted[e.type.value] += e.amount
        if e.type is EntryType.PACK_PURCHASE:
            packs += e.amount
        if e.type in SPENDING:
            spent += e.amount
            by_member[e.actor or "-"] += e.amount
            by_job[e.job_id or "-"] += e.amount
        elif e.type is EntryType.REFUND:
            refunded += e.amount
            by_member[spender.get(e.job_id or "", e.actor or "-")] -= e.amount
            by_job[e.job_id or "-"] -= e.amount
        elif e.type is EntryType.ROLLOVER:
            rolled += e.amount
        elif e.type is EntryType.EXPIRE:
            expired += e.amount
        elif e.type is EntryType.FORFEIT:
            forfeited += e.amount
        if e.to_account == Account.ISSUED:
            taken += e.amount
    return Statement(
        org_id=org_id,
        cycle=cycle,
        period_start=start,
        period_end=end,
        granted=dict(granted),
        spent=spent,
        refunded=refunded,
        spent_by_member=by_member.most_common(),
        spent_by_job=by_job.most_common(20),
        rolled_over=rolled,
        expired=expired,
        forfeited=forfeited,
        packs_bought=packs,
        taken_back=taken,
        debt_now=debt_now,
        entries=count,
    )

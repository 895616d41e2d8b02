"""Ledger entries (SPEC §6) as double-entry postings, and the reconciliation that checks them.

Every entry moves `amount` credits from one account to another. The org's two accounts are
`available` (the lots) and `held` (reserved by open holds); the rest of the world is `issued`
(where granted credits come from), `revenue` (spent), `expired`, `forfeited` and `transfer`.
A rollover moves credits between lots inside `available`, so it carries lot deltas but no net flow.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from act3_billing.domain.lots import Wallet


class EntryType(StrEnum):
    GRANT_MONTHLY = "grant_monthly"
    ROLLOVER = "rollover"
    EXPIRE = "expire"
    FORFEIT = "forfeit"
    DEBIT = "debit"
    HOLD = "hold"
    CAPTURE = "capture"
    RELEASE = "release"
    PACK_PURCHASE = "pack_purchase"
    GRANT = "grant"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    # Issue 8: a refunded or disputed pack taken back, and a debt paid by credits that came in later.
    CLAWBACK = "clawback"
    DEBT_REPAID = "debt_repaid"


class Account(StrEnum):
    AVAILABLE = "org:available"
    HELD = "org:held"
    ISSUED = "platform:issued"
    REVENUE = "platform:revenue"
    EXPIRED = "platform:expired"
    FORFEITED = "platform:forfeited"
    TRANSFER = "platform:transfer"


# The postings each entry type makes (debited account → credited account).
POSTINGS: Mapping[EntryType, tuple[Account, Account]] = {
    EntryType.GRANT_MONTHLY: (Account.ISSUED, Account.AVAILABLE),
    EntryType.GRANT: (Account.ISSUED, Account.AVAILABLE),
    EntryType.PACK_PURCHASE: (Account.ISSUED, Account.AVAILABLE),
    EntryType.ROLLOVER: (Account.AVAILABLE, Account.AVAILABLE),
    EntryType.EXPIRE: (Account.AVAILABLE, Account.EXPIRED),
    EntryType.FORFEIT: (Account.AVAILABLE, Account.FORFEITED),
    EntryType.DEBIT: (Account.AVAILABLE, Account.REVENUE),
    EntryType.HOLD: (Account.AVAILABLE, Account.HELD),
    EntryType.CAPTURE: (Account.HELD, Account.REVENUE),
    EntryType.RELEASE: (Account.HELD, Account.AVAILABLE),
    EntryType.REFUND: (Account.REVENUE, Account.AVAILABLE),
    EntryType.TRANSFER_OUT: (Account.AVAILABLE, Account.TRANSFER),
    EntryType.TRANSFER_IN: (Account.TRANSFER, Account.AVAILABLE),
    EntryType.ADJUSTMENT: (Account.ISSUED, Account.AVAILABLE),
    EntryType.CLAWBACK: (Account.AVAILABLE, Account.ISSUED),
    EntryType.DEBT_REPAID: (Account.AVAILABLE, Account.ISSUED),
}


# A signed adjustment may also run the other way: credits taken back, org:available -> platform:issued.
REVERSIBLE = frozenset({EntryType.ADJUSTMENT})


def allowed_postings(entry_type: EntryType) -> set[tuple[Account, Account]]:
    debited, credited = POSTINGS[entry_type]
    return {(debited, credited), *([(credited, debited)] if entry_type in REVERSIBLE else [])}


@dataclass(frozen=True)
class LedgerEntry:
    """`lots`: signed change of each lot's remaining credits. `sources`: which lots the credits of a
    debit or capture originally came from (what a refund gives back)."""

    entry_id: str
    org_id: str
    type: EntryType
    amount: int
    created_at: datetime
    lots: Mapping[str, int] = field(default_factory=dict)
    sources: Mapping[str, int] = field(default_factory=dict)
    from_account: Account | None = None
    to_account: Account | None = None
    actor: str | None = None
    job_id: str | None = None
    # The machine identity that reported it (the usage meter, billing operations); `actor` is then the
    # member on whose behalf, if any.
    service: str | None = None
    hold_id: str | None = None
    quote_id: str | None = None
    idempotency_key: str | None = None
    rate_card_version: str | None = None
    memo: str | None = None
    # Lots this entry brings into being, with what orders their spending (kind, created_at, expires_at),
    # so the ledger alone can replay SPEC §4's order after the lots have left the wallet.
    opened: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def taking(
        cls,
        entry_id: str,
        org_id: str,
        type: EntryType,
        draw: Mapping[str, int],
        created_at: datetime,
        *,
        spend: bool = True,
        **fields: Any,
    ) -> LedgerEntry:
        """An entry that takes credits out of lots (`draw`: lot -> credits): its amount is what it takes.
        A spend (debit, hold, transfer out) also names the lots as its sources, what a refund gives back."""
        return cls(
            entry_id,
            org_id,
            type,
            sum(draw.values()),
            created_at,
            lots={lot: -n for lot, n in draw.items()},
            sources=dict(draw) if spend else {},
            **fields,
        )

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError("ledger amounts are non-negative; direction comes from the postings")
        default_from, default_to = POSTINGS[self.type]
        if self.from_account is None:
            object.__setattr__(self, "from_account", default_from)
        if self.to_account is None:
            object.__setattr__(self, "to_account", default_to)

    def flow(self, account: Account) -> int:
        """Net credits this entry brings into `account` (negative when it takes them out)."""
        delta = 0
        if self.to_account == account:
            delta += self.amount
        if self.from_account == account:
            delta -= self.amount
        return delta


@dataclass(frozen=True)
class Reconciliation:
    org_id: str
    granted: int
    spent: int
    expired: int
    forfeited: int
    held: int
    balance: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def reconcile(wallet: Wallet, entries: Iterable[LedgerEntry], open_holds_remaining: int) -> Reconciliation:
    """Check granted - spent - expired - forfeited - held = balance, and that every lot equals its entries."""
    granted = spent = expired = forfeited = 0
    available_flow = held_flow = 0
    lot_sums: dict[str, int] = defaultdict(int)
    problems: list[str] = []
    for e in entries:
        available_flow += e.flow(Account.AVAILABLE)
        held_flow += e.flow(Account.HELD)
        lot_net = sum(e.lots.values())
        if lot_net != e.flow(Account.AVAILABLE):
            problems.append(
                f"entry {e.entry_id}: lot deltas {lot_net} != available flow {e.flow(Account.AVAILABLE)}"
            )
        for lot_id, delta in e.lots.items():
            lot_sums[lot_id] += delta
        if e.from_account in (Account.ISSUED, Account.TRANSFER):
            granted += e.amount
        if e.to_account == Account.ISSUED:
            granted -= e.amount  # taken back: a refunded pack's claw-back, a debt repaid
        if e.to_account in (Account.REVENUE, Account.TRANSFER):
            spent += e.amount
        if e.from_account == Account.REVENUE:
            spent -= e.amount
        if e.to_account == Account.EXPIRED:
            expired += e.amount
        if e.to_account == Account.FORFEITED:
            forfeited += e.amount
    balance = wallet.total()
    if available_flow != balance:
        problems.append(f"available: ledger says {available_flow}, wallet holds {balance}")
    if held_flow != wallet.held:
        problems.append(f"held: ledger says {held_flow}, wallet says {wallet.held}")
    if open_holds_remaining != wallet.held:
        problems.append(f"held: open holds total {open_holds_remaining}, wallet says {wallet.held}")
    for lot_id in set(lot_sums) | set(wallet.lots_by_id):
        in_wallet = wallet.lots_by_id[lot_id].remaining if lot_id in wallet.lots_by_id else 0
        if lot_sums.get(lot_id, 0) != in_wallet:
            problems.append(f"lot {lot_id}: ledger says {lot_sums.get(lot_id, 0)}, wallet holds {in_wallet}")
        if in_wallet < 0:
            problems.append(f"lot {lot_id} is negative")
    if granted - spent - expired - forfeited - wallet.held != balance:
        problems.append(
            f"granted {granted} - spent {spent} - expired {expired} - forfeited {forfeited} "
            f"- held {wallet.held} != balance {balance}"
        )
    return Reconciliation(
        org_id=wallet.org_id,
        granted=granted,
        spent=spent,
        expired=expired,
        forfeited=forfeited,
        held=wallet.held,
        balance=balance,
        problems=tuple(problems),
    )

"""Credit lots, the order they are spent in (SPEC §4), and the wallet they live in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from act3_billing.domain.errors import InsufficientCredits


class LotKind(StrEnum):
    MONTHLY = "monthly"
    BANK = "bank"
    GRANT = "grant"
    TRANSFER = "transfer"  # credits moved in from another org: spent in the grants' place, never capped
    PACK = "pack"


_KIND_RANK = {LotKind.MONTHLY: 0, LotKind.BANK: 1, LotKind.GRANT: 2, LotKind.TRANSFER: 2, LotKind.PACK: 3}
_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Lot:
    lot_id: str
    kind: LotKind
    remaining: int
    granted: int
    created_at: datetime
    expires_at: datetime | None = None
    label: str = ""

    def live_at(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    def spend_key(self) -> tuple[int, datetime, datetime, str]:
        """Monthly first; then bank oldest first; grants soonest-expiring; packs (never expire) last."""
        return (_KIND_RANK[self.kind], self.expires_at or _NEVER, self.created_at, self.lot_id)


def spending_order(lots: Iterable[Lot], now: datetime) -> list[Lot]:
    return sorted((lot for lot in lots if lot.live_at(now) and lot.remaining > 0), key=Lot.spend_key)


def plan_draw(lots: Iterable[Lot], amount: int, now: datetime) -> dict[str, int]:
    """Which lots pay `amount`, in spending order. Refused whole when the live balance cannot cover it."""
    if amount <= 0:
        raise ValueError("amount must be positive")
    draw: dict[str, int] = {}
    left = amount
    ordered = spending_order(lots, now)
    for lot in ordered:
        take = min(left, lot.remaining)
        draw[lot.lot_id] = take
        left -= take
        if left == 0:
            return draw
    available = amount - left
    raise InsufficientCredits(
        f"{amount} credits needed, {available} available",
        required=amount,
        available=available,
        shortfall=left,
    )


class WalletStatus(StrEnum):
    ACTIVE = "active"
    PAST_DUE = "past_due"
    ARCHIVED = "archived"


@dataclass(frozen=True)
class Wallet:
    """An org's lots and its plan state. The cycle runs [cycle_start, cycle_end); cycles are anchored on
    `anchor` (cycle k ends at anchor + k months). `granted_cycle` is the cycle whose monthly allowance
    was granted (once, by the schedule or by the payment); `pending_plan_id` takes effect at cycle_end."""

    org_id: str
    plan_id: str
    cycle_id: str
    cycle_start: datetime
    cycle_end: datetime
    lots: tuple[Lot, ...] = ()
    held: int = 0
    generation_enabled: bool = True
    monthly_allowance: int = 0
    lots_version: int = 0
    status: WalletStatus = WalletStatus.ACTIVE
    pending_plan_id: str | None = None
    archived_at: datetime | None = None
    anchor: datetime | None = None
    trial_ends_at: datetime | None = None
    granted_cycle: str | None = None
    due_at: datetime | None = None  # when the schedule next looks at the org (None: never)
    debt: int = 0
    payment_ts: int = 0  # Stripe time of the last renewal payment event applied to `status`
    lots_seq: int = 0  # changes on every write to the lots (store/lot_writes.py)
    lots_by_id: Mapping[str, Lot] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lots_by_id", {lot.lot_id: lot for lot in self.lots})

    def can_generate(self, now: datetime) -> bool:
        """Nothing on the org's side refuses spending now (domain/spending.py says why not)."""
        from act3_billing.domain.spending import wallet_refusal

        return wallet_refusal(self, now) is None

    def spendable(self, now: datetime) -> int:
        return sum(lot.remaining for lot in self.lots if lot.live_at(now))

    def total(self) -> int:
        return sum(lot.remaining for lot in self.lots)

    def current_monthly(self) -> Lot | None:
        return self.lots_by_id.get(monthly_lot_id(self.cycle_id))


def monthly_lot_id(cycle_id: str) -> str:
    return f"monthly#{cycle_id}"


def bank_lot_id(cycle_id: str) -> str:
    return f"bank#{cycle_id}"

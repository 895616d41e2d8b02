"""Holds (reservations): the arithmetic of what a capture consumes and what a release gives back.

A hold remembers the lots its credits left, in spending order (`draws`). Captures consume the held
credits from the front of that list, so staged captures and a final release always split the same
credits the same way, and a released credit goes back to the lot it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from act3_billing.domain.errors import CaptureExceedsHold, HoldExpired, HoldNotOpen

DEFAULT_HOLD_TTL = timedelta(hours=24)
MAX_HOLD_TTL = timedelta(days=7)


class HoldStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    EXPIRED = "expired"  # released by the expiry sweep: a capture after it answers 410, as before it


@dataclass(frozen=True)
class Hold:
    hold_id: str
    org_id: str
    amount: int
    captured: int
    released: int
    draws: tuple[tuple[str, int], ...]
    status: HoldStatus
    expires_at: datetime
    created_at: datetime
    job_id: str | None = None
    actor: str | None = None
    cycle_id: str | None = None  # the billing cycle the holder's spending limit counted it in

    @property
    def remaining(self) -> int:
        return self.amount - self.captured - self.released

    def require_open(self, now: datetime) -> None:
        if self.status is HoldStatus.EXPIRED:
            raise HoldExpired(
                f"hold {self.hold_id} expired at {self.expires_at.isoformat()}", hold_id=self.hold_id
            )
        if self.status != HoldStatus.OPEN:
            raise HoldNotOpen(f"hold {self.hold_id} is {self.status}", hold_id=self.hold_id)
        if now >= self.expires_at:
            raise HoldExpired(
                f"hold {self.hold_id} expired at {self.expires_at.isoformat()}", hold_id=self.hold_id
            )

    def check_capture(self, amount: int, now: datetime) -> None:
        self.require_open(now)
        if amount > self.remaining:
            raise CaptureExceedsHold(
                f"capture of {amount} exceeds the {self.remaining} credits still held",
                held=self.remaining,
            )


def slice_draws(draws: Sequence[tuple[str, int]], start: int, end: int) -> dict[str, int]:
    """The per-lot split of held credits at positions [start, end) of the concatenated draws."""
    out: dict[str, int] = {}
    offset = 0
    for lot_id, amount in draws:
        lo, hi = max(start, offset), min(end, offset + amount)
        if hi > lo:
            out[lot_id] = out.get(lot_id, 0) + hi - lo
        offset += amount
    return out

"""Lots and the spending order (SPEC §4); refusal is whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from act3_billing.domain.errors import InsufficientCredits
from act3_billing.domain.lots import Lot, LotKind, plan_draw, spending_order

NOW = datetime(2026, 11, 15, tzinfo=UTC)


def lot(
    lot_id: str, kind: LotKind, remaining: int, expires_in_days: int | None = None, age_days: int = 0
) -> Lot:
    expires = NOW + timedelta(days=expires_in_days) if expires_in_days is not None else None
    return Lot(lot_id, kind, remaining, remaining, NOW - timedelta(days=age_days), expires)


WALLET = [
    lot("pack-1", LotKind.PACK, 500),
    lot("grant-late", LotKind.GRANT, 100, expires_in_days=90),
    lot("grant-soon", LotKind.GRANT, 100, expires_in_days=10),
    lot("bank-new", LotKind.BANK, 300, expires_in_days=150, age_days=30),
    lot("bank-old", LotKind.BANK, 200, expires_in_days=60, age_days=120),
    lot("monthly", LotKind.MONTHLY, 400, expires_in_days=15),
]


def test_order_is_monthly_bank_oldest_grants_soonest_then_packs() -> None:
    assert [x.lot_id for x in spending_order(WALLET, NOW)] == [
        "monthly",
        "bank-old",
        "bank-new",
        "grant-soon",
        "grant-late",
        "pack-1",
    ]


def test_draw_takes_lots_in_order_and_splits_the_last() -> None:
    assert plan_draw(WALLET, 1000, NOW) == {
        "monthly": 400,
        "bank-old": 200,
        "bank-new": 300,
        "grant-soon": 100,
    }


def test_a_debit_the_whole_balance_cannot_cover_is_refused_whole() -> None:
    with pytest.raises(InsufficientCredits) as refused:
        plan_draw(WALLET, 1601, NOW)
    assert refused.value.extra == {"required": 1601, "available": 1600, "shortfall": 1}


def test_expired_and_empty_lots_are_skipped() -> None:
    lots = [
        lot("monthly", LotKind.MONTHLY, 0, 15),
        lot("old-grant", LotKind.GRANT, 50, expires_in_days=-1),
        lot("pack", LotKind.PACK, 10),
    ]
    assert plan_draw(lots, 10, NOW) == {"pack": 10}
    with pytest.raises(InsufficientCredits):
        plan_draw(lots, 11, NOW)


def test_a_lot_expires_at_its_instant_not_after() -> None:
    grant = Lot("g", LotKind.GRANT, 5, 5, NOW, NOW + timedelta(seconds=1))
    assert grant.live_at(NOW)
    assert not grant.live_at(NOW + timedelta(seconds=1))


@pytest.mark.parametrize("amount", [0, -5])
def test_non_positive_amounts_are_programming_errors(amount: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        plan_draw(WALLET, amount, NOW)

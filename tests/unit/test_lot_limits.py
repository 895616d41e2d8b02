"""The bounds of store/lot_writes.py, worst case, without a database: a wallet of `MAX_LOTS` lots with
long ids and labels fits in one item, and no write of lots builds an expression near 4 KB, whatever
the number of lots it touches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action, Update

from act3_billing.domain.lots import Lot, LotKind, Wallet
from act3_billing.store import lot_writes
from act3_billing.store.models import WalletItem
from act3_billing.store.records import lot_to_map
from tests.support.dynamo_limits import EXPRESSION_LIMIT, ITEM_LIMIT, item_size

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _lot(n: int) -> Lot:
    # ids as long as any the code makes (a transfer's: `xfer#xfer_<26>#<n>`), labels far past the cap
    return Lot(
        f"xfer#xfer_{n:026d}#{n % 100}", LotKind.TRANSFER, 10**9, 10**9, T0, T0 + timedelta(days=n), "x" * 500
    )


def _wallet(lots: int) -> Wallet:
    return Wallet(
        org_id="org-" + "o" * 40,
        plan_id="enterprise",
        cycle_id="20261101T000000Z.2",
        cycle_start=T0,
        cycle_end=T0 + timedelta(days=31),
        lots=tuple(_lot(n) for n in range(lots)),
        lots_version=10**6,
        lots_seq=10**9,
    )


def _expressions(actions: list[Action], condition: Condition) -> tuple[int, int]:
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    update = Update(*actions).serialize(names, values) or ""
    return len(update.encode()), len(condition.serialize(names, values).encode())


def test_a_wallet_of_max_lots_fits_in_one_item() -> None:
    wallet = _wallet(lot_writes.MAX_LOTS)
    item = WalletItem(
        "ORG#" + wallet.org_id,
        "WALLET",
        org_id=wallet.org_id,
        plan_id=wallet.plan_id,
        cycle_id=wallet.cycle_id,
        cycle_start=T0.isoformat(),
        cycle_end=wallet.cycle_end.isoformat(),
        lots={lot.lot_id: lot_to_map(lot) for lot in wallet.lots},
        lots_version=wallet.lots_version,
        lots_seq=wallet.lots_seq,
        held=10**12,
        monthly_allowance=10**9,
        created_at=T0.isoformat(),
        status="active",
        pending_plan_id="studio",
        anchor=T0.isoformat(),
        trial_ends_at=T0.isoformat(),
        granted_cycle=wallet.cycle_id,
        gsi1pk="DUE#7",
        gsi1sk=f"{T0.isoformat()}#{wallet.org_id}",
        debt=10**9,
    )
    size = item_size(item.serialize())
    assert size < ITEM_LIMIT * 0.9, size


@pytest.mark.parametrize("touched", [1, lot_writes.PER_LOT_LIMIT, lot_writes.PER_LOT_LIMIT + 1, 500, 1000])
def test_no_write_of_lots_builds_a_long_expression(touched: int) -> None:
    wallet = _wallet(1000)
    some = {lot.lot_id: 1 for lot in wallet.lots[:touched]}
    new = [_lot(2000 + n) for n in range(min(touched, 24))]
    for actions, condition in (
        lot_writes.draw(wallet, some),
        lot_writes.give_back(wallet, some),
        lot_writes.add(_wallet(10), new),
        lot_writes.add(None, new[:1]),
    ):
        update, check = _expressions(actions, condition)
        assert update < EXPRESSION_LIMIT // 2 and check < EXPRESSION_LIMIT // 2, (touched, update, check)


def test_a_full_wallet_refuses_more_lots() -> None:
    from act3_billing.domain.errors import TooManyLots

    with pytest.raises(TooManyLots):
        lot_writes.add(_wallet(lot_writes.MAX_LOTS), [_lot(5000)])
    with pytest.raises(TooManyLots):
        lot_writes.add(_wallet(lot_writes.MAX_LOTS - 10), [_lot(5000 + n) for n in range(30)])

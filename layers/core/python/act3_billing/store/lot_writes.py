"""Writing an org's lots with expressions of bounded size, however many lots it holds.

All of an org's lots live in its one wallet item. A write that touches a few lots names each one (a
decrement under `remaining >= take`, a return under `exists`); a write that touches more than
`PER_LOT_LIMIT` lots sets the whole `lots` map as one value instead, under one condition on the wallet's
counters. Either way the update and condition expressions stay a few hundred bytes (DynamoDB allows
4 KB), and the map itself is bounded by `MAX_LOTS` lots of bounded size (the item allows 400 KB).

Two counters guard the map:
- `lots_version` changes whenever a lot is added or removed or gains credits, never when one is spent.
  A spend planned on a view of the same version can only find its lots holding *less* than the view
  says, so `remaining >= take` on each lot it draws from proves the view's spending order still holds:
  no condition on the lots before them, on empty lots, or on expiry (a lot's expiry never changes).
- `lots_seq` changes on every write to the map (an unconditional ADD, so spends never conflict on it).
  A whole-map write conditions on it and on `lots_version`, so it never overwrites a write it did not
  see.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action

from act3_billing.domain.errors import TooManyLots
from act3_billing.domain.lots import Lot, Wallet
from act3_billing.store.models import WalletItem
from act3_billing.store.records import lot_to_map

PER_LOT_LIMIT = 24  # lots a write names one by one; ~60 bytes of expression each
MAX_LOTS = 1_000  # lots one wallet holds: ~330 bytes each at most (id, dates, label) -> < 400 KB


def _remaining(lot_id: str) -> Path:
    path: Path = WalletItem.lots[lot_id]["remaining"]
    return path


def seq_is(view: Wallet) -> Condition:
    """The map is exactly as `view` read it (a wallet no write has touched since has no counter)."""
    condition: Condition = WalletItem.lots_seq == view.lots_seq
    if view.lots_seq == 0:
        condition |= WalletItem.lots_seq.does_not_exist()
    return condition


def bump(*, version: bool) -> list[Action]:
    """Every write to the map counts in `lots_seq`; one that adds or removes lots, or gives credits back,
    in `lots_version` too."""
    return [WalletItem.lots_seq.add(1), *([WalletItem.lots_version.add(1)] if version else [])]


def whole(
    view: Wallet, lots: Iterable[Lot], *, version: bool, refuse_over: int = MAX_LOTS
) -> tuple[list[Action], Condition]:
    """The whole map as one value, on condition nothing changed since `view` (a fresh, consistent read).
    A cycle boundary, which must never be refused, may go past `MAX_LOTS` by the lots it opens."""
    after = {lot.lot_id: lot_to_map(lot) for lot in lots}
    if len(after) > refuse_over:
        raise TooManyLots(
            f"the organization would hold {len(after)} credit lots (at most {MAX_LOTS})", limit=MAX_LOTS
        )
    condition = (WalletItem.lots_version == view.lots_version) & seq_is(view)
    return [WalletItem.lots.set(after), *bump(version=version)], condition


def needs_whole(touched: int) -> bool:
    return touched > PER_LOT_LIMIT


def draw(view: Wallet, taken: Mapping[str, int], *, spending: bool = True) -> tuple[list[Action], Condition]:
    """Take `taken` from the lots `view` planned it on (SPEC §4's order, planned by the domain). A spend
    needs generation on; credits taken back by billing operations (`spending=False`) do not."""
    condition: Condition = (
        WalletItem.generation_enabled == True if spending else WalletItem.pk.exists()  # noqa: E712
    )
    if needs_whole(len(taken)):
        lots = (
            dataclasses.replace(lot, remaining=lot.remaining - taken.get(lot.lot_id, 0)) for lot in view.lots
        )
        written, guard = whole(view, lots, version=False)
        return written, condition & guard
    actions: list[Action] = bump(version=False)
    condition &= WalletItem.lots_version == view.lots_version
    for lot_id, n in taken.items():
        path = _remaining(lot_id)
        actions.append(path.set(path - n))
        condition &= path >= n
    return actions, condition


def give_back(wallet: Wallet | None, live: Mapping[str, int]) -> tuple[list[Action], Condition]:
    """Credits back into lots that are still there (refunds, released holds): they gain credits, so
    views of the wallet are stale after it (`lots_version`)."""
    if not live or wallet is None:
        return [], WalletItem.pk.exists()
    if needs_whole(len(live)):
        lots = (
            dataclasses.replace(lot, remaining=lot.remaining + live.get(lot.lot_id, 0)) for lot in wallet.lots
        )
        return whole(wallet, lots, version=True)
    actions: list[Action] = bump(version=True)
    condition: Condition = WalletItem.pk.exists()
    for lot_id, n in live.items():
        path = _remaining(lot_id)
        actions.append(path.set(path + n))
        condition &= path.exists()
    return actions, condition


def add(wallet: Wallet | None, new: list[Lot]) -> tuple[list[Action], Condition]:
    """New lots (a grant, a pack, credits transferred in). With `wallet` unknown (one new lot, written
    blind) the count is checked by the condition: a failed `size(lots)` means the wallet is full."""
    if wallet is not None and needs_whole(len(new)):
        return whole(wallet, (*wallet.lots, *new), version=True)
    if wallet is not None and len(wallet.lots) + len(new) > MAX_LOTS:
        raise TooManyLots(
            f"the organization holds {len(wallet.lots)} credit lots (at most {MAX_LOTS})", limit=MAX_LOTS
        )
    actions: list[Action] = bump(version=True)
    condition: Condition = WalletItem.pk.exists() & (size(WalletItem.lots) <= MAX_LOTS - len(new))
    for lot in new:
        actions.append(WalletItem.lots[lot.lot_id].set(lot_to_map(lot)))
        condition &= WalletItem.lots[lot.lot_id].does_not_exist()
    return actions, condition


def full(wallet: Wallet, adding: int = 1) -> bool:
    return len(wallet.lots) + adding > MAX_LOTS

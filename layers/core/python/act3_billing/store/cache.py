"""Per-process views of recently used wallets and member limits (what a warm Lambda instance keeps).

Never trusted alone: every transaction built from a view conditions on what the view said.
"""

from __future__ import annotations

import dataclasses
import threading

from act3_billing.domain.lots import Lot, Wallet


class WalletCache:
    """Per-process views of recently used wallets. Never trusted alone: transactions condition on them."""

    def __init__(self) -> None:
        self._views: dict[str, Wallet] = {}
        self._limits: dict[tuple[str, str], int | None] = {}
        self._lock = threading.Lock()

    def limit(self, org_id: str, user_id: str) -> int | None:
        """The member's monthly limit as last seen; an unseen member is assumed to have none."""
        return self._limits.get((org_id, user_id))

    def set_limit(self, org_id: str, user_id: str, limit: int | None) -> None:
        self._limits[(org_id, user_id)] = limit

    def get(self, org_id: str) -> Wallet | None:
        return self._views.get(org_id)

    def put(self, wallet: Wallet) -> None:
        with self._lock:
            self._views[wallet.org_id] = wallet

    def spent(self, org_id: str, draw: dict[str, int]) -> None:
        with self._lock:
            view = self._views.get(org_id)
            if view is None:
                return
            lots = tuple(
                _replace_remaining(lot, lot.remaining - draw.get(lot.lot_id, 0)) for lot in view.lots
            )
            self._views[org_id] = _with_lots(view, lots)

    def drop(self, org_id: str) -> None:
        with self._lock:
            self._views.pop(org_id, None)

    def clear(self) -> None:
        with self._lock:
            self._views.clear()
            self._limits.clear()


_CACHE = WalletCache()


def shared_cache() -> WalletCache:
    """The process-wide cache every store shares unless given its own (a Lambda instance has one)."""
    return _CACHE


def _replace_remaining(lot: Lot, remaining: int) -> Lot:
    return Lot(
        lot.lot_id, lot.kind, max(remaining, 0), lot.granted, lot.created_at, lot.expires_at, lot.label
    )


def _with_lots(view: Wallet, lots: tuple[Lot, ...]) -> Wallet:
    return dataclasses.replace(view, lots=lots)

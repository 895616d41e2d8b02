"""Plan state on the wallet — the smallest part the archive needs (issue 10 wrote it; issue 7 owns this
module): entering archive and leaving it by a plan change, each one transaction with the purge schedule."""

from __future__ import annotations

from datetime import datetime

from pynamodb.connection import Connection

from act3_billing.domain.errors import WalletMissing
from act3_billing.domain.times import iso, parse_iso
from act3_billing.store.cache import WalletCache, shared_cache
from act3_billing.store.models import WALLET_SK, WalletItem, org_pk
from act3_billing.store.storage import StorageStore
from act3_billing.store.tx import Tx, TxCancelled

ARCHIVE_PLAN = "archive"


class CycleStore:
    def __init__(self, connection: Connection, cache: WalletCache | None = None) -> None:
        self._connection = connection
        self._cache = cache if cache is not None else shared_cache()

    def enter_archive(self, org_id: str, now: datetime) -> datetime:
        """Generation off, plan `archive`, `archived_at` set and the media purge scheduled for day 30 — in
        one transaction. Entering again changes nothing (the first `archived_at` stands)."""
        tx = Tx(self._connection)
        tx.update(
            "wallet",
            WalletItem(org_pk(org_id), WALLET_SK),
            [
                WalletItem.plan_id.set(ARCHIVE_PLAN),
                WalletItem.generation_enabled.set(False),
                WalletItem.archived_at.set(iso(now)),
                WalletItem.status.set("archived"),
                WalletItem.lots_version.add(1),
            ],
            WalletItem.pk.exists() & WalletItem.archived_at.does_not_exist(),
        )
        StorageStore.schedule_purge(tx, org_id, now)
        try:
            tx.run()
        except TxCancelled as exc:
            if "wallet" not in exc.failed:
                raise
            item = self._read(org_id)
            if item.archived_at is None:
                raise
            return parse_iso(item.archived_at)
        finally:
            self._cache.drop(org_id)
        return now

    def change_plan_now(self, org_id: str, plan_id: str, *, generation: bool, now: datetime) -> None:
        """Move to `plan_id` at once; leaving archive clears `archived_at` and cancels the media purge."""
        tx = Tx(self._connection)
        tx.update(
            "wallet",
            WalletItem(org_pk(org_id), WALLET_SK),
            [
                WalletItem.plan_id.set(plan_id),
                WalletItem.generation_enabled.set(generation),
                WalletItem.archived_at.remove(),
                WalletItem.status.set("active"),
                WalletItem.lots_version.add(1),
            ],
            WalletItem.pk.exists(),
        )
        StorageStore.cancel_purge(tx, org_id)
        try:
            tx.run()
        except TxCancelled:
            raise WalletMissing(f"organization {org_id} has no wallet") from None
        finally:
            self._cache.drop(org_id)

    def _read(self, org_id: str) -> WalletItem:
        return WalletItem.get(org_pk(org_id), WALLET_SK, consistent_read=True)

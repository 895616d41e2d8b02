"""Billing operations' writes: grants and signed adjustments, each with its ledger entry in one transaction.

Credits coming in (a grant, a positive adjustment) go through `BillingStore.add_lot`; credits taken back
(a negative adjustment) are drawn here from the live lots in spending order, on condition that the
wallet is still the one the draw was planned on (`lots_version`), else it is planned again.
"""

from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Any

from act3_billing.domain.errors import Conflict, InsufficientCredits
from act3_billing.domain.ids import new_id
from act3_billing.domain.ledger import Account, EntryType, LedgerEntry
from act3_billing.domain.lots import Lot, plan_draw
from act3_billing.domain.times import iso
from act3_billing.store import lot_writes
from act3_billing.store.idempotency import Idem, Outcome, add_idem, replay, replays
from act3_billing.store.models import WALLET_SK, WalletItem, org_pk
from act3_billing.store.records import entry_json, ledger_item
from act3_billing.store.tx import Tx, TxCancelled
from act3_billing.store.wallets import MAX_ATTEMPTS, BillingStore


class OperationsStore:
    def __init__(self, billing: BillingStore) -> None:
        self._billing = billing

    def grant(
        self,
        org_id: str,
        lot: Lot,
        *,
        entry_type: EntryType,
        memo: str,
        idem: Idem,
        now: datetime,
        service: str,
        answer: dict[str, Any],
    ) -> Outcome:
        """A grant or a positive adjustment: a new lot, idempotent by the key."""
        return self._billing.add_lot(
            org_id,
            lot,
            entry_type=entry_type,
            idem=idem,
            now=now,
            actor=None,
            memo=memo,
            service=service,
            answer=answer,
        )

    @replays
    def take_back(
        self, org_id: str, *, credits: int, reason: str, idem: Idem, now: datetime, service: str
    ) -> Outcome:
        """A negative adjustment: `credits` leave the live lots in spending order, back to the platform."""
        adjustment_id = new_id("adj", now)
        for _ in range(MAX_ATTEMPTS):
            wallet = self._billing.wallet(org_id)
            try:
                draw = plan_draw(wallet.lots, credits, now)
            except InsufficientCredits as exc:
                exc.extra.setdefault("plan_id", wallet.plan_id)
                raise
            entry = LedgerEntry.taking(
                new_id("le", now),
                org_id,
                EntryType.ADJUSTMENT,
                draw,
                now,
                spend=False,
                from_account=Account.AVAILABLE,
                to_account=Account.ISSUED,
                idempotency_key=idem.key,
                memo=f"adjustment {adjustment_id}: {reason}",
                service=service,
            )
            body = {
                "adjustment_id": adjustment_id,
                "credits": -credits,
                "reason": reason,
                "lots": {k: -v for k, v in draw.items()},
                "entry": entry_json(entry),
                "created_at": iso(now),
            }
            tx = Tx(self._billing.connection)
            # Each lot still holds what it gives (a spend may have landed since the read), whatever
            # the number of lots (store/lot_writes.py); an archived org's credits can be taken back too.
            tx.update(
                "wallet",
                WalletItem(org_pk(org_id), WALLET_SK),
                *lot_writes.draw(wallet, draw, spending=False),
            )
            add_idem(tx, org_id, idem, body, now)
            tx.put("ledger", ledger_item(entry))
            try:
                tx.run()
            except TxCancelled as exc:
                if "idem" in exc.failed:
                    return replay(org_id, idem)
                time.sleep(random.uniform(0.001, 0.01))  # noqa: S311 - jitter, not security
                continue
            return Outcome(body)
        raise Conflict("the wallet kept changing; retry with the same Idempotency-Key")

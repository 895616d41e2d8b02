"""Claw-back of a refunded or disputed pack, and the debt it leaves: one transaction each.

A claw-back takes what is left of the pack's lot; what was already spent of it becomes the wallet's
`debt`. The next credits that arrive pay the debt first, in the very transaction that adds them
(`BillingStore.add_lot(pay_debt=True)` for packs and grants, the cycle store's grants for a monthly
allowance), so no debit can spend them before the debt is paid. Both write a ledger entry (`clawback`,
`debt_repaid`) from the org back to `platform:issued`, so
*granted - spent - expired - forfeited - held = balance* keeps holding.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.connection import Connection
from pynamodb.expressions.update import Action

from act3_billing.domain.errors import Conflict
from act3_billing.domain.ids import new_id
from act3_billing.domain.ledger import EntryType, LedgerEntry
from act3_billing.store import lot_writes
from act3_billing.store.cache import shared_cache
from act3_billing.store.idempotency import Idem, Outcome, add_idem, replay
from act3_billing.store.models import WALLET_SK, WalletItem, org_pk
from act3_billing.store.payment_models import PackPurchaseItem
from act3_billing.store.records import entry_json, ledger_item
from act3_billing.store.tx import Tx, TxCancelled
from act3_billing.store.wallets import SYSTEM_ACTOR, BillingStore

MAX_ATTEMPTS = 20


def _taken_back(
    entry_type: EntryType,
    org_id: str,
    amount: int,
    lot_id: str,
    idem_key: str | None,
    memo: str,
    now: datetime,
) -> LedgerEntry:
    return LedgerEntry(
        entry_id=new_id("le", now),
        org_id=org_id,
        type=entry_type,
        amount=amount,
        created_at=now,
        lots={lot_id: -amount} if amount else {},
        actor=SYSTEM_ACTOR,
        idempotency_key=idem_key,
        memo=memo,
    )


def _after(opened: datetime, now: datetime) -> datetime:
    """A take-back of a lot is recorded after the lot's arrival, even within the same request (the
    ledger is replayed in time order)."""
    return max(now, opened + timedelta(milliseconds=1))


class DebtStore:
    def __init__(self, connection: Connection, billing: BillingStore) -> None:
        self._connection = connection
        self._billing = billing

    def claw_back(
        self,
        org_id: str,
        *,
        lot_id: str,
        credits: int,
        idem: Idem,
        now: datetime,
        memo: str,
        purchase: tuple[str, int] | None = None,
    ) -> Outcome | None:
        """Takes `credits` of a pack back: from what is left of its lot, the rest recorded as debt.
        With `purchase` (its id, and its `clawed_back` as read), the purchase's running total moves up by
        `credits` in the same transaction, conditioned on it being unchanged: None when another refund of
        the same pack got there first (the caller reads the purchase again)."""
        for _ in range(MAX_ATTEMPTS):
            wallet = self._billing.wallet(org_id)
            lot = wallet.lots_by_id.get(lot_id)
            left = lot.remaining if lot is not None else 0
            take = min(credits, left)
            owed = credits - take
            at = _after(lot.created_at, now) if lot is not None else now
            entry = _taken_back(
                EntryType.CLAWBACK,
                org_id,
                take,
                lot_id,
                idem.key,
                f"{memo}: {take} taken back, {owed} already spent becomes debt",
                at,
            )
            actions: list[Action] = []
            condition = WalletItem.pk.exists()
            if take:
                path = WalletItem.lots[lot_id]["remaining"]
                actions.append(path.set(path - take))
                condition &= path == left
            if take:
                actions += lot_writes.bump(version=False)
            if owed:
                actions.append(WalletItem.debt.set((WalletItem.debt | 0) + owed))
            body = {"lot_id": lot_id, "clawed_back": take, "debt_added": owed, "entry": entry_json(entry)}
            tx = Tx(self._connection)
            if actions:
                tx.update("wallet", WalletItem(org_pk(org_id), WALLET_SK), actions, condition)
            if purchase is not None:
                purchase_id, before = purchase
                total = PackPurchaseItem.clawed_back
                seen = (total == before) | total.does_not_exist() if before == 0 else total == before
                tx.update(
                    "purchase",
                    PackPurchaseItem(org_pk(org_id), f"PACK#{purchase_id}"),
                    [total.set(before + credits)],
                    PackPurchaseItem.pk.exists() & seen,
                )
            add_idem(tx, org_id, idem, body, now)
            tx.put("ledger", ledger_item(entry))
            try:
                tx.run()
            except TxCancelled as exc:
                if "idem" in exc.failed:
                    return replay(org_id, idem)
                if "purchase" in exc.failed:
                    return None
                continue
            shared_cache().drop(org_id)
            return Outcome(body)
        raise Conflict("the wallet kept changing; retry")

"""The credit store: every balance change and its ledger entries commit in one DynamoDB transaction.

Spending (debit, hold, extend) works from a cached view of the org's wallet and conditions the
transaction on what it relied on: the wallet's `lots_version` (no lot came, went or gained credits
since the view) and `generation_enabled`, each lot it draws from still holding what it takes
(store/lot_writes.py, which keeps the expressions small however many lots there are), the caller's
membership and role, and the idempotency key being new. When the view is right — the common case — a
debit costs one DynamoDB request; when a condition fails, the cancellation reasons say which one, and only a
stale wallet leads to a fresh read and another attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from act3_billing.domain.errors import (
    Conflict,
    TooManyLots,
)
from act3_billing.domain.ids import new_id
from act3_billing.domain.ledger import EntryType, LedgerEntry
from act3_billing.domain.lots import Lot, Wallet
from act3_billing.domain.times import iso
from act3_billing.store import lot_writes
from act3_billing.store.debt_first import debt_first
from act3_billing.store.idempotency import Idem, Outcome, add_idem, replay, replays
from act3_billing.store.job_charges import JobRecord, charge_job
from act3_billing.store.models import (
    WALLET_SK,
    QuoteItem,
    WalletItem,
    org_pk,
)
from act3_billing.store.quotes import (
    QuoteRef,
    QuoteRepriced,
    quote_item,
    quote_refused,
    save_quote,
    use_quote,
)
from act3_billing.store.records import (
    entry_json,
    ledger_item,
    lot_meta,
)
from act3_billing.store.tx import Tx, TxCancelled
from act3_billing.store.wallet_core import (
    MAX_ATTEMPTS,
    SYSTEM_ACTOR,
    WalletCore,
    _Plan,
    spender_condition,
)
from act3_billing.store.wallet_holds import HoldWrites
from act3_billing.store.wallet_returns import ReturnWrites

__all__ = ["MAX_ATTEMPTS", "SYSTEM_ACTOR", "BillingStore", "WalletCore", "spender_condition"]


class BillingStore(HoldWrites, ReturnWrites):
    """Repository of wallets, holds, quotes, ledger and idempotency records of one table: set-up,
    credits coming in and debits here; holds in `wallet_holds`, refunds and transfers in
    `wallet_returns`, reads and the spending internals in `wallet_core`."""

    # ---- set-up and credits coming in ---------------------------------------------------------

    def open_wallet(
        self,
        org_id: str,
        *,
        plan_id: str,
        cycle_id: str,
        cycle_start: datetime,
        cycle_end: datetime,
        now: datetime,
        generation_enabled: bool = True,
    ) -> Wallet:
        """Creates the org's empty wallet once; a second call changes nothing."""
        item = WalletItem(
            org_pk(org_id),
            WALLET_SK,
            org_id=org_id,
            plan_id=plan_id,
            cycle_id=cycle_id,
            cycle_start=iso(cycle_start),
            cycle_end=iso(cycle_end),
            lots={},
            lots_version=0,
            held=0,
            generation_enabled=generation_enabled,
            monthly_allowance=0,
            created_at=iso(now),
        )
        tx = Tx(self._connection)
        tx.put("wallet", item, condition=WalletItem.pk.does_not_exist())
        try:
            tx.run()
        except TxCancelled as exc:
            if "wallet" not in exc.failed:
                raise
        return self.wallet(org_id)

    def start_cycle(
        self,
        org_id: str,
        *,
        cycle_id: str,
        cycle_start: datetime,
        cycle_end: datetime,
        allowance: int,
        rollover_cap: int,
        now: datetime,
        plan_id: str | None = None,
        generation_enabled: bool | None = None,
    ) -> Outcome:
        """A cycle with explicit bounds and allowance (seeds, tests); the schedule's boundaries are
        decided by `act3_billing.cycles`. Idempotent by the cycle id."""
        from act3_billing.store import cycles

        return cycles.start_cycle(
            self,
            org_id,
            boundary_of=lambda wallet: cycles.legacy_boundary(
                wallet,
                cycle_id=cycle_id,
                cycle_start=cycle_start,
                cycle_end=cycle_end,
                allowance=allowance,
                rollover_cap=rollover_cap,
                plan_id=plan_id,
                generation_enabled=generation_enabled,
            ),
            idem=Idem(
                key=f"cycle:{cycle_id}", operation="grant_monthly", fingerprint=f"{cycle_id}:{allowance}"
            ),
            now=now,
        )

    def forget(self, org_id: str) -> None:
        """Drop this process's view of the org's wallet (its lots changed elsewhere)."""
        self._cache.drop(org_id)

    def cached(self, org_id: str) -> Wallet | None:
        """This process's view of the wallet, as of its last read or spend (what alerts are judged on)."""
        return self._cache.get(org_id)

    def add_lot(
        self,
        org_id: str,
        lot: Lot,
        *,
        entry_type: EntryType,
        idem: Idem,
        now: datetime,
        actor: str | None = SYSTEM_ACTOR,
        memo: str | None = None,
        pay_debt: bool = False,
        service: str | None = None,
        answer: dict[str, Any] | None = None,
    ) -> Outcome:
        """Credits coming in as a new lot (bank, grant, pack): one transaction, idempotent by its own key.
        With `pay_debt`, the new credits pay the org's debt first in that same transaction (a `debt_repaid`
        entry right after the lot's own), so no debit can spend them before the debt is paid. `service`:
        the machine identity that granted them; `answer` adds to what the call answers (and a retry gets)."""
        for _ in range(MAX_ATTEMPTS):
            debt = self.wallet(org_id).debt if pay_debt else None
            entry = LedgerEntry(
                entry_id=new_id("le", now),
                org_id=org_id,
                type=entry_type,
                amount=lot.remaining,
                created_at=now,
                lots={lot.lot_id: lot.remaining},
                actor=actor,
                idempotency_key=idem.key,
                memo=memo or lot.label,
                opened={lot.lot_id: lot_meta(lot)},
                service=service,
            )
            stored, repaid, debt_actions, debt_condition = debt_first(org_id, debt, lot, idem.key, now)
            entries = [entry, *repaid]
            actions, condition = lot_writes.add(None, [stored])
            actions += debt_actions
            if debt_condition is not None:
                condition &= debt_condition
            pay = lot.remaining - stored.remaining
            body: dict[str, Any] = {"lot_id": lot.lot_id, "entry": entry_json(entry), **(answer or {})}
            if pay:
                body["debt_repaid"] = pay
            tx = Tx(self._connection)
            tx.update("wallet", WalletItem(org_pk(org_id), WALLET_SK), actions, condition)
            add_idem(tx, org_id, idem, body, now)
            for e in entries:
                tx.put("ledger", ledger_item(e))
            try:
                tx.run()
            except TxCancelled as exc:
                if "idem" in exc.failed:
                    return replay(org_id, idem)
                if "wallet" in exc.failed:
                    wallet = self.wallet(org_id)  # raises WalletMissing when there is none
                    if lot.lot_id in wallet.lots_by_id:
                        raise Conflict(f"lot {lot.lot_id} already exists") from None
                    if lot_writes.full(wallet):
                        raise TooManyLots(
                            f"the organization holds {len(wallet.lots)} credit lots",
                            limit=lot_writes.MAX_LOTS,
                        ) from None
                    continue  # the debt changed meanwhile, or a full wallet has room again: try again
                self._backoff(exc)
                continue
            self._cache.drop(org_id)
            return Outcome(body)
        raise Conflict("the wallet kept changing; retry")

    def save_quote(self, org_id: str, **quote: Any) -> None:
        save_quote(org_id, **quote)

    def quote(self, org_id: str, quote_id: str) -> QuoteItem:
        return quote_item(org_id, quote_id)

    # ---- spending -------------------------------------------------------------------------------

    @replays
    def debit(
        self,
        org_id: str,
        *,
        actor: str,
        amount: int,
        job_id: str,
        idem: Idem,
        now: datetime,
        rate_card_version: str,
        quote: QuoteRef | None = None,
        service: str | None = None,
    ) -> Outcome:
        """Spends for finished usage as `actor` (the member; reported by `service` when a machine did)."""
        entry_id = new_id("le", now)
        record = JobRecord(exists=False)  # one job, one debit: the usual case

        def entries(draw: dict[str, int]) -> list[LedgerEntry]:
            return [
                LedgerEntry.taking(
                    entry_id,
                    org_id,
                    EntryType.DEBIT,
                    draw,
                    now,
                    actor=actor,
                    job_id=job_id,
                    quote_id=quote.quote_id if quote else None,
                    idempotency_key=idem.key,
                    rate_card_version=rate_card_version,
                    service=service,
                )
            ]

        def extra(tx: Tx, draw: dict[str, int], view: Wallet) -> None:
            charge_job(tx, org_id, job_id, draw, actor, view.cycle_id, record)
            if quote is not None:
                use_quote(tx, org_id, quote, idem, rate_card_version, now)

        def classify(failed: dict[str, str]) -> None:
            nonlocal record
            if "quote" in failed and quote is not None:
                quote_refused(org_id, quote, rate_card_version, now)
            if "job" in failed:
                record = self._job_record(org_id, job_id)

        plan = _Plan(
            extra=extra,
            entries=entries,
            classify=classify,
            body=lambda draw: {
                "entry_id": entry_id,
                "job_id": job_id,
                "credits": amount,
                "lots": draw,
                "quote_id": quote.quote_id if quote else None,
                "rate_card_version": rate_card_version,
                "created_at": iso(now),
            },
        )
        try:
            return self._spend(org_id, actor=actor, amount=amount, idem=idem, now=now, plan=plan)
        except QuoteRepriced as repriced:  # once: the quote's version matches the second time
            return self.debit(
                org_id,
                actor=actor,
                amount=amount,
                job_id=job_id,
                idem=idem,
                now=now,
                rate_card_version=repriced.version,
                quote=quote,
            )

"""Credits going back or across: refunds of a job's charges and transfers between orgs, each in one
transaction."""

from __future__ import annotations

from datetime import datetime

from act3_billing.domain.errors import (
    AlreadyRefunded,
    Conflict,
    GenerationDisabled,
    InsufficientCredits,
    NothingToRefund,
)
from act3_billing.domain.ids import new_id, new_ids
from act3_billing.domain.ledger import EntryType, LedgerEntry
from act3_billing.domain.lots import plan_draw
from act3_billing.domain.roles import Permission, Role
from act3_billing.domain.times import iso
from act3_billing.store import lot_writes
from act3_billing.store.debt_first import debt_first_from
from act3_billing.store.idempotency import Idem, Outcome, add_idem, replay, replays
from act3_billing.store.job_charges import give_backs, look
from act3_billing.store.limits import refund_members
from act3_billing.store.models import (
    WALLET_SK,
    JobItem,
    MemberItem,
    WalletItem,
    org_pk,
)
from act3_billing.store.records import (
    entry_json,
    ledger_item,
    lot_meta,
)
from act3_billing.store.tx import Tx, TxCancelled
from act3_billing.store.wallet_core import (
    MAX_ATTEMPTS,
    WalletCore,
    _arriving,
    _split_by_life,
)


class ReturnWrites(WalletCore):
    """Credits going back or across: refunds of a job's charges and transfers between orgs."""

    @replays
    def refund_job(
        self,
        org_id: str,
        *,
        actor: str | None,
        job_id: str,
        idem: Idem,
        now: datetime,
        service: str,
    ) -> Outcome:
        """Reverses a job's debits and captures once, into the lots they came from (expired lots excepted),
        and gives the credits back to the spenders' monthly limits of this cycle. A machine (`service`,
        its scope already checked) refunds on behalf of the member `actor`."""
        give_back = True
        for _ in range(MAX_ATTEMPTS):
            job = look(org_id, job_id)
            if not job.exists and not job.legacy:
                raise NothingToRefund(f"no debit recorded for job {job_id}")
            if job.refunded_by:
                raise AlreadyRefunded(f"job {job_id} was already refunded")
            spent = job.per_lot()
            total = sum(spent.values())
            wallet = self.wallet(org_id)
            live, dead = _split_by_life(wallet, spent, now)
            ids = iter(new_ids("le", now, 2))  # the refund, then the expiry of what its dead lots got
            entries = [
                LedgerEntry(
                    next(ids),
                    org_id,
                    EntryType.REFUND,
                    total,
                    now,
                    lots=spent,
                    sources=spent,
                    actor=actor,
                    job_id=job_id,
                    idempotency_key=idem.key,
                    service=service,
                )
            ]
            if dead:
                entries.append(
                    LedgerEntry.taking(
                        next(ids),
                        org_id,
                        EntryType.EXPIRE,
                        dead,
                        now,
                        spend=False,
                        actor=actor,
                        job_id=job_id,
                        idempotency_key=idem.key,
                        service=service,
                        memo="refunded to an expired lot",
                    )
                )
            actions, condition = lot_writes.give_back(wallet, live)
            body = {
                "job_id": job_id,
                "refunded": sum(live.values()),
                "expired": sum(dead.values()),
                "lots": live,
                "entries": [entry_json(e) for e in entries],
            }
            tx = Tx(self._connection)
            give = give_backs(job.charges(), wallet.cycle_id) if give_back else {}
            refund_members(tx, org_id, give, wallet.cycle_id)
            tx.update(
                "job",
                JobItem(org_pk(org_id), f"JOB#{job_id}"),
                [JobItem.refunded_by.set(idem.key)],
                job.unchanged(),
            )
            if actions:
                tx.update("wallet", WalletItem(org_pk(org_id), WALLET_SK), actions, condition)
            add_idem(tx, org_id, idem, body, now)
            for entry in entries:
                tx.put("ledger", ledger_item(entry))
            try:
                tx.run()
            except TxCancelled as exc:
                if "idem" in exc.failed:
                    return replay(org_id, idem)
                give_back = give_back and not ({"member", "give_back"} & exc.failed.keys())
                self._backoff(exc)  # refunded meanwhile, or charged again: look again
                continue
            self._cache.drop(org_id)
            return Outcome(body)
        raise Conflict("the wallet kept changing; retry")

    @replays
    def transfer(
        self, org_id: str, *, to_org_id: str, actor: str, amount: int, idem: Idem, now: datetime
    ) -> Outcome:
        """Moves credits to another org in one transaction: the lots leave in spending order and arrive
        as `transfer` lots with their expiry (spent in the grants' place, never capped)."""
        transfer_id = new_id("xfer", now)
        for _ in range(MAX_ATTEMPTS):
            source = self.wallet(org_id)
            target = self.wallet(to_org_id)  # not_found when the target has none
            if not source.can_generate(now):
                # Archive (or a trial without LinkedIn): nothing can be spent, and moving out is spending.
                raise GenerationDisabled(f"credits of plan '{source.plan_id}' cannot leave the organization")
            try:
                draw = plan_draw(source.lots, amount, now)
            except InsufficientCredits as exc:
                exc.extra.setdefault("plan_id", source.plan_id)
                raise
            arriving = _arriving(source, draw, transfer_id, now)
            out_entry = LedgerEntry.taking(
                new_id("le", now),
                org_id,
                EntryType.TRANSFER_OUT,
                draw,
                now,
                actor=actor,
                idempotency_key=idem.key,
                memo=f"transfer {transfer_id} to {to_org_id}",
            )
            in_entry = LedgerEntry(
                new_id("le", now),
                to_org_id,
                EntryType.TRANSFER_IN,
                amount,
                now,
                lots={lot.lot_id: lot.remaining for lot in arriving},
                actor=actor,
                idempotency_key=idem.key,
                memo=f"transfer {transfer_id} from {org_id}",
                opened={lot.lot_id: lot_meta(lot) for lot in arriving},
            )
            # Credits arriving pay the receiving org's debt first, in this transaction (as packs do).
            stored, repaid, debt_actions, debt_condition = debt_first_from(
                to_org_id, target.debt, arriving, idem.key, now
            )
            body = {
                "transfer_id": transfer_id,
                "from_org_id": org_id,
                "to_org_id": to_org_id,
                "credits": amount,
                "lots_out": draw,
                "lots_in": {lot.lot_id: lot.remaining for lot in arriving},
                "debt_repaid": sum(e.amount for e in repaid),
                "created_at": iso(now),
            }
            owner = MemberItem.role == Role.OWNER.value
            tx = Tx(self._connection)
            tx.check("member", MemberItem, org_pk(org_id), f"MEMBER#{actor}", owner)
            tx.check("member_target", MemberItem, org_pk(to_org_id), f"MEMBER#{actor}", owner)
            tx.update("wallet", WalletItem(org_pk(org_id), WALLET_SK), *lot_writes.draw(source, draw))
            target_actions, target_condition = lot_writes.add(target, stored)
            if debt_condition is not None:
                target_condition &= debt_condition
            target_item = WalletItem(org_pk(to_org_id), WALLET_SK)
            tx.update("target", target_item, target_actions + debt_actions, target_condition)
            add_idem(tx, org_id, idem, body, now)
            for entry in (out_entry, in_entry, *repaid):
                tx.put("ledger", ledger_item(entry))
            try:
                tx.run()
            except TxCancelled as exc:
                for label, org in (("member", org_id), ("member_target", to_org_id)):
                    if label in exc.failed:
                        self._check_membership(org, actor, Permission.TRANSFER)
                if "idem" in exc.failed:
                    return replay(org_id, idem)
                self._backoff(exc)
                continue
            self._cache.drop(org_id)
            self._cache.drop(to_org_id)
            return Outcome(body)
        raise Conflict("the wallets kept changing; retry with the same Idempotency-Key")

"""Holds: reserve, extend, capture in stages, release and expire; each with its ledger entries in
one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from act3_billing.domain.errors import (
    Conflict,
    HoldNotOpen,
)
from act3_billing.domain.holds import Hold, HoldStatus, slice_draws
from act3_billing.domain.ids import new_id, new_ids
from act3_billing.domain.ledger import EntryType, LedgerEntry
from act3_billing.domain.lots import Wallet
from act3_billing.domain.times import iso
from act3_billing.store import lot_writes
from act3_billing.store.cycles import hold_due_key
from act3_billing.store.idempotency import Idem, Outcome, add_idem, replay, replays
from act3_billing.store.job_charges import JobRecord, charge_job
from act3_billing.store.models import (
    WALLET_SK,
    HoldItem,
    MemberItem,
    WalletItem,
    org_pk,
)
from act3_billing.store.quotes import (
    QuoteRef,
    QuoteRepriced,
    quote_refused,
    use_quote,
)
from act3_billing.store.records import (
    entry_json,
    hold_json,
    ledger_item,
)
from act3_billing.store.tx import Tx, TxCancelled
from act3_billing.store.wallet_core import (
    MAX_ATTEMPTS,
    WalletCore,
    _Plan,
    _split_by_life,
    spender_condition,
)


class HoldWrites(WalletCore):
    """Holds: reserve, extend, capture in stages, release and expire; each with its ledger entries in
    one transaction."""

    @replays
    def place_hold(
        self,
        org_id: str,
        *,
        actor: str,
        amount: int,
        job_id: str | None,
        expires_at: datetime,
        idem: Idem,
        now: datetime,
        quote: QuoteRef | None = None,
        rate_card_version: str | None = None,
    ) -> Outcome:
        hold_id = new_id("hold", now)

        def hold_of(draw: dict[str, int]) -> Hold:
            return Hold(
                hold_id,
                org_id,
                amount,
                0,
                0,
                tuple(draw.items()),
                HoldStatus.OPEN,
                expires_at,
                now,
                job_id,
                actor,
            )

        def extra(tx: Tx, draw: dict[str, int], view: Wallet) -> None:
            tx.put(
                "hold",
                HoldItem(
                    org_pk(org_id),
                    f"HOLD#{hold_id}",
                    hold_id=hold_id,
                    org_id=org_id,
                    amount=amount,
                    captured=0,
                    released=0,
                    draws=[{"lot": k, "amount": v} for k, v in draw.items()],
                    status=HoldStatus.OPEN.value,
                    expires_at=iso(expires_at),
                    created_at=iso(now),
                    job_id=job_id,
                    actor=actor,
                    cycle_id=view.cycle_id,
                    gsi1pk=hold_due_key(org_id, hold_id, expires_at)[0],
                    gsi1sk=hold_due_key(org_id, hold_id, expires_at)[1],
                ),
                HoldItem.pk.does_not_exist(),
            )
            if quote is not None:
                use_quote(tx, org_id, quote, idem, rate_card_version or "", now)

        def classify(failed: dict[str, str]) -> None:
            if "quote" in failed and quote is not None:
                quote_refused(org_id, quote, rate_card_version or "", now)

        plan = _Plan(
            extra=extra,
            classify=classify,
            held_delta=amount,
            entries=lambda draw: [
                LedgerEntry.taking(
                    new_id("le", now),
                    org_id,
                    EntryType.HOLD,
                    draw,
                    now,
                    actor=actor,
                    job_id=job_id,
                    hold_id=hold_id,
                    idempotency_key=idem.key,
                )
            ],
            body=lambda draw: hold_json(hold_of(draw)),
        )
        try:
            return self._spend(org_id, actor=actor, amount=amount, idem=idem, now=now, plan=plan)
        except QuoteRepriced as repriced:
            return self.place_hold(
                org_id,
                actor=actor,
                amount=amount,
                job_id=job_id,
                expires_at=expires_at,
                idem=idem,
                now=now,
                quote=quote,
                rate_card_version=repriced.version,
            )

    @replays
    def extend_hold(
        self,
        org_id: str,
        *,
        actor: str,
        hold_id: str,
        more: int,
        expires_at: datetime | None,
        idem: Idem,
        now: datetime,
        service: str | None = None,
    ) -> Outcome:
        """More credits and/or a later expiry; a machine (`service`) extends on behalf of the holder."""
        hold = self.hold(org_id, hold_id)
        hold.require_open(now)
        actor = hold.actor or actor if service else actor
        new_expiry = max(expires_at or hold.expires_at, hold.expires_at)
        if not more:
            return self._extend_expiry(
                org_id, actor=actor, hold=hold, expires_at=new_expiry, idem=idem, now=now
            )

        def extra(tx: Tx, draw: dict[str, int], view: Wallet) -> None:
            tx.update(
                "hold",
                HoldItem(org_pk(org_id), f"HOLD#{hold_id}"),
                [
                    HoldItem.amount.add(more),
                    HoldItem.expires_at.set(iso(new_expiry)),
                    HoldItem.gsi1sk.set(hold_due_key(org_id, hold_id, new_expiry)[1]),
                    HoldItem.draws.set(
                        HoldItem.draws.append([{"lot": k, "amount": v} for k, v in draw.items()])
                    ),
                ],
                (HoldItem.status == HoldStatus.OPEN.value) & (HoldItem.expires_at > iso(now)),
            )

        def classify(failed: dict[str, str]) -> None:
            if "hold" in failed:
                self.hold(org_id, hold_id).require_open(now)
                raise HoldNotOpen(f"hold {hold_id} changed; retry")

        def body(draw: dict[str, int]) -> dict[str, Any]:
            extended = Hold(
                hold.hold_id,
                org_id,
                hold.amount + more,
                hold.captured,
                hold.released,
                (*hold.draws, *draw.items()),
                HoldStatus.OPEN,
                new_expiry,
                hold.created_at,
                hold.job_id,
                hold.actor,
            )
            return hold_json(extended)

        plan = _Plan(
            extra=extra,
            held_delta=more,
            classify=classify,
            entries=lambda draw: [
                LedgerEntry.taking(
                    new_id("le", now),
                    org_id,
                    EntryType.HOLD,
                    draw,
                    now,
                    actor=actor,
                    job_id=hold.job_id,
                    hold_id=hold_id,
                    idempotency_key=idem.key,
                    memo="hold extended",
                    service=service,
                )
            ],
            body=body,
        )
        return self._spend(org_id, actor=actor, amount=more, idem=idem, now=now, plan=plan)

    def _extend_expiry(
        self, org_id: str, *, actor: str, hold: Hold, expires_at: datetime, idem: Idem, now: datetime
    ) -> Outcome:
        """A later expiry and no more credits: nothing moves, so no wallet and no ledger entry."""
        extended = Hold(
            hold.hold_id,
            org_id,
            hold.amount,
            hold.captured,
            hold.released,
            hold.draws,
            hold.status,
            expires_at,
            hold.created_at,
            hold.job_id,
            hold.actor,
            hold.cycle_id,
        )
        body = hold_json(extended)
        tx = Tx(self._connection)
        tx.check("member", MemberItem, org_pk(org_id), f"MEMBER#{actor}", spender_condition())
        tx.update(
            "hold",
            HoldItem(org_pk(org_id), f"HOLD#{hold.hold_id}"),
            [
                HoldItem.expires_at.set(iso(expires_at)),
                HoldItem.gsi1sk.set(hold_due_key(org_id, hold.hold_id, expires_at)[1]),
            ],
            (HoldItem.status == HoldStatus.OPEN.value) & (HoldItem.expires_at > iso(now)),
        )
        add_idem(tx, org_id, idem, body, now)
        try:
            tx.run()
        except TxCancelled as exc:
            if "member" in exc.failed:
                self._check_membership(org_id, actor)
            if "idem" in exc.failed:
                return replay(org_id, idem)
            if "hold" in exc.failed:
                self.hold(org_id, hold.hold_id).require_open(now)
            raise Conflict("the hold changed; retry with the same Idempotency-Key") from None
        return Outcome(body)

    @replays
    def settle_hold(
        self,
        org_id: str,
        *,
        actor: str,
        hold_id: str,
        capture: int,
        final: bool,
        idem: Idem,
        now: datetime,
        check_member: bool = True,
        expiring: bool = False,
        service: str | None = None,
    ) -> Outcome:
        """Capture `capture` credits of a hold; when `final`, release the rest to the lots it came from
        (credits whose lot has expired or gone meanwhile expire, recorded). `expiring`: the sweep
        releasing a hold past its expiry (it ends `expired`). A machine (`service`) settles on behalf of
        the member who placed the hold."""
        closed = HoldStatus.EXPIRED if expiring else HoldStatus.CLOSED
        give_back_limit = True
        record: JobRecord | None = None
        check_member = check_member and service is None
        for _ in range(MAX_ATTEMPTS):
            hold = self.hold(org_id, hold_id)
            actor = hold.actor or actor if service else actor
            if capture:
                hold.check_capture(capture, now)
            elif hold.status is not HoldStatus.OPEN:
                raise HoldNotOpen(f"hold {hold_id} is {hold.status}", hold_id=hold_id)
            start = hold.captured
            captured_slice = slice_draws(hold.draws, start, start + capture)
            rest = hold.remaining - capture if final else 0
            released_slice = slice_draws(hold.draws, start + capture, start + capture + rest)
            wallet = self.wallet(org_id) if released_slice else None
            live, dead = _split_by_life(wallet, released_slice, now)
            entries: list[LedgerEntry] = []
            ids = iter(new_ids("le", now, 3))  # capture, release, expiry: replayed in that order
            if capture:
                entries.append(
                    LedgerEntry(
                        next(ids),
                        org_id,
                        EntryType.CAPTURE,
                        capture,
                        now,
                        sources=captured_slice,
                        actor=actor,
                        job_id=hold.job_id,
                        hold_id=hold_id,
                        idempotency_key=idem.key,
                        service=service,
                    )
                )
            if rest:
                entries.append(
                    LedgerEntry(
                        next(ids),
                        org_id,
                        EntryType.RELEASE,
                        rest,
                        now,
                        lots=released_slice,
                        actor=actor,
                        job_id=hold.job_id,
                        hold_id=hold_id,
                        idempotency_key=idem.key,
                        service=service,
                    )
                )
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
                        job_id=hold.job_id,
                        hold_id=hold_id,
                        idempotency_key=idem.key,
                        service=service,
                        memo="released to an expired lot",
                    )
                )
            hold_actions: list[Action] = [HoldItem.captured.add(capture)] if capture else []
            if final:
                hold_actions += [
                    HoldItem.released.add(rest),
                    HoldItem.status.set(closed.value),
                    HoldItem.gsi1pk.remove(),
                    HoldItem.gsi1sk.remove(),
                ]
            hold_condition = (
                (HoldItem.status == HoldStatus.OPEN.value)
                & (HoldItem.captured == hold.captured)
                & (HoldItem.released == hold.released)
                & (HoldItem.amount == hold.amount)
            )
            if capture:
                hold_condition &= HoldItem.expires_at > iso(now)
            if expiring:
                hold_condition &= HoldItem.expires_at <= iso(now)
            returning, wallet_condition = lot_writes.give_back(wallet, live)
            wallet_actions: list[Action] = [WalletItem.held.add(-(capture + rest)), *returning]
            wallet_condition &= WalletItem.held >= capture + rest
            settled = Hold(
                hold_id,
                org_id,
                hold.amount,
                hold.captured + capture,
                hold.released + rest,
                hold.draws,
                closed if final else HoldStatus.OPEN,
                hold.expires_at,
                hold.created_at,
                hold.job_id,
                hold.actor,
            )
            body = {
                "hold": hold_json(settled),
                "captured": capture,
                "released": rest,
                "expired": sum(dead.values()),
                "entries": [entry_json(e) for e in entries],
            }
            tx = Tx(self._connection)
            give_back = rest if give_back_limit and hold.actor and hold.cycle_id else 0
            self._settle_members(tx, org_id, actor, hold, give_back, check_member)
            tx.update("hold", HoldItem(org_pk(org_id), f"HOLD#{hold_id}"), hold_actions, hold_condition)
            tx.update("wallet", WalletItem(org_pk(org_id), WALLET_SK), wallet_actions, wallet_condition)
            if capture and hold.job_id:
                # A hold's first capture usually opens its job's record; later stages add to it.
                guess = record or JobRecord(exists=hold.captured > 0)
                charge_job(tx, org_id, hold.job_id, captured_slice, hold.actor, hold.cycle_id, guess)
            add_idem(tx, org_id, idem, body, now)
            for entry in entries:
                tx.put("ledger", ledger_item(entry))
            try:
                tx.run()
            except TxCancelled as exc:
                if "member" in exc.failed and check_member:
                    self._check_membership(org_id, actor)
                if "idem" in exc.failed:
                    return replay(org_id, idem)
                if "job" in exc.failed and hold.job_id:
                    record = self._job_record(org_id, hold.job_id)
                if {"member", "give_back"} & exc.failed.keys():
                    give_back_limit = False  # the holder left or their cycle is gone: nothing to give back
                self._backoff(exc)
                continue
            if live:
                self._cache.drop(org_id)
            return Outcome(body)
        raise Conflict("the hold kept changing; retry")

    @staticmethod
    def _settle_members(
        tx: Tx, org_id: str, actor: str, hold: Hold, give_back: int, check_member: bool
    ) -> None:
        """Authorize the settling member and give released credits back to the holder's monthly limit
        (one update when they are the same member: a transaction touches an item once)."""
        authorize = spender_condition() if check_member else None
        if give_back and hold.actor and hold.cycle_id:
            spent = MemberItem.spent[hold.cycle_id]
            condition: Condition = spent >= give_back
            if hold.actor == actor and authorize is not None:
                condition &= authorize
                authorize = None
            label = "member" if hold.actor == actor else "give_back"
            tx.update(
                label,
                MemberItem(org_pk(org_id), f"MEMBER#{hold.actor}"),
                [spent.set(spent - give_back)],
                condition,
            )
        if authorize is not None:
            tx.check("member", MemberItem, org_pk(org_id), f"MEMBER#{actor}", authorize)

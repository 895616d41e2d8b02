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

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from act3_billing.domain.errors import (
    AlreadyRefunded,
    Conflict,
    GenerationDisabled,
    HoldNotOpen,
    InsufficientCredits,
    NotFound,
    NothingToRefund,
    TooManyLots,
    WalletMissing,
)
from act3_billing.domain.holds import Hold, HoldStatus, slice_draws
from act3_billing.domain.ids import new_id, new_ids
from act3_billing.domain.ledger import EntryType, LedgerEntry, Reconciliation, reconcile
from act3_billing.domain.lots import Lot, LotKind, Wallet, plan_draw
from act3_billing.domain.roles import Membership, Permission, Role, roles_with
from act3_billing.domain.spending import Spender, require_spend, wallet_refusal
from act3_billing.domain.times import iso
from act3_billing.store import lot_writes
from act3_billing.store.cache import WalletCache, shared_cache
from act3_billing.store.cycles import hold_due_key
from act3_billing.store.debt_first import debt_first
from act3_billing.store.idempotency import Idem, Outcome, add_idem, replay, replays
from act3_billing.store.job_charges import JobRecord, charge_job, give_backs, look
from act3_billing.store.limits import refund_members
from act3_billing.store.models import (
    WALLET_SK,
    HoldItem,
    JobItem,
    LedgerItem,
    MemberItem,
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
    entry_from_item,
    entry_json,
    hold_from_item,
    hold_json,
    ledger_item,
    lot_meta,
    spender_from_item,
    wallet_from_item,
)
from act3_billing.store.tx import Tx, TxCancelled

MAX_ATTEMPTS = 40
SYSTEM_ACTOR = "system"


@dataclass
class _Plan:
    """What one attempt will write, besides the wallet's lot decrements."""

    extra: Callable[[Tx, dict[str, int], Wallet], None] = lambda tx, draw, view: None
    entries: Callable[[dict[str, int]], list[LedgerEntry]] = lambda draw: []
    body: Callable[[dict[str, int]], dict[str, Any]] = lambda draw: {}
    held_delta: int = 0
    classify: Callable[[dict[str, str]], None] = lambda failed: None


def spender_condition() -> Condition:
    """The domain's membership rule (a role that may spend, shared credits on) as a DynamoDB condition."""
    spending_roles = [role.value for role in roles_with(Permission.SPEND)]
    condition: Condition = MemberItem.role.is_in(*spending_roles) & (MemberItem.may_spend == True)  # noqa: E712
    return condition


def _split_by_life(
    wallet: Wallet | None, credits: dict[str, int], now: datetime
) -> tuple[dict[str, int], dict[str, int]]:
    """Credits going back to the lots they came from: those whose lot is still live, and the rest,
    whose lot expired or rolled over meanwhile (they expire, recorded)."""
    lots = wallet.lots_by_id if wallet is not None else {}
    live = {k: v for k, v in credits.items() if k in lots and lots[k].live_at(now)}
    return live, {k: v for k, v in credits.items() if k not in live}


def _arriving(source: Wallet, draw: dict[str, int], transfer_id: str, now: datetime) -> list[Lot]:
    """Transferred credits arrive as `transfer` lots that keep their expiry (spent in the grants' place,
    never capped): one lot per expiry, since lots of one transfer with the same expiry are
    indistinguishable in the spending order (a transfer of many lots adds a few)."""
    by_expiry: dict[datetime | None, list[str]] = {}
    for lot_id in draw:
        by_expiry.setdefault(source.lots_by_id[lot_id].expires_at, []).append(lot_id)
    arriving = []
    for n, (expires_at, lot_ids) in enumerate(by_expiry.items()):
        first = source.lots_by_id[lot_ids[0]]
        what = first.label or first.lot_id if len(lot_ids) == 1 else f"{len(lot_ids)} lots"
        credits = sum(draw[lot_id] for lot_id in lot_ids)
        label = f"transferred from {source.org_id} ({what})"
        arriving.append(
            Lot(f"xfer#{transfer_id}#{n}", LotKind.TRANSFER, credits, credits, now, expires_at, label)
        )
    return arriving


class BillingStore:
    """Repository of wallets, holds, quotes, ledger and idempotency records of one table."""

    def __init__(self, connection: Connection, cache: WalletCache | None = None) -> None:
        self._connection = connection
        self._cache = cache if cache is not None else shared_cache()

    @property
    def connection(self) -> Connection:
        return self._connection

    # ---- reads -------------------------------------------------------------------------------

    def wallet(self, org_id: str) -> Wallet:
        try:
            item = WalletItem.get(org_pk(org_id), WALLET_SK, consistent_read=True)
        except DoesNotExist:
            raise WalletMissing(f"organization {org_id} not found") from None
        wallet = wallet_from_item(item)
        self._cache.put(wallet)
        return wallet

    def membership(self, org_id: str, user_id: str) -> Membership | None:
        try:
            item = MemberItem.get(org_pk(org_id), f"MEMBER#{user_id}", consistent_read=True)
        except DoesNotExist:
            return None
        return Membership(
            org_id=org_id, user_id=user_id, role=Role(item.role), may_spend=bool(item.may_spend)
        )

    def require(self, org_id: str, user_id: str, permission: Permission) -> Membership:
        """The caller's membership, checked against the domain's rights. Non-members see `not_found`."""
        member = self.membership(org_id, user_id)
        if member is None:
            raise NotFound(f"organization {org_id} not found")
        member.require(permission)
        return member

    def hold(self, org_id: str, hold_id: str) -> Hold:
        try:
            return hold_from_item(HoldItem.get(org_pk(org_id), f"HOLD#{hold_id}", consistent_read=True))
        except DoesNotExist:
            raise NotFound(f"hold {hold_id} not found") from None

    def open_holds(self, org_id: str) -> list[Hold]:
        items = HoldItem.query(org_pk(org_id), HoldItem.sk.startswith("HOLD#"), consistent_read=True)
        return [h for h in map(hold_from_item, items) if h.status is HoldStatus.OPEN]

    def entries(self, org_id: str) -> Iterator[LedgerEntry]:
        items = LedgerItem.query(org_pk(org_id), LedgerItem.sk.startswith("LEDGER#"), consistent_read=True)
        return map(entry_from_item, items)

    def ledger_page(
        self,
        org_id: str,
        *,
        limit: int,
        after: str | None,
        entry_type: str | None = None,
        job_id: str | None = None,
        actor: str | None = None,
    ) -> tuple[list[LedgerEntry], str | None]:
        """Newest first, after the entry whose sort key is `after` (store/ledger.py)."""
        from act3_billing.store.ledger import ledger_page

        return ledger_page(
            org_id, limit=limit, after=after, entry_type=entry_type, job_id=job_id, actor=actor
        )

    def reconcile(self, org_id: str) -> Reconciliation:
        wallet = self.wallet(org_id)
        held = sum(h.remaining for h in self.open_holds(org_id))
        return reconcile(wallet, self.entries(org_id), held)

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
            debt = self.wallet(org_id).debt if pay_debt else 0
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
                LedgerEntry(
                    entry_id=entry_id,
                    org_id=org_id,
                    type=EntryType.DEBIT,
                    amount=amount,
                    created_at=now,
                    lots={k: -v for k, v in draw.items()},
                    sources=draw,
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
                LedgerEntry(
                    entry_id=new_id("le", now),
                    org_id=org_id,
                    type=EntryType.HOLD,
                    amount=amount,
                    created_at=now,
                    lots={k: -v for k, v in draw.items()},
                    sources=draw,
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
                LedgerEntry(
                    entry_id=new_id("le", now),
                    org_id=org_id,
                    type=EntryType.HOLD,
                    amount=more,
                    created_at=now,
                    lots={k: -v for k, v in draw.items()},
                    sources=draw,
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
                    LedgerEntry(
                        next(ids),
                        org_id,
                        EntryType.EXPIRE,
                        sum(dead.values()),
                        now,
                        lots={k: -v for k, v in dead.items()},
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
                    LedgerEntry(
                        next(ids),
                        org_id,
                        EntryType.EXPIRE,
                        sum(dead.values()),
                        now,
                        lots={k: -v for k, v in dead.items()},
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
            out_entry = LedgerEntry(
                new_id("le", now),
                org_id,
                EntryType.TRANSFER_OUT,
                amount,
                now,
                lots={k: -v for k, v in draw.items()},
                sources=draw,
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
            body = {
                "transfer_id": transfer_id,
                "from_org_id": org_id,
                "to_org_id": to_org_id,
                "credits": amount,
                "lots_out": draw,
                "lots_in": {lot.lot_id: lot.remaining for lot in arriving},
                "created_at": iso(now),
            }
            owner = MemberItem.role == Role.OWNER.value
            tx = Tx(self._connection)
            tx.check("member", MemberItem, org_pk(org_id), f"MEMBER#{actor}", owner)
            tx.check("member_target", MemberItem, org_pk(to_org_id), f"MEMBER#{actor}", owner)
            tx.update("wallet", WalletItem(org_pk(org_id), WALLET_SK), *lot_writes.draw(source, draw))
            tx.update("target", WalletItem(org_pk(to_org_id), WALLET_SK), *lot_writes.add(target, arriving))
            add_idem(tx, org_id, idem, body, now)
            tx.put("ledger", ledger_item(out_entry))
            tx.put("ledger", ledger_item(in_entry))
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

    # ---- internals -------------------------------------------------------------------------------

    @staticmethod
    def _job_record(org_id: str, job_id: str) -> JobRecord:
        """After a failed `job` condition: the record as it is (a guess about it was wrong), or the
        refusal when the job was refunded meanwhile."""
        record = look(org_id, job_id)
        if record.refunded_by:
            raise AlreadyRefunded(f"job {job_id} was refunded; charge it under a new job id")
        return record

    def _spend(
        self, org_id: str, *, actor: str, amount: int, idem: Idem, now: datetime, plan: _Plan
    ) -> Outcome:
        view = self._cache.get(org_id)
        fresh = view is None
        if view is None:
            view = self.wallet(org_id)
        for _ in range(MAX_ATTEMPTS):
            if wallet_refusal(view, now) is not None or view.spendable(now) < amount:
                if not fresh:
                    view, fresh = self.wallet(org_id), True
                    continue
                # The org refuses: the domain's decision with the member's side (which comes first for
                # a member whose role, toggle or limit refuses too). Only members learn why.
                self._member_refused(org_id, actor, amount, view, now)
            draw = plan_draw(view.lots, amount, now)
            if lot_writes.needs_whole(len(draw)) and not fresh:
                view, fresh = self.wallet(org_id), True  # the whole map is written from a fresh read
                continue
            tx = Tx(self._connection)
            actions, condition = lot_writes.draw(view, draw)
            if plan.held_delta:
                actions.append(WalletItem.held.add(plan.held_delta))
            tx.update("wallet", WalletItem(org_pk(org_id), WALLET_SK), actions, condition)
            self._member_spend(tx, org_id, actor, amount, view, now)
            body = plan.body(draw)
            add_idem(tx, org_id, idem, body, now)
            for entry in plan.entries(draw):
                tx.put("ledger", ledger_item(entry))
            plan.extra(tx, draw, view)
            try:
                tx.run()
            except TxCancelled as exc:
                # Authorization first: a stranger's request never gets another caller's answer.
                if "member" in exc.failed:
                    if "wallet" in exc.failed and not fresh:
                        # The cycle may have moved on: judge the limit against the fresh wallet.
                        self._check_membership(org_id, actor)
                    else:
                        self._member_refused(org_id, actor, amount, view, now)
                if "idem" in exc.failed:
                    return replay(org_id, idem)
                plan.classify(exc.failed)
                if "wallet" in exc.failed:
                    view, fresh = self.wallet(org_id), True
                    continue
                self._backoff(exc)
                continue
            self._cache.spent(org_id, draw)
            return Outcome(body)
        raise Conflict("the wallet kept changing; retry with the same Idempotency-Key")

    def _member_spend(
        self, tx: Tx, org_id: str, actor: str, amount: int, view: Wallet, now: datetime
    ) -> None:
        """Authorize the spender and count the credits against their monthly limit, in the same
        transaction: the role may spend, shared credits are on, and the limit (if any) still has room."""
        limit = self._cache.limit(org_id, actor)
        if limit is not None and amount > limit:
            # The cached limit may be old: only the member item itself may refuse.
            self._member_refused(org_id, actor, amount, view, now)
            limit = self._cache.limit(org_id, actor)
        spent = MemberItem.spent[view.cycle_id]
        condition = spender_condition()
        if limit is None:
            condition &= MemberItem.monthly_limit.does_not_exist()
        else:
            condition &= (MemberItem.monthly_limit == limit) & (
                spent.does_not_exist() | (spent <= limit - amount)
            )
        tx.update(
            "member",
            MemberItem(org_pk(org_id), f"MEMBER#{actor}"),
            [spent.set((spent | 0) + amount)],
            condition,
        )

    def spender(self, org_id: str, actor: str, cycle_id: str) -> Spender:
        """The member's side of the spending decision (non-members: `not_found`, as for no org)."""
        try:
            item = MemberItem.get(org_pk(org_id), f"MEMBER#{actor}", consistent_read=True)
        except DoesNotExist:
            raise NotFound(f"organization {org_id} not found") from None
        return spender_from_item(item, cycle_id)

    def _member_refused(self, org_id: str, actor: str, amount: int, view: Wallet, now: datetime) -> None:
        """The domain's decision on the fresh member item and `view`: raises the refusal, or returns
        when only our cached view of the member was stale."""
        spender = self.spender(org_id, actor, view.cycle_id)
        self._cache.set_limit(org_id, actor, spender.monthly_limit)
        require_spend(view, spender, amount, now)

    def _check_membership(self, org_id: str, actor: str, permission: Permission = Permission.SPEND) -> None:
        """After a failed member condition: raises when the actor may not do this, returns when a
        race (or another condition on the same item) was to blame."""
        member = self.membership(org_id, actor)
        if member is None:
            raise NotFound(f"organization {org_id} not found")
        member.require(permission)  # checks the shared-credit toggle too when spending

    @staticmethod
    def _backoff(exc: TxCancelled) -> None:
        if not exc.conflict and exc.failed:
            return
        time.sleep(random.uniform(0.001, 0.01))  # noqa: S311 - jitter, not security

"""The wallet store's shared part: reading a wallet, membership and ledger, and the spending
internals every write use case builds on (`_spend`, the member checks, retries). The write use cases
are `wallets.BillingStore` (set-up, credits in, debits), `wallet_holds` and `wallet_returns`."""

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

from act3_billing.domain.errors import (
    AlreadyRefunded,
    Conflict,
    NotFound,
    WalletMissing,
)
from act3_billing.domain.holds import Hold, HoldStatus
from act3_billing.domain.ledger import LedgerEntry, Reconciliation, reconcile
from act3_billing.domain.lots import Lot, LotKind, Wallet, plan_draw
from act3_billing.domain.roles import Membership, Permission, Role, roles_with
from act3_billing.domain.spending import Spender, require_spend, wallet_refusal
from act3_billing.store import lot_writes
from act3_billing.store.cache import WalletCache, shared_cache
from act3_billing.store.idempotency import Idem, Outcome, add_idem, replay
from act3_billing.store.job_charges import JobRecord, look
from act3_billing.store.models import (
    WALLET_SK,
    HoldItem,
    LedgerItem,
    MemberItem,
    WalletItem,
    org_pk,
)
from act3_billing.store.records import (
    entry_from_item,
    hold_from_item,
    ledger_item,
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


class WalletCore:
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

"""A Hypothesis state machine against a small model, on DynamoDB Local.

The model is a few lines of SPEC: lots with a kind and an expiry, spent monthly → bank → grants and
transfers (soonest-expiring first) → packs; holds that remember their draws and give back to the lots
they came from (or expire with them); refunds once per job; a pack clawed back leaves what was spent of
it as debt, which new credits pay first; a cycle boundary expires dead lots, drops empty ones, banks
the monthly allowance under the plan's cap (forfeiting the rest), cuts the bank to a lower cap when a
downgrade takes effect, and grants the new allowance; archive spends nothing. Random sequences of
grants, packs, claw-backs, debits, holds (reserve, extend, staged captures, release, the expiry sweep),
refunds, transfers out and in, rollovers, upgrades, downgrades, archive and time passing run against
the real store.

After every step, one consistent query of the org's partition must satisfy the independent audit
(flows, spending order, refunds, holds, members' counters, idempotency records) and equal the model
(lots, held, debt); at the end of each sequence the store's own reconciliation must pass too.

`ACT3_STATE_MACHINE_EXAMPLES` sets the number of sequences (1,000 by default, what `make test` runs).
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from act3_billing import cycles
from act3_billing.domain.audit import audit_org
from act3_billing.domain.cycles import add_months
from act3_billing.domain.errors import DomainError, GenerationDisabled, HoldExpired, InsufficientCredits
from act3_billing.domain.ledger import EntryType
from act3_billing.domain.lots import Lot, LotKind
from act3_billing.domain.roles import Role
from act3_billing.store.audit import org_items
from act3_billing.store.cycles import CycleStore
from act3_billing.store.debt import DebtStore
from act3_billing.store.idempotency import Idem
from act3_billing.store.orgs import OrgStore
from act3_billing.store.wallets import BillingStore
from tests.support.books import assert_books
from tests.support.wallets import T0, add_lot

EXAMPLES = int(os.environ.get("ACT3_STATE_MACHINE_EXAMPLES", "1000"))
STEPS = int(os.environ.get("ACT3_STATE_MACHINE_STEPS", "12"))
_RANK = {LotKind.MONTHLY: 0, LotKind.BANK: 1, LotKind.GRANT: 2, LotKind.TRANSFER: 2, LotKind.PACK: 3}
_NEVER = datetime.max.replace(tzinfo=T0.tzinfo)
CYCLE = timedelta(days=45)
# plan -> (monthly allowance, rollover cap); archive grants nothing, forfeits nothing, spends nothing
PARTNER_PACK = 1_000_000
PLANS = {"small": (150, 200), "big": (400, 700), "archive": (0, 10**9)}


@dataclass
class ModelLot:
    kind: LotKind
    remaining: int
    expires_at: datetime | None
    created_at: datetime

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    def key(self, lot_id: str) -> tuple[int, datetime, datetime, str]:
        return (_RANK[self.kind], self.expires_at or _NEVER, self.created_at, lot_id)


@dataclass
class ModelHold:
    draws: list[tuple[str, int]]
    amount: int
    used: int = 0  # captured + released
    expires_at: datetime = T0
    open: bool = True


@dataclass
class Model:
    lots: dict[str, ModelLot] = field(default_factory=dict)
    held: int = 0
    debt: int = 0
    holds: dict[str, ModelHold] = field(default_factory=dict)
    jobs: dict[str, dict[str, int]] = field(default_factory=dict)
    refunded: set[str] = field(default_factory=set)
    plan: str = "small"
    pending: str | None = None
    cycle: int = 1
    cycle_end: datetime = T0 + CYCLE

    def order(self, now: datetime) -> list[str]:
        live = [k for k, lot in self.lots.items() if lot.live(now) and lot.remaining > 0]
        return sorted(live, key=lambda k: self.lots[k].key(k))

    def draw(self, amount: int, now: datetime) -> dict[str, int] | None:
        if sum(self.lots[k].remaining for k in self.order(now)) < amount:
            return None
        draw: dict[str, int] = {}
        for k in self.order(now):
            take = min(amount, self.lots[k].remaining)
            if take:
                draw[k] = take
                self.lots[k].remaining -= take
                amount -= take
        return draw

    def give_back(self, credits: dict[str, int], now: datetime) -> None:
        for k, n in credits.items():
            if k in self.lots and self.lots[k].live(now):
                self.lots[k].remaining += n

    def repay(self, lot_id: str, now: datetime) -> None:
        lot = self.lots.get(lot_id)
        if self.debt and lot is not None and lot.live(now) and lot.remaining:
            pay = min(self.debt, lot.remaining)
            lot.remaining -= pay
            self.debt -= pay

    def boundary(self, plan: str, start: datetime, end: datetime, now: datetime) -> None:
        """SPEC §4 at a cycle start (the store's `start_cycle`, which cuts an existing bank too)."""
        allowance, cap = PLANS[plan]
        for k, lot in list(self.lots.items()):
            if lot.kind is not LotKind.MONTHLY and (not lot.live(now) or lot.remaining == 0):
                del self.lots[k]  # expired (recorded) or empty: it leaves the wallet
        old = self.lots.pop(f"monthly#c{self.cycle}", None)
        left = old.remaining if old is not None else 0
        bank = sorted(
            (k for k, lot in self.lots.items() if lot.kind is LotKind.BANK), key=lambda k: self.lots[k].key(k)
        )
        total = sum(self.lots[k].remaining for k in bank)
        banked = min(left, max(0, cap - total))
        over = total - cap
        for k in bank:
            if over <= 0:
                break
            cut = min(over, self.lots[k].remaining)
            self.lots[k].remaining -= cut
            over -= cut
            if self.lots[k].remaining == 0:
                del self.lots[k]
        if banked:
            expires = add_months(self.cycle_end, 6)
            self.lots[f"bank#c{self.cycle}"] = ModelLot(LotKind.BANK, banked, expires, now)
        self.cycle += 1
        self.plan, self.pending, self.cycle_end = plan, None, end
        if allowance:
            self.lots[f"monthly#c{self.cycle}"] = ModelLot(LotKind.MONTHLY, allowance, end, now)


def _slice(draws: list[tuple[str, int]], start: int, end: int) -> dict[str, int]:
    out: dict[str, int] = {}
    offset = 0
    for lot, n in draws:
        lo, hi = max(start, offset), min(end, offset + n)
        if hi > lo:
            out[lot] = out.get(lot, 0) + hi - lo
        offset += n
    return out


@dataclass(frozen=True)
class Orgs:
    org_id: str
    owner: str
    creator: str
    partner: str  # another org of the same owner, holding one large pack
    partner_pack: str


def _open_orgs(store: BillingStore) -> Orgs:
    """An org on the small plan in its first cycle, with an owner and a creator, and its partner org."""
    suffix = uuid.uuid4().hex[:10]
    orgs = Orgs(f"org-{suffix}", f"owner-{suffix}", f"creator-{suffix}", f"partner-{suffix}", "")
    members = OrgStore(store.connection)
    members.create_org(orgs.org_id, name="Studio", owner_id=orgs.owner, owner_email=None, now=T0)
    members.add_member(orgs.org_id, orgs.creator, Role.CREATOR, email=None, now=T0)
    members.create_org(orgs.partner, name="Partner", owner_id=orgs.owner, owner_email=None, now=T0)
    for org_id in (orgs.org_id, orgs.partner):
        store.open_wallet(
            org_id, plan_id="small", cycle_id="c1", cycle_start=T0, cycle_end=T0 + CYCLE, now=T0
        )
    allowance, cap = PLANS["small"]
    store.start_cycle(
        orgs.org_id,
        cycle_id="c1",
        cycle_start=T0,
        cycle_end=T0 + CYCLE,
        allowance=allowance,
        rollover_cap=cap,
        now=T0,
    )
    pack = add_lot(store, orgs.partner, LotKind.PACK, PARTNER_PACK, now=T0)
    return dataclasses.replace(orgs, partner_pack=pack)


class OrgPool:
    """Fresh orgs made ahead, side by side (DynamoDB Local serves several requests at once): a
    sequence starts from its own org without waiting for its set-up."""

    def __init__(self, store: BillingStore, size: int) -> None:
        self._store = store
        with ThreadPoolExecutor(max_workers=8) as pool:
            self._ready = list(pool.map(lambda _: _open_orgs(store), range(size)))

    def take(self) -> Orgs:
        return self._ready.pop() if self._ready else _open_orgs(self._store)


class Billing(RuleBasedStateMachine):
    store: BillingStore
    pool: OrgPool
    holds = Bundle("holds")
    jobs = Bundle("jobs")
    packs = Bundle("packs")

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.now = T0 + timedelta(hours=1)
        self.steps = 0
        self.partner_model = Model()
        self.hold_jobs: dict[str, str] = {}

    def key(self, what: str) -> Idem:
        self.steps += 1
        return Idem(f"{what}-{self.steps}", what, str(self.steps))

    @initialize()
    def open_org(self) -> None:
        orgs = Billing.pool.take()
        self.org_id, self.owner, self.creator = orgs.org_id, orgs.owner, orgs.creator
        self.partner, self.partner_used = orgs.partner, False
        allowance, _ = PLANS["small"]
        self.model.lots["monthly#c1"] = ModelLot(LotKind.MONTHLY, allowance, T0 + CYCLE, T0)
        self.partner_model.lots[orgs.partner_pack] = ModelLot(LotKind.PACK, PARTNER_PACK, None, T0)

    def _start(self, plan: str, start: datetime, end: datetime, now: datetime) -> None:
        allowance, cap = PLANS[plan]
        cycle = self.model.cycle + 1
        self.store.start_cycle(
            self.org_id,
            cycle_id=f"c{cycle}",
            cycle_start=start,
            cycle_end=end,
            allowance=allowance,
            rollover_cap=cap,
            now=now,
            plan_id=plan,
            generation_enabled=plan != "archive",
        )
        self.model.boundary(plan, start, end, now)
        self.model.repay(f"monthly#c{cycle}", now)  # the new allowance pays the debt first, in the boundary

    @property
    def spending(self) -> bool:
        return self.model.plan != "archive"

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    # ---- time, cycles and plans --------------------------------------------------------------------

    @rule(days=st.integers(0, 20), hours=st.integers(0, 23))
    def time_passes(self, days: int, hours: int) -> None:
        self.now += timedelta(days=days, hours=hours)

    @rule()
    def rollover(self) -> None:
        """The schedule at the cycle end: a pending downgrade (or archive) takes effect."""
        self.now = max(self.now, self.model.cycle_end) + timedelta(seconds=1)
        start = self.model.cycle_end
        self._start(self.model.pending or self.model.plan, start, start + CYCLE, self.now)

    @rule(plan=st.sampled_from(sorted(PLANS)))
    def change_plan(self, plan: str) -> None:
        """Up (or out of archive) at once, in a new cycle; down (or into archive) at the cycle end."""
        now = self.tick()
        if plan == self.model.plan:
            self.model.pending = None
        elif self.model.plan == "archive" or PLANS[plan][0] > PLANS[self.model.plan][0]:
            self._start(plan, now, now + CYCLE, now)
        else:
            self.model.pending = plan

    # ---- credits coming in and going back ------------------------------------------------------

    @rule(target=packs, credits=st.integers(1, 400), days=st.integers(1, 90), pack=st.booleans())
    def credits_arrive(self, credits: int, days: int, pack: bool) -> str:
        now = self.tick()
        kind = LotKind.PACK if pack else LotKind.GRANT
        expires = None if pack else now + timedelta(days=days)
        lot = f"{kind.value}#{uuid.uuid4().hex[:8]}"
        self.store.add_lot(  # as a paid pack or a grant arrives: paying the debt first, in one transaction
            self.org_id,
            Lot(lot, kind, credits, credits, now, expires, "model"),
            entry_type=EntryType.PACK_PURCHASE if pack else EntryType.GRANT,
            idem=self.key("lot"),
            now=now,
            pay_debt=True,
        )
        self.model.lots[lot] = ModelLot(kind, credits, expires, now)
        self.model.repay(lot, now)
        return f"{lot}|{credits}" if pack else ""

    @rule(pack=consumes(packs))
    def pack_refunded(self, pack: str) -> None:
        """A refunded or disputed pack: what is left of it goes back, what was spent becomes debt."""
        if not pack:
            return
        now = self.tick()
        lot_id, credits = pack.split("|")
        out = DebtStore(self.store.connection, self.store).claw_back(
            self.org_id,
            lot_id=lot_id,
            credits=int(credits),
            idem=self.key("clawback"),
            now=now,
            memo="refunded",
        )
        assert out is not None
        lot = self.model.lots.get(lot_id)
        take = min(int(credits), lot.remaining if lot is not None else 0)
        if lot is not None:
            lot.remaining -= take
        self.model.debt += int(credits) - take
        assert (out.body["clawed_back"], out.body["debt_added"]) == (take, int(credits) - take)

    # ---- spending ----------------------------------------------------------------------------------

    def _refused(self, exc: DomainError, expected: dict[str, int] | None) -> None:
        if isinstance(exc, GenerationDisabled):
            assert not self.spending, "refused while the plan may spend"
        else:
            assert isinstance(exc, InsufficientCredits) and self.spending and expected is None

    @rule(target=jobs, amount=st.integers(1, 600))
    def debit(self, amount: int) -> str:
        now = self.tick()
        job = f"job-{uuid.uuid4().hex[:8]}"
        expected = self.model.draw(amount, now) if self.spending else None
        try:
            out = self.store.debit(
                self.org_id,
                actor=self.creator,
                amount=amount,
                job_id=job,
                idem=self.key("debit"),
                now=now,
                rate_card_version="model",
            )
        except (InsufficientCredits, GenerationDisabled) as exc:
            self._refused(exc, expected)
            return job
        assert expected is not None and out.body["lots"] == expected
        self.model.jobs[job] = dict(expected)
        return job

    @rule(target=holds, amount=st.integers(1, 500), minutes=st.integers(1, 3 * 24 * 60))
    def hold(self, amount: int, minutes: int) -> str:
        now = self.tick()
        expected = self.model.draw(amount, now) if self.spending else None
        job = f"render-{uuid.uuid4().hex[:8]}"
        try:
            out = self.store.place_hold(
                self.org_id,
                actor=self.creator,
                amount=amount,
                job_id=job,
                expires_at=now + timedelta(minutes=minutes),
                idem=self.key("hold"),
                now=now,
            )
        except (InsufficientCredits, GenerationDisabled) as exc:
            self._refused(exc, expected)
            return ""
        assert expected is not None and out.body["lots"] == expected
        hold_id = str(out.body["hold_id"])
        self.model.holds[hold_id] = ModelHold(
            list(expected.items()), amount, 0, now + timedelta(minutes=minutes)
        )
        self.model.held += amount
        self.model.jobs.setdefault(job, {})
        self.hold_jobs[hold_id] = job
        return hold_id

    @rule(hold_id=holds, more=st.integers(1, 200))
    def extend(self, hold_id: str, more: int) -> None:
        hold = self.model.holds.get(hold_id)
        now = self.tick()
        if hold is None or not hold.open or now >= hold.expires_at:
            return
        expected = self.model.draw(more, now) if self.spending else None
        try:
            self.store.extend_hold(
                self.org_id,
                actor=self.creator,
                hold_id=hold_id,
                more=more,
                expires_at=None,
                idem=self.key("extend"),
                now=now,
            )
        except (InsufficientCredits, GenerationDisabled) as exc:
            self._refused(exc, expected)
            return
        assert expected is not None
        hold.draws += list(expected.items())
        hold.amount += more
        self.model.held += more

    def _settle(
        self, hold_id: str, hold: ModelHold, credits: int, final: bool, now: datetime
    ) -> dict[str, int]:
        left = hold.amount - hold.used
        rest = left - credits if final else 0
        captured = _slice(hold.draws, hold.used, hold.used + credits)
        self.model.give_back(_slice(hold.draws, hold.used + credits, hold.used + credits + rest), now)
        hold.used += credits + rest
        self.model.held -= credits + rest
        hold.open = not final
        job = self.model.jobs.get(self.hold_jobs.get(hold_id, ""))
        if job is not None:
            for lot, n in captured.items():
                job[lot] = job.get(lot, 0) + n
        return {"captured": credits, "released": rest}

    @rule(hold_id=holds, share=st.floats(0, 1), final=st.booleans())
    def capture(self, hold_id: str, share: float, final: bool) -> None:
        hold = self.model.holds.get(hold_id)
        now = self.tick()
        if hold is None or not hold.open:
            return
        credits = int((hold.amount - hold.used) * share)
        if credits == 0 and not final:
            return
        try:
            out = self.store.settle_hold(
                self.org_id,
                actor=self.creator,
                hold_id=hold_id,
                capture=credits,
                final=final,
                idem=self.key("settle"),
                now=now,
            )
        except HoldExpired:
            assert credits and now >= hold.expires_at
            return
        assert not (credits and now >= hold.expires_at), "a capture after expiry went through"
        expected = self._settle(hold_id, hold, credits, final, now)
        assert (out.body["captured"], out.body["released"]) == (expected["captured"], expected["released"])

    @rule()
    def expiry_sweep(self) -> None:
        """The schedule releases every open hold past its expiry (to its lots, or expired with them)."""
        now = self.tick()
        sweep = CycleStore(self.store)
        for hold_id, hold in self.model.holds.items():
            if hold.open and now >= hold.expires_at:
                assert cycles.expire_hold(sweep, self.org_id, hold_id, now) is not None
                self._settle(hold_id, hold, 0, True, now)

    @rule(hold_id=holds)
    def refund_render(self, hold_id: str) -> None:
        """A failed render: its settled hold's captures are refunded, once."""
        hold = self.model.holds.get(hold_id)
        if hold is not None and not hold.open:
            self.refund(self.hold_jobs[hold_id])

    @rule(job=consumes(jobs))
    def refund_job(self, job: str) -> None:
        self.refund(job)

    def refund(self, job: str) -> None:
        now = self.tick()
        charged = {k: n for k, n in self.model.jobs.get(job, {}).items() if n}
        if not charged or job in self.model.refunded:
            return
        out = self.store.refund_job(
            self.org_id,
            actor=self.owner,
            job_id=job,
            idem=self.key("refund"),
            now=now,
            service="service:usage-meter",  # refunds are the usage meter's (SPEC §12)
        )
        live = {k: n for k, n in charged.items() if k in self.model.lots and self.model.lots[k].live(now)}
        assert out.body["lots"] == live
        self.model.give_back(charged, now)
        self.model.refunded.add(job)

    # ---- transfers -------------------------------------------------------------------------------

    def _partner(self) -> str:
        """Another org of the same owner, with a large pack."""
        self.partner_used = True
        return self.partner

    @rule(amount=st.integers(1, 300))
    def transfer_out(self, amount: int) -> None:
        now = self.tick()
        expected = self.model.draw(amount, now) if self.spending else None
        try:
            out = self.store.transfer(
                self.org_id,
                to_org_id=self._partner(),
                actor=self.owner,
                amount=amount,
                idem=self.key("out"),
                now=now,
            )
        except (InsufficientCredits, GenerationDisabled) as exc:
            self._refused(exc, expected)
            return
        assert expected is not None and out.body["lots_out"] == expected
        self._arrive(
            self.model, self.partner_model, expected, str(out.body["transfer_id"]), out.body["lots_in"], now
        )

    @staticmethod
    def _arrive(
        source: Model,
        target: Model,
        draw: dict[str, int],
        transfer_id: str,
        lots_in: dict[str, int],
        now: datetime,
    ) -> None:
        """Credits arrive as `transfer` lots keeping their expiry: one lot per expiry, in draw order."""
        groups: dict[datetime | None, int] = {}
        for lot_id, n in draw.items():
            expires = source.lots[lot_id].expires_at
            groups[expires] = groups.get(expires, 0) + n
        arriving = {f"xfer#{transfer_id}#{i}": (n, expires) for i, (expires, n) in enumerate(groups.items())}
        assert lots_in == {k: n for k, (n, _) in arriving.items()}
        for lot_id, (n, expires) in arriving.items():
            target.lots[lot_id] = ModelLot(LotKind.TRANSFER, n, expires, now)
        # They pay the receiving org's debt first, soonest-expiring first, in the transfer's transaction.
        for lot_id in sorted(arriving, key=lambda k: (arriving[k][1] or _NEVER, k)):
            target.repay(lot_id, now)

    @rule(amount=st.integers(1, 300))
    def transfer_in(self, amount: int) -> None:
        now = self.tick()
        partner = self._partner()
        expected = self.partner_model.draw(amount, now)
        out = self.store.transfer(
            partner, to_org_id=self.org_id, actor=self.owner, amount=amount, idem=self.key("in"), now=now
        )
        assert expected is not None and out.body["lots_out"] == expected
        self._arrive(
            self.partner_model, self.model, expected, str(out.body["transfer_id"]), out.body["lots_in"], now
        )

    # ---- after every step ----------------------------------------------------------------------------

    @precondition(lambda self: hasattr(self, "org_id"))
    @invariant()
    def books_and_model_agree(self) -> None:
        """One consistent query: the independent audit passes, and the wallet is the model."""
        items = org_items(self.store.connection, self.org_id)
        report = audit_org(items)
        assert report.ok, report.findings
        stored = {str(k): int(v["remaining"]) for k, v in items.wallet["lots"].items() if int(v["remaining"])}
        modelled = {k: lot.remaining for k, lot in self.model.lots.items() if lot.remaining}
        assert stored == modelled
        assert int(items.wallet.get("held", 0)) == self.model.held
        assert int(items.wallet.get("debt") or 0) == self.model.debt

    def teardown(self) -> None:
        """The store's own reconciliation of the org (the audit ran after the last step), and the books
        of the partner org if transfers touched it."""
        if hasattr(self, "org_id"):
            reconciliation = self.store.reconcile(self.org_id)
            assert reconciliation.ok, reconciliation.problems
            if self.partner_used:
                assert_books(self.store, self.partner)


def test_random_histories_match_the_model(ddb_store: BillingStore) -> None:
    Billing.store = ddb_store
    Billing.pool = OrgPool(ddb_store, EXAMPLES)
    Billing.TestCase.settings = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=os.environ.get("CI") == "true",
        suppress_health_check=list(HealthCheck),
    )
    try:
        Billing.TestCase().runTest()
    except DomainError as exc:  # pragma: no cover - a refusal the model did not expect
        raise AssertionError(f"unexpected refusal: {exc.code}: {exc.detail}") from exc


def test_a_hold_extended_after_an_upgrade_counts_in_the_cycle_of_the_extension(
    ddb_store: BillingStore,
) -> None:
    """The sequence the machine found (CI, derandomized): the extension of a hold placed before an
    upgrade counts in the new cycle's spent counter, and the audit agrees."""
    Billing.store = ddb_store
    Billing.pool = OrgPool(ddb_store, 1)
    state = Billing()
    state.open_org()
    state.books_and_model_agree()
    hold_id = state.hold(amount=1, minutes=1)
    state.books_and_model_agree()
    state.change_plan(plan="big")
    state.books_and_model_agree()
    state.extend(hold_id=hold_id, more=1)
    state.books_and_model_agree()
    state.teardown()

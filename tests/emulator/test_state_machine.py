"""A Hypothesis state machine against a small model, on DynamoDB Local.

The model is a few lines of SPEC: lots with a kind and an expiry, spent monthly → bank → grants
(soonest-expiring first) → packs; holds that remember their draws and give back to the lots they came
from (or expire with them); refunds once per job. Random sequences of grants, packs, debits, holds
(reserve, extend, staged captures, release, past expiry), refunds, transfers and time passing run
against the real store; after every step the wallet equals the model, and at the end of each
sequence the independent audit passes.

`ACT3_STATE_MACHINE_EXAMPLES` sets the number of sequences (200 by default: `make test` must fit CI).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule

from act3_billing.domain.errors import DomainError, HoldExpired, InsufficientCredits
from act3_billing.domain.lots import LotKind
from act3_billing.domain.roles import Role
from act3_billing.store.audit import audit
from act3_billing.store.idempotency import Idem
from act3_billing.store.orgs import OrgStore
from act3_billing.store.wallets import BillingStore
from tests.support.wallets import T0, Org, add_lot, new_org

EXAMPLES = int(os.environ.get("ACT3_STATE_MACHINE_EXAMPLES", "200"))
_RANK = {LotKind.MONTHLY: 0, LotKind.BANK: 1, LotKind.GRANT: 2, LotKind.PACK: 3}


@dataclass
class ModelLot:
    kind: LotKind
    remaining: int
    expires_at: datetime | None
    created_at: datetime

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


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
    holds: dict[str, ModelHold] = field(default_factory=dict)
    jobs: dict[str, dict[str, int]] = field(default_factory=dict)
    refunded: set[str] = field(default_factory=set)

    def order(self, now: datetime) -> list[str]:
        live = [k for k, lot in self.lots.items() if lot.live(now) and lot.remaining > 0]
        return sorted(
            live,
            key=lambda k: (
                _RANK[self.lots[k].kind],
                self.lots[k].expires_at or datetime.max.replace(tzinfo=T0.tzinfo),
                self.lots[k].created_at,
                k,
            ),
        )

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


def _slice(draws: list[tuple[str, int]], start: int, end: int) -> dict[str, int]:
    out: dict[str, int] = {}
    offset = 0
    for lot, n in draws:
        lo, hi = max(start, offset), min(end, offset + n)
        if hi > lo:
            out[lot] = out.get(lot, 0) + hi - lo
        offset += n
    return out


class Billing(RuleBasedStateMachine):
    store: BillingStore
    receiver: Org  # where transfers go: one org for every sequence
    holds = Bundle("holds")
    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.now = T0 + timedelta(hours=1)
        self.steps = 0

    def key(self, what: str) -> Idem:
        self.steps += 1
        return Idem(f"{what}-{self.steps}", what, str(self.steps))

    @initialize()
    def open_org(self) -> None:
        self.org = new_org(self.store, monthly=200, cap=1_000, cycle_days=60)
        self.model.lots["monthly#c1"] = ModelLot(LotKind.MONTHLY, 200, T0 + timedelta(days=60), T0)
        self.other = Billing.receiver
        OrgStore(self.store.connection).add_member(
            self.other.org_id, self.org.owner, Role.OWNER, email=None, now=self.now
        )

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    @rule(days=st.integers(0, 20), hours=st.integers(0, 23))
    def time_passes(self, days: int, hours: int) -> None:
        self.now += timedelta(days=days, hours=hours)

    @rule(credits=st.integers(1, 400), days=st.integers(1, 30), pack=st.booleans())
    def credits_arrive(self, credits: int, days: int, pack: bool) -> None:
        now = self.tick()
        kind = LotKind.PACK if pack else LotKind.GRANT
        expires = None if pack else now + timedelta(days=days)
        lot = add_lot(self.store, self.org.org_id, kind, credits, expires_at=expires, now=now)
        self.model.lots[lot] = ModelLot(kind, credits, expires, now)

    @rule(target=jobs, amount=st.integers(1, 600))
    def debit(self, amount: int) -> str:
        now = self.tick()
        job = f"job-{uuid.uuid4().hex[:8]}"
        expected = self.model.draw(amount, now)
        try:
            out = self.store.debit(
                self.org.org_id,
                actor=self.org.creator,
                amount=amount,
                job_id=job,
                idem=self.key("debit"),
                now=now,
                rate_card_version="model",
            )
        except InsufficientCredits:
            assert expected is None
            return job
        assert expected is not None and out.body["lots"] == expected
        self.model.jobs[job] = dict(expected)
        return job

    @rule(target=holds, amount=st.integers(1, 500), minutes=st.integers(1, 3 * 24 * 60))
    def hold(self, amount: int, minutes: int) -> str:
        now = self.tick()
        expected = self.model.draw(amount, now)
        try:
            out = self.store.place_hold(
                self.org.org_id,
                actor=self.org.creator,
                amount=amount,
                job_id=f"render-{uuid.uuid4().hex[:8]}",
                expires_at=now + timedelta(minutes=minutes),
                idem=self.key("hold"),
                now=now,
            )
        except InsufficientCredits:
            assert expected is None
            return ""
        assert expected is not None and out.body["lots"] == expected
        hold_id = str(out.body["hold_id"])
        self.model.holds[hold_id] = ModelHold(
            list(expected.items()), amount, 0, now + timedelta(minutes=minutes)
        )
        self.model.held += amount
        return hold_id

    def _hold(self, hold_id: str) -> ModelHold | None:
        return self.model.holds.get(hold_id)

    @rule(hold_id=holds, more=st.integers(1, 200))
    def extend(self, hold_id: str, more: int) -> None:
        hold = self._hold(hold_id)
        now = self.tick()
        if hold is None or not hold.open or now >= hold.expires_at:
            return
        expected = self.model.draw(more, now)
        try:
            self.store.extend_hold(
                self.org.org_id,
                actor=self.org.creator,
                hold_id=hold_id,
                more=more,
                expires_at=None,
                idem=self.key("extend"),
                now=now,
            )
        except InsufficientCredits:
            assert expected is None
            return
        assert expected is not None
        hold.draws += list(expected.items())
        hold.amount += more
        self.model.held += more

    @rule(hold_id=holds, share=st.floats(0, 1), final=st.booleans())
    def capture(self, hold_id: str, share: float, final: bool) -> None:
        hold = self._hold(hold_id)
        now = self.tick()
        if hold is None or not hold.open:
            return
        left = hold.amount - hold.used
        credits = int(left * share)
        if credits == 0 and not final:
            return
        try:
            out = self.store.settle_hold(
                self.org.org_id,
                actor=self.org.creator,
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
        rest = left - credits if final else 0
        self.model.give_back(_slice(hold.draws, hold.used + credits, hold.used + credits + rest), now)
        hold.used += credits + rest
        self.model.held -= credits + rest
        hold.open = not final
        assert out.body["captured"] == credits and out.body["released"] == rest

    @rule(job=consumes(jobs))
    def refund(self, job: str) -> None:
        now = self.tick()
        if job not in self.model.jobs or job in self.model.refunded:
            return
        out = self.store.refund_job(
            self.org.org_id,
            actor=self.org.owner,
            job_id=job,
            idem=self.key("refund"),
            now=now,
            service="service:usage-meter",  # refunds are the usage meter's (SPEC §12)
        )
        charged = self.model.jobs[job]
        live = {k: n for k, n in charged.items() if k in self.model.lots and self.model.lots[k].live(now)}
        assert out.body["lots"] == live
        self.model.give_back(charged, now)
        self.model.refunded.add(job)

    @rule(amount=st.integers(1, 300))
    def transfer_out(self, amount: int) -> None:
        now = self.tick()
        expected = self.model.draw(amount, now)
        try:
            out = self.store.transfer(
                self.org.org_id,
                to_org_id=self.other.org_id,
                actor=self.org.owner,
                amount=amount,
                idem=self.key("transfer"),
                now=now,
            )
        except InsufficientCredits:
            assert expected is None
            return
        assert out.body["lots_out"] == expected

    @invariant()
    def wallet_is_the_model(self) -> None:
        if not hasattr(self, "org"):
            return
        wallet = self.store.wallet(self.org.org_id)
        stored = {lot.lot_id: lot.remaining for lot in wallet.lots if lot.remaining}
        modelled = {k: lot.remaining for k, lot in self.model.lots.items() if lot.remaining}
        assert stored == modelled
        assert wallet.held == self.model.held

    def teardown(self) -> None:
        if hasattr(self, "org"):
            for org_id in (self.org.org_id, self.other.org_id):
                report = audit(self.store.connection, org_id)
                assert report.ok, report.findings


def test_random_histories_match_the_model(ddb_store: BillingStore) -> None:
    Billing.store = ddb_store
    Billing.receiver = new_org(ddb_store, monthly=0)
    try:
        Billing.TestCase.settings = settings(
            max_examples=EXAMPLES,
            stateful_step_count=10,
            deadline=None,
            derandomize=os.environ.get("CI") == "true",
            suppress_health_check=list(HealthCheck),
        )
        Billing.TestCase().runTest()
    except DomainError as exc:  # pragma: no cover - a refusal the model did not expect
        raise AssertionError(f"unexpected refusal: {exc.code}: {exc.detail}") from exc

"""Model-based test of billing cycles on DynamoDB Local.

Three orgs of one owner (a trial activated at once, a paid creator org, a personal org whose LinkedIn
sign-in comes late) live through more than twelve cycles of random debits, holds (captured, released
or left to expire), transfers, upgrades, scheduled downgrades, archive and re-upgrade, with paid
cycles granted before or after the schedule. A plain-Python model of the rules (SPEC §4, §5, §12)
predicts every lot; after every step the store must agree with it, reconcile, keep the bank under its
cap, hold nothing past its life, and have sent each usage alert exactly once.
"""

from __future__ import annotations

import os
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from act3_billing import cycles
from act3_billing.domain.cycles import BANK_LIFETIME_CYCLES, add_months, anchored_end
from act3_billing.domain.errors import DomainError
from act3_billing.domain.ledger import LedgerEntry, reconcile
from act3_billing.domain.lots import LotKind
from act3_billing.domain.plans import default_catalog
from act3_billing.domain.times import iso
from act3_billing.notifications import Notifications, usage_alerts
from act3_billing.store.alerts import AlertMarkers
from act3_billing.store.cycles import CycleStore
from act3_billing.store.idempotency import Idem
from act3_billing.store.models import LedgerItem, org_pk
from act3_billing.store.orgs import OrgStore
from act3_billing.store.records import entry_from_item
from act3_billing.store.wallets import BillingStore
from tests.support.wallets import T0

CATALOG = default_catalog()
OWNER = "boss"
_RANK = {"monthly": 0, "bank": 1, "grant": 2, "transfer": 2, "pack": 3}
_NEVER = datetime.max.replace(tzinfo=T0.tzinfo)


@dataclass
class MLot:
    kind: str
    remaining: int
    expires_at: datetime | None
    created: int  # model order, for ties
    granted: int = 0

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    def key(self) -> tuple[int, datetime, int]:
        return (_RANK[self.kind], self.expires_at or _NEVER, self.created)


@dataclass
class MOrg:
    org_id: str
    plan: str
    cycle_start: datetime
    cycle_end: datetime
    anchor: datetime
    lots: dict[str, MLot] = field(default_factory=dict)
    held: dict[str, dict[str, int]] = field(default_factory=dict)  # hold id -> lot -> credits
    hold_expiry: dict[str, datetime] = field(default_factory=dict)
    pending: str | None = None
    archived: bool = False
    trial_ends: datetime | None = None
    active: bool = True  # the trial was activated
    granted: bool = False  # this cycle's allowance came
    via_archive_until: datetime | None = None  # bank may exceed the cap until these lots expire
    usage_alerts: set[tuple[str, str]] = field(default_factory=set)
    boundaries: int = 0

    def can_spend(self, now: datetime) -> bool:
        if self.archived or not self.active:
            return False
        return not (self.plan == "starter_trial" and self.trial_ends is not None and now >= self.trial_ends)

    def monthly(self) -> MLot | None:
        return next((lot for lot in self.lots.values() if lot.kind == "monthly"), None)

    def add(self, lot: MLot) -> None:
        self.lots[f"{lot.kind}{lot.created}"] = lot


class Model:
    def __init__(self) -> None:
        self.counter = 0

    def lot(self, kind: str, credits: int, expires: datetime | None) -> MLot:
        self.counter += 1
        return MLot(kind, credits, expires, self.counter, credits)

    def draw(self, org: MOrg, amount: int, now: datetime) -> dict[str, int] | None:
        order = sorted(
            ((k, lot) for k, lot in org.lots.items() if lot.live(now) and lot.remaining > 0),
            key=lambda kl: kl[1].key(),
        )
        if sum(lot.remaining for _, lot in order) < amount:
            return None
        out: dict[str, int] = {}
        for k, lot in order:
            take = min(amount, lot.remaining)
            if take:
                out[k] = take
                amount -= take
        return out

    @staticmethod
    def take(org: MOrg, draw: dict[str, int]) -> None:
        for k, n in draw.items():
            org.lots[k].remaining -= n

    def give_back(self, org: MOrg, credits: dict[str, int], now: datetime) -> None:
        for k, n in credits.items():
            if k in org.lots and org.lots[k].live(now):
                org.lots[k].remaining += n

    def boundary(
        self,
        org: MOrg,
        *,
        start: datetime,
        end: datetime,
        anchor: datetime,
        plan: str,
        grant: bool,
        now: datetime,
        cut_existing: bool = False,
        archive: bool = False,
    ) -> None:
        old_plan = org.plan
        org.boundaries += 1
        for k in [k for k, lot in org.lots.items() if lot.kind != "monthly" and not lot.live(now)]:
            del org.lots[k]
        for k in [k for k, lot in org.lots.items() if lot.kind != "monthly" and lot.remaining == 0]:
            del org.lots[k]
        old = org.monthly()
        if old is not None:
            org.lots = {k: lot for k, lot in org.lots.items() if lot is not old}
        left = old.remaining if old else 0
        bank = sorted(
            ((k, lot) for k, lot in org.lots.items() if lot.kind == "bank"), key=lambda kl: kl[1].key()
        )
        bank_total = sum(lot.remaining for _, lot in bank)
        no_cap = archive or old_plan == "archive"
        cap = bank_total + left if no_cap else int(CATALOG.get(plan).rollover_cap or 0)
        banked = min(left, max(0, cap - bank_total))
        over = bank_total - cap if cut_existing else 0
        for k, lot in bank:
            if over <= 0:
                break
            cut = min(over, lot.remaining)
            lot.remaining -= cut
            over -= cut
            if lot.remaining == 0:
                del org.lots[k]
        if banked:
            expiry = org.cycle_end
            for _ in range(BANK_LIFETIME_CYCLES):
                expiry = anchored_end(org.anchor, expiry)
            org.add(self.lot("bank", banked, expiry))
        if no_cap:  # kept through archive: the bank may exceed a later plan's cap until it expires
            expiries = [lot.expires_at for lot in org.lots.values() if lot.kind == "bank" and lot.expires_at]
            org.via_archive_until = max([org.via_archive_until or start, *expiries])
        trial_live = plan != "starter_trial" or (org.trial_ends is not None and start < org.trial_ends)
        allowance = int(CATALOG.get(plan).monthly_credits or 0)
        org.granted = False
        if grant and trial_live and allowance:
            org.add(self.lot("monthly", allowance, end))
            org.granted = True
        org.plan, org.cycle_start, org.cycle_end, org.anchor = plan, start, end, anchor
        org.archived = archive or (plan == "archive")
        org.pending = None

    def scheduled(self, org: MOrg, now: datetime) -> None:
        while now >= org.cycle_end and org.active:
            plan = org.pending or org.plan
            old_cap = CATALOG.get(org.plan).rollover_cap or 0
            new_cap = CATALOG.get(plan).rollover_cap or 0
            self.boundary(
                org,
                start=org.cycle_end,
                end=anchored_end(org.anchor, org.cycle_end),
                anchor=org.anchor,
                plan=plan,
                grant=CATALOG.get(plan).price_cents == 0,
                now=now,
                cut_existing=plan != org.plan and new_cap < old_cap,
                archive=plan == "archive",
            )


def _totals(lots: Any) -> dict[tuple[str, datetime | None], int]:
    out: dict[tuple[str, datetime | None], int] = {}
    for kind, expires, remaining in lots:
        if remaining:
            out[(kind, expires)] = out.get((kind, expires), 0) + remaining
    return out


@dataclass
class Recorder:
    events: list[tuple[str, str]] = field(default_factory=list)

    def put(self, detail_type: str, detail: dict[str, Any], now: datetime) -> None:
        self.events.append((detail["org_id"], f"{detail['kind']}:{detail['threshold']}:{detail['period']}"))

    def send(self, to: str, subject: str, text: str) -> str:
        return "mail"


class World:
    def __init__(self, store: BillingStore, seed: int) -> None:
        self.store = store
        self.cycles = CycleStore(store)
        self.rng = random.Random(seed)
        self.model = Model()
        self.bus = Recorder()
        self.notifier = Notifications(
            AlertMarkers(), self.bus, self.bus, lambda org: ("Org", [f"{OWNER}@x.example"])
        )
        self.now = T0
        self.orgs: dict[str, MOrg] = {}
        self.n = 0
        self.log: list[str] = []
        self.settled = 0
        self.ledgers: dict[str, dict[str, LedgerEntry]] = {}
        self.ledger_since: dict[str, str] = {}
        run = uuid.uuid4().hex[:6]
        orgs = OrgStore(store.connection)
        for name in ("trial", "paid", "late"):
            org_id = f"model-{run}-{name}"
            orgs.create_org(org_id, name=name, owner_id=OWNER, owner_email=None, now=T0)
            plan = "creator" if name == "paid" else "starter_trial"
            store.open_wallet(
                org_id,
                plan_id=plan,
                cycle_id="c0",
                cycle_start=T0,
                cycle_end=add_months(T0, 1),
                now=T0,
                generation_enabled=name == "paid",
            )
            self.orgs[name] = MOrg(org_id, plan, T0, add_months(T0, 1), T0, active=name == "paid")
        cycles.activate_trial(self.cycles, self.orgs["trial"].org_id, T0)
        self.activate(self.orgs["trial"])
        self.pay(self.orgs["paid"], self.now, add_months(self.now, 1))

    def key(self, what: str) -> Idem:
        self.n += 1
        return Idem(f"{what}-{self.n}", what, str(self.n))

    # ---- actions, each applied to the store and to the model --------------------------------------

    def activate(self, org: MOrg) -> None:
        org.active, org.trial_ends = True, add_months(self.now, 6)
        self.model.boundary(
            org,
            start=self.now,
            end=add_months(self.now, 1),
            anchor=self.now,
            plan="starter_trial",
            grant=True,
            now=self.now,
        )

    def pay(self, org: MOrg, start: datetime, end: datetime) -> None:
        """`invoice.paid` for [start, end): grants the cycle it falls in, or starts the next one."""
        cycles.grant_paid_cycle(
            self.cycles, org.org_id, start, end, org.plan, f"in-{self.n}-{org.org_id}", self.now
        )
        self.n += 1
        if abs(start - org.cycle_start) <= timedelta(hours=1):
            if not org.granted:
                org.add(self.model.lot("monthly", int(CATALOG.get(org.plan).monthly_credits or 0), end))
                org.cycle_end, org.granted = end, True
        elif start > org.cycle_start:
            self.model.boundary(
                org, start=start, end=end, anchor=start, plan=org.plan, grant=True, now=self.now
            )

    def after_spend(self, org: MOrg) -> None:
        view = self.store.cached(org.org_id)
        assert view is not None
        for alert in usage_alerts(view):
            self.notifier.notify(alert, self.now)
        monthly = org.monthly()
        if monthly is not None:
            granted = monthly.granted
            used = granted - monthly.remaining
            for t in (75, 90, 100):
                if granted and used * 100 >= t * granted:
                    org.usage_alerts.add((view.cycle_id, str(t)))

    def debit(self, org: MOrg, amount: int) -> None:
        draw = self.model.draw(org, amount, self.now) if org.can_spend(self.now) else None
        try:
            self.store.debit(
                org.org_id,
                actor=OWNER,
                amount=amount,
                job_id=f"j{self.n}",
                idem=self.key("debit"),
                now=self.now,
                rate_card_version="v",
            )
        except DomainError as refusal:
            assert draw is None, f"refused {refusal.code} but the model draws {draw}"
            return
        assert draw is not None, "the store spent what the model refuses"
        self.model.take(org, draw)
        self.after_spend(org)

    def hold(self, org: MOrg, amount: int) -> None:
        draw = self.model.draw(org, amount, self.now) if org.can_spend(self.now) else None
        ttl = timedelta(hours=self.rng.choice([30, 200, 400]))
        try:
            out = self.store.place_hold(
                org.org_id,
                actor=OWNER,
                amount=amount,
                job_id=None,
                expires_at=self.now + ttl,
                idem=self.key("hold"),
                now=self.now,
            )
        except DomainError:
            assert draw is None
            return
        assert draw is not None
        self.model.take(org, draw)
        org.held[out.body["hold_id"]] = dict(draw)
        org.hold_expiry[out.body["hold_id"]] = self.now + ttl
        self.after_spend(org)

    def settle(self) -> str | None:
        """Capture part or all of an open hold (of any org), and release the rest."""
        open_ = [(o, h) for o in self.orgs.values() for h, exp in o.hold_expiry.items() if self.now < exp]
        if not open_:
            return None
        self.settled += 1
        org, hold_id = self.rng.choice(open_)
        draws = org.held.pop(hold_id)
        org.hold_expiry.pop(hold_id)
        total = sum(draws.values())
        captured = self.rng.choice([0, total // 2, total // 2, total])
        self.store.settle_hold(
            org.org_id,
            actor=OWNER,
            hold_id=hold_id,
            capture=captured,
            final=True,
            idem=self.key("settle"),
            now=self.now,
        )
        rest, left = {}, captured
        for k, n in draws.items():  # captures consume the held credits from the front
            used = min(left, n)
            left -= used
            if n - used:
                rest[k] = n - used
        self.model.give_back(org, rest, self.now)
        return org.org_id

    def transfer(self, source: MOrg, target: MOrg, amount: int) -> None:
        draw = self.model.draw(source, amount, self.now) if source.can_spend(self.now) else None
        try:
            self.store.transfer(
                source.org_id,
                to_org_id=target.org_id,
                actor=OWNER,
                amount=amount,
                idem=self.key("xfer"),
                now=self.now,
            )
        except DomainError:
            assert draw is None
            return
        assert draw is not None
        for k, n in draw.items():
            target.add(self.model.lot("transfer", n, source.lots[k].expires_at))
        self.model.take(source, draw)

    def schedule(self) -> None:
        """The schedules fire: holds past their expiry are released, then due orgs roll."""
        for message in cycles.due_messages(self.cycles, "holds", self.now):
            cycles.run_message(self.cycles, message, self.now)
        for org in self.orgs.values():
            for hold_id, exp in list(org.hold_expiry.items()):
                if self.now >= exp:
                    self.model.give_back(org, org.held.pop(hold_id), self.now)
                    del org.hold_expiry[hold_id]
        mine = {o.org_id: o for o in self.orgs.values()}
        for message in cycles.due_messages(self.cycles, "cycles", self.now):
            if message["org_id"] in mine:
                cycles.run_message(self.cycles, message, self.now, notifier=self.notifier)
        for org in self.orgs.values():
            self.model.scheduled(org, self.now)

    # ---- checks ----------------------------------------------------------------------------------

    def ledger(self, org_id: str) -> list[LedgerEntry]:
        """The org's ledger, read incrementally (entries since the last check, by their time key)."""
        seen = self.ledgers.setdefault(org_id, {})
        since = self.ledger_since.get(org_id, "")
        items = LedgerItem.query(
            org_pk(org_id), LedgerItem.sk.between(f"LEDGER#{since}", "LEDGER#~"), consistent_read=True
        )
        for item in items:
            entry = entry_from_item(item)
            seen[entry.entry_id] = entry
        self.ledger_since[org_id] = iso(self.now)
        return list(seen.values())

    def check(self, step: str, touched: set[str] | None = None) -> None:
        """After a step: the orgs it touched (all of them when time passed) against the model."""
        self.log.append(f"{step} at {self.now:%Y-%m-%d %H:%M}")
        for name, org in self.orgs.items():
            if touched is not None and org.org_id not in touched:
                continue
            wallet = self.store.wallet(org.org_id)
            where = f"{step} {name}"
            # Lots of one kind and one expiry are interchangeable (which of them a tie cuts or
            # draws first is arbitrary): compare their totals.
            stored = _totals((lot.kind.value, lot.expires_at, lot.remaining) for lot in wallet.lots)
            modeled = _totals((lot.kind, lot.expires_at, lot.remaining) for lot in org.lots.values())
            assert stored == modeled, (where, "\n".join(self.log[-12:]))
            assert (wallet.plan_id, wallet.cycle_start, wallet.cycle_end) == (
                org.plan,
                org.cycle_start,
                org.cycle_end,
            ), where
            assert wallet.held == sum(sum(d.values()) for d in org.held.values()), where
            held = sum(sum(d.values()) for d in org.held.values())
            result = reconcile(wallet, self.ledger(org.org_id), held)
            assert result.ok, (where, result.problems)
            bank = sum(lot.remaining for lot in wallet.lots if lot.kind is LotKind.BANK)
            cap = CATALOG.get(wallet.plan_id).rollover_cap
            if (
                cap is not None
                and not org.archived
                and not (org.via_archive_until and self.now < org.via_archive_until)
            ):
                assert bank <= cap, where
            for lot in wallet.lots:  # nothing outlives its life past a boundary
                assert (
                    lot.expires_at is None
                    or lot.expires_at > wallet.cycle_start
                    or lot.kind is LotKind.MONTHLY
                ), where
                if lot.kind is LotKind.BANK:
                    assert lot.expires_at is not None and lot.expires_at <= add_months(lot.created_at, 7), (
                        where
                    )
        sent = self.bus.events
        assert len(sent) == len(set(sent)), "an alert was sent twice"
        for org in self.orgs.values():
            usage = {
                tuple(key.split(":")[2:0:-1])
                for o, key in sent
                if o == org.org_id and key.startswith("monthly_usage")
            }
            assert usage == org.usage_alerts, org.org_id


@pytest.mark.parametrize("seed", [int(s) for s in os.environ.get("MODEL_SEEDS", "7").split(",")])
def test_cycles_agree_with_the_model_over_thirteen_cycles(ddb_store: BillingStore, seed: int) -> None:
    world = World(ddb_store, seed)
    rng = world.rng
    trial, paid, late = world.orgs["trial"], world.orgs["paid"], world.orgs["late"]
    world.check("start")
    step = 0
    while world.now < T0 + timedelta(days=400):  # 13 cycles
        step += 1
        org = rng.choice([trial, paid, paid, late])
        roll = rng.random()
        time_passed, moved = False, {paid.org_id}  # plan changes touch the paid org
        world.log.append(
            f"{roll:.2f} {org.org_id[-5:]} {paid.plan} pending={paid.pending} end={paid.cycle_end:%m-%d %H}"
        )
        if roll < 0.22:
            world.debit(org, rng.choice([80, 400, 2_000, 9_000]))
        elif roll < 0.37:
            world.hold(org, rng.choice([80, 400, 1_500]))
            if rng.random() < 0.4:  # the job finishes soon: captured in part or whole
                moved.add(world.settle() or org.org_id)
        elif roll < 0.47:
            moved.add(world.settle() or paid.org_id)
        elif roll < 0.53:
            receiver = rng.choice([o for o in (trial, paid) if o is not org] or [paid])
            moved.add(receiver.org_id)
            world.transfer(org, receiver, rng.choice([100, 1_500]))
        elif roll < 0.56 and not late.active and world.now > T0 + timedelta(days=40):
            moved.add(late.org_id)
            cycles.activate_trial(world.cycles, late.org_id, world.now)
            world.activate(late)
        elif roll < 0.60 and not paid.archived:
            target = "studio" if paid.plan != "studio" else "creator"
            if target == "studio":
                cycles.change_plan_now(world.cycles, paid.org_id, target, world.now)
                world.model.boundary(
                    paid,
                    start=world.now,
                    end=add_months(world.now, 1),
                    anchor=world.now,
                    plan=target,
                    grant=False,
                    now=world.now,
                )
                world.pay(paid, world.now, add_months(world.now, 1))
            else:
                cycles.schedule_plan_change(world.cycles, paid.org_id, target, world.now)
                paid.pending = target
        elif roll < 0.62 and not paid.archived:
            cycles.enter_archive(world.cycles, paid.org_id, world.now)
            world.model.boundary(
                paid,
                start=world.now,
                end=add_months(world.now, 1),
                anchor=world.now,
                plan="archive",
                grant=False,
                now=world.now,
                archive=True,
            )
        elif roll < 0.66 and paid.archived:
            cycles.change_plan_now(world.cycles, paid.org_id, "creator", world.now)
            world.model.boundary(
                paid,
                start=world.now,
                end=add_months(world.now, 1),
                anchor=world.now,
                plan="creator",
                grant=False,
                now=world.now,
            )
            world.pay(paid, world.now, add_months(world.now, 1))
        else:
            # Time passes; a paid cycle's invoice comes before or after the schedule
            time_passed = True
            world.now += timedelta(days=rng.choice([3, 6, 10]), hours=rng.randrange(24))
            early = rng.random() < 0.5
            if early and not paid.archived and world.now >= paid.cycle_end and not paid.pending:
                world.pay(paid, paid.cycle_end, anchored_end(paid.anchor, paid.cycle_end))
            world.schedule()
            if not paid.archived and not paid.granted:
                world.pay(paid, paid.cycle_start, paid.cycle_end)
        world.check(f"step {step}", None if time_passed else {org.org_id, *moved})
    # The run went through what it is meant to: thirteen boundaries and more, every kind of event
    kinds = {e.type.value for o in world.orgs.values() for e in ddb_store.entries(o.org_id)}
    expected = {"rollover", "forfeit", "expire", "grant_monthly", "transfer_in", "release", "capture"}
    assert expected <= kinds, (kinds, world.settled, step)
    assert min(trial.boundaries, paid.boundaries) >= 13, (trial.boundaries, paid.boundaries)
    assert late.active and len(world.bus.events) >= 3
    for org in world.orgs.values():
        assert ddb_store.reconcile(org.org_id).ok
    print(f"{step} steps, {len(world.bus.events)} alerts")

"""Billing cycles on moto: boundaries at each org's own anchor, the paid grant contract, plan changes,
archive, the trial's end, member limits per cycle, hold expiry, and the schedule's fan-out handlers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from act3_billing import cycles, runtime
from act3_billing.domain.ledger import EntryType
from act3_billing.domain.lots import LotKind
from act3_billing.store.cycles import CycleStore
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import MovableClock
from tests.support.calls import capture, debit, hold
from tests.support.cycles import FakeQueue, schedule_event, sqs_event
from tests.support.events import http_event
from tests.support.functions import call, invoke
from tests.support.wallets import T0, add_lot, new_org

DEC_1 = T0 + timedelta(days=30)  # new_org's first cycle ends here (T0 is 2026-11-01)
JAN_1 = DEC_1 + timedelta(days=31)


def grants_of(store: BillingStore, org_id: str, cycle_id: str) -> list[int]:
    return [
        e.amount
        for e in store.entries(org_id)
        if e.type is EntryType.GRANT_MONTHLY and f"monthly#{cycle_id}" in e.lots
    ]


def run_schedule(clock: MovableClock, job: str = "cycles") -> dict[str, object]:
    """The schedule fires: the scheduler fans out, the worker takes the whole batch."""
    queue = FakeQueue()
    call("cycle_scheduler", schedule_event(job), queue=queue)
    if not queue.messages:
        return {"batchItemFailures": []}
    return dict(call("cycle_worker", sqs_event(queue.messages)))


@pytest.fixture
def cycle_store(store: BillingStore) -> CycleStore:
    return runtime.cycles()


def test_a_free_plan_rolls_at_its_own_anchor_banking_what_is_left(
    store: BillingStore, clock: MovableClock
) -> None:
    # Given a trial org that used 80 of its 800 credits
    org = new_org(store, plan_id="starter_trial", monthly=800, cap=1_600)
    assert debit(org.org_id, org.creator, "j1").status == 201
    # When its cycle end passes and the schedule runs (twice: the second finds nothing due)
    clock.now = DEC_1 + timedelta(minutes=5)
    assert run_schedule(clock) == {"batchItemFailures": []}
    run_schedule(clock)
    # Then the 720 left are banked until the end of cycle n + 6, and a new 800 is granted once
    wallet = store.wallet(org.org_id)
    assert (wallet.cycle_start, wallet.cycle_end) == (DEC_1, JAN_1)
    bank = [lot for lot in wallet.lots if lot.kind is LotKind.BANK]
    assert [(lot.remaining, lot.expires_at) for lot in bank] == [(720, DEC_1.replace(year=2027, month=6))]
    assert wallet.current_monthly() is not None and wallet.current_monthly().remaining == 800  # type: ignore[union-attr]
    assert grants_of(store, org.org_id, wallet.cycle_id) == [800]
    assert store.reconcile(org.org_id).ok


def test_a_paid_plan_boundary_banks_then_waits_for_the_payment_which_grants_once(
    store: BillingStore, clock: MovableClock, cycle_store: CycleStore
) -> None:
    # Given a creator org at its cycle end, rolled by the schedule before the invoice is paid
    org = new_org(store)
    clock.now = DEC_1 + timedelta(minutes=1)
    assert cycles.roll_due(cycle_store, org.org_id, clock.now).rolled == ["20261201T000000Z"]
    rolled = store.wallet(org.org_id)
    assert rolled.monthly_allowance == 0 and rolled.current_monthly() is None
    assert sum(lot.remaining for lot in rolled.lots if lot.kind is LotKind.BANK) == 33_000
    # When the invoice is paid (twice, and a second invoice for the same period)
    for ref in ("in_1", "in_1", "in_2"):
        cycles.grant_paid_cycle(org.org_id, DEC_1, JAN_1, "creator", ref, clock.now, store=cycle_store)
    # Then the cycle is granted exactly once
    wallet = store.wallet(org.org_id)
    assert grants_of(store, org.org_id, wallet.cycle_id) == [33_000]
    assert (wallet.monthly_allowance, wallet.granted_cycle) == (33_000, wallet.cycle_id)
    assert store.reconcile(org.org_id).ok


def test_a_payment_before_the_schedule_starts_the_cycle_and_the_schedule_finds_nothing(
    store: BillingStore, clock: MovableClock, cycle_store: CycleStore
) -> None:
    org = new_org(store)
    clock.now = DEC_1 + timedelta(seconds=20)
    cycles.grant_paid_cycle(org.org_id, DEC_1, JAN_1, "creator", "in_9", clock.now, store=cycle_store)
    clock.now = DEC_1 + timedelta(minutes=15)
    assert cycles.roll_due(cycle_store, org.org_id, clock.now).rolled == []
    wallet = store.wallet(org.org_id)
    assert (wallet.cycle_start, wallet.cycle_end) == (DEC_1, JAN_1)
    assert grants_of(store, org.org_id, wallet.cycle_id) == [33_000]
    assert store.reconcile(org.org_id).ok


def test_a_stale_payment_changes_nothing(
    store: BillingStore, clock: MovableClock, cycle_store: CycleStore
) -> None:
    org = new_org(store)
    clock.now = DEC_1 + timedelta(days=2)
    cycles.grant_paid_cycle(org.org_id, DEC_1, JAN_1, "creator", "in_new", clock.now, store=cycle_store)
    before = store.wallet(org.org_id)
    out = cycles.grant_paid_cycle(org.org_id, T0, DEC_1, "creator", "in_old", clock.now, store=cycle_store)
    assert out.body["granted"] == 0
    assert store.wallet(org.org_id).lots == before.lots


def test_an_upgrade_starts_a_new_cycle_at_once_and_banks_the_old_allowance(
    store: BillingStore, clock: MovableClock, cycle_store: CycleStore
) -> None:
    # Given a creator org 10 days into its cycle, 80 credits used
    org = new_org(store)
    assert debit(org.org_id, org.creator, "j1").status == 201
    clock.now = T0 + timedelta(days=10)
    # When it upgrades to studio; the plan change and the invoice come in either order
    cycles.change_plan_now(org.org_id, "studio", clock.now, store=cycle_store)
    cycles.grant_paid_cycle(
        org.org_id, clock.now, clock.now + timedelta(days=30), "studio", "in_up", clock.now, store=cycle_store
    )
    cycles.change_plan_now(org.org_id, "studio", clock.now, store=cycle_store)  # a retried webhook
    # Then a new cycle started now, the old 32,920 are banked, and studio's 120,000 are granted once
    wallet = store.wallet(org.org_id)
    assert (wallet.plan_id, wallet.cycle_start) == ("studio", clock.now)
    assert [lot.remaining for lot in wallet.lots if lot.kind is LotKind.BANK] == [32_920]
    assert grants_of(store, org.org_id, wallet.cycle_id) == [120_000]
    assert store.reconcile(org.org_id).ok


def test_a_downgrade_waits_for_the_cycle_end_and_cuts_the_bank_soonest_expiring_first(
    store: BillingStore, clock: MovableClock, cycle_store: CycleStore
) -> None:
    # Given a studio org with two bank lots and all of this month's credits spent
    org = new_org(store, plan_id="studio", monthly=0, cap=360_000)
    add_lot(store, org.org_id, LotKind.BANK, 1_000, expires_at=T0 + timedelta(days=45), lot_id="bank#old")
    add_lot(store, org.org_id, LotKind.BANK, 2_000, expires_at=T0 + timedelta(days=150), lot_id="bank#new")
    # When it schedules a downgrade to starter (cap 1,600)
    cycles.schedule_plan_change(org.org_id, "starter", clock.now, store=cycle_store)
    assert store.wallet(org.org_id).pending_plan_id == "starter"
    balance = invoke("balance", http_event("balance_get", org_id=org.org_id, user=org.owner)).body
    assert (balance["plan_id"], balance["pending_plan_id"]) == ("studio", "starter")
    clock.now = DEC_1 + timedelta(minutes=1)
    cycles.roll_due(cycle_store, org.org_id, clock.now)
    # Then at the cycle end the plan is starter and the bank is cut to 1,600, the oldest lot first
    wallet = store.wallet(org.org_id)
    assert (wallet.plan_id, wallet.pending_plan_id) == ("starter", None)
    assert {lot.lot_id: lot.remaining for lot in wallet.lots} == {"bank#new": 1_600}
    forfeits = [e for e in store.entries(org.org_id) if e.type is EntryType.FORFEIT]
    assert [dict(e.lots) for e in forfeits] == [{"bank#old": -1_000, "bank#new": -400}]
    assert store.reconcile(org.org_id).ok


def test_archive_keeps_every_lot_forfeits_nothing_and_a_re_upgrade_clears_it(
    store: BillingStore, clock: MovableClock, cycle_store: CycleStore
) -> None:
    # Given a creator org with a pack and a grant, 80 credits used
    org = new_org(store)
    add_lot(store, org.org_id, LotKind.PACK, 5_000)
    add_lot(store, org.org_id, LotKind.GRANT, 700, expires_at=T0 + timedelta(days=200))
    assert debit(org.org_id, org.creator, "j1").status == 201
    # When the subscription ends (archive at once), and again (a retried webhook)
    clock.now = T0 + timedelta(days=3)
    cycles.enter_archive(org.org_id, clock.now, store=cycle_store)
    cycles.enter_archive(org.org_id, clock.now + timedelta(hours=1), store=cycle_store)
    # Then nothing is forfeited, the monthly credits are banked whole, and nothing can be spent
    wallet = store.wallet(org.org_id)
    assert (wallet.plan_id, wallet.status.value, wallet.archived_at) == ("archive", "archived", clock.now)
    assert wallet.total() == 32_920 + 5_000 + 700
    assert not [e for e in store.entries(org.org_id) if e.type is EntryType.FORFEIT]
    refused = debit(org.org_id, org.creator, "j2")
    assert (refused.status, refused.code) == (403, "generation_disabled")
    assert "pack" not in refused.body["options"]
    # When months pass in archive, the bank keeps expiring (six cycles), packs stay
    for month in range(1, 8):
        cycles.roll_due(cycle_store, org.org_id, clock.now + timedelta(days=31 * month))
    wallet = store.wallet(org.org_id)
    assert {lot.kind for lot in wallet.lots} == {LotKind.PACK}
    # When it re-upgrades, archived_at is cleared and it can spend again
    clock.now += timedelta(days=250)
    cycles.change_plan_now(org.org_id, "creator", clock.now, store=cycle_store)
    wallet = store.wallet(org.org_id)
    assert (wallet.status.value, wallet.archived_at, wallet.generation_enabled) == ("active", None, True)
    assert debit(org.org_id, org.creator, "j3").status == 201
    assert store.reconcile(org.org_id).ok


def test_the_trial_ends_six_months_after_activation_with_trial_expired_and_the_upgrade(
    store: BillingStore, clock: MovableClock, cycle_store: CycleStore
) -> None:
    # Given a LinkedIn sign-in activating the trial
    me = invoke("me", http_event("me_get", user="ann", claims={"custom:idp": "linkedin"}))
    org_id = me.body["personal_org_id"]
    start = clock.now
    # When seven months of schedules pass
    for day in range(0, 215, 5):
        clock.now = start + timedelta(days=day)
        cycles.roll_due(cycle_store, org_id, clock.now)
    # Then generation is refused as trial_expired, with the upgrade and no pack
    refused = debit(org_id, "ann", "late-job")
    assert (refused.status, refused.code) == (403, "trial_expired")
    assert "creator" in [p["plan_id"] for p in refused.body["options"]["reupgrade"]]
    assert "pack" not in refused.body["options"]
    grants = [e.amount for e in store.entries(org_id) if e.type is EntryType.GRANT_MONTHLY]
    assert grants == [800] * 6
    assert store.reconcile(org_id).ok


def test_member_limits_start_afresh_with_each_cycle(store: BillingStore, clock: MovableClock) -> None:
    org = new_org(store)
    limit = invoke(
        "members",
        http_event(
            "member_patch",
            org_id=org.org_id,
            params={"user_id": org.creator},
            user=org.owner,
            body={"monthly_limit": 100},
        ),
    )
    assert limit.status == 200, limit.body
    assert debit(org.org_id, org.creator, "j1").status == 201
    assert debit(org.org_id, org.creator, "j2").code == "member_limit_exceeded"
    clock.now = DEC_1 + timedelta(minutes=1)
    run_schedule(clock)
    cycles.grant_paid_cycle(org.org_id, DEC_1, JAN_1, "creator", "in_2", clock.now, store=runtime.cycles())
    assert debit(org.org_id, org.creator, "j3").status == 201


def test_an_expired_hold_shows_apart_answers_410_and_is_released_by_the_schedule(
    store: BillingStore, clock: MovableClock
) -> None:
    # Given a hold of 400 credits for a minute
    org = new_org(store)
    placed = hold(
        org.org_id, org.creator, {"credits": 400, "job_id": "r1", "expires_in_seconds": 60}, key="h1"
    )
    assert placed.status == 201, placed.body
    hold_id = placed.body["hold_id"]
    # When it expires before the sweep ran
    clock.advance(minutes=2)
    balance = invoke("balance", http_event("balance_get", org_id=org.org_id, user=org.viewer)).body
    # Then its credits show apart, not as spendable, and a capture answers 410
    assert (balance["held"], balance["held_expired"], balance["spendable"]) == (400, 400, 32_600)
    late = capture(org.org_id, org.creator, hold_id, {"credits": 100, "final": True}, key="c1")
    assert (late.status, late.code) == (410, "hold_expired")
    # When the holds schedule runs (twice)
    assert run_schedule(clock, "holds") == {"batchItemFailures": []}
    run_schedule(clock, "holds")
    # Then the credits are back in their lot, and a capture still answers 410
    balance = invoke("balance", http_event("balance_get", org_id=org.org_id, user=org.viewer)).body
    assert (balance["held"], balance["held_expired"], balance["spendable"]) == (0, 0, 33_000)
    again = capture(org.org_id, org.creator, hold_id, {"credits": 100, "final": True}, key="c2")
    assert (again.status, again.code) == (410, "hold_expired")
    assert store.hold(org.org_id, hold_id).status.value == "expired"
    assert store.reconcile(org.org_id).ok


def test_a_hold_whose_lot_expired_meanwhile_expires_its_credits_on_release(
    store: BillingStore, clock: MovableClock
) -> None:
    org = new_org(store, monthly=0)
    add_lot(store, org.org_id, LotKind.GRANT, 500, expires_at=T0 + timedelta(hours=2), lot_id="grant#short")
    placed = hold(
        org.org_id, org.creator, {"credits": 300, "job_id": "r1", "expires_in_seconds": 7200}, key="h"
    )
    assert placed.status == 201, placed.body
    clock.advance(hours=3)
    run_schedule(clock, "holds")
    expired = [e for e in store.entries(org.org_id) if e.type is EntryType.EXPIRE]
    assert [(e.amount, dict(e.lots)) for e in expired] == [(300, {"grant#short": -300})]
    assert store.reconcile(org.org_id).ok


def test_a_quote_is_honoured_for_its_15_minutes_across_a_new_rate_card(
    store: BillingStore, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from act3_billing import services
    from act3_billing.domain.ratecard import load_rate_card

    org = new_org(store)
    quoted = invoke(
        "quotes",
        http_event("quote_create", org_id=org.org_id, user=org.creator, body={"usage": {"shots": {"Q3": 2}}}),
    ).body
    # When a new rate card is deployed five minutes later
    newer = load_rate_card().with_overrides({"version": "2027"})
    monkeypatch.setattr(services, "load_rate_card", lambda: newer)
    clock.advance(minutes=5)
    debited = debit(org.org_id, org.creator, "j1", quote_id=quoted["quote_id"])
    # Then the quote's price and version stand
    assert debited.status == 201, debited.body
    assert (debited.body["credits"], debited.body["rate_card_version"]) == (800, quoted["rate_card_version"])
    # And after 15 minutes a quote is refused as expired
    late = invoke(
        "quotes",
        http_event("quote_create", org_id=org.org_id, user=org.creator, body={"usage": {"shots": {"Q1": 1}}}),
    ).body
    clock.advance(minutes=16)
    refused = debit(org.org_id, org.creator, "j2", quote_id=late["quote_id"])
    assert (refused.status, refused.code) == (410, "quote_expired")


def test_the_worker_reports_only_the_failed_messages(store: BillingStore, clock: MovableClock) -> None:
    org = new_org(store, plan_id="starter_trial", monthly=800, cap=1_600)
    clock.now = DEC_1 + timedelta(minutes=1)
    event = sqs_event(
        [{"job": "cycle", "org_id": org.org_id}, {"job": "cycle"}, {"job": "nope", "org_id": "x"}]
    )
    answer = call("cycle_worker", event)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert store.wallet(org.org_id).cycle_start == DEC_1


def test_the_scheduler_enqueues_only_due_orgs(store: BillingStore, clock: MovableClock) -> None:
    due = new_org(store, plan_id="starter_trial", monthly=800, cap=1_600)
    later = new_org(store, plan_id="starter_trial", monthly=800, cap=1_600, now=T0 + timedelta(days=10))
    clock.now = DEC_1 + timedelta(minutes=1)
    queue = FakeQueue()
    call("cycle_scheduler", schedule_event("cycles"), queue=queue)
    orgs = {m["org_id"] for m in queue.messages}
    assert due.org_id in orgs and later.org_id not in orgs


def test_the_scheduler_sends_to_its_sqs_queue(
    store: BillingStore, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real queue client on moto's SQS: the batch send is a call its policy must allow (checked)."""
    import json

    import boto3

    from act3_billing.config import settings

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="act3-cycles-test")["QueueUrl"]
    monkeypatch.setenv("CYCLE_QUEUE_URL", url)
    settings.cache_clear()
    due = new_org(store, plan_id="starter_trial", monthly=800, cap=1_600)
    clock.now = DEC_1 + timedelta(minutes=1)
    try:
        answer = call("cycle_scheduler", schedule_event("cycles"))
    finally:
        settings.cache_clear()
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert answer["enqueued"] == len(received) >= 1
    assert due.org_id in {json.loads(m["Body"]).get("org_id") for m in received}

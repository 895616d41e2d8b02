"""Threshold alerts (SPEC §10) read back from moto: the events on the project's bus and the SES mail."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from act3_billing import runtime
from act3_billing.domain.lots import LotKind
from act3_billing.domain.roles import Role
from act3_billing.store.orgs import OrgStore
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import MovableClock
from tests.integration.test_cycles import DEC_1, run_schedule
from tests.support.calls import debit, hold
from tests.support.cycles import BusReader
from tests.support.template import REPO_ROOT
from tests.support.wallets import T0, add_lot, new_org


@pytest.fixture
def bus(store: BillingStore) -> BusReader:
    return BusReader()


def schema(kind: str) -> dict[str, Any]:
    return json.loads((REPO_ROOT / "docs" / "events" / f"{kind}.schema.json").read_text())  # type: ignore[no-any-return]


def alerts_for(bus: BusReader, org_id: str) -> list[dict[str, Any]]:
    return [e for e in bus.events() if e["detail"]["org_id"] == org_id]


def mails_to(outbox: list[Any], address: str) -> list[str]:
    return [m.subject for m in outbox if address in m.destinations["ToAddresses"]]


def test_each_monthly_threshold_is_sent_once_as_an_event_and_to_owners_and_billing(
    store: BillingStore, clock: MovableClock, bus: BusReader, outbox: list[Any]
) -> None:
    # Given an org with 1,000 monthly credits, a pack, and an owner and a billing member with e-mail
    org = new_org(store, monthly=1_000, cap=2_000)
    add_lot(store, org.org_id, LotKind.PACK, 5_000)
    OrgStore(store.connection).add_member(org.org_id, "boss", Role.OWNER, email="boss@studio.example", now=T0)
    # When a debit passes 75 %, a hold passes 90 %, a debit stays under 100 %, and a debit passes 100 %
    assert debit(org.org_id, org.creator, "j1", usage={"shots": {"Q1": 10}}).status == 201  # 800
    assert hold(org.org_id, org.creator, {"credits": 100, "job_id": "r1"}, key="h1").status == 201  # 900
    assert debit(org.org_id, org.creator, "j2").status == 201  # 980
    assert debit(org.org_id, org.creator, "j3").status == 201  # 1,000 and beyond
    # And another instance (a fresh notifier without memory) spends again
    runtime.use_notifier(None)
    assert debit(org.org_id, org.creator, "j4").status == 201
    # Then exactly one event per threshold, each matching its schema
    events = alerts_for(bus, org.org_id)
    assert [(e["detail-type"], e["detail"]["threshold"]) for e in events] == [
        ("Monthly allowance threshold crossed", "75"),
        ("Monthly allowance threshold crossed", "90"),
        ("Monthly allowance threshold crossed", "100"),
    ]
    for event in events:
        assert event["source"] == "act3.billing"
        jsonschema.validate(event["detail"], schema("monthly_usage"))
    # And one e-mail per threshold to the owner and to the billing member, none to creators or viewers
    assert len(mails_to(outbox, "boss@studio.example")) == 3
    assert len(mails_to(outbox, f"{org.billing}@studio.example")) == 3
    assert not mails_to(outbox, f"{org.creator}@studio.example")
    assert not mails_to(outbox, f"{org.viewer}@studio.example")


def test_bank_credits_expiring_within_7_days_are_announced_once_by_the_schedule(
    store: BillingStore, clock: MovableClock, bus: BusReader, outbox: list[Any]
) -> None:
    # Given a creator org whose first cycle banked 33,000 credits (they expire at the end of cycle 7)
    org = new_org(store)
    expiry = DEC_1.replace(year=2027, month=6)
    for month in (DEC_1, *(DEC_1.replace(year=2027, month=m) for m in range(1, 6))):
        clock.now = month + timedelta(minutes=1)
        run_schedule(clock)
    # When the schedules run in the week before the bank lot expires, and again
    clock.now = expiry - timedelta(days=6)
    run_schedule(clock)
    run_schedule(clock)
    # Then the org was due through the index, and the alert went once
    events = alerts_for(bus, org.org_id)
    assert [(e["detail"]["kind"], e["detail"]["credits"]) for e in events] == [("bank_expiring", 33_000)]
    jsonschema.validate(events[0]["detail"], schema("bank_expiring"))
    assert mails_to(outbox, f"{org.billing}@studio.example")


def test_the_trial_ending_within_14_days_is_announced_once(
    store: BillingStore, clock: MovableClock, bus: BusReader
) -> None:
    from act3_billing import cycles
    from tests.support.events import http_event
    from tests.support.functions import invoke

    me = invoke("me", http_event("me_get", user="trial-user", claims={"custom:idp": "linkedin"}))
    org_id = me.body["personal_org_id"]
    start = clock.now
    for day in (30, 60, 91, 122, 150, 170, 172, 178):
        cycles.roll_due(runtime.cycles(), org_id, start + timedelta(days=day), notifier=runtime.notifier())
    events = [e for e in alerts_for(bus, org_id) if e["detail"]["kind"] == "trial_ending"]
    assert len(events) == 1
    jsonschema.validate(events[0]["detail"], schema("trial_ending"))

"""Billing-cycle rules without storage: anchors, which boundary comes next, when an org is due, alerts,
and the worker's message parsing (fuzzed: a queue message is input too)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from act3_billing.cycles import notices, run_message
from act3_billing.domain.cycles import (
    anchored_end,
    archive_boundary,
    cycle_id_for,
    generation_refusal,
    next_due,
    paid_boundary,
    scheduled_boundary,
    upgrade_boundary,
)
from act3_billing.domain.errors import TrialExpired
from act3_billing.domain.lots import Lot, LotKind, Wallet, WalletStatus
from act3_billing.domain.plans import default_catalog
from act3_billing.notifications import usage_alerts

CATALOG = default_catalog()
START = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


def wallet(plan: str = "creator", *, lots: tuple[Lot, ...] = (), **kw: Any) -> Wallet:
    fields: dict[str, Any] = {
        "org_id": "org-1",
        "plan_id": plan,
        "cycle_id": cycle_id_for(START),
        "cycle_start": START,
        "cycle_end": anchored_end(START, START),
        "anchor": START,
        "lots": lots,
    }
    return Wallet(**(fields | kw))


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@given(anchor=instants, later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3_000)))
def test_an_anchored_end_is_the_next_anchor_month_after(anchor: datetime, later: timedelta) -> None:
    after = anchor + later  # cycles only ever look forward from their anchor
    end = anchored_end(anchor, after)
    assert after < end <= after + timedelta(days=31)
    assert end.time() == anchor.time()
    assert end.day == anchor.day or end.day < anchor.day  # clamped in short months only


def test_cycles_keep_their_anchor_day_through_short_months() -> None:
    ends = [START]
    for _ in range(3):
        ends.append(anchored_end(START, ends[-1]))
    assert [e.date().isoformat() for e in ends[1:]] == ["2026-02-28", "2026-03-31", "2026-04-30"]


def test_a_paid_plan_is_not_granted_by_the_schedule_a_free_one_is() -> None:
    assert scheduled_boundary(wallet("creator"), CATALOG).allowance == 0
    trial = wallet("starter_trial", trial_ends_at=START + timedelta(days=180))
    assert scheduled_boundary(trial, CATALOG).allowance == 800


def test_a_pending_downgrade_applies_at_the_boundary_and_cuts_the_existing_bank() -> None:
    boundary = scheduled_boundary(wallet("studio", pending_plan_id="starter"), CATALOG)
    assert (boundary.plan_id, boundary.rollover_cap, boundary.cut_existing) == ("starter", 1_600, True)
    upgrade = scheduled_boundary(wallet("starter", pending_plan_id="studio"), CATALOG)
    assert not upgrade.cut_existing


def test_archive_has_no_cap_disables_generation_and_records_when() -> None:
    now = START + timedelta(days=3)
    boundary = archive_boundary(wallet(), CATALOG, now)
    assert (boundary.rollover_cap, boundary.generation_enabled) == (None, False)
    assert (boundary.status, boundary.archived_at) == (WalletStatus.ARCHIVED, now)
    back = upgrade_boundary(
        wallet("archive", status=WalletStatus.ARCHIVED, archived_at=now), CATALOG, "creator", now
    )
    assert (back.status, back.archived_at, back.generation_enabled) == (WalletStatus.ACTIVE, None, True)


def test_the_trial_ends_at_its_sixth_boundary_and_refuses_as_trial_expired() -> None:
    ends = START + timedelta(days=10)
    trial = wallet("starter_trial", trial_ends_at=ends, cycle_end=ends)
    boundary = scheduled_boundary(trial, CATALOG)
    assert (boundary.allowance, boundary.generation_enabled) == (0, False)
    assert isinstance(generation_refusal(trial, ends), TrialExpired)
    assert not trial.can_generate(ends) and trial.can_generate(ends - timedelta(seconds=1))


def test_two_cycles_starting_in_the_same_second_get_different_ids() -> None:
    now = START
    first = upgrade_boundary(wallet(cycle_id=cycle_id_for(now)), CATALOG, "studio", now)
    assert first.cycle_id == f"{cycle_id_for(now)}.2"
    second = paid_boundary(wallet(cycle_id=first.cycle_id), CATALOG, "studio", now, now + timedelta(days=30))
    assert second.cycle_id == f"{cycle_id_for(now)}.3"


def test_an_org_is_due_a_week_before_its_bank_expires_and_two_weeks_before_its_trial_ends() -> None:
    end = anchored_end(START, START)
    bank = Lot("bank#1", LotKind.BANK, 10, 10, START, end + timedelta(days=10))
    assert next_due(wallet(lots=(bank,)), START) == end  # the expiry is after this cycle's end
    early = Lot("bank#0", LotKind.BANK, 10, 10, START, end - timedelta(days=1))
    assert next_due(wallet(lots=(early,)), START) == end - timedelta(days=8)
    trial = wallet("starter_trial", trial_ends_at=end + timedelta(days=3))
    assert next_due(trial, START) == end - timedelta(days=11)
    assert [a.kind for a in notices(trial, end - timedelta(days=10))] == ["trial_ending"]


@given(used=st.integers(min_value=0, max_value=1_000))
def test_usage_alerts_are_the_thresholds_reached(used: int) -> None:
    monthly = Lot(f"monthly#{cycle_id_for(START)}", LotKind.MONTHLY, 1_000 - used, 1_000, START)
    alerts = usage_alerts(wallet(lots=(monthly,)))
    assert [a.threshold for a in alerts] == [str(t) for t in (75, 90, 100) if used * 100 >= t * 1_000]


json_values = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(["cycle", "hold", "", "org-1"])
    | st.text(max_size=12)
    | st.lists(st.integers(), max_size=2)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=st.dictionaries(st.sampled_from(["job", "org_id", "hold_id", "x"]), json_values, max_size=4))
def test_a_malformed_queue_message_is_refused_before_any_work(message: dict[str, Any]) -> None:
    class NoStore:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"touched the store ({name}) for {json.dumps(message, default=str)}")

    valid = (
        message.get("job") in ("cycle", "hold")
        and isinstance(message.get("org_id"), str)
        and message["org_id"]
        and (message["job"] == "cycle" or (isinstance(message.get("hold_id"), str) and message["hold_id"]))
    )
    if valid:
        return
    try:
        run_message(NoStore(), message, START)  # type: ignore[arg-type]
    except ValueError:
        return
    raise AssertionError(f"accepted {message!r}")

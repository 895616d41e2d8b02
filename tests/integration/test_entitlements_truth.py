"""Entitlements tell the truth: over random org states (plans, trial ages, archive, past due, roles,
toggles, monthly limits, balances with expired lots) stored in the real table, `generation.enabled` is
false exactly when a 1-credit hold by the same member at the same moment is refused, and with the same
reason code. Both go through their handlers; the hold runs after the question, so it cannot have
learned anything the question did not see."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from act3_billing.domain.lots import LotKind
from act3_billing.domain.roles import Role
from act3_billing.domain.times import iso
from act3_billing.store.cache import shared_cache
from act3_billing.store.models import WALLET_SK, MemberItem, WalletItem, org_pk
from act3_billing.store.orgs import OrgStore
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import MovableClock
from tests.support.calls import hold
from tests.support.events import http_event, machine
from tests.support.functions import invoke

PLANS = ("starter_trial", "starter", "creator", "studio", "enterprise", "archive")


@dataclass(frozen=True)
class OrgState:
    plan: str
    status: str  # active, past_due, archived
    generation_enabled: bool
    trial_ends_in_hours: int | None  # None: no trial end recorded (a trial waiting for LinkedIn)
    role: Role
    may_spend_override: bool | None
    monthly_limit: int | None
    spent: int
    monthly: int
    pack: int
    expired: int  # credits in a lot whose life ended (never spendable)
    meter_asks: bool  # the usage meter asks on the member's behalf (else the member)


states = st.builds(
    OrgState,
    plan=st.sampled_from(PLANS),
    status=st.sampled_from(("active", "active", "active", "past_due", "archived")),
    generation_enabled=st.sampled_from((True, True, True, False)),
    trial_ends_in_hours=st.none() | st.integers(-48, 48),
    role=st.sampled_from((Role.OWNER, Role.CREATOR, Role.CREATOR, Role.BILLING, Role.VIEWER)),
    may_spend_override=st.sampled_from((None, None, None, True, False)),
    monthly_limit=st.none() | st.integers(0, 5),
    spent=st.integers(0, 6),
    monthly=st.integers(0, 2),
    pack=st.integers(0, 2),
    expired=st.integers(0, 2),
    meter_asks=st.booleans(),
)


def given_org(store: BillingStore, clock: MovableClock, state: OrgState) -> tuple[str, str]:
    """The org and member of `state`, written to the table as the services would leave them."""
    suffix = uuid.uuid4().hex[:10]
    org_id, owner, member = f"org-{suffix}", f"owner-{suffix}", f"member-{suffix}"
    now = clock.now
    orgs = OrgStore(store.connection)
    orgs.create_org(org_id, name=f"Org {suffix}", owner_id=owner, owner_email=None, now=now)
    if state.role is Role.OWNER:
        member = owner
    else:
        orgs.add_member(org_id, member, state.role, email=None, now=now)
    orgs.change_member(
        org_id, member, may_spend_override=state.may_spend_override, monthly_limit=state.monthly_limit
    )
    cycle = "c1"
    MemberItem(org_pk(org_id), f"MEMBER#{member}").update(
        actions=[MemberItem.spent.set({cycle: state.spent})]
    )
    start, end = now - timedelta(days=3), now + timedelta(days=27)
    store.open_wallet(org_id, plan_id=state.plan, cycle_id=cycle, cycle_start=start, cycle_end=end, now=start)

    def lot(kind: LotKind, n: int, expires: str | None) -> dict[str, object]:
        raw: dict[str, object] = {"kind": kind.value, "remaining": n, "granted": n, "created_at": iso(start)}
        return raw | ({"expires_at": expires} if expires else {})

    lots = {
        f"monthly#{cycle}": lot(LotKind.MONTHLY, state.monthly, iso(end)),
        "pack#p1": lot(LotKind.PACK, state.pack, None),
        "grant#old": lot(LotKind.GRANT, state.expired, iso(now - timedelta(hours=1))),
    }
    trial_end = (
        iso(now + timedelta(hours=state.trial_ends_in_hours))
        if state.trial_ends_in_hours is not None
        else None
    )
    WalletItem(org_pk(org_id), WALLET_SK).update(
        actions=[
            WalletItem.lots.set(lots),
            WalletItem.lots_version.add(1),
            WalletItem.status.set(state.status),
            WalletItem.generation_enabled.set(state.generation_enabled),
            WalletItem.monthly_allowance.set(state.monthly),
            WalletItem.trial_ends_at.set(trial_end) if trial_end else WalletItem.trial_ends_at.remove(),
        ]
    )
    return org_id, member


ORG_SIDE = {"trial_expired", "archived", "past_due", "linkedin_required", "generation_disabled"}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=states)
def test_generation_is_off_exactly_when_a_one_credit_hold_is_refused_and_for_the_same_reason(
    store: BillingStore, clock: MovableClock, state: OrgState
) -> None:
    # Given an org in a random state (and no process holding a view of it)
    org_id, member = given_org(store, clock, state)
    shared_cache().clear()
    # When the member (or the usage meter for them) asks, then the member places a 1-credit hold
    if state.meter_asks:
        query = {"member_id": member}
        question = http_event("entitlements_get", org_id=org_id, service=machine(), query=query)
    else:
        question = http_event("entitlements_get", org_id=org_id, user=member)
    asked = invoke("entitlements", question)
    assert asked.status == 200, asked.body
    generation = asked.body["generation"]
    event(str(generation["reason"]))
    held = hold(org_id, member, {"credits": 1, "job_id": "job-1"}, key=f"h-{uuid.uuid4().hex}")
    # Then they agree: enabled exactly when the hold is accepted, and the same reason when it is not
    assert generation["enabled"] is (held.status == 201), (state, generation, held.body)
    if not generation["enabled"]:
        assert held.body.get("reason") == generation["reason"], (state, generation, held.body)
        assert asked.body["credits"]["spendable"] == 0 or generation["reason"] in (
            "member_limit_reached",
            "insufficient_credits",
        )
    else:
        assert asked.body["credits"]["spendable"] >= 1
    # And the balance view tells the org's side of it: generation off for the same org-side reason
    shown = invoke("balance", http_event("balance_get", org_id=org_id, user=member))
    assert shown.status == 200, shown.body
    if generation["reason"] is None or generation["reason"] in ORG_SIDE:
        assert (shown.body["generation_enabled"], shown.body["generation_reason"]) == (
            generation["enabled"],
            generation["reason"],
        ), (state, shown.body)

"""Found trying the product as a user would; each of these failed before the cycle work (issue 7).

They use only calls that existed before it, so they can be run against an older tree to see them fail.
"""

from __future__ import annotations

from datetime import timedelta

from act3_billing.domain.lots import LotKind
from act3_billing.domain.roles import Role
from act3_billing.domain.times import parse_iso
from act3_billing.store.orgs import OrgStore
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import MovableClock
from tests.support.calls import debit, refund
from tests.support.events import http_event
from tests.support.functions import invoke
from tests.support.wallets import T0, add_lot, new_org

LINKEDIN = {"custom:idp": "linkedin"}


def test_a_late_linkedin_sign_in_starts_the_trial_with_a_fresh_cycle(
    store: BillingStore, clock: MovableClock
) -> None:
    # Given a personal org made by an e-mail sign-in
    me = invoke("me", http_event("me_get", user="late-user"))
    org_id = me.body["personal_org_id"]
    # When the user signs in with LinkedIn 40 days later
    clock.advance(days=40)
    invoke("me", http_event("me_get", user="late-user", claims=LINKEDIN))
    # Then the trial's first cycle starts now and has not already ended
    balance = invoke("balance", http_event("balance_get", org_id=org_id, user="late-user")).body
    monthly = balance["monthly"]
    assert parse_iso(monthly["cycle_start"]) == clock.now
    assert parse_iso(monthly["cycle_end"]) > clock.now + timedelta(days=27)
    assert (monthly["remaining"], balance["spendable"]) == (800, 800)


def test_transferred_in_credits_keep_their_expiry_and_are_not_capped_at_the_next_rollover(
    store: BillingStore, clock: MovableClock
) -> None:
    # Given an owner of two orgs: a studio with 5,000 banked credits, and a starter-sized org (cap 1,600)
    source = new_org(store, plan_id="studio", monthly=0, cap=360_000)
    target = new_org(store, plan_id="starter", monthly=800, cap=1_600)
    OrgStore(store.connection).add_member(source.org_id, target.owner, Role.OWNER, email=None, now=T0)
    expiry = T0 + timedelta(days=120)
    add_lot(store, source.org_id, LotKind.BANK, 5_000, expires_at=expiry)
    # When 5,000 credits move to the target, and the target's cycle rolls over
    moved = invoke(
        "transfers",
        http_event(
            "transfer_create",
            org_id=source.org_id,
            user=target.owner,
            body={"to_org_id": target.org_id, "credits": 5_000},
            headers={"idempotency-key": "move-1"},
        ),
    )
    assert moved.status == 201, moved.body
    store.start_cycle(
        target.org_id,
        cycle_id="c2",
        cycle_start=T0 + timedelta(days=30),
        cycle_end=T0 + timedelta(days=61),
        allowance=800,
        rollover_cap=1_600,
        now=T0 + timedelta(days=30),
    )
    # Then the transferred credits are all still there, with their expiry, beside a full bank
    wallet = store.wallet(target.org_id)
    arrived = [lot for lot in wallet.lots if lot.lot_id.startswith("xfer#")]
    assert [(lot.remaining, lot.expires_at) for lot in arrived] == [(5_000, expiry)]
    assert sum(lot.remaining for lot in wallet.lots if lot.kind is LotKind.BANK) == 800
    assert store.reconcile(target.org_id).ok


def test_a_refund_gives_the_credits_back_to_the_spenders_monthly_limit(
    store: BillingStore, clock: MovableClock
) -> None:
    # Given a creator with a monthly limit of 100 who spent 80 on a job that failed
    org = new_org(store)
    invoke(
        "members",
        http_event(
            "member_patch",
            org_id=org.org_id,
            params={"user_id": org.creator},
            user=org.owner,
            body={"monthly_limit": 100},
        ),
    )
    assert debit(org.org_id, org.creator, "failed-job").status == 201
    # When the job is refunded in the same cycle
    assert refund(org.org_id, org.owner, "failed-job", key="r1").status in (200, 201)
    # Then the creator may spend those 80 credits again
    again = debit(org.org_id, org.creator, "retry-job")
    assert again.status == 201, again.body
    members = invoke("members", http_event("members_list", org_id=org.org_id, user=org.owner)).body
    spent = {m["user_id"]: m["spent_this_cycle"] for m in members["members"]}
    assert spent[org.creator] == 80


def test_an_org_that_cannot_generate_is_offered_the_upgrade_not_a_pack(
    store: BillingStore, clock: MovableClock
) -> None:
    # Given a personal org on the trial without a LinkedIn sign-in (it cannot generate)
    me = invoke("me", http_event("me_get", user="no-linkedin"))
    org_id = me.body["personal_org_id"]
    # When its owner asks for a quote
    quoted = invoke(
        "quotes",
        http_event("quote_create", org_id=org_id, user="no-linkedin", body={"usage": {"shots": {"Q1": 1}}}),
    )
    # Then the way out is the upgrade; a pack would not let it generate
    assert quoted.body["affordable"] is False
    assert quoted.body["options"]["upgrade"]["plan_id"] == "creator"
    assert quoted.body["options"]["pack"] is None

"""The trust boundary of SPEC §12: members authorize spending, the usage meter reports what a job used.

A member holds, the meter captures in stages and releases; the member's own captures, releases,
extensions, refunds and metric debits are refused; the ledger names both the member and the meter.
"""

from __future__ import annotations

import pytest

from act3_billing.domain.roles import Permission
from act3_billing.store.wallets import BillingStore
from tests.support.books import assert_books
from tests.support.calls import capture, debit, extend, hold, quote, refund, release
from tests.support.events import BILLING_OPERATIONS, USAGE_METER, http_event, machine
from tests.support.functions import invoke
from tests.support.wallets import new_org

METER = f"service:{USAGE_METER}"


def test_a_member_holds_the_meter_captures_in_stages_and_releases_the_rest(store: BillingStore) -> None:
    org = new_org(store)
    # Given a creator's hold for a render
    held = hold(org.org_id, org.creator, {"job_id": "render-1", "credits": 1000}, key="h")
    assert held.status == 201, held.body
    hold_id = held.body["hold_id"]
    # When the usage meter captures twice and releases the rest
    first = capture(org.org_id, org.creator, hold_id, {"credits": 300}, key="c1")
    second = capture(org.org_id, org.creator, hold_id, {"credits": 200}, key="c2")
    rest = release(org.org_id, org.creator, hold_id, key="r")
    # Then 500 are spent, 500 are back, and every entry names the member and the meter
    assert (first.status, second.status, rest.status) == (200, 200, 200), (first.body, second.body, rest.body)
    assert rest.body["released"] == 500
    assert store.wallet(org.org_id).total() == 33_000 - 500
    entries = [e for e in store.entries(org.org_id) if e.hold_id == hold_id]
    assert sorted(e.type.value for e in entries) == ["capture", "capture", "hold", "release"]
    for entry in entries:
        assert entry.actor == org.creator
        assert entry.service == (None if entry.type.value == "hold" else METER)
    assert_books(store, org.org_id)


def test_a_member_may_not_capture_release_extend_or_refund_even_their_own_job(store: BillingStore) -> None:
    org = new_org(store)
    held = hold(org.org_id, org.creator, {"job_id": "render-2", "credits": 1000}, key="h")
    hold_id = held.body["hold_id"]
    debit(org.org_id, org.creator, "done-job")
    before = store.wallet(org.org_id)
    for who in (org.creator, org.owner):
        refusals = [
            capture(org.org_id, who, hold_id, {"credits": 1, "final": True}, key=f"{who}-c", by=None),
            release(org.org_id, who, hold_id, key=f"{who}-r", by=None),
            extend(org.org_id, who, hold_id, {"credits": 10}, key=f"{who}-e", by=None),
            refund(org.org_id, who, "done-job", key=f"{who}-f", by=None),
        ]
        assert [(r.status, r.code) for r in refusals] == [(403, "forbidden_role")] * 4, [
            r.body for r in refusals
        ]
    assert store.wallet(org.org_id) == before
    assert store.hold(org.org_id, hold_id).status.value == "open"


def test_a_member_debits_at_a_quotes_price_but_not_by_metrics_they_make_up(store: BillingStore) -> None:
    org = new_org(store)
    made_up = debit(org.org_id, org.creator, "fake", usage={"shots": {"Q1": 0}, "cpu_seconds": "1"}, by=None)
    assert (made_up.status, made_up.code) == (403, "forbidden_role")
    quoted = quote(org.org_id, org.creator, {"shots": {"Q2": 1}})
    at_quote = debit(org.org_id, org.creator, "real", quote_id=quoted.body["quote_id"])
    assert (at_quote.status, at_quote.body["credits"]) == (201, 200)
    entry = next(e for e in store.entries(org.org_id) if e.job_id == "real")
    assert (entry.actor, entry.service) == (org.creator, None)


def test_the_meter_debits_for_a_member_who_may_spend_and_within_their_limit(store: BillingStore) -> None:
    org = new_org(store)
    by_meter = debit(org.org_id, org.creator, "metered")
    assert by_meter.status == 201, by_meter.body
    entry = next(e for e in store.entries(org.org_id) if e.job_id == "metered")
    assert (entry.actor, entry.service) == (org.creator, METER)
    # a viewer may not spend, so the meter may not spend for them either
    for_viewer = debit(org.org_id, org.viewer, "viewer-job")
    assert (for_viewer.status, for_viewer.code) == (403, "forbidden_role")
    # and someone who is no member is nobody the meter can charge
    for_stranger = debit(org.org_id, "stranger-1", "stranger-job")
    assert (for_stranger.status, for_stranger.code) == (404, "not_found")
    assert_books(store, org.org_id)


def test_the_meter_refunds_a_failed_job_once(store: BillingStore) -> None:
    org = new_org(store)
    debit(org.org_id, org.creator, "failed")
    first = refund(org.org_id, org.creator, "failed", key="f1")
    again = refund(org.org_id, org.creator, "failed", key="f2")
    assert (first.status, first.body["refunded"]) == (201, 80)
    assert (again.status, again.code) == (409, "already_refunded")
    entry = next(e for e in store.entries(org.org_id) if e.type.value == "refund")
    assert (entry.actor, entry.service) == (org.creator, METER)
    assert store.wallet(org.org_id).total() == 33_000


def test_a_machine_acts_only_within_its_scopes(store: BillingStore) -> None:
    org = new_org(store)
    held = hold(org.org_id, org.creator, {"job_id": "render-3", "credits": 500}, key="h")
    hold_id = held.body["hold_id"]
    debit(org.org_id, org.creator, "job-x")
    refunds_only = machine(USAGE_METER, ("billing/refunds.write",))
    operations = machine(BILLING_OPERATIONS)
    for who in (refunds_only, operations):
        cap = capture(org.org_id, org.creator, hold_id, {"credits": 1}, key=f"{len(who.scopes)}-c", by=who)
        assert (cap.status, cap.code) == (403, "forbidden_scope")
    refused = refund(org.org_id, org.creator, "job-x", key="ops-refund", by=operations)
    assert (refused.status, refused.code) == (403, "forbidden_scope")
    # and no machine reads or changes what members do
    for event, function, body in (
        ("balance_get", "balance", ...),
        ("ledger_list", "ledger", ...),
        ("hold_create", "holds", {"credits": 5}),
        ("quote_create", "quotes", {"usage": {"shots": {"Q1": 1}}}),
        ("members_list", "members", ...),
    ):
        reply = invoke(
            function,
            http_event(
                event, org_id=org.org_id, service=machine(), body=body, headers={"idempotency-key": "m"}
            ),
        )
        assert (reply.status, reply.code) == (403, "forbidden_scope"), (event, reply.body)
    me = invoke("me", http_event("me_get", service=machine()))
    assert (me.status, me.code) == (403, "forbidden_scope")  # and gets no personal org
    assert store.hold(org.org_id, hold_id).captured == 0


def test_the_usage_meter_reads_an_orgs_meters_with_its_read_scope_and_nobody_else_by_scope(
    store: BillingStore,
) -> None:
    from act3_billing.domain.errors import ForbiddenRole, ForbiddenScope, NotFound
    from act3_billing.domain.principals import Scope, Service
    from act3_billing.http.caller import Caller
    from act3_billing.usage import authorize_read

    org = new_org(store)
    meter = Service(USAGE_METER, frozenset({Scope.USAGE_READ.value}))
    writer_only = Service(USAGE_METER, frozenset({Scope.USAGE_WRITE.value, Scope.REFUNDS_WRITE.value}))
    operations = Service(BILLING_OPERATIONS, frozenset({Scope.GRANTS_WRITE.value}))
    # The meter with `billing/usage.read` and every member may read; no other machine may
    authorize_read(store, meter, org.org_id)
    for member in (org.owner, org.billing, org.creator, org.viewer):
        authorize_read(store, Caller(member, None, False, None), org.org_id)
    for other in (writer_only, operations):
        with pytest.raises(ForbiddenScope) as refused:
            authorize_read(store, other, org.org_id)
        assert refused.value.extra["needed"] == Scope.USAGE_READ.value
    # A non-member learns nothing; a member without the right is refused for their role
    with pytest.raises(NotFound):
        authorize_read(store, Caller("stranger", None, False, None), org.org_id)
    with pytest.raises(ForbiddenRole):
        authorize_read(store, Caller(org.viewer, None, False, None), org.org_id, Permission.SPEND)

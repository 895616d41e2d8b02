"""Billing operations (a machine identity): grants with label and expiry, education bundles, signed
adjustments with a reason; each a double-entry ledger entry, and nothing else."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from act3_billing.domain.lots import LotKind
from act3_billing.domain.times import iso
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import MovableClock
from tests.support.books import assert_books
from tests.support.calls import adjust, debit, grant
from tests.support.events import BILLING_OPERATIONS, http_event, machine
from tests.support.functions import invoke
from tests.support.wallets import add_lot, new_org


def balance(org_id: str, user: str) -> dict[str, Any]:
    reply = invoke("balance", http_event("balance_get", org_id=org_id, user=user))
    assert reply.status == 200, reply.body
    return reply.body  # type: ignore[no-any-return]


def test_an_education_grant_shows_in_the_balance_with_its_expiry_and_is_spent_in_spec_order(
    store: BillingStore, clock: MovableClock
) -> None:
    # Given an org with its monthly allowance, a pack, and a promotional grant expiring in 30 days
    org = new_org(store, monthly=1_000, cap=2_000)
    add_lot(store, org.org_id, LotKind.PACK, 5_000, lot_id="pack-1")
    promo = grant(
        org.org_id,
        {"label": "Festival promo", "credits": 500, "expires_at": (clock() + timedelta(days=30)).isoformat()},
        key="promo",
    )
    assert promo.status == 201, promo.body
    # When billing operations grants the student education bundle
    edu = grant(org.org_id, {"kind": "education", "bundle": "edu-student"}, key="edu")
    assert edu.status == 201, edu.body
    assert (edu.body["credits"], edu.body["label"]) == (10_000, "Education: student")
    # Then the balance lists it with its expiry (180 days) among the grants, soonest-expiring first
    grants = balance(org.org_id, org.viewer)["grants"]
    assert [g["label"] for g in grants] == ["Festival promo", "Education: student"]
    assert grants[1]["expires_at"] == iso(clock() + timedelta(days=180))
    # And spending (a moment later) takes the monthly allowance, the promo, the education grant, the pack
    clock.advance(seconds=1)
    spent = debit(org.org_id, org.creator, "big", usage={"shots": {"Q3": 30}})  # 12,000 credits
    assert spent.status == 201, spent.body
    assert spent.body["lots"] == {
        "monthly#c1": 1_000,
        promo.body["lot_id"]: 500,
        edu.body["lot_id"]: 10_000,
        "pack-1": 500,
    }
    # And the grants' ledger entries name billing operations and the grant
    entries = [e for e in store.entries(org.org_id) if e.type.value == "grant"]
    assert {e.service for e in entries} == {f"service:{BILLING_OPERATIONS}"}
    assert any(e.memo == "education grant: Education: student (edu-student)" for e in entries)
    assert_books(store, org.org_id)


def test_a_grant_replays_its_first_answer_and_refuses_nonsense(
    store: BillingStore, clock: MovableClock
) -> None:
    org = new_org(store)
    body = {"kind": "education", "bundle": "edu-classroom"}
    first, again = grant(org.org_id, body, key="g"), grant(org.org_id, body, key="g")
    assert (first.status, again.status, again.headers["idempotent-replayed"]) == (201, 201, "true")
    assert first.body == again.body
    past = (clock() - timedelta(days=1)).isoformat()
    for bad in (
        {"kind": "education", "bundle": "edu-nope"},
        {"kind": "education", "bundle": "edu-student", "credits": 5},
        {"credits": 100, "label": "no expiry"},
        {"credits": 100, "label": "past", "expires_at": past},
        {"credits": 100, "label": "naive", "expires_at": "2027-01-01T00:00:00"},
        {"credits": 100, "label": "bundle?", "bundle": "edu-student", "expires_at": "2027-01-01T00:00:00Z"},
        {"credits": 100, "label": "too late", "expires_at": "2035-01-01T00:00:00Z"},
        {"credits": -1, "label": "negative", "expires_at": "2027-01-01T00:00:00Z"},
    ):
        reply = grant(org.org_id, bad, key=f"bad-{len(str(bad))}-{hash(str(bad))}")
        assert (reply.status, reply.code) == (422, "validation_error"), (bad, reply.body)
    assert len(balance(org.org_id, org.owner)["grants"]) == 1


def test_adjustments_are_signed_with_a_mandatory_reason(store: BillingStore) -> None:
    org = new_org(store, monthly=1_000, cap=2_000)
    # A positive adjustment adds a non-expiring lot
    plus = adjust(org.org_id, {"credits": 300, "reason": "goodwill for the outage of 2 Nov"}, key="a1")
    assert plus.status == 201, plus.body
    assert balance(org.org_id, org.owner)["spendable"] == 1_300
    (lot,) = balance(org.org_id, org.owner)["grants"]
    assert (lot["expires_at"], lot["label"]) == (None, "adjustment: goodwill for the outage of 2 Nov")
    # A negative one takes credits back in spending order (the monthly allowance first)
    minus = adjust(org.org_id, {"credits": -400, "reason": "render  charged\ntwice"}, key="a2")
    assert minus.status == 201, minus.body
    assert (minus.body["credits"], minus.body["lots"]) == (-400, {"monthly#c1": -400})
    assert minus.body["reason"] == "render charged twice"
    assert balance(org.org_id, org.owner)["spendable"] == 900
    # More than the balance is refused whole
    too_much = adjust(org.org_id, {"credits": -5_000, "reason": "typo"}, key="a3")
    assert (too_much.status, too_much.code) == (402, "insufficient_credits")
    # A reason is mandatory, and an adjustment of nothing is nonsense
    for bad in ({"credits": 10}, {"credits": 10, "reason": "  "}, {"credits": 0, "reason": "zero"}):
        reply = adjust(org.org_id, bad, key=f"bad-{bad['credits']}-{len(bad)}")
        assert (reply.status, reply.code) == (422, "validation_error"), (bad, reply.body)
    # Each is one double-entry ledger entry naming billing operations and the reason
    entries = [e for e in store.entries(org.org_id) if e.type.value == "adjustment"]
    assert sorted((e.amount, str(e.from_account), str(e.to_account)) for e in entries) == [
        (300, "platform:issued", "org:available"),
        (400, "org:available", "platform:issued"),
    ]
    assert all(e.service == f"service:{BILLING_OPERATIONS}" and e.actor is None for e in entries)
    assert any(e.memo and e.memo.endswith("render charged twice") for e in entries)
    assert_books(store, org.org_id)
    assert store.reconcile(org.org_id).balance == 900


def test_only_billing_operations_may_grant_or_adjust(store: BillingStore) -> None:
    org = new_org(store)
    body = {"kind": "education", "bundle": "edu-student"}
    by_owner = grant(org.org_id, body, key="o", by=None, user=org.owner)
    by_stranger = grant(org.org_id, body, key="s", by=None, user="stranger")
    by_meter = grant(org.org_id, body, key="m", by=machine())
    adjust_by_owner = adjust(org.org_id, {"credits": 5, "reason": "mine"}, key="oa", by=None, user=org.owner)
    grants_only = adjust(
        org.org_id,
        {"credits": 5, "reason": "x-scope"},
        key="ga",
        by=machine(BILLING_OPERATIONS, ("billing/grants.write",)),
    )
    assert [(r.status, r.code) for r in (by_owner, by_stranger, by_meter, adjust_by_owner, grants_only)] == [
        (403, "forbidden_role"),
        (404, "not_found"),
        (403, "forbidden_scope"),
        (403, "forbidden_role"),
        (403, "forbidden_scope"),
    ]
    assert balance(org.org_id, org.owner)["grants"] == []
    nowhere = grant("org-never-made", body, key="n")
    assert (nowhere.status, nowhere.code) == (404, "not_found")

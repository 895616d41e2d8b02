"""The HTTP handlers on moto: quote → debit / hold → capture → balance → ledger, and bad input."""

from __future__ import annotations

from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import MovableClock
from tests.support.books import assert_books
from tests.support.calls import capture, debit, hold, quote, refund
from tests.support.events import http_event, machine
from tests.support.functions import invoke
from tests.support.wallets import new_org

METER = machine()  # the usage meter: job metrics, settling holds


def test_plans_are_public_and_list_the_catalog(store: BillingStore) -> None:
    reply = invoke("plans", http_event("plans_list", user=None))
    assert reply.status == 200
    ids = [p["id"] for p in reply.body["plans"]]
    assert ids[:4] == ["starter_trial", "starter", "creator", "studio"]
    assert reply.body["upgrade_order"] == ["starter", "creator", "studio", "enterprise"]


def test_quote_then_debit_by_quote_spends_exactly_the_quoted_credits(store: BillingStore) -> None:
    # Given an org on creator with its monthly allowance
    org = new_org(store)
    # When a creator asks for a quote for three Q2 shots
    quoted = quote(org.org_id, org.creator, {"shots": {"Q2": 3}})
    # Then it prices 600 credits, affordable, balance before/after
    assert quoted.status == 201, quoted.body
    assert quoted.body["credits"] == 600
    assert quoted.body["affordable"] is True
    assert (quoted.body["balance_before"], quoted.body["balance_after"]) == (33_000, 32_400)
    # When the job is debited by the quote id
    debited = debit(org.org_id, org.creator, "job-1", key="k-1", quote_id=quoted.body["quote_id"])
    assert debited.status == 201, debited.body
    assert debited.body["lots"] == {"monthly#c1": 600}
    # Then the balance shows 600 used and the quote cannot be used twice
    balance = invoke("balance", http_event("balance_get", org_id=org.org_id, user=org.viewer))
    assert balance.body["monthly"]["used"] == 600
    assert balance.body["spendable"] == 32_400
    again = debit(org.org_id, org.creator, "job-2", key="k-2", quote_id=quoted.body["quote_id"])
    assert (again.status, again.code) == (409, "quote_used")
    assert_books(store, org.org_id)


def test_expired_quote_is_refused_and_changes_nothing(store: BillingStore, clock: MovableClock) -> None:
    org = new_org(store)
    quoted = quote(org.org_id, org.creator, {"shots": {"Q1": 1}})
    clock.advance(minutes=16)
    debited = debit(org.org_id, org.creator, "job-1", quote_id=quoted.body["quote_id"])
    assert (debited.status, debited.code) == (410, "quote_expired")
    assert store.wallet(org.org_id).spendable(clock()) == 33_000


def test_insufficient_credits_is_402_with_options_and_changes_nothing(store: BillingStore) -> None:
    org = new_org(store, plan_id="starter", monthly=800, cap=1600)
    reply = invoke(
        "debits",
        http_event(
            "debit_create",
            org_id=org.org_id,
            service=METER,
            body={"member_id": org.creator, "job_id": "big", "usage": {"shots": {"Q3": 3}}},
        ),
    )
    assert (reply.status, reply.code) == (402, "insufficient_credits")
    assert reply.body["shortfall"] == 400
    options = reply.body["options"]
    assert options["upgrade"]["plan_id"] == "creator"
    assert options["pack"] == {"credits": 1000, "price_cents": 1150, "currency": "usd"}
    assert store.wallet(org.org_id).total() == 800
    assert_books(store, org.org_id)


def test_same_idempotency_key_same_body_replays_other_body_conflicts(store: BillingStore) -> None:
    org = new_org(store)
    event = http_event(
        "debit_create",
        org_id=org.org_id,
        service=METER,
        body={"member_id": org.creator, "job_id": "j", "usage": {"shots": {"Q1": 1}}},
        headers={"idempotency-key": "same"},
    )
    first, second = invoke("debits", event), invoke("debits", event)
    assert first.status == second.status == 201
    assert first.body == second.body
    assert second.headers["idempotent-replayed"] == "true"
    other = invoke(
        "debits",
        http_event(
            "debit_create",
            org_id=org.org_id,
            service=METER,
            body={"member_id": org.creator, "job_id": "j", "usage": {"shots": {"Q2": 1}}},
            headers={"idempotency-key": "same"},
        ),
    )
    assert (other.status, other.code) == (409, "idempotency_key_reuse")
    assert store.wallet(org.org_id).total() == 33_000 - 80


def test_hold_extend_capture_in_stages_then_release_returns_the_rest(store: BillingStore) -> None:
    org = new_org(store)
    hold = invoke(
        "holds",
        http_event(
            "hold_create", org_id=org.org_id, user=org.creator, body={"job_id": "render", "credits": 5000}
        ),
    )
    assert hold.status == 201, hold.body
    hold_id = hold.body["hold_id"]
    assert (
        invoke("balance", http_event("balance_get", org_id=org.org_id, user=org.creator)).body["held"] == 5000
    )
    ext = invoke(
        "holds",
        http_event("hold_extend", org_id=org.org_id, hold_id=hold_id, service=METER, body={"credits": 1000}),
    )
    assert (ext.status, ext.body["amount"]) == (200, 6000)
    for key in ("cap-1", "cap-1", "cap-2"):  # a retried stage charges once
        cap = invoke(
            "holds",
            http_event(
                "hold_capture",
                org_id=org.org_id,
                hold_id=hold_id,
                service=METER,
                body={"credits": 2000},
                headers={"idempotency-key": key},
            ),
        )
        assert cap.status == 200, cap.body
    rel = invoke("holds", http_event("hold_release", org_id=org.org_id, hold_id=hold_id, service=METER))
    assert rel.status == 200, rel.body
    assert (rel.body["released"], rel.body["hold"]["status"]) == (2000, "closed")
    balance = invoke("balance", http_event("balance_get", org_id=org.org_id, user=org.creator)).body
    assert (balance["held"], balance["spendable"]) == (0, 33_000 - 4000)
    late = invoke(
        "holds",
        http_event(
            "hold_capture",
            org_id=org.org_id,
            hold_id=hold_id,
            service=METER,
            body={"credits": 1},
            headers={"idempotency-key": "cap-3"},
        ),
    )
    assert (late.status, late.code) == (409, "hold_not_open")
    assert_books(store, org.org_id)


def test_expired_hold_refuses_capture(store: BillingStore, clock: MovableClock) -> None:
    org = new_org(store)
    hold = invoke(
        "holds",
        http_event(
            "hold_create",
            org_id=org.org_id,
            user=org.creator,
            body={"credits": 100, "expires_in_seconds": 3600},
        ),
    )
    clock.advance(hours=2)
    cap = invoke(
        "holds",
        http_event(
            "hold_capture",
            org_id=org.org_id,
            hold_id=hold.body["hold_id"],
            service=METER,
            body={"credits": 50},
        ),
    )
    assert (cap.status, cap.code) == (410, "hold_expired")
    release = invoke(
        "holds", http_event("hold_release", org_id=org.org_id, hold_id=hold.body["hold_id"], service=METER)
    )
    assert release.status == 200
    assert_books(store, org.org_id)


def test_refund_reverses_a_job_once(store: BillingStore) -> None:
    org = new_org(store)
    invoke(
        "debits",
        http_event(
            "debit_create",
            org_id=org.org_id,
            service=METER,
            body={"member_id": org.creator, "job_id": "failed-job", "usage": {"shots": {"Q3": 2}}},
        ),
    )
    first = refund(org.org_id, org.owner, "failed-job", key="r1")
    assert (first.status, first.body["refunded"]) == (201, 800)
    second = refund(org.org_id, org.owner, "failed-job", key="r2")
    assert (second.status, second.code) == (409, "already_refunded")
    unknown = refund(org.org_id, org.owner, "never-ran", key="r3")
    assert (unknown.status, unknown.code) == (404, "nothing_to_refund")
    assert store.wallet(org.org_id).total() == 33_000
    by_creator = refund(org.org_id, org.creator, "failed-job", key="r4", by=None)
    assert (by_creator.status, by_creator.code) == (403, "forbidden_role")  # members never refund
    recharge = debit(org.org_id, org.creator, "failed-job", key="again")
    assert (recharge.status, recharge.code) == (409, "already_refunded")
    assert_books(store, org.org_id)


def test_a_refund_covers_debits_and_captures_of_the_job_read_consistently(store: BillingStore) -> None:
    org = new_org(store)
    debit(org.org_id, org.creator, "film", key="a")
    held = hold(org.org_id, org.creator, {"job_id": "film", "credits": 500}, key="b")
    capture(org.org_id, org.creator, held.body["hold_id"], {"credits": 300, "final": True}, key="c")
    refunded = refund(org.org_id, org.owner, "film", key="d")
    assert (refunded.status, refunded.body["refunded"]) == (201, 380)
    assert store.wallet(org.org_id).total() == 33_000
    assert_books(store, org.org_id)


def test_a_quote_backs_one_hold_or_one_debit_not_both(store: BillingStore) -> None:
    org = new_org(store)
    quoted = quote(org.org_id, org.creator, {"shots": {"Q2": 1}})
    held = hold(org.org_id, org.creator, {"quote_id": quoted.body["quote_id"]}, key="h")
    assert (held.status, held.body["amount"]) == (201, 200)
    debited = debit(org.org_id, org.creator, "x", key="d", quote_id=quoted.body["quote_id"])
    assert (debited.status, debited.code) == (409, "quote_used")


def test_extending_only_the_expiry_moves_no_credits(store: BillingStore, clock: MovableClock) -> None:
    org = new_org(store)
    hold = invoke(
        "holds",
        http_event(
            "hold_create",
            org_id=org.org_id,
            user=org.creator,
            body={"credits": 100, "expires_in_seconds": 3600},
        ),
    )
    later = invoke(
        "holds",
        http_event(
            "hold_extend",
            org_id=org.org_id,
            hold_id=hold.body["hold_id"],
            service=METER,
            body={"expires_in_seconds": 7 * 86400},
        ),
    )
    assert (later.status, later.body["amount"]) == (200, 100)
    clock.advance(hours=2)
    cap = invoke(
        "holds",
        http_event(
            "hold_capture",
            org_id=org.org_id,
            hold_id=hold.body["hold_id"],
            service=METER,
            body={"credits": 100, "final": True},
        ),
    )
    assert cap.status == 200
    assert_books(store, org.org_id)


def test_ledger_lists_newest_first_filters_paginates_and_exports_csv(
    store: BillingStore, clock: MovableClock
) -> None:
    org = new_org(store)
    for i in range(5):
        clock.advance(seconds=1)
        invoke(
            "debits",
            http_event(
                "debit_create",
                org_id=org.org_id,
                service=METER,
                body={"member_id": org.creator, "job_id": f"job-{i}", "usage": {"shots": {"Q1": 1}}},
                headers={"idempotency-key": f"d-{i}"},
            ),
        )
    page = invoke(
        "ledger",
        http_event("ledger_list", org_id=org.org_id, user=org.viewer, query={"limit": "2", "type": "debit"}),
    )
    assert page.status == 200, page.body
    assert [e["job_id"] for e in page.body["entries"]] == ["job-4", "job-3"]
    rest = invoke(
        "ledger",
        http_event(
            "ledger_list",
            org_id=org.org_id,
            user=org.viewer,
            query={"limit": "10", "type": "debit", "cursor": page.body["next_cursor"]},
        ),
    )
    assert [e["job_id"] for e in rest.body["entries"]] == ["job-2", "job-1", "job-0"]
    by_job = invoke(
        "ledger", http_event("ledger_list", org_id=org.org_id, user=org.viewer, query={"job": "job-2"})
    )
    assert [e["job_id"] for e in by_job.body["entries"]] == ["job-2"]
    csv = invoke(
        "ledger",
        http_event("ledger_list", org_id=org.org_id, user=org.viewer, headers={"accept": "text/csv"}),
    )
    assert csv.headers["content-type"].startswith("text/csv"), csv.body["detail"]
    lines = csv.body.strip().splitlines()
    assert lines[0].startswith("created_at,entry_id,type,amount")
    assert len(lines) == 1 + 6  # five debits and the monthly grant


def test_a_retry_after_the_state_moved_on_still_gets_the_first_answer(store: BillingStore) -> None:
    # Given a debit that spent the whole balance and a hold that was released
    org = new_org(store, plan_id="starter", monthly=800, cap=1600)
    drain = http_event(
        "debit_create",
        org_id=org.org_id,
        service=METER,
        body={"member_id": org.creator, "job_id": "all", "usage": {"shots": {"Q2": 4}}},
        headers={"idempotency-key": "drain"},
    )
    first = invoke("debits", drain)
    assert first.status == 201
    # When the same request is retried, the answer is the first one, not 402
    retry = invoke("debits", drain)
    assert (retry.status, retry.body, retry.headers["idempotent-replayed"]) == (201, first.body, "true")
    # And the same holds for a retried release of a closed hold
    org2 = new_org(store)
    hold = invoke(
        "holds", http_event("hold_create", org_id=org2.org_id, user=org2.creator, body={"credits": 10})
    )
    release = http_event(
        "hold_release",
        org_id=org2.org_id,
        hold_id=hold.body["hold_id"],
        service=METER,
        headers={"idempotency-key": "rel"},
    )
    assert invoke("holds", release).body == invoke("holds", release).body
    assert store.wallet(org.org_id).total() == 0
    assert_books(store, org.org_id, org2.org_id)

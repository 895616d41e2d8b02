"""Bad input of every kind gets a 4xx problem+json with a stable code, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from act3_billing.store.wallets import BillingStore
from tests.support.events import Machine, http_event, machine
from tests.support.functions import invoke
from tests.support.wallets import Org, new_org

METER = machine()  # the usage meter: job metrics, settling holds


def snapshot(store: BillingStore, org: Org) -> tuple[Any, ...]:
    wallet = store.wallet(org.org_id)
    return wallet.lots, wallet.held, len(list(store.entries(org.org_id)))


GOOD_USAGE = {"shots": {"Q1": 1}}

BAD_BODIES = [
    ("debit_create", "debits", {"job_id": "j"}, 422, "validation_error"),
    (
        "debit_create",
        "debits",
        {"job_id": "j", "usage": GOOD_USAGE, "quote_id": "qt_x-80"},
        422,
        "validation_error",
    ),
    ("debit_create", "debits", {"job_id": "j", "usage": {"shots": {"Q1": -1}}}, 422, "validation_error"),
    ("debit_create", "debits", {"job_id": "j", "usage": {"shots": {"Q1": "1"}}}, 422, "validation_error"),
    ("debit_create", "debits", {"job_id": "j", "usage": {"shots": {"Q9": 1}}}, 422, "validation_error"),
    ("debit_create", "debits", {"job_id": "j", "usage": {"shots": {"Q1": 10**12}}}, 422, "validation_error"),
    ("debit_create", "debits", {"job_id": "j", "usage": {"cpu_seconds": "NaN"}}, 422, "validation_error"),
    ("debit_create", "debits", {"job_id": "j", "usage": {}}, 422, "validation_error"),
    ("debit_create", "debits", {"job_id": "j", "usage": {"gpu_seconds": {"z9": 5}}}, 422, "validation_error"),
    (
        "debit_create",
        "debits",
        {"job_id": "j", "usage": {"shots": {"Q3": 10_000_000}}},
        422,
        "validation_error",
    ),
    ("debit_create", "debits", {"job_id": "j", "quote_id": "qt_unknown-80"}, 404, "not_found"),
    ("debit_create", "debits", {"job_id": "j", "quote_id": "nonsense"}, 404, "not_found"),
    ("debit_create", "debits", {"job_id": "", "usage": GOOD_USAGE}, 422, "validation_error"),
    ("debit_create", "debits", {"job_id": "j", "usage": GOOD_USAGE, "extra": 1}, 422, "validation_error"),
    ("debit_create", "debits", [1, 2], 422, "validation_error"),
    ("hold_create", "holds", {"credits": 0}, 422, "validation_error"),
    ("hold_create", "holds", {"credits": -5}, 422, "validation_error"),
    ("hold_create", "holds", {"credits": 1.5}, 422, "validation_error"),
    ("hold_create", "holds", {"credits": True}, 422, "validation_error"),
    ("hold_create", "holds", {"credits": 10**15}, 422, "validation_error"),
    ("hold_create", "holds", {"credits": 5, "expires_in_seconds": 10}, 422, "validation_error"),
    ("hold_create", "holds", {"quote_id": "qt_missing-5"}, 404, "not_found"),
    ("refund_create", "refunds", {}, 422, "validation_error"),
    ("refund_create", "refunds", {"job_id": "j", "member_id": "a b"}, 422, "validation_error"),
    # the usage meter debits on behalf of a member: which one is not optional
    (
        "debit_create",
        "debits",
        {"job_id": "j", "usage": GOOD_USAGE, "member_id": None},
        422,
        "validation_error",
    ),
    (
        "debit_create",
        "debits",
        {"job_id": "j", "usage": GOOD_USAGE, "member_id": ""},
        422,
        "validation_error",
    ),
    ("quote_create", "quotes", {"usage": {"shots": {"Q1": -2}}}, 422, "validation_error"),
]


METER_EVENTS = {"hold_capture", "hold_release", "hold_extend", "refund_create"}


def _sent_by(event: str, body: Any, member: str) -> tuple[Any, Machine | None]:
    """Who sends this body in production: job metrics and settling come from the usage meter (for the
    member), the rest from the member."""
    if event in METER_EVENTS or (event == "debit_create" and isinstance(body, dict) and "usage" in body):
        if isinstance(body, dict) and event == "debit_create":
            body = {"member_id": member, **body}
        return {k: v for k, v in body.items() if v is not None} if isinstance(body, dict) else body, machine()
    return body, None


@pytest.mark.parametrize(("event", "function", "body", "status", "code"), BAD_BODIES)
def test_bad_bodies_are_refused_and_change_nothing(
    store: BillingStore, event: str, function: str, body: Any, status: int, code: str
) -> None:
    org = new_org(store)
    before = snapshot(store, org)
    body, service = _sent_by(event, body, org.creator)
    reply = invoke(
        function, http_event(event, org_id=org.org_id, user=org.creator, service=service, body=body)
    )
    assert (reply.status, reply.code) == (status, code), reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.body["detail"]
    assert snapshot(store, org) == before


@pytest.mark.parametrize("raw", ["{", "not json", '{"job_id": "j",}', ""])
def test_malformed_json_is_400(store: BillingStore, raw: str) -> None:
    org = new_org(store)
    reply = invoke("debits", http_event("debit_create", org_id=org.org_id, user=org.creator, raw_body=raw))
    assert reply.status in (400, 422)
    assert reply.code in ("malformed_json", "validation_error")
    if raw and raw != "":
        assert (reply.status, reply.code) == (400, "malformed_json")


@pytest.mark.parametrize(
    ("event", "function", "body"),
    [
        ("debit_create", "debits", {"job_id": "j", "usage": GOOD_USAGE}),
        ("hold_create", "holds", {"credits": 5}),
        ("refund_create", "refunds", {"job_id": "j"}),
        ("hold_capture", "holds", {"credits": 1}),
        ("hold_release", "holds", {}),
        ("hold_extend", "holds", {"credits": 1}),
    ],
)
def test_mutations_without_idempotency_key_are_refused(
    store: BillingStore, event: str, function: str, body: Any
) -> None:
    org = new_org(store)
    before = snapshot(store, org)
    body, service = _sent_by(event, body, org.creator)
    reply = invoke(
        function,
        http_event(
            event,
            org_id=org.org_id,
            user=org.creator,
            service=service,
            body=body,
            drop_headers=("idempotency-key",),
        ),
    )
    assert (reply.status, reply.code) == (400, "idempotency_key_required")
    assert snapshot(store, org) == before


@pytest.mark.parametrize(
    ("event", "body"),
    [("hold_capture", {"credits": 1}), ("hold_release", {}), ("hold_extend", {"credits": 1})],
)
def test_unknown_hold_is_404(store: BillingStore, event: str, body: dict[str, int]) -> None:
    org = new_org(store)
    reply = invoke(
        "holds",
        http_event(event, org_id=org.org_id, hold_id="hold_nope", service=machine(), body=body),
    )
    assert (reply.status, reply.code) == (404, "not_found")


@pytest.mark.parametrize(
    ("event", "function", "body"),
    [
        ("balance_get", "balance", ...),
        ("ledger_list", "ledger", ...),
        ("quote_create", "quotes", {"usage": GOOD_USAGE}),
        ("debit_create", "debits", {"job_id": "j", "usage": GOOD_USAGE}),
        ("hold_create", "holds", {"credits": 5}),
        ("refund_create", "refunds", {"job_id": "j"}),
    ],
)
def test_identity_only_from_claims_and_roles_checked_per_org(
    store: BillingStore, event: str, function: str, body: Any
) -> None:
    org, other = new_org(store), new_org(store)
    before = snapshot(store, org)
    anonymous = invoke(function, http_event(event, org_id=org.org_id, user=None, body=body))
    assert (anonymous.status, anonymous.code) == (401, "unauthenticated")
    stranger = invoke(function, http_event(event, org_id=org.org_id, user=other.owner, body=body))
    assert (stranger.status, stranger.code) == (404, "not_found")
    assert org.org_id not in str(stranger.body.get("entries", "")) and "monthly" not in str(stranger.body)
    if function not in ("balance", "ledger"):
        for role_user in (org.viewer, org.billing):
            refused = invoke(function, http_event(event, org_id=org.org_id, user=role_user, body=body))
            assert (refused.status, refused.code) == (403, "forbidden_role"), refused.body
    assert snapshot(store, org) == before


def test_a_cursor_from_another_org_is_refused(store: BillingStore) -> None:
    org, other = new_org(store), new_org(store)
    for i in range(3):
        invoke(
            "debits",
            http_event(
                "debit_create",
                org_id=other.org_id,
                user=other.creator,
                body={"job_id": f"j{i}", "usage": GOOD_USAGE},
                headers={"idempotency-key": f"k{i}"},
            ),
        )
    page = invoke(
        "ledger", http_event("ledger_list", org_id=other.org_id, user=other.viewer, query={"limit": "1"})
    )
    stolen = invoke(
        "ledger",
        http_event(
            "ledger_list", org_id=org.org_id, user=org.viewer, query={"cursor": page.body["next_cursor"]}
        ),
    )
    assert (stolen.status, stolen.code) == (422, "validation_error")
    garbled = invoke(
        "ledger", http_event("ledger_list", org_id=org.org_id, user=org.viewer, query={"cursor": "%%%"})
    )
    assert garbled.status == 422


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "100000"}, {"limit": "abc"}, {"type": "bogus"}])
def test_bad_ledger_queries_are_422(store: BillingStore, query: dict[str, str]) -> None:
    org = new_org(store)
    reply = invoke("ledger", http_event("ledger_list", org_id=org.org_id, user=org.viewer, query=query))
    assert (reply.status, reply.code) == (422, "validation_error")


def test_idempotency_key_that_is_too_long_is_refused(store: BillingStore) -> None:
    org = new_org(store)
    reply = invoke(
        "debits",
        http_event(
            "debit_create",
            org_id=org.org_id,
            service=METER,
            body={"member_id": org.creator, "job_id": "j", "usage": GOOD_USAGE},
            headers={"idempotency-key": "k" * 300},
        ),
    )
    assert (reply.status, reply.code) == (400, "idempotency_key_required")


def test_unknown_route_is_a_problem_not_a_crash(store: BillingStore) -> None:
    event = http_event("balance_get", org_id="x", user="u")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/nope"
    reply = invoke("balance", event)
    assert (reply.status, reply.code) == (404, "route_not_found")


def test_a_body_that_is_not_declared_json_is_415(store: BillingStore) -> None:
    org = new_org(store)
    event = http_event(
        "hold_create",
        org_id=org.org_id,
        user=org.creator,
        body={"credits": 5},
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    reply = invoke("holds", event)
    assert (reply.status, reply.code) == (415, "unsupported_media_type")
    assert store.wallet(org.org_id).held == 0


def test_a_stranger_cannot_probe_whether_a_key_was_used_in_another_org(store: BillingStore) -> None:
    org, other = new_org(store), new_org(store)
    body = {"job_id": "j", "usage": GOOD_USAGE, "member_id": org.creator}
    used = invoke(
        "debits",
        http_event(
            "debit_create",
            org_id=org.org_id,
            service=METER,
            body=body,
            headers={"idempotency-key": "known-key"},
        ),
    )
    assert used.status == 201
    probe = invoke(
        "debits",
        http_event(
            "debit_create",
            org_id=org.org_id,
            user=other.owner,
            body=body,
            headers={"idempotency-key": "known-key"},
        ),
    )
    fresh = invoke(
        "debits",
        http_event(
            "debit_create",
            org_id=org.org_id,
            user=other.owner,
            body=body,
            headers={"idempotency-key": "never-used"},
        ),
    )
    assert (probe.status, probe.code) == (fresh.status, fresh.code) == (404, "not_found")


@pytest.mark.parametrize("bad", ["x" * 2048, "has space", "a#b", "-lead", "%00"])
def test_ids_in_the_path_that_cannot_exist_are_404(store: BillingStore, bad: str) -> None:
    org = new_org(store)
    for function, event in (
        ("balance", http_event("balance_get", org_id=bad, user=org.owner)),
        ("holds", http_event("hold_release", org_id=org.org_id, hold_id=bad, service=METER)),
    ):
        reply = invoke(function, event)
        assert (reply.status, reply.code) == (404, "not_found"), (function, reply.body)


def test_a_cursor_for_another_filter_or_forged_key_is_refused(store: BillingStore) -> None:
    import base64
    import json

    org = new_org(store)
    for i in range(3):
        invoke(
            "debits",
            http_event(
                "debit_create",
                org_id=org.org_id,
                service=METER,
                body={"member_id": org.creator, "job_id": "same-job", "usage": GOOD_USAGE},
                headers={"idempotency-key": f"c{i}"},
            ),
        )
    page = invoke(
        "ledger",
        http_event(
            "ledger_list", org_id=org.org_id, user=org.viewer, query={"limit": "1", "job": "same-job"}
        ),
    )
    assert page.body["next_cursor"]
    unfiltered = invoke(
        "ledger",
        http_event(
            "ledger_list", org_id=org.org_id, user=org.viewer, query={"cursor": page.body["next_cursor"]}
        ),
    )
    assert (unfiltered.status, unfiltered.code) == (422, "validation_error")
    forged = base64.urlsafe_b64encode(
        json.dumps({"o": org.org_id, "j": None, "a": {"pk": "x"}}).encode()
    ).decode()
    assert (
        invoke(
            "ledger", http_event("ledger_list", org_id=org.org_id, user=org.viewer, query={"cursor": forged})
        ).status
        == 422
    )
    rest = invoke(
        "ledger",
        http_event(
            "ledger_list",
            org_id=org.org_id,
            user=org.viewer,
            query={"job": "same-job", "cursor": page.body["next_cursor"]},
        ),
    )
    assert rest.status == 200 and len(rest.body["entries"]) == 2

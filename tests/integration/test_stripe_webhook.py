"""The Stripe webhook (SPEC §8): signature first, each event once, out-of-order safe, unknown types no-op."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from act3_billing import runtime
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import TABLE
from tests.support.stripe_api import FakeStripe
from tests.support.stripe_events import SECRET, deliver, sign, stripe_event
from tests.support.wallets import new_org


def table_items() -> list[dict[str, Any]]:
    return list(boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"])


def an_event() -> dict[str, Any]:
    return stripe_event("customer_created", ids={"cus_REPLACE": "cus_webhooktest"})


@pytest.mark.parametrize(
    "signature",
    [
        None,  # missing
        "t=123,v1=deadbeef",  # forged
        "garbage",
        "",
    ],
)
def test_missing_or_forged_signatures_are_400_and_store_nothing(
    money: FakeStripe, store: BillingStore, signature: str | None
) -> None:
    before = table_items()
    payload = json.dumps(an_event())
    reply = deliver(payload=payload, signature=signature if signature != "" else "t=1,v1=")
    assert reply.status == 400 and reply.code == "invalid_signature"
    assert table_items() == before


def test_a_signature_with_another_secret_or_a_changed_body_is_refused(
    money: FakeStripe, store: BillingStore
) -> None:
    before = table_items()
    payload = json.dumps(an_event())
    assert deliver(payload=payload, signature=sign(payload, "whsec_someone_else")).code == "invalid_signature"
    assert (
        deliver(payload=payload.replace("cus_", "cux_"), signature=sign(payload)).code == "invalid_signature"
    )
    assert table_items() == before


def test_a_stale_signature_is_refused_and_a_fresh_one_within_300_seconds_accepted(
    money: FakeStripe, store: BillingStore
) -> None:
    payload = json.dumps(an_event())
    stale = deliver(payload=payload, signature=sign(payload, SECRET, int(time.time()) - 301))
    assert stale.status == 400 and stale.code == "invalid_signature"
    fresh = deliver(payload=payload, signature=sign(payload, SECRET, int(time.time()) - 290))
    assert fresh.status == 200


def test_a_signed_body_that_is_no_event_is_refused(money: FakeStripe, store: BillingStore) -> None:
    for payload in ("not json", "[]", json.dumps({"id": 1, "type": "x"})):
        assert deliver(payload=payload).code == "invalid_signature"


def test_unknown_types_answer_200_and_change_nothing_but_the_event_record(
    money: FakeStripe, store: BillingStore
) -> None:
    org = new_org(store)
    wallet = store.wallet(org.org_id)
    event = an_event()
    reply = deliver(event)
    assert reply.status == 200 and reply.result.startswith("ignored")
    assert store.wallet(org.org_id) == wallet
    assert runtime.payments().event_seen(event["id"])
    assert deliver(event).body["result"] == "duplicate"


def test_subscription_events_out_of_order_never_move_state_back(
    money: FakeStripe, store: BillingStore
) -> None:
    org = new_org(store)
    runtime.payments().save_customer(org.org_id, "cus_order", store.wallet(org.org_id).cycle_start)
    now = int(time.time())

    def status(value: str) -> Any:
        def change(obj: dict[str, Any]) -> None:
            obj["status"] = value
            obj["items"]["data"][0].update(current_period_start=now, current_period_end=now + 30 * 86400)

        return change

    ids = {"cus_REPLACE": "cus_order", "sub_REPLACE": "sub_order", "org_REPLACE": org.org_id}
    newer = stripe_event(
        "customer_subscription_updated", ids=ids, created=now + 10, change=status("past_due")
    )
    older = stripe_event("customer_subscription_updated", ids=ids, created=now, change=status("active"))
    assert deliver(newer).status == 200
    assert deliver(older).result.startswith("ignored")
    assert runtime.payments().subscription(org.org_id).status == "past_due"  # type: ignore[union-attr]


@settings(max_examples=40, deadline=None)
@given(payload=st.text(max_size=300), header=st.one_of(st.none(), st.text(max_size=120)))
def test_fuzzed_bodies_and_headers_are_400_never_500(payload: str, header: str | None) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
        reply = deliver(payload=payload, signature=header)
    assert reply.status == 400 and reply.code == "invalid_signature"


def test_product_and_price_events_make_the_live_catalog_that_get_plans_serves(
    money: FakeStripe, store: BillingStore
) -> None:
    from tests.support.events import http_event
    from tests.support.functions import invoke

    now = int(time.time())
    ids = {"prod_REPLACE": "prod_creator_live", "price_REPLACE": "price_creator_live"}

    def creator(credits: str) -> Any:
        return lambda obj: obj["metadata"].update(monthly_credits=credits)

    price = stripe_event(
        "price_created", ids=ids, created=now, change=lambda obj: obj.update(unit_amount=3900)
    )
    newer = stripe_event("product_updated", ids=ids, created=now + 5, change=creator("36000"))
    older = stripe_event("product_updated", ids=ids, created=now, change=creator("1"))
    for event in (price, newer, older):
        assert deliver(event).status == 200
    plans = {p["id"]: p for p in invoke("plans", http_event("plans_list", user=None)).body["plans"]}
    assert (plans["creator"]["price_cents"], plans["creator"]["monthly_credits"]) == (3900, 36000)
    assert plans["studio"]["price_cents"] == 9900  # Stripe said nothing about it: the built-in default


_ANY_TEXT = st.text(st.characters(codec=None), max_size=60)  # lone surrogates too


@settings(max_examples=60, deadline=None)
@given(
    body=st.one_of(st.none(), _ANY_TEXT, st.binary(max_size=60).map(lambda b: b.hex())),
    base64_flag=st.booleans(),
    headers=st.dictionaries(_ANY_TEXT, st.one_of(st.none(), _ANY_TEXT), max_size=4),
    method=st.sampled_from(["POST", "GET", "PUT", "DELETE", ""]),
)
def test_any_function_url_request_without_a_valid_signature_is_400_never_500(
    body: str | None, base64_flag: bool, headers: dict[str, str | None], method: str
) -> None:
    """The whole function-URL event is input: a body that is not base64 or not UTF-8, headers that are
    not text, any method. Each is 400 invalid_signature (the guard's refusals included)."""
    import copy

    from tests.support.functions import invoke
    from tests.support.stripe_events import _load

    event = copy.deepcopy(_load("url/stripe_webhook.json"))
    event.update(body=body, isBase64Encoded=base64_flag, headers=headers)
    event["requestContext"]["http"]["method"] = method
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
        reply = invoke("stripe_webhook", event)
    assert (reply.status, reply.code) == (400, "invalid_signature"), reply.body
    assert reply.headers["content-type"] == "application/problem+json"


def test_a_signed_event_while_the_database_fails_is_503_with_retry_after_and_changes_nothing(
    money: FakeStripe, store: BillingStore
) -> None:
    """Stripe retries any answer but 2xx; the answer says why and when, instead of a 500."""
    from tests.integration.test_unavailable import FAULTS, dynamodb_failing
    from tests.support.stripe_events import post

    org = new_org(store)
    event = stripe_event("customer_created", ids={"cus_REPLACE": "cus_webhook503"})
    event["data"]["object"]["metadata"] = {"act3_org": org.org_id}
    before = table_items()
    for name, fault in FAULTS.items():
        with dynamodb_failing(fault) as tried:
            reply = post(event)
        assert tried, name
        assert (reply.status, reply.code) == (503, "unavailable"), (name, reply.body)
        assert reply.headers["retry-after"].isdigit()
        assert table_items() == before
    assert deliver(event).status == 200  # Stripe's retry, once the table answers

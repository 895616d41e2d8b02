"""Bodies, headers and ids that json.loads or the database would choke on: each a stable 4xx, no change.

(The fuzzing in test_fuzz_contract.py finds such inputs; these are the classes it found, kept as
named examples with their exact answers.)"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from act3_billing.store.wallets import BillingStore
from tests.integration.test_fuzz_contract import table_items
from tests.support.events import http_event
from tests.support.functions import invoke
from tests.support.wallets import new_org

DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ('{"job_id": "j", "usage": {"cpu_seconds": NaN}}', 400, "malformed_json"),
        ('{"job_id": "j", "usage": {"cpu_seconds": Infinity}}', 400, "malformed_json"),
        ('{"job_id": "j", "usage": {"cpu_seconds": 1e999}}', 422, "validation_error"),
        ('{"job_id": "j", "usage": {"tts_characters": 1' + "0" * 5000 + "}}", 422, "validation_error"),
        ('{"job_id": "\\ud800", "usage": {"shots": {"Q1": 1}}}', 400, "malformed_json"),
        ('{"job_id": "j", "usage": {"shots": {"Q1": 1}}, "job_id": "k"}', 400, "malformed_json"),
        (DEEP, 400, "malformed_json"),
        ('{"a":' * 40 + "1" + "}" * 40, 400, "malformed_json"),
        ("\t", 400, "malformed_json"),
        ('"just a string"', 422, "validation_error"),
        ("null", 422, "validation_error"),
    ],
)
def test_json_that_no_handler_can_use_is_refused(
    store: BillingStore, raw: str, status: int, code: str
) -> None:
    org = new_org(store)
    before = table_items()
    reply = invoke("debits", http_event("debit_create", org_id=org.org_id, user=org.creator, raw_body=raw))
    assert (reply.status, reply.code) == (status, code), reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    assert table_items() == before


@pytest.mark.parametrize(
    ("body", "encoded", "status", "code"),
    [
        ("not base64!!", True, 400, "malformed_json"),
        (base64.b64encode(b"\xff\xfe{}").decode(), True, 400, "malformed_json"),
        (base64.b64encode(b'{"credits": 5}').decode(), True, 201, None),
    ],
)
def test_base64_bodies_are_decoded_strictly(
    store: BillingStore, body: str, encoded: bool, status: int, code: str | None
) -> None:
    org = new_org(store)
    event = http_event("hold_create", org_id=org.org_id, user=org.creator)
    event["body"], event["isBase64Encoded"] = body, encoded
    reply = invoke("holds", event)
    assert (reply.status, reply.code) == (status, code), reply.body


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "application/xml"],
)
def test_any_other_content_type_is_415_even_without_a_body(store: BillingStore, content_type: str) -> None:
    org = new_org(store)
    event = http_event("hold_release", org_id=org.org_id, user=org.creator, raw_body="")
    event["headers"]["content-type"] = content_type
    reply = invoke("holds", event)
    assert (reply.status, reply.code) == (415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("where", "value", "status", "code"),
    [
        ("header", "k\ud800", 422, "validation_error"),
        ("query", "\udfff", 422, "validation_error"),
        ("path", "org\ud800", 404, "not_found"),
    ],
)
def test_text_that_is_not_unicode_anywhere_is_refused(
    store: BillingStore, where: str, value: str, status: int, code: str
) -> None:
    org = new_org(store)
    event: dict[str, Any] = http_event("ledger_list", org_id=org.org_id, user=org.viewer)
    if where == "header":
        event["headers"]["idempotency-key"] = value
    elif where == "query":
        event["queryStringParameters"] = {"job": value}
    else:
        event["pathParameters"]["org_id"] = value
    reply = invoke("ledger", event)
    assert (reply.status, reply.code) == (status, code), reply.body


@pytest.mark.parametrize(
    "quote_id",
    [
        "qt_01ARZ3NDEKTSV4RRFFQ69G5FAV-" + "9" * 60,  # a price no quote can have
        "qt_01ARZ3NDEKTSV4RRFFQ69G5FAV-0",
        "qt_01ARZ3NDEKTSV4RRFFQ69G5FAV-80",  # a plausible price, but no such quote
        "qt_x-\u0668\u0660",  # Arabic-Indic digits: isdigit() says yes
        "qt_x-\u00b2",  # superscript two
    ],
)
def test_a_quote_id_is_only_trusted_after_lookup(store: BillingStore, quote_id: str) -> None:
    org = new_org(store)
    before = table_items()
    for event, function in (("debit_create", "debits"), ("hold_create", "holds")):
        body: dict[str, Any] = {"quote_id": quote_id} | ({"job_id": "j"} if function == "debits" else {})
        reply = invoke(function, http_event(event, org_id=org.org_id, user=org.creator, body=body))
        assert reply.status in (404, 422), reply.body
        assert reply.code in ("not_found", "validation_error")
    assert table_items() == before


def test_null_toggles_leave_settings_as_they_are(store: BillingStore) -> None:
    """Found by schemathesis: explicit nulls in a settings patch were stored and answered 500."""
    org = new_org(store)
    body = {"shared_credits": {"billing": True, "creator": None, "owner": None}}
    reply = invoke("members", http_event("settings_patch", org_id=org.org_id, user=org.owner, body=body))
    assert reply.status == 200, reply.body
    assert all(isinstance(v, bool) for v in reply.body["shared_credits"].values())
    assert reply.body["shared_credits"]["billing"] is True


def test_a_null_role_is_refused(store: BillingStore) -> None:
    """Found by schemathesis: `{"role": null}` reached Role(None) and answered 500."""
    org = new_org(store)
    before = table_items()
    event = http_event(
        "member_patch", org_id=org.org_id, params={"user_id": org.viewer}, user=org.owner, body={"role": None}
    )
    reply = invoke("members", event)
    assert (reply.status, reply.code) == (422, "validation_error"), reply.body
    assert table_items() == before


@pytest.mark.parametrize("part", ["key", "org_id"])
def test_an_asset_path_that_is_not_unicode_is_not_found(store: BillingStore, part: str) -> None:
    """Found by the contract fuzzing after the storage work: the assets function re-encodes its greedy
    key into the path before routing, and a lone surrogate there answered 500."""
    org = new_org(store)
    event = http_event("asset_get", org_id=org.org_id, user=org.viewer)
    event["pathParameters"][part] = "\ud800"
    reply = invoke("assets", event)
    assert (reply.status, reply.code) == (404, "not_found"), reply.body

"""Whatever a client sends to the storage routes — any JSON body, any asset key — the answer is a clear
4xx problem or a success, never a 500, and a refusal changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from act3_billing.store.wallets import BillingStore
from tests.support.events import http_event
from tests.support.functions import invoke
from tests.support.wallets import Org, new_org

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=12,
)
UPLOAD_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "project_id": st.text(max_size=40) | st.integers(),
        "kind": st.sampled_from(["media", "text", "audio", ""]) | st.integers(),
        "filename": st.text(max_size=60),
        "size": st.integers(min_value=-(2**70), max_value=2**70) | st.text(max_size=5),
        "content_type": st.text(max_size=40) | st.just("video/mp4"),
    },
)
# One org per test (the fixture), many requests against it: a refusal changes nothing anyway.
SLOW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def org(store: BillingStore) -> Org:
    return new_org(store)


@SLOW
@given(body=st.one_of(JSON, UPLOAD_FIELDS))
def test_any_upload_body_is_answered_without_a_500(org: Org, body: Any) -> None:
    reply = invoke(
        "uploads",
        http_event(
            "upload_create", org_id=org.org_id, user=org.creator, body=body, headers={"idempotency-key": "k"}
        ),
    )
    assert reply.status < 500, reply.body
    assert reply.status in (201, 400, 402, 409, 415, 422), reply.body


@SLOW
@given(key=st.text(min_size=1, max_size=120))
def test_any_asset_key_is_answered_without_a_500(org: Org, key: str) -> None:
    reply = invoke("assets", http_event("asset_get", org_id=org.org_id, user=org.viewer, params={"key": key}))
    assert reply.status in (404, 410, 422), reply.body
    assert isinstance(reply.body, dict) and reply.body.get("code"), reply.body


@SLOW
@given(raw=st.text(max_size=80) | JSON.map(json.dumps))
def test_any_media_deletion_body_is_answered_without_a_500(org: Org, raw: str) -> None:
    reply = invoke(
        "media_deletions",
        http_event(
            "media_deletion_create",
            org_id=org.org_id,
            user=org.owner,
            raw_body=raw,
            headers={"idempotency-key": "k"},
        ),
    )
    assert reply.status in (200, 400, 409, 415, 422), reply.body

"""Bulk media deletion on moto S3: a dry run, owners only, batched, interrupted and resumed with exact
counts, text kept, and the counters following from the resulting events."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from act3_billing import runtime
from act3_billing.store.wallets import BillingStore
from tests.support.events import http_event
from tests.support.functions import Reply, call, invoke
from tests.support.storage import MEDIA_BUCKET, MeterFeed, s3_event
from tests.support.wallets import Org, new_org


def delete_media(org: Org, user: str, body: dict[str, Any], key: str | None = "del-1") -> Reply:
    headers = {"idempotency-key": key} if key else {}
    return invoke(
        "media_deletions",
        http_event(
            "media_deletion_create",
            org_id=org.org_id,
            user=user,
            body=body,
            headers=headers,
            drop_headers=() if key else ("idempotency-key",),
        ),
    )


def fill(org: Org) -> dict[str, int]:
    """Media in two projects, text in one; returns key -> size."""
    s3 = boto3.client("s3", region_name="us-east-1")
    objects = {
        **{f"orgs/{org.org_id}/projects/p1/media/shot-{i}.mp4": 100 + i for i in range(5)},
        **{f"orgs/{org.org_id}/projects/p2/media/v-{i}.wav": 1000 + i for i in range(3)},
        **{f"orgs/{org.org_id}/projects/p1/text/doc-{i}.md": 10 + i for i in range(2)},
    }
    for key, size in objects.items():
        s3.put_object(Bucket=MEDIA_BUCKET, Key=key, Body=b"x" * size)
    return objects


def keys_left(org: Org) -> set[str]:
    s3 = boto3.client("s3", region_name="us-east-1")
    reply = s3.list_objects_v2(Bucket=MEDIA_BUCKET, Prefix=f"orgs/{org.org_id}/")
    return {o["Key"] for o in reply.get("Contents", [])}


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    # Imported here: the package's metrics read their namespace from the functions' environment.
    from act3_billing import media_deletion

    monkeypatch.setattr(media_deletion, "DELETE_BATCH", 2)


def test_a_dry_run_counts_what_would_go_and_deletes_nothing(store: BillingStore, small_batches: None) -> None:
    org = new_org(store)
    objects = fill(org)
    reply = delete_media(org, org.owner, {"dry_run": True}, key=None)
    assert reply.status == 200, reply.body
    media = {k: v for k, v in objects.items() if "/media/" in k}
    assert (reply.body["objects"], reply.body["bytes"]) == (len(media), sum(media.values()))
    assert keys_left(org) == set(objects)


def test_only_owners_delete_media_and_a_key_is_required(store: BillingStore) -> None:
    org = new_org(store)
    objects = fill(org)
    assert delete_media(org, org.creator, {}).code == "forbidden_role"
    assert delete_media(org, org.owner, {}, key=None).code == "idempotency_key_required"
    assert keys_left(org) == set(objects)


def test_an_interrupted_deletion_resumes_and_counts_every_object_once(
    store: BillingStore, small_batches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = new_org(store)
    objects = fill(org)
    feed = MeterFeed()
    call("storage_meter", s3_event(*feed.records()))

    # Given a deletion whose process dies right after S3 deleted its second batch
    bucket = runtime.objects()
    real_delete = bucket.delete
    calls = {"n": 0}

    def dies_after_second_batch(keys: list[str]) -> list[str]:
        calls["n"] += 1
        failed = real_delete(keys)
        if calls["n"] == 2:
            raise RuntimeError("the Lambda was stopped")
        return failed

    monkeypatch.setattr(bucket, "delete", dies_after_second_batch)
    with pytest.raises(RuntimeError, match="stopped"):
        delete_media(org, org.owner, {}, key="wipe-all")
    assert 0 < len(keys_left(org)) < len(objects)

    # When the same request is sent again
    monkeypatch.setattr(bucket, "delete", real_delete)
    done = delete_media(org, org.owner, {}, key="wipe-all")

    # Then every media object went, each counted once, and the text stayed
    media = {k: v for k, v in objects.items() if "/media/" in k}
    assert done.status == 200, done.body
    assert (done.body["status"], done.body["objects"], done.body["bytes"]) == (
        "done",
        len(media),
        sum(media.values()),
    )
    assert keys_left(org) == {k for k in objects if "/text/" in k}
    # and a replay answers the same, while another body under the key is refused
    assert delete_media(org, org.owner, {}, key="wipe-all").body == done.body
    assert delete_media(org, org.owner, {"project_id": "p1"}, key="wipe-all").code == "idempotency_key_reuse"

    # and the counters follow from the resulting S3 events
    call("storage_meter", s3_event(*feed.records()))
    view = invoke("storage", http_event("storage_get", org_id=org.org_id, user=org.viewer)).body
    assert view["media"] == {"bytes": 0, "objects": 0}
    assert view["text"] == {"bytes": 21, "objects": 2}


def test_one_projects_media_goes_and_the_others_stay(store: BillingStore, small_batches: None) -> None:
    org = new_org(store)
    objects = fill(org)
    reply = delete_media(org, org.owner, {"project_id": "p2"}, key="p2-media")
    assert (reply.status, reply.body["objects"], reply.body["bytes"]) == (200, 3, 3003)
    assert keys_left(org) == {k for k in objects if "/p2/" not in k}


def test_time_running_short_answers_202_and_the_same_request_carries_on(
    store: BillingStore, small_batches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = new_org(store)
    fill(org)
    budget = {"batches": 1}

    def keep_going_once(*_: Any) -> int:
        budget["batches"] -= 1
        return 10_000 if budget["batches"] >= 0 else 0

    monkeypatch.setattr(
        "tests.support.lambda_context.FakeLambdaContext.get_remaining_time_in_millis", keep_going_once
    )
    first = delete_media(org, org.owner, {}, key="slow")
    assert (first.status, first.body["status"], first.body["objects"]) == (202, "running", 2)
    budget["batches"] = 100
    second = delete_media(org, org.owner, {}, key="slow")
    assert (second.status, second.body["status"], second.body["objects"]) == (200, "done", 8)

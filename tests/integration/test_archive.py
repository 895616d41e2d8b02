"""The archive timeline, driven by the injected clock: generation off at once (with the re-upgrade options),
text downloadable throughout, media purged on day 30 by the schedule -> queue -> worker fan-out and the
purge recorded; a re-upgrade before day 30 keeps everything."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3

from act3_billing import cycles
from act3_billing.store.storage import StorageStore
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import MovableClock
from tests.support.calls import debit, hold, quote
from tests.support.events import EVENTS, http_event
from tests.support.functions import Reply, call, invoke
from tests.support.storage import MEDIA_BUCKET, purge_queue_event
from tests.support.wallets import Org, new_org

SCHEDULE = json.loads((EVENTS / "schedule" / "purge_hourly.json").read_text())


def fill(org: Org) -> dict[str, int]:
    s3 = boto3.client("s3", region_name="us-east-1")
    objects = {
        f"orgs/{org.org_id}/projects/pilot/media/shot.mp4": 4096,
        f"orgs/{org.org_id}/projects/pilot/media/voice.wav": 1024,
        f"orgs/{org.org_id}/projects/pilot/text/script.fdx": 300,
    }
    for key, size in objects.items():
        s3.put_object(Bucket=MEDIA_BUCKET, Key=key, Body=b"x" * size)
    return objects


def keys_left(org: Org) -> set[str]:
    reply = boto3.client("s3", region_name="us-east-1").list_objects_v2(
        Bucket=MEDIA_BUCKET, Prefix=f"orgs/{org.org_id}/"
    )
    return {o["Key"] for o in reply.get("Contents", [])}


def asset(org: Org, key: str, user: str | None = None) -> Reply:
    return invoke(
        "assets", http_event("asset_get", org_id=org.org_id, user=user or org.viewer, params={"key": key})
    )


def run_purge_schedule() -> tuple[int, list[Any]]:
    """The hourly schedule, then the worker on whatever it queued."""
    queued = call("purge_scheduler", SCHEDULE)["queued"]
    batch = purge_queue_event()
    result = call("purge_worker", batch) if batch["Records"] else {"batchItemFailures": []}
    return queued, result["batchItemFailures"]


def test_archive_disables_generation_with_reupgrade_options_and_keeps_text_downloadable(
    store: BillingStore, clock: MovableClock
) -> None:
    org = new_org(store)
    fill(org)
    cycles.enter_archive(org.org_id, clock())

    for reply in (
        quote(org.org_id, org.creator, {"shots": {"Q1": 1}}),
        debit(org.org_id, org.creator, "job-after-archive"),
        hold(org.org_id, org.owner, {"job_id": "job-h", "credits": 100}, key="h-1"),
    ):
        assert (reply.status, reply.code) == (403, "generation_disabled"), reply.body
        assert [p["plan_id"] for p in reply.body["options"]["reupgrade"]] == [
            "starter",
            "creator",
            "studio",
            "enterprise",
        ]
    # A stranger learns nothing of it
    stranger = quote(org.org_id, "someone-else", {"shots": {"Q1": 1}})
    assert (stranger.status, stranger.code) == (404, "not_found")

    text = asset(org, "projects/pilot/text/script.fdx")
    assert text.status == 200, text.body
    assert text.body["kind"] == "text" and text.body["size"] == 300
    assert f"/orgs/{org.org_id}/projects/pilot/text/script.fdx" in text.body["download_url"]
    assert asset(org, "projects/pilot/text/missing.txt").code == "not_found"
    assert asset(org, "projects/pilot/text/script.fdx", user="someone-else").code == "not_found"

    view = invoke("storage", http_event("storage_get", org_id=org.org_id, user=org.owner)).body
    assert view["plan_id"] == "archive"
    assert view["archive"]["media_purge_due_at"].startswith((clock() + timedelta(days=30)).date().isoformat())

    upload = invoke(
        "uploads",
        http_event(
            "upload_create",
            org_id=org.org_id,
            user=org.owner,
            body={
                "project_id": "pilot",
                "kind": "text",
                "filename": "n.txt",
                "size": 1,
                "content_type": "text/plain",
            },
            headers={"idempotency-key": "after-archive"},
        ),
    )
    assert (upload.status, upload.code) == (402, "storage_quota_exceeded")


def test_media_is_purged_on_day_30_not_29_and_the_purge_is_recorded(
    store: BillingStore, clock: MovableClock
) -> None:
    org, active = new_org(store), new_org(store)
    objects, untouched = fill(org), fill(active)
    archived_at = clock()
    cycles.enter_archive(org.org_id, archived_at)

    clock.advance(days=29, hours=23)
    assert run_purge_schedule() == (0, [])
    assert keys_left(org) == set(objects)

    clock.advance(hours=1)
    assert run_purge_schedule() == (1, [])
    assert keys_left(org) == {k for k in objects if "/text/" in k}
    assert keys_left(active) == set(untouched)

    (record,) = StorageStore(store.connection).purges(org.org_id)
    assert (int(record.objects), int(record.bytes)) == (2, 4096 + 1024)
    assert record.purged_at is not None and record.archived_at.startswith(archived_at.date().isoformat())
    assert asset(org, "projects/pilot/media/shot.mp4").code == "media_purged"
    assert asset(org, "projects/pilot/text/script.fdx").status == 200
    # The next hour finds nothing due any more
    clock.advance(hours=1)
    assert run_purge_schedule() == (0, [])


def test_a_reupgrade_on_day_10_cancels_the_purge_and_turns_generation_back_on(
    store: BillingStore, clock: MovableClock
) -> None:
    org = new_org(store)
    objects = fill(org)
    cycles.enter_archive(org.org_id, clock())
    clock.advance(days=10)
    cycles.change_plan_now(org.org_id, "creator", clock())

    clock.advance(days=25)
    assert run_purge_schedule() == (0, [])
    assert keys_left(org) == set(objects)
    assert quote(org.org_id, org.creator, {"shots": {"Q1": 1}}).status == 201
    assert StorageStore(store.connection).purges(org.org_id) == []


def test_a_reupgrade_after_the_purge_was_queued_still_keeps_the_media(
    store: BillingStore, clock: MovableClock
) -> None:
    org = new_org(store)
    objects = fill(org)
    cycles.enter_archive(org.org_id, clock())
    clock.advance(days=30)
    assert call("purge_scheduler", SCHEDULE)["queued"] == 1
    cycles.change_plan_now(org.org_id, "studio", clock())

    result = call("purge_worker", purge_queue_event())
    assert result["batchItemFailures"] == []
    assert keys_left(org) == set(objects)


def test_entering_archive_twice_keeps_the_first_date(store: BillingStore, clock: MovableClock) -> None:
    org = new_org(store)
    first = cycles.enter_archive(org.org_id, clock())
    clock.advance(days=3)
    assert cycles.enter_archive(org.org_id, clock()) == first


def test_a_failed_purge_comes_back_alone_and_finishes_on_redelivery(
    store: BillingStore, clock: MovableClock, monkeypatch: Any
) -> None:
    from act3_billing import runtime

    healthy, broken = new_org(store), new_org(store)
    fill(healthy)
    broken_objects = fill(broken)
    for org in (healthy, broken):
        cycles.enter_archive(org.org_id, clock())
    clock.advance(days=30)
    assert call("purge_scheduler", SCHEDULE)["queued"] == 2
    batch = purge_queue_event()

    # Given S3 fails on the broken org's keys
    bucket = runtime.objects()
    real_delete = bucket.delete

    def failing(keys: list[str]) -> list[str]:
        if any(broken.org_id in k for k in keys):
            return keys
        return real_delete(keys)

    monkeypatch.setattr(bucket, "delete", failing)
    result = call("purge_worker", batch)

    # Then only the broken org's message is reported failed (SQS delivers it again), the other is purged
    failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
    broken_message = next(r["messageId"] for r in batch["Records"] if broken.org_id in r["body"])
    assert failed == [broken_message]
    assert keys_left(healthy) == {f"orgs/{healthy.org_id}/projects/pilot/text/script.fdx"}
    assert keys_left(broken) == set(broken_objects)

    # When it comes back after S3 recovered, it finishes
    monkeypatch.setattr(bucket, "delete", real_delete)
    redelivered = {"Records": [r for r in batch["Records"] if r["messageId"] == broken_message]}
    assert call("purge_worker", redelivered)["batchItemFailures"] == []
    assert keys_left(broken) == {k for k in broken_objects if "/text/" in k}
    assert len(StorageStore(store.connection).purges(broken.org_id)) == 1


def test_a_purge_out_of_time_queues_the_rest_and_the_next_run_finishes(
    store: BillingStore, clock: MovableClock, monkeypatch: Any
) -> None:
    from act3_billing import media_deletion

    monkeypatch.setattr(media_deletion, "DELETE_BATCH", 1)
    org = new_org(store)
    objects = fill(org)
    cycles.enter_archive(org.org_id, clock())
    clock.advance(days=30)
    assert call("purge_scheduler", SCHEDULE)["queued"] == 1
    # Given a worker with time for one batch only
    budget = {"batches": 1}

    def remaining(*_: Any) -> int:
        budget["batches"] -= 1
        return 60_000 if budget["batches"] >= 0 else 0

    monkeypatch.setattr(
        "tests.support.lambda_context.FakeLambdaContext.get_remaining_time_in_millis", remaining
    )
    assert call("purge_worker", purge_queue_event())["batchItemFailures"] == []
    assert len(keys_left(org)) == len(objects) - 1
    # When the queued rest runs with time enough
    budget["batches"] = 100
    again = purge_queue_event()
    assert len(again["Records"]) == 1
    assert call("purge_worker", again)["batchItemFailures"] == []
    # Then all media went, counted once in the record
    assert keys_left(org) == {k for k in objects if "/text/" in k}
    (record,) = StorageStore(store.connection).purges(org.org_id)
    assert (int(record.objects), int(record.bytes)) == (2, 4096 + 1024)

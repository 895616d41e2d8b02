"""Storage on moto S3 with real event payloads (`events/s3`): the meter under duplicates, reordering,
deletes before creates and overwrites; inventory reconciliation with late events; uploads and the quota;
the storage view and its threshold notifications."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest

from act3_billing.domain.storage import GB
from act3_billing.store.wallets import BillingStore
from tests.integration.conftest import MovableClock
from tests.support.events import http_event
from tests.support.functions import Reply, call, invoke
from tests.support.storage import (
    MEDIA_BUCKET,
    MeterFeed,
    manifest_event,
    s3_event,
    s3_record,
    write_inventory,
)
from tests.support.wallets import T0, Org, new_org


def storage_of(org: Org, user: str | None = None) -> Reply:
    reply = invoke("storage", http_event("storage_get", org_id=org.org_id, user=user or org.viewer))
    assert reply.status == 200, reply.body
    return reply


def meter(*records: dict[str, Any]) -> dict[str, Any]:
    """The meter function on one S3 event holding `records`."""
    result: dict[str, Any] = call("storage_meter", s3_event(*records))
    return result


def upload(org: Org, user: str, body: dict[str, Any], key: str) -> Reply:
    return invoke(
        "uploads",
        http_event(
            "upload_create", org_id=org.org_id, user=user, body=body, headers={"idempotency-key": key}
        ),
    )


def media(org: Org, project: str, name: str) -> str:
    return f"orgs/{org.org_id}/projects/{project}/media/{name}"


def text(org: Org, project: str, name: str) -> str:
    return f"orgs/{org.org_id}/projects/{project}/text/{name}"


# ---- the meter ---------------------------------------------------------------------------------------


def test_duplicates_reordering_delete_before_create_and_overwrites_meter_the_final_state(
    store: BillingStore,
) -> None:
    org = new_org(store)
    shot, script, voice = (
        media(org, "pilot", "shot 1.mp4"),
        text(org, "pilot", "script.fdx"),
        media(org, "ep2", "v.wav"),
    )
    put1 = s3_record("object_created_put", key=shot, sequencer="0055AED6DCD90281E5", at=T0, size=1000)
    delete1 = s3_record("object_removed_delete", key=shot, sequencer="0055AED6DCD90281F0", at=T0)
    put_script = s3_record("object_created_put", key=script, sequencer="0055AED6DCD9028100", at=T0, size=300)
    overwrite = s3_record("object_created_put", key=script, sequencer="0055AED6DCD902810A", at=T0, size=450)
    put_voice = s3_record("object_created_put", key=voice, sequencer="55AED6DCD90282", at=T0, size=7000)

    # When S3 delivers the delete before its create, the overwrite before the first write, and duplicates
    meter(delete1, overwrite)
    meter(put1, put_script, put_voice, put_voice)
    meter(put1, overwrite, delete1)

    # Then the counters are those of what the bucket holds: the script (its last version) and the voice
    body = storage_of(org).body
    assert (body["media"], body["text"]) == ({"bytes": 7000, "objects": 1}, {"bytes": 450, "objects": 1})
    assert {p["project_id"]: p["bytes"] for p in body["projects"]} == {"pilot": 450, "ep2": 7000}
    assert body["meter"]["updated_at"] is not None


def test_keys_outside_the_layout_are_ignored_and_nothing_crashes(store: BillingStore) -> None:
    org = new_org(store)
    odd = [
        s3_record("object_created_put", key="tmp/upload.bin", sequencer="01", at=T0, size=5),
        s3_record("object_created_put", key=f"orgs/{org.org_id}/loose.mp4", sequencer="02", at=T0, size=5),
        s3_record("object_created_put", key=media(org, "p", "x.mp4"), sequencer="not-hex", at=T0, size=5),
    ]
    result = meter(*odd)
    assert result["ignored"] == 3 and result["applied"] == 0
    assert storage_of(org).body["bytes"] == 0


def test_uploads_to_the_bucket_reach_the_meter_through_s3_notifications(store: BillingStore) -> None:
    org = new_org(store)
    s3 = boto3.client("s3", region_name="us-east-1")
    feed = MeterFeed()
    s3.put_object(Bucket=MEDIA_BUCKET, Key=media(org, "pilot", "a.mp4"), Body=b"x" * 2000)
    s3.put_object(Bucket=MEDIA_BUCKET, Key=text(org, "pilot", "notes.md"), Body=b"y" * 10)
    s3.put_object(Bucket=MEDIA_BUCKET, Key=media(org, "pilot", "a.mp4"), Body=b"x" * 500)
    s3.delete_object(Bucket=MEDIA_BUCKET, Key=text(org, "pilot", "notes.md"))
    records = feed.records()
    assert len(records) == 4
    # Delivered backwards and twice
    meter(*reversed(records))
    meter(*records)
    body = storage_of(org).body
    assert (body["media"], body["text"]) == ({"bytes": 500, "objects": 1}, {"bytes": 0, "objects": 0})


# ---- inventory ---------------------------------------------------------------------------------------


def test_inventory_sets_the_counters_to_the_report_and_keeps_the_events_after_it(
    store: BillingStore, clock: MovableClock
) -> None:
    org, quiet = new_org(store), new_org(store)
    report_at = T0 + timedelta(days=1)
    before, after = report_at - timedelta(hours=2), report_at + timedelta(minutes=5)
    a, b, c, lost = (media(org, "p1", n) for n in ("a.mp4", "b.mp4", "c.mp4", "lost.mp4"))
    # Given the meter counted a and b before the report, c after it, and never heard of `lost`;
    # and an org whose last object went while its events were lost
    meter(
        s3_record("object_created_put", key=a, sequencer="10", at=before, size=100),
        s3_record("object_created_put", key=b, sequencer="11", at=before, size=200),
        s3_record("object_created_put", key=c, sequencer="12", at=after, size=400),
        s3_record("object_created_put", key=media(quiet, "p", "gone.mp4"), sequencer="13", at=before, size=9),
    )
    # When the inventory (as of its time: a, b and lost) is delivered
    manifest = write_inventory(
        [(a, 100), (b, 200), (lost, 50), (text(org, "p2", "s.txt"), 7)], report_at, files=2
    )
    result = invoke_inventory(manifest)
    assert result["reports"][0]["lines"] == 4

    # Then the counters are the report's plus what happened after it
    body = storage_of(org).body
    assert (body["media"], body["text"]) == ({"bytes": 750, "objects": 4}, {"bytes": 7, "objects": 1})
    assert body["meter"]["inventory_at"].startswith("2026-11-02T00:00:00")
    assert storage_of(quiet).body["bytes"] == 0

    # and an event from before the report, delivered late, is already in it: it changes nothing
    meter(s3_record("object_removed_delete", key=b, sequencer="0F", at=before))
    meter(
        s3_record("object_created_put", key=media(org, "p1", "late.mp4"), sequencer="20", at=before, size=999)
    )
    assert storage_of(org).body["media"] == {"bytes": 750, "objects": 4}
    # while one after it counts
    meter(s3_record("object_removed_delete", key=a, sequencer="30", at=after))
    assert storage_of(org).body["media"] == {"bytes": 650, "objects": 3}

    # and an older report arriving after a newer one is left alone
    stale = write_inventory([], report_at - timedelta(days=1))
    assert invoke_inventory(stale)["reports"][0]["stale"] >= 1
    assert storage_of(org).body["media"] == {"bytes": 650, "objects": 3}


def invoke_inventory(manifest_key: str) -> dict[str, Any]:
    result: dict[str, Any] = call("inventory", manifest_event(manifest_key))
    return result


# ---- uploads and the quota ---------------------------------------------------------------------------


def test_an_upload_url_is_for_one_key_and_one_size_and_a_retry_gets_the_same(store: BillingStore) -> None:
    org = new_org(store)
    body = {
        "project_id": "pilot",
        "kind": "media",
        "filename": "shot-1.mp4",
        "size": 2048,
        "content_type": "video/mp4",
    }
    first = upload(org, org.creator, body, "up-1")
    assert first.status == 201, first.body
    url = urlparse(first.body["upload_url"])
    query = parse_qs(url.query)
    assert url.path.endswith(f"/orgs/{org.org_id}/projects/pilot/media/shot-1.mp4")
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert first.body["key"] == "projects/pilot/media/shot-1.mp4"
    assert first.body["headers"] == {"Content-Type": "video/mp4", "Content-Length": "2048"}
    again = upload(org, org.creator, body, "up-1")
    assert (again.status, again.body, again.headers["idempotent-replayed"]) == (201, first.body, "true")
    assert upload(org, org.creator, {**body, "size": 1}, "up-1").code == "idempotency_key_reuse"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("filename", "../../escape.mp4"),
        ("filename", "a/b.mp4"),
        ("kind", "audio"),
        ("size", -1),
        ("size", 6 * GB),
    ],
)
def test_a_bad_upload_request_is_a_4xx_and_changes_nothing(
    store: BillingStore, field: str, value: Any
) -> None:
    org = new_org(store)
    body = {
        "project_id": "pilot",
        "kind": "media",
        "filename": "ok.mp4",
        "size": 10,
        "content_type": "video/mp4",
    }
    reply = upload(org, org.creator, {**body, field: value}, f"bad-{field}")
    assert reply.status == 422 and reply.code == "validation_error", reply.body


def test_an_upload_past_the_plan_storage_is_refused_with_the_upgrade_options(store: BillingStore) -> None:
    # Given a starter org (10 GB) that holds 10 GB less 1 KB
    org = new_org(store, plan_id="starter", monthly=800, cap=1600)
    meter(
        s3_record(
            "object_created_put", key=media(org, "p", "big.mov"), sequencer="01", at=T0, size=10 * GB - 1024
        )
    )
    body = {
        "project_id": "p",
        "kind": "text",
        "filename": "notes.txt",
        "size": 1024,
        "content_type": "text/plain",
    }
    assert upload(org, org.owner, body, "fits").status == 201
    # When one byte more is asked for
    refused = upload(org, org.owner, {**body, "size": 1025, "filename": "more.txt"}, "too-much")
    # Then 402 with the plan that has room
    assert (refused.status, refused.code) == (402, "storage_quota_exceeded"), refused.body
    assert refused.body["options"]["upgrade"]["plan_id"] == "creator"
    assert refused.body["options"]["upgrade"]["storage_gb"] == 100
    assert refused.body["quota_bytes"] == 10 * GB and refused.body["used_bytes"] == 10 * GB - 1024


def test_storage_thresholds_notify_owners_and_billing_once_per_cycle(
    store: BillingStore, outbox: list[Any]
) -> None:
    org = new_org(store, plan_id="starter", monthly=800, cap=1600)
    key = media(org, "p", "big.mov")
    meter(s3_record("object_created_put", key=key, sequencer="01", at=T0, size=7 * GB))
    assert outbox == []
    result = meter(s3_record("object_created_put", key=key, sequencer="02", at=T0, size=8 * GB + 1))
    assert result["notified"] == [f"{org.org_id}:storage_80"]
    meter(s3_record("object_created_put", key=media(org, "p", "b.mov"), sequencer="03", at=T0, size=1))
    assert [m.destinations["ToAddresses"] for m in outbox] == [[f"{org.billing}@studio.example"]]
    result = meter(
        s3_record("object_created_put", key=media(org, "p", "c.mov"), sequencer="04", at=T0, size=2 * GB)
    )
    assert result["notified"] == [f"{org.org_id}:storage_100"]
    assert len(outbox) == 2


def test_an_enterprise_contracts_storage_is_the_quota_for_uploads_alerts_and_the_view(
    store: BillingStore, outbox: list[Any]
) -> None:
    from tests.integration.test_entitlements import put_contract

    # Given an enterprise org (no storage limit in the catalog) holding 1 GB: a 4 GB upload is accepted
    org = new_org(store, plan_id="enterprise", monthly=1_000_000, cap=0)
    meter(s3_record("object_created_put", key=media(org, "p", "a.mov"), sequencer="01", at=T0, size=GB))
    body = {
        "project_id": "p",
        "kind": "media",
        "filename": "b.mov",
        "size": 4 * GB,
        "content_type": "video/mp4",
    }
    assert upload(org, org.owner, body, "unlimited").status == 201
    assert storage_of(org).body["quota_bytes"] is None
    # When billing operations record a contract with 2 GB of storage
    assert put_contract(org, {"features": {}, "storage_gb": 2}).status == 200
    # Then the view, an upload past it and the 80 % alert all use the contract's 2 GB
    assert storage_of(org).body["quota_bytes"] == 2 * GB
    refused = upload(org, org.owner, {**body, "size": GB + 1, "filename": "c.mov"}, "past-contract")
    assert (refused.status, refused.code, refused.body["quota_bytes"]) == (
        402,
        "storage_quota_exceeded",
        2 * GB,
    )
    assert outbox == []
    grown = s3_record(
        "object_created_put", key=media(org, "p", "d.mov"), sequencer="02", at=T0, size=GB * 7 // 10
    )
    assert meter(grown)["notified"] == [f"{org.org_id}:storage_80"] and len(outbox) == 1

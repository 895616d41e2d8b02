"""The storage world on moto: the media and inventory buckets, the purge queue and the bus, S3 events
from `events/s3` (or from moto's own notifications, completed as S3 sends them), and inventory reports
written in AWS's format."""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest

from act3_billing.domain.times import iso
from tests.support.events import EVENTS

MEDIA_BUCKET = "act3-media-test"
INVENTORY_BUCKET = "act3-inventory-test"
PURGE_QUEUE = "act3-purge-test"
METER_QUEUE = "act3-s3-events-test"
BUS = "act3-billing-test"


def storage_on_moto(patch: pytest.MonkeyPatch) -> None:
    """Inside mock_aws: the buckets, queues and bus the storage functions use, and their environment."""
    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in (MEDIA_BUCKET, INVENTORY_BUCKET):
        s3.create_bucket(Bucket=bucket)
    sqs = boto3.client("sqs", region_name="us-east-1")
    patch.setenv("PURGE_QUEUE_URL", sqs.create_queue(QueueName=PURGE_QUEUE)["QueueUrl"])
    # money (issue 8): the webhook's queue, drained into the worker by tests.support.stripe_events
    patch.setenv("STRIPE_EVENTS_QUEUE_URL", sqs.create_queue(QueueName="act3-stripe-events-test")["QueueUrl"])
    meter_queue = sqs.create_queue(QueueName=METER_QUEUE)["QueueUrl"]
    s3.put_bucket_notification_configuration(
        Bucket=MEDIA_BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "StorageMeterFunction.ObjectChanged",
                    "QueueArn": f"arn:aws:sqs:us-east-1:123456789012:{METER_QUEUE}",
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                }
            ]
        },
    )
    patch.setenv("ACT3_TEST_METER_QUEUE", meter_queue)
    boto3.client("events", region_name="us-east-1").create_event_bus(Name=BUS)
    patch.setenv("STORAGE_BUCKET", MEDIA_BUCKET)
    patch.setenv("EVENT_BUS_NAME", BUS)


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())  # type: ignore[no-any-return]


def s3_record(
    name: str, *, key: str, sequencer: str, at: datetime, size: int | None = None
) -> dict[str, Any]:
    """A record of `events/s3/<name>.json` on another key (URL-encoded as S3 sends it)."""
    record: dict[str, Any] = copy.deepcopy(_load(f"s3/{name}.json")["Records"][0])
    record["eventTime"] = iso(at)[:23] + "Z"
    record["s3"]["bucket"]["name"] = MEDIA_BUCKET
    obj = record["s3"]["object"]
    obj["key"] = quote_plus(key, safe="/")
    obj["sequencer"] = sequencer
    if size is not None:
        obj["size"] = size
    return record


def s3_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


class MeterFeed:
    """What S3 sent about the media bucket (moto's notifications on a queue), completed with the
    sequencer moto leaves out (rising, in the order S3 did things), ready for the meter function."""

    def __init__(self) -> None:
        import os

        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.url = os.environ["ACT3_TEST_METER_QUEUE"]
        self.sequence = 0x55AED6DCD90281E5

    def records(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            reply = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
            messages = reply.get("Messages", [])
            if not messages:
                return out
            for message in messages:
                for record in json.loads(message["Body"]).get("Records", []):
                    self.sequence += 1
                    record["s3"]["object"]["sequencer"] = f"{self.sequence:X}"
                    if record["eventName"].startswith("ObjectRemoved"):
                        record["s3"]["object"].pop("size", None)
                    out.append(record)
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


def write_inventory(objects: list[tuple[str, int]], at: datetime, *, files: int = 1) -> str:
    """An S3 Inventory report of `objects` as of `at` in the inventory bucket; returns the manifest key."""
    s3 = boto3.client("s3", region_name="us-east-1")
    stamp = at.strftime("%Y-%m-%dT%H-%MZ")
    base = f"inventory/{MEDIA_BUCKET}/daily-usage"
    entries = []
    for index in range(files):
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for key, size in objects[index::files]:
            writer.writerow([MEDIA_BUCKET, quote_plus(key, safe="/"), size, iso(at)])
        data = gzip.compress(buffer.getvalue().encode())
        data_key = f"{base}/data/{stamp}-{index}.csv.gz"
        s3.put_object(Bucket=INVENTORY_BUCKET, Key=data_key, Body=data)
        entries.append({"key": data_key, "size": len(data), "MD5checksum": "0" * 32})
    manifest = copy.deepcopy(_load("s3/inventory_manifest.json"))
    manifest.update(
        sourceBucket=MEDIA_BUCKET,
        destinationBucket=f"arn:aws:s3:::{INVENTORY_BUCKET}",
        creationTimestamp=str(int(at.timestamp() * 1000)),
        files=entries,
    )
    manifest_key = f"{base}/{stamp}/manifest.json"
    s3.put_object(Bucket=INVENTORY_BUCKET, Key=manifest_key, Body=json.dumps(manifest).encode())
    return manifest_key


def manifest_event(manifest_key: str) -> dict[str, Any]:
    event = copy.deepcopy(_load("s3/inventory_manifest_created.json"))
    obj = event["Records"][0]["s3"]
    obj["bucket"]["name"] = INVENTORY_BUCKET
    obj["object"]["key"] = quote_plus(manifest_key, safe="/")
    return event


def purge_queue_event() -> dict[str, Any]:
    """What the purge queue holds, as the SQS event the worker gets (records from `events/sqs`)."""
    import os

    sqs = boto3.client("sqs", region_name="us-east-1")
    template = _load("sqs/purge_due.json")["Records"][0]
    records: list[dict[str, Any]] = []
    while True:
        reply = sqs.receive_message(QueueUrl=os.environ["PURGE_QUEUE_URL"], MaxNumberOfMessages=10)
        messages = reply.get("Messages", [])
        if not messages:
            return {"Records": records}
        for message in messages:
            record = copy.deepcopy(template)
            record.update(messageId=message["MessageId"], receiptHandle=message["ReceiptHandle"])
            record["body"] = message["Body"]
            records.append(record)
            sqs.delete_message(QueueUrl=os.environ["PURGE_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"])

"""Create what ``template.yaml`` declares, on the emulators; every step is idempotent on restart.

Tables (keys, GSIs/LSIs, TTL, streams) go to DynamoDB Local; buckets, their event notifications, queues,
event buses and the SES sender identities go to moto. S3 events reach the functions through one SQS
queue: each function's ``S3`` event becomes a queue notification whose id names the subscription.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .template import ACCOUNT_ID, REGION, Stack

log = logging.getLogger("act3_local")

S3_EVENTS_QUEUE = "act3-s3-events-local"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TABLE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "ProvisionedThroughput",
    "StreamSpecification",
)


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - emulators accept any key
        config=Config(retries={"max_attempts": 2, "mode": "standard"}),
    )


def create_tables(stack: Stack, endpoint: str) -> list[str]:
    ddb = client("dynamodb", endpoint)
    existing = set(ddb.list_tables().get("TableNames", []))
    for table in stack.tables:
        props = table.properties
        if table.name not in existing:
            args = {k: props[k] for k in _TABLE_KEYS if k in props}
            args.setdefault("BillingMode", "PAY_PER_REQUEST")
            if args["BillingMode"] == "PROVISIONED":
                args.setdefault("ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
            for index in args.get("GlobalSecondaryIndexes", []):
                if args["BillingMode"] == "PROVISIONED":
                    index.setdefault(
                        "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
                    )
                else:
                    index.pop("ProvisionedThroughput", None)
            ddb.create_table(TableName=table.name, **args)
            ddb.get_waiter("table_exists").wait(
                TableName=table.name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
            )
            log.info("created table %s", table.name)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            current = ddb.describe_time_to_live(TableName=table.name).get("TimeToLiveDescription", {})
            if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                ddb.update_time_to_live(
                    TableName=table.name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
    return [t.name for t in stack.tables]


def create_moto_resources(stack: Stack, endpoint: str, environment: dict[str, str]) -> dict[str, Any]:
    s3 = client("s3", endpoint)
    sqs = client("sqs", endpoint)
    events = client("events", endpoint)
    ses = client("ses", endpoint)

    for bucket in stack.buckets:
        try:
            s3.create_bucket(Bucket=bucket.name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    queue_url = sqs.create_queue(QueueName=S3_EVENTS_QUEUE)["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{S3_EVENTS_QUEUE}"
    by_bucket: dict[str, list[dict[str, Any]]] = {}
    for sub in stack.s3:
        config: dict[str, Any] = {"Id": sub.id, "QueueArn": queue_arn, "Events": sub.events}
        if sub.filter_rules:
            config["Filter"] = {"Key": {"FilterRules": sub.filter_rules}}
        by_bucket.setdefault(sub.bucket, []).append(config)
    for bucket_name, configs in by_bucket.items():
        if bucket_name not in {b.name for b in stack.buckets}:
            s3.create_bucket(Bucket=bucket_name)
        s3.put_bucket_notification_configuration(
            Bucket=bucket_name, NotificationConfiguration={"QueueConfigurations": configs}
        )

    for queue in stack.queues:
        sqs.create_queue(QueueName=queue)

    existing_buses = {b["Name"] for b in events.list_event_buses().get("EventBuses", [])}
    for bus in stack.buses:
        if bus not in existing_buses:
            events.create_event_bus(Name=bus)

    # SES (moto) refuses to send from an unverified address: verify every sender the functions name.
    senders = {v for v in environment.values() if _EMAIL.match(v)}
    for fn in stack.functions.values():
        senders |= {v for v in fn.environment.values() if _EMAIL.match(v)}
    for sender in sorted(senders):
        ses.verify_email_identity(EmailAddress=sender)
        ses.verify_domain_identity(Domain=sender.split("@", 1)[1])
    return {"s3_events_queue": queue_url, "buckets": [b.name for b in stack.buckets], "buses": stack.buses}


class S3EventPump:
    """Polls the S3 events queue and hands each record to the function whose subscription matched.

    The records are moto's, completed with the fields S3 sends and moto leaves out (``sequencer``,
    ``userIdentity``, ``requestParameters``, ``responseElements``), so consumers see real events.
    """

    def __init__(
        self,
        endpoint: str,
        queue_url: str,
        deliver: Callable[[str, dict[str, Any]], None],
        subscriptions: dict[str, str],
    ):
        self.sqs = client("sqs", endpoint)
        self.queue_url = queue_url
        self.deliver = deliver
        self.subscriptions = subscriptions  # configuration id -> function logical id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="act3-s3-events", daemon=True)
        self._sequence = time.time_ns()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                drained = self.poll_once()
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("S3 event poll failed")
                drained = 0
            if not drained:
                self._stop.wait(0.3)

    def _complete(self, record: dict[str, Any]) -> dict[str, Any]:
        self._sequence += 1
        record.setdefault("userIdentity", {"principalId": "AWS:LOCAL"})
        record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
        record.setdefault("responseElements", {"x-amz-request-id": "LOCAL", "x-amz-id-2": "LOCAL"})
        record["s3"].setdefault("bucket", {}).setdefault("ownerIdentity", {"principalId": "LOCAL"})
        obj = record["s3"].setdefault("object", {})
        obj.setdefault("sequencer", f"{self._sequence:020X}")
        if str(record.get("eventName", "")).startswith("ObjectRemoved"):
            obj.pop("size", None)
            obj.pop("eTag", None)
        return record

    def poll_once(self) -> int:
        # No long polling: moto's server is single-threaded and a waiting receive would block it.
        reply = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = reply.get("Messages", [])
        for message in messages:
            body = json.loads(message["Body"])
            for record in body.get("Records", []):
                config_id = record.get("s3", {}).get("configurationId", "")
                function = self.subscriptions.get(config_id)
                if function is None:
                    log.warning(
                        "S3 event for unknown subscription %r (key %s)",
                        config_id,
                        unquote_plus(record.get("s3", {}).get("object", {}).get("key", "")),
                    )
                    continue
                try:
                    self.deliver(function, {"Records": [self._complete(record)]})
                except Exception:
                    log.exception("%s failed on an S3 event", function)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)


class SqsPump:
    """Delivers SQS messages to the functions subscribed to their queues, as Lambda's event source
    mapping does: batches of up to `BatchSize` records; what the function reports in
    `batchItemFailures` (or the whole batch when it raises) stays on the queue and comes back after
    its visibility timeout. Also logs every event on the project's buses (through a rule per bus
    that targets a local log queue), so the local stack shows them."""

    def __init__(
        self,
        endpoint: str,
        subscriptions: list[tuple[str, str, int, bool]],  # (function, queue url, batch size, partial)
        invoke: Callable[[str, dict[str, Any]], Any],
        bus_log_queue: str | None = None,
    ):
        self.sqs = client("sqs", endpoint)
        self.subscriptions = subscriptions
        self.invoke = invoke
        self.bus_log_queue = bus_log_queue
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="act3-sqs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                drained = self.poll_once()
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("SQS poll failed")
                drained = 0
            if not drained:
                self._stop.wait(0.3)

    def poll_once(self) -> int:
        drained = 0
        for function, url, batch_size, partial in self.subscriptions:
            drained += self._deliver(function, url, batch_size, partial)
        if self.bus_log_queue:
            reply = self.sqs.receive_message(QueueUrl=self.bus_log_queue, MaxNumberOfMessages=10)
            for message in reply.get("Messages", []):
                event = json.loads(message["Body"])
                log.info("bus event %s: %s", event.get("detail-type"), json.dumps(event.get("detail")))
                self.sqs.delete_message(QueueUrl=self.bus_log_queue, ReceiptHandle=message["ReceiptHandle"])
                drained += 1
        return drained

    def _deliver(self, function: str, url: str, batch_size: int, partial: bool) -> int:
        reply = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(batch_size, 10),
            WaitTimeSeconds=0,
            AttributeNames=["All"],
        )
        messages = reply.get("Messages", [])
        if not messages:
            return 0
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{url.rsplit('/', 1)[-1]}"
        event = {"Records": [sqs_record(m, arn) for m in messages]}
        failed: set[str] = set()
        try:
            result = self.invoke(function, event)
            if partial and isinstance(result, dict):
                failed = {str(f.get("itemIdentifier")) for f in result.get("batchItemFailures") or []}
        except Exception:
            log.exception("%s failed on an SQS batch; the batch stays on the queue", function)
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """One SQS message as Lambda's event source mapping hands it to a function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes") or {},
        "messageAttributes": message.get("MessageAttributes") or {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


BUS_LOG_QUEUE = "act3-bus-log-local"


def route_buses_to_log(stack: Stack, endpoint: str) -> str | None:
    """A rule on each of the project's buses sending every event to a local queue the pump logs."""
    if not stack.buses:
        return None
    sqs = client("sqs", endpoint)
    events = client("events", endpoint)
    url = str(sqs.create_queue(QueueName=BUS_LOG_QUEUE)["QueueUrl"])
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{BUS_LOG_QUEUE}"
    for bus in stack.buses:
        events.put_rule(
            Name="act3-local-log", EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": ""}]})
        )
        events.put_targets(Rule="act3-local-log", EventBusName=bus, Targets=[{"Id": "log", "Arn": arn}])
    return url

"""Given-steps for cycle tests: sample schedule and SQS events, a fake queue, the bus read back from moto."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from tests.support.template import REPO_ROOT

BUS = "act3-billing-events"  # the settings' default bus name (EVENT_BUS_NAME is per function)


def schedule_event(job: str) -> dict[str, Any]:
    return json.loads((REPO_ROOT / "events" / "schedule" / f"{job}.json").read_text())  # type: ignore[no-any-return]


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The sample SQS event with one record per message (ids `m0`, `m1`, ...)."""
    sample = json.loads((REPO_ROOT / "events" / "sqs" / "cycle_work.json").read_text())["Records"][0]
    records = []
    for n, message in enumerate(messages):
        record = copy.deepcopy(sample)
        record["messageId"] = f"m{n}"
        record["body"] = json.dumps(message)
        records.append(record)
    return {"Records": records}


@dataclass
class FakeQueue:
    messages: list[dict[str, Any]] = field(default_factory=list)

    def send(self, messages: Any) -> int:
        batch = list(messages)
        self.messages.extend(batch)
        return len(batch)


class BusReader:
    """Every event put on the project's bus (moto), through a rule that targets a queue."""

    def __init__(self) -> None:
        events = boto3.client("events", region_name="us-east-1")
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        events.create_event_bus(Name=BUS)
        self.url = self.sqs.create_queue(QueueName="bus-reader")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": ["act3.billing"]}))
        events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
        self.seen: list[dict[str, Any]] = []

    def events(self) -> list[dict[str, Any]]:
        while True:
            reply = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
            messages = reply.get("Messages", [])
            if not messages:
                return self.seen
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

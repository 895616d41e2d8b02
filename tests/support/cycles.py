"""Given-steps for cycle tests: sample schedule and SQS events, a fake queue, the bus read back from moto."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3

from act3_billing.domain.cycles import add_months, cycle_id_for, due_key
from act3_billing.domain.lots import Lot, LotKind
from act3_billing.domain.times import iso
from act3_billing.store.models import WALLET_SK, WalletItem, org_pk
from act3_billing.store.records import lot_to_map
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


def trial_wallet_item(org_id: str, anchor: datetime) -> WalletItem:
    """A trial org's wallet in its first cycle (anchored `anchor`), as one item for a batch write:
    300 of 800 used, a bank lot and a pack, in the due index at its cycle end."""
    end = add_months(anchor, 1)
    cycle = cycle_id_for(anchor)
    lots = [
        Lot(f"monthly#{cycle}", LotKind.MONTHLY, 500, 800, anchor, end, "monthly"),
        Lot("bank#old", LotKind.BANK, 700, 700, anchor, add_months(anchor, 4), "bank"),
        Lot("pack#1", LotKind.PACK, 1_000, 1_000, anchor, None, "pack"),
    ]
    due_pk, due_sk = due_key(org_id, end)
    return WalletItem(
        org_pk(org_id),
        WALLET_SK,
        org_id=org_id,
        plan_id="starter_trial",
        cycle_id=cycle,
        cycle_start=iso(anchor),
        cycle_end=iso(end),
        lots={lot.lot_id: lot_to_map(lot) for lot in lots},
        lots_version=1,
        held=0,
        generation_enabled=True,
        monthly_allowance=800,
        created_at=iso(anchor),
        anchor=iso(anchor),
        trial_ends_at=iso(add_months(anchor, 6)),
        granted_cycle=cycle,
        gsi1pk=due_pk,
        gsi1sk=due_sk,
    )

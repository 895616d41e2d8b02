"""act3_local.resources.SqsPump: a queue's messages reach the subscribed function as an SQS event; what the
function reports failed (or a whole batch it raised on) stays on the queue."""

from __future__ import annotations

from typing import Any

from act3_local.resources import SqsPump


class FakeSqs:
    def __init__(self, bodies: list[str]) -> None:
        self.messages = [
            {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": body, "Attributes": {}}
            for i, body in enumerate(bodies)
        ]
        self.deleted: list[str] = []

    def get_queue_url(self, QueueName: str) -> dict[str, str]:  # noqa: N803 - boto3's names
        return {"QueueUrl": f"http://local/{QueueName}"}

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        batch = [m for m in self.messages if m["ReceiptHandle"] not in self.deleted][
            : kwargs["MaxNumberOfMessages"]
        ]
        return {"Messages": batch}

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:  # noqa: N803
        self.deleted.append(ReceiptHandle)


def pump(sqs: FakeSqs, invoke: Any, partial: bool = True) -> SqsPump:
    p = SqsPump.__new__(SqsPump)
    p.sqs, p.subscriptions, p.invoke, p._urls = sqs, [("q", "Worker", 10, partial)], invoke, {}
    p.bus_log_queue = None
    return p


def test_a_batch_reaches_the_function_and_only_reported_failures_stay() -> None:
    sqs = FakeSqs(['{"org_id": "a"}', '{"org_id": "b"}'])
    seen: list[dict[str, Any]] = []

    def worker(name: str, event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        return {"batchItemFailures": [{"itemIdentifier": "m1"}]}

    assert pump(sqs, worker).poll_once() == 2
    (event,) = seen
    assert [r["body"] for r in event["Records"]] == ['{"org_id": "a"}', '{"org_id": "b"}']
    assert event["Records"][0]["eventSource"] == "aws:sqs"
    assert event["Records"][0]["eventSourceARN"].endswith(":q")
    assert sqs.deleted == ["r0"]


def test_a_batch_the_function_raised_on_stays_whole() -> None:
    sqs = FakeSqs(["x", "y"])

    def broken(name: str, event: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    pump(sqs, broken).poll_once()
    assert sqs.deleted == []

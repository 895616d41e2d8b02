"""The work queue between the schedule and its workers (SQS). The only module that talks to SQS."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

BATCH = 10  # SendMessageBatch takes at most ten entries


class Queue(Protocol):
    def send(self, messages: Iterable[dict[str, Any]]) -> int:
        """Enqueue each message (JSON); returns how many were sent."""
        ...


@dataclass
class SqsQueue:
    url: str
    region: str
    _client: Any = None

    def send(self, messages: Iterable[dict[str, Any]]) -> int:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs", region_name=self.region)
        batch: list[dict[str, Any]] = []
        sent = 0
        for message in messages:
            batch.append(message)
            if len(batch) == BATCH:
                sent += self._send_batch(batch)
                batch = []
        if batch:
            sent += self._send_batch(batch)
        return sent

    def _send_batch(self, batch: list[dict[str, Any]]) -> int:
        entries = [
            {"Id": str(n), "MessageBody": json.dumps(m, separators=(",", ":"))} for n, m in enumerate(batch)
        ]
        for _ in range(3):
            reply = self._client.send_message_batch(QueueUrl=self.url, Entries=entries)
            failed = {f["Id"] for f in reply.get("Failed", []) if not f.get("SenderFault")}
            if not failed:
                return len(batch)
            entries = [e for e in entries if e["Id"] in failed]
        raise RuntimeError(f"SQS refused {len(entries)} message(s)")

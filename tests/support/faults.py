"""Faults injected where botocore meets the network, for every DynamoDB client made while installed.

- `drop`: the connection drops before the request is sent (botocore retries it like any connection
  error, up to its attempts, then raises);
- `throttle`: DynamoDB answers 400 ThrottlingException (botocore retries, then the store does);
- `conflict`: a transaction is cancelled with `TransactionConflict` reasons (the store retries);
- `throttle_item`: a transaction is cancelled with `ThrottlingError` reasons (an item's partition was
  throttled: the transaction retries with backoff, then answers unavailable);
- `timeout_after_commit`: the request reached DynamoDB and was applied, but the answer never came
  back (a read timeout raised once the response is in): the client cannot know it succeeded.

Faults are armed per operation (`TransactWriteItems`, `GetItem`, …) and consumed in order.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.session  # type: ignore[import-untyped, unused-ignore]
from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped, unused-ignore]
from botocore.exceptions import (  # type: ignore[import-untyped, unused-ignore]
    ConnectionClosedError,
    ReadTimeoutError,
)


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _error(url: str, kind: str, message: str, **extra: Any) -> AWSResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{kind}", "message": message, **extra})
    headers = {"x-amzn-ErrorType": kind, "Content-Type": "application/x-amz-json-1.0"}
    return AWSResponse(url, 400, headers, _Body(body.encode()))


class Faults:
    def __init__(self) -> None:
        self._armed: dict[str, deque[str]] = defaultdict(deque)
        self._lock = threading.Lock()
        self.injected: list[tuple[str, str]] = []

    def arm(self, operation: str, kind: str, times: int = 1) -> None:
        with self._lock:
            self._armed[operation].extend([kind] * times)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def pending(self) -> int:
        return sum(len(q) for q in self._armed.values())

    def _take(self, operation: str, kinds: frozenset[str]) -> str | None:
        with self._lock:
            queue = self._armed.get(operation)
            if queue and queue[0] in kinds:
                kind = queue.popleft()
                self.injected.append((operation, kind))
                return kind
        return None

    def before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target") or b""
        operation = (target.decode() if isinstance(target, bytes) else str(target)).rsplit(".", 1)[-1]
        kind = self._take(operation, frozenset({"drop", "throttle", "conflict", "throttle_item"}))
        if kind == "drop":
            raise ConnectionClosedError(endpoint_url=request.url)
        if kind == "throttle":
            return _error(
                request.url, "ThrottlingException", "Rate of requests exceeds the allowed throughput."
            )
        if kind in ("conflict", "throttle_item"):
            items = len(json.loads(request.body or b"{}").get("TransactItems", [])) or 1
            reasons = [
                {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                if kind == "conflict"
                else {"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity"}
            ]
            reasons += [{"Code": "None"}] * (items - 1)
            return _error(
                request.url,
                "TransactionCanceledException",
                "Transaction cancelled, please refer cancellation reasons for specific reasons",
                CancellationReasons=reasons,
            )
        return None

    def after_call(self, model: Any, **_: Any) -> None:
        if self._take(model.name, frozenset({"timeout_after_commit"})):
            raise ReadTimeoutError(endpoint_url="http://dynamodb (answer lost after commit)")


@contextmanager
def injected_faults() -> Iterator[Faults]:
    """Every DynamoDB client created inside the block carries the fault hooks."""
    faults = Faults()
    original = botocore.session.Session.create_client

    def create_client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        client = original(self, service_name, *args, **kwargs)
        if service_name == "dynamodb":
            # first, so an in-process moto (itself a before-send handler) does not answer before us
            client.meta.events.register_first("before-send.dynamodb", faults.before_send)
            client.meta.events.register("after-call.dynamodb", faults.after_call)
        return client

    botocore.session.Session.create_client = create_client
    try:
        yield faults
    finally:
        botocore.session.Session.create_client = original

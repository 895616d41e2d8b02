"""A TransactWriteItems request whose items keep a label, so cancellation reasons map back to them.

PynamoDB sends condition checks, then deletes, puts and updates, whatever order they were added in;
this class records the labels in that same order.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from act3_billing.domain.errors import Unavailable

_ORDER = ("check", "delete", "put", "update")
_RETRYABLE = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
_THROTTLED = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})
_THROTTLED_REQUEST = frozenset(
    {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"}
)
# Throttling outlasting botocore's own retries is retried here, with backoff, before DynamoDB is called
# unavailable (503 with Retry-After): ~1.3 s in all. Conflicts go back to the caller, which reads again.
THROTTLE_BACKOFF = (0.02, 0.05, 0.1, 0.2, 0.4, 0.5)


class _Throttled(Exception):
    pass


class TxCancelled(Exception):
    """The transaction was cancelled; `failed` holds the labels whose condition failed."""

    def __init__(self, failed: dict[str, str], conflict: bool) -> None:
        super().__init__(f"transaction cancelled: {failed or 'conflict'}")
        self.failed = failed
        self.conflict = conflict


class Tx:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._ops: dict[str, list[tuple[str, Callable[[TransactWrite], None]]]] = {k: [] for k in _ORDER}

    def check(self, label: str, model_cls: type[Model], pk: str, sk: str, condition: Condition) -> None:
        self._ops["check"].append(
            (label, lambda tw: tw.condition_check(model_cls, pk, sk, condition=condition))
        )

    def delete(self, label: str, item: Model, condition: Condition | None = None) -> None:
        self._ops["delete"].append(
            (label, lambda tw: tw.delete(item, condition=condition, add_version_condition=False))
        )

    def put(self, label: str, item: Model, condition: Condition | None = None) -> None:
        self._ops["put"].append((label, lambda tw: tw.save(item, condition=condition)))

    def update(
        self, label: str, item: Model, actions: list[Action], condition: Condition | None = None
    ) -> None:
        self._ops["update"].append(
            (
                label,
                lambda tw: tw.update(item, actions=actions, condition=condition, add_version_condition=False),
            )
        )

    def __len__(self) -> int:
        return sum(len(v) for v in self._ops.values())

    def run(self) -> None:
        for pause in (*THROTTLE_BACKOFF, None):
            try:
                return self._send()
            except _Throttled:
                if pause is None:
                    raise Unavailable("DynamoDB kept throttling the transaction") from None
                time.sleep(pause * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not security

    def _send(self) -> None:
        labels = [label for kind in _ORDER for label, _ in self._ops[kind]]
        try:
            with TransactWrite(connection=self._connection) as tw:
                for kind in _ORDER:
                    for _, add in self._ops[kind]:
                        add(tw)
        except TransactWriteError as exc:
            if isinstance(exc.cause, BotoCoreError):
                # A dropped connection or a timeout: the transaction may or may not have been applied,
                # so the caller retries with the same Idempotency-Key (the record makes that safe).
                raise Unavailable(f"DynamoDB did not answer: {type(exc.cause).__name__}") from exc
            reasons: list[Any] = list(exc.cancellation_reasons or [])
            if not reasons:
                if exc.cause_response_code in _THROTTLED_REQUEST:
                    raise _Throttled from exc
                if exc.cause_response_code == "TransactionConflictException":
                    raise TxCancelled({}, conflict=True) from exc
                raise Unavailable(f"DynamoDB refused the transaction: {exc.cause_response_code}") from exc
            codes = {
                labels[i]: r.code
                for i, r in enumerate(reasons)
                if r is not None and r.code not in (None, "None")
            }
            failed = {label: code for label, code in codes.items() if code == "ConditionalCheckFailed"}
            if not failed and set(codes.values()) <= _THROTTLED and codes:
                raise _Throttled from exc
            conflict = any(code in _RETRYABLE for code in codes.values())
            unexpected = {
                label: code
                for label, code in codes.items()
                if code != "ConditionalCheckFailed" and code not in _RETRYABLE
            }
            if unexpected:
                # e.g. ValidationError (an item grown too large): retrying cannot help.
                raise Unavailable(f"DynamoDB refused the transaction: {unexpected}") from exc
            raise TxCancelled(failed, conflict) from exc

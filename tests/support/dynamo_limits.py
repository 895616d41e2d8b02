"""DynamoDB's limits, measured: every expression the store sends, and items sized by DynamoDB's rules.

Sizes follow DynamoDB's documented rules: an attribute counts its name's UTF-8 bytes plus its value's;
a string its UTF-8 bytes; a number one byte per two significant digits plus one; a boolean or null one
byte; a list or map 3 bytes plus one per element, plus (for a map) each key's bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import botocore.session  # type: ignore[import-untyped, unused-ignore]

EXPRESSION_LIMIT = 4 * 1024  # bytes of one condition, update, key-condition or filter expression
ITEM_LIMIT = 400 * 1024  # bytes of one item, names and values
_EXPRESSIONS = ("ConditionExpression", "UpdateExpression", "KeyConditionExpression", "FilterExpression")


def _number_size(raw: str) -> int:
    digits = str(Decimal(raw).normalize()).lstrip("-").replace(".", "").split("E")[0].strip("0")
    return (max(len(digits), 1) + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(n) for n in inner)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any]) -> int:
    """The size DynamoDB counts for an item in its wire form (`{"name": {"S": ...}}`)."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


@dataclass
class Requests:
    """Every expression sent while recording, with the operation it went with."""

    expressions: list[tuple[str, str, int]] = field(default_factory=list)
    items_written: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, operation: str, params: dict[str, Any]) -> None:
        parts = [params, *(next(iter(p.values())) for p in params.get("TransactItems", []))]
        with self._lock:
            self.items_written += len(params.get("TransactItems", []))
            for part in parts:
                for name in _EXPRESSIONS:
                    if name in part:
                        self.expressions.append((operation, name, len(part[name].encode())))

    def longest(self, operation: str | None = None) -> int:
        return max((n for op, _, n in self.expressions if operation in (None, op)), default=0)


@contextmanager
def recorded_requests() -> Iterator[Requests]:
    """Every DynamoDB client created inside the block reports the expressions it sends."""
    requests = Requests()
    original = botocore.session.Session.create_client

    def create_client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        client = original(self, service_name, *args, **kwargs)
        if service_name == "dynamodb":

            def before(params: dict[str, Any], model: Any, **_: Any) -> None:
                requests.record(model.name, params)

            client.meta.events.register("before-parameter-build.dynamodb", before)
        return client

    botocore.session.Session.create_client = create_client
    try:
        yield requests
    finally:
        botocore.session.Session.create_client = original

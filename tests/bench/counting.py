"""Counting the HTTP requests botocore sends to DynamoDB, whoever built the client.

`botocore.session.Session.create_client` is wrapped so every DynamoDB client created afterwards (the
`Connection` a `BillingStore` transacts through, the models' table connections, plain boto3 clients)
gets two handlers on its own event emitter:

- `before-send.dynamodb` fires once per HTTP attempt, botocore's own retries included;
- `after-call.dynamodb` sees the parsed response, so failed attempts are tallied by error code (and, for
  cancelled transactions, by cancellation reason);
- `provide-client-params.dynamodb` keeps a copy of a request's parameters when asked (`capture`), so a
  benchmark can replay exactly what the store sends.

Install the counter before any client exists (`bind()` drops the models' cached connections, so
stores built after `install()` are covered).
"""

from __future__ import annotations

import copy
import threading
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session  # type: ignore[import-untyped, unused-ignore]

_REPO_ROOT = Path(__file__).resolve().parents[2]
_MAX_TRACES = 3


@dataclass
class Tally:
    """What one measured window sent: requests by operation, attempts by outcome, unexpected stacks."""

    by_op: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    unexpected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.by_op.values())


class RequestCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tally = Tally()
        self._expected: frozenset[str] | None = None
        self._capture: str | None = None
        self._captured: list[dict[str, Any]] = []
        self._original: Any = None
        self.clients = 0

    def install(self) -> None:
        if self._original is not None:
            return
        original = botocore.session.Session.create_client
        counter = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            if client.meta.service_model.service_name == "dynamodb":
                client.meta.events.register("before-send.dynamodb", counter._before_send)
                client.meta.events.register("after-call.dynamodb", counter._after_call)
                client.meta.events.register("provide-client-params.dynamodb", counter._params)
                with counter._lock:
                    counter.clients += 1
            return client

        self._original = original
        botocore.session.Session.create_client = create_client

    def uninstall(self) -> None:
        if self._original is not None:
            botocore.session.Session.create_client = self._original
            self._original = None

    @contextmanager
    def window(self, expected: set[str] | None = None) -> Iterator[Tally]:
        """Count what is sent inside the block; requests of other operations than `expected` keep
        the stack they were sent from (the first few)."""
        tally = Tally()
        with self._lock:
            self._tally, self._expected = tally, frozenset(expected) if expected else None
        try:
            yield tally
        finally:
            with self._lock:
                self._tally, self._expected = Tally(), None

    @contextmanager
    def capture(self, operation: str) -> Iterator[list[dict[str, Any]]]:
        """The parameters of each `operation` request sent inside the block (deep copies)."""
        captured: list[dict[str, Any]] = []
        with self._lock:
            self._capture, self._captured = operation, captured
        try:
            yield captured
        finally:
            with self._lock:
                self._capture, self._captured = None, []

    # ---- botocore handlers (must return None: a value from before-send would replace the response) --

    def _before_send(self, event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            tally, expected = self._tally, self._expected
            tally.by_op[operation] += 1
            keep = expected is not None and operation not in expected and len(tally.unexpected) < _MAX_TRACES
        if keep:
            stack = _project_stack()
            with self._lock:
                tally.unexpected.append({"operation": operation, "stack": stack})

    def _after_call(self, event_name: str, parsed: dict[str, Any] | None = None, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        error = (parsed or {}).get("Error") or {}
        outcome = "ok"
        if error:
            outcome = str(error.get("Code", "error"))
            reasons = sorted(
                {
                    str(r.get("Code"))
                    for r in (parsed or {}).get("CancellationReasons") or []
                    if r.get("Code") not in (None, "None")
                }
            )
            if reasons:
                outcome += "(" + ",".join(reasons) + ")"
        with self._lock:
            self._tally.outcomes[f"{operation}:{outcome}"] += 1

    def _params(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        if self._capture is not None and event_name.endswith(f".{self._capture}"):
            with self._lock:
                self._captured.append(copy.deepcopy(params))


def _project_stack() -> list[str]:
    """The caller's frames that live in this repository (not in site-packages), outermost first."""
    frames = traceback.extract_stack()[:-2]
    out: list[str] = []
    for frame in frames:
        path = Path(frame.filename)
        if not path.is_relative_to(_REPO_ROOT) or ".venv" in path.parts:
            continue
        out.append(f"{path.relative_to(_REPO_ROOT)}:{frame.lineno} in {frame.name}: {frame.line or ''}")
    return out

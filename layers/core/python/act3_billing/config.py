"""Settings read from the environment once, at cold start, and the injected clock."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from pydantic import BaseModel, Field

Clock = Callable[[], datetime]


class Settings(BaseModel):
    table_name: str = Field(min_length=3)
    region: str = "us-east-1"
    clock_file: Path | None = None
    mail_from: str = "ACT 3 AI Billing <billing@act3.ai>"
    app_url: str = "https://app.act3.ai"
    # storage (issue 10)
    storage_bucket: str = "act3-media-local"
    purge_queue_url: str = ""
    event_bus_name: str = "default"
    # cycles (issue 7)
    cycle_queue_url: str | None = None
    # money (issue 8): the webhook's verified events, applied by the stripe-events worker
    stripe_events_queue_url: str = ""

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            table_name=os.environ.get("TABLE_NAME", "act3-billing"),
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            clock_file=os.environ.get("ACT3_CLOCK_FILE") or None,
            mail_from=os.environ.get("MAIL_FROM") or "ACT 3 AI Billing <billing@act3.ai>",
            app_url=os.environ.get("APP_URL") or "https://app.act3.ai",
            storage_bucket=os.environ.get("STORAGE_BUCKET") or "act3-media-local",
            purge_queue_url=os.environ.get("PURGE_QUEUE_URL") or "",
            event_bus_name=os.environ.get("EVENT_BUS_NAME") or "default",
            cycle_queue_url=os.environ.get("CYCLE_QUEUE_URL") or None,
            stripe_events_queue_url=os.environ.get("STRIPE_EVENTS_QUEUE_URL") or "",
        )


def system_clock() -> datetime:
    return datetime.now(UTC)


class OffsetClock:
    """Wall time plus an offset in seconds kept in a file (the local stack's movable clock).

    The file is re-read whenever it changes (a stat per call), so `clock advance 31d` and `clock reset`
    take effect in every process at once, without a restart. (Caching it for a second let a process
    price a request a month ahead just after a reset.)
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0.0
        self._seen: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def _current_offset(self) -> float:
        try:
            info = os.stat(self._path)
            seen = (info.st_ino, info.st_mtime_ns, info.st_size)
        except OSError:
            seen = (0, 0, 0)
        with self._lock:
            if seen != self._seen:
                try:
                    self._offset = float(self._path.read_text().strip() or 0)
                except (OSError, ValueError):
                    self._offset = 0.0
                self._seen = seen
            return self._offset

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self._current_offset(), UTC)


def clock_from(settings: Settings) -> Clock:
    return OffsetClock(settings.clock_file) if settings.clock_file else system_clock


@cache
def settings() -> Settings:
    return Settings.from_env()

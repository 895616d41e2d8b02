"""The movable local clock: an offset in seconds kept in ``<state>/clock_offset``.

Handlers get it through ``ACT3_CLOCK_FILE`` (read by ``act3_billing.config``); the scheduler and the
event builders here read the same file, so a ``clock advance 31d`` moves everything at once.
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+)\s*([smhdw])")


def parse_duration(text: str) -> int:
    """``31d``, ``2h30m``, ``-1d``, ``90`` (seconds) -> seconds."""
    text = text.strip().lower()
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body.isdigit():
        return sign * int(body)
    parts = _DURATION.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body.replace(" ", ""):
        raise ValueError(f"not a duration: {text!r} (use e.g. 31d, 12h, 90m, 2w1d)")
    return sign * sum(int(n) * _UNITS[u] for n, u in parts)


def parse_instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Clock:
    """Wall time plus the offset in ``path``, re-read whenever the file changes (a stat per call)."""

    def __init__(self, path: Path):
        self.path = path
        self._cached = 0
        self._seen: tuple[int, int, int] | None = None

    def offset(self) -> int:
        try:
            info = os.stat(self.path)
            seen = (info.st_ino, info.st_mtime_ns, info.st_size)
        except OSError:
            seen = (0, 0, 0)
        if seen != self._seen:
            self._cached = read_offset(self.path)
            self._seen = seen
        return self._cached

    def invalidate(self) -> None:
        self._seen = None

    def time(self) -> float:
        return time.time() + self.offset()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)


def read_offset(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def write_offset(path: Path, seconds: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{int(seconds)}\n")
    os.replace(tmp, path)


def describe(path: Path) -> str:
    offset = read_offset(path)
    now = datetime.fromtimestamp(time.time() + offset, UTC)
    sign = "+" if offset >= 0 else "-"
    days, rest = divmod(abs(offset), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return (
        f"{now.isoformat(timespec='seconds')} (offset {sign}{days}d{hours:02d}h{minutes:02d}m{seconds:02d}s)"
    )

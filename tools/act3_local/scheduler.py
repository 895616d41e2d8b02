"""Fire the template's EventBridge schedules on the local clock.

``rate(...)`` and ``cron(...)`` (EventBridge's six fields: minutes hours day-of-month month day-of-week
year, UTC) are evaluated against the movable clock. After the clock jumps forward, each schedule that
became due fires once (EventBridge does not replay missed runs either), so a ``clock advance 31d``
shows a rollover within a second or two.
"""

from __future__ import annotations

import calendar
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from .clock import Clock
from .template import Schedule

log = logging.getLogger("act3_local")

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$", re.IGNORECASE)
_CRON = re.compile(r"^cron\((.+)\)$", re.IGNORECASE)
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


class ScheduleError(ValueError):
    pass


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """Values allowed by one cron field; ``None`` for ``*`` / ``?`` (anything)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for item in text.split(","):
        step = 1
        part = item
        if "/" in item:
            part, step_text = item.split("/", 1)
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleError(f"cron step {step_text!r} in {text!r} must be a positive number")
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if "/" in item else start
        if start < low or end > high:
            raise ScheduleError(f"cron field {text!r} out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    key = text.strip().upper()
    if names and key in names:
        return names[key]
    if not key.isdigit():
        raise ScheduleError(f"unsupported cron value {text!r} (L, W and # are not supported locally)")
    return int(key)


class Cron:
    def __init__(self, expression: str):
        fields = expression.split()
        if len(fields) != 6:
            raise ScheduleError(f"cron({expression}) needs 6 fields")
        self.minutes = _field(fields[0], 0, 59)
        self.hours = _field(fields[1], 0, 23)
        self.days = _field(fields[2], 1, 31)
        self.months = _field(fields[3], 1, 12, _MONTHS)
        self.weekdays = _field(fields[4], 1, 7, _DAYS)
        self.years = _field(fields[5], 1970, 2199)

    def _day_ok(self, day: datetime) -> bool:
        if self.years is not None and day.year not in self.years:
            return False
        if self.months is not None and day.month not in self.months:
            return False
        if self.days is not None and day.day not in self.days:
            return False
        # EventBridge numbers weekdays SUN=1 .. SAT=7; Python's Monday is 0.
        return self.weekdays is None or ((day.weekday() + 1) % 7) + 1 in self.weekdays

    def next_after(self, moment: datetime) -> datetime | None:
        start = (moment + timedelta(minutes=1)).replace(second=0, microsecond=0)
        day = start.replace(hour=0, minute=0)
        for _ in range(366 * 5):
            if self._day_ok(day):
                for hour in sorted(self.hours) if self.hours is not None else range(24):
                    for minute in sorted(self.minutes) if self.minutes is not None else range(60):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        return None


class Timing:
    """When a schedule is next due, in clock time."""

    def __init__(self, expression: str):
        self.expression = expression
        rate = _RATE.match(expression.strip())
        cron = _CRON.match(expression.strip())
        self.interval: timedelta | None = None
        self.cron: Cron | None = None
        if rate:
            amount, unit = int(rate.group(1)), rate.group(2).lower().rstrip("s")
            if amount < 1:
                raise ScheduleError(f"{expression!r}: a rate must be positive")
            self.interval = timedelta(**{f"{unit}s": amount})
        elif cron:
            self.cron = Cron(cron.group(1))
        else:
            raise ScheduleError(f"unsupported schedule expression {expression!r}")

    def next_after(self, moment: datetime) -> datetime | None:
        if self.interval is not None:
            return moment + self.interval
        assert self.cron is not None
        return self.cron.next_after(moment)


class Scheduler:
    """A thread that checks every second whether a schedule is due on the local clock and fires it."""

    def __init__(self, schedules: list[Schedule], clock: Clock, fire: Callable[[Schedule, float], None]):
        self.clock = clock
        self.fire = fire
        self.entries: list[tuple[Schedule, Timing]] = []
        self.next_due: dict[str, datetime | None] = {}
        for schedule in schedules:
            try:
                timing = Timing(schedule.expression)
            except ScheduleError as exc:
                log.warning("schedule %s: %s; it fires only on `tick`", schedule.name, exc)
                continue
            self.entries.append((schedule, timing))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="act3-scheduler", daemon=True)

    def start(self) -> None:
        now = self.clock.now()
        for schedule, timing in self.entries:
            self.next_due[schedule.name] = timing.next_after(now) if schedule.enabled else None
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.clock.invalidate()
            now = self.clock.now()
            for schedule, timing in self.entries:
                due = self.next_due.get(schedule.name)
                if due is None or now < due:
                    continue
                self.next_due[schedule.name] = timing.next_after(now)
                try:
                    self.fire(schedule, now.timestamp())
                except Exception:  # the stack keeps running; the failure is logged by the runtime
                    log.exception("schedule %s failed", schedule.name)

    def describe(self) -> list[dict[str, str | None]]:
        return [
            {
                "name": s.name,
                "function": s.function,
                "expression": s.expression,
                "next": (
                    due.astimezone(UTC).isoformat(timespec="seconds")
                    if (due := self.next_due.get(s.name))
                    else None
                ),
            }
            for s, _ in self.entries
        ]

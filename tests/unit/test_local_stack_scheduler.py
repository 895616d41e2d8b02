"""act3_local.scheduler: rate()/cron() next fire times, and firing on the movable clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from act3_local.clock import Clock, write_offset
from act3_local.scheduler import ScheduleError, Scheduler, Timing
from act3_local.template import Schedule

T0 = datetime(2026, 1, 31, 23, 58, 30, tzinfo=UTC)  # a Saturday


class FixedClock(Clock):
    """The local clock with wall time pinned at ``base``; the offset file still moves it."""

    def __init__(self, path: Path, base: datetime):
        super().__init__(path)
        self.base = base.timestamp()

    def time(self) -> float:
        return self.base + self.offset()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def next_times(expression: str, start: datetime, count: int) -> list[datetime]:
    timing = Timing(expression)
    out: list[datetime] = []
    moment = start
    for _ in range(count):
        found = timing.next_after(moment)
        assert found is not None
        out.append(found)
        moment = found
    return out


def schedule(name: str, expression: str, *, enabled: bool = True) -> Schedule:
    return Schedule(
        name=name,
        function="TickFunction",
        expression=expression,
        input=None,
        enabled=enabled,
        rule_arn=f"arn:aws:events:us-east-1:123456789012:rule/{name}",
    )


# --- rate() ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "interval"),
    [
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(2 hours)", timedelta(hours=2)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(7 days)", timedelta(days=7)),
        ("RATE(3 Hours)", timedelta(hours=3)),
    ],
)
def test_a_rate_fires_one_interval_after_the_given_time(expression: str, interval: timedelta):
    assert Timing(expression).next_after(T0) == T0 + interval
    assert next_times(expression, T0, 3) == [T0 + interval, T0 + 2 * interval, T0 + 3 * interval]


@pytest.mark.parametrize(
    "expression",
    ["rate(5 seconds)", "rate(minutes)", "rate(-1 day)", "every 5 minutes", "cron(0 12 * * ?)", ""],
)
def test_malformed_expressions_are_refused(expression: str):
    with pytest.raises(ScheduleError):
        Timing(expression)


def test_a_zero_rate_is_refused():
    # EventBridge refuses rate(0 ...): locally it would be due again at once, firing on every poll.
    with pytest.raises(ScheduleError):
        Timing("rate(0 minutes)")


# --- cron() ------------------------------------------------------------------------------------


def test_cron_monthly_at_midnight_on_the_first():
    assert next_times("cron(0 0 1 * ? *)", T0, 3) == [
        at("2026-02-01T00:00"),
        at("2026-03-01T00:00"),
        at("2026-04-01T00:00"),
    ]


def test_cron_next_time_is_strictly_after_the_given_time():
    timing = Timing("cron(30 10 * * ? *)")
    assert timing.next_after(at("2026-01-05T10:29:59")) == at("2026-01-05T10:30")
    assert timing.next_after(at("2026-01-05T10:30:00")) == at("2026-01-06T10:30")
    assert timing.next_after(at("2026-01-05T10:30:01")) == at("2026-01-06T10:30")


def test_cron_with_steps():
    assert next_times("cron(0/15 * * * ? *)", at("2026-01-05T10:07"), 4) == [
        at("2026-01-05T10:15"),
        at("2026-01-05T10:30"),
        at("2026-01-05T10:45"),
        at("2026-01-05T11:00"),
    ]
    assert next_times("cron(*/20 9 * * ? *)", at("2026-01-05T09:50"), 2) == [
        at("2026-01-06T09:00"),
        at("2026-01-06T09:20"),
    ]


def test_cron_with_a_stepped_range():
    # minutes 10-20/5 -> 10, 15, 20 within each hour
    assert next_times("cron(10-20/5 8 * * ? *)", at("2026-01-05T07:00"), 4) == [
        at("2026-01-05T08:10"),
        at("2026-01-05T08:15"),
        at("2026-01-05T08:20"),
        at("2026-01-06T08:10"),
    ]


def test_cron_with_a_list_mixing_a_value_and_a_step():
    # AWS/Quartz: "5,0/20" is minute 5 plus 0, 20, 40 -> four runs an hour.
    assert next_times("cron(5,0/20 * * * ? *)", at("2026-01-05T10:00"), 4) == [
        at("2026-01-05T10:05"),
        at("2026-01-05T10:20"),
        at("2026-01-05T10:40"),
        at("2026-01-05T11:00"),
    ]


def test_cron_weekday_names_and_ranges():
    # 2026-01-05 is a Monday. MON-FRI at 09:00 skips the weekend.
    runs = next_times("cron(0 9 ? * MON-FRI *)", at("2026-01-08T12:00"), 3)  # Thursday noon
    assert runs == [at("2026-01-09T09:00"), at("2026-01-12T09:00"), at("2026-01-13T09:00")]
    assert [r.strftime("%a") for r in runs] == ["Fri", "Mon", "Tue"]


def test_cron_weekday_numbers_count_sunday_as_one():
    # EventBridge numbers days SUN=1 .. SAT=7.
    sunday = Timing("cron(0 0 ? * 1 *)").next_after(at("2026-01-05T00:00"))
    saturday = Timing("cron(0 0 ? * 7 *)").next_after(at("2026-01-05T00:00"))
    assert sunday is not None
    assert saturday is not None
    assert sunday.strftime("%a") == "Sun"
    assert saturday.strftime("%a") == "Sat"
    assert Timing("cron(0 0 ? * SUN *)").next_after(at("2026-01-05T00:00")) == sunday


def test_cron_weekday_list_of_names_lower_case_accepted():
    runs = next_times("cron(0 12 ? * mon,wed,fri *)", at("2026-01-05T13:00"), 3)
    assert [r.strftime("%a %d") for r in runs] == ["Wed 07", "Fri 09", "Mon 12"]


def test_cron_month_names_and_years():
    assert next_times("cron(0 6 15 JAN-MAR ? 2026-2027)", at("2026-02-20T00:00"), 4) == [
        at("2026-03-15T06:00"),
        at("2027-01-15T06:00"),
        at("2027-02-15T06:00"),
        at("2027-03-15T06:00"),
    ]


def test_cron_that_never_comes_again_has_no_next_time():
    assert Timing("cron(0 0 1 1 ? 2020)").next_after(T0) is None


def test_cron_on_the_31st_skips_short_months():
    assert next_times("cron(0 0 31 * ? *)", at("2026-01-31T01:00"), 2) == [
        at("2026-03-31T00:00"),
        at("2026-05-31T00:00"),
    ]


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 0 L * ? *)",  # last day of month
        "cron(0 0 15W * ? *)",  # nearest weekday
        "cron(0 0 ? * 6L *)",  # last Friday
        "cron(0 0 ? * 2#1 *)",  # first Monday
    ],
)
def test_l_w_and_hash_are_refused_as_documented(expression: str):
    with pytest.raises(ScheduleError, match=r"L, W and # are not supported locally"):
        Timing(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(60 * * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 0 0 * ? *)",
        "cron(0 0 1 13 ? *)",
        "cron(0 0 1 * ?)",
    ],
)
def test_out_of_range_or_short_cron_is_refused(expression: str):
    with pytest.raises(ScheduleError):
        Timing(expression)


# --- Scheduler on the clock ----------------------------------------------------------------------


def test_start_computes_each_next_fire_time_from_the_clock(tmp_path: Path):
    # Given a clock pinned at T0 and three schedules, one of them disabled
    clock = FixedClock(tmp_path / "clock_offset", T0)
    scheduler = Scheduler(
        [
            schedule("Every5", "rate(5 minutes)"),
            schedule("Monthly", "cron(0 0 1 * ? *)"),
            schedule("Off", "rate(1 day)", enabled=False),
        ],
        clock,
        lambda _s, _now: None,
    )
    # When the scheduler starts
    scheduler.start()
    scheduler.stop()
    # Then each enabled schedule is due at its next time after T0; the disabled one never
    assert scheduler.describe() == [
        {
            "name": "Every5",
            "function": "TickFunction",
            "expression": "rate(5 minutes)",
            "next": "2026-02-01T00:03:30+00:00",
        },
        {
            "name": "Monthly",
            "function": "TickFunction",
            "expression": "cron(0 0 1 * ? *)",
            "next": "2026-02-01T00:00:00+00:00",
        },
        {"name": "Off", "function": "TickFunction", "expression": "rate(1 day)", "next": None},
    ]


def test_an_unsupported_schedule_is_skipped_not_fatal(tmp_path: Path):
    scheduler = Scheduler(
        [schedule("Last", "cron(0 0 L * ? *)"), schedule("Daily", "rate(1 day)")],
        FixedClock(tmp_path / "clock_offset", T0),
        lambda _s, _now: None,
    )
    assert [s.name for s, _ in scheduler.entries] == ["Daily"]


def test_an_invalid_step_is_skipped_not_fatal(tmp_path: Path):
    # Scheduler skips what it cannot parse (it fires only on `tick`) instead of failing the stack start.
    scheduler = Scheduler(
        [schedule("Broken", "cron(*/0 * * * ? *)"), schedule("Daily", "rate(1 day)")],
        FixedClock(tmp_path / "clock_offset", T0),
        lambda _s, _now: None,
    )
    assert [s.name for s, _ in scheduler.entries] == ["Daily"]


def test_a_big_clock_jump_fires_each_due_schedule_once_without_replay(tmp_path: Path):
    # Given a running scheduler at T0 with a 5-minute rate, a daily rate, a monthly cron and a disabled one
    offset_file = tmp_path / "clock_offset"
    clock = FixedClock(offset_file, T0)
    fired: list[tuple[str, float]] = []
    last_fired = threading.Event()

    def fire(s: Schedule, now: float) -> None:
        fired.append((s.name, now))
        if s.name == "Monthly":
            last_fired.set()

    scheduler = Scheduler(
        [
            schedule("Every5", "rate(5 minutes)"),
            schedule("Off", "rate(1 minute)", enabled=False),
            schedule("Daily", "rate(1 day)"),
            schedule("Monthly", "cron(0 0 1 * ? *)"),
        ],
        clock,
        fire,
    )
    scheduler.start()
    try:
        # When the clock jumps 40 days (8 monthly, 40 daily and 11 520 five-minute runs were missed)
        write_offset(offset_file, 40 * 86400)
        assert last_fired.wait(5), "the scheduler did not fire after the clock jump"
    finally:
        scheduler.stop()
    jumped = T0 + timedelta(days=40)
    # Then each enabled schedule fired exactly once, at the jumped clock time; the disabled one not at all
    assert sorted(name for name, _ in fired) == ["Daily", "Every5", "Monthly"]
    assert {now for _, now in fired} == {jumped.timestamp()}
    # And the next runs are computed from the new time, not from the missed ones
    assert scheduler.next_due == {
        "Every5": jumped + timedelta(minutes=5),
        "Off": None,
        "Daily": jumped + timedelta(days=1),
        "Monthly": at("2026-04-01T00:00"),
    }


def test_a_failing_schedule_does_not_stop_the_others(tmp_path: Path):
    offset_file = tmp_path / "clock_offset"
    clock = FixedClock(offset_file, T0)
    fired: list[str] = []
    done = threading.Event()

    def fire(s: Schedule, _now: float) -> None:
        fired.append(s.name)
        if s.name == "Boom":
            raise RuntimeError("handler failed")
        done.set()

    scheduler = Scheduler(
        [schedule("Boom", "rate(1 minute)"), schedule("Fine", "rate(1 minute)")], clock, fire
    )
    scheduler.start()
    try:
        write_offset(offset_file, 3600)
        assert done.wait(5)
    finally:
        scheduler.stop()
    assert fired == ["Boom", "Fine"]
    assert scheduler.next_due["Boom"] == T0 + timedelta(hours=1, minutes=1)


def test_every_process_sees_a_clock_reset_at_once(tmp_path: Path) -> None:
    """A handler that read `advance 31d` a moment ago prices the next request at wall time after a reset
    (caching the offset for a second let a balance read a month ahead right after `clock reset`)."""
    from act3_billing.config import OffsetClock

    offset_file = tmp_path / "clock_offset"
    handler, tools_side = OffsetClock(offset_file), Clock(offset_file)
    write_offset(offset_file, 31 * 86400)
    assert handler() - datetime.now(UTC) > timedelta(days=30)
    assert tools_side.offset() == 31 * 86400
    write_offset(offset_file, 0)
    assert abs(handler() - datetime.now(UTC)) < timedelta(seconds=5)
    assert tools_side.offset() == 0

"""The storage meter's per-key rule: any order and any duplication of one history gives the final state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from act3_billing.domain.storage import (
    GB,
    Counters,
    Kind,
    ObjectEvent,
    ObjectKey,
    StorageQuotaExceeded,
    Usage,
    check_upload,
    final_usage,
    key_parts,
    parse_key,
    replay,
    sequencer,
    thresholds_reached,
    transition,
    upload_key,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
KEYS = [
    ObjectKey("org-a", "p1", Kind.MEDIA, "shot-1.mp4"),
    ObjectKey("org-a", "p1", Kind.TEXT, "script.txt"),
    ObjectKey("org-a", "p2", Kind.MEDIA, "shot-2.mp4"),
    ObjectKey("org-a", "p2", Kind.MEDIA, "voice.wav"),
]


@st.composite
def histories(draw: st.DrawFn) -> list[ObjectEvent]:
    """What S3 did, in order: per key a run of puts (overwrites) and deletes with rising sequencers."""
    events: list[ObjectEvent] = []
    counter = draw(st.integers(min_value=1, max_value=2**40))
    for _ in range(draw(st.integers(min_value=0, max_value=25))):
        key = draw(st.sampled_from(KEYS))
        present = draw(st.booleans())
        counter += draw(st.integers(min_value=1, max_value=1000))
        # Sequencers of varying length: only their padded value orders them.
        raw = format(counter, "X")
        events.append(
            ObjectEvent(
                key=key,
                sequencer=sequencer(raw),
                present=present,
                size=draw(st.integers(min_value=0, max_value=5 * GB)) if present else 0,
                at=T0 + timedelta(milliseconds=len(events)),
            )
        )
    return events


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[ObjectEvent], list[ObjectEvent]]:
    """A history and what the meter received: each event at least once, some twice or more, any order."""
    history = draw(histories())
    delivered = [e for e in history for _ in range(draw(st.integers(min_value=1, max_value=3)))]
    return history, draw(st.permutations(delivered))


@settings(max_examples=400, deadline=None)
@given(deliveries())
def test_any_order_and_any_duplication_of_a_history_meters_its_final_state(
    case: tuple[list[ObjectEvent], list[ObjectEvent]],
) -> None:
    history, delivered = case
    # When the meter applies what it received, in the order received
    # Then the counters are those of the final state: what S3 holds after the history
    assert replay(delivered) == replay(history) == final_usage(history)
    assert all(c.media_bytes >= 0 and c.media_objects >= 0 for c in replay(delivered).projects.values())


def test_a_delete_before_its_create_leaves_a_tombstone_the_late_create_cannot_pass() -> None:
    key = KEYS[0]
    put = ObjectEvent(key, sequencer("0055B3A2E7C1B2D3E4"), True, 500, T0)
    delete = ObjectEvent(key, sequencer("0055B3A2E7C1B2D3F0"), False, 0, T0)
    assert replay([delete, put]) == Usage()
    assert replay([put, delete]) == Usage()


def test_an_overwrite_counts_the_object_once_with_its_new_size() -> None:
    key = KEYS[1]
    first = ObjectEvent(key, sequencer("01"), True, 100, T0)
    second = ObjectEvent(key, sequencer("02"), True, 250, T0)
    usage = replay([second, first, second])
    assert usage.totals == Counters(text_bytes=250, text_objects=1)


def test_a_duplicate_changes_nothing() -> None:
    event = ObjectEvent(KEYS[0], sequencer("0A"), True, 100, T0)
    step = transition(None, event)
    assert step is not None
    assert transition(step.state, event) is None


def test_sequencers_of_different_lengths_compare_as_numbers() -> None:
    assert sequencer("FF") < sequencer("100")
    assert sequencer("0055b3") == sequencer("55B3")
    with pytest.raises(ValueError, match="sequencer"):
        sequencer("not-hex")


@pytest.mark.parametrize(
    "key",
    [
        "orgs/org-a/projects/p1/media/a.mp4",
        "orgs/org-a/projects/p1/text/deep/folder/notes.md",
        "orgs/org-a/projects/p1/text/two\nlines.md",
    ],
)
def test_keys_of_the_layout_parse(key: str) -> None:
    parsed = parse_key(key)
    assert parsed is not None and parsed.key == key and parsed.org_id == "org-a"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "orgs/org-a/media/a.mp4",
        "orgs/org-a/projects/p1/audio/a.wav",
        "orgs//projects/p1/media/a.mp4",
        "orgs/org-a/projects/p1/media/",
        "tmp/orgs/org-a/projects/p1/media/a.mp4",
        "orgs/../projects/p1/media/a.mp4",
        "orgs/org-a\n/projects/p1/media/a.mp4",
        "orgs/org-a/projects/p1/media/a.mp4\x00",
    ],
)
def test_keys_outside_the_layout_are_none(key: str) -> None:
    assert parse_key(key) is None


@given(st.text(max_size=300))
def test_any_text_parses_to_a_key_of_the_layout_or_none(text: str) -> None:
    parsed = parse_key(text)
    assert parsed is None or parsed.key == text


@given(
    st.one_of(
        st.text(max_size=300),
        st.builds(
            "/".join,
            st.lists(
                st.sampled_from(
                    ["orgs", "projects", "media", "text", "o-1", "p.2", "", "a b", "x" * 130, ".."]
                ),
                max_size=8,
            ),
        ),
    )
)
def test_the_inventorys_fast_key_split_agrees_with_the_layout(text: str) -> None:
    parsed = parse_key(text)
    expected = None if parsed is None else (parsed.org_id, parsed.project_id, parsed.kind)
    assert key_parts(text) == expected


@given(st.text(max_size=250))
def test_an_upload_name_is_one_safe_segment_or_refused(name: str) -> None:
    from act3_billing.domain.errors import ValidationFailed

    try:
        key = upload_key("org-a", "p1", Kind.TEXT, name)
    except ValidationFailed:
        return
    assert "/" not in name and ".." not in name
    assert parse_key(key.key) == key


def test_an_upload_over_the_quota_is_refused_with_the_figures() -> None:
    check_upload(used=9 * GB, size=GB, quota=10 * GB)
    check_upload(used=0, size=10**15, quota=None)
    with pytest.raises(StorageQuotaExceeded) as refused:
        check_upload(used=9 * GB, size=GB + 1, quota=10 * GB)
    assert refused.value.extra["quota_bytes"] == 10 * GB


def test_thresholds_are_reached_at_80_and_100_percent() -> None:
    assert thresholds_reached(79, 100) == []
    assert thresholds_reached(80, 100) == [80]
    assert thresholds_reached(100, 100) == [80, 100]
    assert thresholds_reached(5, None) == []
